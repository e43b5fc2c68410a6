"""The OpenAPI 3.1 document, generated from the route table and the pydantic models.

``python -m mlbench.server.openapi`` rewrites ``mlbench/server/openapi.json`` (kept in the
repository, served at ``{base_url}/mlbench/api/v1/openapi.json``); ``--check`` exits 1 when the
committed file is stale. The tests compare the two and validate real responses against it.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import logging
import re
import sys
from pathlib import Path
from typing import Any

from jupyter_server.utils import url_path_join
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from mlbench import __version__
from mlbench.server.base import AUTH_RESOURCE, Endpoint, endpoint_of
from mlbench.server.models import ErrorResponse

log = logging.getLogger(__name__)

DOCUMENT = Path(__file__).with_name("openapi.json")
API_ROOT = "/mlbench/api/v1"
METHODS = ("get", "post", "put", "patch", "delete")
REF = "#/components/schemas/{model}"
_ERRORS = {
    400: "Invalid input: a malformed body or query, a failing field (details.errors), a bad path",
    401: "Not authenticated",
    403: "Not authenticated, or not authorized for this action on the 'mlbench' resource",
    404: "No such job, compute target, experiment, run, datastore, data version or file",
    409: "Conflicts with the current state (e.g. cancelling a finished job)",
    413: "Request body too large",
    501: "Planned route: not implemented yet",
    502: "The storage behind a datastore failed (unreachable, or refused the credentials)",
}


def operations() -> list[tuple[str, str, type[Any], Endpoint]]:
    """(path template, HTTP method, handler, endpoint) for every documented operation."""
    from mlbench.server.handlers import routes

    ops = []
    for template, handler in routes():
        for method in METHODS:
            spec = endpoint_of(getattr(handler, method, None))
            if spec is not None:
                ops.append((template, method, handler, spec))
    return ops


def build_document() -> dict[str, Any]:
    ops = operations()
    models: dict[tuple[type[BaseModel], str], None] = {(ErrorResponse, "serialization"): None}
    for _, _, _, spec in ops:
        if spec.query:
            models[(spec.query, "validation")] = None
        if spec.body:
            models[(spec.body, "validation")] = None
        if spec.response:
            models[(spec.response, "serialization")] = None
        for message in spec.server_messages:
            models[(message, "serialization")] = None
        for message in spec.client_messages:
            models[(message, "validation")] = None
    keys, schemas = models_json_schema(list(models), ref_template=REF)
    components = dict(sorted(schemas.get("$defs", {}).items()))

    paths: dict[str, dict[str, Any]] = {}
    for template, method, handler, spec in ops:
        op: dict[str, Any] = {
            "operationId": _operation_id(handler, method),
            "summary": spec.summary,
            "tags": [spec.tag],
            "x-jupyter-authorization": {"resource": AUTH_RESOURCE, "action": spec.action},
        }
        if spec.description:
            op["description"] = spec.description
        params = [_path_param(p) for p in re.findall(r"{(\w+)}", template)]
        if spec.query:
            qschema = components[_name(keys[(spec.query, "validation")])]
            required = set(qschema.get("required", []))
            for name, prop in qschema["properties"].items():
                param: dict[str, Any] = {
                    "name": name,
                    "in": "query",
                    "required": name in required,
                    "schema": {k: v for k, v in prop.items() if k != "description"},
                }
                if "description" in prop:
                    param["description"] = prop["description"]
                if _is_array(prop):
                    param.update(style="form", explode=True)
                params.append(param)
        if params:
            op["parameters"] = params
        if spec.body:
            op["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {"schema": keys[(spec.body, "validation")]},
                },
            }
        op["responses"] = _responses(template, spec, keys)
        if spec.planned:
            op["x-mlbench-planned"] = True
        if spec.server_messages or spec.client_messages:
            op["x-websocket-messages"] = {
                "server": [keys[(m, "serialization")] for m in spec.server_messages],
                "client": [keys[(m, "validation")] for m in spec.client_messages],
            }
        paths.setdefault(template, {})[method] = op

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mlbench",
            "version": __version__,
            "description": "REST API of the mlbench jupyter-server extension. Paths are relative "
            "to the server URL, itself under the Jupyter server's base_url. Authentication is "
            "jupyter-server's (a token, or its login cookie plus the _xsrf token for writes); "
            "authorization asks the server's authorizer for 'read' or 'write' on the "
            f"'{AUTH_RESOURCE}' resource. Errors are {{\"error\": {{code, message, hint?, "
            "details}}}.",
        },
        "servers": [{"url": API_ROOT, "description": "under the Jupyter server's base_url"}],
        "security": [{"token": []}, {"cookie": []}],
        "tags": [{"name": t} for t in dict.fromkeys(spec.tag for _, _, _, spec in ops)],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "token": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "'token <jupyter server token>'",
                },
                "cookie": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "_xsrf",
                    "description": "JupyterLab's login cookie; writes also need the X-XSRFToken "
                    "header",
                },
            },
        },
    }


def _responses(
    template: str, spec: Endpoint, keys: dict[tuple[type[BaseModel], str], Any]
) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    if spec.planned:
        responses["501"] = _error(501)
    elif spec.status == 101:
        responses["101"] = {"description": "Switching to the WebSocket protocol"}
    elif spec.status == 204:
        responses["204"] = {"description": "Done; no content"}
    else:
        schema = (
            keys[(spec.response, "serialization")]
            if spec.response
            else spec.extra.get("responses_schema", {"type": "object"})
        )
        responses[str(spec.status)] = {
            "description": "OK" if spec.status == 200 else "Created",
            "content": {"application/json": {"schema": schema}},
        }
    codes = {403}
    if spec.query or spec.body or spec.status == 101 or "{" in template:
        codes.add(400)
    if "{" in template:
        codes.add(404)
    codes.update(spec.errors)
    for code in sorted(codes):
        responses[str(code)] = _error(code)
    return responses


def _error(code: int) -> dict[str, Any]:
    return {
        "description": _ERRORS[code],
        "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorResponse")}}},
    }


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _is_array(prop: dict[str, Any]) -> bool:
    return prop.get("type") == "array" or any(
        p.get("type") == "array" for p in prop.get("anyOf", [])
    )


def _name(ref: dict[str, str]) -> str:
    return ref["$ref"].rsplit("/", 1)[1]


def _operation_id(handler: type[Any], method: str) -> str:
    base = handler.__name__.removesuffix("Handler")
    return f"{method}{base}"


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


@functools.lru_cache(maxsize=8)
def served_document(base_url: str) -> str:
    """The committed document with its server URL under this server's ``base_url``."""
    document = json.loads(DOCUMENT.read_text())
    served = copy.deepcopy(document)
    served["servers"] = [{"url": url_path_join(base_url or "/", API_ROOT)}]
    return json.dumps(served)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    parser.add_argument("--output", type=Path, default=DOCUMENT)
    args = parser.parse_args(argv)
    text = render(build_document())
    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != text:
            sys.stderr.write(f"{args.output} is stale: run python -m mlbench.server.openapi\n")
            return 1
        return 0
    args.output.write_text(text)
    sys.stdout.write(f"wrote {args.output}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
