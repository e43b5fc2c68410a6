"""Online endpoints with real servers: a scikit-learn model trained by a real job, registered,
deployed behind a router run by the local agent; keys, traffic, mirroring, rolls, restarts and
the request log as a data asset."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pandas as pd
import pytest

from mlbench.endpoints.config import router_config
from mlbench.endpoints.router import Config
from mlbench.errors import ConflictError, InvalidInputError, NotFoundError
from tests.conftest import run_cli
from tests.test_jobs import WAIT
from tests.test_models import FIT, IRIS

EP = "iris-ep"
ROWS = pd.read_csv(IRIS).iloc[[0, 1, 60, 120], :4]
EXPECTED = ["setosa", "setosa", "versicolor", "virginica"]


@pytest.fixture(scope="module")
def served(module_ws: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Endpoint EP: blue (iris:1, all traffic) and green (iris:2, 0 %), every request logged."""
    ws = module_ws
    code = tmp_path_factory.mktemp("fit")
    (code / "fit.py").write_text(FIT)
    ws.data.create("iris-table", IRIS)
    job = ws.jobs.submit(
        command="python fit.py ${{inputs.table}}",
        code=str(code),
        inputs={"table": "data:iris-table"},
    ).wait(WAIT)
    assert job.info.status.value == "completed", job.logs()[-3000:]
    ws.models.register("iris", job=job.id)
    ws.models.register("iris", job=job.id, alias="candidate")
    created = ws.endpoints.create(EP, log_sample_rate=1.0)
    ws.endpoints.deploy(EP, "blue", "iris:1", wait=False)
    ws.endpoints.deploy(EP, "green", "iris@candidate", wait=False)
    for name in ("blue", "green"):
        ws.endpoints.wait_ready(EP, name, timeout=WAIT)
    yield {
        "key": created.secrets.primary,
        "secondary": created.secrets.secondary,
        "url": created.url,
    }


def post(url: str, key: str | None, body: Any, **headers: str) -> httpx.Response:
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    if isinstance(body, str):
        return httpx.post(url, content=body, headers={"Content-Type": "text/csv", **headers})
    return httpx.post(url, json=body, headers=headers, timeout=30)


def counts(ws: Any) -> dict[str, int]:
    return {d.name: d.metrics.requests for d in ws.endpoints.show(EP).deployments}


def test_invoke_in_every_input_format(module_ws: Any, served: dict[str, Any]) -> None:
    ws, key, url = module_ws, served["key"], served["url"]
    split = json.loads(ROWS.to_json(orient="split", index=False))
    bodies: list[Any] = [
        {"dataframe_split": split},
        {"dataframe_records": ROWS.to_dict(orient="records")},
        {"instances": ROWS.to_dict(orient="records")},
        {"inputs": {c: ROWS[c].tolist() for c in ROWS.columns}},
        ROWS.to_csv(index=False),
    ]
    for body in bodies:
        resp = post(url, key, body)
        assert resp.status_code == 200, (body, resp.text)
        assert resp.json() == {"predictions": EXPECTED}
        assert resp.headers["azureml-model-deployment"] == "blue"
    # the SDK, the same answer; bad input is MLflow's 400, named
    assert ws.endpoints.invoke(EP, {"dataframe_split": split}, key=key) == {"predictions": EXPECTED}
    with pytest.raises(InvalidInputError, match="answered 400"):
        ws.endpoints.invoke(EP, {"no_such_format": []}, key=key)


