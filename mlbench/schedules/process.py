"""Finding, starting and stopping the workspace's scheduler process.

A :class:`~mlbench.daemons.DaemonHandle`, like an agent's: one scheduler per workspace holds
``scheduler/scheduler.lock`` for its whole life, so "is one running?" is "is the lock held?",
true across crashes because the OS drops the lock with the process. It announces its pid in
``scheduler/scheduler.json`` and logs to ``scheduler/scheduler.log``. Started on demand it
exits when no schedule is enabled and no notification is waiting; ``mlbench service install``
runs it as a user service instead (started at boot, never idle-exits).

The process is ``python -m mlbench.scheduler`` (a face over this core, like the agent): it is
started here by its command line, never imported.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mlbench.daemons import DaemonHandle, acquire_lock
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


class SchedulerHandle(DaemonHandle):
    error = SchedulerError

    def __init__(self, ws: Workspace) -> None:
        super().__init__(scheduler_dir(ws.home), "scheduler", home=ws.home, what="the scheduler")
        self.ws = ws

    def command(self) -> list[str]:
        return command_line(self.ws.home, on_demand=True)

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["MLBENCH_HOME"] = str(self.ws.home)
        env.update({k: str(v) for k, v in self.ws.setting_overrides.items()})
        return env

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the scheduler (SIGTERM, then SIGKILL); False if none was running."""
        info = self.info()
        if info is None:
            return False
        self.terminate(info.get("pid"), timeout)
        return True


def acquire_scheduler_lock(home: Path) -> FileLock | None:
    """Take the lock that makes this process the workspace's scheduler; None if one runs."""
    return acquire_lock(scheduler_dir(home), "scheduler")


def idle_exit_s() -> float:
    try:
        return float(os.environ.get(IDLE_ENV) or DEFAULT_IDLE_S)
    except ValueError:
        return DEFAULT_IDLE_S
