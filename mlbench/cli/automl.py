"""``mlbench automl ...``: AutoML runs on table data assets."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.table import Table

from mlbench.cli.context import CliContext
from mlbench.cli.render import console, print_json

pass_ctx = click.make_pass_decorator(CliContext)

RAIL_STYLE = {"Passed": "green", "Done": "cyan", "Alerted": "yellow"}


@click.group("automl")
def automl_group() -> None:
    """AutoML (FLAML) on a table: many models within a time budget, guardrails, the best one
    registered."""


@automl_group.command("run")
@click.argument("asset")
@click.option("--target", required=True, help="The column to predict.")
@click.option(
    "--task",
    required=True,
    type=click.Choice(["classification", "regression", "forecasting"]),
    help="What to do.",
)
@click.option("--time-column", help="forecasting: the column of timestamps.")
@click.option("--horizon", type=int, help="forecasting: time steps ahead to predict.")
@click.option("--metric", help="Primary metric (default: accuracy, r2 or mape).")
@click.option("--budget", "budget_s", type=float, default=60, show_default=True, help="Seconds.")
@click.option("--max-trials", type=int, help="Stop after this many trials.")
@click.option(
    "--concurrency",
    type=int,
    default=1,
    show_default=True,
    help="Trials at once (more than 1: Ray Tune trials, on a Ray compute target).",
)
@click.option("--estimator", "estimators", multiple=True, help="lgbm, rf, xgboost... (repeat).")
@click.option("--cv-below-rows", type=int, help="Cross-validate below this many rows (20000).")
@click.option("--exit-score", type=float, help="Stop once the best trial reaches this score.")
@click.option("--seed", type=int, help="Random seed (0).")
@click.option("--model-name", help="Register the best model as (default: ASSET-automl).")
@click.option("--compute", default="local", show_default=True)
@click.option("--env", "environment", help="Environment (NAME or NAME:VERSION) to run in.")
@click.option("--no-wait", is_flag=True, help="Print the job id and return.")
@pass_ctx
def run_command(
    ctx: CliContext,
    asset: str,
    target: str,
    task: str,
    model_name: str | None,
    compute: str,
    environment: str | None,
    no_wait: bool,
    **options: Any,
) -> None:
    """Search models for column TARGET of table ASSET (NAME or NAME:VERSION) as a job."""
    from mlbench.cli.jobs import follow_job

    settings = {k: v for k, v in options.items() if v is not None and v != ()}
    if "estimators" in settings:
        settings["estimators"] = list(settings["estimators"])
    job = ctx.ws.automl.run(
        asset,
        target=target,
        task=task,
        model_name=model_name,
        compute=compute,
        environment=environment,
        **settings,
    )
    if no_wait:
        click.echo(job.id)
        return
    code = follow_job(ctx, job.id, stream=False)
    show(ctx.ws.automl.show(job.id))
    sys.exit(code)


def show(info: Any) -> None:
    s = info.settings
    rows = [
        ("job", f"{info.job_id} ({info.status})"),
        ("data", info.data or "-"),
        ("task", f"{s.task} of {s.target!r}, metric {s.metric}"),
        (
            "budget",
            f"{s.budget_s:g} s" + (f", at most {s.max_trials} trials" if s.max_trials else ""),
        ),
        ("validation", info.validation or "-"),
        ("trials", str(info.trials)),
        ("search time", f"{info.search_time_s:.1f} s" if info.search_time_s is not None else "-"),
        (
            "best",
            f"{info.best_estimator} {s.metric}={info.best_score:.4g}"
            if info.best_estimator and info.best_score is not None
            else "-",
        ),
        ("model", info.model or "-"),
    ]
    if info.error:
        rows.append(("error", info.error))
    table = Table(box=None, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)
    if info.guardrails:
        rails = Table(box=None, header_style="bold", title="guardrails", title_justify="left")
        for col in ("CHECK", "STATUS", "DETAILS"):
            rails.add_column(col)
        for g in info.guardrails:
            rails.add_row(g.name, f"[{RAIL_STYLE[g.status]}]{g.status}[/]", g.message)
        console.print(rails)


@automl_group.command("show")
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def show_command(ctx: CliContext, job_id: str, as_json: bool) -> None:
    """An AutoML run: settings, guardrails, the best model."""
    info = ctx.ws.automl.show(job_id)
    if as_json:
        print_json(info)
    else:
        show(info)


@automl_group.command("leaderboard")
@click.argument("job_id")
@click.option("--top", type=int, default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def leaderboard_command(ctx: CliContext, job_id: str, top: int, as_json: bool) -> None:
    """The trials of an AutoML run, best first."""
    trials = ctx.ws.automl.leaderboard(job_id)[:top]
    if as_json:
        print_json({"items": [t.model_dump(mode="json") for t in trials]})
        return
    metric = ctx.ws.automl.show(job_id).settings.metric
    table = Table(box=None, header_style="bold")
    for col in ("#", "ESTIMATOR", (metric or "SCORE").upper(), "TIME S", "AT S", "ROWS"):
        table.add_column(col, no_wrap=True)
    for t in trials:
        table.add_row(
            str(t.number),
            t.estimator,
            f"{t.score:.4g}" if t.score is not None else "-",
            f"{t.trial_time_s:.2f}",
            f"{t.wall_clock_s:.1f}",
            str(t.sample_size),
        )
    console.print(table)


@automl_group.command("list")
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def list_command(ctx: CliContext, limit: int, as_json: bool) -> None:
    """AutoML runs, newest first."""
    items = ctx.ws.automl.list(limit)
    if as_json:
        print_json({"items": [i.model_dump(mode="json") for i in items]})
        return
    table = Table(box=None, header_style="bold")
    for col in ("JOB", "STATUS", "DATA", "TARGET", "BEST", "MODEL"):
        table.add_column(col, no_wrap=True)
    for i in items:
        best = f"{i.best_estimator} {i.best_score:.4g}" if i.best_score is not None else "-"
        table.add_row(i.job_id, i.status, i.data or "-", i.settings.target, best, i.model or "-")
    console.print(table)
