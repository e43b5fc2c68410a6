/**
 * The Jobs section: a filterable, virtualized list (only the rows in view
 * are in the DOM, so 10,000 jobs scroll as smoothly as 10).
 */
import React, {
  useCallback,
  useEffect,
  useRef,
  useState,
  useSyncExternalStore
} from 'react';

import { IJob, JOB_STATUSES, JobStatus, isFinal } from '../api';
import { useTrans } from '../i18n';
import { jobDuration, jobTitle, statusLabel } from './format';
import { jobDistinction } from './job-model';
import { JobsStore, progressFraction } from './jobs-store';

export const ROW_HEIGHT = 66;
const OVERSCAN = 6;

/**
 * What a row's buttons do (wired to the plugin's commands).
 */
export interface IJobActions {
  open(job: IJob): void;
  logs(job: IJob): void;
  output(job: IJob): void;
  cancel(job: IJob): void;
  rerun(job: IJob): void;
  /** Rerun in the submit form, filled with the job's values. */
  rerunWithChanges(job: IJob): void;
  delete(job: IJob): void;
  /** An AutoML job's leaderboard (the job view offers it for those). */
  leaderboard?(job: IJob): void;
  /** A Responsible AI report job's page. */
  report?(job: IJob): void;
}

/**
 * The first and last (exclusive) rows to render for a scroll position.
 */
export function visibleRange(
  scrollTop: number,
  viewport: number,
  count: number,
  rowHeight = ROW_HEIGHT,
  overscan = OVERSCAN
): [number, number] {
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(
    count,
    Math.ceil((scrollTop + viewport) / rowHeight) + overscan
  );
  return [first, Math.max(first, last)];
}

export function StatusBadge(props: { status: JobStatus }): JSX.Element {
  const trans = useTrans();
  return (
    <span
      className={`mlbench-StatusBadge mlbench-mod-${props.status}`}
      data-status={props.status}
    >
      {statusLabel(trans, props.status)}
    </span>
  );
}

export function ProgressBar(props: { job: IJob }): JSX.Element {
  const { job } = props;
  const trans = useTrans();
  const fraction = progressFraction(job);
  const { cell_index, cell_count } = job.progress;
  const label = cell_count
    ? trans.__(
        'cell %1 of %2',
        Math.min(
          (cell_index ?? 0) + (job.status === 'running' ? 1 : 0),
          cell_count
        ),
        cell_count
      )
    : trans.__('not started');
  return (
    <div
      className={`mlbench-Progress mlbench-mod-${job.status}`}
      role="progressbar"
      aria-label={trans.__('Progress: %1', label)}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={Math.round(fraction * 100)}
      title={label}
    >
      <div
        className="mlbench-Progress-fill"
        style={{ width: `${(fraction * 100).toFixed(1)}%` }}
      />
    </div>
  );
}

function ActionButton(props: {
  label: string;
  text: string;
  onClick: () => void;
  className?: string;
}): JSX.Element {
  return (
    <button
      type="button"
      className={`mlbench-RowAction ${props.className ?? ''}`}
      aria-label={props.label}
      title={props.label}
      onClick={event => {
        event.stopPropagation();
        props.onClick();
      }}
      onKeyDown={event => event.stopPropagation()}
    >
      {props.text}
    </button>
  );
}

function JobRow(props: {
  job: IJob;
  top: number;
  now: number;
  actions: IJobActions;
}): JSX.Element {
  const { job, actions } = props;
  const trans = useTrans();
  const title = jobTitle(job);
  const final = isFinal(job.status);
  return (
    <div
      className="mlbench-JobRow"
      role="listitem"
      tabIndex={0}
      data-job-id={job.id}
      data-status={job.status}
      aria-label={trans.__('Job %1, %2', title, statusLabel(trans, job.status))}
      style={{ top: props.top, height: ROW_HEIGHT }}
      onClick={() => actions.open(job)}
      onKeyDown={event => {
        if (event.key === 'Enter') {
          actions.open(job);
        }
      }}
    >
      <div className="mlbench-JobRow-line">
        <StatusBadge status={job.status} />
        <span className="mlbench-JobRow-title" title={job.notebook_path}>
          {title}
        </span>
        <span className="mlbench-JobRow-duration">
          {jobDuration(job, props.now)}
        </span>
      </div>
      <div className="mlbench-JobRow-meta" title={job.status_reason}>
        {Object.keys(job.parameters ?? {}).length > 0 && (
          <span className="mlbench-JobRow-params">
            {jobDistinction(job, 32)} ·{' '}
          </span>
        )}
        {job.compute} · {job.experiment} · {job.id.slice(0, 8)}
        {job.status_reason && !final ? ` · ${job.status_reason}` : ''}
      </div>
      <div className="mlbench-JobRow-line">
        <ProgressBar job={job} />
        <span className="mlbench-JobRow-actions">
          {!final && (
            <ActionButton
              label={trans.__('Cancel job %1', title)}
              text={trans.__('Cancel')}
              className="mlbench-mod-cancel"
              onClick={() => actions.cancel(job)}
            />
          )}
          <ActionButton
            label={trans.__('Show logs of job %1', title)}
            text={trans.__('Logs')}
            onClick={() => actions.logs(job)}
          />
          {(job.status === 'completed' || job.status === 'failed') && (
            <ActionButton
              label={trans.__('Open output notebook of job %1', title)}
              text={trans.__('Output')}
              onClick={() => actions.output(job)}
            />
          )}
          <ActionButton
            label={trans.__('Rerun job %1', title)}
            text={trans.__('Rerun')}
            onClick={() => actions.rerun(job)}
          />
          {final && (
            <ActionButton
              label={trans.__('Delete job %1', title)}
              text={trans.__('Delete')}
              className="mlbench-mod-delete"
              onClick={() => actions.delete(job)}
            />
          )}
        </span>
      </div>
    </div>
  );
}

