"""Azure ML CLI v2 job YAML, run as it is: ``type: command`` and ``type: sweep`` files.

References are mapped to what this workspace has, and every mapping is reported once as a note
(the CLI prints them): ``azureml:NAME:V`` / ``azureml:NAME@latest`` data inputs become data
bindings of the asset NAME; ``azureml:`` compute becomes the compute target of that name, else
``local``; ``azureml:`` environments become the mlbench environment of that name, an inline one
(an image, a conda file) the current interpreter. Keys that cannot apply on this machine
(instance types and counts, distribution, identity...) are reported, not silently dropped;
unknown keys and malformed values are errors naming the line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlbench.errors import InvalidInputError

COMMAND_KEYS = {
    "$schema",
    "type",
    "name",
    "display_name",
    "experiment_name",
    "description",
    "tags",
    "command",
    "code",
    "inputs",
    "outputs",
    "environment",
    "environment_variables",
    "compute",
    "resources",
    "limits",
    "distribution",
    "identity",
    "services",
    "queue_settings",
    "is_deterministic",
}
SWEEP_KEYS = {
    "$schema",
    "type",
    "name",
    "display_name",
    "experiment_name",
    "description",
    "tags",
    "trial",
    "inputs",
    "outputs",
    "compute",
    "sampling_algorithm",
    "search_space",
    "objective",
    "early_termination",
    "limits",
    "identity",
    "queue_settings",
}
TRIAL_KEYS = {"command", "code", "environment", "environment_variables", "resources", "type"}
NOT_HERE = {
    "distribution": "multi-node distribution is not run here: the command runs once",
    "identity": "identity is Azure's: the command runs as you",
    "services": "interactive services (SSH, TensorBoard) are Azure's",
    "queue_settings": "queue settings are Azure's",
    "is_deterministic": "is_deterministic is not used (mlbench hashes what a job runs)",
}
DATA_REF = re.compile(r"azureml:(?P<name>[A-Za-z0-9_.-]+)(?:(?::(?P<version>\d+))|@latest)?$")
REMOTE = ("https://", "http://", "wasbs://", "abfss://", "s3://", "gs://", "azureml://", "adl://")
LITERAL_TYPES = {"string", "integer", "number", "boolean"}
PATH_TYPES = {"uri_file", "uri_folder", "mlflow_model", "custom_model", "mltable"}


@dataclass
class Loaded:
    """A job file read: what to submit, and the notes on how it was mapped."""

    kind: str  # command, sweep or pipeline
    body: dict[str, Any]  # JobSpec fields, a sweep mapping for ws.sweeps.submit, or {"path": ...}
    notes: list[str] = field(default_factory=list)


def datastore_uri(uri: str) -> str | None:
    """An Azure storage URI as mlbench's datastores read it; None where none can (http)."""
    m = re.match(r"azureml://datastores/(?P<store>[^/]+)/paths/(?P<path>.*)$", uri)
    if m:
        return f"datastore://{m.group('store')}/{m.group('path')}"
    m = re.match(r"(?P<scheme>wasbs|abfss)://(?P<container>[^@/]+)@[^/]+/?(?P<path>.*)$", uri)
    if m:
        scheme = "az" if m.group("scheme") == "wasbs" else "abfs"
        return f"{scheme}://{m.group('container')}/{m.group('path')}"
    if uri.startswith(("s3://", "gs://", "adl://")):
        return uri
    return None


Register = Callable[[str, str, "str | None"], str]


