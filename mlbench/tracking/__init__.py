"""Experiment tracking. Every use of MLflow in mlbench goes through this package.

``mlbench.log_metric`` / ``mlbench.log_metrics`` are cheap enough to call in a tight training loop:
points are buffered and written in batches. Inside a job they go to a file that the agent relays
to the job's MLflow run (so the kernel never pays MLflow's import or a database round trip per
point); outside a job they are sent to MLflow's active run with ``log_batch``.
"""

from mlbench.tracking.metrics import flush, log_metric, log_metrics

__all__ = ["flush", "log_metric", "log_metrics"]
