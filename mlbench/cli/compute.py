"""``mlbench compute ...``."""

from __future__ import annotations

import math
from typing import Any

import click

from mlbench.cli.context import CliContext
from mlbench.cli.render import console, err_console, print_json
from mlbench.compute.base import MAX_CPUS, MAX_GPUS, MAX_JOBS_AT_ONCE, MAX_MEMORY_MB, MAX_SECONDS

pass_ctx = click.make_pass_decorator(CliContext)


class FiniteFloat(click.ParamType):
    """A float option that refuses nan, inf and values outside [low, high] (click's FLOAT and
    FloatRange let nan through, and a stored inf breaks every later reader)."""

    name = "number"

    def __init__(self, low: float, high: float, *, low_open: bool = False) -> None:
        self.low, self.high, self.low_open = low, high, low_open

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, float) and math.isfinite(value):
            number = value
        else:
            try:
                number = float(value)
            except (TypeError, ValueError, OverflowError):
                self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if number < self.low or number > self.high or (self.low_open and number == self.low):
            above = "above" if self.low_open else "at least"
            self.fail(
                f"{value!r} is out of range: {above} {self.low:g}, at most {self.high:g}",
                param,
                ctx,
            )
        return number


def _ints(low: int, high: int) -> click.IntRange:
    return click.IntRange(low, high)


def _config_options(f: Any) -> Any:
    for decorator in reversed(
        [
            click.option(
                "--cpus",
                type=FiniteFloat(0, MAX_CPUS, low_open=True),
                help="CPUs jobs may use (default: all).",
            ),
            click.option(
                "--memory-mb", type=_ints(1, MAX_MEMORY_MB), help="Memory jobs may use, MiB."
            ),
            click.option("--gpu-ids", help="Comma-separated GPU ids, e.g. 0,1 (default: detect)."),
            click.option(
                "--max-concurrent-jobs", type=_ints(1, MAX_JOBS_AT_ONCE), help="Jobs at once."
            ),
            click.option(
                "--kernel-pool-size",
                type=_ints(0, 16),
                help="local/ray: Python kernels kept started ahead (ray: on every node).",
            ),
            click.option(
                "--idle-timeout",
                "idle_timeout_s",
                type=FiniteFloat(0, MAX_SECONDS),
                help="Seconds an idle agent waits before exiting.",
            ),
            click.option(
                "--address", help="ray: the cluster, 'auto', 'host:6379' or 'ray://host:10001'."
            ),
            click.option("--namespace", help="ray: the Ray namespace the agent uses."),
            click.option(
                "--default-cpus",
                type=FiniteFloat(0, MAX_CPUS, low_open=True),
                help="ray: CPUs of a job that does not ask.",
            ),
            click.option(
                "--default-gpus",
                type=_ints(0, MAX_GPUS),
                help="ray: GPUs of a job that does not ask.",
            ),
            click.option("--url", help="gateway: the Kernel/Enterprise Gateway's base URL."),
            click.option(
                "--token",
                envvar="MLBENCH_GATEWAY_TOKEN",
                help="gateway: its auth token (or $MLBENCH_GATEWAY_TOKEN); kept as a secret.",
            ),
            click.option(
                "--validate-cert/--no-validate-cert",
                default=None,
                help="gateway: verify its TLS certificate (default: yes).",
            ),
            click.option(
                "--connect-timeout",
                "connect_timeout_s",
                type=FiniteFloat(0, MAX_SECONDS, low_open=True),
                help="ray/gateway: seconds to wait for the cluster or gateway.",
            ),
            click.option(
                "--prestart-kernels",
                type=click.IntRange(0, 16),
                help="gateway: kernels kept started ahead per kernel name (default 1).",
            ),
            click.option("--description", help="What the target is for."),
        ]
    ):
        f = decorator(f)
    return f


@click.group("compute")
def compute_group() -> None:
    """Compute targets: where jobs run."""


@compute_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def list_command(ctx: CliContext, as_json: bool) -> None:
    """List compute targets with their capacity and load."""
    statuses = [ctx.ws.compute.status(t.name) for t in ctx.ws.compute.list()]
    if as_json:
        print_json(statuses)
        return
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for col in ("NAME", "KIND", "AGENT", "CPUS", "GPUS", "JOBS AT ONCE", "RUNNING", "QUEUED"):
        table.add_column(col)
    for st in statuses:
        cap = st.target.capacity
        gpus = ",".join(cap.gpu_ids) or "-"
        if st.gpu_ids_in_use:
            gpus += f" (in use: {','.join(st.gpu_ids_in_use)})"
        table.add_row(
            st.target.name,
            st.target.kind,
            "running" if st.agent else "idle",
            f"{st.cpus_in_use:g}/{cap.cpus:g}",
            gpus,
            str(cap.max_concurrent_jobs),
            str(st.running),
            str(st.queued),
        )
    console.print(table)
    for st in statuses:
        if st.target.problem:
            _print_problem(st.target.name, st.target.problem)


def _print_problem(name: str, problem: str) -> None:
    console.print(
        f"{name}: cannot be used: {problem}\n  hint: fix it with `mlbench compute update "
        f"{name} ...` or delete it with `mlbench compute delete {name}`",
        style="red",
        soft_wrap=True,
        markup=False,  # the problem quotes user text, which may hold [brackets]
    )