class _Reader:
    def __init__(self, path: Path, text: str, register: Register | None = None) -> None:
        self.path = path
        self.base = path.parent
        self.notes: list[str] = []
        self._register = register
        self.remote: list[
            tuple[dict[str, str], str, str, str, str | None, str, tuple[str, ...]]
        ] = []
        try:
            self.root = yaml.compose(text)
            self.data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InvalidInputError(f"{path} is not valid YAML: {exc}") from None
        if not isinstance(self.data, dict):
            raise InvalidInputError(f"{path}: a job file holds a mapping of Azure ML job keys")

    def line(self, *keys: str) -> int:
        """1-based line of the key at ``keys`` (the file's first line when not found)."""
        node: Any = self.root
        line = 1
        for key in keys:
            if not isinstance(node, yaml.MappingNode):
                break
            for k, v in node.value:
                if k.value == key:
                    line, node = k.start_mark.line + 1, v
                    break
            else:
                break
        return line

    def fail(self, message: str, *keys: str, hint: str | None = None) -> InvalidInputError:
        return InvalidInputError(f"{self.path.name}:{self.line(*keys)}: {message}", hint=hint)

    def register_remote(self) -> None:
        """The remote inputs as data versions on the datastores holding them."""
        for bindings, name, asset, uri, kind, value, here in self.remote:
            if self._register is None:
                raise InvalidInputError("remote inputs need a workspace to register them in")
            try:
                ref = self._register(asset, uri, kind)
            except InvalidInputError as exc:
                raise self.fail(f"input {name}: {exc.message}", *here, hint=exc.hint) from None
            bindings[name] = ref
            self.note(f"input {name}: {value} -> the mlbench data asset {ref} (on its datastore)")

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def check_keys(self, mapping: dict[str, Any], allowed: set[str], *where: str) -> None:
        unknown = sorted(set(mapping) - allowed)
        if unknown:
            raise self.fail(
                f"unknown key {unknown[0]!r}" + (f" in {'.'.join(where)}" if where else ""),
                *where,
                unknown[0],
                hint=f"keys here: {', '.join(sorted(allowed - {'$schema'}))}",
            )

    # -- pieces --------------------------------------------------------------------------------
    def compute(self, raw: Any, exists: Callable[[str], bool]) -> str:
        if raw is None:
            return "local"
        name = str(raw).removeprefix("azureml:")
        if exists(name):
            if str(raw).startswith("azureml:"):
                self.note(f"compute {raw} -> the compute target {name!r}")
            return name
        self.note(f"compute {raw}: no compute target {name!r} here -> local")
        return "local"

    def environment(self, raw: Any, exists: Callable[[str], bool], *where: str) -> str | None:
        if raw is None:
            return None
        if isinstance(raw, str):
            ref = raw.removeprefix("azureml:")
            name, _, version = ref.replace("@latest", "").partition(":")
            if exists(name):
                self.note(f"environment {raw} -> the mlbench environment {name!r}")
                return f"{name}:{version}" if version else name
            self.note(
                f"environment {raw}: no mlbench environment {name!r} -> the current Python "
                f"(create one: mlbench env create {name} -r requirements.txt)"
            )
            return None
        if isinstance(raw, dict):
            conda = raw.get("conda_file")
            hint = f"; build its conda file with: mlbench env create NAME --conda {conda}"
            self.note(
                f"inline environment ({raw.get('image', 'no image')}): no container runtime is "
                "used -> the current Python" + (hint if conda else "")
            )
            return None
        raise self.fail("environment must be a reference or a mapping", *where)

    def inputs(self, raw: Any, *where: str) -> tuple[dict[str, Any], dict[str, str]]:
        """(literal and path parameters, data bindings) of an ``inputs:`` mapping."""
        parameters: dict[str, Any] = {}
        bindings: dict[str, str] = {}
        if raw is None:
            return parameters, bindings
        if not isinstance(raw, dict):
            raise self.fail("inputs must be a mapping of NAME: value", *where)
        for name, given in raw.items():
            here = (*where, str(name))
            if not str(name).isidentifier():
                raise self.fail(f"input name {name!r} is not an identifier", *here)
            value = given
            if isinstance(given, dict):
                kind = str(given.get("type", "uri_folder"))
                if kind in LITERAL_TYPES:
                    parameters[name] = given.get("default", given.get("value"))
                    continue
                if kind not in PATH_TYPES:
                    raise self.fail(f"input {name}: unknown type {kind!r}", *here)
                if "mode" in given:
                    self.note(f"input {name}: mode {given['mode']} -> a local path")
                value = given.get("path")
                if value is None:
                    raise self.fail(f"input {name} has no path", *here)
            if isinstance(value, str) and value.startswith("azureml:") and "://" not in value:
                m = DATA_REF.match(value)
                if not m:
                    raise self.fail(f"input {name}: cannot read data reference {value!r}", *here)
                ref = f"data:{m.group('name')}" + (
                    f":{m.group('version')}" if m.group("version") else ""
                )
                bindings[name] = ref
                self.note(f"input {name}: {value} -> the mlbench data asset {ref}")
            elif isinstance(value, str) and value.startswith(REMOTE):
                uri = datastore_uri(value)
                if uri is None:
                    raise self.fail(
                        f"input {name}: {value.split('://')[0]}:// paths are not read by "
                        "command jobs",
                        *here,
                        hint="register the data first (mlbench data create NAME URI) and use "
                        "azureml:NAME:VERSION, or a local path",
                    )
                kind = (
                    "file" if isinstance(given, dict) and given.get("type") == "uri_file" else None
                )
                asset = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{self.path.stem}-{name}").strip("-")
                # registered once the whole file is read: a bad file registers nothing
                self.remote.append((bindings, name, asset, uri, kind, value, here))
            elif isinstance(value, str) and isinstance(given, dict):  # a local file or folder
                local = (self.base / value).resolve()
                if not local.exists():
                    raise self.fail(f"input {name}: {local} does not exist", *here)
                parameters[name] = str(local)
            else:
                parameters[name] = value
        return parameters, bindings

    def outputs(self, raw: Any, *where: str) -> dict[str, str]:
        """Data output bindings (outputs with a ``name``); others are artifact folders."""
        bindings: dict[str, str] = {}
        for name, value in (raw or {}).items():
            if not isinstance(value, dict):
                continue
            kind = str(value.get("type", "uri_folder"))
            if kind not in ("uri_folder", "uri_file", "mlflow_model", "custom_model"):
                raise self.fail(f"output {name}: unknown type {kind!r}", *where, str(name))
            if value.get("path"):
                self.note(f"output {name}: path {value['path']} -> the job's output folder")
            if value.get("name"):
                kind_opt = "file" if kind == "uri_file" else "folder"
                bindings[name] = f"data:{value['name']},kind={kind_opt}"
                self.note(f"output {name} -> a new version of data asset {value['name']!r}")
        return bindings

    def command_fields(
        self, raw: dict[str, Any], where: tuple[str, ...], exists_env: Callable[[str], bool]
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"command": raw.get("command")}
        if not isinstance(body["command"], str) or not body["command"].strip():
            raise self.fail("a command job needs a command", *where, hint="command: python x.py")
        code = raw.get("code")
        if code is not None:
            if str(code).startswith(("azureml:", *REMOTE)):
                raise self.fail(f"code {code} is not a local folder", *where, "code")
            body["code"] = str((self.base / str(code)).resolve())
        env_vars = raw.get("environment_variables") or {}
        if env_vars:
            body["environment_variables"] = {str(k): str(v) for k, v in env_vars.items()}
        env = self.environment(raw.get("environment"), exists_env, *where, "environment")
        if env:
            body["environment"] = env
        resources = raw.get("resources") or {}
        for key in sorted(resources):
            self.note(f"resources.{key}: {resources[key]} is Azure's -> not applied here")
        return body


