"""Errors of environments (codes appear in the REST error shape)."""

from __future__ import annotations

from mlbench.errors import ConflictError, InvalidInputError, NotFoundError


class EnvironmentNotFoundError(NotFoundError):
    code = "environment_not_found"


class EnvironmentSpecError(InvalidInputError):
    """The spec cannot be built: a conda-only package, a bad requirement, no such Python."""

    code = "invalid_environment_spec"


class EnvironmentNotReadyError(ConflictError):
    """The version is still building, or its build failed: no job can use it."""

    code = "environment_not_ready"


class EnvironmentInUseError(ConflictError):
    code = "environment_in_use"


class EnvironmentBuildError(InvalidInputError):
    """uv could not resolve or install the spec (unknown package, conflict, no network);
    the message carries the resolver's own words (HTTP 400)."""

    code = "environment_build_failed"
