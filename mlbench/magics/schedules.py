"""``%mlbench schedule ...`` and ``%mlbench notify ...``: the verbs of ``mlbench schedule`` and
``mlbench notify`` over ``ws.schedules`` and ``ws.notifications``.

``%mlbench schedule create NAME --cron EXPR`` without a notebook schedules the notebook the
kernel runs in (JupyterLab tells the kernel its path); ``--job ID`` schedules the spec of a job
that ran (its notebook, parameters, compute, resources...); ``--file`` reads a schedule YAML.
Secrets of notification rules come from environment variables only, as in the CLI.
"""

from __future__ import annotations

import argparse
import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlbench.magics.parser import (
    MagicParser,
    MlbenchUsageError,
    _existing_file,
    _positive_int,
    add_parameter_options,
    add_spec_options,
)

if TYPE_CHECKING:
    from mlbench.workspace import Workspace


# -- arguments ---------------------------------------------------------------------------------
def _trigger_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("rule (as in `mlbench schedule create`)")
    g.add_argument("--cron", help="5-field cron: minute hour day-of-month month weekday")
    g.add_argument("--every", help="recurrence: 'day', '2 week', '15 minute' (minute..month)")
    g.add_argument("--hour", dest="hours", type=int, action="append", default=[])
    g.add_argument("--minute", dest="minutes", type=int, action="append", default=[])
    g.add_argument("--day", dest="days", action="append", default=[], help="monday..sunday")
    g.add_argument("--timezone", "--tz", dest="timezone", help="IANA zone (default UTC)")
    g.add_argument("--start", help="no tick before it (ISO time; recurrence anchor)")
    g.add_argument("--end", help="no tick after it (ISO time)")


def add_schedule_parser(sub: Any) -> None:
    p = sub.add_parser(
        "schedule",
        help="schedules: list, show, create, pause, resume, delete, next",
        description="Start a notebook job or a sweep on a cron or recurrence rule in a time zone,\n"
        "fired by the workspace's scheduler process (no Jupyter server needed).",
    )
    s = p.add_subparsers(dest="schedule_command", metavar="COMMAND", parser_class=MagicParser)
    sp = s.add_parser("list", help="every schedule, its rule in words and its next run")
    state = sp.add_mutually_exclusive_group()
    state.add_argument("--enabled", dest="enabled", action="store_const", const=True)
    state.add_argument("--paused", dest="enabled", action="store_const", const=False)
    sp = s.add_parser("show", help="a schedule and its last runs")
    sp.add_argument("ref", metavar="NAME|ID")
    sp.add_argument("--runs", type=_positive_int, default=10, help="last runs shown")
    sp = s.add_parser(
        "create",
        help="create NAME from this notebook, NOTEBOOK, a job's spec or a YAML file",
        description="Create schedule NAME. What it starts: NOTEBOOK, else --job ID (the spec of\n"
        "a job that ran), else --sweep FILE.yml, else --file's action, else the notebook this\n"
        "kernel runs. The rule: --cron or --every (or --file's).",
    )
    sp.add_argument("name")
    sp.add_argument("notebook", nargs="?", help="default: the notebook of this kernel")
    source = sp.add_mutually_exclusive_group()
    source.add_argument("--job", dest="job_id", metavar="ID", help="start this job's spec again")
    source.add_argument("--sweep", type=_existing_file, metavar="FILE.yml", help="a sweep YAML")
    source.add_argument(
        "--pipeline", type=_existing_file, metavar="FILE.yml", help="a pipeline YAML"
    )
    sp.add_argument("--file", type=_existing_file, metavar="FILE.yml", help="a schedule YAML")
    _trigger_options(sp)
    sp.add_argument("--missed", choices=("skip", "run_once", "catch_up"))
    sp.add_argument("--grace", type=float, help="seconds a tick may be late and still run")
    sp.add_argument("--max-catch-up", type=_positive_int)
    sp.add_argument("--paused", action="store_true", help="create it paused")
    sp.add_argument("--description", default=None)
    add_parameter_options(sp)
    add_spec_options(sp, rerun=True)  # no defaults: JobSpec's, or the --job's
    for verb, text in (
        ("pause", "stop firing it (ticks while paused are not missed runs)"),
        ("resume", "fire it again from the next tick"),
        ("delete", "delete it and its run records (the jobs it started stay)"),
    ):
        sp = s.add_parser(verb, help=text)
        sp.add_argument("ref", metavar="NAME|ID")
    sp = s.add_parser(
        "next", help="the next fire times of a schedule, or of a rule given with --cron/--every"
    )
    sp.add_argument("ref", nargs="?", metavar="NAME|ID")
    _trigger_options(sp)
    sp.add_argument("--after", help="from this time (ISO; without offset: in the rule's zone)")
    sp.add_argument("-n", dest="count", type=_positive_int, default=5)


