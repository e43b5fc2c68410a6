"""The agent's endpoint supervisor: runs what the database says should serve.

The agent of a target supervises its deployments: on a local target, ``instance_count``
scoring processes each (readiness by ``/ping``, liveness by ``/health``, a crashed or hung one
restarted with backoff and recorded as an event); on a Ray target, one Ray Serve app. The
``local`` agent also runs each endpoint's router and registers its request log hourly.

A roll (a new generation of a deployment) starts the new processes while the old ones serve;
once all new ones answer ``/ping`` the router config points at them, and only after the
routers had time to read it do the old processes get SIGTERM (they finish what they have).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import select

from mlbench.endpoints.config import config_path, endpoint_dir, write_router_config
from mlbench.endpoints.models import DeploymentState
from mlbench.endpoints.requestlog import register_hours
from mlbench.endpoints.service import ROUTER_COMPUTE, record_event
from mlbench.store.schema import EndpointDeploymentRow, EndpointRow

if TYPE_CHECKING:
    from mlbench.workspace import Workspace

log = logging.getLogger(__name__)

TICK_S = 0.2
IDLE_TICK_S = 1.0  # with no endpoint at all: a look a second is enough (most workspaces)
HEALTH_EVERY_S = 2.0
HEALTH_FAILURES = 3  # consecutive failed /health answers before a process is replaced
STARTUP_TIMEOUT_S = 300.0
FAILED_STARTS = 3  # consecutive starts that never became ready: the deployment failed
BACKOFF_MAX_S = 30.0
# After the config stops naming an old process, how long the routers get to read it
# (they look every 0.1 s) before that process is told to drain.
HANDOVER_S = 1.0
DRAIN_TIMEOUT_S = 60.0
REGISTER_EVERY_S = 30.0
# A spare scoring process waits with its imports done (seconds of every deploy, roll and
# restart); the next one starts this long after one is taken, not while the taker loads.
SPARE_DELAY_S = 10.0


@dataclass
class Proc:
    """A supervised process: a scoring instance or a router."""

    proc: subprocess.Popen[bytes]
    port: int
    generation: int = 0
    slot: int = 0
    started: float = field(default_factory=time.monotonic)
    ready: bool = False
    retire_at: float | None = None  # when to send SIGTERM (a replaced instance)
    term_sent: float | None = None
    health_checked: float = 0.0
    health_failures: int = 0

    def alive(self) -> bool:
        return self.proc.poll() is None


@dataclass
class Supervised:
    """In-memory state of one deployment."""

    procs: list[Proc] = field(default_factory=list)
    next_start: dict[int, float] = field(default_factory=dict)  # slot -> monotonic
    failures: dict[int, int] = field(default_factory=dict)  # slot -> consecutive crashes
    generation: int | None = None
    failed_generation: int | None = None
    ray_generation: int | None = None
    ray_busy: bool = False


class EndpointSupervisor:
    def __init__(self, ws: Workspace, compute: str) -> None:
        self.ws = ws
        self.compute = compute
        self.kind = ws.compute.get(compute).kind
        self.runs_routers = compute == ROUTER_COMPUTE
        self.deployments: dict[tuple[str, str], Supervised] = {}
        self.routers: dict[str, Proc] = {}
        self.router_backoff: dict[str, tuple[int, float]] = {}  # name -> (crashes, next start)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_register = 0.0
        self._busy = False
        self._client = httpx.Client(timeout=1.0)
        self._spare: subprocess.Popen[bytes] | None = None
        self._spare_due = 0.0
        self._spare_deaths = 0

    # -- life cycle ----------------------------------------------------------------------------
    def start(self) -> None:
        self._reap_orphans()
        self._thread = threading.Thread(target=self._loop, name="endpoints", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Drain everything this agent runs (the next agent starts it again)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._stop_spare()
        procs = [p for s in self.deployments.values() for p in s.procs] + list(
            self.routers.values()
        )
        for p in procs:
            if p.alive():
                p.proc.terminate()
        for p in procs:
            try:
                p.proc.wait(timeout=DRAIN_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                p.proc.kill()
        for (endpoint, name), _ in self.deployments.items():
            self._write(endpoint, name, instances=[], state=DeploymentState.creating.value)
        if self.runs_routers:
            for name in self.routers:
                self._register(name, all_hours=True)
        self._client.close()

    def active(self) -> bool:
        """Whether there is something to serve (the agent does not idle-exit meanwhile)."""
        with self.ws.db.session() as s:
            if self.runs_routers and s.scalar(select(EndpointRow.name).limit(1)) is not None:
                return True
            return (
                s.scalar(
                    select(EndpointDeploymentRow.name)
                    .where(EndpointDeploymentRow.compute == self.compute)
                    .limit(1)
                )
                is not None
            )

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("supervising endpoints failed")
            self._stop.wait(TICK_S if self._busy else IDLE_TICK_S)

    def tick(self) -> None:
        with self.ws.db.session() as s:
            endpoints = {e.name: e.log_sample_rate for e in s.scalars(select(EndpointRow))}
            rows = {
                (d.endpoint, d.name): d
                for d in s.scalars(
                    select(EndpointDeploymentRow).where(
                        EndpointDeploymentRow.compute == self.compute
                    )
                )
            }
            s.expunge_all()
        self._busy = bool(endpoints or rows or self.deployments or self.routers)
        # first: a deploy that arrives with the agent's start takes it at once
        self._tick_spare(bool(rows or (self.runs_routers and endpoints)))
        for key, row in rows.items():
            state = self.deployments.setdefault(key, Supervised())
            if self.kind == "ray":
                self._tick_ray(row, state)
            else:
                self._tick_local(row, state)
        for key in [k for k in self.deployments if k not in rows]:
            self._remove(key)
        if self.runs_routers:
            self._tick_routers(set(endpoints))

    # -- the spare scoring process -------------------------------------------------------------
    def _tick_spare(self, wanted: bool) -> None:
        """One spare while this target serves (or is about to: an endpoint exists)."""
        if self.kind == "ray" or not wanted:
            self._stop_spare()
            return
        if self._spare is not None:
            if self._spare.poll() is None:
                return
            # it died waiting (e.g. a broken install): retry ever more slowly
            log.warning("the spare scoring process exited (%s)", self._spare.returncode)
            self._spare = None
            self._spare_deaths += 1
            self._spare_due = time.monotonic() + min(300.0, SPARE_DELAY_S * 2**self._spare_deaths)
        if time.monotonic() < self._spare_due:
            return
        home = self.ws.home / "endpoints"
        home.mkdir(parents=True, exist_ok=True)
        with open(home / "spare.log", "ab") as out:
            self._spare = subprocess.Popen(
                [sys.executable, "-m", "mlbench.endpoints.scoring", "--spare"],
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _take_spare(self, argv: list[str], log_path: Path) -> subprocess.Popen[bytes] | None:
        spare, self._spare = self._spare, None
        if spare is None or spare.poll() is not None or spare.stdin is None:
            return None
        try:
            spare.stdin.write(json.dumps({"argv": argv, "log": str(log_path)}).encode() + b"\n")
            spare.stdin.close()
        except OSError:  # it died just now
            spare.kill()
            spare.wait()
            return None
        self._spare_due = time.monotonic() + SPARE_DELAY_S
        self._spare_deaths = 0
        return spare

    def _stop_spare(self) -> None:
        spare, self._spare = self._spare, None
        if spare is None:
            return
        spare.terminate()
        try:
            spare.wait(timeout=10)
        except subprocess.TimeoutExpired:
            spare.kill()
            spare.wait()

    # -- local deployments ---------------------------------------------------------------------
    def _tick_local(self, row: EndpointDeploymentRow, state: Supervised) -> None:
        now = time.monotonic()
        gen = row.generation
        if state.generation != gen:  # a new deploy: its starts count afresh
            state.generation = gen
            state.failures.clear()
            state.next_start.clear()
        for p in list(state.procs):
            self._check(row, state, p, now)
        current = [p for p in state.procs if p.generation == gen and p.retire_at is None]
        if state.failed_generation != gen:
            slots = {p.slot for p in current}
            for slot in range(row.instance_count):
                if slot not in slots and now >= state.next_start.get(slot, 0.0):
                    state.procs.append(self._start_instance(row, slot))
            for p in current:
                if p.slot >= row.instance_count:
                    p.retire_at = now + HANDOVER_S
        current = [p for p in state.procs if p.generation == gen and p.retire_at is None]
        if len(current) >= row.instance_count and all(p.ready for p in current):
            for p in state.procs:  # the roll is done: the old generation drains
                if p.generation != gen and p.retire_at is None:
                    p.retire_at = now + HANDOVER_S
        serving = [p for p in state.procs if p.ready and p.retire_at is None]
        old_serving = any(p.generation != gen for p in serving)
        if state.failed_generation == gen:
            new_state = DeploymentState.failed.value
        elif old_serving:
            new_state = DeploymentState.updating.value
        elif serving:
            new_state = DeploymentState.ready.value
        else:
            new_state = DeploymentState.creating.value
        instances = [
            {"port": p.port, "pid": p.proc.pid, "generation": p.generation, "ready": True}
            for p in serving
        ]
        if instances != row.instances or new_state != row.state:
            self._write(row.endpoint, row.name, instances=instances, state=new_state)
            if new_state == DeploymentState.ready.value and row.state != new_state:
                record_event(self.ws, row.endpoint, row.name, "ready", f"generation {gen}")
            write_router_config(self.ws, row.endpoint)

    def _check(self, row: EndpointDeploymentRow, state: Supervised, p: Proc, now: float) -> None:
        if p.retire_at is not None:  # replaced: drain once the routers stopped using it
            if not p.alive():
                state.procs.remove(p)
            elif p.term_sent is None and now >= p.retire_at:
                p.proc.terminate()
                p.term_sent = now
            elif p.term_sent is not None and now - p.term_sent > DRAIN_TIMEOUT_S:
                p.proc.kill()
            return
        if not p.alive():
            state.procs.remove(p)
            self._crashed(row, state, p, f"exited with code {p.proc.returncode}")
            return
        if not p.ready:
            if self._get(p.port, "/ping"):
                p.ready = True
                state.failures[p.slot] = 0
            elif now - p.started > STARTUP_TIMEOUT_S:
                p.proc.kill()
                p.proc.wait()
                state.procs.remove(p)
                self._crashed(row, state, p, f"not ready after {STARTUP_TIMEOUT_S:g} s")
            return
        if now - p.health_checked >= HEALTH_EVERY_S:
            p.health_checked = now
            if self._get(p.port, "/health"):
                p.health_failures = 0
            else:
                p.health_failures += 1
                if p.health_failures >= HEALTH_FAILURES:
                    p.proc.kill()
                    p.proc.wait()
                    state.procs.remove(p)
                    self._crashed(row, state, p, "stopped answering /health")

    def _crashed(self, row: EndpointDeploymentRow, state: Supervised, p: Proc, why: str) -> None:
        failures = state.failures.get(p.slot, 0) + 1
        state.failures[p.slot] = failures
        if not p.ready and failures >= FAILED_STARTS:
            state.failed_generation = p.generation
            reason = f"instance {p.slot} {why} {failures} times in a row"
            tail = self._log_tail(row, p.slot)
            self._write(row.endpoint, row.name, status_reason=f"{reason}: {tail}")
            record_event(self.ws, row.endpoint, row.name, "failed", reason)
            return
        delay = min(BACKOFF_MAX_S, 0.5 * 2 ** (failures - 1))
        state.next_start[p.slot] = time.monotonic() + delay
        with self.ws.db.write() as s:
            db_row = s.get(EndpointDeploymentRow, (row.endpoint, row.name))
            if db_row is not None:
                db_row.restarts += 1
        record_event(
            self.ws,
            row.endpoint,
            row.name,
            "restarting",
            f"instance {p.slot} (pid {p.proc.pid}) {why}; restarting in {delay:g} s",
        )

    def _start_instance(self, row: EndpointDeploymentRow, slot: int) -> Proc:
        port = _free_port()
        folder = endpoint_dir(self.ws, row.endpoint) / "deployments" / row.name
        folder.mkdir(parents=True, exist_ok=True)
        python = row.python or sys.executable
        env = dict(os.environ)
        if row.python:  # an environment's interpreter: mlbench itself comes from here
            source = str(Path(__file__).resolve().parents[2])
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")]))
        args = [
            "--model",
            row.model_path,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(int(row.resources.get("workers", 1))),
            "--max-batch-size",
            str(row.max_batch_size),
            "--max-wait-ms",
            str(row.max_wait_ms),
        ]
        log_path = folder / f"instance-{slot}.log"
        # a spare has mlbench's interpreter and environment: for the others, a process of their own
        proc = None if row.python else self._take_spare(args, log_path)
        if proc is None:
            with open(log_path, "ab") as out:
                proc = subprocess.Popen(
                    [python, "-m", "mlbench.endpoints.scoring", *args],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,
                )
        log.info(
            "%s/%s: instance %d started (pid %d, port %d)",
            row.endpoint,
            row.name,
            slot,
            proc.pid,
            port,
        )
        return Proc(proc=proc, port=port, generation=row.generation, slot=slot)

    def _log_tail(self, row: EndpointDeploymentRow, slot: int) -> str:
        path = (
            endpoint_dir(self.ws, row.endpoint) / "deployments" / row.name / f"instance-{slot}.log"
        )
        try:
            lines = path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1] if lines else ""

    def _remove(self, key: tuple[str, str]) -> None:
        """A deleted deployment: its processes drain (after the routers let go of them)."""
        state = self.deployments[key]
        now = time.monotonic()
        for p in state.procs:
            if p.retire_at is None:
                p.retire_at = now + HANDOVER_S
            self._check_retired(p, now)
        state.procs = [p for p in state.procs if p.alive()]
        if self.kind == "ray" and state.ray_generation is not None and not state.ray_busy:
            state.ray_busy = True
            threading.Thread(target=self._ray_undeploy, args=(key, state), daemon=True).start()
        if (
            not state.procs
            and not state.ray_busy
            and (self.kind != "ray" or state.ray_generation is None)
        ):
            del self.deployments[key]

    @staticmethod
    def _check_retired(p: Proc, now: float) -> None:
        if not p.alive():
            return
        if p.term_sent is None and now >= (p.retire_at or 0):
            p.proc.terminate()
            p.term_sent = now
        elif p.term_sent is not None and now - p.term_sent > DRAIN_TIMEOUT_S:
            p.proc.kill()

    # -- Ray deployments -----------------------------------------------------------------------
    def _tick_ray(self, row: EndpointDeploymentRow, state: Supervised) -> None:
        if state.ray_busy or state.ray_generation == row.generation:
            return
        if state.failed_generation == row.generation:
            return
        state.ray_busy = True
        threading.Thread(target=self._ray_deploy, args=(row, state), daemon=True).start()

    def _ray_deploy(self, row: EndpointDeploymentRow, state: Supervised) -> None:
        from mlbench.endpoints import ray_serve

        try:
            _backend, config, _ = self.ws.compute.backend(self.compute, with_secrets=True)
            res = row.resources
            url = ray_serve.deploy(
                config.address,
                _app_name(row.endpoint, row.name),
                row.model_path,
                # resources {"autoscaling": {...}} (Serve's config) instead of a fixed count
                replicas=None if res.get("autoscaling") else row.instance_count,
                autoscaling=res.get("autoscaling"),
                max_batch_size=row.max_batch_size,
                max_wait_ms=row.max_wait_ms,
                num_cpus=float(res.get("cpus", 1)),
                num_gpus=float(res.get("gpus", 0)),
            )
            state.ray_generation = row.generation
            self._write(row.endpoint, row.name, url=url, state=DeploymentState.ready.value)
            record_event(self.ws, row.endpoint, row.name, "ready", f"Ray Serve at {url}")
            write_router_config(self.ws, row.endpoint)
        except Exception as exc:
            log.exception("deploying %s/%s on Ray failed", row.endpoint, row.name)
            state.failed_generation = row.generation
            self._write(
                row.endpoint, row.name, state=DeploymentState.failed.value, status_reason=str(exc)
            )
            record_event(self.ws, row.endpoint, row.name, "failed", str(exc))
        finally:
            state.ray_busy = False

    def _ray_undeploy(self, key: tuple[str, str], state: Supervised) -> None:
        from mlbench.endpoints import ray_serve

        try:
            time.sleep(HANDOVER_S)
            _backend, config, _ = self.ws.compute.backend(self.compute, with_secrets=True)
            ray_serve.undeploy(config.address, _app_name(*key))
        except Exception:
            log.exception("removing %s/%s from Ray failed", *key)
        finally:
            state.ray_generation = None
            state.ray_busy = False

    # -- routers -------------------------------------------------------------------------------
    def _tick_routers(self, endpoints: set[str]) -> None:
        now = time.monotonic()
        for name in endpoints:
            write_router_config(self.ws, name)
            router = self.routers.get(name)
            if router is not None and not router.alive():
                crashes = self.router_backoff.get(name, (0, 0.0))[0] + 1
                delay = min(BACKOFF_MAX_S, 0.5 * 2 ** (crashes - 1))
                self.router_backoff[name] = (crashes, now + delay)
                record_event(
                    self.ws,
                    name,
                    None,
                    "restarting",
                    f"router (pid {router.proc.pid}) exited with code {router.proc.returncode}; "
                    f"restarting in {delay:g} s",
                )
                del self.routers[name]
                router = None
            if router is None and now >= self.router_backoff.get(name, (0, 0.0))[1]:
                self.routers[name] = self._start_router(name)
            elif router is not None and not router.ready and self._get(router.port, "/ping"):
                router.ready = True
                self.router_backoff.pop(name, None)
        for name in [n for n in self.routers if n not in endpoints]:
            router = self.routers.pop(name)
            router.proc.terminate()  # drains in-flight requests and flushes the request log
            try:
                router.proc.wait(timeout=DRAIN_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                router.proc.kill()
            self._register(name, all_hours=True)
            config_path(self.ws, name).unlink(missing_ok=True)  # tells delete(wait=True) it is done
        if now - self._last_register >= REGISTER_EVERY_S:
            self._last_register = now
            for name in endpoints:
                self._register(name)

    def _start_router(self, name: str) -> Proc:
        folder = endpoint_dir(self.ws, name)
        with self.ws.db.session() as s:
            port = s.get(EndpointRow, name).port  # type: ignore[union-attr]
        with open(folder / "router.log", "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "mlbench.endpoints.router", str(config_path(self.ws, name))],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        (folder / "router.pid").write_text(str(proc.pid))
        return Proc(proc=proc, port=port)

    def _register(self, name: str, *, all_hours: bool = False) -> None:
        try:
            register_hours(
                self.ws, name, endpoint_dir(self.ws, name) / "requests", all_hours=all_hours
            )
        except Exception:
            log.exception("registering the request log of %s failed", name)

    # -- helpers -------------------------------------------------------------------------------
    def _get(self, port: int, path: str) -> bool:
        try:
            return self._client.get(f"http://127.0.0.1:{port}{path}").status_code == 200
        except httpx.HTTPError:
            return False

    def _write(self, endpoint: str, name: str, **values: Any) -> None:
        from mlbench._ids import utcnow

        with self.ws.db.write() as s:
            row = s.get(EndpointDeploymentRow, (endpoint, name))
            if row is None:
                return
            for k, v in values.items():
                setattr(row, k, v)
            row.updated_at = utcnow()

    def _reap_orphans(self) -> None:
        """Processes a previous agent left (it died without draining): stop them, since this
        supervisor starts its own."""
        pids: list[int] = []
        with self.ws.db.session() as s:
            for d in s.scalars(
                select(EndpointDeploymentRow).where(EndpointDeploymentRow.compute == self.compute)
            ):
                pids += [int(i["pid"]) for i in d.instances if i.get("pid")]
            if self.runs_routers:
                for name in s.scalars(select(EndpointRow.name)):
                    pid_file = endpoint_dir(self.ws, name) / "router.pid"
                    if pid_file.exists():
                        pids.append(int(pid_file.read_text()))
        for pid in pids:
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"mlbench.endpoints" in cmdline:
                os.kill(pid, signal.SIGTERM)


def _app_name(endpoint: str, deployment: str) -> str:
    return f"{endpoint}--{deployment}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
