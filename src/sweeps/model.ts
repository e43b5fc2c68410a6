/**
 * The logic of the sweep views, free of React so it is unit-tested directly:
 * what a row says, the trial table's columns and sort, the best-so-far curve,
 * the parallel-coordinates axes, and the Sweep form's body.
 */
import type {
  INotebookParameter,
  ISearchExpression,
  ISubmitSweep,
  ISweep,
  ITrial,
  JobStatus,
  SweepStatus
} from '../api';
import { formatValue } from '../components/chart-data';
import { Parsed, parseParameter } from '../submit/parameter-form';

export { formatValue };

export type Goal = 'maximize' | 'minimize';

/** Trial states counted as done (the trial will not move again). */
const DONE: readonly JobStatus[] = [
  'completed',
  'early_terminated',
  'failed',
  'canceled',
  'timed_out'
];

export function goalOf(sweep: ISweep): Goal {
  return sweep.spec.objective.goal === 'minimize' ? 'minimize' : 'maximize';
}

/**
 * Trials done and the sweep's total: `7/12`.
 */
export function trialProgress(sweep: ISweep): { done: number; total: number } {
  const c = sweep.counts;
  const done =
    (c.completed ?? 0) +
    (c.early_terminated ?? 0) +
    (c.failed ?? 0) +
    (c.canceled ?? 0);
  return { done, total: sweep.max_total_trials };
}

/**
 * Whether `a` is better than `b` for the goal (null is never better).
 */
export function better(
  a: number | null | undefined,
  b: number | null | undefined,
  goal: Goal
): boolean {
  if (a === null || a === undefined || !Number.isFinite(a)) {
    return false;
  }
  if (b === null || b === undefined || !Number.isFinite(b)) {
    return true;
  }
  return goal === 'maximize' ? a > b : a < b;
}

/**
 * The best trial's index: the sweep's own record, else the best objective
 * among the trials.
 */
export function bestTrialIndex(sweep: ISweep, trials: ITrial[]): number | null {
  if (sweep.best_trial !== null && sweep.best_trial !== undefined) {
    return sweep.best_trial;
  }
  const goal = goalOf(sweep);
  let best: ITrial | null = null;
  for (const t of trials) {
    if (better(t.value, best?.value, goal)) {
      best = t;
    }
  }
  return best ? best.index : null;
}

/**
 * The best objective after each trial that reported one, in trial order:
 * what the "best so far" curve draws.
 */
export function bestSoFar(
  trials: ITrial[],
  goal: Goal
): { index: number[]; best: number[] } {
  const ordered = [...trials].sort((a, b) => a.index - b.index);
  const index: number[] = [];
  const best: number[] = [];
  let current: number | null = null;
  for (const t of ordered) {
    if (better(t.value, current, goal)) {
      current = t.value as number;
    }
    if (current !== null && t.value !== null && t.value !== undefined) {
      index.push(t.index);
      best.push(current);
    }
  }
  return { index, best };
}

// -- the trial table ----------------------------------------------------------------------

export type ColumnKind = 'index' | 'status' | 'param' | 'objective' | 'metric';

export interface IColumn {
  /** Unique: `#`, `status`, `param:lr`, `value`, `metric:loss`. */
  id: string;
  label: string;
  kind: ColumnKind;
  /** The parameter or metric name. */
  name?: string;
}

/**
 * Every column: trial number, status, each parameter (the search space's
 * first, then any other a trial was given), the objective, each metric.
 */
export function trialColumns(sweep: ISweep, trials: ITrial[]): IColumn[] {
  const params = Object.keys(sweep.spec.search_space);
  const seenParams = new Set(params);
  const metrics = new Set<string>();
  for (const t of trials) {
    for (const name of Object.keys(t.parameters)) {
      if (!seenParams.has(name)) {
        seenParams.add(name);
        params.push(name);
      }
    }
    for (const name of Object.keys(t.metrics ?? {})) {
      metrics.add(name);
    }
  }
  const primary = sweep.spec.objective.primary_metric;
  metrics.delete(primary);
  return [
    { id: '#', label: '#', kind: 'index' },
    // eslint-disable-next-line jupyter/no-untranslated-string -- the view translates it
    { id: 'status', label: 'status', kind: 'status' },
    ...params.map((name): IColumn => ({
      id: `param:${name}`,
      label: name,
      kind: 'param',
      name
    })),
    { id: 'value', label: primary, kind: 'objective', name: primary },
    ...[...metrics].sort().map((name): IColumn => ({
      id: `metric:${name}`,
      label: name,
      kind: 'metric',
      name
    }))
  ];
}

