"""The one base handler: parsing, replies, the thread pool, paths and the error mapping.

Every REST handler is a few lines over the core: it parses its query string or body into a
pydantic model (:meth:`MlbenchHandler.query`, :meth:`MlbenchHandler.body`), calls the core in a
worker thread (:meth:`MlbenchHandler.call`; the core is synchronous and may import MLflow) and
replies with a pydantic model (:meth:`MlbenchHandler.reply`). Errors of every kind become one
shape, ``{"error": {"code", "message", "hint"?, "details"}}``, with the status chosen in
:func:`status_for`.
"""

from __future__ import annotations

import errno
import functools
import itertools
import json
import logging
import os
import re
import typing
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from http.client import responses
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

import tornado
from jupyter_server.base.handlers import APIHandler
from pydantic import BaseModel, ValidationError
from tornado.web import HTTPError

from mlbench.data.errors import DatastoreError
from mlbench.errors import (
    AgentError,
    ConflictError,
    InvalidInputError,
    MlbenchError,
    NotFoundError,
    WaitTimeoutError,
)
from mlbench.store.db import DatabaseDamagedError, DatabaseMissingError
from mlbench.validation import MAX_JSON_DEPTH, check_json

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")

AUTH_RESOURCE = "mlbench"
READ, WRITE = "read", "write"
DEFAULT_MAX_BODY = 1024 * 1024

_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (DatabaseDamagedError, 503),  # the workspace needs repair: not this request's fault
    (DatabaseMissingError, 503),
    (NotFoundError, 404),
    (ConflictError, 409),
    (InvalidInputError, 400),
    (ValidationError, 400),
    (WaitTimeoutError, 504),
    (AgentError, 503),
    (DatastoreError, 502),  # the storage behind a datastore failed, not this server
)
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    501: "not_implemented",
    503: "service_unavailable",
}


class PathOutsideRootError(InvalidInputError):
    code = "path_outside_root"


class InvalidPathError(InvalidInputError):
    code = "invalid_path"


class FileNotFoundInRootError(NotFoundError):
    code = "file_not_found"


class NotImplementedYetError(MlbenchError):
    code = "not_implemented"


