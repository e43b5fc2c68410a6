"""Executors: how an agent runs a claimed job on its kind of compute.

The agent owns what every kind shares — claiming, the MLflow run, progress and events,
timeouts and cancellation, metrics relay, the final state. An executor owns where the notebook
runs: kernels on this machine (:class:`LocalExecutor`), tasks on a Ray cluster
(:mod:`mlbench.agent.ray_executor`), kernels on a Jupyter gateway
(:mod:`mlbench.agent.gateway_executor`). Each compute kind names its executor
(``ComputeBackend.executor``), so a kind is registered in one place.
"""

from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TextIO

from mlbench.agent.command_runner import command_env, prepare_workdir, run_command
from mlbench.agent.execute import (
    STREAM_ACK_FILE,
    CellListener,
    JobStopped,
    Outcome,
    OutputLimits,
    StopRequest,
    python_prelude,
    run_notebook,
)
from mlbench.agent.kernels import HeartbeatWatch, KernelPool

if TYPE_CHECKING:
    from mlbench.compute.base import ComputeConfig
    from mlbench.config import WorkspaceSettings
    from mlbench.jobs.models import JobInfo

log = logging.getLogger(__name__)

DEFAULT_KERNEL = "python3"


class ExecutionHandle(Protocol):
    """What the agent's supervisor needs to stop a running job."""

    def interrupt(self) -> None: ...

    def kill(self) -> None: ...


@dataclass
class JobRun:
    """Everything an executor gets to run one job (built by the agent)."""

    info: JobInfo
    env: dict[str, str]
    snapshot: Path
    """The notebook as submitted (notebook jobs)."""
    code: Path
    """A command job's code snapshot; it runs in a fresh copy, ``workdir``."""
    workdir: Path
    output: Path
    outputs_dir: Path
    metrics_file: Path
    log_file: TextIO
    """The job's log (a bounded :class:`~mlbench.agent.joblog.JobLog`): write to it, never
    to the file it writes."""
    listener: CellListener
    stop: StopRequest
    attach: Callable[[ExecutionHandle], None]
    """Tell the agent how to interrupt or kill the job, as soon as that is possible."""
    started: Callable[[int | None, list[str] | None], None]
    """Call when the first cell may run: (process id, GPU ids if the executor chose them)."""


class Executor(ABC):
    kind: ClassVar[str]
    assigns_resources: ClassVar[bool] = True
    """True: the agent hands out CPUs, memory and concrete GPU ids itself (this machine).
    False: the engine behind the target places jobs (Ray), the agent only caps concurrency."""
    outlives_agent: ClassVar[bool] = False
    """True: a job keeps running when its agent dies, and a new agent follows it again
    (:meth:`survivors`, :meth:`resume`)."""

    def __init__(
        self, config: ComputeConfig, settings: WorkspaceSettings, workdir: Path, compute: str = ""
    ) -> None:
        self.config = config
        self.settings = settings
        self.workdir = workdir
        self.compute = compute  # the target's name

    def start(self, kernel_names: set[str]) -> None:  # noqa: B027 - optional hook
        """Get ready (connect, pre-start kernels for these kernel names)."""

    @abstractmethod
    def run(self, job: JobRun) -> Outcome:
        """Run the job to its end, in the calling (worker) thread."""

    def survivors(self) -> dict[str, int]:
        """Jobs a previous agent started that still run without it (their work lives where the
        agent's death does not reach): {job id: attempt}. The agent follows them again with
        :meth:`resume` instead of resolving them as lost."""
        return {}

    def resume(self, job: JobRun) -> Outcome:
        """Follow one of :meth:`survivors` to its end, like :meth:`run` (worker thread)."""
        raise NotImplementedError(f"{self.kind} jobs cannot be followed by a new agent")

    def discard(self, job_id: str, attempt: int) -> None:  # noqa: B027
        """Stop and forget one of :meth:`survivors` that nobody wants any more (its job was
        resolved meanwhile)."""

    def release(self, handle: ExecutionHandle | None) -> None:  # noqa: B027
        """Free what the job held, after its outcome is recorded."""

    def silent(self) -> dict[str, float]:
        """Jobs whose execution stopped answering: {job id: seconds silent}."""
        return {}

    def cluster(self) -> dict[str, Any] | None:
        """Nodes and their resources in use, where the target is a cluster."""
        return None

    def close(self) -> None:  # noqa: B027
        """Release everything (the agent is stopping)."""


