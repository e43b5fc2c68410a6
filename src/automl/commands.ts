/**
 * The AutoML and Responsible AI commands: open an AutoML run's leaderboard
 * and a report job's page in the main area (both restored after a reload),
 * from the job view or the palette with a job id. The views load on first
 * use (not needed at start).
 */
import { ILayoutRestorer, JupyterFrontEnd } from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  InputDialog,
  Notification,
  WidgetTracker,
  showDialog
} from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { type EventStream, type MlbenchClient, errorMessage } from '../api';
import { CommandIDs } from '../commands';
import { IAutoMLRun, raiRequest } from './automl';
import type { LeaderboardView } from './leaderboard-view';
import type { RaiReportView } from './report-view';

/**
 * The form of a report on an AutoML run's model: the test table and the
 * sensitive columns.
 */
class ReportForm extends Widget {
  constructor(trans: TranslationBundle, data: string) {
    super();
    this.addClass('mlbench-RaiForm');
    const field = (label: string, input: HTMLInputElement) => {
      const row = document.createElement('label');
      row.textContent = label;
      input.className = 'jp-mod-styled';
      row.appendChild(input);
      this.node.appendChild(row);
    };
    this._data.value = data;
    this._data.setAttribute('aria-label', trans.__('Test table'));
    this._sensitive.placeholder = trans.__('e.g. sex, age_group');
    this._sensitive.setAttribute('aria-label', trans.__('Sensitive columns'));
    field(trans.__('Test table (NAME[:VERSION])'), this._data);
    field(trans.__('Sensitive columns (optional)'), this._sensitive);
  }

  getValue(): { data: string; sensitive: string } {
    return { data: this._data.value, sensitive: this._sensitive.value };
  }

  private _data = document.createElement('input');
  private _sensitive = document.createElement('input');
}

export function addAutoMLCommands(options: {
  app: JupyterFrontEnd;
  client: MlbenchClient;
  stream: EventStream;
  trans: TranslationBundle;
  restorer: ILayoutRestorer | null;
  palette: ICommandPalette | null;
}): {
  leaderboards: WidgetTracker<LeaderboardView>;
  reports: WidgetTracker<RaiReportView>;
} {
  const { app, client, stream, trans, restorer, palette } = options;
  const { commands, shell } = app;
  const leaderboards = new WidgetTracker<LeaderboardView>({
    namespace: 'mlbench-automl'
  });
  const reports = new WidgetTracker<RaiReportView>({
    namespace: 'mlbench-rai-report'
  });
  const openJob = (id: string) =>
    void commands.execute(CommandIDs.openJob, { id });

  const openLeaderboard = async (jobId: string): Promise<LeaderboardView> => {
    let view = leaderboards.find(w => w.jobId === jobId);
    if (!view) {
      const { LeaderboardView } = await import('./leaderboard-view');
      view = new LeaderboardView({
        client,
        stream,
        jobId,
        trans,
        actions: {
          openJob,
          openModel: name =>
            void commands.execute(CommandIDs.openModel, { name }),
          reportOn: run => void reportOn(run)
        }
      });
      void leaderboards.add(view);
      shell.add(view, 'main');
    }
    shell.activateById(view.id);
    return view;
  };

  const openReport = async (jobId: string): Promise<RaiReportView> => {
    let view = reports.find(w => w.jobId === jobId);
    if (!view) {
      const { RaiReportView } = await import('./report-view');
      view = new RaiReportView({
        client,
        stream,
        jobId,
        trans,
        actions: { openJob }
      });
      void reports.add(view);
      shell.add(view, 'main');
    }
    shell.activateById(view.id);
    return view;
  };

  const reportOn = async (run: IAutoMLRun): Promise<void> => {
    const result = await showDialog({
      title: trans.__('Responsible AI report of %1', run.model ?? ''),
      body: new ReportForm(trans, (run.data ?? '').replace(/^data:/, '')),
      buttons: [
        Dialog.cancelButton(),
        Dialog.okButton({ label: trans.__('Run report') })
      ],
      focusNodeSelector: 'input[aria-label="Sensitive columns"]'
    });
    const body =
      result.button.accept && result.value
        ? raiRequest(run, result.value)
        : null;
    if (!body) {
      return;
    }
    try {
      const report = await client.submitRaiReport(body);
      await openReport(report.job_id);
    } catch (reason) {
      Notification.error(
        trans.__('Could not run the report: %1', errorMessage(reason)),
        { autoClose: 8000 }
      );
    }
  };

  /** The job id given, else one asked for (from the palette). */
  const jobId = async (
    args: { id?: unknown },
    title: string
  ): Promise<string> => {
    const given = String(args.id ?? '').trim();
    if (given) {
      return given;
    }
    const asked = await InputDialog.getText({
      title,
      label: trans.__('Job id'),
      placeholder: trans.__('the id of the job')
    });
    return asked.button.accept ? (asked.value ?? '').trim() : '';
  };

  const byJobId = {
    args: {
      type: 'object' as const,
      properties: {
        id: { type: 'string' as const, description: 'A job id' }
      }
    }
  };

  commands.addCommand(CommandIDs.openLeaderboard, {
    describedBy: byJobId,
    label: args =>
      args.isPalette
        ? trans.__('Open mlbench AutoML Leaderboard…')
        : trans.__('Open AutoML Leaderboard'),
    execute: async args => {
      const id = await jobId(args, trans.__('Open an AutoML leaderboard'));
      if (id) {
        await openLeaderboard(id);
      }
    }
  });

  commands.addCommand(CommandIDs.openRaiReport, {
    describedBy: byJobId,
    label: args =>
      args.isPalette
        ? trans.__('Open mlbench Responsible AI Report…')
        : trans.__('Open Responsible AI Report'),
    execute: async args => {
      const id = await jobId(args, trans.__('Open a Responsible AI report'));
      if (id) {
        await openReport(id);
      }
    }
  });

  if (palette) {
    for (const command of [
      CommandIDs.openLeaderboard,
      CommandIDs.openRaiReport
    ]) {
      palette.addItem({
        command,
        category: trans.__('mlbench'),
        args: { isPalette: true }
      });
    }
  }

  if (restorer) {
    void restorer.restore(leaderboards, {
      command: CommandIDs.openLeaderboard,
      args: view => ({ id: view.jobId }),
      name: view => view.jobId
    });
    void restorer.restore(reports, {
      command: CommandIDs.openRaiReport,
      args: view => ({ id: view.jobId }),
      name: view => view.jobId
    });
  }
  return { leaderboards, reports };
}
