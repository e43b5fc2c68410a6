"""``%mlbench drift REF TARGET`` (an inline report) and ``%mlbench monitor list|show|run``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from mlbench.magics.parser import MagicParser, MlbenchUsageError, _positive_int
from mlbench.widgets.tables import TableView

if TYPE_CHECKING:
    from mlbench.workspace import Workspace


def add_monitor_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "drift",
        help="compare TARGET with REFERENCE now (data versions or table files): a report",
        description="Drift, data quality (and performance with --label) of TARGET against\n"
        "REFERENCE, each a data asset version (name:3) or a Parquet/CSV file or folder.",
    )
    p.add_argument("reference")
    p.add_argument("target")
    p.add_argument("--feature", dest="features", action="append", default=[])
    p.add_argument("--signal", dest="signals", action="append", default=[])
    p.add_argument("--label")
    p = sub.add_parser("monitor", help="monitors: list, show NAME, run NAME")
    s = p.add_subparsers(dest="monitor_command", metavar="COMMAND", parser_class=MagicParser)
    s.add_parser("list", help="monitors and their last verdict")
    sp = s.add_parser("show", help="a monitor's last runs")
    sp.add_argument("monitor")
    sp.add_argument("--runs", type=_positive_int, default=10)
    sp = s.add_parser("run", help="run a monitor now: its report")
    sp.add_argument("monitor")


def drift_command(ws: Workspace, args: argparse.Namespace) -> Any:
    from mlbench.widgets.monitoring import DriftReportView

    report = ws.monitors.drift(
        args.reference,
        args.target,
        features=args.features or None,
        signals=args.signals or None,
        label=args.label,
    )
    return DriftReportView(report)


def monitor_command(ws: Workspace, args: argparse.Namespace) -> Any:
    from mlbench.widgets.monitoring import DriftReportView

    verb = args.monitor_command
    if verb == "list":
        rows = [
            [i.name, i.spec.reference.data or i.spec.reference.model,
             i.spec.target.data or f"endpoint {i.spec.target.endpoint}",
             i.schedule_id or "-", i.last_run.verdict if i.last_run else "-"]
            for i in ws.monitors.list()
        ]  # fmt: skip
        return TableView(
            ["name", "reference", "target", "schedule", "last verdict"], rows,
            title="monitors", empty="no monitor yet: mlbench monitor create",
        )  # fmt: skip
    if verb == "show":
        rows = [
            [r.id, r.created_at.isoformat(timespec="seconds"), r.status, r.verdict or "-",
             r.target_rows, ", ".join(r.breaches[:6]) or (r.error or "")]
            for r in ws.monitors.runs(args.monitor, limit=args.runs)
        ]  # fmt: skip
        return TableView(
            ["run", "when", "status", "verdict", "rows", "breaches"], rows,
            title=f"monitor {args.monitor}", empty="no run yet",
        )  # fmt: skip
    if verb == "run":
        run = ws.monitors.run(args.monitor)
        return DriftReportView(ws.monitors.report(run.id), title=f"monitor {args.monitor}")
    raise MlbenchUsageError("%mlbench monitor: give a command (list, show, run)")
