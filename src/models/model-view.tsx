/**
 * A registered model in the main area: its versions (aliases, the job each
 * came from), and the chosen version's lineage (job, run, data versions,
 * environment), signature and tags; aliases are set and removed here, and a
 * version deleted after a confirmation. Restored after a reload; live from
 * the event stream.
 */
import { Dialog, MainAreaWidget, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle, nullTranslator } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import React, { useCallback, useEffect, useState } from 'react';

import {
  EventStream,
  IModelVersion,
  MlbenchClient,
  errorMessage
} from '../api';
import { useEventReloads } from '../components/use-events';
import { TranslationContext, useTrans } from '../i18n';
import { mlbenchIcon } from '../icons';
import { formatTime } from '../jobs/format';
import {
  changedModel,
  dataAssetName,
  hasLineage,
  isValidAlias,
  signatureColumns
} from './model';

/**
 * What the view's links do (wired to the plugin's commands).
 */
export interface IModelActions {
  openJob(jobId: string): void;
  openDataAsset(name: string): void;
  deploy(model: string, version: number): void;
}

function Signature(props: { version: IModelVersion }): JSX.Element {
  const trans = useTrans();
  const parts = (['inputs', 'outputs'] as const).map(part => ({
    part,
    columns: signatureColumns(props.version, part)
  }));
  if (parts.every(p => p.columns.length === 0)) {
    return (
      <p className="mlbench-Section-empty">
        {trans.__(
          'No signature: log the model with an input_example (or a signature) to record its columns.'
        )}
      </p>
    );
  }
  return (
    <div className="mlbench-ModelView-signature">
      {parts.map(({ part, columns }) => (
        <table key={part} className="mlbench-ModelView-table" aria-label={part}>
          <caption>
            {part === 'inputs' ? trans.__('Inputs') : trans.__('Outputs')}
          </caption>
          <thead>
            <tr>
              <th>{trans.__('Name')}</th>
              <th>{trans.__('Type')}</th>
            </tr>
          </thead>
          <tbody>
            {columns.map(c => (
              <tr key={c.name}>
                <td>
                  {c.name}
                  {c.required ? '' : ' ?'}
                </td>
                <td>{c.type}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ))}
    </div>
  );
}

function Lineage(props: {
  version: IModelVersion;
  actions: IModelActions;
}): JSX.Element {
  const trans = useTrans();
  const { lineage } = props.version;
  if (!hasLineage(lineage)) {
    return (
      <p className="mlbench-Section-empty">
        {trans.__('Registered from a local folder: no job lineage.')}
      </p>
    );
  }
  const jobId = lineage.job_id;
  return (
    <dl className="mlbench-ModelView-lineage">
      <dt>{trans.__('Job')}</dt>
      <dd>
        {jobId ? (
          <button
            className="mlbench-ModelView-link"
            onClick={() => props.actions.openJob(jobId)}
          >
            {jobId}
          </button>
        ) : (
          '-'
        )}
      </dd>
      <dt>{trans.__('MLflow run')}</dt>
      <dd>
        <code>{lineage.run_id ?? '-'}</code>
        {lineage.experiment ? ` (${lineage.experiment})` : ''}
      </dd>
      <dt>{trans.__('Data read')}</dt>
      <dd>
        {(lineage.data_inputs ?? []).length === 0
          ? '-'
          : (lineage.data_inputs ?? []).map(ref => (
              <button
                key={ref}
                className="mlbench-ModelView-link"
                onClick={() => props.actions.openDataAsset(dataAssetName(ref))}
              >
                {ref}
              </button>
            ))}
      </dd>
      <dt>{trans.__('Environment')}</dt>
      <dd>{lineage.environment ?? trans.__('the kernel of the job')}</dd>
    </dl>
  );
}

export function ModelViewBody(props: {
  client: MlbenchClient;
  stream: EventStream;
  name: string;
  actions: IModelActions;
}): JSX.Element {
  const { client, stream, name, actions } = props;
  const trans = useTrans();
  const [versions, setVersions] = useState<IModelVersion[] | null>(null);
  const [selected, setSelected] = useState<number | null>(null);
  const [detail, setDetail] = useState<IModelVersion | null>(null);
  const [error, setError] = useState('');
  const [alias, setAlias] = useState('');
  const [reloads, setReloads] = useState(0);
  const changes = useEventReloads(
    stream,
    event => changedModel(event) === name
  );

  const fail = useCallback((reason: unknown) => {
    setError(errorMessage(reason));
  }, []);

  useEffect(() => {
    let live = true;
    client.modelVersions(name).then(list => {
      if (!live) {
        return;
      }
      setVersions(list.items);
      setError('');
      setSelected(current =>
        current !== null && list.items.some(v => v.version === current)
          ? current
          : (list.items[0]?.version ?? null)
      );
    }, fail);
    return () => {
      live = false;
    };
  }, [client, name, reloads, changes]);

  useEffect(() => {
    if (selected === null) {
      setDetail(null);
      return;
    }
    let live = true;
    client.modelVersion(name, selected).then(v => {
      if (live) {
        setDetail(v);
      }
    }, fail);
    return () => {
      live = false;
    };
  }, [client, name, selected, reloads, changes]);

  const aliasProblem =
    alias && !isValidAlias(alias)
      ? trans.__(
          "A letter, then letters, digits, '-' or '_' (not 'latest' nor v<number>)"
        )
      : '';

  const setVersionAlias = async () => {
    if (selected === null || !alias || aliasProblem) {
      return;
    }
    try {
      await client.setModelAlias(name, alias, selected);
      setAlias('');
      setReloads(n => n + 1);
    } catch (reason) {
      fail(reason);
    }
  };

  const removeAlias = async (a: string) => {
    try {
      await client.deleteModelAlias(name, a);
      setReloads(n => n + 1);
    } catch (reason) {
      fail(reason);
    }
  };

  const deleteVersion = async (version: number) => {
    const result = await showDialog({
      title: trans.__('Delete %1:%2', name, version),
      body: trans.__(
        'Delete this version from the registry? Its run and artifacts are kept.'
      ),
      buttons: [
        Dialog.cancelButton(),
        Dialog.warnButton({ label: trans.__('Delete') })
      ]
    });
    if (!result.button.accept) {
      return;
    }
    try {
      await client.deleteModelVersion(name, version);
      setReloads(n => n + 1);
    } catch (reason) {
      fail(reason);
    }
  };

  return (
    <div className="mlbench-ModelView-body">
      <h2 className="mlbench-ModelView-title">{name}</h2>
      {error && (
        <div className="mlbench-Section-error" role="alert">
          {error}
        </div>
      )}
      {versions === null && !error && (
        <div className="mlbench-Section-empty">{trans.__('Loading…')}</div>
      )}
      {versions !== null && versions.length === 0 && (
        <div className="mlbench-Section-empty">
          {trans.__('This model has no versions left.')}
        </div>
      )}
      {versions !== null && versions.length > 0 && (
        <table
          className="mlbench-ModelView-table mlbench-ModelView-versions"
          aria-label={trans.__('Versions')}
        >
          <thead>
            <tr>
              <th>{trans.__('Version')}</th>
              <th>{trans.__('Aliases')}</th>
              <th>{trans.__('Job')}</th>
              <th>{trans.__('Registered')}</th>
            </tr>
          </thead>
          <tbody>
            {versions.map(v => (
              <tr
                key={v.version}
                data-version={v.version}
                aria-selected={v.version === selected}
                className={
                  v.version === selected ? 'mlbench-mod-selected' : undefined
                }
                onClick={() => setSelected(v.version)}
              >
                <td>{`v${v.version}`}</td>
                <td>
                  {(v.aliases ?? []).map(a => (
                    <span key={a} className="mlbench-ModelView-alias">
                      @{a}
                      <button
                        className="mlbench-ModelView-unalias"
                        title={trans.__('Remove alias %1', a)}
                        aria-label={trans.__('Remove alias %1', a)}
                        onClick={event => {
                          event.stopPropagation();
                          void removeAlias(a);
                        }}
                      >
                        ×
                      </button>
                    </span>
                  ))}
                </td>
                <td>{v.lineage.job_id ?? '-'}</td>
                <td>{formatTime(v.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {detail && (
        <section
          className="mlbench-ModelView-detail"
          aria-label={trans.__('Version %1', detail.version)}
        >
          <h3>
            {detail.ref}
            {detail.description ? ` — ${detail.description}` : ''}
          </h3>
          <div className="mlbench-ModelView-actions">
            <input
              className="jp-mod-styled"
              placeholder={trans.__('alias, e.g. champion')}
              aria-label={trans.__('Alias')}
              value={alias}
              onChange={event => setAlias(event.target.value.trim())}
              onKeyDown={event => {
                if (event.key === 'Enter') {
                  void setVersionAlias();
                }
              }}
            />
            <button
              className="jp-mod-styled jp-mod-accept"
              disabled={!alias || Boolean(aliasProblem)}
              title={
                aliasProblem || trans.__('Point the alias at this version')
              }
              onClick={() => void setVersionAlias()}
            >
              {trans.__('Set alias')}
            </button>
            <button
              className="jp-mod-styled"
              title={trans.__('Serve this version from an online endpoint')}
              onClick={() => actions.deploy(name, detail.version)}
            >
              {trans.__('Deploy…')}
            </button>
            <button
              className="jp-mod-styled jp-mod-warn"
              onClick={() => void deleteVersion(detail.version)}
            >
              {trans.__('Delete version')}
            </button>
          </div>
          {aliasProblem && (
            <div className="mlbench-Section-error">{aliasProblem}</div>
          )}
          <h4>{trans.__('Lineage')}</h4>
          <Lineage version={detail} actions={actions} />
          <h4>{trans.__('Signature')}</h4>
          <Signature version={detail} />
          {Object.keys(detail.tags ?? {}).length > 0 && (
            <>
              <h4>{trans.__('Tags')}</h4>
              <dl className="mlbench-ModelView-tags">
                {Object.entries(detail.tags ?? {}).map(([k, value]) => (
                  <React.Fragment key={k}>
                    <dt>{k}</dt>
                    <dd>{value}</dd>
                  </React.Fragment>
                ))}
              </dl>
            </>
          )}
          <p className="mlbench-ModelView-source">
            {trans.__('Files: %1', detail.source)}
          </p>
        </section>
      )}
    </div>
  );
}

/**
 * The main-area widget of one registered model.
 */
export class ModelView extends MainAreaWidget<ReactWidget> {
  constructor(options: {
    client: MlbenchClient;
    stream: EventStream;
    name: string;
    actions: IModelActions;
    trans?: TranslationBundle;
  }) {
    const trans = options.trans ?? nullTranslator.load('mlbench');
    const content = ReactWidget.create(
      <TranslationContext.Provider value={trans}>
        <ModelViewBody
          client={options.client}
          stream={options.stream}
          name={options.name}
          actions={options.actions}
        />
      </TranslationContext.Provider>
    );
    content.addClass('mlbench-ModelView');
    super({ content });
    this.modelName = options.name;
    this.id = `mlbench-model-${options.name}`;
    this.title.label = trans.__('Model: %1', options.name);
    this.title.caption = trans.__('mlbench registered model %1', options.name);
    this.title.icon = mlbenchIcon;
    this.title.closable = true;
  }

  readonly modelName: string;
}
