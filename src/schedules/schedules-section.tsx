import { Dialog, showDialog } from '@jupyterlab/apputils';
import React, { useCallback, useEffect, useRef, useState } from 'react';

import {
  EventStream,
  IJobEvent,
  ISchedule,
  IScheduleRun,
  JobStatus,
  MlbenchClient,
  errorMessage
} from '../api';
import { useTrans } from '../i18n';
import { ruleInWords, runState, wallTime } from './model';

// A command, the same in every language.
const CREATE_COMMAND =
  "mlbench schedule create NAME -n NB.ipynb --cron '0 2 * * *'";
/** Last runs shown per schedule. */
export const RUNS_SHOWN = 3;
const RELOAD_DELAY_MS = 200;
/**
 * How often the list is read again while shown: a schedule created, paused
 * or deleted elsewhere (the CLI, the SDK, REST) sends no event.
 */
export const SCHEDULES_POLL_MS = 15000;

interface IEntry {
  info: ISchedule;
  runs: IScheduleRun[];
}

/**
 * The Schedules section of the mlbench sidebar: each schedule's rule in
 * words, its next run on the schedule's own wall clock, its last runs with
 * their status (the job's, once it started one), and pause, resume and
 * delete. Live from the event stream: a fired, failed or missed tick, and
 * the status of the jobs it shows.
 */
