"""``mlbench sweep ...``: hyperparameter sweeps over a notebook's parameters."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from mlbench.cli.context import CliContext
from mlbench.cli.jobs import parameter_options, spec_fields, spec_options
from mlbench.cli.render import console, print_json, status_text
from mlbench.formatting import when

pass_ctx = click.make_pass_decorator(CliContext)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def sweeps_table(infos: list[Any]) -> Table:
    table = Table(box=None, header_style="bold")
    for col in ("ID", "NAME", "STATUS", "TRIALS", "STOPPED", "BEST", "COMPUTE", "CREATED"):
        table.add_column(col, no_wrap=True)
    for i in infos:
        c = i.counts
        done = c.completed + c.early_terminated + c.failed + c.canceled
        best = "-" if i.best_trial is None else f"{_number(i.best_value)} (#{i.best_trial})"
        table.add_row(
            i.id,
            i.display_name,
            status_text(i.status.value),
            f"{done}/{i.max_total_trials}",
            str(c.early_terminated),
            best,
            i.compute,
            when(i.created_at),
        )
    return table


def trials_table(trials: list[Any], metric: str, best: int | None) -> Table:
    table = Table(box=None, header_style="bold")
    names = list(dict.fromkeys(k for t in trials for k in t.parameters))
    for col in ("#", "JOB", "STATUS", metric.upper(), "REPORTS", *names, "STOPPED BY"):
        table.add_column(col, no_wrap=col != "STOPPED BY")
    for t in trials:
        mark = "*" if t.index == best else ""
        table.add_row(
            f"{t.index}{mark}",
            t.job_id,
            status_text(t.status.value),
            _number(t.value),
            str(t.reports),
            *(_param(t.parameters.get(n)) for n in names),
            t.termination.detail if t.termination else "",
        )
    return table


def _param(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _reason(text: str) -> str:
    return f": {text}" if text else ""


def sweep_details(info: Any) -> None:
    spec = info.spec
    algo = spec.sampling_algorithm
    policy = spec.early_termination
    rows = [
        ("id", info.id),
        ("name", info.display_name),
        ("status", status_text(info.status.value) + _reason(info.status_reason)),
        ("runs", spec.trial.command or info.notebook_path),
        ("compute", info.compute),
        ("objective", f"{spec.objective.goal} {spec.objective.primary_metric}"),
        (
            "sampling",
            f"{algo.type} (seed {algo.seed})" + (" sobol" if algo.rule == "sobol" else ""),
        ),
        ("policy", policy.type if policy else "none"),
        ("space", ", ".join(f"{k}={e.describe()}" for k, e in spec.search_space.items())),
        ("trials", f"{info.trial_count} started of {info.max_total_trials}"),
        ("created", when(info.created_at)),
        ("mlflow run", info.mlflow_run_id or "-"),
    ]
    if info.best_trial is not None:
        params = ", ".join(f"{k}={_param(v)}" for k, v in (info.best_parameters or {}).items())
        rows.append(("best", f"trial {info.best_trial}: {_number(info.best_value)} ({params})"))
    table = Table(box=None, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)


@click.group("sweep")
def sweep_group() -> None:
    """Hyperparameter sweeps: many trials of one notebook over a search space."""


@sweep_group.command("submit")
@click.argument("source", type=click.Path(dir_okay=False))
@click.option(
    "--space",
    "-s",
    "space",
    multiple=True,
    metavar="NAME=EXPR",
    help="A parameter's search space, e.g. lr='loguniform(-7, -2)' or bs='choice(16, 32)'.",
)
@click.option("--metric", "primary_metric", help="The primary metric the notebook logs.")
@click.option(
    "--goal", type=click.Choice(["maximize", "minimize", "max", "min"]), help="Of the metric."
)
@click.option(
    "--sampler",
    type=click.Choice(["random", "sobol", "grid", "bayesian"]),
    help="Sampling algorithm (default random).",
)
@click.option("--seed", type=int, help="Seed of the sampler (default: drawn and recorded).")
@click.option(
    "--policy",
    type=click.Choice(["none", "bandit", "median_stopping", "truncation_selection", "hyperband"]),
    help="Early-termination policy.",
)
@click.option("--slack-factor", type=float, help="bandit: allowed ratio from the best.")
@click.option("--truncation-percentage", type=int, help="truncation_selection: percent cut.")
@click.option("--evaluation-interval", type=int, help="Policy: every N reports.")
@click.option("--delay-evaluation", type=int, help="Policy: not before report N.")
@click.option("--max-trials", "max_total_trials", type=int, help="Total trials (default 10).")
@click.option("--max-concurrent", "max_concurrent_trials", type=int, help="Trials at once.")
@click.option("--sweep-timeout", type=float, help="Seconds for the whole sweep.")
@click.option("--trial-timeout", type=float, help="Seconds per trial.")
@click.option("--target", "target_value", type=float, help="End once a trial reaches it.")
@parameter_options
@spec_options()
@click.option("--watch", "-w", is_flag=True, help="Follow it until it ends.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def submit_command(ctx: CliContext, source: str, watch: bool, as_json: bool, **opts: Any) -> None:
    """Queue a sweep: SOURCE is a sweep YAML (Azure ML's sweep job keys) or a notebook with
    --space, --metric and --goal. Options override the file's keys."""
    current = click.get_current_context()
    for name in ("compute", "max_retries"):  # a default must not override the file's value
        if current.get_parameter_source(name) == click.core.ParameterSource.DEFAULT:
            opts[name] = None
    body = _sweep_body(ctx, Path(source), opts)
    sweep = ctx.ws.sweeps.submit(body)
    if as_json:
        print_json(sweep.info)
    elif not watch:
        click.echo(sweep.id)
    if watch:
        raise SystemExit(watch_sweep(ctx, sweep.id))


SWEEP_OPTIONS = (
    "space",
    "primary_metric",
    "goal",
    "sampler",
    "seed",
    "policy",
    "slack_factor",
    "truncation_percentage",
    "evaluation_interval",
    "delay_evaluation",
    "max_total_trials",
    "max_concurrent_trials",
    "sweep_timeout",
    "trial_timeout",
    "target_value",
)


def _sweep_body(ctx: CliContext, source: Path, opts: dict[str, Any]) -> dict[str, Any]:
    is_yaml = source.suffix.lower() in (".yml", ".yaml")
    body: dict[str, Any] = ctx.ws.sweeps.load(source) if is_yaml else {"notebook": str(source)}
    sweep = {k: opts.pop(k) for k in SWEEP_OPTIONS}
    parameters, fields = spec_fields(opts)
    opts = sweep
    trial = body.setdefault("trial", {}) if isinstance(body.get("trial"), dict) else body
    if parameters:
        trial["parameters"] = {**dict(trial.get("parameters") or {}), **parameters}
    for key, value in fields.items():
        if key in ("experiment", "display_name", "tags"):
            body[key] = value
        else:
            trial[key] = value
    space = dict(body.get("search_space") or {})
    for item in opts.pop("space"):
        name, sep, expr = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r} is not NAME=EXPR", param_hint="--space")
        space[name.strip()] = expr.strip()
    if space:
        body["search_space"] = space
    objective = dict(body.get("objective") or {})
    if opts.get("primary_metric"):
        objective["primary_metric"] = opts["primary_metric"]
    if opts.get("goal"):
        objective["goal"] = {"max": "maximize", "min": "minimize"}.get(opts["goal"], opts["goal"])
    if objective:
        body["objective"] = objective
    sampler = opts.get("sampler")
    if sampler or opts.get("seed") is not None:
        algo = body.get("sampling_algorithm")
        algo = dict(algo) if isinstance(algo, dict) else {"type": algo or "random"}
        if sampler:
            algo["type"] = "random" if sampler == "sobol" else sampler
            if sampler == "sobol":
                algo["rule"] = "sobol"
        if opts.get("seed") is not None:
            algo["seed"] = opts["seed"]
        body["sampling_algorithm"] = algo
    policy_keys = ("slack_factor", "truncation_percentage", "evaluation_interval")
    if opts.get("policy") or any(
        opts.get(k) is not None for k in (*policy_keys, "delay_evaluation")
    ):
        policy = body.get("early_termination")
        policy = dict(policy) if isinstance(policy, dict) else {}
        if opts.get("policy"):
            policy = {"type": opts["policy"]} if opts["policy"] != "none" else {}
        for key in (*policy_keys, "delay_evaluation"):
            if opts.get(key) is not None:
                policy[key] = opts[key]
        body["early_termination"] = policy or None
    limits = dict(body.get("limits") or {})
    for key, name in (
        ("max_total_trials", "max_total_trials"),
        ("max_concurrent_trials", "max_concurrent_trials"),
        ("sweep_timeout", "timeout"),
        ("trial_timeout", "trial_timeout"),
        ("target_value", "target_value"),
    ):
        if opts.get(key) is not None:
            limits[name] = opts[key]
    if limits:
        body["limits"] = limits
    return body