def add_notify_parser(sub: Any) -> None:
    p = sub.add_parser(
        "notify",
        help="notification rules: list, show, add, test, log, delete",
        description="Send job, sweep and schedule events to a signed webhook, Slack or email.",
    )
    s = p.add_subparsers(dest="notify_command", metavar="COMMAND", parser_class=MagicParser)
    s.add_parser("list", help="every rule (secrets by name only)")
    sp = s.add_parser("show", help="a rule and its last deliveries")
    sp.add_argument("ref", metavar="NAME|ID")
    sp = s.add_parser(
        "add",
        help="add rule NAME (secrets from environment variables only)",
        description="Add rule NAME: --on EVENT (repeatable) and one of --jupyterlab, --webhook,\n"
        "--slack-env, --email. Secrets are read from environment variables, never from the line.",
    )
    sp.add_argument("name")
    sp.add_argument("--on", dest="events", action="append", required=True, metavar="EVENT")
    sp.add_argument("--jupyterlab", action="store_true", help="a toast in every open JupyterLab")
    sp.add_argument("--webhook", metavar="URL", help="POST signed JSON here")
    sp.add_argument("--secret-env", metavar="VAR", help="variable holding the webhook's HMAC key")
    sp.add_argument("--slack-env", metavar="VAR", help="variable holding a Slack webhook URL")
    sp.add_argument("--email", dest="to", action="append", default=[], metavar="ADDRESS")
    sp.add_argument("--sender", help="email: the From address")
    sp.add_argument("--smtp", help="email: HOST[:PORT] (default port 587)")
    sp.add_argument("--username", help="email: SMTP login")
    sp.add_argument("--password-env", metavar="VAR", help="variable holding the SMTP password")
    sp.add_argument("--no-starttls", action="store_true", help="email: no STARTTLS (local relays)")
    sp.add_argument("--experiment", help="only events of this experiment")
    sp.add_argument("--schedule", help="only events of jobs this schedule started")
    sp = s.add_parser("test", help="send a test event through a rule now")
    sp.add_argument("ref", metavar="NAME|ID")
    sp = s.add_parser("log", help="deliveries, newest first, with their attempts")
    sp.add_argument("ref", nargs="?", metavar="NAME|ID")
    sp.add_argument("-n", "--limit", type=_positive_int, default=20)
    sp = s.add_parser("delete", help="delete a rule, its secrets and its delivery log")
    sp.add_argument("ref", metavar="NAME|ID")


# -- helpers -----------------------------------------------------------------------------------
def trigger_from(args: argparse.Namespace) -> dict[str, Any]:
    trigger: dict[str, Any] = {}
    if args.cron:
        trigger["cron"] = args.cron
    if args.every:
        count, _, unit = args.every.strip().partition(" ")
        if not unit:
            count, unit = "1", count
        try:
            interval = int(count)
        except ValueError:
            raise MlbenchUsageError(
                f"--every {args.every!r}: give 'UNIT' or 'N UNIT', e.g. 'day' or '15 minute'"
            ) from None
        trigger["recurrence"] = {
            "frequency": unit.strip().rstrip("s"),
            "interval": interval,
            "hours": args.hours,
            "minutes": args.minutes,
            "week_days": args.days,
        }
    for key, value in (
        ("timezone", args.timezone),
        ("start_time", args.start),
        ("end_time", args.end),
    ):
        if value:
            trigger[key] = value
    return trigger


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise MlbenchUsageError(
            f"cannot read time {text!r}; use ISO 8601, e.g. 2026-03-29T01:00"
        ) from None


