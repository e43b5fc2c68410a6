"""When a schedule fires: 5-field cron or Azure-style recurrence, in an IANA time zone.

A rule yields *wall-clock ticks* in its zone (naive local times); :func:`to_instant` turns each
into the UTC instant it fires at, with the daylight-saving rules people expect:

- a wall-clock time that does not exist (02:30 on a spring-forward night) fires at the next
  valid instant, the moment the clocks jump (03:00 in Berlin); ticks that land on the same
  instant fire once;
- a wall-clock time that happens twice (02:30 on a fall-back night) fires once, at its first
  occurrence.

Cron is parsed here rather than with croniter: its day-of-month/day-of-week rule is Vixie
cron's (either matches when both are restricted), and the DST handling above is applied to the
naive wall-clock ticks, where no library's zone arithmetic can get it wrong.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mlbench.errors import InvalidInputError

UTC = timezone.utc
# How far ahead a rule is searched for its next tick (a Feb 29 rule needs up to 8 years).
HORIZON_DAYS = 366 * 9

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
_DAYS = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
WEEK_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
Frequency = Literal["minute", "hour", "day", "week", "month"]


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``Europe/Berlin``, ``UTC``), or a clear error."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidInputError(
            f"unknown time zone {name!r}",
            hint="use an IANA name such as 'UTC', 'Europe/Berlin' or 'America/New_York'",
        ) from None


# -- wall clock -> instant ------------------------------------------------------------------
def to_instant(wall: datetime, tz: tzinfo) -> datetime:
    """The UTC instant a naive wall-clock time ``wall`` in ``tz`` fires at (see the module)."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first  # exists (if it happens twice, fold=0 is its first occurrence)
    # A gap: fold=0 reads it with the offset before the jump (a later instant), fold=1 with the
    # one after (an earlier instant); the jump lies between. Find it to the second.
    low = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    high = first
    if low > high:
        low, high = high, low
    while (high - low) > timedelta(seconds=1):
        mid = low + (high - low) / 2
        if mid.astimezone(tz).replace(tzinfo=None) >= wall:
            high = mid
        else:
            low = mid
    return high.replace(microsecond=0)


def to_wall(instant: datetime, tz: tzinfo) -> datetime:
    """The naive wall-clock time in ``tz`` at UTC ``instant``."""
    return instant.astimezone(tz).replace(tzinfo=None)


