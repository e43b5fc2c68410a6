"""Pydantic models of sweeps: what is submitted (``SweepSpec``) and what is reported."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mlbench.errors import InvalidInputError
from mlbench.jobs.models import JobStatus, Termination
from mlbench.jobs.spec import JobSpec
from mlbench.sweeps.policies import EarlyTermination, Goal
from mlbench.sweeps.space import Expression, parse_expression
from mlbench.validation import FiniteFloat, check_identifier

MAX_TRIALS = 100_000


class SamplingAlgorithm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["random", "grid", "bayesian"] = "random"
    seed: int | None = Field(
        None, ge=0, lt=2**32, description="Default: drawn at submission and recorded."
    )
    rule: Literal["random", "sobol"] = Field("random", description="random sampling only.")

    @model_validator(mode="after")
    def _rule(self) -> SamplingAlgorithm:
        if self.rule == "sobol" and self.type != "random":
            raise ValueError("rule: sobol applies to random sampling only")
        return self


class Objective(BaseModel):
    model_config = ConfigDict(extra="forbid")

    primary_metric: str = Field(
        min_length=1,
        max_length=250,
        description="A metric the notebook logs (mlbench.log_metric or mlflow.log_metric); a "
        "trial's objective is its last reported value.",
    )
    goal: Goal

    @field_validator("goal", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


class SweepLimits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_total_trials: int | None = Field(
        None, ge=1, le=MAX_TRIALS, description="Default: the grid's size (grid), else 10."
    )
    max_concurrent_trials: int | None = Field(
        None, ge=1, le=10_000, description="Also bounded by the compute's jobs at once."
    )
    timeout: FiniteFloat | None = Field(
        None, gt=0, description="Seconds; then running trials are canceled and none start."
    )
    trial_timeout: FiniteFloat | None = Field(None, gt=0, description="Seconds per trial.")
    target_value: FiniteFloat | None = Field(
        None, description="The sweep ends once a trial's objective reaches it."
    )


class SweepSpec(BaseModel):
    """A sweep: a notebook job (``trial``) run over a search space of its parameters."""

    model_config = ConfigDict(extra="forbid")

    trial: JobSpec = Field(
        description="The job every trial runs: notebook, fixed parameters, compute, resources, "
        "environment, data. The search space's values are added to its parameters."
    )
    search_space: dict[str, Expression]
    sampling_algorithm: SamplingAlgorithm = Field(default_factory=SamplingAlgorithm)
    objective: Objective
    early_termination: EarlyTermination | None = None
    limits: SweepLimits = Field(default_factory=SweepLimits)
    display_name: str | None = Field(None, min_length=1, max_length=256)
    experiment: str | None = Field(None, min_length=1, max_length=256)
    tags: dict[str, str] = Field(default_factory=dict, max_length=64)

    @field_validator("search_space", mode="before")
    @classmethod
    def _expressions(cls, value: Any) -> Any:
        """Expressions may be written as calls (``"uniform(0, 1)"``) or lists (a choice)."""
        if not isinstance(value, Mapping):
            return value
        out = {}
        for name, raw in value.items():
            try:
                out[name] = parse_expression(raw, str(name))
            except InvalidInputError as exc:
                raise ValueError(exc.message) from None
        return out

    @field_validator("search_space")
    @classmethod
    def _names(cls, value: dict[str, Expression]) -> dict[str, Expression]:
        if not value:
            raise ValueError("the search space is empty: give at least one parameter")
        for name in value:
            check_identifier(name, "search space parameter")
        return value

    @model_validator(mode="after")
    def _trial(self) -> SweepSpec:
        if self.trial.parent is not None or self.trial.rerun_of is not None:
            raise ValueError("a sweep's trial cannot have a parent or be a rerun")
        return self


class SweepStatus(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def is_final(self) -> bool:
        return self in (SweepStatus.COMPLETED, SweepStatus.FAILED, SweepStatus.CANCELED)

    def __str__(self) -> str:
        return self.value


class TrialInfo(BaseModel):
    """One trial: the job it ran as, what it was given and what it reached."""

    sweep_id: str
    index: int = Field(description="0-based trial number.")
    job_id: str
    mlflow_run_id: str | None = Field(None, description="The trial's run (its job's).")
    parameters: dict[str, Any] = Field(description="The sampled values.")
    status: JobStatus
    value: float | None = Field(None, description="The objective: the last reported value.")
    reports: int = Field(0, description="How many times the primary metric was reported.")
    metrics: dict[str, float | None] = Field(
        default_factory=dict, description="Each metric's last value, once the trial ended."
    )
    termination: Termination | None = None
    recorded: bool = Field(
        False, description="Its end is recorded: value, reports and metrics are final."
    )
    created_at: datetime
    finished_at: datetime | None


class TrialCounts(BaseModel):
    queued: int = 0
    running: int = 0
    completed: int = 0
    early_terminated: int = 0
    failed: int = 0
    canceled: int = 0


class SweepInfo(BaseModel):
    """A sweep as every face of mlbench reports it."""

    id: str
    display_name: str
    experiment: str
    compute: str
    notebook_path: str
    status: SweepStatus
    status_reason: str
    cancel_requested: bool
    owner: str
    spec: SweepSpec
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    mlflow_experiment_id: str | None
    mlflow_run_id: str | None = Field(None, description="The parent run; trials are its children.")
    trial_count: int = Field(description="Trials started so far.")
    max_total_trials: int
    counts: TrialCounts
    best_trial: int | None = None
    best_value: float | None = None
    best_parameters: dict[str, Any] | None = None


class SweepPage(BaseModel):
    items: list[SweepInfo]
    next_cursor: str | None = None


__all__ = [
    "Objective",
    "SamplingAlgorithm",
    "SweepInfo",
    "SweepLimits",
    "SweepPage",
    "SweepSpec",
    "SweepStatus",
    "TrialCounts",
    "TrialInfo",
]
