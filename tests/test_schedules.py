"""Schedules: rules and DST, missed-run policies, end times, two schedulers, a real fired job.

Time is a :class:`ManualClock` the tests move; nothing sleeps for real minutes. The controlled
clock tests use a core workspace (no agents: fired jobs are queued, which is all they check); the
end-to-end test uses the real scheduler process and agent, with no Jupyter server anywhere.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import exc, select

from mlbench.errors import ConflictError, InvalidInputError
from mlbench.schedules.clock import ManualClock
from mlbench.schedules.rules import CronRule, RecurrenceRule, next_ticks, to_instant
from mlbench.schedules.scheduler import TAG_ID, TAG_TICK, Scheduler
from mlbench.schedules.service import preview
from mlbench.store import JobRow, ScheduleRunRow
from tests.conftest import make_notebook, run_cli

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def core_ws(tmp_path: Path) -> Iterator[Any]:
    """A workspace without agents: fired jobs are queued (and that is all these tests need)."""
    from mlbench.workspace import Workspace

    ws = Workspace(tmp_path / "ws")
    yield ws
    ws.close()


@pytest.fixture
def nb(tmp_path: Path) -> Path:
    return make_notebook(tmp_path / "daily.ipynb", "print(x)", parameters="x = 1")


def schedule(ws: Any, nb: Path, now: datetime, name: str = "s", **trigger: Any) -> Any:
    missed = trigger.pop("missed", None)
    body: dict[str, Any] = {
        "name": name,
        "trigger": trigger,
        "job": {"notebook_path": str(nb), "parameters": {"x": 2}},
    }
    if missed:
        body["missed"] = missed
    return ws.schedules.create(body, now=now)


def walk(sched: Scheduler, clock: ManualClock, until: datetime, step_s: float = 60) -> list[Any]:
    """Move the clock in steps up to ``until``, a scheduler pass after each step."""
    fired = []
    while clock.now() < until:
        clock.advance(step_s)
        fired.extend(sched.run_due())
    return fired


def fired_ticks(runs: list[Any]) -> list[str]:
    return [r.wall for r in runs if r.status.value == "submitted"]


# -- rules ----------------------------------------------------------------------------------
def test_cron_parsing_and_vixie_day_rule() -> None:
    r = CronRule.parse("0 9 1,15 * mon")  # both days restricted: either matches
    ticks = next_ticks(r, UTC, utc(2026, 6, 1), 4)
    assert [w.day for _, w in ticks] == [1, 8, 15, 22]  # 1st and 15th, and Mondays
    r = CronRule.parse("*/20 8-9 * jan,jul 1-5")
    ticks = next_ticks(r, UTC, utc(2027, 1, 1), 7)
    assert [w.strftime("%m-%d %H:%M") for _, w in ticks][:7] == [
        "01-01 08:00", "01-01 08:20", "01-01 08:40", "01-01 09:00",
        "01-01 09:20", "01-01 09:40", "01-04 08:00",
    ]  # fmt: skip
    assert next_ticks(CronRule.parse("@daily"), UTC, utc(2027, 1, 1, 5), 1)[0][0] == utc(2027, 1, 2)
    assert next_ticks(CronRule.parse("0 0 29 2 *"), UTC, utc(2027, 1, 1), 1)[0][0] == utc(
        2028, 2, 29
    )
    for bad in ("* * * *", "60 * * * *", "* * * * 8", "5-1 * * * *", "*/0 * * * *", "x * * * *"):
        with pytest.raises(InvalidInputError):
            CronRule.parse(bad)


def test_recurrence_rules() -> None:
    anchor = datetime(2027, 1, 4, 10, 0)  # a Monday
    weekly = RecurrenceRule("week", 2, anchor, week_days=(0, 2))
    ticks = next_ticks(weekly, BERLIN, utc(2027, 1, 1), 5)
    assert [w.strftime("%m-%d") for _, w in ticks] == ["01-04", "01-06", "01-18", "01-20", "02-01"]
    hourly = RecurrenceRule("hour", 3, anchor, minutes=(15,))
    ticks = next_ticks(hourly, UTC, utc(2027, 1, 4, 9), 4)
    assert [w.strftime("%d %H:%M") for _, w in ticks] == [
        "04 10:15",
        "04 13:15",
        "04 16:15",
        "04 19:15",
    ]
    minutely = RecurrenceRule("minute", 45, anchor)
    ticks = next_ticks(minutely, UTC, utc(2027, 1, 4, 23, 0), 3)
    assert [w.strftime("%d %H:%M") for _, w in ticks] == ["04 23:30", "05 00:15", "05 01:00"]
    monthly = RecurrenceRule("month", 1, datetime(2027, 1, 31, 6, 0))
    ticks = next_ticks(monthly, UTC, utc(2027, 1, 1), 3)  # months without a 31st are skipped
    assert [w.strftime("%m-%d") for _, w in ticks] == ["01-31", "03-31", "05-31"]


@pytest.mark.parametrize(
    ("tz", "day", "expected"),
    [
        # spring forward: 02:00 -> 03:00 local. 02:00 and 02:30 do not exist: they fire once,
        # at the jump (03:00 local), together with 03:00 itself.
        (BERLIN, (2027, 3, 28), ["01:00+01:00", "01:30+01:00", "03:00+02:00", "03:30+02:00"]),
        (NEW_YORK, (2027, 3, 14), ["01:00-05:00", "01:30-05:00", "03:00-04:00", "03:30-04:00"]),
    ],
)
def test_spring_forward_rules(tz: ZoneInfo, day: tuple[int, int, int], expected: list[str]) -> None:
    r = CronRule.parse("*/30 * * * *")
    start = to_instant(datetime(*day, 0, 59), tz)
    ticks = next_ticks(r, tz, start, 4)
    assert [at.astimezone(tz).strftime("%H:%M%z")[:5] + at.astimezone(tz).isoformat()[-6:]
            for at, _ in ticks] == expected  # fmt: skip


def test_a_time_in_the_gap_fires_at_the_jump_every_day_once() -> None:
    # 02:30 every day, New York: on the spring-forward day at 03:00 EDT (07:00 UTC), once
    got = preview({"cron": "30 2 * * *", "timezone": "America/New_York"}, 3,
                  utc(2027, 3, 13, 12)).ticks  # fmt: skip
    assert [t.at for t in got] == [utc(2027, 3, 14, 7), utc(2027, 3, 15, 6, 30),
                                   utc(2027, 3, 16, 6, 30)]  # fmt: skip
    assert got[0].wall == "2027-03-14T03:00:00-04:00"


# -- DST with the scheduler and the controlled clock ----------------------------------------
@pytest.mark.parametrize(
    ("zone", "night", "expected_walls"),
    [
        (
            "Europe/Berlin",
            (2027, 3, 28),  # spring forward at 02:00 CET
            ["01:30+01:00", "03:00+02:00", "03:30+02:00", "04:00+02:00"],
        ),
        (
            "Europe/Berlin",
            (2027, 10, 31),  # fall back at 03:00 CEST
            [
                "01:30+02:00",
                "02:00+02:00",
                "02:30+02:00",
                "03:00+01:00",
                "03:30+01:00",
                "04:00+01:00",
            ],
        ),
        (
            "America/New_York",
            (2027, 3, 14),
            ["01:30-05:00", "03:00-04:00", "03:30-04:00", "04:00-04:00"],
        ),
        (
            "America/New_York",
            (2027, 11, 7),  # fall back at 02:00 EDT: 01:00-01:59 happens twice, runs once
            [
                "01:30-04:00",
                "02:00-05:00",
                "02:30-05:00",
                "03:00-05:00",
                "03:30-05:00",
                "04:00-05:00",
            ],
        ),
    ],
)
def test_dst_nights_one_run_per_wall_clock_tick(
    core_ws: Any, nb: Path, zone: str, night: tuple[int, int, int], expected_walls: list[str]
) -> None:
    tz = ZoneInfo(zone)
    begin = to_instant(datetime(*night, 1, 15), tz)
    end = to_instant(datetime(*night, 4, 10), tz)
    clock = ManualClock(begin)
    schedule(core_ws, nb, begin, cron="*/30 * * * *", timezone=zone)
    sched = Scheduler(core_ws, clock)
    runs = walk(sched, clock, end, step_s=60)
    assert [w[11:] for w in fired_ticks(runs)] == [w[:5] + ":00" + w[5:] for w in expected_walls]
    assert all(r.late_s is not None and 0 <= r.late_s <= 60 for r in runs)
    with core_ws.db.session() as s:  # every fired tick is a job tagged with it, once
        jobs = s.scalars(select(JobRow)).all()
    assert len(jobs) == len(expected_walls)
    assert sorted(j.tags[TAG_TICK] for j in jobs) == sorted(r.tick.isoformat() for r in runs)
    assert {j.tags[TAG_ID] for j in jobs} == {runs[0].schedule_id}


def test_daily_job_in_the_repeated_hour_runs_once(core_ws: Any, nb: Path) -> None:
    begin = utc(2027, 10, 30, 22)  # Berlin: fall back on 31 Oct, 02:30 happens twice
    clock = ManualClock(begin)
    schedule(core_ws, nb, begin, cron="30 2 * * *", timezone="Europe/Berlin")
    runs = walk(Scheduler(core_ws, clock), clock, utc(2027, 11, 1, 3), step_s=300)
    assert fired_ticks(runs) == ["2027-10-31T02:30:00+02:00", "2027-11-01T02:30:00+01:00"]


# -- missed runs ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("policy", "late_by", "fired", "missed"),
    [
        ("skip", 600, [], [1, 2, 3, 4, 5]),
        ("skip", 60, [5], [1, 2, 3, 4]),  # the newest tick is within the grace: it runs
        ("run_once", 600, [5], [1, 2, 3, 4]),
        ("catch_up", 600, [3, 4, 5], [1, 2]),  # capped at the newest 3
    ],
)
def test_missed_run_policies_after_downtime(
    core_ws: Any, nb: Path, policy: str, late_by: int, fired: list[int], missed: list[int]
) -> None:
    t0 = utc(2027, 5, 3, 8, 0, 30)
    clock = ManualClock(t0)
    info = schedule(
        core_ws, nb, t0, cron="0 * * * *",
        missed={"policy": policy, "grace_s": 300, "max_catch_up": 3},
    )  # fmt: skip
    sched = Scheduler(core_ws, clock)
    assert sched.run_due() == []
    # the scheduler is down from 08:00:30 until 5 hours (09:00 ... 13:00) and late_by later
    clock.set(utc(2027, 5, 3, 13) + timedelta(seconds=late_by))
    runs = sched.run_due()
    assert [r.tick.hour - 8 for r in runs] == fired
    assert all(r.status.value == "submitted" for r in runs)
    records = core_ws.schedules.runs(info.id)
    assert sorted(r.tick.hour - 8 for r in records if r.status.value == "missed") == missed
    assert len(records) == 5  # every tick accounted for, once
    events = _schedule_events(core_ws, info.id)
    assert [e["status"] for e in events if e["status"] == "missed"] == ["missed"]
    assert next(e for e in events if e["status"] == "missed")["count"] == len(missed)
    # nothing more until the next tick
    clock.advance(60)
    assert sched.run_due() == []
    assert core_ws.schedules.info(info.id).next_fire_at == utc(2027, 5, 3, 14)


def _schedule_events(ws: Any, schedule_id: str) -> list[dict[str, Any]]:
    from mlbench.store import JobEventRow

    with ws.db.session() as s:
        return [
            e.data
            for e in s.scalars(
                select(JobEventRow)
                .where(JobEventRow.job_id == schedule_id)
                .order_by(JobEventRow.id)
            )
        ]


def test_end_time_and_start_time_are_honoured(core_ws: Any, nb: Path) -> None:
    t0 = utc(2027, 5, 3, 7, 30)
    clock = ManualClock(t0)
    info = schedule(
        core_ws, nb, t0, cron="0 * * * *", timezone="UTC",
        start_time="2027-05-03T09:00:00+00:00", end_time="2027-05-03T11:30:00+00:00",
    )  # fmt: skip
    assert info.next_fire_at == utc(2027, 5, 3, 9)
    runs = walk(Scheduler(core_ws, clock), clock, utc(2027, 5, 3, 15), step_s=120)
    assert [r.tick.hour for r in runs] == [9, 10, 11]
    info = core_ws.schedules.info(info.id)
    assert info.next_fire_at is None
    with pytest.raises(InvalidInputError, match="never fire"):
        schedule(core_ws, nb, utc(2027, 6, 1), name="past", cron="0 * * * *",
                 end_time="2027-05-01T00:00:00Z")  # fmt: skip


def test_pause_resume_and_no_missed_runs_while_paused(core_ws: Any, nb: Path) -> None:
    t0 = utc(2027, 5, 3, 8, 0, 30)
    clock = ManualClock(t0)
    info = schedule(core_ws, nb, t0, cron="0 * * * *", missed={"policy": "catch_up"})
    sched = Scheduler(core_ws, clock)
    core_ws.schedules.pause(info.id)
    clock.set(utc(2027, 5, 3, 12, 30))
    assert sched.run_due() == []
    core_ws.schedules.resume(info.id, now=clock.now())
    assert sched.run_due() == []  # 09:00..12:00 passed while paused: not caught up
    clock.set(utc(2027, 5, 3, 13, 0, 5))
    assert [r.tick.hour for r in sched.run_due()] == [13]
    assert [r.status.value for r in core_ws.schedules.runs(info.id)] == ["submitted"]


# -- two schedulers -------------------------------------------------------------------------
def test_two_schedulers_fire_each_tick_once(core_ws: Any, nb: Path) -> None:
    from mlbench.workspace import Workspace

    t0 = utc(2027, 5, 3, 8, 0, 30)
    info = schedule(core_ws, nb, t0, cron="*/5 * * * *")
    other = Workspace(core_ws.home)  # another process's view: its own engine and connections
    clocks = [ManualClock(t0), ManualClock(t0)]
    schedulers = [Scheduler(core_ws, clocks[0], name="a"), Scheduler(other, clocks[1], name="b")]
    results: list[list[Any]] = [[], []]
    barrier = threading.Barrier(2)

    def drive(i: int) -> None:
        for step in range(1, 61):  # an hour, a pass a minute, both at the same instant
            clocks[i].set(t0 + timedelta(minutes=step))
            barrier.wait()
            results[i].extend(schedulers[i].run_due())

    threads = [threading.Thread(target=drive, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    other.close()
    ticks = sorted(r.tick for r in results[0] + results[1])
    assert len(ticks) == 12 and len(set(ticks)) == 12  # 08:05 ... 09:00, each once
    with core_ws.db.session() as s:
        tags = [j.tags[TAG_TICK] for j in s.scalars(select(JobRow))]
    assert sorted(tags) == [t.isoformat() for t in ticks]
    assert len(core_ws.schedules.runs(info.id, limit=100)) == 12


def test_the_unique_key_stops_a_scheduler_with_a_stale_view(core_ws: Any, nb: Path) -> None:
    """A scheduler that reads an old last_tick (a restored backup, a clock gone back) still
    cannot claim a tick another one fired: (schedule_id, tick) is unique."""
    from mlbench.store import ScheduleRow

    t0 = utc(2027, 5, 3, 8, 0, 30)
    clock = ManualClock(t0)
    info = schedule(core_ws, nb, t0, cron="0 * * * *")
    clock.set(utc(2027, 5, 3, 9, 0, 10))
    assert len(Scheduler(core_ws, clock, name="a").run_due()) == 1
    with core_ws.db.write() as s:  # as if nobody had fired 09:00
        row = s.get(ScheduleRow, info.id)
        row.last_tick, row.next_fire_at = t0, utc(2027, 5, 3, 9)
    assert Scheduler(core_ws, clock, name="b").run_due() == []
    with core_ws.db.session() as s:
        assert s.query(JobRow).count() == 1
    with pytest.raises(exc.IntegrityError), core_ws.db.write() as s:
        s.add(ScheduleRunRow(schedule_id=info.id, tick=utc(2027, 5, 3, 9), wall="x",
                             status="claimed", kind="job", scheduler_id="c",
                             created_at=t0))  # fmt: skip


# -- checks at creation, failed submissions -------------------------------------------------
def test_bad_schedules_are_refused(core_ws: Any, nb: Path, tmp_path: Path) -> None:
    now = utc(2027, 1, 1)
    with pytest.raises(InvalidInputError, match="exactly one of cron and recurrence"):
        schedule(core_ws, nb, now)
    with pytest.raises(InvalidInputError, match="unknown time zone"):
        schedule(core_ws, nb, now, cron="0 * * * *", timezone="Mars/Olympus")
    with pytest.raises(InvalidInputError, match="exactly one of job, sweep and pipeline"):
        core_ws.schedules.create({"name": "x", "trigger": {"cron": "0 * * * *"}})
    with pytest.raises(InvalidInputError):  # the job is checked like a submission
        core_ws.schedules.create(
            {"name": "x", "trigger": {"cron": "0 * * * *"},
             "job": {"notebook_path": str(nb), "parameters": {"nope": 1}}}
        )  # fmt: skip
    schedule(core_ws, nb, now, name="dup", cron="0 * * * *")
    with pytest.raises(ConflictError):
        schedule(core_ws, nb, now, name="dup", cron="0 * * * *")
    assert [i.name for i in core_ws.schedules.list()] == ["dup"]


def test_a_refused_tick_is_a_failed_run_with_the_reason(core_ws: Any, nb: Path) -> None:
    t0 = utc(2027, 5, 3, 8, 0, 30)
    clock = ManualClock(t0)
    info = schedule(core_ws, nb, t0, cron="0 * * * *")
    nb.unlink()  # the notebook is read at each tick
    clock.set(utc(2027, 5, 3, 9, 0, 1))
    (run,) = Scheduler(core_ws, clock).run_due()
    assert run.status.value == "failed" and "does not exist" in (run.error or "")
    assert _schedule_events(core_ws, info.id)[-1]["status"] == "failed"


def test_azure_ml_schedule_yaml(core_ws: Any, nb: Path, tmp_path: Path) -> None:
    path = tmp_path / "schedule.yml"
    path.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/schedule.schema.json\n"
        "name: weekly\n"
        "trigger:\n"
        "  type: recurrence\n"
        "  frequency: week\n"
        "  interval: 1\n"
        "  schedule: {hours: [10], minutes: [0], week_days: [monday, friday]}\n"
        "  time_zone: Europe/Berlin\n"
        "  start_time: '2027-01-01T00:00:00'\n"
        f"create_job:\n  type: notebook\n  notebook: {nb.name}\n  parameters: {{x: 3}}\n"
    )
    info = core_ws.schedules.create(path, now=utc(2027, 1, 1))
    assert info.next_fire_wall == "2027-01-01T10:00:00+01:00"  # a Friday
    ticks = core_ws.schedules.next(info.id, 3, utc(2027, 1, 1)).ticks
    assert [t.wall[:10] for t in ticks] == ["2027-01-01", "2027-01-04", "2027-01-08"]


# -- the CLI --------------------------------------------------------------------------------
def test_cli_next_without_a_schedule_and_service_install(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    out = run_cli(home, "schedule", "next", "--cron", "30 2 * * *", "--timezone",
                  "Europe/Berlin", "--after", "2027-03-27T00:00", "-n", "3")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert [line.split()[0] for line in out.stdout.splitlines()] == [
        "2027-03-27T02:30:00+01:00", "2027-03-28T03:00:00+02:00", "2027-03-29T02:30:00+02:00",
    ]  # fmt: skip
    bad = run_cli(home, "schedule", "next", "--cron", "61 * * * *")
    assert bad.returncode == 2 and "minute" in bad.stderr
    units = tmp_path / "units"
    out = run_cli(home, "service", "install", "--unit-dir", str(units))
    assert out.returncode == 0, out.stderr
    (unit,) = units.glob("mlbench-scheduler-*.service")
    text = unit.read_text()
    assert f"-m mlbench.scheduler --workspace {home.resolve()}" in text
    assert "--on-demand" not in text and "WantedBy=default.target" in text
    assert "systemctl --user enable --now " + unit.name in out.stdout.replace("\n", " ")
    assert "-m mlbench.scheduler --workspace" in out.stdout


# -- end to end: the scheduler process fires a real job, no Jupyter server ------------------
@pytest.mark.slow
def test_scheduler_process_fires_a_job_that_completes(tmp_path: Path, monkeypatch: Any) -> None:
    from mlbench import Workspace
    from mlbench.agent.process import AgentHandle

    monkeypatch.setenv("MLBENCH_SCHEDULER_IDLE_S", "5")
    home = tmp_path / "ws"
    notebook = make_notebook(tmp_path / "nightly.ipynb", "y = x * 2\nprint(y)", parameters="x = 1")
    Workspace(home).close()  # created and migrated beforehand: the rule's start is near
    start = datetime.now(UTC) + timedelta(seconds=6)
    out = run_cli(
        home, "schedule", "create", "nightly", "--notebook", str(notebook), "-p", "x", "21",
        "--every", "minute", "--start",
        start.isoformat(timespec="seconds"),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    ws = Workspace(home, agent_idle_timeout_s=30)
    try:
        handle = ws.schedules.scheduler()
        assert handle.is_running()  # started on demand by `schedule create`
        deadline = time.monotonic() + 90
        job = None
        while time.monotonic() < deadline:
            runs = ws.schedules.runs("nightly")
            if runs and runs[0].target_id:
                job = ws.jobs.get(runs[0].target_id)
                break
            time.sleep(0.2)
        assert job is not None, (home / "scheduler" / "scheduler.log").read_text()
        info = job.wait(timeout=120).info
        assert info.status.value == "completed", info
        assert info.parameters["x"] == 21 and info.tags["mlbench.schedule_name"] == "nightly"
        # the first tick after the schedule was made, not a later one (on a loaded box the
        # CLI can take longer than the 6 s to the start: ticks before its creation do not count)
        first = start.replace(microsecond=0)
        while first < ws.schedules.info("nightly").created_at:
            first += timedelta(minutes=1)
        assert runs[0].tick == first
        assert runs[0].late_s is not None and runs[0].late_s < 30  # incl. the on-demand start
        status = run_cli(home, "scheduler", "status")
        assert "running (on demand)" in status.stdout
        # paused: nothing enabled, so the on-demand scheduler exits by itself
        ws.schedules.pause("nightly")
        deadline = time.monotonic() + 30
        while handle.is_running() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not handle.is_running()
    finally:
        ws.schedules.scheduler().stop()
        AgentHandle(ws, "local").stop(now=True, timeout=30)
        ws.close()


def test_scheduler_start_stop_status_cli(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    env_before = os.environ.get("MLBENCH_SCHEDULER_IDLE_S")
    try:
        os.environ["MLBENCH_SCHEDULER_IDLE_S"] = "600"
        out = run_cli(home, "scheduler", "start")
        assert out.returncode == 0, out.stderr
        assert "scheduler running: pid" in out.stdout
        assert "running (on demand)" in run_cli(home, "scheduler", "status").stdout
        out = run_cli(home, "scheduler", "stop")
        assert "scheduler stopped" in out.stdout
        assert "not running" in run_cli(home, "scheduler", "status").stdout
    finally:
        if env_before is None:
            os.environ.pop("MLBENCH_SCHEDULER_IDLE_S", None)
        else:
            os.environ["MLBENCH_SCHEDULER_IDLE_S"] = env_before
    assert sys.executable
