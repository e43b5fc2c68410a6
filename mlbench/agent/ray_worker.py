"""What runs on a Ray worker for one job (imported there; never touches the workspace).

The job arrives self-contained (notebook bytes, parameters, environment) and everything goes
back through Ray as a stream of small messages — the node, the GPUs Ray gave it, per-cell
progress, output text, metric lines, and finally the outcome with the executed notebook and the
files the job wrote to ``MLBENCH_OUTPUT_DIR`` — so a worker needs no shared filesystem.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import signal
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

from mlbench.agent.command_runner import command_env, prepare_workdir, run_command
from mlbench.agent.execute import (
    JobStopped,
    StopRequest,
    python_prelude,
    register_engine,
    run_notebook,
)
from mlbench.agent.kernels import KernelPool
from mlbench.agent.ray_kernels import borrowed_kernel, give_back, host_name
from mlbench.jobs.lifecycle import Outcome
from mlbench.jobs.models import JobError, JobInfo, JobStatus

log = logging.getLogger(__name__)

MAX_OUTPUT_BYTES = 256 * 1024 * 1024  # files sent back from MLBENCH_OUTPUT_DIR, in all


class _Listener:
    def __init__(self, events: queue.Queue[dict[str, Any]], stop: StopRequest) -> None:
        self._events = events
        self._stop = stop

    def cell_started(self, index: int, count: int, source: str) -> None:
        if self._stop.requested:
            raise JobStopped
        self._events.put({"type": "cell", "index": index, "count": count, "source": source})

    def cell_finished(self, index: int) -> None:
        pass


class _LogStream:
    """A file-like object papermill writes cell output to; forwarded as messages."""

    def __init__(self, events: queue.Queue[dict[str, Any]]) -> None:
        self._events = events

    def write(self, text: str) -> int:
        if text:
            self._events.put({"type": "log", "text": text})
        return len(text)

    def flush(self) -> None:
        pass


def run_job_payload(payload: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The body of the Ray task (a streaming generator): run one job, report as it goes."""
    import ray

    gpu_ids = [str(g) for g in ray.get_gpu_ids()]
    workdir = Path(tempfile.mkdtemp(prefix=f"mlbench-{payload['job_id']}-"))
    snapshot, output = workdir / "input.ipynb", workdir / "output.ipynb"
    metrics, outputs = workdir / "metrics.jsonl", workdir / "outputs"
    outputs.mkdir()
    if payload.get("command") is None:
        snapshot.write_bytes(payload["notebook"])
    parameters = {**payload["parameters"], **_unpack_data(payload.get("data") or {}, workdir)}
    cwd = payload["cwd"] if os.path.isdir(payload["cwd"]) else str(workdir)
    env = {
        **payload["env"],
        "CUDA_VISIBLE_DEVICES": ",".join(gpu_ids),
        "MLBENCH_METRICS_FILE": str(metrics),
        "MLBENCH_OUTPUT_DIR": str(outputs),
        # the job's own ray.init() (Ray Tune, Ray Data, FLAML's parallel trials) joins this
        # cluster instead of starting a second one on the node
        "RAY_ADDRESS": ray.get_runtime_context().gcs_address,
    }
    if payload.get("command") is not None:
        try:
            yield from _run_command(payload, workdir, parameters, env, gpu_ids)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return
    register_engine()
    pool = KernelPool(
        base_env={k: v for k, v in os.environ.items() if not k.startswith("RAY_")},
        cwd=str(workdir),
        size=0,  # one kernel, started with the job's environment
        start_timeout=payload["start_timeout"],
        fork=False,
    )
    events: queue.Queue[dict[str, Any]] = queue.Queue()
    stop = StopRequest()
    kernel = None
    host, lent = _borrow(payload) if payload.get("kernel_hosts") else (None, None)
    try:
        if lent is not None:
            kernel = borrowed_kernel(lent)
            prelude = python_prelude(env, cwd)  # the job's variables, GPUs and folder
        else:
            kernel = pool.acquire(payload["kernel_name"], env=env, cwd=cwd)
            prelude = ""
        yield {
            "type": "started",
            "node": ray.util.get_node_ip_address(),
            "pid": kernel.pid,
            "gpu_ids": gpu_ids,
            "warm_s": lent["age_s"] if lent is not None else None,
        }

        def execute() -> Outcome:
            return run_notebook(
                snapshot=snapshot,
                output=output,
                parameters=parameters,
                kernel=kernel,
                prelude=prelude,
                log_file=_LogStream(events),
                listener=_Listener(events, stop),
                stop=stop,
                start_timeout=payload["start_timeout"],
            )

        outcome = yield from _stream(execute, "notebook", events, metrics, kernel.interrupt, stop)
        notebook = output.read_bytes() if output.exists() else None
        yield _result(outcome, notebook, workdir)
    finally:
        if lent is not None and kernel is not None:
            give_back(host, lent, kernel)
        elif kernel is not None:
            kernel.signal_group(signal.SIGKILL)
            kernel.shutdown()
        pool.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _borrow(payload: dict[str, Any]) -> tuple[Any, dict[str, Any] | None]:
    """A warm kernel from this node's kernel host, if there is one and it pools this kernel."""
    import ray

    try:
        node_id = ray.get_runtime_context().get_node_id()
        host = ray.get_actor(host_name(payload["kernel_hosts"], node_id))
        lent = ray.get(
            host.take.remote(
                payload["kernel_name"], os.getpid(), payload["info"]["resources"]["cpus"]
            ),
            timeout=payload["start_timeout"] + 10,
        )
    except Exception as exc:  # no host on this node (yet), or it died: start one here
        log.info("no warm kernel on this node: %s", exc)
        return None, None
    return host, lent


