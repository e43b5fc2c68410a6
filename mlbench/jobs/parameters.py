"""Typed notebook parameters: read them from the ``parameters`` cell, check and coerce values.

papermill reports a parameter's type only when it is annotated (``epochs: int = 10``); otherwise
the type is inferred here from the default's literal (``lr = 0.01`` is a float). A parameter whose
default is ``None`` or an expression accepts any JSON-compatible value.
"""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from mlbench.errors import ParameterError

_SCALARS = ("int", "float", "str", "bool")
_CONTAINERS = {
    "list": "list",
    "List": "list",
    "tuple": "list",
    "Tuple": "list",
    "dict": "dict",
    "Dict": "dict",
    "set": "list",
    "Set": "list",
    "Sequence": "list",
    "Mapping": "dict",
}


class NotebookParameter(BaseModel):
    """One parameter of a notebook, as the submit form and the CLI show it."""

    name: str
    type: str
    """``int``, ``float``, ``str``, ``bool``, ``list``, ``dict`` or ``any``."""
    nullable: bool = False
    annotation: str | None = None
    default: Any = None
    default_source: str = ""
    help: str = ""


def notebook_parameters(nb: Any) -> tuple[dict[str, NotebookParameter], bool]:
    """A parsed notebook's parameters, in the order of its ``parameters`` cell, and whether it
    has such a cell. Takes the notebook already read, so a submission reads it once."""
    # papermill.inspect_notebook takes a path and reads the file again; this is what it runs.
    from papermill.inspection import _infer_parameters

    for cell in nb.cells:  # papermill's loader gives every cell a tags list; so must we
        cell.setdefault("metadata", {}).setdefault("tags", [])
    has_cell = any("parameters" in c.metadata.tags for c in nb.cells)
    raw = _infer_parameters(nb) if has_cell else []
    return {p.name: _describe(p._asdict()) for p in raw}, has_cell


def _describe(info: dict[str, Any]) -> NotebookParameter:
    annotation = info.get("inferred_type_name")
    annotation = None if annotation in (None, "None") else str(annotation)
    source = str(info.get("default") or "")
    try:
        default = ast.literal_eval(source) if source else None
        evaluable = True
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        default, evaluable = None, False
    if annotation:
        kind, nullable = _parse_annotation(annotation)
    elif not evaluable or default is None:
        kind, nullable = "any", True
    else:
        kind, nullable = _kind_of(default), False
    return NotebookParameter(
        name=info["name"],
        type=kind,
        nullable=nullable or (default is None and evaluable),
        annotation=annotation,
        default=_jsonable(default) if evaluable else None,
        default_source=source,
        help=str(info.get("help") or ""),
    )


def _parse_annotation(annotation: str) -> tuple[str, bool]:
    text = annotation.replace("typing.", "").strip()
    m = re.fullmatch(r"Optional\[(.*)\]", text)
    if m:
        kind, _ = _parse_annotation(m.group(1))
        return kind, True
    parts = _split_union(text)
    if len(parts) > 1:
        non_null = [p for p in parts if p not in ("None", "NoneType")]
        nullable = len(non_null) < len(parts)
        kinds = {_parse_annotation(p)[0] for p in non_null}
        if kinds == {"int", "float"}:
            return "float", nullable
        return (kinds.pop() if len(kinds) == 1 else "any"), nullable
    base = text.split("[", 1)[0].strip()
    if base in _SCALARS:
        return base, False
    if base in _CONTAINERS:
        return _CONTAINERS[base], False
    return "any", True


def _split_union(text: str) -> list[str]:
    m = re.fullmatch(r"Union\[(.*)\]", text)
    inner = m.group(1) if m else text
    parts, depth, current = [], 0, ""
    for ch in inner:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if depth == 0 and ch in ",|":
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    parts.append(current.strip())
    return [p for p in parts if p]


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, (list, tuple, set)):
        return "list"
    if isinstance(value, dict):
        return "dict"
    return "any"


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


class RawValue(str):
    """A value typed on a command line: coerced to the parameter's type, not checked as a str."""


