"""``mlbench monitor create|run|list|show|delete`` and ``mlbench drift REF TARGET``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from mlbench.cli.context import CliContext
from mlbench.cli.render import console, print_json
from mlbench.cli.schedules import _trigger, trigger_options
from mlbench.errors import InvalidInputError
from mlbench.formatting import when

pass_ctx = click.make_pass_decorator(CliContext)
COLORS = {"breached": "red", "warning": "yellow", "ok": "green", "skipped": "dim"}


def _color(verdict: str | None) -> str:
    if not verdict:
        return "-"
    return f"[{COLORS.get(verdict, 'white')}]{verdict}[/]"


def _thresholds(items: tuple[str, ...]) -> dict[str, float]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise InvalidInputError(
                f"--threshold {item!r}", hint="give KEY=NUMBER, e.g. --threshold psi=0.2"
            )
    return out


def report_table(report: Any) -> Table:
    table = Table(box=None, header_style="bold")
    for col in ("FEATURE", "SIGNAL", "VALUE", "FLOOR", "BOUND", "VERDICT", "METHOD"):
        table.add_column(col, no_wrap=col != "METHOD")
    for f in report.features:
        for s in f.signals:
            table.add_row(
                escape(f.name),
                s.signal,
                "-" if s.value is None else f"{s.value:.4g}",
                "-" if s.threshold is None else f"{s.threshold:g}",
                "-" if s.bound is None else f"{s.bound:.3g}",
                _color(s.verdict),
                escape(s.method),
            )
    return table


@click.command("drift")
@click.argument("reference")
@click.argument("target")
@click.option("--feature", "features", multiple=True, help="Only these columns (repeatable).")
@click.option("--signal", "signals", multiple=True, help="Only these signals (repeatable).")
@click.option("--threshold", "thresholds", multiple=True, help="KEY=VALUE, e.g. psi=0.2.")
@click.option("--label", help="Label column (performance when the target has predictions).")
@click.option("--html", "html", type=click.Path(dir_okay=False), help="Write the HTML report.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def drift_command(
    ctx: CliContext,
    reference: str,
    target: str,
    features: tuple[str, ...],
    signals: tuple[str, ...],
    thresholds: tuple[str, ...],
    label: str | None,
    html: str | None,
    as_json: bool,
) -> None:
    """Compare TARGET with REFERENCE (each a data asset version like name:3, or a Parquet/CSV
    file or folder). Exit code 1 when a threshold is breached."""
    report = ctx.ws.monitors.drift(
        reference,
        target,
        features=list(features) or None,
        signals=list(signals) or None,
        thresholds=_thresholds(thresholds),
        label=label,
    )
    if html:
        from mlbench.monitoring.report import render_html

        Path(html).write_text(render_html(report), encoding="utf-8")
    if as_json:
        print_json(report)
    else:
        console.print(report_table(report))
        console.print(
            f"{escape(report.reference)} ({report.reference_rows} rows) -> "
            f"{escape(report.target)} ({report.target_rows} rows): {_color(report.verdict)}"
            + (f"; breached: {escape(', '.join(report.breaches))}" if report.breaches else "")
        )
    if report.breaches:
        sys.exit(1)


@click.group("monitor")
def monitor_group() -> None:
    """Monitors: compare a target (data asset, endpoint requests) with a reference, on a
    schedule, and notify on breaches (event monitor.breached)."""


@monitor_group.command("create")
@click.argument("name")
@click.option("--reference", "-r", help="Reference data version (name:VERSION).")
@click.option("--reference-model", help="Or a model version (name:VERSION): its training data.")
@click.option("--target", "-t", help="Target data: name:VERSION, or name (its newest version).")
@click.option("--endpoint", help="Or an endpoint: its request log.")
@click.option("--window-hours", type=float, help="Endpoint target: the last hours (default 24).")
@click.option("--feature", "features", multiple=True, help="Features to watch (default all).")
@click.option("--top", type=int, help="Watch the N features most linked to --label.")
@click.option("--label", help="Label column.")
@click.option("--prediction", help="Prediction column (default mlbench_prediction).")
@click.option("--signal", "signals", multiple=True, help="Signals (default all).")
@click.option("--threshold", "thresholds", multiple=True, help="KEY=VALUE, e.g. psi=0.2.")
@click.option(
    "--compute", help="local (default), or a Ray target: the pass is split across its tasks."
)
@trigger_options
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def create_command(
    ctx: CliContext,
    name: str,
    reference: str | None,
    reference_model: str | None,
    target: str | None,
    endpoint: str | None,
    window_hours: float | None,
    features: tuple[str, ...],
    top: int | None,
    label: str | None,
    prediction: str | None,
    signals: tuple[str, ...],
    thresholds: tuple[str, ...],
    compute: str | None,
    cron: str | None,
    every: str | None,
    hours: tuple[int, ...],
    minutes: tuple[int, ...],
    days: tuple[str, ...],
    timezone: str | None,
    start: str | None,
    end: str | None,
    as_json: bool,
) -> None:
    """Create monitor NAME; with --cron or --every it runs on that schedule."""
    body: dict[str, Any] = {"name": name}
    body["reference"] = {"data": reference, "model": reference_model}
    body["reference"] = {k: v for k, v in body["reference"].items() if v}
    tgt: dict[str, Any] = {"data": target, "endpoint": endpoint, "window_hours": window_hours}
    body["target"] = {k: v for k, v in tgt.items() if v is not None}
    if features and top:
        raise InvalidInputError("give --feature or --top, not both")
    if features:
        body["features"] = list(features)
    elif top:
        body["features"] = {"top": top}
    for key, value in (("label", label), ("prediction", prediction), ("compute", compute)):
        if value:
            body[key] = value
    if signals:
        body["signals"] = list(signals)
    if thresholds:
        body["thresholds"] = _thresholds(thresholds)
    trigger = _trigger(cron, every, hours, minutes, days, timezone, start, end)
    if trigger:
        body["schedule"] = trigger
    info = ctx.ws.monitors.create(body)
    if as_json:
        print_json(info)
        return
    extra = f", schedule {info.schedule_id}" if info.schedule_id else ""
    console.print(f"created monitor {escape(info.name)} ({info.id}{extra})")


@monitor_group.command("run")
@click.argument("monitor")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def run_command(ctx: CliContext, monitor: str, as_json: bool) -> None:
    """Run MONITOR now. Exit code 1 when a threshold is breached."""
    run = ctx.ws.monitors.run(monitor)
    if as_json:
        print_json(run)
    else:
        console.print(report_table(ctx.ws.monitors.report(run.id)))
        console.print(
            f"run {run.id}: {_color(run.verdict)} (MLflow run {run.mlflow_run_id})"
            + (f"; breached: {escape(', '.join(run.breaches))}" if run.breaches else "")
        )
    if run.breaches:
        sys.exit(1)


@monitor_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def list_command(ctx: CliContext, as_json: bool) -> None:
    """Monitors with their last verdict."""
    infos = ctx.ws.monitors.list()
    if as_json:
        print_json(infos)
        return
    table = Table(box=None, header_style="bold")
    for col in ("ID", "NAME", "REFERENCE", "TARGET", "SCHEDULE", "LAST RUN", "VERDICT"):
        table.add_column(col, no_wrap=True)
    for i in infos:
        ref = i.spec.reference.data or f"model {i.spec.reference.model}"
        tgt = i.spec.target.data or f"endpoint {i.spec.target.endpoint}"
        last = i.last_run
        table.add_row(
            i.id, escape(i.name), escape(ref), escape(tgt), i.schedule_id or "-",
            when(last.created_at) if last else "-", _color(last.verdict if last else None),
        )  # fmt: skip
    console.print(table)


@monitor_group.command("show")
@click.argument("monitor")
@click.option("--runs", "limit", type=int, default=10, help="How many recent runs to list.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def show_command(ctx: CliContext, monitor: str, limit: int, as_json: bool) -> None:
    """MONITOR's spec and its recent runs."""
    info = ctx.ws.monitors.info(monitor)
    runs = ctx.ws.monitors.runs(monitor, limit=limit)
    if as_json:
        print_json(
            {
                "monitor": info.model_dump(mode="json"),
                "runs": [r.model_dump(mode="json") for r in runs],
            }
        )
        return
    console.print_json(info.spec.model_dump_json(exclude_defaults=True))
    table = Table(box=None, header_style="bold")
    for col in ("RUN", "WHEN", "STATUS", "VERDICT", "ROWS", "BREACHES"):
        table.add_column(col, no_wrap=col != "BREACHES")
    for r in runs:
        table.add_row(
            r.id, when(r.created_at), r.status, _color(r.verdict), str(r.target_rows or "-"),
            escape(", ".join(r.breaches[:8]) or (r.error or "")),
        )  # fmt: skip
    console.print(table)


@monitor_group.command("delete")
@click.argument("monitor")
@pass_ctx
def delete_command(ctx: CliContext, monitor: str) -> None:
    """Delete MONITOR, its schedule and its run records (MLflow runs stay)."""
    ctx.ws.monitors.delete(monitor)
    console.print(f"deleted monitor {escape(monitor)}")