/**
 * A cell's raw value, for sorting and display.
 */
export function cellValue(trial: ITrial, column: IColumn): unknown {
  switch (column.kind) {
    case 'index':
      return trial.index;
    case 'status':
      return trial.status;
    case 'param':
      return trial.parameters[column.name as string];
    case 'objective':
      return trial.value;
    case 'metric':
      return trial.metrics?.[column.name as string];
  }
}

/**
 * A cell as text: numbers to 4 significant digits, strings as they are.
 */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) {
    return '';
  }
  if (typeof value === 'number') {
    return Number.isInteger(value) ? String(value) : formatValue(value);
  }
  if (typeof value === 'string') {
    return value;
  }
  return JSON.stringify(value);
}

function compareValues(a: unknown, b: unknown): number {
  const missingA = a === null || a === undefined;
  const missingB = b === null || b === undefined;
  if (missingA || missingB) {
    return missingA === missingB ? 0 : missingA ? 1 : -1;
  }
  if (typeof a === 'number' && typeof b === 'number') {
    return a - b;
  }
  return cellText(a).localeCompare(cellText(b), undefined, { numeric: true });
}

export interface ISort {
  column: string;
  descending: boolean;
}

/**
 * The trials sorted by a column (missing values last either way, ties by
 * trial number).
 */
export function sortTrials(
  trials: ITrial[],
  columns: IColumn[],
  sort: ISort
): ITrial[] {
  const column = columns.find(c => c.id === sort.column) ?? columns[0];
  const sign = sort.descending ? -1 : 1;
  return [...trials].sort((a, b) => {
    const va = cellValue(a, column);
    const vb = cellValue(b, column);
    const missing =
      (va === null || va === undefined ? 1 : 0) -
      (vb === null || vb === undefined ? 1 : 0);
    if (missing) {
      return missing;
    }
    return sign * compareValues(va, vb) || a.index - b.index;
  });
}

/**
 * The first sort: best objective first.
 */
export function defaultSort(sweep: ISweep): ISort {
  return { column: 'value', descending: goalOf(sweep) === 'maximize' };
}

/**
 * Why a trial stopped early, as its tooltip says it.
 */
export function terminationText(trial: ITrial): string {
  const t = trial.termination;
  if (!t) {
    return '';
  }
  return t.detail || `${t.policy} at report ${t.interval}`;
}

// -- parallel coordinates ----------------------------------------------------------------

export interface IAxis {
  /** `param:lr` or `value`. */
  id: string;
  label: string;
  kind: 'linear' | 'log' | 'categorical';
  min: number;
  max: number;
  /** Categorical axes: the values, in order, as text. */
  categories: string[];
}

/**
 * One axis per search-space parameter plus the objective: categorical for a
 * choice or any non-numeric value, logarithmic for a log-uniform range.
 */
export function buildAxes(sweep: ISweep, trials: ITrial[]): IAxis[] {
  const axes: IAxis[] = [];
  const space = sweep.spec.search_space as {
    [name: string]: ISearchExpression;
  };
  for (const [name, expr] of Object.entries(space)) {
    const values = trials.map(t => t.parameters[name]);
    const numeric = values.every(
      v => v === undefined || v === null || typeof v === 'number'
    );
    if (expr.type === 'choice' || !numeric) {
      const categories: string[] = [];
      const seen = new Set<string>();
      for (const v of expr.type === 'choice' ? (expr.values ?? []) : values) {
        const text = cellText(v);
        if (!seen.has(text)) {
          seen.add(text);
          categories.push(text);
        }
      }
      for (const v of values) {
        const text = cellText(v);
        if (!seen.has(text)) {
          seen.add(text);
          categories.push(text);
        }
      }
      // numbers read bottom-up in order; other values in the order given
      if (categories.length && categories.every(c => isNumberText(c))) {
        categories.sort((a, b) => Number(a) - Number(b));
      }
      axes.push({
        id: `param:${name}`,
        label: name,
        kind: 'categorical',
        min: 0,
        max: Math.max(categories.length - 1, 0),
        categories
      });
      continue;
    }
    const [min, max] = extent(values as (number | null | undefined)[]);
    const log =
      (expr.type === 'loguniform' || expr.type === 'qloguniform') && min > 0;
    axes.push({
      id: `param:${name}`,
      label: name,
      kind: log ? 'log' : 'linear',
      min,
      max,
      categories: []
    });
  }
  const [min, max] = extent(trials.map(t => t.value));
  axes.push({
    id: 'value',
    label: sweep.spec.objective.primary_metric,
    kind: 'linear',
    min,
    max,
    categories: []
  });
  return axes;
}

