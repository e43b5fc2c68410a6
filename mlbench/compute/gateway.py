"""The ``gateway`` compute kind: notebooks run on kernels of a Jupyter Kernel/Enterprise Gateway.

The agent, the job record, tracking and the output notebook stay on this machine; only the
kernel runs on the gateway's machine. Creating or updating a target asks the gateway for its
kernelspecs (a connectivity and auth check), which are recorded so submissions naming a kernel
the gateway lacks are refused at once. The auth token is a secret: it is kept in the workspace's
secret store, never in the target's settings, responses or logs.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, SecretStr, field_validator

from mlbench.compute.base import (
    MAX_CPUS,
    MAX_MEMORY_MB,
    MAX_SECONDS,
    Capacity,
    ComputeBackend,
    ComputeConfig,
)


class GatewayComputeConfig(ComputeConfig):
    url: str = Field(description="The gateway's base URL, e.g. 'http://gpu-box:8888'.")
    token: SecretStr | None = Field(
        None,
        exclude=True,  # stored in the secret store, never with the settings
        description="Auth token the gateway expects (KG_AUTH_TOKEN); stored as a secret.",
    )
    validate_cert: bool = Field(True, description="Verify the gateway's TLS certificate.")
    connect_timeout_s: float = Field(
        10.0, gt=0, le=MAX_SECONDS, description="Connecting and each request."
    )
    kernel_start_timeout_s: float = Field(
        120.0,
        gt=0,
        le=MAX_SECONDS,
        description="How long a kernel may take to start on the gateway.",
    )
    kernels: list[str] = Field(
        default_factory=list, description="Kernelspecs the gateway offered when last checked."
    )
    default_kernel: str | None = Field(None, description="The gateway's default kernelspec.")
    cpus: float | None = Field(
        None,
        gt=0,
        le=MAX_CPUS,
        description="CPUs of the gateway's machine that jobs may use "
        "(default: one per job it may run at once).",
    )
    memory_mb: int | None = Field(
        None, gt=0, le=MAX_MEMORY_MB, description="Memory jobs may use there, MiB."
    )
    gpu_ids: list[str] = Field(
        default_factory=list,
        description="GPU ids of the gateway's machine; the agent hands them out per job "
        "(CUDA_VISIBLE_DEVICES in the remote kernel), as on a local target.",
    )

    @field_validator("gpu_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list):
            return [str(v) for v in value]
        return value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value


class GatewayBackend(ComputeBackend):
    kind = "gateway"
    config_model = GatewayComputeConfig
    description = "A Jupyter Kernel Gateway or Enterprise Gateway: kernels run on its machine."
    secret_fields: ClassVar[tuple[str, ...]] = ("token",)
    # The gateway's kernel cannot see this machine's files, and nothing carries them yet.
    carries_data = False

    def check(self, config: ComputeConfig) -> ComputeConfig:
        from mlbench.agent.gateway_client import GatewayConnection

        assert isinstance(config, GatewayComputeConfig)
        specs = GatewayConnection.from_config(config).kernelspecs()
        return config.model_copy(
            update={"kernels": sorted(specs["kernelspecs"]), "default_kernel": specs["default"]}
        )

    def capacity(self, config: ComputeConfig) -> Capacity:
        # A gateway does not describe its machine: what it offers is declared on the target.
        assert isinstance(config, GatewayComputeConfig)
        at_once = config.max_concurrent_jobs or 4
        return Capacity(
            cpus=config.cpus or float(at_once),
            memory_mb=config.memory_mb,
            gpu_ids=config.gpu_ids,
            max_concurrent_jobs=at_once,
        )

    def kernel_names(self, config: ComputeConfig) -> list[str] | None:
        assert isinstance(config, GatewayComputeConfig)
        return list(config.kernels)


def token_of(config: Any) -> str | None:
    token = getattr(config, "token", None)
    return token.get_secret_value() if token is not None else None
