/**
 * The "Run as job..." dialog: a typed form built from the notebook's
 * parameters, checked before anything is submitted. The same form reruns a
 * job with changes: its snapshot's parameters, filled with the job's values.
 */
import { Dialog, Notification } from '@jupyterlab/apputils';
import { TranslationBundle, nullTranslator } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import { ISignal, Signal } from '@lumino/signaling';
import React, { useEffect, useLayoutEffect, useRef, useState } from 'react';

import {
  IComputeStatus,
  IDataVersionInfo,
  IEnvironmentInfo,
  IJob,
  IKernelSpecInfo,
  INotebookParameter,
  ISchedule,
  MlbenchClient,
  errorMessage,
  validationProblems
} from '../api';
import {
  ISubmitFormValues,
  buildSubmission,
  describeType,
  initialText,
  parseParameter,
  rerunFormValues,
  rerunOverrides,
  valueText
} from './parameter-form';
import { readyEnvironments } from '../environments/model';
import { cronInWords, wallTime } from '../schedules/model';
import { TranslationContext, useTrans } from '../i18n';

/**
 * The state of the dialog: what the server told about the notebook, the
 * field texts and the refused fields.
 */
export class SubmitFormModel {
  constructor(options: SubmitFormModel.IOptions) {
    this.client = options.client;
    this.rerunOf = options.rerunOf ?? null;
    this._tagParameters = options.tagParameters ?? null;
    this._trans = options.trans ?? nullTranslator.load('mlbench');
    this.values = this.rerunOf
      ? rerunFormValues(this.rerunOf)
      : {
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
          inputs: {},
          environment: ''
        };
  }

  readonly client: MlbenchClient;
  /** The job rerun with changes; null for a new job. */
  readonly rerunOf: IJob | null;
  values: ISubmitFormValues;
  parameters: INotebookParameter[] = [];
  hasParametersCell = true;
  kernels: IKernelSpecInfo[] = [];
  compute: IComputeStatus[] = [];
  /** Data assets (latest versions) a parameter can be bound to; empty when
   * the data routes do not answer. */
  dataAssets: IDataVersionInfo[] = [];
  /** Ready environment versions a new job can run in; empty when the
   * environment routes do not answer. */
  environments: IEnvironmentInfo[] = [];
  /** "Schedule...": the job started on a rule instead of once; null while
   * the form submits a job. */
  schedule: SubmitFormModel.IScheduleValues | null = null;
  errors: { [field: string]: string } = {};
  loadError = '';
  submitError = '';
  loaded = false;
  submitting = false;

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Whether the form can tag a parameters cell in the notebook. */
  get canTagParameters(): boolean {
    return !!this._tagParameters && !this.rerunOf;
  }

  /**
   * Tag the notebook's first code cell "parameters" (one click, for a
   * notebook without one), then read its parameters again.
   */
  async tagParametersCell(): Promise<void> {
    if (!this._tagParameters) {
      return;
    }
    try {
      if (await this._tagParameters()) {
        await this.load();
      }
    } catch (reason) {
      this.submitError = errorMessage(reason);
      this._changed.emit();
    }
  }

