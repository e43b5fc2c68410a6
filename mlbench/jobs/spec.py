"""``JobSpec``: everything a job is, built by every face and taken by ``Jobs.submit``.

The CLI, the magics, the REST API and the SDK each build one ``JobSpec``; sweeps, pipelines and
schedules will copy one with ``spec.model_copy(update=...)``. At submission the spec is
*resolved* (absolute paths, the kernel, the resources with the target's defaults, typed
parameters, exact data versions) and stored with the job, with a content hash over what decides
the job's result (:func:`spec_hash`): the start of a pipeline step's reuse key and a sweep's
trial identity.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mlbench.validation import FiniteFloat, check_identifier, check_json

MAX_TAGS = 64
MAX_TEXT = 256

# bounded digits: a 400-digit size is refused by the pattern, not by float() overflowing
_MEMORY = re.compile(r"\s*(\d{1,15}(?:\.\d{1,6})?)\s*([KMGT]i?B?|B)?\s*", re.IGNORECASE)
_UNITS_MB = {"": 1, "B": 1 / (1024 * 1024), "K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}
MAX_MEMORY_MB = 1 << 40  # a petabyte-scale ceiling: anything above is a typo


def parse_memory_mb(value: int | str | None) -> int | None:
    """MiB from a number of MiB or a size such as '4GB', '512M', '1.5GiB'."""
    if value is None or isinstance(value, bool):
        if isinstance(value, bool):
            raise ValueError("memory must be a number of MiB or a size such as '4GB'")
        return None
    if isinstance(value, int):
        mb = value
    else:
        m = _MEMORY.fullmatch(str(value))
        if not m:
            raise ValueError(f"cannot read memory size {value!r}; use e.g. '4GB' or '512MB'")
        unit = (m.group(2) or "").upper()[:1]
        mb = max(1, int(float(m.group(1)) * _UNITS_MB[unit]))
    if not 0 < mb <= MAX_MEMORY_MB:
        raise ValueError(f"memory must be between 1 MiB and {MAX_MEMORY_MB} MiB")
    return mb


class ResourceRequest(BaseModel):
    """What a job asks for; unset fields take the compute target's defaults."""

    model_config = ConfigDict(extra="forbid")

    cpus: FiniteFloat | None = Field(None, gt=0, le=100_000, description="CPUs to reserve.")
    gpus: int | None = Field(
        None, ge=0, le=1024, description="GPUs; the job sees them in CUDA_VISIBLE_DEVICES."
    )
    memory: int | str | None = Field(
        None, description="Memory to reserve: MiB as a number, or a size such as '4GB'."
    )
    custom: dict[str, FiniteFloat] | None = Field(
        None, description="Custom resources of the target (Ray), e.g. {'a100': 1}."
    )

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: int | str | None) -> int | None:
        return parse_memory_mb(value)

    @field_validator("custom")
    @classmethod
    def _custom(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        for name, amount in (value or {}).items():
            if amount <= 0:
                raise ValueError(f"custom resource {name!r} must be positive, got {amount:g}")
        return value


class JobParent(BaseModel):
    """The run a job belongs to (a sweep's trial, a pipeline's step)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["sweep", "pipeline"]
    id: str = Field(min_length=1, max_length=64)
    name: str | None = Field(None, max_length=MAX_TEXT, description="Trial or step name.")


class RegisterModel(BaseModel):
    """Register the MLflow model a job logged as a new model version when it completes."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128, description="The registered model's name.")
    path: str | None = Field(
        None,
        min_length=1,
        max_length=1024,
        description="Which model of the run (its name or artifact folder) when it logged several.",
    )
    alias: str | None = Field(
        None, min_length=1, max_length=64, description="Point this alias at the new version."
    )
    description: str = Field("", max_length=5000)
    tags: dict[str, str] = Field(default_factory=dict, max_length=MAX_TAGS)

    @staticmethod
    def fields_from_text(text: str) -> dict[str, Any]:
        """Fields from the command line's ``NAME[,path=P][,alias=A][,description=D]`` (the
        spec's validation checks their values)."""
        name, *rest = [part.strip() for part in text.split(",")]
        fields: dict[str, Any] = {"name": name}
        for part in rest:
            key, sep, value = part.partition("=")
            if not sep or key not in ("path", "alias", "description"):
                raise ValueError(
                    f"cannot read {part!r} in --register-model {text!r}: write "
                    "NAME[,path=MODEL][,alias=ALIAS][,description=TEXT]"
                )
            fields[key] = value
        return fields


class JobSpec(BaseModel):
    """A job: what runs (a notebook, or a command in a code folder), with what, where and under
    which limits."""

    model_config = ConfigDict(extra="forbid")

    notebook_path: str | None = Field(
        None,
        min_length=1,
        max_length=4096,
        description="The notebook (over REST: relative to the server root). Its content is "
        "snapshotted at submission. A job has a notebook or a command.",
    )
    command: str | None = Field(
        None,
        min_length=1,
        max_length=100_000,
        description="A shell command run in a snapshot of the code folder; ${{inputs.NAME}}, "
        "${{outputs.NAME}} and ${{search_space.NAME}} are replaced by values and paths.",
    )
    code: str | None = Field(
        None,
        min_length=1,
        max_length=4096,
        description="command jobs: the folder snapshotted at submission and run in (default: "
        "none, the command runs in an empty folder).",
    )
    environment_variables: dict[str, str] = Field(
        default_factory=dict, description="Set for the command or the notebook's kernel."
    )
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="Values for the notebook's 'parameters' cell."
    )
    compute: str = Field("local", min_length=1, max_length=64, description="Compute target.")
    kernel_name: str | None = Field(
        None, min_length=1, max_length=MAX_TEXT, description="Default: the notebook's kernel."
    )
    resources: ResourceRequest = Field(default_factory=ResourceRequest)
    timeout_s: FiniteFloat | None = Field(
        None, gt=0, description="Seconds of running before the job is stopped."
    )
    max_retries: int = Field(0, ge=0, le=100, description="Times a failed job is run again.")
    tags: dict[str, str] = Field(default_factory=dict, max_length=MAX_TAGS)
    experiment: str | None = Field(
        None, min_length=1, max_length=MAX_TEXT, description="Default: the notebook's name."
    )
    display_name: str | None = Field(
        None, min_length=1, max_length=MAX_TEXT, description="Default: the notebook's name."
    )
    cwd: str | None = Field(
        None, max_length=4096, description="Working folder (default: the notebook's)."
    )
    allow_unknown_params: bool = Field(
        False, description="Inject parameters the notebook does not declare."
    )
    inputs: dict[str, str] = Field(
        default_factory=dict,
        description="Parameter name -> data version (data:NAME:VERSION, NAME or NAME@latest); "
        "the parameter receives the data's local path.",
    )
    outputs: dict[str, str] = Field(
        default_factory=dict,
        description="Parameter name -> data asset (data:NAME[,kind=file|folder|table]"
        "[,format=parquet|csv][,datastore=STORE]); what the notebook writes to the path in the "
        "parameter is registered as a new version when the job completes.",
    )
    environment: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Environment to run in (NAME or NAME:VERSION); resolved at submission to an "
        "exact version, whose kernel the job runs on.",
    )
    register_model: RegisterModel | None = Field(
        None,
        description="Register the MLflow model the job logged (or saved into its output folder) "
        "as a new version of this model when the job completes; the job fails if it cannot be.",
    )
    parent: JobParent | None = Field(None, description="The sweep or pipeline run it belongs to.")
    rerun_of: str | None = Field(
        None,
        max_length=64,
        description="Run this job's notebook snapshot instead of reading notebook_path.",
    )

    @model_validator(mode="after")
    def _what_runs(self) -> JobSpec:
        if (self.notebook_path is None) == (self.command is None):
            raise ValueError("give either notebook_path (a notebook job) or command")
        if self.code is not None and self.command is None:
            raise ValueError("code goes with a command (a notebook job runs its notebook)")
        return self

    @property
    def kind(self) -> Literal["notebook", "command"]:
        return "command" if self.command is not None else "notebook"

    @field_validator("environment_variables")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,254}", name):
                raise ValueError(f"environment variable name {name[:40]!r} is not valid")
        return check_json(value, "environment variables")

    @field_validator("parameters")
    @classmethod
    def _parameters(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            check_identifier(name, "parameter")
        return check_json(value, "parameters")

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            if not key or len(key) > 250 or len(text) > 5000:
                raise ValueError(f"tag {key[:40]!r}: keys 1-250 characters, values up to 5000")
        return check_json(value, "tags")

    @field_validator("inputs", "outputs")
    @classmethod
    def _bindings(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            check_identifier(name, "data binding parameter")
        return check_json(value, "data bindings")


def gather_resources(fields: dict[str, Any]) -> dict[str, Any]:
    """``cpus=``, ``gpus=`` and ``memory=`` given beside the spec's fields (the CLI's and the
    SDK's shorthand) moved into ``resources``."""
    short = {k: fields[k] for k in ("cpus", "gpus", "memory") if fields.get(k) is not None}
    if not short:
        return {k: v for k, v in fields.items() if k not in ("cpus", "gpus", "memory")}
    rest = {k: v for k, v in fields.items() if k not in ("cpus", "gpus", "memory")}
    return {**rest, "resources": {**dict(rest.get("resources") or {}), **short}}


def fields_from_options(options: dict[str, Any]) -> dict[str, Any]:
    """JobSpec fields from command-line options (CLI and magics share the names): the ones
    given, with ``cpus``/``gpus``/``memory`` gathered into ``resources``, ``tags`` as
    KEY=VALUE pairs and ``inputs``/``outputs`` as NAME=data:... strings."""
    from mlbench.data.jobs import parse_bindings

    opts = gather_resources(
        {k: v for k, v in options.items() if v is not None and v not in ((), [])}
    )
    if "tags" in opts:
        opts["tags"] = dict(opts["tags"])
    for key, what in (("inputs", "input"), ("outputs", "output")):
        if key in opts:
            opts[key] = parse_bindings(list(opts[key]), what)
    if isinstance(opts.get("register_model"), str):
        try:
            opts["register_model"] = RegisterModel.fields_from_text(opts["register_model"])
        except ValueError as exc:
            from mlbench.errors import InvalidInputError

            raise InvalidInputError(str(exc)) from None
    return opts


# What decides a job's result; where and how it runs (compute, resources, limits, names) does not.
HASHED_FIELDS = ("kernel_name", "environment", "parameters", "inputs", "outputs")
COMMAND_FIELDS = ("command", "environment_variables")  # hashed when set (notebook hashes stay)


def spec_hash(spec: JobSpec, source_sha256: str) -> str:
    """Content hash of a resolved spec: the notebook's bytes (or the code snapshot's and the
    command), parameters, exact input versions, output assets, kernel and environment. Two jobs
    with the same hash compute the same thing."""
    body = {"notebook": source_sha256, **spec.model_dump(mode="json", include=set(HASHED_FIELDS))}
    body.update(spec.model_dump(mode="json", include=set(COMMAND_FIELDS), exclude_defaults=True))
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


__all__ = [
    "JobParent",
    "JobSpec",
    "RegisterModel",
    "ResourceRequest",
    "fields_from_options",
    "gather_resources",
    "parse_memory_mb",
    "spec_hash",
]
