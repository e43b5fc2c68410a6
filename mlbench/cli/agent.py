"""``mlbench agent``: run an agent in the foreground (debugging) or stop one."""

from __future__ import annotations

import sys

import click

from mlbench.cli.context import CliContext
from mlbench.cli.render import console, print_json

pass_ctx = click.make_pass_decorator(CliContext)


@click.group("agent", invoke_without_command=True)
@click.option("--compute", "-c", default="local", show_default=True)
@click.pass_context
def agent_group(click_ctx: click.Context, compute: str) -> None:
    """Run the agent of a compute target in the foreground (it normally starts on demand)."""
    if click_ctx.invoked_subcommand is not None:
        return
    import logging

    from mlbench.agent.agent import Agent

    logging.getLogger().setLevel(logging.INFO)
    ctx: CliContext = click_ctx.obj
    sys.exit(Agent(ctx.ws, compute, on_demand=False).run())


@agent_group.command("stop")
@click.option("--compute", "-c", default="local", show_default=True)
@click.option("--now", is_flag=True, help="Interrupt running jobs (requeued per their retries).")
@click.option("--timeout", type=float, default=60.0, show_default=True)
@pass_ctx
def stop_command(ctx: CliContext, compute: str, now: bool, timeout: float) -> None:
    """Stop the agent; by default it first lets running jobs finish."""
    stopped = ctx.ws.jobs.agent(compute).stop(now=now, timeout=timeout)
    console.print(f"agent for {compute} stopped" if stopped else f"no agent running for {compute}")


@agent_group.command("status")
@click.option("--compute", "-c", default="local", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def status_command(ctx: CliContext, compute: str, as_json: bool) -> None:
    """Show whether the agent of a compute target runs."""
    info = ctx.ws.jobs.agent(compute).info()
    if as_json:
        print_json(info)
    elif info:
        console.print(f"running: pid {info.get('pid')}, since {info.get('started_at')}")
    else:
        console.print("not running (it starts when a job is submitted)")
