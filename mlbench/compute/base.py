"""Compute backends: what a compute target *kind* must provide.

A backend is registered under a kind name (``local``, later ``ray`` and ``gateway``) through the
``mlbench.compute`` entry-point group, the way papermill registers engines: adding a kind needs
no ``if/elif`` anywhere else.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Capacity(BaseModel):
    """What a target can run at once; jobs asking for more are refused at submission."""

    cpus: float
    memory_mb: int | None = None
    gpus: int = Field(0, ge=0, description="GPUs in all (on every node of a cluster).")
    gpu_ids: list[str] = Field(
        default_factory=list,
        description="GPU ids the agent hands out itself (this machine); empty where the "
        "engine assigns them (Ray).",
    )
    resources: dict[str, float] = Field(
        default_factory=dict, description="Custom resources (Ray), e.g. {'a100': 4}."
    )
    max_concurrent_jobs: int

    @model_validator(mode="after")
    def _count_gpu_ids(self) -> Capacity:
        if self.gpu_ids and not self.gpus:
            self.gpus = len(self.gpu_ids)
        return self


class ComputeConfig(BaseModel):
    """Settings shared by every kind."""

    model_config = ConfigDict(extra="forbid")

    max_concurrent_jobs: int | None = Field(
        None, ge=1, description="Jobs running at once (default: one per CPU)."
    )
    idle_timeout_s: float | None = Field(
        None, ge=0, description="The agent exits after this long with nothing to do."
    )


class ComputeBackend(ABC):
    """One kind of compute target."""

    kind: ClassVar[str]
    config_model: ClassVar[type[ComputeConfig]]
    description: ClassVar[str] = ""
    secret_fields: ClassVar[tuple[str, ...]] = ()
    """Settings kept in the workspace's secret store, never with the target's settings."""
    carries_data: ClassVar[bool] = True
    """Whether jobs on this kind can take data inputs and outputs (``--input``/``--output``)."""
    max_data_bytes: ClassVar[int | None] = None
    """The most bytes of data inputs one job may take (None: no limit)."""

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
