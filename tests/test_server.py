"""The jupyter-server extension over a real server (pytest-jupyter), real core, agent and MLflow.

Every response goes through :class:`Api`, which checks it against the committed OpenAPI
document: a status the document does not list for the operation, or a body that does not
match its schema, fails the test that got it.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import jsonschema
import nbformat
import pytest
import tornado
from jupyter_server.auth.authorizer import Authorizer
from tornado.httpclient import HTTPClientError

from mlbench.server.handlers import route_handlers, routes
from mlbench.server.openapi import DOCUMENT, build_document, operations, render
from tests.conftest import _stop_agents, make_notebook

API = "mlbench/api/v1"
DOC = json.loads(DOCUMENT.read_text())
WAIT = 120.0
SAMPLE_PATH_ARGS = {
    "name": "local",
    "job_id": "no-such-job",
    "experiment_id": "0",
    "run_id": "0" * 32,
    "version": "1",
    "sweep_id": "no-such-sweep",
    "ref": "no-such-schedule-or-rule",
    "step": "no-such-step",
    "model": "no-such-model",
    "alias": "champion",
    "endpoint_name": "no-such-endpoint",
    "deployment": "no-such-deployment",
    "key": "primary",
}


class RecordingAuthorizer(Authorizer):
    """Allows the actions in ``allowed`` and records every question it is asked."""

    allowed: ClassVar[set[str]] = {"read", "write", "execute"}
    asked: ClassVar[list[tuple[str, str, str]]] = []

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        self.asked.append((handler.request.method, action, resource))
        return action in self.allowed


@pytest.fixture(scope="module")
def mlbench_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One workspace for the module (its agent starts once), agents stopped at the end."""
    home = tmp_path_factory.mktemp("server-ws")
    (home / "mlbench.yaml").write_text("agent_idle_timeout_s: 60\ncancel_grace_s: 2\n")
    yield home
    from mlbench import Workspace

    ws = Workspace(home)
    _stop_agents(ws)
    ws.close()


@pytest.fixture
def jp_server_config(mlbench_home: Path) -> dict[str, Any]:
    RecordingAuthorizer.allowed = {"read", "write", "execute"}
    RecordingAuthorizer.asked = []
    return {
        "ServerApp": {
            "jpserver_extensions": {"mlbench": True},
            "allow_unauthenticated_access": False,
            "authorizer_class": RecordingAuthorizer,
        },
        "MlbenchApp": {
            "workspace": str(mlbench_home),
            "warm_tracking": False,
            "events_poll_interval_s": 0.1,
            "max_body_bytes": 64 * 1024,
        },
    }


@pytest.fixture
def ws(jp_serverapp: Any) -> Any:
    """The server's own workspace object (for seeding and checking state)."""
    return warmed_up(jp_serverapp).settings["mlbench_workspace"]


def warmed_up(jp_serverapp: Any) -> Any:
    """The server's web app once its start-up checks are done: they run on a thread and may
    start agents or the scheduler, which a test must not race (stopping one they restart)."""
    app = jp_serverapp.web_app
    assert app.settings["mlbench"].warmed_up.wait(60), "the server's start-up checks hung"
    return app


# -- a client that checks every response against the OpenAPI document ------------------------
def check_against_document(method: str, template: str, code: int, body: Any) -> None:
    op = DOC["paths"][template][method.lower()]
    response = op["responses"].get(str(code))
    assert response is not None, f"{method} {template} answered {code}: undocumented ({body})"
    content = response.get("content")
    if content is None:
        assert body in (None, b"", ""), f"{method} {template} {code} has a body: {body!r}"
        return
    schema = {**content["application/json"]["schema"], "components": DOC["components"]}
    jsonschema.validate(body, schema, cls=jsonschema.Draft202012Validator)


def check_stream_message(text: str) -> dict[str, Any]:
    """A message of /events/stream, checked against the document's server messages."""
    message = json.loads(text)
    kinds = DOC["paths"]["/events/stream"]["get"]["x-websocket-messages"]["server"]
    schema = {"oneOf": kinds, "components": DOC["components"]}
    jsonschema.validate(message, schema, cls=jsonschema.Draft202012Validator)
    return dict(message)


class Api:
    def __init__(self, fetch: Any) -> None:
        self.fetch = fetch

    async def __call__(
        self,
        method: str,
        template: str,
        *,
        params: Any = None,
        body: Any = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        expect: int | None = None,
        **path: str,
    ) -> Any:
        url = template.format(**{k: urllib.parse.quote(v, safe="") for k, v in path.items()})
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        if data is None and method in ("POST", "PATCH", "PUT"):
            data = b""
        r = await self.fetch(
            API + url,
            method=method,
            params=params,
            body=data,
            headers=headers,
            raise_error=False,
            allow_nonstandard_methods=True,
        )
        parsed = json.loads(r.body) if r.body else None
        check_against_document(method, template, r.code, parsed)
        if expect is not None:
            assert r.code == expect, f"{method} {url}: {r.code} {parsed}"
        self.last_code = r.code
        return parsed

    async def get(self, template: str, **kw: Any) -> Any:
        return await self("GET", template, **kw)

    async def post(self, template: str, **kw: Any) -> Any:
        return await self("POST", template, **kw)


@pytest.fixture
def api(jp_fetch: Any, jp_serverapp: Any) -> Api:
    warmed_up(jp_serverapp)
    return Api(jp_fetch)


@pytest.fixture
def root(jp_root_dir: Path) -> Path:
    return Path(jp_root_dir)


async def wait_final(api: Api, job_id: str, timeout: float = WAIT) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = await api.get("/jobs/{job_id}", job_id=job_id, expect=200)
        if job["status"] in ("completed", "failed", "canceled", "timed_out"):
            return job
        await asyncio.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def error_code(body: dict[str, Any]) -> str:
    return str(body["error"]["code"])