def test_a_first_instance_is_the_warm_spare(module_ws: Any, served: dict[str, Any]) -> None:
    """The agent keeps a scoring process with its imports done while an endpoint exists; a
    deployment's first instance is that process (its command line still says --spare)."""
    from pathlib import Path

    from sqlalchemy import select

    from mlbench.store.schema import EndpointDeploymentRow

    with module_ws.db.session() as s:
        pids = [
            i["pid"]
            for d in s.scalars(
                select(EndpointDeploymentRow).where(EndpointDeploymentRow.endpoint == EP)
            )
            for i in d.instances
        ]
    cmdlines = [Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") for pid in pids]
    assert len(cmdlines) == 2
    assert any(b"--spare" in c for c in cmdlines), cmdlines


def test_wrong_or_missing_key_is_401_and_not_logged(module_ws: Any, served: dict[str, Any]) -> None:
    ws, url = module_ws, served["url"]
    before = counts(ws)
    body = {"dataframe_records": ROWS.to_dict(orient="records")}
    assert post(url, None, body).status_code == 401
    assert post(url, "not-the-key", body).status_code == 401
    assert post(url, served["key"][:-1], body).status_code == 401
    resp = httpx.post(url, json=body, headers={"Authorization": served["key"]})  # not Bearer
    assert resp.status_code == 401 and "Bearer" in resp.json()["hint"]
    with pytest.raises(InvalidInputError, match="refused the key"):
        ws.endpoints.invoke(EP, body, key="wrong")
    assert counts(ws) == before  # nothing reached a deployment, nothing counted or logged
    # keys are never shown again: only their prefix
    shown = ws.endpoints.show(EP)
    assert shown.keys["primary"].prefix == served["key"][:6] + "…"
    assert served["key"] not in shown.model_dump_json()


def test_split_within_two_percent_and_the_header(module_ws: Any, served: dict[str, Any]) -> None:
    ws = module_ws
    ws.endpoints.set_traffic(EP, {"blue": 70, "green": 30})
    config = Config(router_config(ws, EP) or {})  # what the router runs on
    rng = random.Random(7)
    picked = Counter(config.pick(rng) for _ in range(10_000))
    assert abs(picked["blue"] / 10_000 - 0.70) <= 0.02, picked
    assert abs(picked["green"] / 10_000 - 0.30) <= 0.02, picked
    # and over HTTP both answer, by weight
    body = {"dataframe_records": ROWS.to_dict(orient="records")}
    seen = Counter(
        post(served["url"], served["key"], body).headers["azureml-model-deployment"]
        for _ in range(60)
    )
    assert seen["blue"] > seen["green"] > 0
    # a deployment at 0 % is reached by naming it
    ws.endpoints.set_traffic(EP, {"blue": 100})
    assert ws.endpoints.show(EP).traffic == {"blue": 100, "green": 0}
    before = counts(ws)["green"]
    resp = post(served["url"], served["key"], body, **{"azureml-model-deployment": "green"})
    assert resp.status_code == 200 and resp.headers["azureml-model-deployment"] == "green"
    assert counts(ws)["green"] == before + 1
    unknown = post(served["url"], served["key"], body, **{"azureml-model-deployment": "red"})
    assert unknown.status_code == 404 and "blue, green" in unknown.json()["hint"]


def test_mirrored_requests_reach_the_mirror(module_ws: Any, served: dict[str, Any]) -> None:
    ws = module_ws
    ws.endpoints.set_traffic(EP, {"blue": 100}, mirror={"green": 50})
    before = {d.name: d.metrics for d in ws.endpoints.show(EP).deployments}
    body = {"dataframe_records": ROWS.to_dict(orient="records")}
    for _ in range(40):
        resp = post(served["url"], served["key"], body)
        assert resp.status_code == 200 and resp.headers["azureml-model-deployment"] == "blue"
    time.sleep(0.5)  # mirrored copies are sent after the answer
    after = {d.name: d.metrics for d in ws.endpoints.show(EP).deployments}
    assert after["blue"].requests == before["blue"].requests + 40
    mirrored = after["green"].mirrored - before["green"].mirrored
    assert 5 <= mirrored <= 35  # about half of 40
    assert after["green"].requests == before["green"].requests  # not answers to anyone
    ws.endpoints.set_traffic(EP, mirror={})


class Load:
    """Requests from a few threads until stopped; every answer recorded."""

    def __init__(self, url: str, key: str, threads: int = 4) -> None:
        self.url, self.key = url, key
        self.results: list[tuple[int, str]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run) for _ in range(threads)]

    def _run(self) -> None:
        body = {"dataframe_records": ROWS.to_dict(orient="records")}
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set():
                key = self.key
                try:
                    r = client.post(self.url, json=body, headers={"Authorization": f"Bearer {key}"})
                    self.results.append(
                        (r.status_code, r.headers.get("azureml-model-deployment", ""))
                    )
                except httpx.HTTPError as exc:
                    self.results.append((0, repr(exc)))

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()

    def failed(self) -> list[tuple[int, str]]:
        return [r for r in self.results if r[0] != 200]


