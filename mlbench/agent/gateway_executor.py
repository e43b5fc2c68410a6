"""Running jobs on kernels of a Jupyter Kernel/Enterprise Gateway (the agent's side).

Each job gets a fresh kernel on the gateway, driven by papermill through
:mod:`mlbench.agent.gateway_client`. The gateway's machine shares nothing with this one, so:
the job's environment and a fresh working folder are set by a silent prelude (gateways pass
only ``KERNEL_*`` variables at start); ``mlbench.log_metric`` in the kernel sends its points
as display messages that the client hands to the agent's metrics relay; and files the job
writes to ``MLBENCH_OUTPUT_DIR`` come back in a silent epilogue. The kernel is deleted when the
job ends, whatever the outcome.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlbench.agent.execute import JobStopped, run_notebook
from mlbench.agent.executors import Executor, JobRun, write_files_under
from mlbench.agent.gateway_client import GatewayKernelManager, KernelLink
from mlbench.compute.gateway import GatewayComputeConfig, GatewayConnection, GatewayError
from mlbench.jobenv import AGENT_GPUS_ENV
from mlbench.jobs.lifecycle import Outcome
from mlbench.jobs.models import JobError, JobStatus
from mlbench.tracking.metrics import METRICS_FILE_ENV, METRICS_MIME, METRICS_TRANSPORT_ENV

if TYPE_CHECKING:
    from mlbench.config import WorkspaceSettings

log = logging.getLogger(__name__)

FILES_MIME = "application/vnd.mlbench.files+json"
MAX_OUTPUT_BYTES = 256 * 1024 * 1024  # files sent back from MLBENCH_OUTPUT_DIR, in all
FILES_WAIT_S = 10.0

# Paths of this machine mean nothing on the gateway's: these are set there, or not at all.
# CUDA_VISIBLE_DEVICES stays: the agent hands out the gateway machine's declared GPU ids.
_LOCAL_ONLY_ENV = ("MLBENCH_HOME", METRICS_FILE_ENV, AGENT_GPUS_ENV)

_PRELUDE = """\
import os as _mlbench_os, tempfile as _mlbench_tempfile
_mlbench_dir = _mlbench_tempfile.mkdtemp(prefix="mlbench-job-")
_mlbench_os.makedirs(_mlbench_os.path.join(_mlbench_dir, "outputs"))
_mlbench_os.environ.update({env})
_mlbench_os.environ["MLBENCH_OUTPUT_DIR"] = _mlbench_os.path.join(_mlbench_dir, "outputs")
_mlbench_os.environ["{transport}"] = "display"
_mlbench_os.chdir(_mlbench_dir)
del _mlbench_os, _mlbench_tempfile
"""

# Sends the output files back in display messages of at most ~8 MiB, then removes the folder.
_COLLECT = """
import base64 as _mlbench_b64, os as _mlbench_os, shutil as _mlbench_shutil
from IPython.display import publish_display_data as _mlbench_publish
def _mlbench_send_outputs(root, limit, mime):
    batch, size, total, skipped = {{}}, 0, 0, 0
    for folder, _, names in sorted(_mlbench_os.walk(root)):
        for name in sorted(names):
            path = _mlbench_os.path.join(folder, name)
            length = _mlbench_os.path.getsize(path)
            if total + length > limit:
                skipped += 1
                continue
            with open(path, "rb") as f:
                data = _mlbench_b64.b64encode(f.read()).decode()
            batch[_mlbench_os.path.relpath(path, root)] = data
            size, total = size + length, total + length
            if size >= 8 * 1024 * 1024:
                _mlbench_publish({{mime: {{"files": batch, "done": False}}}})
                batch, size = {{}}, 0
    _mlbench_publish({{mime: {{"files": batch, "done": True, "skipped": skipped}}}})
