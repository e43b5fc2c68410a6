/**
 * The mlbench sidebar, the "Run as job" dialog and the job view, against a
 * real JupyterLab, the real server extension, agent and kernels.
 */
import { IJupyterLabPageFixture, expect, test } from '@jupyterlab/galata';
import * as path from 'path';

import {
  API,
  SCREENSHOT_DIR,
  jobRow,
  listJobs,
  openNotebook,
  openSidebar,
  recordRowStatuses,
  rowStatuses,
  submitOverRest
} from './helpers';

// One server, one agent: the specs run in order and build on each other's jobs.
test.describe.configure({ mode: 'serial' });

test.use({ autoGoto: true });

test('the sidebar shows compute and the jobs list', async ({ page }) => {
  await openSidebar(page);
  const sidebar = page.locator('#mlbench-sidebar');
  const local = sidebar.locator('.mlbench-Compute[data-compute="local"]');
  await expect(local).toBeVisible();
  await expect(local).toContainText('local');
  await expect(local).toContainText(/\d+ CPUs?/);
  await expect(local).toContainText(/\d+ running · \d+ queued/);
  // other spec files may have run jobs on this server already
  const n = (await listJobs(page)).length;
  await expect(sidebar.locator('.mlbench-JobsFooter')).toContainText(
    `${n} of ${n} job`
  );
  await expect(
    sidebar.getByRole('button', { name: /Show Failed jobs/ })
  ).toBeVisible();
});

test('a notebook submitted through the dialog goes queued, running, completed; its view and output open', async ({
  page
}) => {
  await openSidebar(page);
  await recordRowStatuses(page);
  // Fill every slot of the local target with short jobs first, so the job
  // under test waits in the queue for a few seconds whatever state the agent
  // is in (a warm agent claims a job within milliseconds).
  const local = await (await page.request.get(`${API}/compute/local`)).json();
  const slots = Math.min(local.target.capacity.max_concurrent_jobs, 4);
  for (let i = 0; i < slots; i++) {
    await submitOverRest(page, {
      notebook_path: 'slow.ipynb',
      parameters: { seconds: 4 },
      display_name: `blocker ${i}`
    });
  }
  await openNotebook(page, 'train.ipynb');
  await page.locator('.mlbench-RunAsJobButton').first().click();

  const dialog = page.locator('.mlbench-SubmitDialog');
  const epochs = dialog.getByLabel('Parameter epochs');
  // the form is typed from the notebook: default filled, type shown
  await expect(epochs).toHaveValue('30');
  await expect(dialog.locator('[data-param="learning_rate"]')).toContainText(
    'float'
  );
  await expect(dialog.locator('[data-param="epochs"]')).toContainText(
    'passes over the training data'
  );
  await epochs.fill('12');
  await dialog.getByLabel('Tags').fill('suite=ui');
  await dialog.getByRole('button', { name: 'Submit job' }).click();
  await expect(dialog).toHaveCount(0);

  const [job] = await listJobs(page);
  expect(job.notebook_path).toContain('train.ipynb');
  const row = jobRow(page, job.id);
  // at once, before any event
  await expect(row).toBeVisible({ timeout: 2000 });
  await expect(row).toHaveAttribute('data-status', 'completed', {
    timeout: 90000
  });
  const seen = await rowStatuses(page, job.id);
  expect(seen[0]).toBe('queued');
  expect(seen).toContain('running');
  expect(seen[seen.length - 1]).toBe('completed');
  expect(seen.indexOf('running')).toBeLessThan(seen.indexOf('completed'));
  // the progress bar is full
  await expect(row.getByRole('progressbar')).toHaveAttribute(
    'aria-valuenow',
    '100'
  );

  await row.click();
  const view = page.locator(
    `.mlbench-JobView-content[data-job-id="${job.id}"]`
  );
  await expect(view).toBeVisible();
  await expect(view.locator('.mlbench-StatusBadge').first()).toHaveText(
    'Completed'
  );
  const params = view.locator('.mlbench-JobView-params');
  await expect(params).toContainText('epochs');
  await expect(params).toContainText('12');
  await expect(view.locator('.mlbench-JobView-timeline li')).not.toHaveCount(0);
  await expect(view.locator('.mlbench-JobView-log')).toContainText(
    'final_accuracy'
  );
  await view.getByRole('button', { name: 'Open the output notebook' }).click();
  // the output is copied into the tree and opened as a notebook
  const tab = page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', {
    hasText: /\.ipynb/
  });
  await expect
    .poll(async () => (await tab.allTextContents()).join(' '))
    .toMatch(new RegExp(job.id.slice(0, 8)));
  const panel = page.locator('.jp-NotebookPanel:visible');
  await expect(panel.locator('.jp-OutputArea-output').first()).toBeVisible();
  await expect(panel).toContainText('final_accuracy');
});