def test_key_rotation_under_load_fails_nothing(module_ws: Any, served: dict[str, Any]) -> None:
    ws = module_ws
    with Load(served["url"], served["secondary"]) as load:
        time.sleep(0.5)
        primary = ws.endpoints.regenerate_key(EP, "primary").value  # clients use the secondary
        load.key = primary  # ...then move to the new primary
        time.sleep(0.5)
        secondary = ws.endpoints.regenerate_key(EP, "secondary").value
        time.sleep(0.5)
    assert len(load.results) > 20 and load.failed() == []
    body = {"dataframe_records": ROWS.to_dict(orient="records")}
    assert post(served["url"], served["key"], body).status_code == 401  # the old primary
    assert post(served["url"], served["secondary"], body).status_code == 401
    assert post(served["url"], secondary, body).status_code == 200
    served["key"], served["secondary"] = primary, secondary


def test_weight_shift_and_a_roll_under_load_fail_nothing(
    module_ws: Any, served: dict[str, Any]
) -> None:
    ws = module_ws
    ws.endpoints.set_traffic(EP, {"blue": 100})
    with Load(served["url"], served["key"]) as load:
        for blue in (90, 50, 10, 0):
            time.sleep(0.4)
            ws.endpoints.set_traffic(EP, {"blue": blue, "green": 100 - blue})
        time.sleep(0.5)
        shifted = len(load.results)
        time.sleep(0.5)
        # a roll of blue (now at 0 %, still reachable): new process ready, then the old drains
        ws.endpoints.set_traffic(EP, {"blue": 50, "green": 50})
        rolled = ws.endpoints.deploy(EP, "blue", "iris:2", timeout=WAIT)
        time.sleep(0.5)
    assert rolled.generation == 2 and rolled.model_version == 2 and rolled.state.value == "ready"
    assert load.failed() == []
    assert {d for _, d in load.results[shifted:]} == {"blue", "green"}
    last = [d for _, d in load.results[:shifted]][-20:]
    assert set(last) == {"green"}  # 0 % blue got nothing once the shift was read
    kinds = [e.kind for e in ws.endpoints.events(EP)]
    assert "rolled" in kinds


