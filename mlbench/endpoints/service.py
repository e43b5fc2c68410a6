"""``ws.endpoints``: online endpoints (a stable URL with keys), deployments and traffic.

The service only records what is wanted; the agent's :class:`EndpointSupervisor` runs it
(router and scoring processes, or Ray Serve apps) and writes back what runs.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from mlbench._ids import utcnow
from mlbench.endpoints.config import (
    admin_token,
    config_path,
    endpoint_dir,
    write_router_config,
)
from mlbench.endpoints.keys import KEY_NAMES, key_record, new_key
from mlbench.endpoints.models import (
    DeploymentInfo,
    DeploymentMetrics,
    DeploymentSpec,
    DeploymentState,
    EndpointCreated,
    EndpointEvent,
    EndpointInfo,
    EndpointKeys,
    KeyInfo,
    RegeneratedKey,
)
from mlbench.errors import ConflictError, InvalidInputError, NotFoundError, WaitTimeoutError
from mlbench.store.schema import EndpointDeploymentRow, EndpointEventRow, EndpointRow
from mlbench.validation import check_name

if TYPE_CHECKING:
    from mlbench.workspace import Workspace

log = logging.getLogger(__name__)

# Routers run under the agent of this target (an endpoint's address is on this machine).
ROUTER_COMPUTE = "local"
MIRROR_MAX_PERCENT = 50  # as Azure: a mirror is a sample, not a second copy of all traffic
ASSET_SUFFIX = "-requests"
CONFIG_WAIT_S = 10.0  # the router reads its config every 0.1 s; this only bounds a stuck one


class EndpointNotFoundError(NotFoundError):
    code = "endpoint_not_found"


class DeploymentNotFoundError(NotFoundError):
    code = "deployment_not_found"


class Endpoints:
    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    # -- endpoints -----------------------------------------------------------------------------
    def create(
        self,
        name: str,
        *,
        description: str = "",
        host: str = "127.0.0.1",
        port: int | None = None,
        log_sample_rate: float = 0.0,
    ) -> EndpointCreated:
        """A new endpoint with fresh keys, returned in full this once."""
        check_name(name, "endpoint")
        _check_rate(log_sample_rate)
        _check_host(host)
        with self._ws.db.session() as s:
            if s.get(EndpointRow, name) is not None:
                raise ConflictError(
                    f"endpoint {name!r} already exists",
                    hint=f"deploy to it (mlbench endpoint deploy {name} ...) or pick another name",
                )
            taken = {p for p in s.scalars(select(EndpointRow.port))}
        if port is None:
            port = _free_port(host, taken)
        elif port in taken or not _port_free(host, port):
            raise ConflictError(
                f"port {port} on {host} is in use", hint="leave --port out to get a free one"
            )
        now = utcnow()
        primary, secondary = new_key(), new_key()
        with self._ws.db.write() as s:
            s.add(
                EndpointRow(
                    name=name,
                    description=description,
                    host=host,
                    port=port,
                    auth_mode="key",
                    keys={
                        "primary": key_record(primary, now),
                        "secondary": key_record(secondary, now),
                    },
                    traffic={},
                    mirror={},
                    log_sample_rate=log_sample_rate,
                    created_at=now,
                    updated_at=now,
                )
            )
        admin_token(self._ws, name)
        self._event(name, None, "created", f"endpoint at http://{host}:{port}")
        self._changed(name, ROUTER_COMPUTE)
        info = self.show(name, metrics=False)
        return EndpointCreated(
            **info.model_dump(), secrets=EndpointKeys(primary=primary, secondary=secondary)
        )

    def list(self) -> list[EndpointInfo]:
        with self._ws.db.session() as s:
            names = list(s.scalars(select(EndpointRow.name).order_by(EndpointRow.name)))
        return [self.show(n, metrics=False) for n in names]

    def show(self, name: str, *, metrics: bool = True) -> EndpointInfo:
        """The endpoint, its deployments and (``metrics``) what its router measured."""
        with self._ws.db.session() as s:
            ep = self._endpoint(s, name)
            deps = s.scalars(
                select(EndpointDeploymentRow)
                .where(EndpointDeploymentRow.endpoint == name)
                .order_by(EndpointDeploymentRow.created_at)
            ).all()
        measured = self.metrics(name) if metrics else None
        return EndpointInfo(
            name=ep.name,
            description=ep.description,
            url=f"{self.base_url(ep)}/score",
            host=ep.host,
            port=ep.port,
            auth_mode=ep.auth_mode,
            keys={
                k: KeyInfo(
                    prefix=v["prefix"] + "…", created_at=datetime.fromisoformat(v["created_at"])
                )
                for k, v in ep.keys.items()
            },
            traffic=dict(ep.traffic),
            mirror=dict(ep.mirror),
            log_sample_rate=ep.log_sample_rate,
            deployments=[_deployment_info(d, measured) for d in deps],
            router_ready=measured is not None,
            created_at=ep.created_at,
            updated_at=ep.updated_at,
        )

    @staticmethod
    def base_url(ep: EndpointRow) -> str:
        host = "127.0.0.1" if ep.host in ("0.0.0.0", "") else ep.host
        return f"http://{host}:{ep.port}"

    def metrics(self, name: str) -> dict[str, DeploymentMetrics] | None:
        """Per-deployment metrics from the running router (None while it does not answer)."""
        answer = self._router_get(name)
        if answer is None:
            return None
        return {k: DeploymentMetrics(**v) for k, v in answer["deployments"].items()}

    def delete(self, name: str, *, wait: bool = True, timeout: float = 60.0) -> None:
        """Delete the endpoint: its router and deployments drain and stop; its request log
        (the data asset) stays."""
        with self._ws.db.write() as s:
            ep = self._endpoint(s, name)
            computes = set(
                s.scalars(
                    select(EndpointDeploymentRow.compute).where(
                        EndpointDeploymentRow.endpoint == name
                    )
                )
            )
            s.execute(delete(EndpointDeploymentRow).where(EndpointDeploymentRow.endpoint == name))
            s.delete(ep)
        self._event(name, None, "deleted", "")
        for compute in {ROUTER_COMPUTE, *computes}:
            self._wake(compute)
        if wait:
            self._wait_gone(name, timeout)

    # -- deployments ---------------------------------------------------------------------------
    def deploy(
        self,
        endpoint: str,
        name: str,
        model: str,
        *,
        environment: str | None = None,
        compute: str = ROUTER_COMPUTE,
        instance_count: int = 1,
        resources: dict[str, Any] | None = None,
        max_batch_size: int = 64,
        max_wait_ms: float = 2.0,
        traffic: int | None = None,
        wait: bool = True,
        timeout: float = 180.0,
    ) -> DeploymentInfo:
        """Create deployment ``name``, or roll it to a new model/settings (its new processes
        become ready before the old ones drain). ``model`` is resolved to a version now.
        ``traffic``: give it that percent, taken from the others in proportion (the first
        deployment of an endpoint gets 100 anyway)."""
        check_name(name, "deployment")
        spec = DeploymentSpec(
            name=name,
            model=model,
            environment=environment,
            compute=compute,
            instance_count=instance_count,
            resources=resources or {},
            max_batch_size=max_batch_size,
            max_wait_ms=max_wait_ms,
        )
        target = self._ws.compute.get(spec.compute)
        if target.kind not in ("local", "ray"):
            raise InvalidInputError(
                f"compute target {spec.compute!r} is a {target.kind} target: deployments run "
                "on a local or Ray target",
                hint="deploy with --compute local, or a Ray target",
            )
        version = self._ws.models.info(spec.model)
        python = None
        if spec.environment:
            from pathlib import Path

            env = self._ws.environments.resolve(spec.environment)
            python = str(Path(env.venv) / "bin" / "python")
            _check_serving_environment(python, env.ref)
        with self._ws.db.session() as s:
            self._endpoint(s, endpoint)
        columns = [
            c.get("name") for c in ((version.signature or {}).get("inputs") or []) if c.get("name")
        ]
        path = self._model_folder(version.name, version.version)
        now = utcnow()
        with self._ws.db.write() as s:
            ep = self._endpoint(s, endpoint)
            row = s.get(EndpointDeploymentRow, (endpoint, name))
            values = dict(
                model=spec.model,
                model_name=version.name,
                model_version=version.version,
                model_path=str(path),
                input_columns=columns,
                environment=spec.environment,
                python=python,
                compute=spec.compute,
                instance_count=spec.instance_count,
                resources=spec.resources,
                max_batch_size=spec.max_batch_size,
                max_wait_ms=spec.max_wait_ms,
                status_reason="",
                updated_at=now,
            )
            if row is None:
                row = EndpointDeploymentRow(
                    endpoint=endpoint,
                    name=name,
                    generation=1,
                    state=DeploymentState.creating.value,
                    instances=[],
                    url=None,
                    restarts=0,
                    created_at=now,
                    **values,
                )
                s.add(row)
                rolled = False
            else:
                if row.compute != spec.compute:
                    raise ConflictError(
                        f"deployment {name!r} runs on {row.compute!r}",
                        hint="deploy to another name on the new target, then shift traffic",
                    )
                for k, v in values.items():
                    setattr(row, k, v)
                row.generation += 1
                row.state = DeploymentState.updating.value
                rolled = True
            weights = dict(ep.traffic)
            if not weights:
                weights = {name: 100}
            elif traffic is not None:
                weights = _give(weights, name, traffic)
            else:
                weights.setdefault(name, 0)
            _check_traffic(weights, {*weights, name})
            ep.traffic = weights
            ep.updated_at = now
        what = "rolled to" if rolled else "deployed"
        self._event(endpoint, name, "rolled" if rolled else "deployed", f"{what} {version.ref}")
        self._changed(endpoint, spec.compute)
        if wait:
            return self.wait_ready(endpoint, name, timeout=timeout)
        return self.deployment(endpoint, name)

    def deployment(self, endpoint: str, name: str) -> DeploymentInfo:
        with self._ws.db.session() as s:
            return _deployment_info(self._deployment(s, endpoint, name), None)

    def wait_ready(self, endpoint: str, name: str, *, timeout: float = 180.0) -> DeploymentInfo:
        """Wait until the deployment's current generation serves (and the router sees it)."""
        deadline = time.monotonic() + timeout
        while True:
            info = self.deployment(endpoint, name)
            if info.state == DeploymentState.failed:
                raise ConflictError(
                    f"deployment {endpoint}/{name} failed: {info.status_reason}",
                    hint=f"see its log: mlbench endpoint logs {endpoint} {name}",
                )
            if info.state == DeploymentState.ready and self._router_sees(endpoint, name):
                return info
            if time.monotonic() > deadline:
                raise WaitTimeoutError(
                    f"deployment {endpoint}/{name} is not ready after {timeout:g} s "
                    f"({info.state.value})",
                    hint=f"see its log: mlbench endpoint logs {endpoint} {name}",
                )
            time.sleep(0.2)

    def _router_sees(self, endpoint: str, name: str) -> bool:
        answer = self._router_get(endpoint)
        return answer is not None and bool(answer["serving"].get(name))

    def delete_deployment(self, endpoint: str, name: str) -> None:
        """Remove a deployment that takes no traffic (it drains, then stops)."""
        with self._ws.db.write() as s:
            ep = self._endpoint(s, endpoint)
            row = self._deployment(s, endpoint, name)
            if ep.traffic.get(name, 0) > 0:
                raise ConflictError(
                    f"deployment {name!r} takes {ep.traffic[name]}% of {endpoint}'s traffic",
                    hint=f"shift it first: mlbench endpoint traffic {endpoint} OTHER=100",
                )
            if name in ep.mirror:
                raise ConflictError(
                    f"deployment {name!r} receives mirrored traffic",
                    hint=f"stop mirroring first: mlbench endpoint traffic {endpoint} --mirror ''",
                )
            ep.traffic = {k: v for k, v in ep.traffic.items() if k != name}
            ep.updated_at = utcnow()
            compute = row.compute
            s.delete(row)
        self._event(endpoint, name, "deleted", "")
        self._changed(endpoint, compute)

    def logs(self, endpoint: str, name: str, *, tail: int = 200) -> str:
        """The last lines of the deployment's processes' output."""
        with self._ws.db.session() as s:
            self._deployment(s, endpoint, name)
        folder = endpoint_dir(self._ws, endpoint) / "deployments" / name
        parts = []
        for path in sorted(folder.glob("*.log")):
            lines = path.read_text(errors="replace").splitlines()[-tail:]
            parts.append(f"==> {path.stem} <==\n" + "\n".join(lines))
        return "\n".join(parts)

    def events(self, endpoint: str, *, limit: int = 100) -> list[EndpointEvent]:
        with self._ws.db.session() as s:
            rows = s.scalars(
                select(EndpointEventRow)
                .where(EndpointEventRow.endpoint == endpoint)
                .order_by(EndpointEventRow.id.desc())
                .limit(limit)
            ).all()
            return [
                EndpointEvent(at=r.at, deployment=r.deployment, kind=r.kind, message=r.message)
                for r in reversed(rows)
            ]

    # -- traffic and keys ----------------------------------------------------------------------
    def set_traffic(
        self,
        endpoint: str,
        traffic: dict[str, int] | None = None,
        *,
        mirror: dict[str, int] | None = None,
        log_sample_rate: float | None = None,
    ) -> EndpointInfo:
        """New weights (summing to 100), mirror ``{deployment: percent}`` and sampling rate;
        the router takes them in whole, between two requests."""
        with self._ws.db.write() as s:
            ep = self._endpoint(s, endpoint)
            names = set(
                s.scalars(
                    select(EndpointDeploymentRow.name).where(
                        EndpointDeploymentRow.endpoint == endpoint
                    )
                )
            )
            weights = dict(ep.traffic) if traffic is None else {**traffic}
            if traffic is not None:
                weights = {**{n: 0 for n in names}, **traffic}
            _check_traffic(weights, names)
            mirrors = dict(ep.mirror) if mirror is None else {**mirror}
            _check_mirror(mirrors, names, weights)
            if log_sample_rate is not None:
                _check_rate(log_sample_rate)
                ep.log_sample_rate = log_sample_rate
            ep.traffic, ep.mirror, ep.updated_at = weights, mirrors, utcnow()
        self._event(endpoint, None, "traffic", json.dumps({"traffic": weights, "mirror": mirrors}))
        self._changed(endpoint, ROUTER_COMPUTE)
        return self.show(endpoint, metrics=False)

    def regenerate_key(self, endpoint: str, key: str) -> RegeneratedKey:
        """A new primary or secondary key (shown this once); the other keeps working, so
        clients move to it first and nothing fails meanwhile."""
        if key not in KEY_NAMES:
            raise InvalidInputError(f"no key {key!r}", hint="regenerate primary or secondary")
        value = new_key()
        with self._ws.db.write() as s:
            ep = self._endpoint(s, endpoint)
            ep.keys = {**ep.keys, key: key_record(value, utcnow())}
            ep.updated_at = utcnow()
        self._event(endpoint, None, "key_regenerated", key)
        self._changed(endpoint, ROUTER_COMPUTE)
        return RegeneratedKey(key=key, value=value, prefix=value[:6])

    # -- using it ------------------------------------------------------------------------------
    def invoke(
        self,
        endpoint: str,
        body: dict[str, Any] | list[Any] | str | bytes,
        *,
        key: str,
        deployment: str | None = None,
        content_type: str | None = None,
        timeout: float = 60.0,
    ) -> Any:
        """POST ``body`` (JSON, or CSV text with ``content_type='text/csv'``) to the endpoint;
        the answer's JSON. ``deployment`` targets one (the azureml-model-deployment header)."""
        import httpx

        with self._ws.db.session() as s:
            url = self.base_url(self._endpoint(s, endpoint))
        for what, value in (("key", key), ("deployment", deployment or "")):
            # both travel in HTTP headers: printable ASCII only (a key is URL-safe base64)
            if not (value.isascii() and value.isprintable()) or any(c.isspace() for c in value):
                raise InvalidInputError(
                    f"the {what} holds characters an HTTP header cannot carry",
                    hint="give the endpoint's key as it was shown"
                    if what == "key"
                    else "give a deployment's name (mlbench endpoint show)",
                )
        headers = {"Authorization": f"Bearer {key}"}
        if deployment:
            headers["azureml-model-deployment"] = deployment
        if isinstance(body, (dict, list)):
            content = json.dumps(body).encode()
            headers["Content-Type"] = content_type or "application/json"
        else:
            content = body.encode() if isinstance(body, str) else body
            headers["Content-Type"] = content_type or "application/json"
        try:
            resp = httpx.post(f"{url}/score", content=content, headers=headers, timeout=timeout)
        except httpx.HTTPError as exc:
            raise ConflictError(
                f"endpoint {endpoint!r} does not answer at {url}: {exc}",
                hint=f"see mlbench endpoint show {endpoint}; the local agent runs it",
            ) from None
        try:
            answer = resp.json()
        except ValueError:
            answer = {"message": resp.text}
        if resp.status_code == 401:
            raise InvalidInputError(
                f"endpoint {endpoint!r} refused the key", hint="use its primary or secondary key"
            )
        if resp.status_code >= 400:
            message = answer.get("message") if isinstance(answer, dict) else None
            err = InvalidInputError if resp.status_code < 500 else ConflictError
            raise err(f"endpoint {endpoint!r} answered {resp.status_code}: {message or answer}")
        return answer

    def request_log(
        self, endpoint: str, since: datetime | None = None, until: datetime | None = None
    ) -> list[str]:
        """Refs (``NAME:VERSION``) of the request-log versions whose hour overlaps
        [since, until); each version is one UTC hour of sampled requests."""
        asset = f"{endpoint}{ASSET_SUFFIX}"
        if not any(a.name == asset for a in self._ws.data.list()):
            return []
        out = []
        for v in self._ws.data.versions(asset):
            hour = v.tags.get("mlbench.hour")
            if not hour:
                continue
            start = datetime.strptime(hour, "%Y-%m-%dT%H").replace(tzinfo=timezone.utc)
            end = start.replace(minute=59, second=59, microsecond=999999)
            if (since is None or end >= since) and (until is None or start < until):
                out.append(v)
        # the newest version of each hour covers all of that hour's files
        newest: dict[str, Any] = {}
        for v in out:
            h = v.tags["mlbench.hour"]
            if h not in newest or v.version > newest[h].version:
                newest[h] = v
        return [newest[h].ref for h in sorted(newest)]

    # -- helpers -------------------------------------------------------------------------------
    def _model_folder(self, name: str, version: int) -> Any:
        from mlbench.tracking.registry import Registry, RegistryError

        dest = self._ws.home / "endpoints" / ".models" / name / str(version)
        done = dest / ".complete"
        if done.exists():
            return done.read_text()
        if dest.exists():
            shutil.rmtree(dest)
        try:
            path = Registry(self._ws.tracking).download(name, str(version), dest)
        except RegistryError as exc:
            raise InvalidInputError(str(exc)) from None
        done.write_text(str(path))
        return str(path)

    def _endpoint(self, s: Any, name: str) -> EndpointRow:
        row = s.get(EndpointRow, name)
        if row is None:
            raise EndpointNotFoundError(
                f"endpoint {name!r} does not exist", hint="list them: mlbench endpoint list"
            )
        return row

    def _deployment(self, s: Any, endpoint: str, name: str) -> EndpointDeploymentRow:
        self._endpoint(s, endpoint)
        row = s.get(EndpointDeploymentRow, (endpoint, name))
        if row is None:
            raise DeploymentNotFoundError(
                f"endpoint {endpoint!r} has no deployment {name!r}",
                hint=f"see its deployments: mlbench endpoint show {endpoint}",
            )
        return row

    def _event(self, endpoint: str, deployment: str | None, kind: str, message: str) -> None:
        record_event(self._ws, endpoint, deployment, kind, message)

    def _changed(self, endpoint: str, compute: str) -> None:
        """After a change: the router's config rewritten and, when a router runs, taken in
        (so a new key or weight is in force when the call returns); the agents woken."""
        written = write_router_config(self._ws, endpoint)
        self._wake(compute)
        if compute != ROUTER_COMPUTE:
            self._wake(ROUTER_COMPUTE)
        deadline = time.monotonic() + CONFIG_WAIT_S
        while written is not None and time.monotonic() < deadline:
            running = self._router_get(endpoint)
            if running is None or running.get("config") == written:
                return
            time.sleep(0.05)
        log.warning("the router of %s has not read its new config yet", endpoint)

    def _router_get(self, endpoint: str) -> dict[str, Any] | None:
        """The running router's /metrics answer (None when no router answers)."""
        import httpx

        with self._ws.db.session() as s:
            url = self.base_url(self._endpoint(s, endpoint))
        try:
            resp = httpx.get(
                f"{url}/metrics",
                headers={"Authorization": f"Bearer {admin_token(self._ws, endpoint)}"},
                timeout=2.0,
            )
        except httpx.HTTPError:
            return None
        return resp.json() if resp.status_code == 200 else None

    def _wake(self, compute: str) -> None:
        agent = self._ws.agents(compute)
        agent.ensure_running()
        agent.wake()

    def _wait_gone(self, name: str, timeout: float) -> None:
        """Until the supervisor stopped the router and registered the last request log (it
        then removes the router's config)."""
        path = config_path(self._ws, name)
        deadline = time.monotonic() + timeout
        while path.exists():
            if time.monotonic() > deadline:
                raise WaitTimeoutError(f"endpoint {name!r} is still stopping after {timeout:g} s")
            time.sleep(0.2)


