/**
 * The "Sweep..." dialog: per notebook parameter a fixed value, a range or a
 * list; the sampler, the objective, the early-termination policy and the
 * limits. Checked in the browser, then submitted to POST /sweeps.
 */
import { TranslationBundle, nullTranslator } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import { ISignal, Signal } from '@lumino/signaling';
import React, { useEffect, useState } from 'react';

import {
  IComputeStatus,
  INotebookParameter,
  ISweep,
  MlbenchClient,
  errorMessage,
  validationProblems
} from '../api';
import { SubmittingDialog } from '../components/submitting-dialog';
import { TranslationContext, useTrans } from '../i18n';
import { describeType, initialText } from '../submit/parameter-form';
import {
  ISweepFormValues,
  ISweepParamValues,
  ParamMode,
  RangeKind,
  buildSweepSubmission,
  initialParamValues
} from './model';

export class SweepFormModel {
  constructor(options: SweepFormModel.IOptions) {
    this.client = options.client;
    this._trans = options.trans ?? nullTranslator.load('mlbench');
    this.values = {
      notebookPath: options.path,
      displayName: '',
      compute: options.defaultCompute || 'local',
      experiment: options.defaultExperiment ?? '',
      params: {},
      sampler: 'random',
      seed: '',
      primaryMetric: '',
      goal: 'maximize',
      policy: 'none',
      slackFactor: '0.1',
      truncationPercentage: '20',
      evaluationInterval: '1',
      delayEvaluation: '0',
      maxTrials: '10',
      maxConcurrent: '2'
    };
  }

