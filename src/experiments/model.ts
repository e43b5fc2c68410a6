/**
 * The Experiments section's logic, free of React so it is unit-tested
 * directly: runs-table columns and cells, sorting, chart series and MLflow
 * links.
 */
import { TranslationBundle, nullTranslator } from '@jupyterlab/translation';

import type { IMetricSeries, IRunSummary } from '../api';
import {
  IChartSeriesInput,
  formatValue,
  runLabels
} from '../components/chart-data';

/**
 * A column of the runs table. `id` is what the server sorts by
 * (`start_time`, `run_name`, `status`, `params.KEY`, `metrics.KEY`).
 */
export interface IRunColumn {
  id: string;
  label: string;
  kind: 'attribute' | 'param' | 'metric';
  /**
   * The param or metric key (attributes: the id).
   */
  key: string;
  /**
   * Numbers are right-aligned.
   */
  numeric: boolean;
}

/**
 * A sort of the runs table, in the server's terms.
 */
export interface IRunSort {
  column: string;
  order: 'asc' | 'desc';
}

/**
 * The server's default: newest first.
 */
export const DEFAULT_SORT: IRunSort = { column: 'start_time', order: 'desc' };

/**
 * Run, status and start: the columns every run has.
 */
function attributeColumns(
  trans: TranslationBundle = nullTranslator.load('mlbench')
): IRunColumn[] {
  return [
    {
      id: 'run_name',
      label: trans.__('Run'),
      kind: 'attribute',
      key: 'run_name',
      numeric: false
    },
    {
      id: 'status',
      label: trans.__('Status'),
      kind: 'attribute',
      key: 'status',
      numeric: false
    },
    {
      id: 'start_time',
      label: trans.__('Started'),
      kind: 'attribute',
      key: 'start_time',
      numeric: false
    }
  ];
}

/**
 * The columns for a page of runs: run, status, start, then every parameter
 * and every metric any of the runs has, each group in name order. Parameters
 * that have the same value in every run come after those that differ, since
 * the differing ones are what a comparison is about.
 */
export function runColumns(
  runs: IRunSummary[],
  trans?: TranslationBundle
): IRunColumn[] {
  const paramValues = new Map<string, Set<string | undefined>>();
  const metricKeys = new Set<string>();
  for (const run of runs) {
    for (const key of Object.keys(run.params)) {
      paramValues.set(key, paramValues.get(key) ?? new Set());
    }
    for (const key of Object.keys(run.metrics)) {
      metricKeys.add(key);
    }
  }
  for (const [key, values] of paramValues) {
    for (const run of runs) {
      values.add(run.params[key]);
    }
  }
  const byName = (a: string, b: string) => a.localeCompare(b);
  const params = [...paramValues.keys()].sort(byName);
  const differing = params.filter(k => paramValues.get(k)!.size > 1);
  const constant = params.filter(k => paramValues.get(k)!.size <= 1);
  return [
    ...attributeColumns(trans),
    ...[...differing, ...constant].map(key => ({
      id: `params.${key}`,
      label: key,
      kind: 'param' as const,
      key,
      numeric: runs.every(
        r => r.params[key] === undefined || isNumeric(r.params[key])
      )
    })),
    ...[...metricKeys].sort(byName).map(key => ({
      id: `metrics.${key}`,
      label: key,
      kind: 'metric' as const,
      key,
      numeric: true
    }))
  ];
}

function isNumeric(text: string): boolean {
  return text.trim() !== '' && Number.isFinite(Number(text));
}

/**
 * The raw value of a run in a column: a number for metrics (null: NaN or
 * infinity, undefined: not logged), a string otherwise.
 */
export function cellValue(
  run: IRunSummary,
  column: IRunColumn
): string | number | null | undefined {
  switch (column.kind) {
    case 'param':
      return run.params[column.key];
    case 'metric':
      return column.key in run.metrics ? run.metrics[column.key] : undefined;
    default:
      switch (column.id) {
        case 'run_name':
          return run.run_name || run.run_id;
        case 'status':
          return run.status;
        case 'start_time':
          return run.started_at ?? undefined;
        default:
          return undefined;
      }
  }
}

/**
 * The text of a cell.
 */
export function cellText(run: IRunSummary, column: IRunColumn): string {
  const value = cellValue(run, column);
  if (column.kind === 'metric') {
    return formatValue(value as number | null | undefined);
  }
  if (value === undefined || value === null) {
    return '';
  }
  if (column.id === 'start_time') {
    return formatTime(String(value));
  }
  return String(value);
}

let TIME_FORMAT: Intl.DateTimeFormat | undefined;

/**
 * A compact local date and time.
 */
export function formatTime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) {
    return iso;
  }
  // one formatter for every cell: making one per call is slow on long pages
  TIME_FORMAT ??= new Intl.DateTimeFormat(undefined, {
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit'
  });
  return TIME_FORMAT.format(date);
}

/**
 * The sort after a click on a column header: the same column flips its
 * order; another column starts descending for times (newest first) and
 * ascending for the rest (a loss is read smallest first).
 */
export function nextSort(current: IRunSort, column: string): IRunSort {
  if (current.column === column) {
    return { column, order: current.order === 'asc' ? 'desc' : 'asc' };
  }
  return { column, order: column === 'start_time' ? 'desc' : 'asc' };
}

/**
 * Order runs the way the server will, so a click on a header reorders the
 * page at once while the server's first page is on its way: metrics by
 * number, the rest as strings (MLflow stores params as strings), runs
 * without a value last in either order, ties by newest start.
 */