# -- the document ------------------------------------------------------------------------------
def test_committed_openapi_document_is_generated_from_the_code() -> None:
    assert DOCUMENT.read_text() == render(build_document()), (
        "mlbench/server/openapi.json is stale: run `python -m mlbench.server.openapi`"
    )
    jsonschema.Draft202012Validator.check_schema({"components": DOC["components"]})


def test_every_route_and_verb_is_documented() -> None:
    documented = {(p, m) for p, ops in DOC["paths"].items() for m in ops}
    served = set()
    for template, handler in routes():
        for method in ("get", "post", "put", "patch", "delete"):
            if getattr(handler, method) is getattr(tornado.web.RequestHandler, method):
                continue  # tornado's default: 405
            served.add((template, method))
    assert served == documented
    assert {t for t, _ in routes()} == set(DOC["paths"])
    for path, ops in DOC["paths"].items():  # reads are GETs; the authorizer test checks both
        for method, op in ops.items():
            expected = "read" if method == "get" else "write"
            assert op["x-jupyter-authorization"]["action"] == expected, (method, path)
    assert len(route_handlers()) == len(routes()) + 1  # + the catch-all 404


async def test_unknown_api_routes_answer_in_the_error_shape(jp_fetch: Any) -> None:
    for method in ("GET", "POST", "DELETE"):
        r = await jp_fetch(
            API,
            "no",
            "such",
            "route",
            method=method,
            raise_error=False,
            body=b"{}" if method == "POST" else None,
            allow_nonstandard_methods=True,
        )
        assert r.code == 404 and json.loads(r.body)["error"]["code"] == "not_found"
    r = await jp_fetch(API, "nope", raise_error=False, headers={"Authorization": ""})
    assert r.code == 403
    r = await jp_fetch(API, "jobs", method="PUT", body=b"{}", raise_error=False)
    assert r.code == 405 and json.loads(r.body)["error"]["code"] == "method_not_allowed"


async def test_openapi_is_served_under_the_base_url(api: Api, jp_base_url: str) -> None:
    served = await api.get("/openapi.json", expect=200)
    assert served["paths"] == DOC["paths"] and served["components"] == DOC["components"]
    assert served["servers"][0]["url"] == jp_base_url + API


async def test_health(api: Api, mlbench_home: Path) -> None:
    health = await api.get("/health", expect=200)
    assert health["status"] == "ok" and health["workspace"] == str(mlbench_home)
    assert health["mlflow_ui_url"] is None  # tracking goes to the workspace's SQLite store


# -- authentication and authorization ----------------------------------------------------------
def _route_cases() -> list[tuple[str, str]]:
    return [(template, method.upper()) for template, method, _, _ in operations()]


@pytest.mark.parametrize(
    "credentials", ["none", "wrong-token", "valid-token"], ids=["no-token", "wrong", "valid"]
)
async def test_auth_matrix_for_every_route(
    credentials: str, jp_fetch: Any, jp_auth_header: dict[str, str]
) -> None:
    headers = {
        "none": {"Authorization": ""},
        "wrong-token": {"Authorization": "token not-the-token"},
        "valid-token": dict(jp_auth_header),
    }[credentials]
    failures = []
    for template, method in _route_cases():
        url = API + template.format(**SAMPLE_PATH_ARGS)
        body = b"{}" if method in ("POST", "PATCH") else None
        r = await jp_fetch(
            url,
            method=method,
            body=body,
            headers=headers,
            raise_error=False,
            allow_nonstandard_methods=True,
        )
        denied = r.code in (401, 403)
        if denied != (credentials != "valid-token"):
            failures.append(f"{method} {template}: {r.code}")
        if denied:
            assert json.loads(r.body)["error"]["code"] in ("forbidden", "unauthorized")
    assert not failures, failures


async def test_authorizer_decides_read_and_write(jp_fetch: Any) -> None:
    RecordingAuthorizer.allowed = {"read"}
    wrong = []
    for template, method in _route_cases():
        url = API + template.format(**SAMPLE_PATH_ARGS)
        body = b"{}" if method in ("POST", "PATCH") else None
        r = await jp_fetch(
            url, method=method, body=body, raise_error=False, allow_nonstandard_methods=True
        )
        if (r.code == 403) != (method != "GET"):
            wrong.append(f"{method} {template}: {r.code}")
    assert not wrong, wrong
    asked = {(m, a, res) for m, a, res in RecordingAuthorizer.asked}
    assert {res for _, _, res in asked} == {"mlbench"}
    assert {a for m, a, _ in asked if m == "GET"} == {"read"}
    assert {a for m, a, _ in asked if m != "GET"} == {"write"}


async def browser_login(jp_fetch: Any, host: str | None = None) -> tuple[str, str]:
    """(Cookie header, xsrf token) as a browser has them after logging in (to ``host``)."""
    # token-authenticated once, which sets the login cookie (named after the host)...
    first = await jp_fetch(API + "/health", headers={"Host": host} if host else None)
    jar = "; ".join(
        c.split(";", 1)[0] for c in first.headers.get_list("Set-Cookie") if "username-" in c
    )
    assert jar, first.headers
    # ... and the _xsrf cookie a page (here the login form) sets
    page = await jp_fetch(
        "login", headers={"Authorization": ""}, follow_redirects=False, raise_error=False
    )
    xsrf = next(
        c.split(";", 1)[0].split("=", 1)[1]
        for c in page.headers.get_list("Set-Cookie")
        if c.startswith("_xsrf=")
    )
    return f"{jar}; _xsrf={xsrf}", xsrf


