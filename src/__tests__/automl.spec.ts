import {
  IAutoMLTrial,
  configText,
  formatMetric,
  formatSeconds,
  guardrailTitle,
  higherIsBetter,
  isAutoMLJob,
  isFinalStatus,
  isRaiJob,
  metricValue,
  modelRef,
  parseColumns,
  raiRequest,
  rankTrials,
  sortGuardrails
} from '../automl/automl';

function trial(
  number: number,
  loss: number,
  extra: Partial<IAutoMLTrial> = {}
): IAutoMLTrial {
  return {
    number,
    estimator: 'lgbm',
    validation_loss: loss,
    trial_time_s: 0.1,
    wall_clock_s: number,
    sample_size: 100,
    ...extra
  };
}

describe('automl', () => {
  it('tells AutoML and report jobs by their tags', () => {
    expect(isAutoMLJob({ tags: { 'mlbench.automl': 'true' } })).toBe(true);
    expect(isAutoMLJob({ tags: { 'mlbench.rai': 'true' } })).toBe(false);
    expect(isRaiJob({ tags: { 'mlbench.rai': 'true' } })).toBe(true);
    expect(isRaiJob({ tags: {} })).toBe(false);
  });

  it('ranks trials by validation loss, ties sharing a rank, the best first', () => {
    const ranked = rankTrials([
      trial(0, 0.2),
      trial(1, 0.05),
      trial(2, 0.2),
      trial(3, Number.NaN),
      trial(4, 0.1)
    ]);
    expect(ranked.map(t => t.number)).toEqual([1, 4, 0, 2, 3]);
    expect(ranked.map(t => t.rank)).toEqual([1, 2, 3, 3, 5]);
    expect(ranked.map(t => t.best)).toEqual([true, false, false, false, false]);
    expect(rankTrials([])).toEqual([]);
  });

  it('breaks a tie by the trial found first', () => {
    const ranked = rankTrials([
      trial(7, 0.1, { wall_clock_s: 9 }),
      trial(8, 0.1, { wall_clock_s: 2 })
    ]);
    expect(ranked.map(t => t.number)).toEqual([8, 7]);
    expect(ranked[0].best && !ranked[1].best).toBe(true);
  });

  it("shows the metric's value: the score, else derived from the loss", () => {
    expect(metricValue(trial(0, 0.1, { score: 0.9 }), 'accuracy')).toBe(0.9);
    expect(metricValue(trial(0, 0.25), 'accuracy')).toBe(0.75);
    expect(metricValue(trial(0, 3.5), 'rmse')).toBe(3.5);
    expect(higherIsBetter('r2')).toBe(true);
    expect(higherIsBetter('log_loss')).toBe(false);
  });

  it('formats metrics and times for the table', () => {
    expect(formatMetric(0.912345)).toBe('0.9123');
    expect(formatMetric(1234.5678)).toBe('1235');
    expect(formatMetric(0.00001234)).toBe('1.23e-5');
    expect(formatMetric(0)).toBe('0');
    expect(formatMetric(null)).toBe('-');
    expect(formatMetric(Number.NaN)).toBe('-');
    expect(formatSeconds(0.123)).toBe('0.12 s');
    expect(formatSeconds(42.25)).toBe('42.3 s');
    expect(formatSeconds(125)).toBe('2 min 5 s');
    expect(formatSeconds(undefined)).toBe('-');
  });

  it('writes a configuration on one line, cut at a length', () => {
    expect(
      configText({ n_estimators: 4, learning_rate: 0.0912345, log: true })
    ).toBe('n_estimators=4, learning_rate=0.09123, log=true');
    const long = configText({ a: 'x'.repeat(200) }, 20);
    expect(long).toHaveLength(20);
    expect(long.endsWith('…')).toBe(true);
    expect(configText(undefined)).toBe('');
  });

  it('lists Alerted guardrails first, then Done, then Passed', () => {
    const sorted = sortGuardrails([
      { name: 'missing_values', status: 'Done', message: '' },
      { name: 'class_imbalance', status: 'Passed', message: '' },
      { name: 'target_leakage', status: 'Alerted', message: '' },
      { name: 'constant_columns', status: 'Alerted', message: '' }
    ]);
    expect(sorted.map(r => r.name)).toEqual([
      'constant_columns',
      'target_leakage',
      'missing_values',
      'class_imbalance'
    ]);
    expect(guardrailTitle('class_imbalance')).toBe('Class imbalance');
  });

  it('reads a registered model reference', () => {
    expect(modelRef('wine-automl:3')).toEqual({
      name: 'wine-automl',
      version: 3
    });
    expect(modelRef('odd:name:x')).toEqual({
      name: 'odd:name:x',
      version: null
    });
    expect(modelRef(null)).toBeNull();
  });

  it('knows the final statuses', () => {
    expect(isFinalStatus('completed')).toBe(true);
    expect(isFinalStatus('timed_out')).toBe(true);
    expect(isFinalStatus('running')).toBe(false);
    expect(isFinalStatus('queued')).toBe(false);
  });

  it('builds a report request on the registered model', () => {
    expect(parseColumns(' sex, age_group  sex,,')).toEqual([
      'sex',
      'age_group'
    ]);
    const run = { model: 'wine-automl:2', data: 'data:wine:1' };
    expect(raiRequest(run, { data: '', sensitive: 'sex' })).toEqual({
      model: 'wine-automl:2',
      data: 'wine:1',
      sensitive: ['sex']
    });
    expect(raiRequest(run, { data: ' wine-test ', sensitive: '' })).toEqual({
      model: 'wine-automl:2',
      data: 'wine-test',
      sensitive: []
    });
    // no registered model yet: nothing to report on
    expect(
      raiRequest({ ...run, model: null }, { data: '', sensitive: '' })
    ).toBeNull();
  });
});
