/**
 * UI benchmarks (issue 4), kept out of the default run: they seed large
 * workspaces and take minutes. Run them with `benchmarks/bench_ui.sh`
 * (or `MLBENCH_UI_BENCH=1 jlpm playwright test --grep @bench` in ui-tests).
 *
 * (a) Jobs section first paint with 10,000 jobs (goal <= 500 ms) and frame
 *     times while scrolling the list, against 50 jobs and an idle page;
 * (b) metric chart of 4 runs x 100,000 points (goal <= 300 ms), against the
 *     default server-downsampled 4 x 2,000;
 * (c) the main-area runs view with 1,000 runs x 10 parameters + 10 metrics
 *     (routes mocked): render and sort (goal <= 300 ms each, issue 22).
 *
 * Jobs are inserted through the store and metric points logged with
 * MLflow's log_batch by benchmarks/seed_ui_bench.py; each figure is also
 * written to test-results/ as JSON.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { expect, test } from '@jupyterlab/galata';
import type { Page } from '@playwright/test';

const ROOT = path.resolve(__dirname, '..', '..');
const VENV_PYTHON = path.join(ROOT, '.venv', 'bin', 'python');
const PYTHON =
  process.env.MLBENCH_PYTHON ||
  (fs.existsSync(VENV_PYTHON) ? VENV_PYTHON : 'python3');

test.skip(
  !process.env.MLBENCH_UI_BENCH,
  'UI benchmarks run with MLBENCH_UI_BENCH=1 (benchmarks/bench_ui.sh)'
);
// One sidebar width for every figure.
test.use({ viewport: { width: 1400, height: 900 } });

async function workspace(page: Page, baseURL: string | undefined) {
  const health = await (
    await page.request.get(`${baseURL}/mlbench/api/v1/health`)
  ).json();
  return health.workspace as string;
}

function seed(ws: string, args: string[]): any {
  const out = execFileSync(
    PYTHON,
    [
      path.join(ROOT, 'benchmarks', 'seed_ui_bench.py'),
      '--workspace',
      ws,
      ...args
    ],
    { encoding: 'utf-8', timeout: 600000 }
  );
  return JSON.parse(out.trim().split('\n').pop()!);
}

function stats(values: number[]) {
  const s = [...values].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  const r = (x: number) => Math.round(x * 10) / 10;
  return {
    n: s.length,
    p50: r(q(0.5)),
    p95: r(q(0.95)),
    max: r(s[s.length - 1])
  };
}

function record(name: string, data: unknown) {
  const text = JSON.stringify(data, null, 2);
  console.log(`${name}: ${text}`);
  fs.writeFileSync(test.info().outputPath(`${name}.json`), text);
}

/**
 * Page probes, installed once before the first reload: when the shell, the
 * file browser's first item (JupyterLab's own sidebar: the baseline) and the
 * first job row enter the document, and the main thread's long tasks.
 */
async function installProbes(page: Page) {
  await page.addInitScript(() => {
    const w = window as any;
    const seen: Record<string, number | null> = {
      shell: null,
      files: null,
      sidebar: null,
      rows: null
    };
    w.__firstSeen = seen;
    w.__longTasks = [];
    new PerformanceObserver(list => {
      for (const e of list.getEntries()) {
        w.__longTasks.push([Math.round(e.startTime), Math.round(e.duration)]);
      }
    }).observe({ type: 'longtask', buffered: true });
    const selectors: Record<string, string> = {
      shell: '.jp-LabShell',
      files: '.jp-DirListing-item',
      sidebar: '.mlbench-SidebarContent',
      rows: '.mlbench-JobRow'
    };
    new MutationObserver((_m, observer) => {
      for (const [name, selector] of Object.entries(selectors)) {
        if (seen[name] === null && document.querySelector(selector)) {
          seen[name] = performance.now();
        }
      }
      if (Object.values(seen).every(v => v !== null)) {
        observer.disconnect();
      }
    }).observe(document, { childList: true, subtree: true });
  });
}

