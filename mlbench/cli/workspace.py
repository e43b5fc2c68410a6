"""``mlbench workspace ...``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mlbench.cli.context import CliContext
from mlbench.cli.render import console, print_json

pass_ctx = click.make_pass_decorator(CliContext)


@click.group("workspace")
def workspace_group() -> None:
    """The workspace: metadata database, tracking store and job files."""


@workspace_group.command("info")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def info_command(ctx: CliContext, as_json: bool) -> None:
    """Where this workspace keeps things."""
    info = ctx.ws.info()
    if as_json:
        print_json(info)
        return
    for key in ("version", "home", "database_url", "tracking_uri", "artifact_root"):
        console.print(f"[bold]{key}[/]: {info[key]}")
    console.print(
        f"[dim]browse runs: mlflow ui --backend-store-uri {info['tracking_uri']}[/]", soft_wrap=True
    )


def _home(ctx: CliContext) -> Path:
    # Not ctx.ws: these commands must work when the workspace database cannot be opened.
    from mlbench.config import resolve_home

    return resolve_home(ctx._path)


def _probe_tracking(uri: str) -> None:
    from mlbench.tracking.client import TrackingClient

    TrackingClient(uri).client.search_experiments(max_results=1)


@workspace_group.command("check")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def check_command(ctx: CliContext, as_json: bool) -> None:
    """Check the workspace: database integrity, the MLflow store, orphan job folders and rows.

    Reports only; nothing is changed. Exits 1 when something is wrong.
    """
    from mlbench.store.backup import check

    report = check(_home(ctx), tracking_probe=_probe_tracking)
    if as_json:
        print_json(report.to_dict())
    else:
        for finding in report.findings:
            mark = "[green]ok[/]" if finding.ok else "[bold red]problem[/]"
            console.print(f"{mark} {finding.check}: ", end="")
            console.print(finding.message, markup=False, soft_wrap=True)
            if finding.hint:
                console.print(f"  hint: {finding.hint}", style="dim", markup=False, soft_wrap=True)
    if not report.ok:
        sys.exit(1)


@workspace_group.command("backup")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
@pass_ctx
def backup_command(ctx: CliContext, path: Path) -> None:
    """Back the workspace up into the new folder PATH, while it keeps working.

    The database and MLflow's store are copied with SQLite's online backup API, then the job
    files, artifacts, uploaded data and settings.
    """
    from mlbench.store.backup import backup

    result = backup(_home(ctx), path)
    console.print(
        f"backed up to {result.path}: {', '.join(result.databases)} and {result.files} file(s), "
        f"{result.bytes} bytes",
        markup=False,
        soft_wrap=True,
    )
    for item in result.skipped[:20]:
        console.print(f"  skipped {item}", style="dim", markup=False)


@workspace_group.command("restore")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--force",
    is_flag=True,
    help="Restore over a workspace with content (moved aside to a sibling folder, not deleted).",
)
@pass_ctx
def restore_command(ctx: CliContext, path: Path, force: bool) -> None:
    """Make this workspace the one backed up in PATH (no agent may be running)."""
    from mlbench.store.backup import restore

    result = restore(_home(ctx), path, force=force)
    console.print(f"restored {result.home} from {result.source}", markup=False, soft_wrap=True)
    if result.moved_aside:
        console.print(
            f"  the previous content is in {result.moved_aside}", markup=False, soft_wrap=True
        )
    if result.rewritten:
        console.print(
            f"  {result.rewritten} stored path(s) pointed at the new location",
            markup=False,
            soft_wrap=True,
        )
