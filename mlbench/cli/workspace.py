"""``mlbench workspace ...``."""

from __future__ import annotations

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
