import { Notification } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';

import { INotebookParameter, ISchedule, MlbenchClient } from '../api';
import { MlbenchAPIError } from '../request';
import {
  SubmitFormModel,
  defaultScheduleName,
  showSubmitDialog
} from '../submit/submit-dialog';

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

const CREATED = {
  id: 'sc1',
  name: 'train',
  enabled: true,
  trigger: { cron: '30 2 * * 1-5', timezone: 'Europe/Berlin' },
  describe: "cron '30 2 * * 1-5' (Europe/Berlin)",
  next_fire_wall: '2026-12-03T02:30:00+01:00'
} as unknown as ISchedule;

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await new Promise(resolve => setTimeout(resolve, 0));
  }
}

describe('"Schedule..." in the Run as job form', () => {
  const client = new MlbenchClient(
    ServerConnection.makeSettings({ baseUrl: 'http://h/' })
  );
  let createSchedule: jest.SpyInstance;
  let submitJob: jest.SpyInstance;

  beforeEach(() => {
    jest.spyOn(client, 'notebookParameters').mockResolvedValue({
      path: 'examples/train.ipynb',
      kernel_name: 'python3',
      has_parameters_cell: true,
      parameters: [param('epochs', 'int', 30)]
    });
    jest
      .spyOn(client, 'listKernels')
      .mockResolvedValue({ default: 'python3', items: [] } as any);
    jest
      .spyOn(client, 'listCompute')
      .mockResolvedValue({ items: [{ target: { name: 'local' } }] } as any);
    jest.spyOn(client, 'listData').mockResolvedValue({ items: [] } as any);
    jest
      .spyOn(client, 'listEnvironments')
      .mockResolvedValue({ items: [] } as any);
    createSchedule = jest
      .spyOn(client, 'createSchedule')
      .mockResolvedValue(CREATED);
    submitJob = jest.spyOn(client, 'submitJob');
  });

  afterEach(() => jest.restoreAllMocks());

  async function loaded(): Promise<SubmitFormModel> {
    const model = new SubmitFormModel({
      client,
      path: 'examples/train.ipynb',
      defaultCompute: 'local'
    });
    await model.load();
    return model;
  }

  it('names a schedule after its notebook', () => {
    expect(defaultScheduleName('examples/train.ipynb')).toBe('train');
    expect(defaultScheduleName('reports/Daily Sales (v2).ipynb')).toBe(
      'Daily-Sales-v2-'
    );
    expect(defaultScheduleName('_x.ipynb')).toBe('x');
    expect(defaultScheduleName('')).toBe('schedule');
  });

  it("creates a schedule of the form's job spec on a cron rule in a zone", async () => {
    const model = await loaded();
    expect(model.schedule).toBeNull();
    model.startScheduling();
    expect(model.schedule).toEqual({
      name: 'train',
      cron: '0 2 * * *',
      timezone: expect.any(String)
    });
    model.setParameter('epochs', '5');
    model.setSchedule('cron', '30 2 * * 1-5');
    model.setSchedule('timezone', 'Europe/Berlin');
    expect(await model.createSchedule()).toBe(CREATED);
    expect(submitJob).not.toHaveBeenCalled();
    expect(createSchedule).toHaveBeenCalledTimes(1);
    const body = createSchedule.mock.calls[0][0];
    expect(body.name).toBe('train');
    expect(body.trigger).toEqual({
      cron: '30 2 * * 1-5',
      timezone: 'Europe/Berlin'
    });
    expect(body.job).toMatchObject({
      notebook_path: 'examples/train.ipynb',
      parameters: { epochs: 5 },
      compute: 'local'
    });
  });

  it('refuses a bad name, rule or parameter without asking the server', async () => {
    const model = await loaded();
    model.startScheduling();
    model.setSchedule('name', '-nightly');
    model.setSchedule('cron', '0 2 * *');
    model.setSchedule('timezone', ' ');
    model.setParameter('epochs', 'many');
    expect(await model.createSchedule()).toBeNull();
    expect(createSchedule).not.toHaveBeenCalled();
    expect(Object.keys(model.errors).sort()).toEqual([
      'param:epochs',
      'schedule:cron',
      'schedule:name',
      'schedule:timezone'
    ]);
    expect(model.submitError).toBe('Fix the highlighted fields.');
    // typing clears a field's error
    model.setSchedule('cron', '0 2 * * *');
    expect(model.errors['schedule:cron']).toBeUndefined();
  });

  it("shows the server's refusal (an unknown zone) and keeps the form", async () => {
    createSchedule.mockRejectedValue(
      new MlbenchAPIError(
        new Response('', { status: 422 }),
        'invalid_input',
        "unknown time zone 'Mars/Olympus'"
      )
    );
    const model = await loaded();
    model.startScheduling();
    model.setSchedule('timezone', 'Mars/Olympus');
    expect(await model.createSchedule()).toBeNull();
    expect(model.submitError).toContain('Mars/Olympus');
    expect(model.schedule?.timezone).toBe('Mars/Olympus');
    expect(model.submitting).toBe(false);
  });

  it('a rerun has no schedule', async () => {
    const model = new SubmitFormModel({
      client,
      path: 'x.ipynb',
      rerunOf: { id: 'j1', parameters: {}, resources: {}, tags: {} } as any
    });
    model.startScheduling();
    expect(model.schedule).toBeNull();
  });

  it('the dialog: "Schedule..." shows the fields, the next press creates it', async () => {
    const success = jest.spyOn(Notification, 'success').mockReturnValue('note');
    const result = showSubmitDialog({
      client,
      path: 'examples/train.ipynb',
      defaultCompute: 'local'
    });
    await flush();
    const dialog = document.querySelector('.mlbench-SubmitDialog')!;
    const button = () =>
      dialog.querySelectorAll<HTMLButtonElement>('.jp-Dialog-button')[1];
    expect(button().textContent).toBe('Schedule...');
    expect(dialog.querySelector('.mlbench-Form-schedule')).toBeNull();
    button().click();
    await flush();
    expect(dialog.querySelector('.mlbench-Form-schedule')).not.toBeNull();
    expect(button().textContent).toBe('Create schedule');
    expect(
      dialog.querySelector('[data-schedule-field="cron"]')?.textContent
    ).toContain('Runs every day at 02:00.');
    expect(createSchedule).not.toHaveBeenCalled();
    button().click();
    expect(await result).toBeNull();
    expect(createSchedule).toHaveBeenCalledTimes(1);
    expect(submitJob).not.toHaveBeenCalled();
    expect(success).toHaveBeenCalledWith(
      'Schedule train created: weekdays at 02:30; next run Thu 3 Dec 2026, 02:30 (UTC+01:00)',
      { autoClose: 8000 }
    );
    expect(document.querySelector('.mlbench-SubmitDialog')).toBeNull();
  });
});
