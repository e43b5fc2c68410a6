/**
 * The Sweeps section of the mlbench sidebar: each sweep's name, status,
 * trials done of total and best value, live from the event stream; a row
 * opens the sweep view in the main area.
 */
import React, {
  useCallback,
  useEffect,
  useMemo,
  useSyncExternalStore
} from 'react';

import { EventStream, ISweep, MlbenchClient } from '../api';
import { useTrans } from '../i18n';
import { StatusBadge } from '../jobs/jobs-list';
import { cellText, goalOf, trialProgress } from './model';
import { SweepsStore } from './store';

// A command, the same in every language.
const SUBMIT_COMMAND = 'mlbench sweep submit sweep.yml';

function useSweeps(store: SweepsStore): number {
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

function SweepRow(props: {
  sweep: ISweep;
  onOpen(sweep: ISweep): void;
}): JSX.Element {
  const { sweep, onOpen } = props;
  const trans = useTrans();
  const { done, total } = trialProgress(sweep);
  const metric = sweep.spec.objective.primary_metric;
  return (
    <li
      className="mlbench-SweepRow"
      tabIndex={0}
      data-sweep-id={sweep.id}
      data-status={sweep.status}
      aria-label={trans.__('Sweep %1, %2', sweep.display_name, sweep.status)}
      onClick={() => onOpen(sweep)}
      onKeyDown={event => {
        if (event.key === 'Enter') {
          onOpen(sweep);
        }
      }}
    >
      <div className="mlbench-SweepRow-line">
        <StatusBadge status={sweep.status} />
        <span className="mlbench-SweepRow-title" title={sweep.notebook_path}>
          {sweep.display_name}
        </span>
        <span
          className="mlbench-SweepRow-trials"
          title={trans.__('Trials done of the sweep total')}
        >
          {done}/{total}
        </span>
      </div>
      <div className="mlbench-SweepRow-meta">
        {sweep.best_value !== null && sweep.best_value !== undefined
          ? trans.__(
              'best %1 %2 (trial %3)',
              metric,
              cellText(sweep.best_value),
              sweep.best_trial ?? ''
            )
          : trans.__('%1 %2: no value yet', goalOf(sweep), metric)}
        {sweep.counts.early_terminated
          ? ` · ${trans.__('%1 stopped early', sweep.counts.early_terminated)}`
          : ''}
      </div>
    </li>
  );
}

export function SweepsSection(props: {
  client: MlbenchClient;
  stream: EventStream;
  onOpen(sweep: ISweep): void;
  /** Given by tests; else the section keeps its own while it is shown. */
  store?: SweepsStore;
}): JSX.Element {
  const { client, stream, onOpen } = props;
  const trans = useTrans();
  const own = useMemo(
    () => props.store ?? new SweepsStore(client, stream),
    [client, stream, props.store]
  );
  const store = own;
  useEffect(() => {
    if (!store.loaded) {
      void store.reload();
    }
    return () => {
      if (!props.store) {
        store.dispose();
      }
    };
  }, [store]);
  useSweeps(store);
  const items = store.items;
  return (
    <div className="mlbench-Sweeps">
      {store.error && (
        <div className="mlbench-Section-error" role="alert">
          {store.error}
        </div>
      )}
      {!store.loaded && !store.error && (
        <div className="mlbench-Section-empty">
          {trans.__('Loading sweeps…')}
        </div>
      )}
      {store.loaded && items.length === 0 && (
        <div className="mlbench-Section-empty">
          {trans.__('No sweeps yet: use "Sweep..." on a notebook, or')}{' '}
          <code>{SUBMIT_COMMAND}</code>
        </div>
      )}
      {items.length > 0 && (
        <ul className="mlbench-Sweeps-list" aria-label={trans.__('Sweeps')}>
          {items.map(s => (
            <SweepRow key={s.id} sweep={s} onOpen={onOpen} />
          ))}
        </ul>
      )}
    </div>
  );
}
