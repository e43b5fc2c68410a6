import { expect, test } from '@jupyterlab/galata';

test('the mlbench server extension answers in the test JupyterLab', async ({
  page,
  baseURL
}) => {
  const response = await page.request.get(`${baseURL}/mlbench/api/v1/health`);
  expect(response.ok()).toBe(true);
  const health = await response.json();
  expect(health.status).toBe('ok');
  // the workspace is the run's own, never ~/.mlbench
  expect(health.workspace).toContain('mlbench-ui-');
});