def record_event(ws: Workspace, endpoint: str, deployment: str | None, kind: str, msg: str) -> None:
    with ws.db.write() as s:
        s.add(
            EndpointEventRow(
                endpoint=endpoint, deployment=deployment, at=utcnow(), kind=kind, message=msg
            )
        )


def _deployment_info(
    row: EndpointDeploymentRow, metrics: dict[str, DeploymentMetrics] | None
) -> DeploymentInfo:
    return DeploymentInfo(
        name=row.name,
        model=row.model,
        environment=row.environment,
        compute=row.compute,
        instance_count=row.instance_count,
        resources=row.resources,
        max_batch_size=row.max_batch_size,
        max_wait_ms=row.max_wait_ms,
        model_name=row.model_name,
        model_version=row.model_version,
        generation=row.generation,
        state=DeploymentState(row.state),
        status_reason=row.status_reason,
        instances=1 if row.url else sum(1 for i in row.instances if i.get("ready")),
        restarts=row.restarts,
        url=row.url,
        metrics=(metrics or {}).get(row.name) if metrics is not None else None,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _check_rate(rate: float) -> None:
    if not 0.0 <= rate <= 1.0:
        raise InvalidInputError(
            f"log sample rate {rate} is not between 0 and 1", hint="e.g. 0.1 logs one in ten"
        )


def _check_traffic(weights: dict[str, int], names: set[str]) -> None:
    unknown = sorted(set(weights) - names)
    if unknown:
        raise InvalidInputError(
            f"no deployment {', '.join(unknown)} in this endpoint",
            hint=f"its deployments: {', '.join(sorted(names)) or 'none yet'}",
        )
    for k, v in weights.items():
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 100:
            raise InvalidInputError(
                f"traffic of {k!r} is {v!r}", hint="give whole percents from 0 to 100"
            )
    total = sum(weights.values())
    if weights and total != 100:
        raise InvalidInputError(
            f"traffic weights sum to {total}, not 100",
            hint="e.g. blue=90 green=10 (deployments left out get 0)",
        )


def _check_mirror(mirror: dict[str, int], names: set[str], weights: dict[str, int]) -> None:
    for k, v in mirror.items():
        if k not in names:
            raise InvalidInputError(f"no deployment {k!r} to mirror to")
        if not isinstance(v, int) or isinstance(v, bool) or not 0 < v <= MIRROR_MAX_PERCENT:
            raise InvalidInputError(
                f"mirror percent of {k!r} is {v!r}",
                hint=f"from 1 to {MIRROR_MAX_PERCENT} (leave it out to stop mirroring)",
            )
        if weights.get(k, 0):
            raise InvalidInputError(
                f"deployment {k!r} takes live traffic and cannot also be the mirror",
                hint="mirror to a deployment at 0% (e.g. the new version before a shift)",
            )


def _give(weights: dict[str, int], name: str, percent: int) -> dict[str, int]:
    """``name`` at ``percent``, the others scaled to share the rest (summing to 100)."""
    others = {k: v for k, v in weights.items() if k != name}
    rest, total = 100 - percent, sum(others.values())
    out = {k: (v * rest // total if total else 0) for k, v in others.items()}
    if others:
        first = max(others, key=lambda k: others[k])
        out[first] += rest - sum(out.values())
    return {**out, name: percent}


# What the scoring server imports itself (mlbench comes from this install, on its PYTHONPATH);
# the model's own flavor (e.g. scikit-learn) is the environment's to provide.
SERVING_MODULES = ("mlflow", "uvicorn", "starlette")


def _check_serving_environment(python: str, ref: str) -> None:
    """Refuse an environment the scoring server cannot start in, before anything is stored
    (else each instance would fail to start three times before the deployment is failed)."""
    import subprocess

    probe = (
        "import importlib.util, sys; "
        "print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))"
    )
    try:
        done = subprocess.run(
            [python, "-c", probe, *SERVING_MODULES],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InvalidInputError(
            f"environment {ref}: its interpreter {python} does not run ({exc})",
            hint=f"rebuild it (mlbench env build {ref}) or deploy without --environment",
        ) from exc
    missing = done.stdout.split()
    if done.returncode != 0 or missing:
        what = ", ".join(missing) or done.stderr.strip()[-300:]
        raise InvalidInputError(
            f"environment {ref} cannot run the scoring server: it lacks {what}",
            hint=f"add {' '.join(missing or SERVING_MODULES)} and the model's own packages to "
            "its requirements (a new version), or deploy without --environment",
        )


def _check_host(host: str) -> None:
    """The router binds ``host``: it must name an IPv4 address of this machine."""
    try:
        with socket.socket() as sock:
            sock.bind((host, 0))
    except (OSError, UnicodeError, ValueError) as exc:
        raise InvalidInputError(
            f"host {host!r} is not an address the endpoint can listen on here ({exc})",
            hint="use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)",
        ) from exc


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _free_port(host: str, taken: set[int]) -> int:
    while True:
        with socket.socket() as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if port not in taken:
            return port


__all__ = ["DeploymentNotFoundError", "EndpointNotFoundError", "Endpoints", "record_event"]
