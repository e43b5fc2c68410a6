/**
 * The id of the mlbench front-end plugin (also its settings' id).
 */
export const PLUGIN_ID = 'mlbench:plugin';

/**
 * The ids of mlbench's commands.
 */
export namespace CommandIDs {
  export const openSidebar = 'mlbench:open-sidebar';
  export const runAsJob = 'mlbench:run-as-job';
  export const openJob = 'mlbench:open-job';
  export const showJobLogs = 'mlbench:show-job-logs';
  export const openJobOutput = 'mlbench:open-job-output';
  export const cancelJob = 'mlbench:cancel-job';
  export const rerunJob = 'mlbench:rerun-job';
  export const rerunJobWithChanges = 'mlbench:rerun-job-with-changes';
  export const deleteJob = 'mlbench:delete-job';
  export const refresh = 'mlbench:refresh';
  export const sweepNotebook = 'mlbench:sweep-notebook';
  export const openSweep = 'mlbench:open-sweep';
  export const cancelSweep = 'mlbench:cancel-sweep';
  export const deleteSweep = 'mlbench:delete-sweep';
  export const openPipeline = 'mlbench:open-pipeline';
  export const cancelPipeline = 'mlbench:cancel-pipeline';
  export const rerunPipeline = 'mlbench:rerun-pipeline';
  export const openExperiment = 'mlbench:open-experiment';
  export const openDataAsset = 'mlbench:open-data-asset';
  export const openModel = 'mlbench:open-model';
  export const openEndpoint = 'mlbench:open-endpoint';
  export const deployModel = 'mlbench:deploy-model';
  export const openNotifications = 'mlbench:open-notifications';
  export const openMonitor = 'mlbench:open-monitor';
  export const runMonitor = 'mlbench:run-monitor';
  export const openMonitorReport = 'mlbench:open-monitor-report';
  export const openLeaderboard = 'mlbench:open-automl-leaderboard';
  export const openRaiReport = 'mlbench:open-rai-report';
}
