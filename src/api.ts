/**
 * The one typed client of the mlbench REST API (`{baseUrl}mlbench/api/v1`).
 *
 * The interfaces mirror the server's pydantic models one-to-one (see
 * mlbench/server/models.py and mlbench/server/openapi.json): field names are
 * kept in snake_case so a body travels without translation. Every failed call
 * rejects with `MlbenchAPIError` (`code`, `message`, `details`, `hint`), or
 * with `ServerConnection.NetworkError` when the server cannot be reached.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { API_NAMESPACE, MlbenchAPIError, requestAPI } from './request';

export { MlbenchAPIError } from './request';

// -- common ---------------------------------------------------------------------------------

/**
 * The error body of every failed call.
 */
export interface IErrorBody {
  code: string;
  message: string;
  hint?: string | null;
  details?: { [key: string]: unknown };
}

/**
 * One problem of a `validation_error` (`details.errors[]`).
 */
export interface IValidationProblem {
  field?: string;
  message: string;
  type?: string;
}

export interface IHealth {
  status: 'ok';
  version: string;
  workspace: string;
  /** The MLflow server runs link to, when tracking goes to one. */
  mlflow_ui_url: string | null;
}

/**
 * A page of a list endpoint: pass `next_cursor` as `cursor` for the next one.
 */
export interface IPage<T> {
  items: T[];
  next_cursor?: string | null;
}

// -- compute --------------------------------------------------------------------------------

export interface ICapacity {
  cpus: number;
  memory_mb?: number | null;
  gpu_ids?: string[];
  max_concurrent_jobs: number;
}

export interface IComputeTarget {
  name: string;
  kind: string;
  description?: string;
  config: { [key: string]: unknown };
  capacity: ICapacity;
  created_at: string;
  updated_at: string;
}

export interface IComputeStatus {
  target: IComputeTarget;
  /** The live agent, if one runs (pid, heartbeat...). */
  agent?: { [key: string]: unknown } | null;
  queued?: number;
  running?: number;
  gpu_ids_in_use?: string[];
  cpus_in_use?: number;
}

export interface IComputeList {
  items: IComputeStatus[];
}

export interface IComputeKind {
  kind: string;
  description: string;
  /** JSON schema of the kind's settings (for forms). */
  config_schema: { [key: string]: unknown };
}

export interface IComputeKindList {
  items: IComputeKind[];
}

export interface ICreateCompute {
  name: string;
  kind?: string;
  description?: string;
  config?: { [key: string]: unknown };
}

export interface IUpdateCompute {
  description?: string | null;
  /** Settings to change; `null` resets one to its default. */
  config?: { [key: string]: unknown };
}

// -- kernels and notebooks ------------------------------------------------------------------

export interface IKernelSpecInfo {
  name: string;
  display_name: string;
  language: string;
}

export interface IKernelList {
  items: IKernelSpecInfo[];
  default?: string | null;
}

/**
 * The types a notebook parameter can have.
 */
export type ParameterType =
  'int' | 'float' | 'str' | 'bool' | 'list' | 'dict' | 'any';

export interface INotebookParameter {
  name: string;
  /** `int`, `float`, `str`, `bool`, `list`, `dict` or `any`. */
  type: ParameterType | string;
  nullable?: boolean;
  annotation?: string | null;
  default?: unknown;
  default_source?: string;
  help?: string;
}

export interface INotebookParameters {
  path: string;
  kernel_name?: string | null;
  has_parameters_cell: boolean;
  parameters: INotebookParameter[];
}

// -- jobs -----------------------------------------------------------------------------------

export type JobStatus =
  | 'queued'
  | 'starting'
  | 'running'
  | 'completed'
  | 'failed'
  | 'canceled'
  | 'timed_out';

export const JOB_STATUSES: readonly JobStatus[] = [
  'queued',
  'starting',
  'running',
  'completed',
  'failed',
  'canceled',
  'timed_out'
];

/**
 * States a job never leaves.
 */
export const FINAL_STATUSES: readonly JobStatus[] = [
  'completed',
  'failed',
  'canceled',
  'timed_out'
];

