"""Pipelines over REST (the real server; responses checked against the committed OpenAPI
document by test_server's Api client)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from tests import test_server as server
from tests.test_pipelines import _diamond
from tests.test_server import Api

# the server test module's fixtures: its server config, workspace, client and root folder
mlbench_home = server.mlbench_home
jp_server_config = server.jp_server_config
api = server.api
root = server.root
ws = server.ws


@pytest.mark.slow
async def test_pipeline_routes(api: Api, root: Path, ws: Any) -> None:
    folder = root / "work"
    folder.mkdir(parents=True, exist_ok=True)
    body = _diamond(folder)
    for step in body["jobs"].values():  # inline specs name files relative to the root
        step["notebook"] = "work/" + Path(step["notebook"]).name
    bad = {**body, "jobs": {**body["jobs"], "a": {**body["jobs"]["a"], "notebook": "../x.ipynb"}}}
    outside = await api.post("/pipelines", body={"spec": bad}, expect=400)
    assert outside["error"]["code"] == "path_outside_root"
    cyclic = {**body, "jobs": {**body["jobs"]}}
    cyclic["jobs"]["prep"] = {**body["jobs"]["prep"],
                              "inputs": {"x": "${{parent.jobs.join.outputs.total}}"}}  # fmt: skip
    refused = await api.post("/pipelines", body={"spec": cyclic}, expect=400)
    assert "cycle" in refused["error"]["message"]
    assert (await api.get("/pipelines"))["items"] == []
    run = await api.post("/pipelines", body={"spec": body}, expect=201)
    assert [s["name"] for s in run["steps"]] == ["prep", "a", "b", "join"]
    deadline = time.monotonic() + server.WAIT
    while run["status"] not in ("completed", "failed", "canceled"):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.3)
        run = await api.get("/pipelines/{run_id}", run_id=run["id"])
    assert run["status"] == "completed", run["status_reason"]
    assert run["outputs"]["total"]
    steps = await api.get("/pipelines/{run_id}/steps", run_id=run["id"])
    assert {s["status"] for s in steps["items"]} == {"completed"}
    again = await api.post(
        "/pipelines/{run_id}/rerun", run_id=run["id"], body={"from_step": "join"}, expect=201
    )
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, ws.pipelines.wait, again["id"], server.WAIT)
    why = await api.get("/pipelines/{run_id}/steps/{step}/why", run_id=again["id"], step="prep")
    assert why["reused"] and run["id"] in why["reason"]
    await api.get(
        "/pipelines/{run_id}/steps/{step}/why", run_id=again["id"], step="nope", expect=404
    )
    listed = await api.get("/pipelines")
    assert [r["id"] for r in listed["items"]] == [again["id"], run["id"]]
    done = await api.post("/pipelines/{run_id}/cancel", run_id=again["id"])
    assert done["status"] == "completed" and not done["cancel_requested"]  # over already
    await api("DELETE", "/pipelines/{run_id}", run_id=run["id"], expect=204)
    await api.get("/pipelines/{run_id}", run_id=run["id"], expect=404)
