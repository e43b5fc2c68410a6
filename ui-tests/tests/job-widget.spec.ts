/**
 * The job widget of `%mlbench run` live in a JupyterLab notebook: it follows
 * the job to "completed" and is saved as the README's screenshot
 * (docs/screenshots/job-widget.png, with MLBENCH_UPDATE_SCREENSHOTS=1).
 */
import * as path from 'path';

import { expect, test } from '@jupyterlab/galata';

import { SCREENSHOT_DIR } from './helpers';

// docs/ only with MLBENCH_UPDATE_SCREENSHOTS=1, so a test run leaves the tree clean.
const SCREENSHOT = path.join(SCREENSHOT_DIR, 'job-widget.png');

// Tall enough for the whole widget (status, progress, four metric plots).
test.use({ viewport: { width: 1100, height: 1500 } });

const EXAMPLE = path.resolve(__dirname, '..', '..', 'examples', 'train.ipynb');

test('the %mlbench run widget follows a job to completed', async ({
  page,
  tmpPath
}) => {
  // The notebook's folder is the test's own: put the example beside it.
  await page.contents.uploadFile(EXAMPLE, `${tmpPath}/train.ipynb`);
  await page.notebook.createNew('job-widget.ipynb');
  await page.sidebar.close('left');
  // One cell, so the screenshot shows the whole recipe above its widget.
  await page.notebook.setCell(
    0,
    'code',
    '%load_ext mlbench\njob = %mlbench run train.ipynb -p epochs 20 -p learning_rate 0.05 -e widget-demo'
  );
  // runCell waits for the cell to finish: the magic blocks until the job ends.
  await page.notebook.runCell(0, { inplace: true });

  const output = (await page.notebook.getCellOutputLocator(0))!;
  await expect(output.locator('.mlbench-badge.mlbench-completed')).toBeVisible({
    timeout: 90000
  });
  // every cell of train.ipynb ran
  await expect(output).toContainText(/(\d+)\/\1 cells/);
  await expect(output).toContainText('test_accuracy');

  const cell = (await page.notebook.getCellLocator(0))!;
  await cell.screenshot({ path: SCREENSHOT });
});
