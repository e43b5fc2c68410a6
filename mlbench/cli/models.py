"""``mlbench model ...``: the model registry."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.table import Table

from mlbench.cli.context import CliContext
from mlbench.cli.render import console, print_json
from mlbench.formatting import when

pass_ctx = click.make_pass_decorator(CliContext)


def version_details(info: Any) -> None:
    lin = info.lineage
    rows = [
        ("ref", info.ref),
        ("aliases", ", ".join(info.aliases) or "-"),
        ("status", info.status),
        ("source", info.source),
        ("job", lin.job_id or "-"),
        ("run", lin.run_id or "-"),
        ("data", ", ".join(lin.data_inputs) or "-"),
        ("environment", lin.environment or "-"),
        ("created", when(info.created_at)),
    ]
    if info.description:
        rows.append(("description", info.description))
    for key, value in info.tags.items():
        rows.append((f"tag {key}", value))
    if info.signature:
        for part in ("inputs", "outputs"):
            cols = info.signature.get(part) or []
            text = ", ".join(
                f"{c.get('name', '')}:{c.get('type', '')}".lstrip(":")
                + (
                    f"{c.get('tensor-spec', {}).get('shape', '')}"
                    if c.get("type") == "tensor"
                    else ""
                )
                for c in cols
            )
            rows.append((part, text or "-"))
    table = Table(box=None, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(key, str(value))
    console.print(table)


@click.group("model")
def model_group() -> None:
    """Registered models: versions, aliases and where they came from."""


@model_group.command("register")
@click.argument("name")
@click.option("--job", help="Register the model this job's run logged.")
@click.option("--run", "run_id", help="... or the model an MLflow run logged.")
@click.option(
    "--folder",
    type=click.Path(exists=True, file_okay=False),
    help="... or a local MLflow model folder.",
)
@click.option("--path", help="Which model of the run, when it logged several (its name).")
@click.option("--alias", help="Give the new version this alias (e.g. champion).")
@click.option("--description", default="")
@click.option("--tag", "tags", multiple=True, help="KEY=VALUE (repeatable).")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def register_command(
    ctx: CliContext,
    name: str,
    job: str | None,
    run_id: str | None,
    folder: str | None,
    path: str | None,
    alias: str | None,
    description: str,
    tags: tuple[str, ...],
    as_json: bool,
) -> None:
    """Register a new version of model NAME and print its reference."""
    parsed = {}
    for item in tags:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--tag")
        parsed[key] = value
    info = ctx.ws.models.register(
        name,
        job=job,
        run=run_id,
        folder=folder,
        path=path,
        description=description,
        tags=parsed,
        alias=alias,
    )
    if as_json:
        print_json(info)
    else:
        click.echo(info.ref)


@model_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def list_command(ctx: CliContext, as_json: bool) -> None:
    """Every registered model."""
    items = ctx.ws.models.list()
    if as_json:
        print_json({"items": [i.model_dump(mode="json") for i in items]})
        return
    table = Table(box=None, header_style="bold")
    for col in ("NAME", "LATEST", "VERSIONS", "ALIASES", "UPDATED"):
        table.add_column(col, no_wrap=True)
    for m in items:
        aliases = ", ".join(f"@{a}={v}" for a, v in sorted(m.aliases.items()))
        table.add_row(
            m.name,
            str(m.latest_version or "-"),
            str(m.versions),
            aliases,
            when(m.updated_at) if m.updated_at else "-",
        )
    console.print(table)


@model_group.command("show")
@click.argument("ref")
@click.option("--versions", is_flag=True, help="Every version of the model.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def show_command(ctx: CliContext, ref: str, versions: bool, as_json: bool) -> None:
    """A version (NAME, NAME:VERSION or NAME@ALIAS): lineage and signature."""
    if versions:
        items = ctx.ws.models.versions(ref.split(":", maxsplit=1)[0].split("@", maxsplit=1)[0])
        if as_json:
            print_json({"items": [i.model_dump(mode="json") for i in items]})
            return
        table = Table(box=None, header_style="bold")
        for col in ("VERSION", "ALIASES", "JOB", "RUN", "CREATED"):
            table.add_column(col, no_wrap=True)
        for v in items:
            table.add_row(
                str(v.version),
                ", ".join(v.aliases),
                v.lineage.job_id or "-",
                v.lineage.run_id or "-",
                when(v.created_at),
            )
        console.print(table)
        return
    info = ctx.ws.models.info(ref)
    if as_json:
        print_json(info)
    else:
        version_details(info)


@model_group.command("alias")
@click.argument("name")
@click.argument("alias")
@click.argument("version", type=int, required=False)
@click.option("--delete", is_flag=True, help="Remove the alias.")
@pass_ctx
def alias_command(
    ctx: CliContext, name: str, alias: str, version: int | None, delete: bool
) -> None:
    """Point NAME@ALIAS at VERSION (or remove it with --delete)."""
    if delete:
        ctx.ws.models.delete_alias(name, alias)
        click.echo(f"removed {name}@{alias}")
        return
    if version is None:
        raise click.UsageError("give the VERSION the alias points to (or --delete)")
    info = ctx.ws.models.set_alias(name, alias, version)
    click.echo(f"{name}@{alias} -> {info.ref}")


@model_group.command("delete")
@click.argument("ref")
@pass_ctx
def delete_command(ctx: CliContext, ref: str) -> None:
    """Delete a version (NAME:VERSION) or a whole model (NAME)."""
    ctx.ws.models.delete(ref)
    click.echo(f"deleted {ref}")


@model_group.command("score")
@click.argument("ref")
@click.option("--data", required=True, metavar="data:NAME[:VERSION]", help="The table to score.")
@click.option(
    "--output",
    required=True,
    metavar="data:NAME[,datastore=STORE]",
    help="The table asset the scored rows become a new version of (Parquet).",
)
@click.option("--chunk-rows", type=int, default=100_000, show_default=True)
@click.option("--prediction-column", default="prediction", show_default=True)
@click.option("--features", help="Comma-separated input columns (default: the signature's).")
@click.option("--predictions-only", is_flag=True, help="Write the predictions without the input.")
@click.option("--compute", "-c", default="local", show_default=True, help="Compute target.")
@click.option("--env", "environment", metavar="NAME[:VERSION]", help="Environment to run in.")
@click.option("--follow/--no-follow", default=True, help="Follow the job like `mlbench run`.")
@pass_ctx
def score_command(
    ctx: CliContext,
    ref: str,
    data: str,
    output: str,
    chunk_rows: int,
    prediction_column: str,
    features: str | None,
    predictions_only: bool,
    compute: str,
    environment: str | None,
    follow: bool,
) -> None:
    """Score a table data asset with model REF in a job (batch scoring), in chunks."""
    from mlbench.cli.jobs import follow_job

    job = ctx.ws.models.score(
        ref,
        data,
        output,
        chunk_rows=chunk_rows,
        prediction_column=prediction_column,
        features=[f for f in (features or "").split(",") if f] or None,
        keep_columns=not predictions_only,
        compute=compute,
        environment=environment,
    )
    click.echo(job.id)
    if follow:
        sys.exit(follow_job(ctx, job.id))
