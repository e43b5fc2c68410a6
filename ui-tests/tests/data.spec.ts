/**
 * The Data section against the real data routes: a table asset with two
 * versions shows its versions, details, first rows and lineage, and the
 * default datastore is listed.
 */
import { expect, test } from '@jupyterlab/galata';

test('shows a table asset: versions, details, preview and lineage', async ({
  page,
  baseURL,
  tmpPath
}) => {
  const api = `${baseURL}/mlbench/api/v1`;
  const name = `ui-table-${Date.now()}`;
  for (const [i, csv] of [
    'city,temp\nOslo,3\nLima,19\n',
    'city,temp\nOslo,4\nLima,18\nPune,31\n'
  ].entries()) {
    const file = `${tmpPath}/cities-${i}.csv`;
    await page.contents.uploadContent(csv, 'text', file);
    const created = await page.request.post(`${api}/data`, {
      data: { name, path: file, description: `cities v${i + 1}` }
    });
    expect(created.status()).toBe(201);
  }

  await page.sidebar.openTab('mlbench-sidebar');
  const sidebar = page.locator('section[data-section="data"]');
  const toggle = sidebar.getByRole('button', { name: 'Data', exact: true });
  if ((await toggle.getAttribute('aria-expanded')) !== 'true') {
    await toggle.click();
  }

  await sidebar
    .getByRole('list', { name: 'Data assets' })
    .getByRole('button', { name })
    .click();
  // the asset's details open as a main-area tab, not in the sidebar
  const section = page.locator('#jp-main-dock-panel .mlbench-DataAssetView');
  await expect(section).toBeVisible();
  // the newest version first
  await expect(section.getByRole('combobox', { name: /^Version/ })).toHaveValue(
    '2'
  );
  const details = section.getByRole('region', { name: 'Version details' });
  await expect(details).toContainText(`${name}:2`);
  await expect(details).toContainText('cities v2');
  await expect(details).toContainText('blake3:');

  const preview = section.getByRole('table', {
    name: `First rows of ${name}:2`
  });
  await expect(preview.getByRole('columnheader')).toHaveText(['city', 'temp']);
  await expect(preview.getByRole('row')).toHaveCount(4); // header + 3 rows
  await expect(preview).toContainText('Pune');

  await section.getByRole('combobox', { name: /^Version/ }).selectOption('1');
  await expect(
    section
      .getByRole('table', { name: `First rows of ${name}:1` })
      .getByRole('row')
  ).toHaveCount(3);
  await expect(section.getByRole('region', { name: 'Lineage' })).toContainText(
    'No job has made or read this version yet.'
  );

  await section.screenshot({
    path: test.info().outputPath('data-asset-view.png')
  });
  await sidebar.getByRole('tab', { name: 'Datastores' }).click();
  await expect(sidebar.getByRole('list', { name: 'Datastores' })).toContainText(
    'default'
  );
});
