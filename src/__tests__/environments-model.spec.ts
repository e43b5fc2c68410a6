import { ServerConnection } from '@jupyterlab/services';

import { IEnvironmentInfo, IJob, MlbenchClient } from '../api';
import {
  EMPTY_LOG,
  appendLog,
  environmentSummary,
  filterPackages,
  logFollows,
  needsPolling,
  readyEnvironments
} from '../environments/model';
import { ISubmitFormValues, buildSubmission } from '../submit/parameter-form';
import { SubmitFormModel } from '../submit/submit-dialog';

const env = (
  name: string,
  version: number,
  status: IEnvironmentInfo['status'] = 'ready',
  packages = ['ipykernel==7.4.0', 'tabulate==0.9.0']
): IEnvironmentInfo =>
  ({
    id: `${name}-${version}`,
    name,
    version,
    ref: `${name}:${version}`,
    status,
    python: 'CPython 3.11.7',
    packages,
    kernel_name: `mlbench-${name}-0123abcd`
  }) as IEnvironmentInfo;

describe('environment rows', () => {
  it('summarize the interpreter and the package count', () => {
    expect(environmentSummary(env('tab', 1))).toBe(
      'CPython 3.11.7 · 2 packages'
    );
    expect(environmentSummary(env('one', 1, 'ready', ['x==1']))).toBe(
      'CPython 3.11.7 · 1 package'
    );
  });

  it('are polled only while a version builds', () => {
    expect(needsPolling(null)).toBe(false);
    expect(needsPolling([env('a', 1), env('b', 1, 'failed')])).toBe(false);
    expect(needsPolling([env('a', 1), env('b', 2, 'building')])).toBe(true);
  });

  it('offer only ready versions to jobs, by name then newest first', () => {
    const ready = readyEnvironments([
      env('torch', 1),
      env('tab', 1),
      env('torch', 3, 'building'),
      env('torch', 2),
      env('broken', 1, 'failed')
    ]);
    expect(ready.map(e => e.ref)).toEqual(['tab:1', 'torch:2', 'torch:1']);
  });

  it('filter packages on their name', () => {
    const lock = [
      'ipykernel==7.4.0',
      'jupyter-client==8.10.0',
      'probe@file:///x'
    ];
    expect(filterPackages(lock, ' ')).toEqual(lock);
    expect(filterPackages(lock, 'JUPYTER')).toEqual(['jupyter-client==8.10.0']);
    expect(filterPackages(lock, 'file')).toEqual([]); // the name, not the URL
    expect(filterPackages(lock, 'probe')).toEqual(['probe@file:///x']);
  });
});

describe('following a build log', () => {
  it('appends each slice read from the current offset', () => {
    let log = appendLog(
      EMPTY_LOG,
      { ref: 'a:1', status: 'building', text: 'resolving\n', offset: 10 },
      0
    );
    expect(logFollows(EMPTY_LOG)).toBe(true);
    expect(logFollows(log)).toBe(true);
    log = appendLog(
      log,
      { ref: 'a:1', status: 'ready', text: 'ready: kernel k\n', offset: 26 },
      10
    );
    expect(log).toEqual({
      text: 'resolving\nready: kernel k\n',
      offset: 26,
      status: 'ready'
    });
    expect(logFollows(log)).toBe(false);
  });

  it('drops a stale answer (read from another offset)', () => {
    const log = { text: 'abc', offset: 3, status: 'building' as const };
    const stale = {
      ref: 'a:1',
      status: 'building' as const,
      text: 'abc',
      offset: 3
    };
    expect(appendLog(log, stale, 0)).toBe(log);
  });
});

describe('buildSubmission with an environment', () => {
  const form: ISubmitFormValues = {
    notebookPath: 'nb.ipynb',
    parameters: {},
    compute: 'local',
    kernelName: 'python3',
    gpus: '',
    timeout: '',
    retries: '0',
    experiment: '',
    tags: '',
    displayName: ''
  };

  it('sends the environment and not the kernel (the environment names it)', () => {
    const built = buildSubmission([], { ...form, environment: 'tab:1' });
    expect(built.ok && built.value).toEqual({
      notebook_path: 'nb.ipynb',
      parameters: {},
      compute: 'local',
      environment: 'tab:1',
      max_retries: 0
    });
  });

  it("sends the kernel when no environment is picked (the notebook's own)", () => {
    for (const environment of [undefined, '']) {
      const built = buildSubmission([], { ...form, environment });
      expect(built.ok && built.value.kernel_name).toBe('python3');
      expect(built.ok && 'environment' in built.value).toBe(false);
    }
  });
});