test('a failing notebook shows its error cell and traceback', async ({
  page
}) => {
  await openSidebar(page);
  // from the file browser's context menu, while another notebook is open:
  // the right-clicked file is the one submitted
  await openNotebook(page, 'train.ipynb');
  await page.sidebar.openTab('filebrowser');
  await page.filebrowser.openDirectory('/');
  await page
    .locator('.jp-DirListing-item[data-file-type="notebook"]', {
      hasText: 'fail.ipynb'
    })
    .click({ button: 'right' });
  await page.getByRole('menuitem', { name: 'Run as job...' }).click();
  const dialog = page.locator('.mlbench-SubmitDialog');
  await expect(dialog.getByLabel('Parameter divisor')).toHaveValue('0');
  await expect(dialog.getByLabel('Parameter epochs')).toHaveCount(0);
  await dialog.getByRole('button', { name: 'Submit job' }).click();
  await expect(dialog).toHaveCount(0);

  const [job] = await listJobs(page);
  expect(job.notebook_path).toContain('fail.ipynb');
  const row = jobRow(page, job.id);
  await expect(row).toHaveAttribute('data-status', 'failed', {
    timeout: 90000
  });
  // submitted here: a notification says so, with a way to open it
  const note = page.locator('.jp-toast-message', { hasText: /failed/ });
  await expect(note.first()).toBeVisible();

  await row.click();
  const view = page.locator(
    `.mlbench-JobView-content[data-job-id="${job.id}"]`
  );
  const error = view.getByRole('region', { name: 'Error' });
  await expect(error).toContainText('Error in cell 4');
  await expect(error.locator('.mlbench-JobView-errorCell')).toHaveText(
    'ratio = 1 / divisor'
  );
  await expect(error.locator('.mlbench-JobView-errorMessage')).toContainText(
    'ZeroDivisionError'
  );
  await expect(error.locator('.mlbench-JobView-traceback')).toContainText(
    'ZeroDivisionError'
  );
});

test('a running job can be canceled from the list', async ({ page }) => {
  await openSidebar(page);
  await openNotebook(page, 'slow.ipynb');
  // from the command palette, on the current notebook
  const dialog = page.locator('.mlbench-SubmitDialog');
  // the palette rarely misses the Enter on a loaded machine: try again
  await expect(async () => {
    await page.evaluate(async () => {
      await (window as any).jupyterapp.commands.execute(
        'apputils:activate-command-palette'
      );
    });
    const input = page.locator('.lm-CommandPalette-input');
    await input.fill('Run Notebook as mlbench Job');
    await expect(
      page.locator('.lm-CommandPalette-item.lm-mod-active')
    ).toContainText('Run Notebook as mlbench Job...');
    await input.press('Enter');
    await expect(dialog).toBeVisible({ timeout: 5000 });
  }).toPass({ timeout: 45000 });
  await expect(dialog.getByLabel('Parameter seconds')).toHaveValue('120');
  await dialog.getByRole('button', { name: 'Submit job' }).click();
  await expect(dialog).toHaveCount(0);

  const [job] = await listJobs(page);
  expect(job.notebook_path).toContain('slow.ipynb');
  const row = jobRow(page, job.id);
  await expect(row).toHaveAttribute('data-status', 'running', {
    timeout: 60000
  });
  await row.getByRole('button', { name: /^Cancel job/ }).click();
  // a cancel is confirmed, as a delete is
  const confirm = page.locator('.jp-Dialog');
  await expect(confirm).toContainText('The running cell is interrupted');
  await confirm.getByRole('button', { name: 'Cancel job', exact: true }).click();
  await expect(row).toHaveAttribute('data-status', 'canceled', {
    timeout: 30000
  });
  const after = (await listJobs(page)).find(j => j.id === job.id);
  expect(after?.status).toBe('canceled');
});

