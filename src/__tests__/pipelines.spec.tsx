import { ServerConnection } from '@jupyterlab/services';
import { Signal } from '@lumino/signaling';
import React, { act } from 'react';
import { createRoot } from 'react-dom/client';

import {
  EventStream,
  IJobEvent,
  IPipelineRun,
  IPipelineRunInfo,
  IPipelineStep,
  MlbenchClient
} from '../api';
import {
  LAYER_GAP,
  NODE_HEIGHT,
  NODE_WIDTH,
  bindingLabels,
  elapsedSeconds,
  layers,
  layoutGraph,
  runProgress,
  stepJob
} from '../pipelines/model';
import { PipelineDetail } from '../pipelines/pipeline-view';
import { PipelineViewModel, PipelinesStore } from '../pipelines/store';

const T0 = '2026-01-01T00:00:00Z';

function step(
  name: string,
  depends_on: string[],
  extra: Partial<IPipelineStep> = {}
): IPipelineStep {
  return {
    run_id: 'pr1',
    name,
    kind: 'notebook',
    status: 'pending',
    compute: 'local',
    depends_on,
    created_at: T0,
    ...extra
  };
}

/** prep -> (a, b) -> join, data on every edge. */
function diamond(extra: Partial<IPipelineRun> = {}): IPipelineRun {
  const out = (s: string, o: string) => `\${{parent.jobs.${s}.outputs.${o}}}`;
  return {
    id: 'pr1',
    name: 'diamond',
    display_name: 'diamond',
    experiment: 'diamond',
    compute: 'local',
    status: 'running',
    spec: {
      jobs: {
        prep: { notebook: '/w/prep.ipynb', outputs: { out: null } },
        a: { notebook: '/w/s.ipynb', inputs: { train: out('prep', 'out') } },
        b: { notebook: '/w/s.ipynb', inputs: { train: out('prep', 'out') } },
        join: {
          notebook: '/w/join.ipynb',
          inputs: { left: out('a', 'result'), right: out('b', 'result') }
        }
      }
    },
    created_at: T0,
    updated_at: T0,
    started_at: T0,
    counts: { reused: 1, running: 1, completed: 1, pending: 1 },
    steps: [
      step('prep', [], {
        status: 'reused',
        reused_from_run: 'pr0',
        reused_from_job: 'jobprep0',
        started_at: T0,
        finished_at: T0
      }),
      step('a', ['prep'], {
        status: 'completed',
        job_id: 'joba',
        started_at: T0,
        finished_at: '2026-01-01T00:00:04Z'
      }),
      step('b', ['prep'], {
        status: 'running',
        job_id: 'jobb',
        started_at: '2026-01-01T00:00:01Z'
      }),
      step('join', ['a', 'b'])
    ],
    ...extra
  } as IPipelineRun;
}

function info(id: string, created_at: string): IPipelineRunInfo {
  const run = diamond({ id, created_at, updated_at: created_at });
  delete run.steps;
  return run;
}

