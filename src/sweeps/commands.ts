/**
 * The sweep commands: "Sweep..." on a notebook, open, cancel and delete a
 * sweep. The form and the view load on first use (not needed at start).
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  Dialog,
  Notification,
  WidgetTracker,
  showDialog
} from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { TranslationBundle } from '@jupyterlab/translation';

import type { EventStream, ISweep, MlbenchClient } from '../api';
import { CommandIDs } from '../commands';
import type { SweepView } from './sweep-view';
import { sweepRemoved } from './removed';

export interface ISweepCommandsOptions {
  app: JupyterFrontEnd;
  client: MlbenchClient;
  stream: EventStream;
  trans: TranslationBundle;
  settings: { defaultCompute: string; defaultExperiment: string };
  tracker: WidgetTracker<SweepView>;
  notebooks: INotebookTracker | null;
  currentNotebookPath(): string | null;
  selectedNotebookPath(): string | null;
  fail(title: string): (reason: unknown) => void;
}

export function addSweepCommands(options: ISweepCommandsOptions): void {
  const { app, client, stream, trans, tracker, notebooks, fail } = options;
  const { commands, shell } = app;
  const byId = {
    args: {
      type: 'object' as const,
      properties: {
        id: { type: 'string' as const, description: 'A sweep id' }
      },
      required: ['id']
    }
  };
  const idOf = (args: { id?: unknown }) => String(args.id ?? '');

  const openSweep = async (id: string): Promise<SweepView> => {
    let view = tracker.find(w => w.model.sweepId === id);
    if (!view) {
      const { SweepView } = await import('./sweep-view');
      view = new SweepView({
        client,
        stream,
        sweepId: id,
        trans,
        actions: {
          openJob: jobId =>
            void commands.execute(CommandIDs.openJob, { id: jobId }),
          cancel: sweep =>
            void commands.execute(CommandIDs.cancelSweep, { id: sweep.id }),
          delete: sweep =>
            void commands.execute(CommandIDs.deleteSweep, { id: sweep.id })
        }
      });
      void tracker.add(view);
      shell.add(view, 'main');
    }
    shell.activateById(view.id);
    return view;
  };

  commands.addCommand(CommandIDs.openSweep, {
    describedBy: byId,
    label: trans.__('Open mlbench Sweep'),
    execute: async args => {
      const id = idOf(args);
      if (id) {
        await openSweep(id);
      }
    }
  });

  commands.addCommand(CommandIDs.sweepNotebook, {
    describedBy: {
      args: {
        type: 'object',
        properties: {
          path: {
            type: 'string',
            description:
              'The notebook, relative to the server root (default: the current one)'
          },
          fromFileBrowser: {
            type: 'boolean',
            description: "Use the file browser's selection"
          }
        }
      }
    },
    label: args =>
      args.isPalette
        ? trans.__('Sweep Notebook Parameters with mlbench...')
        : trans.__('Sweep...'),
    caption: trans.__(
      "Run many tracked trials over this notebook's parameters and find the best"
    ),
    execute: async args => {
      let path = typeof args.path === 'string' ? args.path : null;
      if (!path) {
        path = args.fromFileBrowser
          ? options.selectedNotebookPath()
          : options.currentNotebookPath();
      }
      if (!path) {
        await showDialog({
          title: trans.__('Sweep'),
          body: trans.__('Open or select a notebook first.'),
          buttons: [Dialog.okButton()]
        });
        return;
      }
      const panel = notebooks?.find(p => p.context.path === path);
      if (panel?.context.model.dirty) {
        // the trials run the saved file
        await panel.context.save();
      }
      const { showSweepDialog } = await import('./sweep-dialog');
      const sweep: ISweep | null = await showSweepDialog({
        client,
        trans,
        path,
        defaultCompute: options.settings.defaultCompute,
        defaultExperiment: options.settings.defaultExperiment
      });
      if (sweep) {
        Notification.info(trans.__('Sweep %1 submitted', sweep.display_name), {
          autoClose: 3000
        });
        await openSweep(sweep.id);
      }
      return sweep?.id;
    }
  });

  commands.addCommand(CommandIDs.cancelSweep, {
    describedBy: byId,
    label: trans.__('Cancel mlbench Sweep'),
    execute: async args => {
      const id = idOf(args);
      const result = await showDialog({
        title: trans.__('Cancel sweep'),
        body: trans.__(
          'Start no new trial and interrupt the running ones? Finished trials are kept.'
        ),
        buttons: [
          Dialog.cancelButton({ label: trans.__('Keep running') }),
          Dialog.warnButton({ label: trans.__('Cancel sweep') })
        ]
      });
      if (!result.button.accept) {
        return;
      }
      try {
        await client.cancelSweep(id);
        void tracker.find(w => w.model.sweepId === id)?.model.load();
      } catch (reason) {
        fail(trans.__('Could not cancel the sweep'))(reason);
      }
    }
  });

  commands.addCommand(CommandIDs.deleteSweep, {
    describedBy: byId,
    label: trans.__('Delete mlbench Sweep'),
    execute: async args => {
      const id = idOf(args);
      const result = await showDialog({
        title: trans.__('Delete sweep'),
        body: trans.__(
          "Delete sweep %1, its trials' jobs and their MLflow runs?",
          id.slice(0, 8)
        ),
        buttons: [
          Dialog.cancelButton(),
          Dialog.warnButton({ label: trans.__('Delete') })
        ]
      });
      if (!result.button.accept) {
        return;
      }
      try {
        await client.deleteSweep(id);
        sweepRemoved.emit(id);
        tracker.find(w => w.model.sweepId === id)?.close();
      } catch (reason) {
        fail(trans.__('Could not delete the sweep'))(reason);
      }
    }
  });
}