def current_notebook(user_ns: dict[str, Any] | None = None) -> Path | None:
    """The notebook this kernel runs, as JupyterLab tells it (``__session__``,
    ``JPY_SESSION_NAME``): absolute, or relative to the server root (then found from the
    kernel's working folder, which is the notebook's folder)."""
    value = (user_ns or {}).get("__session__") or os.environ.get("JPY_SESSION_NAME")
    if not value or not str(value).endswith(".ipynb"):
        return None
    path = Path(str(value)).expanduser()
    if path.is_absolute():
        return path if path.is_file() else None
    for candidate in (Path.cwd() / path, Path.cwd() / path.name):
        if candidate.is_file():
            return candidate.resolve()
    return None


# -- verbs -------------------------------------------------------------------------------------
def schedule_command(
    ws: Workspace,
    args: argparse.Namespace,
    *,
    parameters: dict[str, Any],
    spec_fields: dict[str, Any],
    user_ns: dict[str, Any] | None = None,
) -> Any:
    from mlbench.widgets.schedules import schedule_table, schedules_table, ticks_table

    schedules = ws.schedules
    command = args.schedule_command
    if command == "list":
        return schedules_table(schedules.list(enabled=args.enabled))
    if command == "show":
        info = schedules.info(args.ref)
        return schedule_table(info, schedules.runs(info.id, limit=args.runs))
    if command == "create":
        info = schedules.create(
            _create_body(ws, args, parameters=parameters, spec_fields=spec_fields, user_ns=user_ns)
        )
        return schedule_table(info, [])
    if command in ("pause", "resume"):
        info = getattr(schedules, command)(args.ref)
        return schedule_table(info, schedules.runs(info.id, limit=5))
    if command == "delete":
        info = schedules.info(args.ref)
        schedules.delete(info.id)
        print(f"schedule {info.name} deleted")
        return None
    if command == "next":
        if args.ref:
            info = schedules.info(args.ref)
            ticks = schedules.next(info.id, args.count, _time(args.after))
            return ticks_table(ticks, title=f"Next runs of {info.name}")
        trigger = trigger_from(args)
        if "cron" not in trigger and "recurrence" not in trigger:
            raise MlbenchUsageError(
                "%mlbench schedule next: give a schedule, or a rule with --cron or --every"
            )
        from mlbench.schedules.service import preview

        return ticks_table(preview(trigger, args.count, _time(args.after)))
    raise MlbenchUsageError(
        "%mlbench schedule: give a command (list, show, create, pause, resume, delete, next)"
    )


def _create_body(
    ws: Workspace,
    args: argparse.Namespace,
    *,
    parameters: dict[str, Any],
    spec_fields: dict[str, Any],
    user_ns: dict[str, Any] | None,
) -> dict[str, Any]:
    from mlbench.schedules.service import load_yaml

    body: dict[str, Any] = load_yaml(Path(args.file)) if args.file else {}
    body["name"] = args.name
    trigger = trigger_from(args)
    if "cron" in trigger or "recurrence" in trigger:
        body["trigger"] = trigger
    elif trigger:
        body["trigger"] = {**dict(body.get("trigger") or {}), **trigger}
    if "trigger" not in body:
        raise MlbenchUsageError(
            "%mlbench schedule create: give the rule, --cron EXPR or --every UNIT"
        )
    has_action = any(k in body for k in ("job", "create_job", "sweep", "pipeline"))
    job: dict[str, Any] | None = None
    if args.notebook:
        job = {"notebook_path": str(Path(args.notebook).expanduser().resolve())}
    elif args.job_id:
        job = ws.jobs.spec(args.job_id).model_dump(mode="json", exclude_defaults=True)
        for key in ("tags",):  # the old job's own tags (a parent, a schedule) are not copied
            job.pop(key, None)
    elif args.sweep:
        from mlbench.sweeps.service import load_yaml as load_sweep

        body["sweep"] = load_sweep(Path(args.sweep))
    elif args.pipeline:
        body["pipeline"] = str(Path(args.pipeline).resolve())
    elif not has_action:
        nb = current_notebook(user_ns)
        if nb is None:
            raise MlbenchUsageError(
                "%mlbench schedule create: this kernel does not know its notebook; "
                "give NOTEBOOK, --job ID, --sweep FILE.yml, --pipeline FILE.yml or --file FILE.yml"
            )
        job = {"notebook_path": str(nb)}
    if job is not None:
        if parameters and job.get("notebook_path"):  # typed now, as `run -p` types them
            from mlbench.jobs.parameters import coerce_parameters

            parameters = coerce_parameters(
                parameters,
                ws.jobs.parameters(job["notebook_path"]),
                allow_unknown=bool(spec_fields.get("allow_unknown_params")),
            )
        if parameters:
            job["parameters"] = {**dict(job.get("parameters") or {}), **parameters}
        for key, value in spec_fields.items():
            if key == "tags":  # a schedule made inside a job does not make its jobs children
                tags = {k: v for k, v in value.items() if k != "mlbench.parent_job_id"}
                job["tags"] = {**dict(job.get("tags") or {}), **tags}
            else:
                job[key] = value
        body.pop("create_job", None)
        body["job"] = job
    missed = {
        k: v
        for k, v in (
            ("policy", args.missed),
            ("grace_s", args.grace),
            ("max_catch_up", args.max_catch_up),
        )
        if v is not None
    }
    if missed:
        body["missed"] = {**dict(body.get("missed") or {}), **missed}
    if args.paused:
        body["enabled"] = False
    if args.description is not None:
        body["description"] = args.description
    return body


