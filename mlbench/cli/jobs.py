"""``mlbench run`` and ``mlbench job ...``."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from mlbench.cli.context import CliContext
from mlbench.cli.render import (
    console,
    err_console,
    job_details,
    jobs_table,
    print_json,
    status_text,
)
from mlbench.formatting import duration, strip_ansi
from mlbench.jobs.service import make_spec

pass_ctx = click.make_pass_decorator(CliContext)


class _KeyValue(click.ParamType):
    name = "KEY=VALUE"

    def convert(self, value: Any, param: Any, ctx: Any) -> tuple[str, str]:
        key, sep, val = str(value).partition("=")
        if not sep or not key:
            self.fail(f"{value!r} is not KEY=VALUE", param, ctx)
        return key, val


def parameter_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """papermill's parameter options."""
    for decorator in reversed(
        [
            click.option(
                "-p",
                "--parameters",
                "params",
                nargs=2,
                multiple=True,
                metavar="NAME VALUE",
                help="A parameter; the value is converted to the parameter's type.",
            ),
            click.option(
                "-r",
                "--parameters_raw",
                "raw_params",
                nargs=2,
                multiple=True,
                metavar="NAME VALUE",
                help="A parameter passed as a string, unconverted.",
            ),
            click.option(
                "-y",
                "--parameters_yaml",
                "yaml_texts",
                multiple=True,
                help="Parameters as a YAML mapping.",
            ),
            click.option(
                "-f",
                "--parameters_file",
                "yaml_files",
                multiple=True,
                type=click.Path(exists=True, dir_okay=False),
                help="Parameters from a YAML file.",
            ),
        ]
    ):
        f = decorator(f)
    return f


