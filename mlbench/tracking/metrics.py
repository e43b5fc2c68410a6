"""Buffered metric logging (importable without importing MLflow)."""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from typing import Protocol

log = logging.getLogger(__name__)

METRICS_FILE_ENV = "MLBENCH_METRICS_FILE"
METRICS_TRANSPORT_ENV = "MLBENCH_METRICS_TRANSPORT"
METRICS_MIME = "application/vnd.mlbench.metrics+jsonl"
FLUSH_EVERY_POINTS = 1000
FLUSH_EVERY_S = 1.0
FLUSH_INTERVAL_ENV = "MLBENCH_METRICS_FLUSH_S"  # a sweep's trials flush sooner (its policy waits)


def flush_interval() -> float:
    try:
        return min(max(float(os.environ.get(FLUSH_INTERVAL_ENV, FLUSH_EVERY_S)), 0.05), 60.0)
    except ValueError:
        return FLUSH_EVERY_S


Point = tuple[str, float, int, int]  # key, value, step, timestamp (ms)


class Sink(Protocol):
    def write(self, points: list[Point]) -> None: ...


def json_lines(points: list[Point]) -> str:
    """The metrics line format the agent's relay reads."""
    return "".join(
        json.dumps({"k": k, "v": v, "s": s, "t": t}, allow_nan=True) + "\n" for k, v, s, t in points
    )


class FileSink:
    """JSON lines appended to the job's metrics file; the agent relays them to MLflow."""

    def __init__(self, path: str) -> None:
        self.path = path

    def write(self, points: list[Point]) -> None:
        text = json_lines(points)
        # One O_APPEND write per batch: a reader never sees half a batch interleaved.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)


class DisplaySink:
    """The same lines as display messages, for a kernel with no file the agent can read.

    On a gateway the kernel runs on another machine: the agent's client takes messages of
    this MIME type off the kernel's output stream (they never reach the notebook) and
    relays them like the lines of a metrics file.
    """

    def write(self, points: list[Point]) -> None:
        from IPython.display import publish_display_data

        publish_display_data({METRICS_MIME: json_lines(points)})


class MlflowSink:
    """Outside a job: batches go to MLflow's active run (started if there is none)."""

    def __init__(self) -> None:
        # imported now: the last flush runs at exit, when Python refuses the thread pools
        # that importing mlflow sets up ("can't register atexit after shutdown")
        import mlflow  # noqa: F401

    def write(self, points: list[Point]) -> None:
        from mlbench.tracking.client import log_to_active_run

        log_to_active_run(points)


class MetricBuffer:
    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._points: list[Point] = []
        self._steps: dict[str, int] = {}
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._last_flush = time.monotonic()
        self._flusher: threading.Thread | None = None
        self._every = flush_interval()

    def add(self, key: str, value: float, step: int | None, timestamp_ms: int | None) -> None:
        if not isinstance(key, str) or not key:
            raise ValueError(f"metric key must be a non-empty string, got {key!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"metric {key!r} must be a number, got {value!r}") from None
        ts = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
        with self._lock:
            if step is None:
                step = self._steps.get(key, -1) + 1
            self._steps[key] = max(int(step), self._steps.get(key, -1))
            self._points.append((key, number, int(step), ts))
            full = len(self._points) >= FLUSH_EVERY_POINTS
        if self._flusher is None:
            self._start_flusher()
        if full:
            self.flush()

    def flush(self) -> None:
        with self._flush_lock:
            with self._lock:
                points, self._points = self._points, []
                self._last_flush = time.monotonic()
            if points:
                self._sink.write(points)

    def _start_flusher(self) -> None:
        with self._lock:
            if self._flusher is not None:
                return
            self._flusher = threading.Thread(
                target=self._run_flusher, name="mlbench-metrics", daemon=True
            )
            self._flusher.start()

    def _run_flusher(self) -> None:
        while True:
            time.sleep(self._every)
            try:
                if self._points and time.monotonic() - self._last_flush >= self._every:
                    self.flush()
            except Exception:  # a failing sink must not kill the user's program
                log.exception("flushing metrics failed")


_buffer: MetricBuffer | None = None
_buffer_lock = threading.Lock()


def _get_buffer() -> MetricBuffer:
    global _buffer
    if _buffer is None:
        with _buffer_lock:
            if _buffer is None:
                path = os.environ.get(METRICS_FILE_ENV)
                sink: Sink
                if os.environ.get(METRICS_TRANSPORT_ENV) == "display":
                    sink = DisplaySink()
                elif path:
                    sink = FileSink(path)
                else:  # outside a job (never in one: its kernel may have no MLflow at all)
                    sink = MlflowSink()
                _buffer = MetricBuffer(sink)
                atexit.register(flush)
    return _buffer


def log_metric(
    key: str, value: float, step: int | None = None, timestamp: int | None = None
) -> None:
    """Log one metric point. ``step`` defaults to the key's previous step + 1 (from 0)."""
    _get_buffer().add(key, value, step, timestamp)


def log_metrics(
    metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None
) -> None:
    """Log several metrics at one step."""
    buffer = _get_buffer()
    for key, value in metrics.items():
        buffer.add(key, value, step, timestamp)


def flush() -> None:
    """Write buffered points now (also done every second, every 1,000 points and at exit)."""
    if _buffer is not None:
        _buffer.flush()
