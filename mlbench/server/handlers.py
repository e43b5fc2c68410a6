"""REST handlers: each a few lines over the core, errors mapped in one place."""

from __future__ import annotations

import json
from typing import Any

import tornado
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from mlbench.errors import ConflictError, InvalidInputError, MlbenchError, NotFoundError

API = "mlbench/api/v1"
AUTH_RESOURCE = "mlbench"

_STATUS = ((NotFoundError, 404), (ConflictError, 409), (InvalidInputError, 400))


class MlbenchHandler(APIHandler):
    auth_resource = AUTH_RESOURCE

    @property
    def ws(self) -> Any:
        return self.settings["mlbench_workspace"]

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, MlbenchError):
            body = exc.to_dict()
        else:
            body = {
                "code": "server_error" if status_code >= 500 else "http_error",
                "message": self._reason,
            }
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": body}))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, MlbenchError):
            return
        super().log_exception(typ, value, tb)

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, MlbenchError):
            status_code = next((code for cls, code in _STATUS if isinstance(exc, cls)), 500)
        super().send_error(status_code, **kwargs)


class HealthHandler(MlbenchHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        from mlbench import __version__

        self.finish({"status": "ok", "version": __version__, "workspace": str(self.ws.home)})


def route_handlers() -> list[tuple[str, type[APIHandler]]]:
    return [(url_path_join("/", API, "health"), HealthHandler)]
