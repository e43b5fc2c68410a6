import React, {
  useCallback,
  useEffect,
  useMemo,
  useRef,
  useState
} from 'react';
import { ITranslator } from '@jupyterlab/translation';
import {
  caretLeftIcon,
  launchIcon,
  refreshIcon
} from '@jupyterlab/ui-components';

import {
  EventStream,
  IExperimentSummary,
  IMetricSeries,
  IRunSummary,
  MlbenchClient,
  errorMessage
} from '../api';
import {
  IChartSeriesInput,
  XAxisMode,
  formatValue,
  preferredXAxis
} from '../components/chart-data';
import { MetricChart } from '../components/metric-chart';
import { visibleRange } from '../jobs/jobs-list';
import { useJobsEnded } from '../components/use-events';
import {
  ListStates,
  ListToolbar,
  usePagedList
} from '../components/paged-list';
import { TranslationContext, useTrans } from '../i18n';
import {
  DEFAULT_SORT,
  IRunColumn,
  IRunSort,
  cellText,
  chartSeries,
  defaultChartMetrics,
  defaultParams,
  downsamplingNote,
  formatTime,
  metricKeys,
  mlflowRunUrl,
  mlflowUiBase,
  nextSort,
  runColumns,
  runStatusLabel,
  shownColumns,
  sortRuns
} from './model';

/**
 * Runs per page of the runs table.
 */
export const RUNS_PAGE_SIZE = 50;

/**
 * Pages longer than this are virtualized: rows of a fixed height, only
 * those in view in the DOM (1,000 runs x 20 columns stay fast).
 */
export const VIRTUALIZE_OVER = 100;
export const RUN_ROW_HEIGHT = 24;
export const RUNS_TABLE_HEIGHT = 480;

/**
 * Points per series the chart asks the server for. The server keeps each
 * bucket's minimum and maximum, so 2,000 points draw the same envelope as
 * the full series on a sidebar-wide chart; more is there for zooming in.
 */
export const POINTS_CHOICES = [2000, 10000, 100000];

/**
 * Properties of the Experiments section.
 */
export interface IExperimentsSectionProps {
  client: MlbenchClient;
  /**
   * A translator for this section alone (default: the one the sidebar
   * provides through `TranslationContext`).
   */
  translator?: ITranslator;
  /**
   * Open an experiment's runs elsewhere (a main-area tab); without it they
   * open in the section.
   */
  onOpen?: (experiment: IExperimentSummary) => void;
  /**
   * The event stream: the lists follow it (a run that ends shows at once).
   */
  stream?: EventStream;
  /**
   * Open a run's job.
   */
  onOpenJob?: (jobId: string) => void;
}

/**
 * The Experiments section of the mlbench sidebar: experiments, then the runs
 * of one (params and latest metrics as sortable columns, paged), and a chart
 * comparing the selected runs on a metric.
 */
export function ExperimentsSection(
  props: IExperimentsSectionProps
): JSX.Element {
  const { client } = props;
  const [experiment, setExperiment] = useState<IExperimentSummary | null>(null);
  const [mlflowBase, setMlflowBase] = useState('');

  useEffect(() => {
    // Only an MLflow server (http/https) has a UI to link runs to.
    client
      .health()
      .then(health => setMlflowBase(mlflowUiBase(health.mlflow_ui_url)))
      .catch(() => setMlflowBase(''));
  }, [client]);

  return (
    <MaybeTranslator translator={props.translator}>
      <div className="mlbench-Experiments">
        {experiment === null ? (
          <ExperimentList
            client={client}
            stream={props.stream}
            onOpen={props.onOpen ?? setExperiment}
          />
        ) : (
          <RunsView
            client={client}
            experiment={experiment}
            mlflowBase={mlflowBase}
            stream={props.stream}
            onOpenJob={props.onOpenJob}
            onBack={() => setExperiment(null)}
          />
        )}
      </div>
    </MaybeTranslator>
  );
}