class LocalExecutor(Executor):
    """Kernels on this machine, from a pool of pre-started (forked) kernels."""

    kind = "local"

    def __init__(
        self, config: ComputeConfig, settings: WorkspaceSettings, workdir: Path, compute: str = ""
    ) -> None:
        super().__init__(config, settings, workdir, compute)
        self.pool = KernelPool(
            base_env=kernel_base_env(),
            cwd=str(workdir),
            size=getattr(config, "kernel_pool_size", 1),
            start_timeout=settings.kernel_start_timeout_s,
        )
        self.heartbeats = HeartbeatWatch(settings.kernel_heartbeat_timeout_s)

    def start(self, kernel_names: set[str]) -> None:
        for name in kernel_names | {DEFAULT_KERNEL}:
            try:
                self.pool.refill(name)
            except Exception as exc:
                log.debug("not pre-starting kernel %r: %s", name, exc)

    def run(self, job: JobRun) -> Outcome:
        info = job.info
        if info.command is not None:
            return self.run_command(job)
        kernel = self.pool.acquire(info.kernel_name, env=job.env, cwd=info.cwd)
        job.attach(kernel)
        if kernel.pid:
            self.heartbeats.watch(info.id, kernel)
        try:
            if job.stop.requested:
                raise JobStopped
            job.started(kernel.pid, None)
            ack = job.output.parent / STREAM_ACK_FILE
            python = kernel.language == "python"
            return run_notebook(
                snapshot=job.snapshot,
                output=job.output,
                parameters=info.parameters,
                kernel=kernel,
                prelude=python_prelude(job.env, info.cwd, ack) if python else "",
                log_file=job.log_file,
                listener=job.listener,
                stop=job.stop,
                start_timeout=self.settings.kernel_start_timeout_s,
                limits=OutputLimits.of(self.settings),
                stream_ack=ack if python else None,
            )
        finally:
            self.heartbeats.unwatch(info.id)
            kernel.kill()  # results are flushed; reaping waits until the outcome is recorded

    def run_command(self, job: JobRun) -> Outcome:
        """A command job, as a process group on this machine."""
        prepare_workdir(job.code, job.workdir)
        if job.stop.requested:
            raise JobStopped
        return run_command(
            job.info,
            env=command_env(job.env, environment_bin(job.info.kernel_name)),
            workdir=job.workdir,
            outputs_dir=job.outputs_dir,
            log_file=job.log_file,
            stop=job.stop,
            attach=job.attach,
            started=job.started,
        )

    def release(self, handle: ExecutionHandle | None) -> None:
        shutdown = getattr(handle, "shutdown", None)
        if shutdown is not None:
            shutdown()  # a job's GPUs are free only once its kernel is gone

    def silent(self) -> dict[str, float]:
        return self.heartbeats.silent()

    def close(self) -> None:
        self.pool.close()
        self.heartbeats.close()


def write_files_under(folder: Path, files: dict[str, bytes]) -> None:
    """Write files a remote job sent back under ``folder``; a name escaping it is ignored."""
    root = folder.resolve()
    for name, data in files.items():
        target = (root / name).resolve()
        if root not in target.parents:
            log.warning("ignoring a file sent back from outside its folder: %r", name)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def environment_bin(kernel_name: str) -> Path | None:
    """The bin folder of the interpreter behind a job's kernel (its environment's venv), which a
    command job gets first on PATH; None for no kernel or one that is not found."""
    if not kernel_name:
        return None
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        argv = KernelSpecManager().get_kernel_spec(kernel_name).argv
    except NoSuchKernel:
        return None
    return Path(argv[0]).parent if argv and os.path.isabs(argv[0]) else None


def kernel_base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLBENCH_SETTINGS")}
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def executor_class(kind: str) -> type[Executor]:
    """The executor a compute kind names (see ComputeBackend.executor)."""
    from mlbench.compute.registry import compute_backends

    module, _, attr = compute_backends.get(kind).executor.partition(":")
    cls: Any = getattr(__import__(module, fromlist=[attr]), attr)
    return cls  # type: ignore[no-any-return]
