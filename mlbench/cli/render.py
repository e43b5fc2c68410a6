"""How the CLI shows things: rich tables for people, ``--json`` for programs."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mlbench.errors import MlbenchError
from mlbench.formatting import duration, strip_ansi, when

# Piped output (CI logs, `| less`) would wrap at rich's default of 80 columns.
_WIDTH = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 160
console = Console(highlight=False, width=_WIDTH)
err_console = Console(stderr=True, highlight=False, width=_WIDTH)

STATUS_STYLE = {
    "queued": "dim",
    "starting": "cyan",
    "running": "blue",
    "completed": "green",
    "failed": "red",
    "canceled": "yellow",
    "timed_out": "magenta",
    "early_terminated": "yellow",
}


def print_error(exc: MlbenchError) -> None:
    # escaped: a message quoting user text ("[x]") must not be read as rich markup
    err_console.print(f"[bold red]error:[/] {escape(exc.message)}", soft_wrap=True)
    if exc.hint:
        err_console.print(f"[dim]  hint: {escape(exc.hint)}[/]", soft_wrap=True)


def print_json(data: Any) -> None:
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    elif isinstance(data, list):
        data = [d.model_dump(mode="json") if isinstance(d, BaseModel) else d for d in data]
    click_echo(json.dumps(data, indent=2, default=str))


def click_echo(text: str) -> None:
    import click

    click.echo(text)


def status_text(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, '')}]{status}[/]"


def jobs_table(jobs: list[Any]) -> Table:
    table = Table(box=None, header_style="bold")
    for col in ("ID", "NAME", "STATUS", "PROGRESS", "DURATION", "COMPUTE", "EXPERIMENT", "CREATED"):
        table.add_column(col, no_wrap=col != "NAME")
    for info in jobs:
        p = info.progress
        progress = f"{(p.cell_index or 0) + 1}/{p.cell_count}" if p.cell_count else "-"
        table.add_row(
            info.id,
            info.display_name,
            status_text(info.status.value),
            progress,
            duration(info.duration_s),
            info.compute,
            info.experiment,
            when(info.created_at),
        )
    return table


def job_details(info: Any) -> None:
    rows = [
        ("id", info.id),
        ("name", info.display_name),
        (
            "status",
            status_text(info.status.value)
            + (f" — {info.status_reason}" if info.status_reason else ""),
        ),
        ("notebook", info.notebook_path),
        ("experiment", info.experiment),
        ("compute", f"{info.compute} (kernel {info.kernel_name})"),
        (
            "resources",
            f"{info.resources.cpus:g} CPU, {info.resources.gpus} GPU"
            + (f", {info.resources.memory_mb} MiB" if info.resources.memory_mb else "")
            + (f" — GPUs {','.join(info.gpu_ids)}" if info.gpu_ids else ""),
        ),
        ("attempt", f"{info.attempt} of {info.max_retries + 1}"),
        ("timeout", f"{info.timeout_s:g} s" if info.timeout_s else "none"),
        ("created", when(info.created_at)),
        ("started", when(info.started_at)),
        ("finished", when(info.finished_at)),
        ("duration", duration(info.duration_s)),
        ("mlflow run", info.mlflow_run_id or "-"),
    ]
    if info.parameters:
        rows.append(("parameters", ", ".join(f"{k}={v!r}" for k, v in info.parameters.items())))
    if info.tags:
        rows.append(("tags", ", ".join(f"{k}={v}" for k, v in info.tags.items())))
    for b in info.inputs:
        rows.append((f"input {b.name}", b.ref))
    for b in info.outputs:
        rows.append((f"output {b.name}", b.ref or f"{b.asset} (registered on completion)"))
    p = info.progress
    if p.cell_count:
        rows.append(("progress", f"cell {(p.cell_index or 0) + 1} of {p.cell_count}"))
    table = Table(box=None, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(key, str(value))
    console.print(table)
    if info.error:
        e = info.error
        console.print(f"\n[bold red]{e.kind}[/]: {e.message}", soft_wrap=True)
        if e.cell_source:
            console.print(
                f"[dim]cell {(e.cell_index or 0) + 1}:[/]\n{e.cell_source}", soft_wrap=True
            )
        if e.traceback:
            console.print(strip_ansi("\n".join(e.traceback)), soft_wrap=True, markup=False)
