"""The notifier: tails the ``job_events`` feed, matches rules, delivers with retries.

Each pass: (1) for every enabled rule, the events after its cursor are matched and each match
becomes a delivery row — (rule, event) is unique, so two notifiers never queue one event twice;
(2) every delivery that is due is claimed (a compare-and-set to ``sending`` with a lease), sent
once, and its attempt recorded: delivered, or retried after ``backoff_s * 2**(n-1)`` (at most an
hour), or failed after ``max_attempts``. Errors are stored with the rule's secrets masked.

A ``jupyterlab`` rule's delivery is not sent from here: the notifier appends a ``notification``
event to the same feed (``job_events``; ``job_id`` is the job, sweep, pipeline run or schedule it
is about) and leaves the delivery ``sending``. Every Jupyter server's event stream offers that
event to its open JupyterLabs, which show it as a toast; the first server that offers it to at
least one connection records the one attempt (ok, which server, how many connections) and marks
the delivery ``delivered`` (:meth:`~mlbench.notify.service.Notifications.published`). When no
JupyterLab has the stream open within ``PUBLISH_WINDOW``, the notifier marks it ``failed``.

The scheduler process runs it (:mod:`mlbench.scheduler`); time comes from a clock a test moves.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import exc, func, or_, select, update

from mlbench.jobs.models import JobStatus
from mlbench.notify import channels
from mlbench.notify.models import NotificationFilters
from mlbench.notify.service import Notifications, delivery_info, masked
from mlbench.schedules.clock import Clock, SystemClock
from mlbench.store import (
    JobEventRow,
    JobRow,
    NotificationDeliveryRow,
    NotificationRuleRow,
    PipelineRunRow,
    ScheduleRow,
    SweepRow,
)

if TYPE_CHECKING:
    from mlbench.notify.models import DeliveryInfo
    from mlbench.workspace import Workspace

log = logging.getLogger(__name__)

BATCH = 500
SEND_LEASE = timedelta(minutes=2)  # a 'sending' delivery whose notifier died is retried after
MAX_BACKOFF_S = 3600.0
PUBLISH_WINDOW = timedelta(minutes=10)  # a jupyterlab delivery no JupyterLab saw by then failed
FINAL_JOB = {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.TIMED_OUT, JobStatus.CANCELED}


class Notifier:
    def __init__(self, ws: Workspace, clock: Clock | None = None) -> None:
        self.ws = ws
        self.clock: Clock = clock or SystemClock()
        self.rules = Notifications(ws)

    def poll(self, now: datetime | None = None) -> bool:
        """One pass; True while there is something to do (enabled rules, pending sends)."""
        now = now or self.clock.now()
        self.match(now)
        self.deliver_due(now)
        with self.ws.db.session() as s:
            pending = s.scalar(
                select(func.count()).where(
                    NotificationDeliveryRow.status.in_(("pending", "sending"))
                )
            )
        return bool(pending) or self.rules.any_enabled()

    # -- matching ------------------------------------------------------------------------------
    def match(self, now: datetime) -> int:
        """Queue a delivery for every new event a rule wants; the number queued."""
        with self.ws.db.session() as s:
            rules = list(
                s.scalars(select(NotificationRuleRow).where(NotificationRuleRow.enabled.is_(True)))
            )
            if not rules:
                return 0
            low = min(r.cursor for r in rules)
            # the newest id first, then the events up to it: one added meanwhile waits for
            # the next pass instead of being skipped
            top = s.scalar(select(func.max(JobEventRow.id))) or low
            events = list(
                s.scalars(
                    select(JobEventRow)
                    .where(
                        JobEventRow.id > low,
                        JobEventRow.id <= top,
                        JobEventRow.kind.in_(
                            ("status", "sweep", "pipeline", "schedule", "monitor")
                        ),
                    )
                    .order_by(JobEventRow.id)
                    .limit(BATCH)
                )
            )
            described = [d for e in events if (d := self._describe(s, e)) is not None]
        if events and len(events) == BATCH:
            top = events[-1].id
        if not described and all(r.cursor >= top for r in rules):
            return 0  # nothing new: no write (this runs every second)
        queued = 0
        with self.ws.db.write() as s:
            for rule in rules:
                current = s.get(NotificationRuleRow, rule.id)
                if current is None or not current.enabled:
                    continue
                filters = NotificationFilters.model_validate(current.filters or {})
                for event_id, name, payload, source in described:
                    if event_id <= current.cursor or name not in current.events:
                        continue
                    if not _passes(filters, source):
                        continue
                    if self._queue(s, current, event_id, name, payload, now):
                        queued += 1
                current.cursor = max(current.cursor, top)
        return queued

    def _queue(
        self,
        s: Any,
        rule: NotificationRuleRow,
        event_id: int,
        name: str,
        payload: dict[str, Any],
        now: datetime,
    ) -> bool:
        try:
            with s.begin_nested():
                s.add(
                    NotificationDeliveryRow(
                        rule_id=rule.id,
                        event_id=event_id,
                        event=name,
                        payload=payload,
                        status="pending",
                        attempts=0,
                        attempt_log=[],
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
        except exc.IntegrityError:
            return False  # another notifier queued it
        return True

    def _describe(
        self, s: Any, event: JobEventRow
    ) -> tuple[int, str, dict[str, Any], dict[str, Any]] | None:
        """(event id, event name, payload, source fields for filters), or None."""
        data = event.data or {}
        status = str(data.get("status", ""))
        at = event.created_at.isoformat()
        if event.kind == "status":
            try:
                if JobStatus(status) not in FINAL_JOB:
                    return None
            except ValueError:
                return None
            job = s.get(JobRow, event.job_id)
            if job is None:
                return None
            name = f"job.{status}"
            tags = job.tags or {}
            source = {
                "experiment": job.experiment,
                "compute": job.compute,
                "schedule": tags.get("mlbench.schedule_id"),
                "schedule_name": tags.get("mlbench.schedule_name"),
                "trial": bool(job.parent_id),
            }
            reason = data.get("reason") or job.status_reason or ""
            title = f"job {job.display_name} ({job.id}) {status.replace('_', ' ')}"
            payload = {
                "target": {"kind": "job", "id": job.id},
                "job": {
                    "id": job.id,
                    "name": job.display_name,
                    "experiment": job.experiment,
                    "compute": job.compute,
                    "status": status,
                    "reason": reason,
                    "notebook": job.notebook_path,
                    "mlflow_run_id": job.mlflow_run_id,
                    "parent_id": job.parent_id,
                    "tags": tags,
                },
            }
        elif event.kind == "sweep":
            if status not in ("completed", "failed", "canceled"):
                return None
            sweep = s.get(SweepRow, event.job_id)
            if sweep is None:
                return None
            name = f"sweep.{status}"
            tags = (sweep.spec or {}).get("tags") or {}
            source = {
                "experiment": sweep.experiment,
                "compute": sweep.compute,
                "schedule": tags.get("mlbench.schedule_id"),
                "schedule_name": tags.get("mlbench.schedule_name"),
                "trial": False,
            }
            reason = data.get("reason") or sweep.status_reason or ""
            title = f"sweep {sweep.display_name} ({sweep.id}) {status}"
            payload = {
                "target": {"kind": "sweep", "id": sweep.id},
                "sweep": {
                    "id": sweep.id,
                    "name": sweep.display_name,
                    "experiment": sweep.experiment,
                    "status": status,
                    "reason": reason,
                    "best_trial": sweep.best_trial,
                    "best_value": sweep.best_value,
                },
            }
        elif event.kind == "pipeline":
            if status not in ("completed", "failed", "canceled"):
                return None
            run = s.get(PipelineRunRow, event.job_id)
            if run is None:
                return None
            name = f"pipeline.{status}"
            tags = (run.spec or {}).get("tags") or {}
            source = {
                "experiment": run.experiment,
                "compute": run.compute,
                "schedule": tags.get("mlbench.schedule_id"),
                "schedule_name": tags.get("mlbench.schedule_name"),
                "trial": False,
            }
            reason = data.get("reason") or run.status_reason or ""
            title = f"pipeline {run.display_name} ({run.id}) {status}"
            payload = {
                "target": {"kind": "pipeline", "id": run.id},
                "pipeline": {
                    "id": run.id,
                    "name": run.display_name,
                    "experiment": run.experiment,
                    "status": status,
                    "reason": reason,
                },
            }
        elif event.kind == "monitor":  # a monitor run (mlbench.monitoring)
            if status != "breached":
                return None
            name = "monitor.breached"
            source = {
                "experiment": None,
                "compute": None,
                "schedule": data.get("schedule_id"),
                "schedule_name": None,
                "trial": False,
            }
            breaches = list(data.get("breaches") or [])
            reason = f"{len(breaches)} threshold(s) breached: {', '.join(breaches[:10])}"
            title = f"monitor {data.get('name')} breached"
            payload = {
                "target": {"kind": "monitor", "id": event.job_id},
                "monitor": {"id": event.job_id, **data},
            }
        else:  # schedule
            if status not in ("missed", "failed"):
                return None
            sched = s.get(ScheduleRow, event.job_id)
            sched_name = data.get("name") or (sched.name if sched else event.job_id)
            name = f"schedule.{status}"
            source = {
                "experiment": None,
                "compute": None,
                "schedule": event.job_id,
                "schedule_name": sched_name,
                "trial": False,
            }
            if status == "missed":
                reason = f"{data.get('count')} tick(s) missed, the last at {data.get('last')}"
            else:
                reason = f"the tick {data.get('tick')} was not started: {data.get('error')}"
            title = f"schedule {sched_name} {status}"
            payload = {
                "target": {"kind": "schedule", "id": event.job_id},
                "schedule": {"id": event.job_id, "name": sched_name, **data},
            }
        payload.update(
            event=name,
            event_id=event.id,
            at=at,
            title=title,
            text=f"{title}" + (f": {reason}" if reason else ""),
        )
        return event.id, name, payload, source

    # -- delivering ----------------------------------------------------------------------------
    def deliver_due(self, now: datetime) -> int:
        """Send every due delivery once; the number sent successfully."""
        with self.ws.db.session() as s:
            due = s.execute(
                select(
                    NotificationDeliveryRow.id,
                    NotificationDeliveryRow.status,
                    NotificationDeliveryRow.next_attempt_at,
                )
                .where(
                    NotificationDeliveryRow.status.in_(("pending", "sending")),
                    or_(
                        NotificationDeliveryRow.next_attempt_at.is_(None),
                        NotificationDeliveryRow.next_attempt_at <= now,
                    ),
                )
                .order_by(NotificationDeliveryRow.id)
                .limit(100)
            ).all()
        sent = 0
        for delivery_id, status, at in due:
            if self._claim(delivery_id, status, at, now):
                sent += self._attempt(delivery_id, now)
        return sent

    def _claim(self, delivery_id: int, status: str, at: datetime | None, now: datetime) -> bool:
        with self.ws.db.write() as s:
            return bool(
                s.execute(
                    update(NotificationDeliveryRow)
                    .where(
                        NotificationDeliveryRow.id == delivery_id,
                        NotificationDeliveryRow.status == status,
                        NotificationDeliveryRow.next_attempt_at == at
                        if at is not None
                        else NotificationDeliveryRow.next_attempt_at.is_(None),
                    )
                    .values(status="sending", next_attempt_at=now + SEND_LEASE)
                ).rowcount
            )

    def _attempt(self, delivery_id: int, now: datetime) -> int:
        with self.ws.db.session() as s:
            d = s.get(NotificationDeliveryRow, delivery_id)
            rule = s.get(NotificationRuleRow, d.rule_id) if d else None
        if d is None:
            return 0
        if rule is None:  # deleted meanwhile
            self._record(delivery_id, now, channels.Result(False, error="rule deleted"), final=True)
            return 0
        if rule.channel == "jupyterlab":
            self._post_to_jupyterlab(d, rule.name, now)
            return 0
        secrets = self.rules.secrets.get(rule.id) if rule.secret_names else {}
        payload = {**d.payload, "delivery": d.id, "rule": rule.name}
        result = channels.send(rule.channel, rule.config, secrets, payload)
        if result.error:
            result.error = self.ws.redact(masked(result.error, secrets))[:2000]
        attempts = d.attempts + 1
        final = result.ok or attempts >= int(rule.config.get("max_attempts", 5))
        backoff = float(rule.config.get("backoff_s", 30.0)) * 2 ** (attempts - 1)
        self._record(
            delivery_id,
            now,
            result,
            final=final,
            retry_at=now + timedelta(seconds=min(backoff, MAX_BACKOFF_S)),
        )
        if not result.ok:
            log.warning(
                "notification %s (%s) attempt %d failed: %s",
                rule.name,
                d.event,
                attempts,
                result.error,
            )
        return int(result.ok)

    def _post_to_jupyterlab(self, d: NotificationDeliveryRow, rule: str, now: datetime) -> None:
        """Put the delivery on the event feed for the servers' streams (or, once its window has
        passed unseen, fail it)."""
        with self.ws.db.write() as s:
            row = s.get(NotificationDeliveryRow, d.id)
            if row is None or row.status != "sending":
                return  # published (delivered) meanwhile
            if "feed_event_id" in row.payload:
                row.status, row.finished_at, row.next_attempt_at = "failed", now, None
                row.attempts += 1
                row.last_error = (
                    "no JupyterLab had the event stream open within "
                    f"{PUBLISH_WINDOW.total_seconds() / 60:.0f} min"
                )
                row.attempt_log = [
                    *(row.attempt_log or []),
                    {"n": row.attempts, "at": now.isoformat(), "ok": False,
                     "error": row.last_error, "duration_ms": 0.0},
                ]  # fmt: skip
                return
            target = d.payload.get("target") or {"kind": "test", "id": d.rule_id}
            event_id = self.ws.jobs.lifecycle.event(
                str(target["id"])[:32],
                "notification",
                {
                    "delivery": d.id,
                    "rule": rule,
                    "event": d.event,
                    "title": d.payload.get("title", ""),
                    "text": d.payload.get("text", ""),
                    "target": target,
                },
                session=s,
                at=now,
            )
            row.payload = {**row.payload, "feed_event_id": event_id}
            row.next_attempt_at = now + PUBLISH_WINDOW

    def _record(
        self,
        delivery_id: int,
        now: datetime,
        result: channels.Result,
        *,
        final: bool,
        retry_at: datetime | None = None,
    ) -> None:
        with self.ws.db.write() as s:
            d = s.get(NotificationDeliveryRow, delivery_id)
            if d is None:
                return
            n = d.attempts + 1
            entry = {
                "n": n,
                "at": self.clock.now().isoformat() if result.ok else now.isoformat(),
                "ok": result.ok,
                "status_code": result.status_code,
                "error": result.error,
                "duration_ms": result.duration_ms,
            }
            d.attempts = n
            d.attempt_log = [*(d.attempt_log or []), entry]
            d.last_error = result.error
            if result.ok:
                d.status, d.finished_at, d.next_attempt_at = "delivered", now, None
            elif final:
                d.status, d.finished_at, d.next_attempt_at = "failed", now, None
            else:
                d.status, d.next_attempt_at = "pending", retry_at

    # -- test ----------------------------------------------------------------------------------
    def send_test(self, rule_id: str) -> DeliveryInfo:
        now = self.clock.now()
        with self.ws.db.write() as s:
            low = s.scalar(
                select(func.min(NotificationDeliveryRow.event_id)).where(
                    NotificationDeliveryRow.rule_id == rule_id
                )
            )
            event_id = min(low or 0, 0) - 1  # test deliveries count down from -1
            row = NotificationDeliveryRow(
                rule_id=rule_id,
                event_id=event_id,
                event="test",
                payload={
                    "event": "test",
                    "event_id": event_id,
                    "at": now.isoformat(),
                    "title": "test notification",
                    "text": "mlbench test notification: this rule reaches you",
                },
                status="sending",
                attempts=0,
                attempt_log=[],
                next_attempt_at=now + SEND_LEASE,
                created_at=now,
            )
            s.add(row)
            s.flush()
            delivery_id = row.id
        self._attempt_once(delivery_id, now)
        with self.ws.db.session() as s:
            return delivery_info(s.get(NotificationDeliveryRow, delivery_id))

    def _attempt_once(self, delivery_id: int, now: datetime) -> None:
        with self.ws.db.session() as s:
            d = s.get(NotificationDeliveryRow, delivery_id)
            rule = s.get(NotificationRuleRow, d.rule_id)
        if rule.channel == "jupyterlab":
            self._post_to_jupyterlab(d, rule.name, now)  # delivered once a server publishes it
            return
        secrets = self.rules.secrets.get(rule.id) if rule.secret_names else {}
        result = channels.send(
            rule.channel, rule.config, secrets, {**d.payload, "delivery": d.id, "rule": rule.name}
        )
        if result.error:
            result.error = self.ws.redact(masked(result.error, secrets))[:2000]
        self._record(delivery_id, now, result, final=True)


def _passes(filters: NotificationFilters, source: dict[str, Any]) -> bool:
    if source.get("trial") and not filters.include_trials:
        return False
    if filters.experiment and source.get("experiment") != filters.experiment:
        return False
    if filters.compute and source.get("compute") != filters.compute:
        return False
    return not (
        filters.schedule
        and filters.schedule not in (source.get("schedule"), source.get("schedule_name"))
    )
