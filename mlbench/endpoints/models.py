"""Pydantic models of endpoints and deployments as every face reports them."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, Field


class DeploymentState(str, Enum):
    creating = "creating"  # its processes are starting (or its Ray app is being deployed)
    ready = "ready"
    updating = "updating"  # a roll: the new processes start while the old ones serve
    failed = "failed"


class DeploymentMetrics(BaseModel):
    """What the router measured for one deployment since it started."""

    requests: int = 0
    errors: int = Field(0, description="5xx answers and requests that reached no process.")
    client_errors: int = Field(0, description="4xx answers (bad input).")
    mirrored: int = Field(0, description="Mirrored copies sent to it (not in requests).")
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    requests_per_s: float = Field(0.0, description="Over the last 10 s.")


class DeploymentSpec(BaseModel):
    """What ``deploy`` takes: a model version and how to serve it."""

    name: str = Field(description="The deployment's name, unique in its endpoint (e.g. blue).")
    model: str = Field(description="NAME:VERSION or NAME@ALIAS (resolved to a version now).")
    environment: str | None = Field(
        None, description="An environment (NAME or NAME:VERSION) to serve in; default mlbench's."
    )
    compute: str = Field("local", description="A local or Ray compute target.")
    instance_count: int = Field(1, ge=1, le=64)
    resources: dict[str, Any] = Field(
        default_factory=dict, description="cpus / gpus per instance (Ray: num_cpus, num_gpus)."
    )
    max_batch_size: int = Field(64, ge=1, le=4096)
    max_wait_ms: float = Field(2.0, ge=0, le=1000)


class DeploymentInfo(DeploymentSpec):
    model_name: str
    model_version: int
    generation: int = Field(description="Bumped by each roll (a new deploy of this name).")
    state: DeploymentState
    status_reason: str = ""
    instances: int = Field(0, description="Processes (or Ray replicas) ready now.")
    restarts: int = 0
    url: str | None = Field(None, description="A Ray Serve route (Ray targets).")
    metrics: DeploymentMetrics | None = None
    created_at: datetime
    updated_at: datetime


class KeyInfo(BaseModel):
    """A key as shown after creation: its first characters only."""

    prefix: str
    created_at: datetime


class EndpointKeys(BaseModel):
    """Both keys in full: returned once, by create and by regenerate, never again."""

    primary: str
    secondary: str


class EndpointInfo(BaseModel):
    name: str
    description: str = ""
    url: str = Field(description="POST scoring requests here (also /invocations).")
    host: str
    port: int
    auth_mode: str = "key"
    keys: dict[str, KeyInfo] = Field(description="primary / secondary, masked.")
    traffic: dict[str, int] = Field(description="deployment -> percent (sums to 100).")
    mirror: dict[str, int] = Field(
        default_factory=dict, description="deployment -> percent of requests copied to it."
    )
    log_sample_rate: float
    deployments: list[DeploymentInfo] = Field(default_factory=list)
    router_ready: bool = False
    created_at: datetime
    updated_at: datetime


class EndpointCreated(EndpointInfo):
    """The creation answer: the endpoint and, this once, its keys."""

    secrets: EndpointKeys


class EndpointList(BaseModel):
    items: list[EndpointInfo]


class EndpointEvent(BaseModel):
    at: datetime
    deployment: str | None
    kind: str
    message: str


class EndpointCreate(BaseModel):
    name: str
    description: str = ""
    host: str = "127.0.0.1"
    port: int | None = Field(None, ge=1, le=65535, description="Default: a free port.")
    log_sample_rate: float = Field(0.0, ge=0, le=1)


class TrafficUpdate(BaseModel):
    traffic: dict[str, int] | None = Field(None, description="Weights summing to 100.")
    mirror: dict[str, int] | None = Field(None, description="{deployment: percent}; {} stops.")
    log_sample_rate: float | None = Field(None, ge=0, le=1)


class RegenerateKey(BaseModel):
    key: str = Field(description="primary or secondary")


class RegeneratedKey(BaseModel):
    """A regenerated key in full: shown this once; the other key keeps working."""

    key: str = Field(description="primary or secondary")
    value: str
    prefix: str


class DeployRequest(DeploymentSpec):
    traffic: int | None = Field(
        None, ge=0, le=100, description="Give it this percent (the others scaled down)."
    )


class EndpointEventList(BaseModel):
    items: list[EndpointEvent]


class DeploymentLogs(BaseModel):
    text: str


class InvokeRequest(BaseModel):
    """A test request sent through the endpoint's router, as a client would."""

    key: str = Field(description="The endpoint's primary or secondary key.")
    body: Any = Field(description="JSON in one of MLflow's formats (dataframe_split, ...).")
    deployment: str | None = Field(None, description="Target this deployment (even at 0 %).")


class InvokeResponse(BaseModel):
    answer: Any