/**
 * The experiments, most recently updated first, filtered by name.
 */
function ExperimentList(props: {
  client: MlbenchClient;
  stream?: EventStream;
  onOpen: (experiment: IExperimentSummary) => void;
}): JSX.Element {
  const { client, onOpen } = props;
  const trans = useTrans();
  const [text, setText] = useState('');
  const { items, cursor, error, load } = usePagedList(
    append =>
      client.listExperiments({
        text: text.trim() || null,
        limit: 100,
        cursor: append
      }),
    [client, text]
  );
  useJobsEnded(props.stream, () => void load(null));
  const emptyDefault = useEmptyDefault(client, items);
  const shown = items?.filter(e => e.experiment_id !== emptyDefault) ?? null;

  return (
    <div className="mlbench-Experiments-list">
      <ListToolbar
        prefix="mlbench-Experiments"
        placeholder={trans.__('Filter experiments')}
        searchLabel={trans.__('Filter experiments by name')}
        refreshLabel={trans.__('Refresh experiments')}
        value={text}
        onChange={setText}
        onRefresh={() => void load(null)}
      />
      <ListStates
        prefix="mlbench-Experiments"
        error={error}
        items={shown}
        loading={trans.__('Loading experiments…')}
        empty={trans.__(
          'No experiments yet: every job records an MLflow run in one.'
        )}
      />
      {shown !== null && shown.length > 0 && (
        <ul
          className="mlbench-Experiments-items"
          aria-label={trans.__('Experiments')}
        >
          {shown.map(e => (
            <li key={e.experiment_id}>
              <button
                className="mlbench-Experiments-item"
                onClick={() => onOpen(e)}
                title={trans.__('Show the runs of %1', e.name)}
              >
                <span className="mlbench-Experiments-itemName">{e.name}</span>
                <span className="mlbench-Experiments-itemMeta">
                  {e.updated_at ? formatTime(e.updated_at) : ''}
                </span>
              </button>
            </li>
          ))}
        </ul>
      )}
      {cursor && (
        <button
          className="jp-mod-styled mlbench-Experiments-more"
          onClick={() => void load(cursor)}
        >
          {trans.__('More experiments')}
        </button>
      )}
    </div>
  );
}

/**
 * The id of MLflow's "Default" experiment when it has no run (MLflow makes
 * it; mlbench never uses it): not worth a row.
 */
