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
