"""Arguments of ``%mlbench``: one argparse parser per subcommand, options named as in the CLI.

A wrong argument is a :class:`MlbenchUsageError`: one line, no traceback; ``--help`` prints the
subcommand's help and runs nothing.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any, NoReturn

from IPython.core.error import UsageError


class MlbenchUsageError(UsageError):
    """A wrong command or a refused request, shown as one line: ``UsageError: <message>``.

    IPython prints its own ``UsageError`` to stderr, which nbclient and papermill do not see as
    the cell's error (a job would fail with an empty message). This one is an ``error`` output
    whose whole traceback is that line, so notebooks, nbconvert and jobs record the message.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"UsageError: {self}"]


class HelpShown(Exception):
    """``--help`` was printed: nothing to run."""


class MagicParser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise MlbenchUsageError(f"{self.prog}: {message} (see {self.prog} --help)")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            print(message)
        raise HelpShown


def _existing_file(value: str) -> str:
    if not Path(value).expanduser().is_file():
        raise argparse.ArgumentTypeError(f"file {value!r} does not exist")
    return value


def _key_value(value: str) -> tuple[str, str]:
    key, sep, val = value.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{value!r} is not KEY=VALUE")
    return key, val


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} must be at least 1")
    return number


def add_parameter_options(p: argparse.ArgumentParser) -> None:
    """papermill's parameter options, exactly as ``mlbench run`` takes them."""
    g = p.add_argument_group("parameters (as in `mlbench run`)")
    g.add_argument(
        "-p",
        "--parameters",
        dest="params",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="a parameter; the value is converted to the parameter's type",
    )
    g.add_argument(
        "-r",
        "--parameters_raw",
        dest="raw_params",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="a parameter passed as a string, unconverted",
    )
    g.add_argument(
        "-y",
        "--parameters_yaml",
        dest="yaml_texts",
        action="append",
        default=[],
        metavar="YAML",
        help="parameters as a YAML mapping",
    )
    g.add_argument(
        "-f",
        "--parameters_file",
        dest="yaml_files",
        action="append",
        default=[],
        type=_existing_file,
        metavar="FILE",
        help="parameters from a YAML file",
    )


SPEC_OPTIONS = (
    "compute",
    "kernel_name",
    "environment",
    "cpus",
    "gpus",
    "memory",
    "timeout_s",
    "max_retries",
    "tags",
    "experiment",
    "display_name",
    "cwd",
    "allow_unknown_params",
    "inputs",
    "outputs",
    "register_model",
)
"""The dests of the job spec's options (JobSpec fields, as `mlbench job submit` has them)."""


def add_spec_options(p: argparse.ArgumentParser, *, rerun: bool = False, cwd: bool = True) -> None:
    """The job spec's options; for ``rerun`` none has a default (not given: the original's)."""
    g = p.add_argument_group("job options (as in `mlbench job submit`)")
    g.add_argument(
        "-c",
        "--compute",
        default=None if rerun else "local",
        help="compute target" + ("" if rerun else " (default: local)"),
    )
    g.add_argument("--kernel", dest="kernel_name", help="kernel (default: the notebook's)")
    g.add_argument(
        "--env",
        dest="environment",
        metavar="NAME[:VERSION]",
        help="environment to run in (its kernel is used)",
    )
    g.add_argument("--cpus", type=float, help="CPUs to reserve (default 1)")
    g.add_argument("--gpus", type=int, help="GPUs to reserve (default 0)")
    g.add_argument("--memory", help="memory to reserve, e.g. 4GB")
    g.add_argument("--timeout", dest="timeout_s", type=float, help="seconds before it is stopped")
    g.add_argument(
        "--max-retries",
        type=int,
        default=None if rerun else 0,
        help="times a failed job is run again" + ("" if rerun else " (default 0)"),
    )
    g.add_argument(
        "--tag",
        dest="tags",
        action="append",
        default=[],
        type=_key_value,
        metavar="KEY=VALUE",
        help="a tag of the job and its MLflow run (repeatable)",
    )
    g.add_argument("-e", "--experiment", help="MLflow experiment (default: the notebook's name)")
    g.add_argument("--name", dest="display_name", help="display name (default: notebook name)")
    if rerun:
        return
    if cwd:
        g.add_argument("--cwd", help="working folder (default: the notebook's folder)")
    g.add_argument(
        "--allow-unknown-params",
        action="store_true",
        default=None,
        help="inject parameters the notebook does not declare",
    )
    g.add_argument(
        "--input",
        dest="inputs",
        action="append",
        default=[],
        metavar="NAME=data:ASSET[:VERSION]",
        help="a data version the job reads; parameter NAME gets its local path (repeatable)",
    )
    g.add_argument(
        "--output",
        dest="outputs",
        action="append",
        default=[],
        metavar="NAME=data:ASSET",
        help="register what the job writes to the path in parameter NAME as a new version "
        "(repeatable)",
    )
    g.add_argument(
        "--register-model",
        metavar="NAME[,alias=A][,path=P]",
        help="register the MLflow model the job logs as a new version of NAME when it completes",
    )


