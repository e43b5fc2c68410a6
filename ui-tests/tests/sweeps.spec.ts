/**
 * Sweeps in JupyterLab: a small grid sweep with a bandit policy (a notebook
 * that logs a learning curve per step; two poor trials are stopped early) is
 * submitted over REST, appears in the Sweeps section, opens as a main-area
 * tab with its trial table (best trial highlighted, stop reason as a
 * tooltip), the parallel-coordinates plot and the curves; the tab comes back
 * after a reload. The "Sweep..." form is filled and refused/accepted too.
 */
import { expect, test } from '@jupyterlab/galata';

import { API, openNotebook, openSidebar } from './helpers';

const CURVE_NOTEBOOK = {
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
      metadata: { tags: ['parameters'] },
      execution_count: null,
      outputs: [],
      source:
        'quality: float = 0.5\nsteps: int = 8\npause: float = 0.4\nlabel: str = "x"'
    },
    {
      cell_type: 'code',
      metadata: {},
      execution_count: null,
      outputs: [],
      source:
        'import math, time, mlbench\n' +
        'for t in range(1, steps + 1):\n' +
        "    mlbench.log_metric('acc', quality * (1 - math.exp(-t / 2)), step=t)\n" +
        '    time.sleep(pause)'
    }
  ]
};

test('a bandit grid sweep: section, view, table, plot, early-terminated mark', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(240000);
  const notebook = `${tmpPath}/curve.ipynb`;
  await page.contents.uploadContent(
    JSON.stringify(CURVE_NOTEBOOK),
    'text',
    notebook
  );
  const submitted = await page.request.post(`${API}/sweeps`, {
    data: {
      display_name: 'ui-bandit',
      trial: { notebook_path: notebook, parameters: {} },
      search_space: { quality: 'choice(1.0, 0.3, 0.9, 0.2)' },
      sampling_algorithm: { type: 'grid' },
      objective: { primary_metric: 'acc', goal: 'maximize' },
      early_termination: {
        type: 'bandit',
        slack_factor: 0.2,
        delay_evaluation: 2
      },
      limits: { max_concurrent_trials: 1 }
    }
  });
  expect(submitted.status(), await submitted.text()).toBe(201);
  const sweep = await submitted.json();

  await openSidebar(page);
  await page
    .locator('.mlbench-Section[data-section="sweeps"] .mlbench-Section-toggle')
    .click();
  const row = page.locator(`.mlbench-SweepRow[data-sweep-id="${sweep.id}"]`);
  await expect(row).toBeVisible();
  await expect(row).toContainText('ui-bandit');
  await expect(row.locator('.mlbench-SweepRow-trials')).toContainText('/4');

  await row.click();
  const view = page.locator(`#mlbench-sweep-${sweep.id}`);
  await expect(view).toBeVisible();
  await expect(view.locator('.mlbench-JobView-title')).toHaveText('ui-bandit');

  // live: the row and the view reach the end without a reload
  await expect(row).toHaveAttribute('data-status', 'completed', {
    timeout: 180000
  });
  await expect(row.locator('.mlbench-SweepRow-trials')).toHaveText('4/4');
  await expect(view.locator('.mlbench-StatusBadge').first()).toHaveText(
    'Completed',
    { timeout: 15000 }
  );

  const rows = view.locator('.mlbench-TrialTable-row');
  await expect(rows).toHaveCount(4);
  // every parameter and metric a column, the objective sorted best first
  await expect(
    view.locator('.mlbench-TrialTable th[data-column="param:quality"]')
  ).toBeVisible();
  await expect(rows.first()).toHaveClass(/mlbench-mod-best/);
  await expect(rows.first()).toHaveAttribute('data-trial', '0');
  const stopped = view.locator(
    '.mlbench-TrialTable-row[data-status="early_terminated"]'
  );
  await expect(stopped).toHaveCount(2);
  await expect(stopped.first().locator('td.mlbench-TrialTable-status')).toHaveAttribute(
    'title',
    /bandit/
  );
  // sort by the parameter, ascending: 0.2 first
  await view
    .locator('.mlbench-TrialTable th[data-column="param:quality"] button')
    .click();
  await view
    .locator('.mlbench-TrialTable th[data-column="param:quality"] button')
    .click();
  await expect(rows.first()).toHaveAttribute('data-trial', '3');

  // the plots: one line per trial, the stopped ones marked
  await expect(view.locator('.mlbench-ParallelCoords-line')).toHaveCount(4);
  await expect(
    view.locator('.mlbench-ParallelCoords-axis[data-axis="param:quality"]')
  ).toHaveAttribute('data-kind', 'categorical');
  await expect(
    view.locator('.mlbench-ParallelCoords-line.mlbench-mod-early_terminated')
  ).toHaveCount(2);
  await expect(view.locator('.mlbench-TrialCurves-trial')).toHaveCount(4, {
    timeout: 15000
  });
  await expect(
    view.locator(
      '.mlbench-TrialCurves-trial.mlbench-mod-early_terminated .mlbench-TrialCurves-stop'
    )
  ).toHaveCount(2);
  await view.screenshot({ path: 'screenshots/sweep-view.png' });

  // a stopped trial opens its job, which says why it stopped
  await stopped.first().click();
  const jobView = page.locator('.mlbench-JobView:visible');
  await expect(jobView.locator('.mlbench-JobView-termination')).toContainText(
    'bandit'
  );
  await expect(jobView.locator('.mlbench-StatusBadge').first()).toHaveText(
    'Stopped early'
  );

  // the tab survives a reload (layout restorer)
  await page.evaluate(() => window.location.reload());
  const restored = page.locator(`#mlbench-sweep-${sweep.id}`);
  await expect(restored).toHaveCount(1, { timeout: 60000 });
  await expect(restored.locator('.mlbench-TrialTable-row')).toHaveCount(4);
});

