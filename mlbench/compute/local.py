"""The ``local`` compute kind: this machine, with declared or detected CPUs, memory and GPUs."""

from __future__ import annotations

import os

import psutil
from pydantic import Field, field_validator

from mlbench.compute.base import (
    MAX_CPUS,
    MAX_JOBS_AT_ONCE,
    MAX_MEMORY_MB,
    Capacity,
    ComputeBackend,
    ComputeConfig,
)
from mlbench.compute.gpus import detect_gpus
from mlbench.jobenv import AGENT_GPUS_ENV


class LocalComputeConfig(ComputeConfig):
    cpus: float | None = Field(
        None, gt=0, le=MAX_CPUS, description="CPUs to schedule (default: all)."
    )
    memory_mb: int | None = Field(
        None, gt=0, le=MAX_MEMORY_MB, description="Memory to schedule (default: all)."
    )
    gpu_ids: list[str] | None = Field(
        None,
        description="GPU ids jobs may use, e.g. [0, 1] (default: detected with NVML/nvidia-smi).",
    )
    kernel_pool_size: int = Field(
        1, ge=0, le=16, description="Kernels kept started per kernel name, ready for the next job."
    )

    @field_validator("gpu_ids", mode="before")
    @classmethod
    def _ids_as_strings(cls, value: object) -> object:
        if isinstance(value, str):
            value = [v for v in value.split(",") if v.strip()]
        if isinstance(value, list):
            ids = [str(v).strip() for v in value]
            if len(set(ids)) != len(ids):
                raise ValueError("gpu_ids has duplicates")
            return ids
        return value


class LocalBackend(ComputeBackend):
    kind = "local"
    executor = "mlbench.agent.executors:LocalExecutor"
    config_model = LocalComputeConfig
    description = "This machine: jobs run in local kernels started by the agent."

    def capacity(self, config: ComputeConfig) -> Capacity:
        assert isinstance(config, LocalComputeConfig)
        cpus = config.cpus or float(os.cpu_count() or 1)
        memory_mb = config.memory_mb or psutil.virtual_memory().total // (1024 * 1024)
        gpu_ids = config.gpu_ids if config.gpu_ids is not None else _visible_gpu_ids()
        return Capacity(
            cpus=cpus,
            memory_mb=memory_mb,
            gpu_ids=gpu_ids,
            max_concurrent_jobs=config.max_concurrent_jobs
            or min(MAX_JOBS_AT_ONCE, max(1, int(cpus))),
        )


def _visible_gpu_ids() -> list[str]:
    gpus = detect_gpus()
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if "MLBENCH_JOB_ID" in os.environ and AGENT_GPUS_ENV in os.environ:
        # Inside a job CUDA_VISIBLE_DEVICES is the job's share; the machine is the agent's view.
        agent = os.environ[AGENT_GPUS_ENV]
        visible = None if agent == "*" else agent
    if visible is None:
        return [g.index for g in gpus]
    # The agent itself was restricted: only hand out what it was given (indices or UUIDs).
    known = {g.index for g in gpus} | {g.uuid for g in gpus if g.uuid}
    return [v for v in (x.strip() for x in visible.split(",")) if v and v in known]


def undetected_gpu_ids(gpu_ids: list[str]) -> list[str]:
    """The ids of ``gpu_ids`` that name no GPU detected on this machine (index or UUID).

    Declaring such ids is allowed (a GPU attached later); the CLI warns about them.
    """
    gpus = detect_gpus()
    known = {g.index for g in gpus} | {g.uuid for g in gpus if g.uuid}
    return [i for i in gpu_ids if i not in known]
