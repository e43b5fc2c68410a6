import React, { act } from 'react';
import { createRoot } from 'react-dom/client';

import type { IRunSummary, MlbenchClient } from '../api';
import { RunsView } from '../experiments/experiments-section';

// renders run inside act(): tell React so
(globalThis as any).IS_REACT_ACT_ENVIRONMENT = true;

// uPlot wants a canvas and matchMedia: the chart is not under test here
jest.mock('../components/metric-chart', () => ({
  MetricChart: () => null
}));

function run(i: number, params: Record<string, string>, defaults: string[]) {
  return {
    run_id: `r${i}`,
    run_name: `train-${i}`,
    experiment_id: '1',
    status: i === 2 ? 'KILLED' : 'FINISHED',
    started_at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    ended_at: null,
    artifact_uri: '',
    job_id: `job${i}`,
    attempt: 1,
    params,
    metrics: { loss: 1 / (i + 1) },
    tags: defaults.length
      ? { 'mlbench.defaults': JSON.stringify(defaults) }
      : {}
  } as IRunSummary;
}

function fakeClient(items: IRunSummary[]): MlbenchClient {
  return {
    listRuns: jest.fn(async () => ({ items, next_cursor: null })),
    metricHistory: jest.fn(async () => ({ series: [] })),
    health: jest.fn(async () => ({ mlflow_ui_url: '' }))
  } as unknown as MlbenchClient;
}

async function mount(items: IRunSummary[], onOpenJob = jest.fn()) {
  const host = document.createElement('div');
  document.body.appendChild(host);
  const root = createRoot(host);
  await act(async () => {
    root.render(
      <RunsView
        client={fakeClient(items)}
        experiment={{
          experiment_id: '1',
          name: 'exp',
          artifact_location: '',
          lifecycle_stage: 'active',
          tags: {},
          created_at: null,
          updated_at: null
        }}
        mlflowBase=""
        onOpenJob={onOpenJob}
      />
    );
  });
  return { host, root, onOpenJob };
}

function headers(host: HTMLElement): string[] {
  return Array.from(host.querySelectorAll('thead th')).map(th =>
    (th.textContent ?? '').replace(/[▲▼]/g, '').trim()
  );
}

describe('RunsView', () => {
  it('fills and marks the defaults, says statuses as jobs do, links rows to jobs', async () => {
    const { host, root, onOpenJob } = await mount([
      run(0, { lr: '0.05', epochs: '3' }, ['lr']),
      run(1, { lr: '0.1', epochs: '4' }, []),
      run(2, { lr: '0.05', epochs: '5' }, ['lr'])
    ]);
    expect(headers(host)).toEqual([
      '',
      'Run',
      'Status',
      'Started',
      'epochs',
      'lr',
      'loss'
    ]);
    const row = host.querySelector('tr[data-run-id="r0"]')!;
    const cells = row.querySelectorAll('td');
    expect(cells[5].textContent).toBe('0.05');
    expect(cells[5].className).toContain('mlbench-mod-default');
    expect(cells[4].className).not.toContain('mlbench-mod-default');
    expect(cells[2].textContent).toBe('Completed');
    expect(
      host.querySelector('tr[data-run-id="r2"]')!.querySelectorAll('td')[2]
        .textContent
    ).toBe('Canceled');
    await act(async () => {
      row
        .querySelector<HTMLButtonElement>('.mlbench-Experiments-jobLink')!
        .click();
    });
    expect(onOpenJob).toHaveBeenCalledWith('job0');

    // a column hidden with the chooser
    const lr = Array.from(
      host.querySelectorAll<HTMLInputElement>(
        '.mlbench-Experiments-columnGroup input'
      )
    ).find(input => input.parentElement?.textContent === 'lr')!;
    await act(async () => {
      lr.click();
    });
    expect(headers(host)).not.toContain('lr');
    expect(host.querySelector('summary')!.textContent).toBe('Columns (4 of 5)');
    act(() => root.unmount());
  });

  it('keeps a long page virtualized: 1,000 runs, a screenful of rows', async () => {
    const items = Array.from({ length: 1000 }, (_, i) =>
      run(i, { p: String(i % 7) }, [])
    );
    const start = performance.now();
    const { host, root } = await mount(items);
    const ms = performance.now() - start;
    const table = host.querySelector('table')!;
    expect(table.getAttribute('aria-rowcount')).toBe('1001');
    const rows = host.querySelectorAll('tbody tr[data-run-id]').length;
    expect(rows).toBeGreaterThan(10);
    expect(rows).toBeLessThan(60);
    // under jsdom, generous: the browser figure is in benchmarks/RESULTS.md
    expect(ms).toBeLessThan(2000);
    act(() => root.unmount());
  });
});
