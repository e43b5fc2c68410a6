"""Adaptive batching: concurrent requests share one ``predict`` call, split back per request.

A model such as a random forest costs almost as much for 64 rows as for one (MACHINE-NOTES:
1.24x), so under concurrency most of the time is per-call overhead. The :class:`Batcher` runs one
prediction at a time on a thread of its own; requests that arrive while it is busy queue up and
go together into the next call. When nothing is busy a request goes at once (an idle server
never waits); only when other requests are already being read or parsed does the batcher wait
for them, at most ``max_wait_ms``, so that they join the same call.

Only inputs that concatenate exactly are merged: pandas DataFrames with the same columns and
dtypes, or numpy arrays with the same trailing shape and dtype, with equal ``params``. Anything
else (dicts of tensors, strings...) is predicted alone. When a merged call fails, or returns a
number of rows that does not match its inputs, each request is predicted again on its own, so
that one bad request gets its own error and never fails the others.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

PredictFn = Callable[[Any, "dict[str, Any] | None"], Any]


def merge_key(data: Any, params: dict[str, Any] | None) -> tuple[Any, ...] | None:
    """What two inputs must share to be predicted in one call; None if this one never merges."""
    try:
        params_key = json.dumps(params, sort_keys=True) if params else ""
    except (TypeError, ValueError):
        return None
    if hasattr(data, "batch_key"):  # an input that knows how it merges (scoring's RawFrame)
        key = data.batch_key()
        return None if key is None else (type(data).__name__, key, params_key)
    if isinstance(data, pd.DataFrame):
        if not data.columns.is_unique or len(data) == 0:
            return None
        columns = tuple((str(name), str(dtype)) for name, dtype in data.dtypes.items())
        return ("frame", columns, params_key)
    if isinstance(data, np.ndarray) and data.ndim >= 1 and len(data) > 0:
        return ("array", data.shape[1:], str(data.dtype), params_key)
    return None


def rows(data: Any) -> int:
    mergeable = hasattr(data, "batch_key") or isinstance(data, (pd.DataFrame, np.ndarray))
    return len(data) if mergeable else 1


def concatenate(parts: Sequence[Any]) -> Any:
    if hasattr(parts[0], "batch_key"):
        return type(parts[0]).concatenate(parts)
    if isinstance(parts[0], np.ndarray):
        return np.concatenate(parts)
    return pd.concat(parts, ignore_index=True, copy=False)


def split(predictions: Any, sizes: Sequence[int]) -> list[Any] | None:
    """Cut a merged call's output back into one piece per input; None if it cannot be cut."""
    total = sum(sizes)
    if isinstance(predictions, (np.ndarray, pd.DataFrame, pd.Series, list)):
        if len(predictions) != total:
            return None
    else:
        return None
    pieces, start = [], 0
    for size in sizes:
        if isinstance(predictions, (pd.DataFrame, pd.Series)):
            piece = predictions.iloc[start : start + size].reset_index(drop=True)
        else:
            piece = predictions[start : start + size]
        pieces.append(piece)
        start += size
    return pieces


@dataclass
class Outcome:
    """The result of one request: ``value`` (the predictions) or ``error`` (an exception)."""

    value: Any = None
    error: BaseException | None = None


def predict_together(
    predict: PredictFn, inputs: Sequence[tuple[Any, dict[str, Any] | None]]
) -> tuple[list[Outcome], int]:
    """Predict ``inputs`` (all with one merge key) in one call, or one by one if that fails.

    Returns the outcomes in order and the number of predict calls made. Used by the
    :class:`Batcher` and by the Ray Serve deployment's ``@serve.batch`` method.
    """
    if len(inputs) > 1:
        try:
            merged = concatenate([data for data, _ in inputs])
            pieces = split(predict(merged, inputs[0][1]), [rows(data) for data, _ in inputs])
        except Exception:
            logger.debug("merged predict failed; predicting each request alone", exc_info=True)
            pieces = None
        if pieces is not None:
            return [Outcome(value=piece) for piece in pieces], 1
    outcomes = []
    for data, params in inputs:
        try:
            outcomes.append(Outcome(value=predict(data, params)))
        except Exception as exc:
            outcomes.append(Outcome(error=exc))
    return outcomes, len(inputs) + (1 if len(inputs) > 1 else 0)


