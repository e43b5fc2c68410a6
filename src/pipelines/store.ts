/**
 * Live state of the Pipelines section and of one pipeline run view, kept by
 * the shared event stream: the driver's events (`kind: "pipeline"`,
 * `job_id` = the run id) come at every step's change of state.
 */
import { ISignal, Signal } from '@lumino/signaling';

import {
  EventStream,
  IJobEvent,
  IPipelineRun,
  IPipelineRunInfo,
  MlbenchClient,
  errorMessage
} from '../api';

const REFRESH_DELAY_MS = 200;
/** The newest runs, shown while older pages load (as the jobs list does). */
const FIRST_PAGE = 50;
const PAGE = 500;
const MAX_RUNS = 10000;

function newestFirst(a: IPipelineRunInfo, b: IPipelineRunInfo): number {
  return a.created_at === b.created_at
    ? b.id.localeCompare(a.id)
    : a.created_at < b.created_at
      ? 1
      : -1;
}

/**
 * Every pipeline run of the workspace, newest first.
 */
export class PipelinesStore {
  constructor(
    readonly client: MlbenchClient,
    stream: EventStream,
    options: { firstPage?: number; page?: number } = {}
  ) {
    this._stream = stream;
    this._firstPage = options.firstPage ?? FIRST_PAGE;
    this._page = options.page ?? PAGE;
    stream.event.connect(this._onEvent, this);
    stream.reset.connect(this._onReset, this);
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get version(): number {
    return this._version;
  }

  get items(): IPipelineRunInfo[] {
    if (!this._sorted) {
      this._sorted = [...this._runs.values()].sort(newestFirst);
    }
    return this._sorted;
  }

  get loaded(): boolean {
    return this._loaded;
  }

  get error(): string {
    return this._error;
  }

  get(id: string): IPipelineRunInfo | undefined {
    return this._runs.get(id);
  }

  /** Every run, page after page; the first page is shown at once. */
  async reload(): Promise<void> {
    const generation = ++this._generation;
    try {
      const runs = new Map<string, IPipelineRunInfo>();
      let cursor: string | null | undefined = undefined;
      let first = true;
      do {
        const page = await this.client.listPipelines({
          limit: first ? this._firstPage : this._page,
          cursor
        });
        if (generation !== this._generation) {
          return;
        }
        for (const r of page.items) {
          runs.set(r.id, r);
        }
        cursor = page.next_cursor;
        if (first && cursor) {
          for (const r of page.items) {
            this._keepNewer(r);
          }
          this._loaded = true;
          this._emit();
        }
        first = false;
      } while (cursor && runs.size < MAX_RUNS);
      // events that arrived while loading are newer than the pages
      for (const [id, r] of this._runs) {
        const loaded = runs.get(id);
        if (!loaded || loaded.updated_at < r.updated_at) {
          runs.set(id, r);
        }
      }
      this._runs = runs;
      this._error = '';
    } catch (reason) {
      this._error = errorMessage(reason);
    }
    this._loaded = true;
    this._emit();
  }

  /** A run known from a REST answer (e.g. just submitted or rerun). */
  upsert(run: IPipelineRunInfo): void {
    if (this._keepNewer(run)) {
      this._emit();
    }
  }

  dispose(): void {
    clearTimeout(this._timer);
    this._stream.event.disconnect(this._onEvent, this);
    this._stream.reset.disconnect(this._onReset, this);
    Signal.clearData(this);
  }

  private _keepNewer(run: IPipelineRunInfo): boolean {
    const known = this._runs.get(run.id);
    if (known && known.updated_at > run.updated_at) {
      return false;
    }
    this._runs.set(run.id, run);
    return true;
  }

  private _onReset(): void {
    void this.reload();
  }

  private _onEvent(_: EventStream, event: IJobEvent): void {
    if (event.kind !== 'pipeline') {
      return;
    }
    this._pending.add(event.job_id);
    if (this._timer === undefined) {
      this._timer = setTimeout(() => {
        this._timer = undefined;
        const ids = [...this._pending];
        this._pending.clear();
        for (const id of ids) {
          void this.client.getPipeline(id).then(
            r => {
              // the list shows no steps: keep its rows small
              const info: IPipelineRun = { ...r };
              delete info.steps;
              this.upsert(info);
            },
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
  private _firstPage: number;
  private _page: number;
  private _runs = new Map<string, IPipelineRunInfo>();
  private _sorted: IPipelineRunInfo[] | null = null;
  private _pending = new Set<string>();
  private _timer: ReturnType<typeof setTimeout> | undefined;
  private _loaded = false;
  private _error = '';
  private _version = 0;
  private _generation = 0;
  private _changed = new Signal<this, void>(this);
}

/**
 * One pipeline run with its steps, reloaded on the run's events.
 */
export class PipelineViewModel {
  constructor(
    readonly client: MlbenchClient,
    readonly runId: string,
    stream: EventStream
  ) {
    this._stream = stream;
    stream.event.connect(this._onEvent, this);
    stream.reset.connect(this._onReset, this);
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get run(): IPipelineRun | null {
    return this._run;
  }

  get error(): string {
    return this._error;
  }

  /** Increases on every change. */
  get version(): number {
    return this._version;
  }

  /** Set the state directly (tests). */
  setState(run: IPipelineRun): void {
    this._run = run;
    this._emit();
  }

  async load(): Promise<void> {
    if (this._disposed) {
      return;
    }
    if (this._loading) {
      this._again = true;
      return;
    }
    this._loading = true;
    try {
      const run = await this.client.getPipeline(this.runId);
      if (this._disposed) {
        return;
      }
      this._run = run;
      this._error = '';
    } catch (reason) {
      this._error = errorMessage(reason);
    } finally {
      this._loading = false;
    }
    this._emit();
    if (this._again) {
      this._again = false;
      return this.load();
    }
  }

  dispose(): void {
    this._disposed = true;
    clearTimeout(this._eventTimer);
    this._stream.event.disconnect(this._onEvent, this);
    this._stream.reset.disconnect(this._onReset, this);
    Signal.clearData(this);
  }

  private _onReset(): void {
    void this.load();
  }

  private _onEvent(_: EventStream, event: IJobEvent): void {
    if (
      this._disposed ||
      event.kind !== 'pipeline' ||
      event.job_id !== this.runId
    ) {
      return;
    }
    clearTimeout(this._eventTimer);
    this._eventTimer = setTimeout(() => void this.load(), REFRESH_DELAY_MS);
  }

  private _emit(): void {
    if (this._disposed) {
      return;
    }
    this._version += 1;
    this._changed.emit();
  }

  private _run: IPipelineRun | null = null;
  private _error = '';
  private _version = 0;
  private _disposed = false;
  private _loading = false;
  private _again = false;
  private _eventTimer: ReturnType<typeof setTimeout> | undefined;
  private _stream: EventStream;
  private _changed = new Signal<this, void>(this);
}
