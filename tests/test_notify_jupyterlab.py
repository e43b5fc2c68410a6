"""Notifications to JupyterLab: a rule's events go on the event feed as ``notification`` events,
a Jupyter server's event stream publishes them to its open JupyterLabs, and the first publication
marks the delivery delivered (with which server and how many connections); unseen for
PUBLISH_WINDOW, it fails. Core with a ManualClock, then the real server, scheduler and stream."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from mlbench.errors import InvalidInputError
from mlbench.notify.notifier import PUBLISH_WINDOW, Notifier
from mlbench.schedules.clock import ManualClock
from tests import test_server as server
from tests.conftest import run_cli
from tests.test_notify import canceled_job, deliveries
from tests.test_server import API, Api, check_stream_message

UTC = timezone.utc


@pytest.fixture
def core_ws(tmp_path: Path) -> Iterator[Any]:
    from mlbench.workspace import Workspace

    ws = Workspace(tmp_path / "ws")
    yield ws
    ws.close()


def feed_notifications(ws: Any) -> list[dict[str, Any]]:
    return [e for e in ws.jobs.events(after=0, limit=10_000) if e["kind"] == "notification"]


def test_published_by_the_first_server_or_failed_after_the_window(
    core_ws: Any, tmp_path: Path
) -> None:
    clock = ManualClock(datetime(2027, 1, 1, tzinfo=UTC))
    rule = core_ws.notifications.add(name="lab", events=["job.canceled"], channel="jupyterlab")
    assert (rule.channel, rule.secrets) == ("jupyterlab", [])
    job_id = canceled_job(core_ws, tmp_path)
    notifier = Notifier(core_ws, clock)
    notifier.poll()
    (d,) = deliveries(core_ws)
    assert (d.status, d.attempts) == ("sending", 0)  # on the feed, no server has shown it yet
    (event,) = feed_notifications(core_ws)
    assert event["job_id"] == job_id and event["data"]["delivery"] == d.id
    assert event["data"]["target"] == {"kind": "job", "id": job_id}
    assert event["data"]["event"] == "job.canceled" and job_id in event["data"]["title"]
    notifier.poll()  # not posted twice
    assert len(feed_notifications(core_ws)) == 1

    assert core_ws.notifications.published([event], 0, "server A") == 0  # nobody connected
    assert core_ws.notifications.published([event], 2, "server A") == 1
    assert core_ws.notifications.published([event], 1, "server B") == 0  # the first one counts
    (log,) = core_ws.notifications.deliveries("lab")
    assert (log.status, log.attempts) == ("delivered", 1)
    assert log.attempt_log[0].ok and log.attempt_log[0].detail == (
        "published by server A to 2 JupyterLab connections"
    )

    # nobody has JupyterLab open: after the window the delivery fails, saying why
    canceled_job(core_ws, tmp_path)
    notifier.poll()
    clock.advance(PUBLISH_WINDOW.total_seconds() - 1)
    notifier.poll()
    assert core_ws.notifications.deliveries("lab")[0].status == "sending"
    clock.advance(2)
    notifier.poll()
    late = core_ws.notifications.deliveries("lab")[0]
    assert late.status == "failed" and late.attempts == 1
    assert late.last_error == "no JupyterLab had the event stream open within 10 min"
    assert core_ws.notifications.published(feed_notifications(core_ws)[-1:], 1, "late") == 0
    assert core_ws.notifications.deliveries("lab")[0].status == "failed"


def test_test_delivery_and_checks(core_ws: Any) -> None:
    rule = core_ws.notifications.add(name="lab", events=["job.*"], channel="jupyterlab")
    sent = core_ws.notifications.test("lab")
    assert (sent.event, sent.status) == ("test", "sending")
    (event,) = feed_notifications(core_ws)
    assert event["data"]["target"] == {"kind": "test", "id": rule.id}
    assert event["data"]["text"] == "mlbench test notification: this rule reaches you"
    with pytest.raises(InvalidInputError, match="sends nowhere else: drop url"):
        core_ws.notifications.add(name="x", events=["job.failed"], channel="jupyterlab",
                                  url="http://127.0.0.1:9/")  # fmt: skip
    with pytest.raises(InvalidInputError, match="unknown event"):
        core_ws.notifications.add(name="x", events=["pipeline.exploded"], channel="jupyterlab")
    assert [r.name for r in core_ws.notifications.list()] == ["lab"]


# -- the real thing: scheduler process -> feed -> server's stream -> a connected client -------
mlbench_home = server.mlbench_home
jp_server_config = server.jp_server_config
api = server.api
ws = server.ws


@pytest.mark.slow
async def test_a_job_event_reaches_an_open_jupyterlab(
    api: Api, jp_ws_fetch: Any, ws: Any, tmp_path: Path
) -> None:
    stream = await jp_ws_fetch(API, "events", "stream")
    check_stream_message(await stream.read_message())  # hello
    try:
        rule = {"name": "lab", "events": ["job.canceled"], "channel": "jupyterlab"}
        await api.post("/notifications", body=rule, expect=201)
        assert ws.schedules.scheduler().is_running()  # started for the rule
        job_id = canceled_job(ws, tmp_path)
        deadline = time.monotonic() + 60
        note = None
        while note is None:
            left = deadline - time.monotonic()
            assert left > 0, "no notification event on the stream"
            message = check_stream_message(await asyncio.wait_for(stream.read_message(), left))
            if message["type"] == "event" and message["kind"] == "notification":
                note = message
        assert note["data"]["target"] == {"kind": "job", "id": job_id}
        while True:  # the server records the publication right after sending it
            (d,) = (await api.get("/notifications/{ref}/deliveries", ref="lab"))["items"]
            if d["status"] == "delivered" or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        assert d["status"] == "delivered", json.dumps(d)
        assert "to 1 JupyterLab connection" in d["attempt_log"][0]["detail"]
    finally:
        stream.close()
        ws.schedules.scheduler().stop()
        await api("DELETE", "/notifications/{ref}", ref="lab", expect=204)


def test_cli_adds_and_tests_a_jupyterlab_rule(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    out = run_cli(home, "notify", "add", "lab", "--on", "job.failed", "--jupyterlab")
    assert out.returncode == 0, out.stderr
    try:
        both = run_cli(home, "notify", "add", "x", "--on", "job.failed", "--jupyterlab",
                       "--webhook", "http://127.0.0.1:9/")  # fmt: skip
        assert both.returncode != 0
        assert "exactly one of --jupyterlab, --webhook" in both.stderr
        test = run_cli(home, "notify", "test", "lab")  # on the stream; no server shows it here
        assert test.returncode == 0, test.stderr
        assert "sent to the open JupyterLabs" in test.stdout
    finally:
        run_cli(home, "scheduler", "stop")
