import { ServerConnection } from '@jupyterlab/services';
import { Signal } from '@lumino/signaling';
import React, { act } from 'react';
import { createRoot } from 'react-dom/client';

import {
  EventStream,
  IJobEvent,
  INotebookParameter,
  ISweep,
  ITrial,
  MlbenchClient
} from '../api';
import { STATUS_LABELS, statusLabel } from '../jobs/format';
import { nullTranslator } from '@jupyterlab/translation';
import {
  ISweepFormValues,
  axisPosition,
  bestSoFar,
  bestTrialIndex,
  buildAxes,
  buildSweepSubmission,
  goodness,
  initialParamValues,
  sortTrials,
  splitChoices,
  terminationText,
  trialColumns,
  trialProgress
} from '../sweeps/model';
import { SweepDetail } from '../sweeps/sweep-view';
import { SweepViewModel, SweepsStore } from '../sweeps/store';

function sweep(extra: Partial<ISweep> = {}): ISweep {
  return {
    id: 'sw1',
    display_name: 'tune',
    experiment: 'tune',
    compute: 'local',
    notebook_path: '/root/train.ipynb',
    notebook_relpath: 'train.ipynb',
    status: 'running',
    status_reason: '',
    cancel_requested: false,
    owner: 'me',
    spec: {
      trial: { notebook_path: 'train.ipynb' },
      search_space: {
        lr: { type: 'loguniform', min_value: -7, max_value: -1 },
        layers: { type: 'choice', values: [1, 2, 3] },
        act: { type: 'choice', values: ['relu', 'tanh'] }
      },
      objective: { primary_metric: 'acc', goal: 'maximize' },
      early_termination: { type: 'bandit', slack_factor: 0.1 }
    },
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
    started_at: null,
    finished_at: null,
    mlflow_experiment_id: null,
    mlflow_run_id: null,
    trial_count: 3,
    max_total_trials: 12,
    counts: { completed: 2, early_terminated: 1, running: 1 },
    best_trial: null,
    best_value: null,
    ...extra
  } as ISweep;
}

function trial(index: number, extra: Partial<ITrial> = {}): ITrial {
  return {
    sweep_id: 'sw1',
    index,
    job_id: `job${index}`,
    parameters: {
      lr: 0.001 * (index + 1),
      layers: (index % 3) + 1,
      act: index % 2 ? 'tanh' : 'relu'
    },
    status: 'completed',
    value: index / 10,
    reports: 5,
    metrics: { acc: index / 10, loss: 1 - index / 10 },
    termination: null,
    created_at: '2026-01-01T00:00:00Z',
    finished_at: null,
    ...extra
  } as ITrial;
}

describe('early_terminated', () => {
  it('has a label in every status map', () => {
    const trans = nullTranslator.load('mlbench');
    expect(STATUS_LABELS.early_terminated).toBe('Stopped early');
    expect(statusLabel(trans, 'early_terminated')).toBe('Stopped early');
  });
});

describe('sweep rows', () => {
  it('count done trials of the total', () => {
    expect(trialProgress(sweep())).toEqual({ done: 3, total: 12 });
  });

  it('find the best trial by the goal when the sweep has none yet', () => {
    const trials = [trial(0), trial(2), trial(1, { value: null })];
    expect(bestTrialIndex(sweep(), trials)).toBe(2);
    const min = sweep();
    min.spec.objective.goal = 'minimize';
    expect(bestTrialIndex(min, trials)).toBe(0);
    expect(bestTrialIndex(sweep({ best_trial: 1 }), trials)).toBe(1);
  });

  it('draw the best so far in trial order', () => {
    const trials = [
      trial(0, { value: 0.5 }),
      trial(1, { value: 0.3 }),
      trial(2, { value: null }),
      trial(3, { value: 0.7 })
    ];
    expect(bestSoFar(trials, 'maximize')).toEqual({
      index: [0, 1, 3],
      best: [0.5, 0.5, 0.7]
    });
    expect(bestSoFar(trials, 'minimize').best).toEqual([0.5, 0.3, 0.3]);
  });
});

