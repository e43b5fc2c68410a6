/**
 * Lists in the sidebar, work in the main area (issue 22): an experiment's
 * runs open as a main-area tab (every parameter, defaults included, and
 * every last metric as columns; choosable; several runs on several metric
 * charts; rows open their job), a job view lists every parameter and the
 * last value of every metric, tabs come back after a reload, cells are
 * numbered as in the user's notebook, and a cancel is confirmed and shown
 * as a cancel.
 */
import * as path from 'path';

import { IJupyterLabPageFixture, expect, test } from '@jupyterlab/galata';

import {
  API,
  SCREENSHOT_DIR,
  execute,
  jobRow,
  openSidebar,
  submitOverRest
} from './helpers';

const EXPERIMENT = 'ui-main-area';
const HIDE_TOASTS = '.Toastify { display: none !important; }';

async function waitForStatus(
  page: IJupyterLabPageFixture,
  id: string,
  status: string,
  timeout = 120000
): Promise<any> {
  let job: any = null;
  await expect
    .poll(
      async () => {
        job = await (await page.request.get(`${API}/jobs/${id}`)).json();
        return job.status;
      },
      { timeout, intervals: [500] }
    )
    .toBe(status);
  return job;
}

async function openSection(page: IJupyterLabPageFixture, title: string) {
  await openSidebar(page);
  const section = page.locator(
    `section[data-section="${title.toLowerCase()}"]`
  );
  const toggle = section.getByRole('button', { name: title, exact: true });
  if ((await toggle.getAttribute('aria-expanded')) !== 'true') {
    await toggle.click();
  }
  return section;
}

