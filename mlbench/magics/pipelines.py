"""``%mlbench pipeline ...``: the verbs of ``mlbench pipeline`` over ``ws.pipelines``.

``run FILE`` (YAML or Elyra ``.pipeline``; ``--only/--from/--to``, ``--force-rerun``,
``--wait``), ``list``, ``show RUN``, ``why RUN STEP``, ``cancel RUN``, ``rerun RUN``. ``run``,
``rerun`` and ``show`` return the live graph widget (``PipelineWidget``), ``list`` a table.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from mlbench.magics.parser import MagicParser, MlbenchUsageError, _positive_int
from mlbench.widgets.tables import TableView

if TYPE_CHECKING:
    from mlbench.workspace import Workspace


def add_pipeline_parser(sub: Any) -> None:
    p = sub.add_parser(
        "pipeline",
        help="pipelines: run FILE, list, show RUN, why RUN STEP, cancel RUN, rerun RUN",
        description="DAGs of notebook and command steps passing data, with step reuse\n"
        "(Azure ML's pipeline job YAML keys, or an Elyra .pipeline file).",
    )
    s = p.add_subparsers(dest="pipeline_command", metavar="COMMAND", parser_class=MagicParser)

    def selection(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--only", action="append", default=[], help="run only this step")
        sp.add_argument("--from", dest="from_step", help="this step and what is downstream")
        sp.add_argument("--to", dest="to_step", help="this step and what is upstream")
        sp.add_argument("--wait", action="store_true", help="block the cell until it ends")

    sp = s.add_parser("run", help="run a pipeline file")
    sp.add_argument("file")
    selection(sp)
    sp.add_argument("--force-rerun", action="store_true", help="run every step (no reuse)")
    sp = s.add_parser("rerun", help="run a run's snapshots again")
    sp.add_argument("run_id")
    selection(sp)
    sp = s.add_parser("list", help="pipeline runs, newest first")
    sp.add_argument("--status")
    sp.add_argument("--limit", "-n", type=_positive_int, default=20)
    sp = s.add_parser("show", help="a run's steps")
    sp.add_argument("run_id")
    sp = s.add_parser("why", help="why a step was (not) reused")
    sp.add_argument("run_id")
    sp.add_argument("step")
    sp = s.add_parser("cancel", help="cancel a run")
    sp.add_argument("run_id")


def runs_table(infos: Any) -> TableView:
    rows = []
    for i in infos:
        c = i.counts
        rows.append(
            [i.id, i.display_name, str(i.status), c.completed, c.reused, c.failed, i.compute]
        )
    return TableView(
        ["id", "name", "status", "ran", "reused", "failed", "compute"],
        rows,
        title="pipeline runs",
        empty="no pipeline runs (run one with `%mlbench pipeline run pipeline.yml`)",
    )


def pipeline_command(ws: Workspace, args: argparse.Namespace) -> Any:
    from mlbench.widgets.pipeline import PipelineWidget

    pipelines = ws.pipelines
    command = args.pipeline_command
    if command in ("run", "rerun"):
        selection = {"only": args.only, "from_step": args.from_step, "to_step": args.to_step}
        if command == "run":
            run = pipelines.run(args.file, force_rerun=args.force_rerun, **selection)
        else:
            run = pipelines.rerun(args.run_id, **selection)
        widget = PipelineWidget(run.id, ws, live=not args.wait)
        if args.wait:
            widget.show()
            widget.wait()
        return widget
    if command == "list":
        return runs_table(pipelines.list(status=args.status, limit=args.limit).items)
    if command == "show":
        return PipelineWidget(pipelines.info(args.run_id).id, ws)
    if command == "why":
        why = pipelines.why(args.run_id, args.step)
        print(f"{args.step}: {'reused' if why.reused else 'not reused'}: {why.reason}")
        for line in why.details:
            print(line)
        return None
    if command == "cancel":
        info = pipelines.cancel(args.run_id)
        print(f"pipeline run {info.id}: {info.status}"
              + (" (cancel requested)" if info.cancel_requested else ""))  # fmt: skip
        return None
    raise MlbenchUsageError(
        "%mlbench pipeline: give a command (run, rerun, list, show, why, cancel)"
    )