describe('trial table', () => {
  it('has every parameter and metric as a column', () => {
    const cols = trialColumns(sweep(), [trial(0), trial(1)]);
    expect(cols.map(c => c.id)).toEqual([
      '#',
      'status',
      'param:lr',
      'param:layers',
      'param:act',
      'value',
      'metric:loss'
    ]);
  });

  it('sorts by any column, missing values last', () => {
    const trials = [trial(0), trial(1, { value: null }), trial(2), trial(3)];
    const cols = trialColumns(sweep(), trials);
    const byValue = sortTrials(trials, cols, {
      column: 'value',
      descending: true
    });
    expect(byValue.map(t => t.index)).toEqual([3, 2, 0, 1]);
    const byAct = sortTrials(trials, cols, {
      column: 'param:act',
      descending: false
    });
    expect(byAct.map(t => t.parameters.act)).toEqual([
      'relu',
      'relu',
      'tanh',
      'tanh'
    ]);
  });

  it('says why a trial stopped early', () => {
    const t = trial(1, {
      status: 'early_terminated',
      termination: {
        policy: 'bandit',
        interval: 3,
        value: 0.2,
        threshold: 0.5,
        detail: 'bandit: 0.2 < 0.5'
      }
    });
    expect(terminationText(t)).toBe('bandit: 0.2 < 0.5');
    expect(terminationText(trial(0))).toBe('');
  });
});

describe('parallel coordinates', () => {
  it('has an axis per parameter plus the objective, categorical for choices', () => {
    const trials = [trial(0), trial(1), trial(2)];
    const axes = buildAxes(sweep(), trials);
    expect(axes.map(a => [a.id, a.kind])).toEqual([
      ['param:lr', 'log'],
      ['param:layers', 'categorical'],
      ['param:act', 'categorical'],
      ['value', 'linear']
    ]);
    expect(axes[1].categories).toEqual(['1', '2', '3']);
    const unordered = sweep();
    unordered.spec.search_space.layers = {
      type: 'choice',
      values: [3, 1, 2]
    };
    expect(buildAxes(unordered, trials)[1].categories).toEqual(['1', '2', '3']);
    expect(axisPosition(axes[2], 'tanh')).toBe(1);
    expect(axisPosition(axes[3], 0.1)).toBeCloseTo(0.5);
    expect(axisPosition(axes[0], 0.001)).toBe(0);
    expect(axisPosition(axes[0], null)).toBeNull();
  });

  it('colours lines by how good the objective is for the goal', () => {
    expect(goodness(1, 0, 1, 'maximize')).toBe(1);
    expect(goodness(1, 0, 1, 'minimize')).toBe(0);
    expect(goodness(null, 0, 1, 'minimize')).toBeNull();
  });
});

const param = (
  name: string,
  type: string,
  value: unknown = null
): INotebookParameter =>
  ({
    name,
    type,
    default: value,
    default_source: JSON.stringify(value),
    nullable: false,
    help: ''
  }) as INotebookParameter;

function form(extra: Partial<ISweepFormValues> = {}): ISweepFormValues {
  return {
    notebookPath: 'train.ipynb',
    displayName: '',
    compute: 'local',
    experiment: '',
    params: {},
    sampler: 'random',
    seed: '',
    primaryMetric: 'acc',
    goal: 'maximize',
    policy: 'none',
    slackFactor: '0.1',
    truncationPercentage: '20',
    evaluationInterval: '1',
    delayEvaluation: '0',
    maxTrials: '10',
    maxConcurrent: '2',
    ...extra
  };
}

describe('the Sweep form', () => {
  const params = [
    param('lr', 'float', 0.01),
    param('epochs', 'int', 5),
    param('act', 'str', 'relu')
  ];
  const fields = () => ({
    lr: initialParamValues(params[0], '0.01'),
    epochs: initialParamValues(params[1], '5'),
    act: initialParamValues(params[2], 'relu')
  });

  it('splits lists on commas outside brackets and quotes', () => {
    expect(splitChoices('1, 2,3')).toEqual(['1', '2', '3']);
    expect(splitChoices('[1, 2], "a,b"')).toEqual(['[1, 2]', '"a,b"']);
  });

  it('builds ranges (log bounds as logs), lists and changed fixed values', () => {
    const p = fields();
    p.lr = {
      ...p.lr,
      mode: 'range',
      range: 'loguniform',
      min: '1e-4',
      max: '1e-1'
    };
    p.epochs = { ...p.epochs, fixed: '8' };
    p.act = { ...p.act, mode: 'choice', choices: 'relu, tanh' };
    const built = buildSweepSubmission(
      params,
      form({ params: p, policy: 'bandit', maxTrials: '6' })
    );
    expect(built.ok).toBe(true);
    if (!built.ok) {
      return;
    }
    const body = built.value;
    expect(body.trial.parameters).toEqual({ epochs: 8 });
    expect(body.search_space.act).toEqual({
      type: 'choice',
      values: ['relu', 'tanh']
    });
    const lr = body.search_space.lr as { min_value: number; max_value: number };
    expect(lr.min_value).toBeCloseTo(Math.log(1e-4));
    expect(lr.max_value).toBeCloseTo(Math.log(0.1));
    expect(body.early_termination).toEqual({
      type: 'bandit',
      evaluation_interval: 1,
      delay_evaluation: 0,
      slack_factor: 0.1
    });
    expect(body.limits).toEqual({
      max_total_trials: 6,
      max_concurrent_trials: 2
    });
    expect(body.objective).toEqual({ primary_metric: 'acc', goal: 'maximize' });
  });

  it('refuses what the server would, by field', () => {
    const p = fields();
    p.epochs = { ...p.epochs, mode: 'choice', choices: '1, 2.5' };
    p.lr = { ...p.lr, mode: 'range', range: 'uniform', min: '1', max: '0' };
    const built = buildSweepSubmission(
      params,
      form({ params: p, primaryMetric: ' ', maxTrials: '0', sampler: 'grid' })
    );
    expect(built.ok).toBe(false);
    if (built.ok) {
      return;
    }
    expect(Object.keys(built.errors).sort()).toEqual([
      'maxTrials',
      'param:epochs',
      'param:lr',
      'primaryMetric'
    ]);
    const none = buildSweepSubmission(params, form({ params: fields() }));
    expect(none.ok ? {} : none.errors).toHaveProperty('space');
    const grid = fields();
    grid.lr = { ...grid.lr, mode: 'range', min: '0', max: '1' };
    const g = buildSweepSubmission(
      params,
      form({ params: grid, sampler: 'grid' })
    );
    expect(g.ok ? '' : g.errors['param:lr']).toMatch(/grid/);
  });
});

class StreamDouble {
  event = new Signal<any, IJobEvent>(this);
  reset = new Signal<any, void>(this);
}

describe('the Sweeps list', () => {
  it('follows sweep events', async () => {
    jest.useFakeTimers();
    const client = new MlbenchClient(ServerConnection.makeSettings());
    const updated = sweep({
      status: 'completed',
      best_trial: 2,
      best_value: 0.9
    });
    jest
      .spyOn(client, 'listSweeps')
      .mockResolvedValue({ items: [sweep()], next_cursor: null });
    const get = jest.spyOn(client, 'getSweep').mockResolvedValue(updated);
    const stream = new StreamDouble();
    const store = new SweepsStore(client, stream as unknown as EventStream);
    await store.reload();
    expect(store.items[0].status).toBe('running');
    stream.event.emit({
      id: 1,
      job_id: 'sw1',
      kind: 'sweep',
      data: { status: 'completed' },
      created_at: '2026-01-01T00:00:01Z'
    });
    stream.event.emit({
      id: 2,
      job_id: 'other-job',
      kind: 'status',
      data: { status: 'running' },
      created_at: '2026-01-01T00:00:01Z'
    });
    jest.advanceTimersByTime(300);
    await Promise.resolve();
    await Promise.resolve();
    expect(get).toHaveBeenCalledTimes(1);
    expect(store.items[0].best_value).toBe(0.9);
    store.dispose();
    jest.useRealTimers();
  });
});

