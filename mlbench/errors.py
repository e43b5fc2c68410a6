"""Domain errors shared by every face of mlbench (SDK, CLI, REST, magics).

Each error carries a stable ``code`` (used by the REST error shape), a message naming the
problem and, where there is one, a ``hint`` naming the fix.
"""

from __future__ import annotations

from typing import Any


class MlbenchError(Exception):
    """Base class of every error mlbench raises on purpose."""

    code = "mlbench_error"

    def __init__(
        self, message: str, *, hint: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details or {}

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.hint:
            body["hint"] = self.hint
        if self.details:
            body["details"] = self.details
        return body


class InvalidInputError(MlbenchError):
    """The caller gave something mlbench cannot accept (maps to HTTP 400)."""

    code = "invalid_input"


class NotebookError(InvalidInputError):
    code = "invalid_notebook"


class ParameterError(InvalidInputError):
    code = "invalid_parameter"


class KernelNotFoundError(InvalidInputError):
    code = "kernel_not_found"


class ResourceRequestError(InvalidInputError):
    code = "invalid_resources"


class NotFoundError(MlbenchError):
    """An id or name does not exist (maps to HTTP 404)."""

    code = "not_found"


class ComputeNotFoundError(NotFoundError):
    code = "compute_not_found"


class JobNotFoundError(NotFoundError):
    code = "job_not_found"


class ConflictError(MlbenchError):
    """The request contradicts the current state, e.g. cancelling a finished job (HTTP 409)."""

    code = "conflict"


class WaitTimeoutError(MlbenchError, TimeoutError):
    """Waiting for a job ran out of time; the job itself goes on."""

    code = "wait_timeout"


class AgentError(MlbenchError):
    """The agent could not be started, reached or stopped."""

    code = "agent_error"