async def test_cookie_authenticated_writes_need_the_xsrf_token(jp_fetch: Any) -> None:
    jar, xsrf = await browser_login(jp_fetch)
    browser = {"Authorization": "", "Cookie": jar}
    read = await jp_fetch(API + "/health", headers=browser, raise_error=False)
    assert read.code == 200
    body = json.dumps({"name": "xsrf-target"})
    blocked = await jp_fetch(
        API + "/compute", method="POST", body=body, headers=browser, raise_error=False
    )
    assert blocked.code == 403
    allowed = await jp_fetch(
        API + "/compute",
        method="POST",
        body=body,
        headers={**browser, "X-XSRFToken": xsrf},
        raise_error=False,
    )
    assert allowed.code == 201, allowed.body
    await jp_fetch(
        API + "/compute/xsrf-target", method="DELETE", headers={**browser, "X-XSRFToken": xsrf}
    )


# -- compute, kernels, notebooks ---------------------------------------------------------------
async def test_compute_routes(api: Api) -> None:
    items = (await api.get("/compute", expect=200))["items"]
    local = next(i for i in items if i["target"]["name"] == "local")
    assert local["target"]["capacity"]["cpus"] > 0 and "gpu_ids_in_use" in local
    kinds = await api.get("/compute-kinds", expect=200)
    assert "gpu_ids" in kinds["items"][0]["config_schema"]["properties"]

    created = await api.post(
        "/compute",
        body={"name": "box", "description": "d", "config": {"cpus": 2, "gpu_ids": []}},
        expect=201,
    )
    assert created["target"]["capacity"]["cpus"] == 2 and created["queued"] == 0
    dup = await api.post("/compute", body={"name": "box"}, expect=409)
    assert error_code(dup) == "conflict"
    bad_name = await api.post("/compute", body={"name": "../x"}, expect=400)
    assert error_code(bad_name) == "invalid_input"
    bad_config = await api.post("/compute", body={"name": "b2", "config": {"cpus": -1}}, expect=400)
    assert bad_config["error"]["details"]["errors"][0]["field"] == "cpus"
    unknown = await api.post("/compute", body={"name": "b3", "config": {"nope": 1}}, expect=400)
    assert "nope" in unknown["error"]["message"]
    reserved = await api.post("/compute", body={"name": "b4", "config": {"kind": "x"}}, expect=400)
    assert reserved["error"]["details"]["errors"][0]["field"] == "config.kind"
    bad_kind = await api.post("/compute", body={"name": "b5", "kind": "quantum"}, expect=400)
    assert "quantum" in bad_kind["error"]["message"]
    extra = await api.post("/compute", body={"name": "b6", "colour": "red"}, expect=400)
    assert extra["error"]["details"]["errors"][0]["field"] == "colour"

    got = await api.get("/compute/{name}", name="box", expect=200)
    assert got["target"]["description"] == "d"
    await api.get("/compute/{name}", name="nope", expect=404)
    patched = await api(
        "PATCH",
        "/compute/{name}",
        name="box",
        body={"config": {"max_concurrent_jobs": 3}},
        expect=200,
    )
    assert patched["target"]["capacity"]["max_concurrent_jobs"] == 3
    await api("PATCH", "/compute/{name}", name="box", body={"config": {"cpus": "x"}}, expect=400)
    await api("PATCH", "/compute/{name}", name="nope", body={}, expect=404)
    await api("DELETE", "/compute/{name}", name="box", expect=204)
    await api("DELETE", "/compute/{name}", name="box", expect=404)
    local_delete = await api("DELETE", "/compute/{name}", name="local", expect=409)
    assert "local" in local_delete["error"]["message"]


async def test_kernels(api: Api) -> None:
    kernels = await api.get("/kernels", expect=200)
    assert "python3" in {k["name"] for k in kernels["items"]}
    assert kernels["default"] == "python3"


async def test_notebook_parameters(api: Api, root: Path) -> None:
    make_notebook(
        root / "work" / "train.ipynb",
        "print(epochs)",
        parameters="epochs: int = 10  # how long\nlr = 0.01\nname = 'x'",
    )
    got = await api.get("/notebooks/parameters", params={"path": "work/train.ipynb"}, expect=200)
    assert got["path"] == "work/train.ipynb" and got["kernel_name"] == "python3"
    assert got["has_parameters_cell"]
    params = {p["name"]: p for p in got["parameters"]}
    assert params["epochs"]["type"] == "int" and params["epochs"]["default"] == 10
    assert params["lr"]["type"] == "float" and params["name"]["type"] == "str"

    missing = await api.get("/notebooks/parameters", expect=400)
    assert missing["error"]["details"]["errors"][0]["field"] == "path"
    nf = await api.get("/notebooks/parameters", params={"path": "nope.ipynb"}, expect=404)
    assert error_code(nf) == "file_not_found"
    (root / "broken.ipynb").write_text("{not json")
    broken = await api.get("/notebooks/parameters", params={"path": "broken.ipynb"}, expect=400)
    assert error_code(broken) == "invalid_notebook"
    await api.get("/notebooks/parameters", params={"path": "work"}, expect=400)


@pytest.fixture
def outside(tmp_path_factory: pytest.TempPathFactory, root: Path) -> Path:
    """A notebook outside the server root, and a symlink to it (and to its folder) inside."""
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    nb = make_notebook(elsewhere / "secret.ipynb", "print(1)")
    (root / "link.ipynb").symlink_to(nb)
    (root / "linkdir").symlink_to(elsewhere, target_is_directory=True)
    make_notebook(root / ".hidden" / "nb.ipynb", "print(1)")
    return nb


ESCAPES = [
    ("../secret.ipynb", "path_outside_root"),
    ("work/../../secret.ipynb", "path_outside_root"),
    ("/etc/passwd", "path_outside_root"),
    ("~/secret.ipynb", "path_outside_root"),
    ("link.ipynb", "path_outside_root"),
    ("linkdir/secret.ipynb", "path_outside_root"),
    (".hidden/nb.ipynb", "invalid_path"),
    ("a\x00b.ipynb", "invalid_path"),
    ("..\\secret.ipynb", "invalid_path"),
]


