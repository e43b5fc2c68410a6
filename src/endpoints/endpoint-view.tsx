/**
 * An online endpoint in the main area: its URL and masked keys, its
 * deployments (model, state, instances, requests, errors, latency), the
 * traffic weights (edited and saved whole: they must sum to 100), a test
 * request form (a key, a JSON body, optionally one deployment), and a live
 * chart of throughput and p50 latency from the router's metrics. Metrics live
 * in the router, not in events, so the view reads the endpoint every 2 s.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import { TranslationBundle, nullTranslator } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import React, { useEffect, useState } from 'react';

import { IEndpointInfo, MlbenchClient, errorMessage } from '../api';
import { TranslationContext, useTrans } from '../i18n';
import { mlbenchIcon } from '../icons';

const POLL_MS = 2000;
const HISTORY = 60; // points in the chart (two minutes)
const EXAMPLE_BODY = '{"dataframe_records": [{"feature": 1.0}]}';

export interface IPoint {
  rps: number;
  p50: number | null;
}

/** Requests per second and p50 over all deployments (weighted by rate). */
export function summarize(info: IEndpointInfo): IPoint {
  let rps = 0;
  let weighted = 0;
  for (const d of info.deployments ?? []) {
    const m = d.metrics;
    if (m) {
      rps += m.requests_per_s ?? 0;
      if (m.p50_ms !== null && m.p50_ms !== undefined) {
        weighted += (m.requests_per_s ?? 0) * m.p50_ms;
      }
    }
  }
  return { rps, p50: rps > 0 ? weighted / rps : null };
}

/** `weights` as numbers, or why they cannot be saved. */
export function checkWeights(weights: { [name: string]: string }): {
  traffic: { [name: string]: number } | null;
  problem: string;
} {
  const traffic: { [name: string]: number } = {};
  for (const [name, text] of Object.entries(weights)) {
    const value = Number(text);
    if (!/^\d+$/.test(text.trim()) || value > 100) {
      return {
        traffic: null,
        problem: `${name}: a whole percent from 0 to 100`
      };
    }
    traffic[name] = value;
  }
  const total = Object.values(traffic).reduce((a, b) => a + b, 0);
  if (Object.keys(traffic).length > 0 && total !== 100) {
    return { traffic: null, problem: `the weights sum to ${total}, not 100` };
  }
  return { traffic, problem: '' };
}

function Chart(props: { points: IPoint[] }): JSX.Element {
  const trans = useTrans();
  const { points } = props;
  const width = 360;
  const height = 80;
  const line = (values: number[]): string => {
    const top = Math.max(...values, 1e-9);
    return values
      .map((v, i) => {
        const x = (i / Math.max(HISTORY - 1, 1)) * width;
        const y = height - (v / top) * (height - 4) - 2;
        return `${x.toFixed(1)},${y.toFixed(1)}`;
      })
      .join(' ');
  };
  const last = points[points.length - 1];
  return (
    <figure className="mlbench-EndpointView-chart">
      <svg
        width={width}
        height={height}
        role="img"
        aria-label={trans.__('Throughput and latency')}
      >
        <polyline
          className="mlbench-EndpointView-rps"
          points={line(points.map(p => p.rps))}
        />
        <polyline
          className="mlbench-EndpointView-p50"
          points={line(points.map(p => p.p50 ?? 0))}
        />
      </svg>
      <figcaption>
        <span className="mlbench-EndpointView-rpsLabel">
          {trans.__('%1 req/s', (last?.rps ?? 0).toFixed(1))}
        </span>
        {' · '}
        <span className="mlbench-EndpointView-p50Label">
          {last?.p50 === null || last?.p50 === undefined
            ? trans.__('p50 -')
            : trans.__('p50 %1 ms', last.p50.toFixed(1))}
        </span>
      </figcaption>
    </figure>
  );
}

