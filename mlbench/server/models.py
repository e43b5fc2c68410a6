"""Request and response models of the REST API (mirrored one-to-one by the TypeScript client).

Core models (``JobInfo``, ``ComputeStatus``, ``RunSummary``...) are reused as they are; the
models here are what only the REST face needs: request bodies, query strings and envelopes.
Every request model forbids unknown fields, so a typo is a 400 naming the field, not a silently
ignored option.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mlbench.compute.service import ComputeStatus
from mlbench.data.models import DatastoreInfo, DataVersionInfo
from mlbench.environments.models import EnvironmentInfo
from mlbench.jobs.models import JobInfo, JobProgress, JobStatus
from mlbench.jobs.parameters import NotebookParameter
from mlbench.jobs.spec import MAX_TAGS, JobSpec, ResourceRequest
from mlbench.models.models import ModelInfo, ModelVersionInfo
from mlbench.notify.models import DeliveryInfo, NotificationInfo, NotificationSpec
from mlbench.pipelines.models import (
    PipelineRunInfo,
    PipelineStatus,
    StepInfo,
)
from mlbench.schedules.models import ScheduleInfo, ScheduleRunInfo, ScheduleSpec
from mlbench.sweeps.models import SweepInfo, SweepSpec, SweepStatus, TrialInfo
from mlbench.validation import FiniteFloat, json_input

MAX_ID = 2**63 - 1  # event ids and offsets are 64-bit integers in the database


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: object) -> object:
        return json_input(data, "the request")  # as the server's JSON parser checks a body


# -- common ------------------------------------------------------------------------------------
class ErrorBody(BaseModel):
    code: str = Field(
        description="Stable machine-readable code, e.g. validation_error, job_not_found, conflict."
    )
    message: str
    hint: str | None = Field(None, description="How to fix it, when there is a known fix.")
    details: dict[str, Any] = Field(
        default_factory=dict,
        description="For validation errors: errors[] with field, message and type.",
    )


class ErrorResponse(BaseModel):
    error: ErrorBody


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    workspace: str
    mlflow_ui_url: str | None = Field(
        None,
        description="The MLflow server to link runs to, when tracking goes to one (http/https).",
    )


# -- compute -----------------------------------------------------------------------------------
class ComputeList(BaseModel):
    items: list[ComputeStatus]


class ComputeKind(BaseModel):
    kind: str
    description: str
    config_schema: dict[str, Any] = Field(description="JSON schema of the kind's settings.")


class ComputeKindList(BaseModel):
    items: list[ComputeKind]


class CreateCompute(Request):
    name: str = Field(description="Letters, digits, '.', '_' or '-'; at most 64.")
    kind: str = "local"
    description: str = Field("", max_length=2000)
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="Settings of the kind (see /compute-kinds), e.g. cpus, gpu_ids, "
        "max_concurrent_jobs, kernel_pool_size, idle_timeout_s.",
    )


class UpdateCompute(Request):
    description: str | None = Field(None, max_length=2000)
    config: dict[str, Any] = Field(
        default_factory=dict, description="Settings to change; null resets one to its default."
    )


# -- kernels and notebooks ---------------------------------------------------------------------
class KernelSpecInfo(BaseModel):
    name: str
    display_name: str
    language: str


class KernelList(BaseModel):
    items: list[KernelSpecInfo]
    default: str | None = Field(None, description="The kernel the server's notebooks default to.")


class NotebookPathQuery(Request):
    path: str = Field(min_length=1, description="Notebook path relative to the server root.")


class NotebookParameters(BaseModel):
    path: str = Field(description="The notebook path, relative to the server root.")
    kernel_name: str | None = Field(None, description="The kernel the notebook names.")
    has_parameters_cell: bool
    parameters: list[NotebookParameter]


# -- jobs --------------------------------------------------------------------------------------
class SubmitJob(JobSpec):
    """The job spec; ``notebook_path``, ``code`` and ``cwd`` are relative to the server root."""


class RerunJob(Request):
    """Changes to the job's spec; fields not given keep the original's values."""

    parameters: dict[str, Any] = Field(
        default_factory=dict, description="Merged over the original job's parameters."
    )
    compute: str | None = Field(None, min_length=1, max_length=64)
    kernel_name: str | None = Field(None, min_length=1, max_length=256)
    resources: ResourceRequest = Field(
        default_factory=ResourceRequest, description="Merged over the original's resources."
    )
    timeout_s: FiniteFloat | None = Field(None, gt=0)
    max_retries: int | None = Field(None, ge=0, le=100)
    tags: dict[str, str] | None = Field(None, max_length=MAX_TAGS)
    experiment: str | None = Field(None, min_length=1, max_length=256)
    display_name: str | None = Field(None, min_length=1, max_length=256)


class ListJobsQuery(Request):
    status: list[JobStatus] = Field(
        default_factory=list, description="Repeat (or comma-separate) to match any of several."
    )
    experiment: str | None = None
    compute: str | None = None
    tag: str | None = Field(None, description="KEY or KEY=VALUE.")
    parent: str | None = Field(None, description="Only this sweep's trials.")
    top_level: bool = Field(False, description="Leave out sweep trials.")
    text: str | None = Field(
        None, max_length=256, description="Matched in name, notebook, experiment and id."
    )
    sort: Literal["-created_at", "created_at"] = Field(
        "-created_at", description="-created_at: newest first; created_at: oldest first."
    )
    limit: int = Field(50, ge=1, le=1000)
    cursor: str | None = Field(None, description="next_cursor of the previous page.")


class Job(JobInfo):
    """A job, with its notebook's path relative to the server root when it lies under it."""

    notebook_relpath: str | None = Field(
        None, description="notebook_path relative to the server root (null when outside it)."
    )


