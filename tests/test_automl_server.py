"""AutoML and Responsible AI reports over REST (the real server; responses checked against the
committed OpenAPI document by test_server's Api client)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests import test_server as server
from tests.test_server import Api

# the server test module's fixtures: its server config, workspace, client and root folder
mlbench_home = server.mlbench_home
jp_server_config = server.jp_server_config
api = server.api
root = server.root
ws = server.ws

WAIT = 600  # only catches hangs


async def _wait(ws: Any, job_id: str) -> None:
    job = await asyncio.get_running_loop().run_in_executor(None, ws.jobs.get(job_id).wait, WAIT)
    assert job.info.status.value == "completed", job.logs()[-3000:]


@pytest.mark.slow
async def test_automl_and_rai_routes(api: Api, root: Path, ws: Any) -> None:
    from sklearn.datasets import load_wine

    load_wine(as_frame=True).frame.to_parquet(root / "wine.parquet")
    ws.data.create("wine", root / "wine.parquet", kind="table")
    bad = await api.post(
        "/automl",
        body={"data": "wine", "target": "nope", "task": "classification"},
        expect=400,
    )
    assert "nope" in bad["error"]["message"] and bad["error"]["hint"]
    await api.post("/automl", body={"data": "wine", "task": "classification"}, expect=400)
    assert (await api.get("/automl"))["items"] == []
    run = await api.post(
        "/automl",
        body={
            "data": "wine",
            "target": "target",
            "task": "classification",
            "budget_s": 5,
            "max_trials": 3,
            "estimators": ["lgbm"],
        },
        expect=201,
    )
    await _wait(ws, run["job_id"])
    shown = await api.get("/automl/{job_id}", job_id=run["job_id"])
    assert shown["status"] == "completed" and shown["model"] == "wine-automl:1"
    assert {g["name"] for g in shown["guardrails"]} >= {"class_imbalance", "target_leakage"}
    board = await api.get("/automl/{job_id}/leaderboard", job_id=run["job_id"])
    assert 1 <= len(board["items"]) <= 3 and {t["estimator"] for t in board["items"]} == {"lgbm"}
    assert [r["job_id"] for r in (await api.get("/automl"))["items"]] == [run["job_id"]]
    await api.get("/automl/{job_id}", job_id="no-such-job", expect=404)

    await api.post("/rai", body={"model": "wine-automl", "data": "nope"}, expect=404)
    report = await api.post("/rai", body={"model": "wine-automl", "data": "wine"}, expect=201)
    assert report["target"] == "target" and report["task"] == "classification"
    await api.get("/rai/{job_id}/html", job_id=report["job_id"], expect=404)  # not done yet
    await _wait(ws, report["job_id"])
    done = await api.get("/rai/{job_id}", job_id=report["job_id"])
    assert done["summary"]["metrics"][0]["metric"] == "accuracy"
    page = await api.get("/rai/{job_id}/html", job_id=report["job_id"])
    assert page["html"].startswith("<!DOCTYPE html>") and "<script" not in page["html"]
    await api.get("/rai/{job_id}", job_id=run["job_id"], expect=404)  # an AutoML job