test('a wrong-typed parameter is refused in the form', async ({ page }) => {
  await openSidebar(page);
  const before = (await listJobs(page)).length;
  await openNotebook(page, 'train.ipynb');
  await page.locator('.mlbench-RunAsJobButton').first().click();
  const dialog = page.locator('.mlbench-SubmitDialog');
  const epochs = dialog.getByLabel('Parameter epochs');
  await expect(epochs).toHaveValue('30');
  await epochs.fill('ten');
  await expect(epochs).toHaveAttribute('aria-invalid', 'true');
  await expect(
    dialog.locator('[data-param="epochs"] [role="alert"]')
  ).toHaveText('expects int, got "ten"');
  await dialog.getByLabel('Parameter learning_rate').fill('fast');
  await dialog.getByRole('button', { name: 'Submit job' }).click();
  // still open, nothing submitted
  await expect(dialog).toBeVisible();
  await expect(dialog.locator('.mlbench-Form-submitError')).toHaveText(
    'Fix the highlighted fields.'
  );
  await expect(
    dialog.locator('[data-param="learning_rate"] [role="alert"]')
  ).toContainText('expects float');
  expect((await listJobs(page)).length).toBe(before);
  // fixed, it goes through
  await epochs.fill('5');
  await dialog.getByLabel('Parameter learning_rate').fill('0.1');
  await dialog.getByRole('button', { name: 'Submit job' }).click();
  await expect(dialog).toHaveCount(0);
  await expect.poll(async () => (await listJobs(page)).length).toBe(before + 1);
});

test('the keyboard opens a job; a finished job can be deleted', async ({
  page
}) => {
  await openSidebar(page);
  const canceled = (await listJobs(page)).find(j => j.status === 'canceled')!;
  const row = jobRow(page, canceled.id);
  await row.focus();
  await page.keyboard.press('Enter');
  await expect(
    page.locator(`.mlbench-JobView-content[data-job-id="${canceled.id}"]`)
  ).toBeVisible();

  // the status filter finds it; the text filter narrows by notebook
  const sidebar = page.locator('#mlbench-sidebar');
  await sidebar.getByRole('button', { name: /Show Canceled jobs/ }).click();
  await expect(sidebar.locator('.mlbench-JobRow')).toHaveCount(1);
  await sidebar.getByLabel('Filter jobs by text').fill('train');
  await expect(sidebar.locator('.mlbench-JobRow')).toHaveCount(0);
  await sidebar.getByLabel('Filter jobs by text').fill('slow');

  await row.getByRole('button', { name: /^Delete job/ }).click();
  await page
    .locator('.jp-Dialog')
    .getByRole('button', { name: 'Delete' })
    .click();
  await expect(row).toHaveCount(0);
  // the job view of a deleted job closes
  await expect(
    page.locator(`.mlbench-JobView-content[data-job-id="${canceled.id}"]`)
  ).toHaveCount(0);
  expect((await listJobs(page)).map(j => j.id)).not.toContain(canceled.id);
  await sidebar.getByLabel('Filter jobs by text').fill('');
  await sidebar.getByRole('button', { name: /Show Canceled jobs/ }).click();
});