export function isFinal(status: JobStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

/**
 * What a submission asks for (`memory` in MiB or a size such as `"4GB"`).
 */
export interface IResources {
  cpus?: number | null;
  gpus?: number | null;
  memory?: number | string | null;
}

/**
 * What a job was given.
 */
export interface IJobResources {
  cpus?: number;
  gpus?: number;
  memory_mb?: number | null;
}

export interface IJobError {
  kind: string;
  message: string;
  cell_index?: number | null;
  execution_count?: number | null;
  cell_source?: string | null;
  ename?: string | null;
  evalue?: string | null;
  traceback?: string[];
}

export interface IJobProgress {
  cell_index?: number | null;
  cell_count?: number | null;
  cell_source?: string | null;
  cell_started_at?: string | null;
  elapsed_s?: number | null;
}

export interface IJob {
  id: string;
  display_name: string;
  experiment: string;
  compute: string;
  kernel_name: string;
  notebook_path: string;
  cwd: string;
  parameters: { [key: string]: unknown };
  resources: IJobResources;
  timeout_s: number | null;
  max_retries: number;
  attempt: number;
  tags: { [key: string]: string };
  owner: string;
  rerun_of: string | null;
  status: JobStatus;
  status_reason: string;
  cancel_requested: boolean;
  error: IJobError | null;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
  gpu_ids: string[];
  mlflow_experiment_id: string | null;
  mlflow_run_id: string | null;
  progress: IJobProgress;
  /** Data asset versions the job reads. */
  inputs?: IJobInput[];
  /** Data assets the job writes (version and ref set once registered). */
  outputs?: IJobOutput[];
  /** `notebook_path` relative to the server root (null when outside it). */
  notebook_relpath?: string | null;
}

/**
 * A data version a job reads, passed as the local path in parameter `name`.
 */
export interface IJobInput {
  name: string;
  asset: string;
  version: number;
  ref: string;
  kind: DataKind;
}

/**
 * What a job writes to the path in parameter `name`, registered on completion.
 */
export interface IJobOutput {
  name: string;
  asset: string;
  kind?: DataKind;
  datastore?: string | null;
  format?: string | null;
  filename?: string | null;
  description?: string;
  version?: number | null;
  ref?: string | null;
}

export type IJobPage = IPage<IJob>;

export interface ISubmitJob {
  notebook_path: string;
  parameters?: { [key: string]: unknown };
  compute?: string;
  kernel_name?: string | null;
  resources?: IResources;
  timeout_s?: number | null;
  max_retries?: number;
  tags?: { [key: string]: string };
  experiment?: string | null;
  display_name?: string | null;
  cwd?: string | null;
  allow_unknown_params?: boolean;
  /** Parameter name -> data version (`data:NAME:VERSION`, `NAME` or `NAME@latest`). */
  inputs?: { [parameter: string]: string };
  /** Parameter name -> data asset (`data:NAME[,kind=...][,format=...][,datastore=...]`). */
  outputs?: { [parameter: string]: string };
}

export interface IRerunJob {
  /** Merged over the original job's parameters. */
  parameters?: { [key: string]: unknown };
  compute?: string | null;
  kernel_name?: string | null;
  resources?: IResources;
  timeout_s?: number | null;
  max_retries?: number | null;
  tags?: { [key: string]: string } | null;
  experiment?: string | null;
  display_name?: string | null;
}

export interface IListJobsQuery {
  status?: JobStatus[];
  experiment?: string | null;
  compute?: string | null;
  /** `KEY` or `KEY=VALUE`. */
  tag?: string | null;
  text?: string | null;
  sort?: '-created_at' | 'created_at';
  limit?: number;
  cursor?: string | null;
}

export interface IDeleteJobsResult {
  deleted: string[];
}

export interface ILogsQuery {
  offset?: number;
  tail?: number | null;
  max_bytes?: number;
}

export interface IJobLogs {
  job_id: string;
  text: string;
  /** Pass as `offset` to read what comes next. */
  offset: number;
  status: JobStatus;
}

export interface IProgress {
  job_id: string;
  status: JobStatus;
  status_reason: string;
  /** Cells done / cells. */
  fraction: number;
  progress: IJobProgress;
}

export interface ICopyOutput {
  path?: string | null;
  overwrite?: boolean;
}

export interface IOutputCopied {
  /** Where the output notebook now is, relative to the server root. */
  path: string;
}

// -- events ---------------------------------------------------------------------------------

export interface IJobEvent {
  id: number;
  job_id: string;
  /** `status` (data.status, data.reason...) or `progress` (data.cell_index...). */
  kind: 'status' | 'progress' | string;
  data: { [key: string]: unknown };
  created_at: string;
}

export interface IEventPage {
  items: IJobEvent[];
  last_event_id: number;
}

export interface IEventsQuery {
  after?: number;
  job_id?: string | null;
  limit?: number;
}

export interface IStreamHello {
  type: 'hello';
  last_event_id: number;
  after: number | null;
}

export interface IStreamEvent extends IJobEvent {
  type: 'event';
}

export interface IStreamOverflow {
  type: 'overflow';
  last_event_id: number;
}

export interface IStreamPong {
  type: 'pong';
}

export type StreamMessage =
  IStreamHello | IStreamEvent | IStreamOverflow | IStreamPong;

// -- experiments and runs -------------------------------------------------------------------

export interface IExperimentSummary {
  experiment_id: string;
  name: string;
  artifact_location: string;
  lifecycle_stage: string;
  tags: { [key: string]: string };
  created_at: string | null;
  updated_at: string | null;
}

export type IExperimentPage = IPage<IExperimentSummary>;

export interface IListExperimentsQuery {
  text?: string | null;
  limit?: number;
  cursor?: string | null;
}

export interface IRunSummary {
  run_id: string;
  run_name: string;
  experiment_id: string;
  /** RUNNING, FINISHED, FAILED or KILLED. */
  status: string;
  started_at: string | null;
  ended_at: string | null;
  artifact_uri: string;
  job_id?: string | null;
  attempt?: number | null;
  params: { [key: string]: string };
  /** Latest values; NaN and infinities travel as null. */
  metrics: { [key: string]: number | null };
  tags: { [key: string]: string };
}

export type IRunPage = IPage<IRunSummary>;

export interface IListRunsQuery {
  status?: string | null;
  job_id?: string | null;
  /** MLflow search filter, e.g. `metrics.loss < 0.1`. */
  filter?: string | null;
  /** start_time, end_time, run_name, status, metrics.KEY, params.KEY or tags.KEY. */
  sort?: string;
  order?: 'asc' | 'desc';
  limit?: number;
  cursor?: string | null;
}

/**
 * One metric of one run, columnar: equal-length `steps`, `values`, `timestamps`.
 */
export interface IMetricSeries {
  run_id: string;
  key: string;
  steps: number[];
  values: (number | null)[];
  timestamps: number[];
  total_points: number;
  downsampled: boolean;
}

export interface IMetricHistory {
  series: IMetricSeries[];
  max_points: number;
}

export interface IMetricHistoryQuery {
  run_id: string[];
  /** None: every metric of each run. */
  key?: string[];
  max_points?: number;
}

export interface IParamComparison {
  key: string;
  values: { [runId: string]: string | null };
  differs: boolean;
}

export interface IMetricComparison {
  key: string;
  values: { [runId: string]: number | null };
  min_run_id?: string | null;
  max_run_id?: string | null;
}

export interface IRunComparison {
  runs: IRunSummary[];
  params: IParamComparison[];
  metrics: IMetricComparison[];
}

// -- data -----------------------------------------------------------------------------------

export type DataKind = 'file' | 'folder' | 'table';

export interface IDatastoreInfo {
  name: string;
  kind: string;
  description?: string;
  /** Settings of the kind; credentials are never returned. */
  config: { [key: string]: unknown };
  /** Names of the stored credentials, never their values. */
  credentials?: string[];
  read_only?: boolean;
  is_default?: boolean;
  uri: string;
  created_at: string;
  updated_at: string;
}

export interface IColumnInfo {
  name: string;
  type: string;
  nullable?: boolean;
}

export interface IDataVersionInfo {
  id: string;
  name: string;
  version: number;
  /** `name:version` */
  ref: string;
  kind: DataKind;
  format?: string | null;
  datastore: string;
  path: string;
  uri: string;
  stored: 'upload' | 'reference';
  filename?: string | null;
  content_hash: string;
  hash_algorithm?: 'blake3';
  size_bytes: number;
  file_count: number;
  columns?: IColumnInfo[] | null;
  row_count?: number | null;
  description?: string;
  tags?: { [key: string]: string };
  source?: string;
  created_by?: string;
  created_at: string;
  job_id?: string | null;
  archived?: boolean;
}

export type IDataVersionPage = IPage<IDataVersionInfo>;

export interface IListDataQuery {
  text?: string | null;
  limit?: number;
  cursor?: string | null;
}

// -- data: preview and lineage (added with the Data section; mlbench/data/models.py) ----------

export interface IFileEntry {
  path: string;
  size: number;
  hash: string;
}

export interface IDataPreview {
  ref: string;
  kind: DataKind;
  columns?: IColumnInfo[] | null;
  /** Tables: the first rows. */
  rows?: { [column: string]: unknown }[] | null;
  row_count?: number | null;
  /** Files and folders: the files. */
  files?: IFileEntry[] | null;
  file_count: number;
  truncated: boolean;
}

export interface ILineageNode {
  /** `data:NAME:VERSION` or `job:ID` */
  id: string;
  type: 'data' | 'job';
  label: string;
  name?: string | null;
  version?: number | null;
  job_id?: string | null;
  /** Jobs: their status, or 'deleted'. */
  status?: string | null;
  archived?: boolean | null;
}

export interface ILineageEdge {
  source: string;
  target: string;
  /** The job's input or output name. */
  binding: string;
  direction: 'input' | 'output';
}

export interface ILineageGraph {
  root: string;
  nodes: ILineageNode[];
  edges: ILineageEdge[];
  /** The depth limit cut the graph. */
  truncated?: boolean;
}

// -- the client -----------------------------------------------------------------------------

type QueryValue = string | number | boolean | null | undefined | string[];

/**
 * A query string from an object: `undefined`/`null` are left out, arrays are
 * repeated (`status=a&status=b`), as the server expects.
 */
export function queryString(query: { [key: string]: QueryValue }): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null) {
      continue;
    }
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(String(v))}`);
    }
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}

function json(method: string, body?: unknown): RequestInit {
  return body === undefined
    ? { method }
    : {
        method,
        body: JSON.stringify(body),
        headers: { 'Content-Type': 'application/json' }
      };
}

/**
 * The mlbench REST client: one method per route.
 */
export class MlbenchClient {
  constructor(
    readonly serverSettings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  private _get<T>(path: string, query: { [key: string]: QueryValue } = {}) {
    return requestAPI<T>(
      path + queryString(query),
      { method: 'GET' },
      this.serverSettings
    );
  }

  private _send<T>(method: string, path: string, body?: unknown) {
    return requestAPI<T>(path, json(method, body), this.serverSettings);
  }

  health(): Promise<IHealth> {
    return this._get('health');
  }

  // compute
  listCompute(): Promise<IComputeList> {
    return this._get('compute');
  }
  getCompute(name: string): Promise<IComputeStatus> {
    return this._get(`compute/${enc(name)}`);
  }
  createCompute(body: ICreateCompute): Promise<IComputeStatus> {
    return this._send('POST', 'compute', body);
  }
  updateCompute(name: string, body: IUpdateCompute): Promise<IComputeStatus> {
    return this._send('PATCH', `compute/${enc(name)}`, body);
  }
  async deleteCompute(name: string): Promise<void> {
    await this._send('DELETE', `compute/${enc(name)}`);
  }
  listComputeKinds(): Promise<IComputeKindList> {
    return this._get('compute-kinds');
  }

  // kernels and notebooks
  listKernels(): Promise<IKernelList> {
    return this._get('kernels');
  }
  notebookParameters(path: string): Promise<INotebookParameters> {
    return this._get('notebooks/parameters', { path });
  }

  // jobs
  listJobs(query: IListJobsQuery = {}): Promise<IJobPage> {
    return this._get('jobs', { ...query });
  }
  getJob(id: string): Promise<IJob> {
    return this._get(`jobs/${enc(id)}`);
  }
  submitJob(body: ISubmitJob): Promise<IJob> {
    return this._send('POST', 'jobs', body);
  }
  cancelJob(id: string): Promise<IJob> {
    return this._send('POST', `jobs/${enc(id)}/cancel`);
  }
  rerunJob(id: string, body: IRerunJob = {}): Promise<IJob> {
    return this._send('POST', `jobs/${enc(id)}/rerun`, body);
  }
  /** The parameters of the job's notebook snapshot: what a rerun runs. */
  jobParameters(id: string): Promise<INotebookParameters> {
    return this._get(`jobs/${enc(id)}/parameters`);
  }
  async deleteJob(id: string, deleteRun = true): Promise<void> {
    await this._send(
      'DELETE',
      `jobs/${enc(id)}` + queryString({ delete_run: deleteRun })
    );
  }
  deleteJobs(ids: string[], deleteRuns = true): Promise<IDeleteJobsResult> {
    return this._send('POST', 'jobs/delete', { ids, delete_runs: deleteRuns });
  }
  jobLogs(id: string, query: ILogsQuery = {}): Promise<IJobLogs> {
    return this._get(`jobs/${enc(id)}/logs`, { ...query });
  }
  jobProgress(id: string): Promise<IProgress> {
    return this._get(`jobs/${enc(id)}/progress`);
  }
  jobEvents(
    id: string,
    query: { after?: number; limit?: number } = {}
  ): Promise<IEventPage> {
    return this._get(`jobs/${enc(id)}/events`, query);
  }
  /** The executed notebook as nbformat JSON (404 before it exists). */
  jobOutput(id: string): Promise<{ [key: string]: unknown }> {
    return this._get(`jobs/${enc(id)}/output`);
  }
  /** Copy the output notebook into the user's tree; returns its path. */
  copyJobOutput(id: string, body: ICopyOutput = {}): Promise<IOutputCopied> {
    return this._send('POST', `jobs/${enc(id)}/output`, body);
  }

  // events
  listEvents(query: IEventsQuery = {}): Promise<IEventPage> {
    return this._get('events', { ...query });
  }
  /**
   * The WebSocket URL of the live event stream (token appended when the
   * server settings say so, as JupyterLab does for kernels).
   */
  eventStreamUrl(after?: number | null, jobIds: string[] = []): string {
    const settings = this.serverSettings;
    const query: { [key: string]: QueryValue } = {
      after: after ?? undefined,
      job_id: jobIds.length ? jobIds : undefined
    };
    if (settings.appendToken && settings.token) {
      query.token = settings.token;
    }
    return (
      URLExt.join(settings.wsUrl, ...API_NAMESPACE, 'events/stream') +
      queryString(query)
    );
  }
  /** Open the live event stream (reconnects and resumes by itself). */
  connectEvents(options: EventStream.IOptions = {}): EventStream {
    return new EventStream(this, options);
  }

  // experiments and runs
  listExperiments(query: IListExperimentsQuery = {}): Promise<IExperimentPage> {
    return this._get('experiments', { ...query });
  }
  getExperiment(id: string): Promise<IExperimentSummary> {
    return this._get(`experiments/${enc(id)}`);
  }
  listRuns(
    experimentId: string,
    query: IListRunsQuery = {}
  ): Promise<IRunPage> {
    return this._get(`experiments/${enc(experimentId)}/runs`, { ...query });
  }
  getRun(runId: string): Promise<IRunSummary> {
    return this._get(`runs/${enc(runId)}`);
  }
  metricHistory(query: IMetricHistoryQuery): Promise<IMetricHistory> {
    return this._get('runs/metric-history', { ...query });
  }
  compareRuns(runIds: string[]): Promise<IRunComparison> {
    return this._get('runs/compare', { run_id: runIds });
  }

  // data
  listDatastores(): Promise<IPage<IDatastoreInfo>> {
    return this._get('datastores');
  }
  getDatastore(name: string): Promise<IDatastoreInfo> {
    return this._get(`datastores/${enc(name)}`);
  }
  /** Data assets, the latest version of each. */
  listData(query: IListDataQuery = {}): Promise<IDataVersionPage> {
    return this._get('data', { ...query });
  }
  /** A data asset's versions. */
  listDataVersions(name: string): Promise<IDataVersionPage> {
    return this._get(`data/${enc(name)}`);
  }
  getDataVersion(name: string, version: number): Promise<IDataVersionInfo> {
    return this._get(`data/${enc(name)}/versions/${version}`);
  }

  // data: preview and lineage (added with the Data section) -------------------------------
  /** The first rows of a table version, or the files of a file/folder one. */
  dataPreview(
    name: string,
    version: number,
    limit?: number
  ): Promise<IDataPreview> {
    return this._get(`data/${enc(name)}/versions/${version}/preview`, {
      limit
    });
  }
  /** The jobs and versions a version came from and went into. */
  dataLineage(
    name: string,
    version: number,
    depth?: number
  ): Promise<ILineageGraph> {
    return this._get(`data/${enc(name)}/versions/${version}/lineage`, {
      depth
    });
  }
}

// -- the event stream -----------------------------------------------------------------------

/**
 * The live job-event WebSocket. It resumes after a disconnect from the last
 * event id seen (`?after=`), so no event is lost or seen twice; after an
 * `overflow` it emits `reset` so that its users reload over REST.
 */
export class EventStream {
  constructor(client: MlbenchClient, options: EventStream.IOptions = {}) {
    this._client = client;
    this._jobIds = options.jobIds ?? [];
    this._lastId = options.after ?? null;
    this._maxDelay = options.maxReconnectDelayMs ?? 10000;
    this._connect();
  }

  /** Each job event, in increasing id. */
  get event(): ISignal<this, IJobEvent> {
    return this._event;
  }

  /** Connected (true) or lost (false). */
  get connectionChanged(): ISignal<this, boolean> {
    return this._connectionChanged;
  }

  /** Events may have been missed (overflow): reload state over REST. */
  get reset(): ISignal<this, void> {
    return this._reset;
  }

  get connected(): boolean {
    return this._connected;
  }

  /** The last event id seen (the resume point). */
  get lastEventId(): number | null {
    return this._lastId;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    clearTimeout(this._timer);
    clearInterval(this._ping);
    const ws = this._ws;
    this._ws = null;
    if (ws) {
      ws.onclose = null;
      ws.close();
    }
    Signal.clearData(this);
  }

  private _connect(): void {
    if (this._disposed) {
      return;
    }
    const settings = this._client.serverSettings;
    const ws = new settings.WebSocket(
      this._client.eventStreamUrl(this._lastId, this._jobIds)
    );
    this._ws = ws;
    ws.onmessage = (msg: MessageEvent) => this._onMessage(msg);
    ws.onclose = () => this._onClose();
    ws.onopen = () => {
      this._attempts = 0;
      // keeps proxies from closing an idle connection
      this._ping = setInterval(() => {
        if (ws.readyState === 1) {
          ws.send(JSON.stringify({ type: 'ping' }));
        }
      }, 30000);
    };
  }

  private _onMessage(msg: MessageEvent): void {
    let data: StreamMessage;
    try {
      data = JSON.parse(String(msg.data)) as StreamMessage;
    } catch {
      return;
    }
    switch (data.type) {
      case 'hello':
        if (this._lastId === null) {
          this._lastId = data.last_event_id;
        }
        this._setConnected(true);
        break;
      case 'event': {
        if (this._lastId !== null && data.id <= this._lastId) {
          return;
        }
        this._lastId = data.id;
        this._event.emit({
          id: data.id,
          job_id: data.job_id,
          kind: data.kind,
          data: data.data,
          created_at: data.created_at
        });
        break;
      }
      case 'overflow':
        this._lastId = data.last_event_id;
        this._reset.emit();
        break;
    }
  }

  private _onClose(): void {
    clearInterval(this._ping);
    this._ws = null;
    this._setConnected(false);
    if (this._disposed) {
      return;
    }
    const delay = Math.min(this._maxDelay, 250 * 2 ** this._attempts);
    this._attempts += 1;
    this._timer = setTimeout(() => this._connect(), delay);
  }

  private _setConnected(value: boolean): void {
    if (this._connected !== value) {
      this._connected = value;
      this._connectionChanged.emit(value);
    }
  }

  private _client: MlbenchClient;
  private _jobIds: string[];
  private _lastId: number | null;
  private _maxDelay: number;
  private _ws: WebSocket | null = null;
  private _attempts = 0;
  private _connected = false;
  private _disposed = false;
  private _timer: ReturnType<typeof setTimeout> | undefined;
  private _ping: ReturnType<typeof setInterval> | undefined;
  private _event = new Signal<this, IJobEvent>(this);
  private _connectionChanged = new Signal<this, boolean>(this);
  private _reset = new Signal<this, void>(this);
}

export namespace EventStream {
  export interface IOptions {
    /** Replay events after this id first (default: only new ones). */
    after?: number | null;
    /** Only these jobs' events. */
    jobIds?: string[];
    maxReconnectDelayMs?: number;
  }
}

/**
 * A one-line message for any error a client call can reject with.
 */
export function errorMessage(error: unknown): string {
  if (error instanceof MlbenchAPIError) {
    // the message of a validation error often lists the problems already
    const missing = validationProblems(error)
      .map(p => (p.field ? `${p.field}: ` : '') + p.message)
      .filter(text => !error.message.includes(text));
    return [error.message, ...missing].join('; ');
  }
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}

/**
 * The `details.errors[]` of a validation error (empty for other errors).
 */
export function validationProblems(error: unknown): IValidationProblem[] {
  if (!(error instanceof MlbenchAPIError)) {
    return [];
  }
  const details = error.details as { errors?: unknown } | undefined;
  if (!details || !Array.isArray(details.errors)) {
    return [];
  }
  return details.errors.map(e =>
    typeof e === 'string' ? { message: e } : (e as IValidationProblem)
  );
}