test('runs and jobs in the main area, every value shown, restored after a reload', async ({
  page
}) => {
  // one job sets epochs only; the other sets the learning rate too
  const a = await submitOverRest(page, {
    notebook_path: 'train.ipynb',
    parameters: { epochs: 3 },
    experiment: EXPERIMENT
  });
  const b = await submitOverRest(page, {
    notebook_path: 'train.ipynb',
    parameters: { epochs: 4, learning_rate: 0.1 },
    experiment: EXPERIMENT
  });
  const jobA = await waitForStatus(page, a.id, 'completed');
  await waitForStatus(page, b.id, 'completed');

  // the compute card says "local" once
  const sidebar = await openSection(page, 'Experiments');
  const compute = page.locator('.mlbench-Compute[data-compute="local"]');
  await expect(compute.locator('.mlbench-Compute-head')).not.toContainText(
    'local local'
  );
  // MLflow's empty Default experiment is not listed
  const experiments = sidebar.getByRole('list', { name: 'Experiments' });
  await expect(experiments.getByRole('button', { name: EXPERIMENT })).toBeVisible();
  await expect(
    experiments.getByRole('button', { name: /^Default/ })
  ).toHaveCount(0);

  // -- the runs view is a main-area tab ---------------------------------
  await experiments.getByRole('button', { name: EXPERIMENT }).click();
  const runs = page.locator('#jp-main-dock-panel .mlbench-ExperimentView');
  await expect(runs).toBeVisible();
  expect((await runs.boundingBox())!.width).toBeGreaterThan(500); // the sidebar panel is 250 px
  const table = runs.getByRole('table', { name: `Runs of ${EXPERIMENT}` });
  const rowA = table.locator(`tr[data-run-id="${jobA.mlflow_run_id}"]`);
  await expect(rowA).toBeVisible();
  // every parameter (defaults too) and every last metric is a column
  for (const header of [
    'epochs',
    'learning_rate',
    'dataset',
    'seed',
    'train_loss',
    'final_accuracy'
  ]) {
    await expect(
      table.getByRole('columnheader', { name: header, exact: true })
    ).toBeVisible();
  }
  // one status vocabulary
  await expect(rowA).toContainText('Completed');
  // job A ran with the notebook's learning rate: its cell is filled, marked
  const headers = await table.getByRole('columnheader').allTextContents();
  const lrColumn = headers.findIndex(h => h.startsWith('learning_rate')) + 1;
  const lrCell = rowA.locator(`td:nth-child(${lrColumn})`);
  await expect(lrCell).toHaveText('0.05');
  await expect(lrCell).toHaveClass(/mlbench-mod-default/);
  await expect(lrCell).toHaveAttribute('title', "The notebook's default");

  // columns can be chosen
  await runs.locator('.mlbench-Experiments-columns > summary').click();
  await runs
    .locator('.mlbench-Experiments-columnGroup')
    .getByRole('checkbox', { name: 'seed' })
    .uncheck();
  await expect(
    table.getByRole('columnheader', { name: 'seed', exact: true })
  ).toHaveCount(0);
  await runs.locator('.mlbench-Experiments-columns > summary').click();

  // sortable
  await table.getByRole('button', { name: 'epochs', exact: true }).click();
  await expect(
    table.getByRole('columnheader', { name: /^epochs/ })
  ).toHaveAttribute('aria-sort', 'ascending');

  // both runs on several metric charts at once
  await table
    .getByRole('checkbox', { name: 'Compare every run of this page' })
    .check();
  const charts = runs.locator('.mlbench-Experiments-chartCell');
  await expect(charts).toHaveCount(2);
  await runs
    .getByRole('group', { name: 'Metrics to chart' })
    .getByRole('checkbox', { name: 'test_accuracy' })
    .check();
  await expect(charts).toHaveCount(3);
  // a metric logged once per run: its values, not an empty chart
  await expect(
    runs.getByRole('table', { name: 'final_accuracy of each run' })
  ).toContainText('0.96');
  const lossChart = runs.locator(
    '.mlbench-Experiments-chartCell[data-metric="train_loss"] .mlbench-MetricChart'
  );
  await expect(lossChart.locator('canvas')).toBeVisible();
  await expect(lossChart.locator('.u-legend .u-series')).toHaveCount(3); // x + 2 runs
  await runs.screenshot({
    path: path.join(SCREENSHOT_DIR, 'runs-view-light.png'),
    style: HIDE_TOASTS
  });
  await page.theme.setDarkTheme();
  await expect(lossChart).toHaveAttribute('data-render-ms', /\d/);
  await runs.screenshot({
    path: path.join(SCREENSHOT_DIR, 'runs-view-dark.png'),
    style: HIDE_TOASTS
  });
  await page.theme.setLightTheme();

  // a row links to its job
  await rowA.locator('.mlbench-Experiments-jobLink').click();
  const view = page.locator(
    `.mlbench-JobView-content[data-job-id="${jobA.id}"]`
  );
  await expect(view).toBeVisible();

  // -- the job view: every parameter, every metric's last value ------------
  const params = view.getByRole('region', { name: 'Parameters' });
  await expect(params.locator('tr[data-param="epochs"]')).toContainText('3');
  await expect(params.locator('tr[data-param="epochs"]')).toContainText(
    'set for this job'
  );
  const lr = params.locator('tr[data-param="learning_rate"]');
  await expect(lr).toContainText('0.05');
  await expect(lr).toContainText('default');
  await expect(params.locator('tr[data-param="dataset"]')).toContainText(
    '"digits"'
  );
  const metrics = view.getByRole('table', {
    name: 'Last value of every metric'
  });
  // a single value is a number
  await expect(
    metrics.locator('tr[data-metric="final_accuracy"] td').first()
  ).toHaveText(/^\d\.\d+/);
  // a history is a curve (the single values are not offered as one)
  await expect(
    metrics.locator('tr[data-metric="train_loss"] td').last()
  ).toHaveText('3');
  const metricKey = view.getByLabel('Metric to plot');
  await expect(metricKey.locator('option[value="final_accuracy"]')).toHaveCount(
    0
  );
  await expect(view.locator('.mlbench-MetricChart canvas')).toBeVisible();
  // the tab tells this job apart from the other one of the notebook
  await expect(
    page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', {
      hasText: 'epochs=3'
    })
  ).toHaveCount(1);
  await page.locator('.mlbench-JobView:visible').screenshot({
    path: path.join(SCREENSHOT_DIR, 'job-view-metrics-light.png'),
    style: HIDE_TOASTS
  });
  await page.theme.setDarkTheme();
  await expect(view.locator('.mlbench-MetricChart')).toHaveAttribute(
    'data-render-ms',
    /\d/
  );
  // the chart refits its width after the theme change
  await expect
    .poll(() =>
      view
        .locator('.mlbench-MetricChart')
        .evaluate(
          el =>
            Math.abs(
              el.clientWidth -
                (el.querySelector('canvas')?.getBoundingClientRect().width ?? 0)
            ) < 40
        )
    )
    .toBe(true);
  await page.locator('.mlbench-JobView:visible').screenshot({
    path: path.join(SCREENSHOT_DIR, 'job-view-metrics-dark.png'),
    style: HIDE_TOASTS
  });
  await page.theme.setLightTheme();

  // -- the tabs come back after a reload (layout restorer) ---------------
  // the layout is saved (debounced) before the page goes
  await expect
    .poll(
      async () =>
        JSON.stringify(
          await page.evaluate(
            async () =>
              (
                await (window as any).jupyterapp.serviceManager.workspaces.fetch(
                  'default'
                )
              ).data['layout-restorer:data']?.main
          )
        ),
      { timeout: 20000 }
    )
    .toContain(`mlbench-job:${jobA.id}`);
  await page.evaluate(() => window.location.reload());
  await expect(page.locator(`#mlbench-job-${jobA.id}`)).toHaveCount(1, {
    timeout: 60000
  });
  await expect(page.locator('.mlbench-ExperimentView')).toHaveCount(1);
  await execute(page, 'mlbench:open-experiment', {
    id: jobA.mlflow_experiment_id
  });
  await expect(
    page
      .locator('.mlbench-ExperimentView')
      .getByRole('table', { name: `Runs of ${EXPERIMENT}` })
      .locator('tbody tr')
  ).toHaveCount(2);
});

