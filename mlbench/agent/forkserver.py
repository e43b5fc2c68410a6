"""Start kernels by forking a process that has already imported them (a fork server).

A fresh IPython kernel spends most of its start-up (about 0.5 s of CPU here) importing
ipykernel and IPython; a kernel forked from :mod:`mlbench.agent.zygote` skips that, which is
what lets a 2-core machine run many short jobs a minute. Kernels stay ordinary to everyone else:
they get their connection file, environment and working folder, and jupyter_client manages them
through :class:`ForkProvisioner`, a ``LocalProvisioner`` whose process handle is a forked pid.

Only kernelspecs that run ``<python> -m ipykernel_launcher -f {connection_file}`` are forked,
with one fork server per Python interpreter, so a kernelspec of another environment still runs
its own interpreter.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jupyter_client.provisioning import LocalProvisioner

log = logging.getLogger(__name__)


class ForkServer:
    """One zygote process and the bookkeeping of the kernels it forked."""

    def __init__(self, python: str, *, stderr: Any = None) -> None:
        self.python = python
        self._proc = subprocess.Popen(
            [python, "-m", "mlbench.agent.zygote"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            bufsize=1,
        )
        self._replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self._exits: dict[int, int] = {}
        self._exits_lock = threading.Lock()
        self._request_lock = threading.Lock()
        self._next_id = 0
        self._reader = threading.Thread(target=self._read, name="fork-server", daemon=True)
        self._reader.start()
        ready = self._replies.get(timeout=60)
        if "ready" not in ready:
            raise RuntimeError(f"kernel fork server did not start: {ready}")

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if "exited" in message:
                with self._exits_lock:
                    self._exits[int(message["exited"])] = int(message["status"])
            else:
                self._replies.put(message)
        self._replies.put({"error": "the kernel fork server exited"})

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def spawn(self, connection_file: str, env: dict[str, str], cwd: str) -> int:
        with self._request_lock:  # one request in flight at a time: replies come in order
            self._next_id += 1
            request = {
                "id": self._next_id,
                "connection_file": connection_file,
                "env": env,
                "cwd": cwd,
            }
            assert self._proc.stdin is not None
            try:
                self._proc.stdin.write(json.dumps(request) + "\n")
                self._proc.stdin.flush()
            except (BrokenPipeError, ValueError) as exc:
                raise RuntimeError("the kernel fork server is gone") from exc
            reply = self._replies.get(timeout=30)
        if "pid" not in reply:
            raise RuntimeError(f"the kernel fork server could not fork: {reply.get('error')}")
        return int(reply["pid"])

    def returncode(self, pid: int) -> int | None:
        with self._exits_lock:
            if pid in self._exits:
                return self._exits[pid]
        if not self.alive:
            # The server reaped nothing more; its kernels exit with it (they watch it).
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return -signal.SIGKILL
        return None

    def close(self) -> None:
        if self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


class ForkedProcess:
    """The parts of ``subprocess.Popen`` that ``LocalProvisioner`` uses, for a kernel this
    process did not start itself: ``exit_code(pid)`` says how it ended (None: running), as
    whoever reaps it knows (a fork server)."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int, exit_code: Callable[[int], int | None]) -> None:
        self.pid = pid
        self._exit_code = exit_code
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._exit_code(self.pid)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout or 0)
            time.sleep(0.01)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


class ForkProvisioner(LocalProvisioner):  # type: ignore[misc]
    """``LocalProvisioner`` whose kernel comes from a fork server instead of ``Popen``."""

    server: ForkServer | None = None

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
        assert self.server is not None
        connection_file = cmd[cmd.index("-f") + 1]
        env = {k: str(v) for k, v in (kwargs.get("env") or os.environ).items()}
        cwd = str(kwargs.get("cwd") or os.getcwd())
        pid = self.server.spawn(connection_file, env, cwd)
        self.process = ForkedProcess(pid, self.server.returncode)
        self.pid = pid
        # The child makes itself a session (and group) leader right after the fork; asking
        # getpgid now could still answer the fork server's group.
        self.pgid = pid
        return self.connection_info


def forkable(argv: list[str]) -> str | None:
    """The Python interpreter of an ipykernel kernelspec that can be forked, else None."""
    if len(argv) != 5 or argv[1:] != ["-m", "ipykernel_launcher", "-f", "{connection_file}"]:
        return None
    python = argv[0]
    # jupyter_client runs a kernelspec's bare "python" as this interpreter; so do we.
    major, minor = sys.version_info[:2]
    if python in ("python", f"python{major}", f"python{major}.{minor}"):
        return sys.executable
    resolved = python if os.path.isabs(python) else shutil.which(python)
    return str(Path(resolved)) if resolved else None