describe('the pipeline graph layout', () => {
  it('puts each step one layer right of its furthest upstream step', () => {
    const steps = diamond().steps!;
    expect([...layers(steps)]).toEqual([
      ['prep', 0],
      ['a', 1],
      ['b', 1],
      ['join', 2]
    ]);
    // a long branch pushes its join further right
    expect(
      layers([
        { name: 'x', depends_on: [] },
        { name: 'y', depends_on: ['x'] },
        { name: 'z', depends_on: ['y'] },
        { name: 'end', depends_on: ['x', 'z'] }
      ]).get('end')
    ).toBe(3);
  });

  it('draws every edge left to right and no two nodes on each other', () => {
    const layout = layoutGraph(diamond().steps!);
    for (const e of layout.edges) {
      expect(layout.nodes.get(e.from)!.x + NODE_WIDTH).toBeLessThan(
        layout.nodes.get(e.to)!.x
      );
      expect(e.path.startsWith('M')).toBe(true);
    }
    expect(layout.edges.map(e => `${e.from}>${e.to}`).sort()).toEqual([
      'a>join',
      'b>join',
      'prep>a',
      'prep>b'
    ]);
    const boxes = [...layout.nodes.values()];
    for (const p of boxes) {
      for (const q of boxes) {
        if (p !== q) {
          const apart =
            Math.abs(p.x - q.x) >= NODE_WIDTH ||
            Math.abs(p.y - q.y) >= NODE_HEIGHT;
          expect(apart).toBe(true);
        }
      }
    }
    expect(layout.width).toBe(3 * NODE_WIDTH + 2 * LAYER_GAP);
    // the one-step columns are centred against the two-step one
    const { y: top } = layout.nodes.get('a')!;
    const { y: bottom } = layout.nodes.get('b')!;
    expect(layout.nodes.get('prep')!.y).toBe((top + bottom) / 2);
  });

  it('orders a layer by its neighbours so that edges do not cross', () => {
    // given order crosses: p1 -> q2, p2 -> q1
    const layout = layoutGraph([
      { name: 'p1', depends_on: [] },
      { name: 'p2', depends_on: [] },
      { name: 'q1', depends_on: ['p2'] },
      { name: 'q2', depends_on: ['p1'] }
    ]);
    const row = (n: string) => layout.nodes.get(n)!.row;
    expect(Math.sign(row('p1') - row('p2'))).toBe(
      Math.sign(row('q2') - row('q1'))
    );
  });

  it('ignores unknown upstream names and survives a cycle', () => {
    const layout = layoutGraph([
      { name: 'a', depends_on: ['b', 'ghost'] },
      { name: 'b', depends_on: ['a'] }
    ]);
    expect(layout.nodes.size).toBe(2);
    expect(layout.edges.every(e => e.from !== 'ghost')).toBe(true);
  });

  it('labels the edges with the data bindings of the spec', () => {
    const labels = bindingLabels(diamond());
    expect(labels.get('prep\u0000a')).toEqual(['out → train']);
    expect(labels.get('a\u0000join')).toEqual(['result → left']);
    const layout = layoutGraph(diamond().steps!, labels);
    expect(
      layout.edges.find(e => e.to === 'join' && e.from === 'b')!.labels
    ).toEqual(['result → right']);
  });
});

describe('pipeline progress', () => {
  it('counts finished steps of the run, reused ones apart', () => {
    expect(runProgress(diamond())).toEqual({ done: 2, total: 4, reused: 1 });
    expect(
      runProgress(diamond({ counts: { excluded: 3, completed: 1 } }))
    ).toEqual({ done: 1, total: 1, reused: 0 });
  });

  it('times a step to its finish, or to now while it runs', () => {
    const [, a, b, join] = diamond().steps!;
    expect(elapsedSeconds(a)).toBe(4);
    expect(elapsedSeconds(b, Date.parse('2026-01-01T00:00:11Z'))).toBe(10);
    expect(elapsedSeconds(join)).toBeNull();
    expect(stepJob(diamond().steps![0])).toBe('jobprep0');
    expect(stepJob(join)).toBeNull();
  });
});

class StreamDouble {
  event = new Signal<any, IJobEvent>(this);
  reset = new Signal<any, void>(this);
}

function event(id: number, job_id: string, kind: string): IJobEvent {
  return { id, job_id, kind, data: {}, created_at: T0 };
}

describe('the Pipelines list', () => {
  it('shows the first page at once, then every page, newest first', async () => {
    const client = new MlbenchClient(ServerConnection.makeSettings());
    const all = [0, 1, 2, 3, 4].map(i =>
      info(`r${i}`, `2026-01-0${i + 1}T00:00:00Z`)
    );
    const newest = [...all].reverse();
    let resolveRest: () => void = () => undefined;
    const rest = new Promise<void>(r => (resolveRest = r));
    const list = jest
      .spyOn(client, 'listPipelines')
      .mockImplementation(async query => {
        const at = query?.cursor ? Number(query.cursor) : 0;
        if (at) {
          await rest;
        }
        const end = at + (query?.limit ?? 500);
        return {
          items: newest.slice(at, end),
          next_cursor: end < newest.length ? String(end) : null
        };
      });
    const stream = new StreamDouble();
    const store = new PipelinesStore(client, stream as unknown as EventStream, {
      firstPage: 2,
      page: 2
    });
    const loading = store.reload();
    await Promise.resolve();
    await Promise.resolve();
    expect(store.loaded).toBe(true);
    expect(store.items.map(r => r.id)).toEqual(['r4', 'r3']);
    resolveRest();
    await loading;
    expect(store.items.map(r => r.id)).toEqual(['r4', 'r3', 'r2', 'r1', 'r0']);
    expect(list.mock.calls.map(c => c[0]?.cursor ?? null)).toEqual([
      null,
      '2',
      '4'
    ]);
    store.dispose();
  });

  it('follows pipeline events, not other kinds', async () => {
    jest.useFakeTimers();
    const client = new MlbenchClient(ServerConnection.makeSettings());
    jest
      .spyOn(client, 'listPipelines')
      .mockResolvedValue({ items: [info('pr1', T0)], next_cursor: null });
    const done = diamond({
      status: 'completed',
      updated_at: '2026-01-01T00:01:00Z'
    });
    const get = jest.spyOn(client, 'getPipeline').mockResolvedValue(done);
    const stream = new StreamDouble();
    const store = new PipelinesStore(client, stream as unknown as EventStream);
    await store.reload();
    stream.event.emit(event(1, 'pr1', 'pipeline'));
    stream.event.emit(event(2, 'pr1', 'pipeline'));
    stream.event.emit(event(3, 'jobb', 'status'));
    jest.advanceTimersByTime(300);
    await Promise.resolve();
    await Promise.resolve();
    expect(get).toHaveBeenCalledTimes(1);
    expect(store.items[0].status).toBe('completed');
    expect('steps' in store.items[0]).toBe(false);
    store.dispose();
    jest.useRealTimers();
  });
});