function TestRequest(props: {
  client: MlbenchClient;
  name: string;
  deployments: string[];
}): JSX.Element {
  const { client, name, deployments } = props;
  const trans = useTrans();
  const [key, setKey] = useState('');
  const [body, setBody] = useState(EXAMPLE_BODY);
  const [target, setTarget] = useState('');
  const [answer, setAnswer] = useState('');
  const [error, setError] = useState('');
  const send = async () => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (reason) {
      setError(trans.__('The body is not JSON: %1', String(reason)));
      return;
    }
    setError('');
    setAnswer('');
    try {
      const result = await client.invokeEndpoint(name, {
        key,
        body: parsed,
        deployment: target || null
      });
      setAnswer(JSON.stringify(result.answer, null, 2));
    } catch (reason) {
      setError(errorMessage(reason));
    }
  };
  return (
    <section
      className="mlbench-EndpointView-test"
      aria-label={trans.__('Test request')}
    >
      <h3>{trans.__('Test request')}</h3>
      <input
        className="jp-mod-styled"
        type="password"
        placeholder={trans.__('primary or secondary key')}
        aria-label={trans.__('Key')}
        value={key}
        onChange={event => setKey(event.target.value.trim())}
      />
      <select
        className="jp-mod-styled"
        aria-label={trans.__('Deployment')}
        value={target}
        onChange={event => setTarget(event.target.value)}
      >
        <option value="">{trans.__('by traffic weights')}</option>
        {deployments.map(d => (
          <option key={d} value={d}>
            {d}
          </option>
        ))}
      </select>
      <textarea
        className="jp-mod-styled"
        aria-label={trans.__('Request body')}
        rows={5}
        value={body}
        onChange={event => setBody(event.target.value)}
      />
      <button
        className="jp-mod-styled jp-mod-accept"
        disabled={!key}
        onClick={() => void send()}
      >
        {trans.__('Send')}
      </button>
      {error && (
        <div className="mlbench-Section-error" role="alert">
          {error}
        </div>
      )}
      {answer && (
        <pre
          className="mlbench-EndpointView-answer"
          aria-label={trans.__('Answer')}
        >
          {answer}
        </pre>
      )}
    </section>
  );
}