test('cells numbered as in the notebook; a cancel is confirmed and shown as a cancel', async ({
  page
}) => {
  // parameters set: papermill injects a cell, which must not shift numbers
  const failed = await submitOverRest(page, {
    notebook_path: 'fail.ipynb',
    parameters: { divisor: 0 }
  });
  const job = await waitForStatus(page, failed.id, 'failed');
  expect(job.status_reason).toContain('cell 4 raised ZeroDivisionError');
  await openSidebar(page);
  await execute(page, 'mlbench:open-job', { id: failed.id });
  const view = page.locator(
    `.mlbench-JobView-content[data-job-id="${failed.id}"]`
  );
  const error = view.getByRole('region', { name: 'Error' });
  await expect(error).toContainText('Error in cell 4');
  await expect(error.locator('.mlbench-JobView-errorCell')).toHaveText(
    'ratio = 1 / divisor'
  );
  await expect(view.locator('.mlbench-JobView-cell')).toHaveText(
    'cell 4 of 5'
  );

  // "Logs" in the list scrolls to the log
  await execute(page, 'mlbench:show-job-logs', { id: failed.id });
  await expect(
    view.locator('.mlbench-JobView-log')
  ).toBeInViewport();

  // a running job: "Open output" looks disabled and says why
  const slow = await submitOverRest(page, {
    notebook_path: 'slow.ipynb',
    parameters: { seconds: 120 }
  });
  await waitForStatus(page, slow.id, 'running', 60000);
  await execute(page, 'mlbench:open-job', { id: slow.id });
  const running = page.locator(
    `.mlbench-JobView-content[data-job-id="${slow.id}"]`
  );
  const output = running.getByRole('button', {
    name: 'Open the output notebook'
  });
  await expect(output).toBeDisabled();
  await expect(output).toHaveAttribute('title', /once the job has ended/);
  expect(
    Number(await output.evaluate(el => getComputedStyle(el).opacity))
  ).toBeLessThan(0.6);

  // Cancel asks first; "Keep running" keeps it running
  await running.getByRole('button', { name: 'Cancel this job' }).click();
  const dialog = page.locator('.jp-Dialog');
  await dialog.getByRole('button', { name: 'Keep running' }).click();
  await expect(dialog).toHaveCount(0);
  expect(
    (await (await page.request.get(`${API}/jobs/${slow.id}`)).json()).status
  ).toBe('running');
  await running.getByRole('button', { name: 'Cancel this job' }).click();
  await dialog.getByRole('button', { name: 'Cancel job', exact: true }).click();
  await expect(jobRow(page, slow.id)).toHaveAttribute(
    'data-status',
    'canceled',
    { timeout: 30000 }
  );
  // shown as a cancel, not as an error in red
  await expect(running.getByRole('region', { name: 'Canceled' })).toBeVisible();
  await expect(running.getByRole('region', { name: 'Error' })).toHaveCount(0);
});

