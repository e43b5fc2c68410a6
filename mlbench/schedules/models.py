"""Pydantic shapes of schedules: what a user gives (``ScheduleSpec``) and what they read back."""

from __future__ import annotations

from datetime import datetime, tzinfo
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mlbench.jobs.spec import JobSpec
from mlbench.schedules.rules import (
    UTC,
    CronRule,
    Frequency,
    RecurrenceRule,
    Rule,
    week_day_numbers,
    zone,
)


class Recurrence(BaseModel):
    """Azure ML's recurrence: every ``interval`` units of ``frequency``, at the given times."""

    model_config = ConfigDict(extra="forbid")

    frequency: Frequency
    interval: int = Field(1, ge=1, le=1000)
    hours: list[int] = Field(default_factory=list, description="Hours of the day (0-23).")
    minutes: list[int] = Field(default_factory=list, description="Minutes of the hour (0-59).")
    week_days: list[str] = Field(
        default_factory=list, description="For frequency week: monday..sunday."
    )
    month_days: list[int] = Field(
        default_factory=list, description="For frequency month: days of the month (1-31)."
    )

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: list[int]) -> list[int]:
        if any(not 0 <= h <= 23 for h in value):
            raise ValueError("hours are 0-23")
        return sorted(set(value))

    @field_validator("minutes")
    @classmethod
    def _minutes(cls, value: list[int]) -> list[int]:
        if any(not 0 <= m <= 59 for m in value):
            raise ValueError("minutes are 0-59")
        return sorted(set(value))

    @field_validator("month_days")
    @classmethod
    def _month_days(cls, value: list[int]) -> list[int]:
        if any(not 1 <= d <= 31 for d in value):
            raise ValueError("month days are 1-31")
        return sorted(set(value))

    @field_validator("week_days")
    @classmethod
    def _week_days(cls, value: list[str]) -> list[str]:
        from mlbench.schedules.rules import WEEK_DAYS

        try:
            return [WEEK_DAYS[i] for i in week_day_numbers(value)]
        except Exception as exc:
            raise ValueError(str(exc)) from None


class Trigger(BaseModel):
    """When a schedule fires: a cron expression or a recurrence, in an IANA time zone."""

    model_config = ConfigDict(extra="forbid")

    cron: str | None = Field(
        None, max_length=200, description="5-field cron: minute hour day-of-month month weekday."
    )
    recurrence: Recurrence | None = None
    timezone: str = Field("UTC", max_length=64, description="IANA time zone of the rule.")
    start_time: datetime | None = Field(
        None,
        description="No tick before it (a time without offset is read in the rule's zone); "
        "a recurrence counts its intervals from it (default: the schedule's creation).",
    )
    end_time: datetime | None = Field(None, description="No tick after it.")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone(value)
        return value

    @model_validator(mode="after")
    def _one_rule(self) -> Trigger:
        if (self.cron is None) == (self.recurrence is None):
            raise ValueError("give exactly one of cron and recurrence")
        if self.cron is not None:
            CronRule.parse(self.cron)
        tz = zone(self.timezone)
        start = self.start_utc(tz)
        end = self.end_utc(tz)
        if start and end and end <= start:
            raise ValueError("end_time must be after start_time")
        return self

    def zone(self) -> tzinfo:
        return zone(self.timezone)

    def start_utc(self, tz: tzinfo | None = None) -> datetime | None:
        return _aware(self.start_time, tz or self.zone())

    def end_utc(self, tz: tzinfo | None = None) -> datetime | None:
        return _aware(self.end_time, tz or self.zone())

    def rule(self, anchor: datetime) -> Rule:
        """The rule; a recurrence counts from ``start_time``, or else from ``anchor`` (UTC)."""
        if self.cron is not None:
            return CronRule.parse(self.cron)
        assert self.recurrence is not None
        r = self.recurrence
        tz = self.zone()
        start = self.start_utc(tz) or anchor
        wall = start.astimezone(tz).replace(tzinfo=None, microsecond=0)
        return RecurrenceRule(
            frequency=r.frequency,
            interval=r.interval,
            anchor=wall,
            hours=tuple(r.hours),
            minutes=tuple(r.minutes),
            week_days=week_day_numbers(r.week_days),
            month_days=tuple(r.month_days),
        )

    def describe(self) -> str:
        if self.cron is not None:
            return f"cron '{self.cron}' ({self.timezone})"
        assert self.recurrence is not None
        r = self.recurrence
        text = f"every {r.interval} {r.frequency}{'s' if r.interval > 1 else ''}"
        if r.week_days:
            text += " on " + ", ".join(d[:3] for d in r.week_days)
        if r.month_days:
            text += " on day " + ", ".join(map(str, r.month_days))
        if r.hours or r.minutes:
            text += f" at hours {r.hours or '-'} minutes {r.minutes or '-'}"
        return f"{text} ({self.timezone})"


