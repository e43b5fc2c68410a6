"""Elyra ``.pipeline`` files (pipeline-flow v3 JSON) opened as they are.

Generic nodes become steps: a notebook node a notebook step, a Python script node a command
step (``python SCRIPT`` run in the file's folder). Links become ``depends_on`` edges, a node's
``env_vars`` (and the pipeline defaults') its environment variables. Elyra's local runner runs
every node in the pipeline's folder, one after another, and the nodes hand files to each other
there (their declared ``outputs``); mlbench runs them the same way, in that folder, but
independent nodes at once. Because those files are not versioned data, Elyra steps are never
reused (``is_deterministic: false``). Container images, resources of KFP/Airflow runtimes and
R nodes cannot apply here: images map to the default environment with a note, anything else
is refused with the node's name.
"""

from __future__ import annotations

import json
import logging
import re
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlbench.errors import InvalidInputError
from mlbench.pipelines.models import PipelineSpec
from mlbench.pipelines.spec import parse_pipeline

if TYPE_CHECKING:
    from mlbench.workspace import Workspace

log = logging.getLogger(__name__)

NOTEBOOK_OP = "execute-notebook-node"
PYTHON_OP = "execute-python-node"


def load_elyra(path: Path, ws: Workspace | None = None) -> PipelineSpec:
    body, notes = read_elyra(path)
    for note in notes:
        log.info("%s: %s", path.name, note)
    return parse_pipeline(body, path.parent)


def read_elyra(path: Path) -> tuple[dict[str, Any], list[str]]:
    """A pipeline mapping (the YAML keys) from an Elyra file, and notes on what was mapped."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInputError(f"{path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{path} is not an Elyra pipeline (JSON): {exc}") from None
    if not isinstance(doc, dict) or doc.get("doc_type") != "pipeline":
        raise InvalidInputError(f"{path}: doc_type is not 'pipeline'; not an Elyra pipeline file")
    pipelines = doc.get("pipelines") or []
    primary = doc.get("primary_pipeline")
    flow = next(
        (p for p in pipelines if p.get("id") == primary), pipelines[0] if pipelines else None
    )
    if not isinstance(flow, dict):
        raise InvalidInputError(f"{path}: the file holds no pipeline")
    app = flow.get("app_data") or {}
    props = app.get("properties") or {}
    defaults = props.get("pipeline_defaults") or {}
    notes: list[str] = []
    runtime = app.get("runtime_type") or app.get("runtime")
    if runtime and str(runtime).lower() not in ("local", "generic"):
        notes.append(f"runtime {runtime}: run locally by mlbench")
    default_env = _env_vars(defaults.get("env_vars"), "pipeline defaults")
    names: dict[str, str] = {}
    nodes = [n for n in flow.get("nodes") or [] if n.get("type") == "execution_node"]
    for node in nodes:
        names[node["id"]] = _name(node, set(names.values()))
    jobs: dict[str, Any] = {}
    for node in nodes:
        name = names[node["id"]]
        data = node.get("app_data") or {}
        params = data.get("component_parameters") or data
        filename = params.get("filename")
        if not isinstance(filename, str) or not filename:
            raise InvalidInputError(f"node {name}: no filename")
        op = node.get("op") or data.get("op")
        env = {**default_env, **_env_vars(params.get("env_vars"), f"node {name}")}
        image = params.get("runtime_image") or defaults.get("runtime_image")
        if image:
            notes.append(f"node {name}: image {image} -> the default environment (no containers)")
        for key in ("cpu", "gpu", "memory", "kubernetes_secrets", "mounted_volumes"):
            if params.get(key):
                notes.append(f"node {name}: {key} is for container runtimes; not applied")
        deps = [
            names[link["node_id_ref"]]
            for port in node.get("inputs") or []
            for link in port.get("links") or []
            if link.get("node_id_ref") in names
        ]
        step: dict[str, Any] = {
            "display_name": str((data.get("ui_data") or {}).get("label") or name)[:256],
            "depends_on": sorted(set(deps)),
            "environment_variables": env,
            "is_deterministic": False,
        }
        if op == NOTEBOOK_OP or filename.endswith(".ipynb"):
            step.update(type="notebook", notebook=filename)
        elif op == PYTHON_OP or filename.endswith(".py"):
            script = (path.parent / filename).resolve()
            if not script.is_file():
                raise InvalidInputError(f"node {name}: script {script} does not exist")
            folder = shlex.quote(str(path.parent.resolve()))
            step.update(
                type="command",
                command=f"cd {folder} && python {shlex.quote(str(script))}",
            )
        else:
            raise InvalidInputError(
                f"node {name}: {op or filename} nodes are not run here",
                hint="generic notebook and Python script nodes are",
            )
        jobs[name] = step
    if not jobs:
        raise InvalidInputError(f"{path}: the pipeline has no notebook or script nodes")
    name = props.get("name") or app.get("name") or path.stem
    return {"display_name": str(name), "jobs": jobs}, notes


def _name(node: dict[str, Any], taken: set[str]) -> str:
    data = node.get("app_data") or {}
    label = (data.get("ui_data") or {}).get("label") or data.get("label")
    if not label:
        params = data.get("component_parameters") or data
        label = Path(str(params.get("filename") or node.get("id") or "step")).stem
    base = re.sub(r"[^A-Za-z0-9_-]+", "_", str(label)).strip("_-")[:60] or "step"
    if not (base[0].isalpha() or base[0] == "_"):
        base = f"n_{base}"
    name, i = base, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    return name


def _env_vars(raw: Any, where: str) -> dict[str, str]:
    """Elyra's env_vars: [{"env_var": NAME, "value": V}] (3.x) or ["NAME=V"] (older)."""
    out: dict[str, str] = {}
    for item in raw or []:
        if isinstance(item, dict):
            key, value = item.get("env_var"), item.get("value")
        else:
            key, _, value = str(item).partition("=")
        if key:
            out[str(key).strip()] = "" if value is None else str(value)
    return out


__all__ = ["load_elyra", "read_elyra"]