async def test_paths_outside_the_root_are_refused(api: Api, outside: Path, root: Path) -> None:
    make_notebook(root / "ok.ipynb", "print(1)", parameters="x = 1")
    for path, code in ESCAPES:
        if "\x00" not in path:  # tornado drops control characters from query arguments
            r = await api.get("/notebooks/parameters", params={"path": path}, expect=400)
            assert error_code(r) == code, (path, r)
        r = await api.post("/jobs", body={"notebook_path": path}, expect=400)
        assert error_code(r) == code, (path, r)
        r = await api.post("/jobs", body={"notebook_path": "ok.ipynb", "cwd": path}, expect=400)
        assert error_code(r) == code, (path, r)


# -- jobs end to end ---------------------------------------------------------------------------
async def test_job_over_rest_runs_and_its_events_stream_in_order(
    api: Api, root: Path, jp_ws_fetch: Any, ws: Any
) -> None:
    make_notebook(
        root / "work" / "train.ipynb",
        "import mlbench\nfor i in range(20):\n    mlbench.log_metric('loss', 1 / (i + 1))",
        "print('trained', epochs)",
        "print('naïve ✓ 日本語 ' * 3)",
        parameters="epochs: int = 1",
    )
    stream = await jp_ws_fetch(API, "events", "stream")
    hello = check_stream_message(await stream.read_message())
    assert hello["type"] == "hello" and hello["after"] is None

    job = await api.post(
        "/jobs",
        body={
            "notebook_path": "work/train.ipynb",
            "parameters": {"epochs": 3},
            "experiment": "rest-e2e",
            "tags": {"suite": "server"},
            "resources": {"cpus": 1, "memory": "256MB"},
            "timeout_s": 300,
        },
        expect=201,
    )
    assert job["notebook_relpath"] == "work/train.ipynb"
    assert job["parameters"] == {"epochs": 3} and job["resources"]["memory_mb"] == 256

    statuses: list[str] = []
    ids: list[int] = []
    deadline = time.monotonic() + WAIT
    while "completed" not in statuses and "failed" not in statuses:
        assert time.monotonic() < deadline, f"events so far: {statuses}"
        msg = check_stream_message(await asyncio.wait_for(stream.read_message(), WAIT))
        assert msg["type"] == "event"
        ids.append(msg["id"])
        if msg["job_id"] == job["id"] and msg["kind"] == "status":
            statuses.append(msg["data"]["status"])
    stream.close()
    assert statuses == ["queued", "starting", "running", "completed"], statuses
    assert ids == sorted(ids) and len(set(ids)) == len(ids)

    done = await wait_final(api, job["id"])
    assert done["status"] == "completed" and done["mlflow_run_id"]

    # a client resuming after the job's first event gets the rest, in the same order, once
    page = await api.get("/jobs/{job_id}/events", job_id=job["id"], expect=200)
    assert [e["data"]["status"] for e in page["items"] if e["kind"] == "status"] == statuses
    first, rest = page["items"][0]["id"], [e["id"] for e in page["items"][1:]]
    resumed = await jp_ws_fetch(
        API, "events", "stream", params={"after": str(first), "job_id": job["id"]}
    )
    assert json.loads(await resumed.read_message())["after"] == first
    replay = [json.loads(await resumed.read_message())["id"] for _ in rest]
    resumed.close()
    assert replay == rest

    # the REST twin of the stream
    after = await api.get("/events", params={"after": first, "job_id": job["id"]}, expect=200)
    assert [e["id"] for e in after["items"]] == rest
    assert after["last_event_id"] >= rest[-1]

    logs = await api.get("/jobs/{job_id}/logs", job_id=job["id"], expect=200)
    assert "trained 3" in logs["text"] and logs["status"] == "completed"
    more = await api.get("/jobs/{job_id}/logs", job_id=job["id"], params={"offset": logs["offset"]})
    assert more["text"] == "" and more["offset"] == logs["offset"]
    tail = await api.get("/jobs/{job_id}/logs", job_id=job["id"], params={"tail": 10})
    assert len(tail["text"].encode()) <= 10
    chunks, offset = [], 0
    while True:  # small pieces add up to the whole log
        part = await api.get(
            "/jobs/{job_id}/logs", job_id=job["id"], params={"offset": offset, "max_bytes": 7}
        )
        if not part["text"]:
            break
        chunks.append(part["text"])
        offset = part["offset"]
    assert "".join(chunks) == logs["text"] and "日本語" in logs["text"]
    progress = await api.get("/jobs/{job_id}/progress", job_id=job["id"], expect=200)
    assert progress["fraction"] == 1.0 and progress["progress"]["cell_count"] >= 3

    # the output notebook: served, and copied into the user's tree on request
    output = await api.get("/jobs/{job_id}/output", job_id=job["id"], expect=200)
    assert output["nbformat"] == 4
    copied = await api.post("/jobs/{job_id}/output", job_id=job["id"], body={}, expect=201)
    assert copied["path"] == f"work/train-{job['id'][:8]}.output.ipynb"
    nb = nbformat.read(root / copied["path"], as_version=4)
    assert any("trained 3" in json.dumps(c.get("outputs", [])) for c in nb.cells)
    again = await api.post("/jobs/{job_id}/output", job_id=job["id"], expect=409)
    assert error_code(again) == "destination_exists"
    await api.post("/jobs/{job_id}/output", job_id=job["id"], body={"overwrite": True}, expect=201)
    custom = await api.post(
        "/jobs/{job_id}/output", job_id=job["id"], body={"path": "out/run.ipynb"}, expect=201
    )
    assert custom["path"] == "out/run.ipynb" and (root / "out" / "run.ipynb").is_file()
    escape = await api.post(
        "/jobs/{job_id}/output", job_id=job["id"], body={"path": "../x.ipynb"}, expect=400
    )
    assert error_code(escape) == "path_outside_root"
    await api.post("/jobs/{job_id}/output", job_id=job["id"], body={"path": "out"}, expect=400)

    # the job's experiment and run, its metric history and a comparison
    exps = await api.get("/experiments", params={"text": "rest-e2e"}, expect=200)
    (exp,) = exps["items"]
    runs = await api.get(
        "/experiments/{experiment_id}/runs",
        experiment_id=exp["experiment_id"],
        params={"sort": "metrics.loss", "order": "asc"},
        expect=200,
    )
    (run,) = runs["items"]
    assert run["job_id"] == job["id"] and run["params"]["epochs"] == "3"
    assert run["metrics"]["loss"] == pytest.approx(1 / 20) and run["status"] == "FINISHED"
    history = await api.get(
        "/runs/metric-history",
        params=[("run_id", run["run_id"]), ("key", "loss"), ("max_points", "8")],
        expect=200,
    )
    (series,) = history["series"]
    assert series["total_points"] == 20 and len(series["steps"]) <= 8
    assert max(series["values"]) == 1.0 and min(series["values"]) == pytest.approx(1 / 20)

    # the parameters a rerun runs are the snapshot's, whatever the notebook says now
    make_notebook(root / "work" / "train.ipynb", "print(lr)", parameters="lr: float = 0.1")
    snap = await api.get("/jobs/{job_id}/parameters", job_id=job["id"], expect=200)
    assert snap["path"] == "work/train.ipynb" and snap["has_parameters_cell"]
    assert [(p["name"], p["type"], p["default"]) for p in snap["parameters"]] == [
        ("epochs", "int", 1)
    ]
    now = await api.get("/notebooks/parameters", params={"path": "work/train.ipynb"}, expect=200)
    assert [p["name"] for p in now["parameters"]] == ["lr"]

    # rerun with overrides, then cancel/delete rules
    rerun = await api.post(
        "/jobs/{job_id}/rerun",
        job_id=job["id"],
        body={"parameters": {"epochs": 4}, "display_name": "again", "tags": {"r": "1"}},
        expect=201,
    )
    assert rerun["rerun_of"] == job["id"] and rerun["parameters"] == {"epochs": 4}
    assert rerun["display_name"] == "again" and rerun["experiment"] == "rest-e2e"
    cancel_done = await api.post("/jobs/{job_id}/cancel", job_id=job["id"], expect=409)
    assert error_code(cancel_done) == "conflict"
    second = await wait_final(api, rerun["id"])
    assert second["status"] == "completed"
    cmp = await api.get(
        "/runs/compare",
        params={"run_id": f"{run['run_id']},{second['mlflow_run_id']}"},
        expect=200,
    )
    assert next(p for p in cmp["params"] if p["key"] == "epochs")["differs"]
    await api.get("/runs/{run_id}", run_id=run["run_id"], expect=200)

    ws.paths.snapshot(rerun["id"]).unlink()  # lost: a clear 409, not a 500
    lost = await api.get("/jobs/{job_id}/parameters", job_id=rerun["id"], expect=409)
    assert "snapshot" in lost["error"]["message"]

    deleted = await api.post("/jobs/delete", body={"ids": [rerun["id"]]}, expect=200)
    assert deleted["deleted"] == [rerun["id"]]
    await api("DELETE", "/jobs/{job_id}", job_id=job["id"], expect=204)
    await api.get("/jobs/{job_id}", job_id=job["id"], expect=404)
    await api("DELETE", "/jobs/{job_id}", job_id=job["id"], expect=404)


