"""Pipeline files and the Python builder: Azure ML's pipeline job keys, read into a
:class:`PipelineSpec`, and the graph they describe.

A step reads another step's output with ``${{parent.jobs.STEP.outputs.NAME}}`` and the
pipeline's inputs with ``${{parent.inputs.NAME}}`` (in ``inputs`` or ``parameters``); a step
output written as ``${{parent.outputs.NAME}}`` becomes a pipeline output. Steps are
``type: command`` (Azure's: ``command`` + ``code``) or ``type: notebook`` (mlbench's:
``notebook`` + ``parameters``). Relative paths are from the file's folder.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from mlbench.errors import InvalidInputError
from mlbench.pipelines.models import PipelineSpec, StepOutput, StepSpec

REF = re.compile(
    r"^\$\{\{\s*parent\.(?:inputs\.(?P<input>[A-Za-z_][A-Za-z0-9_]*)"
    r"|jobs\.(?P<step>[A-Za-z0-9_.-]+)\.outputs\.(?P<output>[A-Za-z_][A-Za-z0-9_]*)"
    r"|outputs\.(?P<pout>[A-Za-z_][A-Za-z0-9_]*))\s*\}\}$"
)
STEP_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
PIPELINE_KEYS = {
    "$schema",
    "type",
    "name",
    "display_name",
    "experiment_name",
    "experiment",
    "description",
    "tags",
    "compute",
    "inputs",
    "outputs",
    "settings",
    "jobs",
}
STEP_KEYS = {
    "type",
    "name",
    "display_name",
    "description",
    "notebook",
    "command",
    "code",
    "parameters",
    "inputs",
    "outputs",
    "depends_on",
    "environment",
    "environment_variables",
    "compute",
    "kernel_name",
    "kernel",
    "resources",
    "limits",
    "timeout_s",
    "max_retries",
    "allow_unknown_params",
    "is_deterministic",
    "force_rerun",
    "tags",
}
SETTINGS_KEYS = {
    "continue_on_step_failure",
    "force_rerun",
    "default_compute",
    "default_datastore",
    "max_concurrent_steps",
}


def parse_ref(value: Any) -> tuple[str, str, str] | None:
    """``("input", NAME, "")``, ``("step", STEP, OUTPUT)`` or ``("output", NAME, "")`` for a
    reference, None for anything else; a malformed reference is an error."""
    if not isinstance(value, str) or "${{" not in value:
        return None
    m = REF.match(value.strip())
    if not m:
        raise InvalidInputError(
            f"cannot read the reference {value!r}",
            hint="use ${{parent.inputs.NAME}} or ${{parent.jobs.STEP.outputs.NAME}}, as the "
            "whole value",
        )
    if m.group("input"):
        return ("input", m.group("input"), "")
    if m.group("step"):
        return ("step", m.group("step"), m.group("output"))
    return ("output", m.group("pout"), "")


def step_ref(step: str, output: str) -> str:
    return "${{parent.jobs." + step + ".outputs." + output + "}}"


def input_ref(name: str) -> str:
    return "${{parent.inputs." + name + "}}"


# -- reading -----------------------------------------------------------------------------------
def load_yaml(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInputError(
            f"{path} does not exist", hint="give the pipeline's YAML file"
        ) from None
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise InvalidInputError(f"{path} must hold a mapping of pipeline keys")
    return raw


def parse_pipeline(
    raw: Mapping[str, Any],
    base: Path | None = None,
    *,
    compute_of: Callable[[Any], str] | None = None,
    environment_of: Callable[[Any, str], str | None] | None = None,
) -> PipelineSpec:
    """A PipelineSpec from Azure ML's pipeline job keys (or mlbench's own), paths relative to
    ``base``; every error names the step and the key. ``compute_of``/``environment_of`` map
    ``azureml:`` references to this workspace (a missing target becomes local, a missing
    environment the current Python, each with a note)."""
    base = base or Path.cwd()
    maps = (compute_of, environment_of)
    body = dict(raw)
    kind = body.pop("type", "pipeline")
    if kind != "pipeline":
        raise InvalidInputError(f"type is {kind!r}; a pipeline file has type: pipeline")
    unknown = sorted(set(body) - PIPELINE_KEYS)
    if unknown:
        raise InvalidInputError(
            f"unknown pipeline key(s): {', '.join(unknown)}",
            hint="keys: " + ", ".join(sorted(PIPELINE_KEYS - {"$schema"})),
        )
    body.pop("$schema", None)
    name = body.pop("name", None)
    if "experiment_name" in body:
        body["experiment"] = body.pop("experiment_name")
    if name and not body.get("display_name"):
        body["display_name"] = str(name)
    settings = dict(body.get("settings") or {})
    bad = sorted(set(settings) - SETTINGS_KEYS)
    if bad:
        raise InvalidInputError(
            f"unknown setting(s): {', '.join(bad)}",
            hint="settings: " + ", ".join(sorted(SETTINGS_KEYS)),
        )
    settings.pop("default_datastore", None)
    if isinstance(settings.get("default_compute"), str):
        settings["default_compute"] = _compute(settings["default_compute"], maps)
        body.setdefault("compute", settings["default_compute"])
    if isinstance(body.get("compute"), str):
        body["compute"] = _compute(body["compute"], maps)
    body["settings"] = settings
    body["inputs"] = {k: _pipeline_input(k, v, base) for k, v in (body.get("inputs") or {}).items()}
    declared_outputs = dict(body.get("outputs") or {})
    outputs: dict[str, str] = {}
    for k, v in declared_outputs.items():
        if isinstance(v, str) and parse_ref(v):
            outputs[str(k)] = v
    jobs = body.get("jobs")
    if not isinstance(jobs, Mapping) or not jobs:
        raise InvalidInputError(
            "a pipeline needs jobs: its steps",
            hint="jobs: {prep: {type: notebook, notebook: prep.ipynb}, ...}",
        )
    steps: dict[str, Any] = {}
    for step_name, step in jobs.items():
        steps[str(step_name)] = _step(str(step_name), step, base, outputs, maps)
    body["jobs"] = steps
    body["outputs"] = outputs
    if body.get("tags"):
        body["tags"] = {str(k): str(v) for k, v in body["tags"].items()}
    try:
        return PipelineSpec.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'pipeline'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInputError(
            f"invalid pipeline: {problems}", hint="see docs/pipelines.md for the keys"
        ) from None


def _compute(value: str, maps: tuple[Any, Any]) -> str:
    if maps[0] is not None and value.startswith("azureml:"):
        return str(maps[0](value))
    return value.removeprefix("azureml:")


def _pipeline_input(name: str, value: Any, base: Path) -> Any:
    if not str(name).isidentifier():
        raise InvalidInputError(f"pipeline input name {name!r} is not an identifier")
    if isinstance(value, Mapping):
        kind = str(value.get("type", "uri_folder"))
        if kind in ("string", "integer", "number", "boolean"):
            return value.get("default", value.get("value"))
        path = value.get("path")
        if not isinstance(path, str):
            raise InvalidInputError(f"pipeline input {name}: a data input needs a path")
        return {"type": kind, "path": _data_path(name, path, base)}
    if isinstance(value, str) and value.startswith(("data:", "azureml:")):
        return {"type": "uri_folder", "path": _data_path(name, value, base)}
    return value


def _data_path(name: str, path: str, base: Path) -> str:
    if path.startswith("azureml:"):
        path = "data:" + path.removeprefix("azureml:").replace("@latest", "")
    if path.startswith("data:"):
        return path
    raise InvalidInputError(
        f"pipeline input {name}: {path!r} is not a data asset",
        hint="register it first (mlbench data create NAME --path PATH) and give data:NAME:V",
    )


def _step(
    name: str, raw: Any, base: Path, pipeline_outputs: dict[str, str], maps: tuple[Any, Any]
) -> dict[str, Any]:
    if not STEP_NAME.fullmatch(name):
        raise InvalidInputError(
            f"step name {name!r} is not valid",
            hint="letters, digits, '_' and '-' (at most 64), starting with a letter or '_'",
        )
    if not isinstance(raw, Mapping):
        raise InvalidInputError(f"step {name}: must be a mapping of step keys")
    step = dict(raw)
    unknown = sorted(set(step) - STEP_KEYS)
    if unknown:
        raise InvalidInputError(
            f"step {name}: unknown key(s): {', '.join(unknown)}",
            hint="keys: " + ", ".join(sorted(STEP_KEYS)),
        )
    kind = step.pop("type", None) or ("command" if "command" in step else "notebook")
    if kind not in ("notebook", "command"):
        raise InvalidInputError(
            f"step {name}: type {kind!r} is not run here", hint="type: notebook or type: command"
        )
    step.pop("name", None)
    step.pop("description", None)
    step.pop("tags", None)
    if "kernel" in step:
        step["kernel_name"] = step.pop("kernel")
    limits = step.pop("limits", None) or {}
    if limits.get("timeout"):
        step["timeout_s"] = float(limits["timeout"])
    for key in ("notebook", "code"):
        value = step.get(key)
        if isinstance(value, str) and not Path(value).expanduser().is_absolute():
            step[key] = str((base / value).resolve())
    if kind == "notebook" and not step.get("notebook"):
        raise InvalidInputError(f"step {name}: a notebook step needs notebook: PATH")
    if kind == "command" and not step.get("command"):
        raise InvalidInputError(f"step {name}: a command step needs command: ...")
    if isinstance(step.get("compute"), str):
        step["compute"] = _compute(step["compute"], maps)
    if step.get("environment") is not None:
        env = step["environment"]
        mapper = maps[1]
        if mapper is not None and (isinstance(env, Mapping) or str(env).startswith("azureml:")):
            step["environment"] = mapper(env, name)
        elif isinstance(env, str):
            step["environment"] = env.removeprefix("azureml:").replace("@latest", "")
        else:
            raise InvalidInputError(f"step {name}: environment must be a name (NAME[:VERSION])")
    if isinstance(step.get("depends_on"), str):
        step["depends_on"] = [step["depends_on"]]
    inputs: dict[str, Any] = {}
    for key, given in (step.get("inputs") or {}).items():
        value = given
        if isinstance(value, Mapping):  # Azure: {type: uri_folder, path: ...} or a literal type
            if "path" in value:
                value = value["path"]
                if isinstance(value, str) and value.startswith("azureml:"):
                    value = _data_path(f"{name}.{key}", value, base)
            else:
                value = value.get("default", value.get("value"))
        inputs[str(key)] = value
    step["inputs"] = inputs
    outputs: dict[str, Any] = {}
    for key, declared in (step.get("outputs") or {}).items():
        value = declared
        ref = parse_ref(value) if isinstance(value, str) else None
        if ref is not None:
            if ref[0] != "output":
                raise InvalidInputError(
                    f"step {name}: output {key} = {value!r}: an output is written, not read",
                    hint="declare it ({type: uri_folder}) or bind it to ${{parent.outputs.X}}",
                )
            pipeline_outputs[ref[1]] = step_ref(name, str(key))
            value = None
        if value is None or isinstance(value, str):
            value = {"type": value or "uri_folder"}
        elif isinstance(value, Mapping):
            value = {k: v for k, v in value.items() if k in ("type", "name")}
        outputs[str(key)] = StepOutput.model_validate(value) if value else StepOutput()
    step["outputs"] = outputs
    return step


# -- the graph ---------------------------------------------------------------------------------
def upstream(step: StepSpec) -> set[str]:
    """The steps a step waits for: those it reads outputs of, and its depends_on."""
    found = set(step.depends_on)
    for value in [*step.inputs.values(), *step.parameters.values()]:
        ref = parse_ref(value)
        if ref and ref[0] == "step":
            found.add(ref[1])
    return found


def check_graph(spec: PipelineSpec) -> list[str]:
    """Every reference resolvable, no cycle; returns the steps in a topological order (ties
    in file order)."""
    names = list(spec.jobs)
    for name, step in spec.jobs.items():
        for where, mapping in (("inputs", step.inputs), ("parameters", step.parameters)):
            for key, value in mapping.items():
                ref = parse_ref(value)
                if ref is None:
                    continue
                if ref[0] == "output":
                    raise InvalidInputError(
                        f"step {name}: {where}.{key} reads ${{{{parent.outputs.{ref[1]}}}}}; "
                        "a pipeline output is written by a step's outputs"
                    )
                if ref[0] == "input" and ref[1] not in spec.inputs:
                    raise InvalidInputError(
                        f"step {name}: {where}.{key} reads pipeline input {ref[1]!r}, which is "
                        "not declared",
                        hint="pipeline inputs: " + (", ".join(spec.inputs) or "none"),
                    )
                if ref[0] == "step":
                    _check_output(spec, name, f"{where}.{key}", ref[1], ref[2])
                    if where == "parameters":
                        raise InvalidInputError(
                            f"step {name}: parameters.{key} reads a step output; bind data "
                            "under inputs",
                            hint=f"inputs: {{{key}: {value}}}",
                        )
        for dep in step.depends_on:
            if dep not in spec.jobs:
                raise InvalidInputError(
                    f"step {name}: depends_on names unknown step {dep!r}",
                    hint="steps: " + ", ".join(names),
                )
        if name in upstream(step):
            raise InvalidInputError(f"step {name} reads its own output (a cycle)")
    for out, value in spec.outputs.items():
        ref = parse_ref(value)
        if not ref or ref[0] != "step":
            raise InvalidInputError(f"pipeline output {out}: {value!r} names no step output")
        _check_output(spec, "pipeline", f"outputs.{out}", ref[1], ref[2])
    return topological(spec)


def _check_output(spec: PipelineSpec, name: str, where: str, step: str, output: str) -> None:
    if step not in spec.jobs:
        raise InvalidInputError(
            f"step {name}: {where} reads step {step!r}, which does not exist",
            hint="steps: " + ", ".join(spec.jobs),
        )
    if output not in spec.jobs[step].outputs:
        declared = ", ".join(spec.jobs[step].outputs) or "none"
        raise InvalidInputError(
            f"step {name}: {where} reads output {output!r} of step {step!r}, which it does "
            f"not declare (its outputs: {declared})",
            hint=f"declare it under jobs.{step}.outputs",
        )


def topological(spec: PipelineSpec) -> list[str]:
    deps = {n: upstream(s) for n, s in spec.jobs.items()}
    order: list[str] = []
    done: set[str] = set()
    while len(order) < len(deps):
        ready = [n for n in deps if n not in done and deps[n] <= done]
        if not ready:
            left = [n for n in deps if n not in done]
            raise InvalidInputError(
                "the steps form a cycle: " + " -> ".join(_cycle(deps, left)),
                hint="a step can only read outputs of steps that do not read its own",
            )
        for n in ready:
            order.append(n)
            done.add(n)
    return order


def _cycle(deps: dict[str, set[str]], left: list[str]) -> list[str]:
    path = [left[0]]
    while True:
        nxt = next(d for d in sorted(deps[path[-1]]) if d in left)
        if nxt in path:
            return [*path[path.index(nxt) :], nxt]
        path.append(nxt)


def downstream(spec: PipelineSpec, roots: Iterable[str]) -> set[str]:
    below: dict[str, set[str]] = {n: set() for n in spec.jobs}
    for n, s in spec.jobs.items():
        for d in upstream(s):
            below[d].add(n)
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(below[n])
    return seen


def ancestors(spec: PipelineSpec, roots: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(upstream(spec.jobs[n]))
    return seen


def selection(
    spec: PipelineSpec,
    only: Iterable[str] = (),
    from_step: str | None = None,
    to_step: str | None = None,
) -> set[str] | None:
    """The steps to run for ``--only``/``--from``/``--to`` (None: all)."""
    only = list(only)
    for n in [*only, from_step, to_step]:
        if n is not None and n not in spec.jobs:
            raise InvalidInputError(f"unknown step {n!r}", hint="steps: " + ", ".join(spec.jobs))
    if not only and from_step is None and to_step is None:
        return None
    chosen = set(spec.jobs)
    if only:
        chosen &= set(only)
    if from_step is not None:
        chosen &= downstream(spec, [from_step])
    if to_step is not None:
        chosen &= ancestors(spec, [to_step])
    if not chosen:
        raise InvalidInputError("the selection holds no step", hint="check --from/--to/--only")
    return chosen


# -- the builder -------------------------------------------------------------------------------
class _Outputs:
    def __init__(self, step: str, names: Iterable[str]) -> None:
        self._step = step
        self._names = set(names)

    def __getattr__(self, name: str) -> str:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._names:
            raise InvalidInputError(f"step {self._step} declares no output {name!r}")
        return step_ref(self._step, name)

    __getitem__ = __getattr__


class StepHandle:
    def __init__(self, name: str, outputs: Iterable[str]) -> None:
        self.name = name
        self.outputs = _Outputs(name, outputs)


class Pipeline:
    """A small builder::

    p = Pipeline("etl")
    prep = p.notebook("prep", "prep.ipynb", parameters={"n": 100}, outputs=["train"])
    fit = p.notebook("fit", "fit.ipynb", inputs={"train": prep.outputs.train})
    ws.pipelines.run(p)
    """

    def __init__(self, name: str, *, compute: str = "local", **fields: Any) -> None:
        self.body: dict[str, Any] = {
            "display_name": name,
            "compute": compute,
            "inputs": {},
            "jobs": {},
            **fields,
        }

    def input(self, name: str, value: Any) -> str:
        """A pipeline input (a literal, or data 'data:NAME:V'); returns its reference."""
        self.body["inputs"][name] = value
        return input_ref(name)

    def notebook(
        self,
        name: str,
        notebook: str | Path,
        *,
        outputs: Iterable[str] | Mapping[str, Any] = (),
        **fields: Any,
    ) -> StepHandle:
        return self._add(name, {"type": "notebook", "notebook": str(notebook), **fields}, outputs)

    def command(
        self,
        name: str,
        command: str,
        *,
        code: str | Path | None = None,
        outputs: Iterable[str] | Mapping[str, Any] = (),
        **fields: Any,
    ) -> StepHandle:
        step = {"type": "command", "command": command, **fields}
        if code is not None:
            step["code"] = str(code)
        return self._add(name, step, outputs)

    def _add(self, name: str, step: dict[str, Any], outputs: Any) -> StepHandle:
        if name in self.body["jobs"]:
            raise InvalidInputError(f"step {name!r} is defined twice")
        outs = dict(outputs) if isinstance(outputs, Mapping) else {o: None for o in outputs}
        step["outputs"] = outs
        self.body["jobs"][name] = step
        return StepHandle(name, outs)

    def spec(self) -> PipelineSpec:
        return parse_pipeline(self.body)


__all__ = [
    "Pipeline",
    "StepHandle",
    "check_graph",
    "downstream",
    "load_yaml",
    "parse_pipeline",
    "parse_ref",
    "selection",
    "topological",
    "upstream",
]
