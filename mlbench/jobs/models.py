"""Pydantic models of jobs: what is submitted and what is reported."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mlbench.data.models import JobInput, JobOutput
from mlbench.jobs.spec import JobParent, ResourceRequest, parse_memory_mb
from mlbench.validation import FiniteFloat


class JobStatus(str, Enum):
    QUEUED = "queued"
    STARTING = "starting"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"
    TIMED_OUT = "timed_out"
    EARLY_TERMINATED = "early_terminated"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES

    def __str__(self) -> str:
        return self.value


FINAL_STATUSES = frozenset(
    {
        JobStatus.COMPLETED,
        JobStatus.FAILED,
        JobStatus.CANCELED,
        JobStatus.TIMED_OUT,
        JobStatus.EARLY_TERMINATED,
    }
)
ACTIVE_STATUSES = frozenset({JobStatus.QUEUED, JobStatus.STARTING, JobStatus.RUNNING})
ON_AGENT = (JobStatus.STARTING.value, JobStatus.RUNNING.value)
"""The states in which an agent holds the job (column values, for queries)."""


class JobResources(BaseModel):
    """What one job was given (a ResourceRequest with the target's defaults filled in); the agent
    runs it only when the target has this much free."""

    model_config = ConfigDict(extra="forbid")

    cpus: FiniteFloat = Field(1.0, gt=0, description="CPUs reserved for the job.")
    gpus: int = Field(0, ge=0, description="GPUs; the job sees them in CUDA_VISIBLE_DEVICES.")
    memory_mb: int | None = Field(
        None, gt=0, description="Memory reserved (MiB); accepts '4GB', '512M'."
    )
    custom: dict[str, FiniteFloat] = Field(
        default_factory=dict,
        description="Custom resources of the target (Ray), e.g. {'a100': 1}.",
    )

    @field_validator("memory_mb", mode="before")
    @classmethod
    def _parse_memory(cls, value: object) -> object:
        return parse_memory_mb(value) if isinstance(value, str) else value

    def as_request(self) -> ResourceRequest:
        """These resources as a spec asks for them (every field given)."""
        return ResourceRequest(
            cpus=self.cpus, gpus=self.gpus, memory=self.memory_mb, custom=self.custom
        )


class Termination(BaseModel):
    """Why a sweep's early-termination policy stopped a trial: the rule and its numbers."""

    policy: str = Field(description="bandit, median_stopping, truncation_selection, ...")
    interval: int = Field(description="The report (1-based) of the primary metric evaluated.")
    value: float | None = Field(None, description="The trial's value the rule compared.")
    threshold: float | None = Field(None, description="What the value had to reach.")
    detail: str = Field(description="The rule with its numbers, in words.")


class JobProgress(BaseModel):
    cell_index: int | None = Field(None, description="0-based index of the running cell.")
    cell_count: int | None = None
    cell_source: str | None = Field(None, description="First lines of the running cell.")
    cell_started_at: datetime | None = None
    elapsed_s: float | None = Field(None, description="Seconds since the job started running.")

    @property
    def fraction(self) -> float:
        if not self.cell_count or self.cell_index is None:
            return 0.0
        return min(1.0, self.cell_index / self.cell_count)


class JobError(BaseModel):
    """Why a job did not complete."""

    kind: str = Field(
        description="cell_error, kernel_died, kernel_unresponsive, timeout, canceled, "
        "agent_lost, worker_lost (Ray), gateway_error, setup_error, data_error (a data output "
        "not written or not registered), exit_code (a command exited non-zero: the message "
        "ends with the last line of its stderr, the traceback holds its last lines), disk_full "
        "(the job's log, output notebook or artifacts could not be stored: the message names "
        "the folder and its free space) or internal_error"
    )
    message: str
    cell_index: int | None = None
    execution_count: int | None = None
    cell_source: str | None = None
    ename: str | None = None
    evalue: str | None = None
    traceback: list[str] = Field(default_factory=list)


class JobInfo(BaseModel):
    """A job as every face of mlbench reports it."""

    id: str
    display_name: str
    experiment: str
    compute: str
    kernel_name: str
    notebook_path: str = Field(description="The notebook; empty for a command job.")
    command: str | None = Field(None, description="A command job's command, as written.")
    cwd: str = Field(description="The notebook's working folder, or a command's code folder.")
    parameters: dict[str, Any]
    resources: JobResources
    timeout_s: float | None
    max_retries: int
    attempt: int
    tags: dict[str, str]
    owner: str
    rerun_of: str | None
    status: JobStatus
    status_reason: str
    cancel_requested: bool
    error: JobError | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    gpu_ids: list[str]
    mlflow_experiment_id: str | None
    mlflow_run_id: str | None
    progress: JobProgress
    inputs: list[JobInput] = Field(
        default_factory=list, description="Data asset versions the job reads."
    )
    outputs: list[JobOutput] = Field(
        default_factory=list,
        description="Data assets the job writes; version and ref are set once registered.",
    )
    spec_hash: str | None = Field(
        None,
        description="Content hash of the notebook, parameters, input versions, outputs and "
        "kernel: jobs with equal hashes compute the same thing.",
    )
    parent: JobParent | None = Field(None, description="The sweep or pipeline run it belongs to.")
    termination: Termination | None = Field(
        None,
        description="Set when its sweep's early-termination policy stops it (then its state "
        "becomes early_terminated).",
    )
    agent_lost: bool = Field(
        False,
        description="Starting or running, but its agent stopped heartbeating: it is resolved "
        "(requeued or failed) when an agent for its target starts, which reading it triggers.",
    )

    @property
    def duration_s(self) -> float | None:
        if not self.started_at:
            return None
        end = self.finished_at or datetime.now(self.started_at.tzinfo)
        return (end - self.started_at).total_seconds()


class JobPage(BaseModel):
    items: list[JobInfo]
    next_cursor: str | None = None
