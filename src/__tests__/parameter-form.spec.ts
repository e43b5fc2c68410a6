import { INotebookParameter } from '../api';
import {
  ISubmitFormValues,
  buildSubmission,
  collectParameters,
  initialText,
  parseParameter,
  parseTags
} from '../submit/parameter-form';

const p = (
  name: string,
  type: string,
  value: unknown,
  extra: Partial<INotebookParameter> = {}
): INotebookParameter => ({
  name,
  type,
  default: value,
  default_source: JSON.stringify(value),
  nullable: false,
  ...extra
});

// the parameters of examples/train.ipynb, as the server describes them
const TRAIN = [
  p('dataset', 'str', 'digits', { help: 'one of: digits, wine' }),
  p('epochs', 'int', 30),
  p('learning_rate', 'float', 0.05),
  p('alpha', 'float', 1e-4),
  p('shuffle', 'bool', true),
  p('layers', 'list', [64, 32]),
  p('extra', 'dict', { a: 1 }),
  p('note', 'any', null, { nullable: true, default_source: 'None' })
];

describe('parseParameter', () => {
  it('reads ints strictly', () => {
    expect(parseParameter(TRAIN[1], ' 12 ')).toEqual({ ok: true, value: 12 });
    expect(parseParameter(TRAIN[1], '-3')).toEqual({ ok: true, value: -3 });
    for (const bad of ['ten', '1.5', '', '1e3', '12abc']) {
      const parsed = parseParameter(TRAIN[1], bad);
      expect(parsed.ok).toBe(false);
    }
    expect(parseParameter(TRAIN[1], 'ten')).toEqual({
      ok: false,
      error: 'expects int, got "ten"'
    });
  });

  it('reads floats, refusing text and infinities', () => {
    expect(parseParameter(TRAIN[2], '0.1')).toEqual({ ok: true, value: 0.1 });
    expect(parseParameter(TRAIN[2], '1e-3')).toEqual({
      ok: true,
      value: 0.001
    });
    expect(parseParameter(TRAIN[2], 'fast').ok).toBe(false);
    expect(parseParameter(TRAIN[2], 'Infinity').ok).toBe(false);
    expect(parseParameter(TRAIN[2], '').ok).toBe(false);
  });

  it('reads bools as the CLI does', () => {
    expect(parseParameter(TRAIN[4], 'no')).toEqual({ ok: true, value: false });
    expect(parseParameter(TRAIN[4], 'True')).toEqual({ ok: true, value: true });
    expect(parseParameter(TRAIN[4], 'maybe').ok).toBe(false);
  });

  it('reads lists and dicts as JSON of the right shape', () => {
    expect(parseParameter(TRAIN[5], '[1, 2]')).toEqual({
      ok: true,
      value: [1, 2]
    });
    expect(parseParameter(TRAIN[5], '{"a": 1}').ok).toBe(false);
    expect(parseParameter(TRAIN[6], '{"b": [1]}')).toEqual({
      ok: true,
      value: { b: [1] }
    });
    expect(parseParameter(TRAIN[6], '[1]').ok).toBe(false);
    expect(parseParameter(TRAIN[6], '{oops').ok).toBe(false);
  });

  it('keeps strings verbatim, even "None"', () => {
    expect(parseParameter(TRAIN[0], ' wine ')).toEqual({
      ok: true,
      value: ' wine '
    });
    expect(parseParameter(TRAIN[0], 'None')).toEqual({
      ok: true,
      value: 'None'
    });
  });

  it('reads None for nullable parameters and untyped values by papermill rules', () => {
    const optionalInt = p('n', 'int', null, { nullable: true });
    expect(parseParameter(optionalInt, 'None')).toEqual({
      ok: true,
      value: null
    });
    expect(parseParameter(TRAIN[7], '3')).toEqual({ ok: true, value: 3 });
    expect(parseParameter(TRAIN[7], 'hello')).toEqual({
      ok: true,
      value: 'hello'
    });
    expect(parseParameter(TRAIN[7], 'True')).toEqual({ ok: true, value: true });
    expect(parseParameter(TRAIN[7], '{"k": 1}')).toEqual({
      ok: true,
      value: { k: 1 }
    });
  });
});

