"""The shared input rules (mlbench.validation): unit and property tests."""

from __future__ import annotations

import json
import keyword
import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from mlbench.errors import InvalidInputError
from mlbench.validation import (
    MAX_INT,
    NAME_RE,
    FiniteFloat,
    check_identifier,
    check_json,
    check_name,
    finite,
)


class _Model(BaseModel):
    x: FiniteFloat


# -- numbers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["inf", "-inf", "nan", "Infinity", "1e400", math.inf, math.nan])
def test_finite_float_refuses_non_finite(bad: object) -> None:
    with pytest.raises(ValidationError, match="finite"):
        _Model(x=bad)


def test_finite_float_refuses_huge_int() -> None:
    with pytest.raises(ValidationError):
        _Model(x=10**400)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_finite_float_keeps_finite(x: float) -> None:
    assert _Model(x=x).x == x


@given(st.floats())
def test_finite_float_never_lets_non_finite_through(x: float) -> None:
    try:
        value = _Model(x=x).x
    except ValidationError:
        assert not math.isfinite(x)
    else:
        assert math.isfinite(value)


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan, 10**400, "3", None, True])
def test_finite_function(bad: object) -> None:
    with pytest.raises(InvalidInputError, match="cpus"):
        finite(bad, "cpus")  # type: ignore[arg-type]


def test_finite_function_keeps_numbers() -> None:
    assert finite(3, "cpus") == 3
    assert finite(0.5, "cpus") == 0.5


# -- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize("good", ["x", "gpu-1", "A.b_c", "9", "a" * 64])
def test_check_name_accepts(good: str) -> None:
    assert check_name(good, "compute target") == good


@pytest.mark.parametrize(
    "bad", ["x\n", "\nx", "", "-x", ".x", "_x", "a b", "a/b", "a:b", "é", "a" * 65, None, 3]
)
def test_check_name_refuses(bad: object) -> None:
    with pytest.raises(InvalidInputError, match="invalid datastore name") as info:
        check_name(bad, "datastore")
    assert info.value.hint and "letters, digits" in info.value.hint


def test_check_name_longer_limit() -> None:
    assert check_name("a" * 128, "data asset", max_len=128)
    with pytest.raises(InvalidInputError):
        check_name("a" * 129, "data asset", max_len=128)


@given(st.text(max_size=80))
def test_check_name_property(text: str) -> None:
    expected = bool(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", text))
    try:
        check_name(text, "compute target")
        accepted = True
    except InvalidInputError:
        accepted = False
    assert accepted == expected
    if accepted:
        # Nothing a shell, a path or a log line would treat specially.
        assert "\n" not in text and "/" not in text and NAME_RE.fullmatch(text)


# -- identifiers -------------------------------------------------------------------------------


@pytest.mark.parametrize("good", ["x", "lr", "_a1", "ümlaut"])
def test_check_identifier_accepts(good: str) -> None:
    assert check_identifier(good) == good


@pytest.mark.parametrize("bad", ["1x", "a-b", "a b", "", "class", "None", "x\n", 3])
def test_check_identifier_refuses(bad: object) -> None:
    with pytest.raises(InvalidInputError, match="not a Python identifier"):
        check_identifier(bad, "parameter")


@given(st.text(max_size=20))
def test_check_identifier_property(text: str) -> None:
    try:
        check_identifier(text)
    except InvalidInputError:
        assert not text.isidentifier() or keyword.iskeyword(text)
    else:
        compile(f"{text} = 1", "<test>", "exec")  # pasting it into a cell is valid Python


# -- JSON --------------------------------------------------------------------------------------


def _nested(depth: int, kind: str = "list") -> object:
    value: object = 1
    for _ in range(depth):
        value = [value] if kind == "list" else {"a": value}
    return value


@pytest.mark.parametrize("kind", ["list", "dict"])
def test_check_json_depth_without_recursion_error(kind: str) -> None:
    with pytest.raises(InvalidInputError, match="nested more than 64 levels"):
        check_json(_nested(100_000, kind), "parameters")
    assert check_json(_nested(64, kind), "parameters")


def test_check_json_size() -> None:
    with pytest.raises(InvalidInputError, match="larger than 1000 bytes"):
        check_json({"a": "x" * 2000}, "body", max_bytes=1000)
    with pytest.raises(InvalidInputError, match="larger than"):
        check_json(list(range(1000)), "body", max_bytes=1000)


@pytest.mark.parametrize(
    ("value", "path", "words"),
    [
        ({"tags": {"t": "\ud800"}}, r"spec\.tags\.t", "lone surrogate"),
        ({"\udc00": 1}, r"spec\.\\udc00", "lone surrogate"),
        ({"p": [1, math.nan]}, r"spec\.p\[1\]", "not a finite number"),
        ({"p": [1, 2, math.inf]}, r"spec\.p\[2\]", "not a finite number"),
        ({"m": 10**400}, r"spec\.m", "too large a number"),
        ({"m": -(10**19)}, r"spec\.m", "too large a number"),
        ({"o": object()}, r"spec\.o", "not a JSON value"),
        ({1: 2}, r"spec", "non-string key"),
    ],
)
def test_check_json_names_the_path(value: object, path: str, words: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        check_json(value, "spec")
    assert re.search(path, info.value.message), info.value.message
    assert words in info.value.message
    assert info.value.hint


def test_check_json_accepts_edges() -> None:
    value = {"a": [MAX_INT, -MAX_INT, 1.5, None, True, "é", {"b": []}], "c": ()}
    assert check_json(value, "body") is value


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_INT, max_value=MAX_INT)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(blacklist_categories=["Cs"])),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(alphabet=st.characters(blacklist_categories=["Cs"])), children)
    ),
    max_leaves=30,
)


@settings(max_examples=200)
@given(_json)
def test_check_json_accepts_what_json_round_trips(value: object) -> None:
    # Every finite, bounded value that survives strict JSON is accepted unchanged.
    assert check_json(value, "body") is value
    json.dumps(value, allow_nan=False).encode("utf-8")


@settings(max_examples=200)
@given(
    st.recursive(
        st.none() | st.integers() | st.floats() | st.text(),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=4), children, max_size=4)
        ),
        max_leaves=30,
    )
)
def test_check_json_accepted_values_are_storable(value: object) -> None:
    # Whatever it accepts can be written as strict UTF-8 JSON: nothing downstream will fail.
    try:
        check_json(value, "body")
    except InvalidInputError as error:
        assert error.hint and error.message
    else:
        json.dumps(value, allow_nan=False).encode("utf-8")
