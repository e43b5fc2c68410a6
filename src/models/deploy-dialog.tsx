/**
 * "Deploy…" from a model version: to an existing endpoint or a new one, as a
 * named deployment with its instance count, compute and share of traffic.
 * The dialog closes only once the server accepted the deployment (it answers
 * before the deployment is ready: the endpoint view shows it start). A new
 * endpoint's keys are shown once, right after, as the server returns them once.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle, nullTranslator } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import { ISignal, Signal } from '@lumino/signaling';
import React, { useEffect, useState } from 'react';

import {
  IDeploymentInfo,
  IEndpointCreated,
  MlbenchClient,
  errorMessage
} from '../api';
import { SubmittingDialog } from '../components/submitting-dialog';
import { TranslationContext, useTrans } from '../i18n';

/** The "endpoint" choice that creates one. */
export const NEW_ENDPOINT = '';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
// Compute kinds a deployment can run on (the server refuses the others).
const SERVING_KINDS = ['local', 'ray'];

export interface IDeployFields {
  endpoint: string;
  newEndpoint: string;
  deployment: string;
  compute: string;
  instanceCount: string;
  traffic: string;
}

export type DeployProblems = Partial<Record<keyof IDeployFields, string>>;

/** What is wrong with the form (empty when it can be sent). */
export function checkDeploy(
  fields: IDeployFields,
  endpoints: { [name: string]: string[] }
): DeployProblems {
  const problems: DeployProblems = {};
  const name = "letters, digits, '.', '_' or '-' (at most 64)";
  const creating = fields.endpoint === NEW_ENDPOINT;
  if (creating) {
    if (!NAME_RE.test(fields.newEndpoint)) {
      problems.newEndpoint = `an endpoint name: ${name}`;
    } else if (fields.newEndpoint in endpoints) {
      problems.newEndpoint = 'this endpoint exists: choose it above';
    }
  }
  if (!NAME_RE.test(fields.deployment)) {
    problems.deployment = `a deployment name: ${name}`;
  }
  const count = Number(fields.instanceCount);
  if (!/^\d+$/.test(fields.instanceCount) || count < 1 || count > 64) {
    problems.instanceCount = 'a whole number from 1 to 64';
  }
  const traffic = fields.traffic.trim();
  if (traffic && (!/^\d+$/.test(traffic) || Number(traffic) > 100)) {
    problems.traffic = 'a whole percent from 0 to 100, or empty';
  }
  return problems;
}

/** A deployment name not yet used in the endpoint: blue, green, then NAME-vN. */
export function suggestDeployment(
  taken: string[],
  model: string,
  version: number
): string {
  const free = ['blue', 'green'].find(n => !taken.includes(n));
  return free ?? `${model}-v${version}`.replace(/[^A-Za-z0-9_.-]/g, '-');
}

/**
 * The form's state; `submit` creates the endpoint if asked, then deploys.
 */
export class DeployFormModel {
  constructor(
    readonly client: MlbenchClient,
    readonly model: string,
    readonly version: number
  ) {
    this.fields = {
      endpoint: NEW_ENDPOINT,
      newEndpoint: `${model}-endpoint`.replace(/[^A-Za-z0-9_.-]/g, '-'),
      deployment: 'blue',
      compute: 'local',
      instanceCount: '1',
      traffic: ''
    };
  }

  fields: IDeployFields;
  /** endpoint -> its deployments' names */
  endpoints: { [name: string]: string[] } = {};
  computes: string[] = ['local'];
  problems: DeployProblems = {};
  error = '';
  busy = false;
  created: IEndpointCreated | null = null;

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  async load(): Promise<void> {
    try {
      const [endpoints, computes] = await Promise.all([
        this.client.listEndpoints(),
        this.client.listCompute()
      ]);
      this.endpoints = {};
      for (const e of endpoints.items) {
        this.endpoints[e.name] = (e.deployments ?? []).map(d => d.name);
      }
      this.computes = computes.items
        .filter(c => SERVING_KINDS.includes(c.target.kind))
        .map(c => c.target.name);
      const first = Object.keys(this.endpoints)[0];
      if (first !== undefined) {
        this.set('endpoint', first);
      }
    } catch (reason) {
      this.error = errorMessage(reason);
    }
    this._changed.emit();
  }

  set(field: keyof IDeployFields, value: string): void {
    this.fields = { ...this.fields, [field]: value };
    if (field === 'endpoint') {
      this.fields.deployment = suggestDeployment(
        this.endpoints[value] ?? [],
        this.model,
        this.version
      );
    }
    if (Object.keys(this.problems).length) {
      this.problems = checkDeploy(this.fields, this.endpoints);
    }
    this._changed.emit();
  }

  get endpointName(): string {
    return this.fields.endpoint === NEW_ENDPOINT
      ? this.fields.newEndpoint
      : this.fields.endpoint;
  }

  /** The accepted deployment, or null (the problems are in the form). */
  async submit(): Promise<IDeploymentInfo | null> {
    this.problems = checkDeploy(this.fields, this.endpoints);
    this.error = '';
    if (Object.keys(this.problems).length) {
      this._changed.emit();
      return null;
    }
    this.busy = true;
    this._changed.emit();
    const { fields } = this;
    try {
      // a retry after a failed deploy must not create the endpoint twice
      if (fields.endpoint === NEW_ENDPOINT && !this.created) {
        this.created = await this.client.createEndpoint({
          name: fields.newEndpoint
        });
      }
      return await this.client.deploy(this.endpointName, {
        name: fields.deployment,
        model: `${this.model}:${this.version}`,
        compute: fields.compute,
        instance_count: Number(fields.instanceCount),
        traffic: fields.traffic.trim() ? Number(fields.traffic) : null
      });
    } catch (reason) {
      this.error = errorMessage(reason);
      return null;
    } finally {
      this.busy = false;
      this._changed.emit();
    }
  }

