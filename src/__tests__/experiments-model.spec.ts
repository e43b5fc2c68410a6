import type { IMetricSeries, IRunSummary } from '../api';
import {
  DEFAULT_SORT,
  cellText,
  cellValue,
  chartSeries,
  defaultMetric,
  downsamplingNote,
  metricKeys,
  mlflowRunUrl,
  mlflowUiBase,
  nextSort,
  runColumns,
  sortRuns
} from '../experiments/model';

function run(
  id: string,
  params: { [k: string]: string },
  metrics: { [k: string]: number | null },
  started: string,
  name = `run-${id}`
): IRunSummary {
  return {
    run_id: id,
    run_name: name,
    experiment_id: '7',
    status: 'FINISHED',
    started_at: started,
    ended_at: null,
    artifact_uri: '/tmp/a',
    params,
    metrics,
    tags: {}
  };
}

const a = run(
  'a',
  { lr: '0.1', epochs: '10' },
  { loss: 0.5, acc: 0.8 },
  '2026-11-28T09:00:00Z'
);
const b = run(
  'b',
  { lr: '0.01', epochs: '10', opt: 'adam' },
  { loss: 0.2 },
  '2026-11-28T10:00:00Z'
);
const c = run(
  'c',
  { lr: '0.2', epochs: '10' },
  { loss: null, acc: 0.9 },
  '2026-11-28T11:00:00Z'
);

describe('runColumns', () => {
  it('shows run, status, start, then params (differing first) and metrics', () => {
    const ids = runColumns([a, b, c]).map(col => col.id);
    expect(ids).toEqual([
      'run_name',
      'status',
      'start_time',
      'params.lr',
      'params.opt',
      'params.epochs',
      'metrics.acc',
      'metrics.loss'
    ]);
  });

  it('marks numeric params and metrics for right alignment', () => {
    const cols = runColumns([a, b, c]);
    const byId = new Map(cols.map(col => [col.id, col]));
    expect(byId.get('params.lr')!.numeric).toBe(true);
    expect(byId.get('params.opt')!.numeric).toBe(false);
    expect(byId.get('metrics.loss')!.numeric).toBe(true);
    expect(byId.get('run_name')!.numeric).toBe(false);
  });

  it('has only the attribute columns without runs', () => {
    expect(runColumns([]).map(col => col.id)).toEqual([
      'run_name',
      'status',
      'start_time'
    ]);
  });
});

describe('cells', () => {
  const cols = new Map(runColumns([a, b, c]).map(col => [col.id, col]));

  it('tells NaN (null) from a metric never logged (undefined)', () => {
    expect(cellValue(c, cols.get('metrics.loss')!)).toBeNull();
    expect(cellValue(b, cols.get('metrics.acc')!)).toBeUndefined();
    expect(cellText(c, cols.get('metrics.loss')!)).toBe('NaN');
    expect(cellText(b, cols.get('metrics.acc')!)).toBe('—');
  });

  it('shows params as logged and a missing one as empty', () => {
    expect(cellText(b, cols.get('params.opt')!)).toBe('adam');
    expect(cellText(a, cols.get('params.opt')!)).toBe('');
  });

  it('falls back to the run id for an unnamed run', () => {
    const unnamed = { ...a, run_name: '' };
    expect(cellText(unnamed, cols.get('run_name')!)).toBe('a');
  });
});