  readonly client: MlbenchClient;
  values: ISweepFormValues;
  parameters: INotebookParameter[] = [];
  compute: IComputeStatus[] = [];
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
      const [params, compute] = await Promise.all([
        this.client.notebookParameters(this.values.notebookPath),
        this.client.listCompute()
      ]);
      this.parameters = params.parameters;
      this.compute = compute.items;
      const fields: { [name: string]: ISweepParamValues } = {};
      for (const p of params.parameters) {
        fields[p.name] = initialParamValues(p, initialText(p));
      }
      this.values = { ...this.values, params: fields };
      if (
        this.compute.length &&
        !this.compute.some(c => c.target.name === this.values.compute)
      ) {
        this.values.compute = this.compute[0].target.name;
      }
      if (!params.parameters.length) {
        this.loadError = params.has_parameters_cell
          ? this._trans.__('The parameters cell declares no parameter.')
          : this._trans.__(
              'This notebook has no cell tagged "parameters": a sweep varies its parameters.'
            );
      }
    } catch (reason) {
      this.loadError = errorMessage(reason);
    }
    this.loaded = true;
    this._changed.emit();
  }

  set<K extends keyof ISweepFormValues>(
    field: K,
    value: ISweepFormValues[K]
  ): void {
    this.values = { ...this.values, [field]: value };
    delete this.errors[field];
    this._changed.emit();
  }

  setParam(name: string, change: Partial<ISweepParamValues>): void {
    const current = this.values.params[name];
    this.values = {
      ...this.values,
      params: { ...this.values.params, [name]: { ...current, ...change } }
    };
    delete this.errors[`param:${name}`];
    delete this.errors.space;
    this._changed.emit();
  }

  async submit(): Promise<ISweep | null> {
    if (this.submitting || !this.loaded || this.loadError) {
      return null;
    }
    const built = buildSweepSubmission(this.parameters, this.values);
    if (!built.ok) {
      this.errors = built.errors;
      this.submitError = this._trans.__('Fix the highlighted fields.');
      this._changed.emit();
      return null;
    }
    this.submitting = true;
    this.submitError = '';
    this._changed.emit();
    try {
      return await this.client.submitSweep(built.value);
    } catch (reason) {
      this.submitError = errorMessage(reason);
      for (const problem of validationProblems(reason)) {
        const name = this.parameters.find(p =>
          problem.message.includes(`'${p.name}'`)
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
  private _changed = new Signal<this, void>(this);
}

export namespace SweepFormModel {
  export interface IOptions {
    client: MlbenchClient;
    trans?: TranslationBundle;
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

function Input(props: {
  id: string;
  label: string;
  value: string;
  placeholder?: string;
  invalid?: boolean;
  onChange(value: string): void;
}): JSX.Element {
  return (
    <input
      id={props.id}
      type="text"
      className="jp-mod-styled"
      aria-label={props.label}
      aria-invalid={props.invalid}
      placeholder={props.placeholder}
      value={props.value}
      onChange={event => props.onChange(event.target.value)}
    />
  );
}

function ParamField(props: {
  model: SweepFormModel;
  param: INotebookParameter;
}): JSX.Element {
  const { model, param } = props;
  const trans = useTrans();
  const v = model.values.params[param.name];
  const id = `mlbench-sweep-param-${param.name}`;
  const error = model.errors[`param:${param.name}`];
  const numeric = ['int', 'float', 'any'].includes(param.type);
  const set = (change: Partial<ISweepParamValues>) =>
    model.setParam(param.name, change);
  return (
    <div
      className="mlbench-Form-row mlbench-SweepForm-param"
      data-param={param.name}
    >
      <label htmlFor={`${id}-mode`}>
        {param.name}{' '}
        <span className="mlbench-Form-type">{describeType(param)}</span>
      </label>
      <div className="mlbench-SweepForm-paramLine">
        <select
          id={`${id}-mode`}
          className="jp-mod-styled"
          aria-label={trans.__('How to set %1', param.name)}
          value={v.mode}
          onChange={event => set({ mode: event.target.value as ParamMode })}
        >
          <option value="fixed">{trans.__('fixed')}</option>
          {numeric && <option value="range">{trans.__('range')}</option>}
          <option value="choice">{trans.__('list')}</option>
        </select>
        {v.mode === 'fixed' && (
          <Input
            id={`${id}-fixed`}
            label={trans.__('Value of %1', param.name)}
            value={v.fixed}
            placeholder={param.default_source || ''}
            invalid={!!error}
            onChange={fixed => set({ fixed })}
          />
        )}
        {v.mode === 'choice' && (
          <Input
            id={`${id}-choices`}
            label={trans.__('Values of %1', param.name)}
            value={v.choices}
            placeholder={trans.__('comma-separated, e.g. 16, 32, 64')}
            invalid={!!error}
            onChange={choices => set({ choices })}
          />
        )}
        {v.mode === 'range' && (
          <>
            <select
              className="jp-mod-styled"
              aria-label={trans.__('Distribution of %1', param.name)}
              value={v.range}
              onChange={event =>
                set({ range: event.target.value as RangeKind })
              }
            >
              {param.type !== 'int' && (
                <option value="uniform">{trans.__('uniform')}</option>
              )}
              {param.type !== 'int' && (
                <option value="loguniform">{trans.__('log-uniform')}</option>
              )}
              <option value="quniform">{trans.__('stepped')}</option>
              <option value="randint">{trans.__('integer 0..upper')}</option>
            </select>
            {v.range === 'randint' ? (
              <Input
                id={`${id}-upper`}
                label={trans.__('Upper bound of %1 (excluded)', param.name)}
                value={v.upper}
                placeholder={trans.__('upper')}
                invalid={!!error}
                onChange={upper => set({ upper })}
              />
            ) : (
              <>
                <Input
                  id={`${id}-min`}
                  label={trans.__('Minimum of %1', param.name)}
                  value={v.min}
                  placeholder={trans.__('min')}
                  invalid={!!error}
                  onChange={min => set({ min })}
                />
                <Input
                  id={`${id}-max`}
                  label={trans.__('Maximum of %1', param.name)}
                  value={v.max}
                  placeholder={trans.__('max')}
                  invalid={!!error}
                  onChange={max => set({ max })}
                />
                {v.range === 'quniform' && (
                  <Input
                    id={`${id}-q`}
                    label={trans.__('Step of %1', param.name)}
                    value={v.q}
                    placeholder={trans.__('step')}
                    invalid={!!error}
                    onChange={q => set({ q })}
                  />
                )}
              </>
            )}
          </>
        )}
      </div>
      {param.help && <div className="mlbench-Form-help">{param.help}</div>}
      <FieldError id={`${id}-error`} error={error} />
    </div>
  );
}

function Text(props: {
  model: SweepFormModel;
  field:
    | 'displayName'
    | 'experiment'
    | 'seed'
    | 'primaryMetric'
    | 'slackFactor'
    | 'truncationPercentage'
    | 'evaluationInterval'
    | 'delayEvaluation'
    | 'maxTrials'
    | 'maxConcurrent';
  label: string;
  placeholder?: string;
}): JSX.Element {
  const { model, field } = props;
  const id = `mlbench-sweep-${field}`;
  const error = model.errors[field];
  return (
    <div className="mlbench-Form-row">
      <label htmlFor={id}>{props.label}</label>
      <Input
        id={id}
        label={props.label}
        value={model.values[field]}
        placeholder={props.placeholder}
        invalid={!!error}
        onChange={value => model.set(field, value)}
      />
      <FieldError id={`${id}-error`} error={error} />
    </div>
  );
}

function Choice<K extends 'sampler' | 'goal' | 'policy' | 'compute'>(props: {
  model: SweepFormModel;
  field: K;
  label: string;
  options: [string, string][];
}): JSX.Element {
  const { model, field } = props;
  const id = `mlbench-sweep-${field}`;
  return (
    <div className="mlbench-Form-row">
      <label htmlFor={id}>{props.label}</label>
      <select
        id={id}
        className="jp-mod-styled"
        aria-label={props.label}
        value={model.values[field]}
        onChange={event =>
          model.set(field, event.target.value as ISweepFormValues[K])
        }
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

export function SweepForm(props: { model: SweepFormModel }): JSX.Element {
  const { model } = props;
  const trans = useTrans();
  const [, setTick] = useState(0);
  useEffect(() => {
    const onChange = () => setTick(t => t + 1);
    model.changed.connect(onChange);
    return () => {
      model.changed.disconnect(onChange);
    };
  }, [model]);
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
  const policy = model.values.policy;
  return (
    <form
      className="mlbench-SubmitForm mlbench-SweepForm"
      aria-label={trans.__('Sweep')}
      onSubmit={event => event.preventDefault()}
    >
      {model.submitError && (
        <div className="mlbench-Form-error" role="alert">
          {model.submitError}
        </div>
      )}
      <div className="mlbench-Form-path">{model.values.notebookPath}</div>
      <fieldset>
        <legend>{trans.__('Parameters')}</legend>
        {model.parameters.map(p => (
          <ParamField key={p.name} model={model} param={p} />
        ))}
        <FieldError id="mlbench-sweep-space-error" error={model.errors.space} />
      </fieldset>
      <fieldset>
        <legend>{trans.__('Search')}</legend>
        <Choice
          model={model}
          field="sampler"
          label={trans.__('Sampler')}
          options={[
            ['random', trans.__('random')],
            ['grid', trans.__('grid (lists only)')],
            ['bayesian', trans.__('bayesian (TPE)')]
          ]}
        />
        <Text
          model={model}
          field="seed"
          label={trans.__('Seed')}
          placeholder={trans.__('drawn and recorded')}
        />
        <Text
          model={model}
          field="primaryMetric"
          label={trans.__('Primary metric')}
          placeholder={trans.__('a metric the notebook logs, e.g. accuracy')}
        />
        <Choice
          model={model}
          field="goal"
          label={trans.__('Goal')}
          options={[
            ['maximize', trans.__('maximize')],
            ['minimize', trans.__('minimize')]
          ]}
        />
      </fieldset>
      <fieldset>
        <legend>{trans.__('Early termination')}</legend>
        <Choice
          model={model}
          field="policy"
          label={trans.__('Policy')}
          options={[
            ['none', trans.__('none')],
            ['bandit', trans.__('bandit')],
            ['median_stopping', trans.__('median stopping')],
            ['truncation_selection', trans.__('truncation selection')]
          ]}
        />
        {policy === 'bandit' && (
          <Text
            model={model}
            field="slackFactor"
            label={trans.__('Slack factor')}
          />
        )}
        {policy === 'truncation_selection' && (
          <Text
            model={model}
            field="truncationPercentage"
            label={trans.__('Truncation percentage')}
          />
        )}
        {policy !== 'none' && (
          <>
            <Text
              model={model}
              field="evaluationInterval"
              label={trans.__('Evaluation interval')}
            />
            <Text
              model={model}
              field="delayEvaluation"
              label={trans.__('Delay evaluation')}
            />
          </>
        )}
      </fieldset>
      <fieldset>
        <legend>{trans.__('Limits and where')}</legend>
        <Text model={model} field="maxTrials" label={trans.__('Max trials')} />
        <Text
          model={model}
          field="maxConcurrent"
          label={trans.__('Max concurrent trials')}
        />
        <Choice
          model={model}
          field="compute"
          label={trans.__('Compute')}
          options={model.compute.map(c => [c.target.name, c.target.name])}
        />
        <Text
          model={model}
          field="displayName"
          label={trans.__('Name')}
          placeholder={trans.__("the notebook's name")}
        />
        <Text
          model={model}
          field="experiment"
          label={trans.__('Experiment')}
          placeholder={trans.__('default')}
        />
      </fieldset>
    </form>
  );
}

/**
 * Show the dialog; the submitted sweep, or null when canceled.
 */
export async function showSweepDialog(
  options: SweepFormModel.IOptions
): Promise<ISweep | null> {
  const trans = options.trans ?? nullTranslator.load('mlbench');
  const model = new SweepFormModel(options);
  const body = ReactWidget.create(
    <TranslationContext.Provider value={trans}>
      <SweepForm model={model} />
    </TranslationContext.Provider>
  );
  const dialog = new SubmittingDialog<ISweep>({
    title: trans.__('Sweep'),
    body,
    okLabel: trans.__('Start sweep'),
    cancelLabel: trans.__('Cancel'),
    classNames: ['mlbench-SweepDialog'],
    submit: () => model.submit()
  });
  const result = dialog.launch();
  void dialog.ready.then(() => model.load());
  const { button, value } = await result;
  return button.accept ? value : null;
}
