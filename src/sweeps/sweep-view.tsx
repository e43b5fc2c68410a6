/**
 * The sweep view in the main area: status and cancel, the trial table
 * (virtualized: 1,000 trials keep ~30 rows in the DOM), parallel coordinates
 * and the primary metric's curves.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import { TranslationBundle, nullTranslator } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import React, {
  useCallback,
  useMemo,
  useRef,
  useState,
  useSyncExternalStore
} from 'react';

import {
  EventStream,
  ISweep,
  ITrial,
  MlbenchClient,
  isSweepFinal
} from '../api';
import { TranslationContext, useTrans } from '../i18n';
import { mlbenchIcon } from '../icons';
import { formatTime } from '../jobs/format';
import { StatusBadge, visibleRange } from '../jobs/jobs-list';
import {
  IColumn,
  ISort,
  bestTrialIndex,
  buildAxes,
  cellText,
  cellValue,
  defaultSort,
  goalOf,
  sortTrials,
  terminationText,
  trialColumns,
  trialProgress
} from './model';
import { ParallelCoordinates, TrialCurves } from './plots';
import { MAX_CURVES, SweepViewModel } from './store';

export const TRIAL_ROW_HEIGHT = 26;
const TABLE_HEIGHT = 360;

/**
 * What the view's buttons and rows do (wired to the plugin's commands).
 */
export interface ISweepActions {
  openJob(jobId: string): void;
  cancel(sweep: ISweep): void;
  delete(sweep: ISweep): void;
}

export function SweepStatusBadge(props: {
  status: ISweep['status'];
}): JSX.Element {
  return <StatusBadge status={props.status} />;
}

function useModel(model: SweepViewModel): number {
  const subscribe = useCallback(
    (onChange: () => void) => {
      model.changed.connect(onChange);
      return () => {
        model.changed.disconnect(onChange);
      };
    },
    [model]
  );
  return useSyncExternalStore(subscribe, () => model.version);
}

/**
 * Every trial, every parameter and metric as a column, sortable by any.
 */
export function TrialTable(props: {
  trials: ITrial[];
  columns: IColumn[];
  best: number | null;
  sort: ISort;
  onSort(sort: ISort): void;
  onOpen(trial: ITrial): void;
}): JSX.Element {
  const { trials, columns, best, sort, onSort, onOpen } = props;
  const trans = useTrans();
  const sorted = useMemo(
    () => sortTrials(trials, columns, sort),
    [trials, columns, sort]
  );
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [first, last] = visibleRange(
    scrollTop,
    TABLE_HEIGHT,
    sorted.length,
    TRIAL_ROW_HEIGHT,
    8
  );
  const header = (
    <tr>
      {columns.map(c => {
        const active = sort.column === c.id;
        return (
          <th
            key={c.id}
            scope="col"
            data-column={c.id}
            className={`mlbench-TrialTable-${c.kind}`}
            aria-sort={
              active ? (sort.descending ? 'descending' : 'ascending') : 'none'
            }
          >
            <button
              type="button"
              title={trans.__('Sort by %1', c.label)}
              onClick={() =>
                onSort({
                  column: c.id,
                  descending: active ? !sort.descending : c.kind !== 'index'
                })
              }
            >
              {c.kind === 'status' ? trans.__('status') : c.label}
              {active ? (sort.descending ? ' ▾' : ' ▴') : ''}
            </button>
          </th>
        );
      })}
    </tr>
  );
  const rows: JSX.Element[] = [];
  for (let i = first; i < last; i++) {
    const t = sorted[i];
    const stopped = t.status === 'early_terminated';
    rows.push(
      <tr
        key={t.index}
        data-trial={t.index}
        data-status={t.status}
        className={
          'mlbench-TrialTable-row' +
          (t.index === best ? ' mlbench-mod-best' : '')
        }
        style={{ height: TRIAL_ROW_HEIGHT }}
        tabIndex={0}
        aria-label={trans.__('Trial %1', t.index)}
        onClick={() => onOpen(t)}
        onKeyDown={event => {
          if (event.key === 'Enter') {
            onOpen(t);
          }
        }}
      >
        {columns.map(c => {
          if (c.kind === 'status') {
            return (
              <td
                key={c.id}
                title={stopped ? terminationText(t) : undefined}
                className="mlbench-TrialTable-status"
              >
                <StatusBadge status={t.status} />
              </td>
            );
          }
          const text = cellText(cellValue(t, c));
          return (
            <td key={c.id} className={`mlbench-TrialTable-${c.kind}`}>
              {c.kind === 'index' && t.index === best ? (
                <span title={trans.__('Best trial')}>★ {text}</span>
              ) : (
                text
              )}
            </td>
          );
        })}
      </tr>
    );
  }
  return (
    <div
      className="mlbench-TrialTable"
      ref={scroller}
      style={{ maxHeight: TABLE_HEIGHT }}
      onScroll={event => setScrollTop(event.currentTarget.scrollTop)}
    >
      <table aria-label={trans.__('Trials')} aria-rowcount={sorted.length + 1}>
        <thead>{header}</thead>
        <tbody>
          {first > 0 && (
            <tr
              className="mlbench-TrialTable-pad"
              style={{ height: first * TRIAL_ROW_HEIGHT }}
            />
          )}
          {rows}
          {last < sorted.length && (
            <tr
              className="mlbench-TrialTable-pad"
              style={{ height: (sorted.length - last) * TRIAL_ROW_HEIGHT }}
            />
          )}
        </tbody>
      </table>
    </div>
  );
}

