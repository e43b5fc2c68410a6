"""The scheduler comes back without `mlbench service install`: killed (a crash, a reboot), it is
started again when an agent process starts and when the Jupyter server extension loads, as long
as a schedule is enabled (real processes: the scheduler, an agent, a Jupyter server)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_notebook

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from mlbench import Workspace
    from mlbench.agent.process import AgentHandle

    home = tmp_path_factory.mktemp("comeback-ws")
    notebook = make_notebook(home.parent / "nightly.ipynb", "print(1)")
    ws = Workspace(home)
    ws.schedules.create(
        {
            "name": "nightly",
            "trigger": {"cron": "0 3 * * *"},
            "job": {"notebook_path": str(notebook)},
        }
    )
    yield home
    ws.schedules.scheduler().stop()
    AgentHandle(ws, "local").stop(now=True, timeout=30)
    ws.close()


def kill_scheduler(home: Path) -> None:
    from mlbench import Workspace

    ws = Workspace(home)
    handle = ws.schedules.scheduler()
    handle.ensure_running(
        wait=True, timeout=120
    )  # `schedule create` started it; it may still be starting
    os.kill(int(handle.info()["pid"]), signal.SIGKILL)  # a crash: no clean shutdown
    wait_for(lambda: not handle.is_running(), "the killed scheduler to release its lock")
    ws.close()


def wait_for(
    condition: Any, what: str, timeout: float = 120.0, detail: Any = lambda: ""
) -> None:  # a loaded CI box
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}{detail()}"
        time.sleep(0.1)


def test_an_agent_start_brings_the_scheduler_back(home: Path) -> None:
    from mlbench import Workspace

    kill_scheduler(home)
    ws = Workspace(home)
    try:
        assert ws.schedules.any_enabled() and not ws.schedules.scheduler().is_running()
        ws.jobs.agent("local").ensure_running(wait=True, timeout=120)
        wait_for(ws.schedules.scheduler().is_running, "the agent to start the scheduler")
        log = (home / "agents").rglob("*.log")
        assert any("starting the scheduler" in p.read_text() for p in log)
    finally:
        ws.close()


@pytest.fixture
def jp_server_config(home: Path) -> dict[str, Any]:
    kill_scheduler(home)  # before the server (and so the extension) starts
    return {
        "ServerApp": {"jpserver_extensions": {"mlbench": True}},
        "MlbenchApp": {"workspace": str(home), "warm_tracking": False},
    }


def test_the_server_extension_brings_the_scheduler_back(jp_serverapp: Any, home: Path) -> None:
    ws = jp_serverapp.web_app.settings["mlbench_workspace"]
    services = jp_serverapp.web_app.settings["mlbench"]
    handle = ws.schedules.scheduler()

    def detail() -> str:  # what a red CI run needs to tell why
        log = handle.log_path.read_text()[-3000:] if handle.log_path.exists() else "(none)"
        return f"; start-up checks done: {services.warmed_up.is_set()}; scheduler log:\n{log}"

    wait_for(handle.is_running, "the server extension to start the scheduler", detail=detail)
    assert ws.schedules.scheduler().info()["pid"]


HOLDER = """
import os, sys, time
from pathlib import Path
from mlbench.daemons import acquire_lock
assert acquire_lock(Path(sys.argv[1]), "d") is not None
while True:
    time.sleep(0.1)
"""


def test_stopping_a_daemon_that_something_restarted_says_so(tmp_path: Path) -> None:
    """Stopping pid A while another process B (started meanwhile by a Jupyter server or an
    agent starting up, for an enabled rule) holds the lock: said, and B is not waited for."""
    import subprocess
    import sys

    from mlbench.daemons import DaemonHandle
    from mlbench.errors import MlbenchError

    handle = DaemonHandle(tmp_path, "d", home=tmp_path, what="the daemon")
    old = subprocess.Popen(["sleep", "60"])
    new = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while (handle.info() or {}).get("pid") != new.pid:
            assert time.monotonic() < deadline and new.poll() is None, "the holder did not start"
            time.sleep(0.05)
        started = time.monotonic()
        with pytest.raises(MlbenchError) as err:
            handle.terminate(old.pid, 30)
        assert time.monotonic() - started < 10  # not the 30 s meant for a slow exit
        assert str(err.value).startswith(
            f"the daemon (pid {old.pid}) stopped, but another one (pid {new.pid}) started "
            "meanwhile\n  hint: whatever started it"
        )
        assert old.wait(10) == -signal.SIGTERM
        handle.terminate(new.pid, 30)  # stopping the one that runs now just works
        assert new.wait(10) == -signal.SIGTERM and not handle.is_running()
    finally:
        for proc in (old, new):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
