/**
 * The monitor commands: open a monitor, run one now, open a run's report.
 * Monitor and report tabs come back after a reload (layout restorer). From
 * the palette, with no monitor named, the commands ask which one. The views
 * load on first use (not needed at start).
 */
import { ILayoutRestorer, JupyterFrontEnd } from '@jupyterlab/application';
import {
  ICommandPalette,
  InputDialog,
  Notification,
  WidgetTracker
} from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';

import { EventStream, MlbenchClient, errorMessage } from '../api';
import { CommandIDs } from '../commands';
import type { MonitorReportView, MonitorView } from './monitor-view';

export function addMonitorCommands(options: {
  app: JupyterFrontEnd;
  client: MlbenchClient;
  stream: EventStream;
  trans: TranslationBundle;
  restorer: ILayoutRestorer | null;
  palette: ICommandPalette | null;
}): {
  monitors: WidgetTracker<MonitorView>;
  reports: WidgetTracker<MonitorReportView>;
} {
  const { app, client, stream, trans, restorer, palette } = options;
  const { commands, shell } = app;
  const tracker = new WidgetTracker<MonitorView>({
    namespace: 'mlbench-monitor'
  });
  const reports = new WidgetTracker<MonitorReportView>({
    namespace: 'mlbench-monitor-report'
  });

  /** The name given, or one picked from the monitors (null: none/cancel). */
  const pick = async (
    given: unknown,
    label: string
  ): Promise<string | null> => {
    if (typeof given === 'string' && given) {
      return given;
    }
    const names = (await client.listMonitors()).items.map(m => m.name);
    if (names.length === 0) {
      Notification.info(trans.__('No monitors yet.'), { autoClose: 5000 });
      return null;
    }
    const answer = await InputDialog.getItem({
      title: label,
      items: names
    });
    return answer.button.accept ? answer.value : null;
  };

  const openReport = async (
    monitor: string,
    runId: string
  ): Promise<MonitorReportView> => {
    let view = reports.find(w => w.runId === runId);
    if (!view) {
      const { MonitorReportView } = await import('./monitor-view');
      view = new MonitorReportView({ client, monitor, runId, trans });
      void reports.add(view);
      shell.add(view, 'main');
    }
    shell.activateById(view.id);
    return view;
  };

  const openMonitor = async (name: string): Promise<MonitorView> => {
    let view = tracker.find(w => w.monitorName === name);
    if (!view) {
      const { MonitorView } = await import('./monitor-view');
      view = new MonitorView({
        client,
        stream,
        name,
        trans,
        openReport: runId =>
          void commands.execute(CommandIDs.openMonitorReport, {
            monitor: name,
            run: runId
          })
      });
      void tracker.add(view);
      shell.add(view, 'main');
    }
    shell.activateById(view.id);
    return view;
  };

  commands.addCommand(CommandIDs.openMonitor, {
    describedBy: {
      args: {
        type: 'object',
        properties: {
          name: { type: 'string', description: 'A monitor name' }
        }
      }
    },
    label: trans.__('Open mlbench Monitor'),
    execute: async args => {
      const name = await pick(args.name, trans.__('Open monitor'));
      if (name) {
        await openMonitor(name);
      }
    }
  });

  commands.addCommand(CommandIDs.runMonitor, {
    describedBy: {
      args: {
        type: 'object',
        properties: {
          name: { type: 'string', description: 'A monitor name' }
        }
      }
    },
    label: trans.__('Run mlbench Monitor Now'),
    execute: async args => {
      const name = await pick(args.name, trans.__('Run monitor now'));
      if (!name) {
        return;
      }
      try {
        const run = await client.runMonitor(name);
        const message = trans.__(
          'Monitor %1: %2',
          name,
          run.verdict ?? run.status
        );
        if (run.verdict === 'breached') {
          Notification.warning(message, { autoClose: 8000 });
        } else {
          Notification.success(message, { autoClose: 5000 });
        }
        return run;
      } catch (reason) {
        Notification.error(
          trans.__('Monitor %1 failed: %2', name, errorMessage(reason)),
          { autoClose: false }
        );
      }
    }
  });

  commands.addCommand(CommandIDs.openMonitorReport, {
    describedBy: {
      args: {
        type: 'object',
        properties: {
          monitor: { type: 'string', description: 'A monitor name' },
          run: { type: 'string', description: 'One of its run ids' }
        },
        required: ['monitor', 'run']
      }
    },
    label: trans.__('Open mlbench Monitor Report'),
    execute: async args => {
      const monitor = String(args.monitor ?? '');
      const run = String(args.run ?? '');
      if (monitor && run) {
        await openReport(monitor, run);
      }
    }
  });

  if (palette) {
    for (const command of [CommandIDs.openMonitor, CommandIDs.runMonitor]) {
      palette.addItem({ command, category: trans.__('mlbench') });
    }
  }

  if (restorer) {
    void restorer.restore(tracker, {
      command: CommandIDs.openMonitor,
      args: view => ({ name: view.monitorName }),
      name: view => view.monitorName
    });
    void restorer.restore(reports, {
      command: CommandIDs.openMonitorReport,
      args: view => ({ monitor: view.monitorName, run: view.runId }),
      name: view => view.runId
    });
  }
  return { monitors: tracker, reports };
}
