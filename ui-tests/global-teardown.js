/**
 * Stop the agent and the scheduler the test server started on demand: they
 * would otherwise outlive the run until their idle timeout (the scheduler's
 * never comes while a failed test left a schedule enabled).
 */
const { execFileSync } = require('child_process');
const path = require('path');

module.exports = async () => {
  const workspace = path.join(process.env.MLBENCH_UI_TMP, 'workspace');
  try {
    execFileSync('mlbench', ['agent', 'stop', '--now', '--timeout', '20'], {
      env: { ...process.env, MLBENCH_HOME: workspace },
      stdio: 'inherit',
      timeout: 30000
    });
  } catch (error) {
    console.warn(`could not stop the test agent: ${error}`);
  }
  try {
    execFileSync('mlbench', ['scheduler', 'stop'], {
      env: { ...process.env, MLBENCH_HOME: workspace },
      stdio: 'inherit',
      timeout: 30000
    });
  } catch (error) {
    console.warn(`could not stop the test scheduler: ${error}`);
  }
};
