/**
 * The "Run as job" form helps (issue 22): a notebook without a parameters
 * cell gets a hint and one click to tag one; after a refused submit, the
 * first field to fix is scrolled into view.
 */
import { expect, test } from '@jupyterlab/galata';

import { execute, openNotebook, openSidebar } from './helpers';

function notebook(...sources: string[]): string {
  return JSON.stringify({
    cells: sources.map(source => ({
      cell_type: 'code',
      execution_count: null,
      metadata: {},
      outputs: [],
      source
    })),
    metadata: {
      kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' }
    },
    nbformat: 4,
    nbformat_minor: 5
  });
}

test('a notebook without a parameters cell: a hint and one click to tag one', async ({
  page,
  tmpPath
}) => {
  const path = `${tmpPath}/untagged.ipynb`;
  await page.contents.uploadContent(
    notebook('alpha = 3\nname = "x"', 'print(alpha, name)'),
    'text',
    path
  );
  await openSidebar(page);
  void execute(page, 'mlbench:run-as-job', { path });
  const dialog = page.locator('.mlbench-SubmitDialog');
  await expect(dialog).toContainText('no cell tagged "parameters"');
  await dialog
    .getByRole('button', { name: 'Tag the first code cell "parameters"' })
    .click();
  // the form reads the notebook again: its variables are parameters now
  await expect(dialog.getByLabel('Parameter alpha', { exact: true })).toHaveValue('3');
  await expect(dialog.getByLabel('Parameter name', { exact: true })).toHaveValue('x');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  // the notebook itself carries the tag (saved)
  const saved = await page.contents.getContentMetadata(path);
  expect(saved).toBeTruthy();
  const model = await page.evaluate(async p => {
    const r = await (window as any).jupyterapp.serviceManager.contents.get(p);
    return r.content.cells[0].metadata.tags;
  }, path);
  expect(model).toContain('parameters');
});

test('a refused submit shows the first field to fix', async ({ page }) => {
  await page.setViewportSize({ width: 1000, height: 520 });
  await openSidebar(page);
  await openNotebook(page, 'train.ipynb');
  await page.locator('.mlbench-RunAsJobButton').first().click();
  const dialog = page.locator('.mlbench-SubmitDialog');
  const epochs = dialog.getByLabel('Parameter epochs');
  await expect(epochs).toHaveValue('30');
  await epochs.fill('ten');
  // scroll the form to its end, as one does before pressing Submit
  await dialog.locator('form').evaluate(form => {
    let el: HTMLElement | null = form as HTMLElement;
    while (el && el.scrollHeight <= el.clientHeight) {
      el = el.parentElement;
    }
    if (el) {
      el.scrollTop = el.scrollHeight;
    }
  });
  await expect(epochs).not.toBeInViewport();
  await dialog.getByRole('button', { name: 'Submit job' }).click();
  await expect(dialog.locator('.mlbench-Form-submitError')).toHaveText(
    'Fix the highlighted fields.'
  );
  await expect(epochs).toBeInViewport();
});
