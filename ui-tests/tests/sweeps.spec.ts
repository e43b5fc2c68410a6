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
  const curves = view.locator('.mlbench-TrialCurves');
  await curves.scrollIntoViewIfNeeded();
  await curves.screenshot({ path: 'screenshots/sweep-curves.png' });

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
  // opened on a finished sweep: the curves are read once and drawn
  await expect(restored.locator('.mlbench-TrialCurves-trial')).toHaveCount(4);
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

/** A sweep of `n` finished trials over 3 parameters, as the server would send it. */
function fakeSweep(id: string, n: number) {
  const sweep = {
    id,
    display_name: `fake-${n}`,
    experiment: 'fake',
    compute: 'local',
    notebook_path: '/fake/train.ipynb',
    notebook_relpath: 'train.ipynb',
    status: 'completed',
    status_reason: `ran ${n} trial(s)`,
    cancel_requested: false,
    owner: 'me',
    spec: {
      trial: { notebook_path: 'train.ipynb' },
      search_space: {
        lr: { type: 'loguniform', min_value: -9, max_value: -2 },
        layers: { type: 'choice', values: [1, 2, 3, 4] },
        act: { type: 'choice', values: ['relu', 'tanh', 'gelu'] }
      },
      objective: { primary_metric: 'acc', goal: 'maximize' },
      early_termination: { type: 'bandit', slack_factor: 0.1 }
    },
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
    started_at: '2026-01-01T00:00:00Z',
    finished_at: '2026-01-01T01:00:00Z',
    mlflow_experiment_id: null,
    mlflow_run_id: null,
    trial_count: n,
    max_total_trials: n,
    counts: { completed: n - Math.ceil(n / 7), early_terminated: Math.ceil(n / 7) },
    best_trial: null,
    best_value: null
  };
  const items = [];
  for (let i = 0; i < n; i++) {
    const stopped = i % 7 === 0;
    items.push({
      sweep_id: id,
      index: i,
      job_id: `job${i}`,
      parameters: {
        lr: Math.exp(-9 + (7 * ((i * 37) % 100)) / 100),
        layers: (i % 4) + 1,
        act: ['relu', 'tanh', 'gelu'][i % 3]
      },
      status: stopped ? 'early_terminated' : 'completed',
      value: 0.5 + Math.sin(i) / 2,
      reports: 10,
      metrics: { acc: 0.5 + Math.sin(i) / 2, loss: 0.5 - Math.sin(i) / 2 },
      termination: stopped
        ? {
            policy: 'bandit',
            interval: 3,
            value: 0.1,
            threshold: 0.4,
            detail: 'bandit: 0.1 < 0.4'
          }
        : null,
      recorded: true,
      created_at: '2026-01-01T00:00:00Z',
      finished_at: '2026-01-01T00:01:00Z'
    });
  }
  return { sweep, trials: { items } };
}

test('1,000 trials render in under a second, in light and dark', async ({
  page
}) => {
  const id = 'fake00001000';
  const { sweep, trials } = fakeSweep(id, 1000);
  // the client adds a cache-busting query to every GET
  await page.route(new RegExp(`/sweeps/${id}(\\?.*)?$`), route =>
    route.fulfill({ json: sweep })
  );
  await page.route(new RegExp(`/sweeps/${id}/trials(\\?.*)?$`), route =>
    route.fulfill({ json: trials })
  );
  await page.route(`**${API}/jobs?*`, route =>
    route.request().url().includes('mlbench.sweep_id')
      ? route.fulfill({ json: { items: [], next_cursor: null } })
      : route.continue()
  );
  // load the view's code first: the measure is the render, not the download
  await page.evaluate(async () => {
    const app = (window as any).jupyterapp;
    await app.commands.execute('mlbench:open-sweep', { id: 'warmup000000' });
    app.shell.currentWidget?.close();
  });
  const ms = await page.evaluate(async id => {
    const start = performance.now();
    await (window as any).jupyterapp.commands.execute('mlbench:open-sweep', {
      id
    });
    await new Promise<void>(resolve => {
      const check = () => {
        const view = document.getElementById(`mlbench-sweep-${id}`);
        if (
          view &&
          view.querySelectorAll('.mlbench-ParallelCoords-line').length === 1000 &&
          view.querySelector('.mlbench-TrialTable-row')
        ) {
          resolve();
        } else {
          requestAnimationFrame(check);
        }
      };
      check();
    });
    // the next frame is painted
    await new Promise(r => requestAnimationFrame(() => r(null)));
    return performance.now() - start;
  }, id);
  console.log(`sweep view with 1,000 trials: ${ms.toFixed(0)} ms to paint`);
  expect(ms).toBeLessThan(1000);
  const view = page.locator(`#mlbench-sweep-${id}`);
  const rows = await view.locator('.mlbench-TrialTable-row').count();
  expect(rows).toBeLessThan(40);
  // sorting 1,000 rows by a parameter stays quick
  const sortMs = await page.evaluate(async id => {
    const button = document.querySelector<HTMLButtonElement>(
      `#mlbench-sweep-${id} th[data-column="param:lr"] button`
    )!;
    const start = performance.now();
    button.click();
    // React renders a click at once; the next frame shows it
    return new Promise<number>(resolve =>
      requestAnimationFrame(() => resolve(performance.now() - start))
    );
  }, id);
  console.log(`sorting 1,000 trials: ${sortMs.toFixed(0)} ms`);
  expect(sortMs).toBeLessThan(300);
  await view.screenshot({ path: 'screenshots/sweep-view-1000-light.png' });
  const plot = view.locator('.mlbench-ParallelCoords-box');
  await plot.scrollIntoViewIfNeeded();
  await plot.screenshot({ path: 'screenshots/sweep-parallel-1000-light.png' });
  await page.evaluate(() =>
    (window as any).jupyterapp.commands.execute('apputils:change-theme', {
      theme: 'JupyterLab Dark'
    })
  );
  await expect(page.locator('body')).toHaveAttribute(
    'data-jp-theme-light',
    'false'
  );
  await page.waitForTimeout(500);
  await view.screenshot({ path: 'screenshots/sweep-view-1000-dark.png' });
  await plot.screenshot({ path: 'screenshots/sweep-parallel-1000-dark.png' });
  await page.evaluate(() =>
    (window as any).jupyterapp.commands.execute('apputils:change-theme', {
      theme: 'JupyterLab Light'
    })
  );
});
