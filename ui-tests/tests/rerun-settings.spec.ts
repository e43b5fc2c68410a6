/**
 * Rerunning a finished job with changes from its view, and the settings the
 * "Run as job" dialog and the notifications follow, against a real
 * JupyterLab, the server extension, the agent and kernels.
 */
import { IJupyterLabPageFixture, expect, test } from '@jupyterlab/galata';

import {
  API,
  execute,
  jobRow,
  openNotebook,
  openSidebar,
  submitOverRest
} from './helpers';

test.describe.configure({ mode: 'serial' });

test.use({ autoGoto: true });

const FINAL = /^(completed|failed|canceled|timed_out)$/;

async function getJob(page: IJupyterLabPageFixture, id: string): Promise<any> {
  const response = await page.request.get(`${API}/jobs/${id}`);
  expect(response.ok()).toBe(true);
  return response.json();
}

async function newestJob(page: IJupyterLabPageFixture): Promise<any> {
  const response = await page.request.get(`${API}/jobs?limit=1`);
  return (await response.json()).items[0];
}

async function waitFinal(page: IJupyterLabPageFixture, id: string) {
  await expect
    .poll(async () => (await getJob(page, id)).status, { timeout: 90000 })
    .toMatch(FINAL);
  return getJob(page, id);
}

/**
 * Set the plugin's settings through JupyterLab's setting registry, as the
 * Settings Editor does: the plugin follows without a reload.
 */
async function setSettings(
  page: IJupyterLabPageFixture,
  values: Record<string, unknown>
): Promise<void> {
  await page.evaluate(async values => {
    const registry = await (window as any).galata.getPlugin(
      '@jupyterlab/apputils-extension:settings'
    );
    for (const [key, value] of Object.entries(values)) {
      if (value === undefined) {
        await registry.remove('mlbench:plugin', key);
      } else {
        await registry.set('mlbench:plugin', key, value);
      }
    }
  }, values);
}

test('a finished job reruns with changes from its view', async ({ page }) => {
  const original = await submitOverRest(page, {
    notebook_path: 'train.ipynb',
    parameters: { epochs: 3 },
    tags: { suite: 'rerun' },
    display_name: 'rerun me'
  });
  expect((await waitFinal(page, original.id)).status).toBe('completed');

  await openSidebar(page);
  await execute(page, 'mlbench:open-job', { id: original.id });
  const view = page.locator(
    `.mlbench-JobView-content[data-job-id="${original.id}"]`
  );
  await view
    .getByRole('button', { name: 'Rerun this job with changes' })
    .click();

  const dialog = page.locator('.mlbench-SubmitDialog');
  await expect(dialog.locator('.jp-Dialog-header')).toContainText(
    'Rerun rerun me with changes'
  );
  // the job's values, not the notebook's defaults (epochs = 30)
  const epochs = dialog.getByLabel('Parameter epochs');
  await expect(epochs).toHaveValue('3');
  await expect(dialog.getByLabel('Tags')).toHaveValue('suite=rerun');
  await expect(dialog.getByLabel('Job name')).toHaveValue('rerun me');
  await expect(dialog.getByLabel('Compute')).toHaveValue('local');
  // still typed
  await epochs.fill('three');
  await expect(dialog.locator('#mlbench-param-epochs-error')).toBeVisible();
  // back to the notebook's default: sent all the same, the job had 3
  await epochs.fill('30');
  await expect(dialog.locator('#mlbench-param-epochs-error')).toHaveCount(0);
  await dialog.getByLabel('Job name').fill('rerun changed');
  await dialog.getByRole('button', { name: 'Rerun job' }).click();
  await expect(dialog).toHaveCount(0);

  const rerun = await newestJob(page);
  expect(rerun.rerun_of).toBe(original.id);
  expect(rerun.parameters.epochs).toBe(30);
  expect(rerun.display_name).toBe('rerun changed');
  expect(rerun.tags).toEqual({ suite: 'rerun' });
  await expect(jobRow(page, rerun.id)).toBeVisible();
  await expect(jobRow(page, rerun.id)).toHaveAttribute(
    'data-status',
    'completed',
    { timeout: 90000 }
  );
});

test('settings choose the dialog defaults and turn notifications off', async ({
  page
}) => {
  await openSidebar(page);
  await openNotebook(page, 'train.ipynb');
  await setSettings(page, {
    defaultExperiment: 'from-settings',
    defaultCompute: 'local',
    notifications: false
  });
  try {
    await page.locator('.mlbench-RunAsJobButton').first().click();
    const dialog = page.locator('.mlbench-SubmitDialog');
    await expect(dialog.getByLabel('Experiment')).toHaveValue('from-settings');
    await expect(dialog.getByLabel('Compute')).toHaveValue('local');
    await dialog.getByLabel('Parameter epochs').fill('2');
    await dialog.getByLabel('Job name').fill('quiet job');
    await dialog.getByRole('button', { name: 'Submit job' }).click();
    await expect(dialog).toHaveCount(0);

    const job = await newestJob(page);
    expect(job.display_name).toBe('quiet job');
    expect(job.experiment).toBe('from-settings');
    const row = jobRow(page, job.id);
    await expect(row).toHaveAttribute('data-status', 'completed', {
      timeout: 90000
    });
    // the notification would come with the same event that updated the row;
    // give it a moment to show, had it been emitted
    await page.waitForTimeout(1500);
    await expect(
      page.locator('.jp-toast-message', { hasText: 'quiet job completed' })
    ).toHaveCount(0);
  } finally {
    await setSettings(page, {
      defaultExperiment: undefined,
      defaultCompute: undefined,
      notifications: undefined
    });
  }

  // with the defaults back, the same submission is notified
  await page.locator('.mlbench-RunAsJobButton').first().click();
  const dialog = page.locator('.mlbench-SubmitDialog');
  await expect(dialog.getByLabel('Experiment')).toHaveValue('');
  await dialog.getByLabel('Parameter epochs').fill('2');
  await dialog.getByLabel('Job name').fill('loud job');
  await dialog.getByRole('button', { name: 'Submit job' }).click();
  await expect(
    page.locator('.jp-toast-message', { hasText: 'loud job completed' })
  ).toBeVisible({ timeout: 90000 });
});
