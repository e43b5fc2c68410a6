"""``mlbench rai ...``: Responsible AI reports of models on test tables."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.table import Table

from mlbench.cli.context import CliContext
from mlbench.cli.render import console, print_json

pass_ctx = click.make_pass_decorator(CliContext)


@click.group("rai")
def rai_group() -> None:
    """Responsible AI reports: metrics with intervals, fairness, error cohorts, importance."""


@rai_group.command("report")
@click.argument("model")
@click.option("--data", required=True, help="The test table (NAME or NAME:VERSION).")
@click.option("--sensitive", multiple=True, help="A sensitive column (repeatable).")
@click.option("--target", help="The column the model predicts (default: the AutoML target).")
@click.option("--task", type=click.Choice(["classification", "regression"]))
@click.option("--positive-label", help="The favourable label (binary classification).")
@click.option("--compute", default="local", show_default=True)
@click.option("--env", "environment", help="Environment (NAME or NAME:VERSION) to run in.")
@click.option("--no-wait", is_flag=True, help="Print the job id and return.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="Save the HTML here.")
@pass_ctx
def report_command(
    ctx: CliContext,
    model: str,
    data: str,
    sensitive: tuple[str, ...],
    target: str | None,
    task: str | None,
    positive_label: str | None,
    compute: str,
    environment: str | None,
    no_wait: bool,
    html_path: str | None,
) -> None:
    """Report on MODEL (NAME[:VERSION|@ALIAS] or runs:/RUN_ID/PATH) as a notebook job."""
    from mlbench.cli.jobs import follow_job

    job = ctx.ws.rai.report(
        model,
        data=data,
        sensitive=list(sensitive),
        target=target,
        task=task,
        positive_label=positive_label,
        compute=compute,
        environment=environment,
    )
    if no_wait:
        click.echo(job.id)
        return
    code = follow_job(ctx, job.id, stream=False)
    if code == 0:
        show(ctx, job.id)
        if html_path:
            Path(html_path).write_text(ctx.ws.rai.html(job.id))
            console.print(f"HTML report: {html_path}")
    sys.exit(code)


def show(ctx: CliContext, job_id: str) -> None:
    info = ctx.ws.rai.show(job_id)
    console.print(
        f"[bold]{info.model}[/] on {info.data}: {info.task} of {info.target!r} ({info.status})"
    )
    summary = info.summary
    if not summary:
        return
    metrics = Table(box=None, header_style="bold")
    for col in ("METRIC", "VALUE", "95% CI"):
        metrics.add_column(col)
    for m in summary["metrics"]:
        metrics.add_row(m["metric"], f"{m['value']:.4g}", f"{m['low']:.4g} .. {m['high']:.4g}")
    console.print(metrics)
    for f in summary["fairness"]:
        diffs = ", ".join(
            f"{k.replace('_', ' ')} {v:.4g}"
            for k, v in f.items()
            if k.endswith("_difference") and v is not None
        )
        console.print(f"fairness by [bold]{f['feature']}[/]: {diffs}")
    cohorts = Table(box=None, header_style="bold", title="error cohorts", title_justify="left")
    for col in ("COHORT", "ROWS", "ERROR RATE"):
        cohorts.add_column(col)
    for c in summary["cohorts"][:5]:
        cohorts.add_row(c["rule"], str(c["size"]), f"{c['error_rate']:.3f}")
    console.print(cohorts)
    console.print(f"artifacts: {info.html_artifact}, {info.notebook_artifact} (run {info.run_id})")


@rai_group.command("show")
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True)
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="Save the HTML here.")
@pass_ctx
def show_command(ctx: CliContext, job_id: str, as_json: bool, html_path: str | None) -> None:
    """A report job: its numbers (and the HTML report saved with --html)."""
    if as_json:
        print_json(ctx.ws.rai.show(job_id))
    else:
        show(ctx, job_id)
    if html_path:
        Path(html_path).write_text(ctx.ws.rai.html(job_id))