  private _changed = new Signal<this, void>(this);
}

function Field(props: {
  model: DeployFormModel;
  field: keyof IDeployFields;
  label: string;
  placeholder?: string;
}): JSX.Element {
  const { model, field, label } = props;
  const id = `mlbench-deploy-${field}`;
  const problem = model.problems[field];
  return (
    <div className="mlbench-Form-row">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="text"
        className="jp-mod-styled"
        aria-label={label}
        aria-invalid={Boolean(problem)}
        value={model.fields[field]}
        placeholder={props.placeholder}
        onChange={event => model.set(field, event.target.value.trim())}
      />
      {problem && (
        <div className="mlbench-Form-error" role="alert">
          {problem}
        </div>
      )}
    </div>
  );
}

function Choice(props: {
  model: DeployFormModel;
  field: 'endpoint' | 'compute';
  label: string;
  options: [string, string][];
}): JSX.Element {
  const { model, field, label } = props;
  const id = `mlbench-deploy-${field}`;
  return (
    <div className="mlbench-Form-row">
      <label htmlFor={id}>{label}</label>
      <select
        id={id}
        className="jp-mod-styled"
        aria-label={label}
        value={model.fields[field]}
        onChange={event => model.set(field, event.target.value)}
      >
        {props.options.map(([value, text]) => (
          <option key={value} value={value}>
            {text}
          </option>
        ))}
      </select>
    </div>
  );
}

function DeployForm(props: { model: DeployFormModel }): JSX.Element {
  const { model } = props;
  const trans = useTrans();
  const [, setTick] = useState(0);
  useEffect(() => {
    const rerender = () => setTick(n => n + 1);
    model.changed.connect(rerender);
    return () => {
      model.changed.disconnect(rerender);
    };
  }, [model]);
  const existing = Object.keys(model.endpoints);
  const deployments = model.endpoints[model.fields.endpoint] ?? [];
  return (
    <form
      className="mlbench-Form mlbench-DeployForm"
      onSubmit={event => event.preventDefault()}
    >
      {model.error && (
        <div className="mlbench-Form-error" role="alert">
          {model.error}
        </div>
      )}
      <Choice
        model={model}
        field="endpoint"
        label={trans.__('Endpoint')}
        options={[
          ...existing.map((name): [string, string] => [name, name]),
          [NEW_ENDPOINT, trans.__('New endpoint…')]
        ]}
      />
      {model.fields.endpoint === NEW_ENDPOINT && (
        <Field
          model={model}
          field="newEndpoint"
          label={trans.__('New endpoint name')}
        />
      )}
      <Field
        model={model}
        field="deployment"
        label={
          deployments.includes(model.fields.deployment)
            ? trans.__('Deployment (exists: rolled to this version)')
            : trans.__('Deployment')
        }
      />
      <Choice
        model={model}
        field="compute"
        label={trans.__('Compute')}
        options={model.computes.map((name): [string, string] => [name, name])}
      />
      <Field
        model={model}
        field="instanceCount"
        label={trans.__('Instances')}
      />
      <Field
        model={model}
        field="traffic"
        label={trans.__('Traffic %')}
        placeholder={
          deployments.length
            ? trans.__('empty: none until you shift it')
            : trans.__('empty: 100 (the first deployment)')
        }
      />
      {model.busy && (
        <div className="mlbench-Section-empty">{trans.__('Deploying…')}</div>
      )}
    </form>
  );
}

function Keys(props: { created: IEndpointCreated }): JSX.Element {
  const trans = useTrans();
  const { created } = props;
  return (
    <div className="mlbench-DeployKeys">
      <p>
        {trans.__(
          'Copy these keys now: they are shown only this once (regenerate one if it is lost).'
        )}
      </p>
      <dl>
        <dt>{trans.__('URL')}</dt>
        <dd>
          <code>{created.url}</code>
        </dd>
        <dt>{trans.__('Primary key')}</dt>
        <dd>
          <code data-key="primary">{created.secrets.primary}</code>
        </dd>
        <dt>{trans.__('Secondary key')}</dt>
        <dd>
          <code data-key="secondary">{created.secrets.secondary}</code>
        </dd>
      </dl>
    </div>
  );
}

/**
 * Ask where to deploy `model:version` and deploy it; the endpoint's name, or
 * null when canceled.
 */
export async function showDeployDialog(options: {
  client: MlbenchClient;
  model: string;
  version: number;
  trans?: TranslationBundle;
}): Promise<string | null> {
  const trans = options.trans ?? nullTranslator.load('mlbench');
  const model = new DeployFormModel(
    options.client,
    options.model,
    options.version
  );
  const body = ReactWidget.create(
    <TranslationContext.Provider value={trans}>
      <DeployForm model={model} />
    </TranslationContext.Provider>
  );
  const dialog = new SubmittingDialog<IDeploymentInfo>({
    title: trans.__('Deploy %1:%2', model.model, model.version),
    body,
    okLabel: trans.__('Deploy'),
    cancelLabel: trans.__('Cancel'),
    classNames: ['mlbench-DeployDialog'],
    submit: () => model.submit()
  });
  void model.load();
  const result = await dialog.launch();
  if (model.created) {
    // created even when the deploy was then canceled: its keys are needed either way
    await showDialog({
      title: trans.__('Endpoint %1 created', model.created.name),
      body: ReactWidget.create(
        <TranslationContext.Provider value={trans}>
          <Keys created={model.created} />
        </TranslationContext.Provider>
      ),
      buttons: [Dialog.okButton({ label: trans.__('Done') })]
    });
  }
  return result.value ? model.endpointName : (model.created?.name ?? null);
}
