"""The agent: a long-lived process per compute target that runs its queued jobs.

Main thread: claims jobs (an atomic compare-and-set in the database, so two agents never run
one job), hands out CPUs/GPUs/memory, watches running jobs (cancel requests, timeouts, kernel
heartbeats) and heartbeats itself. Each job runs on a worker thread: MLflow run, kernel from the
pool, papermill, artifacts, final state. On start-up, the agent reconciles what a previous agent
left behind: jobs it was running are requeued per their retry policy or failed with the reason.
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import socket
import threading
import time
from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO, cast

import psutil
from sqlalchemy import select as sql_select
from sqlalchemy import update

from mlbench._ids import new_id, utcnow
from mlbench._version import __version__
from mlbench.agent.execute import (
    JobStopped,
    StopRequest,
    register_engine,
    stopped_outcome,
    with_disk_full,
)
from mlbench.agent.executors import ExecutionHandle, Executor, JobRun, executor_class
from mlbench.agent.joblog import DiskReserve, JobLog, disk_full_message, is_disk_full
from mlbench.agent.kernels import signal_process_group
from mlbench.agent.process import (
    STOP,
    STOP_NOW,
    WAKE,
    AgentHandle,
    acquire_agent_lock,
)
from mlbench.compute.base import Capacity
from mlbench.compute.gpus import sample_gpus
from mlbench.daemons import write_info
from mlbench.endpoints.supervisor import EndpointSupervisor
from mlbench.formatting import strip_ansi
from mlbench.jobenv import AGENT_GPUS_ENV
from mlbench.jobs.lifecycle import Outcome, RunContext
from mlbench.jobs.models import JobError, JobInfo, JobResources, JobStatus
from mlbench.pipelines.driver import PipelineDriver
from mlbench.store import AgentRow, JobRow
from mlbench.store.locks import FileLock
from mlbench.sweeps.driver import SweepDriver
from mlbench.tracking.client import MetricsRelay
from mlbench.tracking.metrics import FLUSH_INTERVAL_ENV, METRICS_FILE_ENV
from mlbench.workspace import Workspace

log = logging.getLogger(__name__)

MAX_WORKERS = 64
# How long a stopping agent keeps trying to record a job's end on a full disk.
DISK_FULL_STOP_GRACE_S = 30.0

SWEEP_RELAY_S = 0.25  # how often a sweep trial's metrics are flushed and relayed


@dataclass
class RunningJob:
    job_id: str
    resources: JobResources
    gpu_ids: list[str]
    timeout_s: float | None
    stop: StopRequest = field(default_factory=StopRequest)
    started: float | None = None  # monotonic, when its first cell may run
    handle: ExecutionHandle | None = None  # how to interrupt or kill it
    relay: MetricsRelay | None = None
    stop_sent_at: float | None = None
    killed: bool = False
    future: Future[None] | None = None


class Agent:
    def __init__(
        self, ws: Workspace, compute: str, *, on_demand: bool = False, lock: FileLock | None = None
    ) -> None:
        self.ws = ws
        self.compute = compute
        self.on_demand = on_demand
        self.id = new_id()
        self.handle = AgentHandle(ws, compute)
        self.lifecycle = ws.jobs.lifecycle
        self._lock = lock
        self._running: dict[str, RunningJob] = {}
        self._guard = threading.Lock()
        self._stop_mode: str | None = None
        self._wake_sock: socket.socket | None = None
        self._last_heartbeat = 0.0
        self._idle_since = time.monotonic()
        self._waiting_reasons: dict[str, str] = {}
        self._relay_stop = threading.Event()
        self._gpus_sampled_at = 0.0
        self._gpu_steps: dict[str, int] = {}
        self._reserve = DiskReserve(ws.paths.jobs_dir / ".disk-reserve")
        self._disk_full_logged = 0.0

    # -- life cycle ----------------------------------------------------------------------------
    def run(self) -> int:
        """Run until stopped (or, on demand, until idle). Returns a process exit code."""
        if self._lock is None:
            self._lock = acquire_agent_lock(self.ws.home, self.compute)
            if self._lock is None:
                log.info("an agent for %r is already running; exiting", self.compute)
                return 0
        try:
            self._start()
            self._loop()
            return 0
        finally:
            self._finish()
            self._lock.release()

    def _start(self) -> None:
        target = self.ws.compute.get(self.compute)
        _backend, self.config, _ = self.ws.compute.backend(self.compute, with_secrets=True)
        self.capacity: Capacity = target.capacity
        self._target_updated_at = target.updated_at
        self.idle_timeout = (
            self.config.idle_timeout_s
            if self.config.idle_timeout_s is not None
            else self.ws.settings.agent_idle_timeout_s
        )
        register_engine()
        self.ws.paths.jobs_dir.mkdir(parents=True, exist_ok=True)
        self._reserve.ensure()
        self.ws.tracking.initialize()
        self.executor: Executor = executor_class(target.kind)(
            self.config, self.ws.settings, self.ws.paths.jobs_dir, self.compute
        )
        if not self.executor.outlives_agent:
            self._reconcile()
        try:  # an agent (re)started after a reboot brings the scheduler back too
            self.ws.schedules.ensure_scheduler()
        except Exception:
            log.exception("could not check the scheduler")
        self._wake_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._wake_sock.bind(("127.0.0.1", 0))
        self._wake_sock.setblocking(False)
        # Sized for the largest target; the scheduler enforces the target's own limit.
        self.workers = ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="job")
        now = utcnow()
        with self.ws.db.write() as s:
            s.add(
                AgentRow(
                    id=self.id,
                    compute=self.compute,
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    version=__version__,
                    state="running",
                    started_at=now,
                    heartbeat_at=now,
                )
            )
        try:
            self._prewarm()
        except Exception:
            if self.executor.outlives_agent:  # nothing can be followed again without it
                self._reconcile()
            raise
        if self.executor.outlives_agent:
            self._reconcile(self._adopt_survivors())
        self.sweeps = SweepDriver(self.ws, self.compute, lambda: self.capacity.max_concurrent_jobs)
        self._sweeping = False
        self.pipelines = PipelineDriver(
            self.ws, self.compute, agents=lambda name: AgentHandle(self.ws, name)
        )
        self.endpoints = EndpointSupervisor(self.ws, self.compute)
        self.endpoints.start()
        self._relay_thread = threading.Thread(
            target=self._relay_loop, name="metrics-relay", daemon=True
        )
        self._relay_thread.start()
        self._install_signal_handlers()
        self._info = {
            "agent_id": self.id,
            "pid": os.getpid(),
            "port": self._wake_sock.getsockname()[1],
            "compute": self.compute,
            "host": socket.gethostname(),
            "version": __version__,
            "started_at": now.isoformat(),
            "on_demand": self.on_demand,
            "state": "ready",
        }
        self._publish()
        log.info(
            "agent %s for %r ready (pid %s): %g CPUs, GPUs %s, %d jobs at once",
            self.id,
            self.compute,
            os.getpid(),
            self.capacity.cpus,
            self.capacity.gpu_ids or "none",
            self.capacity.max_concurrent_jobs,
        )

    def _prewarm(self) -> None:
        with self.ws.db.session() as s:
            names = set(
                s.scalars(
                    sql_select(JobRow.kernel_name)
                    .where(JobRow.compute == self.compute, JobRow.status == "queued")
                    .distinct()
                )
            )
        self.executor.start(names)

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def _on_signal(signum: int, _frame: Any) -> None:
            log.info("received %s: stopping now", signal.Signals(signum).name)
            self._stop_mode = "now"

        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)

    def _finish(self) -> None:
        self._relay_stop.set()
        workers = getattr(self, "workers", None)
        if workers is not None:
            workers.shutdown(wait=True)
        executor = getattr(self, "executor", None)
        if executor is not None:
            executor.close()
        endpoints = getattr(self, "endpoints", None)
        if endpoints is not None:
            endpoints.stop()
        if self._wake_sock is not None:
            self._wake_sock.close()
        self.handle.info_path.unlink(missing_ok=True)
        try:
            with self.ws.db.write() as s:
                s.execute(
                    update(AgentRow)
                    .where(AgentRow.id == self.id)
                    .values(state="stopped", stopped_at=utcnow())
                )
        except Exception:
            log.exception("could not record the agent's stop")
        log.info("agent %s stopped", self.id)

    # -- main loop -----------------------------------------------------------------------------
    def _loop(self) -> None:
        poll = self.ws.settings.agent_poll_interval_s
        while True:
            try:
                if self._tick():
                    return
            except Exception as exc:
                # A full disk fails the database and file writes of a turn; the agent waits for
                # room instead of dying with its jobs' causes (they retry recording their end).
                if not is_disk_full(exc):
                    raise
                self._log_disk_full("the agent's bookkeeping", exc)
            self._wait_for_wake(poll)

    def _tick(self) -> bool:
        """One turn of the main loop; True when the agent should exit."""
        self._reap()
        if self._stop_mode == "now":
            for job in list(self._running.values()):
                if job.stop.set("agent_stopping", "the agent was stopped"):
                    self._send_stop(job)
        if self._stop_mode and not self._running:
            return True
        if not self._stop_mode:
            self._drive_sweeps()
        self._supervise()
        if not self._stop_mode:
            self._schedule()
        self._heartbeat()
        if self._idle_expired():
            log.info("idle for %.0f s: exiting", self.idle_timeout)
            return True
        return False

    def _drive_sweeps(self) -> None:
        """A step of each sweep and pipeline run this target runs (before supervision, so a
        trial its policy stops is interrupted in the same turn). Each driver has its own guard:
        one that fails does not cost the other its turn."""
        for what, turn in (("sweeps", self._sweep_turn), ("pipelines", self.pipelines.tick)):
            try:
                turn()
            except Exception as exc:
                if is_disk_full(exc):
                    raise
                log.exception("driving %s failed", what)

    def _sweep_turn(self) -> None:
        self.sweeps.tick()
        self._sweeping = self.sweeps.active()

    def _log_disk_full(self, what: str, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._disk_full_logged >= 60:  # once a minute: the log may be on that disk
            self._disk_full_logged = now
            log.warning("disk full: %s could not be written (%s); waiting for room", what, exc)

    def _wait_for_wake(self, timeout: float) -> None:
        assert self._wake_sock is not None
        readable, _, _ = select.select([self._wake_sock], [], [], timeout)
        if not readable:
            return
        while True:
            try:
                msg = self._wake_sock.recv(64)
            except BlockingIOError:
                return
            if msg == STOP and self._stop_mode is None:
                log.info("asked to stop once running jobs finish")
                self._stop_mode = "drain"
            elif msg == STOP_NOW:
                log.info("asked to stop now")
                self._stop_mode = "now"

    def _idle_expired(self) -> bool:
        if not self.on_demand:
            return False
        if (
            self._running
            or self._has_queued()
            or self.sweeps.active()
            or self.pipelines.active()
            or self.endpoints.active()  # a served endpoint keeps its supervisor up
        ):
            self._idle_since = time.monotonic()
            return False
        return time.monotonic() - self._idle_since >= self.idle_timeout

    def _has_queued(self) -> bool:
        with self.ws.db.session() as s:
            return (
                s.scalar(
                    sql_select(JobRow.id)
                    .where(JobRow.compute == self.compute, JobRow.status == "queued")
                    .limit(1)
                )
                is not None
            )

    def _heartbeat(self) -> None:
        now = time.monotonic()
        if now - self._last_heartbeat < self.ws.settings.agent_heartbeat_interval_s:
            return
        self._last_heartbeat = now
        self._reserve.ensure()
        with self.ws.db.write() as s:
            s.execute(update(AgentRow).where(AgentRow.id == self.id).values(heartbeat_at=utcnow()))
        self._reload_target()
        self._publish()

    def _publish(self) -> None:
        """Write what `mlbench compute show` and the compute view show about this agent."""
        try:
            cluster = self.executor.cluster()
        except Exception as exc:  # a cluster hiccup must not stop the agent
            cluster = {"error": str(exc)}
        if cluster is not None:
            self._info["cluster"] = cluster
        self._info["heartbeat_at"] = utcnow().isoformat()
        self._info["running"] = len(self._running)
        write_info(self.handle.info_path, self._info)

    def _reload_target(self) -> None:
        """Pick up `mlbench compute update` without a restart (it applies to new jobs)."""
        target = self.ws.compute.get(self.compute)
        if target.updated_at != self._target_updated_at:
            self._target_updated_at = target.updated_at
            self.capacity = target.capacity
            log.info("compute target %r changed: now %s", self.compute, self.capacity)

    # -- scheduling ----------------------------------------------------------------------------
    def _free(self) -> tuple[float, int | None, list[str]]:
        with self._guard:
            jobs = list(self._running.values())
        cpus = self.capacity.cpus - sum(j.resources.cpus for j in jobs)
        memory = None
        if self.capacity.memory_mb:
            memory = self.capacity.memory_mb - sum(j.resources.memory_mb or 0 for j in jobs)
        used = {g for j in jobs for g in j.gpu_ids}
        gpus = [g for g in self.capacity.gpu_ids if g not in used]
        return cpus, memory, gpus

    def _schedule(self) -> None:
        if len(self._running) >= self.capacity.max_concurrent_jobs:
            return
        with self.ws.db.session() as s:
            queued = s.execute(
                sql_select(JobRow.id, JobRow.resources, JobRow.timeout_s)
                .where(
                    JobRow.compute == self.compute,
                    JobRow.status == "queued",
                    JobRow.cancel_requested.is_(False),
                )
                .order_by(JobRow.created_at, JobRow.id)
                .limit(200)
            ).all()
        gpu_blocked = False  # an older GPU job is waiting: newer GPU jobs must not overtake it
        for job_id, raw_resources, timeout_s in queued:
            if len(self._running) >= self.capacity.max_concurrent_jobs:
                self._note_waiting(
                    job_id,
                    f"waiting for a free slot ({self.capacity.max_concurrent_jobs} jobs at once)",
                )
                break
            res = JobResources.model_validate(raw_resources or {})
            if not self.executor.assigns_resources:  # the engine places it (e.g. Ray)
                self._claim(job_id, res, [], timeout_s)
                continue
            cpus, memory, gpus = self._free()
            why = None
            if res.gpus and (gpu_blocked or res.gpus > len(gpus)):
                gpu_blocked = True
                why = f"waiting for {res.gpus} GPU(s) ({len(gpus)} of {self.capacity.gpus} free)"
            elif res.cpus > cpus + 1e-9:
                why = f"waiting for {res.cpus:g} CPU(s) ({max(cpus, 0):g} free)"
            elif res.memory_mb and memory is not None and res.memory_mb > memory:
                why = f"waiting for {res.memory_mb} MiB of memory ({max(memory, 0)} MiB free)"
            if why:
                self._note_waiting(job_id, why)
                continue
            self._claim(job_id, res, gpus[: res.gpus], timeout_s)

    def _note_waiting(self, job_id: str, reason: str) -> None:
        if self._waiting_reasons.get(job_id) == reason:
            return
        self._waiting_reasons[job_id] = reason
        self.lifecycle.note_waiting(job_id, reason)

    def _claim(
        self, job_id: str, res: JobResources, gpu_ids: list[str], timeout_s: float | None
    ) -> None:
        claimed = self.lifecycle.claim(job_id, self.id, gpu_ids)
        if not claimed:
            return  # another agent took it, or it was canceled meanwhile
        self._waiting_reasons.pop(job_id, None)
        job = RunningJob(job_id=job_id, resources=res, gpu_ids=gpu_ids, timeout_s=timeout_s)
        with self._guard:
            self._running[job_id] = job
        job.future = self.workers.submit(self._run_job, job)

    def _reap(self) -> None:
        with self._guard:
            done = [j for j in self._running.values() if j.future is not None and j.future.done()]
            for job in done:
                del self._running[job.job_id]
                self._gpu_steps.pop(job.job_id, None)
        for job in done:
            exc = job.future.exception() if job.future else None
            if exc is not None:
                log.error("job %s worker crashed", job.job_id, exc_info=exc)
                self._fail_crashed(job, exc)

    def _fail_crashed(self, job: RunningJob, exc: BaseException) -> None:
        """A bug in the agent must not leave a job 'running' until the next restart."""
        self.executor.release(job.handle)
        message = f"internal error in the agent: {type(exc).__name__}: {exc}"
        error = JobError(kind="internal_error", message=message)
        # On a worker: recording may have to wait for room on a full disk.
        self.workers.submit(
            self._record_end, job.job_id, lambda: self.lifecycle.fail(job.job_id, self.id, error)
        )

    def _record_end(self, job_id: str, write: Callable[[], object]) -> None:
        """Record a job's end (worker thread). On a full disk: give up the reserve and try
        again, then keep trying until there is room, so the job ends with its own reason
        rather than 'agent lost'; a stopping agent tries for DISK_FULL_STOP_GRACE_S more."""
        delay, deadline = 0.5, None
        while True:
            try:
                write()
                return
            except Exception as exc:
                if not is_disk_full(exc):
                    raise
                if self._reserve.release():
                    log.warning("disk full: gave up the reserve to record job %s's end", job_id)
                    continue
                if self._stop_mode and deadline is None:
                    deadline = time.monotonic() + DISK_FULL_STOP_GRACE_S
                if deadline is not None and time.monotonic() > deadline:
                    log.error("disk full: could not record the end of job %s: %s", job_id, exc)
                    return
                self._log_disk_full(f"the end of job {job_id}", exc)
                time.sleep(delay)
                delay = min(delay * 2, 10.0)

    # -- supervision ---------------------------------------------------------------------------
    def _supervise(self) -> None:
        with self._guard:
            jobs = list(self._running.values())
        if not jobs:
            return
        ids = [j.job_id for j in jobs]
        with self.ws.db.session() as s:
            stop_rows = s.execute(
                sql_select(JobRow.id, JobRow.termination).where(
                    JobRow.id.in_(ids), JobRow.cancel_requested
                )
            ).all()
        stops: dict[str, Any] = {job_id: termination for job_id, termination in stop_rows}
        silent = self.executor.silent()
        now = time.monotonic()
        grace = self.ws.settings.cancel_grace_s
        for job in jobs:
            if (job.job_id in stops and _stop_requested(job, stops[job.job_id])) or (
                job.timeout_s is not None
                and job.started is not None
                and now - job.started > job.timeout_s
                and job.stop.set("timed_out", f"ran longer than its timeout of {job.timeout_s:g} s")
            ):
                self._send_stop(job)
            elif job.job_id in silent and job.stop.set(
                "kernel_unresponsive", f"no heartbeat for {silent[job.job_id]:.0f} s"
            ):
                # A frozen kernel will not handle an interrupt: kill it at once.
                job.stop_sent_at = now - grace
            if job.stop_sent_at is not None and not job.killed and now - job.stop_sent_at >= grace:
                if job.handle is not None:
                    log.info("job %s did not stop in %.0f s: killing it", job.job_id, grace)
                    job.handle.kill()
                job.killed = True

    def _send_stop(self, job: RunningJob) -> None:
        job.stop_sent_at = time.monotonic()
        if job.handle is not None:
            job.handle.interrupt()

    # -- one job (worker thread) ---------------------------------------------------------------
    def _run_job(self, job: RunningJob, resume: bool = False) -> None:
        """Run one job to its end and record it; ``resume``: follow one that a previous agent
        started and that still runs without it."""
        info = self.ws.jobs.info(job.job_id)
        paths = self.ws.paths
        job_dir = paths.job_dir(job.job_id)
        run_id: str | None = None
        outcome: Outcome
        # Bounded, and a failing write (a full disk) never raises into the job.
        job_log = JobLog(  # no secret of the workspace reaches the log, whoever wrote it
            paths.log(job.job_id),
            max_bytes=self.ws.settings.job_log_max_bytes,
            redact=self.ws.redact,
        )
        with job_log:
            log_file = cast(TextIO, job_log)
            if resume:
                _note(log_file, f"a new agent follows attempt {info.attempt} again")
            else:
                _note(log_file, f"attempt {info.attempt} of job {info.id} on {self.compute}")
            try:
                paths.outputs(job.job_id).mkdir(parents=True, exist_ok=True)
                if resume:  # adopted with its run; the task already has its environment
                    run_id, env = str(info.mlflow_run_id), {}
                else:
                    run_id = self._start_run(info)
                    env = {
                        **self.ws.jobs.spec(info).environment_variables,
                        **self._job_env(info, run_id, job.gpu_ids),  # mlbench's own win
                    }
                run = RunContext(self.ws, info, run_id, log_file)
                if not resume:
                    self.lifecycle.stage(run)  # data inputs, output folders
                if not job.gpu_ids and self.capacity.gpu_ids and not resume:
                    _note(
                        log_file,
                        "no GPUs requested: CUDA_VISIBLE_DEVICES is empty "
                        "(ask for GPUs with --gpus N)",
                    )
                job.relay = MetricsRelay(
                    self.ws.tracking,
                    run_id,
                    paths.metrics(job.job_id),
                    # a successor of this agent goes on relaying from there, not twice
                    keep_offset=self.executor.outlives_agent,
                )
                execute = self.executor.resume if resume else self.executor.run
                outcome = execute(
                    JobRun(
                        info=info,
                        env=env,
                        snapshot=paths.snapshot(job.job_id),
                        code=paths.code(job.job_id),
                        workdir=paths.workdir(job.job_id),
                        output=paths.output_notebook(job.job_id),
                        outputs_dir=paths.outputs(job.job_id),
                        metrics_file=paths.metrics(job.job_id),
                        log_file=log_file,
                        listener=_ProgressWriter(self.ws, job),
                        stop=job.stop,
                        attach=lambda handle: setattr(job, "handle", handle),
                        started=lambda pid, gpu_ids: self._mark_running(
                            info, job, run_id, pid, gpu_ids
                        ),
                    )
                )
                outcome = self.lifecycle.collect(run, outcome)  # e.g. data outputs registered
            except JobStopped:
                outcome = stopped_outcome(job.stop, None)
            except Exception as exc:
                if is_disk_full(exc):
                    log.warning("job %s: disk full: %s", job.job_id, exc)
                    message = disk_full_message(_full_folder(exc, self.ws.home), "the job's files")
                    outcome = Outcome(
                        JobStatus.FAILED, message, JobError(kind="disk_full", message=message)
                    )
                else:
                    log.exception("job %s could not run", job.job_id)
                    message = f"{type(exc).__name__}: {exc}"
                    outcome = Outcome(
                        JobStatus.FAILED,
                        f"the job could not run: {message}",
                        JobError(kind="setup_error", message=message),
                        retryable=False,
                    )
            _note(
                log_file,
                f"{outcome.status.value}" + (f": {outcome.reason}" if outcome.reason else ""),
            )
            if outcome.error and outcome.error.traceback:
                log_file.write(strip_ansi("\n".join(outcome.error.traceback)) + "\n")
        if job_log.error is not None and is_disk_full(job_log.error):
            outcome = with_disk_full(outcome, disk_full_message(job_dir, "the job's log"))
        elif job_log.lost:
            log.warning("job %s: %d bytes of its log could not be written", info.id, job_log.lost)
        self._finalize(info, job, run_id, outcome, job_dir)
        self._wake_self()  # its end is looked at now (a pipeline's next step, a queued job)

    def _start_run(self, info: JobInfo) -> str:
        tags = {
            "mlbench.job_id": info.id,
            "mlbench.compute": self.compute,
            "mlbench.attempt": str(info.attempt),
            "mlbench.kernel": info.kernel_name,
            "mlflow.source.name": info.notebook_path or info.cwd,
            "mlflow.source.type": "NOTEBOOK" if info.command is None else "LOCAL",
            **({"mlbench.command": info.command[:5000]} if info.command else {}),
            "mlflow.user": info.owner,
            **{k: v for k, v in info.tags.items()},
        }
        defaults = self._declared_defaults(info)
        if defaults:
            # which params are the notebook's own defaults (a runs table can say so)
            tags["mlbench.defaults"] = json.dumps(sorted(defaults))[:5000]
        exp_id, run_id = self.ws.tracking.start_run(
            info.experiment, info.display_name, tags, {**defaults, **info.parameters}
        )
        self.lifecycle.record_run(info.id, exp_id, run_id)
        return run_id

    def _declared_defaults(self, info: JobInfo) -> dict[str, Any]:
        """The notebook's declared defaults of the parameters the job did not set: the run
        records every value the job ran with, so runs compare on all of them."""
        if info.command is not None:
            return {}
        try:
            declared = self.ws.jobs.parameters(self.ws.jobs.snapshot_path(info))
        except Exception as exc:  # an unreadable snapshot fails later, where it is reported
            log.debug("job %s: no declared parameters: %s", info.id, exc)
            return {}
        return {
            name: p.default if p.default is not None else (p.default_source or None)
            for name, p in declared.items()
            if name not in info.parameters
        }

    def _job_env(self, info: JobInfo, run_id: str, gpu_ids: list[str]) -> dict[str, str]:
        paths = self.ws.paths
        return {
            "MLBENCH_HOME": str(self.ws.home),
            "MLBENCH_JOB_ID": info.id,
            "MLBENCH_ATTEMPT": str(info.attempt),
            "MLBENCH_OUTPUT_DIR": str(paths.outputs(info.id)),
            METRICS_FILE_ENV: str(paths.metrics(info.id)),
            "MLFLOW_TRACKING_URI": self.ws.tracking_uri,
            "MLFLOW_RUN_ID": run_id,
            "MLFLOW_EXPERIMENT_NAME": info.experiment,
            "CUDA_VISIBLE_DEVICES": ",".join(gpu_ids),
            AGENT_GPUS_ENV: os.environ.get("CUDA_VISIBLE_DEVICES", "*"),
            **({FLUSH_INTERVAL_ENV: str(SWEEP_RELAY_S)} if info.parent else {}),
        }

    def _mark_running(
        self,
        info: JobInfo,
        job: RunningJob,
        run_id: str,
        pid: int | None,
        gpu_ids: list[str] | None,
    ) -> None:
        # gpu_ids: set when the engine chose them (e.g. Ray), not this agent
        self.lifecycle.mark_running(info.id, self.id, pid=pid, run_id=run_id, gpu_ids=gpu_ids)
        job.started = time.monotonic()

    def _finalize(
        self, info: JobInfo, job: RunningJob, run_id: str | None, outcome: Outcome, job_dir: Path
    ) -> None:
        paths = self.ws.paths
        if run_id:
            try:
                if job.relay is not None:
                    job.relay.pump()
                for path in (paths.output_notebook(info.id), paths.log(info.id)):
                    if path.exists():
                        self.ws.tracking.log_artifact(run_id, path)
                outputs = paths.outputs(info.id)
                if outputs.is_dir() and any(outputs.iterdir()):
                    self.ws.tracking.log_artifacts(run_id, outputs, "outputs")
            except Exception as exc:
                if not is_disk_full(exc):
                    log.exception("recording job %s in MLflow failed", info.id)
                else:  # its results are not all stored: the job did not complete
                    log.warning("job %s: disk full while storing its artifacts: %s", info.id, exc)
                    where = _full_folder(exc, self.ws.home)
                    outcome = with_disk_full(
                        outcome, disk_full_message(where, "the job's MLflow artifacts")
                    )
            try:
                if outcome.status != JobStatus.COMPLETED:  # tells timed_out from failed
                    self.ws.tracking.set_tags(run_id, {"mlbench.status": outcome.status.value})
                self.ws.tracking.end_run(run_id, outcome.status.value)
            except Exception as exc:
                if is_disk_full(exc):
                    log.warning("job %s: disk full: its MLflow run stays open: %s", info.id, exc)
                else:
                    log.exception("recording job %s in MLflow failed", info.id)
        self._record_end(info.id, lambda: self.lifecycle.finish(info, self.id, outcome))
        self.executor.release(job.handle)

    # -- metrics relay -------------------------------------------------------------------------
    def _relay_loop(self) -> None:
        # a sweep's policy acts on what the relay brings: relay more often while one runs
        while not self._relay_stop.wait(SWEEP_RELAY_S if self._sweeping else 1.0):
            with self._guard:
                relays = [j.relay for j in self._running.values() if j.relay is not None]
            woken = False
            for relay in relays:
                try:
                    # new points of a sweep's trial: its policy looks at them now, not next turn
                    if relay.pump() and self._sweeping and not woken:
                        woken = self._wake_self()
                except Exception as exc:
                    if is_disk_full(exc):
                        self._log_disk_full("metrics", exc)
                    else:
                        log.exception("relaying metrics failed")
            try:
                self._sample_gpus()
            except Exception:
                log.exception("sampling GPUs failed")

    def _sample_gpus(self) -> None:
        """The load of this target's GPUs: published for the compute view, and recorded as
        ``system/gpu_N_*`` metrics of the runs of the jobs holding them (MLflow's system-metric
        names; N is the GPU's number as the job sees it through CUDA_VISIBLE_DEVICES)."""
        every = self.ws.settings.gpu_sample_interval_s
        now = time.monotonic()
        if not every or now - self._gpus_sampled_at < every or not self.capacity.gpu_ids:
            return
        self._gpus_sampled_at = now
        mine = set(self.capacity.gpu_ids)  # a Ray job's GPUs are on another machine's bus
        samples = {s.index: s for s in sample_gpus(mine)}
        self._info["gpus"] = [s.model_dump() for s in samples.values()]
        with self._guard:
            held = [
                (j.job_id, j.gpu_ids, j.relay.run_id)
                for j in self._running.values()
                if j.gpu_ids and j.relay is not None and set(j.gpu_ids) <= mine
            ]
        stamp = int(time.time() * 1000)
        for job_id, ids, run_id in held:
            step = self._gpu_steps.get(job_id, 0)
            self._gpu_steps[job_id] = step + 1
            points = []
            for n, gpu in enumerate(ids):
                sample = samples.get(gpu)
                if sample is None:
                    continue
                for name, value in (
                    ("utilization_percentage", sample.utilization_pct),
                    ("memory_usage_megabytes", sample.memory_used_mb),
                ):
                    if value is not None:
                        points.append((f"system/gpu_{n}_{name}", float(value), step, stamp))
            if points:
                self.ws.tracking.log_points(run_id, points)

    def _wake_self(self) -> bool:
        if self._wake_sock is None:
            return False
        try:
            self._wake_sock.sendto(WAKE, self._wake_sock.getsockname())
        except OSError:
            return False
        return True

    # -- recovery ------------------------------------------------------------------------------
    def _reconcile(self, adopted: Collection[str] = ()) -> None:
        """Resolve jobs a previous agent of this target left starting or running, but those
        this agent follows again."""
        self.lifecycle.reconcile(self.compute, on_orphan=_kill_orphan_kernel, keep=adopted)
        with self.ws.db.write() as s:
            s.execute(
                update(AgentRow)
                .where(
                    AgentRow.compute == self.compute,
                    AgentRow.state == "running",
                    AgentRow.id != self.id,
                )
                .values(state="lost", stopped_at=utcnow())
            )

    def _adopt_survivors(self) -> list[str]:
        """Follow again the jobs a previous agent started that still run in the cluster (or
        ended there while no agent was around); those no longer wanted are stopped there."""
        try:
            survivors = self.executor.survivors()
        except Exception:
            log.exception("could not ask %r for jobs still running there", self.compute)
            return []
        adopted = []
        for job_id, attempt in survivors.items():
            if not self.lifecycle.adopt(job_id, attempt, self.compute, self.id):
                self.executor.discard(job_id, attempt)
                continue
            info = self.ws.jobs.info(job_id)
            elapsed = (utcnow() - info.started_at).total_seconds() if info.started_at else None
            job = RunningJob(
                job_id=job_id,
                resources=info.resources,
                gpu_ids=list(info.gpu_ids),
                timeout_s=info.timeout_s,
                started=time.monotonic() - elapsed if elapsed is not None else None,
            )
            with self._guard:
                self._running[job_id] = job
            job.future = self.workers.submit(self._run_job, job, True)
            adopted.append(job_id)
        return adopted


class _ProgressWriter:
    """Records per-cell progress in the job's row and event feed."""

    def __init__(self, ws: Workspace, job: RunningJob) -> None:
        self.ws = ws
        self.job = job

    def cell_started(self, index: int, count: int, source: str) -> None:
        if self.job.stop.requested:
            raise JobStopped
        head = "\n".join(source.splitlines()[:3])[:300]
        self.ws.jobs.lifecycle.progress(self.job.job_id, index, count, head)

    def cell_finished(self, index: int) -> None:
        pass


def _stop_requested(job: RunningJob, termination: dict[str, Any] | None) -> bool:
    """A stop asked through the database: a user's cancel, or a sweep's early termination."""
    if termination:
        return job.stop.set("early_terminated", str(termination.get("detail", "")))
    return job.stop.set("canceled", "on request")


def _full_folder(exc: BaseException, default: Path) -> Path:
    """The folder a disk-full error was about (its file's), else ``default``."""
    while exc is not None:
        name = getattr(exc, "filename", None)
        if isinstance(name, str | os.PathLike):
            return Path(name).parent
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return default


def _note(log_file: TextIO, text: str) -> None:
    log_file.write(f"[mlbench {utcnow().strftime('%H:%M:%S')}] {text}\n")


def _kill_orphan_kernel(pid: int | None, started_at: datetime | None) -> None:
    """Kill a kernel a dead agent left behind (its parent poller usually already did)."""
    if not pid:
        return
    try:
        proc = psutil.Process(pid)
        cmdline = " ".join(proc.cmdline())
        born = proc.create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return
    # pid reuse guard: it must look like a kernel (or a forked one) and predate the job
    looks_like_kernel = "kernel" in cmdline or "zygote" in cmdline
    if not looks_like_kernel or (started_at and born > started_at.timestamp() + 1):
        return
    signal_process_group(pid, signal.SIGKILL)
