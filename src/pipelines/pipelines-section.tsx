/**
 * The Pipelines section of the mlbench sidebar: each run's status, name,
 * steps done of total, reused steps and duration, live from the event
 * stream; a row opens the run's graph in the main area.
 */
import React, {
  useCallback,
  useEffect,
  useMemo,
  useSyncExternalStore
} from 'react';

import { EventStream, IPipelineRunInfo, MlbenchClient } from '../api';
import { useTrans } from '../i18n';
import { formatSeconds } from '../jobs/format';
import { StatusBadge } from '../jobs/jobs-list';
import { elapsedSeconds, runProgress } from './model';
import { PipelinesStore } from './store';

// A command, the same in every language.
const RUN_COMMAND = 'mlbench pipeline run pipeline.yml';

function useStore(store: PipelinesStore): number {
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

function PipelineRow(props: {
  run: IPipelineRunInfo;
  onOpen(run: IPipelineRunInfo): void;
}): JSX.Element {
  const { run, onOpen } = props;
  const trans = useTrans();
  const { done, total, reused } = runProgress(run);
  const seconds = elapsedSeconds(run);
  return (
    <li
      className="mlbench-PipelineRow"
      tabIndex={0}
      data-pipeline-id={run.id}
      data-status={run.status}
      aria-label={trans.__('Pipeline run %1, %2', run.display_name, run.status)}
      onClick={() => onOpen(run)}
      onKeyDown={event => {
        if (event.key === 'Enter') {
          onOpen(run);
        }
      }}
    >
      <div className="mlbench-PipelineRow-line">
        <StatusBadge status={run.status} />
        <span className="mlbench-PipelineRow-title" title={run.id}>
          {run.display_name}
        </span>
        <span
          className="mlbench-PipelineRow-steps"
          title={trans.__('Steps done of the run total')}
        >
          {done}/{total}
        </span>
      </div>
      <div className="mlbench-PipelineRow-meta">
        {reused ? trans.__('%1 reused', reused) : trans.__('none reused')}
        {seconds !== null ? ` · ${formatSeconds(seconds)}` : ''}
        {run.status_reason && run.status !== 'completed'
          ? ` · ${run.status_reason}`
          : ''}
      </div>
    </li>
  );
}

export function PipelinesSection(props: {
  client: MlbenchClient;
  stream: EventStream;
  onOpen(run: IPipelineRunInfo): void;
  /** Given by tests; else the section keeps its own while it is shown. */
  store?: PipelinesStore;
}): JSX.Element {
  const { client, stream, onOpen } = props;
  const trans = useTrans();
  const store = useMemo(
    () => props.store ?? new PipelinesStore(client, stream),
    [client, stream, props.store]
  );
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
  useStore(store);
  const items = store.items;
  return (
    <div className="mlbench-Pipelines">
      {store.error && (
        <div className="mlbench-Section-error" role="alert">
          {store.error}
        </div>
      )}
      {!store.loaded && !store.error && (
        <div className="mlbench-Section-empty">
          {trans.__('Loading pipeline runs…')}
        </div>
      )}
      {store.loaded && items.length === 0 && (
        <div className="mlbench-Section-empty">
          {trans.__('No pipeline runs yet: run one with')}{' '}
          <code>{RUN_COMMAND}</code>
        </div>
      )}
      {items.length > 0 && (
        <ul
          className="mlbench-Pipelines-list"
          aria-label={trans.__('Pipeline runs')}
        >
          {items.map(r => (
            <PipelineRow key={r.id} run={r} onOpen={onOpen} />
          ))}
        </ul>
      )}
    </div>
  );
}
