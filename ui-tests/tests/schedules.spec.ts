/**
 * The Schedules section: schedules created over REST are listed with their
 * rule in words and their next run on the schedule's own wall clock; one is
 * paused and resumed from the section (the server sees each change), and
 * deleted through the confirmation dialog (Cancel first keeps it); one deleted
 * over REST leaves the list at its next re-read. The rules
 * start in 2099, so nothing fires while the test runs.
 */
import { expect, test } from '@jupyterlab/galata';

import { API, openNotebook, openSidebar } from './helpers';

const NOTEBOOK = {
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
      metadata: {},
      execution_count: null,
      outputs: [],
      source: 'print("nightly")'
    }
  ]
};

test('schedules: listed in words, paused, resumed and deleted from the section', async ({
  page,
  tmpPath
}) => {
  const notebook = `${tmpPath}/nightly.ipynb`;
  await page.contents.uploadContent(
    JSON.stringify(NOTEBOOK),
    'text',
    notebook
  );
  // a retry finds the first try's schedules in the same workspace
  const suffix = test.info().retry ? `-${test.info().retry}` : '';
  const name = `ui-nightly${suffix}`;
  const other = `ui-every-2-days${suffix}`;

  const created = await page.request.post(`${API}/schedules`, {
    data: {
      name,
      description: 'the Galata spec',
      trigger: {
        cron: '30 2 * * 1-5',
        timezone: 'Europe/Berlin',
        // far ahead: it never fires during the test
        start_time: '2099-01-04T00:00:00'
      },
      job: { notebook_path: notebook, parameters: {} }
    }
  });
  expect(created.status(), await created.text()).toBe(201);
  const schedule = await created.json();
  expect(schedule.enabled).toBe(true);
  expect(schedule.next_fire_wall).toBe('2099-01-05T02:30:00+01:00');

  // a recurrence, created paused
  const created2 = await page.request.post(`${API}/schedules`, {
    data: {
      name: other,
      trigger: {
        recurrence: { frequency: 'day', interval: 2, hours: [6], minutes: [0] },
        timezone: 'UTC',
        start_time: '2099-01-01T00:00:00Z'
      },
      job: { notebook_path: notebook },
      enabled: false
    }
  });
  expect(created2.status(), await created2.text()).toBe(201);
  const paused = await created2.json();

  const enabledOnServer = async (id: string): Promise<boolean> => {
    const response = await page.request.get(`${API}/schedules/${id}`);
    expect(response.ok()).toBe(true);
    return (await response.json()).enabled;
  };

  await openSidebar(page);
  const section = page.locator('.mlbench-Section[data-section="schedules"]');
  const toggle = section.locator('.mlbench-Section-toggle');
  if ((await toggle.getAttribute('aria-expanded')) !== 'true') {
    await toggle.click();
  }
  const row = section.locator(`.mlbench-Schedule[data-schedule="${name}"]`);
  const row2 = section.locator(`.mlbench-Schedule[data-schedule="${other}"]`);
  await expect(row).toBeVisible();
  await expect(row2).toBeVisible();

  // the rule in words, the next run on Berlin's wall clock
  await expect(row.locator('.mlbench-Schedule-name')).toHaveText(name);
  await expect(row.locator('.mlbench-Schedule-rule')).toHaveText(
    'weekdays at 02:30 (Europe/Berlin)'
  );
  await expect(row.locator('.mlbench-Schedule-rule')).toHaveAttribute(
    'title',
    schedule.describe
  );
  await expect(row.locator('.mlbench-Schedule-next')).toHaveText(
    'Next: Mon 5 Jan 2099, 02:30 (UTC+01:00)'
  );
  await expect(row).not.toHaveClass(/mlbench-mod-paused/);
  await expect(row.locator('.mlbench-Schedule-badge')).toHaveCount(0);
  // nothing fired
  await expect(row.locator('.mlbench-Schedule-run')).toHaveCount(0);

  await expect(row2.locator('.mlbench-Schedule-rule')).toHaveText(
    'every 2 days at 06:00 (UTC)'
  );
  await expect(row2.locator('.mlbench-Schedule-badge')).toHaveText('paused');
  await expect(row2.locator('.mlbench-Schedule-next')).toHaveText(
    'Paused: no next run'
  );
  await expect(row2.getByRole('button', { name: 'Resume' })).toBeVisible();

  // a narrow sidebar never cuts a name short: the buttons give way
  for (const r of [row, row2]) {
    const cut = await r
      .locator('.mlbench-Schedule-name')
      .evaluate(el => el.scrollWidth > el.clientWidth);
    expect(cut).toBe(false);
  }

  await section.screenshot({
    path: test.info().outputPath('schedules-section-light.png')
  });
  await page.theme.setDarkTheme();
  await expect(page.locator('body')).toHaveAttribute(
    'data-jp-theme-light',
    'false'
  );
  await section.screenshot({
    path: test.info().outputPath('schedules-section-dark.png')
  });
  await page.theme.setLightTheme();
  await expect(page.locator('body')).toHaveAttribute(
    'data-jp-theme-light',
    'true'
  );
  // the section keeps its place across the theme change
  await expect(row).toBeVisible();

  // pause from the section: the row and the server agree
  await row.getByRole('button', { name: 'Pause' }).click();
  await expect(row).toHaveClass(/mlbench-mod-paused/);
  await expect(row.locator('.mlbench-Schedule-badge')).toHaveText('paused');
  await expect(row.locator('.mlbench-Schedule-next')).toHaveText(
    'Paused: no next run'
  );
  await expect.poll(() => enabledOnServer(schedule.id)).toBe(false);

  // resume: from its next tick
  await row.getByRole('button', { name: 'Resume' }).click();
  await expect(row).not.toHaveClass(/mlbench-mod-paused/);
  await expect(row.locator('.mlbench-Schedule-next')).toHaveText(
    'Next: Mon 5 Jan 2099, 02:30 (UTC+01:00)'
  );
  await expect(row.getByRole('button', { name: 'Pause' })).toBeEnabled();
  await expect.poll(() => enabledOnServer(schedule.id)).toBe(true);
  // the other schedule was left alone
  expect(await enabledOnServer(paused.id)).toBe(false);

  // delete: Cancel keeps it
  const remove = row.getByRole('button', { name: `Delete schedule ${name}` });
  await remove.click();
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText(`Delete schedule ${name}?`);
  await expect(dialog).toContainText('the jobs it started stay');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(dialog).toHaveCount(0);
  await expect(row).toBeVisible();
  expect(
    (await page.request.get(`${API}/schedules/${schedule.id}`)).status()
  ).toBe(200);

  // ... Delete deletes it
  await remove.click();
  await expect(dialog).toBeVisible();
  await dialog.getByRole('button', { name: 'Delete' }).click();
  await expect(dialog).toHaveCount(0);
  await expect(row).toHaveCount(0);
  await expect(row2).toBeVisible();
  expect(
    (await page.request.get(`${API}/schedules/${schedule.id}`)).status()
  ).toBe(404);

  // deleted elsewhere (no event): the section's re-read (15 s) drops it
  const gone = await page.request.delete(`${API}/schedules/${paused.id}`);
  expect(gone.status()).toBe(204);
  await expect(row2).toHaveCount(0, { timeout: 40000 });
  await expect(section.locator('.mlbench-Section-empty')).toContainText(
    'No schedules yet'
  );
});

