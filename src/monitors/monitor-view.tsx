/**
 * A monitor in the main area: what it compares and when, each feature's
 * value of one signal over its runs (a chart), the newest run's verdict per
 * feature and signal (a table), its runs, "Run now", and each run's static
 * HTML report opened in a tab of its own. The view follows the monitor's
 * feed events (a run starting or ending), so it needs no refresh button.
 *
 * Also the report tab: the server renders the report (no script, no raw
 * rows); it is shown in a sandboxed frame, as a page of its own styles.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import { TranslationBundle, nullTranslator } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import React, { useCallback, useEffect, useMemo, useState } from 'react';

import {
  EventStream,
  IDriftReport,
  IMonitorInfo,
  IMonitorRun,
  IMonitorSeries,
  MlbenchClient,
  errorMessage
} from '../api';
import { formatValue } from '../components/chart-data';
import { MetricChart } from '../components/metric-chart';
import { useEventReloads } from '../components/use-events';
import { TranslationContext, useTrans } from '../i18n';
import { mlbenchIcon } from '../icons';
import { formatTime } from '../jobs/format';
import {
  changedMonitor,
  defaultSignal,
  lastCompleted,
  percent,
  referenceText,
  runBadge,
  scheduleText,
  seriesSignals,
  signalLines,
  targetText,
  verdictRows
} from './monitor';
import { VerdictBadge } from './monitors-section';

const RELOAD_DELAY_MS = 200;
const RUNS_SHOWN = 20;

interface IState {
  info: IMonitorInfo;
  runs: IMonitorRun[];
  series: IMonitorSeries;
  report: IDriftReport | null;
  reportRun: string | null;
}

function fmt(v: number | null | undefined): string {
  return v === null || v === undefined ? '—' : formatValue(v);
}

function Chart(props: { series: IMonitorSeries }): JSX.Element {
  const trans = useTrans();
  const { series } = props;
  const signals = useMemo(() => seriesSignals(series), [series]);
  const [chosen, setChosen] = useState<string | null>(null);
  const signal =
    chosen !== null && signals.includes(chosen)
      ? chosen
      : defaultSignal(signals);
  const chart = useMemo(
    () => (signal ? signalLines(series, signal) : { lines: [], total: 0 }),
    [series, signal]
  );
  if (!signal || series.runs.length === 0) {
    return (
      <div className="mlbench-Section-empty">
        {trans.__(
          'No completed runs yet: run the monitor to chart its signals.'
        )}
      </div>
    );
  }
  return (
    <div className="mlbench-MonitorView-chart">
      <div className="mlbench-MonitorView-chartBar">
        <label>
          {trans.__('Signal')}{' '}
          <select
            className="jp-mod-styled mlbench-MonitorView-signal"
            aria-label={trans.__('Signal to plot')}
            value={signal}
            onChange={event => setChosen(event.target.value)}
          >
            {signals.map(s => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <span className="mlbench-MonitorView-note">
          {chart.total > chart.lines.length
            ? trans.__(
                '%1 of %2 features (the highest at the newest run)',
                chart.lines.length,
                chart.total
              )
            : trans._n('%1 feature', '%1 features', chart.total)}
          {' · '}
          {trans._n('%1 run', '%1 runs', series.runs.length)}
        </span>
      </div>
      <MetricChart
        series={chart.lines}
        xAxis="wall"
        yLabel={signal}
        height={220}
        label={trans.__('%1 per feature over the runs', signal)}
      />
    </div>
  );
}

function VerdictTable(props: { report: IDriftReport }): JSX.Element {
  const trans = useTrans();
  const rows = useMemo(() => verdictRows(props.report), [props.report]);
  return (
    <table
      className="mlbench-MonitorView-verdicts"
      aria-label={trans.__('Verdicts of the newest run')}
    >
      <thead>
        <tr>
          <th>{trans.__('Feature')}</th>
          <th>{trans.__('Signal')}</th>
          <th>{trans.__('Value')}</th>
          <th>{trans.__('Threshold')}</th>
          <th>{trans.__('No-shift bound')}</th>
          <th>{trans.__('Verdict')}</th>
        </tr>
      </thead>
      <tbody>
        {rows.map(r => (
          <tr
            key={`${r.feature}\u0000${r.signal}`}
            data-feature={r.feature}
            data-signal={r.signal}
            title={r.detail || undefined}
          >
            <td>
              {r.feature}
              {r.role !== 'feature' && (
                <span className="mlbench-MonitorView-role"> ({r.role})</span>
              )}
            </td>
            <td>{r.signal}</td>
            <td>
              {r.counted && r.value !== null
                ? trans._n('%1 row', '%1 rows', r.value)
                : fmt(r.value)}
            </td>
            <td>{r.counted ? percent(r.threshold) : fmt(r.threshold)}</td>
            <td>{r.counted ? percent(r.bound) : fmt(r.bound)}</td>
            <td>
              <VerdictBadge badge={r.verdict} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function MonitorViewBody(props: {
  client: MlbenchClient;
  stream: EventStream;
  name: string;
  openReport(runId: string): void;
}): JSX.Element {
  const { client, stream, name, openReport } = props;
  const trans = useTrans();
  const [state, setState] = useState<IState | null>(null);
  const [error, setError] = useState('');
  const [running, setRunning] = useState(false);
  const [runError, setRunError] = useState('');

  const load = useCallback(async (): Promise<IState> => {
    const [info, runs, series] = await Promise.all([
      client.getMonitor(name),
      client.listMonitorRuns(name),
      client.monitorSeries(name)
    ]);
    const newest = lastCompleted(runs.items);
    const report = newest ? await client.monitorReport(name, newest.id) : null;
    return {
      info,
      runs: runs.items,
      series,
      report,
      reportRun: newest?.id ?? null
    };
  }, [client, name]);

  // every monitor event names its monitor (names are unique and fixed)
  const changes = useEventReloads(
    stream,
    event => changedMonitor(event) !== null && event.data.name === name,
    RELOAD_DELAY_MS
  );

  useEffect(() => {
    let live = true;
    load().then(
      next => {
        if (live) {
          setState(next);
          setError('');
        }
      },
      reason => {
        if (live) {
          setError(errorMessage(reason));
        }
      }
    );
    return () => {
      live = false;
    };
  }, [load, changes]);

  const runNow = () => {
    setRunning(true);
    setRunError('');
    client.runMonitor(name).then(
      () => {
        setRunning(false);
        // the feed says so too; this makes it right without the stream
        void load().then(setState, () => undefined);
      },
      reason => {
        setRunning(false);
        setRunError(errorMessage(reason));
        void load().then(setState, () => undefined);
      }
    );
  };

  if (!state) {
    return (
      <div className="mlbench-MonitorView-body">
        {error ? (
          <div className="mlbench-Section-error" role="alert">
            {error}
          </div>
        ) : (
          <div className="mlbench-Section-empty">{trans.__('Loading…')}</div>
        )}
      </div>
    );
  }
  const { info, runs, series, report, reportRun } = state;
  const last = info.last_run ?? null;
  const schedule = scheduleText(info.spec);
  const features = info.spec.features;
  return (
    <div className="mlbench-MonitorView-body">
      {error && (
        <div className="mlbench-Section-error" role="alert">
          {error}
        </div>
      )}
      <header className="mlbench-MonitorView-header">
        <h2>
          {info.name} <VerdictBadge badge={runBadge(last)} />
        </h2>
        {info.description && <p>{info.description}</p>}
        <dl className="mlbench-MonitorView-facts">
          <dt>{trans.__('Reference')}</dt>
          <dd>{referenceText(info.spec)}</dd>
          <dt>{trans.__('Target')}</dt>
          <dd>{targetText(info.spec)}</dd>
          <dt>{trans.__('Features')}</dt>
          <dd>
            {features === 'all' || features === undefined
              ? trans.__('all')
              : Array.isArray(features)
                ? features.join(', ')
                : trans.__(
                    'top %1 by their link to %2',
                    features.top,
                    info.spec.label ?? ''
                  )}
          </dd>
          <dt>{trans.__('Schedule')}</dt>
          <dd>{schedule ?? trans.__('on demand')}</dd>
          <dt>{trans.__('Last run')}</dt>
          <dd>
            {last ? formatTime(last.created_at) : trans.__('never')}
            {last?.error ? ` · ${last.error}` : ''}
          </dd>
        </dl>
        <div className="mlbench-MonitorView-actions">
          <button
            type="button"
            className="jp-mod-styled jp-mod-accept"
            disabled={running}
            onClick={runNow}
          >
            {running ? trans.__('Running…') : trans.__('Run now')}
          </button>
          <button
            type="button"
            className="jp-mod-styled"
            disabled={!reportRun}
            onClick={() => reportRun && openReport(reportRun)}
          >
            {trans.__('Open report')}
          </button>
          {runError && (
            <span className="mlbench-Section-error" role="alert">
              {runError}
            </span>
          )}
        </div>
      </header>
      <section>
        <h3>{trans.__('Drift over time')}</h3>
        <Chart series={series} />
      </section>
      <section>
        <h3>
          {trans.__('Newest verdicts')}
          {report?.created_at ? ` · ${formatTime(report.created_at)}` : ''}
        </h3>
        {report ? (
          <>
            <p className="mlbench-MonitorView-note">
              {trans.__(
                '%1 target rows against %2 reference rows',
                report.target_rows,
                report.reference_rows
              )}
              {report.missing && report.missing.length > 0
                ? ` · ${trans.__('missing in the target: %1', report.missing.join(', '))}`
                : ''}
            </p>
            <VerdictTable report={report} />
          </>
        ) : (
          <div className="mlbench-Section-empty">
            {trans.__('No completed run yet.')}
          </div>
        )}
      </section>
      <section>
        <h3>{trans.__('Runs')}</h3>
        <table
          className="mlbench-MonitorView-runs"
          aria-label={trans.__('Runs of the monitor')}
        >
          <thead>
            <tr>
              <th>{trans.__('Started')}</th>
              <th>{trans.__('Verdict')}</th>
              <th>{trans.__('Target rows')}</th>
              <th>{trans.__('Breaches')}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {runs.slice(0, RUNS_SHOWN).map(r => (
              <tr key={r.id} data-run={r.id}>
                <td>{formatTime(r.created_at)}</td>
                <td>
                  <VerdictBadge badge={runBadge(r)} />
                </td>
                <td>{r.target_rows ?? '—'}</td>
                <td title={(r.breaches ?? []).join(', ') || r.error || ''}>
                  {r.status === 'failed'
                    ? r.error
                    : (r.breaches ?? []).length || '—'}
                </td>
                <td>
                  {r.status === 'completed' && (
                    <button
                      type="button"
                      className="jp-mod-styled mlbench-MonitorView-report"
                      onClick={() => openReport(r.id)}
                    >
                      {trans.__('Report')}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </div>
  );
}

/**
 * The main-area widget of one monitor.
 */
