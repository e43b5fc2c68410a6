"""``%mlbench automl ...`` and ``%mlbench rai ...``: the verbs of ``mlbench automl`` and
``mlbench rai`` over ``ws.automl`` and ``ws.rai``.

``automl run ASSET --target COL --task T [--budget S ...]`` and ``rai report MODEL --data ASSET``
return the job (its live widget); ``automl show|leaderboard|list`` and ``rai show`` return tables;
``rai show JOB --html`` displays the static report inline.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from mlbench.magics.parser import MagicParser, MlbenchUsageError, _positive_int
from mlbench.widgets.tables import TableView

if TYPE_CHECKING:
    from mlbench.workspace import Workspace


def add_automl_parser(sub: Any) -> None:
    p = sub.add_parser(
        "automl",
        help="AutoML on a table: run ASSET, show JOB, leaderboard JOB, list",
        description="Many models trained and compared on a table within a time budget (FLAML),\n"
        "with guardrails; the best one registered.",
    )
    s = p.add_subparsers(dest="automl_command", metavar="COMMAND", parser_class=MagicParser)
    sp = s.add_parser("run", help="submit an AutoML job")
    sp.add_argument("asset")
    sp.add_argument("--target", required=True)
    sp.add_argument(
        "--task", required=True, choices=("classification", "regression", "forecasting")
    )
    sp.add_argument("--time-column")
    sp.add_argument("--horizon", type=_positive_int)
    sp.add_argument("--metric")
    sp.add_argument("--budget", dest="budget_s", type=float, default=60.0)
    sp.add_argument("--max-trials", type=_positive_int)
    sp.add_argument("--concurrency", type=_positive_int, default=1)
    sp.add_argument("--estimator", dest="estimators", action="append")
    sp.add_argument("--exit-score", type=float)
    sp.add_argument("--model-name")
    sp.add_argument("--compute", default="local")
    sp = s.add_parser("show", help="an AutoML run: settings, guardrails, best model")
    sp.add_argument("job_id")
    sp = s.add_parser("leaderboard", help="the trials, best first")
    sp.add_argument("job_id")
    sp.add_argument("--top", type=_positive_int, default=20)
    sp = s.add_parser("list", help="AutoML runs, newest first")
    sp.add_argument("--limit", "-n", type=_positive_int, default=20)


def add_rai_parser(sub: Any) -> None:
    p = sub.add_parser(
        "rai",
        help="Responsible AI reports: report MODEL --data ASSET, show JOB",
        description="Metrics with intervals, fairness, error cohorts and importance of a model\n"
        "on a test table, as an executed notebook and a static HTML page.",
    )
    s = p.add_subparsers(dest="rai_command", metavar="COMMAND", parser_class=MagicParser)
    sp = s.add_parser("report", help="run a report as a notebook job")
    sp.add_argument("model")
    sp.add_argument("--data", required=True)
    sp.add_argument("--sensitive", action="append", default=[])
    sp.add_argument("--target")
    sp.add_argument("--task", choices=("classification", "regression"))
    sp.add_argument("--positive-label")
    sp.add_argument("--compute", default="local")
    sp = s.add_parser("show", help="a report's numbers (--html: the page itself)")
    sp.add_argument("job_id")
    sp.add_argument("--html", action="store_true")


def summary_table(info: Any) -> TableView:
    s = info.settings
    rows = [
        ["job", f"{info.job_id} ({info.status})"],
        ["data", info.data or ""],
        ["task", f"{s.task} of {s.target!r}, metric {s.metric}"],
        ["validation", info.validation or ""],
        ["trials", info.trials],
        [
            "best",
            f"{info.best_estimator} {info.best_score:.4g}" if info.best_score is not None else "",
        ],
        ["model", info.model or ""],
        *([f"guardrail {g.name}", f"{g.status}: {g.message}"] for g in info.guardrails),
    ]
    return TableView(["field", "value"], rows, title=f"AutoML {info.job_id}", max_width=80)


def leaderboard_table(trials: Any, metric: str) -> TableView:
    rows = [
        [t.number, t.estimator, None if t.score is None else round(t.score, 5),
         round(t.trial_time_s, 2), round(t.wall_clock_s, 1), t.sample_size]
        for t in trials
    ]  # fmt: skip
    return TableView(
        ["#", "estimator", metric, "seconds", "at s", "rows"], rows, title="leaderboard",
        empty="no trials yet",
    )  # fmt: skip


def automl_command(ws: Workspace, args: argparse.Namespace) -> Any:
    command = args.automl_command
    if command == "run":
        settings = {
            k: getattr(args, k)
            for k in (
                "metric",
                "budget_s",
                "max_trials",
                "concurrency",
                "estimators",
                "exit_score",
                "time_column",
                "horizon",
            )
            if getattr(args, k) is not None
        }
        return ws.automl.run(
            args.asset, target=args.target, task=args.task, model_name=args.model_name,
            compute=args.compute, **settings,
        )  # fmt: skip
    if command == "show":
        return summary_table(ws.automl.show(args.job_id))
    if command == "leaderboard":
        metric = ws.automl.show(args.job_id).settings.metric or "score"
        return leaderboard_table(ws.automl.leaderboard(args.job_id)[: args.top], metric)
    if command == "list":
        rows = [
            [i.job_id, i.status, i.data, i.settings.target, i.best_estimator, i.best_score, i.model]
            for i in ws.automl.list(args.limit)
        ]
        return TableView(
            ["job", "status", "data", "target", "best", "score", "model"], rows,
            title="AutoML runs", empty="no AutoML runs (`%mlbench automl run ASSET ...`)",
        )  # fmt: skip
    raise MlbenchUsageError("%mlbench automl: give a command (run, show, leaderboard, list)")


def rai_command(ws: Workspace, args: argparse.Namespace) -> Any:
    command = args.rai_command
    if command == "report":
        return ws.rai.report(
            args.model, data=args.data, sensitive=args.sensitive, target=args.target,
            task=args.task, positive_label=args.positive_label, compute=args.compute,
        )  # fmt: skip
    if command == "show":
        if args.html:
            from IPython.display import HTML

            return HTML(ws.rai.html(args.job_id))
        info = ws.rai.show(args.job_id)
        summary = info.summary or {}
        rows = [[m["metric"], m["value"], m["low"], m["high"]] for m in summary.get("metrics", [])]
        for f in summary.get("fairness", []):
            for k, v in f.items():
                if k.endswith("_difference"):
                    rows.append([f"{f['feature']}: {k}", v, None, None])
        return TableView(
            ["metric", "value", "low", "high"], rows,
            title=f"{info.model} on {info.data} ({info.status})",
            empty="no numbers yet (the job has not completed)",
        )  # fmt: skip
    raise MlbenchUsageError("%mlbench rai: give a command (report, show)")
