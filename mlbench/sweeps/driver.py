"""The sweep driver: runs inside the agent of the sweep's compute target, one step per turn.

Each step of a running sweep reads its trials' jobs and their primary-metric curves (an index
lookup tells whether a curve grew), applies the early-termination policy at each new evaluation
interval, records the trials that ended (feeding the sampler and the policy), starts new trials
up to the limits, and finishes the sweep when no trial is left to run.

Everything it needs is in the database and the tracking store, so a new agent resumes a sweep
a killed one was driving: the sampler and the policy are rebuilt from the recorded trials, a
trial reserved but not yet submitted is submitted under the id it was given, and trial numbers
are handed out by a compare-and-set on the sweep's count with (sweep, index) as a primary key,
so no more than ``max_total_trials`` ever exist.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from mlbench._ids import new_id, utcnow
from mlbench.errors import MlbenchError
from mlbench.jobs.models import JobStatus
from mlbench.jobs.service import JobSource
from mlbench.jobs.spec import JobParent
from mlbench.store import JobRow, SweepRow, SweepTrialRow
from mlbench.sweeps.models import SweepSpec, SweepStatus
from mlbench.sweeps.policies import Board, Policy, make_policy
from mlbench.sweeps.samplers import Ending, Sampler
from mlbench.sweeps.service import ACTIVE, Sweeps

if TYPE_CHECKING:
    from mlbench.workspace import Workspace

log = logging.getLogger(__name__)

FAIL_FAST = 3  # the first this many trials all failing ends the sweep: the notebook is broken


@dataclass
class _Trial:
    index: int
    job_id: str
    status: str = JobStatus.QUEUED.value
    run_id: str | None = None
    version: tuple[int, int] | None = None
    evaluated: int = 0  # reports the policy has seen
    stop_sent: bool = False
    recorded: bool = False


@dataclass
class _Sweep:
    id: str
    spec: SweepSpec
    sampler: Sampler
    policy: Policy | None
    board: Board
    source: JobSource
    run_id: str
    started: float
    trials: dict[int, _Trial] = field(default_factory=dict)
    stopping: str | None = None  # why no more trials start
    final_status: SweepStatus | None = None
    failures: int = 0
    successes: int = 0
    first_failure: str = ""  # why the first failed trial failed, for the sweep's reason


class SweepDriver:
    def __init__(self, ws: Workspace, compute: str, slots: Callable[[], int]) -> None:
        self.ws = ws
        self.compute = compute
        self.slots = slots  # jobs the target runs at once
        self.sweeps = Sweeps(ws)
        self._state: dict[str, _Sweep] = {}

    def active(self) -> bool:
        with self.ws.db.session() as s:
            return (
                s.scalar(
                    select(SweepRow.id)
                    .where(SweepRow.compute == self.compute, SweepRow.status.in_(ACTIVE))
                    .limit(1)
                )
                is not None
            )

    def tick(self) -> None:
        with self.ws.db.session() as s:
            rows = list(
                s.scalars(
                    select(SweepRow).where(
                        SweepRow.compute == self.compute, SweepRow.status.in_(ACTIVE)
                    )
                )
            )
        for row in rows:
            try:
                self._step(row)
            except Exception as exc:
                log.exception("sweep %s: a step failed", row.id)
                if isinstance(exc, MlbenchError) or row.id not in self._state:
                    self._fail(row, f"the sweep could not go on: {exc}")
        live = {r.id for r in rows}
        for sweep_id in list(self._state):
            if sweep_id not in live:
                del self._state[sweep_id]

    # -- one step ------------------------------------------------------------------------------
    def _step(self, row: SweepRow) -> None:
        sw = self._state.get(row.id) or self._load(row)
        self._refresh(sw)
        for trial in sw.trials.values():
            if not trial.recorded:
                self._read_curve(sw, trial)
        for trial in sorted(sw.trials.values(), key=lambda t: t.index):
            if trial.recorded:
                continue
            if JobStatus(trial.status).is_final:
                self._record(sw, trial)
            elif trial.status != JobStatus.QUEUED.value:
                self._evaluate(sw, trial)
        with self.ws.db.session() as s:
            canceled = s.scalar(select(SweepRow.cancel_requested).where(SweepRow.id == sw.id))
        if canceled and sw.stopping is None:
            sw.stopping, sw.final_status = "canceled on request", SweepStatus.CANCELED
        limits = sw.spec.limits
        if (
            sw.stopping is None
            and limits.timeout is not None
            and time.monotonic() - sw.started > limits.timeout
        ):
            sw.stopping = f"reached its timeout of {limits.timeout:g} s"
        active = [t for t in sw.trials.values() if not JobStatus(t.status).is_final]
        if sw.stopping is not None:
            for trial in active:
                if not trial.stop_sent:
                    trial.stop_sent = True
                    self.ws.jobs.lifecycle.cancel(trial.job_id)
        else:
            self._start_trials(sw, len(active))
            active = [t for t in sw.trials.values() if not JobStatus(t.status).is_final]
        total = limits.max_total_trials or 0
        if not active and (sw.stopping is not None or len(sw.trials) >= total):
            self._finish(sw)

    def _refresh(self, sw: _Sweep) -> None:
        pending = [t.job_id for t in sw.trials.values() if not t.recorded]
        if not pending:
            return
        by_job = {t.job_id: t for t in sw.trials.values()}
        with self.ws.db.session() as s:
            for job_id, status, run_id in s.execute(
                select(JobRow.id, JobRow.status, JobRow.mlflow_run_id).where(JobRow.id.in_(pending))
            ):
                trial = by_job[job_id]
                trial.status, trial.run_id = status, run_id

    def _read_curve(self, sw: _Sweep, trial: _Trial) -> None:
        if trial.run_id is None:
            return
        key = sw.spec.objective.primary_metric
        tracking = self.ws.tracking
        version = tracking.metric_version(trial.run_id, key)
        if version is not None and version == trial.version:
            return
        sw.board.curves[trial.index] = tracking.metric_values(trial.run_id, key)
        trial.version = version

    def _evaluate(self, sw: _Sweep, trial: _Trial) -> None:
        curve = sw.board.curves.get(trial.index, [])
        if sw.policy is None or trial.stop_sent:
            trial.evaluated = len(curve)
            return
        config = sw.policy.config
        for k in range(trial.evaluated + 1, len(curve) + 1):
            trial.evaluated = k
            if not config.evaluated_at(k) or not math.isfinite(curve[k - 1]):
                continue
            decision = sw.policy.evaluate(trial.index, k, sw.board)
            if decision is None:
                continue
            stop = decision.as_dict()
            if self.ws.jobs.lifecycle.terminate_early(trial.job_id, stop):
                trial.stop_sent = True
                with self.ws.db.write() as s:
                    s.execute(
                        update(SweepTrialRow)
                        .where(SweepTrialRow.sweep_id == sw.id, SweepTrialRow.index == trial.index)
                        .values(termination=stop)
                    )
                log.info("sweep %s: trial %d stopped: %s", sw.id, trial.index, decision.detail)
            return

    def _record(self, sw: _Sweep, trial: _Trial) -> None:
        """A trial's job ended: its result into the trial row, the sampler and the policy."""
        status = JobStatus(trial.status)
        trial.version = None
        self._read_curve(sw, trial)  # the last points were relayed before the job ended
        curve = sw.board.curves.get(trial.index, [])
        finite = [v for v in curve if math.isfinite(v)]
        ending: Ending = "failed"
        if status == JobStatus.COMPLETED:
            ending = "completed"
        elif status == JobStatus.EARLY_TERMINATED:
            ending = "stopped"
        value = finite[-1] if finite and ending != "failed" else None
        metrics: dict[str, Any] = {}
        if trial.run_id:
            try:
                metrics = {
                    k: (v if math.isfinite(v) else None)
                    for k, v in self.ws.tracking.run_summary(trial.run_id)["metrics"].items()
                }
            except Exception:
                log.warning("sweep %s: could not read trial %d's metrics", sw.id, trial.index)
        with self.ws.db.write() as s:
            s.execute(
                update(SweepTrialRow)
                .where(SweepTrialRow.sweep_id == sw.id, SweepTrialRow.index == trial.index)
                .values(
                    status=status.value,
                    value=value,
                    reports=len(curve),
                    metrics=metrics,
                    finished_at=utcnow(),
                )
            )
        self._observe(sw, trial, ending, curve)
        if ending == "completed" and value is None:
            log.warning(
                "sweep %s: trial %d completed without reporting %r",
                sw.id,
                trial.index,
                sw.spec.objective.primary_metric,
            )
        if value is not None:
            self._consider_best(sw, trial, value)
        self.ws.jobs.lifecycle.event(
            sw.id, "sweep", {"trial": trial.index, "status": status.value, "value": value}
        )

    def _observe(self, sw: _Sweep, trial: _Trial, ending: Ending, curve: list[float]) -> None:
        trial.recorded = True
        sw.board.finished.add(trial.index)
        sw.sampler.observe(trial.index, ending, curve)
        if sw.policy is not None:
            sw.policy.finished(trial.index, sw.board, ending == "stopped")
        if ending == "failed":
            sw.failures += 1
            if not sw.first_failure:
                sw.first_failure = self._failure_reason(trial)
        else:
            sw.successes += 1
        if sw.stopping is None and not sw.successes and sw.failures >= FAIL_FAST:
            sw.stopping = f"its first {sw.failures} trials failed"
            sw.final_status = SweepStatus.FAILED

    def _failure_reason(self, trial: _Trial) -> str:
        with self.ws.db.session() as s:
            reason = s.scalar(select(JobRow.status_reason).where(JobRow.id == trial.job_id))
        return f"trial {trial.index}: {reason}" if reason else ""

    def _consider_best(self, sw: _Sweep, trial: _Trial, value: float) -> None:
        with self.ws.db.session() as s:
            best = s.scalar(select(SweepRow.best_value).where(SweepRow.id == sw.id))
        if best is None or sw.board.better(value, best):
            with self.ws.db.write() as s:
                s.execute(
                    update(SweepRow)
                    .where(SweepRow.id == sw.id)
                    .values(best_trial=trial.index, best_value=value, updated_at=utcnow())
                )
            self.ws.jobs.lifecycle.event(
                sw.id, "sweep", {"best_trial": trial.index, "best_value": value}
            )
        target = sw.spec.limits.target_value
        if target is not None and sw.stopping is None and not sw.board.better(target, value):
            sw.stopping = f"trial {trial.index} reached the target value {target:g}"

    def _start_trials(self, sw: _Sweep, active: int) -> None:
        limits = sw.spec.limits
        total = limits.max_total_trials or 0
        at_once = min(limits.max_concurrent_trials or total, max(self.slots(), 1))
        while len(sw.trials) < total and active < at_once:
            index = len(sw.trials)
            params = sw.sampler.params(index)
            job_id = new_id()
            with self.ws.db.write() as s:
                taken = s.execute(
                    update(SweepRow)
                    .where(SweepRow.id == sw.id, SweepRow.trial_count == index)
                    .values(trial_count=index + 1, updated_at=utcnow())
                ).rowcount
                if not taken:  # another driver took this number: rebuild from the database
                    del self._state[sw.id]
                    return
                s.add(
                    SweepTrialRow(
                        sweep_id=sw.id,
                        index=index,
                        job_id=job_id,
                        parameters=params,
                        status=JobStatus.QUEUED.value,
                        reports=0,
                        metrics={},
                        created_at=utcnow(),
                    )
                )
            trial = _Trial(index=index, job_id=job_id)
            sw.trials[index] = trial
            self._submit(sw, trial, params)
            active += 1

    def _submit(self, sw: _Sweep, trial: _Trial, params: dict[str, Any]) -> None:
        base = sw.spec.trial
        name = sw.spec.display_name or sw.source.name
        spec = base.model_copy(
            update={
                "parameters": {**base.parameters, **params},
                "parent": JobParent(kind="sweep", id=sw.id, name=f"trial {trial.index}"),
                "display_name": f"{name} #{trial.index}",
                "experiment": self._experiment(sw),
                "timeout_s": sw.spec.limits.trial_timeout or base.timeout_s,
                "tags": {
                    **base.tags,
                    **sw.spec.tags,
                    "mlflow.parentRunId": sw.run_id,
                    "mlbench.sweep_id": sw.id,
                    "mlbench.trial": str(trial.index),
                },
            }
        )
        try:
            self.ws.jobs.submit_child(spec, sw.source, job_id=trial.job_id)
        except MlbenchError as exc:  # e.g. a data version deleted since the sweep was submitted
            log.warning("sweep %s: trial %d could not be submitted: %s", sw.id, trial.index, exc)
            sw.first_failure = sw.first_failure or f"trial {trial.index}: {exc.message}"
            trial.status = JobStatus.FAILED.value
            with self.ws.db.write() as s:
                s.execute(
                    update(SweepTrialRow)
                    .where(SweepTrialRow.sweep_id == sw.id, SweepTrialRow.index == trial.index)
                    .values(status=JobStatus.FAILED.value, finished_at=utcnow())
                )
            self._observe(sw, trial, "failed", [])

    def _experiment(self, sw: _Sweep) -> str:
        with self.ws.db.session() as s:
            return str(s.scalar(select(SweepRow.experiment).where(SweepRow.id == sw.id)))

    # -- start, resume and end -----------------------------------------------------------------
    def _load(self, row: SweepRow) -> _Sweep:
        spec = SweepSpec.model_validate(row.spec)
        info = self.sweeps.info(row.id)
        run_id = row.mlflow_run_id
        now = utcnow()
        if run_id is None:
            exp_id, run_id = self.ws.tracking.start_run(
                row.experiment,
                row.display_name,
                {
                    "mlbench.sweep_id": row.id,
                    "mlbench.kind": "sweep",
                    "mlbench.compute": row.compute,
                    "mlflow.source.name": row.notebook_path,
                    "mlflow.source.type": "NOTEBOOK",
                    "mlflow.user": row.owner,
                },
                {
                    "sampling_algorithm": spec.sampling_algorithm.type,
                    "primary_metric": spec.objective.primary_metric,
                    "goal": spec.objective.goal,
                    **{f"space.{k}": e.describe() for k, e in spec.search_space.items()},
                },
            )
            with self.ws.db.write() as s:
                s.execute(
                    update(SweepRow)
                    .where(SweepRow.id == row.id)
                    .values(
                        mlflow_experiment_id=exp_id,
                        mlflow_run_id=run_id,
                        status=SweepStatus.RUNNING.value,
                        status_reason="",
                        started_at=now,
                        updated_at=now,
                    )
                )
            self.ws.jobs.lifecycle.event(row.id, "sweep", {"status": "running"})
        started = row.started_at or now
        elapsed = (now - started).total_seconds()
        sw = _Sweep(
            id=row.id,
            spec=spec,
            sampler=Sweeps.sampler(spec),
            policy=make_policy(spec.early_termination, spec.objective.goal, row.id),
            board=Board(goal=spec.objective.goal),
            source=self.sweeps.source(info),
            run_id=run_id,
            started=time.monotonic() - max(elapsed, 0.0),
        )
        self._resume(sw)
        self._state[row.id] = sw
        return sw

    def _resume(self, sw: _Sweep) -> None:
        """Rebuild the sampler, the policy and the trials from what was recorded."""
        with self.ws.db.session() as s:
            rows = list(
                s.scalars(
                    select(SweepTrialRow)
                    .where(SweepTrialRow.sweep_id == sw.id)
                    .order_by(SweepTrialRow.index)
                )
            )
            jobs = {
                j.id: (j.status, j.mlflow_run_id, j.cancel_requested)
                for j in s.scalars(select(JobRow).where(JobRow.parent_id == sw.id))
            }
        if rows:
            log.info("sweep %s: resuming with %d trial(s) recorded", sw.id, len(rows))
        for row in rows:
            trial = _Trial(index=row.index, job_id=row.job_id, status=row.status)
            sw.trials[row.index] = trial
            sw.sampler.restore(row.index, row.parameters)
            job = jobs.get(row.job_id)
            final = JobStatus(row.status).is_final
            if job is None and not final:  # reserved, then the agent died before submitting it
                self._submit(sw, trial, row.parameters)
                continue
            if job is not None:
                trial.status, trial.run_id = job[0], job[1]
                trial.stop_sent = bool(job[2])
            self._read_curve(sw, trial)
            trial.evaluated = len(sw.board.curves.get(row.index, []))
            if final:
                ending: Ending = {"completed": "completed", "early_terminated": "stopped"}.get(
                    row.status, "failed"
                )  # type: ignore[assignment]
                self._observe(sw, trial, ending, sw.board.curves.get(row.index, []))

    def _fail(self, row: SweepRow, reason: str) -> None:
        with self.ws.db.write() as s:
            s.execute(
                update(SweepRow)
                .where(SweepRow.id == row.id, SweepRow.status.in_(ACTIVE))
                .values(
                    status=SweepStatus.FAILED.value,
                    status_reason=self.ws.redact(reason),
                    finished_at=utcnow(),
                    updated_at=utcnow(),
                )
            )
        self._state.pop(row.id, None)
        self.ws.jobs.lifecycle.event(row.id, "sweep", {"status": "failed", "reason": reason})

    def _finish(self, sw: _Sweep) -> None:
        with self.ws.db.session() as s:
            row = s.get(SweepRow, sw.id)
            assert row is not None
            best_trial, best_value = row.best_trial, row.best_value
        status = sw.final_status or (
            SweepStatus.COMPLETED if sw.successes or not sw.failures else SweepStatus.FAILED
        )
        reason = sw.stopping or f"ran {len(sw.trials)} trial(s)"
        if status == SweepStatus.FAILED and not sw.stopping:
            reason = f"all {len(sw.trials)} trial(s) failed"
        if status == SweepStatus.FAILED and sw.first_failure:
            reason += f"; {sw.first_failure}"
        if best_trial is not None:
            reason += f"; best: trial {best_trial} ({best_value:.6g})"
        try:
            tracking = self.ws.tracking
            if best_trial is not None and best_value is not None:
                params = sw.trials.get(best_trial)
                with self.ws.db.session() as s:
                    chosen = s.get(SweepTrialRow, (sw.id, best_trial))
                    best_params = dict(chosen.parameters) if chosen else {}
                tracking.log_params(sw.run_id, {f"best.{k}": v for k, v in best_params.items()})
                tracking.log_points(
                    sw.run_id,
                    [(sw.spec.objective.primary_metric, best_value, 0, int(time.time() * 1000))],
                )
                tags = {"mlbench.best_trial": str(best_trial)}
                if params is not None:
                    tags["mlbench.best_job_id"] = params.job_id
                tracking.set_tags(sw.run_id, tags)
            tracking.end_run(sw.run_id, status.value)
        except Exception:
            log.exception("sweep %s: recording the parent run failed", sw.id)
        now = utcnow()
        with self.ws.db.write() as s:
            s.execute(
                update(SweepRow)
                .where(SweepRow.id == sw.id, SweepRow.status.in_(ACTIVE))
                .values(
                    status=status.value,
                    status_reason=reason,
                    finished_at=now,
                    updated_at=now,
                )
            )
        self._state.pop(sw.id, None)
        self.ws.jobs.lifecycle.event(sw.id, "sweep", {"status": status.value, "reason": reason})
        log.info("sweep %s %s: %s", sw.id, status.value, reason)


__all__ = ["SweepDriver"]
