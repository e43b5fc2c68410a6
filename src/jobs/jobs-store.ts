/**
 * The state store of the Jobs section: every job of the workspace, kept live
 * by the shared event stream (no per-row polling).
 */
import { ISignal, Signal } from '@lumino/signaling';

import {
  EventStream,
  IJob,
  IJobEvent,
  JobStatus,
  MlbenchClient,
  errorMessage,
  isFinal
} from '../api';

/**
 * What the list shows: a status filter (empty: all) and free text.
 */
export interface IJobFilter {
  statuses: JobStatus[];
  text: string;
}

/**
 * Whether a job passes a filter (text matches name, notebook, experiment,
 * compute, id and tags, case-insensitively).
 */
export function matchesFilter(job: IJob, filter: IJobFilter): boolean {
  if (filter.statuses.length && !filter.statuses.includes(job.status)) {
    return false;
  }
  const text = filter.text.trim().toLowerCase();
  if (!text) {
    return true;
  }
  const haystack = [
    job.id,
    job.display_name,
    job.notebook_relpath ?? job.notebook_path,
    job.experiment,
    job.compute,
    ...Object.entries(job.tags).map(([k, v]) => `${k}=${v}`)
  ]
    .join('\n')
    .toLowerCase();
  return text.split(/\s+/).every(word => haystack.includes(word));
}

/**
 * Newest first, ties broken by id so the order is stable.
 */