class JobPage(BaseModel):
    items: list[Job]
    next_cursor: str | None = None


class DeleteJobsRequest(Request):
    ids: list[str] = Field(min_length=1, max_length=1000)
    delete_runs: bool = Field(True, description="Also delete (restorably) their MLflow runs.")


class DeleteJobsResult(BaseModel):
    deleted: list[str]


class DeleteJobQuery(Request):
    delete_run: bool = True


class LogsQuery(Request):
    offset: int = Field(
        0, ge=0, le=MAX_ID, description="Byte offset to read from (the last reply's offset)."
    )
    tail: int | None = Field(
        None, ge=0, le=10_000_000, description="Instead of offset: the last N bytes."
    )
    max_bytes: int = Field(
        1024 * 1024,
        ge=1,
        le=16 * 1024 * 1024,
        description="At most this much per reply; read again from the returned offset.",
    )


class JobLogs(BaseModel):
    job_id: str
    text: str
    offset: int = Field(description="Pass as offset to read what comes next.")
    status: JobStatus


class Progress(BaseModel):
    job_id: str
    status: JobStatus
    status_reason: str
    fraction: float = Field(ge=0, le=1, description="Cells done / cells.")
    progress: JobProgress


class CopyOutput(Request):
    path: str | None = Field(
        None,
        min_length=1,
        description="Destination relative to the server root "
        "(default: beside the source notebook, or at the root).",
    )
    overwrite: bool = False


class OutputCopied(BaseModel):
    path: str = Field(description="Where the output notebook now is, relative to the server root.")


class EventsQuery(Request):
    after: int = Field(
        0, ge=0, le=MAX_ID, description="Only events with a larger id (resume point)."
    )
    job_id: str | None = Field(None, description="Only this job's events.")
    limit: int = Field(500, ge=1, le=5000)


class JobEventsQuery(Request):
    after: int = Field(
        0, ge=0, le=MAX_ID, description="Only events with a larger id (resume point)."
    )
    limit: int = Field(500, ge=1, le=5000)


