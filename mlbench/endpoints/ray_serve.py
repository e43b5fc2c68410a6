"""Endpoint deployments on a Ray target: Ray Serve applications answering like the scoring server.

:func:`deploy` runs one Serve application per deployment, routed at ``/<app_name>`` on Serve's
HTTP proxy (bound to 127.0.0.1), with a fixed number of replicas or Serve's autoscaling. Each
replica loads the model once and answers ``/ping``, ``/health``, ``/metadata`` and
``/invocations`` with the scoring server's parsing and answers (:mod:`mlbench.endpoints.scoring`);
concurrent requests are merged by ``@serve.batch`` and then grouped by what can be concatenated
(:mod:`mlbench.endpoints.batching`).

The model folder travels with the deployment (packed into its init arguments), so replicas on
other nodes need no shared filesystem; they need mlbench and the model's libraries installed.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import ray
from ray import serve
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mlbench.endpoints.batching import Outcome, group, merge_key, predict_together, rows
from mlbench.errors import InvalidInputError, NotFoundError

logger = logging.getLogger(__name__)

DEFAULT_HTTP_PORT = 8000
APP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def _pack(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(folder, arcname="model")
    return buffer.getvalue()


@serve.deployment(name="model", max_ongoing_requests=256)
class ModelDeployment:
    """One replica: the model loaded once, MLflow's protocol, batched predictions."""

    def __init__(self, packed_model: bytes, max_batch_size: int, max_wait_ms: float) -> None:
        from mlbench.endpoints.scoring import ScoringModel, model_description, read_model_metadata

        self._folder = tempfile.TemporaryDirectory(prefix="mlbench-model-")
        with tarfile.open(fileobj=io.BytesIO(packed_model), mode="r:gz") as archive:
            archive.extractall(self._folder.name, filter="data")
        path = str(Path(self._folder.name) / "model")
        self.model = ScoringModel(path)
        self.description = model_description(read_model_metadata(path))
        self.max_rows = max_batch_size
        self.batched.set_max_batch_size(max_batch_size)
        self.batched.set_batch_wait_timeout_s(max_wait_ms / 1000)

    @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.002)
    async def batched(self, inputs: list[tuple[Any, dict[str, Any] | None]]) -> list[Outcome]:
        """Serve's batch, split into groups that concatenate, each predicted in one call."""
        keys = [merge_key(data, params) for data, params in inputs]
        outcomes: list[Outcome] = [Outcome()] * len(inputs)
        for members in group(keys, [rows(data) for data, _ in inputs], self.max_rows):
            results, _calls = await asyncio.to_thread(
                predict_together, self.model.predict, [inputs[i] for i in members]
            )
            for index, outcome in zip(members, results, strict=True):
                outcomes[index] = outcome
        return outcomes

    async def __call__(self, request: Request) -> Response:
        path = request.url.path.removeprefix(request.scope.get("root_path", "")) or "/"
        if request.method == "GET" and path in ("/ping", "/health"):
            return Response("\n", media_type="application/json")
        if request.method == "GET" and path == "/metadata":
            return JSONResponse(self.description)
        if path != "/invocations":
            return JSONResponse({"error": f"no route {path}"}, 404)
        if request.method != "POST":
            return JSONResponse({"error": "POST /invocations"}, 405)
        body = await request.body()
        parsed = self.model.parse_or_answer(body, request.headers.get("content-type"))
        if isinstance(parsed, Response):
            return parsed
        outcome = await self.batched((parsed.data, parsed.params))
        if outcome.error is not None:
            return self.model.error_answer(parsed.data, outcome.error)
        return Response(
            self.model.answer(outcome.value, parsed.unified_llm), media_type="application/json"
        )


def _connect(address: str) -> None:
    if ray.is_initialized():
        connected = ray.get_runtime_context().gcs_address
        if connected != address:
            raise InvalidInputError(
                f"this process is connected to the Ray cluster at {connected}, not {address}",
                hint="deploy to one Ray target per process",
            )
        return
    ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)


