/**
 * The one typed client of the mlbench REST API (`{baseUrl}mlbench/api/v1`).
 *
 * The types are the server's own: aliases of `src/api-types.ts`, which
 * `jlpm build:api-types` generates from mlbench/server/openapi.json (itself
 * generated from the pydantic models); `jlpm check:api-types`, part of
 * `jlpm lint:check`, fails when it is stale. Field names stay snake_case so a
 * body travels without translation. Every failed call rejects with
 * `MlbenchAPIError` (`code`, `message`, `details`, `hint`), or with
 * `ServerConnection.NetworkError` when the server cannot be reached.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import type { components, paths } from './api-types';
import { API_NAMESPACE, MlbenchAPIError, requestAPI } from './request';

export { MlbenchAPIError } from './request';

// -- from the OpenAPI document --------------------------------------------------------------

/**
 * The document's schemas (`components.schemas`), by model name.
 */
export type Schemas = components['schemas'];

type Operation<P extends keyof paths, M extends keyof paths[P]> = paths[P][M];

/**
 * The JSON body of an operation, e.g. `RequestBody<'/jobs', 'post'>`: named by
 * the route, so a model renamed on the server changes nothing here.
 */
export type RequestBody<P extends keyof paths, M extends keyof paths[P]> =
  Operation<P, M> extends {
    requestBody?: { content: { 'application/json': infer B } };
  }
    ? B
    : never;

/**
 * The query parameters of an operation, e.g. `Query<'/jobs', 'get'>`.
 */
export type Query<P extends keyof paths, M extends keyof paths[P]> =
  Operation<P, M> extends { parameters: { query?: infer Q } }
    ? NonNullable<Q>
    : never;

// -- common ---------------------------------------------------------------------------------

/**
 * The error body of every failed call.
 */
export type IErrorBody = Schemas['ErrorBody'];

/**
 * One problem of a `validation_error` (`details.errors[]`; the document
 * leaves `details` open, so this shape is written here).
 */
export interface IValidationProblem {
  field?: string;
  message: string;
  type?: string;
}

export type IHealth = Schemas['Health'];

/**
 * A page of a list endpoint: pass `next_cursor` as `cursor` for the next one.
 * Every `*Page` schema has this shape.
 */
export interface IPage<T> {
  items: T[];
  next_cursor?: string | null;
}

// -- compute --------------------------------------------------------------------------------

export type ICapacity = Schemas['Capacity'];
export type IComputeTarget = Schemas['ComputeTarget'];
export type IComputeStatus = Schemas['ComputeStatus'];
export type IComputeList = Schemas['ComputeList'];
export type IComputeKind = Schemas['ComputeKind'];
export type IComputeKindList = Schemas['ComputeKindList'];
export type ICreateCompute = RequestBody<'/compute', 'post'>;
export type IUpdateCompute = RequestBody<'/compute/{name}', 'patch'>;

// -- kernels and notebooks ------------------------------------------------------------------

export type IKernelSpecInfo = Schemas['KernelSpecInfo'];
export type IKernelList = Schemas['KernelList'];

/**
 * The types the form knows for a notebook parameter (the server's
 * `NotebookParameter.type` is a plain string; anything else reads as `any`).
 */
export type ParameterType =
  'int' | 'float' | 'str' | 'bool' | 'list' | 'dict' | 'any';

export type INotebookParameter = Schemas['NotebookParameter'];
export type INotebookParameters = Schemas['NotebookParameters'];
export type INotebookPathQuery = Query<'/notebooks/parameters', 'get'>;

// -- jobs -----------------------------------------------------------------------------------

export type JobStatus = Schemas['JobStatus'];

// Keyed by every status, so a status the server adds fails to compile here.
const STATUS_ORDER: { [status in JobStatus]: null } = {
  queued: null,
  starting: null,
  running: null,
  completed: null,
  failed: null,
  canceled: null,
  timed_out: null,
  early_terminated: null
};

/**
 * Every job status, in the order a job goes through them.
 */
export const JOB_STATUSES: readonly JobStatus[] = Object.keys(
  STATUS_ORDER
) as JobStatus[];

/**
 * States a job never leaves.
 */
export const FINAL_STATUSES: readonly JobStatus[] = [
  'completed',
  'failed',
  'canceled',
  'timed_out',
  'early_terminated'
];

