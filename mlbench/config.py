"""Workspace settings: where metadata and tracking live, and how the agent behaves.

Settings come, in increasing priority, from defaults, ``<workspace>/mlbench.yaml`` and
``MLBENCH_*`` environment variables, so a team can point every member's workspace at a shared
PostgreSQL database and MLflow server without touching code. One naming rule: the variable of
setting ``cancel_grace_s`` is ``MLBENCH_CANCEL_GRACE_S`` (``MLBENCH_`` + the name upper-cased),
for every field of :class:`WorkspaceSettings`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlbench.errors import InvalidInputError

SETTINGS_FILE = "mlbench.yaml"
DEFAULT_HOME = "~/.mlbench"

ENV_PREFIX = "MLBENCH_"
# Earlier names of two variables (without the _s of their settings): still read, with a warning.
DEPRECATED_ENV = {
    "MLBENCH_AGENT_IDLE_TIMEOUT": "agent_idle_timeout_s",
    "MLBENCH_AGENT_POLL_INTERVAL": "agent_poll_interval_s",
}

log = logging.getLogger(__name__)
_warned: set[str] = set()


class WorkspaceSettings(BaseModel):
    """Settings of one workspace. ``None`` means "inside the workspace folder"."""

    model_config = ConfigDict(extra="forbid")

    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the metadata database (default: SQLite in the workspace).",
    )
    tracking_uri: str | None = Field(
        None, description="MLflow tracking URI (default: an MLflow SQLite store in the workspace)."
    )
    artifact_location: str | None = Field(
        None,
        description="Root for MLflow artifacts of new experiments (default: in the workspace).",
    )
    agent_idle_timeout_s: float = Field(
        300.0, ge=0, description="An on-demand agent with nothing to do exits after this long."
    )
    agent_poll_interval_s: float = Field(
        0.5, gt=0, le=10, description="How often an agent looks for work when nobody wakes it."
    )
    agent_heartbeat_interval_s: float = Field(2.0, gt=0)
    gpu_sample_interval_s: float = Field(
        10.0,
        ge=0,
        description="How often the agent records the utilization and memory of the GPUs its "
        "running jobs hold, as system/gpu_N_* metrics of their runs (0: never).",
    )
    kernel_heartbeat_timeout_s: float = Field(
        30.0, gt=0, description="A kernel whose heartbeat is silent this long is declared dead."
    )
    cancel_grace_s: float = Field(
        5.0, ge=0, description="After an interrupt, how long a job has to stop before it is killed."
    )
    kernel_start_timeout_s: float = Field(60.0, gt=0)
    # Output bounds. A job's output must not grow the agent's memory or the workspace without
    # limit. Defaults follow Databricks notebooks (a cell's output is cut to 10 MB, a job's
    # notebook output to 30 MB) and stay above GitLab runners' 4 MiB job-log default, which its
    # users find too small.
    code_max_bytes: int = Field(
        100 * 1024 * 1024,
        ge=1024,
        description="The most a command job's code folder may hold (after its .amlignore or "
        ".gitignore); a larger one is refused at submission.",
    )
    job_log_max_bytes: int = Field(
        64 * 1024 * 1024,
        ge=4096,
        description="A job's log (job.log) keeps its first and last halves of this many bytes, "
        "with a line saying how much was left out between them.",
    )
    output_max_bytes: int = Field(
        10 * 1024 * 1024,
        ge=1024,
        description="One output in a job's output notebook: a longer text keeps its first and "
        "last halves with a note between them; a larger image or other rich output is "
        "replaced by a note.",
    )
    notebook_output_max_bytes: int = Field(
        32 * 1024 * 1024,
        ge=4096,
        description="All outputs of a job's output notebook together (each counts at least "
        "512 bytes); outputs beyond it are left out, with a note in their cell.",
    )
    secrets_backend: Literal["file", "keyring"] = Field(
        "file",
        description="Where datastore credentials live: 0600 files in the workspace, or the OS "
        "keyring (needs the keyring package).",
    )


def resolve_home(path: str | os.PathLike[str] | None = None) -> Path:
    """The workspace folder: the argument, else ``MLBENCH_HOME``, else ``~/.mlbench``."""
    raw = path if path is not None else os.environ.get("MLBENCH_HOME") or DEFAULT_HOME
    return Path(raw).expanduser().resolve()


def load_settings(home: Path, overrides: dict[str, Any] | None = None) -> WorkspaceSettings:
    values: dict[str, Any] = {}
    settings_file = home / SETTINGS_FILE
    if settings_file.is_file():
        try:
            loaded = yaml.safe_load(settings_file.read_text()) or {}
        except yaml.YAMLError as exc:
            raise InvalidInputError(
                f"{settings_file} is not valid YAML: {exc}",
                hint="fix the file or delete it to use the defaults",
            ) from exc
        if not isinstance(loaded, dict):
            raise InvalidInputError(
                f"{settings_file} must hold a mapping of settings",
                hint=f"e.g. 'agent_idle_timeout_s: 60'; known settings: {_known()}",
            )
        values.update(loaded)
    values.update(env_settings())
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return WorkspaceSettings.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise InvalidInputError(
            f"invalid workspace settings ({problems})",
            hint=f"check {settings_file} and MLBENCH_* variables; known settings: {_known()}",
        ) from exc


def env_name(field: str) -> str:
    """The environment variable of setting ``field``: ``MLBENCH_`` + the name upper-cased."""
    return ENV_PREFIX + field.upper()


def env_settings(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The settings set through ``MLBENCH_*`` variables (empty values are ignored)."""
    environ = os.environ if environ is None else environ
    found: dict[str, str] = {}
    for old, field in DEPRECATED_ENV.items():
        if environ.get(old) and not environ.get(env_name(field)):
            if old not in _warned:
                _warned.add(old)
                log.warning(
                    "%s is deprecated: use %s (MLBENCH_ + the setting's name)",
                    old,
                    env_name(field),
                )
            found[field] = environ[old]
    for field in WorkspaceSettings.model_fields:
        if environ.get(env_name(field)):
            found[field] = environ[env_name(field)]
    return found


def _known() -> str:
    return ", ".join(WorkspaceSettings.model_fields)
