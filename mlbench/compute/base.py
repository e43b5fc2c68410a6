"""Compute backends: what a compute target *kind* must provide.

A backend is registered under a kind name (``local``, later ``ray`` and ``gateway``) through the
``mlbench.compute`` entry-point group, the way papermill registers engines: adding a kind needs
no ``if/elif`` anywhere else.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field


class Capacity(BaseModel):
    """What a target can run at once; the agent schedules jobs against it."""

    cpus: float
    memory_mb: int | None = None
    gpu_ids: list[str] = Field(default_factory=list)
    max_concurrent_jobs: int

    @property
    def gpus(self) -> int:
        return len(self.gpu_ids)


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

    def parse_config(self, raw: dict[str, Any]) -> ComputeConfig:
        return self.config_model.model_validate(raw)

    @abstractmethod
    def capacity(self, config: ComputeConfig) -> Capacity:
        """Resources the target offers, with defaults resolved (detected CPUs, GPUs...)."""

    def check(self, config: ComputeConfig) -> None:  # noqa: B027 - optional hook
        """Raise a clear error when the target cannot be used (unreachable, misconfigured)."""