/**
 * Reload JupyterLab and time the Jobs section: (1) from the start of its
 * first /jobs request to the first job row in the DOM (the store loads every
 * page before the list renders), then (2) from activating the mlbench
 * sidebar to that row painted (the next animation frame after it is
 * visible). With the sidebar open at load, first paint is (1) plus a frame.
 */
async function jobsFirstPaint(page: Page) {
  // Another panel is in front, so the list renders hidden first.
  await page.sidebar.openTab('filebrowser');
  await page.reload();
  await page.waitForFunction(
    () => (window as any).__firstSeen.rows !== null,
    undefined,
    { timeout: 120000 }
  );
  return page.evaluate(
    () =>
      new Promise<any>(resolve => {
        const w = window as any;
        const jobs = performance
          .getEntriesByType('resource')
          .filter(e => /\/mlbench\/api\/v1\/jobs(\?|$)/.test(e.name))
          .sort(
            (a, b) => a.startTime - b.startTime
          ) as PerformanceResourceTiming[];
        const shown = performance.now();
        w.jupyterapp.shell.activateById('mlbench-sidebar');
        const wait = () => {
          const row = document.querySelector('.mlbench-JobRow') as HTMLElement;
          if (row && row.offsetParent !== null) {
            requestAnimationFrame(() =>
              resolve({
                request_to_rows_ms: Math.round(
                  w.__firstSeen.rows - jobs[0].startTime
                ),
                requests: jobs.length,
                // when the plugin asked, and where the first answer's time went
                request_start_ms: Math.round(jobs[0].startTime),
                request_queued_ms: Math.round(
                  jobs[0].requestStart - jobs[0].startTime
                ),
                request_server_ms: Math.round(
                  jobs[0].responseStart - jobs[0].requestStart
                ),
                first_response_end_ms: Math.round(
                  jobs[0].responseEnd - jobs[0].startTime
                ),
                last_response_end_ms: Math.round(
                  jobs[jobs.length - 1].responseEnd - jobs[0].startTime
                ),
                activate_to_paint_ms: Math.round(performance.now() - shown),
                // main-thread tasks over 50 ms between the first answer and the rows
                long_tasks_after_answer: w.__longTasks.filter(
                  ([start, length]: number[]) =>
                    start + length > jobs[0].responseEnd &&
                    start < w.__firstSeen.rows
                ),
                // since navigation: the shell attached, the file browser's
                // first item, the first job row
                shell_in_dom_at_ms: Math.round(w.__firstSeen.shell),
                files_in_dom_at_ms: Math.round(w.__firstSeen.files),
                sidebar_in_dom_at_ms: Math.round(w.__firstSeen.sidebar),
                rows_in_dom_at_ms: Math.round(w.__firstSeen.rows),
                rows_in_dom: document.querySelectorAll('.mlbench-JobRow').length
              })
            );
          } else {
            requestAnimationFrame(wait);
          }
        };
        wait();
      })
  );
}

/**
 * Frame intervals over `frames` animation frames, scrolling the jobs list
 * by `step` pixels each frame (0: an idle page, the baseline).
 */
async function frameTimes(page: Page, frames: number, step: number) {
  return page.evaluate(
    ([frames, step]) =>
      new Promise<number[]>(resolve => {
        const list = document.querySelector('.mlbench-JobsList') as HTMLElement;
        const times: number[] = [];
        let last = performance.now();
        const tick = (now: number) => {
          times.push(now - last);
          last = now;
          if (step) {
            list.scrollTop += step;
          }
          if (times.length < frames) {
            requestAnimationFrame(tick);
          } else {
            resolve(times.slice(1));
          }
        };
        requestAnimationFrame(tick);
      }),
    [frames, step]
  );
}

