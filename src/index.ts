import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  MainAreaWidget,
  Notification,
  ToolbarButton,
  WidgetTracker,
  showDialog
} from '@jupyterlab/apputils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import {
  ITranslator,
  TranslationBundle,
  nullTranslator
} from '@jupyterlab/translation';
import React from 'react';

import {
  EventStream,
  IHealth,
  IJob,
  MlbenchClient,
  errorMessage,
  isFinal
} from './api';
import { CommandIDs, PLUGIN_ID } from './commands';
import { mlbenchIcon } from './icons';
import { IJobActions } from './jobs/jobs-list';
import { JobsStore } from './jobs/jobs-store';
import type { JobView } from './jobs/job-view';
import type { ExperimentView } from './experiments/experiment-view';
import type { DataAssetView } from './data/asset-view';
import type { SweepView } from './sweeps/sweep-view';
import { MlbenchAPIError } from './request';
import { ISidebarSection, MlbenchSidebar } from './sidebar';
import { addSweepCommands } from './sweeps/commands';
import { addModelCommands } from './models/commands';
import { addEndpointCommands } from './endpoints/commands';
import { addMonitorCommands } from './monitors/commands';
import { addPipelineCommands } from './pipelines/commands';
import { addAutoMLCommands } from './automl/commands';
import { connectNotificationToasts } from './notifications/toasts';

export { CommandIDs, PLUGIN_ID } from './commands';
export type { IHealth } from './api';

/**
 * Check that the mlbench server extension answers, and say which version it is.
 */
