"""Kernels for jobs: a small pool of pre-started kernels and a heartbeat watch.

A kernel serves exactly one job and is then discarded, so no state leaks between jobs; keeping
one started ahead of time removes kernel start-up (about half a second) from a job's latency.
Pooled kernels are started before their job is known, so a job's environment variables and
working folder are applied by a silent prelude (see :mod:`mlbench.agent.execute`); only Python
kernels are pooled for that reason, other languages start per job with their environment.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import tempfile
import threading
import time
import uuid
from collections import defaultdict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import Any

import zmq
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from jupyter_client.manager import KernelManager

from mlbench.agent.forkserver import ForkProvisioner, ForkServer, forkable
from mlbench.errors import KernelNotFoundError

log = logging.getLogger(__name__)

JOB_CLIENT = "mlbench.agent.kernels.JobKernelClient"


class JobKernelClient(AsyncKernelClient):
    """The async client nbclient uses for a job, with a faster ``wait_for_ready``.

    jupyter_client's version ends by waiting for 0.2 s of silence on IOPub; on an already
    started kernel that silence is most of a short job's latency. IOPub is known to be
    connected as soon as it delivers the ``idle`` status of our ``kernel_info`` request.
    """

    async def wait_for_ready(self, timeout: float | None = None) -> None:  # type: ignore[override]
        deadline = time.monotonic() + (timeout if timeout is not None else 60.0)
        while True:
            msg_id = self.kernel_info()
            if await self._reply_and_idle(msg_id, min(1.0, deadline - time.monotonic())):
                break
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")
        while True:  # drop whatever else IOPub had queued
            try:
                await self.iopub_channel.get_msg(timeout=0)
            except Empty:
                return

    async def _reply_and_idle(self, msg_id: str, wait: float) -> bool:
        end = time.monotonic() + max(wait, 0.05)
        replied = idle = False
        while not (replied and idle) and time.monotonic() < end:
            left = max(end - time.monotonic(), 0.0)
            if not replied:
                try:
                    msg = await self.shell_channel.get_msg(timeout=left)
                except Empty:
                    return False
                if msg["parent_header"].get("msg_id") == msg_id:
                    self._handle_kernel_info_reply(msg)
                    replied = True
                continue
            try:
                msg = await self.iopub_channel.get_msg(timeout=left)
            except Empty:
                return False
            idle = (
                msg["parent_header"].get("msg_id") == msg_id
                and msg["msg_type"] == "status"
                and msg["content"].get("execution_state") == "idle"
            )
        return replied and idle


@dataclass
class Kernel:
    """A started kernel, owned by at most one job."""

    name: str
    language: str
    km: KernelManager
    started_at: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int | None:
        provisioner = self.km.provisioner
        return getattr(provisioner, "pid", None) if provisioner else None

    def is_alive(self) -> bool:
        try:
            return bool(self.km.is_alive())
        except Exception:
            return False

    def exit_status(self) -> str:
        """How the process ended, e.g. 'killed by signal 9 (SIGKILL)' or 'exit code 1'."""
        process = getattr(self.km.provisioner, "process", None)
        code = process.poll() if process is not None else None
        if code is None:
            return "still running"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = "unknown"
            return f"killed by signal {-code} ({name})"
        return f"exit code {code}"

    def signal_group(self, sig: int) -> None:
        """Signal the kernel's whole process group (the kernel and what it spawned)."""
        if self.pid:
            signal_process_group(self.pid, sig)

    def interrupt(self) -> None:
        try:
            self.km.interrupt_kernel()
        except Exception:
            self.signal_group(signal.SIGINT)

    def kill(self) -> None:
        self.signal_group(signal.SIGKILL)

    def shutdown(self) -> None:
        """Kill at once: a job's results are already flushed when its kernel is discarded."""
        try:
            self.km.shutdown_kernel(now=True)
        except Exception:
            self.kill()
        with contextlib.suppress(Exception):
            self.km.cleanup_resources()

    def connection_info(self) -> dict[str, Any]:
        return self.km.get_connection_info()