def _run_command(
    payload: dict[str, Any],
    workdir: Path,
    parameters: dict[str, Any],
    env: dict[str, str],
    gpu_ids: list[str],
) -> Iterator[dict[str, Any]]:
    """A command job on this node: its code unpacked, run like the local agent runs it."""
    import ray

    code = workdir / "code"
    for name, content in payload.get("code", {}).items():
        target = (code / name).resolve()
        if code.resolve() not in target.parents:
            continue  # a name escaping the folder
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    events: queue.Queue[dict[str, Any]] = queue.Queue()
    stop = StopRequest()
    handles: list[Any] = []
    info = JobInfo.model_validate({**payload["info"], "parameters": parameters})
    outputs = workdir / "outputs"

    def execute() -> Outcome:
        prepare_workdir(code, workdir / "work")
        return run_command(
            info,
            env=command_env(env, None),
            workdir=workdir / "work",
            outputs_dir=outputs,
            log_file=_LogStream(events),  # type: ignore[arg-type]
            stop=stop,
            attach=handles.append,
            started=lambda pid, _gpus: events.put(
                {
                    "type": "started",
                    "node": ray.util.get_node_ip_address(),
                    "pid": pid,
                    "gpu_ids": gpu_ids,
                }
            ),
        )

    def interrupt() -> None:
        for handle in handles:
            handle.interrupt()

    outcome = yield from _stream(
        execute, "command", events, Path(env["MLBENCH_METRICS_FILE"]), interrupt, stop
    )
    yield _result(outcome, None, workdir)


def _result(outcome: Outcome, notebook: bytes | None, workdir: Path) -> dict[str, Any]:
    """The last message: the outcome, the executed notebook and the files the job wrote."""
    return {
        "type": "result",
        "outcome": {
            "status": outcome.status.value,
            "reason": outcome.reason,
            "error": outcome.error.model_dump() if outcome.error else None,
            "retryable": outcome.retryable,
        },
        "output": notebook,
        "outputs": _collect(workdir / "outputs"),
        "data_outputs": _collect(workdir / "data", under="outputs"),
    }


_END = {"type": "_end"}
METRICS_EVERY_S = 0.2  # how often new metric lines are read while the job runs


def _stream(
    execute: Callable[[], Outcome],
    name: str,
    events: queue.Queue[dict[str, Any]],
    metrics: Path,
    interrupt: Callable[[], None],
    stop: StopRequest,
) -> Generator[dict[str, Any], None, Outcome]:
    """Run ``execute`` on a thread and yield its events and new metric lines as they come, until
    it has returned (its last event is sent at once: a job's end waits on no poll interval);
    its outcome. A bug of ours in ``execute`` fails the job with its cause and traceback."""
    ended: list[Outcome] = []

    def body() -> None:
        try:
            ended.append(execute())
        except Exception as exc:
            log.exception("running the job on the Ray worker failed")
            message = f"internal error on the Ray worker: {type(exc).__name__}: {exc}"
            events.put({"type": "log", "text": f"[mlbench] {traceback.format_exc()}"})
            error = JobError(kind="internal_error", message=message)
            ended.append(Outcome(JobStatus.FAILED, message, error))
        finally:
            events.put(_END)

    threading.Thread(target=body, name=name, daemon=True).start()
    offset, read_at = 0, time.monotonic()
    while True:
        try:
            try:
                event = events.get(timeout=METRICS_EVERY_S)
            except queue.Empty:
                event = None
            if event is _END:
                break
            if event is not None:
                yield event
            # also while events keep coming: a job printing all the time still sends its metrics
            if event is None or time.monotonic() - read_at >= METRICS_EVERY_S:
                read_at = time.monotonic()
                chunk, offset = _new_lines(metrics, offset)
                if chunk:
                    yield {"type": "metrics", "text": chunk}
        except KeyboardInterrupt:  # ray.cancel(): stop like a local job would
            stop.set("canceled", "the Ray task was canceled")
            interrupt()
    chunk, offset = _new_lines(metrics, offset)
    if chunk:
        yield {"type": "metrics", "text": chunk}
    return ended[0]


def _new_lines(path: Path, offset: int) -> tuple[str, int]:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return "", offset
    end = data.rfind(b"\n")
    if end < 0:
        return "", offset
    return data[: end + 1].decode(), offset + end + 1


def _unpack_data(data: dict[str, Any], workdir: Path) -> dict[str, str]:
    """Rebuild the job's staged data under ``workdir/data``; the data parameters' new values."""
    root = workdir / "data"
    for name, content in data.get("files", {}).items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    for name in data.get("outputs", []):
        (root / name).mkdir(parents=True, exist_ok=True)
    return {key: str(root / rel) for key, rel in data.get("params", {}).items()}


def _collect(folder: Path, under: str = "") -> dict[str, bytes]:
    """Files under ``folder/under`` by their path relative to ``folder``, within the cap."""
    files: dict[str, bytes] = {}
    total = 0
    top = folder / under if under else folder
    if not top.is_dir():
        return files
    for path in sorted(p for p in top.rglob("*") if p.is_file()):
        size = path.stat().st_size
        if total + size > MAX_OUTPUT_BYTES:
            break
        files[str(path.relative_to(folder))] = path.read_bytes()
        total += size
    return files
