"""Running jobs as tasks on a Ray cluster (the agent's side; see :mod:`ray_worker`).

Each job is one Ray task asking for the job's ``num_cpus``, ``num_gpus``, memory and custom
resources; Ray queues it until a node has them. The task streams messages back (a streaming
generator) and the agent turns them into what a local job produces: progress, the job log,
metrics for the relay, the output notebook and its files. Cancel is ``ray.cancel`` (then
``force=True`` after the grace period); a worker or node that dies fails the job with that
reason, and the job's retry policy applies.

The tasks are submitted by a detached owner actor (:mod:`mlbench.agent.ray_owner`), not by the
agent itself, so they outlive the agent: a new agent follows them again from the cursor kept in
the job's folder (:meth:`RayExecutor.resume`).

The task runs the notebook in a warm kernel borrowed from its node's kernel host (an actor the
agent keeps on every node, see :mod:`mlbench.agent.ray_kernels`), or starts one itself where
there is none.

A job in an environment (``--env``) takes the version's lock along in the task's
``runtime_env`` (see :mod:`mlbench.environments.hook`): Ray builds it once per node and runs the
task in it, and the job's kernel is the task's own interpreter (``python3``), not the
environment's kernelspec of this machine.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlbench.agent.execute import JobStopped, stopped_outcome
from mlbench.agent.executors import DEFAULT_KERNEL, Executor, JobRun, write_files_under
from mlbench.agent.ray_owner import describe, job_key
from mlbench.compute.ray import RAY_MAX_DATA_BYTES, RayComputeConfig
from mlbench.environments.hook import RAY_KERNEL, ray_runtime_env, read_lock
from mlbench.jobs.lifecycle import Outcome
from mlbench.jobs.models import JobError, JobStatus

if TYPE_CHECKING:
    from mlbench.config import WorkspaceSettings

log = logging.getLogger(__name__)

_MIB = 1024 * 1024
HOST_CHECK_S = 30.0  # how often the agent looks for nodes without a kernel host


class RayTask:
    """The handle the supervisor uses to stop a job's task (through the task's owner)."""

    def __init__(self, owner: Any, key: str) -> None:
        self.owner = owner
        self.key = key

    def interrupt(self) -> None:
        self.owner.cancel.remote(self.key, False)

    def kill(self) -> None:
        self.owner.cancel.remote(self.key, True)


class RayExecutor(Executor):
    kind = "ray"
    assigns_resources = False
    outlives_agent = True

    def __init__(
        self, config: Any, settings: WorkspaceSettings, workdir: Path, compute: str = ""
    ) -> None:
        super().__init__(config, settings, workdir, compute)
        assert isinstance(config, RayComputeConfig)
        self.ray_config = config
        self._owner: Any = None
        self._host_actor: Any = None
        self._kernel_names: list[str] = []
        self._hosts: dict[str, Any] = {}  # node id -> its kernel host actor
        self._hosts_lock = threading.Lock()
        self._hosts_checked = -HOST_CHECK_S
        self._scope = ""  # names this agent's actors on the cluster (set at start)

    def start(self, kernel_names: set[str]) -> None:
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        from mlbench.agent.ray_kernels import KernelHost
        from mlbench.agent.ray_owner import JobOwner, agent_scope, owner_name

        self._scope = agent_scope(self.workdir, self.compute)
        ray.init(
            address=self.ray_config.address,
            namespace=self.ray_config.namespace,
            runtime_env=self.ray_config.runtime_env,
            logging_level=logging.WARNING,
            log_to_driver=False,
            ignore_reinit_error=True,
        )
        # The jobs' owner outlives this agent (detached); on the head node, which goes last.
        head = [n["NodeID"] for n in ray.nodes() if n.get("Alive") and _is_head(n)]
        self._owner = (
            ray.remote(JobOwner)
            .options(
                name=owner_name(self._scope),
                lifetime="detached",
                get_if_exists=True,
                num_cpus=0,
                max_restarts=0,
                scheduling_strategy=NodeAffinitySchedulingStrategy(head[0], soft=True)
                if head
                else None,
            )
            .remote()
        )
        # Detached too, so a running job keeps its kernel across an agent restart; no resources
        # of its own (the job's task holds them); several tasks borrow at once.
        self._host_actor = ray.remote(num_cpus=0, max_concurrency=8)(KernelHost)
        self._kernel_names = sorted(kernel_names | {DEFAULT_KERNEL})
        log.info("connected to Ray at %s: %s", self.ray_config.address, ray.cluster_resources())
        self._ensure_hosts()

    def _ensure_hosts(self) -> str:
        """A kernel host on every alive node (checked every HOST_CHECK_S: nodes join, hosts
        die); the scope that names them, or "" when the target keeps no warm kernels."""
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        from mlbench.agent.ray_kernels import host_name

        size = self.ray_config.kernel_pool_size
        if size <= 0:
            return ""
        with self._hosts_lock:
            if time.monotonic() - self._hosts_checked < HOST_CHECK_S:
                return self._scope
            self._hosts_checked = time.monotonic()
            alive = {
                n["NodeID"]: float(n["Resources"].get("CPU", 0))
                for n in ray.nodes()
                if n.get("Alive")
            }
            self._hosts = {k: v for k, v in self._hosts.items() if k in alive}
            for node_id, cpus in alive.items():
                try:
                    self._hosts[node_id] = self._host_actor.options(
                        name=host_name(self._scope, node_id),
                        get_if_exists=True,
                        lifetime="detached",
                        scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
                    ).remote(self._kernel_names, size, self.settings.kernel_start_timeout_s, cpus)
                except Exception as exc:  # its jobs start their own kernels
                    log.warning("no kernel host on Ray node %s: %s", node_id, exc)
        return self._scope

    def cluster(self) -> dict[str, Any]:
        """Nodes with their total and available resources, for the compute view."""
        import ray

        nodes = []
        for node in ray.nodes():
            if not node.get("Alive"):
                continue
            resources = {k: v for k, v in node["Resources"].items() if not k.startswith("node:")}
            nodes.append({"node_ip": node["NodeManagerAddress"], "resources": resources})
        return {
            "nodes": nodes,
            "total": dict(ray.cluster_resources()),
            "available": dict(ray.available_resources()),
        }

    def run(self, job: JobRun) -> Outcome:
        import ray

        info = job.info
        res = info.resources
        data_root = job.snapshot.parent / "data"
        payload = {
            "job_id": info.id,
            "data": pack_job_data(info, data_root),
            "notebook": job.snapshot.read_bytes() if info.command is None else None,
            "command": info.command,
            "code": _code_files(job.code) if info.command is not None else {},
            "info": info.model_dump(mode="json"),
            "parameters": info.parameters,
            "kernel_name": info.kernel_name,
            "env": job.env,
            "cwd": info.cwd,
            "start_timeout": self.settings.kernel_start_timeout_s,
        }
        payload["kernel_hosts"] = self._ensure_hosts()
        options: dict[str, Any] = {"num_cpus": res.cpus, "num_gpus": res.gpus}
        if res.memory_mb:
            options["memory"] = res.memory_mb * _MIB
        if res.custom:
            options["resources"] = dict(res.custom)
        lock = read_lock(job.snapshot.parent)
        if lock is not None:
            payload["kernel_name"] = RAY_KERNEL  # the task's interpreter: the runtime env's
            payload["kernel_hosts"] = ""  # the hosts' kernels run outside that environment
            options["runtime_env"] = ray_runtime_env(lock["packages"], self.ray_config.runtime_env)
            job.log_file.write(
                f"[mlbench] environment {lock['ref']} ({len(lock['packages'])} packages, lock "
                f"{lock['lock_hash'][:12]}) in the task's runtime_env: Ray installs it once per "
                "node, the first job there waits for it\n"
            )
        if job.stop.requested:
            raise JobStopped
        key = job_key(info.id, info.attempt)
        _write_cursor(job, key, 0)  # before the task exists: a successor finds it by this
        ray.get(self._owner.submit.remote(key, payload, options))
        job.attach(RayTask(self._owner, key))
        shown = {k: v for k, v in options.items() if k != "runtime_env"}
        job.log_file.write(
            f"[mlbench] queued on Ray ({', '.join(f'{k}={v}' for k, v in shown.items())})\n"
        )
        return self._follow(job, key, 0)

    def survivors(self) -> dict[str, int]:
        import ray

        found: dict[str, int] = {}
        for key in ray.get(self._owner.jobs.remote(), timeout=60):
            job_id, _, attempt = key.rpartition(":")
            found[job_id] = int(attempt)
        return found

    def discard(self, job_id: str, attempt: int) -> None:
        key = job_key(job_id, attempt)
        log.info("stopping the Ray task of job %s (attempt %d): nobody wants it", job_id, attempt)
        self._owner.cancel.remote(key, True)
        self._owner.forget.remote(key)

    def resume(self, job: JobRun) -> Outcome:
        key, cursor = _read_cursor(job)
        if key != job_key(job.info.id, job.info.attempt):
            return _lost("the job's Ray task cannot be found again (no cursor of this attempt)")
        job.attach(RayTask(self._owner, key))
        job.log_file.write(f"[mlbench] following the job's Ray task again from message {cursor}\n")
        return self._follow(job, key, cursor)

    def _follow(self, job: JobRun, key: str, cursor: int) -> Outcome:
        """Handle the task's messages as they come, from ``cursor`` on, to its end."""
        import ray

        result: dict[str, Any] | None = None
        ended: dict[str, Any] = {}
        try:
            while not ended:
                reply = ray.get(self._owner.read.remote(key, cursor, 0.5))
                if reply is None:
                    return _lost("the job's Ray task is gone (its owner does not know it)")
                for message in reply["messages"]:
                    if message.get("type") == "ended":
                        ended = message
                    else:
                        result = self._handle(job, message) or result
                if reply["next"] != cursor:
                    cursor = reply["next"]
                    _write_cursor(job, key, cursor)
        except ray.exceptions.RayError as exc:  # the owner actor died: so did its tasks
            if job.stop.requested:
                return stopped_outcome(job.stop, None)
            return _lost(f"the actor owning the job's Ray task died ({describe(exc)})")
        with contextlib.suppress(Exception):
            self._owner.forget.remote(key)
        if ended.get("canceled"):
            return (
                stopped_outcome(job.stop, None)
                if job.stop.requested
                else _lost("the Ray task was canceled outside mlbench")
            )
        if ended.get("lost"):
            return stopped_outcome(job.stop, None) if job.stop.requested else _lost(ended["lost"])
        if result is None:
            if job.stop.requested:
                return stopped_outcome(job.stop, None)
            return _lost("the Ray task ended without a result")
        return self._outcome(job, result)

    def _handle(self, job: JobRun, message: dict[str, Any]) -> dict[str, Any] | None:
        kind = message.get("type")
        if kind == "started":
            warm = message.get("warm_s")
            job.log_file.write(
                f"[mlbench] running on Ray node {message['node']}"
                + (f", GPUs {','.join(message['gpu_ids'])}" if message["gpu_ids"] else "")
                + (f", in a warm kernel (started {warm:.1f} s before)" if warm is not None else "")
                + "\n"
            )
            job.started(None, list(message["gpu_ids"]))
        elif kind == "cell":
            with contextlib.suppress(JobStopped):  # a stop request: the supervisor cancels
                job.listener.cell_started(message["index"], message["count"], message["source"])
        elif kind == "log":
            job.log_file.write(message["text"])
        elif kind == "metrics":
            with open(job.metrics_file, "a", encoding="utf-8") as f:
                f.write(message["text"])
        elif kind == "result":
            if message.get("output") is not None:
                job.output.write_bytes(message["output"])
            write_files_under(job.outputs_dir, message.get("outputs", {}))
            write_files_under(job.snapshot.parent / "data", message.get("data_outputs", {}))
            return message
        return None

    def _outcome(self, job: JobRun, result: dict[str, Any]) -> Outcome:
        data = result["outcome"]
        error = JobError.model_validate(data["error"]) if data.get("error") else None
        outcome = Outcome(JobStatus(data["status"]), data["reason"], error, data["retryable"])
        if job.stop.requested and outcome.status != JobStatus.COMPLETED:
            return stopped_outcome(job.stop, None)
        return outcome

    def close(self) -> None:
        import ray

        if not ray.is_initialized():
            return
        with self._hosts_lock:
            hosts, self._hosts = list(self._hosts.values()), {}
        for host in hosts:  # its kernels first, then the actor
            with contextlib.suppress(Exception):
                ray.get(host.close.remote(), timeout=10)
            with contextlib.suppress(Exception):
                ray.kill(host)
        with contextlib.suppress(Exception):  # one still holding jobs stays for the next agent
            if self._owner is not None and not ray.get(self._owner.jobs.remote(), timeout=10):
                ray.kill(self._owner)
        ray.shutdown()