class KernelPool:
    """Pre-started kernels per kernel name, refilled in the background."""

    def __init__(
        self,
        *,
        base_env: dict[str, str],
        cwd: str,
        size: int,
        start_timeout: float,
        fork: bool = True,
    ) -> None:
        self._base_env = base_env
        self._cwd = cwd
        self._size = size
        self._kept = size  # ready kernels kept per name now (see keep())
        self._start_timeout = start_timeout
        self._ready: dict[str, deque[Kernel]] = defaultdict(deque)
        self._starting: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._closed = False
        self._starter = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kernel-start")
        self._specs = KernelSpecManager()
        self._fork = fork
        self._fork_servers: dict[str, ForkServer] = {}
        self._fork_lock = threading.Lock()

    def language(self, kernel_name: str) -> str:
        try:
            return self._specs.get_kernel_spec(kernel_name).language.lower()
        except NoSuchKernel:
            raise KernelNotFoundError(
                f"kernel {kernel_name!r} is not installed on this machine",
                hint="available: " + ", ".join(sorted(self._specs.find_kernel_specs())),
            ) from None

    def poolable(self, kernel_name: str) -> bool:
        return self._size > 0 and self.language(kernel_name) == "python"

    def acquire(self, kernel_name: str, *, env: dict[str, str], cwd: str) -> Kernel:
        """A ready kernel for one job. Python kernels come from the pool; others start now."""
        if not self.poolable(kernel_name):
            return self._start_retrying(kernel_name, env={**self._base_env, **env}, cwd=cwd)
        kernel = None
        with self._lock:
            queue = self._ready[kernel_name]
            while queue:
                candidate = queue.popleft()
                if candidate.is_alive():
                    kernel = candidate
                    break
                log.warning("discarding a pooled %s kernel that died", kernel_name)
                candidate.shutdown()
        self.refill(kernel_name)
        if kernel is None:
            kernel = self._start_retrying(kernel_name, env=dict(self._base_env), cwd=self._cwd)
        return kernel

    def _start_retrying(self, kernel_name: str, *, env: dict[str, str], cwd: str) -> Kernel:
        try:
            return self._start(kernel_name, env=env, cwd=cwd)
        except KernelNotFoundError:
            raise
        except Exception as exc:  # a transient failure (resources, a race): one more try
            log.warning("starting a %s kernel failed (%s); trying once more", kernel_name, exc)
            return self._start(kernel_name, env=env, cwd=cwd)

    def keep(self, count: int) -> None:
        """Keep ``count`` ready kernels per name from now on (at most the pool's size): fewer
        while the machine's CPUs are taken by jobs, so that refills do not compete with them;
        surplus ready kernels stop, missing ones start."""
        with self._lock:
            self._kept = max(0, min(count, self._size))
            surplus = [q.pop() for q in self._ready.values() for _ in range(len(q) - self._kept)]
            names = list(self._ready)
        for kernel in surplus:
            kernel.shutdown()
        for name in names:
            self.refill(name)

    def refill(self, kernel_name: str) -> None:
        if not self.poolable(kernel_name):
            return
        with self._lock:
            missing = self._kept - len(self._ready[kernel_name]) - self._starting[kernel_name]
            if self._closed or missing <= 0:
                return
            self._starting[kernel_name] += missing
        for _ in range(missing):
            future = self._starter.submit(
                self._start, kernel_name, env=dict(self._base_env), cwd=self._cwd
            )
            future.add_done_callback(lambda f, n=kernel_name: self._started(n, f))

    def _started(self, kernel_name: str, future: Future[Kernel]) -> None:
        with self._lock:
            self._starting[kernel_name] -= 1
            try:
                kernel = future.result()
            except Exception:
                log.exception("pre-starting a %s kernel failed", kernel_name)
                return
            if self._closed:
                kernel.shutdown()
                return
            self._ready[kernel_name].append(kernel)

    def _start(self, kernel_name: str, *, env: dict[str, str], cwd: str) -> Kernel:
        language = self.language(kernel_name)
        # IPC sockets instead of TCP ports: no race with other processes for "free" ports
        # (seen here: kernels dying with "Address already in use" under load), and only this
        # user can connect to sockets in a 0700 folder.
        km = KernelManager(
            kernel_name=kernel_name,
            client_class=JOB_CLIENT,
            transport="ipc",
            connection_file=str(_runtime_dir() / f"k-{secrets.token_hex(6)}.json"),
        )
        server = self._fork_server(km.kernel_spec.argv)
        if server is not None:
            km.kernel_id = str(uuid.uuid4())
            provisioner = ForkProvisioner(
                kernel_id=km.kernel_id, kernel_spec=km.kernel_spec, parent=km
            )
            provisioner.server = server
            km.provisioner = provisioner
        km.start_kernel(env=env, cwd=cwd)
        kernel = Kernel(name=kernel_name, language=language, km=km)
        # Wait until it answers, so a job never waits on a kernel that is still importing.
        from jupyter_client.blocking import BlockingKernelClient

        kc = BlockingKernelClient(parent=km, **km.get_connection_info(session=True))
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=self._start_timeout)
        except RuntimeError as exc:
            status = kernel.exit_status()
            kernel.shutdown()
            raise RuntimeError(f"the {kernel_name} kernel did not start ({status}): {exc}") from exc
        finally:
            kc.stop_channels()
            kc.context.destroy(linger=0)
        return kernel

    def _fork_server(self, argv: list[str]) -> ForkServer | None:
        """The fork server for this kernelspec's interpreter (started on first use), if any."""
        if not self._fork:
            return None
        python = forkable(argv)
        if python is None:
            return None
        with self._fork_lock:
            server = self._fork_servers.get(python)
            if server is not None and server.alive:
                return server
            try:
                server = ForkServer(python)
            except Exception as exc:  # fall back to ordinary kernel starts
                log.warning("no kernel fork server for %s: %s", python, exc)
                self._fork = False
                return None
            self._fork_servers[python] = server
            return server

    def size(self, kernel_name: str) -> int:
        with self._lock:
            return len(self._ready[kernel_name])

    def close(self) -> None:
        with self._lock:
            self._closed = True
            kernels = [k for q in self._ready.values() for k in q]
            self._ready.clear()
        self._starter.shutdown(wait=True, cancel_futures=True)
        for kernel in kernels:
            kernel.shutdown()
        for server in self._fork_servers.values():
            server.close()