def _aware(value: datetime | None, tz: tzinfo) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        from mlbench.schedules.rules import to_instant

        return to_instant(value, tz)
    return value.astimezone(UTC)


class MissedPolicy(str, Enum):
    SKIP = "skip"
    RUN_ONCE = "run_once"
    CATCH_UP = "catch_up"


class MissedRuns(BaseModel):
    """What happens to ticks that passed while no scheduler ran (late by more than the grace)."""

    model_config = ConfigDict(extra="forbid")

    policy: MissedPolicy = Field(
        MissedPolicy.SKIP,
        description="skip: record them, run nothing; run_once: one run for all of them; "
        "catch_up: one run per missed tick (the newest max_catch_up).",
    )
    grace_s: float = Field(
        300.0, ge=0, le=7 * 86400, description="A tick late by up to this many seconds runs."
    )
    max_catch_up: int = Field(10, ge=1, le=1000, description="catch_up runs at most this many.")


class ScheduleSpec(BaseModel):
    """A schedule: a trigger and what it starts (a job spec or a sweep spec)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    description: str = Field("", max_length=2000)
    trigger: Trigger
    job: JobSpec | None = Field(None, description="The job to start at each tick.")
    sweep: dict[str, Any] | None = Field(
        None, description="The sweep to start at each tick (a sweep spec, Azure ML's keys)."
    )
    monitor: str | None = Field(
        None, max_length=128, description="The monitor to run at each tick."
    )
    pipeline: dict[str, Any] | str | None = Field(
        None,
        description="The pipeline to run at each tick: its YAML file (a path) or its spec "
        "(Azure ML's pipeline job keys); stored with the schedule, checked when created.",
    )
    missed: MissedRuns = Field(default_factory=MissedRuns)
    enabled: bool = True

    @model_validator(mode="after")
    def _one_action(self) -> ScheduleSpec:
        if sum(a is not None for a in (self.job, self.sweep, self.pipeline, self.monitor)) != 1:
            raise ValueError("give exactly one of job, sweep and pipeline (or monitor)")
        return self


class RunStatus(str, Enum):
    CLAIMED = "claimed"  # taken by a scheduler, being submitted
    SUBMITTED = "submitted"
    FAILED = "failed"  # submission refused (the error says why)
    MISSED = "missed"


class ScheduleRunInfo(BaseModel):
    id: int
    schedule_id: str
    tick: datetime = Field(description="The tick (UTC).")
    wall: str = Field(description="The tick on the schedule's wall clock.")
    status: RunStatus
    kind: Literal["job", "sweep", "pipeline", "monitor"]
    target_id: str | None = Field(None, description="The job, sweep or pipeline run it started.")
    error: str | None = None
    created_at: datetime
    fired_at: datetime | None = None
    late_s: float | None = Field(None, description="Seconds between the tick and the firing.")


class ScheduleInfo(BaseModel):
    id: str
    name: str
    description: str
    enabled: bool
    trigger: Trigger
    kind: Literal["job", "sweep", "pipeline", "monitor"]
    action: dict[str, Any] = Field(
        description="The job spec, sweep spec or pipeline spec (paths absolute) it starts."
    )
    missed: MissedRuns
    owner: str
    created_at: datetime
    updated_at: datetime
    last_tick: datetime | None = None
    next_fire_at: datetime | None = Field(None, description="The next tick (UTC).")
    next_fire_wall: str | None = Field(None, description="The next tick on the wall clock.")
    describe: str = Field("", description="The trigger in words.")


class NextTick(BaseModel):
    at: datetime = Field(description="UTC.")
    wall: str = Field(description="In the rule's time zone, with its offset.")


class NextTicks(BaseModel):
    timezone: str
    ticks: list[NextTick]
