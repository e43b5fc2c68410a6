/**
 * The job view's logic, free of React so it is unit-tested directly: every
 * parameter the job ran with (the notebook's defaults included), the last
 * value of every metric, and what tells two jobs of one notebook apart.
 */
import type { IJob, IMetricSeries, INotebookParameters } from '../api';

/**
 * One parameter as the job ran with it.
 */
export interface IParameterRow {
  name: string;
  value: unknown;
  /**
   * Not set by the job: the notebook's declared default.
   */
  isDefault: boolean;
  /**
   * The default's source text when it is not a literal (e.g. `2 ** 4`).
   */
  source?: string;
}

/**
 * Every parameter the job ran with: the declared ones in the notebook's
 * order (the job's value, else the default), then any the job set that the
 * notebook does not declare. Without the declaration (not loaded yet, or a
 * command job), the job's own values.
 */
export function parameterRows(
  job: Pick<IJob, 'parameters' | 'command'>,
  declared: INotebookParameters | null
): IParameterRow[] {
  const set = job.parameters ?? {};
  const rows: IParameterRow[] = [];
  const seen = new Set<string>();
  if (declared && !job.command) {
    for (const p of declared.parameters) {
      seen.add(p.name);
      if (p.name in set) {
        rows.push({ name: p.name, value: set[p.name], isDefault: false });
      } else {
        const literal = p.default !== null && p.default !== undefined;
        rows.push({
          name: p.name,
          value: literal ? p.default : null,
          isDefault: true,
          source: literal ? undefined : p.default_source || undefined
        });
      }
    }
  }
  for (const [name, value] of Object.entries(set)) {
    if (!seen.has(name)) {
      rows.push({ name, value, isDefault: false });
    }
  }
  return rows;
}

/**
 * A parameter's value as the notebook would write it.
 */
export function parameterText(row: IParameterRow): string {
  if (row.source !== undefined) {
    return row.source;
  }
  return row.value === undefined ? '' : JSON.stringify(row.value);
}

/**
 * The last value of one metric.
 */
export interface IMetricSummary {
  key: string;
  /**
   * null: NaN or an infinity.
   */
  last: number | null;
  step: number;
  /**
   * How many points were logged (not only those fetched).
   */
  points: number;
  min: number | null;
  max: number | null;
}

/**
 * The last value (by step, then time) of every metric, in name order.
 */
export function metricSummary(series: IMetricSeries[]): IMetricSummary[] {
  const out: IMetricSummary[] = [];
  for (const s of series) {
    const n = s.steps.length;
    if (n === 0) {
      continue;
    }
    let last = 0;
    let min: number | null = null;
    let max: number | null = null;
    for (let i = 0; i < n; i++) {
      if (
        s.steps[i] > s.steps[last] ||
        (s.steps[i] === s.steps[last] && s.timestamps[i] >= s.timestamps[last])
      ) {
        last = i;
      }
      const v = s.values[i];
      if (v !== null && v !== undefined) {
        min = min === null ? v : Math.min(min, v);
        max = max === null ? v : Math.max(max, v);
      }
    }
    out.push({
      key: s.key,
      last: s.values[last] ?? null,
      step: s.steps[last],
      points: Math.max(s.total_points, n),
      min,
      max
    });
  }
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

/**
 * The metrics worth a chart: more than one point (a single value is a
 * number, not a curve).
 */
export function chartableMetrics(series: IMetricSeries[]): IMetricSeries[] {
  return series.filter(s => Math.max(s.total_points, s.steps.length) > 1);
}

/**
 * What tells this job apart from the other jobs of its notebook: the
 * parameters it set (`lr=0.5, epochs=3`), cut to `max` characters; else its
 * short id.
 */
export function jobDistinction(
  job: Pick<IJob, 'id' | 'parameters'>,
  max = 40
): string {
  const entries = Object.entries(job.parameters ?? {});
  if (entries.length === 0) {
    return `#${job.id.slice(0, 6)}`;
  }
  const text = entries
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
