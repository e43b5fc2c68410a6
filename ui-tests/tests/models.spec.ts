/**
 * The Models section and a model's main-area view against the real registry:
 * a command job trains a scikit-learn model and registers it on completion
 * (`register_model` in its spec); the section lists it live, the view shows
 * its version, alias, lineage (the job) and signature, and sets and removes
 * an alias.
 */
import { expect, test } from '@jupyterlab/galata';

import * as path from 'path';

import { SCREENSHOT_DIR, submitOverRest } from './helpers';

const FIT = `import mlflow
import pandas as pd
from sklearn.linear_model import LogisticRegression

X = pd.DataFrame({"height": [1.0, 2.0, 3.0, 4.0], "width": [0.5, 0.4, 2.5, 2.2]})
y = [0, 0, 1, 1]
with mlflow.start_run():
    mlflow.sklearn.log_model(LogisticRegression().fit(X, y), name="model", input_example=X.head(2))
`;

test('a job registers its model; the Models section and view show it', async ({
  page,
  baseURL,
  tmpPath
}) => {
  test.setTimeout(180000);
  const api = `${baseURL}/mlbench/api/v1`;
  const name = `ui-model-${Date.now()}`;
  await page.contents.uploadContent(FIT, 'text', `${tmpPath}/fit.py`);
  const job = await submitOverRest(page, {
    command: 'python fit.py',
    code: tmpPath,
    register_model: { name, alias: 'champion' }
  });

  await page.sidebar.openTab('mlbench-sidebar');
  const sidebar = page.locator('section[data-section="models"]');
  const toggle = sidebar.getByRole('button', { name: 'Models', exact: true });
  if ((await toggle.getAttribute('aria-expanded')) !== 'true') {
    await toggle.click();
  }
  // appears once the job completes (a "model" event), without a refresh
  await expect
    .poll(
      async () =>
        (await (await page.request.get(`${api}/jobs/${job.id}`)).json()).status,
      { timeout: 150000 }
    )
    .toBe('completed');
  const row = sidebar
    .getByRole('list', { name: 'Models' })
    .locator(`li[data-model="${name}"]`);
  await expect(row).toContainText('@champion=1');
  await row.click();

  const view = page.locator('#jp-main-dock-panel .mlbench-ModelView');
  await expect(view).toBeVisible();
  const versions = view.getByRole('table', { name: 'Versions' });
  await expect(versions.getByRole('row')).toHaveCount(2); // header + v1
  await expect(versions).toContainText('@champion');
  await expect(versions).toContainText(job.id);
  const detail = view.getByRole('region', { name: 'Version 1' });
  await expect(detail).toContainText(`${name}:1`);
  await expect(detail.getByRole('button', { name: job.id })).toBeVisible();
  const inputs = detail.getByRole('table', { name: 'inputs' });
  await expect(inputs).toContainText('height');
  await expect(inputs).toContainText('width');

  // an alias MLflow refuses is said before a round trip
  const alias = detail.getByRole('textbox', { name: 'Alias' });
  await alias.fill('latest');
  await expect(
    detail.getByRole('button', { name: 'Set alias' })
  ).toBeDisabled();
  await alias.fill('prod');
  await detail.getByRole('button', { name: 'Set alias' }).click();
  await expect(versions).toContainText('@prod');
  await expect(row).toContainText('@prod=1');
  await versions.getByRole('button', { name: 'Remove alias prod' }).click();
  await expect(versions).not.toContainText('@prod');

  await view.screenshot({
    path: path.join(SCREENSHOT_DIR, 'model-view-light.png')
  });
});
