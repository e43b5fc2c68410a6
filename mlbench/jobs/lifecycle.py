"""The job lifecycle: the only code that moves a job between states.

Every text it stores (reasons, errors, tracebacks) first passes the workspace's redactor, so a
secret that leaked into a message (a gateway echoing its token) never reaches the database, the
event feed or any reader.

queued → starting → running → completed / failed / canceled / timed_out, with retries (back to
queued) and reconciliation after a lost agent. Every transition is one guarded ``UPDATE`` (a
compare-and-set on the current state, so two agents or a canceller and an agent never both win)
plus a status event in the same transaction, which the server's event stream follows.
``tests/test_lifecycle.py`` checks that no other module writes job rows or events.

Features plug in through hooks, called at three points:

- ``bind`` at submission, before anything is stored: resolve and check what the job will use
  (data bindings add path parameters; sweeps and pipelines will add their parent's links);
- ``stage`` on the agent, before the first cell (data inputs linked, output folders emptied);
- ``collect`` on the agent, after the run and before the outcome is recorded (data outputs
  registered; a missing output turns *completed* into *failed*). Next users: pipeline step
  completion, model registration. (Sweeps need none: their driver stops a trial through
  :meth:`Lifecycle.terminate_early`.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from mlbench._ids import utcnow
from mlbench.jobs.models import FINAL_STATUSES, ON_AGENT, JobError, JobInfo, JobStatus
from mlbench.store import AgentRow, JobEventRow, JobRow

if TYPE_CHECKING:
    from mlbench.compute.base import ComputeBackend
    from mlbench.data.models import JobInput, JobOutput
    from mlbench.jobs.spec import JobSpec
    from mlbench.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """How a run ended, as an executor reports it (``retryable``: a retry may help)."""

    status: JobStatus
    reason: str = ""
    error: JobError | None = None
    retryable: bool = False


# -- hooks -------------------------------------------------------------------------------------
@dataclass
class Submission:
    """A job being submitted, as the ``bind`` hooks see it (nothing is stored yet)."""

    ws: Workspace
    job_id: str
    spec: JobSpec
    """Resolved so far: absolute paths, resources; a hook may resolve its own fields (an
    environment sets ``kernel_name``); the kernel is checked after the hooks."""
    backend: ComputeBackend
    parameters: dict[str, Any]
    """What the notebook receives; hooks add the parameters they bind (e.g. data paths)."""
    inputs: list[JobInput] = field(default_factory=list)
    outputs: list[JobOutput] = field(default_factory=list)
    stored: list[Callable[[], None]] = field(default_factory=list)
    """Called once the job is stored (e.g. lineage records that need the job to exist)."""
    handled: set[str] = field(default_factory=set)
    """Spec fields a hook has resolved; a field no hook handles (``environment`` without
    environments) is refused rather than ignored."""


@dataclass
class RunContext:
    """One attempt of a job on the agent, as ``stage`` and ``collect`` hooks see it."""

    ws: Workspace
    info: JobInfo
    run_id: str | None
    log_file: TextIO | None


class JobHook:
    """A feature that takes part in every job; override what it needs."""

    def bind(self, sub: Submission) -> None:
        """At submission: check and resolve; raise an MlbenchError to refuse the job."""

    def stage(self, run: RunContext) -> None:
        """Before the first cell; raising fails the attempt as a setup error."""

    def collect(self, run: RunContext, outcome: Outcome) -> Outcome:
        """After the run: return the outcome to record (the one given, or a changed one)."""
        return outcome


def status_event(
    job_id: str, status: JobStatus, at: datetime, reason: str = "", **extra: Any
) -> JobEventRow:
    return JobEventRow(
        job_id=job_id,
        kind="status",
        data={"status": status.value, "reason": reason, **extra},
        created_at=at,
    )


class Lifecycle:
    def __init__(self, ws: Workspace, hooks: Sequence[JobHook] = ()) -> None:
        self._ws = ws
        self.hooks: list[JobHook] = list(hooks)

    # -- hooks ---------------------------------------------------------------------------------
    def bind(self, sub: Submission) -> None:
        for hook in self.hooks:
            hook.bind(sub)

    def stage(self, run: RunContext) -> None:
        for hook in self.hooks:
            hook.stage(run)

    def collect(self, run: RunContext, outcome: Outcome) -> Outcome:
        for hook in self.hooks:
            outcome = hook.collect(run, outcome)
        return outcome

    # -- submission ----------------------------------------------------------------------------
    def queue(self, **values: Any) -> JobRow:
        """Store a new job (the JobRow columns given), queued."""
        row = JobRow(
            **values,
            status=JobStatus.QUEUED.value,
            status_reason="",
            cancel_requested=False,
            attempt=1,
        )
        with self._ws.db.write() as s:
            s.add(row)
            s.add(status_event(row.id, JobStatus.QUEUED, row.created_at))
        return row

    # -- the agent -----------------------------------------------------------------------------
    def _masked(self, error: JobError | None) -> dict[str, Any] | None:
        """An error as stored: every secret the workspace holds masked, whoever wrote it."""
        return self._ws.redact.json(error.model_dump()) if error else None

    def note_waiting(self, job_id: str, reason: str) -> None:
        """Why a queued job is not started yet (shown in lists; no event)."""
        reason = self._ws.redact(reason)
        with self._ws.db.write() as s:
            s.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status == JobStatus.QUEUED.value)
                .values(status_reason=reason)
            )

    def claim(self, job_id: str, agent_id: str, gpu_ids: list[str]) -> bool:
        """queued → starting for this agent; False when another agent or a cancel won."""
        now = utcnow()
        with self._ws.db.write() as s:
            claimed = s.execute(
                update(JobRow)
                .where(
                    JobRow.id == job_id,
                    JobRow.status == JobStatus.QUEUED.value,
                    JobRow.cancel_requested.is_(False),
                )
                .values(
                    status=JobStatus.STARTING.value,
                    status_reason="",
                    agent_id=agent_id,
                    gpu_ids=gpu_ids,
                    updated_at=now,
                    cell_index=None,
                    cell_count=None,
                    cell_source=None,
                    cell_started_at=None,
                )
            ).rowcount
            if claimed:
                s.add(status_event(job_id, JobStatus.STARTING, now, gpu_ids=gpu_ids))
        return bool(claimed)

    def record_run(self, job_id: str, experiment_id: str, run_id: str) -> None:
        """The MLflow run of the current attempt."""
        with self._ws.db.write() as s:
            s.execute(
                update(JobRow)
                .where(JobRow.id == job_id)
                .values(mlflow_experiment_id=experiment_id, mlflow_run_id=run_id)
            )

    def mark_running(
        self,
        job_id: str,
        agent_id: str,
        *,
        pid: int | None,
        run_id: str | None,
        gpu_ids: list[str] | None,
    ) -> None:
        """starting → running: the first cell may run. ``gpu_ids`` when the engine chose them."""
        now = utcnow()
        values: dict[str, Any] = dict(
            status=JobStatus.RUNNING.value,
            started_at=now,
            updated_at=now,
            kernel_pid=pid,
            mlflow_run_id=run_id,
        )
        if gpu_ids is not None:
            values["gpu_ids"] = gpu_ids
        with self._ws.db.write() as s:
            s.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.agent_id == agent_id)
                .values(**values)
            )
            s.add(status_event(job_id, JobStatus.RUNNING, now, kernel_pid=pid))

    def progress(self, job_id: str, index: int, count: int, source: str) -> None:
        """The cell now running (0-based ``index`` of ``count``)."""
        now = utcnow()
        with self._ws.db.write() as s:
            s.execute(
                update(JobRow)
                .where(JobRow.id == job_id)
                .values(
                    cell_index=index,
                    cell_count=count,
                    cell_source=source,
                    cell_started_at=now,
                    updated_at=now,
                )
            )
            s.add(
                JobEventRow(
                    job_id=job_id,
                    kind="progress",
                    data={"cell_index": index, "cell_count": count, "cell_source": source},
                    created_at=now,
                )
            )

    def set_outputs(self, job_id: str, outputs: list[dict[str, Any]]) -> None:
        """The job's data outputs, with the versions they were registered as."""
        with self._ws.db.write() as s:
            s.execute(update(JobRow).where(JobRow.id == job_id).values(outputs=outputs))

    def finish(self, info: JobInfo, agent_id: str, outcome: Outcome) -> JobStatus:
        """Record how an attempt ended: requeued for a retry, or final. Returns the new state."""
        now = utcnow()
        error = self._masked(outcome.error)
        outcome = Outcome(outcome.status, self._ws.redact(outcome.reason), None, outcome.retryable)
        retry = (
            outcome.status == JobStatus.FAILED
            and outcome.retryable
            and info.attempt <= info.max_retries
        )
        guard = (JobRow.id == info.id, JobRow.agent_id == agent_id)
        with self._ws.db.write() as s:
            if retry:
                reason = (
                    f"retrying (attempt {info.attempt + 1} of {info.max_retries + 1}) "
                    f"after: {outcome.reason}"
                )
                s.execute(
                    update(JobRow)
                    .where(*guard)
                    .values(
                        status=JobStatus.QUEUED.value,
                        status_reason=reason,
                        attempt=info.attempt + 1,
                        error=error,
                        agent_id=None,
                        kernel_pid=None,
                        gpu_ids=[],
                        updated_at=now,
                    )
                )
                s.add(
                    status_event(info.id, JobStatus.QUEUED, now, reason, attempt=info.attempt + 1)
                )
                return JobStatus.QUEUED
            s.execute(
                update(JobRow)
                .where(*guard)
                .values(
                    status=outcome.status.value,
                    status_reason=outcome.reason,
                    error=error,
                    finished_at=now,
                    updated_at=now,
                    kernel_pid=None,
                )
            )
            s.add(status_event(info.id, outcome.status, now, outcome.reason))
        return outcome.status

    def fail(self, job_id: str, agent_id: str, error: JobError) -> bool:
        """A starting or running job of this agent failed outside its run (an agent bug)."""
        now = utcnow()
        message = self._ws.redact(error.message)
        with self._ws.db.write() as s:
            done = s.execute(
                update(JobRow)
                .where(
                    JobRow.id == job_id, JobRow.agent_id == agent_id, JobRow.status.in_(ON_AGENT)
                )
                .values(
                    status=JobStatus.FAILED.value,
                    status_reason=message,
                    error=self._masked(error),
                    finished_at=now,
                    updated_at=now,
                )
            ).rowcount
            if done:
                s.add(status_event(job_id, JobStatus.FAILED, now, message))
        return bool(done)

    # -- sweeps ---------------------------------------------------------------------------------
    def terminate_early(self, job_id: str, termination: dict[str, Any]) -> bool:
        """A sweep's policy stops a starting or running trial: its agent interrupts it and
        records it as early_terminated with ``termination`` (the rule and its numbers)."""
        termination = self._ws.redact.json(termination)
        with self._ws.db.write() as s:
            done = s.execute(
                update(JobRow)
                .where(
                    JobRow.id == job_id,
                    JobRow.status.in_(ON_AGENT),
                    JobRow.cancel_requested.is_(False),
                )
                .values(cancel_requested=True, termination=termination, updated_at=utcnow())
            ).rowcount
        return bool(done)

    def event(
        self,
        owner_id: str,
        kind: str,
        data: dict[str, Any],
        *,
        session: Session | None = None,
        at: datetime | None = None,
    ) -> int:
        """An event of something that is not a job itself (a sweep), on the same feed; returns
        its id. ``session``: written in the caller's transaction (with what the event says)."""
        row = JobEventRow(job_id=owner_id, kind=kind, data=data, created_at=at or utcnow())
        if session is not None:
            session.add(row)
            session.flush()
            return int(row.id)
        with self._ws.db.write() as s:
            s.add(row)
            s.flush()
            return int(row.id)

    # -- users ---------------------------------------------------------------------------------
    def cancel(self, job_id: str) -> bool:
        """A queued job is canceled at once (True); a starting or running one is flagged for its
        agent, which interrupts it (False)."""
        now = utcnow()
        reason = "canceled before it started"
        with self._ws.db.write() as s:
            done = s.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status == JobStatus.QUEUED.value)
                .values(
                    status=JobStatus.CANCELED.value,
                    status_reason=reason,
                    cancel_requested=True,
                    finished_at=now,
                    updated_at=now,
                    error=JobError(kind="canceled", message=reason).model_dump(),
                )
            ).rowcount
            if done:
                s.add(status_event(job_id, JobStatus.CANCELED, now, reason))
            else:
                s.execute(
                    update(JobRow)
                    .where(JobRow.id == job_id, JobRow.status.in_(ON_AGENT))
                    .values(cancel_requested=True, updated_at=now)
                )
        return bool(done)

    def delete(self, job_ids: Iterable[str]) -> None:
        """Remove final jobs and their events (a job still active is left alone)."""
        ids = list(job_ids)
        with self._ws.db.write() as s:
            s.execute(
                delete(JobRow).where(
                    JobRow.id.in_(ids), JobRow.status.in_([x.value for x in FINAL_STATUSES])
                )
            )
            s.execute(delete(JobEventRow).where(JobEventRow.job_id.in_(ids)))

    # -- recovery ------------------------------------------------------------------------------
    def adopt(self, job_id: str, attempt: int, compute: str, agent_id: str) -> bool:
        """A new agent of ``compute`` takes over this attempt, still running without its old
        agent (its work lives in a cluster): False if it is not that attempt, starting or
        running there with its MLflow run, any more."""
        now = utcnow()
        with self._ws.db.session() as s:
            row = s.get(JobRow, job_id)
            old = row.agent_id if row is not None else None
            pid = s.scalar(select(AgentRow.pid).where(AgentRow.id == old)) if old else None
        reason = f"followed again by a new agent: the one running it (pid {pid or '?'}) stopped"
        with self._ws.db.write() as s:
            adopted = s.execute(
                update(JobRow)
                .where(
                    JobRow.id == job_id,
                    JobRow.compute == compute,
                    JobRow.attempt == attempt,
                    JobRow.status.in_(ON_AGENT),
                    JobRow.mlflow_run_id.is_not(None),
                )
                .values(agent_id=agent_id, updated_at=now)
            ).rowcount
            if adopted and row is not None:
                s.add(status_event(job_id, JobStatus(row.status), now, reason, reattached=True))
        if adopted:
            log.info("job %s (attempt %d): %s", job_id, attempt, reason)
        return bool(adopted)

    def reconcile(
        self,
        compute: str,
        on_orphan: Callable[[int | None, datetime | None], None],
        keep: Collection[str] = (),
    ) -> list[tuple[str, JobStatus]]:
        """Resolve the jobs that agents of ``compute`` left starting or running (they are gone:
        the caller holds the target's agent lock), but those in ``keep`` (adopted). Each is
        requeued per its retry policy, or failed (canceled, if that was asked) with the reason;
        ``on_orphan(kernel_pid, started_at)`` cleans up what the lost run left. Returns (job id,
        new state) pairs."""
        with self._ws.db.session() as s:
            orphans = s.scalars(
                select(JobRow).where(
                    JobRow.compute == compute,
                    JobRow.status.in_(ON_AGENT),
                    JobRow.id.not_in(list(keep)),
                )
            ).all()
            dead_agents = {
                a.id: a.pid
                for a in s.scalars(
                    select(AgentRow).where(AgentRow.compute == compute, AgentRow.state == "running")
                )
            }
        resolved: list[tuple[str, JobStatus]] = []
        for row in orphans:
            on_orphan(row.kernel_pid, row.started_at)
            pid = dead_agents.get(row.agent_id or "", "?")
            reason = f"the agent running it (pid {pid}) stopped unexpectedly"
            if row.mlflow_run_id:
                try:
                    self._ws.tracking.end_run(row.mlflow_run_id, "failed")
                except Exception:
                    log.exception("could not close MLflow run %s", row.mlflow_run_id)
            now = utcnow()
            values: dict[str, Any]
            if row.cancel_requested and row.termination:  # its sweep had already stopped it
                status = JobStatus.EARLY_TERMINATED
                values = dict(
                    status_reason=f"stopped early: {row.termination.get('detail', '')}",
                    finished_at=now,
                )
            elif row.cancel_requested:
                status = JobStatus.CANCELED
                values = dict(
                    status_reason=f"canceled; {reason}",
                    finished_at=now,
                    error=JobError(kind="canceled", message=f"canceled; {reason}").model_dump(),
                )
            elif row.attempt <= row.max_retries:
                status = JobStatus.QUEUED
                values = dict(
                    attempt=row.attempt + 1,
                    status_reason=f"requeued (attempt {row.attempt + 1} of "
                    f"{row.max_retries + 1}): {reason}",
                    error=JobError(kind="agent_lost", message=reason).model_dump(),
                )
            else:
                status = JobStatus.FAILED
                values = dict(
                    status_reason=reason,
                    finished_at=now,
                    error=JobError(kind="agent_lost", message=reason).model_dump(),
                )
            with self._ws.db.write() as s:
                done = s.execute(
                    update(JobRow)
                    .where(JobRow.id == row.id, JobRow.status.in_(ON_AGENT))
                    .values(
                        status=status.value,
                        agent_id=None,
                        kernel_pid=None,
                        gpu_ids=[],
                        updated_at=now,
                        **values,
                    )
                ).rowcount
                if done:
                    s.add(status_event(row.id, status, now, values["status_reason"]))
                    resolved.append((row.id, status))
            log.warning("job %s: %s -> %s", row.id, reason, status.value)
        return resolved


__all__ = [
    "JobHook",
    "Lifecycle",
    "Outcome",
    "RunContext",
    "Submission",
    "status_event",
]
