/**
 * The model commands: open a registered model in the main area (restored
 * after a reload) and deploy one of its versions to an endpoint. The view and
 * the dialog load on first use (not needed at start).
 */
import { ILayoutRestorer, JupyterFrontEnd } from '@jupyterlab/application';
import { WidgetTracker } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';

import type { EventStream, MlbenchClient } from '../api';
import { CommandIDs } from '../commands';
import type { ModelView } from './model-view';

export function addModelCommands(options: {
  app: JupyterFrontEnd;
  client: MlbenchClient;
  stream: EventStream;
  trans: TranslationBundle;
  restorer: ILayoutRestorer | null;
}): WidgetTracker<ModelView> {
  const { app, client, stream, trans, restorer } = options;
  const { commands, shell } = app;
  const tracker = new WidgetTracker<ModelView>({ namespace: 'mlbench-model' });

  const openModel = async (name: string): Promise<ModelView> => {
    let view = tracker.find(w => w.modelName === name);
    if (!view) {
      const { ModelView } = await import('./model-view');
      view = new ModelView({
        client,
        stream,
        name,
        trans,
        actions: {
          openJob: id => void commands.execute(CommandIDs.openJob, { id }),
          openDataAsset: asset =>
            void commands.execute(CommandIDs.openDataAsset, { name: asset }),
          deploy: (model, version) =>
            void commands.execute(CommandIDs.deployModel, {
              name: model,
              version
            })
        }
      });
      void tracker.add(view);
      shell.add(view, 'main');
    }
    shell.activateById(view.id);
    return view;
  };

  commands.addCommand(CommandIDs.openModel, {
    describedBy: {
      args: {
        type: 'object',
        properties: {
          name: { type: 'string', description: 'A registered model name' }
        },
        required: ['name']
      }
    },
    label: trans.__('Open mlbench Model'),
    execute: async args => {
      const name = String(args.name ?? '');
      if (name) {
        await openModel(name);
      }
    }
  });

  commands.addCommand(CommandIDs.deployModel, {
    describedBy: {
      args: {
        type: 'object',
        properties: {
          name: { type: 'string', description: 'A registered model name' },
          version: { type: 'number', description: 'Its version' }
        },
        required: ['name', 'version']
      }
    },
    label: trans.__('Deploy mlbench Model Version…'),
    execute: async args => {
      const name = String(args.name ?? '');
      const version = Number(args.version);
      if (!name || !Number.isInteger(version)) {
        return;
      }
      const { showDeployDialog } = await import('./deploy-dialog');
      const endpoint = await showDeployDialog({
        client,
        model: name,
        version,
        trans
      });
      if (endpoint) {
        await commands.execute(CommandIDs.openEndpoint, { name: endpoint });
      }
    }
  });

  if (restorer) {
    void restorer.restore(tracker, {
      command: CommandIDs.openModel,
      args: view => ({ name: view.modelName }),
      name: view => view.modelName
    });
  }
  return tracker;
}