function Counts(props: { sweep: ISweep }): JSX.Element {
  const trans = useTrans();
  const c = props.sweep.counts;
  const parts: string[] = [];
  const add = (n: number | undefined, label: string) => {
    if (n) {
      parts.push(`${n} ${label}`);
    }
  };
  add(c.running, trans.__('running'));
  add(c.queued, trans.__('queued'));
  add(c.completed, trans.__('completed'));
  add(c.early_terminated, trans.__('stopped early'));
  add(c.failed, trans.__('failed'));
  add(c.canceled, trans.__('canceled'));
  return <span className="mlbench-SweepView-counts">{parts.join(' · ')}</span>;
}

export function SweepDetail(props: {
  model: SweepViewModel;
  actions: ISweepActions;
}): JSX.Element {
  const { model, actions } = props;
  const trans = useTrans();
  useModel(model);
  const sweep = model.sweep;
  const trials = model.trials;
  const [sort, setSort] = useState<ISort | null>(null);
  const columns = useMemo(
    () => (sweep ? trialColumns(sweep, trials) : []),
    [sweep, trials]
  );
  const axes = useMemo(
    () => (sweep ? buildAxes(sweep, trials) : []),
    [sweep, trials]
  );
  const curveTrials = useMemo(() => model.curveTrials(), [model, trials]);
  if (!sweep) {
    return (
      <div className="mlbench-JobView-loading" role="status">
        {model.error || trans.__('Loading sweep...')}
      </div>
    );
  }
  const goal = goalOf(sweep);
  const best = bestTrialIndex(sweep, trials);
  const { done, total } = trialProgress(sweep);
  const final = isSweepFinal(sweep.status);
  const open = (t: ITrial) => actions.openJob(t.job_id);
  const metric = sweep.spec.objective.primary_metric;
  const policy = sweep.spec.early_termination;
  return (
    <div className="mlbench-SweepView-content" data-sweep-id={sweep.id}>
      <div className="mlbench-JobView-header">
        <h2 className="mlbench-JobView-title">{sweep.display_name}</h2>
        <SweepStatusBadge status={sweep.status} />
        <span className="mlbench-JobView-reason">{sweep.status_reason}</span>
        <span className="mlbench-JobView-buttons">
          {!final && (
            <button
              type="button"
              className="jp-mod-styled jp-mod-warn"
              aria-label={trans.__('Cancel this sweep')}
              disabled={sweep.cancel_requested}
              title={
                sweep.cancel_requested
                  ? trans.__('Cancel requested: running trials are stopping')
                  : trans.__('No new trials; running ones are interrupted')
              }
              onClick={() => actions.cancel(sweep)}
            >
              {trans.__('Cancel')}
            </button>
          )}
          {final && (
            <button
              type="button"
              className="jp-mod-styled jp-mod-reject"
              aria-label={trans.__('Delete this sweep')}
              onClick={() => actions.delete(sweep)}
            >
              {trans.__('Delete')}
            </button>
          )}
        </span>
      </div>
      <dl className="mlbench-JobView-fields">
        <dt>{trans.__('Trials')}</dt>
        <dd className="mlbench-SweepView-trials">
          {trans.__('%1 of %2 done', done, total)} <Counts sweep={sweep} />
        </dd>
        <dt>{trans.__('Objective')}</dt>
        <dd>
          {trans.__('%1 %2', goal, metric)}
          {best !== null && (
            <span className="mlbench-SweepView-best">
              {' '}
              {trans.__(
                '· best %1 (trial %2)',
                cellText(
                  sweep.best_value ?? trials.find(t => t.index === best)?.value
                ),
                best
              )}
            </span>
          )}
        </dd>
        <dt>{trans.__('Sampling')}</dt>
        <dd>
          {sweep.spec.sampling_algorithm?.type ?? trans.__('random')}
          {policy
            ? ` · ${trans.__('early termination: %1', policy.type)}`
            : ` · ${trans.__('no early termination')}`}
        </dd>
        <dt>{trans.__('Notebook')}</dt>
        <dd>{sweep.notebook_relpath ?? sweep.notebook_path}</dd>
        <dt>{trans.__('Compute')}</dt>
        <dd>{sweep.compute}</dd>
        <dt>{trans.__('Experiment')}</dt>
        <dd>{sweep.experiment}</dd>
        <dt>{trans.__('Created')}</dt>
        <dd>{formatTime(sweep.created_at)}</dd>
        <dt>{trans.__('Sweep')}</dt>
        <dd>{sweep.id}</dd>
      </dl>

      <section
        className="mlbench-JobView-section"
        aria-label={trans.__('Trials')}
      >
        <h3>{trans.__('Trials')}</h3>
        {trials.length ? (
          <TrialTable
            trials={trials}
            columns={columns}
            best={best}
            sort={sort ?? defaultSort(sweep)}
            onSort={setSort}
            onOpen={open}
          />
        ) : (
          <div className="mlbench-Section-empty">
            {trans.__('No trial has started yet.')}
          </div>
        )}
      </section>

      {trials.length > 0 && (
        <section
          className="mlbench-JobView-section"
          aria-label={trans.__('Parameters and objective')}
        >
          <h3>{trans.__('Parameters and objective')}</h3>
          <ParallelCoordinates
            axes={axes}
            trials={trials}
            goal={goal}
            best={best}
            onOpen={open}
          />
        </section>
      )}

      {trials.length > 0 && (
        <section
          className="mlbench-JobView-section"
          aria-label={trans.__('%1 by step', metric)}
        >
          <h3>
            {trans.__('%1 by step', metric)}
            {trials.length > MAX_CURVES && (
              <span className="mlbench-SweepView-note">
                {' '}
                {trans.__(
                  '(the best %1 of %2 trials)',
                  MAX_CURVES,
                  trials.length
                )}
              </span>
            )}
          </h3>
          <TrialCurves
            trials={curveTrials}
            curves={model.curves}
            metric={metric}
            goal={goal}
            best={best}
            onOpen={open}
          />
          <div className="mlbench-SweepView-legend">
            <span className="mlbench-SweepView-legendBest">
              {trans.__('best trial')}
            </span>
            <span className="mlbench-SweepView-legendStopped">
              {trans.__('stopped early (×)')}
            </span>
            <span>{trans.__('colour: worst → best objective')}</span>
          </div>
        </section>
      )}
    </div>
  );
}

