/**
 * The job detail view in the main area: status and timeline, per-cell
 * progress, live log tail, parameters, error cell and traceback, actions.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import { TranslationBundle, nullTranslator } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import { ISignal, Signal } from '@lumino/signaling';
import React, { useEffect, useRef, useState } from 'react';

import {
  EventStream,
  IJob,
  IJobEvent,
  IMetricSeries,
  INotebookParameters,
  MlbenchClient,
  errorMessage,
  isFinal
} from '../api';
import { isAutoMLJob, isRaiJob } from '../automl/automl';
import { formatValue } from '../components/chart-data';
import { MetricChart } from '../components/metric-chart';
import { TranslationContext, useTrans } from '../i18n';
import { mlbenchIcon } from '../icons';
import { formatTime, jobDuration, jobTitle, statusLabel } from './format';
import {
  chartableMetrics,
  jobDistinction,
  metricSummary,
  parameterRows,
  parameterText
} from './job-model';
import { IJobActions, ProgressBar, StatusBadge } from './jobs-list';
import { applyEvent } from './jobs-store';

/** The log tail kept in the view. */
export const MAX_LOG_CHARS = 200000;
const LOG_POLL_MS = 1000;
/** Metrics are not on the event stream: re-read while the job runs. */
const METRICS_POLL_MS = 3000;
const METRIC_POINTS = 2000;

/**
 * ANSI escapes out of tracebacks and logs.
 */
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
}

/**
 * The state of one job view: the job, its status timeline and its log tail.
 */