describe('sorting', () => {
  it('starts newest first, like the server', () => {
    expect(DEFAULT_SORT).toEqual({ column: 'start_time', order: 'desc' });
    expect(sortRuns([a, c, b], DEFAULT_SORT).map(r => r.run_id)).toEqual([
      'c',
      'b',
      'a'
    ]);
  });

  it('flips the order on the same column, starts ascending on another', () => {
    const s1 = nextSort(DEFAULT_SORT, 'metrics.loss');
    expect(s1).toEqual({ column: 'metrics.loss', order: 'asc' });
    expect(nextSort(s1, 'metrics.loss')).toEqual({
      column: 'metrics.loss',
      order: 'desc'
    });
    expect(nextSort(s1, 'start_time')).toEqual({
      column: 'start_time',
      order: 'desc'
    });
  });

  it('sorts metrics by number with missing values last either way', () => {
    const asc = sortRuns([a, b, c], { column: 'metrics.loss', order: 'asc' });
    expect(asc.map(r => r.run_id)).toEqual(['b', 'a', 'c']);
    const desc = sortRuns([a, b, c], { column: 'metrics.loss', order: 'desc' });
    expect(desc.map(r => r.run_id)).toEqual(['a', 'b', 'c']);
  });

  it('sorts params as strings, as MLflow stores them', () => {
    const asc = sortRuns([a, b, c], { column: 'params.lr', order: 'asc' });
    // '0.01' < '0.1' < '0.2' as strings too; '10' would sort before '9'.
    expect(asc.map(r => r.run_id)).toEqual(['b', 'a', 'c']);
    const x = run('x', { n: '10' }, {}, '2026-11-28T09:00:00Z');
    const y = run('y', { n: '9' }, {}, '2026-11-28T09:00:00Z');
    expect(
      sortRuns([y, x], { column: 'params.n', order: 'asc' }).map(r => r.run_id)
    ).toEqual(['x', 'y']);
  });

  it('breaks ties newest first and does not touch its input', () => {
    const input = [a, b, c];
    const byEpochs = sortRuns(input, { column: 'params.epochs', order: 'asc' });
    expect(byEpochs.map(r => r.run_id)).toEqual(['c', 'b', 'a']);
    expect(input.map(r => r.run_id)).toEqual(['a', 'b', 'c']);
  });
});

describe('chart series', () => {
  const history: IMetricSeries[] = [
    {
      run_id: 'b',
      key: 'loss',
      steps: [0, 1],
      values: [1, 0.5],
      timestamps: [1000, 2000],
      total_points: 2,
      downsampled: false
    },
    {
      run_id: 'a',
      key: 'loss',
      steps: [0, 1, 2],
      values: [2, 1, null],
      timestamps: [1000, 2000, 3000],
      total_points: 3,
      downsampled: false
    },
    {
      run_id: 'a',
      key: 'acc',
      steps: [0],
      values: [0.1],
      timestamps: [1000],
      total_points: 1,
      downsampled: false
    }
  ];

  it('follows the selection order and keeps only the metric', () => {
    const series = chartSeries([a, b, c], history, 'loss');
    expect(series.map(s => s.label)).toEqual(['run-a', 'run-b']);
    expect(series[0].values).toEqual([2, 1, null]);
  });

  it('lists the metrics the selected runs have', () => {
    expect(metricKeys([a, b])).toEqual(['acc', 'loss']);
    expect(metricKeys([])).toEqual([]);
  });

  it('opens on a loss when there is one', () => {
    expect(
      defaultMetric(['final_accuracy', 'test_accuracy', 'train_loss'])
    ).toBe('train_loss');
    expect(defaultMetric(['acc', 'f1'])).toBe('acc');
    expect(defaultMetric([])).toBe('');
  });

  it('says when the server downsampled', () => {
    expect(downsamplingNote(history)).toBe('6 points');
    expect(
      downsamplingNote([
        {
          ...history[0],
          steps: new Array(2000).fill(0),
          total_points: 100_000,
          downsampled: true
        },
        {
          ...history[1],
          steps: new Array(2000).fill(0),
          total_points: 100_000,
          downsampled: true
        }
      ])
    ).toBe('4,000 of 200,000 points (downsampled, extremes kept)');
    expect(downsamplingNote([])).toBe('');
  });
});

describe('MLflow links', () => {
  it('links only to an MLflow server, never to a local store', () => {
    expect(mlflowUiBase('http://mlflow.example:5000/')).toBe(
      'http://mlflow.example:5000'
    );
    expect(mlflowUiBase('https://host/mlflow')).toBe('https://host/mlflow');
    expect(mlflowUiBase('sqlite:////home/u/.mlbench/mlflow.db')).toBe('');
    expect(mlflowUiBase('postgresql://u:p@db/mlflow')).toBe('');
    expect(mlflowUiBase('/home/u/mlruns')).toBe('');
    expect(mlflowUiBase(null)).toBe('');
  });

  it('drops credentials from the link', () => {
    expect(mlflowUiBase('https://user:secret@host:5000')).toBe(
      'https://host:5000'
    );
  });

  it("points at the run's page", () => {
    expect(mlflowRunUrl('http://h:5000', '7', 'abc')).toBe(
      'http://h:5000/#/experiments/7/runs/abc'
    );
  });
});
