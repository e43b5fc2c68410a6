/**
 * Endpoints in JupyterLab: a command job trains a scikit-learn model and
 * registers it on completion; its model tab's Deploy… dialog creates an
 * endpoint (refusing a bad deployment name first), shows its keys once and
 * opens it. The endpoint is in the Endpoints section and its view shows
 * masked keys (never the key itself), the deployment ready with its
 * traffic; the test request form answers with predictions (and names a wrong
 * key); the chart and the request count follow the traffic; a traffic edit
 * that does not sum to 100 cannot be saved. The endpoint is deleted at the end.
 */
import { expect, test } from '@jupyterlab/galata';

import * as path from 'path';

import {
  API,
  SCREENSHOT_DIR,
  execute,
  openSidebar,
  submitOverRest
} from './helpers';

const FIT = `import mlflow
import pandas as pd
from sklearn.linear_model import LogisticRegression

X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
y = [0, 0, 1, 1]
with mlflow.start_run():
    mlflow.sklearn.log_model(LogisticRegression().fit(X, y), name="model", input_example=X.head(2))
`;
const ROWS = {
  dataframe_records: [
    { a: 0.0, b: 1.0 },
    { a: 3.0, b: 0.0 }
  ]
};

test('an endpoint: deployments, masked keys, a test request, traffic', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(400000);
  const ENDPOINT = `ui-endpoint-${Date.now()}`;
  const model = `ui-ep-model-${Date.now()}`;
  await page.contents.uploadContent(FIT, 'text', `${tmpPath}/fit.py`);
  const job = await submitOverRest(page, {
    command: 'python fit.py',
    code: tmpPath,
    register_model: { name: model }
  });
  await expect
    .poll(
      async () =>
        (await (await page.request.get(`${API}/jobs/${job.id}`)).json()).status,
      { timeout: 180000 }
    )
    .toBe('completed');

  // deploy from the model's tab, to a new endpoint
  await execute(page, 'mlbench:open-model', { name: model });
  await page
    .locator('.mlbench-ModelView')
    .getByRole('button', { name: 'Deploy…' })
    .click();
  const dialog = page.locator('.mlbench-DeployDialog');
  await dialog.getByLabel('Endpoint', { exact: true }).selectOption('');
  await dialog.getByLabel('New endpoint name').fill(ENDPOINT);
  await dialog.getByLabel('Deployment', { exact: true }).fill('bl ue');
  await dialog.getByRole('button', { name: 'Deploy' }).click();
  await expect(dialog.getByRole('alert')).toContainText('a deployment name');
  await dialog.getByLabel('Deployment', { exact: true }).fill('blue');
  await dialog.getByRole('button', { name: 'Deploy' }).click();
  const keys = page.locator('.mlbench-DeployKeys');
  await expect(keys).toContainText('shown only this once');
  const key =
    (await keys.locator('code[data-key="primary"]').textContent()) ?? '';
  expect(key.length).toBeGreaterThan(20);
  await page.getByRole('button', { name: 'Done' }).click();
  await expect(page.locator(`#mlbench-endpoint-${ENDPOINT}`)).toBeVisible();

  await openSidebar(page);
  const toggle = page
    .locator('section[data-section="endpoints"]')
    .getByRole('button', { name: 'Endpoints', exact: true });
  if ((await toggle.getAttribute('aria-expanded')) !== 'true') {
    await toggle.click();
  }
  const row = page.locator(`.mlbench-EndpointRow[data-endpoint="${ENDPOINT}"]`);
  await expect(row).toBeVisible({ timeout: 30000 });
  await expect(row).toContainText('blue 100%');
  await row.click();

  const view = page.locator(`#mlbench-endpoint-${ENDPOINT}`);
  await expect(view).toBeVisible();
  const blue = view.locator('tr[data-deployment="blue"]');
  await expect(blue).toContainText(`${model}:1`);
  await expect(blue.locator('.mlbench-EndpointView-state')).toHaveText(
    'ready',
    { timeout: 180000 }
  );
  // keys: a prefix, never the key
  await expect(view.locator('.mlbench-EndpointView-keys')).toContainText(
    key.slice(0, 6)
  );
  await expect(view).not.toContainText(key);

  // the test request form: a wrong key is named, the right one predicts
  const form = view.locator('.mlbench-EndpointView-test');
  await form.getByLabel('Request body').fill(JSON.stringify(ROWS));
  await form.getByLabel('Key').fill('not-the-key');
  await form.getByRole('button', { name: 'Send' }).click();
  await expect(form.getByRole('alert')).toContainText('refused the key');
  await form.getByLabel('Key').fill(key);
  await form.getByRole('button', { name: 'Send' }).click();
  await expect(form.getByLabel('Answer')).toContainText('"predictions"');
  await expect(form.getByLabel('Answer')).toContainText('0');

  // live metrics: the request count and the chart's throughput move
  for (let i = 0; i < 5; i++) {
    const r = await page.request.post(`${API}/endpoints/${ENDPOINT}/invoke`, {
      data: { key, body: ROWS }
    });
    expect(r.ok()).toBe(true);
  }
  await expect(blue.locator('td').nth(5)).toHaveText('6', { timeout: 10000 });
  await expect(view.locator('.mlbench-EndpointView-rpsLabel')).not.toHaveText(
    '0.0 req/s',
    { timeout: 10000 }
  );

  // a weight that does not sum to 100 cannot be saved
  await view.getByLabel('Traffic of blue').fill('60');
  await expect(
    view.getByRole('button', { name: 'Save traffic' })
  ).toBeDisabled();
  await expect(view.locator('.mlbench-EndpointView-actions')).toContainText(
    'sum to 60, not 100'
  );
  await view.getByLabel('Traffic of blue').fill('100');
  await view.getByRole('button', { name: 'Save traffic' }).click();
  await expect(view.locator('.mlbench-EndpointView-saved')).toHaveText(
    'Traffic saved'
  );

  await view.screenshot({
    path: path.join(SCREENSHOT_DIR, 'endpoint-view-light.png')
  });

  const gone = await page.request.delete(`${API}/endpoints/${ENDPOINT}`);
  expect(gone.status()).toBe(204);
});
