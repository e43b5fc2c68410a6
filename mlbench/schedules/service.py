"""``ws.schedules``: create, read, pause, resume and delete schedules; preview their ticks.

A schedule is stored in the workspace database and fired by a scheduler process
(:mod:`mlbench.schedules.scheduler`), never by the Jupyter server. A workspace that starts
agents on demand (``mlbench.Workspace``, the CLI, the server) also starts the scheduler when a
schedule is created or resumed; the scheduler stays up while any schedule is enabled.

A job schedule stores the job spec, not a notebook snapshot: each tick submits the notebook as
it is then (a nightly retrain runs the newest notebook), and a tick whose submission is refused
is recorded as a failed run with the reason.
"""

from __future__ import annotations

import getpass
import logging
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError
from sqlalchemy import delete, select, update

from mlbench._ids import new_id, utcnow
from mlbench.errors import ConflictError, InvalidInputError, NotFoundError
from mlbench.jobs.spec import JobSpec
from mlbench.schedules.models import (
    NextTick,
    NextTicks,
    RunStatus,
    ScheduleInfo,
    ScheduleRunInfo,
    ScheduleSpec,
    Trigger,
)
from mlbench.schedules.rules import UTC, next_ticks
from mlbench.store import ScheduleRow, ScheduleRunRow

if TYPE_CHECKING:
    from mlbench.schedules.process import SchedulerHandle
    from mlbench.workspace import Workspace

log = logging.getLogger(__name__)

MAX_NEXT = 1000


class ScheduleNotFoundError(NotFoundError):
    code = "schedule_not_found"


def preview(
    trigger: Trigger | Mapping[str, Any],
    count: int = 5,
    after: datetime | None = None,
    *,
    anchor: datetime | None = None,
) -> NextTicks:
    """The next ``count`` ticks of a trigger after ``after`` (default: now), without storing
    anything (``mlbench schedule next --cron ... --timezone ...``)."""
    if not isinstance(trigger, Trigger):
        trigger = _validated(Trigger, trigger)
    if not 1 <= count <= MAX_NEXT:
        raise InvalidInputError(f"count must be between 1 and {MAX_NEXT}, got {count}")
    tz = trigger.zone()
    now = utcnow()
    after = _aware(after, tz) if after is not None else now
    rule = trigger.rule(anchor or trigger.start_utc(tz) or after)
    ticks = next_ticks(rule, tz, after, count, start=trigger.start_utc(tz), end=trigger.end_utc(tz))
    return NextTicks(
        timezone=trigger.timezone,
        ticks=[NextTick(at=at, wall=at.astimezone(tz).isoformat()) for at, _wall in ticks],
    )


def parse_schedule(raw: Mapping[str, Any]) -> ScheduleSpec:
    """A ScheduleSpec from mlbench's keys or Azure ML's schedule YAML keys
    (``trigger: {type: cron, expression, time_zone}``, ``create_job``)."""
    body = dict(raw)
    body.pop("$schema", None)
    trigger = body.get("trigger")
    if isinstance(trigger, Mapping):
        t = dict(trigger)
        kind = t.pop("type", None)
        if "expression" in t:
            t["cron"] = t.pop("expression")
        if "time_zone" in t:
            t["timezone"] = t.pop("time_zone")
        if kind == "recurrence" or "frequency" in t:
            rec = {k: t.pop(k) for k in ("frequency", "interval") if k in t}
            rec.update(dict(t.pop("schedule", None) or {}))
            t["recurrence"] = {**dict(t.get("recurrence") or {}), **rec}
        body["trigger"] = t
    job = body.pop("create_job", None)
    if job is not None:
        if isinstance(job, Mapping) and job.get("type") == "sweep":
            body["sweep"] = dict(job)
        elif isinstance(job, Mapping) and job.get("type") == "pipeline":
            body["pipeline"] = dict(job)
        else:
            body["job"] = job
    if isinstance(body.get("job"), Mapping):
        j = dict(body["job"])
        if "notebook" in j and "notebook_path" not in j:
            j["notebook_path"] = j.pop("notebook")
        j.pop("type", None)
        body["job"] = j
    return _validated(ScheduleSpec, body)