_mlbench_send_outputs(_mlbench_os.environ["MLBENCH_OUTPUT_DIR"], {limit}, {mime!r})
_mlbench_os.chdir(_mlbench_os.path.expanduser("~"))
_mlbench_shutil.rmtree(_mlbench_dir, ignore_errors=True)
del _mlbench_send_outputs, _mlbench_b64, _mlbench_os, _mlbench_shutil, _mlbench_publish
"""


def gateway_env(env: dict[str, str], tracking_uri: str | None) -> dict[str, str]:
    """The job's environment as the gateway's kernel gets it."""
    remote = {k: v for k, v in env.items() if k not in _LOCAL_ONLY_ENV}
    if not (tracking_uri or "").startswith(("http://", "https://")):
        # A local store cannot be reached from there: metrics come back through the agent.
        for key in ("MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_NAME"):
            remote.pop(key, None)
    return remote


class GatewayKernel:
    """One kernel on the gateway: what papermill runs on and what the supervisor stops."""

    pid = None

    def __init__(self, link: KernelLink, name: str, language: str) -> None:
        self.link = link
        self.name = name
        self.language = language
        self.km = GatewayKernelManager(link, name)

    def exit_status(self) -> str:
        return self.link.dead_reason or "the gateway reported nothing"

    def interrupt(self) -> None:
        try:
            self.link.conn.interrupt(self.link.kernel_id)
        except GatewayError as exc:
            log.warning("interrupting gateway kernel %s failed: %s", self.link.kernel_id, exc)

    def kill(self) -> None:
        self.km.shutdown_kernel(now=True)


class _OutputFiles:
    """Receives the epilogue's file messages into the job's outputs folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.done = threading.Event()
        self.skipped = 0

    def __call__(self, data: Any) -> None:
        if isinstance(data, str):
            data = json.loads(data)
        files = data.get("files") or {}
        write_files_under(self.folder, {k: base64.b64decode(v) for k, v in files.items()})
        if data.get("done"):
            self.skipped = int(data.get("skipped") or 0)
            self.done.set()


class GatewayExecutor(Executor):
    kind = "gateway"

    def __init__(
        self, config: Any, settings: WorkspaceSettings, workdir: Path, compute: str = ""
    ) -> None:
        super().__init__(config, settings, workdir, compute)
        assert isinstance(config, GatewayComputeConfig)
        self.gateway_config = config
        self.conn = GatewayConnection.from_config(config)
        self._languages: dict[str, str] = {}
        self._ahead = KernelsAhead(self.conn, config.prestart_kernels)
        # A finished job's kernel is deleted behind it: the gateway's shutdown of a kernel takes
        # a while, and the job's end need not wait for it (close() does).
        self._deleter = ThreadPoolExecutor(max_workers=2, thread_name_prefix="gateway-delete")

    def start(self, kernel_names: set[str]) -> None:
        try:
            specs = self.conn.kernelspecs()["kernelspecs"]
        except Exception as exc:  # the agent still starts; each job will say why it failed
            log.warning("gateway %s: %s", self.conn.url, exc)
            return
        for name, spec in specs.items():
            language = ((spec or {}).get("spec") or {}).get("language") or ""
            self._languages[name] = str(language).lower()
        for name in kernel_names & set(specs):  # the queued jobs' kernels
            self._ahead.fill(name)

    def run(self, job: JobRun) -> Outcome:
        info = job.info
        if job.stop.requested:
            raise JobStopped
        outputs = _OutputFiles(job.outputs_dir)
        metrics = job.metrics_file

        def relay_metrics(text: Any) -> None:
            with open(metrics, "a", encoding="utf-8") as f:
                f.write(str(text))

        kernel_id = self._ahead.take(info.kernel_name)
        ahead = kernel_id is not None
        if kernel_id is None:
            try:
                kernel_id = self.conn.start_kernel(info.kernel_name)
            except GatewayError as exc:
                return _gateway_failure(str(exc))
        try:
            link = KernelLink(
                self.conn, kernel_id, {METRICS_MIME: relay_metrics, FILES_MIME: outputs}
            )
        except GatewayError as exc:
            self._delete(kernel_id)
            return _gateway_failure(str(exc))
        language = self._languages.get(info.kernel_name, "python")
        kernel = GatewayKernel(link, info.kernel_name, language)
        job.attach(kernel)
        how = "started ahead" if ahead else "started"
        job.log_file.write(f"[mlbench] kernel {kernel_id} {how} on the gateway {self.conn.url}\n")
        try:
            if job.stop.requested:
                raise JobStopped
            job.started(None, None)
            python = language == "python"
            env = gateway_env(job.env, job.env.get("MLFLOW_TRACKING_URI"))
            outcome = run_notebook(
                snapshot=job.snapshot,
                output=job.output,
                parameters=info.parameters,
                kernel=kernel,
                prelude=_PRELUDE.format(env=repr(env), transport=METRICS_TRANSPORT_ENV)
                if python
                else "",
                log_file=job.log_file,
                listener=job.listener,
                stop=job.stop,
                start_timeout=self.gateway_config.kernel_start_timeout_s,
                epilogue=_COLLECT.format(limit=MAX_OUTPUT_BYTES, mime=FILES_MIME) if python else "",
            )
            # A stopped or failed job may not have reached the epilogue: do not wait long.
            wait_s = FILES_WAIT_S if outcome.status == JobStatus.COMPLETED else 1.0
            if python and link.alive and not outputs.done.wait(wait_s):
                job.log_file.write("[mlbench] the job's output files did not all come back\n")
            if outputs.skipped:
                job.log_file.write(
                    f"[mlbench] {outputs.skipped} output file(s) not copied back: over "
                    f"{MAX_OUTPUT_BYTES // (1024 * 1024)} MiB in all\n"
                )
            return outcome
        finally:
            kernel.link.close()
            self._deleter.submit(self._delete, kernel_id)

    def _delete(self, kernel_id: str) -> None:
        _delete(self.conn, kernel_id)

    def close(self) -> None:
        self._ahead.close()  # no kernel left behind on the gateway
        self._deleter.shutdown(wait=True)
        self.conn.close()