def add_check_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--check",
        action="store_true",
        help="end the cell with an error unless the job completed (for notebooks of jobs)",
    )


def build_parser() -> MagicParser:
    parser = MagicParser(
        prog="%mlbench",
        description=(
            "Submit, follow and inspect mlbench jobs and runs from a notebook.\n\n"
            "The workspace is --workspace, else `%config MlbenchMagics.workspace = PATH`, else\n"
            "$MLBENCH_HOME, else ~/.mlbench. Every command takes --help."
        ),
        epilog=(
            "examples:\n"
            "  %mlbench run train.ipynb -p epochs 5 -p learning_rate 0.01\n"
            "  %mlbench submit train.ipynb --gpus 1\n"
            "  %mlbench jobs --status running\n"
            "  %mlbench compare JOB_ID JOB_ID --metric loss\n"
            "  %%mlbench job -p n 3     (cell magic: run the cell as a job)"
        ),
    )
    parser.add_argument("-w", "--workspace", help="workspace folder for this command")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=MagicParser)

    p = sub.add_parser(
        "run",
        help="submit a notebook and follow it until it ends (blocks the cell)",
        description="Submit NOTEBOOK as a job and show its live widget until it ends.\n"
        "Interrupting the kernel stops waiting; the job goes on.",
    )
    p.add_argument("notebook")
    add_parameter_options(p)
    add_spec_options(p)
    add_check_option(p)

    p = sub.add_parser(
        "submit",
        help="submit a notebook and return its live widget at once",
        description="Queue NOTEBOOK as a job; the cell ends at once, the widget stays live.",
    )
    p.add_argument("notebook")
    add_parameter_options(p)
    add_spec_options(p)

    p = sub.add_parser(
        "job",
        help="(cell magic %%%%mlbench job) run the cell's code as a job of its own",
        description="%%mlbench job [options]\n\n"
        "Run the cell as a one-cell notebook job, in the kernel's working folder. Names given\n"
        "with -p/-r/-y/-f become the job's parameters (declared in a parameters cell).",
    )
    add_parameter_options(p)
    add_spec_options(p)
    p.add_argument("--wait", action="store_true", help="block until the job ends, like run")
    add_check_option(p)

    p = sub.add_parser("jobs", help="the jobs table (live while jobs are active)")
    p.add_argument(
        "-s",
        "--status",
        action="append",
        default=[],
        help="only this status (repeatable): queued, starting, running, completed, failed, "
        "canceled, timed_out",
    )
    p.add_argument("--compute", help="only this compute target")
    p.add_argument("-e", "--experiment", help="only this experiment")
    p.add_argument("--tag", help="only jobs with this tag (KEY or KEY=VALUE)")
    p.add_argument("-q", "--text", help="search names, notebooks, experiments and ids")
    p.add_argument("-n", "--limit", type=_positive_int, default=20, help="at most N (default 20)")
    p.add_argument("--no-live", action="store_true", help="a snapshot, no live refresh")

    p = sub.add_parser(
        "show",
        help="one job's widget",
        description="Show a job's widget (live while it runs). Inside a job, ID defaults to "
        "the job itself.",
    )
    p.add_argument("job_id", nargs="?", metavar="ID")

    p = sub.add_parser("wait", help="show a job's widget and block until it ends")
    p.add_argument("job_id", metavar="ID")
    p.add_argument("--timeout", type=float, help="stop waiting after this many seconds")
    add_check_option(p)

    p = sub.add_parser("logs", help="print a job's output (stdout and stderr of its cells)")
    p.add_argument("job_id", metavar="ID")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing until it ends")
    p.add_argument("--tail", type=_positive_int, metavar="BYTES", help="only the last BYTES")

    p = sub.add_parser("cancel", help="cancel jobs (queued at once, running interrupted)")
    p.add_argument("job_ids", nargs="+", metavar="ID")

    p = sub.add_parser(
        "rerun",
        help="run a job's notebook snapshot again with parameters overridden",
        description="Submit the same notebook snapshot again, with parameters overridden.",
    )
    p.add_argument("job_id", metavar="ID")
    add_parameter_options(p)
    add_spec_options(p, rerun=True)
    p.add_argument("--wait", action="store_true", help="block until the job ends, like run")
    add_check_option(p)

    p = sub.add_parser("params", help="the typed parameters of a notebook")
    p.add_argument("notebook")

    p = sub.add_parser("compute", help="compute targets, their capacity and what runs on them")
    p.add_argument("name", nargs="?", help="only this target")

    p = sub.add_parser("experiments", help="MLflow experiments, most recently updated first")
    p.add_argument("-q", "--text", help="only names containing TEXT")
    p.add_argument("-n", "--limit", type=_positive_int, default=50)

    p = sub.add_parser(
        "runs",
        help="the runs of an experiment with their metrics and parameters",
        description="Runs of EXPERIMENT (its name or MLflow id). --sort takes a metric name,\n"
        "metrics.KEY, params.KEY, tags.KEY, start_time, end_time, run_name or status;\n"
        "metrics sort ascending by default, everything else newest first.",
    )
    p.add_argument("experiment")
    p.add_argument("--sort", default="start_time", metavar="KEY")
    order = p.add_mutually_exclusive_group()
    order.add_argument("--asc", dest="order", action="store_const", const="asc")
    order.add_argument("--desc", dest="order", action="store_const", const="desc")
    p.add_argument("-s", "--status", help="RUNNING, FINISHED, FAILED or KILLED")
    p.add_argument("--filter", help='MLflow filter, e.g. "metrics.loss < 0.1"')
    p.add_argument("-n", "--limit", type=_positive_int, default=50)

    p = sub.add_parser(
        "compare",
        help="compare runs on a chart (run ids or job ids)",
        description="Compare runs (MLflow run ids, job ids or unique job id prefixes): each\n"
        "metric's history on one chart, the latest values, and the parameters that differ.",
    )
    p.add_argument("runs", nargs="+", metavar="RUN")
    p.add_argument(
        "-m", "--metric", dest="metrics", action="append", default=[], help="metric to chart"
    )
    p.add_argument("--max-points", type=_positive_int, default=500, help="points per series")

    p = sub.add_parser("data", help="data assets: get one (a DataFrame for tables), list them")
    data_sub = p.add_subparsers(dest="data_command", metavar="COMMAND", parser_class=MagicParser)
    dp = data_sub.add_parser(
        "get",
        help="a version: a pandas DataFrame for tables, a local path for files and folders",
        description="Returns a pandas DataFrame for a table, the local path of a file or folder "
        "(downloaded once into the workspace's cache when remote), or with --asset the "
        "data asset object (.path(), .open(), .to_arrow(), .preview(), .lineage()).",
    )
    dp.add_argument("asset", metavar="NAME[:VERSION]", help="NAME, NAME:VERSION or NAME@latest")
    dp.add_argument("--asset", dest="as_asset", action="store_true", help="the asset object")
    dl = data_sub.add_parser("list", help="data assets, the newest version of each")
    dl.add_argument("-q", "--text", help="part of the name")

    add_env_parser(sub)
    add_sweep_parser(sub)
    from mlbench.magics.schedules import add_notify_parser, add_schedule_parser

    add_schedule_parser(sub)
    add_notify_parser(sub)
    from mlbench.magics.pipelines import add_pipeline_parser

    add_pipeline_parser(sub)
    from mlbench.magics.models import add_model_parser

    add_model_parser(sub)
    from mlbench.magics.endpoints import add_endpoint_parser

    add_endpoint_parser(sub)
    from mlbench.magics.automl import add_automl_parser, add_rai_parser

    add_automl_parser(sub)
    add_rai_parser(sub)
    from mlbench.magics.monitoring import add_monitor_parsers

    add_monitor_parsers(sub)
    sub.add_parser("info", help="the workspace, and the job this kernel runs in (if any)")
    return parser