/**
 * The main-area widget of one sweep.
 */
export class SweepView extends MainAreaWidget<ReactWidget> {
  constructor(options: {
    client: MlbenchClient;
    stream: EventStream;
    sweepId: string;
    actions: ISweepActions;
    trans?: TranslationBundle;
  }) {
    const trans = options.trans ?? nullTranslator.load('mlbench');
    const model = new SweepViewModel(
      options.client,
      options.sweepId,
      options.stream
    );
    const content = ReactWidget.create(
      <TranslationContext.Provider value={trans}>
        <SweepDetail model={model} actions={options.actions} />
      </TranslationContext.Provider>
    );
    content.addClass('mlbench-SweepView');
    super({ content });
    this.model = model;
    this.id = `mlbench-sweep-${options.sweepId}`;
    this.title.label = trans.__('Sweep %1', options.sweepId.slice(0, 8));
    this.title.icon = mlbenchIcon;
    this.title.closable = true;
    model.changed.connect(() => {
      const sweep = model.sweep;
      if (sweep) {
        this.title.label = `${sweep.display_name} (${sweep.status})`;
        this.title.caption = trans.__('mlbench sweep %1', sweep.id);
      }
    });
    void model.load();
  }

  readonly model: SweepViewModel;

  dispose(): void {
    this.model.dispose();
    super.dispose();
  }
}