export function isFinal(status: JobStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

/**
 * What a submission asks for (`memory` in MiB or a size such as `"4GB"`).
 */
export type IResources = NonNullable<ISubmitJob['resources']>;

/**
 * What a job was given.
 */
export type IJobResources = Schemas['JobResources'];
export type IJobError = Schemas['JobError'];
export type IJobProgress = Schemas['JobProgress'];
export type IJob = Schemas['Job'];

/**
 * A data version a job reads, passed as the local path in parameter `name`.
 */
export type IJobInput = Schemas['JobInput'];

/**
 * What a job writes to the path in parameter `name`, registered on completion.
 */
export type IJobOutput = Schemas['JobOutput'];
export type IJobPage = Schemas['JobPage'];

/**
 * The body that submits a job.
 */
export type ISubmitJob = RequestBody<'/jobs', 'post'>;
export type IRerunJob = RequestBody<'/jobs/{job_id}/rerun', 'post'>;
export type IListJobsQuery = Query<'/jobs', 'get'>;
export type IDeleteJobs = RequestBody<'/jobs/delete', 'post'>;
export type IDeleteJobsResult = Schemas['DeleteJobsResult'];
export type IDeleteJobQuery = Query<'/jobs/{job_id}', 'delete'>;
export type ILogsQuery = Query<'/jobs/{job_id}/logs', 'get'>;
export type IJobLogs = Schemas['JobLogs'];
export type IProgress = Schemas['Progress'];
export type ICopyOutput = RequestBody<'/jobs/{job_id}/output', 'post'>;
export type IOutputCopied = Schemas['OutputCopied'];

// -- events ---------------------------------------------------------------------------------

export type IJobEvent = Schemas['JobEvent'];
export type IEventPage = Schemas['EventPage'];
export type IEventsQuery = Query<'/events', 'get'>;
export type IJobEventsQuery = Query<'/jobs/{job_id}/events', 'get'>;
export type IStreamHello = Schemas['StreamHello'];
export type IStreamEvent = Schemas['StreamEvent'];
export type IStreamOverflow = Schemas['StreamOverflow'];
export type IStreamPong = Schemas['StreamPong'];

/**
 * What the event stream's server sends.
 */
export type StreamMessage =
  IStreamHello | IStreamEvent | IStreamOverflow | IStreamPong;

// -- experiments and runs -------------------------------------------------------------------

export type IExperimentSummary = Schemas['ExperimentSummary'];
export type IExperimentPage = Schemas['ExperimentPage'];
export type IListExperimentsQuery = Query<'/experiments', 'get'>;
export type IRunSummary = Schemas['RunSummary'];
export type IRunPage = Schemas['RunPage'];
export type IListRunsQuery = Query<'/experiments/{experiment_id}/runs', 'get'>;

/**
 * One metric of one run, columnar: equal-length `steps`, `values`, `timestamps`.
 */
export type IMetricSeries = Schemas['MetricSeries'];
export type IMetricHistory = Schemas['MetricHistory'];
export type IMetricHistoryQuery = Query<'/runs/metric-history', 'get'>;
export type ICompareRunsQuery = Query<'/runs/compare', 'get'>;
export type IParamComparison = Schemas['ParamComparison'];
export type IMetricComparison = Schemas['MetricComparison'];
export type IRunComparison = Schemas['RunComparison'];

// -- data -----------------------------------------------------------------------------------

export type DataKind = Schemas['DataKind'];
export type IDatastoreInfo = Schemas['DatastoreInfo'];
export type IDatastorePage = Schemas['DatastorePage'];
export type IColumnInfo = Schemas['ColumnInfo'];
export type IDataVersionInfo = Schemas['DataVersionInfo'];
export type IDataVersionPage = Schemas['DataVersionPage'];
export type IListDataQuery = Query<'/data', 'get'>;
export type IListVersionsQuery = Query<'/data/{name}', 'get'>;
export type IFileEntry = Schemas['FileEntry'];
export type IDataPreview = Schemas['DataPreview'];
export type IDataPreviewQuery = Query<
  '/data/{name}/versions/{version}/preview',
  'get'
>;
export type ILineageNode = Schemas['LineageNode'];
export type ILineageEdge = Schemas['LineageEdge'];
export type ILineageGraph = Schemas['LineageGraph'];
export type ILineageQuery = Query<
  '/data/{name}/versions/{version}/lineage',
  'get'
>;

// -- environments ---------------------------------------------------------------------------

export type EnvironmentStatus = Schemas['EnvironmentStatus'];
export type IEnvironmentInfo = Schemas['EnvironmentInfo'];
export type IEnvironmentPage = Schemas['EnvironmentPage'];
export type IEnvironmentLog = Schemas['EnvironmentLog'];
export type IEnvironmentLogQuery = Query<
  '/environments/{name}/versions/{version}/log',
  'get'
>;
export type ICreateEnvironment = RequestBody<'/environments', 'post'>;

// -- schedules ------------------------------------------------------------------------------

export type ISchedule = Schemas['ScheduleInfo'];
export type IScheduleList = Schemas['ScheduleList'];
export type IScheduleRun = Schemas['ScheduleRunInfo'];
export type IScheduleRunList = Schemas['ScheduleRunList'];
export type IScheduleRunsQuery = Query<'/schedules/{ref}/runs', 'get'>;
export type ICreateSchedule = RequestBody<'/schedules', 'post'>;
export type INotificationRule = Schemas['NotificationInfo'];
export type INotificationList = Schemas['NotificationList'];
export type IAddNotification = RequestBody<'/notifications', 'post'>;
export type IDelivery = Schemas['DeliveryInfo'];
export type IDeliveryList = Schemas['DeliveryList'];

// -- sweeps ---------------------------------------------------------------------------------

export type SweepStatus = Schemas['SweepStatus'];
export type ISweep = Schemas['Sweep'];
export type ISweepList = Schemas['SweepList'];
export type ITrial = Schemas['TrialInfo'];
export type ITrialList = Schemas['TrialList'];
export type ITermination = Schemas['Termination'];
export type ISearchExpression = Schemas['Expression'];
export type IEarlyTermination = Schemas['EarlyTermination'];
export type ISubmitSweep = RequestBody<'/sweeps', 'post'>;
export type IListSweepsQuery = Query<'/sweeps', 'get'>;
export type ITrialsQuery = Query<'/sweeps/{sweep_id}/trials', 'get'>;

/**
 * States a sweep never leaves.
 */
export const FINAL_SWEEP_STATUSES: readonly SweepStatus[] = [
  'completed',
  'failed',
  'canceled'
];

export function isSweepFinal(status: SweepStatus): boolean {
  return FINAL_SWEEP_STATUSES.includes(status);
}

// -- models ---------------------------------------------------------------------------------

export type IModelInfo = Schemas['ModelInfo'];
export type IModelVersion = Schemas['ModelVersionInfo'];
export type IModelLineage = Schemas['ModelLineage'];
export type ISetAlias = RequestBody<'/models/{model}/aliases/{alias}', 'put'>;

// -- endpoints ------------------------------------------------------------------------------

export type IEndpointInfo = Schemas['EndpointInfo'];
export type IDeploymentInfo = Schemas['DeploymentInfo'];
export type IDeploymentMetrics = Schemas['DeploymentMetrics'];
export type ITrafficUpdate = RequestBody<
  '/endpoints/{endpoint_name}/traffic',
  'put'
>;
export type IInvokeRequest = RequestBody<
  '/endpoints/{endpoint_name}/invoke',
  'post'
>;
export type ICreateEndpoint = RequestBody<'/endpoints', 'post'>;
export type IEndpointCreated = Schemas['EndpointCreated'];
export type IDeployRequest = RequestBody<
  '/endpoints/{endpoint_name}/deployments',
  'post'
>;

// -- monitors -------------------------------------------------------------------------------

export type IMonitorInfo = Schemas['MonitorInfo'];
export type IMonitorRun = Schemas['MonitorRunInfo'];
export type IMonitorSeries = Schemas['MonitorSeries'];
export type ISignalSeries = Schemas['SignalSeries'];
export type IDriftReport = Schemas['DriftReport'];
export type Verdict = Schemas['SignalResult']['verdict'];

// -- pipelines ------------------------------------------------------------------------------

export type PipelineStatus = Schemas['PipelineStatus'];
export type StepStatus = Schemas['StepStatus'];
export type IPipelineRun = Schemas['PipelineRun'];
export type IPipelineRunInfo = Schemas['PipelineRunInfo'];
export type IPipelineRunList = Schemas['PipelineRunList'];
export type IPipelineStep = Schemas['StepInfo'];
export type IListPipelinesQuery = Query<'/pipelines', 'get'>;
export type ISubmitPipeline = RequestBody<'/pipelines', 'post'>;
export type IRerunPipeline = RequestBody<'/pipelines/{run_id}/rerun', 'post'>;

export function isPipelineFinal(status: PipelineStatus): boolean {
  return FINAL_SWEEP_STATUSES.includes(status);
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
    return this._get('notebooks/parameters', {
      path
    } satisfies INotebookPathQuery);
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
      `jobs/${enc(id)}` +
        queryString({ delete_run: deleteRun } satisfies IDeleteJobQuery)
    );
  }
  deleteJobs(ids: string[], deleteRuns = true): Promise<IDeleteJobsResult> {
    return this._send('POST', 'jobs/delete', {
      ids,
      delete_runs: deleteRuns
    } satisfies IDeleteJobs);
  }
  jobLogs(id: string, query: ILogsQuery = {}): Promise<IJobLogs> {
    return this._get(`jobs/${enc(id)}/logs`, { ...query });
  }
  jobProgress(id: string): Promise<IProgress> {
    return this._get(`jobs/${enc(id)}/progress`);
  }
  jobEvents(id: string, query: IJobEventsQuery = {}): Promise<IEventPage> {
    return this._get(`jobs/${enc(id)}/events`, { ...query });
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
    return this._get('runs/compare', {
      run_id: runIds
    } satisfies ICompareRunsQuery);
  }

  // data
  listDatastores(): Promise<IDatastorePage> {
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
  listDataVersions(
    name: string,
    query: IListVersionsQuery = {}
  ): Promise<IDataVersionPage> {
    return this._get(`data/${enc(name)}`, { ...query });
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
    } satisfies IDataPreviewQuery);
  }
  /** The jobs and versions a version came from and went into. */
  dataLineage(
    name: string,
    version: number,
    depth?: number
  ): Promise<ILineageGraph> {
    return this._get(`data/${enc(name)}/versions/${version}/lineage`, {
      depth
    } satisfies ILineageQuery);
  }

  // environments
  /** Environments, the newest version of each, by name. */
  listEnvironments(): Promise<IEnvironmentPage> {
    return this._get('environments');
  }
  /** An environment's versions, newest first. */
  environmentVersions(name: string): Promise<IEnvironmentPage> {
    return this._get(`environments/${enc(name)}`);
  }
  getEnvironment(name: string, version: number): Promise<IEnvironmentInfo> {
    return this._get(`environments/${enc(name)}/versions/${version}`);
  }
  /** Create a version and build it (answers once it is built). */
  createEnvironment(body: ICreateEnvironment): Promise<IEnvironmentInfo> {
    return this._send('POST', 'environments', body);
  }
  /** Build a version again from its lock. */
  buildEnvironment(name: string, version: number): Promise<IEnvironmentInfo> {
    return this._send(
      'POST',
      `environments/${enc(name)}/versions/${version}/build`
    );
  }
  /** Delete one version, or every version when `version` is not given. */
  async deleteEnvironment(name: string, version?: number): Promise<void> {
    await this._send(
      'DELETE',
      version === undefined
        ? `environments/${enc(name)}`
        : `environments/${enc(name)}/versions/${version}`
    );
  }
  /** A version's build log from `offset` (readable while it builds). */
  environmentLog(
    name: string,
    version: number,
    offset = 0
  ): Promise<IEnvironmentLog> {
    return this._get(`environments/${enc(name)}/versions/${version}/log`, {
      offset
    } satisfies IEnvironmentLogQuery);
  }

  // sweeps
  /** Sweeps, newest first. */
  listSweeps(query: IListSweepsQuery = {}): Promise<ISweepList> {
    return this._get('sweeps', { ...query });
  }
  getSweep(id: string): Promise<ISweep> {
    return this._get(`sweeps/${enc(id)}`);
  }
  /** Submit a sweep (checked whole against the notebook before anything is stored). */
  submitSweep(body: ISubmitSweep): Promise<ISweep> {
    return this._send('POST', 'sweeps', body);
  }
  /** No new trials; running ones are interrupted. */
  cancelSweep(id: string): Promise<ISweep> {
    return this._send('POST', `sweeps/${enc(id)}/cancel`);
  }
  async deleteSweep(id: string): Promise<void> {
    await this._send('DELETE', `sweeps/${enc(id)}`);
  }
  /** A sweep's trials, in trial order. */
  sweepTrials(id: string, query: ITrialsQuery = {}): Promise<ITrialList> {
    return this._get(`sweeps/${enc(id)}/trials`, { ...query });
  }

  // models (MLflow's registry in the workspace's tracking store)
  listModels(): Promise<Schemas['ModelList']> {
    return this._get('models');
  }
  /** A model's versions, newest first, with their lineage (no signatures). */
  modelVersions(name: string): Promise<Schemas['ModelVersionList']> {
    return this._get(`models/${enc(name)}`);
  }
  /** One version with its lineage and signature. */
  modelVersion(name: string, version: number): Promise<IModelVersion> {
    return this._get(`models/${enc(name)}/versions/${version}`);
  }
  setModelAlias(
    name: string,
    alias: string,
    version: number
  ): Promise<IModelVersion> {
    const body: ISetAlias = { version };
    return this._send('PUT', `models/${enc(name)}/aliases/${enc(alias)}`, body);
  }
  async deleteModelAlias(name: string, alias: string): Promise<void> {
    await this._send('DELETE', `models/${enc(name)}/aliases/${enc(alias)}`);
  }
  async deleteModelVersion(name: string, version: number): Promise<void> {
    await this._send('DELETE', `models/${enc(name)}/versions/${version}`);
  }

  // endpoints (routers and deployments run by the local agent)
  listEndpoints(): Promise<Schemas['EndpointList']> {
    return this._get('endpoints');
  }
  /** A new endpoint; its keys are in the answer this once. */
  createEndpoint(body: ICreateEndpoint): Promise<IEndpointCreated> {
    return this._send('POST', 'endpoints', body);
  }
  /** Deploy (or roll) a model version; answers before it is ready. */
  deploy(endpoint: string, body: IDeployRequest): Promise<IDeploymentInfo> {
    return this._send('POST', `endpoints/${enc(endpoint)}/deployments`, body);
  }
  /** An endpoint with masked keys and its router's per-deployment metrics. */
  getEndpoint(name: string): Promise<IEndpointInfo> {
    return this._get(`endpoints/${enc(name)}`);
  }
  /** New weights (summing to 100) and/or mirror; in force when this answers. */
  setEndpointTraffic(
    name: string,
    body: ITrafficUpdate
  ): Promise<IEndpointInfo> {
    return this._send('PUT', `endpoints/${enc(name)}/traffic`, body);
  }
  /** A test request through the endpoint's router, with one of its keys. */
  invokeEndpoint(
    name: string,
    body: IInvokeRequest
  ): Promise<Schemas['InvokeResponse']> {
    return this._send('POST', `endpoints/${enc(name)}/invoke`, body);
  }

  // monitors (drift and data quality of a target against a reference)
  listMonitors(): Promise<Schemas['MonitorList']> {
    return this._get('monitors');
  }
  getMonitor(ref: string): Promise<IMonitorInfo> {
    return this._get(`monitors/${enc(ref)}`);
  }
  /** The monitor's runs, newest first. */
  listMonitorRuns(ref: string): Promise<Schemas['MonitorRunList']> {
    return this._get(`monitors/${enc(ref)}/runs`);
  }
  /** Runs the monitor now; answers with the finished run (its verdict). */
  runMonitor(ref: string): Promise<IMonitorRun> {
    return this._send('POST', `monitors/${enc(ref)}/run`);
  }
  /** Each feature's signal values over the completed runs, oldest first. */
  monitorSeries(ref: string): Promise<IMonitorSeries> {
    return this._get(`monitors/${enc(ref)}/series`);
  }
  monitorReport(ref: string, runId: string): Promise<IDriftReport> {
    return this._get(`monitors/${enc(ref)}/runs/${enc(runId)}/report`);
  }
  /** The run's static HTML report (no script, no raw rows). */
  monitorHtml(ref: string, runId: string): Promise<Schemas['MonitorHtml']> {
    return this._get(`monitors/${enc(ref)}/runs/${enc(runId)}/html`);
  }

  // AutoML runs and Responsible AI reports (both are jobs, by their job id)
  /** An AutoML run: settings, guardrails, best trial and registered model. */
  getAutoMLRun(jobId: string): Promise<Schemas['AutoMLRunInfo']> {
    return this._get(`automl/${enc(jobId)}`);
  }
  /** An AutoML run's trials (empty until the search has logged them). */
  autoMLLeaderboard(jobId: string): Promise<Schemas['AutoMLTrialList']> {
    return this._get(`automl/${enc(jobId)}/leaderboard`);
  }
  /** A report job and its numbers (none until it completes). */
  getRaiReport(jobId: string): Promise<Schemas['RaiReportInfo']> {
    return this._get(`rai/${enc(jobId)}`);
  }
  /** A completed report's static HTML page (404 before). */
  raiReportHtml(jobId: string): Promise<Schemas['RaiHtml']> {
    return this._get(`rai/${enc(jobId)}/html`);
  }
  /** Run a report of a model on a test table (a notebook job). */
  submitRaiReport(
    body: RequestBody<'/rai', 'post'>
  ): Promise<Schemas['RaiReportInfo']> {
    return this._send('POST', 'rai', body);
  }

  // pipelines (driven by the agent of the run's compute target)
  /** Pipeline runs, newest first, without their steps. */
  listPipelines(query: IListPipelinesQuery = {}): Promise<IPipelineRunList> {
    return this._get('pipelines', { ...query });
  }
  /** A pipeline run with its steps, in the pipeline's order. */
  getPipeline(id: string): Promise<IPipelineRun> {
    return this._get(`pipelines/${enc(id)}`);
  }
  /** Run a pipeline file or an inline spec (checked whole before anything is stored). */
  submitPipeline(body: ISubmitPipeline): Promise<IPipelineRun> {
    return this._send('POST', 'pipelines', body);
  }
  /** Running steps are interrupted, the rest skipped. */
  cancelPipeline(id: string): Promise<IPipelineRun> {
    return this._send('POST', `pipelines/${enc(id)}/cancel`);
  }
  /** A new run from the run's snapshots: a selection, or what did not succeed. */
  rerunPipeline(id: string, body: IRerunPipeline = {}): Promise<IPipelineRun> {
    return this._send('POST', `pipelines/${enc(id)}/rerun`, body);
  }

  // schedules (fired by the scheduler process, not by this server)
  listSchedules(): Promise<IScheduleList> {
    return this._get('schedules');
  }
  /** A schedule; its job's paths are relative to the server root. */
  createSchedule(body: ICreateSchedule): Promise<ISchedule> {
    return this._send('POST', 'schedules', body);
  }
  pauseSchedule(ref: string): Promise<ISchedule> {
    return this._send('POST', `schedules/${enc(ref)}/pause`);
  }
  /** From the next tick on (ticks while paused are not missed runs). */
  resumeSchedule(ref: string): Promise<ISchedule> {
    return this._send('POST', `schedules/${enc(ref)}/resume`);
  }
  /** The schedule and its run records; the jobs it started stay. */
  async deleteSchedule(ref: string): Promise<void> {
    await this._send('DELETE', `schedules/${enc(ref)}`);
  }
  /** A schedule's runs, newest first. */
  scheduleRuns(ref: string, limit = 5): Promise<IScheduleRunList> {
    return this._get(`schedules/${enc(ref)}/runs`, {
      limit
    } satisfies IScheduleRunsQuery);
  }

  // notification rules (kept in the workspace database; secrets write-only)
  listNotifications(): Promise<INotificationList> {
    return this._get('notifications');
  }
  addNotification(body: IAddNotification): Promise<INotificationRule> {
    return this._send('POST', 'notifications', body);
  }
  /** Sends a test event through the rule now; the delivery, with its attempt. */
  testNotification(ref: string): Promise<IDelivery> {
    return this._send('POST', `notifications/${enc(ref)}/test`);
  }
  async deleteNotification(ref: string): Promise<void> {
    await this._send('DELETE', `notifications/${enc(ref)}`);
  }
  /** A rule's deliveries, newest first, each with every attempt. */
  notificationDeliveries(ref: string, limit = 5): Promise<IDeliveryList> {
    return this._get(`notifications/${enc(ref)}/deliveries`, { limit });
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
