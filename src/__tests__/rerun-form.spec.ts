import { ServerConnection } from '@jupyterlab/services';

import { IJob, INotebookParameter, MlbenchClient } from '../api';
import { MlbenchAPIError } from '../request';
import { SubmitFormModel } from '../submit/submit-dialog';

const param = (
  name: string,
  type: string,
  value: unknown
): INotebookParameter => ({
  name,
  type,
  default: value,
  default_source: JSON.stringify(value),
  nullable: false
});

// the snapshot's parameters (examples/train.ipynb), not the file's today
const SNAPSHOT = [
  param('dataset', 'str', 'digits'),
  param('epochs', 'int', 30),
  param('learning_rate', 'float', 0.05)
];

const ORIGINAL = {
  id: 'abc123456789',
  display_name: 'first try',
  experiment: 'digits',
  compute: 'gpu-box',
  kernel_name: 'py311',
  notebook_path: '/root/examples/train.ipynb',
  notebook_relpath: 'examples/train.ipynb',
  parameters: { epochs: 5, learning_rate: 0.1, dataset: '/cache/d' },
  resources: { gpus: 1 },
  timeout_s: 600,
  max_retries: 2,
  tags: { team: 'cv', baseline: '' },
  inputs: [
    {
      name: 'dataset',
      asset: 'digits',
      version: 3,
      ref: 'data:digits:3',
      kind: 'table'
    }
  ]
} as unknown as IJob;

describe('SubmitFormModel rerunning a job with changes', () => {
  const client = new MlbenchClient(
    ServerConnection.makeSettings({ baseUrl: 'http://h/' })
  );
  let rerunJob: jest.SpyInstance;
  let submitJob: jest.SpyInstance;
  let notebookParameters: jest.SpyInstance;

  beforeEach(() => {
    jest.spyOn(client, 'jobParameters').mockResolvedValue({
      path: 'examples/train.ipynb',
      kernel_name: 'python3',
      has_parameters_cell: true,
      parameters: SNAPSHOT
    });
    notebookParameters = jest.spyOn(client, 'notebookParameters');
    jest
      .spyOn(client, 'listKernels')
      .mockResolvedValue({ default: 'python3', items: [] } as any);
    jest.spyOn(client, 'listCompute').mockResolvedValue({
      items: [{ target: { name: 'local' } }, { target: { name: 'gpu-box' } }]
    } as any);
    jest.spyOn(client, 'listData').mockResolvedValue({ items: [] } as any);
    rerunJob = jest
      .spyOn(client, 'rerunJob')
      .mockResolvedValue({ id: 'new' } as IJob);
    submitJob = jest.spyOn(client, 'submitJob');
  });

  afterEach(() => jest.restoreAllMocks());

  async function loaded(): Promise<SubmitFormModel> {
    const model = new SubmitFormModel({
      client,
      path: 'examples/train.ipynb',
      defaultCompute: 'local',
      defaultExperiment: 'other',
      rerunOf: ORIGINAL
    });
    await model.load();
    return model;
  }

  it("fills the form with the job's values, from its snapshot's parameters", async () => {
    const model = await loaded();
    expect(notebookParameters).not.toHaveBeenCalled();
    expect(model.values).toEqual({
      notebookPath: 'examples/train.ipynb',
      parameters: {
        dataset: '/cache/d',
        epochs: '5',
        learning_rate: '0.1'
      },
      compute: 'gpu-box',
      kernelName: 'py311',
      gpus: '1',
      timeout: '600',
      retries: '2',
      experiment: 'digits',
      tags: 'team=cv, baseline',
      displayName: 'first try',
      inputs: { dataset: 'data:digits:3' }
    });
  });

  it('sends only what changed, even a value changed back to the default', async () => {
    const model = await loaded();
    model.setParameter('epochs', '30');
    model.set('compute', 'local');
    expect(await model.submit()).toEqual({ id: 'new' });
    expect(submitJob).not.toHaveBeenCalled();
    expect(rerunJob).toHaveBeenCalledWith('abc123456789', {
      parameters: { epochs: 30 },
      compute: 'local',
      kernel_name: 'py311',
      resources: { gpus: 1 },
      timeout_s: 600,
      max_retries: 2,
      tags: { team: 'cv', baseline: '' },
      experiment: 'digits',
      display_name: 'first try'
    });
  });

  it("says why when the job's snapshot is lost, and submits nothing", async () => {
    jest
      .spyOn(client, 'jobParameters')
      .mockRejectedValue(
        new MlbenchAPIError(
          new Response('', { status: 409 }),
          'conflict',
          'the notebook snapshot of job abc123456789 is missing'
        )
      );
    const model = await loaded();
    expect(model.loadError).toContain(
      'snapshot of job abc123456789 is missing'
    );
    expect(await model.submit()).toBeNull();
    expect(rerunJob).not.toHaveBeenCalled();
  });

  it('refuses a wrong type before anything is sent', async () => {
    const model = await loaded();
    model.setParameter('epochs', 'many');
    expect(await model.submit()).toBeNull();
    expect(model.errors['param:epochs']).toBeTruthy();
    expect(rerunJob).not.toHaveBeenCalled();
  });
});
