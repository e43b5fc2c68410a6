import type { IMetricSeries, INotebookParameters } from '../api';
import {
  chartableMetrics,
  jobDistinction,
  metricSummary,
  parameterRows,
  parameterText
} from '../jobs/job-model';
import {
  defaultChartMetrics,
  defaultParams,
  runStatusLabel,
  shownColumns
} from '../experiments/model';

function declared(
  params: { name: string; default: unknown; default_source?: string }[]
): INotebookParameters {
  return {
    path: 'train.ipynb',
    kernel_name: null,
    has_parameters_cell: true,
    parameters: params.map(p => ({
      name: p.name,
      type: 'any',
      nullable: false,
      annotation: null,
      default: p.default,
      default_source: p.default_source ?? JSON.stringify(p.default),
      help: ''
    }))
  };
}

function series(
  key: string,
  steps: number[],
  values: (number | null)[],
  total = steps.length
): IMetricSeries {
  return {
    run_id: 'r',
    key,
    steps,
    values,
    timestamps: steps.map(s => 1000 + s),
    total_points: total,
    downsampled: total > steps.length
  };
}

describe('parameterRows', () => {
  it('lists every declared parameter in order, defaults marked', () => {
    const rows = parameterRows(
      { parameters: { epochs: 3 }, command: null },
      declared([
        { name: 'lr', default: 0.05 },
        { name: 'epochs', default: 30 },
        { name: 'size', default: null, default_source: '2 ** 4' }
      ])
    );
    expect(rows).toEqual([
      { name: 'lr', value: 0.05, isDefault: true, source: undefined },
      { name: 'epochs', value: 3, isDefault: false },
      { name: 'size', value: null, isDefault: true, source: '2 ** 4' }
    ]);
    expect(rows.map(parameterText)).toEqual(['0.05', '3', '2 ** 4']);
  });

  it("keeps values the notebook does not declare, and a command's own", () => {
    expect(
      parameterRows(
        { parameters: { extra: 'x' }, command: null },
        declared([{ name: 'lr', default: 0.1 }])
      ).map(r => [r.name, r.isDefault])
    ).toEqual([
      ['lr', true],
      ['extra', false]
    ]);
    // not loaded yet: what the job set
    expect(
      parameterRows({ parameters: { a: 1 }, command: null }, null)
    ).toEqual([{ name: 'a', value: 1, isDefault: false }]);
    // a command: its values, never the (absent) declaration
    expect(
      parameterRows(
        { parameters: { a: 1 }, command: 'python x.py' },
        declared([{ name: 'b', default: 2 }])
      ).map(r => r.name)
    ).toEqual(['a']);
  });
});

describe('metricSummary', () => {
  it('takes the last value by step, with min, max and points', () => {
    const summary = metricSummary([
      series('loss', [0, 2, 1], [3, 1, 2], 300),
      series('final_accuracy', [0], [0.93]),
      series('nan', [0, 1], [1, null])
    ]);
    expect(summary.map(m => m.key)).toEqual(['final_accuracy', 'loss', 'nan']);
    expect(summary[0]).toMatchObject({ last: 0.93, step: 0, points: 1 });
    expect(summary[1]).toMatchObject({
      last: 1,
      step: 2,
      points: 300,
      min: 1,
      max: 3
    });
    expect(summary[2].last).toBeNull();
  });

  it('charts histories only, not single values', () => {
    expect(
      chartableMetrics([
        series('loss', [0, 1], [2, 1]),
        series('final_accuracy', [0], [0.9]),
        // downsampled to one point of many: still a history
        series('big', [0], [1], 5000)
      ]).map(s => s.key)
    ).toEqual(['loss', 'big']);
  });
});

describe('jobDistinction', () => {
  it('names the parameters a job set, else its short id', () => {
    expect(
      jobDistinction({ id: 'abcdef123', parameters: { lr: 0.5, name: 'x' } })
    ).toBe('lr=0.5, name=x');
    expect(jobDistinction({ id: 'abcdef123', parameters: {} })).toBe('#abcdef');
    const long = jobDistinction(
      { id: 'a', parameters: { a_long_parameter_name: 'a long value here' } },
      20
    );
    expect(long).toHaveLength(20);
    expect(long.endsWith('…')).toBe(true);
  });
});

describe('runs table helpers', () => {
  it("says a run's status as the job views do", () => {
    expect(runStatusLabel('FINISHED')).toBe('Completed');
    expect(runStatusLabel('KILLED')).toBe('Canceled');
    expect(runStatusLabel('FAILED')).toBe('Failed');
    expect(runStatusLabel('RUNNING')).toBe('Running');
    expect(runStatusLabel('ODD')).toBe('ODD');
  });

  it("reads which params are the notebook's defaults", () => {
    const run = (tags: Record<string, string>) =>
      ({ tags }) as unknown as Parameters<typeof defaultParams>[0];
    expect([
      ...defaultParams(run({ 'mlbench.defaults': '["a","b"]' }))
    ]).toEqual(['a', 'b']);
    expect(defaultParams(run({})).size).toBe(0);
    expect(defaultParams(run({ 'mlbench.defaults': 'not json' })).size).toBe(0);
  });

  it('hides chosen columns but never the run name', () => {
    const col = (id: string) => ({
      id,
      label: id,
      key: id,
      kind: 'param' as const,
      numeric: false
    });
    const columns = [col('run_name'), col('params.a'), col('params.b')];
    expect(
      shownColumns(columns, new Set(['run_name', 'params.a'])).map(c => c.id)
    ).toEqual(['run_name', 'params.b']);
  });

  it('opens the charts on a loss and one more metric', () => {
    expect(defaultChartMetrics(['acc', 'f1', 'train_loss'])).toEqual([
      'train_loss',
      'acc'
    ]);
    expect(defaultChartMetrics([])).toEqual([]);
  });
});
