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
  IExperimentSummary,
  IMetricSeries,
  IRunSummary,
  MlbenchClient,
  errorMessage
} from '../api';
import { XAxisMode, preferredXAxis } from '../components/chart-data';
import { MetricChart } from '../components/metric-chart';
import {
  ListStates,
  ListToolbar,
  usePagedList
} from '../components/paged-list';
import { TranslationContext, useTrans } from '../i18n';
import {
  DEFAULT_SORT,
  IRunSort,
  cellText,
  chartSeries,
  defaultMetric,
  downsamplingNote,
  formatTime,
  metricKeys,
  mlflowRunUrl,
  mlflowUiBase,
  nextSort,
  runColumns,
  sortRuns
} from './model';

/**
 * Runs per page of the runs table.
 */
export const RUNS_PAGE_SIZE = 50;

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
          <ExperimentList client={client} onOpen={setExperiment} />
        ) : (
          <RunsView
            client={client}
            experiment={experiment}
            mlflowBase={mlflowBase}
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
        items={items}
        loading={trans.__('Loading experiments…')}
        empty={trans.__(
          'No experiments yet: every job records an MLflow run in one.'
        )}
      />
      {items !== null && items.length > 0 && (
        <ul
          className="mlbench-Experiments-items"
          aria-label={trans.__('Experiments')}
        >
          {items.map(e => (
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
 * One experiment's runs (a page at a time, sorted by the server) and the
 * comparison chart of the selected ones.
 */
function RunsView(props: {
  client: MlbenchClient;
  experiment: IExperimentSummary;
  mlflowBase: string;
  onBack: () => void;
}): JSX.Element {
  const { client, experiment, mlflowBase, onBack } = props;
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
  const request = useRef(0);

  const load = useCallback(async () => {
    const id = ++request.current;
    try {
      const result = await client.listRuns(experiment.experiment_id, {
        sort: sort.column,
        order: sort.order,
        limit: RUNS_PAGE_SIZE,
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
  }, [client, experiment.experiment_id, sort, cursors, page]);

  useEffect(() => {
    void load();
  }, [load]);

  const columns = useMemo(() => runColumns(runs ?? [], trans), [runs, trans]);

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
        <button
          className="jp-mod-styled mlbench-Experiments-iconButton"
          title={trans.__('Back to the experiments')}
          aria-label={trans.__('Back to the experiments')}
          onClick={onBack}
        >
          <caretLeftIcon.react tag="span" />
        </button>
        <h3 className="mlbench-Experiments-title" title={experiment.name}>
          {experiment.name}
        </h3>
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
        <div className="mlbench-Experiments-tableWrap">
          <table
            className="mlbench-Experiments-table"
            aria-label={trans.__('Runs of %1', experiment.name)}
          >
            <thead>
              <tr>
                <th scope="col">
                  <span className="mlbench-Experiments-srOnly">
                    {trans.__('Compare')}
                  </span>
                </th>
                {columns.map(c => (
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
                      title={trans.__('Sort by %1', c.label)}
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
              {runs.map(run => {
                const isSelected = selected.some(r => r.run_id === run.run_id);
                return (
                  <tr
                    key={run.run_id}
                    className={isSelected ? 'jp-mod-selected' : undefined}
                    data-run-id={run.run_id}
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
                    {columns.map(c => (
                      <td
                        key={c.id}
                        className={
                          c.numeric ? 'mlbench-Experiments-num' : undefined
                        }
                        data-status={
                          c.id === 'status' ? run.status.toLowerCase() : null
                        }
                        title={
                          c.id === 'run_name'
                            ? `${run.run_id}${run.job_id ? ` (job ${run.job_id})` : ''}`
                            : undefined
                        }
                      >
                        {cellText(run, c)}
                      </td>
                    ))}
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
 * The selected runs on one metric, from the server's downsampled histories.
 */
function RunsChart(props: {
  client: MlbenchClient;
  runs: IRunSummary[];
}): JSX.Element {
  const { client, runs } = props;
  const trans = useTrans();
  const keys = useMemo(() => metricKeys(runs), [runs]);
  const [metric, setMetric] = useState('');
  const [xChoice, setXChoice] = useState<XAxisMode | 'auto'>('auto');
  const [maxPoints, setMaxPoints] = useState(POINTS_CHOICES[0]);
  const [history, setHistory] = useState<IMetricSeries[]>([]);
  const [error, setError] = useState('');
  const [loading, setLoading] = useState(false);
  const request = useRef(0);
  const key = keys.includes(metric) ? metric : defaultMetric(keys);
  const runIds = runs.map(r => r.run_id).join(',');

  useEffect(() => {
    if (!key || runs.length === 0) {
      setHistory([]);
      return;
    }
    const id = ++request.current;
    setLoading(true);
    client
      .metricHistory({
        run_id: runs.map(r => r.run_id),
        key: [key],
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
  }, [client, runIds, key, maxPoints]);

  const series = useMemo(
    () => chartSeries(runs, history, key),
    [history, runIds, key]
  );
  const autoAxis = useMemo(() => preferredXAxis(series), [series]);
  const xAxis = xChoice === 'auto' ? autoAxis : xChoice;

  if (runs.length === 0) {
    return (
      <div className="mlbench-Experiments-chartHint">
        {trans.__('Select runs to compare them on a metric chart.')}
      </div>
    );
  }
  return (
    <div className="mlbench-Experiments-chart" aria-busy={loading}>
      <div className="mlbench-Experiments-chartControls">
        <label>
          <span>{trans.__('Metric')}</span>
          <select
            className="jp-mod-styled"
            value={key}
            onChange={e => setMetric(e.target.value)}
          >
            {keys.map(k => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </label>
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
      {!key && (
        <div className="mlbench-Experiments-empty">
          {trans.__('The selected runs have no metrics.')}
        </div>
      )}
      {key && series.length > 0 && (
        <>
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
          <div className="mlbench-Experiments-chartNote">
            {downsamplingNote(history)}
          </div>
        </>
      )}
    </div>
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
