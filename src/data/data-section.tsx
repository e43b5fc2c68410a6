import React, { useCallback, useEffect, useMemo, useState } from 'react';
import { caretLeftIcon, refreshIcon } from '@jupyterlab/ui-components';
import { ITranslator } from '@jupyterlab/translation';

import {
  EventStream,
  IDataPreview,
  IDataVersionInfo,
  IDatastoreInfo,
  ILineageGraph,
  MlbenchClient,
  errorMessage
} from '../api';
import {
  formatBytes,
  isDataUnavailable,
  levelTitle,
  lineageLevels,
  previewCell,
  previewColumns
} from './model';
import { TranslationContext, useTrans } from '../i18n';
import { useJobsEnded } from '../components/use-events';
import {
  ListStates,
  ListToolbar,
  usePagedList
} from '../components/paged-list';

/**
 * How often the asset list is read again while shown (assets made outside
 * a job have no event).
 */
export const DATA_POLL_MS = 15000;

/**
 * Calls `callback` every `ms` while the page is visible.
 */
function usePoll(callback: () => void, ms: number): void {
  const latest = React.useRef(callback);
  latest.current = callback;
  useEffect(() => {
    const timer = setInterval(() => {
      if (document.visibilityState !== 'hidden') {
        latest.current();
      }
    }, ms);
    return () => clearInterval(timer);
  }, [ms]);
}

/**
 * Rows a table preview asks for.
 */
export const PREVIEW_ROWS = 20;

// A command, the same in every language.
const CREATE_COMMAND = 'mlbench data create NAME PATH';

/**
 * Properties of the Data section.
 */
export interface IDataSectionProps {
  client: MlbenchClient;
  /**
   * A translator for this section alone (default: the one the sidebar
   * provides through `TranslationContext`).
   */
  translator?: ITranslator;
  /**
   * Open an asset's details elsewhere (a main-area tab); without it they
   * open in the section.
   */
  onOpen?: (name: string) => void;
  /**
   * The event stream: the asset list follows it (a job's outputs appear
   * when it ends).
   */
  stream?: EventStream;
}

type Tab = 'assets' | 'datastores';

/**
 * The Data section of the mlbench sidebar: data assets (latest version
 * each) and datastores; an asset opens on its versions, with the chosen
 * version's details, a preview and its lineage.
 */
export function DataSection(props: IDataSectionProps): JSX.Element {
  return (
    <MaybeTranslator translator={props.translator}>
      <DataSectionBody
        client={props.client}
        onOpen={props.onOpen}
        stream={props.stream}
      />
    </MaybeTranslator>
  );
}

function DataSectionBody(props: {
  client: MlbenchClient;
  onOpen?: (name: string) => void;
  stream?: EventStream;
}): JSX.Element {
  const { client } = props;
  const trans = useTrans();
  const [tab, setTab] = useState<Tab>('assets');
  const [asset, setAsset] = useState<string | null>(null);
  // null until known; false once a data route answered 501/404.
  const [available, setAvailable] = useState<boolean | null>(null);

  const onError = useCallback((error: unknown): string => {
    if (isDataUnavailable(error)) {
      setAvailable(false);
      return '';
    }
    return errorMessage(error);
  }, []);

  if (available === false) {
    return (
      <div className="mlbench-Data">
        <div className="mlbench-Data-unavailable" role="status">
          <strong>{trans.__('Data routes not available.')}</strong>{' '}
          {trans.__(
            'This server\'s mlbench does not serve datastores and data assets yet (the data routes answered "not implemented").'
          )}
          <button className="jp-mod-styled" onClick={() => setAvailable(null)}>
            {trans.__('Try again')}
          </button>
        </div>
      </div>
    );
  }

  return (
    <div className="mlbench-Data">
      {asset === null ? (
        <>
          <div
            className="mlbench-Data-tabs"
            role="tablist"
            aria-label={trans.__('Data views')}
          >
            {(['assets', 'datastores'] as Tab[]).map(t => (
              <button
                key={t}
                role="tab"
                aria-selected={tab === t}
                className={
                  'mlbench-Data-tab' + (tab === t ? ' jp-mod-active' : '')
                }
                onClick={() => setTab(t)}
              >
                {t === 'assets' ? trans.__('Assets') : trans.__('Datastores')}
              </button>
            ))}
          </div>
          <div role="tabpanel">
            {tab === 'assets' ? (
              <AssetList
                client={client}
                onOpen={props.onOpen ?? setAsset}
                stream={props.stream}
                onError={onError}
                onAvailable={() => setAvailable(true)}
              />
            ) : (
              <DatastoreList
                client={client}
                onError={onError}
                onAvailable={() => setAvailable(true)}
              />
            )}
          </div>
        </>
      ) : (
        <AssetView
          client={client}
          name={asset}
          onBack={() => setAsset(null)}
          onError={onError}
        />
      )}
    </div>
  );
}

