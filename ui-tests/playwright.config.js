/**
 * Galata/Playwright configuration for the mlbench UI tests.
 *
 * The tests run against a real JupyterLab with the mlbench server extension
 * and real kernels, in Debian's Chromium (browser downloads are impossible
 * here). Every Jupyter and mlbench folder points at a fresh temporary
 * directory, so a run sees neither the user's state nor another run's.
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

// A random port unless given: several runs (or engineers) can share a machine.
// Set here in the main process, the workers inherit it.
if (!process.env.MLBENCH_UI_PORT) {
  process.env.MLBENCH_UI_PORT = String(
    20000 + Math.floor(Math.random() * 20000)
  );
}
const port = Number(process.env.MLBENCH_UI_PORT);
const url = `http://127.0.0.1:${port}`;

// One scratch tree per run, shared with the server through its environment.
const tmp =
  process.env.MLBENCH_UI_TMP ||
  fs.mkdtempSync(path.join(os.tmpdir(), 'mlbench-ui-'));
process.env.MLBENCH_UI_TMP = tmp;
const dir = name => {
  const p = path.join(tmp, name);
  fs.mkdirSync(p, { recursive: true });
  return p;
};

module.exports = {
  ...baseConfig,
  testDir: './tests',
  // Jobs share one agent on a 2-core machine: keep runs sequential.
  workers: 1,
  fullyParallel: false,
  retries: process.env.CI ? 1 : 0,
  timeout: 120000,
  expect: { timeout: 30000 },
  reporter: [['list'], ['html', { open: 'never' }]],
  globalTeardown: require.resolve('./global-teardown.js'),
  use: {
    ...baseConfig.use,
    baseURL: url,
    video: 'off',
    trace: 'off',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run'
      ]
    }
  },
  webServer: {
    command: 'jupyter lab --config jupyter_server_test_config.py',
    url: `${url}/lab`,
    timeout: 120000,
    reuseExistingServer: false,
    stdout: 'pipe',
    stderr: 'pipe',
    env: {
      ...process.env,
      MLBENCH_UI_PORT: String(port),
      MLBENCH_HOME: dir('workspace'),
      JUPYTERLAB_GALATA_ROOT_DIR: dir('root'),
      JUPYTER_CONFIG_DIR: dir('jupyter-config'),
      JUPYTER_DATA_DIR: dir('jupyter-data'),
      JUPYTER_RUNTIME_DIR: dir('jupyter-runtime'),
      JUPYTERLAB_SETTINGS_DIR: dir('lab-settings'),
      JUPYTERLAB_WORKSPACES_DIR: dir('lab-workspaces'),
      IPYTHONDIR: dir('ipython'),
      // environments build from uv's cache only (warmed by `make test-ui`):
      // the tests never reach the network
      UV_OFFLINE: process.env.UV_OFFLINE || '1'
    }
  }
};