class JobEvent(BaseModel):
    id: int = Field(description="Increasing; resume a stream from the last one seen.")
    job_id: str
    kind: str = Field(description="status (data.status, data.reason...) or progress.")
    data: dict[str, Any]
    created_at: str


class EventPage(BaseModel):
    items: list[JobEvent]
    last_event_id: int = Field(description="The newest event id in the workspace.")


class StreamQuery(Request):
    after: int | None = Field(
        None,
        ge=0,
        le=MAX_ID,
        description="Replay events after this id first (default: only new ones).",
    )
    job_id: list[str] = Field(default_factory=list, description="Only these jobs' events.")


# WebSocket messages of /events/stream (JSON text frames)
class StreamHello(BaseModel):
    """First message: where the live tail starts, and the replay point asked for."""

    type: Literal["hello"]
    last_event_id: int
    after: int | None


class StreamEvent(JobEvent):
    type: Literal["event"]


class StreamOverflow(BaseModel):
    """The client fell too far behind; reload over REST, reconnect with after=last_event_id."""

    type: Literal["overflow"]
    last_event_id: int


class StreamPong(BaseModel):
    type: Literal["pong"]


class StreamPing(BaseModel):
    """Client -> server; answered with a pong."""

    type: Literal["ping"]


# -- experiments and runs ----------------------------------------------------------------------
class ListExperimentsQuery(Request):
    text: str | None = Field(None, max_length=256, description="Part of the name.")
    limit: int = Field(100, ge=1, le=1000)
    cursor: str | None = None


class ListRunsQuery(Request):
    status: str | None = Field(None, description="RUNNING, FINISHED, FAILED or KILLED.")
    job_id: str | None = None
    filter: str | None = Field(
        None, max_length=2000, description="MLflow search filter, e.g. metrics.loss < 0.1."
    )
    sort: str = Field(
        "start_time",
        description="start_time, end_time, run_name, status, metrics.KEY, params.KEY or tags.KEY.",
    )
    order: Literal["asc", "desc"] = "desc"
    limit: int = Field(100, ge=1, le=1000)
    cursor: str | None = None


class MetricHistoryQuery(Request):
    run_id: list[str] = Field(min_length=1, max_length=50, description="Repeat for several runs.")
    key: list[str] = Field(
        default_factory=list, description="Repeat for several; none: every metric of each run."
    )
    max_points: int = Field(1000, ge=4, le=100_000, description="Per series, extremes kept.")


class CompareRunsQuery(Request):
    run_id: list[str] = Field(min_length=1, max_length=50, description="Repeat for each run.")


# -- data (planned) ----------------------------------------------------------------------------
class NotImplementedBody(ErrorResponse):
    """The data routes answer 501 until datastores and data assets land."""


# -- data --------------------------------------------------------------------------------------
class DatastorePage(BaseModel):
    items: list[DatastoreInfo]
    next_cursor: str | None = None


class CreateDatastore(Request):
    name: str = Field(min_length=1, max_length=64)
    kind: str = Field(description="local, s3, azureblob or gcs.")
    description: str = ""
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="Settings of the kind, e.g. {bucket, prefix, endpoint_url} for s3; for "
        "local, {path} relative to the server root.",
    )
    credentials: dict[str, str] = Field(
        default_factory=dict,
        description="Stored apart (0600 file or keyring) and never returned, e.g. "
        "{access_key_id, secret_access_key} for s3, {account_key} for azureblob.",
    )
    read_only: bool = False
    verify: bool = Field(True, description="Refuse to save a datastore that fails its test.")


class ListDataQuery(Request):
    text: str | None = Field(None, description="Part of the asset name.")
    include_archived: bool = False
    limit: int = Field(100, ge=1, le=1000)
    cursor: str | None = Field(None, description="next_cursor of the previous page.")


class ListVersionsQuery(Request):
    include_archived: bool = True
    limit: int = Field(100, ge=1, le=1000)
    cursor: str | None = Field(None, description="next_cursor of the previous page.")


