/**
 * Typed values for the "Run as job" form, checked in the browser with the
 * server's rules (mlbench/jobs/parameters.py, `_coerce_raw`) so a wrong type
 * is refused before anything is submitted.
 */
import { IJob, INotebookParameter, IRerunJob, ISubmitJob } from '../api';

/**
 * A parsed field: a value, or the reason it is refused.
 */
export type Parsed<T = unknown> =
  { ok: true; value: T } | { ok: false; error: string };

const NULLS = ['None', 'null', '~'];
const TRUE = ['true', 'yes', 'on', '1'];
const FALSE = ['false', 'no', 'off', '0'];

function ok<T>(value: T): Parsed<T> {
  return { ok: true, value };
}

function fail(error: string): Parsed<never> {
  return { ok: false, error };
}

/**
 * What the parameter's type reads as in the form, e.g. `int`, `float or None`.
 */
export function describeType(param: INotebookParameter): string {
  return param.nullable ? `${param.type} or None` : param.type;
}

/**
 * The text a field starts with: the notebook's default.
 */
export function initialText(param: INotebookParameter): string {
  const value = param.default;
  if (value === null || value === undefined) {
    // an expression default (e.g. np.arange(3)) stays the notebook's
    return param.default_source && param.default_source !== 'None'
      ? ''
      : param.nullable && param.type !== 'any'
        ? 'None'
        : '';
  }
  return valueText(param, value);
}

/**
 * A value as the text the form holds for `param` (what a user would type).
 */
export function valueText(param: INotebookParameter, value: unknown): string {
  if (value === null || value === undefined) {
    return 'None';
  }
  if (typeof value === 'string') {
    return value;
  }
  if (typeof value === 'boolean') {
    return value ? 'true' : 'false';
  }
  if (typeof value === 'number') {
    // keep a float looking like one (1.0, not 1), as the server would read it
    return param.type === 'float' && Number.isInteger(value)
      ? value.toFixed(1)
      : String(value);
  }
  return JSON.stringify(value);
}

/**
 * The form's fields for rerunning `job`: its settings as they were. The
 * parameters' texts follow once its snapshot's parameters are known.
 */
export function rerunFormValues(job: IJob): ISubmitFormValues {
  const inputs: { [name: string]: string } = {};
  for (const input of job.inputs ?? []) {
    inputs[input.name] = input.ref;
  }
  return {
    notebookPath: job.notebook_relpath ?? job.notebook_path,
    parameters: {},
    compute: job.compute,
    kernelName: job.kernel_name,
    gpus: job.resources.gpus ? String(job.resources.gpus) : '',
    timeout: job.timeout_s === null ? '' : String(job.timeout_s),
    retries: String(job.max_retries),
    experiment: job.experiment,
    tags: Object.entries(job.tags)
      .map(([key, value]) => (value ? `${key}=${value}` : key))
      .join(', '),
    displayName: job.display_name,
    inputs
  };
}

/**
 * A checked submission as the overrides of a rerun: the notebook snapshot
 * and the data input versions stay the job's; an empty timeout keeps its.
 */
export function rerunOverrides(body: ISubmitJob): IRerunJob {
  return {
    parameters: body.parameters ?? {},
    compute: body.compute ?? null,
    kernel_name: body.kernel_name ?? null,
    resources: body.resources,
    timeout_s: body.timeout_s ?? null,
    max_retries: body.max_retries ?? null,
    tags: body.tags ?? {},
    experiment: body.experiment ?? null,
    display_name: body.display_name ?? null
  };
}

/**
 * papermill's rule for untyped text: True/False/None, int, float, else str.
 */
function resolveAny(text: string): unknown {
  if (text === 'True') {
    return true;
  }
  if (text === 'False') {
    return false;
  }
  if (text === 'None') {
    return null;
  }
  if (/^[+-]?\d+$/.test(text)) {
    return Number(text);
  }
  const n = Number(text);
  if (text.trim() !== '' && Number.isFinite(n)) {
    return n;
  }
  return text;
}

/**
 * Parse a field's text as the parameter's type.
 */
export function parseParameter(
  param: INotebookParameter,
  text: string
): Parsed {
  const kind = param.type;
  const trimmed = text.trim();
  if (param.nullable && kind !== 'str' && NULLS.includes(trimmed)) {
    return ok(null);
  }
  switch (kind) {
    case 'str':
      return ok(text);
    case 'int': {
      if (!/^[+-]?\d+$/.test(trimmed)) {
        return fail(`expects int, got ${JSON.stringify(text)}`);
      }
      const n = Number(trimmed);
      return Number.isSafeInteger(n)
        ? ok(n)
        : fail(`${trimmed} is too large for an int`);
    }
    case 'float': {
      const n = Number(trimmed);
      if (trimmed === '' || !Number.isFinite(n)) {
        return fail(`expects float, got ${JSON.stringify(text)}`);
      }
      return ok(n);
    }
    case 'bool': {
      const low = trimmed.toLowerCase();
      if (TRUE.includes(low)) {
        return ok(true);
      }
      if (FALSE.includes(low)) {
        return ok(false);
      }
      return fail(`expects bool (true/false), got ${JSON.stringify(text)}`);
    }
    case 'list':
    case 'dict': {
      let value: unknown;
      try {
        value = JSON.parse(trimmed);
      } catch {
        return fail(`expects ${describeType(param)} as JSON`);
      }
      const isList = Array.isArray(value);
      const isDict =
        typeof value === 'object' && value !== null && !Array.isArray(value);
      if ((kind === 'list' && isList) || (kind === 'dict' && isDict)) {
        return ok(value);
      }
      if (value === null && param.nullable) {
        return ok(null);
      }
      return fail(`expects ${describeType(param)}, got ${trimmed}`);
    }
    default: {
      // any: JSON when it parses, else papermill's rule
      try {
        return ok(JSON.parse(trimmed));
      } catch {
        return ok(resolveAny(trimmed));
      }
    }
  }
}

