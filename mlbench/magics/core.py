"""``%mlbench`` and ``%%mlbench job``: a thin face over the SDK, like the CLI.

Each subcommand parses its arguments (options named as in the CLI), calls ``mlbench.Workspace``
and shows what comes back: a live widget for jobs, a table or chart otherwise. Every result is
displayed by the magic itself and also returned, so ``w = %mlbench submit nb.ipynb`` both shows
the widget and keeps it. mlbench's errors and bad arguments end the cell with one line
(``UsageError: ...``), never a traceback (see :class:`MlbenchUsageError`).

Inside a job (``MLBENCH_JOB_ID`` is set by the agent) the magics use the job's workspace, tag
the jobs they submit with ``mlbench.parent_job_id``, print progress lines to the job's log
instead of relying on live widgets, refuse to block on a child that could never start, and
cancel a child they were waiting on when the job is interrupted.
"""

from __future__ import annotations

import argparse
import keyword
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.magic import Magics, line_cell_magic, magics_class
from traitlets import Unicode

from mlbench.errors import MlbenchError, WaitTimeoutError
from mlbench.magics.parser import (
    SPEC_OPTIONS,
    HelpShown,
    MlbenchUsageError,
    build_parser,
    parse,
)

if TYPE_CHECKING:
    from mlbench.jobs.job import Job
    from mlbench.jobs.models import JobInfo
    from mlbench.widgets.job import JobWidget
    from mlbench.workspace import Workspace

log = logging.getLogger(__name__)

JOB_ENV = "MLBENCH_JOB_ID"
PARENT_TAG = "mlbench.parent_job_id"


def current_job_id() -> str | None:
    """The job this kernel runs, when it runs one."""
    return os.environ.get(JOB_ENV) or None


def _one_line(exc: MlbenchError) -> str:
    text = " ".join(exc.message.split())
    return f"{text} (hint: {' '.join(exc.hint.split())})" if exc.hint else text