def watch_sweep(ctx: CliContext, sweep_id: str) -> int:
    """Print each trial as it ends, then the summary; the exit status is the sweep's."""
    seen: set[int] = set()
    sweeps = ctx.ws.sweeps
    info = sweeps.info(sweep_id)
    metric = info.spec.objective.primary_metric
    console.print(
        f"sweep {info.id}: {info.max_total_trials} trials, {info.spec.objective.goal} {metric}"
    )
    while True:
        info = sweeps.info(sweep_id)
        for t in sweeps.trials(sweep_id):
            if t.recorded and t.index not in seen:
                seen.add(t.index)
                params = ", ".join(f"{k}={_param(v)}" for k, v in t.parameters.items())
                why = f" — {t.termination.detail}" if t.termination else ""
                console.print(
                    f"trial {t.index}: {status_text(t.status.value)} {metric}={_number(t.value)} "
                    f"({params}){why}"
                )
        if info.status.is_final:
            sweep_details(info)
            return 0 if info.status.value == "completed" else 1
        time.sleep(0.5)


@sweep_group.command("list")
@click.option("--status", help="Only this status.")
@click.option("--compute", help="Only this compute target.")
@click.option("--limit", "-n", type=int, default=20, show_default=True)
@click.option("--cursor", help="next_cursor of a previous page.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def list_command(
    ctx: CliContext,
    status: str | None,
    compute: str | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
) -> None:
    """List sweeps, newest first."""
    page = ctx.ws.sweeps.list(status=status, compute=compute, limit=limit, cursor=cursor)
    if as_json:
        print_json(page)
        return
    console.print(sweeps_table(page.items))
    if page.next_cursor:
        console.print(f"[dim]more: --cursor {page.next_cursor}[/]")