def add_env_parser(sub: Any) -> None:
    """``%mlbench env list|show|create|build|delete``: the options of ``mlbench env``."""
    p = sub.add_parser(
        "env",
        help="environments (NAME:VERSION) jobs run in: list, show, create, build, delete",
        description="Versioned Python environments; a job runs in one with --env NAME[:VERSION].",
    )
    env_sub = p.add_subparsers(dest="env_command", metavar="COMMAND", parser_class=MagicParser)
    env_sub.add_parser("list", help="environments, the newest version of each")
    ep = env_sub.add_parser(
        "show", help="one version: status, python, kernel and its packages (the lock)"
    )
    ep.add_argument("ref", metavar="NAME[:VERSION]")
    ep.add_argument("--versions", action="store_true", help="every version of NAME")
    ep.add_argument("--log", dest="show_log", action="store_true", help="print the build log")
    ep = env_sub.add_parser(
        "create",
        help="create NAME from packages, a requirements file, a conda YAML or a pyproject, "
        "and build it (blocks the cell)",
        description="Create NAME and build it; the same packages (in any order) return the\n"
        "existing version without building. Interrupting the kernel cancels the build.",
    )
    ep.add_argument("name")
    source = ep.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "-p", "--package", dest="packages", action="append", help="a requirement (repeatable)"
    )
    source.add_argument(
        "-r", "--requirements", dest="requirements_file", type=_existing_file, metavar="FILE"
    )
    source.add_argument("--conda", dest="conda_file", type=_existing_file, metavar="FILE")
    source.add_argument("--pyproject", dest="pyproject_file", type=_existing_file, metavar="FILE")
    ep.add_argument("--python", help="Python version among those on this machine (e.g. 3.11)")
    ep.add_argument("--description", default="")
    ep.add_argument(
        "--refresh", action="store_true", help="resolve again even if the spec is unchanged"
    )
    ep = env_sub.add_parser("build", help="build a version again from its lock (blocks the cell)")
    ep.add_argument("ref", metavar="NAME[:VERSION]")
    ep = env_sub.add_parser(
        "delete", help="delete a version (NAME:VERSION) or every version (NAME)"
    )
    ep.add_argument("ref", metavar="NAME[:VERSION]")


