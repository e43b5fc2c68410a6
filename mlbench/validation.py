"""Input rules shared by every face: finite numbers, names, identifiers and bounded JSON.

Each check raises :class:`~mlbench.errors.InvalidInputError` with a message naming the value and a
hint naming the fix, so the REST layer answers 400 and the CLI prints one line.
"""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator

from mlbench.errors import InvalidInputError

__all__ = [
    "MAX_INT",
    "MAX_JSON_BYTES",
    "MAX_JSON_DEPTH",
    "NAME_MAX",
    "NAME_RE",
    "FiniteFloat",
    "check_identifier",
    "check_json",
    "check_name",
    "finite",
    "json_input",
]

# -- numbers -----------------------------------------------------------------------------------


def finite(value: float, what: str) -> float:
    """``value`` if it is a finite number, else InvalidInputError (NaN and ±inf poison sums,
    comparisons and int() conversions far from where they were stored)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError(
            f"{what} must be a number, got {type(value).__name__}",
            hint=f"give {what} as a finite number, e.g. 2 or 0.5",
        )
    try:
        ok = math.isfinite(value)
    except OverflowError:  # an int too large for a float
        ok = False
    if not ok:
        raise InvalidInputError(
            f"{what} must be a finite number, got {_short(value)}",
            hint=f"give {what} as a finite number (not nan, inf or a huge value)",
        )
    return value


def _finite_float(value: float) -> float:
    if not math.isfinite(value):
        # A ValueError becomes a normal pydantic validation error (400 at the REST layer).
        raise ValueError(f"must be a finite number, got {value!r}")
    return value


FiniteFloat = Annotated[float, AfterValidator(_finite_float)]
"""A float field that refuses NaN and ±inf (pydantic accepts ``"inf"`` and ``"nan"`` strings)."""


# -- names -------------------------------------------------------------------------------------

NAME_MAX = 64
# The alphabet every named resource has used so far; checked with fullmatch, so "x\n" is refused
# (``re.match`` with ``$`` let a trailing newline through).
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def check_name(value: Any, what: str, *, max_len: int = NAME_MAX) -> str:
    """``value`` if it is a valid name for ``what`` (e.g. "compute target"), else
    InvalidInputError. ``max_len`` is 64 for most names; data assets allow 128."""
    if not isinstance(value, str) or len(value) > max_len or not NAME_RE.fullmatch(value):
        raise InvalidInputError(
            f"invalid {what} name {_short(value)}",
            hint=f"use letters, digits, '.', '_' or '-' (at most {max_len}, starting with a "
            "letter or digit)",
        )
    return value


def check_identifier(name: Any, what: str = "parameter") -> str:
    """``name`` if it is a Python identifier and not a keyword (it is pasted into code)."""
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise InvalidInputError(
            f"invalid {what} name {_short(name)}: not a Python identifier",
            hint=f"name the {what} like a Python variable: letters, digits and '_', not "
            "starting with a digit, not a keyword",
        )
    return name


# -- JSON --------------------------------------------------------------------------------------

MAX_JSON_DEPTH = 64
MAX_JSON_BYTES = 16 * 1024 * 1024
MAX_INT = 10**18


def check_json(
    value: Any,
    what: str,
    *,
    max_depth: int = MAX_JSON_DEPTH,
    max_bytes: int = MAX_JSON_BYTES,
) -> Any:
    """``value`` if it is a JSON-like value (dict/list/str/int/float/bool/None) that is at most
    ``max_depth`` deep and about ``max_bytes`` when serialized, with finite floats, ints of at
    most 10**18 in magnitude and strings without lone surrogates; else InvalidInputError naming
    the path of the offending item. Iterative: no RecursionError however deep ``value`` is."""
    size = 0
    # (item, depth, path); path is built lazily from parts only when an error is reported.
    stack: list[tuple[Any, int, tuple[str | int, ...]]] = [(value, 0, ())]
    while stack:
        item, depth, path = stack.pop()
        if depth > max_depth:
            raise InvalidInputError(
                f"{what} is nested more than {max_depth} levels deep (at {_path(what, path)})",
                hint=f"flatten {what}: at most {max_depth} levels of lists and objects",
            )
        if item is None or isinstance(item, bool):
            size += 5
        elif isinstance(item, int):
            if abs(item) > MAX_INT:
                raise InvalidInputError(
                    f"{_path(what, path)} is too large a number ({_short(item)})",
                    hint="use integers of at most 10**18 in magnitude, or pass it as a string",
                )
            size += 20
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise InvalidInputError(
                    f"{_path(what, path)} is not a finite number ({item!r})",
                    hint="use finite numbers (not NaN or Infinity), or pass it as a string",
                )
            size += 24
        elif isinstance(item, str):
            _check_text(item, what, path)
            size += len(item) + 2
        elif isinstance(item, Mapping):
            size += 2
            for key, sub in item.items():
                if not isinstance(key, str):
                    raise InvalidInputError(
                        f"{_path(what, path)} has a non-string key {_short(key)}",
                        hint="JSON object keys are strings",
                    )
                _check_text(key, what, (*path, key))
                size += len(key) + 4
                stack.append((sub, depth + 1, (*path, key)))
        elif isinstance(item, list | tuple):
            size += 2
            for index, sub in enumerate(item):
                size += 1
                stack.append((sub, depth + 1, (*path, index)))
        else:
            raise InvalidInputError(
                f"{_path(what, path)} is a {type(item).__name__}, not a JSON value",
                hint="use strings, numbers, booleans, null, lists and objects",
            )
        if size > max_bytes:
            raise InvalidInputError(
                f"{what} is larger than {max_bytes} bytes",
                hint=f"send less: at most {max_bytes // 1024} KiB of {what}",
            )
    return value


def json_input(data: object, what: str, **limits: Any) -> object:
    """For a pydantic ``model_validator(mode="before")``: ``data`` if :func:`check_json` passes
    it (what field types let through: huge ints, nested NaN, lone surrogates), else ValueError,
    which pydantic reports as a validation error."""
    if isinstance(data, dict):
        try:
            check_json(data, what, **limits)
        except InvalidInputError as exc:
            raise ValueError(exc.message) from None
    return data


def _check_text(text: str, what: str, path: tuple[str | int, ...]) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate cannot be stored as UTF-8 (database, MLflow, notebook files).
        raise InvalidInputError(
            f"{_path(what, path)} holds a lone surrogate character, which is not valid text",
            hint="send valid Unicode text (UTF-8)",
        ) from None


def _path(what: str, path: tuple[str | int, ...]) -> str:
    out = what
    for part in path[:12]:
        out += f"[{part}]" if isinstance(part, int) else f".{_short(part, 40, quote=False)}"
    if len(path) > 12:
        out += f"...({len(path)} levels)"
    return out


def _short(value: Any, limit: int = 60, *, quote: bool = True) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
        # repr() of a 5000-digit int raises ValueError on Python >= 3.11 (int max str digits).
        return f"a {value.bit_length()}-bit integer"
    text = repr(value) if quote else str(value).encode("unicode_escape").decode("ascii")
    return text if len(text) <= limit else text[: limit - 3] + "..."
