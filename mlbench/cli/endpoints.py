"""``mlbench endpoint ...``: online endpoints, deployments, traffic and keys."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from mlbench.cli.context import CliContext
from mlbench.cli.render import console, print_json
from mlbench.formatting import when

pass_ctx = click.make_pass_decorator(CliContext)


def _percents(items: tuple[str, ...], what: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name or not value.strip().isdigit():
            raise click.BadParameter(f"{item!r} is not NAME=PERCENT", param_hint=what)
        out[name] = int(value)
    return out


def _weights(traffic: dict[str, int]) -> str:
    return " ".join(f"{k}={v}" for k, v in traffic.items()) or "-"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def show_endpoint(info: Any) -> None:
    head = Table(box=None, show_header=False)
    head.add_column(style="bold")
    head.add_column()
    for key, value in (
        ("url", info.url),
        ("traffic", _weights(info.traffic)),
        ("mirror", _weights(info.mirror)),
        ("keys", ", ".join(f"{k} {v.prefix}" for k, v in info.keys.items())),
        ("log sample rate", f"{info.log_sample_rate:g}"),
        ("router", "ready" if info.router_ready else "not answering"),
        ("created", when(info.created_at)),
    ):
        head.add_row(key, str(value))
    console.print(head)
    table = Table(box=None, header_style="bold")
    for col in ("DEPLOYMENT", "MODEL", "STATE", "INSTANCES", "COMPUTE", "REQUESTS", "ERRORS"):
        table.add_column(col)
    for col in ("P50 MS", "P99 MS", "REQ/S"):
        table.add_column(col, justify="right")
    for d in info.deployments:
        m = d.metrics
        table.add_row(
            d.name,
            f"{d.model_name}:{d.model_version}",
            d.state.value + (f" ({d.status_reason})" if d.status_reason else ""),
            f"{d.instances}/{d.instance_count}",
            d.compute,
            str(m.requests if m else "-"),
            str(m.errors if m else "-"),
            _ms(m.p50_ms if m else None),
            _ms(m.p99_ms if m else None),
            f"{m.requests_per_s:.1f}" if m else "-",
        )
    console.print(table)


@click.group("endpoint")
def endpoint_group() -> None:
    """Online endpoints: a stable URL with keys in front of deployed model versions."""


@endpoint_group.command("create")
@click.argument("name")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, help="Default: a free port.")
@click.option("--log-sample-rate", type=float, default=0.0, help="Share of requests logged.")
@click.option("--description", default="")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def create_command(
    ctx: CliContext,
    name: str,
    host: str,
    port: int | None,
    log_sample_rate: float,
    description: str,
    as_json: bool,
) -> None:
    """Create endpoint NAME; prints its URL and keys (shown this once: keep them)."""
    info = ctx.ws.endpoints.create(
        name, host=host, port=port, log_sample_rate=log_sample_rate, description=description
    )
    if as_json:
        print_json(info)
        return
    click.echo(f"url:           {info.url}")
    click.echo(f"primary key:   {info.secrets.primary}")
    click.echo(f"secondary key: {info.secrets.secondary}")
    click.echo("the keys are not shown again (regenerate one with `endpoint keys`)", err=True)


@endpoint_group.command("deploy")
@click.argument("endpoint")
@click.argument("name")
@click.option("--model", required=True, help="NAME:VERSION or NAME@ALIAS.")
@click.option("--environment", help="An environment to serve in (default: mlbench's).")
@click.option("--compute", default="local", show_default=True, help="A local or Ray target.")
@click.option("--instances", "instance_count", type=int, default=1, show_default=True)
@click.option("--cpus", type=float, help="CPUs per instance (Ray).")
@click.option("--gpus", type=float, help="GPUs per instance (Ray).")
@click.option("--workers", type=int, help="Worker processes per instance (local).")
@click.option("--max-batch-size", type=int, default=64, show_default=True)
@click.option("--max-wait-ms", type=float, default=2.0, show_default=True)
@click.option("--traffic", type=int, help="Give it this percent (others scaled down).")
@click.option("--no-wait", is_flag=True, help="Return before it is ready.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def deploy_command(
    ctx: CliContext,
    endpoint: str,
    name: str,
    model: str,
    environment: str | None,
    compute: str,
    instance_count: int,
    cpus: float | None,
    gpus: float | None,
    workers: int | None,
    max_batch_size: int,
    max_wait_ms: float,
    traffic: int | None,
    no_wait: bool,
    as_json: bool,
) -> None:
    """Deploy a model version as deployment NAME of ENDPOINT (again: roll it, no downtime)."""
    resources = {
        k: v for k, v in (("cpus", cpus), ("gpus", gpus), ("workers", workers)) if v is not None
    }
    info = ctx.ws.endpoints.deploy(
        endpoint,
        name,
        model,
        environment=environment,
        compute=compute,
        instance_count=instance_count,
        resources=resources,
        max_batch_size=max_batch_size,
        max_wait_ms=max_wait_ms,
        traffic=traffic,
        wait=not no_wait,
    )
    if as_json:
        print_json(info)
    else:
        click.echo(f"{endpoint}/{name}: {info.model_name}:{info.model_version} {info.state.value}")


@endpoint_group.command("traffic")
@click.argument("endpoint")
@click.argument("weights", nargs=-1)
@click.option("--mirror", "mirror", multiple=True, help="NAME=PERCENT; '' stops mirroring.")
@click.option("--log-sample-rate", type=float)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def traffic_command(
    ctx: CliContext,
    endpoint: str,
    weights: tuple[str, ...],
    mirror: tuple[str, ...],
    log_sample_rate: float | None,
    as_json: bool,
) -> None:
    """Set traffic weights (NAME=PERCENT..., summing to 100; names left out get 0)."""
    mirrors = None if not mirror else _percents(tuple(m for m in mirror if m), "--mirror")
    info = ctx.ws.endpoints.set_traffic(
        endpoint,
        _percents(weights, "WEIGHTS") if weights else None,
        mirror=mirrors,
        log_sample_rate=log_sample_rate,
    )
    if as_json:
        print_json(info)
    else:
        click.echo(f"traffic {_weights(info.traffic)}; mirror {_weights(info.mirror)}")


@endpoint_group.command("keys")
@click.argument("endpoint")
@click.argument("action", type=click.Choice(["show", "regenerate"]), default="show")
@click.argument("key", type=click.Choice(["primary", "secondary"]), required=False)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def keys_command(
    ctx: CliContext, endpoint: str, action: str, key: str | None, as_json: bool
) -> None:
    """Show the keys' prefixes, or regenerate one (printed this once; the other keeps
    working, so move clients to it first)."""
    if action == "regenerate":
        if key is None:
            raise click.UsageError("name the key to regenerate: primary or secondary")
        made = ctx.ws.endpoints.regenerate_key(endpoint, key)
        if as_json:
            print_json(made)
        else:
            click.echo(made.value)
        return
    keys = ctx.ws.endpoints.show(endpoint, metrics=False).keys
    if as_json:
        print_json({k: v.model_dump(mode="json") for k, v in keys.items()})
    else:
        for k, v in keys.items():
            click.echo(f"{k}: {v.prefix} (created {when(v.created_at)})")


@endpoint_group.command("invoke")
@click.argument("endpoint")
@click.option(
    "--key", envvar="MLBENCH_ENDPOINT_KEY", required=True, help="Or $MLBENCH_ENDPOINT_KEY."
)
@click.option("--data", help="The request body (JSON in one of MLflow's formats).")
@click.option(
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False),
    help="... or a file (.json/.csv).",
)
@click.option("--deployment", help="Send it to this deployment (even at 0 %).")
@pass_ctx
def invoke_command(
    ctx: CliContext,
    endpoint: str,
    key: str,
    data: str | None,
    path: str | None,
    deployment: str | None,
) -> None:
    """Send one scoring request and print the answer."""
    if (data is None) == (path is None):
        raise click.UsageError("give the request with --data or --file")
    content_type = "application/json"
    if path is not None:
        body: str | bytes = Path(path).read_bytes()
        if path.endswith(".csv"):
            content_type = "text/csv"
    else:
        body = data or ""
    answer = ctx.ws.endpoints.invoke(
        endpoint, body, key=key, deployment=deployment, content_type=content_type
    )
    click.echo(json.dumps(answer))


@endpoint_group.command("logs")
@click.argument("endpoint")
@click.argument("deployment")
@click.option("--tail", type=int, default=200, show_default=True)
@pass_ctx
def logs_command(ctx: CliContext, endpoint: str, deployment: str, tail: int) -> None:
    """The output of a deployment's processes."""
    sys.stdout.write(ctx.ws.endpoints.logs(endpoint, deployment, tail=tail) + "\n")


