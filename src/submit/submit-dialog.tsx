/**
 * The "Run as job..." dialog: a typed form built from the notebook's
 * parameters, checked before anything is submitted.
 */
import { Dialog } from '@jupyterlab/apputils';
import { ReactWidget } from '@jupyterlab/ui-components';
import { ISignal, Signal } from '@lumino/signaling';
import React, { useEffect, useState } from 'react';

import {
  IComputeStatus,
  IDataVersionInfo,
  IJob,
  IKernelSpecInfo,
  INotebookParameter,
  MlbenchClient,
  errorMessage,
  validationProblems
} from '../api';
import {
  ISubmitFormValues,
  buildSubmission,
  describeType,
  initialText,
  parseParameter
} from './parameter-form';

/**
 * The state of the dialog: what the server told about the notebook, the
 * field texts and the refused fields.
 */
export class SubmitFormModel {
  constructor(options: SubmitFormModel.IOptions) {
    this.client = options.client;
    this.values = {
      notebookPath: options.path,
      parameters: {},
      compute: options.defaultCompute || 'local',
      kernelName: '',
      gpus: '',
      timeout: '',
      retries: '0',
      experiment: options.defaultExperiment ?? '',
      tags: '',
      displayName: '',
      inputs: {}
    };
  }

  readonly client: MlbenchClient;
  values: ISubmitFormValues;
  parameters: INotebookParameter[] = [];
  hasParametersCell = true;
  kernels: IKernelSpecInfo[] = [];
  compute: IComputeStatus[] = [];
  /** Data assets (latest versions) a parameter can be bound to; empty when
   * the data routes do not answer. */
  dataAssets: IDataVersionInfo[] = [];
  errors: { [field: string]: string } = {};
  loadError = '';
  submitError = '';
  loaded = false;
  submitting = false;

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  async load(): Promise<void> {
    try {
      const [params, kernels, compute] = await Promise.all([
        this.client.notebookParameters(this.values.notebookPath),
        this.client.listKernels(),
        this.client.listCompute()
      ]);
      this.parameters = params.parameters;
      this.hasParametersCell = params.has_parameters_cell;
      this.kernels = kernels.items;
      this.compute = compute.items;
      const texts: { [name: string]: string } = {};
      for (const p of params.parameters) {
        texts[p.name] = initialText(p);
      }
      this.values = {
        ...this.values,
        parameters: texts,
        kernelName: params.kernel_name ?? kernels.default ?? ''
      };
      if (
        this.compute.length &&
        !this.compute.some(c => c.target.name === this.values.compute)
      ) {
        this.values.compute = this.compute[0].target.name;
      }
    } catch (reason) {
      this.loadError = errorMessage(reason);
    }
    try {
      this.dataAssets = (await this.client.listData({ limit: 200 })).items;
    } catch {
      // no data routes on this server: no data picker
    }
    this.loaded = true;
    this._changed.emit();
  }

  set(field: keyof ISubmitFormValues, value: string): void {
    this.values = { ...this.values, [field]: value };
    delete this.errors[field];
    this._changed.emit();
  }

  setInput(name: string, ref: string): void {
    this.values = {
      ...this.values,
      inputs: { ...this.values.inputs, [name]: ref }
    };
    this._changed.emit();
  }

  setParameter(name: string, text: string): void {
    this.values = {
      ...this.values,
      parameters: { ...this.values.parameters, [name]: text }
    };
    // check as the user types: a wrong type shows at once
    const param = this.parameters.find(p => p.name === name);
    const key = `param:${name}`;
    const parsed = param ? parseParameter(param, text) : null;
    if (parsed && !parsed.ok) {
      this.errors = { ...this.errors, [key]: parsed.error };
    } else {
      const rest = { ...this.errors };
      delete rest[key];
      this.errors = rest;
    }
    this._changed.emit();
  }

  /**
   * Check the form, then submit; the job, or null when refused (the
   * reasons are in `errors` and `submitError`).
   */
  async submit(): Promise<IJob | null> {
    if (this.submitting || !this.loaded || this.loadError) {
      return null;
    }
    const built = buildSubmission(this.parameters, this.values);
    if (!built.ok) {
      this.errors = built.errors ?? {};
      this.submitError = 'Fix the highlighted fields.';
      this._changed.emit();
      return null;
    }
    this.submitting = true;
    this.submitError = '';
    this._changed.emit();
    try {
      return await this.client.submitJob(built.value);
    } catch (reason) {
      this.submitError = errorMessage(reason);
      for (const problem of validationProblems(reason)) {
        const name = this.parameters.find(p =>
          problem.message.startsWith(`${p.name}:`)
        )?.name;
        if (name) {
          this.errors[`param:${name}`] = problem.message;
        }
      }
      return null;
    } finally {
      this.submitting = false;
      this._changed.emit();
    }
  }

