"""Finding, starting and stopping the workspace's scheduler process.

Like an agent (see :mod:`mlbench.agent.process`): one scheduler per workspace holds
``scheduler/scheduler.lock`` for its whole life, so "is one running?" is "is the lock held?",
true across crashes because the OS drops the lock with the process. It announces its pid in
``scheduler/scheduler.json`` and logs to ``scheduler/scheduler.log``. Started on demand it
exits when no schedule is enabled and no notification is waiting; ``mlbench service install``
runs it as a user service instead (started at boot, never idle-exits).

The process is ``python -m mlbench.scheduler`` (a face over this core, like the agent): it is
started here by its command line, never imported.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlbench.errors import MlbenchError
from mlbench.store.locks import FileLock

if TYPE_CHECKING:
    from mlbench.workspace import Workspace

log = logging.getLogger(__name__)

IDLE_ENV = "MLBENCH_SCHEDULER_IDLE_S"
DEFAULT_IDLE_S = 60.0


class SchedulerError(MlbenchError):
    code = "scheduler_error"


def scheduler_dir(home: Path) -> Path:
    return home / "scheduler"


def command_line(home: Path, *, on_demand: bool) -> list[str]:
    """How the scheduler process of workspace ``home`` is started."""
    cmd = [sys.executable, "-m", "mlbench.scheduler", "--workspace", str(home)]
    return [*cmd, "--on-demand"] if on_demand else cmd


class SchedulerHandle:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        base = scheduler_dir(ws.home)
        self.lock_path = base / "scheduler.lock"
        self.info_path = base / "scheduler.json"
        self.log_path = base / "scheduler.log"

    def is_running(self) -> bool:
        return FileLock(self.lock_path).is_locked_elsewhere()

    def info(self) -> dict[str, Any] | None:
        """The running scheduler's announcement (pid, started_at, on_demand), or None."""
        if not self.is_running():
            return None
        try:
            return json.loads(self.info_path.read_text())
        except (OSError, ValueError):
            return {"state": "starting"}

    def ensure_running(self, *, wait: bool = False, timeout: float = 30.0) -> None:
        """Start a detached scheduler unless one runs (two racing starters: the loser exits)."""
        if not self.is_running():
            self._spawn()
        if wait:
            self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = self.info()
            if info and info.get("state") == "ready":
                return info
            time.sleep(0.05)
        raise SchedulerError(
            f"the scheduler did not become ready in {timeout:.0f} s",
            hint=f"see its log: {self.log_path}",
        )

    def _spawn(self) -> None:
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env["MLBENCH_HOME"] = str(self.ws.home)
        env.update({k: str(v) for k, v in self.ws.setting_overrides.items()})
        with open(self.log_path, "ab") as out:
            proc = subprocess.Popen(
                command_line(self.ws.home, on_demand=True),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=str(self.ws.home),
                start_new_session=True,  # outlives the terminal, the Jupyter server and Ctrl-C
                close_fds=True,
            )
        log.debug("started the scheduler (pid %s)", proc.pid)
        deadline = time.monotonic() + 15.0
        while time.monotonic() < deadline and proc.poll() is None and not self.is_running():
            time.sleep(0.01)

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the scheduler (SIGTERM, then SIGKILL); False if none was running."""
        info = self.info()
        if info is None:
            return False
        pid = info.get("pid")
        if pid:
            for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
                try:
                    os.kill(int(pid), sig)
                except ProcessLookupError:
                    break
                if self._wait_exit(wait):
                    break
        if self.is_running():
            raise SchedulerError(f"the scheduler (pid {pid}) did not stop")
        return True

    def _wait_exit(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.is_running():
                return True
            time.sleep(0.05)
        return False


def acquire_scheduler_lock(home: Path) -> FileLock | None:
    """Take the lock that makes this process the workspace's scheduler; None if one runs."""
    base = scheduler_dir(home)
    lock = FileLock(base / "scheduler.lock")
    deadline = time.monotonic() + 1.0  # someone probing holds it for microseconds
    while time.monotonic() < deadline:
        if lock.acquire(blocking=False):
            write_info(base / "scheduler.json", {"pid": os.getpid(), "state": "starting"})
            return lock
        time.sleep(0.01)
    return None


def write_info(path: Path, info: dict[str, Any]) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(info))
    os.replace(tmp, path)


def idle_exit_s() -> float:
    try:
        return float(os.environ.get(IDLE_ENV) or DEFAULT_IDLE_S)
    except ValueError:
        return DEFAULT_IDLE_S