def signal_process_group(pid: int, sig: int) -> None:
    """Signal a kernel and its children: its own process group, never a group it shares."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def _runtime_dir() -> Path:
    """A short, private folder for kernel sockets (a socket path must fit in 107 bytes)."""
    path = Path(tempfile.gettempdir()) / f"mlbench-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    if path.stat().st_uid != os.getuid() or path.stat().st_mode & 0o077:
        raise RuntimeError(f"{path} must be a folder owned by this user with mode 0700")
    return path


class HeartbeatWatch:
    """Pings kernels' heartbeat sockets without blocking; reports the ones gone silent.

    ipykernel answers heartbeats from a C-level thread, so a kernel busy in Python still
    beats; a silent one is frozen (stopped, deadlocked in C, swapping to death).
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._ctx = zmq.Context.instance()
        self._watched: dict[str, dict[str, Any]] = {}
        self._closing: list[Any] = []  # sockets are closed by the thread that polls them
        self._lock = threading.Lock()

    def watch(self, key: str, kernel: Kernel) -> None:
        info = kernel.connection_info()
        if info["transport"] == "ipc":
            addr = f"ipc://{info['ip']}-{info['hb_port']}"
        else:
            addr = f"{info['transport']}://{info['ip']}:{info['hb_port']}"
        with self._lock:
            self._watched[key] = {"addr": addr, "sock": None, "sent": None, "ok": time.monotonic()}

    def unwatch(self, key: str) -> None:
        with self._lock:
            entry = self._watched.pop(key, None)
            if entry and entry["sock"] is not None:
                self._closing.append(entry["sock"])

    def silent(self) -> dict[str, float]:
        """Send due pings, collect replies; return {key: seconds silent} past the timeout.

        Called from one thread only (the agent's main loop), which owns the sockets.
        """
        now = time.monotonic()
        silent = {}
        with self._lock:
            watched = list(self._watched.items())
            closing, self._closing = self._closing, []
        for sock in closing:
            sock.close(linger=0)
        for key, entry in watched:
            sock = entry["sock"]
            if sock is not None and entry["sent"] is not None and sock.poll(0):
                sock.recv()
                entry["ok"], entry["sent"] = now, None
            if entry["sent"] is None:
                if sock is None:
                    sock = self._ctx.socket(zmq.REQ)
                    sock.linger = 0
                    sock.connect(entry["addr"])
                    with self._lock:
                        entry["sock"] = sock
                        if key not in self._watched:  # unwatched meanwhile
                            self._closing.append(sock)
                            continue
                sock.send(b"ping")
                entry["sent"] = now
            quiet = now - entry["ok"]
            if quiet > self.timeout:
                silent[key] = quiet
        return silent

    def close(self) -> None:
        for key in list(self._watched):
            self.unwatch(key)
        self.silent()  # closes the sockets