async def test_cancel_a_running_job_and_delete_rules(api: Api, root: Path) -> None:
    make_notebook(root / "sleep.ipynb", "import time\ntime.sleep(60)")
    job = await api.post("/jobs", body={"notebook_path": "sleep.ipynb"}, expect=201)
    busy = await api("DELETE", "/jobs/{job_id}", job_id=job["id"], expect=409)
    assert "cancel" in busy["error"]["hint"]
    bulk = await api.post("/jobs/delete", body={"ids": [job["id"]]}, expect=409)
    assert job["id"] in bulk["error"]["message"]
    await api.get("/jobs/{job_id}/output", job_id=job["id"])
    assert api.last_code in (200, 404)
    canceled = await api.post("/jobs/{job_id}/cancel", job_id=job["id"], expect=200)
    assert canceled["cancel_requested"]
    final = await wait_final(api, job["id"])
    assert final["status"] == "canceled"
    await api.post("/jobs/{job_id}/cancel", job_id=job["id"], expect=409)


async def test_submit_errors(api: Api, root: Path) -> None:
    make_notebook(root / "p.ipynb", "print(n)", parameters="n: int = 1")
    bad = await api.post(
        "/jobs", body={"notebook_path": "p.ipynb", "parameters": {"n": "x", "zz": 1}}, expect=400
    )
    assert error_code(bad) == "invalid_parameter" and len(bad["error"]["details"]["errors"]) == 2
    unknown_target = await api.post(
        "/jobs", body={"notebook_path": "p.ipynb", "compute": "nope"}, expect=404
    )
    assert error_code(unknown_target) == "compute_not_found"
    too_big = await api.post(
        "/jobs", body={"notebook_path": "p.ipynb", "resources": {"gpus": 64}}, expect=400
    )
    assert error_code(too_big) == "invalid_resources"
    kernel = await api.post(
        "/jobs", body={"notebook_path": "p.ipynb", "kernel_name": "cobol"}, expect=400
    )
    assert error_code(kernel) == "kernel_not_found"
    typo = await api.post("/jobs", body={"notebook_path": "p.ipynb", "timout_s": 3}, expect=400)
    assert typo["error"]["details"]["errors"][0]["field"] == "timout_s"
    negative = await api.post(
        "/jobs",
        body={"notebook_path": "p.ipynb", "timeout_s": -1, "max_retries": 1000},
        expect=400,
    )
    fields = {e["field"] for e in negative["error"]["details"]["errors"]}
    assert fields == {"timeout_s", "max_retries"}
    memory = await api.post(
        "/jobs", body={"notebook_path": "p.ipynb", "resources": {"memory": "lots"}}, expect=400
    )
    assert "memory" in memory["error"]["message"]
    not_json = await api.post("/jobs", raw=b"{nope", expect=400)
    assert error_code(not_json) == "invalid_input"
    not_object = await api.post("/jobs", raw=b"[1, 2]", expect=400)
    assert error_code(not_object) == "validation_error"
    huge = await api.post("/jobs", raw=b'{"x": "' + b"a" * 70_000 + b'"}', expect=413)
    assert error_code(huge) == "payload_too_large"
    await api.post("/jobs", body={"notebook_path": "missing.ipynb"}, expect=404)
    await api.post("/jobs/{job_id}/rerun", job_id="nope", body={}, expect=404)
    await api.post("/jobs/{job_id}/rerun", job_id="nope", body={"cpus": 1}, expect=400)
    await api.post("/jobs/{job_id}/cancel", job_id="nope", expect=404)
    await api.get("/jobs/{job_id}/parameters", job_id="nope", expect=404)
    await api.get("/jobs/{job_id}/logs", job_id="nope", expect=404)
    await api.get("/jobs/{job_id}/progress", job_id="nope", expect=404)
    await api.get("/jobs/{job_id}/events", job_id="nope", expect=404)
    await api.get("/jobs/{job_id}/output", job_id="nope", expect=404)
    await api.post("/jobs/{job_id}/output", job_id="nope", body={}, expect=404)
    await api.post("/jobs/delete", body={"ids": []}, expect=400)
    await api.post("/jobs/delete", body={"ids": ["nope"]}, expect=404)
    await api.get("/jobs/{job_id}/logs", job_id="nope", params={"offset": -1}, expect=400)