test('the Sweep form is typed from the notebook and submits', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(120000);
  const notebook = `${tmpPath}/curve_form.ipynb`;
  await page.contents.uploadContent(
    JSON.stringify(CURVE_NOTEBOOK),
    'text',
    notebook
  );
  await openNotebook(page, notebook);
  await page.locator('.mlbench-SweepButton').first().click();
  const dialog = page.locator('.mlbench-SweepDialog');
  await expect(dialog.locator('[data-param="quality"]')).toBeVisible();
  // nothing swept yet: refused, and said where
  await dialog.getByRole('button', { name: 'Start sweep' }).click();
  await expect(dialog.locator('#mlbench-sweep-space-error')).toBeVisible();

  await dialog.getByLabel('How to set quality').selectOption('choice');
  await dialog.getByLabel('Values of quality').fill('0.9, 0.4');
  await dialog.getByLabel('How to set steps').selectOption('range');
  await expect(dialog.getByLabel('Distribution of steps')).toHaveValue(
    'quniform'
  );
  await dialog.getByLabel('How to set steps').selectOption('fixed');
  await dialog.getByLabel('Value of steps').fill('3');
  await dialog.getByLabel('Value of pause').fill('0.0');
  await dialog.getByLabel('Sampler').selectOption('grid');
  await dialog.getByLabel('Primary metric').fill('acc');
  await dialog.getByLabel('Policy').selectOption('median_stopping');
  await dialog.getByLabel('Name').fill('ui-form');
  await dialog.getByRole('button', { name: 'Start sweep' }).click();
  await expect(dialog).toHaveCount(0);

  // the view opens on the new sweep
  const view = page.locator('.mlbench-SweepView:visible');
  await expect(view.locator('.mlbench-JobView-title')).toHaveText('ui-form');
  const sweepId = await view
    .locator('.mlbench-SweepView-content')
    .getAttribute('data-sweep-id');
  const info = await (await page.request.get(`${API}/sweeps/${sweepId}`)).json();
  expect(info.spec.search_space.quality).toMatchObject({
    type: 'choice',
    values: [0.9, 0.4]
  });
  expect(info.spec.trial.parameters).toMatchObject({ steps: 3, pause: 0 });
  expect(info.spec.early_termination.type).toBe('median_stopping');
  await page.request.post(`${API}/sweeps/${sweepId}/cancel`);
});
