/**
 * What the Monitors section and a monitor's view show, as plain functions:
 * the last run's badge, a monitor's target and schedule in words, the chart's
 * lines for one signal, the verdict table's rows, the feed events that change
 * a monitor.
 */
import type {
  IDriftReport,
  IJobEvent,
  IMonitorInfo,
  IMonitorRun,
  IMonitorSeries,
  ISchedule
} from '../api';
import type { IChartSeriesInput } from '../components/chart-data';
import { ruleInWords } from '../schedules/model';

/** What a run's badge says: its verdict, or that it failed or still runs. */
export type Badge =
  'ok' | 'warning' | 'breached' | 'skipped' | 'failed' | 'running';

const SEVERITY: { [verdict: string]: number } = {
  breached: 3,
  warning: 2,
  ok: 1,
  skipped: 0
};

/** The badge of a run; null for a monitor that never ran. */
export function runBadge(run: IMonitorRun | null | undefined): Badge | null {
  if (!run) {
    return null;
  }
  if (run.status === 'failed' || run.status === 'running') {
    return run.status;
  }
  return run.verdict ?? 'skipped';
}

/** The monitor a feed event is about (its id), or null for other events. */
export function changedMonitor(
  event: Pick<IJobEvent, 'kind' | 'job_id'>
): string | null {
  return event.kind === 'monitor' ? event.job_id : null;
}

/** "data NAME", "endpoint NAME, last 24 h": what a monitor watches. */
export function targetText(spec: IMonitorInfo['spec']): string {
  const t = spec.target;
  if (t.endpoint) {
    return `endpoint ${t.endpoint}, last ${t.window_hours ?? 24} h`;
  }
  return `data ${t.data ?? ''}`;
}

/** "data NAME:V" or "model NAME:V": what a monitor compares against. */
export function referenceText(spec: IMonitorInfo['spec']): string {
  const r = spec.reference;
  return r.model ? `model ${r.model}` : `data ${r.data ?? ''}`;
}

/** The monitor's schedule in words, or null when it only runs on demand. */
export function scheduleText(spec: IMonitorInfo['spec']): string | null {
  const trigger = spec.schedule as ISchedule['trigger'] | null | undefined;
  if (!trigger) {
    return null;
  }
  return ruleInWords({ trigger, describe: '' }) || null;
}

/** The signals present in the series, in the order the server reported them. */
export function seriesSignals(series: IMonitorSeries): string[] {
  const seen = new Set<string>();
  for (const s of series.series) {
    seen.add(s.signal);
  }
  return [...seen];
}

/** The signal the chart shows first: PSI when measured, else the first. */
export function defaultSignal(signals: string[]): string | null {
  return signals.includes('psi') ? 'psi' : (signals[0] ?? null);
}

/**
 * One chart line per feature for `signal`, over the runs in time order. With
 * more than `max` features only the `max` highest at the newest run are kept
 * (the ones drifting most), so the chart stays readable at 100 features.
 */
export function signalLines(
  series: IMonitorSeries,
  signal: string,
  max = 10
): { lines: IChartSeriesInput[]; total: number } {
  const timestamps = series.runs.map(r => Date.parse(r.created_at));
  const steps = series.runs.map((_, i) => i);
  const lines = series.series.filter(s => s.signal === signal);
  const last = (values: (number | null)[]): number => {
    for (let i = values.length - 1; i >= 0; i--) {
      const v = values[i];
      if (v !== null && v !== undefined && Number.isFinite(v)) {
        return v;
      }
    }
    return -Infinity;
  };
  const kept = [...lines]
    .sort((a, b) => last(b.values) - last(a.values))
    .slice(0, max)
    .sort((a, b) => a.feature.localeCompare(b.feature));
  return {
    lines: kept.map(s => ({
      label: s.feature,
      steps,
      timestamps,
      values: s.values.map(v => (v === undefined ? null : v))
    })),
    total: lines.length
  };
}

/**
 * Signals whose value is a number of rows while their threshold (and bound)
 * is a share of the rows: the table says so, or "300" against "0.01" reads
 * as a wild breach.
 */
export const COUNT_SIGNALS = ['type_errors', 'out_of_range', 'unseen'];

/** One row of the verdict table. */
export interface IVerdictRow {
  feature: string;
  role: string;
  signal: string;
  value: number | null;
  threshold: number | null;
  bound: number | null;
  verdict: string;
  detail: string;
  /** The value counts rows; threshold and bound are shares of the rows. */
  counted: boolean;
}

/** A share as a percentage: "1 %", "0.25 %". */
export function percent(share: number | null): string {
  if (share === null) {
    return '—';
  }
  return `${Number((share * 100).toPrecision(3))} %`;
}

/**
 * Every signal of every feature of a report, the worst verdicts first, then
 * by feature and signal (the order a reader triages in).
 */
export function verdictRows(report: IDriftReport): IVerdictRow[] {
  const rows: IVerdictRow[] = [];
  for (const f of report.features) {
    for (const s of f.signals) {
      rows.push({
        feature: f.name,
        role: f.role ?? 'feature',
        signal: s.signal,
        value: s.value ?? null,
        threshold: s.threshold ?? null,
        bound: s.bound ?? null,
        verdict: s.verdict,
        detail: s.detail ?? '',
        counted: COUNT_SIGNALS.includes(s.signal)
      });
    }
  }
  return rows.sort(
    (a, b) =>
      (SEVERITY[b.verdict] ?? 0) - (SEVERITY[a.verdict] ?? 0) ||
      a.feature.localeCompare(b.feature) ||
      a.signal.localeCompare(b.signal)
  );
}

/** The newest completed run (the one with a report), if any. */
export function lastCompleted(runs: IMonitorRun[]): IMonitorRun | null {
  let best: IMonitorRun | null = null;
  for (const r of runs) {
    if (
      r.status === 'completed' &&
      (best === null || Date.parse(r.created_at) > Date.parse(best.created_at))
    ) {
      best = r;
    }
  }
  return best;
}