def _http_port(default: int) -> int:
    """The port of Serve's proxy: started here on 127.0.0.1 if Serve is not running yet."""
    serve.start(http_options={"host": "127.0.0.1", "port": default})
    # Serve keeps the options it was first started with; its client knows them.
    client = serve.context._get_global_client()
    return int(client.http_config.port)


def deploy(
    address: str,
    app_name: str,
    model_path: str | Path,
    *,
    replicas: int | None = None,
    autoscaling: dict[str, Any] | None = None,
    max_batch_size: int = 64,
    max_wait_ms: float = 2.0,
    num_cpus: float = 1.0,
    num_gpus: float = 0.0,
    http_port: int = DEFAULT_HTTP_PORT,
) -> str:
    """Run (or update) the Serve application ``app_name``; returns its URL once it is ready.

    ``replicas`` (a fixed count) or ``autoscaling`` (Serve's ``autoscaling_config``:
    ``min_replicas``, ``max_replicas``, ``target_ongoing_requests``...), not both; neither
    means one replica.
    """
    if not APP_NAME.match(app_name):
        raise InvalidInputError(
            f"{app_name!r} cannot name a Ray Serve application",
            hint="use letters, digits, '.', '_' and '-' (at most 100, starting with a letter or "
            "digit)",
        )
    if replicas is not None and autoscaling is not None:
        raise InvalidInputError(
            "a Ray deployment takes replicas or autoscaling, not both",
            hint="give a fixed replica count, or an autoscaling dict (min_replicas, max_replicas)",
        )
    if replicas is not None and replicas < 1:
        raise InvalidInputError(f"replicas must be at least 1, got {replicas}")
    if max_batch_size < 1 or max_wait_ms < 0:
        raise InvalidInputError(
            f"max_batch_size must be at least 1 and max_wait_ms 0 or more, got {max_batch_size} "
            f"and {max_wait_ms}"
        )
    folder = Path(model_path)
    if not (folder / "MLmodel").is_file():
        raise InvalidInputError(
            f"{folder} is not an MLflow model folder (no MLmodel file in it)",
            hint="resolve the model version to its local folder first",
        )
    _connect(address)
    port = _http_port(http_port)
    options: dict[str, Any] = {"ray_actor_options": {"num_cpus": num_cpus, "num_gpus": num_gpus}}
    if autoscaling is not None:
        options["autoscaling_config"] = autoscaling
    else:
        options["num_replicas"] = replicas or 1
    app = ModelDeployment.options(**options).bind(_pack(folder), max_batch_size, max_wait_ms)
    serve.run(app, name=app_name, route_prefix=f"/{app_name}")
    return f"http://127.0.0.1:{port}/{app_name}"


def undeploy(address: str, app_name: str) -> None:
    """Delete the Serve application ``app_name`` (its replicas drain first); none is fine."""
    _connect(address)
    serve.delete(app_name)


def _text(state: Any) -> str:
    """A Serve status as text (an enum in some places, already its value in others)."""
    return str(getattr(state, "value", state))


def status(address: str, app_name: str) -> dict[str, Any]:
    """The application's Serve status and its replicas' states, e.g. ``{"status": "RUNNING",
    "message": "", "deployments": {"model": {"status": "HEALTHY", "replicas": {"RUNNING": 2}}}}``.
    """
    _connect(address)
    application = serve.status().applications.get(app_name)
    if application is None:
        raise NotFoundError(f"no Ray Serve application named {app_name!r} at {address}")
    return {
        "status": _text(application.status),
        "message": application.message,
        "deployments": {
            name: {
                "status": _text(deployment.status),
                "message": deployment.message,
                "replicas": {
                    _text(state): count for state, count in deployment.replica_states.items()
                },
            }
            for name, deployment in application.deployments.items()
        },
    }