@magics_class
class MlbenchMagics(Magics):
    """``%mlbench COMMAND ...`` and ``%%mlbench job``; ``%mlbench --help`` lists commands."""

    workspace = Unicode(
        None,
        allow_none=True,
        help="Workspace folder of the magics (default: $MLBENCH_HOME or ~/.mlbench).",
    ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._parser = build_parser()
        self._workspaces: dict[Path, Workspace] = {}

    # -- entry point -------------------------------------------------------------------------
    @line_cell_magic
    def mlbench(self, line: str = "", cell: str | None = None) -> Any:
        """Submit, follow and inspect mlbench jobs and runs. ``%mlbench --help`` for more."""
        try:
            args = parse(self._parser, line)
        except HelpShown:
            return None
        if args.command is None:
            self._parser.print_help()
            return None
        if cell is not None and args.command != "job":
            raise MlbenchUsageError(
                f"%%mlbench runs only `job` as a cell magic, not {args.command!r} "
                "(use %mlbench on one line)"
            )
        if args.command == "job" and cell is None:
            raise MlbenchUsageError(
                "`job` is a cell magic: start a cell with `%%mlbench job [options]` "
                "and put the job's code below it"
            )
        handler = getattr(self, f"_cmd_{args.command}")
        try:
            result = handler(args, cell) if args.command == "job" else handler(args)
        except MlbenchError as exc:
            raise MlbenchUsageError(_one_line(exc)) from None
        if result is not None and hasattr(result, "show"):
            result.show()
        return result

    # -- workspace ---------------------------------------------------------------------------
    def _ws(self, args: argparse.Namespace) -> Workspace:
        from mlbench.config import resolve_home
        from mlbench.sdk import Workspace

        home = resolve_home(args.workspace or self.workspace or None)
        ws = self._workspaces.get(home)
        if ws is None:
            ws = self._workspaces[home] = Workspace(home)
        return ws

    def close(self) -> None:
        for ws in self._workspaces.values():
            ws.close()
        self._workspaces.clear()

    # -- jobs ----------------------------------------------------------------------------------
    def _cmd_run(self, args: argparse.Namespace) -> JobWidget:
        ws = self._ws(args)
        self._before_blocking(ws, args.compute)
        job = ws.jobs.submit(args.notebook, self._parameters(args), **self._submit_options(args))
        return self._follow(ws, job, check=args.check)

    def _cmd_submit(self, args: argparse.Namespace) -> JobWidget:
        ws = self._ws(args)
        job = ws.jobs.submit(args.notebook, self._parameters(args), **self._submit_options(args))
        return self._widget(ws, job)

    def _cmd_job(self, args: argparse.Namespace, cell: str) -> JobWidget:
        from mlbench.magics.cell import (
            build_notebook,
            cell_notebook_name,
            current_kernel_name,
            temporary_notebook,
        )

        if not cell.strip():
            raise MlbenchUsageError(
                "%%mlbench job: the cell is empty; put the job's code below the magic"
            )
        ws = self._ws(args)
        parameters = self._parameters(args)
        bad = [n for n in parameters if not n.isidentifier() or keyword.iskeyword(n)]
        if bad:
            raise MlbenchUsageError(
                f"%%mlbench job: not a Python name: {', '.join(map(repr, bad))}"
            )
        if args.wait:
            self._before_blocking(ws, args.compute)
        options = self._submit_options(args)
        options["kernel_name"] = options.get("kernel_name") or current_kernel_name()
        options.setdefault("cwd", os.getcwd())  # where the cell would have run
        nb = build_notebook(cell, parameters, options["kernel_name"])
        with temporary_notebook(ws.home, nb, cell_notebook_name()) as path:
            job = ws.jobs.submit(path, parameters, **options)
        if args.wait:
            return self._follow(ws, job, check=args.check)
        return self._widget(ws, job)

    def _cmd_rerun(self, args: argparse.Namespace) -> JobWidget:
        ws = self._ws(args)
        changes = self._submit_options(args)
        if "tags" in changes:  # tags given are added to the original's
            changes["tags"] = {**ws.jobs.info(args.job_id).tags, **changes["tags"]}
        if args.wait:
            compute = args.compute or ws.jobs.info(args.job_id).compute
            self._before_blocking(ws, compute)
        job = ws.jobs.rerun(args.job_id, self._parameters(args), **changes)
        if args.wait:
            return self._follow(ws, job, check=args.check)
        return self._widget(ws, job)

    def _cmd_show(self, args: argparse.Namespace) -> JobWidget:
        job_id = args.job_id or current_job_id()
        if not job_id:
            raise MlbenchUsageError("%mlbench show: give a job ID (see %mlbench jobs)")
        ws = self._ws(args)
        return self._widget(ws, ws.jobs.get(job_id))

    def _cmd_wait(self, args: argparse.Namespace) -> JobWidget:
        ws = self._ws(args)
        info = ws.jobs.info(args.job_id)
        if not info.status.is_final:
            self._before_blocking(ws, info.compute)
        return self._follow(ws, ws.jobs.get(info.id), check=args.check, timeout=args.timeout)

    def _cmd_jobs(self, args: argparse.Namespace) -> Any:
        from mlbench.widgets.jobs import JobsTable

        return JobsTable(
            self._ws(args),
            status=args.status or None,
            compute=args.compute,
            experiment=args.experiment,
            tag=args.tag,
            text=args.text,
            limit=args.limit,
            live=not args.no_live and not current_job_id(),
        )

    def _cmd_logs(self, args: argparse.Namespace) -> None:
        jobs = self._ws(args).jobs
        info = jobs.info(args.job_id)
        text, offset = jobs.logs(info.id, tail=args.tail)
        sys.stdout.write(text)
        try:
            while args.follow:
                status = jobs.info(info.id).status
                text, offset = jobs.logs(info.id, offset)
                sys.stdout.write(text)
                sys.stdout.flush()
                if status.is_final and not text:
                    break
                time.sleep(0.2)
        except KeyboardInterrupt:
            raise MlbenchUsageError(
                f"stopped following; job {info.id} goes on (%mlbench cancel {info.id} stops it)"
            ) from None
        sys.stdout.flush()

    def _cmd_cancel(self, args: argparse.Namespace) -> None:
        jobs = self._ws(args).jobs
        for job_id in args.job_ids:
            info = jobs.cancel(job_id)
            state = info.status.value if info.status.is_final else "cancel requested"
            print(f"{info.id}: {state}")

    # -- inspection ------------------------------------------------------------------------------
    def _cmd_params(self, args: argparse.Namespace) -> Any:
        from mlbench.widgets.tables import params_table

        return params_table(self._ws(args), args.notebook)

    def _cmd_compute(self, args: argparse.Namespace) -> Any:
        from mlbench.widgets.tables import compute_table

        return compute_table(self._ws(args), args.name)

    def _cmd_experiments(self, args: argparse.Namespace) -> Any:
        from mlbench.widgets.runs import experiments_table

        return experiments_table(self._ws(args), text=args.text, limit=args.limit)

    def _cmd_runs(self, args: argparse.Namespace) -> Any:
        from mlbench.tracking.query import RUN_SORT_ATTRIBUTES
        from mlbench.widgets.runs import runs_table

        sort = args.sort
        if sort not in RUN_SORT_ATTRIBUTES and not sort.startswith(
            ("metrics.", "params.", "tags.")
        ):
            sort = f"metrics.{sort}"  # `--sort loss` means the metric
        order = args.order or ("asc" if sort.startswith("metrics.") else "desc")
        return runs_table(
            self._ws(args),
            args.experiment,
            sort=sort,
            order=order,
            status=args.status,
            filter=args.filter,
            limit=args.limit,
        )

    def _cmd_compare(self, args: argparse.Namespace) -> Any:
        from mlbench.widgets.runs import RunComparisonChart

        return RunComparisonChart(
            args.runs, self._ws(args), metrics=args.metrics, max_points=args.max_points
        )

    def _cmd_data(self, args: argparse.Namespace) -> Any:
        ws = self._ws(args)
        if args.data_command == "list":
            from mlbench.widgets.tables import data_table

            return data_table(ws.data.list(text=args.text))
        if args.data_command != "get":
            raise MlbenchUsageError("%mlbench data: give a command (get, list)")
        asset = ws.data.get(args.asset)
        if args.as_asset:
            return asset
        if asset.kind.value == "table":
            return asset.to_pandas()
        return asset.path()

    def _cmd_env(self, args: argparse.Namespace) -> Any:
        from mlbench.widgets.tables import environment_table, environments_table

        envs = self._ws(args).environments
        command = args.env_command
        if command == "list":
            return environments_table(envs.list())
        if command == "show" and args.versions:
            return environments_table(envs.versions(args.ref.partition(":")[0]))
        if command == "show" and args.show_log:
            sys.stdout.write(envs.log(args.ref).text)
            sys.stdout.flush()
            return None
        if command == "show":
            return environment_table(envs.get(args.ref))
        if command == "create":
            print(f"resolving and building {args.name}...", flush=True)
            info = envs.create(
                args.name,
                requirements=args.packages or args.requirements_file,
                conda_yaml=args.conda_file,
                pyproject=args.pyproject_file,
                python=args.python,
                description=args.description,
                refresh=args.refresh,
            )
            return environment_table(info)
        if command == "build":
            return environment_table(envs.build(args.ref))
        if command == "delete":
            print("deleted " + ", ".join(i.ref for i in envs.delete(args.ref)))
            return None
        raise MlbenchUsageError("%mlbench env: give a command (list, show, create, build, delete)")

    def _cmd_sweep(self, args: argparse.Namespace) -> Any:
        from mlbench.sweeps.service import load_yaml
        from mlbench.widgets.sweep import SweepWidget
        from mlbench.widgets.tables import sweeps_table, trials_table

        ws = self._ws(args)
        sweeps = ws.sweeps
        command = args.sweep_command
        if command in ("submit", "show"):
            if command == "submit":
                sweep_id = sweeps.submit(load_yaml(Path(args.file))).id
            else:
                sweep_id = sweeps.info(args.sweep_id).id
            widget = SweepWidget(sweep_id, ws, live=not args.wait)
            if args.wait:
                widget.show()
                widget.wait()
            return widget
        if command == "list":
            return sweeps_table(sweeps.list(status=args.status, limit=args.limit).items)
        if command == "trials":
            info = sweeps.info(args.sweep_id)
            return trials_table(info, sweeps.trials(info.id, status=args.status))
        if command == "cancel":
            info = sweeps.cancel(args.sweep_id)
            print(
                f"sweep {info.id}: {info.status}"
                + (" (cancel requested)" if info.cancel_requested else "")
            )
            return None
        raise MlbenchUsageError(
            "%mlbench sweep: give a command (submit, list, show, trials, cancel)"
        )

    def _cmd_schedule(self, args: argparse.Namespace) -> Any:
        from mlbench.magics.schedules import schedule_command

        create = args.schedule_command == "create"
        return schedule_command(
            self._ws(args),
            args,
            parameters=self._parameters(args) if create else {},
            spec_fields=self._submit_options(args) if create else {},
            user_ns=self.shell.user_ns if self.shell is not None else None,
        )

    def _cmd_pipeline(self, args: argparse.Namespace) -> Any:
        from mlbench.magics.pipelines import pipeline_command

        return pipeline_command(self._ws(args), args)

    def _cmd_endpoint(self, args: argparse.Namespace) -> Any:
        from mlbench.magics.endpoints import endpoint_command

        return endpoint_command(self._ws(args), args)

    def _cmd_model(self, args: argparse.Namespace) -> Any:
        from mlbench.jobs.job import Job
        from mlbench.magics.models import model_command

        ws = self._ws(args)
        out = model_command(ws, args)
        return self._widget(ws, out) if isinstance(out, Job) else out

    def _cmd_automl(self, args: argparse.Namespace) -> Any:
        from mlbench.jobs.job import Job
        from mlbench.magics.automl import automl_command

        ws = self._ws(args)
        out = automl_command(ws, args)
        return self._widget(ws, out) if isinstance(out, Job) else out

    def _cmd_rai(self, args: argparse.Namespace) -> Any:
        from mlbench.jobs.job import Job
        from mlbench.magics.automl import rai_command

        ws = self._ws(args)
        out = rai_command(ws, args)
        return self._widget(ws, out) if isinstance(out, Job) else out

    def _cmd_drift(self, args: argparse.Namespace) -> Any:
        from mlbench.magics.monitoring import drift_command

        return drift_command(self._ws(args), args)

    def _cmd_monitor(self, args: argparse.Namespace) -> Any:
        from mlbench.magics.monitoring import monitor_command

        return monitor_command(self._ws(args), args)

    def _cmd_notify(self, args: argparse.Namespace) -> Any:
        from mlbench.magics.schedules import notify_command

        return notify_command(self._ws(args), args)

    def _cmd_info(self, args: argparse.Namespace) -> Any:
        from mlbench.widgets.tables import workspace_table

        return workspace_table(self._ws(args))

    # -- helpers -------------------------------------------------------------------------------
    @staticmethod
    def _parameters(args: argparse.Namespace) -> dict[str, Any]:
        from mlbench.jobs.parameters import parse_cli_parameters

        return parse_cli_parameters(
            tuple(tuple(p) for p in args.params),  # type: ignore[misc]
            tuple(tuple(p) for p in args.raw_params),  # type: ignore[misc]
            tuple(args.yaml_texts),
            tuple(args.yaml_files),
        )

    @staticmethod
    def _submit_options(args: argparse.Namespace) -> dict[str, Any]:
        """The JobSpec fields given; a job submitted from inside a job is tagged its child."""
        from mlbench.jobs.spec import fields_from_options

        given = {k: getattr(args, k) for k in SPEC_OPTIONS if hasattr(args, k)}
        fields = fields_from_options(given)
        parent = current_job_id()
        if parent:
            fields["tags"] = {**fields.get("tags", {}), PARENT_TAG: parent}
        return fields

    @staticmethod
    def _widget(ws: Workspace, job: Job) -> JobWidget:
        from mlbench.widgets.job import JobWidget

        # Inside a job nobody watches a live widget: show the state, start no thread.
        return JobWidget(job, ws, live=not current_job_id())

    def _follow(
        self, ws: Workspace, job: Job, *, check: bool = False, timeout: float | None = None
    ) -> JobWidget:
        """Show the job's widget and block until the job ends."""
        from mlbench.widgets.job import JobWidget

        in_job = current_job_id() is not None
        widget: JobWidget | None = None
        try:
            widget = JobWidget(job, ws, live=False, poll_interval=0.1)  # the cell ends sooner
            widget.show()
            widget.wait(timeout, on_change=_print_change if in_job else None)
        except KeyboardInterrupt:
            if in_job:  # this job is being canceled or timed out: don't leave the child behind
                if not ws.jobs.info(job.id).status.is_final:
                    ws.jobs.cancel(job.id)
                    print(f"[mlbench] interrupted: canceled job {job.id}", flush=True)
                raise
            if widget is not None:
                widget.start()
            raise MlbenchUsageError(
                f"stopped waiting; job {job.id} goes on"
                + (" and its widget stays live" if widget is not None else "")
                + f" (%mlbench cancel {job.id} stops it)"
            ) from None
        except WaitTimeoutError as exc:
            if not in_job and widget is not None:
                widget.start()
            raise MlbenchUsageError(_one_line(exc)) from None
        if check and widget.status != "completed":
            info = widget.info
            detail = info.error.message if info.error else info.status_reason
            raise MlbenchUsageError(f"job {info.id} {info.status.value}: {detail}")
        return widget

    @staticmethod
    def _before_blocking(ws: Workspace, compute: str) -> None:
        """Checks before submitting a job the cell will wait for.

        The widget module is imported first, so nothing slow runs between the submission and
        the wait that cancels the child when this job is interrupted. Inside a job, waiting
        for a job that needs this job's slot would wait forever: refused.
        """
        import mlbench.widgets.job  # noqa: F401

        parent = current_job_id()
        if not parent:
            return
        try:
            parent_compute = ws.jobs.info(parent).compute
        except MlbenchError:
            return  # the kernel runs a job of another workspace
        if parent_compute != compute:
            return
        slots = ws.compute.get(compute).capacity.max_concurrent_jobs
        if slots <= 1:
            raise MlbenchUsageError(
                f"this job holds the only slot of compute {compute!r} (max_concurrent_jobs 1): "
                "a job it waits for there could never start; submit without waiting, use "
                "another target, or raise its max_concurrent_jobs"
            )


def _print_change(info: JobInfo) -> None:
    """Inside a job: progress lines for the job's log, where no widget is watched."""
    line = f"[mlbench] job {info.id} ({info.display_name}): {info.status.value}"
    if info.status.is_final:
        line += f" after {info.duration_s or 0:.1f}s"
        if info.error:
            line += f" — {info.error.message}"
    print(line, flush=True)


# `%mlbench?` shows the same help as `%mlbench --help`.
MlbenchMagics.mlbench.__doc__ = build_parser().format_help()