export function SchedulesSection(props: {
  client: MlbenchClient;
  stream?: EventStream;
  onOpenJob?: (id: string) => void;
  /** Opens the notification rules (who hears of failed and missed runs). */
  onOpenNotifications?: () => void;
}): JSX.Element {
  const { client, stream, onOpenJob, onOpenNotifications } = props;
  const trans = useTrans();
  const [entries, setEntries] = useState<IEntry[] | null>(null);
  const [jobs, setJobs] = useState<ReadonlyMap<string, JobStatus>>(new Map());
  const [error, setError] = useState('');
  const [busy, setBusy] = useState<string | null>(null);
  const request = useRef(0);
  const shownJobs = useRef(new Set<string>());

  const load = useCallback(async () => {
    const id = ++request.current;
    try {
      const list = await client.listSchedules();
      const loaded = await Promise.all(
        list.items.map(async info => ({
          info,
          runs: (await client.scheduleRuns(info.id, RUNS_SHOWN)).items
        }))
      );
      const targets: string[] = [];
      for (const entry of loaded) {
        for (const run of entry.runs) {
          if (
            run.status === 'submitted' &&
            run.kind === 'job' &&
            run.target_id
          ) {
            targets.push(run.target_id);
          }
        }
      }
      const statuses = new Map<string, JobStatus>();
      await Promise.all(
        targets.map(async target => {
          try {
            statuses.set(target, (await client.getJob(target)).status);
          } catch {
            // a deleted job: the run's own state is shown
          }
        })
      );
      if (id === request.current) {
        shownJobs.current = new Set(targets);
        setEntries(loaded);
        setJobs(statuses);
        setError('');
      }
    } catch (reason) {
      if (id === request.current) {
        setError(errorMessage(reason));
      }
    }
  }, [client]);

  useEffect(() => {
    void load();
  }, [load]);

  useEffect(() => {
    const timer = setInterval(() => {
      if (document.visibilityState !== 'hidden') {
        void load();
      }
    }, SCHEDULES_POLL_MS);
    return () => clearInterval(timer);
  }, [load]);

  useEffect(() => {
    if (!stream) {
      return;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const later = () => {
      clearTimeout(timer);
      timer = setTimeout(() => void load(), RELOAD_DELAY_MS);
    };
    const onEvent = (_: EventStream, event: IJobEvent) => {
      if (event.kind === 'schedule') {
        later();
      } else if (
        event.kind === 'status' &&
        shownJobs.current.has(event.job_id) &&
        typeof event.data.status === 'string'
      ) {
        const status = event.data.status as JobStatus;
        setJobs(old => new Map(old).set(event.job_id, status));
      }
    };
    stream.event.connect(onEvent);
    stream.reset.connect(later);
    return () => {
      clearTimeout(timer);
      stream.event.disconnect(onEvent);
      stream.reset.disconnect(later);
    };
  }, [stream, load]);

  const act = async (info: ISchedule, what: 'pause' | 'resume' | 'delete') => {
    if (what === 'delete') {
      const result = await showDialog({
        title: trans.__('Delete schedule %1?', info.name),
        body: trans.__(
          'Its run records are deleted; the jobs it started stay.'
        ),
        buttons: [
          Dialog.cancelButton({ label: trans.__('Cancel') }),
          Dialog.warnButton({ label: trans.__('Delete') })
        ]
      });
      if (!result.button.accept) {
        return;
      }
    }
    setBusy(info.id);
    try {
      if (what === 'pause') {
        await client.pauseSchedule(info.id);
      } else if (what === 'resume') {
        await client.resumeSchedule(info.id);
      } else {
        await client.deleteSchedule(info.id);
      }
    } catch (reason) {
      setError(errorMessage(reason));
    }
    await load();
    setBusy(null);
  };

  return (
    <div className="mlbench-Schedules">
      {onOpenNotifications && (
        <button
          className="mlbench-Schedule-link mlbench-Schedules-notifications"
          onClick={onOpenNotifications}
        >
          {trans.__('Notification rules…')}
        </button>
      )}
      {error && (
        <div className="mlbench-Section-error" role="alert">
          {error}
        </div>
      )}
      {entries === null && !error && (
        <div className="mlbench-Section-empty">
          {trans.__('Loading schedules…')}
        </div>
      )}
      {entries !== null && entries.length === 0 && (
        <div className="mlbench-Section-empty">
          {trans.__('No schedules yet: create one with')}{' '}
          <code>{CREATE_COMMAND}</code>
        </div>
      )}
      {entries !== null && entries.length > 0 && (
        <ul
          className="mlbench-Schedules-list"
          aria-label={trans.__('Schedules')}
        >
          {entries.map(({ info, runs }) => (
            <li
              key={info.id}
              className={`mlbench-Schedule${info.enabled ? '' : ' mlbench-mod-paused'}`}
              data-schedule={info.name}
            >
              <div className="mlbench-Schedule-head">
                <span className="mlbench-Schedule-name" title={info.id}>
                  {info.name}
                </span>
                {!info.enabled && (
                  <span className="mlbench-Schedule-badge">
                    {trans.__('paused')}
                  </span>
                )}
                <span className="mlbench-Schedule-actions">
                  <button
                    className="jp-mod-styled mlbench-Schedule-button"
                    disabled={busy === info.id}
                    onClick={() =>
                      void act(info, info.enabled ? 'pause' : 'resume')
                    }
                  >
                    {info.enabled ? trans.__('Pause') : trans.__('Resume')}
                  </button>
                  <button
                    className="jp-mod-styled mlbench-Schedule-button"
                    disabled={busy === info.id}
                    aria-label={trans.__('Delete schedule %1', info.name)}
                    title={trans.__('Delete schedule %1', info.name)}
                    onClick={() => void act(info, 'delete')}
                  >
                    {trans.__('Delete')}
                  </button>
                </span>
              </div>
              <div className="mlbench-Schedule-rule" title={info.describe}>
                {ruleInWords(info)}
              </div>
              <div className="mlbench-Schedule-next">
                {info.enabled
                  ? trans.__('Next: %1', wallTime(info.next_fire_wall))
                  : trans.__('Paused: no next run')}
              </div>
              {runs.length > 0 && (
                <ul
                  className="mlbench-Schedule-runs"
                  aria-label={trans.__('Last runs of %1', info.name)}
                >
                  {runs.map(run => {
                    const state = runState(run, jobs);
                    const target = run.target_id;
                    return (
                      <li
                        key={run.id}
                        className="mlbench-Schedule-run"
                        data-status={state}
                        title={run.error ?? undefined}
                      >
                        <span
                          className={`mlbench-Schedule-state mlbench-mod-${state}`}
                        >
                          {state}
                        </span>{' '}
                        {target && run.kind === 'job' && onOpenJob ? (
                          <button
                            className="mlbench-Schedule-link"
                            onClick={() => onOpenJob(target)}
                          >
                            {wallTime(run.wall)}
                          </button>
                        ) : (
                          <span>{wallTime(run.wall)}</span>
                        )}
                      </li>
                    );
                  })}
                </ul>
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