async def test_odd_json_is_a_400_and_creates_no_job(api: Api, ws: Any, root: Path) -> None:
    """Issue 12 items 3 and 5, as the attack was made: each body is refused before anything is
    stored (no job row, no event, no job folder)."""
    make_notebook(root / "q.ipynb", "print(n)", parameters="n = 1")
    before = len(ws.jobs.list(limit=1000))
    deep: Any = "x"
    for _ in range(900):
        deep = {"d": deep}
    attacks = {
        "a dict nested 900 deep": {"parameters": {"n": deep}, "allow_unknown_params": True},
        "a 400-digit memory": {"resources": {"memory": int("9" * 400)}},
        "a 400-digit memory string": {"resources": {"memory": "9" * 400}},
        "a lone surrogate in a tag": {"tags": {"t": "\ud800"}},
        "a non-identifier parameter": {"parameters": {"1x": 1}, "allow_unknown_params": True},
        "a keyword parameter": {"parameters": {"class": 1}, "allow_unknown_params": True},
        "an infinite timeout": {"timeout_s": "inf"},
        "infinite cpus": {"resources": {"cpus": "Infinity"}},
    }
    long_name = await api.post("/jobs", body={"notebook_path": "0" * 3000}, expect=400)
    assert "invalid path" in long_name["error"]["message"]
    for what, fields in attacks.items():
        r = await api.post("/jobs", body={"notebook_path": "q.ipynb", **fields}, expect=400)
        assert r["error"]["message"], what
    deeper = await api.post(
        "/jobs",
        raw=b'{"notebook_path": "q.ipynb", "parameters": {"n": '
        + b"[" * 5000
        + b"]" * 5000
        + b"}}",
        expect=400,
    )
    assert "nested" in deeper["error"]["message"]
    assert len(ws.jobs.list(limit=1000)) == before
    jobs_dir = ws.paths.jobs_dir
    folders = {p.name for p in jobs_dir.iterdir() if p.is_dir()} if jobs_dir.exists() else set()
    assert folders == {j.id for j in ws.jobs.list(limit=1000)}


async def test_list_jobs_filters_sorting_and_paging(api: Api, ws: Any, root: Path) -> None:
    nb = make_notebook(root / "list.ipynb", "pass")
    if "no-agent" not in {t.name for t in ws.compute.list()}:
        ws.compute.create("no-agent")  # no agent ever runs for it: its jobs stay queued
    ids = [
        ws.jobs.submit(
            nb, compute="no-agent", experiment="listing", tags={"k": str(i)}, start_agent=False
        ).id
        for i in range(3)
    ]
    for job_id in ids:
        ws.jobs.cancel(job_id)
    newest = await api.get("/jobs", params={"experiment": "listing"}, expect=200)
    assert [j["id"] for j in newest["items"]] == ids[::-1]
    oldest = await api.get("/jobs", params={"experiment": "listing", "sort": "created_at"})
    assert [j["id"] for j in oldest["items"]] == ids
    page1 = await api.get("/jobs", params={"experiment": "listing", "limit": 2}, expect=200)
    page2 = await api.get(
        "/jobs", params={"experiment": "listing", "limit": 2, "cursor": page1["next_cursor"]}
    )
    assert [j["id"] for j in page1["items"] + page2["items"]] == ids[::-1]
    assert page2["next_cursor"] is None
    tagged = await api.get("/jobs", params={"experiment": "listing", "tag": "k=1"})
    assert [j["id"] for j in tagged["items"]] == [ids[1]]
    both = await api.get(
        "/jobs", params=[("status", "canceled"), ("status", "running"), ("experiment", "listing")]
    )
    assert len(both["items"]) == 3
    comma = await api.get("/jobs", params={"status": "canceled,completed", "text": "list"})
    assert {j["id"] for j in comma["items"]} >= set(ids)
    assert (await api.get("/jobs", params={"text": "zzz-nothing"}))["items"] == []
    bad_status = await api.get("/jobs", params={"status": "sleeping"}, expect=400)
    assert bad_status["error"]["details"]["errors"][0]["field"].startswith("status")
    await api.get("/jobs", params={"limit": 0}, expect=400)
    await api.get("/jobs", params={"limit": "many"}, expect=400)
    await api.get("/jobs", params={"sort": "name"}, expect=400)
    bad_cursor = await api.get("/jobs", params={"cursor": "garbage"}, expect=400)
    assert error_code(bad_cursor) == "invalid_input"


