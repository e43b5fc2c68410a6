"""A detached helper process of a workspace (an agent, the scheduler), found by its lock.

One such process per lock file holds ``<name>.lock`` for its whole life, so "is one running?" is
"is the lock held?" — true across crashes because the OS drops the lock with the process. It
announces itself (pid, state, ...) in ``<name>.json`` and logs to ``<name>.log``, all in one
folder. :class:`DaemonHandle` finds, starts and stops one; subclasses say how it is started.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from mlbench.errors import MlbenchError
from mlbench.store.locks import FileLock

log = logging.getLogger(__name__)

SPAWN_WAIT_S = 15.0  # a started process takes its lock in about 0.1 s


class DaemonHandle:
    error: type[MlbenchError] = MlbenchError

    def __init__(self, folder: Path, name: str, *, home: Path, what: str) -> None:
        self.lock_path = folder / f"{name}.lock"
        self.info_path = folder / f"{name}.json"
        self.log_path = folder / f"{name}.log"
        self.home = home
        self.what = what  # in messages: "the scheduler", "the agent for compute 'x'"

    # -- how it is started (subclasses) --------------------------------------------------------
    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    # -- finding and starting ------------------------------------------------------------------
    def is_running(self) -> bool:
        return FileLock(self.lock_path).is_locked_elsewhere()

    def info(self) -> dict[str, Any] | None:
        """The running process's announcement, or None."""
        if not self.is_running():
            return None
        try:
            return json.loads(self.info_path.read_text())
        except (OSError, ValueError):
            return {"state": "starting"}

    def ensure_running(self, *, wait: bool = False, timeout: float = 30.0) -> None:
        """Start it detached unless one runs (two racing starters: the loser exits)."""
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
        raise self.error(
            f"{self.what} did not become ready in {timeout:.0f} s",
            hint=f"see its log: {self.log_path}",
        )

    def _spawn(self) -> None:
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as out:
            proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.environment(),
                cwd=str(self.home),
                start_new_session=True,  # outlives the terminal, the Jupyter server and Ctrl-C
                close_fds=True,
            )
        log.debug("started %s (pid %s)", self.what, proc.pid)
        # Return once it holds the lock: from then on everyone sees it, and `stop()` right
        # after a start cannot miss one that is still starting.
        deadline = time.monotonic() + SPAWN_WAIT_S
        while time.monotonic() < deadline and proc.poll() is None and not self.is_running():
            time.sleep(0.01)

    # -- stopping ------------------------------------------------------------------------------
    def terminate(self, pid: Any, term_wait_s: float) -> None:
        """SIGTERM, then SIGKILL after ``term_wait_s``; raises if it still holds its lock."""
        if pid:
            for sig, wait in ((signal.SIGTERM, term_wait_s), (signal.SIGKILL, 5.0)):
                try:
                    os.kill(int(pid), sig)
                except ProcessLookupError:
                    break
                if self._wait_exit(pid, wait):
                    break
        if self.is_running():
            now = (self.info() or {}).get("pid")
            if pid and now and now != pid:  # it stopped, and something started another
                raise self.error(
                    f"{self.what} (pid {pid}) stopped, but another one (pid {now}) started "
                    "meanwhile",
                    hint="whatever started it (a Jupyter server or agent starting up, an "
                    "enabled schedule or rule) may do so again: stop again, or disable it",
                )
            raise self.error(f"{self.what} (pid {pid}) did not stop", hint=f"see {self.log_path}")

    def _wait_exit(self, pid: Any, timeout: float) -> bool:
        """True once ``pid`` no longer holds the lock: free, or taken by a newer process."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = self.info()
            if info is None or info.get("pid", pid) != pid:
                return True
            time.sleep(0.05)
        return False


def acquire_lock(folder: Path, name: str) -> FileLock | None:
    """Take the lock that makes this process the one ``name``; None if one runs."""
    lock = FileLock(folder / f"{name}.lock")
    deadline = time.monotonic() + 1.0  # someone probing "is one running?" holds it briefly
    while time.monotonic() < deadline:
        if lock.acquire(blocking=False):
            # until it is ready, say who it is, so that `stop()` can find it
            write_info(folder / f"{name}.json", {"pid": os.getpid(), "state": "starting"})
            return lock
        time.sleep(0.01)
    return None


def write_info(path: Path, info: dict[str, Any]) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(info))
    os.replace(tmp, path)
