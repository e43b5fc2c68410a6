"""Schedules and notification rules over REST (the real server; responses checked against the
committed OpenAPI document by test_server's Api client)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests import test_server as server
from tests.conftest import make_notebook
from tests.test_server import Api

# the server test module's fixtures: its server config, workspace, client and root folder
mlbench_home = server.mlbench_home
jp_server_config = server.jp_server_config
api = server.api
root = server.root
ws = server.ws


async def test_schedule_routes(api: Api, root: Path, ws: Any) -> None:
    make_notebook(root / "work" / "nightly.ipynb", "print(x)", parameters="x = 1")
    body = {
        "name": "nightly",
        "trigger": {"cron": "30 2 * * *", "timezone": "Europe/Berlin"},
        "job": {"notebook_path": "work/nightly.ipynb", "parameters": {"x": 3}},
        "missed": {"policy": "run_once"},
    }
    try:
        bad = await api.post("/schedules", body={**body, "trigger": {"cron": "61 * * * *"}},
                             expect=400)  # fmt: skip
        assert "minute" in bad["error"]["message"]
        outside = {**body, "job": {"notebook_path": "../x.ipynb"}}
        assert (await api.post("/schedules", body=outside, expect=400))["error"]["code"] == (
            "path_outside_root"
        )
        created = await api.post("/schedules", body=body, expect=201)
        assert created["action"]["notebook_path"] == str(root / "work" / "nightly.ipynb")
        assert created["next_fire_wall"].endswith(("02:30:00+01:00", "02:30:00+02:00",
                                                   "03:00:00+02:00"))  # fmt: skip
        await api.post("/schedules", body=body, expect=409)
        listed = await api.get("/schedules")
        assert [s["name"] for s in listed["items"]] == ["nightly"]
        one = await api.get("/schedules/{ref}", ref="nightly")
        assert one["id"] == created["id"] and one["missed"]["policy"] == "run_once"
        nxt = await api.get(
            "/schedules/{ref}/next", ref="nightly", params={"count": 3, "after": "2027-03-27T12:00"}
        )
        assert [t["wall"] for t in nxt["ticks"]] == [
            "2027-03-28T03:00:00+02:00", "2027-03-29T02:30:00+02:00", "2027-03-30T02:30:00+02:00",
        ]  # fmt: skip
        preview = await api.get(
            "/schedules/_next",
            params={"cron": "0 9 * * 1-5", "timezone": "America/New_York", "count": 2,
                    "after": "2027-01-01T00:00"},
        )  # fmt: skip
        assert [t["wall"] for t in preview["ticks"]] == [
            "2027-01-01T09:00:00-05:00", "2027-01-04T09:00:00-05:00",
        ]  # fmt: skip
        paused = await api.post("/schedules/{ref}/pause", ref=created["id"], expect=200)
        assert paused["enabled"] is False and paused["next_fire_at"] is None
        resumed = await api.post("/schedules/{ref}/resume", ref="nightly", expect=200)
        assert resumed["enabled"] is True and resumed["next_fire_at"]
        assert (await api.get("/schedules/{ref}/runs", ref="nightly"))["items"] == []
        await api.get("/schedules/{ref}", ref="nope", expect=404)
        await api("DELETE", "/schedules/{ref}", ref="nightly", expect=204)
        assert (await api.get("/schedules"))["items"] == []
    finally:
        ws.schedules.scheduler().stop()


async def test_notification_routes(api: Api, ws: Any) -> None:
    body = {
        "name": "ops",
        "events": ["job.failed", "schedule.*"],
        "channel": "webhook",
        "url": "http://127.0.0.1:9/hook",  # nothing listens: the test delivery fails
        "secret": "hook-secret-value-1",
        "max_attempts": 2,
    }
    try:
        await api.post("/notifications", body={**body, "events": ["nope"]}, expect=400)
        rule = await api.post("/notifications", body=body, expect=201)
        assert rule["secrets"] == ["secret"] and "hook-secret-value-1" not in str(rule)
        assert rule["events"] == ["job.failed", "schedule.missed", "schedule.failed"]
        listed = await api.get("/notifications")
        assert [r["name"] for r in listed["items"]] == ["ops"]
        test = await api.post("/notifications/{ref}/test", ref="ops", expect=200)
        assert test["status"] == "failed" and test["attempts"] == 1
        assert test["attempt_log"][0]["error"]
        log = await api.get("/notifications/{ref}/deliveries", ref="ops")
        assert [d["event"] for d in log["items"]] == ["test"]
        assert (await api.get("/notifications/{ref}", ref=rule["id"]))["name"] == "ops"
        await api("DELETE", "/notifications/{ref}", ref="ops", expect=204)
        await api.get("/notifications/{ref}", ref="ops", expect=404)
    finally:
        ws.schedules.scheduler().stop()
