"""Environment variables that tie a kernel to its job, in one place (not to be confused with
environments, the versioned Python environments jobs run in)."""

from __future__ import annotations

from collections.abc import Mapping

from mlbench.tracking.metrics import METRICS_FILE_ENV

# Set by the agent for one job's kernel; an agent started from inside a job must not inherit them.
JOB_SCOPED_ENV = (
    "MLBENCH_JOB_ID",
    "MLBENCH_ATTEMPT",
    "MLBENCH_OUTPUT_DIR",
    METRICS_FILE_ENV,
    "MLFLOW_RUN_ID",
    "MLFLOW_EXPERIMENT_NAME",
)
AGENT_GPUS_ENV = "MLBENCH_AGENT_CUDA_VISIBLE_DEVICES"  # the agent's own view; "*" = all


def agent_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment for a new agent: the caller's, minus what belongs to the caller's job."""
    env = dict(environ)
    if "MLBENCH_JOB_ID" not in env:
        return env
    for key in JOB_SCOPED_ENV:
        env.pop(key, None)
    agent_gpus = env.pop(AGENT_GPUS_ENV, None)
    if agent_gpus is not None:  # undo the job's GPU restriction
        if agent_gpus == "*":
            env.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            env["CUDA_VISIBLE_DEVICES"] = agent_gpus
    return env
