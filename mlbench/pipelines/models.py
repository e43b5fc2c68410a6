"""Pydantic models of pipelines: the spec (YAML, builder, REST), runs and steps as read back."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mlbench.jobs.spec import ResourceRequest
from mlbench.validation import FiniteFloat

MAX_STEPS = 500


class PipelineStatus(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def is_final(self) -> bool:
        return self in (PipelineStatus.COMPLETED, PipelineStatus.FAILED, PipelineStatus.CANCELED)

    def __str__(self) -> str:
        return self.value


class StepStatus(str, Enum):
    PENDING = "pending"  # waiting for its upstream steps
    QUEUED = "queued"  # its job is submitted (the job's own state is in the job)
    STARTING = "starting"
    RUNNING = "running"
    COMPLETED = "completed"
    REUSED = "reused"  # an earlier step with the same key gave its outputs; nothing ran
    FAILED = "failed"
    CANCELED = "canceled"
    SKIPPED = "skipped"  # an upstream step failed, or the run stopped first
    EXCLUDED = "excluded"  # not in the run's selection (--only/--from/--to) nor upstream of it

    @property
    def is_final(self) -> bool:
        return self in FINAL_STEP

    @property
    def succeeded(self) -> bool:
        return self in (StepStatus.COMPLETED, StepStatus.REUSED)

    def __str__(self) -> str:
        return self.value


FINAL_STEP = frozenset(
    {
        StepStatus.COMPLETED,
        StepStatus.REUSED,
        StepStatus.FAILED,
        StepStatus.CANCELED,
        StepStatus.SKIPPED,
        StepStatus.EXCLUDED,
    }
)


class StepOutput(BaseModel):
    """A named output of a step: a data asset version registered when the step's job
    completes (``type``: uri_folder, the default, or uri_file)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["uri_folder", "uri_file"] = "uri_folder"
    name: str | None = Field(
        None,
        max_length=128,
        description="Data asset to register versions of (default: PIPELINE.STEP.OUTPUT).",
    )


class StepSpec(BaseModel):
    """One step: a notebook (papermill, typed parameters) or a command in a code folder."""

    model_config = ConfigDict(extra="forbid")

    notebook: str | None = Field(None, max_length=4096, description="The step's notebook.")
    command: str | None = Field(
        None, max_length=100_000, description="A command (${{inputs.X}}, ${{outputs.Y}})."
    )
    code: str | None = Field(None, max_length=4096, description="Command steps: code folder.")
    display_name: str | None = Field(None, max_length=256)
    parameters: dict[str, Any] = Field(
        default_factory=dict,
        description="Values for the notebook's parameters; may be ${{parent.inputs.X}}.",
    )
    inputs: dict[str, Any] = Field(
        default_factory=dict,
        description="NAME -> ${{parent.jobs.STEP.outputs.Y}}, ${{parent.inputs.X}}, data:NAME:V "
        "or a literal value (then a parameter). The notebook parameter (or the command's "
        "${{inputs.NAME}}) receives the data's local path.",
    )
    outputs: dict[str, StepOutput | str | None] = Field(
        default_factory=dict,
        description="NAME -> {type: uri_folder|uri_file, name: ASSET}: the notebook writes to "
        "the path in parameter NAME (a command to ${{outputs.NAME}}).",
    )
    depends_on: list[str] = Field(
        default_factory=list, description="Steps to wait for besides those it reads data from."
    )
    environment: str | None = Field(None, max_length=200)
    environment_variables: dict[str, str] = Field(default_factory=dict)
    compute: str | None = Field(None, max_length=64, description="Default: the pipeline's.")
    kernel_name: str | None = Field(None, max_length=256)
    resources: ResourceRequest = Field(default_factory=ResourceRequest)
    timeout_s: FiniteFloat | None = Field(None, gt=0)
    max_retries: int = Field(0, ge=0, le=100)
    allow_unknown_params: bool = False
    is_deterministic: bool = Field(
        True, description="false: never reused (the step reads the clock, the network...)."
    )
    force_rerun: bool = Field(False, description="Run it even when an earlier result matches.")

    @property
    def kind(self) -> Literal["notebook", "command"]:
        return "command" if self.command is not None else "notebook"


class PipelineSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    continue_on_step_failure: bool = Field(
        False,
        description="false (default): a failed step cancels the running steps and skips the "
        "rest; true: only the steps downstream of it are skipped.",
    )
    force_rerun: bool = Field(False, description="Run every step (no reuse).")
    default_compute: str | None = Field(None, max_length=64)
    max_concurrent_steps: int | None = Field(
        None,
        ge=1,
        le=10_000,
        strict=True,
        description="At most this many of the run's steps run at once (reused steps do not "
        "count); default: as many as the compute targets allow.",
    )


class PipelineSpec(BaseModel):
    """A pipeline: steps (``jobs``) wired by their data, with the pipeline's own inputs."""

    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(None, min_length=1, max_length=256)
    experiment: str | None = Field(None, min_length=1, max_length=256)
    description: str = Field("", max_length=5000)
    compute: str = Field("local", min_length=1, max_length=64)
    inputs: dict[str, Any] = Field(
        default_factory=dict,
        description="Literal values, or data ({type: uri_folder, path: data:NAME:V} / "
        "'data:NAME:V'), that steps read as ${{parent.inputs.NAME}}.",
    )
    outputs: dict[str, str] = Field(
        default_factory=dict,
        description="Pipeline outputs: NAME -> ${{parent.jobs.STEP.outputs.Y}}.",
    )
    settings: PipelineSettings = Field(default_factory=PipelineSettings)
    tags: dict[str, str] = Field(default_factory=dict)
    jobs: dict[str, StepSpec] = Field(min_length=1, max_length=MAX_STEPS)


class KeyComponents(BaseModel):
    """What a step's reuse key is made of (each hashed with BLAKE3)."""

    code: str = Field(description="BLAKE3 of the normalized notebook, or of the code + command.")
    kind: Literal["notebook", "command"]
    parameters: dict[str, Any] = Field(description="Resolved literal parameters.")
    inputs: dict[str, str] = Field(description="Input name -> exact data version (NAME:V).")
    environment: str | None = Field(description="Exact environment version (NAME:V), if any.")
    options: dict[str, Any] = Field(
        description="What else decides the result: kernel, outputs' kinds, environment "
        "variables, unknown-parameter policy."
    )


class StepInfo(BaseModel):
    run_id: str
    name: str
    kind: Literal["notebook", "command"]
    status: StepStatus
    status_reason: str = ""
    job_id: str | None = None
    compute: str
    depends_on: list[str]
    selected: bool = Field(True, description="In the run's selection (not only reused).")
    forced: bool = False
    reuse_key: str | None = None
    components: KeyComponents | None = None
    reused_from_run: str | None = None
    reused_from_job: str | None = None
    outputs: dict[str, str] = Field(default_factory=dict, description="Output -> NAME:V.")
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None


class StepCounts(BaseModel):
    pending: int = 0
    running: int = 0
    completed: int = 0
    reused: int = 0
    failed: int = 0
    canceled: int = 0
    skipped: int = 0
    excluded: int = 0


class PipelineRunInfo(BaseModel):
    id: str
    name: str
    display_name: str
    experiment: str
    compute: str
    status: PipelineStatus
    status_reason: str = ""
    cancel_requested: bool = False
    owner: str = ""
    spec: PipelineSpec
    selection: dict[str, Any] = Field(default_factory=dict)
    source_run_id: str | None = Field(None, description="The run this one reruns.")
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    mlflow_experiment_id: str | None = None
    mlflow_run_id: str | None = None
    counts: StepCounts = Field(default_factory=StepCounts)
    outputs: dict[str, str] = Field(default_factory=dict, description="Pipeline outputs.")


class PipelineRunPage(BaseModel):
    items: list[PipelineRunInfo]
    next_cursor: str | None = None


class WhyInfo(BaseModel):
    """Why a step was (not) reused."""

    run_id: str
    step: str
    reused: bool
    reason: str
    compared_run: str | None = Field(None, description="The earlier run compared against.")
    changed: list[str] = Field(default_factory=list, description="Components that differ.")
    details: list[str] = Field(default_factory=list, description="Value and code diffs.")


class SubmitPipeline(BaseModel):
    """REST: run a pipeline file (relative to the server root) or an inline spec."""

    model_config = ConfigDict(extra="forbid")

    path: str | None = Field(None, max_length=4096)
    spec: dict[str, Any] | None = None
    only: list[str] = Field(default_factory=list)
    from_step: str | None = None
    to_step: str | None = None
    force_rerun: bool = False


class RerunPipeline(BaseModel):
    model_config = ConfigDict(extra="forbid")

    only: list[str] = Field(default_factory=list)
    from_step: str | None = None
    to_step: str | None = None
