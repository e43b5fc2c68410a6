/**
 * The Models section of the mlbench sidebar: each registered model with its
 * newest version, how many it has and its aliases, live from the event
 * stream (`kind: "model"`); a row opens the model in the main area.
 */
import React, { useEffect, useState } from 'react';

import { EventStream, IModelInfo, MlbenchClient, errorMessage } from '../api';
import { useEventReloads } from '../components/use-events';
import { useTrans } from '../i18n';
import { formatTime } from '../jobs/format';
import { aliasText, changedModel } from './model';

// A command, the same in every language.
const REGISTER_COMMAND = 'mlbench model register NAME --job ID';
const RELOAD_DELAY_MS = 200;

export function ModelsSection(props: {
  client: MlbenchClient;
  stream: EventStream;
  onOpen(name: string): void;
}): JSX.Element {
  const { client, stream, onOpen } = props;
  const trans = useTrans();
  const [items, setItems] = useState<IModelInfo[] | null>(null);
  const [error, setError] = useState('');

  const changes = useEventReloads(
    stream,
    event => changedModel(event) !== null,
    RELOAD_DELAY_MS
  );

  useEffect(() => {
    let live = true;
    const reload = () => {
      client.listModels().then(
        list => {
          if (live) {
            setItems(
              [...list.items].sort((a, b) => a.name.localeCompare(b.name))
            );
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
    <div className="mlbench-Models">
      {error && (
        <div className="mlbench-Section-error" role="alert">
          {error}
        </div>
      )}
      {items === null && !error && (
        <div className="mlbench-Section-empty">
          {trans.__('Loading models…')}
        </div>
      )}
      {items !== null && items.length === 0 && (
        <div className="mlbench-Section-empty">
          {trans.__('No registered models yet: register one with')}{' '}
          <code>{REGISTER_COMMAND}</code>
        </div>
      )}
      {items !== null && items.length > 0 && (
        <ul className="mlbench-Models-list" aria-label={trans.__('Models')}>
          {items.map(m => (
            <li
              key={m.name}
              className="mlbench-ModelRow"
              tabIndex={0}
              data-model={m.name}
              aria-label={trans.__('Model %1', m.name)}
              onClick={() => onOpen(m.name)}
              onKeyDown={event => {
                if (event.key === 'Enter') {
                  onOpen(m.name);
                }
              }}
            >
              <div className="mlbench-ModelRow-line">
                <span className="mlbench-ModelRow-name">{m.name}</span>
                {m.latest_version !== null &&
                  m.latest_version !== undefined && (
                    <span className="mlbench-ModelRow-version">
                      {`v${m.latest_version}`}
                    </span>
                  )}
              </div>
              <div className="mlbench-ModelRow-meta">
                {trans._n('%1 version', '%1 versions', m.versions)}
                {Object.keys(m.aliases ?? {}).length
                  ? ` · ${aliasText(m.aliases ?? {})}`
                  : ''}
                {m.updated_at ? ` · ${formatTime(m.updated_at)}` : ''}
              </div>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
