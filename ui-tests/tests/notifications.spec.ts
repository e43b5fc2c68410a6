/**
 * Notification rules with the jupyterlab channel: a rule created over REST,
 * a job that fails (submitted over REST, so the "submitted here" toast does
 * not apply), and the rule's toast arrives through the scheduler process and
 * the server's event stream, its "Open job" button opening the job's view.
 * The server records the delivery as delivered.
 */
import { expect, test } from '@jupyterlab/galata';

import { API, submitOverRest } from './helpers';

const FAILING = {
  nbformat: 4,
  nbformat_minor: 5,
  metadata: {
    kernelspec: {
      name: 'python3',
      display_name: 'Python 3 (ipykernel)',
      language: 'python'
    }
  },
  cells: [
    {
      cell_type: 'code',
      metadata: {},
      execution_count: null,
      outputs: [],
      source: 'raise ValueError("toast me")'
    }
  ]
};

test('a failed job reaches JupyterLab as a toast with an Open job button', async ({
  page,
  tmpPath
}) => {
  const suffix = test.info().retry ? `-${test.info().retry}` : '';
  const rule = `ui-lab-toasts${suffix}`;
  const notebook = `${tmpPath}/toast-me.ipynb`;
  await page.contents.uploadContent(
    JSON.stringify(FAILING),
    'text',
    notebook
  );
  const added = await page.request.post(`${API}/notifications`, {
    data: { name: rule, events: ['job.failed'], channel: 'jupyterlab' }
  });
  expect(added.status(), await added.text()).toBe(201);
  try {
    const job = await submitOverRest(page, {
      notebook_path: notebook,
      experiment: 'ui-notifications'
    });
    const toast = page.locator('.Toastify__toast', {
      hasText: `(${job.id}) failed`
    });
    await expect(toast).toBeVisible({ timeout: 120000 });
    await expect(toast).toContainText(`(rule ${rule})`);
    await toast.getByRole('button', { name: 'Open job' }).click();
    await expect(
      page.locator(`.mlbench-JobView-content[data-job-id="${job.id}"]`)
    ).toBeVisible();

    const log = await page.request.get(
      `${API}/notifications/${rule}/deliveries`
    );
    const [delivery] = (await log.json()).items;
    expect(delivery.status).toBe('delivered');
    expect(delivery.attempt_log[0].detail).toMatch(
      /^published by the Jupyter server \(pid \d+\) to \d+ JupyterLab connection/
    );
  } finally {
    await page.request.delete(`${API}/notifications/${rule}`);
  }
});

test('notification rules: added, tested and deleted from Settings > mlbench Notification Rules', async ({
  page
}) => {
  const suffix = test.info().retry ? `-${test.info().retry}` : '';
  const name = `ui-hook${suffix}`;
  const secret = 'ui-secret-0123456789';
  await page.menu.clickMenuItem('Settings>mlbench Notification Rules…');
  const panel = page.locator('.mlbench-Notifications');
  await expect(panel).toBeVisible();

  const form = panel.getByRole('form', { name: 'Add a notification rule' });
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('job.completed').check();
  await form.getByLabel('Channel').selectOption('webhook');
  // nothing listens there: the test delivery fails, and says why
  await form.getByLabel('URL').fill('http://127.0.0.1:9/hook');
  await form.getByLabel('HMAC secret (write-only)').fill(secret);
  await form.getByRole('button', { name: 'Add rule' }).click();

  const rule = panel.locator(`[data-rule="${name}"]`);
  await expect(rule).toContainText('job.failed, job.timed_out, job.completed');
  await expect(rule).toContainText('http://127.0.0.1:9/hook');
  await expect(rule).toContainText('secrets kept: secret');
  // write-only: neither the page nor the server's answer shows it again
  await expect(form.getByLabel('Name')).toHaveValue('');
  expect(await page.content()).not.toContain(secret);
  const listed = await page.request.get(`${API}/notifications/${name}`);
  expect(await listed.text()).not.toContain(secret);

  await rule.getByRole('button', { name: 'Test' }).click();
  await expect(rule.getByRole('status')).toContainText('test failed:');

  await rule.getByRole('button', { name: `Delete rule ${name}` }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
  await expect(rule).toHaveCount(0);
  const gone = await page.request.get(`${API}/notifications/${name}`);
  expect(gone.status()).toBe(404);
});
