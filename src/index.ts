import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';

import { MlbenchAPIError, requestAPI } from './request';

/**
 * The id of the mlbench front-end plugin.
 */
export const PLUGIN_ID = 'mlbench:plugin';

/**
 * The body of `GET {baseUrl}/mlbench/api/v1/health`.
 */
export interface IHealth {
  status: string;
  version: string;
  workspace: string;
}

/**
 * Check that the mlbench server extension answers, and say which version it is.
 */
export async function checkServer(
  app: JupyterFrontEnd
): Promise<IHealth | null> {
  try {
    const health = await requestAPI<IHealth>(
      'health',
      {},
      app.serviceManager.serverSettings
    );
    console.debug(
      `mlbench server extension ${health.version} (workspace ${health.workspace})`
    );
    return health;
  } catch (reason) {
    if (reason instanceof MlbenchAPIError && reason.status === 404) {
      console.warn(
        'The mlbench server extension is not installed or not enabled: ' +
          'the mlbench sidebar needs it. Install mlbench in the Python ' +
          'environment running Jupyter and check that ' +
          '`jupyter server extension list` shows "mlbench ... OK".'
      );
    } else {
      console.warn(`The mlbench server extension did not answer: ${reason}`);
    }
    return null;
  }
}

/**
 * The mlbench front-end plugin.
 */
const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'A notebook-first ML workbench: tracked notebook jobs, compute, data and models inside JupyterLab.',
  autoStart: true,
  activate: (app: JupyterFrontEnd): void => {
    void checkServer(app);
  }
};

export default plugin;
