/**
 * The endpoint command: open an endpoint in the main area (restored after a
 * reload). The view loads on first use (not needed at start).
 */
import { ILayoutRestorer, JupyterFrontEnd } from '@jupyterlab/application';
import { WidgetTracker } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';

import type { MlbenchClient } from '../api';
import { CommandIDs } from '../commands';
import type { EndpointView } from './endpoint-view';

export function addEndpointCommands(options: {
  app: JupyterFrontEnd;
  client: MlbenchClient;
  trans: TranslationBundle;
  restorer: ILayoutRestorer | null;
}): WidgetTracker<EndpointView> {
  const { app, client, trans, restorer } = options;
  const { commands, shell } = app;
  const tracker = new WidgetTracker<EndpointView>({
    namespace: 'mlbench-endpoint'
  });

  const openEndpoint = async (name: string): Promise<EndpointView> => {
    let view = tracker.find(w => w.endpointName === name);
    if (!view) {
      const { EndpointView } = await import('./endpoint-view');
      view = new EndpointView({ client, name, trans });
      void tracker.add(view);
      shell.add(view, 'main');
    }
    shell.activateById(view.id);
    return view;
  };

  commands.addCommand(CommandIDs.openEndpoint, {
    describedBy: {
      args: {
        type: 'object',
        properties: {
          name: { type: 'string', description: 'An endpoint name' }
        },
        required: ['name']
      }
    },
    label: trans.__('Open mlbench Endpoint'),
    execute: async args => {
      const name = String(args.name ?? '');
      if (name) {
        await openEndpoint(name);
      }
    }
  });

  if (restorer) {
    void restorer.restore(tracker, {
      command: CommandIDs.openEndpoint,
      args: view => ({ name: view.endpointName }),
      name: view => view.endpointName
    });
  }
  return tracker;
}