/**
 * Re-render on every store change (the store itself memoizes the lists).
 * React renders external-store changes at once, not queued behind other
 * work: the first page of jobs shows while JupyterLab is still starting.
 */
export function useStore(store: JobsStore): number {
  const subscribe = useCallback(
    (onChange: () => void) => {
      store.changed.connect(onChange);
      return () => {
        store.changed.disconnect(onChange);
      };
    },
    [store]
  );
  return useSyncExternalStore(subscribe, () => store.version);
}

export function JobsSection(props: {
  store: JobsStore;
  actions: IJobActions;
}): JSX.Element {
  const { store, actions } = props;
  const trans = useTrans();
  useStore(store);
  const jobs = store.visible();
  const filter = store.filter;
  const counts = store.counts();
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(400);
  const [now, setNow] = useState(Date.now());

  // One clock for every visible duration, ticking only while jobs run.
  const active = counts.running + counts.starting + counts.queued > 0;
  useEffect(() => {
    if (!active) {
      return;
    }
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [active]);

  useEffect(() => {
    const node = scroller.current;
    if (!node) {
      return;
    }
    const observer = new ResizeObserver(() => setViewport(node.clientHeight));
    observer.observe(node);
    setViewport(node.clientHeight);
    return () => observer.disconnect();
  }, []);

  const onScroll = useCallback(
    (event: React.UIEvent<HTMLDivElement>) =>
      setScrollTop(event.currentTarget.scrollTop),
    []
  );

  const toggleStatus = (status: JobStatus) => {
    const statuses = filter.statuses.includes(status)
      ? filter.statuses.filter(s => s !== status)
      : [...filter.statuses, status];
    store.filter = { ...filter, statuses };
  };

  const [first, last] = visibleRange(scrollTop, viewport, jobs.length);
  const rows: JSX.Element[] = [];
  for (let i = first; i < last; i++) {
    rows.push(
      <JobRow
        key={jobs[i].id}
        job={jobs[i]}
        top={i * ROW_HEIGHT}
        now={now}
        actions={actions}
      />
    );
  }

  return (
    <div className="mlbench-Jobs">
      <div className="mlbench-JobsFilter">
        <input
          type="search"
          className="mlbench-JobsFilter-text jp-mod-styled"
          placeholder={trans.__('Filter jobs')}
          aria-label={trans.__('Filter jobs by text')}
          value={filter.text}
          onChange={event =>
            (store.filter = { ...filter, text: event.target.value })
          }
        />
        <div
          className="mlbench-JobsFilter-statuses"
          role="group"
          aria-label={trans.__('Filter jobs by status')}
        >
          {JOB_STATUSES.map(status => (
            <button
              key={status}
              type="button"
              className={`mlbench-StatusChip mlbench-mod-${status}`}
              aria-pressed={filter.statuses.includes(status)}
              aria-label={trans.__(
                'Show %1 jobs (%2)',
                statusLabel(trans, status),
                counts[status]
              )}
              data-status={status}
              onClick={() => toggleStatus(status)}
            >
              {statusLabel(trans, status)} {counts[status]}
            </button>
          ))}
        </div>
      </div>
      {store.error && (
        <div className="mlbench-Section-error" role="alert">
          {store.error}
        </div>
      )}
      <div
        className="mlbench-JobsList"
        ref={scroller}
        onScroll={onScroll}
        role="list"
        aria-label={trans.__('Jobs')}
        aria-busy={store.loading}
      >
        {!jobs.length && !store.loading && (
          <div className="mlbench-Section-empty">
            {store.size
              ? trans.__('No job matches the filter.')
              : trans.__('No jobs yet: use "Run as job..." on a notebook.')}
          </div>
        )}
        <div
          className="mlbench-JobsList-spacer"
          style={{ height: jobs.length * ROW_HEIGHT }}
        >
          {rows}
        </div>
      </div>
      <div className="mlbench-JobsFooter" aria-live="polite">
        {store.loading
          ? trans.__('Loading jobs...')
          : trans._n('%2 of %1 job', '%2 of %1 jobs', store.size, jobs.length)}
      </div>
    </div>
  );
}
