"""Column files of metric series: a read-optimized copy of what the agent logs to MLflow.

Charts ask for a whole series (100,000 points and more) and get it downsampled. Reading that
many rows out of MLflow's ``metrics`` table costs SQLite alone ~20 ms a scan on a small machine
and Python several times more; a flat file of fixed-size records reads in a few milliseconds.
So whenever mlbench logs points to a run (the agent relaying a job's metrics), it also appends
them here, one file per run and metric key, after MLflow has committed them.

MLflow stays the source of truth: a reader uses a file only when its point count and last
step match the store's (an index-only query), so points logged around mlbench (``mlflow``
called directly), a crash between the two writes or MLflow dropping a duplicate only cost one
full read, after which the file is rewritten from the store.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from mlbench.tracking.metrics import Point

log = logging.getLogger(__name__)

RECORD = np.dtype([("step", "<i8"), ("value", "<f8"), ("timestamp", "<i8")])
MAX_FLOAT = 1.7976931348623157e308  # how MLflow's SQL store keeps an infinity

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]  # steps, values, timestamps


def stored_value(value: float) -> float:
    """The value as MLflow's SQL store gives it back: infinities become +/- the largest float."""
    if math.isinf(value):
        return MAX_FLOAT if value > 0 else -MAX_FLOAT
    return value


class SeriesFiles:
    """``root/<run id>/<hash of key>.f64`` files of (step, value, timestamp) records."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, run_id: str, key: str) -> Path:
        if not run_id.isalnum():
            raise ValueError(f"not a run id: {run_id!r}")
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return self.root / run_id / f"{digest}.f64"

    def append(self, run_id: str, points: Iterable[Point]) -> None:
        """Add points MLflow has just committed. Never raises: the file is only a copy."""
        by_key: dict[str, list[tuple[int, float, int]]] = defaultdict(list)
        for key, value, step, ts in points:
            by_key[key].append((step, stored_value(value), ts))
        for key, rows in by_key.items():
            try:
                path = self.path(run_id, key)
                path.parent.mkdir(parents=True, exist_ok=True)
                # one write() of whole records to an O_APPEND file: readers see whole batches
                with open(path, "ab") as f:
                    f.write(np.array(rows, dtype=RECORD).tobytes())
            except (OSError, ValueError) as exc:
                log.debug("could not append to the column file of %s/%s: %s", run_id, key, exc)

    def load(self, run_id: str, key: str) -> Arrays | None:
        """The file's points in file order, or None when there is none."""
        try:
            data = self.path(run_id, key).read_bytes()
        except (OSError, ValueError):
            return None
        whole = len(data) - len(data) % RECORD.itemsize  # a torn last record is left out
        records = np.frombuffer(data[:whole], dtype=RECORD)
        return records["step"], records["value"], records["timestamp"]

    def replace(self, run_id: str, key: str, arrays: Arrays) -> None:
        """Rewrite a file from the store's points (atomically; errors only logged)."""
        steps, values, stamps = arrays
        records = np.empty(len(steps), dtype=RECORD)
        records["step"], records["value"], records["timestamp"] = steps, values, stamps
        try:
            path = self.path(run_id, key)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(records.tobytes())
                os.replace(tmp, path)
            except OSError:
                Path(tmp).unlink(missing_ok=True)
                raise
        except (OSError, ValueError) as exc:
            log.debug("could not rewrite the column file of %s/%s: %s", run_id, key, exc)

    def remove(self, run_id: str) -> None:
        if run_id.isalnum():
            shutil.rmtree(self.root / run_id, ignore_errors=True)


__all__ = ["MAX_FLOAT", "RECORD", "Arrays", "SeriesFiles", "stored_value"]
