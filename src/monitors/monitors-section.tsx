/**
 * The Monitors section of the mlbench sidebar: each monitor with what it
 * watches, its schedule, and its last run's time and verdict, live from the
 * event stream (a run puts `kind: "monitor"` events on the feed when it
 * starts and when it ends); a row opens the monitor in the main area.
 */
import React, { useEffect, useState } from 'react';

import { EventStream, IMonitorInfo, MlbenchClient, errorMessage } from '../api';
import { useEventReloads } from '../components/use-events';
import { useTrans } from '../i18n';
import { formatTime } from '../jobs/format';
import { changedMonitor, runBadge, scheduleText, targetText } from './monitor';

// A command, the same in every language.
const CREATE_COMMAND = 'mlbench monitor create NAME --reference REF --target T';
const RELOAD_DELAY_MS = 200;

/** A run's verdict as a colored badge (shared with the monitor's view). */
export function VerdictBadge(props: { badge: string | null }): JSX.Element {
  const trans = useTrans();
  const { badge } = props;
  return (
    <span
      className={`mlbench-MonitorBadge mlbench-mod-${badge ?? 'never'}`}
      data-verdict={badge ?? 'never'}
    >
      {badge ?? trans.__('never run')}
    </span>
  );
}

export function MonitorsSection(props: {
  client: MlbenchClient;
  stream: EventStream;
  onOpen(name: string): void;
}): JSX.Element {
  const { client, stream, onOpen } = props;
  const trans = useTrans();
  const [items, setItems] = useState<IMonitorInfo[] | null>(null);
  const [error, setError] = useState('');

  const changes = useEventReloads(
    stream,
    event => changedMonitor(event) !== null,
    RELOAD_DELAY_MS
  );

  useEffect(() => {
    let live = true;
    const reload = () => {
      client.listMonitors().then(
        list => {
          if (live) {
            setItems(list.items);
            setError('');
          }
        },
        reason => {
          if (live) {
            setError(errorMessage(reason));
          }
        }
      );
    };
    reload();
    return () => {
      live = false;
    };
  }, [client, changes]);

  return (
    <div className="mlbench-Monitors">
      {error && (
        <div className="mlbench-Section-error" role="alert">
          {error}
        </div>
      )}
      {items === null && !error && (
        <div className="mlbench-Section-empty">
          {trans.__('Loading monitors…')}
        </div>
      )}
      {items !== null && items.length === 0 && (
        <div className="mlbench-Section-empty">
          {trans.__('No monitors yet: create one with')}{' '}
          <code>{CREATE_COMMAND}</code>
        </div>
      )}
      {items !== null && items.length > 0 && (
        <ul className="mlbench-Monitors-list" aria-label={trans.__('Monitors')}>
          {items.map(m => {
            const last = m.last_run ?? null;
            const schedule = scheduleText(m.spec);
            return (
              <li
                key={m.id}
                className="mlbench-MonitorRow"
                tabIndex={0}
                data-monitor={m.name}
                aria-label={trans.__('Monitor %1', m.name)}
                onClick={() => onOpen(m.name)}
                onKeyDown={event => {
                  if (event.key === 'Enter') {
                    onOpen(m.name);
                  }
                }}
              >
                <div className="mlbench-MonitorRow-line">
                  <span className="mlbench-MonitorRow-name">{m.name}</span>
                  <VerdictBadge badge={runBadge(last)} />
                </div>
                <div className="mlbench-MonitorRow-meta">
                  {targetText(m.spec)}
                  {' · '}
                  {schedule ?? trans.__('on demand')}
                </div>
                <div className="mlbench-MonitorRow-meta">
                  {last
                    ? trans.__('last run %1', formatTime(last.created_at))
                    : trans.__('not run yet')}
                  {last && last.breaches && last.breaches.length > 0
                    ? ` · ${trans._n('%1 breach', '%1 breaches', last.breaches.length)}`
                    : ''}
                </div>
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}
