"""The scheduler: fires due schedules from the database, at most once per (schedule, tick).

Each pass, for each enabled schedule whose next tick has come, one write transaction reads the
schedule, works out the ticks since the last one it handled, decides which run and which are
missed (the missed-run policy and grace), *claims* each of them with a ``schedule_runs`` row —
whose key (schedule_id, tick) is unique, so a second scheduler's claim of the same tick fails —
and moves the schedule's ``last_tick`` on. Only then, outside the transaction, are the claimed
ticks submitted (a job, or a sweep) and their rows completed with what was started, or with why
it was refused. Two schedulers at once (two machines on one PostgreSQL workspace, or a stale
one), therefore, never start a tick twice.

Time comes from a :class:`~mlbench.schedules.clock.Clock`, so tests move it by hand.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import exc, select, update

from mlbench._ids import new_id
from mlbench.schedules.clock import Clock, SystemClock
from mlbench.schedules.models import MissedPolicy, MissedRuns, RunStatus, ScheduleRunInfo
from mlbench.schedules.rules import iter_ticks
from mlbench.schedules.service import next_fire, run_info, trigger_of
from mlbench.store import ScheduleRow, ScheduleRunRow

if TYPE_CHECKING:
    from mlbench.workspace import Workspace

log = logging.getLogger(__name__)

TAG_ID = "mlbench.schedule_id"
TAG_NAME = "mlbench.schedule_name"
TAG_TICK = "mlbench.schedule_tick"
MAX_RECORDED_MISSES = 100  # missed ticks recorded one by one; beyond, only counted
MAX_SCANNED_TICKS = 200_000  # a minute rule down for 4 months
STALE_CLAIM = timedelta(minutes=10)  # a claim never completed: its scheduler died mid-way
IDLE_POLL_S = 1.0  # how often a new or changed schedule is noticed


@dataclass
class _Plan:
    schedule_id: str
    name: str
    kind: str
    action: dict[str, Any]
    fire: list[tuple[datetime, str]]
    missed: list[tuple[datetime, str]]
    missed_count: int


class Scheduler:
    """Fires due schedules. :meth:`run_due` does one pass (tests call it with a controlled
    clock); :meth:`run` loops until stopped."""

    def __init__(self, ws: Workspace, clock: Clock | None = None, *, name: str = "") -> None:
        self.ws = ws
        self.clock: Clock = clock or SystemClock()
        self.id = name or new_id()
        self.stop_event = threading.Event()
        self._expired_at: datetime | None = None

    # -- one pass ------------------------------------------------------------------------------
    def run_due(self, now: datetime | None = None) -> list[ScheduleRunInfo]:
        """Fire every schedule whose tick has come; the runs this scheduler started (or whose
        submission failed), oldest tick first."""
        now = now or self.clock.now()
        with self.ws.db.session() as s:
            due = s.scalars(
                select(ScheduleRow.id).where(
                    ScheduleRow.enabled.is_(True),
                    ScheduleRow.next_fire_at.is_not(None),
                    ScheduleRow.next_fire_at <= now,
                )
            ).all()
        out: list[ScheduleRunInfo] = []
        for schedule_id in due:
            try:
                plan = self._claim(schedule_id, now)
            except Exception:
                log.exception("schedule %s: could not claim its due ticks", schedule_id)
                continue
            if plan is not None:
                out.extend(self._fire(plan, now))
        if self._expired_at is None or now - self._expired_at >= timedelta(minutes=1):
            self._expired_at = now
            self._expire_stale_claims(now)
        return out

    def next_wakeup(self) -> datetime | None:
        """The earliest next tick of any enabled schedule."""
        from sqlalchemy import func

        with self.ws.db.session() as s:
            return s.scalar(
                select(func.min(ScheduleRow.next_fire_at)).where(ScheduleRow.enabled.is_(True))
            )

    def _claim(self, schedule_id: str, now: datetime) -> _Plan | None:
        with self.ws.db.write() as s:
            query = select(ScheduleRow).where(ScheduleRow.id == schedule_id)
            if not self.ws.db.is_sqlite:  # SQLite's write transaction is already exclusive
                query = query.with_for_update()
            row = s.scalar(query)
            if row is None or not row.enabled:
                return None
            trigger = trigger_of(row)
            tz = trigger.zone()
            policy = MissedRuns.model_validate(row.missed)
            after = row.last_tick or row.created_at
            keep = max(policy.max_catch_up, MAX_RECORDED_MISSES) + 1
            due: deque[tuple[datetime, str]] = deque(maxlen=keep)
            count = 0
            for instant, wall in iter_ticks(
                trigger.rule(row.created_at),
                tz,
                after,
                start=trigger.start_utc(tz),
                end=trigger.end_utc(tz),
            ):
                if instant > now or count >= MAX_SCANNED_TICKS:
                    break
                count += 1
                due.append((instant, instant.astimezone(tz).isoformat()))
                del wall
            if not due:
                row.next_fire_at = next_fire(row, now)
                return None
            grace = timedelta(seconds=policy.grace_s)
            on_time = [t for t in due if now - t[0] <= grace]
            late = [t for t in due if now - t[0] > grace]
            late_count = count - len(on_time)
            fire = list(on_time)
            if policy.policy == MissedPolicy.RUN_ONCE and late and not on_time:
                fire = [late[-1]]
            elif policy.policy == MissedPolicy.CATCH_UP and late:
                fire = late[-policy.max_catch_up :] + on_time
            fired = {t for t, _ in fire}
            missed = [t for t in late if t[0] not in fired][-MAX_RECORDED_MISSES:]
            missed_count = late_count - sum(1 for t in late if t[0] in fired)
            claimed = []
            for tick, wall in sorted([*fire, *missed]):
                status = RunStatus.CLAIMED if tick in fired else RunStatus.MISSED
                if self._insert_run(s, row, tick, wall, status, now):
                    claimed.append((tick, wall))
            row.last_tick = due[-1][0]
            row.next_fire_at = next_fire(row, now)
            fire = [t for t in claimed if t[0] in fired]
            return _Plan(
                schedule_id=row.id,
                name=row.name,
                kind=row.action["kind"],
                action=row.action["spec"],
                fire=fire,
                missed=[t for t in claimed if t[0] not in fired],
                missed_count=missed_count,
            )

    def _insert_run(
        self, s: Any, row: ScheduleRow, tick: datetime, wall: str, status: RunStatus, now: datetime
    ) -> bool:
        """Claim one tick: False when another scheduler already has it (the unique key)."""
        try:
            with s.begin_nested():
                s.add(
                    ScheduleRunRow(
                        schedule_id=row.id,
                        tick=tick,
                        wall=wall,
                        status=status.value,
                        kind=row.action["kind"],
                        scheduler_id=self.id,
                        created_at=now,
                    )
                )
        except exc.IntegrityError:
            log.info("schedule %s tick %s: already claimed by another scheduler", row.name, wall)
            return False
        return True

    # -- firing --------------------------------------------------------------------------------
    def _fire(self, plan: _Plan, now: datetime) -> list[ScheduleRunInfo]:
        events = self.ws.jobs.lifecycle
        if plan.missed_count:
            first = plan.missed[0][1] if plan.missed else None
            last = plan.missed[-1][1] if plan.missed else None
            log.warning("schedule %s: %d tick(s) missed", plan.name, plan.missed_count)
            events.event(
                plan.schedule_id,
                "schedule",
                {
                    "status": "missed",
                    "name": plan.name,
                    "count": plan.missed_count,
                    "first": first,
                    "last": last,
                },
            )
        out = []
        for tick, wall in plan.fire:
            target, error = None, None
            try:
                target = self._submit(plan, tick)
            except Exception as exc:  # a refused submission is the run's outcome, not a crash
                error = self.ws.redact(str(exc))
                log.warning("schedule %s tick %s: not started: %s", plan.name, wall, error)
            fired_at = self.clock.now()
            with self.ws.db.write() as s:
                s.execute(
                    update(ScheduleRunRow)
                    .where(
                        ScheduleRunRow.schedule_id == plan.schedule_id, ScheduleRunRow.tick == tick
                    )
                    .values(
                        status=(RunStatus.FAILED if error else RunStatus.SUBMITTED).value,
                        target_id=target,
                        error=error,
                        fired_at=fired_at,
                    )
                )
                run = s.scalar(
                    select(ScheduleRunRow).where(
                        ScheduleRunRow.schedule_id == plan.schedule_id, ScheduleRunRow.tick == tick
                    )
                )
                out.append(run_info(run))
            events.event(
                plan.schedule_id,
                "schedule",
                {
                    "status": "failed" if error else "fired",
                    "name": plan.name,
                    "tick": wall,
                    "kind": plan.kind,
                    "target_id": target,
                    **({"error": error} if error else {}),
                },
            )
        return out

    def _submit(self, plan: _Plan, tick: datetime) -> str:
        tags = {TAG_ID: plan.schedule_id, TAG_NAME: plan.name, TAG_TICK: tick.isoformat()}
        if plan.kind == "job":
            from mlbench.jobs.spec import JobSpec

            spec = JobSpec.model_validate(plan.action)
            spec = spec.model_copy(update={"tags": {**spec.tags, **tags}})
            return self.ws.jobs.submit(spec).id
        if plan.kind == "pipeline":
            from mlbench.pipelines.models import PipelineSpec

            spec = PipelineSpec.model_validate(plan.action)
            return self.ws.pipelines.run(spec, tags={**spec.tags, **tags}).id
        if plan.kind == "monitor":  # runs here, in the scheduler process
            return self.ws.monitors.run(plan.action["monitor"], tags=tags).id
        body = dict(plan.action)
        body["tags"] = {**dict(body.get("tags") or {}), **tags}
        trial = dict(body.get("trial") or {})
        trial["tags"] = {**dict(trial.get("tags") or {}), **tags}
        body["trial"] = trial
        return self.ws.sweeps.submit(body).id

    def _expire_stale_claims(self, now: datetime) -> None:
        """A claim its scheduler never completed (it died between claiming and submitting)."""
        with self.ws.db.write() as s:
            s.execute(
                update(ScheduleRunRow)
                .where(
                    ScheduleRunRow.status == RunStatus.CLAIMED.value,
                    ScheduleRunRow.created_at < now - STALE_CLAIM,
                )
                .values(
                    status=RunStatus.FAILED.value, error="the scheduler stopped before starting it"
                )
            )

    # -- the loop ------------------------------------------------------------------------------
    def run(self, *, extra: Any = None, idle_exit_s: float | None = None) -> None:
        """Fire schedules until :meth:`stop`. ``extra(now)`` runs every pass (the notifier).
        With ``idle_exit_s``, return once nothing has been enabled for that long."""
        idle_since: datetime | None = None
        while not self.stop_event.is_set():
            now = self.clock.now()
            try:
                self.run_due(now)
                busy = bool(extra(now)) if extra is not None else False
                nxt = self.next_wakeup()
            except Exception:
                log.exception("scheduler pass failed; retrying")
                busy, nxt = True, None
            if idle_exit_s is not None:
                if nxt is None and not busy:
                    idle_since = idle_since or now
                    if (now - idle_since).total_seconds() >= idle_exit_s:
                        log.info("no enabled schedule for %.0f s: exiting", idle_exit_s)
                        return
                else:
                    idle_since = None
            wait = IDLE_POLL_S
            if nxt is not None:
                wait = min(wait, max(0.0, (nxt - self.clock.now()).total_seconds()))
            self.clock.wait(wait, self.stop_event)

    def stop(self) -> None:
        self.stop_event.set()