test('"Schedule..." in the Run as job form creates a schedule of the job', async ({
  page
}) => {
  const name = `train-weekly${test.info().retry ? `-${test.info().retry}` : ''}`;
  const started = Date.now(); // other specs of the run may have submitted jobs before
  await openNotebook(page, 'train.ipynb');
  await page.locator('.mlbench-RunAsJobButton').first().click();
  const dialog = page.locator('.mlbench-SubmitDialog');
  await expect(dialog.getByLabel('Parameter epochs')).toHaveValue('30');
  await dialog.getByLabel('Parameter epochs').fill('3');

  // first press: the schedule fields, filled with defaults
  await dialog.getByRole('button', { name: 'Schedule job' }).click();
  const fields = dialog.locator('.mlbench-Form-schedule');
  await expect(fields).toBeVisible();
  await expect(dialog.getByLabel('Schedule name')).toHaveValue('train');
  await expect(dialog.getByLabel('Cron rule')).toHaveValue('0 2 * * *');
  await expect(dialog.getByLabel('Cron rule')).toBeFocused();
  await expect(fields).toContainText('Runs every day at 02:00.');

  // an unknown zone: the server refuses, the form stays open
  await dialog.getByLabel('Schedule name').fill(name);
  await dialog.getByLabel('Cron rule').fill('0 3 1 1 *');
  await dialog.getByLabel('Time zone').fill('Mars/Olympus');
  await dialog.getByRole('button', { name: 'Create schedule' }).click();
  await expect(dialog.locator('.mlbench-Form-submitError')).toContainText(
    'Mars/Olympus'
  );
  // Enter in a field creates the schedule (not a job)
  await dialog.getByLabel('Time zone').fill('America/New_York');
  await dialog.getByLabel('Time zone').press('Enter');
  await expect(dialog).toHaveCount(0);

  const response = await page.request.get(`${API}/schedules/${name}`);
  expect(response.ok(), await response.text()).toBe(true);
  const schedule = await response.json();
  expect(schedule.enabled).toBe(true);
  expect(schedule.trigger.cron).toBe('0 3 1 1 *');
  expect(schedule.trigger.timezone).toBe('America/New_York');
  expect(schedule.kind).toBe('job');
  expect(schedule.action.notebook_path).toMatch(/train\.ipynb$/);
  expect(schedule.action.parameters).toEqual({ epochs: 3 });
  expect(schedule.next_fire_wall).toMatch(/-01-01T03:00:00-05:00$/);
  // no job was submitted
  const jobs = await (await page.request.get(`${API}/jobs?limit=1000`)).json();
  expect(
    jobs.items.filter(
      (j: { created_at: string; parameters?: { epochs?: number } }) =>
        Date.parse(j.created_at) >= started && j.parameters?.epochs === 3
    )
  ).toHaveLength(0);
  await expect(page.locator('.jp-toast-message')).toContainText(
    `Schedule ${name} created`
  );

  const gone = await page.request.delete(`${API}/schedules/${schedule.id}`);
  expect(gone.status()).toBe(204);
});