test('@bench jobs section: first paint and scrolling with 10,000 jobs', async ({
  page,
  baseURL
}) => {
  test.setTimeout(300000);
  const ws = await workspace(page, baseURL);
  await installProbes(page);

  // a retry finds the first try's jobs: new ids
  const prefix = `uibench${test.info().retry}`;
  seed(ws, ['--jobs', '50', '--prefix', `${prefix}a`]);
  const small = [];
  for (let i = 0; i < 3; i++) {
    small.push(await jobsFirstPaint(page));
  }

  const seeded = seed(ws, ['--jobs', '9950', '--prefix', `${prefix}b`]);
  const large = [];
  for (let i = 0; i < 5; i++) {
    large.push(await jobsFirstPaint(page));
  }
  const total = await (
    await page.request.get(`${baseURL}/mlbench/api/v1/jobs?limit=1`)
  ).json();
  expect(total.items.length).toBe(1);

  const idle = await frameTimes(page, 180, 0);
  const scrolling = await frameTimes(page, 300, 240);
  const scrolledTo = await page
    .locator('.mlbench-JobsList')
    .evaluate(el => ({ top: el.scrollTop, height: el.scrollHeight }));
  const rowsInDom = await page.locator('.mlbench-JobRow').count();

  const paint = stats(
    large.map(r => r.request_to_rows_ms + r.activate_to_paint_ms)
  );
  const smallPaint = stats(
    small.map(r => r.request_to_rows_ms + r.activate_to_paint_ms)
  );
  const result = {
    jobs: 10000,
    seeding_s: seeded.seconds,
    requests_10000_jobs: large[0].requests,
    first_paint_50_jobs_ms: smallPaint,
    first_paint_10000_jobs_ms: paint,
    request_to_rows_10000_jobs_ms: stats(large.map(r => r.request_to_rows_ms)),
    responses_10000_jobs_ms: stats(large.map(r => r.last_response_end_ms)),
    activate_to_paint_10000_jobs_ms: stats(
      large.map(r => r.activate_to_paint_ms)
    ),
    ratio_10000_vs_50: Math.round((paint.p50 / smallPaint.p50) * 100) / 100,
    // JupyterLab's own sidebar as the baseline: < 0 when the job rows entered
    // the page before the file browser's first item
    rows_minus_file_browser_10000_jobs_ms: stats(
      large.map(r => r.rows_in_dom_at_ms - r.files_in_dom_at_ms)
    ),
    rows_minus_shell_10000_jobs_ms: stats(
      large.map(r => r.rows_in_dom_at_ms - r.shell_in_dom_at_ms)
    ),
    rows_in_dom: rowsInDom,
    idle_frame_ms: stats(idle),
    scroll_frame_ms: stats(scrolling),
    scroll_frames_over_50ms: scrolling.filter(t => t > 50).length,
    scrolled_px: scrolledTo.top,
    list_height_px: scrolledTo.height,
    goal_first_paint_ms: 500
  };
  record('bench-jobs', { ...result, raw_10000: large, raw_50: small });
  // virtualized: a screenful of rows, not 10,000
  expect(rowsInDom).toBeLessThan(200);
  expect(paint.p50).toBeLessThanOrEqual(500);
});

/**
 * Check `checkbox` and time until the chart shows `series` runs: end to end
 * (history request, alignment, drawing) and the chart's own render time.
 */
async function timeChart(
  page: Page,
  action: () => Promise<void>,
  series: number
) {
  await page.evaluate(() => {
    const w = window as any;
    w.__chartStart = performance.now();
    w.__longTasks = [];
    w.__longTaskObserver?.disconnect();
    w.__longTaskObserver = new PerformanceObserver(list => {
      for (const e of list.getEntries()) {
        w.__longTasks.push(e.duration);
      }
    });
    w.__longTaskObserver.observe({ type: 'longtask' });
    document
      .querySelector('.mlbench-MetricChart')
      ?.removeAttribute('data-render-ms');
  });
  await action();
  await page.waitForFunction(
    n =>
      document.querySelectorAll('.mlbench-MetricChart .u-legend .u-series')
        .length ===
        n + 1 &&
      document
        .querySelector('.mlbench-MetricChart')
        ?.hasAttribute('data-render-ms'),
    series,
    { timeout: 120000 }
  );
  return page.evaluate(
    () =>
      new Promise<any>(resolve =>
        requestAnimationFrame(() => {
          const w = window as any;
          const chart = document.querySelector('.mlbench-MetricChart')!;
          w.__longTaskObserver.disconnect();
          resolve({
            end_to_end_ms: Math.round(performance.now() - w.__chartStart),
            render_ms: Number(chart.getAttribute('data-render-ms')),
            longest_task_ms: Math.round(Math.max(0, ...w.__longTasks)),
            chart_width_px: chart.clientWidth,
            note: document.querySelector('.mlbench-Experiments-chartNote')
              ?.textContent
          });
        })
      )
  );
}

