"""``mlbench <noun> <verb>``: a thin face over the SDK."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from mlbench.cli.agent import agent_group
from mlbench.cli.automl import automl_group
from mlbench.cli.compute import compute_group
from mlbench.cli.context import CliContext
from mlbench.cli.data import data_group, datastore_group
from mlbench.cli.endpoints import endpoint_group
from mlbench.cli.environments import env_group
from mlbench.cli.jobs import job_group, params_command, run_command
from mlbench.cli.models import model_group
from mlbench.cli.monitors import drift_command, monitor_group
from mlbench.cli.pipelines import pipeline_group
from mlbench.cli.rai import rai_group
from mlbench.cli.schedules import notify_group, schedule_group, scheduler_group, service_group
from mlbench.cli.sweeps import sweep_group
from mlbench.cli.workspace import workspace_group
from mlbench.errors import MlbenchError


class MlbenchGroup(click.Group):
    """Turns mlbench's errors into one readable message and exit code 2, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from mlbench.cli.render import print_error

        try:
            return super().invoke(ctx)
        except MlbenchError as exc:
            if isinstance(ctx.obj, CliContext):  # whatever produced the text, no secret in it
                exc.message = ctx.obj.redact(exc.message)
                exc.hint = ctx.obj.redact(exc.hint) if exc.hint else exc.hint
            print_error(exc)
            sys.exit(2)
        except Exception as exc:
            # A damaged SQLite file under MLflow (or anything not wrapped by the workspace's own
            # database) is still one line, not a traceback of the library that found it.
            from mlbench.store.db import DatabaseDamagedError, damaged_reason

            reason = damaged_reason(exc)
            if reason is None:
                raise
            print_error(
                DatabaseDamagedError(
                    f"a database of the workspace is damaged: {reason}",
                    hint="see which with `mlbench workspace check`; restore a backup with "
                    "`mlbench workspace restore BACKUP`",
                )
            )
            sys.exit(2)


@click.group(cls=MlbenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--workspace",
    "-w",
    envvar="MLBENCH_HOME",
    type=click.Path(file_okay=False),
    help="Workspace folder (default: $MLBENCH_HOME or ~/.mlbench).",
)
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
@click.version_option(package_name="mlbench", prog_name="mlbench")
@click.pass_context
def cli(ctx: click.Context, workspace: str | None, verbose: int) -> None:
    """mlbench: notebook jobs, tracked in MLflow, on local or remote compute."""
    from mlbench.store.secrets import mask_logs

    logging.basicConfig(
        level=[logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)],
        format="%(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = CliContext(workspace)
    # every library's lines (-vv: botocore...), until the command ends (a notebook or a test
    # runs many commands in one process)
    ctx.call_on_close(mask_logs(ctx.obj.redact))


cli.add_command(run_command)
cli.add_command(params_command)
cli.add_command(job_group)
cli.add_command(compute_group)
cli.add_command(agent_group)
cli.add_command(workspace_group)
cli.add_command(data_group)
cli.add_command(datastore_group)
cli.add_command(env_group)
cli.add_command(sweep_group)
cli.add_command(model_group)
cli.add_command(endpoint_group)
cli.add_command(pipeline_group)
cli.add_command(schedule_group)
cli.add_command(notify_group)
cli.add_command(scheduler_group)
cli.add_command(service_group)
cli.add_command(monitor_group)
cli.add_command(drift_command)
cli.add_command(automl_group)
cli.add_command(rai_group)


def main() -> None:
    # jsonschema (via nbformat) would import rfc3987_syntax, whose grammar takes seconds to
    # build, for IRI format checks mlbench never makes: a command line must start fast.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    cli(prog_name="mlbench")