# -- cron -----------------------------------------------------------------------------------
def _field(text: str, low: int, high: int, names: dict[str, int], what: str) -> frozenset[int]:
    values: set[int] = set()

    def number(token: str) -> int:
        key = token.lower()
        if key in names:
            return names[key]
        if not token.isdigit():
            raise ValueError(f"{what}: {token!r} is not a number")
        value = int(token)
        if not low <= value <= high:
            raise ValueError(f"{what}: {value} is outside {low}-{high}")
        return value

    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"{what}: step {step_text!r} must be a positive number")
            step = int(step_text)
        if body == "*":
            start, end = low, high
        elif "-" in body:
            a, _, b = body.partition("-")
            start, end = number(a), number(b)
            if start > end:
                raise ValueError(f"{what}: range {body!r} runs backwards")
        else:
            start = number(body)
            end = high if step_text else start
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class CronRule:
    """A 5-field cron expression: minute hour day-of-month month day-of-week."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    month_days: frozenset[int]
    months: frozenset[int]
    week_days: frozenset[int]  # 0 = Sunday
    dom_any: bool
    dow_any: bool

    @classmethod
    def parse(cls, expression: str) -> CronRule:
        text = " ".join(expression.split())
        fields = _MACROS.get(text.lower(), text).split(" ")
        if len(fields) != 5:
            raise InvalidInputError(
                f"cron {expression!r} has {len(fields)} field(s), not 5",
                hint="minute hour day-of-month month day-of-week, e.g. '30 2 * * 1-5'",
            )
        try:
            minute, hour, dom, month, dow = fields
            week_days = _field(dow, 0, 7, _DAYS, "day of week")
            return cls(
                expression=text,
                minutes=_field(minute, 0, 59, {}, "minute"),
                hours=_field(hour, 0, 23, {}, "hour"),
                month_days=_field(dom, 1, 31, {}, "day of month"),
                months=_field(month, 1, 12, _MONTHS, "month"),
                week_days=frozenset(d % 7 for d in week_days),
                dom_any=dom.startswith("*"),
                dow_any=dow.startswith("*"),
            )
        except ValueError as exc:
            raise InvalidInputError(
                f"cron {expression!r}: {exc}",
                hint="minute hour day-of-month month day-of-week, e.g. '30 2 * * 1-5'",
            ) from None

    def day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        dom = day.day in self.month_days
        dow = (day.isoweekday() % 7) in self.week_days
        if self.dom_any or self.dow_any:  # Vixie cron: both restricted means either matches
            return dom and dow
        return dom or dow

    def times(self, day: date) -> list[time]:
        if not self.day_matches(day):
            return []
        return [time(h, m) for h in sorted(self.hours) for m in sorted(self.minutes)]


# -- recurrence (Azure ML) --------------------------------------------------------------------
@dataclass(frozen=True)
class RecurrenceRule:
    """Azure ML's recurrence: every ``interval`` minutes/hours/days/weeks/months from the
    anchor (the schedule's start, in its zone), at the given hours and minutes (default: the
    anchor's) on the given week days (weekly; default: the anchor's)."""

    frequency: Frequency
    interval: int
    anchor: datetime  # naive wall clock in the schedule's zone
    hours: tuple[int, ...] = ()
    minutes: tuple[int, ...] = ()
    week_days: tuple[int, ...] = ()  # 0 = Monday
    month_days: tuple[int, ...] = ()

    def times(self, day: date) -> list[time]:
        a = self.anchor
        days = (day - a.date()).days
        if days < 0:
            return []
        second = a.second
        minutes = self.minutes or (a.minute,)
        if self.frequency == "minute":
            hours = self.hours or tuple(range(24))
            base = days * 1440 - (a.hour * 60 + a.minute)
            return [
                time(h, m, second)
                for h in sorted(hours)
                for m in range(60)
                if (base + h * 60 + m) % self.interval == 0
                and (not self.minutes or m in self.minutes)
                and base + h * 60 + m >= 0
            ]
        if self.frequency == "hour":
            hours = self.hours or tuple(range(24))
            base = days * 24 - a.hour
            return [
                time(h, m, second)
                for h in sorted(hours)
                if (base + h) % self.interval == 0 and base + h >= 0
                for m in sorted(minutes)
            ]
        if self.frequency == "day":
            if days % self.interval:
                return []
        elif self.frequency == "week":
            weeks = (days + a.weekday()) // 7  # weeks counted from the anchor's Monday
            if weeks % self.interval or day.weekday() not in (self.week_days or (a.weekday(),)):
                return []
        else:  # month
            months = (day.year - a.year) * 12 + day.month - a.month
            wanted = self.month_days or (a.day,)
            if months % self.interval or day.day not in wanted:
                return []
        hours = self.hours or (a.hour,)
        return [time(h, m, second) for h in sorted(hours) for m in sorted(minutes)]


Rule = CronRule | RecurrenceRule


# -- ticks ----------------------------------------------------------------------------------
def iter_ticks(
    rule: Rule,
    tz: tzinfo,
    after: datetime,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Iterator[tuple[datetime, datetime]]:
    """``(instant, wall)`` of each tick strictly after UTC ``after``, in order: ``instant`` is
    UTC, ``wall`` the naive wall-clock tick in ``tz``. Ticks before ``start`` are not yielded;
    the iteration stops at ``end`` (inclusive) or after :data:`HORIZON_DAYS` days without one."""
    if start is not None and after < start:
        after = start - timedelta(microseconds=1)
    wall_after = to_wall(after, tz)
    day = wall_after.date()
    last = after
    empty = 0
    while empty <= HORIZON_DAYS:
        found = False
        for t in rule.times(day):
            wall = datetime.combine(day, t)
            if wall <= wall_after:
                continue
            instant = to_instant(wall, tz)
            if instant <= last:
                continue  # a repeated hour's second pass, or a gap tick already fired
            if end is not None and instant > end:
                return
            found = True
            last = instant
            yield instant, wall
        empty = 0 if found else empty + 1
        day += timedelta(days=1)


def next_ticks(
    rule: Rule,
    tz: tzinfo,
    after: datetime,
    count: int,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[tuple[datetime, datetime]]:
    out = []
    for tick in iter_ticks(rule, tz, after, start=start, end=end):
        out.append(tick)
        if len(out) >= count:
            break
    return out


def week_day_numbers(names: list[str]) -> tuple[int, ...]:
    out = []
    for name in names:
        key = name.strip().lower()
        match = [i for i, day in enumerate(WEEK_DAYS) if day.startswith(key[:3])] if key else []
        if len(key) < 3 or not match or not WEEK_DAYS[match[0]].startswith(key):
            raise InvalidInputError(
                f"unknown week day {name!r}", hint="use monday..sunday (or mon..sun)"
            )
        out.append(match[0])
    return tuple(sorted(set(out)))