test('@bench experiments chart: 4 runs x 100,000 points', async ({
  page,
  baseURL
}) => {
  test.setTimeout(900000);
  const ws = await workspace(page, baseURL);
  const seeded = seed(ws, ['--runs', '4', '--points', '100000']);

  await page.sidebar.openTab('mlbench-sidebar');
  const section = page.locator('section[data-section="experiments"]');
  const toggle = section.getByRole('button', {
    name: 'Experiments',
    exact: true
  });
  if ((await toggle.getAttribute('aria-expanded')) !== 'true') {
    await toggle.click();
  }
  await section
    .getByRole('list', { name: 'Experiments' })
    .getByRole('button', { name: seeded.experiment })
    .click();
  // the runs open as a main-area tab (issue 22)
  const view = page.locator('#jp-main-dock-panel .mlbench-ExperimentView');
  const boxes = view.getByRole('checkbox', { name: /^Compare run / });
  await expect(boxes).toHaveCount(4);
  for (let i = 0; i < 3; i++) {
    await boxes.nth(i).check();
  }
  await expect(view.locator('.mlbench-MetricChart canvas')).toBeVisible();

  // Default: the server downsamples each run to 2,000 points.
  const downsampled = await timeChart(page, () => boxes.nth(3).check(), 4);

  // Every point: the server sends 4 x 100,000.
  const points = view.getByLabel(/^Points per run/);
  const full = await timeChart(page, () => points.selectOption('100000'), 4);
  expect(full.note).toBe('400,000 points');

  // Re-render the same 400,000 points (x axis switch) a few times.
  const axis = view.getByLabel(/^X axis/);
  const renders: number[] = [];
  for (let i = 0; i < 6; i++) {
    const r = await timeChart(
      page,
      () => axis.selectOption(i % 2 ? 'step' : 'relative'),
      4
    );
    renders.push(r.render_ms);
  }

  // The same at a wide sidebar (drawing cost grows with the width).
  const handle = page
    .locator('#jp-main-split-panel > .lm-SplitPanel-handle')
    .first();
  const hb = (await handle.boundingBox())!;
  await page.mouse.move(hb.x + hb.width / 2, hb.y + hb.height / 2);
  await page.mouse.down();
  await page.mouse.move(1000, hb.y + hb.height / 2, { steps: 5 });
  await page.mouse.up();
  const wide: any[] = [];
  for (let i = 0; i < 6; i++) {
    wide.push(
      await timeChart(
        page,
        () => axis.selectOption(i % 2 ? 'step' : 'relative'),
        4
      )
    );
  }

  const result = {
    runs: 4,
    points_per_run: 100000,
    seeding_s: seeded.seconds,
    downsampled_2000: downsampled,
    full_100000: full,
    rerender_400000_points_ms: stats(renders),
    rerender_400000_points_wide_ms: stats(wide.map(r => r.render_ms)),
    wide_chart_width_px: wide[0].chart_width_px,
    ratio_render_full_vs_downsampled:
      Math.round((full.render_ms / Math.max(downsampled.render_ms, 0.1)) * 10) /
      10,
    goal_render_ms: 300
  };
  record('bench-chart', result);
  await view
    .locator('.mlbench-Experiments-chart')
    .screenshot({ path: test.info().outputPath('bench-chart.png') });
  expect(stats(renders).p50).toBeLessThanOrEqual(300);
});