export function EndpointViewBody(props: {
  client: MlbenchClient;
  name: string;
}): JSX.Element {
  const { client, name } = props;
  const trans = useTrans();
  const [info, setInfo] = useState<IEndpointInfo | null>(null);
  const [points, setPoints] = useState<IPoint[]>([]);
  const [weights, setWeights] = useState<{ [name: string]: string } | null>(
    null
  );
  const [error, setError] = useState('');
  const [saved, setSaved] = useState('');

  useEffect(() => {
    let live = true;
    const reload = () => {
      client.getEndpoint(name).then(
        next => {
          if (!live) {
            return;
          }
          setInfo(next);
          setError('');
          setPoints(p => [...p, summarize(next)].slice(-HISTORY));
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
  }, [client, name]);

  const current: { [name: string]: string } = {};
  for (const d of info?.deployments ?? []) {
    current[d.name] = String(info?.traffic?.[d.name] ?? 0);
  }
  const shown = weights ?? current;
  const { traffic, problem } = checkWeights(shown);
  const save = async () => {
    if (!traffic) {
      return;
    }
    try {
      await client.setEndpointTraffic(name, { traffic });
      setWeights(null);
      setSaved(trans.__('Traffic saved'));
      setError('');
    } catch (reason) {
      setError(errorMessage(reason));
    }
  };

  if (info === null) {
    return (
      <div className="mlbench-Section-empty">
        {error || trans.__('Loading endpoint %1…', name)}
      </div>
    );
  }
  return (
    <div className="mlbench-EndpointView-body">
      <h2>{info.name}</h2>
      {error && (
        <div className="mlbench-Section-error" role="alert">
          {error}
        </div>
      )}
      <dl className="mlbench-EndpointView-facts">
        <dt>{trans.__('URL')}</dt>
        <dd>
          <code>{info.url}</code>
        </dd>
        <dt>{trans.__('Keys')}</dt>
        <dd className="mlbench-EndpointView-keys">
          {Object.entries(info.keys).map(([k, v]) => (
            <span key={k}>
              {k} <code>{v.prefix}</code>{' '}
            </span>
          ))}
        </dd>
        <dt>{trans.__('Mirror')}</dt>
        <dd>
          {Object.keys(info.mirror ?? {}).length === 0
            ? '-'
            : Object.entries(info.mirror ?? {})
                .map(([k, v]) => `${k} ${v}%`)
                .join(', ')}
        </dd>
        <dt>{trans.__('Router')}</dt>
        <dd>
          {info.router_ready ? trans.__('ready') : trans.__('not answering')}
        </dd>
      </dl>
      <table
        className="mlbench-EndpointView-table"
        aria-label={trans.__('Deployments')}
      >
        <thead>
          <tr>
            <th>{trans.__('Deployment')}</th>
            <th>{trans.__('Model')}</th>
            <th>{trans.__('State')}</th>
            <th>{trans.__('Instances')}</th>
            <th>{trans.__('Traffic %')}</th>
            <th>{trans.__('Requests')}</th>
            <th>{trans.__('Errors')}</th>
            <th>{trans.__('p50 ms')}</th>
            <th>{trans.__('p99 ms')}</th>
          </tr>
        </thead>
        <tbody>
          {(info.deployments ?? []).map(d => (
            <tr key={d.name} data-deployment={d.name}>
              <td>{d.name}</td>
              <td>{`${d.model_name}:${d.model_version}`}</td>
              <td
                className={`mlbench-EndpointView-state mlbench-mod-${d.state}`}
              >
                {d.state}
                {d.status_reason ? ` (${d.status_reason})` : ''}
              </td>
              <td>{`${d.instances ?? 0}/${d.instance_count ?? 1}`}</td>
              <td>
                <input
                  className="jp-mod-styled mlbench-EndpointView-weight"
                  aria-label={trans.__('Traffic of %1', d.name)}
                  value={shown[d.name] ?? '0'}
                  onChange={event =>
                    setWeights({ ...shown, [d.name]: event.target.value })
                  }
                />
              </td>
              <td>{d.metrics?.requests ?? '-'}</td>
              <td>{d.metrics?.errors ?? '-'}</td>
              <td>{d.metrics?.p50_ms?.toFixed(1) ?? '-'}</td>
              <td>{d.metrics?.p99_ms?.toFixed(1) ?? '-'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="mlbench-EndpointView-actions">
        <button
          className="jp-mod-styled jp-mod-accept"
          disabled={weights === null || !traffic}
          title={problem || trans.__('Save the traffic weights')}
          onClick={() => void save()}
        >
          {trans.__('Save traffic')}
        </button>
        {problem && weights !== null && (
          <span className="mlbench-Section-error">{problem}</span>
        )}
        {saved && weights === null && (
          <span className="mlbench-EndpointView-saved">{saved}</span>
        )}
      </div>
      <h3>{trans.__('Throughput and latency')}</h3>
      <Chart points={points} />
      <TestRequest
        client={client}
        name={name}
        deployments={(info.deployments ?? []).map(d => d.name)}
      />
    </div>
  );
}

/**
 * The main-area widget of one endpoint.
 */
export class EndpointView extends MainAreaWidget<ReactWidget> {
  constructor(options: {
    client: MlbenchClient;
    name: string;
    trans?: TranslationBundle;
  }) {
    const trans = options.trans ?? nullTranslator.load('mlbench');
    const content = ReactWidget.create(
      <TranslationContext.Provider value={trans}>
        <EndpointViewBody client={options.client} name={options.name} />
      </TranslationContext.Provider>
    );
    content.addClass('mlbench-EndpointView');
    super({ content });
    this.endpointName = options.name;
    this.id = `mlbench-endpoint-${options.name}`;
    this.title.label = trans.__('Endpoint: %1', options.name);
    this.title.caption = trans.__('mlbench online endpoint %1', options.name);
    this.title.icon = mlbenchIcon;
    this.title.closable = true;
  }

  readonly endpointName: string;
}