def notify_command(ws: Workspace, args: argparse.Namespace) -> Any:
    from mlbench.widgets.schedules import (
        deliveries_table,
        notification_table,
        notifications_table,
    )

    rules = ws.notifications
    command = args.notify_command
    if command == "list":
        return notifications_table(rules.list())
    if command == "show":
        info = rules.info(args.ref)
        return notification_table(info, rules.deliveries(info.id, limit=10))
    if command == "add":
        info = rules.add(_rule_body(args))
        return notification_table(info, [])
    if command == "test":
        delivery = rules.test(args.ref)
        if delivery.status == "sending":  # a jupyterlab rule: a server's stream shows it
            print(f"sent to the open JupyterLabs ({delivery.event} through {args.ref})")
            return None
        if delivery.status != "delivered":
            raise MlbenchUsageError(f"not delivered: {delivery.last_error or delivery.status}")
        print(f"delivered ({delivery.event} through {args.ref})")
        return None
    if command == "log":
        return deliveries_table(rules.deliveries(args.ref, limit=args.limit))
    if command == "delete":
        info = rules.info(args.ref)
        rules.delete(info.id)
        print(f"notification rule {info.name} deleted")
        return None
    raise MlbenchUsageError("%mlbench notify: give a command (list, show, add, test, log, delete)")


def _env(var: str) -> str:
    value = os.environ.get(var)
    if not value:
        raise MlbenchUsageError(f"environment variable {var} is not set")
    return value


def _rule_body(args: argparse.Namespace) -> dict[str, Any]:
    chosen = [x for x in (args.jupyterlab, args.webhook, args.slack_env, args.to) if x]
    if len(chosen) != 1:
        raise MlbenchUsageError(
            "give exactly one of --jupyterlab, --webhook, --slack-env and --email"
        )
    body: dict[str, Any] = {"name": args.name, "events": args.events}
    if args.jupyterlab:
        body.update(channel="jupyterlab")
    elif args.webhook:
        body.update(channel="webhook", url=args.webhook)
        if args.secret_env:
            body["secret"] = _env(args.secret_env)
    elif args.slack_env:
        body.update(channel="slack", url=_env(args.slack_env))
    else:
        body.update(channel="email", to=args.to, sender=args.sender, starttls=not args.no_starttls)
        if args.smtp:
            host, _, port = args.smtp.partition(":")
            body["smtp_host"] = host
            if port:
                body["smtp_port"] = int(port)
        if args.username:
            body["username"] = args.username
        if args.password_env:
            body["password"] = _env(args.password_env)
    filters = {k: v for k, v in (("experiment", args.experiment), ("schedule", args.schedule)) if v}
    if filters:
        body["filters"] = filters
    return body