/**
 * The parameters to send: only fields changed from their initial text (the
 * notebook keeps its own defaults) or from `baseline` (a rerun's texts of the
 * job's values, which the server keeps), and every refused field by name.
 */
export function collectParameters(
  params: INotebookParameter[],
  texts: { [name: string]: string },
  baseline?: { [name: string]: string }
): { values: { [name: string]: unknown }; errors: { [name: string]: string } } {
  const values: { [name: string]: unknown } = {};
  const errors: { [name: string]: string } = {};
  for (const param of params) {
    const text = texts[param.name];
    const unchanged = baseline?.[param.name] ?? initialText(param);
    if (text === undefined || text === unchanged) {
      continue;
    }
    const parsed = parseParameter(param, text);
    if (parsed.ok) {
      values[param.name] = parsed.value;
    } else {
      errors[param.name] = parsed.error;
    }
  }
  return { values, errors };
}

/**
 * `key=value` pairs separated by commas or new lines.
 */
export function parseTags(text: string): Parsed<{ [key: string]: string }> {
  const tags: { [key: string]: string } = {};
  for (const part of text.split(/[,\n]/)) {
    const item = part.trim();
    if (!item) {
      continue;
    }
    const eq = item.indexOf('=');
    const key = (eq < 0 ? item : item.slice(0, eq)).trim();
    if (!key) {
      return fail(`a tag needs a name: ${JSON.stringify(item)}`);
    }
    tags[key] = eq < 0 ? '' : item.slice(eq + 1).trim();
  }
  return ok(tags);
}

/**
 * An optional whole number within bounds (empty: null).
 */
export function parseCount(
  text: string,
  name: string,
  min: number,
  max: number
): Parsed<number | null> {
  const t = text.trim();
  if (!t) {
    return ok(null);
  }
  if (!/^\d+$/.test(t) || Number(t) < min || Number(t) > max) {
    return fail(`${name} must be a whole number from ${min} to ${max}`);
  }
  return ok(Number(t));
}

/**
 * An optional positive number of seconds (empty: no limit).
 */
export function parseTimeout(text: string): Parsed<number | null> {
  const t = text.trim();
  if (!t) {
    return ok(null);
  }
  const n = Number(t);
  if (!Number.isFinite(n) || n <= 0) {
    return fail('timeout must be a positive number of seconds');
  }
  return ok(n);
}

/**
 * Everything the form holds, as text.
 */
export interface ISubmitFormValues {
  notebookPath: string;
  parameters: { [name: string]: string };
  compute: string;
  kernelName: string;
  gpus: string;
  timeout: string;
  retries: string;
  experiment: string;
  tags: string;
  displayName: string;
  /** Parameter name -> data version ref ('' or absent: none). */
  inputs?: { [name: string]: string };
  /**
   * The environment (`name:version`) to run in; '' or absent: the kernel
   * above. An environment names its own kernel, so the kernel is not sent.
   */
  environment?: string;
}

/**
 * The submission body, or the refused fields by name (`param:NAME` for
 * parameters).
 */
export function buildSubmission(
  params: INotebookParameter[],
  form: ISubmitFormValues,
  baseline?: { [name: string]: string }
): Parsed<ISubmitJob> & { errors?: { [field: string]: string } } {
  const errors: { [field: string]: string } = {};
  const inputs: { [name: string]: string } = {};
  for (const [name, ref] of Object.entries(form.inputs ?? {})) {
    if (ref) {
      inputs[name] = ref;
    }
  }
  // a parameter bound to data receives the data's local path, not a value
  const collected = collectParameters(
    params.filter(p => !(p.name in inputs)),
    form.parameters,
    baseline
  );
  for (const [name, error] of Object.entries(collected.errors)) {
    errors[`param:${name}`] = error;
  }
  const gpus = parseCount(form.gpus, 'GPUs', 0, 64);
  const retries = parseCount(form.retries, 'retries', 0, 100);
  const timeout = parseTimeout(form.timeout);
  const tags = parseTags(form.tags);
  for (const [field, parsed] of [
    ['gpus', gpus],
    ['retries', retries],
    ['timeout', timeout],
    ['tags', tags]
  ] as [string, Parsed][]) {
    if (!parsed.ok) {
      errors[field] = parsed.error;
    }
  }
  if (Object.keys(errors).length || !gpus.ok || !retries.ok) {
    return {
      ok: false,
      error: Object.values(errors).join('; '),
      errors
    };
  }
  const body: ISubmitJob = {
    notebook_path: form.notebookPath,
    parameters: collected.values,
    compute: form.compute || 'local'
  };
  if (form.environment) {
    body.environment = form.environment;
  } else if (form.kernelName) {
    body.kernel_name = form.kernelName;
  }
  if (gpus.value !== null) {
    body.resources = { gpus: gpus.value };
  }
  if (timeout.ok && timeout.value !== null) {
    body.timeout_s = timeout.value;
  }
  if (retries.value !== null) {
    body.max_retries = retries.value;
  }
  if (tags.ok && Object.keys(tags.value).length) {
    body.tags = tags.value;
  }
  if (form.experiment.trim()) {
    body.experiment = form.experiment.trim();
  }
  if (form.displayName.trim()) {
    body.display_name = form.displayName.trim();
  }
  if (Object.keys(inputs).length) {
    body.inputs = inputs;
  }
  return { ok: true, value: body };
}