export function sortRuns(runs: IRunSummary[], sort: IRunSort): IRunSummary[] {
  const [prefix, ...rest] = sort.column.split('.');
  const key = rest.join('.');
  const column: IRunColumn =
    prefix === 'params' || prefix === 'metrics'
      ? {
          id: sort.column,
          label: key,
          key,
          kind: prefix === 'params' ? 'param' : 'metric',
          numeric: prefix === 'metrics'
        }
      : (attributeColumns().find(c => c.id === sort.column) ??
        attributeColumns()[2]);
  const sign = sort.order === 'asc' ? 1 : -1;
  const started = (r: IRunSummary) => r.started_at ?? '';
  return [...runs].sort((a, b) => {
    const va = cellValue(a, column);
    const vb = cellValue(b, column);
    const missingA = va === undefined || va === null;
    const missingB = vb === undefined || vb === null;
    if (missingA !== missingB) {
      return missingA ? 1 : -1;
    }
    let c = 0;
    if (!missingA && !missingB) {
      c =
        typeof va === 'number' && typeof vb === 'number'
          ? va - vb
          : String(va) < String(vb)
            ? -1
            : String(va) > String(vb)
              ? 1
              : 0;
    }
    if (c !== 0) {
      return sign * c;
    }
    return started(b) < started(a) ? -1 : started(b) > started(a) ? 1 : 0;
  });
}

/**
 * The metric keys of some runs, in name order: what the chart can show.
 */
export function metricKeys(runs: IRunSummary[]): string[] {
  const keys = new Set<string>();
  for (const run of runs) {
    Object.keys(run.metrics).forEach(k => keys.add(k));
  }
  return [...keys].sort((a, b) => a.localeCompare(b));
}

/**
 * The metric a chart opens on: the first loss, if any (what one usually
 * watches), else the first metric by name.
 */
export function defaultMetric(keys: string[]): string {
  return keys.find(k => /loss/i.test(k)) ?? keys[0] ?? '';
}

/**
 * Chart series from the server's histories: one per selected run that has
 * the metric, in the order the runs were selected, labelled by run name.
 */
export function chartSeries(
  runs: IRunSummary[],
  series: IMetricSeries[],
  key: string
): IChartSeriesInput[] {
  const labels = runLabels(runs);
  const out: IChartSeriesInput[] = [];
  runs.forEach((run, i) => {
    const s = series.find(x => x.run_id === run.run_id && x.key === key);
    if (s && s.steps.length > 0) {
      out.push({
        label: labels[i],
        steps: s.steps,
        values: s.values,
        timestamps: s.timestamps
      });
    }
  });
  return out;
}

/**
 * A note on what the chart shows, e.g. "2,000 of 100,000 points per run
 * (downsampled, extremes kept)".
 */
export function downsamplingNote(series: IMetricSeries[]): string {
  if (series.length === 0) {
    return '';
  }
  const shown = series.reduce((n, s) => n + s.steps.length, 0);
  const total = series.reduce((n, s) => n + s.total_points, 0);
  const fmt = (n: number) => n.toLocaleString('en-US');
  if (!series.some(s => s.downsampled)) {
    return `${fmt(total)} points`;
  }
  return `${fmt(shown)} of ${fmt(total)} points (downsampled, extremes kept)`;
}

/**
 * The base URL of an MLflow UI, when the tracking URI is an MLflow server
 * (http or https); empty for local stores (sqlite, files, PostgreSQL), which
 * have no UI to link to.
 */
export function mlflowUiBase(trackingUri: string | null | undefined): string {
  if (!trackingUri) {
    return '';
  }
  let url: URL;
  try {
    url = new URL(trackingUri);
  } catch {
    return '';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return '';
  }
  // Credentials in the URI must not end up in a link.
  url.username = '';
  url.password = '';
  return url.toString().replace(/\/+$/, '');
}

/**
 * The page of a run in the MLflow UI at `base`.
 */
export function mlflowRunUrl(
  base: string,
  experimentId: string,
  runId: string
): string {
  return `${base}/#/experiments/${encodeURIComponent(
    experimentId
  )}/runs/${encodeURIComponent(runId)}`;
}

/**
 * A run's status as the job views say it ("Completed", not "FINISHED"):
 * one vocabulary, a run is its job.
 */
export function runStatusLabel(
  status: string,
  trans: TranslationBundle = nullTranslator.load('mlbench')
): string {
  switch (status.toUpperCase()) {
    case 'SCHEDULED':
      return trans.__('Queued');
    case 'RUNNING':
      return trans.__('Running');
    case 'FINISHED':
      return trans.__('Completed');
    case 'FAILED':
      return trans.__('Failed');
    case 'KILLED':
      return trans.__('Canceled');
  }
  return status;
}

/**
 * The params of a run that are its notebook's declared defaults (the job
 * did not set them): the agent tags the run with their names.
 */
export function defaultParams(run: IRunSummary): Set<string> {
  const raw = run.tags?.['mlbench.defaults'];
  if (!raw) {
    return new Set();
  }
  try {
    const names = JSON.parse(raw);
    return new Set(Array.isArray(names) ? names.map(String) : []);
  } catch {
    return new Set();
  }
}

/**
 * The columns shown: all but the hidden ones (the run's name always stays,
 * it is how a row is told apart and opened).
 */
export function shownColumns(
  columns: IRunColumn[],
  hidden: ReadonlySet<string>
): IRunColumn[] {
  return columns.filter(c => c.id === 'run_name' || !hidden.has(c.id));
}

/**
 * The metrics a comparison chart opens on: the default one, then up to
 * `max` - 1 others by name (several metrics at once).
 */
export function defaultChartMetrics(keys: string[], max = 2): string[] {
  const first = defaultMetric(keys);
  if (!first) {
    return [];
  }
  return [first, ...keys.filter(k => k !== first)].slice(0, max);
}
