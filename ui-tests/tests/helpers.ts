/**
 * Helpers shared by the mlbench UI specs.
 */
import { IJupyterLabPageFixture, expect } from '@jupyterlab/galata';
import * as path from 'path';

export const API = '/mlbench/api/v1';

/** Screenshots for the README are written to docs/ only on request. */
export const SCREENSHOT_DIR = process.env.MLBENCH_UPDATE_SCREENSHOTS
  ? path.resolve(__dirname, '..', '..', 'docs', 'screenshots')
  : path.resolve(__dirname, '..', 'screenshots');

export async function openSidebar(page: IJupyterLabPageFixture): Promise<void> {
  await page.sidebar.openTab('mlbench-sidebar');
  await expect(page.locator('#mlbench-sidebar')).toBeVisible();
}

/** Run a JupyterLab command in the page; its result. */
export async function execute(
  page: IJupyterLabPageFixture,
  command: string,
  args: Record<string, unknown> = {}
): Promise<unknown> {
  return page.evaluate(
    ({ command, args }) =>
      (window as any).jupyterapp.commands.execute(command, args),
    { command, args }
  );
}

/** The jobs the server knows, newest first. */
export async function listJobs(
  page: IJupyterLabPageFixture
): Promise<{ id: string; status: string; notebook_path: string }[]> {
  const response = await page.request.get(`${API}/jobs?limit=1000`);
  expect(response.ok()).toBe(true);
  return (await response.json()).items;
}

/** The row of a job in the sidebar's list. */
export function jobRow(page: IJupyterLabPageFixture, id: string) {
  return page.locator(`.mlbench-JobRow[data-job-id="${id}"]`);
}

/**
 * Record every status each job row shows, in order, from now on (a
 * MutationObserver in the page: nothing is missed between two polls).
 */
export async function recordRowStatuses(
  page: IJupyterLabPageFixture
): Promise<void> {
  await page.evaluate(() => {
    const seen: Record<string, string[]> = {};
    (window as any).mlbenchStatuses = seen;
    const note = (el: Element) => {
      const id = el.getAttribute('data-job-id');
      const status = el.getAttribute('data-status');
      if (!id || !status) {
        return;
      }
      const list = (seen[id] = seen[id] ?? []);
      if (list[list.length - 1] !== status) {
        list.push(status);
      }
    };
    const root = document.querySelector('.mlbench-JobsList')!;
    root.querySelectorAll('.mlbench-JobRow').forEach(note);
    new MutationObserver(records => {
      for (const r of records) {
        if (r.type === 'attributes') {
          note(r.target as Element);
        }
        r.addedNodes.forEach(n => {
          if (n instanceof Element) {
            if (n.matches('.mlbench-JobRow')) {
              note(n);
            }
            n.querySelectorAll('.mlbench-JobRow').forEach(note);
          }
        });
      }
    }).observe(root, {
      subtree: true,
      childList: true,
      attributes: true,
      attributeFilter: ['data-status']
    });
  });
}

export async function rowStatuses(
  page: IJupyterLabPageFixture,
  id: string
): Promise<string[]> {
  return page.evaluate(id => (window as any).mlbenchStatuses[id] ?? [], id);
}

/** Submit a notebook over REST (for jobs whose dialog is not under test). */
export async function submitOverRest(
  page: IJupyterLabPageFixture,
  body: Record<string, unknown>
): Promise<{ id: string }> {
  const response = await page.request.post(`${API}/jobs`, { data: body });
  expect(response.status()).toBe(201);
  return response.json();
}

/** Open a notebook by its path from the server root, and wait for it. */
export async function openNotebook(
  page: IJupyterLabPageFixture,
  notebookPath: string
): Promise<void> {
  await page.evaluate(async p => {
    // the widget itself cannot travel back to the test
    await (window as any).jupyterapp.commands.execute('docmanager:open', {
      path: p
    });
  }, notebookPath);
  await expect(
    page.locator('.jp-NotebookPanel:visible .jp-Notebook .jp-Cell').first()
  ).toBeVisible();
  await page.locator('.jp-NotebookPanel:visible').waitFor();
}