@compute_group.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def show_command(ctx: CliContext, name: str, as_json: bool) -> None:
    """Show a target's settings, capacity, agent and load."""
    st = ctx.ws.compute.status(name)
    if as_json:
        print_json(st)
        return
    t = st.target
    cap = t.capacity
    console.print(f"[bold]{t.name}[/] ({t.kind}) {t.description}")
    if t.problem:
        _print_problem(t.name, t.problem)
    console.print(f"  settings: {t.config or '{}'}")
    console.print(
        f"  capacity: {cap.cpus:g} CPUs, {cap.memory_mb or '?'} MiB, {cap.gpus} GPUs"
        + (f" [{', '.join(cap.gpu_ids)}]" if cap.gpu_ids else "")
        + "".join(f", {k} {v:g}" for k, v in cap.resources.items())
        + f", {cap.max_concurrent_jobs} jobs at once"
    )
    console.print(
        f"  load: {st.running} running, {st.queued} queued, {st.cpus_in_use:g} CPUs and "
        f"GPUs [{', '.join(st.gpu_ids_in_use) or 'none'}] in use"
    )
    agent = st.agent
    console.print(
        f"  agent: pid {agent.get('pid')} since {agent.get('started_at')}"
        if agent
        else "  agent: not running (starts on demand)"
    )
    cluster = (agent or {}).get("cluster")
    for node in (cluster or {}).get("nodes", []):
        res = node.get("resources", {})
        console.print(
            f"  node {node.get('node_ip')}: {res.get('CPU', 0):g} CPUs, {res.get('GPU', 0):g} GPUs"
            + "".join(
                f", {k} {v:g}"
                for k, v in res.items()
                if k not in ("CPU", "GPU", "memory", "object_store_memory")
            )
        )
    if cluster:
        free, total = cluster.get("available", {}), cluster.get("total", {})
        console.print(
            f"  cluster in use: {total.get('CPU', 0) - free.get('CPU', 0):g}/"
            f"{total.get('CPU', 0):g} CPUs, {total.get('GPU', 0) - free.get('GPU', 0):g}/"
            f"{total.get('GPU', 0):g} GPUs"
        )


_FORCE = click.option(
    "--force",
    is_flag=True,
    help="local: take --gpu-ids as given, without a warning, when this machine does not show "
    "those GPUs (yet).",
)


def _warn_undetected_gpus(kind: str, gpu_ids: str | None, force: bool) -> None:
    """A local target declaring GPUs this machine does not show: one warning line (stderr)."""
    if kind != "local" or not gpu_ids or force:
        return
    from mlbench.compute.local import undetected_gpu_ids

    ids = [i.strip() for i in gpu_ids.split(",") if i.strip()]
    missing = undetected_gpu_ids(ids)
    if not missing:
        return
    found = "no GPU detected" if missing == ids else f"GPU {', '.join(missing)} not detected"
    err_console.print(
        f"[yellow]warning:[/] {found} on this machine (NVML/nvidia-smi); jobs asking for GPUs "
        f"will get id(s) {', '.join(missing)} as declared. Pass --force for GPUs you will attach "
        "later.",
        soft_wrap=True,
        markup=True,
        highlight=False,
    )


@compute_group.command("create")
@click.argument("name")
@click.option("--type", "kind", default="local", show_default=True, help="Kind of target.")
@_config_options
@_FORCE
@pass_ctx
def create_command(
    ctx: CliContext, name: str, kind: str, description: str | None, force: bool, **config: Any
) -> None:
    """Create a compute target."""
    config = {k: v for k, v in config.items() if v is not None}
    target = ctx.ws.compute.create(name, kind, description=description or "", **config)
    console.print(f"created {target.name} ({target.kind})")
    _warn_undetected_gpus(target.kind, config.get("gpu_ids"), force)


@compute_group.command("update")
@click.argument("name")
@_config_options
@click.option(
    "--reset",
    "reset",
    multiple=True,
    metavar="SETTING",
    help="Drop a setting so its default applies, e.g. --reset cpus (repeatable).",
)
@_FORCE
@pass_ctx
def update_command(
    ctx: CliContext,
    name: str,
    description: str | None,
    reset: tuple[str, ...],
    force: bool,
    **config: Any,
) -> None:
    """Change a compute target's settings (the agent picks them up when it restarts)."""
    config = {k: v for k, v in config.items() if v is not None}
    gpu_ids = config.get("gpu_ids")
    # None removes a stored setting: the way to repair one that no longer validates.
    config.update({key.replace("-", "_"): None for key in reset})
    target = ctx.ws.compute.update(name, description=description, **config)
    console.print(f"updated {target.name}: {target.config}")
    _warn_undetected_gpus(target.kind, gpu_ids, force)


@compute_group.command("delete")
@click.argument("name")
@pass_ctx
def delete_command(ctx: CliContext, name: str) -> None:
    """Delete a compute target that has no queued or running jobs."""
    ctx.ws.jobs.agent(name).stop()
    ctx.ws.compute.delete(name)
    console.print(f"deleted {name}")
