/**
 * The model commands: open a registered model in the main area (restored
 * after a reload). The view loads on first use (not needed at start).
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
            void commands.execute(CommandIDs.openDataAsset, { name: asset })
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

  if (restorer) {
    void restorer.restore(tracker, {
      command: CommandIDs.openModel,
      args: view => ({ name: view.modelName }),
      name: view => view.modelName
    });
  }
  return tracker;
}
