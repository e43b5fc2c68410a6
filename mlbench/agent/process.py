"""Finding, starting, waking and stopping the agent of a compute target.

One agent runs per (workspace, compute target): it holds ``agents/<target>.lock`` for its whole
life, so "is an agent running?" is "is the lock held?" — which stays true across crashes because
the OS drops the lock when the process dies. The agent announces how to wake it (a UDP port on
127.0.0.1) in ``agents/<target>.json``.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlbench.errors import AgentError
from mlbench.jobenv import agent_environment
from mlbench.store.locks import FileLock

if TYPE_CHECKING:
    from mlbench.workspace import Workspace

log = logging.getLogger(__name__)

WAKE = b"wake"
STOP = b"stop"
STOP_NOW = b"stop-now"


class AgentHandle:
    def __init__(self, ws: Workspace, compute: str) -> None:
        self.ws = ws
        self.compute = compute
        base = ws.paths.agents_dir
        self.lock_path = base / f"{compute}.lock"
        self.info_path = base / f"{compute}.json"
        self.log_path = base / f"{compute}.log"

    def is_running(self) -> bool:
        return FileLock(self.lock_path).is_locked_elsewhere()

    def info(self) -> dict[str, Any] | None:
        """The running agent's announcement (pid, port, started), or None."""
        if not self.is_running():
            return None
        try:
            return json.loads(self.info_path.read_text())
        except (OSError, ValueError):
            return {"state": "starting"}

    def ensure_running(self, *, wait: bool = False, timeout: float = 30.0) -> None:
        """Start a detached agent unless one runs. Two racing callers are fine: the loser exits."""
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
        raise AgentError(
            f"the agent for compute {self.compute!r} did not become ready in {timeout:.0f} s",
            hint=f"see its log: {self.log_path}",
        )

    def _spawn(self) -> None:
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "mlbench.agent",
            "--workspace",
            str(self.ws.home),
            "--compute",
            self.compute,
            "--on-demand",
        ]
        env = agent_environment(os.environ)
        env["MLBENCH_HOME"] = str(self.ws.home)
        for key, value in self.ws.setting_overrides.items():
            env[key] = str(value)
        with open(self.log_path, "ab") as out:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=str(self.ws.home),
                start_new_session=True,  # survives the terminal, the server and Ctrl-C
                close_fds=True,
            )
        log.debug("started agent for %s (pid %s)", self.compute, proc.pid)
        # Return once it holds the lock (about 0.1 s): from then on everyone sees it, and
        # `stop()` right after a submission cannot miss an agent that is still starting.
        deadline = time.monotonic() + 15.0
        while time.monotonic() < deadline and proc.poll() is None and not self.is_running():
            time.sleep(0.01)

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
        if self.wake(STOP_NOW if now else STOP) and self._wait_exit(timeout):
            return True
        pid = info.get("pid")
        if pid:
            for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
                try:
                    os.kill(int(pid), sig)
                except ProcessLookupError:
                    break
                if self._wait_exit(wait):
                    break
        if self.is_running():
            raise AgentError(f"the agent for {self.compute!r} (pid {pid}) did not stop")
        return True

    def _wait_exit(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.is_running():
                return True
            time.sleep(0.05)
        return False


def acquire_agent_lock(workspace: str | os.PathLike[str], compute: str) -> FileLock | None:
    """Take the lock that makes this process the agent of ``compute``; None if one runs."""
    from mlbench.config import resolve_home
    from mlbench.paths import WorkspacePaths

    agents_dir = WorkspacePaths(resolve_home(workspace)).agents_dir
    lock = FileLock(agents_dir / f"{compute}.lock")
    # Someone probing "is an agent running?" holds the lock for microseconds: retry briefly.
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        if lock.acquire(blocking=False):
            # Until it is ready, say who we are, so that `stop()` can find us.
            write_info(agents_dir / f"{compute}.json", {"pid": os.getpid(), "state": "starting"})
            return lock
        time.sleep(0.01)
    return None


def write_info(path: Path, info: dict[str, Any]) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(info))
    os.replace(tmp, path)
