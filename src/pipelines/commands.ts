/**
 * The pipeline commands: open a run's graph (restored after a reload),
 * cancel a run, rerun it (what did not succeed, or from a step). The view
 * loads on first use (not needed at start).
 */
import { ILayoutRestorer, JupyterFrontEnd } from '@jupyterlab/application';
import {
  Dialog,
  Notification,
  WidgetTracker,
  showDialog
} from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';

import type { EventStream, MlbenchClient } from '../api';
import { CommandIDs } from '../commands';
import type { PipelineView } from './pipeline-view';

export interface IPipelineCommandsOptions {
  app: JupyterFrontEnd;
  client: MlbenchClient;
  stream: EventStream;
  trans: TranslationBundle;
  restorer: ILayoutRestorer | null;
  fail(title: string): (reason: unknown) => void;
}

/**
 * Add the commands; the tracker of the open run views is returned (owned by the plugin).
 */
export function addPipelineCommands(
  options: IPipelineCommandsOptions
): WidgetTracker<PipelineView> {
  const { app, client, stream, trans, restorer, fail } = options;
  const { commands, shell } = app;
  const tracker = new WidgetTracker<PipelineView>({
    namespace: 'mlbench-pipeline'
  });
  const byId = {
    args: {
      type: 'object' as const,
      properties: {
        id: { type: 'string' as const, description: 'A pipeline run id' }
      },
      required: ['id']
    }
  };
  const idOf = (args: { id?: unknown }) => String(args.id ?? '');
  const viewOf = (id: string) => tracker.find(w => w.model.runId === id);

  const openRun = async (id: string): Promise<PipelineView> => {
    let view = viewOf(id);
    if (!view) {
      const { PipelineView } = await import('./pipeline-view');
      view = new PipelineView({
        client,
        stream,
        runId: id,
        trans,
        actions: {
          openJob: jobId =>
            void commands.execute(CommandIDs.openJob, { id: jobId }),
          cancel: run =>
            void commands.execute(CommandIDs.cancelPipeline, { id: run.id }),
          rerun: (run, fromStep) =>
            void commands.execute(CommandIDs.rerunPipeline, {
              id: run.id,
              ...(fromStep ? { from: fromStep } : {})
            })
        }
      });
      void tracker.add(view);
      shell.add(view, 'main');
    }
    shell.activateById(view.id);
    return view;
  };

  commands.addCommand(CommandIDs.openPipeline, {
    describedBy: byId,
    label: trans.__('Open mlbench Pipeline Run'),
    execute: async args => {
      const id = idOf(args);
      if (id) {
        await openRun(id);
      }
    }
  });

  commands.addCommand(CommandIDs.cancelPipeline, {
    describedBy: byId,
    label: trans.__('Cancel mlbench Pipeline Run'),
    execute: async args => {
      const id = idOf(args);
      const result = await showDialog({
        title: trans.__('Cancel pipeline run'),
        body: trans.__(
          'Interrupt the running steps and skip the rest? Finished steps are kept.'
        ),
        buttons: [
          Dialog.cancelButton({ label: trans.__('Keep running') }),
          Dialog.warnButton({ label: trans.__('Cancel run') })
        ]
      });
      if (!result.button.accept) {
        return;
      }
      try {
        const run = await client.cancelPipeline(id);
        viewOf(id)?.model.setState(run);
      } catch (reason) {
        fail(trans.__('Could not cancel the pipeline run'))(reason);
      }
    }
  });

  commands.addCommand(CommandIDs.rerunPipeline, {
    describedBy: {
      args: {
        type: 'object',
        properties: {
          id: { type: 'string', description: 'A pipeline run id' },
          from: {
            type: 'string',
            description:
              'Run this step and everything downstream (upstream is reused); default: what did not succeed'
          }
        },
        required: ['id']
      }
    },
    label: trans.__('Rerun mlbench Pipeline Run'),
    execute: async args => {
      const id = idOf(args);
      const from =
        typeof args.from === 'string' && args.from ? args.from : null;
      try {
        const run = await client.rerunPipeline(
          id,
          from ? { from_step: from } : {}
        );
        Notification.info(
          from
            ? trans.__('Pipeline rerun from step %1 started', from)
            : trans.__('Pipeline rerun started'),
          { autoClose: 3000 }
        );
        await openRun(run.id);
        return run.id;
      } catch (reason) {
        fail(trans.__('Could not rerun the pipeline'))(reason);
      }
    }
  });

  if (restorer) {
    void restorer.restore(tracker, {
      command: CommandIDs.openPipeline,
      args: view => ({ id: view.model.runId }),
      name: view => view.model.runId
    });
  }
  return tracker;
}