describe('the sweep view', () => {
  beforeAll(() => {
    (
      globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }
    ).IS_REACT_ACT_ENVIRONMENT = true;
  });

  it('renders 1,000 trials in under a second, with ~30 table rows in the DOM', () => {
    const client = new MlbenchClient(ServerConnection.makeSettings());
    const stream = new StreamDouble();
    const model = new SweepViewModel(
      client,
      'sw1',
      stream as unknown as EventStream
    );
    const trials: ITrial[] = [];
    for (let i = 0; i < 1000; i++) {
      trials.push(
        trial(i, {
          value: Math.sin(i) / 2 + 0.5,
          status: i % 7 === 0 ? 'early_terminated' : 'completed',
          termination:
            i % 7 === 0
              ? {
                  policy: 'bandit',
                  interval: 2,
                  value: 0.1,
                  threshold: 0.4,
                  detail: `trial ${i} below the slack`
                }
              : null
        })
      );
    }
    const host = document.createElement('div');
    document.body.appendChild(host);
    const root = createRoot(host);
    const start = performance.now();
    act(() => {
      model.setState(
        sweep({ trial_count: 1000, max_total_trials: 1000 }),
        trials
      );
      root.render(
        <SweepDetail
          model={model}
          actions={{ openJob: jest.fn(), cancel: jest.fn(), delete: jest.fn() }}
        />
      );
    });
    const ms = performance.now() - start;
    const rows = host.querySelectorAll('.mlbench-TrialTable-row');
    expect(rows.length).toBeGreaterThan(5);
    expect(rows.length).toBeLessThan(40);
    expect(host.querySelectorAll('.mlbench-ParallelCoords-line').length).toBe(
      1000
    );
    expect(
      host.querySelectorAll(
        '.mlbench-ParallelCoords-line.mlbench-mod-early_terminated'
      ).length
    ).toBe(143);
    // the best trial first (default sort), starred
    expect(rows[0].classList.contains('mlbench-mod-best')).toBe(true);
    const stopped = host.querySelector(
      'tr[data-status="early_terminated"] td.mlbench-TrialTable-status'
    );
    expect(stopped?.getAttribute('title')).toMatch(/below the slack/);
    console.log(`sweep view, 1,000 trials: ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThan(1000);
    act(() => root.unmount());
    model.dispose();
  });
});

describe('the sweep view model', () => {
  it("reads a finished sweep's curves once, from its trials' runs", async () => {
    const client = new MlbenchClient(ServerConnection.makeSettings());
    const done = sweep({ status: 'completed' });
    jest.spyOn(client, 'getSweep').mockResolvedValue(done);
    jest
      .spyOn(client, 'sweepTrials')
      .mockResolvedValue({ items: [trial(0), trial(1)] });
    const jobs = jest.spyOn(client, 'listJobs').mockResolvedValue({
      items: [
        { id: 'job0', mlflow_run_id: 'run0' },
        { id: 'job1', mlflow_run_id: 'run1' }
      ] as any,
      next_cursor: null
    });
    const history = jest.spyOn(client, 'metricHistory').mockResolvedValue({
      series: ['run0', 'run1'].map(run_id => ({
        run_id,
        key: 'acc',
        steps: [1, 2],
        values: [0.1, 0.2],
        timestamps: [0, 1],
        total_points: 2
      }))
    } as any);
    const stream = new StreamDouble();
    const model = new SweepViewModel(
      client,
      'sw1',
      stream as unknown as EventStream
    );
    const before = model.curves;
    await model.load();
    expect(jobs.mock.calls[0][0]).toMatchObject({
      tag: 'mlbench.sweep_id=sw1'
    });
    expect(history.mock.calls[0][0]).toMatchObject({
      run_id: ['run0', 'run1'],
      key: ['acc']
    });
    expect(model.curves).not.toBe(before);
    expect([...model.curves.keys()]).toEqual([0, 1]);
    await model.load();
    expect(history).toHaveBeenCalledTimes(1);
    model.dispose();
  });
});