export class JobViewModel {
  constructor(
    readonly client: MlbenchClient,
    readonly jobId: string,
    stream: EventStream
  ) {
    this._stream = stream;
    stream.event.connect(this._onEvent, this);
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get job(): IJob | null {
    return this._job;
  }
  get timeline(): IJobEvent[] {
    return this._timeline;
  }
  get logs(): string {
    return this._logs;
  }
  get error(): string {
    return this._error;
  }
  /** The notebook's declared parameters (defaults), null until read. */
  get declared(): INotebookParameters | null {
    return this._declared;
  }
  /** The job's metric histories (downsampled), one series per key. */
  get metrics(): IMetricSeries[] {
    return this._metrics;
  }

  async load(): Promise<void> {
    try {
      this._job = await this.client.getJob(this.jobId);
      const events = await this.client.jobEvents(this.jobId, { limit: 5000 });
      this._timeline = events.items.filter(e => e.kind === 'status');
      this._error = '';
    } catch (reason) {
      this._error = errorMessage(reason);
    }
    this._changed.emit();
    void this._readDeclared();
    void this._readMetrics();
    await this._readLogs();
  }

  private async _readDeclared(): Promise<void> {
    if (!this._job || this._job.command) {
      return; // a command declares nothing: its values are all there is
    }
    try {
      this._declared = await this.client.jobParameters(this.jobId);
      this._changed.emit();
    } catch {
      // the snapshot is gone: the values the job set are still shown
    }
  }

  private async _readMetrics(): Promise<void> {
    const runId = this._job?.mlflow_run_id;
    if (this._disposed) {
      return;
    }
    if (runId) {
      try {
        const history = await this.client.metricHistory({
          run_id: [runId],
          max_points: METRIC_POINTS
        });
        this._metrics = history.series;
        this._changed.emit();
      } catch {
        // no run yet, or the tracking store is busy: next time
      }
    }
    if (!this._job || !isFinal(this._job.status)) {
      this._metricsTimer = setTimeout(
        () => void this._readMetrics(),
        METRICS_POLL_MS
      );
    }
  }

  dispose(): void {
    this._disposed = true;
    clearTimeout(this._logTimer);
    clearTimeout(this._metricsTimer);
    this._stream.event.disconnect(this._onEvent, this);
    Signal.clearData(this);
  }

  private async _readLogs(): Promise<void> {
    if (this._disposed) {
      return;
    }
    try {
      // the first read takes the tail only: a long log is not all needed
      const reply = await this.client.jobLogs(
        this.jobId,
        this._logOffset === null
          ? { tail: MAX_LOG_CHARS }
          : { offset: this._logOffset }
      );
      if (reply.text) {
        this._logs = (this._logs + reply.text).slice(-MAX_LOG_CHARS);
        this._changed.emit();
      }
      this._logOffset = reply.offset;
      if (isFinal(reply.status) && this._job && isFinal(this._job.status)) {
        return; // complete: the status was read before the log
      }
    } catch {
      // no log yet (queued): try again
    }
    if (!this._disposed) {
      this._logTimer = setTimeout(() => void this._readLogs(), LOG_POLL_MS);
    }
  }

  private _onEvent(_: EventStream, event: IJobEvent): void {
    if (event.job_id !== this.jobId || !this._job) {
      return;
    }
    this._job = applyEvent(this._job, event);
    if (event.kind === 'status') {
      this._timeline = [...this._timeline, event];
      // the full record has the error, gpu ids, run id...
      void this.client.getJob(this.jobId).then(job => {
        this._job = job;
        this._changed.emit();
        if (isFinal(job.status)) {
          // the last points were logged just before the end
          clearTimeout(this._metricsTimer);
          void this._readMetrics();
        }
      });
    }
    this._changed.emit();
  }

  private _job: IJob | null = null;
  private _timeline: IJobEvent[] = [];
  private _logs = '';
  private _logOffset: number | null = null;
  private _logTimer: ReturnType<typeof setTimeout> | undefined;
  private _metrics: IMetricSeries[] = [];
  private _declared: INotebookParameters | null = null;
  private _metricsTimer: ReturnType<typeof setTimeout> | undefined;
  private _error = '';
  private _disposed = false;
  private _stream: EventStream;
  private _changed = new Signal<this, void>(this);
}

function Field(props: {
  label: string;
  children: React.ReactNode;
}): JSX.Element {
  return (
    <>
      <dt>{props.label}</dt>
      <dd>{props.children}</dd>
    </>
  );
}

function Metrics(props: { series: IMetricSeries[] }): JSX.Element | null {
  const { series } = props;
  const trans = useTrans();
  const summary = React.useMemo(() => metricSummary(series), [series]);
  // a single value is a number, not a curve: only histories are charted,
  // the longest first
  const ordered = React.useMemo(
    () =>
      chartableMetrics(series).sort(
        (a, b) =>
          // a loss first (what one usually watches), then the longest
          Number(/loss/i.test(b.key)) - Number(/loss/i.test(a.key)) ||
          b.total_points - a.total_points ||
          a.key.localeCompare(b.key)
      ),
    [series]
  );
  const [key, setKey] = useState('');
  const shown = ordered.find(s => s.key === key) ?? ordered[0];
  // one stable input per shown series: the chart redraws only when it changes
  const input = React.useMemo(
    () =>
      shown
        ? [
            {
              label: shown.key,
              steps: shown.steps,
              values: shown.values,
              timestamps: shown.timestamps
            }
          ]
        : [],
    [shown]
  );
  if (summary.length === 0) {
    return null;
  }
  return (
    <section
      className="mlbench-JobView-section"
      aria-label={trans.__('Metrics')}
    >
      <h3>{trans.__('Metrics')}</h3>
      <table
        className="mlbench-JobView-metrics"
        aria-label={trans.__('Last value of every metric')}
      >
        <thead>
          <tr>
            <th scope="col">{trans.__('Metric')}</th>
            <th scope="col">{trans.__('Last')}</th>
            <th scope="col">{trans.__('Step')}</th>
            <th scope="col">{trans.__('Min')}</th>
            <th scope="col">{trans.__('Max')}</th>
            <th scope="col">{trans.__('Points')}</th>
          </tr>
        </thead>
        <tbody>
          {summary.map(m => (
            <tr key={m.key} data-metric={m.key}>
              <th scope="row">
                {m.points > 1 ? (
                  <button
                    type="button"
                    className="mlbench-JobView-metricLink"
                    title={trans.__('Plot %1', m.key)}
                    aria-pressed={shown?.key === m.key}
                    onClick={() => setKey(m.key)}
                  >
                    {m.key}
                  </button>
                ) : (
                  m.key
                )}
              </th>
              <td className="mlbench-JobView-num">{formatValue(m.last)}</td>
              <td className="mlbench-JobView-num">{m.step}</td>
              <td className="mlbench-JobView-num">
                {m.points > 1 ? formatValue(m.min) : ''}
              </td>
              <td className="mlbench-JobView-num">
                {m.points > 1 ? formatValue(m.max) : ''}
              </td>
              <td className="mlbench-JobView-num">{m.points}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {shown && (
        <>
          <select
            className="jp-mod-styled mlbench-JobView-metricKey"
            aria-label={trans.__('Metric to plot')}
            value={shown.key}
            onChange={event => setKey(event.target.value)}
          >
            {ordered.map(s => (
              <option key={s.key} value={s.key}>
                {s.key}
              </option>
            ))}
          </select>
          <MetricChart
            series={input}
            yLabel={shown.key}
            height={220}
            label={trans.__('%1 of this job', shown.key)}
          />
        </>
      )}
    </section>
  );
}

/**
 * Every parameter the job ran with, the notebook's defaults marked.
 */
function Parameters(props: { model: JobViewModel; job: IJob }): JSX.Element {
  const { model, job } = props;
  const trans = useTrans();
  const rows = parameterRows(job, model.declared);
  return (
    <section
      className="mlbench-JobView-section"
      aria-label={trans.__('Parameters')}
    >
      <h3>{trans.__('Parameters')}</h3>
      {rows.length ? (
        <table className="mlbench-JobView-params">
          <tbody>
            {rows.map(row => (
              <tr
                key={row.name}
                data-param={row.name}
                className={row.isDefault ? 'mlbench-mod-default' : undefined}
              >
                <th scope="row">{row.name}</th>
                <td>{parameterText(row)}</td>
                <td className="mlbench-JobView-paramNote">
                  {row.isDefault
                    ? trans.__('default')
                    : trans.__('set for this job')}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <div className="mlbench-Section-empty">
          {job.command
            ? trans.__('No inputs.')
            : model.declared
              ? trans.__('The notebook declares no parameters.')
              : trans.__("Reading the notebook's parameters...")}
        </div>
      )}
    </section>
  );
}

/**
 * Why a job stopped without failing (a cancel, an early stop): said plainly,
 * not as an error in red.
 */
function Stopped(props: { job: IJob }): JSX.Element | null {
  const { job } = props;
  const trans = useTrans();
  if (job.status !== 'canceled') {
    return null;
  }
  const cell = job.error?.cell_index ?? null;
  return (
    <section
      className="mlbench-JobView-section mlbench-JobView-stopped"
      aria-label={trans.__('Canceled')}
    >
      <h3>
        {cell !== null
          ? trans.__('Canceled in cell %1', cell + 1)
          : trans.__('Canceled')}
      </h3>
      <div>{job.status_reason}</div>
      {job.error?.cell_source && (
        <pre className="mlbench-JobView-source">{job.error.cell_source}</pre>
      )}
    </section>
  );
}

function JobDetail(props: {
  model: JobViewModel;
  actions: IJobActions;
}): JSX.Element {
  const { model, actions } = props;
  const trans = useTrans();
  const [, setTick] = useState(0);
  const logRef = useRef<HTMLPreElement>(null);
  useEffect(() => {
    const onChange = () => setTick(t => t + 1);
    model.changed.connect(onChange);
    const timer = setInterval(onChange, 1000);
    return () => {
      model.changed.disconnect(onChange);
      clearInterval(timer);
    };
  }, [model]);
  const logs = model.logs;
  useEffect(() => {
    // follow the tail
    const node = logRef.current;
    if (node) {
      node.scrollTop = node.scrollHeight;
    }
  }, [logs]);

  const job = model.job;
  if (!job) {
    return (
      <div className="mlbench-JobView-loading" role="status">
        {model.error || trans.__('Loading job...')}
      </div>
    );
  }
  const final = isFinal(job.status);
  const hasOutput =
    !job.command && (job.status === 'completed' || job.status === 'failed');
  const { cell_index, cell_count, cell_source } = job.progress;
  const error = job.error;
  return (
    <div className="mlbench-JobView-content" data-job-id={job.id}>
      <div className="mlbench-JobView-header">
        <h2 className="mlbench-JobView-title">{jobTitle(job)}</h2>
        <span
          className="mlbench-JobView-distinction"
          title={trans.__('The parameters this job set')}
        >
          {jobDistinction(job, 60)}
        </span>
        <StatusBadge status={job.status} />
        <span className="mlbench-JobView-reason">{job.status_reason}</span>
        <span className="mlbench-JobView-buttons">
          {!final && (
            <button
              type="button"
              className="jp-mod-styled jp-mod-warn"
              aria-label={trans.__('Cancel this job')}
              onClick={() => actions.cancel(job)}
            >
              {trans.__('Cancel')}
            </button>
          )}
          <button
            type="button"
            className="jp-mod-styled jp-mod-reject"
            aria-label={trans.__('Rerun this job')}
            onClick={() => actions.rerun(job)}
          >
            {trans.__('Rerun')}
          </button>
          <button
            type="button"
            className="jp-mod-styled jp-mod-reject"
            aria-label={trans.__('Rerun this job with changes')}
            onClick={() => actions.rerunWithChanges(job)}
          >
            {trans.__('Rerun with changes...')}
          </button>
          <button
            type="button"
            className="jp-mod-styled jp-mod-accept"
            aria-label={trans.__('Open the output notebook')}
            disabled={!hasOutput}
            title={
              hasOutput
                ? trans.__('Open the executed notebook')
                : job.command
                  ? trans.__('A command job has no output notebook')
                  : trans.__(
                      'The output notebook is there once the job has ended'
                    )
            }
            onClick={() => actions.output(job)}
          >
            {trans.__('Open output')}
          </button>
          {actions.leaderboard && isAutoMLJob(job) && (
            <button
              type="button"
              className="jp-mod-styled jp-mod-accept"
              onClick={() => actions.leaderboard?.(job)}
            >
              {trans.__('Open leaderboard')}
            </button>
          )}
          {actions.report && isRaiJob(job) && (
            <button
              type="button"
              className="jp-mod-styled jp-mod-accept"
              onClick={() => actions.report?.(job)}
            >
              {trans.__('Open report')}
            </button>
          )}
        </span>
      </div>

      {job.termination && (
        <div
          className="mlbench-JobView-termination"
          role="note"
          aria-label={trans.__('Why the sweep stopped this trial')}
        >
          {trans.__('Stopped early by the sweep: %1', job.termination.detail)}
        </div>
      )}

      <dl className="mlbench-JobView-fields">
        <Field label={trans.__('Job')}>{job.id}</Field>
        {job.parent && (
          <Field
            label={
              job.parent.kind === 'sweep'
                ? trans.__('Sweep')
                : trans.__('Pipeline')
            }
          >
            {job.parent.name ? `${job.parent.name} · ` : ''}
            {job.parent.id}
          </Field>
        )}
        {job.command ? (
          <>
            <Field label={trans.__('Command')}>
              <code className="mlbench-JobView-command">{job.command}</code>
            </Field>
            <Field label={trans.__('Code')}>{job.cwd}</Field>
          </>
        ) : (
          <Field label={trans.__('Notebook')}>
            {job.notebook_relpath ?? job.notebook_path}
          </Field>
        )}
        <Field label={trans.__('Compute')}>
          {job.compute}
          {job.gpu_ids.length ? ` (GPU ${job.gpu_ids.join(', ')})` : ''}
        </Field>
        <Field label={trans.__('Kernel')}>{job.kernel_name}</Field>
        <Field label={trans.__('Experiment')}>{job.experiment}</Field>
        <Field label={trans.__('Created')}>{formatTime(job.created_at)}</Field>
        <Field label={trans.__('Started')}>{formatTime(job.started_at)}</Field>
        <Field label={trans.__('Finished')}>
          {formatTime(job.finished_at)}
        </Field>
        <Field label={trans.__('Duration')}>{jobDuration(job)}</Field>
        <Field label={trans.__('Attempt')}>
          {trans.__('%1 of %2', job.attempt, job.max_retries + 1)}
        </Field>
        {job.mlflow_run_id && (
          <Field label={trans.__('MLflow run')}>{job.mlflow_run_id}</Field>
        )}
        {job.inputs && job.inputs.length > 0 && (
          <Field label={trans.__('Data inputs')}>
            {job.inputs.map(i => `${i.name} ← ${i.ref}`).join(', ')}
          </Field>
        )}
        {job.outputs && job.outputs.length > 0 && (
          <Field label={trans.__('Data outputs')}>
            {job.outputs
              .map(
                o =>
                  `${o.name} → ${o.ref ?? trans.__('%1 (on completion)', o.asset)}`
              )
              .join(', ')}
          </Field>
        )}
        {Object.keys(job.tags).length > 0 && (
          <Field label={trans.__('Tags')}>
            {Object.entries(job.tags)
              .map(([k, v]) => (v ? `${k}=${v}` : k))
              .join(', ')}
          </Field>
        )}
      </dl>

      <section
        className="mlbench-JobView-section"
        aria-label={trans.__('Progress')}
      >
        <h3>{trans.__('Progress')}</h3>
        <ProgressBar job={job} />
        <div className="mlbench-JobView-cell">
          {job.command
            ? trans.__('a command: no cells')
            : cell_count
              ? job.status === 'completed'
                ? trans.__('%1 of %2 cells', cell_count, cell_count)
                : trans.__('cell %1 of %2', (cell_index ?? 0) + 1, cell_count)
              : trans.__('not started')}
        </div>
        {cell_source && !final && (
          <pre className="mlbench-JobView-source">{cell_source}</pre>
        )}
      </section>

      <Stopped job={job} />

      {error && job.status !== 'canceled' && (
        <section
          className="mlbench-JobView-section mlbench-JobView-error"
          aria-label={trans.__('Error')}
        >
          <h3>
            {error.cell_index !== null && error.cell_index !== undefined
              ? trans.__('Error in cell %1', error.cell_index + 1)
              : trans.__('Error')}
          </h3>
          <div className="mlbench-JobView-errorMessage">
            {error.ename
              ? `${error.ename}: ${error.evalue ?? ''}`
              : error.message}
          </div>
          {error.cell_source && (
            <pre className="mlbench-JobView-source mlbench-JobView-errorCell">
              {error.cell_source}
            </pre>
          )}
          {error.traceback && error.traceback.length > 0 && (
            <pre className="mlbench-JobView-traceback">
              {stripAnsi(error.traceback.join('\n'))}
            </pre>
          )}
        </section>
      )}

      <Metrics series={model.metrics} />

      <Parameters model={model} job={job} />

      <section
        className="mlbench-JobView-section"
        aria-label={trans.__('Timeline')}
      >
        <h3>{trans.__('Timeline')}</h3>
        <ol className="mlbench-JobView-timeline">
          {model.timeline.map(event => (
            <li key={event.id} data-status={String(event.data.status)}>
              <span className="mlbench-JobView-time">
                {formatTime(event.created_at)}
              </span>{' '}
              <StatusBadge status={event.data.status as IJob['status']} />{' '}
              {String(event.data.reason ?? '')}
            </li>
          ))}
        </ol>
      </section>

      <section
        className="mlbench-JobView-section mlbench-JobView-logSection"
        aria-label={trans.__('Log')}
      >
        <h3>{trans.__('Log')}</h3>
        <pre className="mlbench-JobView-log" ref={logRef} tabIndex={0}>
          {stripAnsi(logs) ||
            (final ? trans.__('(empty)') : trans.__('Waiting for output...'))}
        </pre>
      </section>
    </div>
  );
}

/**
 * The main-area widget of one job.
 */
export class JobView extends MainAreaWidget<ReactWidget> {
  constructor(options: {
    client: MlbenchClient;
    stream: EventStream;
    jobId: string;
    actions: IJobActions;
    trans?: TranslationBundle;
  }) {
    const trans = options.trans ?? nullTranslator.load('mlbench');
    const model = new JobViewModel(
      options.client,
      options.jobId,
      options.stream
    );
    const content = ReactWidget.create(
      <TranslationContext.Provider value={trans}>
        <JobDetail model={model} actions={options.actions} />
      </TranslationContext.Provider>
    );
    content.addClass('mlbench-JobView');
    super({ content });
    this.model = model;
    this.id = `mlbench-job-${options.jobId}`;
    this.title.label = trans.__('Job %1', options.jobId.slice(0, 8));
    this.title.icon = mlbenchIcon;
    this.title.closable = true;
    model.changed.connect(() => {
      const job = model.job;
      if (job) {
        this.title.label = `${jobTitle(job)} · ${jobDistinction(job, 24)} (${statusLabel(trans, job.status)})`;
        this.title.caption = trans.__('mlbench job %1', job.id);
      }
    });
    void model.load();
  }

  readonly model: JobViewModel;

  dispose(): void {
    this.model.dispose();
    super.dispose();
  }
}