function isNumberText(text: string): boolean {
  return text.trim() !== '' && Number.isFinite(Number(text));
}

function extent(values: (number | null | undefined)[]): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (typeof v === 'number' && Number.isFinite(v)) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
  }
  return min <= max ? [min, max] : [0, 1];
}

/**
 * Where a value sits on an axis: 0 (bottom) to 1 (top); null when missing.
 */
export function axisPosition(axis: IAxis, value: unknown): number | null {
  if (axis.kind === 'categorical') {
    const i = axis.categories.indexOf(cellText(value));
    if (i < 0 || value === undefined) {
      return null;
    }
    return axis.categories.length <= 1 ? 0.5 : i / (axis.categories.length - 1);
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    return null;
  }
  let lo = axis.min;
  let hi = axis.max;
  let v = value;
  if (axis.kind === 'log') {
    lo = Math.log(lo);
    hi = Math.log(hi);
    v = Math.log(Math.max(value, axis.min));
  }
  return hi === lo ? 0.5 : (v - lo) / (hi - lo);
}

/**
 * How good an objective is among the trials: 0 (worst) to 1 (best).
 */
export function goodness(
  value: number | null | undefined,
  min: number,
  max: number,
  goal: Goal
): number | null {
  if (value === null || value === undefined || !Number.isFinite(value)) {
    return null;
  }
  const f = max === min ? 1 : (value - min) / (max - min);
  return goal === 'maximize' ? f : 1 - f;
}

/**
 * A line's colour from its goodness: the theme's error colour (worst) to its
 * success colour (best), mixed by the browser so both themes keep their tones.
 */
export function goodnessColor(g: number | null): string {
  if (g === null) {
    return 'var(--jp-border-color1)';
  }
  const pct = Math.round(Math.min(1, Math.max(0, g)) * 100);
  return `color-mix(in srgb, var(--jp-success-color1) ${pct}%, var(--jp-error-color1))`;
}

// -- the Sweep form -----------------------------------------------------------------------

export type ParamMode = 'fixed' | 'range' | 'choice';
export type RangeKind = 'uniform' | 'loguniform' | 'quniform' | 'randint';

/**
 * What the form holds for one parameter.
 */
export interface ISweepParamValues {
  mode: ParamMode;
  /** fixed: the value's text (the notebook's default at first). */
  fixed: string;
  /** The first text of `fixed`: unchanged, the notebook keeps its default. */
  initial: string;
  range: RangeKind;
  min: string;
  max: string;
  /** quniform: the step. */
  q: string;
  /** randint: integers in [0, upper). */
  upper: string;
  /** choice: values separated by commas. */
  choices: string;
}

export interface ISweepFormValues {
  notebookPath: string;
  displayName: string;
  compute: string;
  experiment: string;
  params: { [name: string]: ISweepParamValues };
  sampler: 'random' | 'grid' | 'bayesian';
  seed: string;
  primaryMetric: string;
  goal: Goal;
  policy: 'none' | 'bandit' | 'median_stopping' | 'truncation_selection';
  slackFactor: string;
  truncationPercentage: string;
  evaluationInterval: string;
  delayEvaluation: string;
  maxTrials: string;
  maxConcurrent: string;
}

/**
 * A parameter's first form values: fixed at the notebook's default, with a
 * range that suits its type ready to pick.
 */
export function initialParamValues(
  param: INotebookParameter,
  fixedText: string
): ISweepParamValues {
  return {
    mode: 'fixed',
    fixed: fixedText,
    initial: fixedText,
    range: param.type === 'int' ? 'quniform' : 'uniform',
    min: '',
    max: '',
    q: param.type === 'int' ? '1' : '',
    upper: '',
    choices: ''
  };
}

function number(text: string, what: string): Parsed<number> {
  const n = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(n)) {
    return { ok: false, error: `${what}: a number is needed` };
  }
  return { ok: true, value: n };
}

/**
 * Split a choice list on commas outside brackets and quotes.
 */
