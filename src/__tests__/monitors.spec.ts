import type {
  IDriftReport,
  IMonitorInfo,
  IMonitorRun,
  IMonitorSeries
} from '../api';
import { alignSeries } from '../components/chart-data';
import {
  changedMonitor,
  defaultSignal,
  lastCompleted,
  percent,
  referenceText,
  runBadge,
  scheduleText,
  seriesSignals,
  signalLines,
  targetText,
  verdictRows
} from '../monitors/monitor';

function run(
  id: string,
  created_at: string,
  extra: Partial<IMonitorRun> = {}
): IMonitorRun {
  return {
    id,
    monitor_id: 'm1',
    status: 'completed',
    verdict: 'ok',
    created_at,
    ...extra
  } as IMonitorRun;
}

const SPEC = {
  name: 'nightly',
  reference: { data: 'train:3' },
  target: { data: 'scoring' }
} as unknown as IMonitorInfo['spec'];

describe('monitors', () => {
  it('badges a run by its verdict, or by failing or running', () => {
    expect(runBadge(null)).toBeNull();
    expect(runBadge(run('a', '2026-12-01T00:00:00Z'))).toBe('ok');
    expect(
      runBadge(run('a', '2026-12-01T00:00:00Z', { verdict: 'breached' }))
    ).toBe('breached');
    expect(
      runBadge(
        run('a', '2026-12-01T00:00:00Z', { status: 'failed', verdict: null })
      )
    ).toBe('failed');
    expect(
      runBadge(
        run('a', '2026-12-01T00:00:00Z', { status: 'running', verdict: null })
      )
    ).toBe('running');
  });

  it('knows which feed events are about a monitor', () => {
    expect(changedMonitor({ kind: 'monitor', job_id: 'm1' })).toBe('m1');
    expect(changedMonitor({ kind: 'status', job_id: 'j1' })).toBeNull();
    expect(changedMonitor({ kind: 'model', job_id: 'x' })).toBeNull();
  });

  it('says what a monitor compares and when it runs', () => {
    expect(referenceText(SPEC)).toBe('data train:3');
    expect(targetText(SPEC)).toBe('data scoring');
    const onEndpoint = {
      ...SPEC,
      reference: { model: 'iris:2' },
      target: { endpoint: 'scoring', window_hours: 6 }
    } as unknown as IMonitorInfo['spec'];
    expect(referenceText(onEndpoint)).toBe('model iris:2');
    expect(targetText(onEndpoint)).toBe('endpoint scoring, last 6 h');
    expect(scheduleText(SPEC)).toBeNull();
    const nightly = {
      ...SPEC,
      schedule: { cron: '0 2 * * *', timezone: 'Europe/Berlin' }
    } as unknown as IMonitorInfo['spec'];
    expect(scheduleText(nightly)).toBe('every day at 02:00 (Europe/Berlin)');
  });

  it('charts one line per feature, the highest drifters when many', () => {
    const series: IMonitorSeries = {
      runs: [
        run('r1', '2026-12-01T00:00:00Z'),
        run('r2', '2026-12-02T00:00:00Z')
      ],
      series: [
        {
          feature: 'a',
          signal: 'psi',
          values: [0.01, 0.02],
          verdicts: ['ok', 'ok']
        },
        {
          feature: 'b',
          signal: 'psi',
          values: [0.05, null],
          verdicts: ['ok', null]
        },
        {
          feature: 'c',
          signal: 'psi',
          values: [0.1, 0.4],
          verdicts: ['warning', 'breached']
        },
        { feature: 'a', signal: 'js', values: [0.0, 0.1], verdicts: [] }
      ]
    };
    expect(seriesSignals(series)).toEqual(['psi', 'js']);
    expect(defaultSignal(seriesSignals(series))).toBe('psi');
    expect(defaultSignal(['js', 'ks'])).toBe('js');
    expect(defaultSignal([])).toBeNull();

    const all = signalLines(series, 'psi');
    expect(all.total).toBe(3);
    expect(all.lines.map(l => l.label)).toEqual(['a', 'b', 'c']);
    expect(Array.from(all.lines[1].values)).toEqual([0.05, null]);
    expect(Array.from(all.lines[0].timestamps)).toEqual([
      Date.parse('2026-12-01T00:00:00Z'),
      Date.parse('2026-12-02T00:00:00Z')
    ]);

    // the two highest at the newest run (b has none there: its last is 0.05)
    const top = signalLines(series, 'psi', 2);
    expect(top.total).toBe(3);
    expect(top.lines.map(l => l.label)).toEqual(['b', 'c']);

    // the lines share their x (run times), as the chart aligns them
    const data = alignSeries(all.lines, 'wall');
    expect(Array.from(data.x)).toEqual([
      Date.parse('2026-12-01T00:00:00Z') / 1000,
      Date.parse('2026-12-02T00:00:00Z') / 1000
    ]);
    expect(data.ys[2]).toEqual([0.1, 0.4]);
  });

  it('lists the worst verdicts first in the table', () => {
    const report = {
      reference: 'train:3',
      target: 'scoring:4',
      reference_rows: 100,
      target_rows: 50,
      exact: true,
      verdict: 'breached',
      features: [
        {
          name: 'a',
          kind: 'numeric',
          reference_count: 100,
          target_count: 50,
          verdict: 'ok',
          signals: [
            {
              feature: 'a',
              signal: 'psi',
              value: 0.01,
              threshold: 0.25,
              verdict: 'ok'
            }
          ]
        },
        {
          name: 'b',
          kind: 'numeric',
          role: 'prediction',
          reference_count: 100,
          target_count: 50,
          verdict: 'breached',
          signals: [
            {
              feature: 'b',
              signal: 'psi',
              value: 0.4,
              threshold: 0.25,
              bound: 0.05,
              verdict: 'breached'
            },
            {
              feature: 'b',
              signal: 'js',
              value: 0.08,
              threshold: 0.1,
              verdict: 'warning'
            },
            {
              feature: 'b',
              signal: 'ks',
              value: null,
              verdict: 'skipped',
              detail: 'too few'
            }
          ]
        }
      ]
    } as unknown as IDriftReport;
    const rows = verdictRows(report);
    expect(rows.map(r => `${r.feature}:${r.signal}:${r.verdict}`)).toEqual([
      'b:psi:breached',
      'b:js:warning',
      'a:psi:ok',
      'b:ks:skipped'
    ]);
    expect(rows[0]).toMatchObject({
      role: 'prediction',
      value: 0.4,
      threshold: 0.25,
      bound: 0.05
    });
    expect(rows.every(r => !r.counted)).toBe(true);
    expect(rows[3]).toMatchObject({
      value: null,
      threshold: null,
      detail: 'too few'
    });
  });

  it('marks the signals that count rows against a share', () => {
    const report = {
      features: [
        {
          name: 'x',
          signals: [
            {
              signal: 'out_of_range',
              value: 300,
              threshold: 0.01,
              bound: 0.0046,
              verdict: 'breached'
            },
            { signal: 'null_rate', value: 0.02, threshold: 0.05, verdict: 'ok' }
          ]
        }
      ]
    } as unknown as IDriftReport;
    const rows = verdictRows(report);
    expect(rows.map(r => [r.signal, r.counted])).toEqual([
      ['out_of_range', true],
      ['null_rate', false]
    ]);
    expect(percent(0.01)).toBe('1 %');
    expect(percent(0.0046)).toBe('0.46 %');
    expect(percent(0.25)).toBe('25 %');
    expect(percent(null)).toBe('—');
  });

  it('finds the newest completed run', () => {
    expect(lastCompleted([])).toBeNull();
    const runs = [
      run('new-failed', '2026-12-03T00:00:00Z', { status: 'failed' }),
      run('done', '2026-12-02T00:00:00Z'),
      run('old', '2026-12-01T00:00:00Z')
    ];
    expect(lastCompleted(runs)?.id).toBe('done');
  });
});
