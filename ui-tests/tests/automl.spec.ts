/**
 * AutoML's leaderboard and a Responsible AI report in JupyterLab, against
 * the real backend: a small AutoML run (a tiny budget, two estimators) on a
 * table asset, opened from its job view while it runs; its trials appear
 * ranked, the best highlighted, with the guardrails. A report on the best
 * model (a notebook job), asked for from the leaderboard, opens in a tab and
 * shows its fairness section once done; both tabs come back after a reload.
 */
import { expect, test } from '@jupyterlab/galata';

import * as path from 'path';

import { API, SCREENSHOT_DIR, execute } from './helpers';

/**
 * A table of 240 rows where y follows x1 (with noise) and a group column is
 * the sensitive feature; the same rows every run (a fixed generator).
 */
function table(): string {
  let seed = 7;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const rows = ['x1,x2,group,y'];
  for (let i = 0; i < 240; i++) {
    const x1 = random() * 4 - 2;
    const x2 = random() * 10;
    const group = random() < 0.4 ? 'A' : 'B';
    const y = x1 + (random() - 0.5) > 0 ? 1 : 0;
    rows.push(`${x1.toFixed(4)},${x2.toFixed(3)},${group},${y}`);
  }
  return rows.join('\n') + '\n';
}

/** WCAG contrast of an element's text against its row's background. */
function contrastOf(el: Element): number {
  const rgba = (css: string) =>
    (css.match(/[\d.]+/g) ?? []).map(Number).concat([1]).slice(0, 4);
  const row = getComputedStyle(el);
  const cell = getComputedStyle(el.querySelector('td')!);
  const [br, bg, bb] = rgba(row.backgroundColor);
  const [r, g, b, a] = rgba(cell.color);
  // the text's alpha over the row's background
  const text = [
    r * a + br * (1 - a),
    g * a + bg * (1 - a),
    b * a + bb * (1 - a)
  ];
  const lum = ([x, y, z]: number[]) => {
    const c = [x, y, z].map(v => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const [hi, lo] = [lum(text), lum([br, bg, bb])].sort((p, q) => q - p);
  return (hi + 0.05) / (lo + 0.05);
}

test('an AutoML leaderboard and a Responsible AI report in tabs', async ({
  page,
  baseURL,
  tmpPath
}) => {
  test.setTimeout(420000);
  const api = `${baseURL}${API}`;
  const asset = `ui-automl-${Date.now()}`;
  const modelName = `${asset}-best`;
  const file = `${tmpPath}/table.csv`;
  await page.contents.uploadContent(table(), 'text', file);
  const created = await page.request.post(`${api}/data`, {
    data: { name: asset, path: file }
  });
  expect(created.status()).toBe(201);
  const submitted = await page.request.post(`${api}/automl`, {
    data: {
      data: asset,
      target: 'y',
      task: 'classification',
      budget_s: 20,
      max_trials: 4,
      estimators: ['lgbm', 'rf'],
      model_name: modelName
    }
  });
  expect(submitted.status()).toBe(201);
  const jobId: string = (await submitted.json()).job_id;
  const status = async (id: string) =>
    (await (await page.request.get(`${api}/jobs/${id}`)).json()).status;

  // the job view of an AutoML job offers its leaderboard
  await execute(page, 'mlbench:open-job', { id: jobId });
  const jobView = page.locator(`#mlbench-job-${jobId}`);
  await jobView.getByRole('button', { name: 'Open leaderboard' }).click();
  const board = page.locator(`#mlbench-automl-${jobId}`);
  await expect(board).toBeVisible();
  await expect(board.locator('.mlbench-Leaderboard-title')).toContainText(
    `${asset}:1`
  );

  // the trials appear once the search has logged them, without a refresh
  await expect
    .poll(() => status(jobId), { timeout: 300000, intervals: [2000] })
    .toBe('completed');
  const trials = board.getByRole('table', { name: 'Leaderboard' });
  await expect(trials).toBeVisible({ timeout: 60000 });
  const rows = trials.locator('tbody tr');
  expect(await rows.count()).toBeGreaterThanOrEqual(1);
  expect(await rows.count()).toBeLessThanOrEqual(4);
  const best = trials.locator('tr.mlbench-mod-best');
  await expect(best).toHaveCount(1);
  await expect(rows.first()).toHaveClass(/mlbench-mod-best/);
  await expect(best.locator('td').first()).toHaveText('1best');
  // the board's best is the run's best
  const run = await (await page.request.get(`${api}/automl/${jobId}`)).json();
  await expect(best).toHaveAttribute('data-estimator', run.best_estimator);
  await expect(board.locator('[data-field="best"]')).toContainText(
    run.best_estimator
  );
  await expect(
    board.locator('.mlbench-Guardrail[data-guardrail="class_imbalance"]')
  ).toHaveAttribute('data-status', /Passed|Done|Alerted/);
  await expect(
    board.getByRole('button', { name: 'Open best model' })
  ).toBeEnabled();
  await board.screenshot({
    path: path.join(SCREENSHOT_DIR, 'automl-leaderboard-light.png')
  });

  // the best row reads in the dark theme too (text against its tint)
  await execute(page, 'apputils:change-theme', { theme: 'JupyterLab Dark' });
  await expect(page.locator('body')).toHaveAttribute(
    'data-jp-theme-light',
    'false'
  );
  await expect(best).not.toHaveCSS('background-color', 'rgba(0, 0, 0, 0)');
  await expect.poll(() => best.evaluate(contrastOf)).toBeGreaterThan(4.5);
  await board.screenshot({
    path: path.join(SCREENSHOT_DIR, 'automl-leaderboard-dark.png')
  });
  await execute(page, 'apputils:change-theme', { theme: 'JupyterLab Light' });

  // a report on the best model from the leaderboard: the table it trained
  // on by default, the sensitive column typed; its tab opens at once
  await board.getByRole('button', { name: 'Responsible AI report…' }).click();
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog.getByRole('textbox', { name: 'Test table' })).toHaveValue(
    `${asset}:1`
  );
  await dialog
    .getByRole('textbox', { name: 'Sensitive columns' })
    .fill('group');
  await dialog.getByRole('button', { name: 'Run report' }).click();
  const tab = page.locator(
    '#jp-main-dock-panel .jp-MainAreaWidget[id^="mlbench-rai-"]:visible'
  );
  await expect(tab).toBeVisible();
  const reportId = (await tab.getAttribute('id'))!.replace('mlbench-rai-', '');
  const report = await (
    await page.request.get(`${api}/rai/${reportId}`)
  ).json();
  expect(report.model).toBe(`${modelName}:1`);
  expect(report.sensitive).toEqual(['group']);
  await expect
    .poll(() => status(reportId), { timeout: 300000, intervals: [2000] })
    .toBe('completed');
  const frame = tab.frameLocator('iframe.mlbench-RaiReport-frame');
  await expect(frame.getByRole('heading', { name: 'Fairness' })).toBeVisible({
    timeout: 60000
  });
  await expect(
    frame.getByRole('heading', { name: 'group', exact: true })
  ).toBeVisible();
  await tab.screenshot({ path: path.join(SCREENSHOT_DIR, 'rai-report.png') });
  // the palette command opens the same tab, not a second one
  await execute(page, 'mlbench:open-rai-report', { id: reportId });
  await expect(page.locator(`#mlbench-rai-${reportId}`)).toHaveCount(1);

  // both tabs survive a reload (layout restorer); the layout is saved
  // (debounced) first
  await expect
    .poll(
      async () =>
        JSON.stringify(
          await page.evaluate(
            async () =>
              (
                await (
                  window as any
                ).jupyterapp.serviceManager.workspaces.fetch('default')
              ).data['layout-restorer:data']?.main
          )
        ),
      { timeout: 20000 }
    )
    .toMatch(
      new RegExp(
        `mlbench-automl:${jobId}.*mlbench-rai-report:${reportId}|mlbench-rai-report:${reportId}.*mlbench-automl:${jobId}`
      )
    );
  await page.evaluate(() => window.location.reload());
  await expect(page.locator(`#mlbench-automl-${jobId}`)).toHaveCount(1, {
    timeout: 60000
  });
  await expect(page.locator(`#mlbench-rai-${reportId}`)).toHaveCount(1);
  await expect(
    page
      .locator(`#mlbench-rai-${reportId}`)
      .frameLocator('iframe.mlbench-RaiReport-frame')
      .getByRole('heading', { name: 'Fairness' })
  ).toBeVisible();
  await execute(page, 'mlbench:open-automl-leaderboard', { id: jobId });
  await expect(
    page.locator(`#mlbench-automl-${jobId} tr.mlbench-mod-best`)
  ).toHaveCount(1);
});