def test_a_killed_deployment_process_restarts(module_ws: Any, served: dict[str, Any]) -> None:
    ws = module_ws
    from mlbench.store.schema import EndpointDeploymentRow

    with ws.db.session() as s:
        pid = s.get(EndpointDeploymentRow, (EP, "green")).instances[0]["pid"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + WAIT
    while True:
        with ws.db.session() as s:
            row = s.get(EndpointDeploymentRow, (EP, "green"))
            pids = [i["pid"] for i in row.instances]
        if pids and pid not in pids:
            break
        assert time.monotonic() < deadline, "green was not restarted"
        time.sleep(0.2)
    info = ws.endpoints.wait_ready(EP, "green", timeout=WAIT)
    assert info.restarts == 1
    restarting = [e for e in ws.endpoints.events(EP) if e.kind == "restarting"]
    assert restarting and f"pid {pid}" in restarting[-1].message
    body = {"dataframe_records": ROWS.to_dict(orient="records")}
    resp = post(served["url"], served["key"], body, **{"azureml-model-deployment": "green"})
    assert resp.status_code == 200
    assert "Uvicorn running" in ws.endpoints.logs(EP, "green") or ws.endpoints.logs(EP, "green")


def test_bad_requests_are_clear_errors(module_ws: Any, served: dict[str, Any]) -> None:
    ws = module_ws
    with pytest.raises(InvalidInputError, match="sum to 90, not 100"):
        ws.endpoints.set_traffic(EP, {"blue": 40, "green": 50})
    with pytest.raises(InvalidInputError, match="no deployment red"):
        ws.endpoints.set_traffic(EP, {"red": 100})
    with pytest.raises(InvalidInputError, match="takes live traffic"):
        ws.endpoints.set_traffic(EP, mirror={"blue": 10})
    with pytest.raises(InvalidInputError, match="from 1 to 50"):
        ws.endpoints.set_traffic(EP, {"blue": 100}, mirror={"green": 80})
    with pytest.raises(ConflictError, match="takes 50% of"):
        ws.endpoints.delete_deployment(EP, "green")
    with pytest.raises(InvalidInputError, match="no key 'tertiary'"):
        ws.endpoints.regenerate_key(EP, "tertiary")
    with pytest.raises(ConflictError, match="already exists"):
        ws.endpoints.create(EP)
    with pytest.raises(InvalidInputError, match="invalid endpoint name"):
        ws.endpoints.create("bad name")
    with pytest.raises(NotFoundError, match="does not exist"):
        ws.endpoints.deploy(EP, "red", "no-such-model:1")
    with pytest.raises(NotFoundError, match="no deployment 'red'"):
        ws.endpoints.logs(EP, "red")
    with pytest.raises(NotFoundError, match="endpoint 'nope' does not exist"):
        ws.endpoints.show("nope")
    # what an HTTP header cannot carry is refused, not a crash (found by schemathesis)
    for key, deployment in (("k\u00e9y", None), ("key\n", None), ("key", "bl ue")):
        with pytest.raises(InvalidInputError, match="characters an HTTP header cannot carry"):
            ws.endpoints.invoke(EP, {"inputs": [[1.0]]}, key=key, deployment=deployment)
    # nothing changed
    assert ws.endpoints.show(EP).traffic == {"blue": 50, "green": 50}


def test_a_host_the_router_cannot_listen_on_is_refused(ws: Any) -> None:
    # a control character (found by schemathesis), a name that does not resolve, and an address
    # of another machine: each a 400-class error naming the host, and no endpoint is left behind
    for host in (")b\u00c8\u001c!", "no-such-host.invalid", "192.0.2.1"):
        with pytest.raises(InvalidInputError, match="not an address the endpoint can listen on"):
            ws.endpoints.create("edge", host=host)
    assert ws.endpoints.list() == []


def test_the_magics(module_ws: Any, served: dict[str, Any], capsys: Any) -> None:
    from mlbench.magics.core import MlbenchMagics
    from mlbench.magics.parser import MlbenchUsageError

    magics = MlbenchMagics(shell=None, workspace=str(module_ws.home))
    try:
        table = magics.mlbench(f"endpoint show {EP}")
        assert [r["deployment"] for r in table.rows] == ["blue", "green"]
        assert all(r["state"] == "ready" for r in table.rows)
        magics.mlbench(f"endpoint traffic {EP} blue=60 green=40")
        assert module_ws.endpoints.show(EP).traffic == {"blue": 60, "green": 40}
        with pytest.raises(MlbenchUsageError, match="sum to 70, not 100"):
            magics.mlbench(f"endpoint traffic {EP} blue=70")
        body = json.dumps({"dataframe_records": ROWS.to_dict(orient="records")})
        answer = magics.mlbench(f"endpoint invoke {EP} --key {served['key']} --data '{body}'")
        assert answer == {"predictions": EXPECTED}
        capsys.readouterr()
        magics.mlbench(f"endpoint keys {EP}")
        assert f"primary: {served['key'][:6]}" in capsys.readouterr().out
        magics.mlbench(f"endpoint traffic {EP} blue=50 green=50")
    finally:
        magics.close()


def test_the_cli(module_ws: Any, served: dict[str, Any]) -> None:
    home = module_ws.home
    shown = json.loads(run_cli(home, "endpoint", "show", EP, "--json").stdout)
    assert shown["traffic"] == {"blue": 50, "green": 50}
    assert {d["name"] for d in shown["deployments"]} == {"blue", "green"}
    moved = run_cli(home, "endpoint", "traffic", EP, "blue=100")
    assert moved.returncode == 0, moved.stderr
    body = json.dumps({"dataframe_records": ROWS.to_dict(orient="records")})
    answer = run_cli(home, "endpoint", "invoke", EP, "--key", served["key"], "--data", body)
    assert answer.returncode == 0, answer.stderr
    assert json.loads(answer.stdout) == {"predictions": EXPECTED}
    listed = run_cli(home, "endpoint", "list")
    assert EP in listed.stdout and "blue=100" in listed.stdout
    bad = run_cli(home, "endpoint", "traffic", EP, "blue=60")
    assert bad.returncode == 2 and "sum to 60" in bad.stderr
    regen = json.loads(
        run_cli(home, "endpoint", "keys", EP, "regenerate", "secondary", "--json").stdout
    )
    assert regen["key"] == "secondary" and len(regen["value"]) > 30
    served["secondary"] = regen["value"]
    logs = run_cli(home, "endpoint", "logs", EP, "blue")
    assert logs.returncode == 0 and "instance-0" in logs.stdout


@pytest.fixture
def jp_server_config(module_ws: Any) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"mlbench": True}},
        "MlbenchApp": {"workspace": str(module_ws.home), "warm_tracking": False},
    }