describe('the Run as job form picks an environment', () => {
  const client = new MlbenchClient(
    ServerConnection.makeSettings({ baseUrl: 'http://h/' })
  );
  let submitJob: jest.SpyInstance;

  beforeEach(() => {
    jest.spyOn(client, 'notebookParameters').mockResolvedValue({
      path: 'nb.ipynb',
      kernel_name: 'python3',
      has_parameters_cell: false,
      parameters: []
    });
    jest.spyOn(client, 'listKernels').mockResolvedValue({
      default: 'python3',
      items: [{ name: 'python3', display_name: 'Python 3 (ipykernel)' }]
    } as any);
    jest
      .spyOn(client, 'listCompute')
      .mockResolvedValue({ items: [{ target: { name: 'local' } }] } as any);
    jest.spyOn(client, 'listData').mockResolvedValue({ items: [] } as any);
    jest.spyOn(client, 'listEnvironments').mockResolvedValue({
      items: [env('tab', 2, 'building'), env('zeta', 1, 'failed')]
    });
    jest
      .spyOn(client, 'environmentVersions')
      .mockImplementation(async name => ({
        items:
          name === 'tab'
            ? [env('tab', 2, 'building'), env('tab', 1)]
            : [env('zeta', 1, 'failed')]
      }));
    submitJob = jest
      .spyOn(client, 'submitJob')
      .mockResolvedValue({ id: 'j' } as IJob);
  });

  afterEach(() => jest.restoreAllMocks());

  it("offers the ready versions, defaults to the notebook's kernel, submits the pick", async () => {
    const model = new SubmitFormModel({ client, path: 'nb.ipynb' });
    await model.load();
    expect(model.environments.map(e => e.ref)).toEqual(['tab:1']);
    expect(model.values.environment).toBe('');
    model.set('environment', 'tab:1');
    expect(await model.submit()).toEqual({ id: 'j' });
    expect(submitJob).toHaveBeenCalledWith({
      notebook_path: 'nb.ipynb',
      parameters: {},
      compute: 'local',
      environment: 'tab:1',
      max_retries: 0
    });
  });

  it('has no picker entries when the server has no environment routes', async () => {
    jest.spyOn(client, 'listEnvironments').mockRejectedValue(new Error('404'));
    const model = new SubmitFormModel({ client, path: 'nb.ipynb' });
    await model.load();
    expect(model.loadError).toBe('');
    expect(model.environments).toEqual([]);
  });
});

describe('MlbenchClient environment routes', () => {
  const client = new MlbenchClient(
    ServerConnection.makeSettings({ baseUrl: 'http://h/' })
  );
  let makeRequest: jest.SpyInstance;

  beforeEach(() => {
    makeRequest = jest
      .spyOn(ServerConnection, 'makeRequest')
      .mockImplementation(
        async () =>
          new Response(JSON.stringify({ items: [] }), {
            status: 200,
            headers: { 'Content-Type': 'application/json' }
          })
      );
  });

  afterEach(() => makeRequest.mockRestore());

  it('reads a log from an offset and deletes one version or all', async () => {
    await client.environmentLog('tab', 2, 120);
    makeRequest.mockResolvedValue(new Response(null, { status: 204 }));
    await client.deleteEnvironment('tab', 2);
    makeRequest.mockResolvedValue(new Response(null, { status: 204 }));
    await client.deleteEnvironment('tab');
    const calls = makeRequest.mock.calls.map(c => [
      (c[1] as RequestInit).method,
      c[0] as string
    ]);
    expect(calls).toEqual([
      [
        'GET',
        'http://h/mlbench/api/v1/environments/tab/versions/2/log?offset=120'
      ],
      ['DELETE', 'http://h/mlbench/api/v1/environments/tab/versions/2'],
      ['DELETE', 'http://h/mlbench/api/v1/environments/tab']
    ]);
  });
});