describe('initialText', () => {
  it('shows each default the way it is typed back', () => {
    expect(TRAIN.map(initialText)).toEqual([
      'digits',
      '30',
      '0.05',
      '0.0001',
      'true',
      '[64,32]',
      '{"a":1}',
      ''
    ]);
    // a float default that is whole stays a float
    expect(initialText(p('lr', 'float', 1))).toBe('1.0');
    // an expression default is left to the notebook
    expect(
      initialText(
        p('xs', 'any', null, { nullable: true, default_source: 'np.arange(3)' })
      )
    ).toBe('');
  });
});

describe('collectParameters', () => {
  it('sends only changed fields and names every refused one', () => {
    const texts: { [name: string]: string } = {};
    for (const param of TRAIN) {
      texts[param.name] = initialText(param);
    }
    expect(collectParameters(TRAIN, texts)).toEqual({ values: {}, errors: {} });
    texts.epochs = '12';
    texts.learning_rate = 'fast';
    texts.layers = '[1]';
    expect(collectParameters(TRAIN, texts)).toEqual({
      values: { epochs: 12, layers: [1] },
      errors: { learning_rate: 'expects float, got "fast"' }
    });
  });
});

describe('buildSubmission', () => {
  const form = (extra: Partial<ISubmitFormValues> = {}): ISubmitFormValues => ({
    notebookPath: 'examples/train.ipynb',
    parameters: { epochs: '30' },
    compute: 'local',
    kernelName: 'python3',
    gpus: '',
    timeout: '',
    retries: '0',
    experiment: '',
    tags: '',
    displayName: '',
    ...extra
  });

  it('builds the SubmitJob body', () => {
    const built = buildSubmission(
      TRAIN,
      form({
        parameters: { epochs: '5' },
        gpus: '1',
        timeout: '600',
        retries: '2',
        experiment: ' digits ',
        tags: 'team=cv, baseline',
        displayName: 'first try'
      })
    );
    expect(built).toEqual({
      ok: true,
      value: {
        notebook_path: 'examples/train.ipynb',
        parameters: { epochs: 5 },
        compute: 'local',
        kernel_name: 'python3',
        resources: { gpus: 1 },
        timeout_s: 600,
        max_retries: 2,
        experiment: 'digits',
        tags: { team: 'cv', baseline: '' },
        display_name: 'first try'
      }
    });
  });

  it('refuses wrong types and bad settings, field by field', () => {
    const built = buildSubmission(
      TRAIN,
      form({
        parameters: { epochs: 'ten' },
        gpus: '-1',
        timeout: '0',
        retries: '101',
        tags: '=x'
      })
    );
    expect(built.ok).toBe(false);
    expect(Object.keys(built.errors ?? {}).sort()).toEqual([
      'gpus',
      'param:epochs',
      'retries',
      'tags',
      'timeout'
    ]);
  });
});

describe('buildSubmission with data inputs', () => {
  it('binds parameters to data versions instead of sending their values', () => {
    const built = buildSubmission(TRAIN, {
      notebookPath: 'train.ipynb',
      // a value that would be refused is not checked once bound to data
      parameters: { dataset: 'x', epochs: '3', note: 'n' },
      compute: 'local',
      kernelName: '',
      gpus: '',
      timeout: '',
      retries: '',
      experiment: '',
      tags: '',
      displayName: '',
      inputs: { dataset: 'digits@latest', note: '' }
    });
    expect(built).toEqual({
      ok: true,
      value: {
        notebook_path: 'train.ipynb',
        parameters: { epochs: 3, note: 'n' },
        compute: 'local',
        inputs: { dataset: 'digits@latest' }
      }
    });
  });
});

describe('parseTags', () => {
  it('reads key=value pairs by comma or line', () => {
    expect(parseTags('a=1,b = two\nc')).toEqual({
      ok: true,
      value: { a: '1', b: 'two', c: '' }
    });
    expect(parseTags('').ok).toBe(true);
  });
});