describe('the pipeline run view', () => {
  beforeAll(() => {
    (
      globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }
    ).IS_REACT_ACT_ENVIRONMENT = true;
  });

  function render(run: IPipelineRun) {
    const client = new MlbenchClient(ServerConnection.makeSettings());
    const model = new PipelineViewModel(
      client,
      run.id,
      new StreamDouble() as unknown as EventStream
    );
    const actions = { openJob: jest.fn(), cancel: jest.fn(), rerun: jest.fn() };
    const host = document.createElement('div');
    document.body.appendChild(host);
    const root = createRoot(host);
    act(() => {
      model.setState(run);
      root.render(<PipelineDetail model={model} actions={actions} />);
    });
    const done = () => {
      act(() => root.unmount());
      host.remove();
      model.dispose();
    };
    return { host, model, actions, done };
  }

  it('draws each step with its status, the reused marker and the edges', () => {
    const { host, done } = render(diamond());
    const nodes = host.querySelectorAll('.mlbench-PipelineNode');
    expect(Array.from(nodes).map(n => n.getAttribute('data-status'))).toEqual([
      'reused',
      'completed',
      'running',
      'pending'
    ]);
    const prep = host.querySelector('[data-step="prep"]')!;
    expect(prep.classList).toContain('mlbench-mod-reused');
    expect(prep.textContent).toContain('reused');
    expect(host.querySelector('g[data-step="a"]')!.textContent).toContain(
      'completed · 4s'
    );
    expect(host.querySelectorAll('.mlbench-PipelineEdge')).toHaveLength(4);
    expect(host.textContent).toContain('2/4 steps');
    done();
  });

  it('opens a step job, the reused one too, and reruns from a chosen step', () => {
    const { host, actions, done } = render(diamond());
    const click = (el: Element) =>
      act(() => {
        el.dispatchEvent(new MouseEvent('click', { bubbles: true }));
      });
    click(host.querySelector('g[data-step="b"]')!);
    click(host.querySelector('g[data-step="prep"]')!);
    click(host.querySelector('g[data-step="join"]')!); // nothing ran yet
    expect(actions.openJob.mock.calls).toEqual([['jobb'], ['jobprep0']]);
    const buttons = Array.from(host.querySelectorAll('button'));
    const cancel = buttons.find(b => b.textContent === 'Cancel')!;
    const rerun = buttons.find(b => b.textContent === 'Rerun')!;
    expect(cancel.disabled).toBe(false);
    expect(rerun.disabled).toBe(true); // not finished yet
    click(cancel);
    expect(actions.cancel).toHaveBeenCalledTimes(1);
    done();

    const finished = render(diamond({ status: 'failed' }));
    const select = finished.host.querySelector('select')!;
    act(() => {
      const setter = Object.getOwnPropertyDescriptor(
        HTMLSelectElement.prototype,
        'value'
      )!.set!;
      setter.call(select, 'a');
      select.dispatchEvent(new Event('change', { bubbles: true }));
    });
    const again = Array.from(finished.host.querySelectorAll('button')).find(
      b => b.textContent === 'Rerun'
    )!;
    expect(again.disabled).toBe(false);
    click(again);
    expect(finished.actions.rerun).toHaveBeenCalledWith(
      expect.objectContaining({ id: 'pr1' }),
      'a'
    );
    finished.done();
  });
});