class KernelsAhead:
    """Kernels started on the gateway before a job asks, ``count`` per kernel name.

    A job takes one (a kernel still serves exactly one job) and another is started behind it, on
    a thread of its own. One the gateway culled meanwhile is skipped. ``close`` deletes the rest.
    """

    def __init__(self, conn: GatewayConnection, count: int) -> None:
        self._conn = conn
        self._count = count
        self._ready: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-ahead")

    def fill(self, name: str) -> None:
        if self._count and not self._closed:
            self._starter.submit(self._fill, name)

    def _fill(self, name: str) -> None:
        while True:
            with self._lock:
                if self._closed or len(self._ready.get(name, [])) >= self._count:
                    return
            try:
                kernel_id = self._conn.start_kernel(name)
            except Exception as exc:  # the job that needs one starts its own and says why
                log.warning(
                    "starting a %s kernel ahead on %s failed: %s", name, self._conn.url, exc
                )
                return
            with self._lock:
                if not self._closed:
                    self._ready.setdefault(name, []).append(kernel_id)
                    continue
            _delete(self._conn, kernel_id)  # closed while it started
            return

    def take(self, name: str) -> str | None:
        """A started kernel of ``name`` still on the gateway, or None."""
        found = None
        while found is None:
            with self._lock:
                ready = self._ready.get(name, [])
                if not ready:
                    break
                kernel_id = ready.pop(0)
            try:
                if self._conn.kernel_state(kernel_id) is not None:
                    found = kernel_id
            except Exception as exc:  # not handed to a job: deleted, if the gateway lets us
                log.warning("gateway kernel %s cannot be checked: %s", kernel_id, exc)
                _delete(self._conn, kernel_id)
        self.fill(name)
        return found

    def close(self) -> None:
        with self._lock:
            self._closed = True
            left = [k for ids in self._ready.values() for k in ids]
            self._ready.clear()
        self._starter.shutdown(wait=True)
        for kernel_id in left:
            _delete(self._conn, kernel_id)


def _delete(conn: GatewayConnection, kernel_id: str) -> None:
    try:
        conn.delete(kernel_id)
    except Exception as exc:  # gone already, or the gateway is down: nothing more to do
        log.warning("deleting gateway kernel %s failed: %s", kernel_id, exc)


def _gateway_failure(message: str) -> Outcome:
    return Outcome(
        JobStatus.FAILED, message, JobError(kind="gateway_error", message=message), retryable=True
    )