def spec_options(*, rerun: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The job spec's options (see :class:`mlbench.jobs.spec.JobSpec`), declared once.

    For ``rerun`` nothing has a default (an option not given keeps the original's value) and
    the notebook's inputs, outputs and working folder are the original's.
    """
    options = [
        click.option(
            "--compute",
            "-c",
            default=None if rerun else "local",
            show_default=not rerun,
            help="Compute target.",
        ),
        click.option("--kernel", "kernel_name", help="Kernel (default: the notebook's)."),
        click.option(
            "--env",
            "environment",
            metavar="NAME[:VERSION]",
            help="Environment to run in (`mlbench env list`); its kernel is used.",
        ),
        click.option("--cpus", type=float, help="CPUs to reserve (default 1)."),
        click.option("--gpus", type=int, help="GPUs to reserve (default 0)."),
        click.option("--memory", help="Memory to reserve, e.g. 4GB."),
        click.option("--timeout", "timeout_s", type=float, help="Seconds before it is stopped."),
        click.option(
            "--max-retries",
            type=int,
            default=None if rerun else 0,
            show_default=not rerun,
            help="Times a failed job is run again.",
        ),
        click.option("--tag", "tags", multiple=True, type=_KeyValue(), help="KEY=VALUE tag."),
        click.option("--experiment", "-e", help="MLflow experiment (default: notebook name)."),
        click.option("--name", "display_name", help="Display name (default: notebook name)."),
    ]
    if not rerun:
        options += [
            click.option(
                "--cwd",
                type=click.Path(exists=True, file_okay=False),
                help="Working folder (default: the notebook's folder).",
            ),
            click.option(
                "--allow-unknown-params",
                is_flag=True,
                help="Inject parameters the notebook does not declare.",
            ),
            click.option(
                "--input",
                "inputs",
                multiple=True,
                metavar="NAME=data:ASSET[:VERSION]",
                help="A data version the job reads; parameter NAME gets its local path.",
            ),
            click.option(
                "--output",
                "outputs",
                multiple=True,
                metavar="NAME=data:ASSET[,kind=...]",
                help="Register what the notebook writes to the path in parameter NAME as a new "
                "version of ASSET when the job completes (kind=folder|file|table, format=, "
                "datastore=).",
            ),
            click.option(
                "--register-model",
                metavar="NAME[,alias=A][,path=P]",
                help="Register the MLflow model the job logs (or saves into its output folder) "
                "as a new version of NAME when it completes; the job fails if it logged none.",
            ),
        ]

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            f = option(f)
        return f

    return decorate


def spec_fields(opts: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The parameters and the JobSpec fields given on the command line."""
    from mlbench.jobs.parameters import parse_cli_parameters
    from mlbench.jobs.spec import fields_from_options

    parameters = parse_cli_parameters(
        opts.pop("params"), opts.pop("raw_params"), opts.pop("yaml_texts"), opts.pop("yaml_files")
    )
    if not opts.get("allow_unknown_params"):
        opts.pop("allow_unknown_params", None)
    return parameters, fields_from_options(opts)


def command_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """A command job instead of a notebook: --command, --code, --env-var."""
    for decorator in reversed(
        [
            click.option(
                "--command",
                "command",
                help="Run this shell command instead of a notebook (${{inputs.NAME}} takes -p "
                "NAME VALUE; ${{outputs.NAME}} is a folder kept with the run).",
            ),
            click.option(
                "--code",
                type=click.Path(exists=True, file_okay=False),
                help="The folder snapshotted and run in (a command job).",
            ),
            click.option(
                "--env-var",
                "environment_variables",
                multiple=True,
                type=_KeyValue(),
                help="KEY=VALUE set for the command or the kernel (repeatable).",
            ),
        ]
    ):
        f = decorator(f)
    return f


def _submit(ctx: CliContext, source: str | None, opts: dict[str, Any]) -> Any:
    """A notebook, an Azure ML job file (command or sweep: a Sweep is returned) or --command."""
    current = click.get_current_context()
    command, code = opts.pop("command", None), opts.pop("code", None)
    env_vars = dict(opts.pop("environment_variables", ()) or ())
    is_yaml = source is not None and source.lower().endswith((".yml", ".yaml"))
    if is_yaml:  # an option left at its default must not override the file's value
        for name in ("compute", "max_retries"):
            if current.get_parameter_source(name) == click.core.ParameterSource.DEFAULT:
                opts[name] = None
    parameters, fields = spec_fields(opts)
    if env_vars:
        fields["environment_variables"] = env_vars
    if is_yaml:
        assert source is not None
        if command or code:
            raise click.UsageError("give a job file or --command, not both")
        loaded = ctx.ws.jobs.load_yaml(source)
        for note in loaded.notes:
            err_console.print(f"[dim]note: {note}[/]", markup=True, highlight=False)
        if loaded.kind == "pipeline":
            return ctx.ws.pipelines.run(loaded.body["path"])
        if loaded.kind == "sweep":
            body = loaded.body
            body["trial"] = {**body["trial"], **fields}
            if parameters:
                body["trial"]["parameters"] = {**body["trial"]["parameters"], **parameters}
            return ctx.ws.sweeps.submit(body)
        body = {**loaded.body, **fields}
        body["parameters"] = {**body.get("parameters", {}), **parameters}
        return ctx.ws.jobs.submit(make_spec(body))
    if command:
        if source:
            raise click.UsageError("give a notebook or --command, not both")
        return ctx.ws.jobs.submit(
            make_spec({"command": command, "code": code, **fields}, parameters)
        )
    if code:
        raise click.UsageError("--code goes with --command")
    if not source:
        raise click.UsageError("give a notebook, a job file (.yml) or --command")
    return ctx.ws.jobs.submit(source, parameters, **fields)


@click.command("run")
@click.argument("notebook", type=click.Path(dir_okay=False), required=False)
@parameter_options
@spec_options()
@command_options
@click.option("--quiet", "-q", is_flag=True, help="No streamed output, just the summary.")
@pass_ctx
def run_command(ctx: CliContext, notebook: str | None, quiet: bool, **opts: Any) -> None:
    """Submit NOTEBOOK (or an Azure ML job file, or --command), follow it to the end and exit 0
    if it completed, 1 if not."""
    job = _submit(ctx, notebook, opts)
    if hasattr(job, "why"):  # a pipeline run
        from mlbench.cli.pipelines import follow_run

        sys.exit(follow_run(ctx, job.id))
    if not hasattr(job, "logs"):  # a sweep
        from mlbench.cli.sweeps import watch_sweep

        sys.exit(watch_sweep(ctx, job.id))
    info = job.info
    console.print(
        f"Submitted job [bold]{info.id}[/] ({info.display_name}) to {info.compute} — "
        f"experiment '{info.experiment}'"
    )
    sys.exit(follow_job(ctx, info.id, stream=not quiet))


def follow_job(ctx: CliContext, job_id: str, *, stream: bool = True) -> int:
    """Show progress and output until the job ends; return the exit code for its status."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    jobs = ctx.ws.jobs
    offset = 0
    info = None
    progress = Progress(
        TextColumn("{task.fields[status]}"),
        BarColumn(),
        TextColumn("cell {task.completed}/{task.total}"),
        TimeElapsedColumn(),
        TextColumn("[dim]{task.fields[cell]}"),
        console=console,
        transient=True,
    )
    try:
        with progress:
            task = progress.add_task("job", total=None, status=status_text("queued"), cell="")
            for info in jobs.follow(job_id, poll_interval=0.1):
                if stream:
                    text, offset = jobs.logs(job_id, offset)
                    if text:
                        progress.console.print(
                            text, end="", markup=False, highlight=False, soft_wrap=True
                        )
                p = info.progress
                progress.update(
                    task,
                    total=p.cell_count,
                    completed=(p.cell_index or 0) + (1 if info.status.is_final else 0)
                    if p.cell_count
                    else 0,
                    status=status_text(info.status.value),
                    cell=(p.cell_source or "").splitlines()[0][:50] if p.cell_source else "",
                )
    except KeyboardInterrupt:
        err_console.print(
            f"\nStopped following. Job {job_id} goes on; "
            f"`mlbench job cancel {job_id}` stops it, `mlbench job logs -f {job_id}` follows it."
        )
        return 130
    summarize(ctx, job_id)
    return 0 if info is not None and info.status.value == "completed" else 1


def summarize(ctx: CliContext, job_id: str) -> None:
    ws = ctx.ws
    info = ws.jobs.info(job_id)
    console.print(
        f"Job [bold]{info.id}[/] {status_text(info.status.value)} in {duration(info.duration_s)}"
        + (f" — {info.status_reason}" if info.status_reason else "")
    )
    if info.error and info.error.kind == "cell_error":
        e = info.error
        console.print(
            f"[red]cell {(e.cell_index or 0) + 1} raised {e.ename}: {e.evalue}[/]", soft_wrap=True
        )
        if e.traceback:
            console.print(strip_ansi("\n".join(e.traceback[-6:])), markup=False, soft_wrap=True)
    if info.mlflow_run_id:
        try:
            metrics = ws.tracking.run_summary(info.mlflow_run_id)["metrics"]
        except Exception:
            metrics = {}
        if metrics:
            console.print(
                "metrics: " + ", ".join(f"{k}={v:.4g}" for k, v in sorted(metrics.items()))
            )
        console.print(
            f"MLflow run: {info.mlflow_run_id} (experiment '{info.experiment}', "
            f"id {info.mlflow_experiment_id})"
        )
        console.print(f"tracking URI: {ws.tracking_uri}")
    output = ws.jobs.output_notebook_path(info.id)
    if output:
        console.print(f"output notebook: {output}")
    console.print(f"log: {ws.paths.log(info.id)}")


@click.command("params")
@click.argument("notebook", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def params_command(ctx: CliContext, notebook: str, as_json: bool) -> None:
    """Show the typed parameters of NOTEBOOK."""
    params = ctx.ws.jobs.parameters(notebook)
    if as_json:
        print_json(list(params.values()))
        return
    if not params:
        console.print("no parameters (tag a cell 'parameters' to declare some)")
        return
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for col in ("NAME", "TYPE", "DEFAULT", "HELP"):
        table.add_column(col)
    for p in params.values():
        kind = p.type + (" | None" if p.nullable and p.type != "any" else "")
        table.add_row(p.name, kind, p.default_source, p.help)
    console.print(table)


@click.group("job")
def job_group() -> None:
    """Submit and manage notebook jobs."""


@job_group.command("submit")
@click.argument("notebook", type=click.Path(dir_okay=False), required=False)
@parameter_options
@spec_options()
@command_options
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def submit_command(ctx: CliContext, notebook: str | None, as_json: bool, **opts: Any) -> None:
    """Queue NOTEBOOK (or an Azure ML job file, or --command) as a job and print its id."""
    job = _submit(ctx, notebook, opts)
    if as_json:
        print_json(job.info)
    else:
        click.echo(job.id)


@job_group.command("list")
@click.option("--status", "-s", multiple=True, help="Only these statuses.")
@click.option("--compute", help="Only this compute target.")
@click.option("--experiment", "-e", help="Only this experiment.")
@click.option("--tag", help="Only jobs with this tag (KEY or KEY=VALUE).")
@click.option("--text", "-q", help="Search names, notebooks, experiments and ids.")
@click.option("--limit", "-n", type=int, default=20, show_default=True)
@click.option("--cursor", help="next_cursor of a previous page.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def list_command(
    ctx: CliContext,
    status: tuple[str, ...],
    compute: str | None,
    experiment: str | None,
    tag: str | None,
    text: str | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
) -> None:
    """List jobs, newest first."""
    page = ctx.ws.jobs.list(
        status=status or None,
        compute=compute,
        experiment=experiment,
        tag=tag,
        text=text,
        limit=limit,
        cursor=cursor,
    )
    infos = [j._info for j in page]
    if as_json:
        print_json(
            {"items": [i.model_dump(mode="json") for i in infos], "next_cursor": page.next_cursor}
        )
        return
    console.print(jobs_table(infos))
    if page.next_cursor:
        console.print(f"[dim]more: --cursor {page.next_cursor}[/]")


@job_group.command("show")
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def show_command(ctx: CliContext, job_id: str, as_json: bool) -> None:
    """Show one job, with its error if it failed."""
    info = ctx.ws.jobs.info(job_id)
    if as_json:
        print_json(info)
    else:
        job_details(info)


@job_group.command("logs")
@click.argument("job_id")
@click.option("--follow", "-f", is_flag=True, help="Keep printing until the job ends.")
@click.option("--tail", type=int, help="Only the last N bytes.")
@pass_ctx
def logs_command(ctx: CliContext, job_id: str, follow: bool, tail: int | None) -> None:
    """Print a job's output (stdout and stderr of its cells)."""
    jobs = ctx.ws.jobs
    text, offset = jobs.logs(job_id, tail=tail)
    click.echo(text, nl=False)
    while follow:
        info = jobs.info(job_id)
        text, offset = jobs.logs(job_id, offset)
        click.echo(text, nl=False)
        if info.status.is_final and not text:
            break
        time.sleep(0.2)


@job_group.command("wait")
@click.argument("job_id")
@click.option("--timeout", type=float)
@pass_ctx
def wait_command(ctx: CliContext, job_id: str, timeout: float | None) -> None:
    """Wait for a job to end; exit 0 if it completed."""
    info = ctx.ws.jobs.wait(job_id, timeout=timeout)
    click.echo(info.status.value)
    sys.exit(0 if info.status.value == "completed" else 1)


@job_group.command("cancel")
@click.argument("job_ids", nargs=-1, required=True)
@pass_ctx
def cancel_command(ctx: CliContext, job_ids: tuple[str, ...]) -> None:
    """Cancel jobs: queued ones at once, running ones are interrupted, then killed."""
    for job_id in job_ids:
        info = ctx.ws.jobs.cancel(job_id)
        state = info.status.value if info.status.is_final else "cancel requested"
        console.print(f"{info.id}: {state}")


@job_group.command("rerun")
@click.argument("job_id")
@parameter_options
@spec_options(rerun=True)
@click.option("--follow/--no-follow", default=False, help="Follow it like `mlbench run`.")
@pass_ctx
def rerun_command(ctx: CliContext, job_id: str, follow: bool, **opts: Any) -> None:
    """Run a job's notebook snapshot again, with parameters and settings changed."""
    parameters, changes = spec_fields(opts)
    job = ctx.ws.jobs.rerun(job_id, parameters, **changes)
    click.echo(job.id)
    if follow:
        sys.exit(follow_job(ctx, job.id))


@job_group.command("delete")
@click.argument("job_ids", nargs=-1, required=True)
@click.option("--keep-run", is_flag=True, help="Keep the MLflow runs.")
@pass_ctx
def delete_command(ctx: CliContext, job_ids: tuple[str, ...], keep_run: bool) -> None:
    """Delete finished jobs, their files and (restorably) their MLflow runs."""
    deleted = ctx.ws.jobs.delete_many(job_ids, delete_run=not keep_run)
    for job_id in deleted:
        console.print(f"deleted {job_id}")


@job_group.command("export")
@click.argument("job_id")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["azureml"]),
    default="azureml",
    show_default=True,
    help="azureml: Azure ML CLI v2 command job YAML.",
)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write it here.")
@pass_ctx
def export_command(ctx: CliContext, job_id: str, fmt: str, output: str | None) -> None:
    """Write a job back as an Azure ML job file (a notebook job as a papermill command)."""
    text = ctx.ws.jobs.export_yaml(job_id)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)
