"""Data over REST: datastores, assets, versions, preview, lineage, archive and job bindings.

A real jupyter-server with the extension (pytest-jupyter's ``jp_fetch``, token auth, an
authorizer that must be asked); every response is checked against the committed OpenAPI
document by :class:`tests.test_server.Api`. The route/verb auth matrix covering these routes too
is in tests/test_server.py.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from tests import storage_servers, test_server
from tests.conftest import make_notebook
from tests.storage_servers import S3Server, free_port
from tests.test_server import Api, error_code

# fixtures shared with tests/test_server.py (a module-scoped workspace and server config)
mlbench_home = test_server.mlbench_home
jp_server_config = test_server.jp_server_config
ws = test_server.ws
api = test_server.api
root = test_server.root
s3_server = storage_servers.s3_server

WAIT = 120.0


async def wait_final(api: Api, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        job = await api.get("/jobs/{job_id}", job_id=job_id, expect=200)
        if job["status"] in ("completed", "failed", "canceled", "timed_out"):
            return dict(job)
        await asyncio.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


async def test_data_assets_over_rest(api: Api, root: Path, ws: Any) -> None:
    (root / "data").mkdir()
    (root / "data" / "iris.csv").write_text("a,b\n1,x\n2,y\n3,z\n")
    created = await api.post(
        "/data",
        body={"name": "iris", "path": "data/iris.csv", "description": "d", "tags": {"k": "v"}},
        expect=201,
    )
    assert created["ref"] == "iris:1" and created["row_count"] == 3 and created["kind"] == "table"
    again = await api.post("/data", body={"name": "iris", "path": "data/iris.csv"}, expect=201)
    assert again["id"] == created["id"]  # identical content: the existing version
    (root / "data" / "iris.csv").write_text("a,b\n1,x\n")
    await api.post("/data", body={"name": "iris", "path": "data/iris.csv"}, expect=201)

    page = await api.get("/data", expect=200)
    assert [(i["name"], i["version"]) for i in page["items"]] == [("iris", 2)]
    assert (await api.get("/data", params={"text": "nothing"}, expect=200))["items"] == []
    versions = await api.get("/data/{name}", name="iris", expect=200)
    assert [v["version"] for v in versions["items"]] == [2, 1]
    paged = await api.get("/data/{name}", name="iris", params={"limit": "1"}, expect=200)
    assert len(paged["items"]) == 1 and paged["next_cursor"] == "2"
    rest = await api.get(
        "/data/{name}", name="iris", params={"limit": "1", "cursor": "2"}, expect=200
    )
    assert [v["version"] for v in rest["items"]] == [1]
    one = await api.get("/data/{name}/versions/{version}", name="iris", version="1", expect=200)
    assert one["columns"] == [
        {"name": "a", "type": "int64", "nullable": True},
        {"name": "b", "type": "string", "nullable": True},
    ]
    latest = await api.get(
        "/data/{name}/versions/{version}", name="iris", version="latest", expect=200
    )
    assert latest["version"] == 2
    preview = await api.get(
        "/data/{name}/versions/{version}/preview",
        name="iris",
        version="1",
        params={"limit": "2"},
        expect=200,
    )
    assert preview["rows"] == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}] and preview["truncated"]
    archived = await api.post("/data/{name}/archive", name="iris", body={"version": 2}, expect=200)
    assert archived["items"][0]["archived"]
    assert (await api.get("/data", expect=200))["items"][0]["version"] == 1
    await api.post("/data/{name}/archive", name="iris", body={"version": 2, "restore": True})

    # errors: one shape, the right status, a hint
    missing = await api.get("/data/{name}", name="irsi", expect=404)
    assert (
        error_code(missing) == "data_not_found" and "mlbench data list" in missing["error"]["hint"]
    )
    no_version = await api.get(
        "/data/{name}/versions/{version}", name="iris", version="9", expect=404
    )
    assert "versions: 1, 2" in no_version["error"]["hint"]
    bad = await api.get("/data/{name}/versions/{version}", name="iris", version="x", expect=400)
    assert error_code(bad) == "invalid_input"
    outside = await api.post("/data", body={"name": "x", "path": "../etc/passwd"}, expect=400)
    assert error_code(outside) == "path_outside_root"
    absolute = await api.post("/data", body={"name": "x", "path": "/etc/passwd"}, expect=400)
    assert error_code(absolute) == "path_outside_root"
    gone = await api.post("/data", body={"name": "x", "path": "data/none.csv"}, expect=404)
    assert error_code(gone) == "file_not_found"
    for version in ("\u00b3", str(2**63), "-1"):
        await api.get("/data/{name}/versions/{version}", name="iris", version=version, expect=400)
    no_scheme = await api.post("/data", body={"name": "x", "uri": "~nobody/x"}, expect=400)
    assert "has no scheme" in no_scheme["error"]["message"]
    both = await api.post("/data", body={"name": "x"}, expect=400)
    assert "either path or uri" in both["error"]["message"]
    escape = await api.post(
        "/data", body={"name": "x", "uri": "datastore://workspace/../../x"}, expect=400
    )
    assert error_code(escape) == "path_outside_datastore"
    assert (await api.get("/data", expect=200))["items"][0]["name"] == "iris"  # nothing added

    # a job reading one version and producing another, submitted over REST
    make_notebook(
        root / "double.ipynb",
        "import pandas as pd\npd.read_csv(src).assign(c=1).to_parquet(dst)",
        parameters='src = ""\ndst = ""',
    )
    job = await api.post(
        "/jobs",
        body={
            "notebook_path": "double.ipynb",
            "inputs": {"src": "data:iris:1"},
            "outputs": {"dst": "data:iris-plus,kind=table"},
        },
        expect=201,
    )
    assert job["inputs"] == [
        {"name": "src", "asset": "iris", "version": 1, "ref": "iris:1", "kind": "table"}
    ]
    done = await wait_final(api, job["id"])
    assert done["status"] == "completed", done["status_reason"]
    assert done["outputs"][0]["ref"] == "iris-plus:1"
    lineage = await api.get(
        "/data/{name}/versions/{version}/lineage", name="iris", version="1", expect=200
    )
    assert {n["id"] for n in lineage["nodes"]} == {
        "data:iris:1",
        f"job:{job['id']}",
        "data:iris-plus:1",
    }
    assert {(e["source"], e["target"], e["direction"]) for e in lineage["edges"]} == {
        ("data:iris:1", f"job:{job['id']}", "input"),
        (f"job:{job['id']}", "data:iris-plus:1", "output"),
    }
    bad_input = await api.post(
        "/jobs",
        body={"notebook_path": "double.ipynb", "inputs": {"src": "data:nothing"}},
        expect=404,
    )
    assert error_code(bad_input) == "data_not_found"


async def test_datastores_over_rest_never_show_secrets(
    api: Api, root: Path, s3_server: S3Server, ws: Any
) -> None:
    stores = await api.get("/datastores", expect=200)
    assert [(d["name"], d["is_default"]) for d in stores["items"]] == [("workspace", True)]
    (root / "lake").mkdir()
    local = await api.post(
        "/datastores",
        body={"name": "lake", "kind": "local", "config": {"path": "lake"}},
        expect=201,
    )
    for path, code in (("/tmp", "path_outside_root"), ("../", "path_outside_root")):
        refused = await api.post(
            "/datastores",
            body={"name": "out", "kind": "local", "config": {"path": path}},
            expect=400,
        )
        assert error_code(refused) == code
    assert local["uri"] == (root / "lake").resolve().as_uri()
    tested = await api.post("/datastores/{name}/test", name="lake", expect=200)
    assert tested["ok"] and tested["can_write"]
    await api("DELETE", "/datastores/{name}", name="lake", expect=204)
    await api.get("/datastores/{name}", name="lake", expect=404)

    s3 = s3_server
    body = {
        "name": "s3rest",
        "kind": "s3",
        "config": {"bucket": s3.bucket, "prefix": "rest", "endpoint_url": s3.url},
        "credentials": {"access_key_id": s3.key_id, "secret_access_key": s3.secret},
    }
    responses = [await api.post("/datastores", body=body, expect=201)]
    assert responses[0]["credentials"] == ["access_key_id", "secret_access_key"]
    responses.append(await api.get("/datastores", expect=200))
    responses.append(await api.get("/datastores/{name}", name="s3rest", expect=200))
    responses.append(await api.post("/datastores/{name}/test", name="s3rest", expect=200))
    responses.append(await api.post("/datastores", body=body, expect=409))
    wrong = "not-the-secret-key-0123456789"
    bad = {
        **body,
        "name": "s3bad",
        "credentials": {**body["credentials"], "secret_access_key": wrong},
    }
    refused = await api.post("/datastores", body=bad, expect=502)
    assert error_code(refused) == "datastore_auth_failed" and "access denied" in json.dumps(refused)
    down = {
        **body,
        "name": "s3down",
        "config": {"bucket": "b-down", "endpoint_url": f"http://127.0.0.1:{free_port()}"},
    }
    unreachable = await api.post("/datastores", body=down, expect=502)
    assert error_code(unreachable) == "datastore_unreachable"
    (root / "up.txt").write_text("to s3")
    responses.append(
        await api.post(
            "/data", body={"name": "up", "path": "up.txt", "datastore": "s3rest"}, expect=201
        )
    )
    text = json.dumps(responses) + json.dumps(refused) + json.dumps(unreachable)
    assert s3.secret not in text and wrong not in text
    assert [d["name"] for d in (await api.get("/datastores", expect=200))["items"]] == [
        "s3rest",
        "workspace",
    ]
