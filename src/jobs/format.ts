import { TranslationBundle } from '@jupyterlab/translation';

import { IJob, JobStatus, isFinal } from '../api';

export const STATUS_LABELS: Record<JobStatus, string> = {
  queued: 'Queued',
  starting: 'Starting',
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  canceled: 'Canceled',
  timed_out: 'Timed out',
  early_terminated: 'Stopped early'
};

/**
 * A status as people read it, translated.
 */
export function statusLabel(
  trans: TranslationBundle,
  status: JobStatus
): string {
  switch (status) {
    case 'queued':
      return trans.__('Queued');
    case 'starting':
      return trans.__('Starting');
    case 'running':
      return trans.__('Running');
    case 'completed':
      return trans.__('Completed');
    case 'failed':
      return trans.__('Failed');
    case 'canceled':
      return trans.__('Canceled');
    case 'timed_out':
      return trans.__('Timed out');
    case 'early_terminated':
      return trans.__('Stopped early');
  }
  return STATUS_LABELS[status] ?? status;
}

/**
 * `1h 02m`, `3m 04s`, `12s`.
 */
export function formatSeconds(total: number): string {
  const s = Math.max(0, Math.floor(total));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h) {
    return `${h}h ${String(m).padStart(2, '0')}m`;
  }
  if (m) {
    return `${m}m ${String(sec).padStart(2, '0')}s`;
  }
  return `${sec}s`;
}

/**
 * How long the job has run (or ran); empty before it started.
 */
export function jobDuration(job: IJob, now: number = Date.now()): string {
  if (!job.started_at) {
    return '';
  }
  const start = Date.parse(job.started_at);
  const end =
    isFinal(job.status) && job.finished_at ? Date.parse(job.finished_at) : now;
  return formatSeconds((end - start) / 1000);
}

/**
 * The job's name as lists show it.
 */
export function jobTitle(job: IJob): string {
  return (
    job.display_name ||
    (job.notebook_relpath ?? job.notebook_path).split('/').pop() ||
    job.id
  );
}

export function formatTime(iso: string | null): string {
  if (!iso) {
    return '';
  }
  const d = new Date(iso);
  return isNaN(d.getTime()) ? iso : d.toLocaleString();
}