def pack_job_data(info: Any, data_root: Path) -> dict[str, Any]:
    """The job's staged data inputs as bytes, and where its data parameters point.

    The agent staged inputs under ``data_root`` (see :func:`mlbench.data.jobs.stage`); a worker
    on another node cannot see them, so they travel with the task and the worker rebuilds the
    same tree, pointing the data parameters at its copy.
    """
    if not (info.inputs or info.outputs):
        return {}
    files: dict[str, bytes] = {}
    total = 0
    for folder, _, names in os.walk(data_root / "inputs", followlinks=True):
        for name in sorted(names):
            path = Path(folder) / name
            total += path.stat().st_size
            if total > RAY_MAX_DATA_BYTES:  # refused at submission already; kept as a guard
                raise ValueError(
                    f"the job's data inputs are over {RAY_MAX_DATA_BYTES // _MIB} MiB, "
                    "more than a Ray job carries to its worker; run it on a local target"
                )
            files[str(path.relative_to(data_root))] = path.read_bytes()
    params = {}
    for binding in [*info.inputs, *info.outputs]:
        value = info.parameters.get(binding.name)
        for base in (data_root, data_root.resolve()):
            if isinstance(value, str) and base in Path(value).parents:
                params[binding.name] = str(Path(value).relative_to(base))
                break
    outputs = [f"outputs/{out.name}" for out in info.outputs]
    return {"files": files, "params": params, "outputs": outputs}


def _lost(message: str) -> Outcome:
    return Outcome(
        JobStatus.FAILED, message, JobError(kind="worker_lost", message=message), retryable=True
    )


def _is_head(node: dict[str, Any]) -> bool:
    return any(k.startswith("node:__internal_head__") for k in node.get("Resources", {}))


CURSOR_FILE = "ray-task.json"


def _write_cursor(job: JobRun, key: str, cursor: int) -> None:
    """How far the job's messages were handled, so that a new agent goes on from there."""
    path = job.snapshot.parent / CURSOR_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"key": key, "next": cursor}))
    os.replace(tmp, path)


def _read_cursor(job: JobRun) -> tuple[str, int]:
    try:
        data = json.loads((job.snapshot.parent / CURSOR_FILE).read_text())
        return str(data["key"]), int(data["next"])
    except (OSError, ValueError, KeyError, TypeError):
        return "", 0


def _code_files(code: Path) -> dict[str, bytes]:
    """A command job's code snapshot, sent with its Ray task (bounded at submission)."""
    if not code.is_dir():
        return {}
    return {
        p.relative_to(code).as_posix(): p.read_bytes()
        for p in sorted(code.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }
