"""``mlbench pipeline ...``: run, follow, explain, cancel and rerun pipelines."""

from __future__ import annotations

import time
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from mlbench.cli.context import CliContext
from mlbench.cli.render import STATUS_STYLE, console, print_json
from mlbench.formatting import when

pass_ctx = click.make_pass_decorator(CliContext)
STEP_STYLE = {"reused": "green dim", "pending": "dim", "skipped": "dim", "excluded": "dim"}


def status_text(status: str) -> str:
    style = STATUS_STYLE.get(status) or STEP_STYLE.get(status)
    return f"[{style}]{status}[/]" if style else status


def runs_table(infos: list[Any]) -> Table:
    table = Table(box=None, header_style="bold")
    for col in ("ID", "NAME", "STATUS", "STEPS", "RAN", "REUSED", "FAILED", "COMPUTE", "CREATED"):
        table.add_column(col, no_wrap=True)
    for i in infos:
        c = i.counts
        total = sum(c.model_dump().values()) - c.excluded
        done = c.completed + c.reused + c.failed + c.canceled + c.skipped
        table.add_row(
            i.id,
            i.display_name,
            status_text(i.status.value),
            f"{done}/{total}",
            str(c.completed),
            str(c.reused),
            str(c.failed),
            i.compute,
            when(i.created_at),
        )
    return table


def steps_table(steps: list[Any]) -> Table:
    table = Table(box=None, header_style="bold")
    for col in ("STEP", "KIND", "STATUS", "JOB", "AFTER", "TIME", "NOTE"):
        table.add_column(col, no_wrap=col != "NOTE")
    for s in steps:
        note = s.status_reason
        if s.status.value == "reused":
            note = f"from run {s.reused_from_run}"
        table.add_row(
            s.name,
            s.kind,
            status_text(s.status.value),
            s.job_id or "-",
            ", ".join(s.depends_on) or "-",
            "-" if s.duration_s is None else f"{s.duration_s:.1f} s",
            escape(note or ""),
        )
    return table


def run_details(ctx: CliContext, info: Any) -> None:
    reason = f": {info.status_reason}" if info.status_reason else ""
    console.print(
        f"[bold]{info.display_name}[/] {info.id} {status_text(info.status.value)}{escape(reason)}"
    )
    if info.source_run_id:
        console.print(f"rerun of {info.source_run_id}")
    console.print(steps_table(ctx.ws.pipelines.steps(info.id)))
    for name, ref in info.outputs.items():
        console.print(f"output {name} = data:{ref}")


def follow_run(ctx: CliContext, run_id: str) -> int:
    """Print each step as it ends; the exit status is the run's."""
    seen: dict[str, str] = {}
    pipelines = ctx.ws.pipelines
    last_check = time.monotonic()
    while True:
        info = pipelines.info(run_id)
        for s in pipelines.steps(run_id):
            if s.status.is_final and seen.get(s.name) != s.status.value:
                seen[s.name] = s.status.value
                if s.status.value != "excluded":
                    note = f" ({s.status_reason})" if s.status_reason else ""
                    console.print(f"{s.name}: {status_text(s.status.value)}{escape(note)}")
        if info.status.is_final:
            return 0 if info.status.value == "completed" else 1
        if time.monotonic() - last_check > 2:
            last_check = time.monotonic()
            ctx.ws.agents(info.compute).ensure_running()
        time.sleep(0.3)


@click.group("pipeline")
def pipeline_group() -> None:
    """Pipelines: DAGs of notebook and command steps, with step reuse."""


def _selection(f: Any) -> Any:
    f = click.option("--only", multiple=True, help="Run only these steps (repeatable).")(f)
    f = click.option("--from", "from_step", help="Run this step and everything downstream.")(f)
    f = click.option("--to", "to_step", help="Run this step and everything upstream.")(f)
    return f


def _finish(ctx: CliContext, run: Any, wait: bool, as_json: bool) -> None:
    if wait:
        code = follow_run(ctx, run.id) if not as_json else _quiet_wait(ctx, run.id)
        if as_json:
            print_json(ctx.ws.pipelines.info(run.id))
        else:
            click.echo(f"{run.id} {ctx.ws.pipelines.info(run.id).status.value}")
        raise SystemExit(code)
    if as_json:
        print_json(run.info)
    else:
        click.echo(run.id)


def _quiet_wait(ctx: CliContext, run_id: str) -> int:
    info = ctx.ws.pipelines.wait(run_id)
    return 0 if info.status.value == "completed" else 1


@pipeline_group.command("run")
@click.argument("path", type=click.Path(dir_okay=False))
@_selection
@click.option("--force-rerun", is_flag=True, help="Run every step (no reuse).")
@click.option("--wait", "-w", "wait", is_flag=True, help="Follow it until it ends.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def run_command(
    ctx: CliContext,
    path: str,
    only: tuple[str, ...],
    from_step: str | None,
    to_step: str | None,
    force_rerun: bool,
    wait: bool,
    as_json: bool,
) -> None:
    """Run a pipeline file (YAML with Azure ML's pipeline job keys)."""
    run = ctx.ws.pipelines.run(
        path, only=only, from_step=from_step, to_step=to_step, force_rerun=force_rerun
    )
    _finish(ctx, run, wait, as_json)


@pipeline_group.command("rerun")
@click.argument("run_id")
@_selection
@click.option("--wait", "-w", "wait", is_flag=True, help="Follow it until it ends.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def rerun_command(
    ctx: CliContext,
    run_id: str,
    only: tuple[str, ...],
    from_step: str | None,
    to_step: str | None,
    wait: bool,
    as_json: bool,
) -> None:
    """Run a run's snapshots again: the selected steps (upstream ones taken as they were), or,
    without a selection, the steps that did not succeed."""
    run = ctx.ws.pipelines.rerun(run_id, only=only, from_step=from_step, to_step=to_step)
    _finish(ctx, run, wait, as_json)


@pipeline_group.command("list")
@click.option("--status", help="Only this status.")
@click.option("--name", help="Only runs of this pipeline.")
@click.option("--limit", "-n", type=int, default=20, show_default=True)
@click.option("--cursor", help="next_cursor of a previous page.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def list_command(
    ctx: CliContext,
    status: str | None,
    name: str | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
) -> None:
    """List pipeline runs, newest first."""
    page = ctx.ws.pipelines.list(status=status, name=name, limit=limit, cursor=cursor)
    if as_json:
        print_json(page)
        return
    console.print(runs_table(page.items))
    if page.next_cursor:
        console.print(f"[dim]more: --cursor {page.next_cursor}[/]")


@pipeline_group.command("show")
@click.argument("run_id")
@click.option("--wait", "-w", "wait", is_flag=True, help="Follow it until it ends.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def show_command(ctx: CliContext, run_id: str, wait: bool, as_json: bool) -> None:
    """Show a run: each step's state, job, duration and reuse."""
    info = ctx.ws.pipelines.info(run_id)
    if wait:
        code = follow_run(ctx, info.id)
        run_details(ctx, ctx.ws.pipelines.info(info.id))
        raise SystemExit(code)
    if as_json:
        body = info.model_dump(mode="json")
        body["steps"] = [s.model_dump(mode="json") for s in ctx.ws.pipelines.steps(info.id)]
        print_json(body)
    else:
        run_details(ctx, info)


@pipeline_group.command("why")
@click.argument("run_id")
@click.argument("step")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def why_command(ctx: CliContext, run_id: str, step: str, as_json: bool) -> None:
    """Why a step was (not) reused: the key components that changed, with diffs."""
    why = ctx.ws.pipelines.why(run_id, step)
    if as_json:
        print_json(why)
        return
    word = "reused" if why.reused else "not reused"
    console.print(f"{step}: {word}: {escape(why.reason)}")
    for line in why.details:
        style = "green" if line.startswith("+") else "red" if line.startswith("-") else ""
        console.print(f"[{style}]{escape(line)}[/]" if style else escape(line), soft_wrap=True)


@pipeline_group.command("cancel")
@click.argument("run_ids", nargs=-1, required=True)
@pass_ctx
def cancel_command(ctx: CliContext, run_ids: tuple[str, ...]) -> None:
    """Cancel pipeline runs: running steps are interrupted, the rest skipped."""
    for run_id in run_ids:
        info = ctx.ws.pipelines.cancel(run_id)
        state = "canceling" if info.cancel_requested and not info.status.is_final else ""
        click.echo(f"{info.id}: {state or info.status.value}")


@pipeline_group.command("delete")
@click.argument("run_ids", nargs=-1, required=True)
@click.option("--keep-runs", is_flag=True, help="Keep the MLflow runs.")
@pass_ctx
def delete_command(ctx: CliContext, run_ids: tuple[str, ...], keep_runs: bool) -> None:
    """Delete finished pipeline runs and their steps' jobs (data versions stay)."""
    for run_id in run_ids:
        ctx.ws.pipelines.delete(run_id, delete_runs=not keep_runs)
        click.echo(f"deleted {run_id}")