async def test_rest(jp_fetch: Any, module_ws: Any, served: dict[str, Any]) -> None:
    """The REST face, every answer checked against the OpenAPI document; keys only in the
    answers that make them."""
    from tests.test_server import Api

    api = Api(jp_fetch)
    made = await api.post("/endpoints", body={"name": "rest-ep"}, expect=201)
    key = made["secrets"]["primary"]
    shown = await api.get("/endpoints/{endpoint_name}", endpoint_name="rest-ep", expect=200)
    assert "secrets" not in shown and key not in json.dumps(shown)
    dep = {"name": "blue", "model": "iris:1"}
    made_dep = await api.post(
        "/endpoints/{endpoint_name}/deployments", endpoint_name="rest-ep", body=dep, expect=202
    )
    assert made_dep["state"] == "creating" and made_dep["model_version"] == 1
    await asyncio.to_thread(module_ws.endpoints.wait_ready, "rest-ep", "blue", timeout=WAIT)
    rows = {"dataframe_records": ROWS.to_dict(orient="records")}
    answer = await api.post(
        "/endpoints/{endpoint_name}/invoke",
        endpoint_name="rest-ep",
        body={"key": key, "body": rows},
        expect=200,
    )
    assert answer["answer"] == {"predictions": EXPECTED}
    bad = await api(
        "PUT",
        "/endpoints/{endpoint_name}/traffic",
        endpoint_name="rest-ep",
        body={"traffic": {"blue": 30}},
        expect=400,
    )
    assert "sum to 30" in bad["error"]["message"]
    regen = await api.post(
        "/endpoints/{endpoint_name}/keys/{key}/regenerate",
        endpoint_name="rest-ep",
        key="primary",
        expect=200,
    )
    assert regen["value"] != key
    busy = await api(
        "DELETE",
        "/endpoints/{endpoint_name}/deployments/{deployment}",
        endpoint_name="rest-ep",
        deployment="blue",
        expect=409,
    )
    assert "shift it first" in busy["error"]["hint"]
    events = await api.get("/endpoints/{endpoint_name}/events", endpoint_name="rest-ep")
    assert [e["kind"] for e in events["items"]][:3] == ["created", "deployed", "ready"]
    logs = await api.get(
        "/endpoints/{endpoint_name}/deployments/{deployment}/logs",
        endpoint_name="rest-ep",
        deployment="blue",
        expect=200,
    )
    assert "instance-0" in logs["text"]
    listed = await api.get("/endpoints", expect=200)
    assert {"rest-ep", EP} <= {i["name"] for i in listed["items"]}
    await api("DELETE", "/endpoints/{endpoint_name}", endpoint_name="rest-ep", expect=204)
    await api.get("/endpoints/{endpoint_name}", endpoint_name="rest-ep", expect=404)


def test_request_log_readable_as_a_data_asset(module_ws: Any, served: dict[str, Any]) -> None:
    """Last: deleting the endpoint flushes and registers its request log."""
    ws = module_ws
    ws.endpoints.delete(EP)
    with pytest.raises(NotFoundError):
        ws.endpoints.show(EP)
    refs = ws.endpoints.request_log(EP)
    assert refs and all(r.startswith(f"{EP}-requests:") for r in refs)
    # one version per UTC hour: a run that crosses an hour has two
    assets = [ws.data.get(ref) for ref in refs]
    assert all(a.info.tags["mlbench.endpoint"] == EP for a in assets)
    table = pd.concat([pd.read_parquet(a.path()) for a in assets])  # hours' folders of Parquet
    asset = assets[-1]
    assert {"sepal_length", "petal_width", "mlbench_prediction"} <= set(table.columns)
    assert str(table["mlbench_time"].dtype) == "datetime64[us, UTC]"
    assert str(table["mlbench_status"].dtype) == "int32"
    assert set(table["mlbench_deployment"]) == {"blue", "green"}
    assert 401 not in set(table["mlbench_status"])
    ok = table[table["mlbench_status"] == 200]
    assert set(ok["mlbench_prediction"]) <= {"setosa", "versicolor", "virginica"}
    assert (ok["mlbench_latency_ms"] > 0).all()
    hour = asset.info.tags["mlbench.hour"]
    assert len(hour) == 13 and hour[10] == "T"