function newestFirst(a: IJob, b: IJob): number {
  if (a.created_at !== b.created_at) {
    return a.created_at < b.created_at ? 1 : -1;
  }
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/**
 * Apply one event to a job, as far as the event tells (the full record is
 * fetched afterwards for status changes).
 */
export function applyEvent(job: IJob, event: IJobEvent): IJob {
  const data = event.data;
  if (event.kind === 'status' && typeof data.status === 'string') {
    const status = data.status as JobStatus;
    const next: IJob = {
      ...job,
      status,
      status_reason:
        typeof data.reason === 'string' ? data.reason : job.status_reason,
      updated_at: event.created_at
    };
    if (status === 'running' && !job.started_at) {
      next.started_at = event.created_at;
    }
    if (isFinal(status) && !job.finished_at) {
      next.finished_at = event.created_at;
    }
    if (status === 'completed' && job.progress.cell_count) {
      next.progress = {
        ...job.progress,
        cell_index: job.progress.cell_count
      };
    }
    return next;
  }
  if (event.kind === 'progress') {
    return {
      ...job,
      progress: {
        ...job.progress,
        cell_index:
          typeof data.cell_index === 'number'
            ? data.cell_index
            : job.progress.cell_index,
        cell_count:
          typeof data.cell_count === 'number'
            ? data.cell_count
            : job.progress.cell_count,
        cell_source:
          typeof data.cell_source === 'string'
            ? data.cell_source
            : job.progress.cell_source,
        cell_started_at: event.created_at
      },
      updated_at: event.created_at
    };
  }
  return job;
}

/**
 * Cells done / cells (0 when unknown, 1 once completed).
 */
export function progressFraction(job: IJob): number {
  if (job.status === 'completed') {
    return 1;
  }
  const { cell_index, cell_count } = job.progress;
  if (!cell_count || cell_index === null || cell_index === undefined) {
    return 0;
  }
  return Math.min(1, cell_index / cell_count);
}

export class JobsStore {
  constructor(options: JobsStore.IOptions) {
    this.client = options.client;
    this._pageSize = options.pageSize ?? 1000;
    this._firstPageSize = Math.min(
      options.firstPageSize ?? 100,
      this._pageSize
    );
    this._maxJobs = options.maxJobs ?? 100000;
    this._refreshDelay = options.refreshDelayMs ?? 150;
    this._stream = options.stream;
    this._stream.event.connect(this._onEvent, this);
    this._stream.reset.connect(() => void this.reload(), this);
  }

  readonly client: MlbenchClient;

  /** Emitted after any change (jobs, filter, loading state). */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** A job reached a final state (live, not on load). */
  get jobFinished(): ISignal<this, IJob> {
    return this._jobFinished;
  }

  get loading(): boolean {
    return this._loading;
  }

  get error(): string {
    return this._error;
  }

  /** Increases on every change: a cheap key for memoization. */
  get version(): number {
    return this._version;
  }

  get filter(): IJobFilter {
    return this._filter;
  }

  set filter(filter: IJobFilter) {
    this._filter = filter;
    this._visible = null;
    this._emit();
  }

  get size(): number {
    return this._jobs.size;
  }

  get(id: string): IJob | undefined {
    return this._jobs.get(id);
  }

  /** All jobs, newest first. */
  all(): IJob[] {
    if (!this._sorted) {
      this._sorted = [...this._jobs.values()].sort(newestFirst);
    }
    return this._sorted;
  }

  /** The jobs passing the filter, newest first. */
  visible(): IJob[] {
    if (!this._visible) {
      const all = this.all();
      const f = this._filter;
      this._visible =
        !f.statuses.length && !f.text.trim()
          ? all
          : all.filter(job => matchesFilter(job, f));
    }
    return this._visible;
  }

  /** Counts per status over all jobs. */
  counts(): Record<JobStatus, number> {
    const counts = {
      queued: 0,
      starting: 0,
      running: 0,
      completed: 0,
      failed: 0,
      canceled: 0,
      timed_out: 0,
      early_terminated: 0
    };
    for (const job of this._jobs.values()) {
      counts[job.status] += 1;
    }
    return counts;
  }

  /**
   * Load every job, replacing what was known. The newest jobs (one small page) are shown
   * at once, so the list paints before thousands of older jobs have arrived.
   */
  async reload(): Promise<void> {
    const generation = ++this._generation;
    this._loading = true;
    this._error = '';
    this._emit();
    const jobs = new Map<string, IJob>();
    try {
      let cursor: string | null | undefined = undefined;
      let first = true;
      do {
        const page = await this.client.listJobs({
          limit: first ? this._firstPageSize : this._pageSize,
          cursor
        });
        if (generation !== this._generation) {
          return;
        }
        for (const job of page.items) {
          jobs.set(job.id, job);
        }
        cursor = page.next_cursor;
        if (first && cursor) {
          // shown while the rest loads; known jobs stay until the full list replaces them
          for (const job of page.items) {
            const known = this._jobs.get(job.id);
            if (!known || known.updated_at <= job.updated_at) {
              this._jobs.set(job.id, job);
            }
          }
          this._changedJobs();
        }
        first = false;
      } while (cursor && jobs.size < this._maxJobs);
      // events that arrived while loading are newer than the pages
      for (const [id, job] of this._jobs) {
        const loaded = jobs.get(id);
        if (!loaded || loaded.updated_at < job.updated_at) {
          jobs.set(id, job);
        }
      }
      this._jobs = jobs;
    } catch (reason) {
      this._error = errorMessage(reason);
    } finally {
      if (generation === this._generation) {
        this._loading = false;
        this._changedJobs();
      }
    }
  }

  /**
   * Add or replace a job known from a REST answer (e.g. just submitted).
   */
  upsert(job: IJob): void {
    const known = this._jobs.get(job.id);
    if (known && known.updated_at > job.updated_at) {
      return;
    }
    this._jobs.set(job.id, job);
    this._changedJobs();
  }

  /** Forget jobs that were deleted. */
  remove(ids: string[]): void {
    for (const id of ids) {
      this._jobs.delete(id);
    }
    this._changedJobs();
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    clearTimeout(this._refreshTimer);
    this._stream.event.disconnect(this._onEvent, this);
    Signal.clearData(this);
  }

  private _onEvent(_: EventStream, event: IJobEvent): void {
    if (
      event.kind === 'sweep' ||
      event.kind === 'pipeline' ||
      event.kind === 'schedule' ||
      event.kind === 'notification' ||
      event.kind === 'monitor' ||
      event.kind === 'model'
    ) {
      // about a sweep, pipeline run, schedule, monitor (its id in job_id) or the model
      // registry ("models"), not a job: fetching it as a job would be a 404
      return;
    }
    const job = this._jobs.get(event.job_id);
    if (job) {
      const next = applyEvent(job, event);
      this._jobs.set(job.id, next);
      if (
        event.kind === 'status' &&
        isFinal(next.status) &&
        !isFinal(job.status)
      ) {
        this._jobFinished.emit(next);
      }
      this._changedJobs();
    }
    // status changes carry more than the event says (error, gpu ids...);
    // unknown jobs were submitted elsewhere
    if (!job || event.kind === 'status') {
      this._scheduleRefresh(event.job_id);
    }
  }

  private _scheduleRefresh(id: string): void {
    this._pending.add(id);
    if (this._refreshTimer === undefined) {
      // batch a burst of events into one fetch per job
      this._refreshTimer = setTimeout(() => {
        this._refreshTimer = undefined;
        const ids = [...this._pending];
        this._pending.clear();
        void Promise.all(ids.map(i => this._refresh(i)));
      }, this._refreshDelay);
    }
  }

  private async _refresh(id: string): Promise<void> {
    try {
      const job = await this.client.getJob(id);
      if (this._disposed) {
        return;
      }
      const known = this._jobs.get(id);
      if (!known || known.updated_at <= job.updated_at) {
        this._jobs.set(id, job);
        if (known && isFinal(job.status) && !isFinal(known.status)) {
          this._jobFinished.emit(job);
        }
        this._changedJobs();
      }
    } catch {
      // deleted meanwhile: the next reload drops it
    }
  }

  private _changedJobs(): void {
    this._sorted = null;
    this._visible = null;
    this._emit();
  }

  private _emit(): void {
    this._version += 1;
    this._changed.emit();
  }

  private _jobs = new Map<string, IJob>();
  private _sorted: IJob[] | null = null;
  private _visible: IJob[] | null = null;
  private _filter: IJobFilter = { statuses: [], text: '' };
  private _loading = false;
  private _error = '';
  private _version = 0;
  private _generation = 0;
  private _disposed = false;
  private _pending = new Set<string>();
  private _refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private _stream: EventStream;
  private _pageSize: number;
  private _firstPageSize: number;
  private _maxJobs: number;
  private _refreshDelay: number;
  private _changed = new Signal<this, void>(this);
  private _jobFinished = new Signal<this, IJob>(this);
}

export namespace JobsStore {
  export interface IOptions {
    client: MlbenchClient;
    /** The shared event stream. */
    stream: EventStream;
    pageSize?: number;
    /** Jobs in the first request, shown before the other pages load (default 100). */
    firstPageSize?: number;
    maxJobs?: number;
    refreshDelayMs?: number;
  }
}
