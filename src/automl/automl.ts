/**
 * Pure logic of the AutoML leaderboard and the Responsible AI report tab:
 * which jobs are which, the trials' order and ranks, the figures shown.
 */
import type { IJob, Schemas } from '../api';

export type IAutoMLRun = Schemas['AutoMLRunInfo'];
export type IAutoMLTrial = Schemas['AutoMLTrial'];
export type IAutoMLGuardrail = Schemas['AutoMLGuardrail'];
export type IRaiReport = Schemas['RaiReportInfo'];

/** The job tags the backend sets on AutoML and report jobs. */
export const AUTOML_TAG = 'mlbench.automl';
export const RAI_TAG = 'mlbench.rai';

export function isAutoMLJob(job: Pick<IJob, 'tags'>): boolean {
  return job.tags?.[AUTOML_TAG] === 'true';
}

export function isRaiJob(job: Pick<IJob, 'tags'>): boolean {
  return job.tags?.[RAI_TAG] === 'true';
}

/**
 * The metrics FLAML maximizes (scores); the rest are errors, minimized. Kept
 * in step with SCORE_METRICS in mlbench/automl/models.py.
 */
const SCORES = new Set([
  'accuracy',
  'roc_auc',
  'roc_auc_ovr',
  'f1',
  'micro_f1',
  'macro_f1',
  'ap',
  'r2'
]);

export function higherIsBetter(metric: string): boolean {
  return SCORES.has(metric);
}

/** A trial on the board: its rank (1 = best) and whether it is the best. */
export interface IRankedTrial extends IAutoMLTrial {
  rank: number;
  best: boolean;
}

/**
 * The trials best first. FLAML minimizes the validation loss, whatever the
 * metric (a score's loss is 1 - score): ranking by it is right for both
 * kinds; ties go to the earlier trial (it was found first). Equal losses
 * share a rank, as in a competition.
 */
export function rankTrials(trials: readonly IAutoMLTrial[]): IRankedTrial[] {
  const sorted = [...trials].sort(
    (a, b) =>
      lossOf(a) - lossOf(b) ||
      a.wall_clock_s - b.wall_clock_s ||
      a.number - b.number
  );
  const out: IRankedTrial[] = [];
  sorted.forEach((t, i) => {
    const previous = out[i - 1];
    const rank =
      previous && lossOf(previous) === lossOf(t) ? previous.rank : i + 1;
    out.push({ ...t, rank, best: false });
  });
  if (out.length > 0) {
    out[0].best = true;
  }
  return out;
}

/** A missing or non-finite loss sorts last. */
function lossOf(t: IAutoMLTrial): number {
  return Number.isFinite(t.validation_loss)
    ? t.validation_loss
    : Number.POSITIVE_INFINITY;
}

/**
 * The primary metric's value of a trial: the score the backend computed, or
 * (an older record) derived from the loss as FLAML defines it.
 */
export function metricValue(trial: IAutoMLTrial, metric: string): number {
  if (typeof trial.score === 'number') {
    return trial.score;
  }
  return higherIsBetter(metric)
    ? 1 - trial.validation_loss
    : trial.validation_loss;
}

/** A metric with four significant digits; "-" when there is none. */
export function formatMetric(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) {
    return '-';
  }
  if (value !== 0 && Math.abs(value) < 1e-3) {
    return value.toExponential(2);
  }
  return Number(value.toPrecision(4)).toString();
}

/** Seconds as "0.42 s", "12.3 s", "2 min 5 s". */
export function formatSeconds(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) {
    return '-';
  }
  if (seconds < 10) {
    return `${seconds.toFixed(2)} s`;
  }
  if (seconds < 60) {
    return `${seconds.toFixed(1)} s`;
  }
  const m = Math.floor(seconds / 60);
  return `${m} min ${Math.round(seconds - m * 60)} s`;
}

/** A trial's hyperparameters as one short line ("n_estimators=4, ..."). */
export function configText(config: IAutoMLTrial['config'], max = 120): string {
  const text = Object.entries(config ?? {})
    .map(([k, v]) =>
      typeof v === 'number' ? `${k}=${formatMetric(v)}` : `${k}=${String(v)}`
    )
    .join(', ');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Alerted first (what needs the user), then Done, then Passed. */
const GUARDRAIL_ORDER: Record<IAutoMLGuardrail['status'], number> = {
  Alerted: 0,
  Done: 1,
  Passed: 2
};

export function sortGuardrails(
  rails: readonly IAutoMLGuardrail[]
): IAutoMLGuardrail[] {
  return [...rails].sort(
    (a, b) =>
      GUARDRAIL_ORDER[a.status] - GUARDRAIL_ORDER[b.status] ||
      a.name.localeCompare(b.name)
  );
}

/** "class_imbalance" -> "Class imbalance". */
export function guardrailTitle(name: string): string {
  const words = name.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The registered model's name and version out of "NAME:VERSION". */
export function modelRef(
  ref: string | null | undefined
): { name: string; version: number | null } | null {
  if (!ref) {
    return null;
  }
  const at = ref.lastIndexOf(':');
  if (at <= 0) {
    return { name: ref, version: null };
  }
  const version = Number(ref.slice(at + 1));
  return Number.isInteger(version)
    ? { name: ref.slice(0, at), version }
    : { name: ref, version: null };
}

/** The final job statuses, as the AutoML and report records spell them. */
const FINAL = new Set([
  'completed',
  'failed',
  'canceled',
  'timed_out',
  'early_terminated'
]);

export function isFinalStatus(status: string): boolean {
  return FINAL.has(status);
}

/** Column names typed as "sex, age_group" (commas or spaces), once each. */
export function parseColumns(text: string): string[] {
  const seen = new Set<string>();
  for (const part of text.split(/[\s,]+/)) {
    if (part) {
      seen.add(part);
    }
  }
  return [...seen];
}

/**
 * A Responsible AI report on an AutoML run's registered model: on the table
 * given (by default the one it trained on), by the sensitive columns typed.
 */
export function raiRequest(
  run: Pick<IAutoMLRun, 'model' | 'data'>,
  form: { data: string; sensitive: string }
): { model: string; data: string; sensitive: string[] } | null {
  const data = (form.data.trim() || (run.data ?? '')).replace(/^data:/, '');
  if (!run.model || !data) {
    return null;
  }
  return { model: run.model, data, sensitive: parseColumns(form.sensitive) };
}