def coerce_parameters(
    given: dict[str, Any],
    declared: dict[str, NotebookParameter],
    *,
    allow_unknown: bool = False,
    has_parameters_cell: bool = True,
) -> dict[str, Any]:
    """Check ``given`` against the notebook's parameters; return JSON-ready, typed values.

    Every problem is collected, so one error names all the bad parameters at once.
    """
    problems: list[str] = []
    out: dict[str, Any] = {}
    for name, value in given.items():
        spec = declared.get(name)
        if spec is None:
            if not allow_unknown:
                if not has_parameters_cell:
                    problems.append(f"'{name}': the notebook has no cell tagged 'parameters'")
                else:
                    known = ", ".join(declared) or "none"
                    problems.append(
                        f"'{name}' is not a parameter of this notebook (known: {known})"
                    )
                continue
            spec = NotebookParameter(name=name, type="any", nullable=True)
        try:
            out[name] = _coerce(value, spec)
        except ValueError as exc:
            problems.append(f"'{name}': {exc}")
    if problems:
        hint = (
            "tag a cell 'parameters' in the notebook, "
            "or pass --allow-unknown-params to inject anyway"
            if not has_parameters_cell
            else "fix the values; pass --allow-unknown-params to inject names the notebook does "
            "not declare"
        )
        raise ParameterError(
            "invalid parameters: " + "; ".join(problems),
            hint=hint,
            details={"errors": problems},
        )
    return out


def _coerce(value: Any, spec: NotebookParameter) -> Any:
    if isinstance(value, RawValue):
        return _coerce_raw(str(value), spec)
    if value is None:
        if spec.nullable or spec.type == "any":
            return None
        raise ValueError(f"expects {spec.type}, got None")
    kind = spec.type
    expected = _describe_expected(spec)
    if kind == "any":
        return _check_json(value)
    if kind == "bool":
        if isinstance(value, bool):
            return value
    elif kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif kind == "float":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif kind == "str":
        if isinstance(value, str):
            return value
    elif kind == "list":
        if isinstance(value, (list, tuple)):
            return _check_json(list(value))
    elif kind == "dict" and isinstance(value, dict):
        return _check_json(value)
    raise ValueError(f"expects {expected}, got {type(value).__name__} {value!r}")


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def _coerce_raw(text: str, spec: NotebookParameter) -> Any:
    kind = spec.type
    expected = _describe_expected(spec)
    if spec.nullable and text in ("None", "null", "~") and kind != "str":
        return None
    if kind == "str":
        return text
    if kind == "int":
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"expects int, got {text!r}") from None
    if kind == "float":
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"expects float, got {text!r}") from None
    if kind == "bool":
        low = text.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError(f"expects bool (true/false), got {text!r}")
    if kind in ("list", "dict"):
        try:
            parsed = yaml.safe_load(text)
        except yaml.YAMLError:
            raise ValueError(f"expects {expected} as JSON/YAML, got {text!r}") from None
        return _coerce(parsed, spec)
    return _check_json(resolve_type(text))


def resolve_type(text: str) -> Any:
    """papermill's CLI rule for untyped values: True/False/None, int, float, else str."""
    if text == "True":
        return True
    if text == "False":
        return False
    if text == "None":
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _describe_expected(spec: NotebookParameter) -> str:
    return f"{spec.type} or None" if spec.nullable else spec.type


def _check_json(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} cannot be stored as JSON")
        return value
    if isinstance(value, (list, tuple)):
        return [_check_json(v) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"dict keys must be strings, got {k!r}")
            out[k] = _check_json(v)
        return out
    raise ValueError(f"{type(value).__name__} values cannot be passed to a notebook")


def parse_cli_parameters(
    params: tuple[tuple[str, str], ...] = (),
    raw_params: tuple[tuple[str, str], ...] = (),
    yaml_texts: tuple[str, ...] = (),
    yaml_files: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Merge papermill-style CLI options: ``-f`` files, then ``-y`` YAML, then ``-p``/``-r``."""
    merged: dict[str, Any] = {}
    for path in yaml_files:
        merged.update(_load_yaml_mapping(Path(path).read_text(), f"parameters file {path}"))
    for text in yaml_texts:
        merged.update(_load_yaml_mapping(text, "-y/--parameters_yaml"))
    for name, value in params:
        merged[name] = RawValue(value)
    for name, value in raw_params:
        merged[name] = value
    return merged


def _load_yaml_mapping(text: str, where: str) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ParameterError(f"{where} is not valid YAML: {exc}") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ParameterError(f"{where} must be a mapping of name: value")
    return {str(k): v for k, v in loaded.items()}
