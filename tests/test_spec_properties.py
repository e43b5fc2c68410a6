"""Property tests: whatever a client sends, the job spec and the CLI's parsers either accept it
or refuse it with mlbench's clear error (or pydantic's, which REST maps to a 400); never another
exception, and never a value that later breaks a reader (non-finite, unstorable)."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from mlbench.errors import InvalidInputError
from mlbench.jobs.parameters import parse_cli_parameters
from mlbench.jobs.spec import JobSpec, fields_from_options
from mlbench.server.models import RerunJob, SubmitJob

# the values that broke readers before: non-finite and huge numbers, lone surrogates
nasty_numbers = (
    st.sampled_from([math.inf, -math.inf, math.nan, 10**400, 1e308, "inf", "NaN", "1e999"])
    | st.floats()
    | st.integers()
)
json_values = st.recursive(
    st.none() | st.booleans() | nasty_numbers | st.text() | st.just("\ud800"),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
SPEC_FIELDS = list(JobSpec.model_fields)


def _stored_cleanly(spec: JobSpec) -> None:
    """What is accepted can be stored as JSON and read back: finite numbers, valid text."""
    text = spec.model_dump_json()
    json.loads(text)
    text.encode("utf-8")
    for value in (spec.timeout_s, spec.resources.cpus):
        assert value is None or math.isfinite(value)
    for name in spec.parameters:
        assert name.isidentifier()


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([*SPEC_FIELDS, "bogus"]) | st.text(max_size=6), json_values, max_size=6
    )
)
def test_any_body_is_a_spec_or_a_clear_refusal(body: dict[str, Any]) -> None:
    body = {"notebook_path": "nb.ipynb", **body}
    for model in (JobSpec, SubmitJob):
        try:
            spec = model.model_validate(body)
        except (ValidationError, InvalidInputError):
            continue
        _stored_cleanly(spec)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=5))
def test_any_parameters_are_accepted_only_when_storable(parameters: dict[str, Any]) -> None:
    try:
        spec = JobSpec(notebook_path="nb.ipynb", parameters=parameters)
    except (ValidationError, InvalidInputError):
        return
    _stored_cleanly(spec)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(list(RerunJob.model_fields)), json_values, max_size=5))
def test_any_rerun_body_is_a_change_or_a_clear_refusal(body: dict[str, Any]) -> None:
    try:
        req = RerunJob.model_validate(body)
    except (ValidationError, InvalidInputError):
        return
    json.loads(req.model_dump_json())


cli_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(cli_text, cli_text), max_size=4),
    st.lists(st.tuples(cli_text, cli_text), max_size=3),
    st.lists(cli_text, max_size=2),
)
def test_cli_parameters_parse_or_refuse_clearly(
    params: list[tuple[str, str]], raw: list[tuple[str, str]], yaml_texts: list[str]
) -> None:
    try:
        parsed = parse_cli_parameters(tuple(params), tuple(raw), tuple(yaml_texts), ())
    except InvalidInputError:
        return
    try:
        JobSpec(notebook_path="nb.ipynb", parameters=parsed)
    except (ValidationError, InvalidInputError):
        return


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "cpus": nasty_numbers | st.none(),
            "gpus": nasty_numbers | st.none(),
            "memory": cli_text | nasty_numbers | st.none(),
            "timeout_s": nasty_numbers | st.none(),
            "max_retries": nasty_numbers | st.none(),
            "tags": st.lists(st.tuples(cli_text, cli_text), max_size=3),
            "inputs": st.lists(cli_text, max_size=2),
            "outputs": st.lists(cli_text, max_size=2),
            "compute": cli_text,
        },
    )
)
def test_cli_options_make_a_spec_or_a_clear_refusal(options: dict[str, Any]) -> None:
    try:
        fields = fields_from_options(options)
        spec = JobSpec.model_validate({"notebook_path": "nb.ipynb", **fields})
    except (ValidationError, InvalidInputError):
        return
    _stored_cleanly(spec)