# -- experiments without jobs ------------------------------------------------------------------
async def test_experiment_and_run_routes(api: Api, ws: Any) -> None:
    exp_id, run_a = ws.tracking.start_run("seeded", "a", {}, {"lr": 0.1})
    _, run_b = ws.tracking.start_run("seeded", "b", {}, {"lr": 0.2})
    ws.tracking.log_points(run_a, [("loss", float(i % 7), i, i) for i in range(3000)])
    ws.tracking.log_points(run_b, [("loss", 0.5, 0, 0)])
    one = await api.get("/experiments/{experiment_id}", experiment_id=exp_id, expect=200)
    assert one["name"] == "seeded"
    await api.get("/experiments/{experiment_id}", experiment_id="99999", expect=404)
    await api.get("/experiments/{experiment_id}", experiment_id="abc", expect=400)
    page = await api.get("/experiments", params={"limit": 1}, expect=200)
    assert len(page["items"]) == 1
    await api.get("/experiments", params={"cursor": "###"}, expect=400)
    runs = await api.get(
        "/experiments/{experiment_id}/runs",
        experiment_id=exp_id,
        params={"sort": "metrics.loss", "order": "desc"},
        expect=200,
    )
    assert [r["run_id"] for r in runs["items"]] == [run_a, run_b]  # latest loss 6.0 > 0.5
    for bad in (
        {"sort": "nope"},
        {"order": "sideways"},
        {"filter": "metrics.loss <"},
        {"status": "dreaming"},
        {"limit": 0},
    ):
        await api.get(
            "/experiments/{experiment_id}/runs", experiment_id=exp_id, params=bad, expect=400
        )
    await api.get("/experiments/{experiment_id}/runs", experiment_id="99999", expect=404)
    hist = await api.get(
        "/runs/metric-history",
        params={"run_id": f"{run_a},{run_b}", "max_points": 100},
        expect=200,
    )
    a_loss = next(s for s in hist["series"] if s["run_id"] == run_a)
    assert a_loss["downsampled"] and len(a_loss["steps"]) <= 100
    assert max(a_loss["values"]) == 6.0 and min(a_loss["values"]) == 0.0
    await api.get("/runs/metric-history", expect=400)
    await api.get("/runs/metric-history", params={"run_id": run_a, "max_points": 2}, expect=400)
    await api.get("/runs/metric-history", params={"run_id": "f" * 32}, expect=404)
    await api.get("/runs/{run_id}", run_id="f" * 32, expect=404)
    await api.get("/runs/compare", expect=400)
    await api.get("/runs/compare", params={"run_id": f"{run_a},{'f' * 32}"}, expect=404)
    cmp = await api.get("/runs/compare", params={"run_id": f"{run_a},{run_b}"}, expect=200)
    assert cmp["metrics"][0]["max_run_id"] == run_a


# -- events without running jobs ---------------------------------------------------------------
def _add_events(ws: Any, job_id: str, count: int) -> list[int]:
    from mlbench._ids import utcnow
    from mlbench.store import JobEventRow

    rows = []
    with ws.db.write() as s:
        for i in range(count):
            row = JobEventRow(job_id=job_id, kind="progress", data={"i": i}, created_at=utcnow())
            s.add(row)
            rows.append(row)
    return [r.id for r in rows]


async def test_event_stream_resume_filter_and_fan_out(
    jp_ws_fetch: Any, ws: Any, jp_serverapp: Any
) -> None:
    first = _add_events(ws, "job-x", 3)
    clients = [await jp_ws_fetch(API, "events", "stream") for _ in range(5)]
    filtered = await jp_ws_fetch(API, "events", "stream", params={"job_id": "job-y"})
    resumed = await jp_ws_fetch(API, "events", "stream", params={"after": first[0]})
    for c in [*clients, filtered, resumed]:
        assert json.loads(await c.read_message())["type"] == "hello"
    new_x = _add_events(ws, "job-x", 4)
    new_y = _add_events(ws, "job-y", 2)

    async def receive(c: Any, n: int) -> list[int]:
        texts = [await asyncio.wait_for(c.read_message(), 10) for _ in range(n)]
        return [check_stream_message(t)["id"] for t in texts]

    for c in clients:
        assert await receive(c, 6) == new_x + new_y
    assert await receive(filtered, 2) == new_y
    assert await receive(resumed, 8) == first[1:] + new_x + new_y
    hub = jp_serverapp.web_app.settings["mlbench"].hub
    assert len(hub.subscribers) == 7
    resumed.write_message(json.dumps({"type": "ping"}))
    assert check_stream_message(await resumed.read_message()) == {"type": "pong"}
    for c in [*clients, filtered, resumed]:
        c.close()
    for _ in range(50):
        if not hub.subscribers:
            break
        await asyncio.sleep(0.05)
    assert not hub.subscribers