# -- endpoint metadata (read by the OpenAPI generator and the tests) ---------------------------
@dataclass(frozen=True)
class Endpoint:
    summary: str
    tag: str
    action: str
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    description: str = ""
    planned: bool = False
    server_messages: tuple[type[BaseModel], ...] = ()
    client_messages: tuple[type[BaseModel], ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


def endpoint(**spec: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Describe a handler method for the OpenAPI document (outermost decorators copy it)."""

    def attach(method: Callable[..., Any]) -> Callable[..., Any]:
        method.__mlbench_endpoint__ = Endpoint(**spec)  # type: ignore[attr-defined]
        return method

    return attach


def endpoint_of(method: Any) -> Endpoint | None:
    return getattr(method, "__mlbench_endpoint__", None)


# -- errors ------------------------------------------------------------------------------------
def status_for(exc: BaseException | None, default: int = 500) -> int:
    if isinstance(exc, HTTPError):
        return exc.status_code
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    if isinstance(exc, NotImplementedYetError):
        return 501
    if _name_too_long(exc):
        return 400
    return default


def _name_too_long(exc: BaseException | None) -> bool:
    """A name in the request made a file path longer than the file system allows: the
    request's fault, wherever in the core the path was opened."""
    return isinstance(exc, OSError) and exc.errno == errno.ENAMETOOLONG


def error_body(status: int, exc: BaseException | None, reason: str) -> dict[str, Any]:
    if isinstance(exc, MlbenchError):
        body = {"code": exc.code, "message": exc.message, "details": dict(exc.details)}
        if exc.hint:
            body["hint"] = exc.hint
        return body
    if isinstance(exc, ValidationError):
        errors = [
            {
                "field": ".".join(str(p) for p in e["loc"]) or "body",
                "message": e["msg"],
                "type": e["type"],
            }
            for e in exc.errors(include_url=False, include_input=False)
        ]
        problems = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return {
            "code": "validation_error",
            "message": f"invalid request ({problems})",
            "details": {"errors": errors},
        }
    if _name_too_long(exc):
        return {
            "code": "name_too_long",
            "message": "a name in the request is too long for a file name on the server",
            "details": {},
            "hint": "use a shorter name (most file systems allow 255 bytes per path part)",
        }
    if status >= 500 and not isinstance(exc, HTTPError):
        return {
            "code": "internal_error",
            "message": "internal server error (details are in the server log)",
            "details": {},
        }
    message = (exc.log_message if isinstance(exc, HTTPError) else None) or reason
    return {
        "code": _HTTP_CODES.get(status, "server_error" if status >= 500 else "http_error"),
        "message": message or responses.get(status, "error"),
        "details": {},
    }


# -- the base handlers -------------------------------------------------------------------------
class MlbenchMixin:
    """What the REST handlers and the event stream share: services, query parsing, errors."""

    auth_resource = AUTH_RESOURCE
    settings: dict[str, Any]
    request: Any

    @property
    def ws(self) -> Any:
        return self.settings["mlbench_workspace"]

    @property
    def mlbench(self) -> Any:
        """The extension's shared services (see :class:`mlbench.server.extension.Services`)."""
        return self.settings["mlbench"]

    # requests
    def query(self, model: type[M]) -> M:
        """The query string as ``model``; list fields take repeated or comma-separated values."""
        raw: dict[str, Any] = {}
        for name, info in model.model_fields.items():
            values = self.get_arguments(name, strip=False)
            if not values:
                continue
            if _is_list(info.annotation):
                raw[name] = [v for value in values for v in value.split(",") if v]
            else:
                raw[name] = values[-1]
        return model.model_validate(raw)

    async def call(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> R:
        """Run a (synchronous, maybe slow) core call in the extension's thread pool."""
        executor: Executor = self.mlbench.executor
        loop = tornado.ioloop.IOLoop.current()
        return await loop.run_in_executor(executor, functools.partial(fn, *args, **kwargs))

    # errors: one mapping for every handler
    def _handle_request_exception(self, e: BaseException) -> None:
        if not isinstance(e, (HTTPError, MlbenchError, ValidationError)):
            super()._handle_request_exception(e)  # logs the traceback, answers 500
            return
        if self._finished:
            return
        self.send_error(status_for(e), exc_info=(type(e), e, e.__traceback__))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        body = error_body(status_code, exc, self._reason)
        ws = self.settings.get("mlbench_workspace")
        if ws is not None:  # whatever produced the message, no secret leaves in it
            body = ws.redact.json(body)
        if status_code >= 500:
            log.error("%s %s -> %s: %s", self.request.method, self.request.path, status_code, body)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": body}))


class MlbenchHandler(MlbenchMixin, APIHandler):
    """Base of every mlbench REST handler."""

    def body(self, model: type[M]) -> M:
        """The JSON body as ``model`` (an empty body is ``{}``); 413 past the size limit."""
        data = self.request.body or b""
        limit = self.mlbench.max_body_bytes
        if len(data) > limit:
            raise HTTPError(413, f"request body is larger than {limit} bytes")
        if not data.strip():
            return model.model_validate({})
        return model.model_validate(parse_json(data, max_bytes=limit))

    def on_finish(self) -> None:
        # A change made here (submit, cancel...) reaches stream clients without waiting a tick.
        if self.request.method != "GET" and self.get_status() < 400:
            hub = getattr(self.settings.get("mlbench"), "hub", None)
            if hub is not None:
                hub.poke()
        super().on_finish()

    # replies
    def reply(self, model: BaseModel | None, status: int = 200) -> None:
        self.set_status(status)
        if model is None:
            self.finish()
            return
        self.finish(model.model_dump_json())

    # paths under the server root
    @functools.cached_property
    def root_dir(self) -> Path:
        root = getattr(self.contents_manager, "root_dir", None) or self.settings.get(
            "server_root_dir", os.getcwd()
        )
        return Path(os.path.expanduser(root)).resolve()

    def user_path(self, rel: str, *, must_exist: bool = True, kind: str = "file") -> Path:
        """``rel`` (relative to the server root) as an absolute path that stays inside the root.

        Absolute paths, ``..`` escapes and symlinks leading out are refused, as are hidden
        files unless the contents manager allows them.
        """
        if "\x00" in rel or "\\" in rel:
            raise InvalidPathError(f"invalid path {rel!r}")
        pure = PurePosixPath(rel)
        if pure.is_absolute() or rel.startswith("~"):
            raise PathOutsideRootError(
                f"path {rel!r} must be relative to the server root",
                hint="give the path as shown in JupyterLab's file browser, e.g. work/train.ipynb",
            )
        allow_hidden = bool(getattr(self.contents_manager, "allow_hidden", False))
        if not allow_hidden and any(p.startswith(".") and p not in (".", "..") for p in pure.parts):
            raise InvalidPathError(
                f"path {rel!r} is hidden", hint="hidden files are not served by this server"
            )
        root = self.root_dir
        try:
            resolved = (root / pure).resolve()
        except (OSError, RuntimeError, ValueError) as exc:
            raise InvalidPathError(f"invalid path {rel!r}: {exc}") from None
        if resolved != root and root not in resolved.parents:
            raise PathOutsideRootError(
                f"path {rel!r} resolves outside the server root",
                hint="paths must stay inside the folder JupyterLab serves",
            )
        if must_exist:
            try:  # a name over the file system's limit raises (ENAMETOOLONG) instead of False
                exists, is_file, is_dir = resolved.exists(), resolved.is_file(), resolved.is_dir()
            except OSError as exc:
                raise InvalidPathError(f"invalid path {rel[:200]!r}: {exc.strerror}") from None
            if not exists:
                raise FileNotFoundInRootError(f"{rel!r} does not exist")
            if kind == "file" and not is_file:
                raise InvalidPathError(f"{rel!r} is not a file")
            if kind == "dir" and not is_dir:
                raise InvalidPathError(f"{rel!r} is not a folder")
        return resolved

    def relative(self, path: str | Path) -> str | None:
        """``path`` relative to the server root (POSIX separators), or None when outside it."""
        try:
            return Path(path).relative_to(self.root_dir).as_posix()
        except ValueError:
            return None


# A string, or an unterminated one to the end (so no quadratic rescans from every quote).
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _check_depth(data: bytes, max_depth: int = MAX_JSON_DEPTH, *, what: str = "JSON") -> None:
    """Refuse JSON text nested deeper than ``max_depth`` without parsing it (no recursion)."""
    # Brackets inside strings do not nest; an unterminated string is left for json.loads.
    brackets = _JSON_STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    if len(brackets) <= max_depth:
        return
    steps = (1 if b in b"[{" else -1 for b in brackets)
    if max(itertools.accumulate(steps)) > max_depth:
        raise InvalidInputError(
            f"{what} is nested more than {max_depth} levels deep",
            hint=f"send at most {max_depth} levels of nested lists and objects",
        )


def parse_json(data: bytes | str, *, what: str = "the request body", max_bytes: int) -> Any:
    """JSON text from a client, bounded: the one parser of request bodies (and of any other
    JSON a client sends). InvalidInputError when it is not JSON, nested deeper than
    MAX_JSON_DEPTH, or holds NaN/Infinity, lone surrogates or integers beyond 10**18."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    # Before parsing: json.loads and pydantic recurse, so deep text would be a RecursionError.
    _check_depth(raw, what=what)
    try:
        parsed = json.loads(raw, parse_constant=_no_constant, parse_float=_finite_float)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInputError(
            f"{what} is not valid JSON: {exc}",
            hint="send a JSON object with Content-Type: application/json",
        ) from None
    # Lone surrogates and huge ints parse, but break the database, MLflow and int() later.
    check_json(parsed, what, max_bytes=max_bytes * 2)
    return parsed


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is too large")
    return value


def _is_list(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is list:
        return True
    return any(typing.get_origin(a) is list for a in typing.get_args(annotation))