def _validated(model: Any, body: Any) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'schedule'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInputError(f"invalid schedule: {problems}") from None


def load_yaml(path: Path) -> dict[str, Any]:
    """A schedule YAML file; a relative notebook path is read from the file's folder."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInputError(f"{path} does not exist") from None
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise InvalidInputError(f"{path} must hold a mapping of schedule keys")
    if isinstance(raw.get("pipeline"), str):
        raw["pipeline"] = str((path.parent / raw["pipeline"]).expanduser().resolve())
    for key in ("job", "create_job", "sweep"):
        action = raw.get(key)
        if not isinstance(action, dict):
            continue
        holder = action.get("trial") if isinstance(action.get("trial"), dict) else action
        for k in ("notebook", "notebook_path"):
            value = holder.get(k)
            if isinstance(value, str) and not Path(value).expanduser().is_absolute():
                holder[k] = str((path.parent / value).resolve())
    return raw


class Schedules:
    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    # -- the scheduler process -----------------------------------------------------------------
    def scheduler(self) -> SchedulerHandle:
        """The workspace's scheduler process (start, stop, status)."""
        from mlbench.schedules.process import SchedulerHandle

        return SchedulerHandle(self._ws)

    def _ensure_scheduler(self) -> None:
        if self._ws.starts_agents:
            self.scheduler().ensure_running()

    def ensure_scheduler(self) -> bool:
        """Start the scheduler if something needs it (an enabled schedule or notification rule)
        and none runs: what brings it back after a reboot or a crash without ``mlbench service
        install``, called when the Jupyter server extension or an agent process starts (an
        agent's workspace starts no agents, yet it does start the scheduler). True if it was
        started here."""
        if not (self.any_enabled() or self._ws.notifications.any_enabled()):
            return False
        handle = self.scheduler()
        if handle.is_running():
            return False
        log.info("starting the scheduler (enabled schedules or notification rules)")
        handle.ensure_running()
        return True

    # -- creating ------------------------------------------------------------------------------
    def create(
        self,
        spec: ScheduleSpec | Mapping[str, Any] | str | Path,
        *,
        now: datetime | None = None,
        **changes: Any,
    ) -> ScheduleInfo:
        """Check and store a schedule: a :class:`ScheduleSpec`, a mapping (mlbench's or Azure
        ML's schedule keys) or a YAML file; ``changes`` override top-level keys. ``now`` (for
        tests and benchmarks with a controlled clock) is when it counts as created."""
        if isinstance(spec, str | Path):
            spec = load_yaml(Path(spec))
        if isinstance(spec, ScheduleSpec):
            spec = spec.model_dump(exclude_unset=True)
        spec = parse_schedule({**dict(spec), **changes})
        kind, action = self._action(spec)
        now = now or utcnow()
        row = ScheduleRow(
            id=new_id(),
            name=spec.name,
            description=spec.description,
            enabled=spec.enabled,
            trigger=spec.trigger.model_dump(mode="json", exclude_none=True),
            action={"kind": kind, "spec": action},
            missed=spec.missed.model_dump(mode="json"),
            owner=_user(),
            created_at=now,
            updated_at=now,
            last_tick=now,  # ticks before the schedule existed are not missed
            next_fire_at=None,
        )
        row.next_fire_at = next_fire(row, now)
        if spec.enabled and row.next_fire_at is None:
            raise InvalidInputError(
                f"schedule {spec.name!r} would never fire: {spec.trigger.describe()} has no "
                "tick after now" + (" and before its end_time" if spec.trigger.end_time else ""),
                hint="check the rule with `mlbench schedule next --cron EXPR --timezone TZ`",
            )
        with self._ws.db.write() as s:
            if s.scalar(select(ScheduleRow.id).where(ScheduleRow.name == spec.name)):
                raise ConflictError(
                    f"a schedule named {spec.name!r} exists",
                    hint="pick another name, or delete it first",
                )
            s.add(row)
        if spec.enabled:
            self._ensure_scheduler()
        return self.info(row.id)

    def _action(self, spec: ScheduleSpec) -> tuple[str, dict[str, Any]]:
        """The job or sweep spec, checked as far as it can be now, paths made absolute."""
        if spec.job is not None:
            job = spec.job
            paths = {
                key: str(Path(value).expanduser().resolve())
                for key in ("notebook_path", "code", "cwd")
                if isinstance(value := getattr(job, key, None), str)
            }
            job = job.model_copy(update=paths)
            self._ws.jobs.check(job)  # the notebook, kernel, parameters, compute, data
            return "job", job.model_dump(mode="json", exclude_defaults=True)
        if spec.monitor is not None:
            return "monitor", {"monitor": spec.monitor}
        if spec.pipeline is not None:
            return "pipeline", self._pipeline(spec.pipeline)
        from mlbench.sweeps.service import parse_sweep

        assert spec.sweep is not None
        sweep = parse_sweep(spec.sweep)
        trial = sweep.trial
        path = Path(trial.notebook_path).expanduser().resolve()
        if not path.is_file():
            raise InvalidInputError(f"the sweep's notebook {path} does not exist")
        sweep = sweep.model_copy(
            update={"trial": trial.model_copy(update={"notebook_path": str(path)})}
        )
        return "sweep", sweep.model_dump(mode="json", exclude_unset=True)

    def _pipeline(self, given: Mapping[str, Any] | str) -> dict[str, Any]:
        """The pipeline spec to store: read from its YAML (paths relative to the file) or
        parsed from a mapping (paths relative to the current folder), every step's notebook or
        code checked to exist now, so a typo fails here rather than at 2 a.m."""
        from mlbench.pipelines.spec import parse_pipeline

        if isinstance(given, str):
            spec = self._ws.pipelines.load(given)
        else:
            raw = {k: v for k, v in given.items() if k not in ("type", "$schema")}
            spec = parse_pipeline(raw)
        for name, step in spec.jobs.items():
            for key in ("notebook", "code"):
                value = getattr(step, key, None)
                if isinstance(value, str) and not Path(value).exists():
                    raise InvalidInputError(
                        f"the pipeline's step {name!r}: its {key} {value} does not exist"
                    )
        return spec.model_dump(mode="json", exclude_unset=True)

    # -- reading -------------------------------------------------------------------------------
    def _row(self, s: Any, ref: str) -> ScheduleRow:
        row = s.get(ScheduleRow, ref) or s.scalar(
            select(ScheduleRow).where(ScheduleRow.name == ref)
        )
        if row is None and len(ref) >= 4:
            rows = s.scalars(
                select(ScheduleRow).where(ScheduleRow.id.startswith(ref, autoescape=True)).limit(2)
            ).all()
            if len(rows) > 1:
                raise InvalidInputError(f"schedule id prefix {ref!r} is ambiguous")
            row = rows[0] if rows else None
        if row is None:
            raise ScheduleNotFoundError(
                f"schedule {ref!r} does not exist", hint="list them with `mlbench schedule list`"
            )
        return row

    def info(self, ref: str) -> ScheduleInfo:
        """A schedule by id, unique id prefix or name."""
        with self._ws.db.session() as s:
            return schedule_info(self._row(s, ref))

    get = info

    def list(self, *, enabled: bool | None = None) -> list[ScheduleInfo]:
        query = select(ScheduleRow).order_by(ScheduleRow.name)
        if enabled is not None:
            query = query.where(ScheduleRow.enabled.is_(enabled))
        with self._ws.db.session() as s:
            return [schedule_info(r) for r in s.scalars(query)]

    def any_enabled(self) -> bool:
        with self._ws.db.session() as s:
            return (
                s.scalar(select(ScheduleRow.id).where(ScheduleRow.enabled.is_(True)).limit(1))
                is not None
            )

    def runs(self, ref: str, *, limit: int = 50) -> list[ScheduleRunInfo]:
        """The schedule's newest runs (fired, failed and missed ticks), newest first."""
        with self._ws.db.session() as s:
            row = self._row(s, ref)
            rows = s.scalars(
                select(ScheduleRunRow)
                .where(ScheduleRunRow.schedule_id == row.id)
                .order_by(ScheduleRunRow.tick.desc())
                .limit(limit)
            ).all()
            return [run_info(r) for r in rows]

    def next(self, ref: str, count: int = 5, after: datetime | None = None) -> NextTicks:
        """The schedule's next ``count`` ticks after ``after`` (default: now)."""
        info = self.info(ref)
        return preview(info.trigger, count, after, anchor=info.created_at)

    # -- changing ------------------------------------------------------------------------------
    def pause(self, ref: str) -> ScheduleInfo:
        with self._ws.db.write() as s:
            row = self._row(s, ref)
            row.enabled = False
            row.next_fire_at = None
            row.updated_at = utcnow()
        return self.info(row.id)

    def resume(self, ref: str, *, now: datetime | None = None) -> ScheduleInfo:
        """Enable it again; ticks that passed while it was paused are not missed runs."""
        now = now or utcnow()
        with self._ws.db.write() as s:
            row = self._row(s, ref)
            if not row.enabled:
                row.enabled = True
                row.last_tick = max(row.last_tick or now, now)
                row.updated_at = now
            row.next_fire_at = next_fire(row, now)
        self._ensure_scheduler()
        return self.info(row.id)

    def delete(self, ref: str) -> None:
        """Delete the schedule and its run records (the jobs it started stay)."""
        with self._ws.db.write() as s:
            row = self._row(s, ref)
            s.execute(delete(ScheduleRunRow).where(ScheduleRunRow.schedule_id == row.id))
            s.execute(delete(ScheduleRow).where(ScheduleRow.id == row.id))

    def set_next_fire(self, schedule_id: str, when: datetime | None) -> None:
        with self._ws.db.write() as s:
            s.execute(
                update(ScheduleRow).where(ScheduleRow.id == schedule_id).values(next_fire_at=when)
            )


