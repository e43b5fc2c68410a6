/**
 * The Endpoints section of the mlbench sidebar: each endpoint with its
 * traffic split and its deployments' states; a row opens the endpoint in the
 * main area. Endpoints change outside any job event (deploys, restarts), so
 * the list is read again every few seconds while the section is shown.
 */
import React, { useEffect, useState } from 'react';

import { IEndpointInfo, MlbenchClient, errorMessage } from '../api';
import { useTrans } from '../i18n';

// A command, the same in every language.
const CREATE_COMMAND = 'mlbench endpoint create NAME';
const POLL_MS = 3000;

export function trafficText(traffic: { [name: string]: number }): string {
  return Object.entries(traffic)
    .map(([name, weight]) => `${name} ${weight}%`)
    .join(' · ');
}

export function EndpointsSection(props: {
  client: MlbenchClient;
  onOpen(name: string): void;
}): JSX.Element {
  const { client, onOpen } = props;
  const trans = useTrans();
  const [items, setItems] = useState<IEndpointInfo[] | null>(null);
  const [error, setError] = useState('');

  useEffect(() => {
    let live = true;
    const reload = () => {
      client.listEndpoints().then(
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
    const timer = setInterval(reload, POLL_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [client]);

  return (
    <div className="mlbench-Endpoints">
      {error && (
        <div className="mlbench-Section-error" role="alert">
          {error}
        </div>
      )}
      {items === null && !error && (
        <div className="mlbench-Section-empty">
          {trans.__('Loading endpoints…')}
        </div>
      )}
      {items !== null && items.length === 0 && (
        <div className="mlbench-Section-empty">
          {trans.__('No endpoints yet: create one with')}{' '}
          <code>{CREATE_COMMAND}</code>
        </div>
      )}
      {items !== null && items.length > 0 && (
        <ul
          className="mlbench-Endpoints-list"
          aria-label={trans.__('Endpoints')}
        >
          {items.map(e => (
            <li
              key={e.name}
              className="mlbench-EndpointRow"
              tabIndex={0}
              data-endpoint={e.name}
              aria-label={trans.__('Endpoint %1', e.name)}
              onClick={() => onOpen(e.name)}
              onKeyDown={event => {
                if (event.key === 'Enter') {
                  onOpen(e.name);
                }
              }}
            >
              <div className="mlbench-EndpointRow-line">
                <span className="mlbench-EndpointRow-name">{e.name}</span>
                <span className="mlbench-EndpointRow-traffic">
                  {trafficText(e.traffic)}
                </span>
              </div>
              <div className="mlbench-EndpointRow-meta">
                {(e.deployments ?? []).length === 0
                  ? trans.__('no deployments')
                  : (e.deployments ?? [])
                      .map(d => `${d.name}: ${d.state}`)
                      .join(' · ')}
              </div>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
