"""Tables of ``%mlbench schedule ...`` and ``%mlbench notify ...``: schedules, their runs and next
ticks, notification rules and their deliveries (secrets by name only, as the SDK returns them)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlbench.widgets.tables import TableView


def _starts(info: Any) -> str:
    if info.kind == "job":
        what = info.action.get("notebook_path") or info.action.get("command") or ""
    elif info.kind == "pipeline":
        what = info.action.get("display_name") or ""
    else:
        what = (info.action.get("trial") or {}).get("notebook_path", "")
    return f"{info.kind} {Path(str(what)).name}".strip()


def schedules_table(infos: Sequence[Any]) -> TableView:
    """Every schedule with its rule in words and next run in its zone."""
    rows = [
        [
            i.id,
            i.name,
            "enabled" if i.enabled else "paused",
            i.describe,
            _starts(i),
            i.next_fire_wall,
            i.missed.policy.value,
        ]
        for i in infos
    ]
    return TableView(
        ["id", "name", "state", "rule", "starts", "next run", "missed"],
        rows,
        title="Schedules",
        empty="no schedules (create one with `%mlbench schedule create NAME --cron EXPR`)",
        max_width=60,
    )


def schedule_table(info: Any, runs: Sequence[Any]) -> TableView:
    """One schedule's fields, then its last runs (newest first)."""
    rows: list[list[Any]] = [
        ["id", info.id],
        ["name", info.name],
        ["state", "enabled" if info.enabled else "paused"],
        ["rule", info.describe],
        ["starts", _starts(info)],
        ["missed runs", f"{info.missed.policy.value} (grace {info.missed.grace_s:g} s)"],
        ["next run", info.next_fire_wall],
    ]
    if info.trigger.end_time:
        rows.append(["ends", info.trigger.end_time.isoformat()])
    for n, r in enumerate(runs):
        late = f", {r.late_s:.2f} s late" if r.late_s is not None else ""
        target = f" -> {r.target_id}" if r.target_id else ""
        error = f": {r.error}" if r.error else ""
        label = f"last runs ({len(runs)})" if n == 0 else ""
        rows.append([label, f"{r.wall} {r.status.value}{target}{late}{error}"])
    if not runs:
        rows.append(["last runs", "none yet"])
    return TableView(["", "value"], rows, title=f"Schedule {info.name}", max_width=200)


def runs_table(runs: Sequence[Any]) -> TableView:
    rows = [[r.wall, r.status.value, r.target_id, r.late_s, r.error] for r in runs]
    return TableView(
        ["tick", "status", "started", "late (s)", "error"], rows, title="Runs", empty="no runs yet"
    )


def ticks_table(ticks: Any, title: str = "Next runs") -> TableView:
    rows = [[t.wall, t.at.strftime("%Y-%m-%d %H:%M:%S UTC")] for t in ticks.ticks]
    return TableView(
        [f"in {ticks.timezone}", "UTC"], rows, title=title, empty="no more runs", max_width=60
    )


def notifications_table(infos: Sequence[Any]) -> TableView:
    rows = [
        [
            i.id,
            i.name,
            "enabled" if i.enabled else "disabled",
            i.channel,
            i.config.get("url") or ", ".join(i.config.get("to") or []),
            ", ".join(i.events),
            ", ".join(i.secrets) or None,
        ]
        for i in infos
    ]
    return TableView(
        ["id", "name", "state", "channel", "to", "events", "secrets"],
        rows,
        title="Notification rules",
        empty="no notification rules (add one with `%mlbench notify add NAME --on job.failed "
        "--webhook URL`)",
        max_width=60,
    )


def notification_table(info: Any, deliveries: Sequence[Any]) -> TableView:
    filters = info.filters.model_dump(exclude_defaults=True)
    rows: list[list[Any]] = [
        ["id", info.id],
        ["name", info.name],
        ["channel", info.channel],
        ["events", ", ".join(info.events)],
        ["filters", ", ".join(f"{k}={v}" for k, v in filters.items()) or "-"],
        ["secrets", ", ".join(info.secrets) or "-"],
    ]
    rows += [[key, value] for key, value in info.config.items()]
    for n, d in enumerate(deliveries):
        label = f"deliveries ({len(deliveries)})" if n == 0 else ""
        error = f": {d.last_error}" if d.last_error else ""
        rows.append([label, f"#{d.id} {d.event} {d.status} after {d.attempts} attempt(s){error}"])
    return TableView(["", "value"], rows, title=f"Notification rule {info.name}", max_width=200)


def deliveries_table(items: Sequence[Any]) -> TableView:
    rows = [
        [d.id, d.rule_id, d.event, d.status, d.attempts, d.created_at, d.last_error] for d in items
    ]
    return TableView(
        ["id", "rule", "event", "status", "attempts", "created", "last error"],
        rows,
        title="Deliveries",
        empty="no deliveries yet",
    )
