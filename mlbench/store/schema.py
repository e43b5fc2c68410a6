"""Tables of the metadata database. Every change here needs an Alembic migration."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the offset on its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return (
            value.astimezone(timezone.utc).replace(tzinfo=None)
            if dialect.name == "sqlite"
            else value
        )

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: UTCDateTime}


class ComputeTargetRow(Base):
    __tablename__ = "compute_targets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class JobRow(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_compute_status", "compute", "status"),
        Index("ix_jobs_created", "created_at", "id"),
        Index("ix_jobs_experiment", "experiment"),
        Index("ix_jobs_spec_hash", "spec_hash"),
        Index("ix_jobs_parent", "parent_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(256))
    experiment: Mapped[str] = mapped_column(String(256))
    compute: Mapped[str] = mapped_column(String(64))
    kernel_name: Mapped[str] = mapped_column(String(128))
    notebook_path: Mapped[str] = mapped_column(Text)
    cwd: Mapped[str] = mapped_column(Text)
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    resources: Mapped[dict[str, Any]] = mapped_column(default=dict)
    timeout_s: Mapped[float | None] = mapped_column(Float)
    max_retries: Mapped[int] = mapped_column(Integer, default=0)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    tags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    owner: Mapped[str] = mapped_column(String(128), default="")
    rerun_of: Mapped[str | None] = mapped_column(String(32))

    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str] = mapped_column(Text, default="")
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    agent_id: Mapped[str | None] = mapped_column(String(32))
    kernel_pid: Mapped[int | None] = mapped_column(Integer)
    gpu_ids: Mapped[list[Any]] = mapped_column(default=list)
    mlflow_experiment_id: Mapped[str | None] = mapped_column(String(64))
    mlflow_run_id: Mapped[str | None] = mapped_column(String(64))

    cell_index: Mapped[int | None] = mapped_column(Integer)
    cell_count: Mapped[int | None] = mapped_column(Integer)
    cell_source: Mapped[str | None] = mapped_column(Text)
    cell_started_at: Mapped[datetime | None]

    # data assets bound to the job (see mlbench.data.jobs): [{name, asset, version, ...}]
    inputs: Mapped[list[Any]] = mapped_column(default=list)
    outputs: Mapped[list[Any]] = mapped_column(default=list)

    # the resolved JobSpec as submitted (mlbench.jobs.spec), its content hash, and its parent
    spec: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    spec_hash: Mapped[str | None] = mapped_column(String(64))
    parent_id: Mapped[str | None] = mapped_column(String(64))
    # an early-termination request from its sweep's policy: {policy, interval, value, ...}
    termination: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class SweepRow(Base):
    """A sweep (mlbench.sweeps): its spec, its state, and the best trial so far."""

    __tablename__ = "sweeps"
    __table_args__ = (
        Index("ix_sweeps_compute_status", "compute", "status"),
        Index("ix_sweeps_created", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(256))
    experiment: Mapped[str] = mapped_column(String(256))
    compute: Mapped[str] = mapped_column(String(64))
    notebook_path: Mapped[str] = mapped_column(Text)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str] = mapped_column(Text, default="")
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    owner: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    mlflow_experiment_id: Mapped[str | None] = mapped_column(String(64))
    mlflow_run_id: Mapped[str | None] = mapped_column(String(64))
    trial_count: Mapped[int] = mapped_column(Integer, default=0)
    best_trial: Mapped[int | None] = mapped_column(Integer)
    best_value: Mapped[float | None] = mapped_column(Float)


class SweepTrialRow(Base):
    """One trial of a sweep: the job it ran as, its sampled parameters and its result. The key
    (sweep, index) makes a trial number impossible to give out twice."""

    __tablename__ = "sweep_trials"
    __table_args__ = (Index("ix_sweep_trials_job", "job_id", unique=True),)

    sweep_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    index: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(String(32))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(Float)
    reports: Mapped[int] = mapped_column(Integer, default=0)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    termination: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class JobEventRow(Base):
    """Append-only feed of job changes; readers tail it by ``id`` (REST event stream, widgets)."""

    __tablename__ = "job_events"
    __table_args__ = (Index("ix_job_events_job", "job_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class AgentRow(Base):
    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    compute: Mapped[str] = mapped_column(String(64), index=True)
    host: Mapped[str] = mapped_column(String(256))
    pid: Mapped[int] = mapped_column(Integer)
    version: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    stopped_at: Mapped[datetime | None]


# -- data: datastores, data assets and lineage (mlbench.data) ---------------------------------
class DatastoreRow(Base):
    """A named connection to storage. Credentials are not here: see mlbench.store.secrets."""

    __tablename__ = "datastores"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    credential_names: Mapped[list[Any]] = mapped_column(default=list)
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DataAssetRow(Base):
    """A data asset's name; its content lives in immutable versions."""

    __tablename__ = "data_assets"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    last_version: Mapped[int] = mapped_column(Integer, default=0)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DataVersionRow(Base):
    """One immutable version of a data asset."""

    __tablename__ = "data_versions"
    __table_args__ = (
        UniqueConstraint("name", "version", name="uq_data_versions_name_version"),
        Index("ix_data_versions_hash", "name", "content_hash"),
        Index("ix_data_versions_job", "job_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    format: Mapped[str | None] = mapped_column(String(16))
    datastore: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text)
    stored: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(128))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    file_count: Mapped[int] = mapped_column(Integer)
    columns: Mapped[list[Any] | None] = mapped_column(JSON)
    row_count: Mapped[int | None] = mapped_column(BigInteger)
    preview: Mapped[list[Any] | None] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(128), default="")
    job_id: Mapped[str | None] = mapped_column(String(32))
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class DataManifestRow(Base):
    """A folder's file list (path, size, hash), zlib-compressed JSON, keyed by its tree hash."""

    __tablename__ = "data_manifests"

    content_hash: Mapped[str] = mapped_column(String(128), primary_key=True)
    file_count: Mapped[int] = mapped_column(Integer)
    entries: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class DataLineageRow(Base):
    """An edge between a job and a data version: the job read it (input) or made it (output)."""

    __tablename__ = "data_lineage"
    __table_args__ = (
        Index("ix_data_lineage_version", "version_id"),
        Index("ix_data_lineage_job", "job_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(32))
    direction: Mapped[str] = mapped_column(String(8))
    binding: Mapped[str] = mapped_column(String(128))
    version_id: Mapped[str] = mapped_column(String(32))
    asset_name: Mapped[str] = mapped_column(String(128))
    asset_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]


class EnvironmentRow(Base):
    """One version of an environment (``name:version``); its venv is shared by versions with
    the same lock hash."""

    __tablename__ = "environments"
    __table_args__ = (
        UniqueConstraint("name", "version", name="uq_environments_name_version"),
        Index("ix_environments_name_hash", "name", "lock_hash"),
        Index("ix_environments_spec_key", "name", "spec_key"),
        Index("ix_environments_kernel", "kernel_name"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    spec: Mapped[dict[str, Any]] = mapped_column()
    spec_key: Mapped[str] = mapped_column(String(64))
    lock: Mapped[list[Any]] = mapped_column()
    lock_hash: Mapped[str] = mapped_column(String(64))
    python: Mapped[str] = mapped_column(String(64))
    python_path: Mapped[str] = mapped_column(Text)
    platform: Mapped[str] = mapped_column(String(64))
    kernel_name: Mapped[str] = mapped_column(String(128))
    venv: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    build_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_by: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


# -- schedules and notifications (mlbench.schedules, mlbench.notify) --------------------------
class ScheduleRow(Base):
    """A rule (cron or recurrence in a time zone) that starts a job or a sweep."""

    __tablename__ = "schedules"
    __table_args__ = (Index("ix_schedules_enabled_next", "enabled", "next_fire_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    trigger: Mapped[dict[str, Any]] = mapped_column(JSON)
    action: Mapped[dict[str, Any]] = mapped_column(JSON)
    missed: Mapped[dict[str, Any]] = mapped_column(JSON)
    owner: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # the newest tick the schedulers have dealt with (fired, or recorded as missed)
    last_tick: Mapped[datetime | None]
    next_fire_at: Mapped[datetime | None]


class ScheduleRunRow(Base):
    """One tick of a schedule: fired (the job or sweep it started) or missed. The key
    (schedule, tick) makes a second scheduler's claim of the same tick fail."""

    __tablename__ = "schedule_runs"
    __table_args__ = (
        UniqueConstraint("schedule_id", "tick", name="uq_schedule_runs_tick"),
        Index("ix_schedule_runs_schedule", "schedule_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    schedule_id: Mapped[str] = mapped_column(String(32))
    tick: Mapped[datetime]
    wall: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    scheduler_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    fired_at: Mapped[datetime | None]


class NotificationRuleRow(Base):
    """Which events go where (a webhook, Slack, email). Secrets live in the secret store."""

    __tablename__ = "notification_rules"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    events: Mapped[list[Any]] = mapped_column(JSON)
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    channel: Mapped[str] = mapped_column(String(16))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secret_names: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # the newest job_events id this rule has looked at
    cursor: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class NotificationDeliveryRow(Base):
    """One event sent by one rule, with every attempt; (rule, event) is delivered once."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("rule_id", "event_id", name="uq_notification_deliveries_event"),
        Index("ix_notification_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule_id: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    attempt_log: Mapped[list[Any]] = mapped_column(JSON, default=list)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


# -- pipelines (mlbench.pipelines) ------------------------------------------------------------
class PipelineRunRow(Base):
    """One run of a pipeline: its spec (paths resolved, data inputs exact), its state, and the
    run it reruns."""

    __tablename__ = "pipeline_runs"
    __table_args__ = (
        Index("ix_pipeline_runs_compute_status", "compute", "status"),
        Index("ix_pipeline_runs_created", "created_at", "id"),
        Index("ix_pipeline_runs_name", "name", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    display_name: Mapped[str] = mapped_column(String(256))
    experiment: Mapped[str] = mapped_column(String(256))
    compute: Mapped[str] = mapped_column(String(64))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    selection: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source_run_id: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str] = mapped_column(Text, default="")
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    owner: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    mlflow_experiment_id: Mapped[str | None] = mapped_column(String(64))
    mlflow_run_id: Mapped[str | None] = mapped_column(String(64))


class PipelineStepRow(Base):
    """One step of a pipeline run: the job it ran as (its id reserved before submission), or
    the earlier step whose outputs it reused, with the reuse key and its components."""

    __tablename__ = "pipeline_steps"
    __table_args__ = (
        Index("ix_pipeline_steps_job", "job_id", unique=True),
        Index("ix_pipeline_steps_key", "reuse_key", "status"),
    )

    run_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    compute: Mapped[str] = mapped_column(String(64))
    depends_on: Mapped[list[Any]] = mapped_column(JSON, default=list)
    selected: Mapped[bool] = mapped_column(Boolean, default=True)
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    # a rerun's unselected upstream step: the source run's result, taken as it is
    pinned: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str] = mapped_column(Text, default="")
    job_id: Mapped[str | None] = mapped_column(String(32))
    reuse_key: Mapped[str | None] = mapped_column(String(64))
    components: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reused_from_run: Mapped[str | None] = mapped_column(String(32))
    reused_from_job: Mapped[str | None] = mapped_column(String(32))
    outputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class EndpointRow(Base):
    """An online endpoint: its stable address, key hashes (never the keys), traffic split,
    mirror and request-log sampling rate."""

    __tablename__ = "endpoints"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    host: Mapped[str] = mapped_column(String(128))
    port: Mapped[int] = mapped_column(Integer)
    auth_mode: Mapped[str] = mapped_column(String(16), default="key")
    # {"primary"|"secondary": {"hash": sha256 hex, "prefix": str, "created_at": iso}}
    keys: Mapped[dict[str, Any]] = mapped_column(JSON)
    traffic: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    mirror: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    log_sample_rate: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class EndpointDeploymentRow(Base):
    """A model version served behind an endpoint; ``instances`` is written by its supervisor
    (the processes' ports and pids, or the Ray Serve route)."""

    __tablename__ = "endpoint_deployments"

    endpoint: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(256))
    model_name: Mapped[str] = mapped_column(String(256))
    model_version: Mapped[int] = mapped_column(Integer)
    model_path: Mapped[str] = mapped_column(Text)
    # the signature's input names: a list-of-lists request's columns in the request log
    input_columns: Mapped[list[Any]] = mapped_column(JSON, default=list)
    environment: Mapped[str | None] = mapped_column(String(128))
    python: Mapped[str | None] = mapped_column(Text)
    compute: Mapped[str] = mapped_column(String(64))
    instance_count: Mapped[int] = mapped_column(Integer)
    resources: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    max_batch_size: Mapped[int] = mapped_column(Integer)
    max_wait_ms: Mapped[float] = mapped_column(Float)
    generation: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str] = mapped_column(Text, default="")
    instances: Mapped[list[Any]] = mapped_column(JSON, default=list)
    url: Mapped[str | None] = mapped_column(Text)
    restarts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class EndpointEventRow(Base):
    """What happened to an endpoint: deployments ready, rolled, crashed and restarted."""

    __tablename__ = "endpoint_events"
    __table_args__ = (Index("ix_endpoint_events_endpoint", "endpoint", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    endpoint: Mapped[str] = mapped_column(String(64))
    deployment: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text, default="")


# -- monitors (mlbench.monitoring) -------------------------------------------------------------
class MonitorProfileRow(Base):
    """A reference profile (bin edges and counts, category frequencies), kept once per
    (data version content, features)."""

    __tablename__ = "monitor_profiles"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    profile: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]


class MonitorRow(Base):
    """A monitor: reference, target, features, signals, thresholds (its spec) and schedule."""

    __tablename__ = "monitors"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    schedule_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class MonitorRunRow(Base):
    """One run of a monitor: its verdicts and the MLflow run holding metrics and report."""

    __tablename__ = "monitor_runs"
    __table_args__ = (Index("ix_monitor_runs_monitor", "monitor_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    monitor_id: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    verdict: Mapped[str | None] = mapped_column(String(16))
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    mlflow_run_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
