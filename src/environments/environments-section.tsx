import { Dialog, showDialog } from '@jupyterlab/apputils';
import { refreshIcon } from '@jupyterlab/ui-components';
import React, { useCallback, useEffect, useRef, useState } from 'react';

import { IEnvironmentInfo, MlbenchClient, errorMessage } from '../api';
import { useTrans } from '../i18n';
import {
  EMPTY_LOG,
  ILogState,
  POLL_MS,
  appendLog,
  environmentSummary,
  filterPackages,
  logFollows,
  needsPolling
} from './model';

// A command, the same in every language.
const CREATE_COMMAND = 'mlbench env create NAME -p PACKAGE';

/**
 * The Environments section of the mlbench sidebar: each environment's
 * newest version (name:version, status, Python, package count); one opens
 * on its packages and its build log, which follows a build while it runs.
 */
export function EnvironmentsSection(props: {
  client: MlbenchClient;
}): JSX.Element {
  const { client } = props;
  const trans = useTrans();
  const [items, setItems] = useState<IEnvironmentInfo[] | null>(null);
  const [error, setError] = useState('');
  const [open, setOpen] = useState<string | null>(null);
  const request = useRef(0);

  const load = useCallback(async () => {
    const id = ++request.current;
    try {
      const page = await client.listEnvironments();
      if (id === request.current) {
        setItems(page.items);
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

  // while a version builds, its status moves: read the list again
  const polling = needsPolling(items);
  useEffect(() => {
    if (!polling) {
      return;
    }
    const timer = setInterval(() => void load(), POLL_MS);
    return () => clearInterval(timer);
  }, [polling, load]);

  const remove = async (info: IEnvironmentInfo) => {
    const result = await showDialog({
      title: trans.__('Delete environment %1?', info.ref),
      body: trans.__(
        'Its venv and kernel are removed unless another version uses them. Jobs that ran in it keep their records.'
      ),
      buttons: [
        Dialog.cancelButton({ label: trans.__('Cancel') }),
        Dialog.warnButton({ label: trans.__('Delete') })
      ]
    });
    if (!result.button.accept) {
      return;
    }
    try {
      await client.deleteEnvironment(info.name, info.version);
      setOpen(null);
    } catch (reason) {
      setError(errorMessage(reason));
    }
    await load();
  };

  return (
    <div className="mlbench-Envs">
      <div className="mlbench-Envs-toolbar">
        <span className="mlbench-Envs-hint">
          {trans.__('Jobs run in one with Run as job → Environment')}
        </span>
        <button
          className="jp-mod-styled mlbench-Envs-iconButton"
          title={trans.__('Refresh environments')}
          aria-label={trans.__('Refresh environments')}
          onClick={() => void load()}
        >
          <refreshIcon.react tag="span" />
        </button>
      </div>
      {error && (
        <div className="mlbench-Section-error" role="alert">
          {error}
        </div>
      )}
      {items === null && !error && (
        <div className="mlbench-Section-empty">
          {trans.__('Loading environments…')}
        </div>
      )}
      {items !== null && items.length === 0 && (
        <div className="mlbench-Section-empty">
          {trans.__('No environments yet: create one with')}{' '}
          <code>{CREATE_COMMAND}</code>
        </div>
      )}
      {items !== null && items.length > 0 && (
        <ul className="mlbench-Envs-list" aria-label={trans.__('Environments')}>
          {items.map(info => (
            <EnvironmentRow
              key={info.id}
              client={client}
              info={info}
              open={open === info.id}
              onToggle={() => setOpen(open === info.id ? null : info.id)}
              onDelete={() => void remove(info)}
            />
          ))}
        </ul>
      )}
    </div>
  );
}

function EnvironmentRow(props: {
  client: MlbenchClient;
  info: IEnvironmentInfo;
  open: boolean;
  onToggle: () => void;
  onDelete: () => void;
}): JSX.Element {
  const { info, open } = props;
  const trans = useTrans();
  const bodyId = `mlbench-env-${info.id}`;
  return (
    <li
      className="mlbench-Env"
      data-env={info.name}
      data-ref={info.ref}
      data-status={info.status}
    >
      <button
        type="button"
        className="mlbench-Env-head"
        aria-expanded={open}
        aria-controls={bodyId}
        onClick={props.onToggle}
      >
        <span className="mlbench-Env-ref">{info.ref}</span>
        <span
          className={`mlbench-Env-status mlbench-mod-${info.status}`}
          title={info.error ?? ''}
        >
          {info.status === 'ready'
            ? trans.__('ready')
            : info.status === 'building'
              ? trans.__('building')
              : trans.__('failed')}
        </span>
        <span className="mlbench-Env-summary">{environmentSummary(info)}</span>
      </button>
      {open && (
        <div className="mlbench-Env-body" id={bodyId}>
          <EnvironmentDetails
            client={props.client}
            info={info}
            onDelete={props.onDelete}
          />
        </div>
      )}
    </li>
  );
}

function EnvironmentDetails(props: {
  client: MlbenchClient;
  info: IEnvironmentInfo;
  onDelete: () => void;
}): JSX.Element {
  const { client, info } = props;
  const trans = useTrans();
  const [filter, setFilter] = useState('');
  const packages = filterPackages(info.packages ?? [], filter);
  return (
    <>
      <dl className="mlbench-Env-fields">
        <dt>{trans.__('Kernel')}</dt>
        <dd className="mlbench-Env-kernel">{info.kernel_name}</dd>
        <dt>{trans.__('Lock hash')}</dt>
        <dd title={info.lock_hash}>{info.lock_hash.slice(0, 16)}</dd>
        <dt>{trans.__('Spec')}</dt>
        <dd>
          {info.spec.source}: {info.spec.requirements.join(', ') || '-'}
        </dd>
        {info.build_seconds !== null && info.build_seconds !== undefined && (
          <>
            <dt>{trans.__('Build')}</dt>
            <dd>{trans.__('%1 s', info.build_seconds.toFixed(1))}</dd>
          </>
        )}
        {info.error && (
          <>
            <dt>{trans.__('Error')}</dt>
            <dd className="mlbench-Env-error">{info.error}</dd>
          </>
        )}
      </dl>
      <details className="mlbench-Env-packagesBlock" open>
        <summary>
          {trans.__('Packages (%1)', (info.packages ?? []).length)}
        </summary>
        <input
          className="jp-mod-styled mlbench-Env-filter"
          type="search"
          placeholder={trans.__('Filter packages')}
          aria-label={trans.__('Filter the packages of %1', info.ref)}
          value={filter}
          onChange={e => setFilter(e.target.value)}
        />
        <ul
          className="mlbench-Env-packages"
          aria-label={trans.__('Packages of %1', info.ref)}
        >
          {packages.map(p => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      </details>
      <details className="mlbench-Env-logBlock" open={info.status !== 'ready'}>
        <summary>{trans.__('Build log')}</summary>
        <BuildLog client={client} info={info} />
      </details>
      <div className="mlbench-Env-actions">
        <button
          type="button"
          className="jp-mod-styled jp-mod-warn"
          disabled={info.status === 'building'}
          title={
            info.status === 'building'
              ? trans.__('Wait for the build to end')
              : trans.__('Delete %1', info.ref)
          }
          onClick={props.onDelete}
        >
          {trans.__('Delete')}
        </button>
      </div>
    </>
  );
}

/**
 * A version's build log, read by offset: once, then on while it builds.
 */
function BuildLog(props: {
  client: MlbenchClient;
  info: IEnvironmentInfo;
}): JSX.Element {
  const { client, info } = props;
  const trans = useTrans();
  const [log, setLog] = useState<ILogState>(EMPTY_LOG);
  const [error, setError] = useState('');
  const state = useRef(log);
  state.current = log;
  const pre = useRef<HTMLPreElement>(null);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = async () => {
      const from = state.current.offset;
      try {
        const slice = await client.environmentLog(
          info.name,
          info.version,
          from
        );
        if (stopped) {
          return;
        }
        const next = appendLog(state.current, slice, from);
        state.current = next;
        setLog(next);
        setError('');
        if (logFollows(next)) {
          timer = setTimeout(() => void read(), POLL_MS);
        }
      } catch (reason) {
        if (!stopped) {
          setError(errorMessage(reason));
        }
      }
    };
    void read();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [client, info.name, info.version, info.status]);

  useEffect(() => {
    // follow the end while it grows
    if (pre.current) {
      pre.current.scrollTop = pre.current.scrollHeight;
    }
  }, [log.text]);

  if (error) {
    return (
      <div className="mlbench-Section-error" role="alert">
        {error}
      </div>
    );
  }
  return (
    <pre
      ref={pre}
      className="mlbench-Env-log"
      aria-label={trans.__('Build log of %1', info.ref)}
      data-status={log.status ?? ''}
    >
      {log.text || (log.status === null ? trans.__('Loading…') : '')}
    </pre>
  );
}
