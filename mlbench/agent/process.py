"""Finding, starting, waking and stopping the agent of a compute target.

One agent runs per (workspace, compute target) (a :class:`~mlbench.daemons.DaemonHandle`): it
holds ``agents/<target>.lock`` for its whole life, so "is an agent running?" is "is the lock
held?" — which stays true across crashes because the OS drops the lock when the process dies.
The agent announces how to wake it (a UDP port on 127.0.0.1) in ``agents/<target>.json``.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from typing import TYPE_CHECKING

from mlbench.daemons import DaemonHandle, acquire_lock
from mlbench.errors import AgentError
from mlbench.jobenv import agent_environment
from mlbench.store.locks import FileLock

if TYPE_CHECKING:
    from mlbench.workspace import Workspace

log = logging.getLogger(__name__)

WAKE = b"wake"
STOP = b"stop"
STOP_NOW = b"stop-now"


class AgentHandle(DaemonHandle):
    error = AgentError

    def __init__(self, ws: Workspace, compute: str) -> None:
        super().__init__(
            ws.paths.agents_dir, compute, home=ws.home, what=f"the agent for compute {compute!r}"
        )
        self.ws = ws
        self.compute = compute

    def command(self) -> list[str]:
        home = str(self.ws.home)
        return [sys.executable, "-m", "mlbench.agent", "--workspace", home,
                "--compute", self.compute, "--on-demand"]  # fmt: skip

    def environment(self) -> dict[str, str]:
        env = agent_environment(os.environ)
        env["MLBENCH_HOME"] = str(self.ws.home)
        for key, value in self.ws.setting_overrides.items():
            env[key] = str(value)
        return env

    def wake(self, message: bytes = WAKE) -> bool:
        info = self.info()
        port = (info or {}).get("port")
        if not port:
            return False
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.sendto(message, ("127.0.0.1", int(port)))
            except OSError:
                return False
        return True

    def stop(self, *, now: bool = False, timeout: float = 60.0) -> bool:
        """Ask the agent to stop; returns False if none was running.

        Without ``now`` the agent stops taking jobs and exits when the running ones finish.
        With ``now`` it interrupts them; they are requeued or failed per their retry policy.
        If it does not exit in time it is terminated, then killed.
        """
        info = self.info()
        if info is None:
            return False
        # One still starting has no wake-up port yet; SIGTERM stops it (as "now") instead.
        if self.wake(STOP_NOW if now else STOP) and self._wait_exit(info.get("pid"), timeout):
            return True
        self.terminate(info.get("pid"), 10.0)
        return True


def acquire_agent_lock(workspace: str | os.PathLike[str], compute: str) -> FileLock | None:
    """Take the lock that makes this process the agent of ``compute``; None if one runs."""
    from mlbench.config import resolve_home
    from mlbench.paths import WorkspacePaths

    return acquire_lock(WorkspacePaths(resolve_home(workspace)).agents_dir, compute)
