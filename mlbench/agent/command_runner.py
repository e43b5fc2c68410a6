"""Running a command job: the command in a fresh copy of its code snapshot, as a process group.

stdout and stderr go to the job's log line by line as they come (stderr lines marked); the exit
code decides the outcome, and a failure's reason is the tail of stderr. A stop (cancel, timeout,
a sweep's policy) sends SIGINT to the group — Python raises KeyboardInterrupt, shells stop — and
the agent's supervisor kills the group if it is still there after the grace period.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from collections import deque
from pathlib import Path
from typing import IO, TextIO

from mlbench.agent.execute import Outcome, StopRequest, stopped_outcome
from mlbench.agent.kernels import signal_process_group
from mlbench.jobs.command import resolve
from mlbench.jobs.models import JobError, JobInfo, JobStatus

STDERR_TAIL_LINES = 20


class CommandProcess:
    """The handle the agent's supervisor interrupts or kills."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.pid = proc.pid

    def interrupt(self) -> None:
        signal_process_group(self.pid, signal.SIGINT)

    def kill(self) -> None:
        signal_process_group(self.pid, signal.SIGKILL)


def command_env(job_env: dict[str, str], python_bin: Path | None) -> dict[str, str]:
    """The command's environment: the agent's plus the job's (its variables included), with
    ``python`` on PATH being the job's environment's interpreter (else mlbench's own)."""
    env = {**os.environ, **job_env}
    bin_dir = str(python_bin or Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def prepare_workdir(code: Path, workdir: Path) -> None:
    """A fresh copy of the code snapshot for this attempt (a retry starts clean)."""
    if workdir.exists():
        shutil.rmtree(workdir)
    if code.is_dir():
        shutil.copytree(code, workdir, symlinks=True)
    else:
        workdir.mkdir(parents=True)


def run_command(
    info: JobInfo,
    *,
    env: dict[str, str],
    workdir: Path,
    outputs_dir: Path,
    log_file: TextIO,
    stop: StopRequest,
    attach: object,
    started: object,
) -> Outcome:
    """Run the job's command to its end; returns how it ended."""
    command = resolve(info.command or "", info.parameters, outputs_dir)
    log_file.write(f"$ {command}\n")
    log_file.flush()
    proc = subprocess.Popen(
        ["/bin/bash", "-c", command],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: stopped as a whole
    )
    handle = CommandProcess(proc)
    attach(handle)  # type: ignore[operator]
    started(proc.pid, None)  # type: ignore[operator]
    if stop.requested:  # stopped while starting
        handle.interrupt()
    tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
    lock = threading.Lock()
    readers = [
        threading.Thread(target=_pump, args=(proc.stdout, log_file, lock, None, ""), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, log_file, lock, tail, ""), daemon=True),
    ]
    for reader in readers:
        reader.start()
    code = proc.wait()
    for reader in readers:
        reader.join(timeout=10)
    signal_process_group(proc.pid, signal.SIGKILL)  # children it left behind go too
    if stop.requested:
        return stopped_outcome(stop, None)
    if code == 0:
        return Outcome(JobStatus.COMPLETED)
    return _failed(code, list(tail))


def _pump(
    stream: IO[bytes] | None,
    log_file: TextIO,
    lock: threading.Lock,
    tail: deque[str] | None,
    prefix: str,
) -> None:
    if stream is None:
        return
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", errors="replace")
        if tail is not None:
            tail.append(line.rstrip("\n"))
        with lock:
            log_file.write(prefix + line if line.endswith("\n") else prefix + line + "\n")
    stream.close()


def _failed(code: int, tail: list[str]) -> Outcome:
    if code < 0:
        what = f"the command was killed by {signal.Signals(-code).name}"
    else:
        what = f"the command exited with code {code}"
    last = next((line for line in reversed(tail) if line.strip()), "")
    message = f"{what}: {last}" if last else what
    return Outcome(
        JobStatus.FAILED,
        message,
        JobError(kind="exit_code", message=message, traceback=tail),
    )


__all__ = ["CommandProcess", "command_env", "prepare_workdir", "run_command"]