  async load(): Promise<void> {
    try {
      const rerun = this.rerunOf;
      const [params, kernels, compute] = await Promise.all([
        rerun
          ? this.client.jobParameters(rerun.id)
          : this.client.notebookParameters(this.values.notebookPath),
        this.client.listKernels(),
        this.client.listCompute()
      ]);
      this.parameters = params.parameters;
      this.hasParametersCell = params.has_parameters_cell;
      this.kernels = kernels.items;
      this.compute = compute.items;
      const texts: { [name: string]: string } = {};
      for (const p of params.parameters) {
        texts[p.name] =
          rerun && p.name in rerun.parameters
            ? valueText(p, rerun.parameters[p.name])
            : initialText(p);
      }
      if (rerun) {
        this._baseline = texts;
      }
      this.values = {
        ...this.values,
        parameters: texts,
        // a rerun keeps the job's kernel (already in the values)
        kernelName: rerun
          ? this.values.kernelName
          : (params.kernel_name ?? kernels.default ?? '')
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
    if (!this.rerunOf) {
      // a rerun runs in its job's environment (its spec keeps it)
      try {
        const envs = (await this.client.listEnvironments()).items;
        const versions = await Promise.all(
          envs.map(e =>
            this.client.environmentVersions(e.name).then(
              page => page.items,
              () => [e]
            )
          )
        );
        this.environments = readyEnvironments(
          ([] as IEnvironmentInfo[]).concat(...versions)
        );
      } catch {
        // no environment routes on this server: no environment picker
      }
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

  /** Show the schedule fields (a new job only), filled with defaults. */
  startScheduling(): void {
    if (this.schedule || this.rerunOf) {
      return;
    }
    this.schedule = {
      name: defaultScheduleName(this.values.notebookPath),
      cron: '0 2 * * *',
      timezone: browserTimeZone()
    };
    this._changed.emit();
  }

  setSchedule(
    field: keyof SubmitFormModel.IScheduleValues,
    value: string
  ): void {
    if (!this.schedule) {
      return;
    }
    this.schedule = { ...this.schedule, [field]: value };
    const rest = { ...this.errors };
    delete rest[`schedule:${field}`];
    this.errors = rest;
    this._changed.emit();
  }

  /**
   * Check the form and the rule, then create a schedule that starts this
   * job spec at each tick; the schedule, or null when refused.
   */
  async createSchedule(): Promise<ISchedule | null> {
    const schedule = this.schedule;
    if (!schedule || this.submitting || !this.loaded || this.loadError) {
      return null;
    }
    const built = buildSubmission(this.parameters, this.values);
    const errors = { ...(built.ok ? {} : (built.errors ?? {})) };
    const name = schedule.name.trim();
    const cron = schedule.cron.trim();
    const timezone = schedule.timezone.trim();
    if (!SCHEDULE_NAME.test(name)) {
      errors['schedule:name'] = this._trans.__(
        'Letters, digits, "_", "." and "-", starting with a letter or digit.'
      );
    }
    if (cron.split(/\s+/).length !== 5) {
      errors['schedule:cron'] = this._trans.__(
        'Five fields: minute hour day-of-month month weekday.'
      );
    }
    if (!timezone) {
      errors['schedule:timezone'] = this._trans.__(
        'An IANA time zone, e.g. Europe/Berlin or UTC.'
      );
    }
    if (!built.ok || Object.keys(errors).length) {
      this.errors = errors;
      this.submitError = this._trans.__('Fix the highlighted fields.');
      this._changed.emit();
      return null;
    }
    this.submitting = true;
    this.submitError = '';
    this._changed.emit();
    try {
      return await this.client.createSchedule({
        name,
        trigger: { cron, timezone },
        job: built.value
      });
    } catch (reason) {
      // the server checks the rule and the zone: its words say what is wrong
      this.submitError = errorMessage(reason);
      return null;
    } finally {
      this.submitting = false;
      this._changed.emit();
    }
  }

  /**
   * Check the form, then submit; the job, or null when refused (the
   * reasons are in `errors` and `submitError`).
   */
  async submit(): Promise<IJob | null> {
    if (this.submitting || !this.loaded || this.loadError) {
      return null;
    }
    const built = buildSubmission(this.parameters, this.values, this._baseline);
    if (!built.ok) {
      this.errors = built.errors ?? {};
      this.submitError = this._trans.__('Fix the highlighted fields.');
      this._changed.emit();
      return null;
    }
    this.submitting = true;
    this.submitError = '';
    this._changed.emit();
    try {
      return this.rerunOf
        ? await this.client.rerunJob(
            this.rerunOf.id,
            rerunOverrides(built.value)
          )
        : await this.client.submitJob(built.value);
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

  private _trans: TranslationBundle;
  private _tagParameters: (() => Promise<boolean>) | null;
  private _changed = new Signal<this, void>(this);
  /** A rerun's parameter texts as loaded: unchanged ones are not sent. */
  private _baseline: { [name: string]: string } | undefined;
}

export namespace SubmitFormModel {
  /** The schedule fields of "Schedule...". */
  export interface IScheduleValues {
    name: string;
    cron: string;
    timezone: string;
  }

  export interface IOptions {
    client: MlbenchClient;
    trans?: TranslationBundle;
    path: string;
    defaultCompute?: string;
    defaultExperiment?: string;
    /** Rerun this job with changes instead of submitting `path`. */
    rerunOf?: IJob;
    /**
     * Tag the notebook's first code cell "parameters" and save it; whether
     * it was done (offered when the notebook has no such cell).
     */
    tagParameters?: () => Promise<boolean>;
  }
}

/** The server's rule for schedule names. */
const SCHEDULE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** A schedule name from the notebook's: "reports/Daily Sales.ipynb" → "Daily-Sales". */
export function defaultScheduleName(notebookPath: string): string {
  const base = notebookPath.split('/').pop() ?? '';
  const name = base
    .replace(/\.ipynb$/i, '')
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '');
  return name.slice(0, 128) || 'schedule';
}

/** The browser's IANA time zone, else UTC. */
export function browserTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
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
  const trans = useTrans();
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
          aria-label={trans.__('Parameter %1', param.name)}
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
          aria-label={trans.__('Parameter %1', param.name)}
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
  const trans = useTrans();
  if (model.rerunOf) {
    // a rerun reads the exact versions the job read
    return (
      <fieldset className="mlbench-Form-data">
        <legend>{trans.__('Data inputs')}</legend>
        {Object.entries(model.values.inputs ?? {}).map(([name, ref]) => (
          <div className="mlbench-Form-row" key={name} data-input={name}>
            <span className="mlbench-Form-label">{name}</span>
            <span className="mlbench-Form-fixed">{ref}</span>
          </div>
        ))}
        <div className="mlbench-Form-help">
          {trans.__('A rerun reads the same data versions.')}
        </div>
      </fieldset>
    );
  }
  const candidates = model.parameters.filter(
    p => p.type === 'str' || p.type === 'any'
  );
  return (
    <fieldset className="mlbench-Form-data">
      <legend>{trans.__('Data inputs')}</legend>
      {candidates.length === 0 && (
        <div className="mlbench-Form-help">
          {trans.__('No text parameter to receive a data path.')}
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
              aria-label={trans.__('Data for parameter %1', p.name)}
              value={model.values.inputs?.[p.name] ?? ''}
              onChange={event => model.setInput(p.name, event.target.value)}
            >
              <option value="">{trans.__('(its value above)')}</option>
              {model.dataAssets.map(asset => (
                <React.Fragment key={asset.name}>
                  <option value={`${asset.name}@latest`}>
                    {trans.__('%1 (latest)', asset.name)}
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

/**
 * The environment a new job runs in: the notebook's own kernel (default), or
 * a ready environment version, whose kernel the server picks.
 */
function EnvironmentField(props: { model: SubmitFormModel }): JSX.Element {
  const { model } = props;
  const trans = useTrans();
  const kernel = model.kernels.find(k => k.name === model.values.kernelName);
  return (
    <div className="mlbench-Form-row">
      <label htmlFor="mlbench-field-environment">
        {trans.__('Environment')}
      </label>
      <select
        id="mlbench-field-environment"
        className="jp-mod-styled"
        aria-label={trans.__('Environment')}
        value={model.values.environment ?? ''}
        onChange={event => model.set('environment', event.target.value)}
      >
        <option value="">
          {trans.__(
            "The notebook's kernel (%1)",
            kernel?.display_name ?? model.values.kernelName
          )}
        </option>
        {model.environments.map(e => (
          <option key={e.id} value={e.ref}>
            {trans.__(
              '%1 (%2, %3 packages)',
              e.ref,
              e.python,
              e.packages?.length ?? 0
            )}
          </option>
        ))}
      </select>
      {model.environments.length === 0 && (
        <div className="mlbench-Form-help">
          {trans.__('No ready environment (see the Environments section).')}
        </div>
      )}
    </div>
  );
}

/**
 * "Schedule...": a name, a 5-field cron rule (in words as it is typed) and
 * the time zone the rule reads its wall clock in.
 */
function ScheduleFields(props: {
  model: SubmitFormModel;
  values: SubmitFormModel.IScheduleValues;
}): JSX.Element {
  const { model, values } = props;
  const trans = useTrans();
  const words = cronInWords(values.cron);
  const field = (
    key: keyof SubmitFormModel.IScheduleValues,
    label: string,
    help: string,
    placeholder?: string
  ) => {
    const id = `mlbench-schedule-${key}`;
    const error = model.errors[`schedule:${key}`];
    return (
      <div className="mlbench-Form-row" data-schedule-field={key}>
        <label htmlFor={id}>{label}</label>
        <input
          id={id}
          type="text"
          className="jp-mod-styled"
          aria-label={label}
          aria-invalid={!!error}
          aria-describedby={`${id}-help ${id}-error`}
          placeholder={placeholder}
          value={values[key]}
          onChange={event => model.setSchedule(key, event.target.value)}
        />
        <div className="mlbench-Form-help" id={`${id}-help`}>
          {help}
        </div>
        <FieldError id={`${id}-error`} error={error} />
      </div>
    );
  };
  return (
    <fieldset className="mlbench-Form-schedule">
      <legend>{trans.__('Schedule')}</legend>
      {field(
        'name',
        trans.__('Schedule name'),
        trans.__('Unique; the CLI and the Schedules section use it.')
      )}
      {field(
        'cron',
        trans.__('Cron rule'),
        words
          ? trans.__('Runs %1.', words)
          : trans.__('minute hour day-of-month month weekday'),
        '0 2 * * *'
      )}
      {field(
        'timezone',
        trans.__('Time zone'),
        trans.__('The rule reads this wall clock (daylight saving included).'),
        'UTC'
      )}
    </fieldset>
  );
}

function SubmitForm(props: { model: SubmitFormModel }): JSX.Element {
  const { model } = props;
  const trans = useTrans();
  const form = useRef<HTMLFormElement>(null);
  const [, setTick] = useState(0);
  useEffect(() => {
    const onChange = () => setTick(t => t + 1);
    model.changed.connect(onChange);
    return () => {
      model.changed.disconnect(onChange);
    };
  }, [model]);
  const ready = model.loaded && !model.loadError;
  useLayoutEffect(() => {
    // focus the first field once, as the form appears: before any key the
    // user (or a test) types, so typing never lands in another field
    if (ready) {
      form.current?.querySelector<HTMLElement>('input, select')?.focus();
    }
  }, [ready]);

  const submitError = model.submitError;
  useEffect(() => {
    // the reason is below the fold of a long form: show the first field
    // to fix, or the message itself
    if (submitError) {
      const target =
        form.current?.querySelector<HTMLElement>('[aria-invalid="true"]') ??
        form.current?.querySelector<HTMLElement>('.mlbench-Form-submitError');
      target?.scrollIntoView({ block: 'center' });
    }
  }, [submitError]);

  const scheduling = !!model.schedule;
  useLayoutEffect(() => {
    if (scheduling) {
      form.current
        ?.querySelector<HTMLInputElement>('#mlbench-schedule-cron')
        ?.focus();
    }
  }, [scheduling]);

  if (!model.loaded) {
    return (
      <div role="status">
        {trans.__("Reading the notebook's parameters...")}
      </div>
    );
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
      ref={form}
      className="mlbench-SubmitForm"
      aria-label={trans.__('Run as job')}
      onSubmit={event => event.preventDefault()}
    >
      <div className="mlbench-Form-path">{model.values.notebookPath}</div>
      <fieldset>
        <legend>{trans.__('Parameters')}</legend>
        {model.parameters.length ? (
          model.parameters.map(p => (
            <ParameterField key={p.name} model={model} param={p} />
          ))
        ) : (
          <div className="mlbench-Form-help">
            {model.hasParametersCell
              ? trans.__('The parameters cell declares no parameter.')
              : trans.__(
                  'This notebook has no cell tagged "parameters": its variables (e.g. lr = 0.01) become the job\'s parameters, each overridable per job. Tag a cell in the Property Inspector (Common Tools → Cell Tags).'
                )}
            {!model.hasParametersCell && model.canTagParameters && (
              <button
                type="button"
                className="jp-mod-styled mlbench-Form-tagParameters"
                onClick={() => void model.tagParametersCell()}
              >
                {trans.__('Tag the first code cell "parameters"')}
              </button>
            )}
          </div>
        )}
      </fieldset>
      {(model.rerunOf
        ? Object.keys(model.values.inputs ?? {}).length > 0
        : model.dataAssets.length > 0) && <DataInputs model={model} />}
      <fieldset>
        <legend>{trans.__('Where and how')}</legend>
        <div className="mlbench-Form-row">
          <label htmlFor="mlbench-field-compute">{trans.__('Compute')}</label>
          <select
            id="mlbench-field-compute"
            className="jp-mod-styled"
            aria-label={trans.__('Compute')}
            value={model.values.compute}
            onChange={event => model.set('compute', event.target.value)}
          >
            {model.compute.map(c => (
              <option key={c.target.name} value={c.target.name}>
                {trans.__(
                  '%1 (%2, %3 running, %4 queued)',
                  c.target.name,
                  c.target.kind,
                  c.running ?? 0,
                  c.queued ?? 0
                )}
              </option>
            ))}
          </select>
        </div>
        {!model.rerunOf && <EnvironmentField model={model} />}
        <div className="mlbench-Form-row">
          <label htmlFor="mlbench-field-kernel">{trans.__('Kernel')}</label>
          <select
            id="mlbench-field-kernel"
            className="jp-mod-styled"
            aria-label={trans.__('Kernel')}
            value={model.values.kernelName}
            disabled={!!model.values.environment}
            title={
              model.values.environment
                ? trans.__('The environment names its own kernel')
                : undefined
            }
            onChange={event => model.set('kernelName', event.target.value)}
          >
            {model.kernels.map(k => (
              <option key={k.name} value={k.name}>
                {k.display_name}
              </option>
            ))}
          </select>
        </div>
        <TextField
          model={model}
          field="gpus"
          label={trans.__('GPUs')}
          placeholder="0"
        />
        <TextField
          model={model}
          field="timeout"
          label={trans.__('Timeout (seconds)')}
          placeholder={trans.__('no limit')}
        />
        <TextField model={model} field="retries" label={trans.__('Retries')} />
        <TextField
          model={model}
          field="experiment"
          label={trans.__('Experiment')}
          placeholder={trans.__("the notebook's name")}
        />
        <TextField
          model={model}
          field="tags"
          label={trans.__('Tags')}
          placeholder={trans.__('team=cv, purpose=baseline')}
          help={trans.__('key=value pairs, separated by commas')}
        />
        <TextField
          model={model}
          field="displayName"
          label={trans.__('Job name')}
          placeholder={trans.__("the notebook's name")}
        />
      </fieldset>
      {model.schedule && (
        <ScheduleFields model={model} values={model.schedule} />
      )}
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
  constructor(
    model: SubmitFormModel,
    body: ReactWidget,
    trans: TranslationBundle
  ) {
    const rerun = model.rerunOf;
    const buttons = [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      ...(rerun
        ? []
        : [
            Dialog.createButton({
              label: trans.__('Schedule...'),
              ariaLabel: trans.__('Schedule job'),
              caption: trans.__(
                'Start this job on a cron rule instead of once'
              ),
              accept: false
            })
          ]),
      Dialog.okButton({
        label: rerun ? trans.__('Rerun') : trans.__('Submit'),
        ariaLabel: rerun ? trans.__('Rerun job') : trans.__('Submit job')
      })
    ];
    super({
      title: rerun
        ? trans.__(
            'Rerun %1 with changes',
            rerun.display_name || rerun.id.slice(0, 8)
          )
        : trans.__('Run as job'),
      body: Object.assign(body, { getValue: () => this._job }),
      buttons
    });
    this._model = model;
    this._buttonList = buttons;
    this._scheduleIndex = rerun ? -1 : 1;
    this._trans = trans;
    this.addClass('mlbench-SubmitDialog');
  }

  /** The schedule created, once "Create schedule" succeeded. */
  get schedule(): ISchedule | null {
    return this._schedule;
  }

  handleEvent(event: Event): void {
    // while scheduling, Enter in a field creates the schedule (not a job)
    if (
      event.type === 'keydown' &&
      (event as KeyboardEvent).key === 'Enter' &&
      this._model.schedule &&
      this._scheduleIndex >= 0 &&
      event.target instanceof HTMLInputElement &&
      event.target.type === 'text'
    ) {
      event.stopPropagation();
      event.preventDefault();
      this.resolve(this._scheduleIndex);
      return;
    }
    super.handleEvent(event);
  }

  resolve(index?: number): void {
    if (index !== undefined && index === this._scheduleIndex) {
      if (!this._model.schedule) {
        // first press: show the schedule fields; the next one creates it
        this._model.startScheduling();
        const button = this.node.querySelectorAll('.jp-Dialog-button')[index];
        const label = button?.querySelector('.jp-Dialog-buttonLabel') ?? button;
        if (label) {
          const text = this._trans.__('Create schedule');
          label.textContent = text;
          label.setAttribute('aria-label', text);
          label.setAttribute('title', this._trans.__('Create the schedule'));
        }
        return;
      }
      void this._model.createSchedule().then(schedule => {
        if (schedule) {
          this._schedule = schedule;
          super.resolve(index);
        }
      });
      return;
    }
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
  private _scheduleIndex: number;
  private _trans: TranslationBundle;
  private _job: IJob | null = null;
  private _schedule: ISchedule | null = null;
}

/**
 * Show the dialog; the submitted job, or null when canceled.
 */
export async function showSubmitDialog(
  options: SubmitFormModel.IOptions
): Promise<IJob | null> {
  const trans = options.trans ?? nullTranslator.load('mlbench');
  const model = new SubmitFormModel(options);
  const body = ReactWidget.create(
    <TranslationContext.Provider value={trans}>
      <SubmitForm model={model} />
    </TranslationContext.Provider>
  );
  const dialog = new SubmitDialog(model, body, trans);
  const result = dialog.launch();
  // the dialog moves the focus once its body is rendered: load the form
  // after that, so the focus never jumps while someone types
  void dialog.ready.then(() => model.load());
  const { button, value } = await result;
  const schedule = dialog.schedule;
  if (schedule) {
    Notification.success(
      trans.__(
        'Schedule %1 created: %2; next run %3',
        schedule.name,
        cronInWords(schedule.trigger.cron ?? '') ?? schedule.describe,
        wallTime(schedule.next_fire_wall)
      ),
      { autoClose: 8000 }
    );
  }
  return button.accept ? value : null;
}
