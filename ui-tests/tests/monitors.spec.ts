/**
 * Monitors in JupyterLab against the real monitor routes: a monitor compares
 * a table's newest version with a reference version (created over REST, as
 * the CLI would). Its row shows what it watches and its schedule, and its
 * verdict follows the runs live (a run over REST turns the row "ok" without a
 * reload). Its tab charts each feature's PSI over the runs, shows the newest
 * verdicts per feature and signal, and "Run now" after a shifted version
 * turns it "breached". "Open report" shows the run's HTML report in a tab;
 * both tabs come back after a reload. The monitor is deleted at the end.
 */
import { expect, test } from '@jupyterlab/galata';
import * as path from 'path';

import { API, SCREENSHOT_DIR, execute, openSidebar } from './helpers';

const HIDE_TOASTS = '.Toastify { display: none !important; }';

/** A deterministic table: x spread over 0..6 (+ shift), c three categories. */
function table(rows: number, shift: number): string {
  const lines = ['x,c'];
  for (let i = 0; i < rows; i++) {
    const x = ((i * 37) % rows) / (rows / 6) + shift;
    lines.push(`${x.toFixed(4)},${['a', 'b', 'c'][i % 3]}`);
  }
  return lines.join('\n') + '\n';
}

test('a monitor: live verdicts, drift chart, verdict table, report, restored', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(240000);
  const stamp = Date.now();
  const MONITOR = `ui-monitor-${stamp}`;
  const reference = `ui-mon-ref-${stamp}`;
  const target = `ui-mon-target-${stamp}`;
  const register = async (name: string, file: string, csv: string) => {
    await page.contents.uploadContent(csv, 'text', `${tmpPath}/${file}`);
    const created = await page.request.post(`${API}/data`, {
      data: { name, path: `${tmpPath}/${file}` }
    });
    expect(created.status(), await created.text()).toBe(201);
  };
  await register(reference, 'ref.csv', table(900, 0));
  await register(target, 'same.csv', table(600, 0));
  const created = await page.request.post(`${API}/monitors`, {
    data: {
      name: MONITOR,
      reference: { data: `${reference}:1` },
      target: { data: target },
      signals: [
        'psi',
        'js',
        'wasserstein',
        'chi2',
        'null_rate',
        'out_of_range'
      ],
      schedule: { cron: '0 2 * * *', timezone: 'UTC' }
    }
  });
  expect(created.status(), await created.text()).toBe(201);

  try {
    await openSidebar(page);
    const toggle = page
      .locator('section[data-section="monitors"]')
      .getByRole('button', { name: 'Monitors', exact: true });
    if ((await toggle.getAttribute('aria-expanded')) !== 'true') {
      await toggle.click();
    }
    const row = page.locator(`.mlbench-MonitorRow[data-monitor="${MONITOR}"]`);
    await expect(row).toBeVisible({ timeout: 30000 });
    await expect(row).toContainText(`data ${target}`);
    await expect(row).toContainText('every day at 02:00 (UTC)');
    await expect(row.locator('.mlbench-MonitorBadge')).toHaveText('never run');

    // a run elsewhere (REST, as the CLI or a schedule would): the row follows the feed
    const first = await page.request.post(`${API}/monitors/${MONITOR}/run`);
    expect(first.status(), await first.text()).toBe(201);
    expect((await first.json()).verdict).toBe('ok');
    await expect(row.locator('.mlbench-MonitorBadge')).toHaveAttribute(
      'data-verdict',
      'ok'
    );

    // the target's new version is shifted: "Run now" in the view finds it
    await register(target, 'shifted.csv', table(600, 3));
    await row.click();
    const view = page.locator(`#mlbench-monitor-${MONITOR}`);
    await expect(view).toBeVisible();
    await expect(view.locator('.mlbench-MonitorView-facts')).toContainText(
      `data ${reference}:1`
    );
    await view.getByRole('button', { name: 'Run now', exact: true }).click();
    const header = view.locator('.mlbench-MonitorView-header h2');
    await expect(header.locator('.mlbench-MonitorBadge')).toHaveAttribute(
      'data-verdict',
      'breached',
      { timeout: 60000 }
    );
    await expect(row.locator('.mlbench-MonitorBadge')).toHaveAttribute(
      'data-verdict',
      'breached'
    );
    await expect(row).toContainText('breach');

    // drift over time: PSI of each feature over the two runs
    await expect(
      view.getByRole('figure', { name: 'psi per feature over the runs' })
    ).toBeVisible();
    await expect(view.locator('.mlbench-MonitorView-chartBar')).toContainText(
      '2 runs'
    );
    await expect(
      view.locator('.mlbench-MetricChart canvas').first()
    ).toBeVisible();
    await view
      .getByRole('combobox', { name: 'Signal to plot' })
      .selectOption('wasserstein');
    await expect(
      view.getByRole('figure', {
        name: 'wasserstein per feature over the runs'
      })
    ).toBeVisible();

    // the newest verdicts: x drifted, the categories did not
    const verdicts = view.getByRole('table', {
      name: 'Verdicts of the newest run'
    });
    await expect(
      verdicts.locator(
        'tr[data-feature="x"][data-signal="psi"] .mlbench-MonitorBadge'
      )
    ).toHaveText('breached');
    await expect(
      verdicts.locator(
        'tr[data-feature="c"][data-signal="chi2"] .mlbench-MonitorBadge'
      )
    ).toHaveText('ok');
    // half the shifted values lie above the reference's max: a count of rows
    // against a share of them
    const outside = verdicts.locator(
      'tr[data-feature="x"][data-signal="out_of_range"]'
    );
    await expect(outside).toContainText('300 rows');
    await expect(outside).toContainText('1 %');
    // breached rows first
    await expect(
      verdicts.locator('tbody tr').first().locator('.mlbench-MonitorBadge')
    ).toHaveText('breached');
    const runs = view.getByRole('table', { name: 'Runs of the monitor' });
    await expect(runs.locator('tbody tr')).toHaveCount(2);

    // both themes read well (the badges' text on their colors)
    for (const theme of ['light', 'dark']) {
      if (theme === 'dark') {
        await page.theme.setDarkTheme();
      }
      await page.screenshot({
        path: path.join(SCREENSHOT_DIR, `monitor-${theme}.png`),
        style: HIDE_TOASTS
      });
    }
    await page.theme.setLightTheme();

    // the report of the newest run, in a tab of its own
    const newest = (
      await (await page.request.get(`${API}/monitors/${MONITOR}/runs`)).json()
    ).items[0].id as string;
    await view
      .getByRole('button', { name: 'Open report', exact: true })
      .click();
    const report = page.locator(`#mlbench-monitor-report-${newest}`);
    await expect(report).toBeVisible();
    const frame = page.frameLocator(
      `#mlbench-monitor-report-${newest} iframe.mlbench-MonitorReport-frame`
    );
    await expect(frame.locator('body')).toContainText('breached');
    await expect(frame.locator('body')).toContainText(target);

    // both tabs survive a reload; the layout is saved (debounced) first
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
          `mlbench-monitor:${MONITOR}.*mlbench-monitor-report:${newest}|` +
            `mlbench-monitor-report:${newest}.*mlbench-monitor:${MONITOR}`
        )
      );
    await page.evaluate(() => window.location.reload());
    await expect(page.locator(`#mlbench-monitor-report-${newest}`)).toHaveCount(
      1,
      { timeout: 60000 }
    );
    await expect(
      page
        .frameLocator(
          `#mlbench-monitor-report-${newest} iframe.mlbench-MonitorReport-frame`
        )
        .locator('body')
    ).toContainText('breached');
    const restored = page.locator(`#mlbench-monitor-${MONITOR}`);
    await expect(restored).toHaveCount(1, { timeout: 60000 });
    // the palette's command brings it to the front
    await execute(page, 'mlbench:open-monitor', { name: MONITOR });
    await expect(
      restored.locator('.mlbench-MonitorView-header .mlbench-MonitorBadge')
    ).toHaveAttribute('data-verdict', 'breached');
    await expect(
      restored
        .getByRole('table', { name: 'Runs of the monitor' })
        .locator('tbody tr')
    ).toHaveCount(2);

    // the palette's "Run mlbench Monitor Now": the open tab follows the run
    // from the feed (its own button is not involved)
    await execute(page, 'mlbench:run-monitor', { name: MONITOR });
    await expect(
      restored
        .getByRole('table', { name: 'Runs of the monitor' })
        .locator('tbody tr')
    ).toHaveCount(3);
    await expect(
      restored.locator('.mlbench-MonitorView-chartBar')
    ).toContainText('3 runs');
  } finally {
    await page.request.delete(`${API}/monitors/${MONITOR}`);
  }
});
