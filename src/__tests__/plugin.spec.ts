import { JupyterFrontEnd } from '@jupyterlab/application';
import { ServerConnection } from '@jupyterlab/services';
import { CommandRegistry } from '@lumino/commands';
import { Widget } from '@lumino/widgets';

import plugin, {
  CommandIDs,
  PLUGIN_ID,
  SubmittedJobs,
  checkServer
} from '../index';

/** A socket that never connects: activation opens the event stream. */
class SilentSocket {
  readyState = 0;
  constructor(readonly url: string) {}
  send(): void {
    // never connected
  }
  close(): void {
    // never connected
  }
}

const serverSettings = ServerConnection.makeSettings({
  baseUrl: 'http://localhost:8888/',
  WebSocket: SilentSocket as unknown as typeof WebSocket
});

// What activation touches of the application: real commands, a shell that
// records what is added.
const added: { widget: Widget; area: string }[] = [];
const contextMenuItems: { command: string; selector: string }[] = [];
const app = {
  serviceManager: { serverSettings },
  commands: new CommandRegistry(),
  shell: {
    add: (widget: Widget, area: string) => added.push({ widget, area }),
    activateById: () => undefined,
    currentWidget: null
  },
  contextMenu: {
    addItem: (item: { command: string; selector: string }) =>
      contextMenuItems.push(item)
  },
  docRegistry: { addWidgetExtension: () => undefined }
} as unknown as JupyterFrontEnd;

describe('mlbench:plugin', () => {
  let makeRequest: jest.SpyInstance;
  let debug: jest.SpyInstance;
  let warn: jest.SpyInstance;

  beforeEach(() => {
    makeRequest = jest.spyOn(ServerConnection, 'makeRequest');
    debug = jest.spyOn(console, 'debug').mockImplementation(() => undefined);
    warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  });

  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('is the auto-started mlbench plugin', () => {
    expect(plugin.id).toBe(PLUGIN_ID);
    expect(PLUGIN_ID).toBe('mlbench:plugin');
    expect(plugin.autoStart).toBe(true);
  });

  it('asks the server for its health, adds the sidebar and the commands on activation', () => {
    makeRequest.mockReturnValue(new Promise<Response>(() => undefined));

    plugin.activate(app, null, null, null, null, null, null);

    const urls = makeRequest.mock.calls.map(call => String(call[0]));
    expect(urls).toContain('http://localhost:8888/mlbench/api/v1/health');
    // the sidebar loads jobs and compute once, then follows the events
    expect(urls.some(u => u.includes('/mlbench/api/v1/jobs?'))).toBe(true);
    expect(urls).toContain('http://localhost:8888/mlbench/api/v1/compute');
    expect(added.map(a => [a.widget.id, a.area])).toEqual([
      ['mlbench-sidebar', 'left']
    ]);
    for (const id of Object.values(CommandIDs)) {
      expect(app.commands.hasCommand(id)).toBe(true);
    }
    expect(contextMenuItems).toEqual([
      expect.objectContaining({
        command: CommandIDs.runAsJob,
        selector: '.jp-DirListing-item[data-file-type="notebook"]'
      }),
      expect.objectContaining({
        command: CommandIDs.sweepNotebook,
        selector: '.jp-DirListing-item[data-file-type="notebook"]'
      })
    ]);
    expect(app.commands.label(CommandIDs.runAsJob, {})).toBe('Run as job...');
    expect(app.commands.label(CommandIDs.sweepNotebook, {})).toBe('Sweep...');
  });

  it('logs the server version', async () => {
    makeRequest.mockResolvedValue(
      new Response(
        JSON.stringify({ status: 'ok', version: '0.1.0', workspace: '/w' })
      )
    );

    const health = await checkServer(app);

    expect(health?.version).toBe('0.1.0');
    expect(makeRequest.mock.calls[0][0]).toBe(
      'http://localhost:8888/mlbench/api/v1/health'
    );
    expect(debug).toHaveBeenCalledWith(expect.stringContaining('0.1.0'));
    expect(warn).not.toHaveBeenCalled();
  });

  it('warns clearly when the server extension is missing', async () => {
    makeRequest.mockResolvedValue(
      new Response('404: Not Found', { status: 404, statusText: 'Not Found' })
    );

    await expect(checkServer(app)).resolves.toBeNull();

    expect(warn).toHaveBeenCalledWith(
      expect.stringContaining('mlbench server extension is not installed')
    );
  });

  it('warns when the server cannot be reached', async () => {
    makeRequest.mockRejectedValue(new TypeError('Failed to fetch'));

    await expect(checkServer(app)).resolves.toBeNull();

    expect(warn).toHaveBeenCalledWith(
      expect.stringContaining('did not answer')
    );
  });
});

describe('SubmittedJobs', () => {
  it('remembers the jobs submitted here across page loads', () => {
    window.sessionStorage.clear();
    const first = new SubmittedJobs(window.sessionStorage);
    first.add('a');
    first.add('b');
    first.delete('a');
    const reloaded = new SubmittedJobs(window.sessionStorage);
    expect(reloaded.has('a')).toBe(false);
    expect(reloaded.has('b')).toBe(true);
  });

  it('starts afresh from unreadable storage', () => {
    window.sessionStorage.setItem(SubmittedJobs.KEY, '{oops');
    expect(new SubmittedJobs(window.sessionStorage).has('b')).toBe(false);
    expect(new SubmittedJobs(null).has('b')).toBe(false);
  });
});