# -- helpers shared with the scheduler ------------------------------------------------------
def trigger_of(row: ScheduleRow) -> Trigger:
    return Trigger.model_validate(row.trigger)


def next_fire(row: ScheduleRow, after: datetime) -> datetime | None:
    """The first tick of ``row`` after both ``after`` and its last handled tick."""
    trigger = trigger_of(row)
    tz = trigger.zone()
    since = max(after, row.last_tick) if row.last_tick else after
    ticks = next_ticks(
        trigger.rule(row.created_at),
        tz,
        since,
        1,
        start=trigger.start_utc(tz),
        end=trigger.end_utc(tz),
    )
    return ticks[0][0] if ticks else None


def schedule_info(row: ScheduleRow) -> ScheduleInfo:
    trigger = trigger_of(row)
    wall = None
    if row.next_fire_at is not None:
        wall = row.next_fire_at.astimezone(trigger.zone()).isoformat()
    return ScheduleInfo(
        id=row.id,
        name=row.name,
        description=row.description,
        enabled=row.enabled,
        trigger=trigger,
        kind=row.action["kind"],
        action=row.action["spec"],
        missed=row.missed,
        owner=row.owner,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_tick=row.last_tick,
        next_fire_at=row.next_fire_at,
        next_fire_wall=wall,
        describe=trigger.describe(),
    )


def run_info(row: ScheduleRunRow) -> ScheduleRunInfo:
    late = (row.fired_at - row.tick).total_seconds() if row.fired_at else None
    return ScheduleRunInfo(
        id=row.id,
        schedule_id=row.schedule_id,
        tick=row.tick,
        wall=row.wall,
        status=RunStatus(row.status),
        kind=row.kind,  # type: ignore[arg-type]
        target_id=row.target_id,
        error=row.error,
        created_at=row.created_at,
        fired_at=row.fired_at,
        late_s=late,
    )


def _aware(value: datetime, tz: Any) -> datetime:
    if value.tzinfo is None:
        from mlbench.schedules.rules import to_instant

        return to_instant(value, tz)
    return value.astimezone(UTC)


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return ""


__all__ = ["JobSpec", "ScheduleNotFoundError", "Schedules", "parse_schedule", "preview"]