export function splitChoices(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = '';
  let current = '';
  for (const ch of text) {
    if (quote) {
      current += ch;
      if (ch === quote) {
        quote = '';
      }
      continue;
    }
    if (ch === '"' || ch === "'") {
      quote = ch;
    } else if (ch === '[' || ch === '{' || ch === '(') {
      depth += 1;
    } else if (ch === ']' || ch === '}' || ch === ')') {
      depth -= 1;
    } else if (ch === ',' && depth === 0) {
      out.push(current.trim());
      current = '';
      continue;
    }
    current += ch;
  }
  if (current.trim()) {
    out.push(current.trim());
  }
  return out;
}

/**
 * One parameter's search expression, checked against its type.
 */
export function parseExpression(
  param: INotebookParameter,
  v: ISweepParamValues
): Parsed<ISearchExpression> {
  if (v.mode === 'choice') {
    const values: unknown[] = [];
    for (const item of splitChoices(v.choices)) {
      const unquoted =
        param.type === 'str' && /^(["']).*\1$/.test(item)
          ? item.slice(1, -1)
          : item;
      const parsed = parseParameter(param, unquoted);
      if (!parsed.ok) {
        return { ok: false, error: `${item}: ${parsed.error}` };
      }
      values.push(parsed.value);
    }
    if (!values.length) {
      return { ok: false, error: 'give at least one value, e.g. 16, 32, 64' };
    }
    return { ok: true, value: { type: 'choice', values } };
  }
  if (param.type !== 'int' && param.type !== 'float' && param.type !== 'any') {
    return {
      ok: false,
      error: `a ${param.type} parameter takes a list of values, not a range`
    };
  }
  if (v.range === 'randint') {
    const upper = number(v.upper, 'upper');
    if (!upper.ok) {
      return upper;
    }
    if (!Number.isInteger(upper.value) || upper.value < 1) {
      return { ok: false, error: 'upper: a whole number of at least 1' };
    }
    return { ok: true, value: { type: 'randint', upper: upper.value } };
  }
  const min = number(v.min, 'min');
  if (!min.ok) {
    return min;
  }
  const max = number(v.max, 'max');
  if (!max.ok) {
    return max;
  }
  if (max.value <= min.value) {
    return { ok: false, error: 'max must be above min' };
  }
  if (v.range === 'loguniform') {
    if (min.value <= 0) {
      return { ok: false, error: 'a log-uniform range needs min above 0' };
    }
    // Azure's loguniform(a, b) draws exp(U(a, b)): the bounds are logs
    return {
      ok: true,
      value: {
        type: 'loguniform',
        min_value: Math.log(min.value),
        max_value: Math.log(max.value)
      }
    };
  }
  if (v.range === 'quniform') {
    const q = number(v.q, 'step');
    if (!q.ok) {
      return q;
    }
    if (q.value <= 0) {
      return { ok: false, error: 'step: above 0' };
    }
    return {
      ok: true,
      value: {
        type: 'quniform',
        min_value: min.value,
        max_value: max.value,
        q: q.value
      }
    };
  }
  if (param.type === 'int') {
    return {
      ok: false,
      error: 'an int parameter takes a stepped range (step 1) or a list'
    };
  }
  return {
    ok: true,
    value: { type: 'uniform', min_value: min.value, max_value: max.value }
  };
}

function optionalInt(
  text: string,
  what: string,
  min: number
): Parsed<number | null> {
  if (!text.trim()) {
    return { ok: true, value: null };
  }
  const n = Number(text.trim());
  if (!Number.isInteger(n) || n < min) {
    return { ok: false, error: `${what}: a whole number of at least ${min}` };
  }
  return { ok: true, value: n };
}

/**
 * The body of POST /sweeps from the form, or every refused field by name
 * (`param:NAME`, `primaryMetric`, `maxTrials`...).
 */
export function buildSweepSubmission(
  params: INotebookParameter[],
  values: ISweepFormValues
):
  | { ok: true; value: ISubmitSweep }
  | { ok: false; errors: { [field: string]: string } } {
  const errors: { [field: string]: string } = {};
  const fixed: { [name: string]: unknown } = {};
  const space: { [name: string]: ISearchExpression } = {};
  for (const param of params) {
    const v = values.params[param.name];
    if (!v) {
      continue;
    }
    if (v.mode === 'fixed') {
      continue; // the notebook's default, or the text below when changed
    }
    const parsed = parseExpression(param, v);
    if (parsed.ok) {
      space[param.name] = parsed.value;
    } else {
      errors[`param:${param.name}`] = parsed.error;
    }
  }
  for (const param of params) {
    const v = values.params[param.name];
    if (v?.mode === 'fixed' && v.fixed !== v.initial) {
      const parsed = parseParameter(param, v.fixed);
      if (parsed.ok) {
        fixed[param.name] = parsed.value;
      } else {
        errors[`param:${param.name}`] = parsed.error;
      }
    }
  }
  const swept = params.filter(p => {
    const mode = values.params[p.name]?.mode;
    return mode && mode !== 'fixed';
  });
  if (!swept.length) {
    errors.space = 'give at least one parameter a range or a list to sweep';
  }
  if (values.sampler === 'grid') {
    for (const [name, expr] of Object.entries(space)) {
      if (expr.type !== 'choice' && expr.type !== 'randint') {
        errors[`param:${name}`] =
          'grid sampling takes lists only: use a list, or random/bayesian sampling';
      }
    }
  }
  if (!values.primaryMetric.trim()) {
    errors.primaryMetric =
      'name the metric the notebook logs (mlbench.log_metric)';
  }
  const maxTrials = optionalInt(values.maxTrials, 'max trials', 1);
  if (!maxTrials.ok) {
    errors.maxTrials = maxTrials.error;
  }
  const maxConcurrent = optionalInt(values.maxConcurrent, 'max concurrent', 1);
  if (!maxConcurrent.ok) {
    errors.maxConcurrent = maxConcurrent.error;
  }
  const seed = optionalInt(values.seed, 'seed', 0);
  if (!seed.ok) {
    errors.seed = seed.error;
  }
  const interval = optionalInt(
    values.evaluationInterval,
    'evaluation interval',
    1
  );
  if (!interval.ok) {
    errors.evaluationInterval = interval.error;
  }
  const delay = optionalInt(values.delayEvaluation, 'delay', 0);
  if (!delay.ok) {
    errors.delayEvaluation = delay.error;
  }
  let policy: ISubmitSweep['early_termination'] = null;
  if (values.policy !== 'none' && interval.ok && delay.ok) {
    policy = {
      type: values.policy,
      evaluation_interval: interval.value ?? 1,
      delay_evaluation: delay.value ?? 0
    };
    if (values.policy === 'bandit') {
      const slack = number(values.slackFactor, 'slack factor');
      if (!slack.ok || slack.value <= 0) {
        errors.slackFactor = 'slack factor: a number above 0, e.g. 0.1';
      } else {
        policy.slack_factor = slack.value;
      }
    } else if (values.policy === 'truncation_selection') {
      const pct = number(values.truncationPercentage, 'truncation percentage');
      if (!pct.ok || pct.value <= 0 || pct.value >= 100) {
        errors.truncationPercentage =
          'truncation percentage: between 1 and 99, e.g. 20';
      } else {
        policy.truncation_percentage = pct.value;
      }
    }
  }
  if (Object.keys(errors).length) {
    return { ok: false, errors };
  }
  const body: ISubmitSweep = {
    trial: {
      notebook_path: values.notebookPath,
      parameters: fixed,
      compute: values.compute || 'local'
    } as ISubmitSweep['trial'],
    search_space: space,
    sampling_algorithm: {
      type: values.sampler,
      ...(seed.ok && seed.value !== null ? { seed: seed.value } : {})
    },
    objective: {
      primary_metric: values.primaryMetric.trim(),
      goal: values.goal
    },
    early_termination: policy,
    limits: {
      max_total_trials: maxTrials.ok ? maxTrials.value : null,
      max_concurrent_trials: maxConcurrent.ok ? maxConcurrent.value : null
    }
  };
  if (values.displayName.trim()) {
    body.display_name = values.displayName.trim();
  }
  if (values.experiment.trim()) {
    body.experiment = values.experiment.trim();
  }
  return { ok: true, value: body };
}

// -- a sweep's status ---------------------------------------------------------------------

export function sweepStatusLabel(status: SweepStatus): string {
  switch (status) {
    case 'queued':
      return 'Queued';
    case 'running':
      return 'Running';
    case 'completed':
      return 'Completed';
    case 'failed':
      return 'Failed';
    case 'canceled':
      return 'Canceled';
  }
  return status;
}

/**
 * Whether a trial's job is done moving.
 */
export function trialDone(status: JobStatus): boolean {
  return DONE.includes(status);
}