test('a text parameter is bound to a data asset version', async ({ page }) => {
  // a small file in the server root, registered as a data asset
  const put = await page.request.put('/api/contents/greeting.txt', {
    data: { type: 'file', format: 'text', content: 'hello from data\n' }
  });
  expect(put.ok()).toBe(true);
  const created = await page.request.post(`${API}/data`, {
    data: { name: 'greeting', path: 'greeting.txt', kind: 'file' }
  });
  expect(created.status()).toBe(201);

  await openSidebar(page);
  await openNotebook(page, 'read_data.ipynb');
  await page.locator('.mlbench-RunAsJobButton').first().click();
  const dialog = page.locator('.mlbench-SubmitDialog');
  const picker = dialog.getByLabel('Data for parameter data_path');
  await picker.selectOption('greeting@latest');
  await dialog.getByRole('button', { name: 'Submit job' }).click();
  await expect(dialog).toHaveCount(0);

  const [job] = await listJobs(page);
  await expect(jobRow(page, job.id)).toHaveAttribute(
    'data-status',
    'completed',
    { timeout: 90000 }
  );
  await jobRow(page, job.id).click();
  const view = page.locator(
    `.mlbench-JobView-content[data-job-id="${job.id}"]`
  );
  await expect(view.locator('.mlbench-JobView-fields')).toContainText(
    'data_path ← greeting:1'
  );
  await expect(view.locator('.mlbench-JobView-log')).toContainText(
    'read: hello from data'
  );
});

const HIDE_TOASTS = '.Toastify { display: none !important; }';

async function screenshots(
  page: IJupyterLabPageFixture,
  jobId: string,
  theme: string,
  region: string
): Promise<void> {
  await page.locator('#mlbench-sidebar').screenshot({
    path: path.join(SCREENSHOT_DIR, `sidebar-${theme}.png`),
    style: HIDE_TOASTS
  });
  await page.evaluate(async id => {
    await (window as any).jupyterapp.commands.execute('mlbench:open-job', {
      id
    });
  }, jobId);
  const view = page.locator(`.mlbench-JobView-content[data-job-id="${jobId}"]`);
  await expect(view.getByRole('region', { name: region })).toBeVisible();
  await page.locator('.mlbench-JobView:visible').screenshot({
    path: path.join(SCREENSHOT_DIR, `job-view-${theme}.png`),
    style: HIDE_TOASTS
  });
}

test('light and dark themes', async ({ page }) => {
  await openSidebar(page);
  const jobs = await listJobs(page);
  const failed = jobs.find(j => j.status === 'failed')!;
  await expect(jobRow(page, failed.id)).toBeVisible();
  // a completed job: its metrics are charted
  const train = jobs.find(
    j => j.status === 'completed' && j.notebook_path.endsWith('train.ipynb')
  )!;
  await screenshots(page, train.id, 'light', 'Metrics');
  await expect(
    page.locator('.mlbench-JobView:visible .mlbench-MetricChart canvas')
  ).toBeVisible();

  await page.theme.setDarkTheme();
  await openSidebar(page);
  // the sidebar follows the theme: a dark background, light text
  const [bg, fg] = await page.locator('#mlbench-sidebar').evaluate(el => {
    const style = getComputedStyle(el);
    return [style.backgroundColor, style.color];
  });
  const luminance = (rgb: string) => {
    const [r, g, b] = rgb.match(/\d+/g)!.map(Number);
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
  };
  expect(luminance(bg)).toBeLessThan(0.3);
  expect(luminance(fg)).toBeGreaterThan(0.6);
  await screenshots(page, failed.id, 'dark', 'Error');
  const badge = page.locator(
    '.mlbench-JobView:visible .mlbench-JobView-header .mlbench-StatusBadge'
  );
  await expect(badge).toHaveText('Failed');
});