export class MonitorView extends MainAreaWidget<ReactWidget> {
  constructor(options: {
    client: MlbenchClient;
    stream: EventStream;
    name: string;
    openReport(runId: string): void;
    trans?: TranslationBundle;
  }) {
    const trans = options.trans ?? nullTranslator.load('mlbench');
    const content = ReactWidget.create(
      <TranslationContext.Provider value={trans}>
        <MonitorViewBody
          client={options.client}
          stream={options.stream}
          name={options.name}
          openReport={options.openReport}
        />
      </TranslationContext.Provider>
    );
    content.addClass('mlbench-MonitorView');
    super({ content });
    this.monitorName = options.name;
    this.id = `mlbench-monitor-${options.name}`;
    this.title.label = trans.__('Monitor: %1', options.name);
    this.title.caption = trans.__('mlbench monitor %1', options.name);
    this.title.icon = mlbenchIcon;
    this.title.closable = true;
  }

  readonly monitorName: string;
}

function ReportBody(props: {
  client: MlbenchClient;
  monitor: string;
  runId: string;
}): JSX.Element {
  const { client, monitor, runId } = props;
  const trans = useTrans();
  const [html, setHtml] = useState<string | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    let live = true;
    client.monitorHtml(monitor, runId).then(
      page => live && setHtml(page.html),
      reason => live && setError(errorMessage(reason))
    );
    return () => {
      live = false;
    };
  }, [client, monitor, runId]);
  if (error) {
    return (
      <div className="mlbench-Section-error" role="alert">
        {error}
      </div>
    );
  }
  if (html === null) {
    return <div className="mlbench-Section-empty">{trans.__('Loading…')}</div>;
  }
  // sandbox with no permissions: the page runs no script and reaches nothing
  return (
    <iframe
      className="mlbench-MonitorReport-frame"
      title={trans.__('Report of run %1 of monitor %2', runId, monitor)}
      sandbox=""
      srcDoc={html}
    />
  );
}

/**
 * The main-area widget of one run's static HTML report.
 */
export class MonitorReportView extends MainAreaWidget<ReactWidget> {
  constructor(options: {
    client: MlbenchClient;
    monitor: string;
    runId: string;
    createdAt?: string | null;
    trans?: TranslationBundle;
  }) {
    const trans = options.trans ?? nullTranslator.load('mlbench');
    const content = ReactWidget.create(
      <TranslationContext.Provider value={trans}>
        <ReportBody
          client={options.client}
          monitor={options.monitor}
          runId={options.runId}
        />
      </TranslationContext.Provider>
    );
    content.addClass('mlbench-MonitorReport');
    super({ content });
    this.monitorName = options.monitor;
    this.runId = options.runId;
    this.id = `mlbench-monitor-report-${options.runId}`;
    this.title.label = trans.__('Report: %1', options.monitor);
    this.title.caption = trans.__(
      'mlbench monitor %1, run %2',
      options.monitor,
      options.runId
    );
    this.title.icon = mlbenchIcon;
    this.title.closable = true;
  }

  readonly monitorName: string;
  readonly runId: string;
}