async def test_a_client_too_far_behind_is_told_where_to_resume(
    jp_ws_fetch: Any, ws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlbench.server import events

    monkeypatch.setattr(events, "BATCH", 5)
    monkeypatch.setattr(events, "MAX_REPLAY", 10)
    ids = _add_events(ws, "job-z", 30)
    stream = await jp_ws_fetch(API, "events", "stream", params={"after": str(ids[0] - 1)})
    messages = []
    while (text := await asyncio.wait_for(stream.read_message(), 10)) is not None:
        messages.append(check_stream_message(text))
    assert messages[0]["type"] == "hello" and messages[-1]["type"] == "overflow"
    replayed = [m["id"] for m in messages if m["type"] == "event"]
    assert replayed == ids[: len(replayed)] and messages[-1]["last_event_id"] == replayed[-1]
    assert stream.close_code == events.OVERFLOW_CLOSE_CODE


async def test_event_stream_refuses_foreign_origins(
    jp_ws_fetch: Any, jp_fetch: Any, jp_http_port: int
) -> None:
    """Cross-site WebSocket hijacking: a page elsewhere cannot ride the login cookie."""
    jar, _ = await browser_login(jp_fetch, host=f"localhost:{jp_http_port}")  # as jp_ws_fetch
    browser = {"Authorization": "", "Cookie": jar}
    with pytest.raises(HTTPClientError) as err:
        await jp_ws_fetch(
            API, "events", "stream", headers={**browser, "Origin": "http://evil.example"}
        )
    assert err.value.code == 403
    same_site = await jp_ws_fetch(API, "events", "stream", headers=browser)
    assert json.loads(await same_site.read_message())["type"] == "hello"
    same_site.close()


async def test_event_stream_refuses_bad_queries_and_plain_http(jp_ws_fetch: Any, api: Api) -> None:
    with pytest.raises(HTTPClientError) as err:
        await jp_ws_fetch(API, "events", "stream", params={"after": "-3"})
    assert err.value.code == 400
    plain = await api.get("/events/stream", expect=400)
    assert "WebSocket" in plain["error"]["message"]
    await api.get("/events", params={"after": "x"}, expect=400)


# -- the server's life cycle -------------------------------------------------------------------
async def test_stopping_the_server_leaves_jobs_running(
    api: Api, root: Path, jp_serverapp: Any, mlbench_home: Path
) -> None:
    make_notebook(root / "long.ipynb", "import time\ntime.sleep(30)")
    job = await api.post("/jobs", body={"notebook_path": "long.ipynb"}, expect=201)
    deadline = time.monotonic() + WAIT
    while (await api.get("/jobs/{job_id}", job_id=job["id"]))["status"] != "running":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    await jp_serverapp.extension_manager.stop_all_extensions()

    from mlbench import Workspace

    other = Workspace(mlbench_home)  # as a later server (or the CLI) would see it
    try:
        await asyncio.sleep(1.0)
        assert other.jobs.info(job["id"]).status.value == "running"
        assert other.jobs.agent("local").is_running()
        other.jobs.cancel(job["id"])
        final = await asyncio.get_running_loop().run_in_executor(
            None, lambda: other.jobs.wait(job["id"], timeout=WAIT)
        )
        assert final.status.value == "canceled"
    finally:
        other.close()


def test_extension_is_enabled_by_the_shipped_config() -> None:
    config = json.loads(
        (Path(__file__).parents[1] / "jupyter-config/server-config/mlbench.json").read_text()
    )
    assert config["ServerApp"]["jpserver_extensions"]["mlbench"] is True
    assert os.environ.get("MLBENCH_HOME") is None  # tests never touch the real workspace


async def test_sweep_over_rest_runs_its_trials_and_reports_them(
    api: Api, root: Path, ws: Any
) -> None:
    make_notebook(
        root / "work" / "sweep.ipynb",
        "import mlbench\nfor t in range(1, 4):\n    mlbench.log_metric('score', q * t, step=t)",
        parameters="q: float = 0.5\nname: str = 'a'",
    )
    body = {
        "trial": {"notebook_path": "work/sweep.ipynb", "parameters": {"name": "b"}},
        "search_space": {"q": "choice(0.1, 0.2, 0.3)"},
        "sampling_algorithm": {"type": "grid"},
        "objective": {"primary_metric": "score", "goal": "maximize"},
        "limits": {"max_concurrent_trials": 2},
    }
    # checked whole before anything is stored: a bad space is a 400 naming the parameter
    wrong = {
        **body,
        "trial": {"notebook_path": "work/sweep.ipynb"},
        "sampling_algorithm": {"type": "random"},
        "search_space": {"name": "uniform(0, 1)"},
    }
    bad = await api.post("/sweeps", body=wrong, expect=400)
    assert "'name' is a str" in bad["error"]["message"]
    outside = await api.post(
        "/sweeps", body={**body, "trial": {"notebook_path": "../x.ipynb"}}, expect=400
    )
    assert outside["error"]["code"] == "path_outside_root"
    sweep = await api.post("/sweeps", body=body, expect=201)
    assert sweep["notebook_relpath"] == "work/sweep.ipynb" and sweep["max_total_trials"] == 3
    deadline = time.monotonic() + WAIT
    while sweep["status"] not in ("completed", "failed", "canceled"):
        assert time.monotonic() < deadline, sweep
        await asyncio.sleep(0.3)
        sweep = await api.get("/sweeps/{sweep_id}", sweep_id=sweep["id"], expect=200)
    assert sweep["status"] == "completed", sweep["status_reason"]
    assert sweep["best_trial"] == 2 and sweep["best_parameters"] == {"q": 0.3}
    trials = await api.get("/sweeps/{sweep_id}/trials", sweep_id=sweep["id"], expect=200)
    assert [t["parameters"] for t in trials["items"]] == [{"q": 0.1}, {"q": 0.2}, {"q": 0.3}]
    assert all(t["recorded"] and t["status"] == "completed" for t in trials["items"])
    listed = await api.get("/sweeps", expect=200)
    assert sweep["id"] in [s["id"] for s in listed["items"]]
    children = await api.get("/jobs", params={"parent": sweep["id"]}, expect=200)
    assert len(children["items"]) == 3
    top = await api.get("/jobs", params={"top_level": "true", "limit": "1000"}, expect=200)
    assert not {j["id"] for j in top["items"]} & {t["job_id"] for t in trials["items"]}
    await api("DELETE", "/sweeps/{sweep_id}", sweep_id=sweep["id"], expect=204)
    await api.get("/sweeps/{sweep_id}", sweep_id=sweep["id"], expect=404)