/** 1,000 runs with 10 parameters and 10 metrics each, as the server sends them. */
function benchRuns(experimentId: string, n = 1000) {
  const items = [];
  for (let i = 0; i < n; i++) {
    const params: Record<string, string> = {};
    const metrics: Record<string, number> = {};
    for (let k = 0; k < 10; k++) {
      params[`p${String(k).padStart(2, '0')}`] = String((i * (k + 3)) % 97);
      metrics[`m${String(k).padStart(2, '0')}`] = Math.sin(i * (k + 1)) * 100;
    }
    items.push({
      run_id: `run${String(i).padStart(5, '0')}`,
      run_name: `trial-${i}`,
      experiment_id: experimentId,
      status: 'FINISHED',
      started_at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
      ended_at: null,
      artifact_uri: '',
      job_id: `job${i}`,
      attempt: 1,
      params,
      metrics,
      tags: { 'mlbench.defaults': '["p09"]' }
    });
  }
  return { items, next_cursor: null };
}

test('@bench runs view: 1,000 runs x 20 columns render and sort', async ({
  page
}) => {
  test.setTimeout(300000);
  const id = 'bench-runs';
  const runs = benchRuns(id);
  await page.route(new RegExp(`/mlbench/api/v1/experiments/${id}(\\?.*)?$`), r =>
    r.fulfill({
      json: {
        experiment_id: id,
        name: id,
        artifact_location: '',
        lifecycle_stage: 'active',
        tags: {},
        created_at: null,
        updated_at: null
      }
    })
  );
  await page.route(new RegExp(`/mlbench/api/v1/experiments/${id}/runs`), r =>
    r.fulfill({ json: runs })
  );
  const open = async () =>
    page.evaluate(async id => {
      const app = (window as any).jupyterapp;
      const t0 = performance.now();
      await app.commands.execute('mlbench:open-experiment', { id, name: id });
      await new Promise<void>(resolve => {
        const check = () =>
          document
            .querySelector(
              '.mlbench-ExperimentView:not(.lm-mod-hidden) table[aria-rowcount="1001"]'
            )
            ?.querySelector('tbody tr[data-run-id]')
            ? resolve()
            : requestAnimationFrame(check);
        check();
      });
      await new Promise(r => requestAnimationFrame(() => r(null)));
      return performance.now() - t0;
    }, id);
  const close = () =>
    page.evaluate(
      () =>
        void (window as any).jupyterapp.shell.currentWidget?.close()
    );
  // warm: the view's code is loaded on first use
  await open();
  await close();
  const renders: number[] = [];
  for (let i = 0; i < 5; i++) {
    renders.push(await open());
    if (i < 4) {
      await close();
    }
  }
  const view = page.locator('.mlbench-ExperimentView');
  await expect(view.locator('table')).toHaveAttribute('aria-rowcount', '1001');
  expect(await view.locator('thead th').count()).toBeGreaterThanOrEqual(23);

  const sorts: number[] = [];
  for (const column of ['m03', 'p05', 'm07', 'p01', 'm00', 'm00']) {
    sorts.push(
      await page.evaluate(async column => {
        const button = [
          ...document.querySelectorAll<HTMLButtonElement>(
            '.mlbench-ExperimentView .mlbench-Experiments-sort'
          )
        ].find(b => b.textContent?.replace(/[▲▼ ]/g, '') === column)!;
        const t0 = performance.now();
        button.click();
        await new Promise(r => requestAnimationFrame(() => r(null)));
        await new Promise(r => setTimeout(r, 0));
        return performance.now() - t0;
      }, column)
    );
  }
  const result = {
    runs: 1000,
    columns: await view.locator('thead th').count(),
    render_ms: stats(renders),
    sort_ms: stats(sorts),
    goal_ms: 300
  };
  record('bench-runs-view', result);
  await view.screenshot({ path: test.info().outputPath('bench-runs-view.png') });
  expect(result.render_ms.p50).toBeLessThanOrEqual(300);
  expect(result.sort_ms.p50).toBeLessThanOrEqual(300);
});
