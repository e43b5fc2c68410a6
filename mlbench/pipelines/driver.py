"""The pipeline driver: runs inside the agent of a pipeline run's compute target, one turn at a
time, with nothing but the database as its memory.

Each turn, for each active run: the steps' jobs are read (a finished job completes or fails its
step, its registered outputs recorded); on a failure without ``continue_on_step_failure`` the
running steps are canceled and the pending ones skipped (with it, only the steps downstream of
the failure are skipped); each pending step whose upstream steps all succeeded gets its reuse
key, and is either reused (an earlier step with the same key completed and its outputs still
exist) or submitted as a job, its upstream outputs bound as the exact data versions they
produced. The agents' schedulers run the submitted steps up to each target's capacity.

A step's job id is reserved by a compare-and-set on the step row (pending -> queued) before the
job is submitted under it, so an agent killed in between leaves a step whose job the next agent
submits under the same id; a step is never submitted twice, and a completed one never reruns.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from mlbench._ids import new_id, utcnow
from mlbench.errors import MlbenchError
from mlbench.jobs.models import JobStatus
from mlbench.pipelines import keys
from mlbench.pipelines.models import PipelineSpec, PipelineStatus, StepStatus
from mlbench.pipelines.service import ACTIVE, Pipelines
from mlbench.pipelines.spec import parse_ref, topological
from mlbench.store import JobRow, PipelineRunRow, PipelineStepRow

if TYPE_CHECKING:
    from mlbench.compute.agents import AgentControl
    from mlbench.workspace import Workspace

log = logging.getLogger(__name__)

AGENT_CHECK_S = 2.0
MAX_LOST = 2  # times a step lost with its agent is run again
ON_JOB = (StepStatus.QUEUED.value, StepStatus.STARTING.value, StepStatus.RUNNING.value)


class PipelineDriver:
    def __init__(
        self,
        ws: Workspace,
        compute: str,
        agents: Callable[[str], AgentControl] | None = None,
    ) -> None:
        self.ws = ws
        self.compute = compute
        # the agent's own workspace starts no agents: the agent hands in how to start those of
        # the targets its runs' steps name
        self.agents = agents or ws.agents
        self.pipelines = Pipelines(ws)
        self._specs: dict[str, PipelineSpec] = {}
        self._checked = 0.0

    def active(self) -> bool:
        with self.ws.db.session() as s:
            return (
                s.scalar(
                    select(PipelineRunRow.id)
                    .where(
                        PipelineRunRow.compute == self.compute,
                        PipelineRunRow.status.in_(ACTIVE),
                    )
                    .limit(1)
                )
                is not None
            )

    def tick(self) -> None:
        with self.ws.db.session() as s:
            rows = list(
                s.scalars(
                    select(PipelineRunRow).where(
                        PipelineRunRow.compute == self.compute,
                        PipelineRunRow.status.in_(ACTIVE),
                    )
                )
            )
        for row in rows:
            try:
                self._step(row)
            except Exception as exc:
                log.exception("pipeline run %s: a turn failed", row.id)
                if isinstance(exc, MlbenchError):
                    self._end(row, PipelineStatus.FAILED, f"the run could not go on: {exc}")
        if rows and time.monotonic() - self._checked > AGENT_CHECK_S:
            self._checked = time.monotonic()
            self._keep_agents(rows)
        live = {r.id for r in rows}
        for run_id in list(self._specs):
            if run_id not in live:
                del self._specs[run_id]

    def _keep_agents(self, rows: list[PipelineRunRow]) -> None:
        """The agents of other targets running this agent's steps stay up (one killed is
        started again, as a job's follower does)."""
        with self.ws.db.session() as s:
            names = set(
                s.scalars(
                    select(PipelineStepRow.compute).where(
                        PipelineStepRow.run_id.in_([r.id for r in rows]),
                        PipelineStepRow.status.in_(ON_JOB),
                        PipelineStepRow.compute != self.compute,
                    )
                )
            )
        for name in names:
            try:
                self.agents(name).ensure_running()
            except Exception:
                log.warning("could not start the agent of %r", name, exc_info=True)

    # -- one turn ------------------------------------------------------------------------------
    def _step(self, row: PipelineRunRow) -> None:
        spec = self._specs.get(row.id)
        if spec is None:
            spec = self._specs[row.id] = PipelineSpec.model_validate(row.spec)
        if row.status == PipelineStatus.QUEUED.value:
            row = self._start(row, spec)
        steps = self._rows(row.id)
        self._refresh(row, steps)
        failed = [s for s in steps.values() if s.status == StepStatus.FAILED.value]
        stopping = None
        if row.cancel_requested:
            stopping = "the run was canceled"
        elif failed and not spec.settings.continue_on_step_failure:
            stopping = f"step {failed[0].name} failed"
        if stopping is not None:
            for step in steps.values():
                if step.status == StepStatus.PENDING.value:
                    self._set(step, StepStatus.SKIPPED, stopping, finished=True)
                elif step.status in ON_JOB and step.job_id:
                    self._cancel_job(step)
        else:
            cap = spec.settings.max_concurrent_steps
            slots = None
            if cap is not None:
                slots = cap - sum(1 for s in steps.values() if s.status in ON_JOB)
            for name in topological(spec):
                step = steps[name]
                if step.status != StepStatus.PENDING.value:
                    continue
                deps = [steps[d] for d in step.depends_on]
                bad = [d for d in deps if d.status in _UNSUCCESSFUL]
                if bad:
                    self._set(
                        step,
                        StepStatus.SKIPPED,
                        f"upstream step {bad[0].name} "
                        f"{'failed' if bad[0].status == 'failed' else bad[0].status}",
                        finished=True,
                    )
                    continue
                if not all(StepStatus(d.status).succeeded for d in deps):
                    continue
                full = slots is not None and slots <= 0
                if self._ready(row, spec, step, steps, full=full) and slots is not None:
                    slots -= 1
        if all(StepStatus(s.status).is_final for s in steps.values()):
            self._finish(row, spec, steps)

    def _rows(self, run_id: str) -> dict[str, PipelineStepRow]:
        with self.ws.db.session() as s:
            rows = s.scalars(select(PipelineStepRow).where(PipelineStepRow.run_id == run_id))
            out = {r.name: r for r in rows}
            for r in out.values():
                s.expunge(r)
            return out

    def _refresh(self, run: PipelineRunRow, steps: dict[str, PipelineStepRow]) -> None:
        on_job = {s.job_id: s for s in steps.values() if s.status in ON_JOB and s.job_id}
        if not on_job:
            return
        with self.ws.db.session() as s:
            jobs = {
                j.id: (j.status, j.status_reason, j.outputs, j.started_at, j.error)
                for j in s.scalars(select(JobRow).where(JobRow.id.in_(list(on_job))))
            }
        for job_id, step in on_job.items():
            job = jobs.get(job_id)
            if job is None:  # reserved, then the agent died before submitting it
                if run.cancel_requested:
                    self._set(step, StepStatus.CANCELED, "the run was canceled", finished=True)
                else:
                    self._submit(run, PipelineSpec.model_validate(run.spec), step, steps)
                continue
            status, reason, outputs, started, error = job
            state = JobStatus(status)
            lost = state == JobStatus.FAILED and (error or {}).get("kind") == "agent_lost"
            if lost and not run.cancel_requested and self._resubmit(run, step, steps):
                continue
            if state == JobStatus.COMPLETED:
                produced = {o["name"]: o["ref"] for o in outputs or [] if o.get("ref")}
                self._set(step, StepStatus.COMPLETED, "", finished=True, outputs=produced)
            elif state == JobStatus.CANCELED:
                self._set(step, StepStatus.CANCELED, reason, finished=True)
            elif state.is_final:
                self._set(
                    step, StepStatus.FAILED, f"job {job_id} {status}: {reason}", finished=True
                )
            elif status != step.status:
                self._set(step, StepStatus(status), "", started=started)

    def _resubmit(
        self, run: PipelineRunRow, step: PipelineStepRow, steps: dict[str, PipelineStepRow]
    ) -> bool:
        """A step whose job was lost with its agent (killed mid-run) runs again as a new job,
        up to MAX_LOST times: the run resumes instead of failing."""
        with self.ws.db.session() as s:
            tried = sum(
                1
                for tags in s.scalars(select(JobRow.tags).where(JobRow.parent_id == run.id))
                if (tags or {}).get("mlbench.step") == step.name
            )
        if tried > MAX_LOST:
            return False
        job_id = new_id()
        with self.ws.db.write() as s:
            taken = s.execute(
                update(PipelineStepRow)
                .where(
                    PipelineStepRow.run_id == run.id,
                    PipelineStepRow.name == step.name,
                    PipelineStepRow.job_id == step.job_id,
                )
                .values(
                    job_id=job_id,
                    status=StepStatus.QUEUED.value,
                    status_reason=f"job {step.job_id} was lost with its agent: running it again",
                )
            ).rowcount
        if not taken:
            return True
        log.info("pipeline run %s: step %s lost with its agent: resubmitted", run.id, step.name)
        step.job_id, step.status = job_id, StepStatus.QUEUED.value
        self._submit(run, PipelineSpec.model_validate(run.spec), step, steps)
        return True

    def _ready(
        self,
        run: PipelineRunRow,
        spec: PipelineSpec,
        step: PipelineStepRow,
        steps: dict[str, PipelineStepRow],
        *,
        full: bool = False,
    ) -> bool:
        """Every upstream step succeeded: reuse the step, or submit its job unless the run
        already has ``max_concurrent_steps`` running (``full``; it waits for a later turn).
        True when a job was submitted."""
        name = step.name
        try:
            inputs = self._inputs(spec, name, steps)
            comps = self.pipelines.components(run.id, spec, name, inputs)
        except Exception as exc:
            message = getattr(exc, "message", None) or str(exc)
            self._set(step, StepStatus.FAILED, f"cannot start: {message}", finished=True)
            return False
        key = keys.reuse_key(comps)
        components = comps.model_dump(mode="json")
        st = spec.jobs[name]
        if step.pinned:
            pinned = step.pinned
            self._reuse(
                step,
                key,
                components,
                pinned["run"],
                pinned.get("job"),
                pinned["outputs"],
                "taken from the source run",
            )
            return False
        lookup = not (step.forced or st.force_rerun or spec.settings.force_rerun)
        lookup = lookup and st.is_deterministic
        if lookup or not step.selected:
            found = self.pipelines.find_reusable(key, run.id)
            if found is not None:
                self._reuse(
                    step,
                    key,
                    components,
                    found.reused_from_run or found.run_id,
                    found.reused_from_job or found.job_id,
                    found.outputs,
                    f"same key as step {found.name} of run {found.run_id}",
                )
                return False
        if not step.selected:
            self._set(
                step,
                StepStatus.FAILED,
                "not in the selection, and no earlier result with the same key to reuse",
                finished=True,
                key=key,
                components=components,
            )
            return False
        if full:
            return False
        job_id = new_id()
        with self.ws.db.write() as s:
            taken = s.execute(
                update(PipelineStepRow)
                .where(
                    PipelineStepRow.run_id == run.id,
                    PipelineStepRow.name == name,
                    PipelineStepRow.status == StepStatus.PENDING.value,
                )
                .values(
                    status=StepStatus.QUEUED.value,
                    job_id=job_id,
                    reuse_key=key,
                    components=components,
                    started_at=utcnow(),
                )
            ).rowcount
        if not taken:
            return False
        step.status, step.job_id = StepStatus.QUEUED.value, job_id
        self._submit(run, spec, step, steps, inputs)
        return True

    def _inputs(
        self, spec: PipelineSpec, name: str, steps: dict[str, PipelineStepRow]
    ) -> dict[str, str]:
        """Each input bound to an upstream output, as the exact version it produced."""
        found: dict[str, str] = {}
        for key, value in spec.jobs[name].inputs.items():
            ref = parse_ref(value)
            if ref is None:
                continue
            produced = (steps[ref[1]].outputs or {}).get(ref[2])
            if not produced:
                raise MlbenchError(f"step {ref[1]} produced no output {ref[2]!r}")
            found[key] = f"data:{produced}"
        return found

    def _submit(
        self,
        run: PipelineRunRow,
        spec: PipelineSpec,
        step: PipelineStepRow,
        steps: dict[str, PipelineStepRow],
        inputs: dict[str, str] | None = None,
    ) -> None:
        assert step.job_id is not None
        name = step.name
        try:
            if inputs is None:
                inputs = self._inputs(spec, name, steps)
            with self.ws.db.session() as s:
                parent_run = s.scalar(
                    select(PipelineRunRow.mlflow_run_id).where(PipelineRunRow.id == run.id)
                )
            tags = {"mlbench.pipeline_run_id": run.id, "mlbench.step": name}
            if parent_run:
                tags["mlflow.parentRunId"] = parent_run
            job = self.pipelines.job_spec(
                spec, name, spec.jobs[name], inputs=inputs, run_id=run.id, tags=tags
            )
            source = self.pipelines.source(run.id, name, spec.jobs[name])
            self.ws.jobs.submit_child(job, source, job_id=step.job_id)
        except MlbenchError as exc:  # e.g. a data version deleted since the run was submitted
            log.warning("pipeline run %s: step %s could not be submitted: %s", run.id, name, exc)
            self._set(
                step, StepStatus.FAILED, f"could not be submitted: {exc.message}", finished=True
            )
            return
        self.ws.jobs.lifecycle.event(
            run.id, "pipeline", {"step": name, "status": "queued", "job_id": step.job_id}
        )
        if step.compute != self.compute:  # a step on another target: its agent runs it
            agent = self.agents(step.compute)
            agent.ensure_running()
            agent.wake()

    def _reuse(
        self,
        step: PipelineStepRow,
        key: str,
        components: dict[str, Any],
        from_run: str,
        from_job: str | None,
        outputs: dict[str, str],
        why: str,
    ) -> None:
        now = utcnow()
        with self.ws.db.write() as s:
            done = s.execute(
                update(PipelineStepRow)
                .where(
                    PipelineStepRow.run_id == step.run_id,
                    PipelineStepRow.name == step.name,
                    PipelineStepRow.status == StepStatus.PENDING.value,
                )
                .values(
                    status=StepStatus.REUSED.value,
                    status_reason=why,
                    reuse_key=key,
                    components=components,
                    reused_from_run=from_run,
                    reused_from_job=from_job,
                    outputs=dict(outputs),
                    started_at=now,
                    finished_at=now,
                )
            ).rowcount
        if done:
            step.status, step.outputs = StepStatus.REUSED.value, dict(outputs)
            self.ws.jobs.lifecycle.event(
                step.run_id, "pipeline", {"step": step.name, "status": "reused", "from": from_run}
            )

    def _set(
        self,
        step: PipelineStepRow,
        status: StepStatus,
        reason: str,
        *,
        finished: bool = False,
        started: Any = None,
        outputs: dict[str, str] | None = None,
        key: str | None = None,
        components: dict[str, Any] | None = None,
    ) -> None:
        values: dict[str, Any] = {"status": status.value, "status_reason": self.ws.redact(reason)}
        if finished:
            values["finished_at"] = utcnow()
        if started is not None:
            values["started_at"] = started
        if outputs is not None:
            values["outputs"] = outputs
        if key is not None:
            values["reuse_key"], values["components"] = key, components
        with self.ws.db.write() as s:
            s.execute(
                update(PipelineStepRow)
                .where(
                    PipelineStepRow.run_id == step.run_id,
                    PipelineStepRow.name == step.name,
                    PipelineStepRow.status == step.status,
                )
                .values(**values)
            )
        step.status = status.value
        if outputs is not None:
            step.outputs = outputs
        self.ws.jobs.lifecycle.event(
            step.run_id, "pipeline", {"step": step.name, "status": status.value, "reason": reason}
        )

    def _cancel_job(self, step: PipelineStepRow) -> None:
        assert step.job_id is not None
        with self.ws.db.session() as s:
            job = s.get(JobRow, step.job_id)
            asked = job is None or job.cancel_requested or JobStatus(job.status).is_final
        if not asked:
            self.ws.jobs.lifecycle.cancel(step.job_id)
            if step.compute != self.compute:
                self.agents(step.compute).wake()

    # -- start and end -------------------------------------------------------------------------
    def _start(self, row: PipelineRunRow, spec: PipelineSpec) -> PipelineRunRow:
        exp_id, run_id = row.mlflow_experiment_id, row.mlflow_run_id
        if run_id is None:
            exp_id, run_id = self.ws.tracking.start_run(
                row.experiment,
                row.display_name,
                {
                    "mlbench.pipeline_run_id": row.id,
                    "mlbench.kind": "pipeline",
                    "mlbench.compute": row.compute,
                    "mlflow.user": row.owner,
                },
                {
                    "steps": ",".join(spec.jobs)[:500],
                    **{
                        f"input.{k}": (v["path"] if isinstance(v, dict) else v)
                        for k, v in spec.inputs.items()
                    },
                },
            )
        now = utcnow()
        with self.ws.db.write() as s:
            s.execute(
                update(PipelineRunRow)
                .where(PipelineRunRow.id == row.id, PipelineRunRow.status == "queued")
                .values(
                    mlflow_experiment_id=exp_id,
                    mlflow_run_id=run_id,
                    status=PipelineStatus.RUNNING.value,
                    status_reason="",
                    started_at=now,
                    updated_at=now,
                )
            )
        self.ws.jobs.lifecycle.event(row.id, "pipeline", {"status": "running"})
        with self.ws.db.session() as s:
            fresh = s.get(PipelineRunRow, row.id)
            assert fresh is not None
            s.expunge(fresh)
            return fresh

    def _finish(
        self, row: PipelineRunRow, spec: PipelineSpec, steps: dict[str, PipelineStepRow]
    ) -> None:
        by = {st: [s.name for s in steps.values() if s.status == st] for st in StepStatus}
        failed = by[StepStatus.FAILED]
        if row.cancel_requested:
            status, reason = PipelineStatus.CANCELED, "canceled on request"
        elif failed:
            status = PipelineStatus.FAILED
            first = steps[failed[0]]
            reason = f"step(s) {', '.join(failed)} failed; {failed[0]}: {first.status_reason}"
        elif by[StepStatus.CANCELED]:
            status = PipelineStatus.CANCELED
            reason = f"step(s) {', '.join(by[StepStatus.CANCELED])} canceled"
        else:
            status = PipelineStatus.COMPLETED
            reason = (
                f"{len(by[StepStatus.COMPLETED])} step(s) ran, {len(by[StepStatus.REUSED])} reused"
            )
        if by[StepStatus.SKIPPED] and status != PipelineStatus.COMPLETED:
            reason += f"; skipped: {', '.join(by[StepStatus.SKIPPED])}"
        self._end(row, status, reason, steps)

    def _end(
        self,
        row: PipelineRunRow,
        status: PipelineStatus,
        reason: str,
        steps: dict[str, PipelineStepRow] | None = None,
    ) -> None:
        reason = self.ws.redact(reason)
        with self.ws.db.session() as s:
            run_id = s.scalar(
                select(PipelineRunRow.mlflow_run_id).where(PipelineRunRow.id == row.id)
            )
        if run_id:
            try:
                tags = {"mlbench.status_reason": reason[:5000]}
                for name, step in (steps or {}).items():
                    tags[f"mlbench.step.{name}"] = step.status
                    if step.reused_from_run:
                        tags[f"mlbench.step.{name}.reused_from"] = step.reused_from_run
                self.ws.tracking.set_tags(run_id, tags)
                self.ws.tracking.end_run(
                    run_id, "completed" if status == PipelineStatus.COMPLETED else status.value
                )
            except Exception:
                log.exception("pipeline run %s: recording the parent run failed", row.id)
        now = utcnow()
        with self.ws.db.write() as s:
            s.execute(
                update(PipelineRunRow)
                .where(PipelineRunRow.id == row.id, PipelineRunRow.status.in_(ACTIVE))
                .values(status=status.value, status_reason=reason, finished_at=now, updated_at=now)
            )
        self._specs.pop(row.id, None)
        self.ws.jobs.lifecycle.event(row.id, "pipeline", {"status": status.value, "reason": reason})
        log.info("pipeline run %s %s: %s", row.id, status.value, reason)


_UNSUCCESSFUL = (
    StepStatus.FAILED.value,
    StepStatus.CANCELED.value,
    StepStatus.SKIPPED.value,
)

__all__ = ["PipelineDriver"]
