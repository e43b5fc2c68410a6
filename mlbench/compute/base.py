"""Compute backends: what a compute target *kind* must provide.

A backend is registered under a kind name (``local``, later ``ray`` and ``gateway``) through the
``mlbench.compute`` entry-point group, the way papermill registers engines: adding a kind needs
no ``if/elif`` anywhere else.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mlbench.validation import json_input

# Upper bounds of settings: far above any real machine or cluster, low enough that every
# derived number (int(cpus), sums of jobs' shares, JSON) stays exact and finite.
MAX_CPUS = 1_000_000.0
MAX_MEMORY_MB = 2**40  # 1 EiB
MAX_GPUS = 100_000
MAX_JOBS_AT_ONCE = 100_000
MAX_SECONDS = 366.0 * 24 * 3600  # a year


class Capacity(BaseModel):
    """What a target can run at once; jobs asking for more are refused at submission."""

    # NaN/inf here would raise OverflowError in every reader (int(cpus)), so refuse them.
    model_config = ConfigDict(allow_inf_nan=False)

    cpus: float = Field(ge=0, le=MAX_CPUS)
    memory_mb: int | None = Field(None, ge=0, le=MAX_MEMORY_MB)
    gpus: int = Field(0, ge=0, le=MAX_GPUS, description="GPUs in all (on every node of a cluster).")
    gpu_ids: list[str] = Field(
        default_factory=list,
        description="GPU ids the agent hands out itself (this machine); empty where the "
        "engine assigns them (Ray).",
    )
    resources: dict[str, float] = Field(
        default_factory=dict, description="Custom resources (Ray), e.g. {'a100': 4}."
    )
    max_concurrent_jobs: int = Field(ge=0, le=MAX_JOBS_AT_ONCE)

    @model_validator(mode="after")
    def _count_gpu_ids(self) -> Capacity:
        if self.gpu_ids and not self.gpus:
            self.gpus = len(self.gpu_ids)
        return self


class ComputeConfig(BaseModel):
    """Settings shared by every kind.

    Every kind inherits the guards: no NaN/inf in any float field, and no raw setting (nested
    ones included) that is not bounded JSON, so nothing unusable is ever stored.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    max_concurrent_jobs: int | None = Field(
        None, ge=1, le=MAX_JOBS_AT_ONCE, description="Jobs running at once (default: one per CPU)."
    )
    idle_timeout_s: float | None = Field(
        None,
        ge=0,
        le=MAX_SECONDS,
        description="The agent exits after this long with nothing to do.",
    )

    @model_validator(mode="before")
    @classmethod
    def _bounded_json(cls, data: object) -> object:
        return json_input(data, "config", max_depth=32, max_bytes=1024 * 1024)


class ComputeBackend(ABC):
    """One kind of compute target."""

    kind: ClassVar[str]
    config_model: ClassVar[type[ComputeConfig]]
    executor: ClassVar[str]
    """The agent's executor for this kind, as ``module:Class`` (imported by the agent only, so
    the core never loads the runner). A kind is its settings, its checks and this, together."""
    description: ClassVar[str] = ""
    secret_fields: ClassVar[tuple[str, ...]] = ()
    """Settings kept in the workspace's secret store, never with the target's settings."""
    carries_data: ClassVar[bool] = True
    """Whether jobs on this kind can take data inputs and outputs (``--input``/``--output``)."""
    max_data_bytes: ClassVar[int | None] = None
    """The most bytes of data inputs one job may take (None: no limit)."""
    runs_commands: ClassVar[bool] = True
    """Whether command jobs (a shell command in a code snapshot) run on this kind."""

    def parse_config(self, raw: dict[str, Any]) -> ComputeConfig:
        return self.config_model.model_validate(raw)

    @abstractmethod
    def capacity(self, config: ComputeConfig) -> Capacity:
        """Resources the target offers, with defaults resolved (detected CPUs, GPUs...)."""

    def check(self, config: ComputeConfig) -> ComputeConfig:
        """Raise a clear error when the target cannot be used (unreachable, misconfigured).

        Returns the config to store, e.g. with what the check learned (a cluster's size).
        """
        return config

    def kernel_names(self, config: ComputeConfig) -> list[str] | None:
        """Kernels jobs may use on this target; None: the kernelspecs installed here."""
        return None

    def job_defaults(self, config: ComputeConfig) -> dict[str, Any]:
        """Resources a job gets when it does not ask (JobResources fields)."""
        return {}