class DataVersionPage(BaseModel):
    items: list[DataVersionInfo]
    next_cursor: str | None = None


class CreateData(Request):
    name: str = Field(min_length=1, max_length=128)
    path: str | None = Field(
        None, description="A file or folder relative to the server root, uploaded to datastore."
    )
    uri: str | None = Field(
        None,
        description="Data already on a datastore, referenced where it is "
        "(datastore://NAME/path, s3://bucket/key, az://container/path).",
    )
    kind: Literal["file", "folder", "table"] | None = Field(
        None, description="Default: table for .csv/.parquet files, else file or folder."
    )
    datastore: str | None = Field(None, description="Default: the workspace's datastore.")
    format: Literal["csv", "parquet"] | None = None
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict, max_length=MAX_TAGS)


class ArchiveData(Request):
    version: int | None = Field(None, ge=1, le=2**31 - 1, description="Default: the whole asset.")
    restore: bool = Field(False, description="Undo an archive.")


class PreviewQuery(Request):
    limit: int = Field(20, ge=0, le=1000, description="Rows of a table (files: 10x this).")


class LineageQuery(Request):
    depth: int = Field(10, ge=1, le=20, description="Jobs away from the version, each way.")


# -- environments ------------------------------------------------------------------------------
class CreateEnvironment(Request):
    """One of requirements, conda_yaml or pyproject; built before the answer (an identical
    spec returns the existing version at once)."""

    name: str = Field(min_length=1, max_length=64, description="Lower case: it names a kernel.")
    requirements: list[str] | None = Field(
        None, max_length=500, description="PEP 508 requirements, e.g. ['numpy>=2', 'pandas']."
    )
    conda_yaml: str | None = Field(
        None,
        max_length=100_000,
        description="A conda environment file's text: its pip: section is used; conda "
        "packages are refused by name.",
    )
    pyproject: str | None = Field(
        None, max_length=100_000, description="A pyproject.toml's text: [project] dependencies."
    )
    python: str | None = Field(
        None, max_length=16, description="Python version among those on the server's machine."
    )
    description: str = Field("", max_length=2000)
    refresh: bool = Field(False, description="Resolve again even if the spec is unchanged.")


class EnvironmentPage(BaseModel):
    items: list[EnvironmentInfo]
    next_cursor: str | None = None


class EnvironmentLogQuery(Request):
    offset: int = Field(0, ge=0, le=2**40, description="offset of the previous answer.")


# -- sweeps ------------------------------------------------------------------------------------
class SubmitSweep(SweepSpec):
    """The sweep spec; ``trial.notebook_path`` and ``trial.cwd`` are relative to the server root.
    Search space expressions are objects (``{"type": "uniform", "min_value": 0, "max_value":
    1}``) or strings (``"uniform(0, 1)"``, ``"choice(16, 32)"``)."""


class Sweep(SweepInfo):
    """A sweep, with its notebook's path relative to the server root when it lies under it."""

    notebook_relpath: str | None = Field(
        None, description="notebook_path relative to the server root (null when outside it)."
    )


class SweepList(BaseModel):
    items: list[Sweep]
    next_cursor: str | None = None


class ListSweepsQuery(Request):
    status: SweepStatus | None = None
    compute: str | None = None
    limit: int = Field(50, ge=1, le=1000)
    cursor: str | None = Field(None, description="next_cursor of the previous page.")


class TrialsQuery(Request):
    status: JobStatus | None = Field(None, description="Only trials in this state.")


class TrialList(BaseModel):
    items: list[TrialInfo] = Field(description="In trial order.")


class DeleteSweepQuery(Request):
    delete_runs: bool = Field(True, description="Also delete (restorably) the MLflow runs.")


# -- schedules and notifications ---------------------------------------------------------------
class CreateSchedule(ScheduleSpec):
    """A schedule; the job's (or the sweep trial's) paths are relative to the server root."""