  private _changed = new Signal<this, void>(this);
}

export namespace SubmitFormModel {
  export interface IOptions {
    client: MlbenchClient;
    path: string;
    defaultCompute?: string;
    defaultExperiment?: string;
  }
}

function FieldError(props: { id: string; error?: string }): JSX.Element | null {
  return props.error ? (
    <div className="mlbench-Form-error" id={props.id} role="alert">
      {props.error}
    </div>
  ) : null;
}

function ParameterField(props: {
  model: SubmitFormModel;
  param: INotebookParameter;
}): JSX.Element {
  const { model, param } = props;
  const id = `mlbench-param-${param.name}`;
  const error = model.errors[`param:${param.name}`];
  const text = model.values.parameters[param.name] ?? '';
  const help = param.help || '';
  return (
    <div className="mlbench-Form-row" data-param={param.name}>
      <label htmlFor={id}>
        {param.name}{' '}
        <span className="mlbench-Form-type">{describeType(param)}</span>
      </label>
      {param.type === 'bool' && !param.nullable ? (
        <input
          id={id}
          type="checkbox"
          aria-label={`Parameter ${param.name}`}
          checked={parseParameter(param, text).ok && text === 'true'}
          onChange={event =>
            model.setParameter(
              param.name,
              event.target.checked ? 'true' : 'false'
            )
          }
        />
      ) : (
        <input
          id={id}
          type="text"
          className="jp-mod-styled"
          aria-label={`Parameter ${param.name}`}
          aria-invalid={!!error}
          aria-describedby={`${id}-help ${id}-error`}
          placeholder={param.default_source || ''}
          value={text}
          onChange={event => model.setParameter(param.name, event.target.value)}
        />
      )}
      {help && (
        <div className="mlbench-Form-help" id={`${id}-help`}>
          {help}
        </div>
      )}
      <FieldError id={`${id}-error`} error={error} />
    </div>
  );
}

function TextField(props: {
  model: SubmitFormModel;
  field: keyof ISubmitFormValues;
  label: string;
  placeholder?: string;
  help?: string;
}): JSX.Element {
  const { model, field } = props;
  const id = `mlbench-field-${field}`;
  const error = model.errors[field];
  return (
    <div className="mlbench-Form-row">
      <label htmlFor={id}>{props.label}</label>
      <input
        id={id}
        type="text"
        className="jp-mod-styled"
        aria-label={props.label}
        aria-invalid={!!error}
        placeholder={props.placeholder}
        value={String(model.values[field])}
        onChange={event => model.set(field, event.target.value)}
      />
      {props.help && <div className="mlbench-Form-help">{props.help}</div>}
      <FieldError id={`${id}-error`} error={error} />
    </div>
  );
}

/**
 * Bind text parameters to data asset versions: the job gets the data's local
 * path in that parameter.
 */
function DataInputs(props: { model: SubmitFormModel }): JSX.Element {
  const { model } = props;
  const candidates = model.parameters.filter(
    p => p.type === 'str' || p.type === 'any'
  );
  return (
    <fieldset className="mlbench-Form-data">
      <legend>Data inputs</legend>
      {candidates.length === 0 && (
        <div className="mlbench-Form-help">
          No text parameter to receive a data path.
        </div>
      )}
      {candidates.map(p => {
        const id = `mlbench-input-${p.name}`;
        return (
          <div className="mlbench-Form-row" key={p.name} data-input={p.name}>
            <label htmlFor={id}>{p.name}</label>
            <select
              id={id}
              className="jp-mod-styled"
              aria-label={`Data for parameter ${p.name}`}
              value={model.values.inputs?.[p.name] ?? ''}
              onChange={event => model.setInput(p.name, event.target.value)}
            >
              <option value="">(its value above)</option>
              {model.dataAssets.map(asset => (
                <React.Fragment key={asset.name}>
                  <option value={`${asset.name}@latest`}>
                    {asset.name} (latest)
                  </option>
                  <option value={`data:${asset.name}:${asset.version}`}>
                    {asset.ref}
                  </option>
                </React.Fragment>
              ))}
            </select>
          </div>
        );
      })}
    </fieldset>
  );
}

