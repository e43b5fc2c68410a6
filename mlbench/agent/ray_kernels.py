"""Warm kernels on Ray nodes: one kernel host actor per node, lending pre-started kernels.

A Ray job is a task asking for the job's resources (Ray still places it and assigns its GPUs);
starting a kernel inside that task cost most of a Ray job's latency. So the agent keeps a
:class:`KernelHost` actor on every node (no resources of its own; detached, so that a job's
kernel survives an agent restart like its task does, and stopped when the agent stops cleanly),
holding the same pool the local agent uses:
Python kernels forked from a warm interpreter, refilled after each lend. The task borrows one
on its own node, connects to it over its IPC sockets, applies the job's environment (its
``CUDA_VISIBLE_DEVICES`` included) with the same silent prelude as a local pooled kernel, and
gives it back to be discarded: a kernel still serves exactly one job.

A kernel outlives nothing it should not: the host kills a lent kernel whose borrowing worker
has died (a killed task, a dead worker), and forked kernels exit with the host's fork server.
Where there is no host (a node that joined since, a host that died), the task starts its own
kernel as before.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from jupyter_client.manager import KernelManager
from jupyter_client.provisioning.local_provisioner import LocalProvisioner

from mlbench.agent.forkserver import ForkedProcess
from mlbench.agent.kernels import JOB_CLIENT, Kernel, KernelPool, signal_process_group

log = logging.getLogger(__name__)

HOST_PREFIX = "mlbench-kernels-"
WATCH_INTERVAL_S = 0.5


def host_name(scope: str, node_id: str) -> str:
    """The kernel host actor of one target's agent (its scope) on a node."""
    return f"{HOST_PREFIX}{scope}-{node_id}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class KernelHost:
    """The actor body: a kernel pool on one node, and the kernels it has lent out."""

    def __init__(
        self, kernel_names: list[str], size: int, start_timeout: float, node_cpus: float
    ) -> None:
        self._cwd = tempfile.mkdtemp(prefix="mlbench-kernel-host-")
        self._size = size
        self._node_cpus = node_cpus
        self._pool = KernelPool(
            base_env={k: v for k, v in os.environ.items() if not k.startswith("RAY_")},
            cwd=self._cwd,
            size=size,
            start_timeout=start_timeout,
        )
        self._lent: dict[str, tuple[Kernel, int, float]] = {}  # id -> (kernel, pid, CPUs)
        self._lock = threading.Lock()
        self._closed = threading.Event()
        for name in kernel_names:
            with contextlib.suppress(Exception):  # an unknown kernel name starts per job
                self._pool.refill(name)
        threading.Thread(target=self._watch, name="lent-kernels", daemon=True).start()

    def take(self, kernel_name: str, borrower_pid: int, cpus: float = 1.0) -> dict[str, Any] | None:
        """A started kernel for one job (of ``cpus``) of the worker ``borrower_pid``; None if
        this kernel is not pooled."""
        if not self._pool.poolable(kernel_name):
            return None
        with self._lock:
            busy = sum(c for _, _, c in self._lent.values()) + cpus
        self._fit(busy)  # before the take: its refill already counts this job
        kernel = self._pool.acquire(kernel_name, env={}, cwd=os.getcwd())
        lent_id = uuid.uuid4().hex
        with self._lock:
            self._lent[lent_id] = (kernel, borrower_pid, cpus)
        return {
            "id": lent_id,
            "name": kernel.name,
            "language": kernel.language,
            "pid": kernel.pid,
            "host_pid": os.getpid(),
            "age_s": round(time.monotonic() - kernel.started_at, 3),
            "connection_info": _plain(kernel.connection_info()),
        }

    def discard(self, lent_id: str) -> None:
        """The job is done with the kernel: it goes (the pool already started its successor)."""
        with self._lock:
            entry = self._lent.pop(lent_id, None)
            busy = sum(c for _, _, c in self._lent.values())
        if entry is not None:
            _discard(entry[0])
            self._fit(busy)

    def ready(self, kernel_name: str) -> int:
        """Kernels of that name started and waiting for a job."""
        return self._pool.size(kernel_name)

    def _fit(self, busy_cpus: float) -> None:
        """Warm kernels for the jobs the node could start now (one per CPU left beside the jobs
        in its kernels), at most the pool's size, and at least one: the kernel of the next job
        to start when a running one ends. More would only compete with the running jobs."""
        free = int(self._node_cpus - busy_cpus + 1e-9)
        self._pool.keep(min(self._size, max(1, free)))

    def _watch(self) -> None:
        while not self._closed.wait(WATCH_INTERVAL_S):
            with self._lock:
                orphans = [k for k, (_, pid, _) in self._lent.items() if not _alive(pid)]
                kernels = [self._lent.pop(k)[0] for k in orphans]
                busy = sum(c for _, _, c in self._lent.values())
            for kernel in kernels:
                log.warning("the worker borrowing kernel %s died: killing it", kernel.pid)
                _discard(kernel)
            if kernels:
                self._fit(busy)

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            kernels = [k for k, _, _ in self._lent.values()]
            self._lent.clear()
        for kernel in kernels:
            _discard(kernel)
        self._pool.close()
        shutil.rmtree(self._cwd, ignore_errors=True)


def _discard(kernel: Kernel) -> None:
    kernel.signal_group(signal.SIGKILL)
    kernel.shutdown()


def _plain(info: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in info.items()}


# -- the task's side -----------------------------------------------------------------------------
def _borrowed_exit(pid: int) -> int | None:
    """How a kernel another process owns on this node ended: its parent (the host's fork
    server) reaps it and alone knows the real status; gone reads as killed."""
    return None if _alive(pid) else -signal.SIGKILL


@dataclass
class BorrowedKernel(Kernel):
    """A kernel lent by the node's host: one that died with its host says so."""

    host_pid: int | None = None

    def exit_status(self) -> str:
        status = super().exit_status()
        if status != "still running" and self.host_pid and not _alive(self.host_pid):
            return (
                f"the node's kernel host (process {self.host_pid}), which had lent it, died "
                "and took its kernels with it"
            )
        return status


def borrowed_kernel(lent: dict[str, Any]) -> Kernel:
    """A :class:`Kernel` for a kernel lent by the node's host, connected over its sockets."""
    km = KernelManager(kernel_name=lent["name"], client_class=JOB_CLIENT)
    km.load_connection_info(lent["connection_info"])
    km.kernel_id = lent["id"]
    provisioner = LocalProvisioner(kernel_id=km.kernel_id, kernel_spec=km.kernel_spec, parent=km)
    provisioner.process = ForkedProcess(int(lent["pid"]), _borrowed_exit)
    provisioner.pid = provisioner.pgid = int(lent["pid"])  # forked kernels lead their group
    km.provisioner = provisioner
    return BorrowedKernel(
        name=lent["name"], language=lent["language"], km=km, host_pid=lent.get("host_pid")
    )


def give_back(host: Any, lent: dict[str, Any], kernel: Kernel) -> None:
    """Kill the borrowed kernel here (at once), and tell its host to forget it."""
    if kernel.pid:
        signal_process_group(kernel.pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        host.discard.remote(lent["id"])
