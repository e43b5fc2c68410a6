/**
 * Environments in JupyterLab: an environment made over REST (from a wheel
 * made on the spot, so nothing is downloaded: uv takes ipykernel from its
 * cache, see tests/test_environments.py) is listed in the Environments
 * section with its packages and build log; the "Run as job" form's
 * Environment picker runs a notebook in it, which imports the wheel's module
 * (absent from the notebook's own kernel); the section deletes it.
 */
import { expect, test } from '@jupyterlab/galata';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { API, listJobs, openNotebook, openSidebar } from './helpers';

const REPO = path.resolve(__dirname, '..', '..');

/** The requirement naming a fresh wheel of `mlbench-probe` (tests/wheels.py). */
function probeWheel(): string {
  const venvPython = path.join(REPO, '.venv', 'bin', 'python');
  const python = fs.existsSync(venvPython) ? venvPython : 'python3';
  const folder = fs.mkdtempSync(
    path.join(process.env.MLBENCH_UI_TMP || os.tmpdir(), 'wheels-')
  );
  return execFileSync(python, ['-m', 'tests.wheels', folder], {
    cwd: REPO,
    encoding: 'utf-8'
  }).trim();
}

test('lists an environment and runs a job in it from the picker', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(240000);
  const name = `ui-probe-${Date.now() % 100000}`;
  const created = await page.request.post(`${API}/environments`, {
    data: { name, requirements: [probeWheel()] },
    timeout: 180000
  });
  expect(created.status(), await created.text()).toBe(201);
  const env = await created.json();
  expect(env.status).toBe('ready');

  const notebook = `${tmpPath}/env_probe.ipynb`;
  await page.contents.uploadContent(
    JSON.stringify({
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
          id: 'probe',
          metadata: {},
          execution_count: null,
          outputs: [],
          source: "import mlbench_probe\nprint('probe says', mlbench_probe.VALUE)"
        }
      ]
    }),
    'text',
    notebook
  );

  // the section lists it: name:version, status, python, package count
  await openSidebar(page);
  const section = page.locator('section[data-section="environments"]');
  const toggle = section.getByRole('button', {
    name: 'Environments',
    exact: true
  });
  if ((await toggle.getAttribute('aria-expanded')) !== 'true') {
    await toggle.click();
  }
  const row = section.locator(`.mlbench-Env[data-env="${name}"]`);
  await expect(row).toHaveAttribute('data-status', 'ready');
  await expect(row.locator('.mlbench-Env-ref')).toHaveText(`${name}:1`);
  await expect(row.locator('.mlbench-Env-summary')).toContainText(
    `${env.packages.length} packages`
  );
  await expect(row.locator('.mlbench-Env-summary')).toContainText('CPython');

  // opened: its packages and its build log
  await row.locator('.mlbench-Env-head').click();
  const packages = row.getByRole('list', { name: `Packages of ${name}:1` });
  await expect(packages).toContainText('mlbench-probe@file://');
  await expect(packages).toContainText('ipykernel==');
  await row.getByRole('searchbox').fill('probe');
  await expect(packages.getByRole('listitem')).toHaveCount(1);
  await row.locator('.mlbench-Env-logBlock summary').click();
  await expect(
    row.getByLabel(`Build log of ${name}:1`, { exact: true })
  ).toContainText(`ready: kernel ${env.kernel_name}`);
  await section.screenshot({
    path: test.info().outputPath('environments-section.png')
  });

  // Run as job: pick the environment; the kernel is the environment's then
  await openNotebook(page, notebook);
  await page.locator('.mlbench-RunAsJobButton').first().click();
  const dialog = page.locator('.mlbench-SubmitDialog');
  const picker = dialog.getByRole('combobox', { name: 'Environment' });
  await expect(picker).toHaveValue('');
  await expect(picker.locator('option').first()).toContainText(
    "The notebook's kernel"
  );
  await picker.selectOption(`${name}:1`);
  await expect(dialog.getByRole('combobox', { name: 'Kernel' })).toBeDisabled();
  await dialog.getByRole('button', { name: 'Submit job' }).click();
  await expect(dialog).toHaveCount(0);

  const [job] = await listJobs(page);
  expect(job.notebook_path).toContain('env_probe.ipynb');
  await expect
    .poll(
      async () =>
        (await (await page.request.get(`${API}/jobs/${job.id}`)).json()).status,
      { timeout: 120000 }
    )
    .toBe('completed');
  const info = await (await page.request.get(`${API}/jobs/${job.id}`)).json();
  expect(info.kernel_name).toBe(env.kernel_name);
  expect(info.tags['mlbench.environment']).toBe(`${name}:1`);
  const logs = await (
    await page.request.get(`${API}/jobs/${job.id}/logs`)
  ).json();
  expect(logs.text).toContain('probe says mlbench-probe 1.0');

  // deleted from the section
  await row.getByRole('button', { name: 'Delete' }).click();
  await page
    .locator('.jp-Dialog')
    .getByRole('button', { name: 'Delete' })
    .click();
  await expect(row).toHaveCount(0);
  const gone = await page.request.get(`${API}/environments/${name}`);
  expect(gone.status()).toBe(404);
});