export async function checkServer(
  app: JupyterFrontEnd
): Promise<IHealth | null> {
  try {
    const health = await new MlbenchClient(
      app.serviceManager.serverSettings
    ).health();
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
 * The ids of jobs submitted from this browser session and not finished yet.
 */
export class SubmittedJobs {
  constructor(private _storage: Storage | null) {
    try {
      const saved = JSON.parse(_storage?.getItem(SubmittedJobs.KEY) ?? '[]');
      if (Array.isArray(saved)) {
        saved.forEach(id => this._ids.add(String(id)));
      }
    } catch {
      // unreadable: start afresh
    }
  }

  static readonly KEY = 'mlbench:submitted-jobs';

  has(id: string): boolean {
    return this._ids.has(id);
  }

  add(id: string): void {
    this._ids.add(id);
    this._save();
  }

  delete(id: string): void {
    this._ids.delete(id);
    this._save();
  }

  private _save(): void {
    try {
      this._storage?.setItem(SubmittedJobs.KEY, JSON.stringify([...this._ids]));
    } catch {
      // storage full or disabled: notifications still work in this page
    }
  }

  private _ids = new Set<string>();
}

/**
 * Settings from schema/plugin.json.
 */
interface ISettings {
  defaultCompute: string;
  defaultExperiment: string;
  notifications: boolean;
}

/**
 * The sidebar's sections below Compute and Jobs.
 */
// loaded when first expanded (the chart library is large): not needed to
// start JupyterLab
const ExperimentsSection = React.lazy(() =>
  import('./experiments').then(m => ({ default: m.ExperimentsSection }))
);
const DataSection = React.lazy(() =>
  import('./data').then(m => ({ default: m.DataSection }))
);
const EnvironmentsSection = React.lazy(() =>
  import('./environments').then(m => ({ default: m.EnvironmentsSection }))
);
const SweepsSection = React.lazy(() =>
  import('./sweeps').then(m => ({ default: m.SweepsSection }))
);
const SchedulesSection = React.lazy(() =>
  import('./schedules').then(m => ({ default: m.SchedulesSection }))
);
const PipelinesSection = React.lazy(() =>
  import('./pipelines').then(m => ({ default: m.PipelinesSection }))
);
const ModelsSection = React.lazy(() =>
  import('./models').then(m => ({ default: m.ModelsSection }))
);
const EndpointsSection = React.lazy(() =>
  import('./endpoints').then(m => ({ default: m.EndpointsSection }))
);
const MonitorsSection = React.lazy(() =>
  import('./monitors').then(m => ({ default: m.MonitorsSection }))
);

function lazySection<P extends { client: MlbenchClient }>(
  component: React.ComponentType<P>,
  props: P
): JSX.Element {
  return React.createElement(
    React.Suspense,
    { fallback: null },
    React.createElement(component, props)
  );
}

/**
 * What the sidebar's lists open in the main area.
 */
interface IOpeners {
  sweep(id: string): void;
  pipeline(id: string): void;
  experiment(id: string, name: string): void;
  dataAsset(name: string): void;
  model(name: string): void;
  endpoint(name: string): void;
  monitor(name: string): void;
  job(id: string): void;
  notifications(): void;
}

function extraSections(
  trans: TranslationBundle,
  stream: EventStream,
  open: IOpeners
): ISidebarSection[] {
  return [
    {
      id: 'sweeps',
      title: trans.__('Sweeps'),
      render: client =>
        React.createElement(
          React.Suspense,
          { fallback: null },
          React.createElement(SweepsSection, {
            client,
            stream,
            onOpen: sweep => open.sweep(sweep.id)
          })
        )
    },
    {
      id: 'pipelines',
      title: trans.__('Pipelines'),
      render: client =>
        lazySection(PipelinesSection, {
          client,
          stream,
          onOpen: run => open.pipeline(run.id)
        })
    },
    {
      id: 'schedules',
      title: trans.__('Schedules'),
      render: client =>
        React.createElement(
          React.Suspense,
          { fallback: null },
          React.createElement(SchedulesSection, {
            client,
            stream,
            onOpenNotifications: open.notifications
          })
        )
    },
    {
      id: 'experiments',
      title: trans.__('Experiments'),
      render: client =>
        lazySection(ExperimentsSection, {
          client,
          stream,
          onOpen: e => open.experiment(e.experiment_id, e.name),
          onOpenJob: open.job
        })
    },
    {
      id: 'data',
      title: trans.__('Data'),
      render: client =>
        lazySection(DataSection, {
          client,
          stream,
          onOpen: open.dataAsset
        })
    },
    {
      id: 'models',
      title: trans.__('Models'),
      render: client =>
        lazySection(ModelsSection, { client, stream, onOpen: open.model })
    },
    {
      id: 'endpoints',
      title: trans.__('Endpoints'),
      render: client =>
        lazySection(EndpointsSection, { client, onOpen: open.endpoint })
    },
    {
      id: 'monitors',
      title: trans.__('Monitors'),
      render: client =>
        lazySection(MonitorsSection, { client, stream, onOpen: open.monitor })
    },
    {
      id: 'environments',
      title: trans.__('Environments'),
      render: client => lazySection(EnvironmentsSection, { client })
    }
  ];
}

function activate(
  app: JupyterFrontEnd,
  palette: ICommandPalette | null,
  settingRegistry: ISettingRegistry | null,
  docManager: IDocumentManager | null,
  browserFactory: IFileBrowserFactory | null,
  notebooks: INotebookTracker | null,
  restorer: ILayoutRestorer | null,
  translator: ITranslator | null
): void {
  const trans = (translator ?? nullTranslator).load('mlbench');
  void checkServer(app);
  const { commands, shell } = app;
  const client = new MlbenchClient(app.serviceManager.serverSettings);
  // one event stream for the whole UI: the list and every job view share it
  const stream = new EventStream(client);
  const jobs = new JobsStore({ client, stream });
  const settings: ISettings = {
    defaultCompute: 'local',
    defaultExperiment: '',
    notifications: true
  };
  if (settingRegistry) {
    void settingRegistry.load(PLUGIN_ID).then(loaded => {
      const read = () => Object.assign(settings, loaded.composite);
      read();
      loaded.changed.connect(read);
    });
  }
  // jobs submitted from this browser: their end is notified, even after a
  // page reload (kept in the session's storage)
  const submittedHere = new SubmittedJobs(window.sessionStorage);
  const tracker = new WidgetTracker<JobView>({ namespace: 'mlbench-job' });
  const sweepTracker = new WidgetTracker<SweepView>({
    namespace: 'mlbench-sweep'
  });
  const experimentTracker = new WidgetTracker<ExperimentView>({
    namespace: 'mlbench-experiment'
  });
  const dataTracker = new WidgetTracker<DataAssetView>({
    namespace: 'mlbench-data-asset'
  });

  const trackSubmitted = (job: IJob) => {
    submittedHere.add(job.id);
    jobs.upsert(job);
  };
  /** A job submitted through the dialog: tracked and said so. */
  const announceSubmitted = (job: IJob) => {
    trackSubmitted(job);
    Notification.info(
      trans.__('Job %1 submitted', job.display_name || job.id.slice(0, 8)),
      { autoClose: 3000 }
    );
  };

  const jobArg = (args: { id?: unknown }) => String(args.id ?? '');
  const byJobId = {
    args: {
      type: 'object' as const,
      properties: { id: { type: 'string' as const, description: 'A job id' } },
      required: ['id']
    }
  };

  const actions: IJobActions = {
    open: job => void commands.execute(CommandIDs.openJob, { id: job.id }),
    logs: job => void commands.execute(CommandIDs.showJobLogs, { id: job.id }),
    output: job =>
      void commands.execute(CommandIDs.openJobOutput, { id: job.id }),
    cancel: job => void commands.execute(CommandIDs.cancelJob, { id: job.id }),
    rerun: job => void commands.execute(CommandIDs.rerunJob, { id: job.id }),
    rerunWithChanges: job =>
      void commands.execute(CommandIDs.rerunJobWithChanges, { id: job.id }),
    delete: job => void commands.execute(CommandIDs.deleteJob, { id: job.id }),
    leaderboard: job =>
      void commands.execute(CommandIDs.openLeaderboard, { id: job.id }),
    report: job =>
      void commands.execute(CommandIDs.openRaiReport, { id: job.id })
  };

  const sidebar = new MlbenchSidebar({
    client,
    jobs,
    actions,
    sections: extraSections(trans, stream, {
      sweep: id => void commands.execute(CommandIDs.openSweep, { id }),
      pipeline: id => void commands.execute(CommandIDs.openPipeline, { id }),
      experiment: (id, name) =>
        void commands.execute(CommandIDs.openExperiment, { id, name }),
      dataAsset: name =>
        void commands.execute(CommandIDs.openDataAsset, { name }),
      model: name => void commands.execute(CommandIDs.openModel, { name }),
      endpoint: name =>
        void commands.execute(CommandIDs.openEndpoint, { name }),
      monitor: name => void commands.execute(CommandIDs.openMonitor, { name }),
      job: id => void commands.execute(CommandIDs.openJob, { id }),
      notifications: () => void commands.execute(CommandIDs.openNotifications)
    }),
    trans
  });
  shell.add(sidebar, 'left', { rank: 650 });
  if (restorer) {
    restorer.add(sidebar, sidebar.id);
  }
  // notification rules with the jupyterlab channel: a toast in every open lab
  connectNotificationToasts(stream, trans, {
    job: id => void commands.execute(CommandIDs.openJob, { id }),
    sweep: id => void commands.execute(CommandIDs.openSweep, { id }),
    pipeline: id => void commands.execute(CommandIDs.openPipeline, { id }),
    schedule: () => shell.activateById(sidebar.id)
  });
  void sidebar.refresh().then(() => {
    // jobs that finished while no page was open
    for (const job of jobs.all()) {
      if (isFinal(job.status) && submittedHere.has(job.id)) {
        notifyFinished(job);
      }
    }
  });

  const notifyFinished = (job: IJob) => {
    if (!settings.notifications || !submittedHere.has(job.id)) {
      return;
    }
    submittedHere.delete(job.id);
    const name = job.display_name || job.id.slice(0, 8);
    const reason = job.error?.message ?? job.status_reason;
    const message =
      job.status === 'completed'
        ? trans.__('Job %1 completed', name)
        : job.status === 'canceled'
          ? trans.__('Job %1 canceled', name)
          : job.status === 'timed_out'
            ? trans.__('Job %1 timed out: %2', name, reason)
            : job.status === 'early_terminated'
              ? trans.__('Job %1 stopped early: %2', name, reason)
              : trans.__('Job %1 failed: %2', name, reason);
    Notification.emit(
      message,
      job.status === 'completed'
        ? 'success'
        : job.status === 'canceled' || job.status === 'early_terminated'
          ? 'warning'
          : 'error',
      {
        autoClose: job.status === 'completed' ? 8000 : false,
        actions: [
          {
            label: trans.__('Open job'),
            caption: trans.__('Open job %1', job.id),
            callback: () =>
              void commands.execute(CommandIDs.openJob, { id: job.id })
          }
        ]
      }
    );
  };
  jobs.jobFinished.connect((_, job) => notifyFinished(job));

  const fail = (title: string) => (reason: unknown) => {
    Notification.error(trans.__('%1: %2', title, errorMessage(reason)), {
      autoClose: 8000
    });
  };

  const openJob = async (id: string): Promise<JobView> => {
    let view = tracker.find(w => w.model.jobId === id);
    if (!view) {
      // loaded on first use: not needed to start JupyterLab
      const { JobView } = await import('./jobs/job-view');
      view = new JobView({ client, stream, jobId: id, actions, trans });
      void tracker.add(view);
      shell.add(view, 'main');
    }
    shell.activateById(view.id);
    return view;
  };

  const openExperiment = async (
    id: string,
    name?: string
  ): Promise<ExperimentView> => {
    let view = experimentTracker.find(w => w.experimentId === id);
    if (!view) {
      const { ExperimentView } = await import('./experiments/experiment-view');
      view = new ExperimentView({
        client,
        stream,
        experimentId: id,
        name,
        onOpenJob: jobId =>
          void commands.execute(CommandIDs.openJob, { id: jobId }),
        trans
      });
      void experimentTracker.add(view);
      shell.add(view, 'main');
    }
    shell.activateById(view.id);
    return view;
  };

  const openDataAsset = async (name: string): Promise<DataAssetView> => {
    let view = dataTracker.find(w => w.assetName === name);
    if (!view) {
      const { DataAssetView } = await import('./data/asset-view');
      view = new DataAssetView({ client, name, trans });
      void dataTracker.add(view);
      shell.add(view, 'main');
    }
    shell.activateById(view.id);
    return view;
  };

  commands.addCommand(CommandIDs.openExperiment, {
    describedBy: {
      args: {
        type: 'object',
        properties: {
          id: { type: 'string', description: 'An MLflow experiment id' },
          name: { type: 'string', description: 'Its name (the tab title)' }
        },
        required: ['id']
      }
    },
    label: trans.__('Open mlbench Experiment Runs'),
    execute: async args => {
      const id = String(args.id ?? '');
      if (id) {
        await openExperiment(
          id,
          typeof args.name === 'string' ? args.name : undefined
        );
      }
    }
  });

  commands.addCommand(CommandIDs.openDataAsset, {
    describedBy: {
      args: {
        type: 'object',
        properties: {
          name: { type: 'string', description: 'A data asset name' }
        },
        required: ['name']
      }
    },
    label: trans.__('Open mlbench Data Asset'),
    execute: async args => {
      const name = String(args.name ?? '');
      if (name) {
        await openDataAsset(name);
      }
    }
  });

  commands.addCommand(CommandIDs.openSidebar, {
    describedBy: { args: { type: 'object', properties: {} } },
    label: trans.__('Show the mlbench Sidebar'),
    icon: mlbenchIcon,
    execute: () => shell.activateById(sidebar.id)
  });
  let notificationsView: MainAreaWidget | null = null;
  commands.addCommand(CommandIDs.openNotifications, {
    describedBy: { args: { type: 'object', properties: {} } },
    label: trans.__('mlbench Notification Rules…'),
    icon: mlbenchIcon,
    execute: async () => {
      if (!notificationsView || notificationsView.isDisposed) {
        const { NotificationsView } =
          await import('./notifications/notifications-panel');
        notificationsView = new NotificationsView(client, trans);
        shell.add(notificationsView, 'main');
      }
      shell.activateById(notificationsView.id);
    }
  });

  commands.addCommand(CommandIDs.refresh, {
    describedBy: { args: { type: 'object', properties: {} } },
    label: trans.__('Refresh mlbench Jobs and Compute'),
    execute: () => sidebar.refresh()
  });

  // the notebook selected in the file browser (its context menu)
  const selectedNotebookPath = (): string | null => {
    const browser = browserFactory?.tracker.currentWidget;
    for (const item of browser?.selectedItems() ?? []) {
      if (item.path.endsWith('.ipynb')) {
        return item.path;
      }
    }
    return null;
  };

  // the notebook in the main area, else the one selected in the file browser
  const currentNotebookPath = (): string | null => {
    const current = notebooks?.currentWidget;
    if (current && shell.currentWidget === current) {
      return current.context.path;
    }
    return selectedNotebookPath() ?? current?.context.path ?? null;
  };

  /**
   * Tag the first code cell of a notebook "parameters" and save it (the
   * notebook is opened if it is not): one click for a notebook without a
   * parameters cell.
   */
  const tagParametersCell = async (path: string): Promise<boolean> => {
    const panel =
      notebooks?.find(p => p.context.path === path) ??
      (docManager?.openOrReveal(path) as NotebookPanel | undefined);
    if (!panel) {
      return false;
    }
    await panel.context.ready;
    const cell = panel.content.widgets.find(w => w.model.type === 'code');
    if (!cell) {
      return false;
    }
    const tags = (cell.model.getMetadata('tags') as string[] | undefined) ?? [];
    if (!tags.includes('parameters')) {
      cell.model.setMetadata('tags', [...tags, 'parameters']);
    }
    await panel.context.save();
    return true;
  };

  commands.addCommand(CommandIDs.runAsJob, {
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
        ? trans.__('Run Notebook as mlbench Job...')
        : trans.__('Run as job...'),
    caption: trans.__('Run this notebook as a tracked mlbench job'),
    icon: args => (args.toolbar ? mlbenchIcon : undefined),
    execute: async args => {
      let path = typeof args.path === 'string' ? args.path : null;
      if (!path) {
        // from the file browser's menu, the right-clicked file, not the
        // notebook that happens to be open
        path = args.fromFileBrowser
          ? selectedNotebookPath()
          : currentNotebookPath();
      }
      if (!path) {
        await showDialog({
          title: trans.__('Run as job'),
          body: trans.__('Open or select a notebook first.'),
          buttons: [Dialog.okButton()]
        });
        return;
      }
      const panel = notebooks?.find(p => p.context.path === path);
      if (panel?.context.model.dirty) {
        // the job runs the saved file
        await panel.context.save();
      }
      const { showSubmitDialog } = await import('./submit/submit-dialog');
      const job = await showSubmitDialog({
        client,
        trans,
        path,
        defaultCompute: settings.defaultCompute,
        defaultExperiment: settings.defaultExperiment,
        tagParameters: () => tagParametersCell(path!)
      });
      if (job) {
        announceSubmitted(job);
        shell.activateById(sidebar.id);
      }
      return job?.id;
    }
  });

  commands.addCommand(CommandIDs.openJob, {
    describedBy: byJobId,
    label: trans.__('Open mlbench Job'),
    execute: async args => {
      const id = jobArg(args);
      if (id) {
        await openJob(id);
      }
    }
  });

  commands.addCommand(CommandIDs.showJobLogs, {
    describedBy: byJobId,
    label: trans.__('Show mlbench Job Logs'),
    execute: async args => {
      const id = jobArg(args);
      if (!id) {
        return;
      }
      const view = await openJob(id);
      // the log is the view's last section; a view just opened renders it
      // once the job is read: look again for a few seconds
      const deadline = Date.now() + 5000;
      const scroll = () => {
        const log = view.node.querySelector<HTMLElement>(
          '.mlbench-JobView-log'
        );
        if (log) {
          log.scrollIntoView({ block: 'end' });
          log.focus();
        } else if (Date.now() < deadline && !view.isDisposed) {
          setTimeout(scroll, 100);
        }
      };
      requestAnimationFrame(scroll);
    }
  });

  commands.addCommand(CommandIDs.openJobOutput, {
    describedBy: byJobId,
    label: trans.__('Open mlbench Job Output Notebook'),
    execute: async args => {
      const id = jobArg(args);
      try {
        const copied = await client.copyJobOutput(id, {});
        docManager?.openOrReveal(copied.path);
        // say where the copy went: it is a file in the user's folder now
        Notification.info(
          trans.__(
            "Output of job %1 copied to %2 (the job's own output is unchanged).",
            id.slice(0, 8),
            copied.path
          ),
          { autoClose: 8000 }
        );
        return copied.path;
      } catch (reason) {
        if (
          reason instanceof MlbenchAPIError &&
          reason.code === 'destination_exists'
        ) {
          // copied before: open that copy
          const path = (reason.details as { path?: string } | undefined)?.path;
          if (path) {
            docManager?.openOrReveal(path);
            return path;
          }
        }
        fail(trans.__('Could not open the output notebook'))(reason);
      }
    }
  });

  commands.addCommand(CommandIDs.cancelJob, {
    describedBy: byJobId,
    label: trans.__('Cancel mlbench Job'),
    execute: async args => {
      const id = jobArg(args);
      const job = jobs.get(id);
      const result = await showDialog({
        title: trans.__('Cancel job'),
        body: trans.__(
          'Stop job %1? The running cell is interrupted; what it logged so far is kept.',
          job ? job.display_name || id.slice(0, 8) : id.slice(0, 8)
        ),
        buttons: [
          Dialog.cancelButton({ label: trans.__('Keep running') }),
          Dialog.warnButton({ label: trans.__('Cancel job') })
        ]
      });
      if (!result.button.accept) {
        return;
      }
      try {
        jobs.upsert(await client.cancelJob(id));
      } catch (reason) {
        fail(trans.__('Could not cancel the job'))(reason);
      }
    }
  });

  commands.addCommand(CommandIDs.rerunJob, {
    describedBy: byJobId,
    label: trans.__('Rerun mlbench Job'),
    execute: async args => {
      try {
        const job = await client.rerunJob(jobArg(args));
        trackSubmitted(job);
        return job.id;
      } catch (reason) {
        fail(trans.__('Could not rerun the job'))(reason);
      }
    }
  });

  commands.addCommand(CommandIDs.rerunJobWithChanges, {
    describedBy: byJobId,
    label: trans.__('Rerun mlbench Job with Changes...'),
    execute: async args => {
      let original: IJob;
      try {
        original = await client.getJob(jobArg(args));
      } catch (reason) {
        fail(trans.__('Could not rerun the job'))(reason);
        return;
      }
      const { showSubmitDialog } = await import('./submit/submit-dialog');
      const job = await showSubmitDialog({
        client,
        trans,
        path: original.notebook_relpath ?? original.notebook_path,
        rerunOf: original
      });
      if (job) {
        announceSubmitted(job);
      }
      return job?.id;
    }
  });

  commands.addCommand(CommandIDs.deleteJob, {
    describedBy: byJobId,
    label: trans.__('Delete mlbench Job'),
    execute: async args => {
      const id = jobArg(args);
      const job = jobs.get(id);
      const result = await showDialog({
        title: trans.__('Delete job'),
        body: trans.__(
          'Delete job %1 and its MLflow run?',
          job ? job.display_name || id : id
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
        await client.deleteJob(id);
        jobs.remove([id]);
        tracker.find(w => w.model.jobId === id)?.close();
      } catch (reason) {
        fail(trans.__('Could not delete the job'))(reason);
      }
    }
  });

  addSweepCommands({
    app,
    client,
    stream,
    trans,
    settings,
    tracker: sweepTracker,
    notebooks,
    currentNotebookPath,
    selectedNotebookPath,
    fail
  });
  addPipelineCommands({ app, client, stream, trans, restorer, fail });
  addModelCommands({ app, client, stream, trans, restorer });
  addEndpointCommands({ app, client, trans, restorer });
  addMonitorCommands({ app, client, stream, trans, restorer, palette });
  addAutoMLCommands({ app, client, stream, trans, restorer, palette });
  if (restorer) {
    // the main-area tabs come back after a page reload
    void restorer.restore(sweepTracker, {
      command: CommandIDs.openSweep,
      args: view => ({ id: view.model.sweepId }),
      name: view => view.model.sweepId
    });
    void restorer.restore(tracker, {
      command: CommandIDs.openJob,
      args: view => ({ id: view.model.jobId }),
      name: view => view.model.jobId
    });
    void restorer.restore(experimentTracker, {
      command: CommandIDs.openExperiment,
      args: view => ({ id: view.experimentId }),
      name: view => view.experimentId
    });
    void restorer.restore(dataTracker, {
      command: CommandIDs.openDataAsset,
      args: view => ({ name: view.assetName }),
      name: view => view.assetName
    });
  }

  if (palette) {
    for (const command of [
      CommandIDs.openSidebar,
      CommandIDs.runAsJob,
      CommandIDs.sweepNotebook,
      CommandIDs.refresh,
      CommandIDs.openNotifications
    ]) {
      palette.addItem({
        command,
        category: trans.__('mlbench'),
        args: { isPalette: true }
      });
    }
  }

  app.contextMenu.addItem({
    command: CommandIDs.runAsJob,
    args: { fromFileBrowser: true },
    selector: '.jp-DirListing-item[data-file-type="notebook"]',
    rank: 3
  });
  app.contextMenu.addItem({
    command: CommandIDs.sweepNotebook,
    args: { fromFileBrowser: true },
    selector: '.jp-DirListing-item[data-file-type="notebook"]',
    rank: 3.1
  });

  // a toolbar button on every notebook
  app.docRegistry.addWidgetExtension('Notebook', {
    createNew: (panel: NotebookPanel) => {
      const button = new ToolbarButton({
        icon: mlbenchIcon,
        label: trans.__('Run as job'),
        tooltip: trans.__('Run this notebook as a tracked mlbench job'),
        className: 'mlbench-RunAsJobButton',
        onClick: () =>
          void commands.execute(CommandIDs.runAsJob, {
            path: panel.context.path
          })
      });
      panel.toolbar.insertAfter('cellType', 'mlbench-run-as-job', button);
      const sweep = new ToolbarButton({
        label: trans.__('Sweep'),
        tooltip: trans.__(
          "Sweep this notebook's parameters: many tracked trials, the best found"
        ),
        className: 'mlbench-SweepButton',
        onClick: () =>
          void commands.execute(CommandIDs.sweepNotebook, {
            path: panel.context.path
          })
      });
      panel.toolbar.insertAfter('mlbench-run-as-job', 'mlbench-sweep', sweep);
      button.disposed.connect(() => sweep.dispose());
      return button;
    }
  });
}

/**
 * The mlbench front-end plugin.
 */
const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'A notebook-first ML workbench: tracked notebook jobs, compute, data and models inside JupyterLab.',
  autoStart: true,
  optional: [
    ICommandPalette,
    ISettingRegistry,
    IDocumentManager,
    IFileBrowserFactory,
    INotebookTracker,
    ILayoutRestorer,
    ITranslator
  ],
  activate
};

export default plugin;