def load_job_yaml(
    path: Path,
    *,
    compute_exists: Callable[[str], bool],
    environment_exists: Callable[[str], bool],
    register_data: Register | None = None,
) -> Loaded:
    """Read an Azure ML job file into what ``ws.jobs.submit`` or ``ws.sweeps.submit`` takes.
    ``register_data(asset, uri, kind)`` registers a remote input (on the datastore holding it)
    and returns its exact data reference."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInputError(f"{path} does not exist", hint="give the job's YAML file") from None
    r = _Reader(path, text, register_data)
    data = r.data
    kind = data.get("type", "command")
    if kind == "pipeline":  # read by mlbench.pipelines (ws.pipelines.load), which maps it
        return Loaded("pipeline", {"path": str(path)}, r.notes)
    if kind not in ("command", "sweep"):
        raise r.fail(f"unknown job type {kind!r}", "type", hint="type: command or type: sweep")
    r.check_keys(data, COMMAND_KEYS if kind == "command" else SWEEP_KEYS)
    for key, why in NOT_HERE.items():
        if key in data:
            r.note(f"{key}: {why}")
    if "name" in data:
        r.note(f"name {data['name']}: mlbench gives each job its own id")
    common: dict[str, Any] = {}
    if data.get("display_name"):
        common["display_name"] = str(data["display_name"])
    if data.get("experiment_name"):
        common["experiment"] = str(data["experiment_name"])
    tags = {str(k): str(v) for k, v in (data.get("tags") or {}).items()}
    if data.get("description"):
        tags["description"] = str(data["description"])[:5000]
    compute = r.compute(data.get("compute"), compute_exists)
    parameters, bindings = r.inputs(data.get("inputs"), "inputs")
    outputs = r.outputs(data.get("outputs"), "outputs")
    if kind == "command":
        body = r.command_fields(data, (), environment_exists)
        limits = data.get("limits") or {}
        if limits.get("timeout"):
            body["timeout_s"] = float(limits["timeout"])
        body.update(
            common,
            compute=compute,
            parameters=parameters,
            inputs=bindings,
            outputs=outputs,
            tags=tags,
        )
        r.register_remote()
        return Loaded("command", body, r.notes)
    trial = data.get("trial")
    if not isinstance(trial, dict):
        raise r.fail(
            "a sweep needs its trial: a mapping with the command",
            "trial",
            hint="trial: {code: src, command: python train.py --lr ${{search_space.lr}}}",
        )
    r.check_keys(trial, TRIAL_KEYS, "trial")
    trial_body = r.command_fields(trial, ("trial",), environment_exists)
    trial_body.update(compute=compute, parameters=parameters, inputs=bindings, outputs=outputs)
    limits = dict(data.get("limits") or {})
    sweep: dict[str, Any] = {
        "trial": trial_body,
        "search_space": data.get("search_space"),
        "objective": data.get("objective"),
        "limits": limits,
        **common,
        "tags": tags,
    }
    for key in ("sampling_algorithm", "early_termination"):
        if data.get(key) is not None:
            sweep[key] = data[key]
    r.register_remote()
    return Loaded("sweep", sweep, r.notes)


def export_command_job(spec: Any, *, code_dir: str | None = None) -> str:
    """A job's spec as Azure ML command job YAML (``mlbench job export --format azureml``).

    A notebook job is exported as a command running papermill on its notebook, so it runs on
    Azure ML as it ran here."""
    doc: dict[str, Any] = {
        "$schema": "https://azuremlschemas.azureedge.net/latest/commandJob.schema.json",
        "type": "command",
    }
    if spec.display_name:
        doc["display_name"] = spec.display_name
    if spec.experiment:
        doc["experiment_name"] = spec.experiment
    params = dict(spec.parameters)
    if spec.command is not None:
        doc["command"] = spec.command
        if code_dir or spec.code:
            doc["code"] = code_dir or spec.code
    else:
        notebook = Path(spec.notebook_path or "notebook.ipynb")
        doc["code"] = code_dir or str(notebook.parent)
        flags = " ".join(f"-p {k} ${{{{inputs.{k}}}}}" for k in params)
        doc["command"] = f"papermill {notebook.name} output.ipynb {flags}".strip()
    inputs: dict[str, Any] = {}
    for name, value in params.items():  # a local path given as an input goes back as a path
        is_path = isinstance(value, str) and value.startswith("/") and Path(value).exists()
        if is_path:
            kind = "uri_folder" if Path(value).is_dir() else "uri_file"
            inputs[name] = {"type": kind, "path": value}
        else:
            inputs[name] = value
    for name, ref in spec.inputs.items():
        asset, _, version = ref.removeprefix("data:").partition(":")
        inputs[name] = {"type": "uri_folder", "path": f"azureml:{asset}:{version or '1'}"}
    if inputs:
        doc["inputs"] = inputs
    outputs = {}
    for name, out in spec.outputs.items():
        asset = out.removeprefix("data:").split(",")[0]
        outputs[name] = {"type": "uri_folder", "name": asset}
    if outputs:
        doc["outputs"] = outputs
    if spec.environment_variables:
        doc["environment_variables"] = dict(spec.environment_variables)
    if spec.environment:
        name, _, version = spec.environment.partition(":")
        doc["environment"] = f"azureml:{name}:{version}" if version else f"azureml:{name}@latest"
    doc["compute"] = f"azureml:{spec.compute}"
    if spec.timeout_s:
        doc["limits"] = {"timeout": int(spec.timeout_s)}
    tags = {k: v for k, v in spec.tags.items() if not k.startswith(("mlbench.", "mlflow."))}
    if tags:
        doc["tags"] = tags
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


__all__ = ["Loaded", "export_command_job", "load_job_yaml"]
