import { JupyterFrontEnd } from '@jupyterlab/application';
import { ServerConnection } from '@jupyterlab/services';

import plugin, { PLUGIN_ID, checkServer } from '../index';

const serverSettings = ServerConnection.makeSettings({
  baseUrl: 'http://localhost:8888/'
});
const app = {
  serviceManager: { serverSettings }
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

  it('asks the server for its health on activation', () => {
    makeRequest.mockReturnValue(new Promise<Response>(() => undefined));

    plugin.activate(app);

    expect(makeRequest).toHaveBeenCalledTimes(1);
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