class ScheduleList(BaseModel):
    items: list[ScheduleInfo] = Field(description="By name.")


class ScheduleRunList(BaseModel):
    items: list[ScheduleRunInfo] = Field(description="Newest tick first.")


class ScheduleRunsQuery(Request):
    limit: int = Field(50, ge=1, le=1000)


class NextTicksQuery(Request):
    count: int = Field(5, ge=1, le=1000)
    after: str | None = Field(
        None, description="ISO time to start from (default now; without offset: the rule's zone)."
    )


class SchedulePreviewQuery(NextTicksQuery):
    cron: str | None = Field(None, max_length=200)
    frequency: Literal["minute", "hour", "day", "week", "month"] | None = None
    interval: int = Field(1, ge=1, le=1000)
    timezone: str = Field("UTC", max_length=64)


class NotificationList(BaseModel):
    items: list[NotificationInfo]


class AddNotification(NotificationSpec):
    """A notification rule; ``secret`` and ``password`` are stored apart, never returned."""


class DeliveryList(BaseModel):
    items: list[DeliveryInfo] = Field(description="Newest first, each with every attempt.")


class DeliveriesQuery(Request):
    limit: int = Field(50, ge=1, le=1000)


# -- pipelines ---------------------------------------------------------------------------------
class SubmitPipeline(Request):
    """Run a pipeline: a file (YAML with Azure ML's pipeline job keys) or an inline spec, its
    notebook and code paths relative to the server root (an inline spec's) or to the file."""

    path: str | None = Field(None, max_length=4096, description="Pipeline file, root-relative.")
    spec: dict[str, Any] | None = Field(None, description="An inline pipeline (the YAML keys).")
    only: list[str] = Field(default_factory=list, description="Run only these steps.")
    from_step: str | None = Field(None, description="Run this step and what is downstream.")
    to_step: str | None = Field(None, description="Run this step and what is upstream.")
    force_rerun: bool = Field(False, description="Run every step (no reuse).")


class RerunPipeline(Request):
    """Rerun a run's snapshots: the selection (upstream steps taken from the run), or without
    one, the steps that did not succeed."""

    only: list[str] = Field(default_factory=list)
    from_step: str | None = None
    to_step: str | None = None


class PipelineRun(PipelineRunInfo):
    """A pipeline run with its steps (in the pipeline's order)."""

    steps: list[StepInfo] = Field(default_factory=list)


class PipelineRunList(BaseModel):
    items: list[PipelineRunInfo]
    next_cursor: str | None = None


class ListPipelinesQuery(Request):
    status: PipelineStatus | None = None
    name: str | None = Field(None, max_length=256, description="Only runs of this pipeline.")
    limit: int = Field(50, ge=1, le=1000)
    cursor: str | None = Field(None, description="next_cursor of the previous page.")


class StepList(BaseModel):
    items: list[StepInfo] = Field(description="In the pipeline's order.")


class DeletePipelineQuery(Request):
    delete_runs: bool = Field(True, description="Also delete (restorably) the MLflow runs.")


# -- models ------------------------------------------------------------------------------------
class RegisterModel(Request):
    name: str = Field(min_length=1, max_length=128, description="The registered model's name.")
    job_id: str | None = Field(None, description="Register the model this job's run logged.")
    run_id: str | None = Field(None, description="... or the model an MLflow run logged.")
    path: str | None = Field(None, description="Which model of the run, when it logged several.")
    alias: str | None = Field(None, description="Give the new version this alias.")
    description: str = Field("", max_length=5000)
    tags: dict[str, str] = Field(default_factory=dict, max_length=MAX_TAGS)


class SetAlias(Request):
    version: int = Field(ge=1)


class ModelList(BaseModel):
    items: list[ModelInfo]


class ModelVersionList(BaseModel):
    items: list[ModelVersionInfo]