interface IListProps {
  client: MlbenchClient;
  onError: (error: unknown) => string;
  onAvailable: () => void;
}

/**
 * The data assets, the latest version of each, filtered by name.
 */
function AssetList(
  props: IListProps & { onOpen: (name: string) => void; stream?: EventStream }
): JSX.Element {
  const { client, onError, onAvailable, onOpen } = props;
  const trans = useTrans();
  const [text, setText] = useState('');
  const { items, cursor, error, load } = usePagedList(
    append =>
      client.listData({
        text: text.trim() || null,
        limit: 100,
        cursor: append
      }),
    [client, text],
    { onPage: onAvailable, onError }
  );
  // a job's outputs become assets when it ends; an asset made elsewhere (a
  // terminal's `mlbench data create`) has no event: read again now and then
  useJobsEnded(props.stream, () => void load(null));
  usePoll(() => void load(null), DATA_POLL_MS);

  return (
    <div className="mlbench-Data-list">
      <ListToolbar
        prefix="mlbench-Data"
        placeholder={trans.__('Filter assets')}
        searchLabel={trans.__('Filter data assets by name')}
        refreshLabel={trans.__('Refresh data assets')}
        value={text}
        onChange={setText}
        onRefresh={() => void load(null)}
      />
      <ListStates
        prefix="mlbench-Data"
        error={error}
        items={items}
        loading={trans.__('Loading data assets…')}
        empty={
          <>
            {trans.__('No data assets yet: create one with')}{' '}
            <code>{CREATE_COMMAND}</code>
          </>
        }
      />
      {items !== null && items.length > 0 && (
        <ul className="mlbench-Data-items" aria-label={trans.__('Data assets')}>
          {items.map(v => (
            <li key={v.id}>
              <button
                className="mlbench-Data-item"
                onClick={() => onOpen(v.name)}
                title={trans.__('Show the versions of %1', v.name)}
              >
                <span className="mlbench-Data-itemName">{v.name}</span>
                <span className="mlbench-Data-itemMeta">
                  {trans.__(
                    'v%1 · %2 · %3',
                    v.version,
                    v.kind,
                    formatBytes(v.size_bytes)
                  )}
                </span>
              </button>
            </li>
          ))}
        </ul>
      )}
      {cursor && (
        <button
          className="jp-mod-styled mlbench-Data-more"
          onClick={() => void load(cursor)}
        >
          {trans.__('More assets')}
        </button>
      )}
    </div>
  );
}

/**
 * The datastores (credentials appear by name only; the server never sends
 * their values).
 */
