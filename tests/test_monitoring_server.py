"""Monitors and one-off drift over REST (the real server; responses checked against the
committed OpenAPI document by test_server's Api client)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tests import test_server as server
from tests.test_server import Api

mlbench_home = server.mlbench_home
jp_server_config = server.jp_server_config
api = server.api
root = server.root
ws = server.ws


def _table(rng: np.random.Generator, n: int, mean: float) -> pa.Table:
    return pa.table({"x": rng.normal(mean, 1.0, n), "c": rng.choice(["a", "b"], n).tolist()})


async def test_monitor_routes(api: Api, root: Path, ws: Any) -> None:
    rng = np.random.default_rng(1)
    (root / "data").mkdir()
    pq.write_table(_table(rng, 4_000, 0.0), root / "data" / "ref.parquet")
    pq.write_table(_table(rng, 2_000, 1.0), root / "data" / "new.parquet")
    drift = await api.post(
        "/drift", body={"reference": "data/ref.parquet", "target": "data/new.parquet"}
    )
    assert drift["verdict"] == "breached" and "x:wasserstein" in drift["breaches"]
    outside = await api.post(
        "/drift", body={"reference": "../ref.parquet", "target": "data/new.parquet"}, expect=400
    )
    assert outside["error"]["code"] == "path_outside_root"
    await api.post("/drift", body={"reference": "nope:1", "target": "nope:2"}, expect=404)
    ws.data.create("ref", root / "data" / "ref.parquet")
    ws.data.create("new", root / "data" / "new.parquet")
    body = {"name": "m1", "reference": {"data": "ref:1"}, "target": {"data": "new"}}
    created = await api.post("/monitors", body=body, expect=201)
    await api.post("/monitors", body=body, expect=409)
    bad = await api.post("/monitors", body={**body, "name": "m2", "signals": ["psy"]}, expect=400)
    assert "unknown signal" in bad["error"]["message"]
    run = await api.post("/monitors/{ref}/run", ref="m1", expect=201)
    assert run["verdict"] == "breached" and run["monitor_id"] == created["id"]
    runs = await api.get("/monitors/{ref}/runs", ref="m1")
    assert [r["id"] for r in runs["items"]] == [run["id"]]
    report = await api.get("/monitors/{ref}/runs/{run_id}/report", ref="m1", run_id=run["id"])
    assert {f["name"] for f in report["features"]} == {"x", "c"}
    page = await api.get("/monitors/{ref}/runs/{run_id}/html", ref="m1", run_id=run["id"])
    assert page["html"].startswith("<!doctype html>") and "<script" not in page["html"]
    await api.get("/monitors/{ref}/runs/{run_id}/html", ref="m1", run_id="0" * 32, expect=404)
    # the chart's series: one point per completed run, aligned with the runs
    again = await api.post("/monitors/{ref}/run", ref="m1", expect=201)
    series = await api.get("/monitors/{ref}/series", ref="m1")
    assert [r["id"] for r in series["runs"]] == [run["id"], again["id"]]
    psi = next(s for s in series["series"] if (s["feature"], s["signal"]) == ("x", "psi"))
    assert len(psi["values"]) == 2 and all(v is not None and v > 0.25 for v in psi["values"])
    assert psi["verdicts"] == ["breached", "breached"] and psi["threshold"] == 0.25
    await api.get("/monitors/{ref}/series", ref="nope", expect=404)
    listed = await api.get("/monitors")
    assert listed["items"][0]["last_run"]["id"] == again["id"]
    await api("DELETE", "/monitors/{ref}", ref="m1", expect=204)
    await api.get("/monitors/{ref}", ref="m1", expect=404)