function useEmptyDefault(
  client: MlbenchClient,
  items: IExperimentSummary[] | null
): string | null {
  const [empty, setEmpty] = useState<string | null>(null);
  const id = items?.find(
    e => e.name === 'Default' && e.experiment_id === '0'
  )?.experiment_id;
  useEffect(() => {
    if (!id) {
      return;
    }
    let live = true;
    client
      .listRuns(id, { limit: 1 })
      .then(page => live && setEmpty(page.items.length ? null : id))
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [client, id]);
  return empty;
}

/**
 * One experiment's runs (a page at a time, sorted by the server) and the
 * comparison chart of the selected ones.
 */
export function RunsView(props: {
  client: MlbenchClient;
  experiment: IExperimentSummary;
  mlflowBase: string;
  stream?: EventStream;
  /** Open a run's job (rows link to their job). */
  onOpenJob?: (jobId: string) => void;
  /** Back to the experiments (the sidebar); none in a main-area tab. */
  onBack?: () => void;
  /** Runs per page to start with. */
  pageSize?: number;
  /** Page sizes to choose from (none: no choice). */
  pageSizes?: number[];
}): JSX.Element {
  const { client, experiment, mlflowBase, onBack, onOpenJob } = props;
  const [pageSize, setPageSize] = useState(props.pageSize ?? RUNS_PAGE_SIZE);
  const trans = useTrans();
  const [sort, setSort] = useState<IRunSort>(DEFAULT_SORT);
  // cursors[i] fetches page i; page 0 has none.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [page, setPage] = useState(0);
  const [runs, setRuns] = useState<IRunSummary[] | null>(null);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [error, setError] = useState('');
  // Selected runs keep their summaries so a selection survives paging.
  const [selected, setSelected] = useState<IRunSummary[]>([]);
  const [hidden, setHidden] = useState<ReadonlySet<string>>(new Set());
  const request = useRef(0);

  const load = useCallback(async () => {
    const id = ++request.current;
    try {
      const result = await client.listRuns(experiment.experiment_id, {
        sort: sort.column,
        order: sort.order,
        limit: pageSize,
        cursor: cursors[page]
      });
      if (id !== request.current) {
        return;
      }
      setRuns(result.items);
      setNextCursor(result.next_cursor ?? null);
      setError('');
      // Keep selected summaries fresh (a running run's metrics move).
      setSelected(prev =>
        prev.map(r => result.items.find(x => x.run_id === r.run_id) ?? r)
      );
    } catch (reason) {
      if (id === request.current) {
        setError(errorMessage(reason));
      }
    }
  }, [client, experiment.experiment_id, sort, cursors, page, pageSize]);

  useEffect(() => {
    void load();
  }, [load]);
  useJobsEnded(props.stream, () => void load());

  const columns = useMemo(() => runColumns(runs ?? [], trans), [runs, trans]);
  // a long page keeps only the rows in view (and a few more) in the DOM
  const [scrollTop, setScrollTop] = useState(0);
  const count = runs?.length ?? 0;
  const virtual = count > VIRTUALIZE_OVER;
  const [first, last] = virtual
    ? visibleRange(scrollTop, RUNS_TABLE_HEIGHT, count, RUN_ROW_HEIGHT, 10)
    : [0, count];
  const visible = useMemo(
    () => shownColumns(columns, hidden),
    [columns, hidden]
  );

  const onSort = (column: string) => {
    const next = nextSort(sort, column);
    // Reorder what is shown now; the server's first page replaces it.
    setRuns(prev => (prev ? sortRuns(prev, next) : prev));
    setSort(next);
    setCursors([null]);
    setPage(0);
  };

  const toggle = (run: IRunSummary) => {
    setSelected(prev =>
      prev.some(r => r.run_id === run.run_id)
        ? prev.filter(r => r.run_id !== run.run_id)
        : [...prev, run]
    );
  };
  const allSelected =
    runs !== null &&
    runs.length > 0 &&
    runs.every(r => selected.some(x => x.run_id === r.run_id));
  const toggleAll = () => {
    if (!runs) {
      return;
    }
    setSelected(prev =>
      allSelected
        ? prev.filter(r => !runs.some(x => x.run_id === r.run_id))
        : [...prev, ...runs.filter(r => !prev.some(x => x.run_id === r.run_id))]
    );
  };

  const goNext = () => {
    if (!nextCursor) {
      return;
    }
    setCursors(prev => [...prev.slice(0, page + 1), nextCursor]);
    setPage(page + 1);
  };

  return (
    <div className="mlbench-Experiments-runs">
      <div className="mlbench-Experiments-toolbar">
        {onBack && (
          <button
            className="jp-mod-styled mlbench-Experiments-iconButton"
            title={trans.__('Back to the experiments')}
            aria-label={trans.__('Back to the experiments')}
            onClick={onBack}
          >
            <caretLeftIcon.react tag="span" />
          </button>
        )}
        <h3 className="mlbench-Experiments-title" title={experiment.name}>
          {experiment.name}
        </h3>
        {props.pageSizes && (
          <label className="mlbench-Experiments-pageSize">
            <span>{trans.__('Runs per page')}</span>
            <select
              className="jp-mod-styled"
              value={pageSize}
              onChange={e => {
                setPageSize(Number(e.target.value));
                setCursors([null]);
                setPage(0);
              }}
            >
              {props.pageSizes.map(n => (
                <option key={n} value={n}>
                  {n.toLocaleString('en-US')}
                </option>
              ))}
            </select>
          </label>
        )}
        <ColumnChooser columns={columns} hidden={hidden} onChange={setHidden} />
        <button
          className="jp-mod-styled mlbench-Experiments-iconButton"
          title={trans.__('Refresh runs')}
          aria-label={trans.__('Refresh runs')}
          onClick={() => void load()}
        >
          <refreshIcon.react tag="span" />
        </button>
      </div>
      {error && (
        <div className="mlbench-Experiments-error" role="alert">
          {error}
        </div>
      )}
      {runs === null && !error && (
        <div className="mlbench-Experiments-empty">
          {trans.__('Loading runs…')}
        </div>
      )}
      {runs !== null && runs.length === 0 && page === 0 && (
        <div className="mlbench-Experiments-empty">
          {trans.__('No runs in this one.')}
        </div>
      )}
      {runs !== null && runs.length > 0 && (
        <div
          className="mlbench-Experiments-tableWrap"
          style={virtual ? { maxHeight: RUNS_TABLE_HEIGHT } : undefined}
          onScroll={
            virtual
              ? event => setScrollTop(event.currentTarget.scrollTop)
              : undefined
          }
        >
          <table
            className="mlbench-Experiments-table"
            aria-label={trans.__('Runs of %1', experiment.name)}
            aria-rowcount={runs.length + 1}
          >
            <thead>
              <tr>
                <th scope="col">
                  <input
                    type="checkbox"
                    checked={allSelected}
                    onChange={toggleAll}
                    title={trans.__('Compare every run of this page')}
                    aria-label={trans.__('Compare every run of this page')}
                  />
                </th>
                {visible.map(c => (
                  <th
                    key={c.id}
                    scope="col"
                    className={`mlbench-Experiments-col-${c.kind}`}
                    aria-sort={
                      sort.column === c.id
                        ? sort.order === 'asc'
                          ? 'ascending'
                          : 'descending'
                        : 'none'
                    }
                  >
                    <button
                      className="mlbench-Experiments-sort"
                      title={
                        c.kind === 'metric'
                          ? trans.__('Sort by %1 (its last value)', c.label)
                          : trans.__('Sort by %1', c.label)
                      }
                      onClick={() => onSort(c.id)}
                    >
                      {c.label}
                      <span aria-hidden="true">
                        {sort.column === c.id
                          ? sort.order === 'asc'
                            ? ' ▲'
                            : ' ▼'
                          : ''}
                      </span>
                    </button>
                  </th>
                ))}
                {mlflowBase && (
                  <th scope="col">
                    <span className="mlbench-Experiments-srOnly">
                      {trans.__('MLflow')}
                    </span>
                  </th>
                )}
              </tr>
            </thead>
            <tbody>
              {first > 0 && (
                <tr
                  className="mlbench-Experiments-pad"
                  style={{ height: first * RUN_ROW_HEIGHT }}
                />
              )}
              {runs.slice(first, last).map(run => {
                const isSelected = selected.some(r => r.run_id === run.run_id);
                const defaults = defaultParams(run);
                return (
                  <tr
                    key={run.run_id}
                    className={isSelected ? 'jp-mod-selected' : undefined}
                    data-run-id={run.run_id}
                    style={virtual ? { height: RUN_ROW_HEIGHT } : undefined}
                  >
                    <td>
                      <input
                        type="checkbox"
                        checked={isSelected}
                        onChange={() => toggle(run)}
                        aria-label={trans.__(
                          'Compare run %1',
                          run.run_name || run.run_id
                        )}
                      />
                    </td>
                    {visible.map(c => {
                      const isDefault =
                        c.kind === 'param' && defaults.has(c.key);
                      return (
                        <td
                          key={c.id}
                          className={
                            (c.numeric ? 'mlbench-Experiments-num' : '') +
                            (isDefault ? ' mlbench-mod-default' : '')
                          }
                          data-status={
                            c.id === 'status' ? run.status.toLowerCase() : null
                          }
                          title={
                            c.id === 'run_name'
                              ? `${run.run_id}${run.job_id ? ` (job ${run.job_id})` : ''}`
                              : isDefault
                                ? trans.__("The notebook's default")
                                : undefined
                          }
                        >
                          {c.id === 'run_name' && run.job_id && onOpenJob ? (
                            <button
                              className="mlbench-Experiments-jobLink"
                              title={trans.__('Open job %1', run.job_id)}
                              onClick={() => onOpenJob(run.job_id!)}
                            >
                              {cellText(run, c)}
                            </button>
                          ) : c.id === 'status' ? (
                            runStatusLabel(run.status, trans)
                          ) : (
                            cellText(run, c)
                          )}
                        </td>
                      );
                    })}
                    {mlflowBase && (
                      <td>
                        <a
                          href={mlflowRunUrl(
                            mlflowBase,
                            run.experiment_id,
                            run.run_id
                          )}
                          target="_blank"
                          rel="noopener noreferrer"
                          title={trans.__('Open the run in the MLflow UI')}
                          aria-label={trans.__(
                            'Open run %1 in the MLflow UI',
                            run.run_name || run.run_id
                          )}
                        >
                          <launchIcon.react tag="span" />
                        </a>
                      </td>
                    )}
                  </tr>
                );
              })}
              {last < runs.length && (
                <tr
                  className="mlbench-Experiments-pad"
                  style={{ height: (runs.length - last) * RUN_ROW_HEIGHT }}
                />
              )}
            </tbody>
          </table>
        </div>
      )}
      {(page > 0 || nextCursor) && (
        <div className="mlbench-Experiments-pager">
          <button
            className="jp-mod-styled"
            disabled={page === 0}
            onClick={() => setPage(page - 1)}
          >
            {trans.__('Previous')}
          </button>
          <span aria-live="polite">{trans.__('Page %1', page + 1)}</span>
          <button
            className="jp-mod-styled"
            disabled={!nextCursor}
            onClick={goNext}
          >
            {trans.__('Next')}
          </button>
        </div>
      )}
      <RunsChart client={client} runs={selected} />
    </div>
  );
}

/**
 * Which parameter and metric columns the table shows.
 */
function ColumnChooser(props: {
  columns: IRunColumn[];
  hidden: ReadonlySet<string>;
  onChange: (hidden: ReadonlySet<string>) => void;
}): JSX.Element | null {
  const { columns, hidden, onChange } = props;
  const trans = useTrans();
  const choosable = columns.filter(c => c.id !== 'run_name');
  if (choosable.length === 0) {
    return null;
  }
  const flip = (id: string) => {
    const next = new Set(hidden);
    if (next.has(id)) {
      next.delete(id);
    } else {
      next.add(id);
    }
    onChange(next);
  };
  const group = (kind: IRunColumn['kind'], title: string) => {
    const items = choosable.filter(c => c.kind === kind);
    return items.length === 0 ? null : (
      <fieldset className="mlbench-Experiments-columnGroup">
        <legend>{title}</legend>
        {items.map(c => (
          <label key={c.id}>
            <input
              type="checkbox"
              checked={!hidden.has(c.id)}
              onChange={() => flip(c.id)}
            />
            {c.label}
          </label>
        ))}
      </fieldset>
    );
  };
  return (
    <details className="mlbench-Experiments-columns">
      <summary
        className="jp-mod-styled"
        title={trans.__('Choose the columns shown')}
      >
        {trans.__(
          'Columns (%1 of %2)',
          choosable.length -
            [...hidden].filter(id => choosable.some(c => c.id === id)).length,
          choosable.length
        )}
      </summary>
      <div className="mlbench-Experiments-columnMenu">
        <div className="mlbench-Experiments-columnActions">
          <button className="jp-mod-styled" onClick={() => onChange(new Set())}>
            {trans.__('Show all')}
          </button>
          <button
            className="jp-mod-styled"
            onClick={() =>
              onChange(
                new Set(
                  choosable.filter(c => c.kind !== 'attribute').map(c => c.id)
                )
              )
            }
          >
            {trans.__('Hide parameters and metrics')}
          </button>
        </div>
        {group('attribute', trans.__('Run'))}
        {group('param', trans.__('Parameters'))}
        {group('metric', trans.__('Metrics'))}
      </div>
    </details>
  );
}

/**
 * The selected runs on one chart per chosen metric, from the server's
 * downsampled histories.
 */
function RunsChart(props: {
  client: MlbenchClient;
  runs: IRunSummary[];
}): JSX.Element {
  const { client, runs } = props;
  const trans = useTrans();
  const keys = useMemo(() => metricKeys(runs), [runs]);
  // null: the default choice (a loss and one more)
  const [chosen, setChosen] = useState<string[] | null>(null);
  const [xChoice, setXChoice] = useState<XAxisMode | 'auto'>('auto');
  const [maxPoints, setMaxPoints] = useState(POINTS_CHOICES[0]);
  const [history, setHistory] = useState<IMetricSeries[]>([]);
  const [error, setError] = useState('');
  const [loading, setLoading] = useState(false);
  const request = useRef(0);
  const metrics = useMemo(
    () =>
      chosen === null
        ? defaultChartMetrics(keys)
        : chosen.filter(k => keys.includes(k)),
    [chosen, keys]
  );
  const runIds = runs.map(r => r.run_id).join(',');
  const metricsKey = metrics.join('\n');

  useEffect(() => {
    if (metrics.length === 0 || runs.length === 0) {
      setHistory([]);
      return;
    }
    const id = ++request.current;
    setLoading(true);
    client
      .metricHistory({
        run_id: runs.map(r => r.run_id),
        key: metrics,
        max_points: maxPoints
      })
      .then(result => {
        if (id === request.current) {
          setHistory(result.series);
          setError('');
        }
      })
      .catch(reason => {
        if (id === request.current) {
          setError(errorMessage(reason));
        }
      })
      .finally(() => {
        if (id === request.current) {
          setLoading(false);
        }
      });
    // runIds stands for runs: refreshed summaries of the same runs do not
    // refetch the histories.
  }, [client, runIds, metricsKey, maxPoints]);

  const charts = useMemo(
    () =>
      metrics.map(key => ({ key, series: chartSeries(runs, history, key) })),
    [history, runIds, metricsKey]
  );
  const autoAxis = useMemo(
    () =>
      preferredXAxis(
        ([] as IChartSeriesInput[]).concat(...charts.map(c => c.series))
      ),
    [charts]
  );
  const xAxis = xChoice === 'auto' ? autoAxis : xChoice;

  const flip = (key: string) =>
    setChosen(
      metrics.includes(key) ? metrics.filter(k => k !== key) : [...metrics, key]
    );

  if (runs.length === 0) {
    return (
      <div className="mlbench-Experiments-chartHint">
        {trans.__('Select runs to compare them on metric charts.')}
      </div>
    );
  }
  return (
    <div className="mlbench-Experiments-chart" aria-busy={loading}>
      <div className="mlbench-Experiments-chartControls">
        <fieldset
          className="mlbench-Experiments-metricChoice"
          aria-label={trans.__('Metrics to chart')}
        >
          <legend>{trans.__('Metrics')}</legend>
          {keys.map(k => (
            <label key={k}>
              <input
                type="checkbox"
                checked={metrics.includes(k)}
                onChange={() => flip(k)}
              />
              {k}
            </label>
          ))}
        </fieldset>
        <label>
          <span>{trans.__('X axis')}</span>
          <select
            className="jp-mod-styled"
            value={xChoice}
            onChange={e => setXChoice(e.target.value as XAxisMode | 'auto')}
          >
            <option value="auto">
              {autoAxis === 'step'
                ? trans.__('Auto (step)')
                : trans.__('Auto (relative time)')}
            </option>
            <option value="step">{trans.__('Step')}</option>
            <option value="relative">{trans.__('Relative time')}</option>
            <option value="wall">{trans.__('Wall time')}</option>
          </select>
        </label>
        <label>
          <span>{trans.__('Points per run')}</span>
          <select
            className="jp-mod-styled"
            value={maxPoints}
            onChange={e => setMaxPoints(Number(e.target.value))}
          >
            {POINTS_CHOICES.map(n => (
              <option key={n} value={n}>
                {n.toLocaleString('en-US')}
              </option>
            ))}
          </select>
        </label>
      </div>
      {error && (
        <div className="mlbench-Experiments-error" role="alert">
          {error}
        </div>
      )}
      {keys.length === 0 && (
        <div className="mlbench-Experiments-empty">
          {trans.__('The selected runs have no metrics.')}
        </div>
      )}
      <div className="mlbench-Experiments-charts">
        {charts.map(({ key, series }) => (
          <div
            key={key}
            className="mlbench-Experiments-chartCell"
            data-metric={key}
          >
            <div className="mlbench-Experiments-chartTitle">{key}</div>
            {series.length > 0 && series.every(x => x.steps.length <= 1) ? (
              <SingleValues series={series} metric={key} />
            ) : series.length > 0 ? (
              <MetricChart
                series={series}
                xAxis={xAxis}
                yLabel={key}
                label={trans._n(
                  '%2 of %1 run',
                  '%2 of %1 runs',
                  series.length,
                  key
                )}
              />
            ) : (
              <div className="mlbench-Experiments-empty">
                {loading ? trans.__('Loading…') : trans.__('No points.')}
              </div>
            )}
          </div>
        ))}
      </div>
      {history.length > 0 && (
        <div className="mlbench-Experiments-chartNote">
          {downsamplingNote(history)}
        </div>
      )}
    </div>
  );
}

/**
 * A metric each run logged once (a final score): its values side by side,
 * with bars from the smallest to the largest, not a chart of dots.
 */
function SingleValues(props: {
  series: IChartSeriesInput[];
  metric: string;
}): JSX.Element {
  const { series, metric } = props;
  const trans = useTrans();
  const values = series.map(s => (s.values.length ? s.values[0] : null));
  const finite = values.filter((v): v is number => v !== null);
  const max = finite.length ? Math.max(...finite.map(Math.abs)) : 0;
  return (
    <table
      className="mlbench-Experiments-values"
      aria-label={trans.__('%1 of each run', metric)}
    >
      <tbody>
        {series.map((s, i) => {
          const v = values[i];
          return (
            <tr key={s.label}>
              <th scope="row">{s.label}</th>
              <td className="mlbench-Experiments-num">{formatValue(v)}</td>
              <td style={{ width: '50%' }}>
                {v !== null && max > 0 && (
                  <div
                    className="mlbench-Experiments-valueBar"
                    style={{ width: `${(100 * Math.abs(v)) / max}%` }}
                  />
                )}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/**
 * Provide `translator`'s mlbench bundle to the children when one is given,
 * else keep the sidebar's.
 */
function MaybeTranslator(props: {
  translator?: ITranslator;
  children: React.ReactNode;
}): JSX.Element {
  const bundle = useMemo(
    () => props.translator?.load('mlbench'),
    [props.translator]
  );
  return bundle ? (
    <TranslationContext.Provider value={bundle}>
      {props.children}
    </TranslationContext.Provider>
  ) : (
    <>{props.children}</>
  );
}
