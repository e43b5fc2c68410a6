"""The ``gateway`` compute kind: notebooks run on kernels of a Jupyter Kernel/Enterprise Gateway.

The agent, the job record, tracking and the output notebook stay on this machine; only the
kernel runs on the gateway's machine. Creating or updating a target asks the gateway for its
kernelspecs (a connectivity and auth check), which are recorded so submissions naming a kernel
the gateway lacks are refused at once. The auth token is a secret: it is kept in the workspace's
secret store, never in the target's settings, responses or logs.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote

import requests
from pydantic import Field, SecretStr, field_validator

from mlbench.compute.base import (
    MAX_CPUS,
    MAX_MEMORY_MB,
    MAX_SECONDS,
    Capacity,
    ComputeBackend,
    ComputeConfig,
)
from mlbench.errors import InvalidInputError


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
    prestart_kernels: int = Field(
        1,
        ge=0,
        le=16,
        description="Kernels the agent keeps started ahead on the gateway per kernel name its "
        "jobs use (each still serves one job; deleted when the agent stops; 0: none).",
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
    executor = "mlbench.agent.gateway_executor:GatewayExecutor"
    config_model = GatewayComputeConfig
    description = "A Jupyter Kernel Gateway or Enterprise Gateway: kernels run on its machine."
    secret_fields: ClassVar[tuple[str, ...]] = ("token",)
    # The gateway's kernel cannot see this machine's files, and nothing carries them yet.
    carries_data = False
    runs_commands = False  # a gateway runs kernels, not processes

    def check(self, config: ComputeConfig) -> ComputeConfig:
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


# -- the gateway's REST API (the agent adds the kernels' websocket channels) ----------------
class GatewayError(RuntimeError):
    """The gateway refused or did not answer a request."""


class GatewayConnection:
    """The gateway's REST API (kernelspecs, kernels) with the target's auth and timeouts."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        validate_cert: bool = True,
        timeout_s: float = 10.0,
        kernel_start_timeout_s: float = 120.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.kernel_start_timeout_s = kernel_start_timeout_s
        self.validate_cert = validate_cert
        self.headers = {"Authorization": f"token {token}"} if token else {}
        self._http = requests.Session()
        self._http.headers.update(self.headers)
        self._http.verify = validate_cert

    @classmethod
    def from_config(cls, config: Any) -> GatewayConnection:
        return cls(
            config.url,
            token_of(config),
            validate_cert=config.validate_cert,
            timeout_s=config.connect_timeout_s,
            kernel_start_timeout_s=config.kernel_start_timeout_s,
        )

    def _request(
        self, method: str, path: str, *, timeout: float | None = None, **kwargs: Any
    ) -> requests.Response:
        try:
            response = self._http.request(
                method, f"{self.url}{path}", timeout=timeout or self.timeout_s, **kwargs
            )
        except requests.Timeout:
            raise GatewayError(
                f"the gateway at {self.url} did not answer {method} {path} within "
                f"{timeout or self.timeout_s:g} s"
            ) from None
        except requests.RequestException as exc:
            raise GatewayError(
                f"cannot reach the gateway at {self.url} ({type(exc).__name__})"
            ) from None
        if response.status_code in (401, 403):
            raise GatewayError(
                f"the gateway at {self.url} refused the request ({response.status_code}): "
                "missing or wrong auth token"
            )
        return response

    def kernelspecs(self) -> dict[str, Any]:
        """``{"default": name, "kernelspecs": {name: spec}}``; a clear error when unusable."""
        try:
            response = self._request("GET", "/api/kernelspecs")
        except GatewayError as exc:
            hint = (
                "pass the right token with --token (the gateway's KG_AUTH_TOKEN)"
                if "token" in str(exc)
                else "check the URL and that the gateway runs and is reachable from here"
            )
            raise InvalidInputError(str(exc), hint=hint) from None
        try:
            body = response.json()
            specs = dict(body["kernelspecs"])
        except (ValueError, KeyError, TypeError):
            raise InvalidInputError(
                f"{self.url} answered /api/kernelspecs with HTTP {response.status_code} and "
                "no kernelspecs: it does not look like a Jupyter gateway",
                hint="give the gateway's base URL (e.g. http://host:8888), not a page under it",
            ) from None
        return {"default": body.get("default"), "kernelspecs": specs}

    def start_kernel(self, name: str, env: dict[str, str] | None = None) -> str:
        response = self._request(
            "POST",
            "/api/kernels",
            json={"name": name, "env": env or {}},
            timeout=self.kernel_start_timeout_s,
        )
        if response.status_code >= 300:
            raise GatewayError(
                f"the gateway at {self.url} could not start kernel {name!r}: "
                f"HTTP {response.status_code} {_message(response)}"
            )
        return str(response.json()["id"])

    def kernel_state(self, kernel_id: str) -> dict[str, Any] | None:
        """The kernel's model, or None when the gateway no longer has it."""
        response = self._request("GET", f"/api/kernels/{quote(kernel_id)}")
        if response.status_code == 404:
            return None
        if response.status_code >= 300:
            raise GatewayError(f"HTTP {response.status_code} {_message(response)}")
        return dict(response.json())

    def interrupt(self, kernel_id: str) -> None:
        self._request("POST", f"/api/kernels/{quote(kernel_id)}/interrupt")

    def delete(self, kernel_id: str) -> None:
        self._request("DELETE", f"/api/kernels/{quote(kernel_id)}")

    def channels_url(self, kernel_id: str) -> str:
        base = "ws" + self.url[len("http") :]
        return f"{base}/api/kernels/{quote(kernel_id)}/channels"

    def close(self) -> None:
        self._http.close()


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
        return str(body.get("message") or body.get("reason") or "")
    except ValueError:
        return response.text[:200]