@sweep_group.command("show")
@click.argument("sweep_id")
@click.option("--watch", "-w", is_flag=True, help="Follow it until it ends.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def show_command(ctx: CliContext, sweep_id: str, watch: bool, as_json: bool) -> None:
    """Show a sweep: its spec, progress and best trial."""
    if watch:
        raise SystemExit(watch_sweep(ctx, sweep_id))
    info = ctx.ws.sweeps.info(sweep_id)
    if as_json:
        print_json(info)
    else:
        sweep_details(info)


@sweep_group.command("trials")
@click.argument("sweep_id")
@click.option("--status", help="Only trials in this state.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def trials_command(ctx: CliContext, sweep_id: str, status: str | None, as_json: bool) -> None:
    """A sweep's trials: parameters, state, objective and why a trial was stopped."""
    info = ctx.ws.sweeps.info(sweep_id)
    trials = ctx.ws.sweeps.trials(info.id, status=status)
    if as_json:
        print_json({"items": [t.model_dump(mode="json") for t in trials]})
        return
    console.print(trials_table(trials, info.spec.objective.primary_metric, info.best_trial))


@sweep_group.command("cancel")
@click.argument("sweep_ids", nargs=-1, required=True)
@pass_ctx
def cancel_command(ctx: CliContext, sweep_ids: tuple[str, ...]) -> None:
    """Cancel sweeps: no new trials; running ones are interrupted."""
    for sweep_id in sweep_ids:
        info = ctx.ws.sweeps.cancel(sweep_id)
        state = "canceling" if info.cancel_requested and not info.status.is_final else ""
        click.echo(f"{info.id}: {state or info.status.value}")


@sweep_group.command("delete")
@click.argument("sweep_ids", nargs=-1, required=True)
@click.option("--keep-runs", is_flag=True, help="Keep the MLflow runs.")
@pass_ctx
def delete_command(ctx: CliContext, sweep_ids: tuple[str, ...], keep_runs: bool) -> None:
    """Delete finished sweeps with their trials' jobs."""
    for sweep_id in sweep_ids:
        ctx.ws.sweeps.delete(sweep_id, delete_runs=not keep_runs)
        click.echo(f"deleted {sweep_id}")
