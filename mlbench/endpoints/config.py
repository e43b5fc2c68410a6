"""The router's configuration file: everything a router needs, derived from the database.

The service writes it after a change (so a regenerated key works as soon as it is returned)
and the supervisor after its processes change; both write the same content, by atomic rename,
and the router swaps it in whole when the file changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from mlbench.store.schema import EndpointDeploymentRow, EndpointRow

if TYPE_CHECKING:
    from mlbench.workspace import Workspace


def endpoint_dir(ws: Workspace, name: str) -> Path:
    return ws.home / "endpoints" / name


def config_path(ws: Workspace, name: str) -> Path:
    return endpoint_dir(ws, name) / "router.json"


def admin_token(ws: Workspace, name: str) -> str:
    """A token the workspace's own processes use for the router's /metrics (the keys
    themselves are not kept anywhere)."""
    path = endpoint_dir(ws, name) / "admin.token"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def instance_urls(row: EndpointDeploymentRow) -> list[str]:
    if row.url:
        return [row.url]
    return [f"http://127.0.0.1:{i['port']}" for i in row.instances if i.get("ready")]


def router_config(ws: Workspace, name: str) -> dict[str, Any] | None:
    with ws.db.session() as s:
        ep = s.get(EndpointRow, name)
        if ep is None:
            return None
        deps = s.scalars(
            select(EndpointDeploymentRow).where(EndpointDeploymentRow.endpoint == name)
        ).all()
        return {
            "endpoint": name,
            "host": ep.host,
            "port": ep.port,
            "key_hashes": [k["hash"] for k in ep.keys.values()],
            "admin_token": admin_token(ws, name),
            "traffic": dict(ep.traffic),
            "mirror": dict(ep.mirror),
            "sample_rate": ep.log_sample_rate,
            "log_dir": str(endpoint_dir(ws, name) / "requests"),
            "deployments": {
                d.name: {"urls": instance_urls(d), "columns": list(d.input_columns)} for d in deps
            },
        }


def digest(text: str) -> str:
    """What the router reports of the config it runs (its /metrics ``config``)."""
    return hashlib.sha256(text.encode()).hexdigest()


def write_router_config(ws: Workspace, name: str) -> str | None:
    """Write the file when its content changed; its digest (None: the endpoint is gone)."""
    config = router_config(ws, name)
    if config is None:
        return None
    path = config_path(ws, name)
    text = json.dumps(config, sort_keys=True)
    if path.exists() and path.read_text() == text:
        return digest(text)
    tmp = path.with_name(f".router.{os.getpid()}.{secrets.token_hex(4)}.json")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
    return digest(text)
