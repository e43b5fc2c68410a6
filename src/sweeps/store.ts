/**
 * Live state of the Sweeps section and of one sweep view, kept by the shared
 * event stream: sweep events (`kind: "sweep"`, `job_id` = the sweep id) and
 * the trials' own job status events.
 */
import { ISignal, Signal } from '@lumino/signaling';

import {
  EventStream,
  IJobEvent,
  IMetricSeries,
  ISweep,
  ITrial,
  MlbenchClient,
  errorMessage,
  isSweepFinal
} from '../api';
import { better, goalOf } from './model';
import { sweepRemoved } from './removed';

const REFRESH_DELAY_MS = 200;
/** Objective values and curves move between events while trials run. */
const POLL_MS = 2500;
/** Trials whose curves are drawn (the best ones when there are more). */
export const MAX_CURVES = 200;
const CURVE_POINTS = 300;
const RUNS_PER_REQUEST = 50;

/**
 * Every sweep of the workspace, newest first.
 */
export class SweepsStore {
  constructor(
    readonly client: MlbenchClient,
    stream: EventStream
  ) {
    this._stream = stream;
    stream.event.connect(this._onEvent, this);
    stream.reset.connect(this._onReset, this);
    sweepRemoved.connect(this._onRemoved, this);
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get version(): number {
    return this._version;
  }

  get items(): ISweep[] {
    if (!this._sorted) {
      this._sorted = [...this._sweeps.values()].sort((a, b) =>
        a.created_at === b.created_at
          ? b.id.localeCompare(a.id)
          : a.created_at < b.created_at
            ? 1
            : -1
      );
    }
    return this._sorted;
  }

  get loaded(): boolean {
    return this._loaded;
  }

  get error(): string {
    return this._error;
  }

  get(id: string): ISweep | undefined {
    return this._sweeps.get(id);
  }

  async reload(): Promise<void> {
    const generation = ++this._generation;
    try {
      const sweeps = new Map<string, ISweep>();
      let cursor: string | null | undefined = undefined;
      do {
        const page = await this.client.listSweeps({ limit: 500, cursor });
        for (const s of page.items) {
          sweeps.set(s.id, s);
        }
        cursor = page.next_cursor;
      } while (cursor && sweeps.size < 10000);
      if (generation !== this._generation) {
        return;
      }
      this._sweeps = sweeps;
      this._error = '';
    } catch (reason) {
      this._error = errorMessage(reason);
    }
    this._loaded = true;
    this._emit();
  }

  /** A sweep known from a REST answer (e.g. just submitted). */
  upsert(sweep: ISweep): void {
    const known = this._sweeps.get(sweep.id);
    if (known && known.updated_at > sweep.updated_at) {
      return;
    }
    this._sweeps.set(sweep.id, sweep);
    this._emit();
  }

  remove(id: string): void {
    this._sweeps.delete(id);
    this._emit();
  }

  dispose(): void {
    clearTimeout(this._timer);
    this._stream.event.disconnect(this._onEvent, this);
    this._stream.reset.disconnect(this._onReset, this);
    sweepRemoved.disconnect(this._onRemoved, this);
    Signal.clearData(this);
  }

  private _onRemoved(_: unknown, id: string): void {
    this.remove(id);
  }

  private _onReset(): void {
    void this.reload();
  }

  private _onEvent(_: EventStream, event: IJobEvent): void {
    if (event.kind !== 'sweep') {
      return;
    }
    this._pending.add(event.job_id);
    if (this._timer === undefined) {
      this._timer = setTimeout(() => {
        this._timer = undefined;
        const ids = [...this._pending];
        this._pending.clear();
        for (const id of ids) {
          void this.client.getSweep(id).then(
            s => this.upsert(s),
            () => undefined
          );
        }
      }, REFRESH_DELAY_MS);
    }
  }

  private _emit(): void {
    this._sorted = null;
    this._version += 1;
    this._changed.emit();
  }

  private _stream: EventStream;
  private _sweeps = new Map<string, ISweep>();
  private _sorted: ISweep[] | null = null;
  private _pending = new Set<string>();
  private _timer: ReturnType<typeof setTimeout> | undefined;
  private _loaded = false;
  private _error = '';
  private _version = 0;
  private _generation = 0;
  private _changed = new Signal<this, void>(this);
}

/**
 * One sweep, its trials and the primary metric's curve of each trial.
 */
export class SweepViewModel {
  constructor(
    readonly client: MlbenchClient,
    readonly sweepId: string,
    stream: EventStream
  ) {
    this._stream = stream;
    stream.event.connect(this._onEvent, this);
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get sweep(): ISweep | null {
    return this._sweep;
  }

  get trials(): ITrial[] {
    return this._trials;
  }

  /** Trial index → the primary metric's history. */
  get curves(): Map<number, IMetricSeries> {
    return this._curves;
  }

  get error(): string {
    return this._error;
  }

  /** Increases on every change. */
  get version(): number {
    return this._version;
  }

  /** Set the state directly (tests, benchmarks). */
  setState(sweep: ISweep, trials: ITrial[]): void {
    this._sweep = sweep;
    this._trials = trials;
    this._emit();
  }

  async load(): Promise<void> {
    clearTimeout(this._pollTimer);
    if (this._disposed) {
      return;
    }
    if (this._loading) {
      this._again = true;
      return;
    }
    this._loading = true;
    try {
      const [sweep, trials] = await Promise.all([
        this.client.getSweep(this.sweepId),
        this.client.sweepTrials(this.sweepId)
      ]);
      if (this._disposed) {
        return;
      }
      this._sweep = sweep;
      this._trials = trials.items;
      this._error = '';
      this._emit();
      await this._readCurves();
    } catch (reason) {
      this._error = errorMessage(reason);
      this._emit();
    } finally {
      this._loading = false;
    }
    if (this._again) {
      this._again = false;
      return this.load();
    }
    if (!this._disposed && this._sweep && !isSweepFinal(this._sweep.status)) {
      this._pollTimer = setTimeout(() => void this.load(), POLL_MS);
    }
  }

  dispose(): void {
    this._disposed = true;
    clearTimeout(this._pollTimer);
    clearTimeout(this._eventTimer);
    this._stream.event.disconnect(this._onEvent, this);
    Signal.clearData(this);
  }

  /**
   * The trials whose curves are drawn: all, or the best MAX_CURVES.
   */
  curveTrials(): ITrial[] {
    const sweep = this._sweep;
    if (!sweep || this._trials.length <= MAX_CURVES) {
      return this._trials;
    }
    const goal = goalOf(sweep);
    return [...this._trials]
      .sort((a, b) =>
        better(a.value, b.value, goal)
          ? -1
          : better(b.value, a.value, goal)
            ? 1
            : a.index - b.index
      )
      .slice(0, MAX_CURVES);
  }

  private async _readCurves(): Promise<void> {
    const sweep = this._sweep;
    if (!sweep) {
      return;
    }
    const wanted = this.curveTrials().filter(
      t => t.reports || t.status === 'running'
    );
    // a trial's run id is on its job: read the sweep's jobs once they exist
    if (wanted.some(t => !this._runIds.has(t.job_id))) {
      let cursor: string | null | undefined = undefined;
      do {
        const page = await this.client.listJobs({
          tag: `mlbench.sweep_id=${sweep.id}`,
          limit: 1000,
          cursor
        });
        for (const job of page.items) {
          if (job.mlflow_run_id) {
            this._runIds.set(job.id, job.mlflow_run_id);
          }
        }
        cursor = page.next_cursor;
      } while (cursor);
    }
    // finished trials' curves do not change: read them once
    const toRead = wanted.filter(
      t =>
        this._runIds.has(t.job_id) &&
        !(this._final.has(t.index) && this._curves.has(t.index))
    );
    const byRun = new Map<string, ITrial>();
    for (const t of toRead) {
      byRun.set(this._runIds.get(t.job_id) as string, t);
    }
    const runs = [...byRun.keys()];
    // a new map when curves change: the views memoize on its identity
    const curves = new Map(this._curves);
    for (let i = 0; i < runs.length; i += RUNS_PER_REQUEST) {
      const history = await this.client.metricHistory({
        run_id: runs.slice(i, i + RUNS_PER_REQUEST),
        key: [sweep.spec.objective.primary_metric],
        max_points: CURVE_POINTS
      });
      for (const series of history.series) {
        const trial = byRun.get(series.run_id);
        if (trial) {
          curves.set(trial.index, series);
          if (
            trial.status !== 'running' &&
            trial.status !== 'queued' &&
            trial.status !== 'starting'
          ) {
            this._final.add(trial.index);
          }
        }
      }
    }
    if (runs.length) {
      this._curves = curves;
      this._emit();
    }
  }

  private _onEvent(_: EventStream, event: IJobEvent): void {
    const mine =
      event.job_id === this.sweepId ||
      (event.kind === 'status' &&
        this._trials.some(t => t.job_id === event.job_id));
    if (!mine || this._disposed) {
      return;
    }
    clearTimeout(this._eventTimer);
    this._eventTimer = setTimeout(() => void this.load(), REFRESH_DELAY_MS);
  }

  private _emit(): void {
    this._version += 1;
    this._changed.emit();
  }

  private _sweep: ISweep | null = null;
  private _trials: ITrial[] = [];
  private _curves = new Map<number, IMetricSeries>();
  private _final = new Set<number>();
  private _runIds = new Map<string, string>();
  private _error = '';
  private _version = 0;
  private _disposed = false;
  private _loading = false;
  private _again = false;
  private _pollTimer: ReturnType<typeof setTimeout> | undefined;
  private _eventTimer: ReturnType<typeof setTimeout> | undefined;
  private _stream: EventStream;
  private _changed = new Signal<this, void>(this);
}
