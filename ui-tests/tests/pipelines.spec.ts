/**
 * Pipelines in JupyterLab: a two-step pipeline (prep -> slow, data passed
 * between them) is run over REST, then run again with a longer pause, so the
 * second run reuses prep and its slow step stays running. The run appears in
 * the Pipelines section and opens as a graph: the reused step is marked, the
 * running one is live; a step opens its job view; the tab comes back after a
 * reload; the Cancel button stops the run. Every lookup is by this spec's
 * run ids: other specs' jobs in the shared workspace do not matter.
 */
import { IJupyterLabPageFixture, expect, test } from '@jupyterlab/galata';

import * as path from 'path';

import { API, SCREENSHOT_DIR, openSidebar } from './helpers';

function notebook(parameters: string, code: string): string {
  return JSON.stringify({
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
        source: parameters
      },
      {
        cell_type: 'code',
        metadata: {},
        execution_count: null,
        outputs: [],
        source: code
      }
    ]
  });
}

const PREP = notebook(
  'out = ""\nn = 5',
  'import json, os\nos.makedirs(out, exist_ok=True)\n' +
    'json.dump(list(range(n)), open(os.path.join(out, "numbers.json"), "w"))'
);
const SLOW = notebook(
  'train = ""\npause = 0.0',
  'import json, os, time\n' +
    'numbers = json.load(open(os.path.join(train, "numbers.json")))\n' +
    'time.sleep(pause)\nprint(sum(numbers))'
);

function spec(folder: string, pause: number): Record<string, unknown> {
  return {
    display_name: 'ui-pipeline',
    inputs: { pause },
    jobs: {
      prep: {
        type: 'notebook',
        notebook: `${folder}/prep.ipynb`,
        outputs: { out: { type: 'uri_folder' } }
      },
      slow: {
        type: 'notebook',
        notebook: `${folder}/slow.ipynb`,
        inputs: { train: '${{parent.jobs.prep.outputs.out}}' },
        parameters: { pause: '${{parent.inputs.pause}}' }
      }
    }
  };
}

async function runPipeline(
  page: IJupyterLabPageFixture,
  body: Record<string, unknown>
): Promise<string> {
  const response = await page.request.post(`${API}/pipelines`, {
    data: { spec: body }
  });
  expect(response.status(), await response.text()).toBe(201);
  return (await response.json()).id;
}

async function pipelineStatus(
  page: IJupyterLabPageFixture,
  id: string
): Promise<string> {
  const response = await page.request.get(`${API}/pipelines/${id}`);
  expect(response.ok()).toBe(true);
  return (await response.json()).status;
}

test('the graph of a run with a reused and a running step', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(300000);
  await page.contents.uploadContent(PREP, 'text', `${tmpPath}/prep.ipynb`);
  await page.contents.uploadContent(SLOW, 'text', `${tmpPath}/slow.ipynb`);

  // the first run makes prep's output; the second, with a long pause, reuses it
  const first = await runPipeline(page, spec(tmpPath, 0));
  await expect
    .poll(() => pipelineStatus(page, first), { timeout: 180000 })
    .toBe('completed');
  const second = await runPipeline(page, spec(tmpPath, 600));

  await openSidebar(page);
  await page
    .locator(
      '.mlbench-Section[data-section="pipelines"] .mlbench-Section-toggle'
    )
    .click();
  const row = page.locator(
    `.mlbench-PipelineRow[data-pipeline-id="${second}"]`
  );
  await expect(row).toBeVisible({ timeout: 30000 });
  await expect(row).toContainText('ui-pipeline');
  await expect(row).toHaveAttribute('data-status', 'running', {
    timeout: 60000
  });
  await expect(row.locator('.mlbench-PipelineRow-steps')).toHaveText('1/2');
  await expect(row.locator('.mlbench-PipelineRow-meta')).toContainText(
    '1 reused'
  );

  await row.click();
  const view = page.locator(`#mlbench-pipeline-${second}`);
  await expect(view).toBeVisible();
  const prep = view.locator('g.mlbench-PipelineNode[data-step="prep"]');
  const slow = view.locator('g.mlbench-PipelineNode[data-step="slow"]');
  await expect(prep).toHaveAttribute('data-status', 'reused');
  await expect(prep).toContainText('reused');
  // live: the step goes from queued to running without a reload
  await expect(slow).toHaveAttribute('data-status', 'running', {
    timeout: 120000
  });
  await expect(
    view.locator('.mlbench-PipelineEdge[data-from="prep"][data-to="slow"]')
  ).toContainText('out');
  await view
    .locator('.mlbench-PipelineView-graph')
    .screenshot({
      path: path.join(SCREENSHOT_DIR, 'pipeline-graph-light.png')
    });

  // the graph follows the theme: dark boxes, light names
  await page.theme.setDarkTheme();
  const [fill, name] = await slow.evaluate(g => [
    getComputedStyle(g.querySelector('rect')!).fill,
    getComputedStyle(g.querySelector('.mlbench-PipelineNode-name')!).fill
  ]);
  const luminance = (rgb: string) => {
    const [r, g, b] = rgb.match(/\d+/g)!.map(Number);
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
  };
  expect(luminance(fill)).toBeLessThan(0.3);
  expect(luminance(name)).toBeGreaterThan(0.6);
  await view
    .locator('.mlbench-PipelineView-graph')
    .screenshot({ path: path.join(SCREENSHOT_DIR, 'pipeline-graph-dark.png') });
  await page.theme.setLightTheme();

  // a step opens its job view
  await slow.click();
  const jobView = page.locator('.mlbench-JobView:visible');
  await expect(jobView.locator('.mlbench-StatusBadge').first()).toHaveText(
    'Running',
    { timeout: 30000 }
  );

  // the tab survives a reload (layout restorer); the layout is saved (debounced) first
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
    .toContain(`mlbench-pipeline:${second}`);
  await page.evaluate(() => window.location.reload());
  const restored = page.locator(`#mlbench-pipeline-${second}`);
  await expect(restored).toHaveCount(1, { timeout: 60000 });
  // brought to the front (the job view was the active tab)
  await page.evaluate(
    id =>
      (window as any).jupyterapp.commands.execute('mlbench:open-pipeline', {
        id
      }),
    second
  );
  await expect(
    restored.locator('g.mlbench-PipelineNode[data-step="prep"]')
  ).toHaveAttribute('data-status', 'reused');

  // Cancel stops the running step (and leaves the machine to other specs)
  await restored.getByRole('button', { name: 'Cancel', exact: true }).click();
  await page
    .locator('.jp-Dialog')
    .getByRole('button', { name: 'Cancel run' })
    .click();
  await expect(
    restored.locator('g.mlbench-PipelineNode[data-step="slow"]')
  ).toHaveAttribute('data-status', 'canceled', { timeout: 60000 });
  await expect(restored.locator('.mlbench-StatusBadge').first()).toHaveText(
    'Canceled'
  );
});