def group(
    keys: Sequence[tuple[Any, ...] | None], sizes: Sequence[int], max_rows: int
) -> list[list[int]]:
    """Indexes grouped for merged calls: same key, at most ``max_rows`` rows (one input may
    exceed it alone); inputs without a key each form a group. Order within a group is kept."""
    groups: list[list[int]] = []
    open_groups: dict[tuple[Any, ...], tuple[list[int], int]] = {}
    for index, (key, size) in enumerate(zip(keys, sizes, strict=True)):
        if key is None:
            groups.append([index])
            continue
        members, total = open_groups.get(key, ([], 0))
        if members and total + size > max_rows:
            members, total = [], 0
        if not members:
            groups.append(members)
        members.append(index)
        open_groups[key] = (members, total + size)
    return groups


@dataclass
class _Pending:
    data: Any
    params: dict[str, Any] | None
    key: tuple[Any, ...] | None
    size: int
    future: asyncio.Future[Any]
    queued_at: float = field(default_factory=time.monotonic)


class Batcher:
    """Gathers concurrent requests of one event loop into shared ``predict`` calls.

    ``predict(data, params)`` runs on one dedicated thread, so the loop keeps reading and
    parsing requests while the model works. Use :meth:`arriving` around reading and parsing a
    request, then :meth:`predict`. ``on_call(requests, calls)`` is told, for each batch, how
    many requests it held and how many predict calls it took (more than one when a merged call
    failed and its requests were predicted one by one).
    """

    def __init__(
        self,
        predict: PredictFn,
        *,
        max_batch_size: int = 64,
        max_wait_ms: float = 2.0,
        on_call: Callable[[int, int], None] | None = None,
    ) -> None:
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}")
        if max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must be 0 or more, got {max_wait_ms}")
        self._predict = predict
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_ms / 1000
        self._on_call = on_call
        self._queue: deque[_Pending] = deque()
        self._arriving = 0
        self._wakeup = asyncio.Event()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="predict")
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="batcher")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        self._executor.shutdown(wait=True)

    @contextmanager
    def arriving(self) -> Iterator[None]:
        """Marks a request that is being read or parsed: a batch about to go waits for it."""
        self._arriving += 1
        try:
            yield
        finally:
            self._arriving -= 1
            self._wakeup.set()

    async def predict(self, data: Any, params: dict[str, Any] | None) -> Any:
        """This request's predictions, from a call it may share with others."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        key = merge_key(data, params) if self.max_batch_size > 1 else None
        self._queue.append(_Pending(data, params, key, rows(data), future))
        self._wakeup.set()
        return await future

    def _take(self) -> list[_Pending]:
        """The oldest request and those that merge with it, up to max_batch_size rows."""
        head = self._queue.popleft()
        batch, total = [head], head.size
        if head.key is None:
            return batch
        kept: deque[_Pending] = deque()
        while self._queue:
            item = self._queue.popleft()
            if item.key == head.key and total + item.size <= self.max_batch_size:
                batch.append(item)
                total += item.size
            else:
                kept.append(item)
        self._queue = kept
        return batch

    def _queued_rows(self) -> int:
        return sum(item.size for item in self._queue)

    async def _gather(self) -> None:
        """While requests are still arriving, wait (at most max_wait) for them to queue."""
        deadline = self._queue[0].queued_at + self.max_wait_s
        while self._arriving and self._queued_rows() < self.max_batch_size:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), left)
            except asyncio.TimeoutError:
                return

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                if self.max_wait_s and self._arriving:
                    await self._gather()
                batch = self._take()
                batch = [item for item in batch if not item.future.cancelled()]
                if not batch:
                    continue
                inputs = [(item.data, item.params) for item in batch]
                try:
                    outcomes, calls = await loop.run_in_executor(
                        self._executor, predict_together, self._predict, inputs
                    )
                except Exception as exc:  # predict_together catches predict's own errors
                    outcomes, calls = [Outcome(error=exc)] * len(batch), 0
                if self._on_call is not None:
                    self._on_call(len(batch), calls)
                for item, outcome in zip(batch, outcomes, strict=True):
                    if item.future.done():
                        continue
                    if outcome.error is not None:
                        item.future.set_exception(outcome.error)
                    else:
                        item.future.set_result(outcome.value)