function SubmitForm(props: { model: SubmitFormModel }): JSX.Element {
  const { model } = props;
  const [, setTick] = useState(0);
  useEffect(() => {
    const onChange = () => setTick(t => t + 1);
    model.changed.connect(onChange);
    return () => {
      model.changed.disconnect(onChange);
    };
  }, [model]);

  if (!model.loaded) {
    return <div role="status">Reading the notebook's parameters...</div>;
  }
  if (model.loadError) {
    return (
      <div className="mlbench-Form-error" role="alert">
        {model.loadError}
      </div>
    );
  }
  return (
    <form
      className="mlbench-SubmitForm"
      aria-label="Run as job"
      onSubmit={event => event.preventDefault()}
    >
      <div className="mlbench-Form-path">{model.values.notebookPath}</div>
      <fieldset>
        <legend>Parameters</legend>
        {model.parameters.length ? (
          model.parameters.map(p => (
            <ParameterField key={p.name} model={model} param={p} />
          ))
        ) : (
          <div className="mlbench-Form-help">
            {model.hasParametersCell
              ? 'The parameters cell declares no parameter.'
              : 'This notebook has no cell tagged "parameters".'}
          </div>
        )}
      </fieldset>
      {model.dataAssets.length > 0 && <DataInputs model={model} />}
      <fieldset>
        <legend>Where and how</legend>
        <div className="mlbench-Form-row">
          <label htmlFor="mlbench-field-compute">Compute</label>
          <select
            id="mlbench-field-compute"
            className="jp-mod-styled"
            aria-label="Compute"
            value={model.values.compute}
            onChange={event => model.set('compute', event.target.value)}
          >
            {model.compute.map(c => (
              <option key={c.target.name} value={c.target.name}>
                {c.target.name} ({c.target.kind}, {c.running ?? 0} running,{' '}
                {c.queued ?? 0} queued)
              </option>
            ))}
          </select>
        </div>
        <div className="mlbench-Form-row">
          <label htmlFor="mlbench-field-kernel">Kernel</label>
          <select
            id="mlbench-field-kernel"
            className="jp-mod-styled"
            aria-label="Kernel"
            value={model.values.kernelName}
            onChange={event => model.set('kernelName', event.target.value)}
          >
            {model.kernels.map(k => (
              <option key={k.name} value={k.name}>
                {k.display_name}
              </option>
            ))}
          </select>
        </div>
        <TextField model={model} field="gpus" label="GPUs" placeholder="0" />
        <TextField
          model={model}
          field="timeout"
          label="Timeout (seconds)"
          placeholder="no limit"
        />
        <TextField model={model} field="retries" label="Retries" />
        <TextField
          model={model}
          field="experiment"
          label="Experiment"
          placeholder="the notebook's name"
        />
        <TextField
          model={model}
          field="tags"
          label="Tags"
          placeholder="team=cv, purpose=baseline"
          help="key=value pairs, separated by commas"
        />
        <TextField
          model={model}
          field="displayName"
          label="Job name"
          placeholder="the notebook's name"
        />
      </fieldset>
      {model.submitError && (
        <div
          className="mlbench-Form-error mlbench-Form-submitError"
          role="alert"
        >
          {model.submitError}
        </div>
      )}
    </form>
  );
}

/**
 * A dialog whose Submit button submits, and closes only once the server
 * accepted the job (a refused form stays open with its errors).
 */
class SubmitDialog extends Dialog<IJob | null> {
  constructor(model: SubmitFormModel, body: ReactWidget) {
    const buttons = [
      Dialog.cancelButton(),
      Dialog.okButton({ label: 'Submit', ariaLabel: 'Submit job' })
    ];
    super({
      title: 'Run as job',
      body: Object.assign(body, { getValue: () => this._job }),
      buttons,
      focusNodeSelector: 'input'
    });
    this._model = model;
    this._buttonList = buttons;
    this.addClass('mlbench-SubmitDialog');
  }

  resolve(index?: number): void {
    const i = index ?? this._buttonList.length - 1;
    if (!this._buttonList[i]?.accept || this._job) {
      super.resolve(index);
      return;
    }
    void this._model.submit().then(job => {
      if (job) {
        this._job = job;
        super.resolve(i);
      }
    });
  }

  private _model: SubmitFormModel;
  private _buttonList: Dialog.IButton[];
  private _job: IJob | null = null;
}

/**
 * Show the dialog; the submitted job, or null when canceled.
 */
export async function showSubmitDialog(
  options: SubmitFormModel.IOptions
): Promise<IJob | null> {
  const model = new SubmitFormModel(options);
  const body = ReactWidget.create(<SubmitForm model={model} />);
  const dialog = new SubmitDialog(model, body);
  void model.load();
  const result = await dialog.launch();
  return result.button.accept ? result.value : null;
}
