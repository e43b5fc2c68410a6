"""The owner of a compute target's Ray job tasks: a detached actor, so jobs outlive their agent.

Ray ties a task to whoever submitted it: when the agent's driver exits (a crash, an upgrade, a
laptop going to sleep), the tasks it submitted are killed. So the agent submits each job
through this actor instead. It lives in the cluster (detached, no resources, on the head node
where it can), owns the job's task, and keeps the task's messages until the agent has read
them. An agent that starts again finds the owner by name, asks which jobs it still holds —
running, or ended while no agent was there — and follows each from where the last agent stopped
reading (the cursor kept in the job's folder), instead of failing and rerunning it. If the owner
itself dies, Ray kills its tasks and their jobs fail as lost, their retry policy applies.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import socket
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

OWNER_PREFIX = "mlbench-jobs-"


def agent_scope(workdir: Path, compute: str) -> str:
    """What names the actors of one workspace's target (a Ray namespace may be shared by other
    targets and workspaces: none of them may find, or stop, another's actors)."""
    key = f"{socket.gethostname()}:{workdir.resolve()}:{compute}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def owner_name(scope: str) -> str:
    return OWNER_PREFIX + scope


def job_key(job_id: str, attempt: int) -> str:
    """One attempt of a job: a retry is a new task."""
    return f"{job_id}:{attempt}"


def describe(exc: BaseException) -> str:
    """Why a job's Ray task failed, in a line (the kind of failure, not Ray's traceback)."""
    import ray

    if isinstance(exc, ray.exceptions.WorkerCrashedError):
        return "the Ray worker running the job died (its process exited or was killed)"
    if isinstance(exc, ray.exceptions.NodeDiedError):
        return "the Ray node running the job died"
    if isinstance(exc, ray.exceptions.RuntimeEnvSetupError):
        lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
        return (
            "Ray could not set up the job's runtime_env (its environment's packages) on the "
            f"node: {lines[-1] if lines else type(exc).__name__}"
        )
    if isinstance(exc, ray.exceptions.OutOfMemoryError):
        return "Ray killed the job's worker: the node ran out of memory"
    first = str(exc).strip().splitlines()
    return f"the Ray task failed: {type(exc).__name__}: {first[0] if first else ''}"


class _Job:
    def __init__(self, gen: Any) -> None:
        self.gen = gen
        self.messages: list[dict[str, Any]] = []
        self.base = 0  # the cursor of messages[0]: what the agent has read is dropped
        self.done = False
        self.changed = asyncio.Event()

    def add(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        self.changed.set()


class JobOwner:
    """The actor body (async: one event loop serves every job's stream and the agent's reads)."""

    def __init__(self) -> None:
        import ray

        from mlbench.agent.ray_worker import run_job_payload

        # max_retries=0: mlbench applies the job's own retry policy, with a fresh MLflow run.
        self._remote = ray.remote(num_returns="streaming", max_retries=0)(run_job_payload)
        self._jobs: dict[str, _Job] = {}
        self._consumers: set[asyncio.Task[None]] = set()

    async def submit(self, key: str, payload: dict[str, Any], options: dict[str, Any]) -> None:
        """Start the job's task (once per key: a repeated call changes nothing)."""
        if key in self._jobs:
            return
        job = _Job(self._remote.options(**options).remote(payload))
        self._jobs[key] = job
        consumer = asyncio.ensure_future(self._consume(job))
        self._consumers.add(consumer)
        consumer.add_done_callback(self._consumers.discard)

    async def _consume(self, job: _Job) -> None:
        import ray

        try:
            async for ref in job.gen:
                job.add(await ref)
            job.add({"type": "ended"})
        except ray.exceptions.TaskCancelledError:
            job.add({"type": "ended", "canceled": True})
        except ray.exceptions.RayError as exc:
            job.add({"type": "ended", "lost": describe(exc)})
        except Exception as exc:  # a bug here must still end the job, with what it was
            log.exception("following a job's task failed")
            job.add({"type": "ended", "lost": f"{type(exc).__name__}: {exc}"})
        finally:
            job.done = True
            job.changed.set()

    async def read(self, key: str, after: int, timeout: float) -> dict[str, Any] | None:
        """The job's messages from cursor ``after`` on (those before it are dropped: the agent
        has them), waiting up to ``timeout`` for one; None for a job this owner does not hold."""
        job = self._jobs.get(key)
        if job is None:
            return None
        if after > job.base:
            del job.messages[: after - job.base]
            job.base = after
        if not job.messages and not job.done:
            job.changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(job.changed.wait(), timeout)
        return {"messages": list(job.messages), "next": job.base + len(job.messages)}

    async def cancel(self, key: str, force: bool) -> None:
        import ray

        job = self._jobs.get(key)
        if job is not None and not job.done:
            ray.cancel(job.gen, force=force)

    async def forget(self, key: str) -> None:
        """The agent has recorded the job's end."""
        self._jobs.pop(key, None)

    async def jobs(self) -> list[str]:
        """The keys of the jobs it holds: running, or ended and not yet read to their end."""
        return list(self._jobs)