def add_sweep_parser(sub: Any) -> None:
    """``%mlbench sweep submit|list|show|trials|cancel``: the verbs of ``mlbench sweep``."""
    p = sub.add_parser(
        "sweep",
        help="hyperparameter sweeps: submit FILE.yml, list, show ID, trials ID, cancel ID",
        description="Sweeps over a notebook's parameters (Azure ML's sweep job YAML keys).",
    )
    sweep_sub = p.add_subparsers(dest="sweep_command", metavar="COMMAND", parser_class=MagicParser)
    sp = sweep_sub.add_parser("submit", help="submit a sweep YAML file; a live widget follows it")
    sp.add_argument("file", type=_existing_file, metavar="FILE.yml")
    sp.add_argument("--wait", action="store_true", help="block the cell until the sweep ends")
    sp = sweep_sub.add_parser("list", help="sweeps, newest first")
    sp.add_argument("--status", help="only sweeps in this state")
    sp.add_argument("-n", "--limit", type=_positive_int, default=50)
    sp = sweep_sub.add_parser("show", help="a sweep's live widget: status, trials, best so far")
    sp.add_argument("sweep_id", metavar="ID")
    sp.add_argument("--wait", action="store_true", help="block the cell until the sweep ends")
    sp = sweep_sub.add_parser("trials", help="a sweep's trials as a table (.to_dataframe())")
    sp.add_argument("sweep_id", metavar="ID")
    sp.add_argument("--status", help="only trials in this state, e.g. early_terminated")
    sp = sweep_sub.add_parser("cancel", help="cancel a sweep: no new trials, running ones stop")
    sp.add_argument("sweep_id", metavar="ID")


def split(line: str) -> list[str]:
    try:
        return shlex.split(_without_comment(line))
    except ValueError as exc:  # e.g. an unclosed quote
        raise MlbenchUsageError(f"%mlbench: cannot read the arguments: {exc}") from None


def parse(parser: MagicParser, line: str) -> argparse.Namespace:
    return parser.parse_args(split(line))


def _without_comment(line: str) -> str:
    """The line up to a ``#`` that starts a word outside quotes, as a shell reads it, so
    ``%mlbench run nb.ipynb  # retrain`` works and ``-p tag a#b`` keeps its ``#``."""
    quote = ""
    escaped = False
    for i, ch in enumerate(line):
        if escaped:
            escaped = False
        elif ch == "\\" and quote != "'":
            escaped = True
        elif quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line
