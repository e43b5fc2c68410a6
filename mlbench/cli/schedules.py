"""``mlbench schedule|notify|scheduler|service ...``: schedules, notifications, their process."""

from __future__ import annotations

import shlex
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from mlbench.cli.context import CliContext
from mlbench.cli.render import console, print_json
from mlbench.errors import InvalidInputError
from mlbench.formatting import when

pass_ctx = click.make_pass_decorator(CliContext)


def _time(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(
            f"cannot read time {text!r}", hint="use ISO 8601, e.g. 2026-03-29T01:00 or ...+01:00"
        ) from None


def _trigger(
    cron: str | None,
    every: str | None,
    hours: tuple[int, ...],
    minutes: tuple[int, ...],
    days: tuple[str, ...],
    timezone: str | None,
    start: str | None,
    end: str | None,
) -> dict[str, Any]:
    trigger: dict[str, Any] = {}
    if cron:
        trigger["cron"] = cron
    if every:
        count, _, unit = every.partition(" ")
        if not unit:
            count, unit = "1", every
        try:
            interval = int(count)
        except ValueError:
            raise InvalidInputError(
                f"--every {every!r}", hint="e.g. --every day, --every '15 minute'"
            ) from None
        trigger["recurrence"] = {
            "frequency": unit.rstrip("s"),
            "interval": interval,
            "hours": list(hours),
            "minutes": list(minutes),
            "week_days": list(days),
        }
    if timezone:
        trigger["timezone"] = timezone
    if start:
        trigger["start_time"] = start
    if end:
        trigger["end_time"] = end
    return trigger


def trigger_options(f: Any) -> Any:
    for option in reversed(
        [
            click.option("--cron", help="5-field cron: minute hour day-of-month month weekday."),
            click.option(
                "--every", help="Recurrence: 'day', '2 week', '15 minute' (minute..month)."
            ),
            click.option("--hour", "hours", type=int, multiple=True, help="Recurrence hours."),
            click.option(
                "--minute", "minutes", type=int, multiple=True, help="Recurrence minutes."
            ),
            click.option("--day", "days", multiple=True, help="Recurrence week days (monday...)."),
            click.option("--timezone", "--tz", "timezone", help="IANA zone (default UTC)."),
            click.option("--start", help="No tick before it (ISO time; recurrence anchor)."),
            click.option("--end", help="No tick after it (ISO time)."),
        ]
    ):
        f = option(f)
    return f


def schedules_table(infos: list[Any]) -> Table:
    table = Table(box=None, header_style="bold")
    for col in ("ID", "NAME", "ENABLED", "RULE", "STARTS", "NEXT", "MISSED"):
        table.add_column(col, no_wrap=col != "RULE")
    for i in infos:
        table.add_row(
            i.id,
            i.name,
            "yes" if i.enabled else "[yellow]paused[/]",
            escape(i.describe),
            f"{i.kind} {Path(str(_notebook(i))).name}",
            i.next_fire_wall or "-",
            i.missed.policy.value,
        )
    return table


def _notebook(info: Any) -> str:
    if info.kind == "job":
        return info.action.get("notebook_path") or info.action.get("command") or ""
    if info.kind == "pipeline":
        return info.action.get("display_name") or f"{len(info.action.get('jobs') or {})} steps"
    return (info.action.get("trial") or {}).get("notebook_path", "")


@click.group("schedule")
def schedule_group() -> None:
    """Schedules: start a notebook job or a sweep on a cron or recurrence rule."""


@schedule_group.command("create")
@click.argument("name")
@click.option("--file", "-f", "source", type=click.Path(dir_okay=False), help="Schedule YAML.")
@click.option("--notebook", "-n", type=click.Path(dir_okay=False), help="Notebook job to start.")
@click.option("--sweep", type=click.Path(dir_okay=False), help="Sweep YAML to start.")
@click.option(
    "--pipeline", type=click.Path(dir_okay=False), help="Pipeline YAML (or .pipeline) to run."
)
@click.option("-p", "--param", "params", nargs=2, multiple=True, metavar="NAME VALUE")
@click.option("--compute", "-c", help="Compute target of the job.")
@trigger_options
@click.option(
    "--missed",
    type=click.Choice(["skip", "run_once", "catch_up"]),
    help="What to do with ticks missed while no scheduler ran (default skip).",
)
@click.option("--grace", type=float, help="Seconds a tick may be late and still run.")
@click.option("--max-catch-up", type=int, help="catch_up: run at most this many missed ticks.")
@click.option("--paused", is_flag=True, help="Create it paused.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def create_command(
    ctx: CliContext,
    name: str,
    source: str | None,
    notebook: str | None,
    sweep: str | None,
    pipeline: str | None,
    params: tuple[tuple[str, str], ...],
    compute: str | None,
    cron: str | None,
    every: str | None,
    hours: tuple[int, ...],
    minutes: tuple[int, ...],
    days: tuple[str, ...],
    timezone: str | None,
    start: str | None,
    end: str | None,
    missed: str | None,
    grace: float | None,
    max_catch_up: int | None,
    paused: bool,
    as_json: bool,
) -> None:
    """Create schedule NAME: `--notebook NB` (with -p), `--sweep FILE` or `--pipeline FILE` (its
    spec is stored with the schedule: after editing the file, create the schedule again), and
    `--cron EXPR` or `--every UNIT`; or everything from `--file schedule.yml` (Azure ML's keys
    work)."""
    from mlbench.schedules.service import load_yaml
    from mlbench.sweeps.service import load_yaml as load_sweep

    body: dict[str, Any] = load_yaml(Path(source)) if source else {}
    body["name"] = name
    trigger = _trigger(cron, every, hours, minutes, days, timezone, start, end)
    if trigger:
        if "cron" in trigger or "recurrence" in trigger:
            base = {
                k: v
                for k, v in dict(body.get("trigger") or {}).items()
                if k in ("timezone", "time_zone", "start_time", "end_time")
            }
        else:
            base = dict(body.get("trigger") or {})
        body["trigger"] = {**base, **trigger}
    if notebook:
        job: dict[str, Any] = {"notebook_path": str(Path(notebook).resolve())}
        if params:
            job["parameters"] = dict(params)
            job["allow_unknown_params"] = False
        if compute:
            job["compute"] = compute
        body["job"] = job
    elif sweep:
        body["sweep"] = load_sweep(Path(sweep))
    elif pipeline:
        body["pipeline"] = str(Path(pipeline).resolve())
    elif params or compute:
        job = dict(body.get("job") or {})
        if params:
            job["parameters"] = {**dict(job.get("parameters") or {}), **dict(params)}
        if compute:
            job["compute"] = compute
        body["job"] = job
    policy = {
        k: v
        for k, v in (("policy", missed), ("grace_s", grace), ("max_catch_up", max_catch_up))
        if v is not None
    }
    if policy:
        body["missed"] = {**dict(body.get("missed") or {}), **policy}
    if paused:
        body["enabled"] = False
    if "job" in body and body["job"].get("parameters"):
        body["job"]["parameters"] = _typed(body["job"]["parameters"])
    info = ctx.ws.schedules.create(body)
    if as_json:
        print_json(info)
        return
    console.print(f"schedule [bold]{info.name}[/] ({info.id}): {escape(info.describe)}")
    console.print(f"next run: {info.next_fire_wall or '-'}")


def _typed(params: dict[str, Any]) -> dict[str, Any]:
    """Command-line values as YAML reads them (2 -> int, 0.1 -> float, true -> bool)."""
    import yaml

    out = {}
    for k, v in params.items():
        if isinstance(v, str):
            try:
                out[k] = yaml.safe_load(v)
            except yaml.YAMLError:
                out[k] = v
        else:
            out[k] = v
    return out


@schedule_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def list_command(ctx: CliContext, as_json: bool) -> None:
    """Every schedule, with its next run."""
    infos = ctx.ws.schedules.list()
    if as_json:
        print_json(infos)
    elif not infos:
        console.print("no schedules (create one with `mlbench schedule create`)")
    else:
        console.print(schedules_table(infos))


@schedule_group.command("show")
@click.argument("ref")
@click.option("--runs", "limit", type=int, default=10, show_default=True, help="Last runs shown.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def show_command(ctx: CliContext, ref: str, limit: int, as_json: bool) -> None:
    """A schedule (by name or id) and its last runs."""
    info = ctx.ws.schedules.info(ref)
    runs = ctx.ws.schedules.runs(info.id, limit=limit)
    if as_json:
        print_json({"schedule": info.model_dump(mode="json"), "runs": runs})
        return
    table = Table(box=None, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    rows = [
        ("id", info.id),
        ("name", info.name),
        ("enabled", "yes" if info.enabled else "paused"),
        ("rule", escape(info.describe)),
        ("starts", f"{info.kind}: {_notebook(info)}"),
        ("missed runs", f"{info.missed.policy.value} (grace {info.missed.grace_s:g} s)"),
        ("next run", info.next_fire_wall or "-"),
        ("created", when(info.created_at)),
    ]
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)
    if runs:
        t = Table(box=None, header_style="bold")
        for col in ("TICK", "STATUS", "STARTED", "LATE", "ERROR"):
            t.add_column(col)
        for r in runs:
            late = f"{r.late_s:.1f} s" if r.late_s is not None else "-"
            t.add_row(r.wall, r.status.value, r.target_id or "-", late, escape(r.error or ""))
        console.print(t)


@schedule_group.command("pause")
@click.argument("ref")
@pass_ctx
def pause_command(ctx: CliContext, ref: str) -> None:
    """Stop firing it (ticks while paused are not missed runs)."""
    info = ctx.ws.schedules.pause(ref)
    console.print(f"schedule {info.name} paused")


@schedule_group.command("resume")
@click.argument("ref")
@pass_ctx
def resume_command(ctx: CliContext, ref: str) -> None:
    """Fire it again from the next tick."""
    info = ctx.ws.schedules.resume(ref)
    console.print(f"schedule {info.name} resumed; next run {info.next_fire_wall or '-'}")


@schedule_group.command("delete")
@click.argument("ref")
@pass_ctx
def delete_command(ctx: CliContext, ref: str) -> None:
    """Delete it and its run records (the jobs it started stay)."""
    info = ctx.ws.schedules.info(ref)
    ctx.ws.schedules.delete(info.id)
    console.print(f"schedule {info.name} deleted")


@schedule_group.command("next")
@click.argument("ref", required=False)
@trigger_options
@click.option("--after", help="From this time (ISO; without offset: in the rule's zone).")
@click.option("-n", "count", type=int, default=5, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def next_command(
    obj: CliContext,
    ref: str | None,
    cron: str | None,
    every: str | None,
    hours: tuple[int, ...],
    minutes: tuple[int, ...],
    days: tuple[str, ...],
    timezone: str | None,
    start: str | None,
    end: str | None,
    after: str | None,
    count: int,
    as_json: bool,
) -> None:
    """The next N fire times of schedule REF, or of a rule given with --cron/--every (nothing
    is created, no workspace is opened)."""
    from mlbench.schedules.service import preview

    if ref:
        ticks = obj.ws.schedules.next(ref, count, _time(after))
    else:
        trigger = _trigger(cron, every, hours, minutes, days, timezone, start, end)
        if "cron" not in trigger and "recurrence" not in trigger:
            raise InvalidInputError(
                "give a schedule, or a rule with --cron or --every",
                hint="e.g. mlbench schedule next --cron '30 2 * * *' --timezone Europe/Berlin",
            )
        ticks = preview(trigger, count, _time(after))
    if as_json:
        print_json(ticks)
        return
    for t in ticks.ticks:
        console.print(f"{t.wall}  ({t.at.strftime('%Y-%m-%d %H:%M:%S')} UTC)")


# -- notifications ----------------------------------------------------------------------------
@click.group("notify")
def notify_group() -> None:
    """Notification rules: send job, sweep, pipeline and schedule events to open JupyterLabs,
    webhooks, Slack or email."""


@notify_group.command("add")
@click.argument("name")
@click.option(
    "--on",
    "events",
    multiple=True,
    required=True,
    help="Event: job.failed, job.completed, job.timed_out, sweep.*, schedule.missed...",
)
@click.option(
    "--jupyterlab",
    is_flag=True,
    help="Show a toast in every open JupyterLab (with an Open button).",
)
@click.option("--webhook", help="POST signed JSON to this URL.")
@click.option("--slack", help="Slack incoming-webhook URL (kept as a secret).")
@click.option("--email", "to", multiple=True, help="Send email to this address.")
@click.option("--secret-env", help="Environment variable holding the webhook's HMAC key.")
@click.option("--sender", help="email: the From address.")
@click.option("--smtp", "smtp", help="email: SMTP server HOST[:PORT] (default port 587).")
@click.option("--username", help="email: SMTP login.")
@click.option("--password-env", help="email: environment variable holding the SMTP password.")
@click.option("--no-starttls", is_flag=True, help="email: do not use STARTTLS (local relays).")
@click.option("--ca-file", type=click.Path(dir_okay=False), help="email: CA bundle.")
@click.option("--experiment", help="Only events of this experiment.")
@click.option("--schedule", help="Only events of jobs this schedule started.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def notify_add_command(
    ctx: CliContext,
    name: str,
    events: tuple[str, ...],
    jupyterlab: bool,
    webhook: str | None,
    slack: str | None,
    to: tuple[str, ...],
    secret_env: str | None,
    sender: str | None,
    smtp: str | None,
    username: str | None,
    password_env: str | None,
    no_starttls: bool,
    ca_file: str | None,
    experiment: str | None,
    schedule: str | None,
    as_json: bool,
) -> None:
    """Add rule NAME. Secrets come from environment variables, never from the command line
    (where `ps` and the shell history would see them)."""
    import os

    chosen = [x for x in (jupyterlab, webhook, slack, to) if x]
    if len(chosen) != 1:
        raise InvalidInputError("give exactly one of --jupyterlab, --webhook, --slack and --email")
    body: dict[str, Any] = {"name": name, "events": list(events)}
    if jupyterlab:
        body.update(channel="jupyterlab")
    elif webhook:
        body.update(channel="webhook", url=webhook)
    elif slack:
        body.update(channel="slack", url=slack)
    else:
        body.update(channel="email", to=list(to), sender=sender, starttls=not no_starttls)
        if smtp:
            host, _, port = smtp.partition(":")
            body["smtp_host"] = host
            if port:
                body["smtp_port"] = int(port)
        if username:
            body["username"] = username
        if ca_file:
            body["ca_file"] = str(Path(ca_file).resolve())
    for option, key in ((secret_env, "secret"), (password_env, "password")):
        if option:
            value = os.environ.get(option)
            if not value:
                raise InvalidInputError(f"environment variable {option} is not set")
            body[key] = value
    filters = {k: v for k, v in (("experiment", experiment), ("schedule", schedule)) if v}
    if filters:
        body["filters"] = filters
    info = ctx.ws.notifications.add(body)
    if as_json:
        print_json(info)
    else:
        console.print(f"notification rule [bold]{info.name}[/] ({info.id}) added")


@notify_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def notify_list_command(ctx: CliContext, as_json: bool) -> None:
    """Every rule (secrets shown by name only)."""
    infos = ctx.ws.notifications.list()
    if as_json:
        print_json(infos)
        return
    if not infos:
        console.print("no notification rules (add one with `mlbench notify add`)")
        return
    table = Table(box=None, header_style="bold")
    for col in ("ID", "NAME", "CHANNEL", "TO", "EVENTS", "SECRETS"):
        table.add_column(col)
    for i in infos:
        target = i.config.get("url") or ", ".join(i.config.get("to") or [])
        table.add_row(
            i.id,
            i.name,
            i.channel,
            escape(str(target)),
            ", ".join(i.events),
            ", ".join(i.secrets) or "-",
        )
    console.print(table)


@notify_group.command("test")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def notify_test_command(ctx: CliContext, ref: str, as_json: bool) -> None:
    """Send a test notification through rule REF now; exit 1 if it failed. A jupyterlab rule's
    test is put on the event stream: delivered once a Jupyter server shows it (`notify log`)."""
    delivery = ctx.ws.notifications.test(ref)
    if as_json:
        print_json(delivery)
    elif delivery.status == "delivered":
        console.print("delivered")
    elif delivery.status == "sending":
        console.print("sent to the open JupyterLabs (see `mlbench notify log` for who showed it)")
    else:
        console.print(f"[red]not delivered:[/] {escape(delivery.last_error or '')}")
    if delivery.status not in ("delivered", "sending"):
        sys.exit(1)


@notify_group.command("log")
@click.argument("ref", required=False)
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def notify_log_command(ctx: CliContext, ref: str | None, limit: int, as_json: bool) -> None:
    """Deliveries, newest first, with their attempts."""
    items = ctx.ws.notifications.deliveries(ref, limit=limit)
    if as_json:
        print_json(items)
        return
    table = Table(box=None, header_style="bold")
    for col in ("ID", "RULE", "EVENT", "STATUS", "ATTEMPTS", "LAST ERROR"):
        table.add_column(col)
    for d in items:
        table.add_row(
            str(d.id), d.rule_id, d.event, d.status, str(d.attempts), escape(d.last_error or "")
        )
    console.print(table)


@notify_group.command("delete")
@click.argument("ref")
@pass_ctx
def notify_delete_command(ctx: CliContext, ref: str) -> None:
    """Delete rule REF, its secrets and its delivery log."""
    ctx.ws.notifications.delete(ref)
    console.print(f"notification rule {ref} deleted")


# -- the scheduler process --------------------------------------------------------------------
@click.group("scheduler")
def scheduler_group() -> None:
    """The scheduler process (fires schedules, sends notifications; starts on demand)."""


@scheduler_group.command("start")
@click.option("--foreground", is_flag=True, help="Run here until Ctrl-C (no idle exit).")
@pass_ctx
def scheduler_start(ctx: CliContext, foreground: bool) -> None:
    """Start the scheduler unless it runs."""
    if foreground:
        from mlbench.scheduler.__main__ import main

        sys.exit(main(["--workspace", str(ctx.ws.home)]))
    handle = ctx.ws.schedules.scheduler()
    handle.ensure_running(wait=True)
    console.print(f"scheduler running: pid {(handle.info() or {}).get('pid')}")


@scheduler_group.command("stop")
@pass_ctx
def scheduler_stop(ctx: CliContext) -> None:
    """Stop the scheduler (a user service started by systemd is restarted by it)."""
    stopped = ctx.ws.schedules.scheduler().stop()
    console.print("scheduler stopped" if stopped else "no scheduler running")


@scheduler_group.command("status")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def scheduler_status(ctx: CliContext, as_json: bool) -> None:
    """Whether the scheduler runs, and the enabled schedules' next runs."""
    info = ctx.ws.schedules.scheduler().info()
    enabled = ctx.ws.schedules.list(enabled=True)
    if as_json:
        print_json({"scheduler": info, "enabled_schedules": len(enabled)})
        return
    if info:
        mode = "on demand" if info.get("on_demand") else "service"
        console.print(f"running ({mode}): pid {info.get('pid')}, since {info.get('started_at')}")
    else:
        console.print("not running (it starts when a schedule or notification rule is added)")
    console.print(f"{len(enabled)} enabled schedule(s)")
    upcoming = sorted((i for i in enabled if i.next_fire_at), key=lambda i: i.next_fire_at)
    if upcoming:
        console.print(f"next: {upcoming[0].name} at {upcoming[0].next_fire_wall}")


# -- the user service -------------------------------------------------------------------------
@click.group("service")
def service_group() -> None:
    """Run the scheduler as a user service, so schedules survive a reboot."""


@service_group.command("install")
@click.option(
    "--unit-dir",
    type=click.Path(file_okay=False),
    help="Where to write the unit (default: $XDG_CONFIG_HOME/systemd/user).",
)
@pass_ctx
def service_install(ctx: CliContext, unit_dir: str | None) -> None:
    """Write a systemd user unit for this workspace's scheduler and print how to enable it
    (nothing is started here), and the command line for other init systems."""
    from mlbench.scheduler.service import install_unit

    home = ctx.ws.home
    path, name, command = install_unit(home, Path(unit_dir) if unit_dir else None)
    console.print(f"wrote {path}")
    console.print("enable and start it (and keep it running after you log out) with:")
    console.print(f"  systemctl --user daemon-reload && systemctl --user enable --now {name}")
    console.print("  loginctl enable-linger $USER")
    console.print(
        "without systemd, have your init system (launchd, runit, supervisord, cron "
        "@reboot) run, with restart on exit:"
    )
    console.print(f"  {shlex.join(command)}", soft_wrap=True)
