/**
 * The Experiments section against a real job: the experiment opens as a
 * main-area tab, the job's MLflow run appears in its runs table with its
 * params and metrics, and selecting it draws its metric histories on charts.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { expect, test } from '@jupyterlab/galata';
import type { Page } from '@playwright/test';

const ROOT = path.resolve(__dirname, '..', '..');
const VENV_PYTHON = path.join(ROOT, '.venv', 'bin', 'python');
const PYTHON =
  process.env.MLBENCH_PYTHON ||
  (fs.existsSync(VENV_PYTHON) ? VENV_PYTHON : 'python3');

const EXPERIMENT = 'ui-experiments';

async function experimentId(
  page: Page,
  baseURL: string,
  name: string
): Promise<string> {
  const reply = await page.request.get(
    `${baseURL}/mlbench/api/v1/experiments?text=${encodeURIComponent(name)}`
  );
  const found = (await reply.json()).items.find((e: any) => e.name === name);
  return found.experiment_id;
}

async function openSection(page: Page, title: string) {
  await page.sidebar.openTab('mlbench-sidebar');
  const section = page.locator(
    `section[data-section="${title.toLowerCase()}"]`
  );
  const toggle = section.getByRole('button', { name: title, exact: true });
  if ((await toggle.getAttribute('aria-expanded')) !== 'true') {
    await toggle.click();
  }
  return section;
}

test('shows the runs of a completed job and a chart of its metric', async ({
  page,
  baseURL
}) => {
  const api = `${baseURL}/mlbench/api/v1`;
  const submitted = await page.request.post(`${api}/jobs`, {
    data: {
      notebook_path: 'train.ipynb',
      parameters: { epochs: 12, learning_rate: 0.07 },
      experiment: EXPERIMENT
    }
  });
  expect(submitted.status()).toBe(201);
  const { id } = await submitted.json();
  let job: any = null;
  await expect
    .poll(
      async () => {
        job = await (await page.request.get(`${api}/jobs/${id}`)).json();
        return job.status;
      },
      { timeout: 90000, intervals: [500] }
    )
    .toBe('completed');

  const sidebar = await openSection(page, 'Experiments');
  await sidebar
    .getByRole('list', { name: 'Experiments' })
    .getByRole('button', { name: EXPERIMENT })
    .click();
  // the runs open in the main area, not in the sidebar
  const section = page.locator('#jp-main-dock-panel .mlbench-ExperimentView');
  await expect(section).toBeVisible();
  const table = section.getByRole('table', { name: `Runs of ${EXPERIMENT}` });
  const row = table.locator(`tr[data-run-id="${job.mlflow_run_id}"]`);
  await expect(row).toBeVisible();
  // params and latest metrics are columns
  for (const header of [
    'learning_rate',
    'epochs',
    'train_loss',
    'test_accuracy'
  ]) {
    await expect(
      table.getByRole('columnheader', { name: header })
    ).toBeVisible();
  }
  await expect(row).toContainText('Completed');
  await expect(row).toContainText('0.07');

  // sorting by a metric asks the server and marks the column
  await table.getByRole('button', { name: 'train_loss', exact: true }).click();
  await expect(
    table.getByRole('columnheader', { name: /train_loss/ })
  ).toHaveAttribute('aria-sort', 'ascending');

  await row.getByRole('checkbox').check();
  const chart = section.locator(
    '.mlbench-Experiments-chartCell[data-metric="train_loss"] .mlbench-MetricChart'
  );
  await expect(chart.locator('canvas')).toBeVisible();
  // the charts open on the loss, one series per run, every epoch drawn
  await expect(
    section
      .getByRole('group', { name: 'Metrics to chart' })
      .getByRole('checkbox', { name: 'train_loss' })
  ).toBeChecked();
  await expect(chart).toHaveAttribute('data-render-ms', /\d/);
  await expect(chart.locator('.u-legend')).toContainText(
    job.display_name.length ? '' : ''
  );
  await expect(section.locator('.mlbench-Experiments-chartNote')).toHaveText(
    /^\d+ points$/
  );
  const legend = chart.locator('.u-legend .u-series');
  await expect(legend).toHaveCount(2); // x + one run
  await chart.screenshot({
    path: test.info().outputPath('experiments-chart.png')
  });

  // hovering shows the values at the cursor in the legend
  const box = (await chart.locator('.u-over').boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await expect(legend.nth(1).locator('.u-value')).not.toHaveText('—');

  await section.screenshot({
    path: test.info().outputPath('experiments-section.png')
  });

  // The dark theme redraws the chart in its own colors.
  await page.theme.setDarkTheme();
  await expect(chart).toHaveAttribute('data-render-ms', /\d/);
  const colors = await chart.evaluate(el => {
    const style = getComputedStyle(el);
    return {
      text: style.color,
      background: getComputedStyle(document.body).backgroundColor
    };
  });
  expect(colors.text).not.toBe(colors.background);
  await chart.screenshot({
    path: test.info().outputPath('experiments-chart-dark.png')
  });
});

test('pages through 55 runs and sorts them by a metric on the server', async ({
  page,
  baseURL
}) => {
  const ws = (
    await (await page.request.get(`${baseURL}/mlbench/api/v1/health`)).json()
  ).workspace;
  // 55 runs of 5 points each, logged with MLflow's log_batch.
  execFileSync(
    PYTHON,
    [
      path.join(ROOT, 'benchmarks', 'seed_ui_bench.py'),
      '--workspace',
      ws,
      '--runs',
      '55',
      '--points',
      '5',
      '--experiment',
      'ui-paging'
    ],
    { encoding: 'utf-8', timeout: 120000 }
  );

  const sidebar = await openSection(page, 'Experiments');
  await sidebar
    .getByRole('list', { name: 'Experiments' })
    .getByRole('button', { name: 'ui-paging' })
    .click();
  const section = page.locator('#mlbench-experiment-' + (await experimentId(page, baseURL!, 'ui-paging')));
  const table = section.getByRole('table', { name: 'Runs of ui-paging' });
  const rows = table.locator('tbody tr');
  await expect(rows).toHaveCount(50);
  await expect(section.getByText('Page 1')).toBeVisible();

  await section.getByRole('button', { name: 'Next' }).click();
  await expect(rows).toHaveCount(5);
  await expect(section.getByText('Page 2')).toBeVisible();
  await expect(section.getByRole('button', { name: 'Next' })).toBeDisabled();
  await section.getByRole('button', { name: 'Previous' }).click();
  await expect(rows).toHaveCount(50);

  // ascending loss across all 55 runs: the first page holds the 50 smallest
  // (the page shown is reordered at once; wait for the server's sorted page)
  const sorted = page.waitForResponse(
    r => r.url().includes('/runs?') && r.url().includes('sort=metrics.loss')
  );
  await table.getByRole('button', { name: 'loss', exact: true }).click();
  await sorted;
  await page.evaluate(
    () => new Promise(resolve => requestAnimationFrame(() => resolve(null)))
  );
  await expect(
    table.getByRole('columnheader', { name: /loss/ })
  ).toHaveAttribute('aria-sort', 'ascending');
  const lossColumn = await table
    .getByRole('columnheader')
    .evaluateAll(ths =>
      ths.findIndex(th => th.textContent?.startsWith('loss'))
    );
  const losses = async () =>
    (
      await rows.locator(`td:nth-child(${lossColumn + 1})`).allTextContents()
    ).map(Number);
  await expect
    .poll(async () => {
      const v = await losses();
      return v.every((x, i) => i === 0 || v[i - 1] <= x);
    })
    .toBe(true);
  const firstPage = await losses();
  await section.getByRole('button', { name: 'Next' }).click();
  await expect(rows).toHaveCount(5);
  const secondPage = await losses();
  expect(Math.min(...secondPage)).toBeGreaterThanOrEqual(
    Math.max(...firstPage)
  );
});
