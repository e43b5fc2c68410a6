"""A Ray head of the tests' own, and stopping exactly that head and nothing else.

``ray stop`` with ``--force`` kills every Ray process on the machine, whatever user, network or PID
namespace started it (MACHINE-NOTES): a user's own cluster, or another test run's, would die
with ours. So the head is started with ``ray start`` as the leader of a new session: its GCS,
raylet, agents and workers all inherit that session (the workers each get a process group of
their own, so a process-group kill alone would miss them). Stopping signals exactly those
processes, plus their descendants (a job's kernel starts a session of its own) and anything
whose command line names this head's private temp dir: SIGTERM, a grace period, SIGKILL, and
then a check that none of them is left. Used by tests/test_ray.py and benchmarks/bench_compute.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.storage_servers import free_port

RAY = str(Path(sys.executable).with_name("ray"))


def _stat(pid: int) -> tuple[int, int, str, int] | None:
    """(ppid, session id, state, start time) of a process, None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # after the command: state ppid pgrp session ... starttime (field 22 of stat)
    return int(fields[1]), int(fields[3]), fields[0], int(fields[19])


def command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def process_table() -> dict[int, tuple[int, int, str, int]]:
    """Every live process visible here: pid -> (ppid, sid, state, start time); no zombies."""
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (stat := _stat(int(name))) is not None and stat[2] not in "ZX":
            table[int(name)] = stat
    return table


def descendants(table: dict[int, tuple[int, int, str, int]], roots: set[int]) -> set[int]:
    found, todo = set(roots), list(roots)
    children: dict[int, list[int]] = {}
    for pid, (ppid, *_rest) in table.items():
        children.setdefault(ppid, []).append(pid)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


class RayHead:
    """``ray start --head`` on 127.0.0.1 in a session of its own; :meth:`stop` ends only it."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.args = args  # e.g. "--num-cpus=2", "--num-gpus=2"
        self.temp = Path(tempfile.mkdtemp(prefix="mlbray-"))  # Ray's socket paths stay short
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.env = {**(env or os.environ), "RAY_USAGE_STATS_ENABLED": "0"}
        self.sid: int | None = None
        self._seen: dict[int, int] = {}  # pid -> start time, of every process found ours

    def start(self, timeout: float = 120) -> str:
        command = [
            RAY,
            "start",
            "--head",
            f"--port={self.port}",
            "--node-ip-address=127.0.0.1",
            "--include-dashboard=false",
            "--disable-usage-stats",
            f"--temp-dir={self.temp}",
            *self.args,
        ]
        proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env,
            start_new_session=True,  # the leader of the session every daemon inherits
        )
        self.sid = proc.pid
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise RuntimeError(f"ray start took over {timeout:.0f} s") from None
        if proc.returncode != 0:
            self.stop()
            raise RuntimeError(f"ray start failed ({proc.returncode}): {output[-2000:]}")
        self.processes()  # remember them now, while their parents still link them
        return self.address

    def processes(self) -> dict[int, str]:
        """This head's live processes: pid -> command line."""
        if self.sid is None:
            return {}
        table = process_table()
        marker = str(self.temp)
        roots = {
            pid
            for pid, (_ppid, sid, _state, _t) in table.items()
            if sid == self.sid or marker in command_line(pid)
        }
        # the ones seen before whose parent has died since: the same pid and start time
        roots |= {pid for pid, t in self._seen.items() if pid in table and table[pid][3] == t}
        ours = descendants(table, roots) - {os.getpid()}
        self._seen.update({pid: table[pid][3] for pid in ours})
        return {pid: command_line(pid) for pid in sorted(ours)}

    def _signal(self, signum: int) -> None:
        for pid in self.processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def _wait_gone(self, timeout: float) -> dict[int, str]:
        deadline = time.monotonic() + timeout
        while (left := self.processes()) and time.monotonic() < deadline:
            time.sleep(0.2)
        return left

    def stop(self, grace_s: float = 5) -> None:
        """SIGTERM this head's processes, SIGKILL what is left after ``grace_s``; check none is.

        (Measured with Ray 2.60: the raylet takes ~10 s to end on SIGTERM, the GCS and the
        autoscaler monitor not at all, so a longer grace only costs time; `ray stop` with `--force`,
        used before, sent SIGKILL straight away.)

        Raises RuntimeError naming any process that survived; the temp dir is removed anyway.
        """
        try:
            self._signal(signal.SIGTERM)
            if self._wait_gone(grace_s):
                self._signal(signal.SIGKILL)
            left = self._wait_gone(10)
            if left:
                raise RuntimeError(f"Ray processes of the head at {self.address} survived: {left}")
        finally:
            shutil.rmtree(self.temp, ignore_errors=True)

    def __enter__(self) -> RayHead:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