test('a command job shows its command, not a notebook', async ({ page }) => {
  const submitted = await submitOverRest(page, {
    command: 'python -c "print(6 * 7)"',
    parameters: { lr: 0.5 }
  });
  await waitForStatus(page, submitted.id, 'completed', 60000);
  await openSidebar(page);
  await execute(page, 'mlbench:open-job', { id: submitted.id });
  const view = page.locator(
    `.mlbench-JobView-content[data-job-id="${submitted.id}"]`
  );
  await expect(view.locator('.mlbench-JobView-command')).toHaveText(
    'python -c "print(6 * 7)"'
  );
  await expect(view.locator('dt', { hasText: /^Notebook$/ })).toHaveCount(0);
  await expect(view.locator('.mlbench-JobView-cell')).toHaveText(
    'a command: no cells'
  );
  // its inputs are its parameters
  await expect(
    view.getByRole('region', { name: 'Parameters' }).locator('tr[data-param="lr"]')
  ).toContainText('0.5');
  // no output notebook: the button says so
  await expect(
    view.getByRole('button', { name: 'Open the output notebook' })
  ).toHaveAttribute('title', 'A command job has no output notebook');
  await expect(view.locator('.mlbench-JobView-log')).toContainText('42');
});

test('the Experiments and Data lists follow what happens elsewhere', async ({
  page,
  tmpPath
}) => {
  const experiments = (await openSection(page, 'Experiments')).getByRole(
    'list',
    { name: 'Experiments' }
  );
  const data = await openSection(page, 'Data');
  await expect(
    data.getByRole('list', { name: 'Data assets' }).or(data.locator('code'))
  ).toBeVisible();
  // a job in a new experiment, submitted elsewhere: listed without a refresh
  const experiment = `ui-live-${Date.now()}`;
  const job = await submitOverRest(page, {
    notebook_path: 'fail.ipynb',
    parameters: { divisor: 2 },
    experiment
  });
  await waitForStatus(page, job.id, 'completed');
  await expect(experiments.getByRole('button', { name: experiment })).toBeVisible(
    { timeout: 20000 }
  );
  // a data asset made elsewhere (as by `mlbench data create` in a terminal)
  const name = `ui-live-${Date.now()}`;
  await page.contents.uploadContent('a,b\n1,2\n', 'text', `${tmpPath}/t.csv`);
  const created = await page.request.post(`${API}/data`, {
    data: { name, path: `${tmpPath}/t.csv` }
  });
  expect(created.status()).toBe(201);
  await expect(
    data
      .getByRole('list', { name: 'Data assets' })
      .getByRole('button', { name })
  ).toBeVisible({ timeout: 30000 });
});

test('with every section open, the Jobs list keeps its room', async ({
  page
}) => {
  await page.setViewportSize({ width: 1400, height: 900 });
  await openSidebar(page);
  const toggles = page.locator('#mlbench-sidebar .mlbench-Section-toggle');
  for (let i = 0; i < (await toggles.count()); i++) {
    if ((await toggles.nth(i).getAttribute('aria-expanded')) !== 'true') {
      await toggles.nth(i).click();
    }
  }
  const jobs = page.locator('section[data-section="jobs"]');
  const box = (await jobs.boundingBox())!;
  expect(box.height).toBeGreaterThanOrEqual(0.44 * 900);
  // the other lists scroll within their own part
  for (const id of ['experiments', 'data', 'environments']) {
    const body = page.locator(
      `section[data-section="${id}"] > .mlbench-Section-body`
    );
    const height = (await body.boundingBox())?.height ?? 0;
    expect(height).toBeLessThanOrEqual(0.41 * 900);
  }
  await page.locator('#mlbench-sidebar').screenshot({
    path: test.info().outputPath('sidebar-all-open.png')
  });
});