function DatastoreList(props: IListProps): JSX.Element {
  const { client, onError, onAvailable } = props;
  const trans = useTrans();
  const [items, setItems] = useState<IDatastoreInfo[] | null>(null);
  const [error, setError] = useState('');

  const load = useCallback(async () => {
    try {
      const page = await client.listDatastores();
      onAvailable();
      setItems(page.items);
      setError('');
    } catch (reason) {
      setError(onError(reason));
    }
  }, [client]);

  useEffect(() => {
    void load();
  }, [load]);

  return (
    <div className="mlbench-Data-list">
      <div className="mlbench-Data-toolbar">
        <span className="mlbench-Data-toolbarTitle">
          {trans.__('Datastores')}
        </span>
        <button
          className="jp-mod-styled mlbench-Data-iconButton"
          title={trans.__('Refresh datastores')}
          aria-label={trans.__('Refresh datastores')}
          onClick={() => void load()}
        >
          <refreshIcon.react tag="span" />
        </button>
      </div>
      {error && (
        <div className="mlbench-Data-error" role="alert">
          {error}
        </div>
      )}
      {items === null && !error && (
        <div className="mlbench-Data-empty">
          {trans.__('Loading datastores…')}
        </div>
      )}
      {items !== null && (
        <ul className="mlbench-Data-items" aria-label={trans.__('Datastores')}>
          {items.map(d => (
            <li key={d.name} className="mlbench-Data-datastore">
              <span className="mlbench-Data-itemName">
                {d.name}
                {d.is_default && (
                  <span className="mlbench-Data-badge">
                    {trans.__('default')}
                  </span>
                )}
                {d.read_only && (
                  <span className="mlbench-Data-badge">
                    {trans.__('read-only')}
                  </span>
                )}
              </span>
              <span className="mlbench-Data-itemMeta" title={d.uri}>
                {d.kind} · {d.uri}
              </span>
              {d.credentials && d.credentials.length > 0 && (
                <span className="mlbench-Data-itemMeta">
                  {trans.__('credentials: %1', d.credentials.join(', '))}
                </span>
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/**
 * One asset: its versions, and the chosen version's details, preview and
 * lineage.
 */
export function AssetView(props: {
  client: MlbenchClient;
  name: string;
  onBack?: () => void;
  onError: (error: unknown) => string;
}): JSX.Element {
  const { client, name, onBack, onError } = props;
  const trans = useTrans();
  const [versions, setVersions] = useState<IDataVersionInfo[] | null>(null);
  const [version, setVersion] = useState<number | null>(null);
  const [error, setError] = useState('');

  useEffect(() => {
    let live = true;
    client
      .listDataVersions(name)
      .then(page => {
        if (!live) {
          return;
        }
        // Newest first, whatever order the server sends.
        const items = [...page.items].sort((a, b) => b.version - a.version);
        setVersions(items);
        setVersion(v => v ?? items[0]?.version ?? null);
      })
      .catch(reason => live && setError(onError(reason)));
    return () => {
      live = false;
    };
  }, [client, name]);

  const info = versions?.find(v => v.version === version) ?? null;

  return (
    <div className="mlbench-Data-asset">
      <div className="mlbench-Data-toolbar">
        {onBack && (
          <button
            className="jp-mod-styled mlbench-Data-iconButton"
            title={trans.__('Back to the data assets')}
            aria-label={trans.__('Back to the data assets')}
            onClick={onBack}
          >
            <caretLeftIcon.react tag="span" />
          </button>
        )}
        <h3 className="mlbench-Data-title">{name}</h3>
        {versions && versions.length > 0 && (
          <label className="mlbench-Data-version">
            {trans.__('Version')}
            <select
              className="jp-mod-styled"
              value={version ?? ''}
              onChange={e => setVersion(Number(e.target.value))}
            >
              {versions.map(v => (
                <option key={v.version} value={v.version}>
                  {v.version}
                  {v.archived ? trans.__(' (archived)') : ''}
                </option>
              ))}
            </select>
          </label>
        )}
      </div>
      {error && (
        <div className="mlbench-Data-error" role="alert">
          {error}
        </div>
      )}
      {versions === null && !error && (
        <div className="mlbench-Data-empty">
          {trans.__('Loading versions…')}
        </div>
      )}
      {info && (
        <>
          <VersionDetails info={info} />
          <Preview client={client} info={info} />
          <Lineage client={client} info={info} />
        </>
      )}
    </div>
  );
}

/**
 * What a version is: where, how big, its hash, its schema, who made it.
 */
function VersionDetails(props: { info: IDataVersionInfo }): JSX.Element {
  const { info } = props;
  const trans = useTrans();
  const rows: [string, string][] = [
    [trans.__('Reference'), info.ref],
    [
      trans.__('Kind'),
      info.format ? `${info.kind} (${info.format})` : info.kind
    ],
    [trans.__('Datastore'), info.datastore],
    [trans.__('URI'), info.uri],
    [
      trans.__('Stored'),
      info.stored === 'upload'
        ? trans.__('uploaded copy')
        : trans.__('reference')
    ],
    [trans.__('Size'), formatBytes(info.size_bytes)],
    [trans.__('Files'), String(info.file_count)],
    [
      trans.__('Rows'),
      info.row_count === null || info.row_count === undefined
        ? ''
        : info.row_count.toLocaleString('en-US')
    ],
    [
      trans.__('Hash'),
      `${info.hash_algorithm ?? 'blake3'}:${info.content_hash}`
    ],
    [trans.__('Created'), new Date(info.created_at).toLocaleString()],
    [trans.__('Created by'), info.created_by ?? ''],
    [trans.__('Made by job'), info.job_id ?? ''],
    [trans.__('Source'), info.source ?? ''],
    [trans.__('Description'), info.description ?? ''],
    [
      trans.__('Tags'),
      Object.entries(info.tags ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')
    ]
  ];
  return (
    <section
      className="mlbench-Data-details"
      aria-label={trans.__('Version details')}
    >
      <dl>
        {rows
          .filter(([, value]) => value !== '')
          .map(([label, value]) => (
            <React.Fragment key={label}>
              <dt>{label}</dt>
              <dd title={value}>{value}</dd>
            </React.Fragment>
          ))}
      </dl>
      {info.columns && info.columns.length > 0 && (
        <details className="mlbench-Data-schema">
          <summary>
            {trans._n(
              'Schema (%1 column)',
              'Schema (%1 columns)',
              info.columns.length
            )}
          </summary>
          <ul>
            {info.columns.map(c => (
              <li key={c.name}>
                <code>{c.name}</code> {c.type}
                {c.nullable === false ? trans.__(' not null') : ''}
              </li>
            ))}
          </ul>
        </details>
      )}
    </section>
  );
}

/**
 * What `load` answers for a version (null until it did, and again while
 * `deps` changed), and the error's message ('' when none): `unavailable`
 * when the server does not serve that data route. An answer that comes
 * after `deps` changed is dropped.
 */
function useVersionData<T>(
  load: () => Promise<T>,
  unavailable: string,
  deps: React.DependencyList
): [T | null, string] {
  const [value, setValue] = useState<T | null>(null);
  const [error, setError] = useState('');

  useEffect(() => {
    let live = true;
    setValue(null);
    setError('');
    load()
      .then(v => live && setValue(v))
      .catch(reason => {
        if (live) {
          setError(
            isDataUnavailable(reason) ? unavailable : errorMessage(reason)
          );
        }
      });
    return () => {
      live = false;
    };
  }, deps);

  return [value, error];
}

/**
 * A titled part of a version's view (preview, lineage), with its error and
 * loading state before its content.
 */
function VersionPart(props: {
  className: string;
  title: string;
  error: string;
  loading: boolean;
  loadingText: string;
  children: React.ReactNode;
}): JSX.Element {
  const { error, loading } = props;
  return (
    <section className={props.className} aria-label={props.title}>
      <h4>{props.title}</h4>
      {error && <div className="mlbench-Data-error">{error}</div>}
      {loading && <div className="mlbench-Data-empty">{props.loadingText}</div>}
      {props.children}
    </section>
  );
}

/**
 * The first rows of a table, or the files of a file or folder.
 */
function Preview(props: {
  client: MlbenchClient;
  info: IDataVersionInfo;
}): JSX.Element {
  const { client, info } = props;
  const trans = useTrans();
  const [preview, error] = useVersionData<IDataPreview>(
    () => client.dataPreview(info.name, info.version, PREVIEW_ROWS),
    'No preview: this server does not serve data previews.',
    [client, info.name, info.version]
  );

  const columns = preview ? previewColumns(preview) : [];
  return (
    <VersionPart
      className="mlbench-Data-preview"
      title={trans.__('Preview')}
      error={error}
      loading={!preview && !error}
      loadingText={trans.__('Loading preview…')}
    >
      {preview && preview.rows && (
        <div className="mlbench-Data-tableWrap">
          <table
            className="mlbench-Data-table"
            aria-label={trans.__('First rows of %1', info.ref)}
          >
            <thead>
              <tr>
                {columns.map(c => (
                  <th key={c} scope="col">
                    {c}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {preview.rows.map((row, i) => (
                <tr key={i}>
                  {columns.map(c => (
                    <td key={c}>{previewCell(row[c])}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {preview && preview.files && (
        <ul
          className="mlbench-Data-files"
          aria-label={trans.__('Files of %1', info.ref)}
        >
          {preview.files.map(f => (
            <li key={f.path}>
              <code>{f.path}</code> {formatBytes(f.size)}
            </li>
          ))}
        </ul>
      )}
      {preview && (
        <div className="mlbench-Data-note">
          {preview.rows
            ? trans.__(
                '%1 of %2 rows',
                preview.rows.length,
                (preview.row_count ?? preview.rows.length).toLocaleString(
                  'en-US'
                )
              )
            : trans.__(
                '%1 of %2 files',
                preview.files?.length ?? 0,
                preview.file_count
              )}
          {preview.truncated ? trans.__(' (truncated)') : ''}
        </div>
      )}
    </VersionPart>
  );
}

/**
 * Which jobs and versions this version came from and went into.
 */
function Lineage(props: {
  client: MlbenchClient;
  info: IDataVersionInfo;
}): JSX.Element {
  const { client, info } = props;
  const trans = useTrans();
  const [graph, error] = useVersionData<ILineageGraph>(
    () => client.dataLineage(info.name, info.version),
    'No lineage: this server does not serve data lineage.',
    [client, info.name, info.version]
  );

  const levels = graph ? lineageLevels(graph) : [];
  const binding = (id: string): string => {
    const e = graph?.edges.find(x => x.source === id || x.target === id);
    return e ? e.binding : '';
  };
  return (
    <VersionPart
      className="mlbench-Data-lineage"
      title={trans.__('Lineage')}
      error={error}
      loading={!graph && !error}
      loadingText={trans.__('Loading lineage…')}
    >
      {graph && levels.length <= 1 && (
        <div className="mlbench-Data-empty">
          {trans.__('No job has made or read this version yet.')}
        </div>
      )}
      {graph && levels.length > 1 && (
        <ol className="mlbench-Data-levels">
          {levels.map(l => (
            <li key={l.level} data-level={l.level}>
              <div className="mlbench-Data-levelTitle">
                {levelTitle(l.level)}
              </div>
              <ul>
                {l.nodes.map(n => (
                  <li
                    key={n.id}
                    className={`mlbench-Data-node mlbench-Data-node-${n.type}`}
                    title={n.id}
                  >
                    <span className="mlbench-Data-nodeKind">
                      {n.type === 'job' ? trans.__('job') : trans.__('data')}
                    </span>{' '}
                    {n.label}
                    {n.status ? ` · ${n.status}` : ''}
                    {n.id !== graph.root && binding(n.id)
                      ? ` · ${binding(n.id)}`
                      : ''}
                  </li>
                ))}
              </ul>
            </li>
          ))}
        </ol>
      )}
      {graph?.truncated && (
        <div className="mlbench-Data-note">
          {trans.__('Cut at the depth limit.')}
        </div>
      )}
    </VersionPart>
  );
}

/**
 * Provide `translator`'s mlbench bundle to the children when one is given,
 * else keep the sidebar's.
 */
function MaybeTranslator(props: {
  translator?: ITranslator;
  children: React.ReactNode;
}): JSX.Element {
  const bundle = useMemo(
    () => props.translator?.load('mlbench'),
    [props.translator]
  );
  return bundle ? (
    <TranslationContext.Provider value={bundle}>
      {props.children}
    </TranslationContext.Provider>
  ) : (
    <>{props.children}</>
  );
}