@endpoint_group.command("delete")
@click.argument("endpoint")
@click.argument("deployment", required=False)
@pass_ctx
def delete_command(ctx: CliContext, endpoint: str, deployment: str | None) -> None:
    """Delete a deployment (at 0 % traffic) or, without one, the whole endpoint (its request
    log stays as a data asset)."""
    if deployment:
        ctx.ws.endpoints.delete_deployment(endpoint, deployment)
        click.echo(f"deleted {endpoint}/{deployment}")
    else:
        ctx.ws.endpoints.delete(endpoint)
        click.echo(f"deleted {endpoint}")


@endpoint_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def list_command(ctx: CliContext, as_json: bool) -> None:
    """Every endpoint."""
    items = ctx.ws.endpoints.list()
    if as_json:
        print_json({"items": [i.model_dump(mode="json") for i in items]})
        return
    table = Table(box=None, header_style="bold")
    for col in ("NAME", "URL", "TRAFFIC", "DEPLOYMENTS"):
        table.add_column(col)
    for i in items:
        deps = ", ".join(f"{d.name} ({d.state.value})" for d in i.deployments) or "-"
        table.add_row(i.name, i.url, _weights(i.traffic), deps)
    console.print(table)


@endpoint_group.command("show")
@click.argument("endpoint")
@click.option("--events", is_flag=True, help="Also what happened to it.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def show_command(ctx: CliContext, endpoint: str, events: bool, as_json: bool) -> None:
    """An endpoint: URL, traffic, masked keys, deployments and their metrics."""
    info = ctx.ws.endpoints.show(endpoint)
    if as_json:
        print_json(info)
        return
    show_endpoint(info)
    if events:
        for e in ctx.ws.endpoints.events(endpoint):
            who = f" {e.deployment}" if e.deployment else ""
            click.echo(f"{when(e.at)}{who} {e.kind}: {e.message}")
