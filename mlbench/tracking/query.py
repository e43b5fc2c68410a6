"""Read-side queries over the tracking store: experiments, runs, metric history, comparison.

This is what the sidebar and the REST API show: experiments, each experiment's runs with their
parameters and latest metrics (paged, sortable by any metric), metric histories downsampled on
the server so a 100,000-point series travels as at most ``max_points`` points with its extremes
kept, and side-by-side run comparison.

Every MLflow call stays in this package (see :mod:`mlbench.tracking.client`). On MLflow's SQL
store a metric history comes from the series' column file when that matches the store (see
:mod:`mlbench.tracking.series`), else from one indexed SQL query (building 100,000 MLflow
``Metric`` objects would cost a second); other stores are read through ``MlflowClient``.
"""

from __future__ import annotations

import base64
import logging
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from itertools import chain
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from mlbench.errors import InvalidInputError, NotFoundError
from mlbench.tracking.series import MAX_FLOAT, Arrays

if TYPE_CHECKING:
    from mlbench.tracking.client import TrackingClient

log = logging.getLogger(__name__)

MAX_PAGE = 1000
MAX_SERIES = 200
MAX_COMPARE = 50
MIN_POINTS, MAX_POINTS = 4, 100_000
JOB_TAG = "mlbench.job_id"
ATTEMPT_TAG = "mlbench.attempt"
RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")
RUN_SORT_ATTRIBUTES = ("start_time", "end_time", "run_name", "status")
# DB-API placeholder of each paramstyle, for the run id and the metric key
_MARKS = {
    "qmark": ("?", "?"),
    "numeric": (":1", ":2"),
    "named": (":run", ":key"),
    "format": ("%s", "%s"),
    "pyformat": ("%(run)s", "%(key)s"),
}
_SORT = re.compile(r"^(metrics|params|tags)\.(.+)$")


class ExperimentNotFoundError(NotFoundError):
    code = "experiment_not_found"


class RunNotFoundError(NotFoundError):
    code = "run_not_found"


# -- models ------------------------------------------------------------------------------------
class ExperimentSummary(BaseModel):
    """An MLflow experiment (jobs submitted with ``experiment=NAME`` land in the one so named)."""

    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str = Field(description="active or deleted")
    tags: dict[str, str]
    created_at: datetime | None
    updated_at: datetime | None


class ExperimentPage(BaseModel):
    items: list[ExperimentSummary]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page.")


class RunSummary(BaseModel):
    """An MLflow run with its parameters, latest metric values and tags."""

    run_id: str
    run_name: str
    experiment_id: str
    status: str = Field(description="RUNNING, SCHEDULED, FINISHED, FAILED or KILLED")
    started_at: datetime | None
    ended_at: datetime | None
    artifact_uri: str
    job_id: str | None = Field(None, description="The mlbench job that made this run, if any.")
    attempt: int | None = Field(None, description="The job's attempt this run records.")
    params: dict[str, str]
    metrics: dict[str, float | None] = Field(
        description="Latest value of each metric; null stands for NaN or an infinity."
    )
    tags: dict[str, str] = Field(description="User tags (MLflow's own mlflow.* tags left out).")


class RunPage(BaseModel):
    items: list[RunSummary]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page.")


class MetricSeries(BaseModel):
    """One metric of one run, ordered by step then time, columnar (same length arrays)."""

    run_id: str
    key: str
    steps: list[int]
    values: list[float | None] = Field(description="null stands for NaN or an infinity.")
    timestamps: list[int] = Field(description="Milliseconds since the epoch.")
    total_points: int = Field(description="Points in the stored series before downsampling.")
    downsampled: bool


class MetricHistory(BaseModel):
    series: list[MetricSeries]
    max_points: int


class ParamComparison(BaseModel):
    key: str
    values: dict[str, str | None] = Field(description="run id -> value (null: not set).")
    differs: bool


class MetricComparison(BaseModel):
    key: str
    values: dict[str, float | None] = Field(description="run id -> latest value (null: none).")
    min_run_id: str | None = None
    max_run_id: str | None = None


class RunComparison(BaseModel):
    runs: list[RunSummary]
    params: list[ParamComparison]
    metrics: list[MetricComparison]


# -- downsampling ------------------------------------------------------------------------------
def downsample_indices(values: np.ndarray, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` points that keep the shape and the extremes.

    Min/max buckets: the first and last points are kept; the points between are cut into
    equal-count buckets and each bucket keeps its smallest and largest value, so every peak and
    trough of the series (its global minimum and maximum included) survives. NaNs never win a
    bucket unless the bucket holds nothing else. Linear in the number of points, vectorized.
    """
    n = len(values)
    if n <= max_points:
        return np.arange(n)
    if max_points < MIN_POINTS:
        raise ValueError(f"max_points must be at least {MIN_POINTS}")
    inner = n - 2
    buckets = (max_points - 2) // 2
    size = math.ceil(inner / buckets)
    rows = math.ceil(inner / size)
    body = values[1 : n - 1].astype(float)
    pad = rows * size - inner
    nan = np.isnan(body)
    low = np.concatenate([np.where(nan, np.inf, body), np.full(pad, np.inf)]).reshape(rows, size)
    high = np.concatenate([np.where(nan, -np.inf, body), np.full(pad, -np.inf)]).reshape(rows, size)
    offsets = np.arange(rows) * size + 1
    picked = np.concatenate(
        [[0], offsets + low.argmin(axis=1), offsets + high.argmax(axis=1), [n - 1]]
    )
    return np.unique(np.minimum(picked, n - 1))


def _finite(value: float | None) -> float | None:
    if value is None or not abs(value) < MAX_FLOAT:  # NaN, an infinity or its stand-in
        return None
    return float(value)


def _when(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc) if ms else None


# -- queries -----------------------------------------------------------------------------------
class TrackingQueries:
    """Read-only queries over one workspace's tracking store."""

    def __init__(self, tracking: TrackingClient, cache_size: int = 256) -> None:
        self._tracking = tracking
        self._cache = _LruCache(cache_size)

    @property
    def _client(self) -> Any:
        return self._tracking.client

    # experiments
    def experiments(
        self, *, text: str | None = None, limit: int = 100, cursor: str | None = None
    ) -> ExperimentPage:
        """Active experiments, most recently updated first."""
        _check_limit(limit)
        filter_string = f"name ILIKE {_quote('%' + text + '%')}" if text else None
        _check_cursor(cursor)
        with _mlflow_errors():
            page = self._client.search_experiments(
                max_results=limit,
                filter_string=filter_string,
                order_by=["last_update_time DESC", "experiment_id ASC"],
                page_token=cursor or None,
            )
        return ExperimentPage(items=[_experiment(e) for e in page], next_cursor=page.token or None)

    def experiment(self, experiment_id: str) -> ExperimentSummary:
        with _mlflow_errors(ExperimentNotFoundError, f"experiment {experiment_id!r}"):
            return _experiment(self._client.get_experiment(experiment_id))

    # runs
    def runs(
        self,
        experiment_id: str,
        *,
        status: str | None = None,
        job_id: str | None = None,
        filter: str | None = None,
        sort: str = "start_time",
        order: Literal["asc", "desc"] = "desc",
        limit: int = 100,
        cursor: str | None = None,
    ) -> RunPage:
        """Active runs of an experiment with params and latest metrics.

        ``sort`` is ``start_time``, ``end_time``, ``run_name``, ``status`` or
        ``metrics.<key>`` / ``params.<key>`` / ``tags.<key>``; ``filter`` is an MLflow search
        filter (e.g. ``metrics.loss < 0.1 and params.lr = '0.01'``).
        """
        _check_limit(limit)
        self.experiment(experiment_id)  # 404 for an unknown experiment, not an empty page
        clauses = []
        if status:
            if status.upper() not in RUN_STATUSES:
                raise InvalidInputError(
                    f"unknown run status {status!r}", hint="statuses: " + ", ".join(RUN_STATUSES)
                )
            clauses.append(f"attributes.status = '{status.upper()}'")
        if job_id:
            clauses.append(f"tags.`{JOB_TAG}` = {_quote(job_id)}")
        if filter:
            _check_filter(filter)
            clauses.append(filter)
        _check_cursor(cursor)
        order_by = [f"{_sort_key(sort)} {order.upper()}"]
        if sort != "start_time":
            order_by.append("attributes.start_time DESC")
        with _mlflow_errors():
            page = self._client.search_runs(
                [experiment_id],
                filter_string=" and ".join(clauses),
                max_results=limit,
                order_by=order_by,
                page_token=cursor or None,
            )
        return RunPage(items=[_run(r) for r in page], next_cursor=page.token or None)

    def run(self, run_id: str) -> RunSummary:
        with _mlflow_errors(RunNotFoundError, f"run {run_id!r}"):
            return _run(self._client.get_run(run_id))

    # metric history
    def metric_history(
        self, run_ids: Sequence[str], keys: Sequence[str] = (), *, max_points: int = 1000
    ) -> MetricHistory:
        """Each (run, key) series, downsampled to at most ``max_points`` points.

        With no ``keys``, every metric each run has. Unknown runs are 404; a key a run never
        logged gives an empty series.
        """
        if not run_ids:
            raise InvalidInputError("give at least one run_id")
        if not MIN_POINTS <= max_points <= MAX_POINTS:
            raise InvalidInputError(
                f"max_points must be between {MIN_POINTS} and {MAX_POINTS}, got {max_points}"
            )
        wanted: list[tuple[str, str]] = []
        for run_id in dict.fromkeys(run_ids):
            run = self.run(run_id)
            for key in dict.fromkeys(keys) if keys else sorted(run.metrics):
                wanted.append((run_id, key))
        if len(wanted) > MAX_SERIES:
            raise InvalidInputError(
                f"{len(wanted)} series requested; at most {MAX_SERIES} at once",
                hint="ask for fewer runs or name the metric keys",
            )
        reader = self._sql_reader()
        series = []
        for run_id, key in wanted:
            if reader is None:
                steps, values, stamps = self._api_points(run_id, key)
                series.append(_series(run_id, key, steps, values, stamps, max_points))
                continue
            # A stored series only grows: (count, last step) tells whether a cached result of
            # this (run, key, max_points) is still the answer, at the cost of an index lookup.
            version = reader.version(run_id, key)
            cached = self._cache.get((run_id, key, max_points, version))
            if cached is None:
                points = self._points(reader, run_id, key, version)
                cached = _series(run_id, key, *points, max_points)
                self._cache.put((run_id, key, max_points, version), cached)
            series.append(cached)
        return MetricHistory(series=series, max_points=max_points)

    def _points(
        self, reader: _SqlMetrics, run_id: str, key: str, version: tuple[int, int]
    ) -> Arrays:
        """The series from its column file when that matches the store, else from the store."""
        files = self._tracking.series
        if files is not None and version[0]:
            stored = files.load(run_id, key)
            if stored is not None and _version(stored[0]) == version:
                steps, values, stamps = stored
                order = np.lexsort((stamps, steps))
                return steps[order], values[order], stamps[order]
        points = reader.read(run_id, key)
        if files is not None and len(points[0]):
            files.replace(run_id, key, points)
        return points

    def _api_points(self, run_id: str, key: str) -> Arrays:
        with _mlflow_errors(RunNotFoundError, f"run {run_id!r}"):
            history = self._client.get_metric_history(run_id, key)
        history.sort(key=lambda m: (m.step, m.timestamp))
        return (
            np.array([m.step for m in history], dtype=np.int64),
            np.array([m.value for m in history], dtype=float),
            np.array([m.timestamp for m in history], dtype=np.int64),
        )

    def _sql_reader(self) -> _SqlMetrics | None:
        return sql_metrics_reader(self._client)

    # comparison
    def compare(self, run_ids: Sequence[str]) -> RunComparison:
        """Runs side by side: every param (flagged where runs differ) and latest metric."""
        ids = list(dict.fromkeys(run_ids))
        if not 1 <= len(ids) <= MAX_COMPARE:
            raise InvalidInputError(f"compare between 1 and {MAX_COMPARE} runs, got {len(ids)}")
        runs = [self.run(r) for r in ids]
        param_keys = sorted({k for r in runs for k in r.params})
        metric_keys = sorted({k for r in runs for k in r.metrics})
        params = []
        for key in param_keys:
            values = {r.run_id: r.params.get(key) for r in runs}
            params.append(
                ParamComparison(key=key, values=values, differs=len(set(values.values())) > 1)
            )
        metrics = []
        for key in metric_keys:
            mvalues = {r.run_id: r.metrics.get(key) for r in runs}
            present = {rid: v for rid, v in mvalues.items() if v is not None}
            metrics.append(
                MetricComparison(
                    key=key,
                    values=mvalues,
                    min_run_id=min(present, key=present.__getitem__) if present else None,
                    max_run_id=max(present, key=present.__getitem__) if present else None,
                )
            )
        return RunComparison(runs=runs, params=params, metrics=metrics)


# -- helpers -----------------------------------------------------------------------------------
def sql_metrics_reader(client: Any) -> _SqlMetrics | None:
    """Indexed queries on MLflow's SQL store; None for other stores (REST servers...)."""
    store = getattr(getattr(client, "_tracking_client", None), "store", None)
    engine = getattr(store, "engine", None)
    if engine is None or type(store).__name__ != "SqlAlchemyStore":
        return None
    return _SqlMetrics(engine)


class _SqlMetrics:
    """Metric series straight from MLflow's ``metrics`` table through the DB-API cursor.

    ``ORDER BY step`` follows the (run_uuid, key, step) index; ties are ordered by time in numpy,
    which is cheaper than SQLite's temporary sort. SQLAlchemy's Row objects would triple the
    cost of 100,000 rows, hence the raw cursor.
    """

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        style = engine.dialect.paramstyle
        run_mark, key_mark = _MARKS.get(style, ("%s", "%s"))
        where = f"WHERE run_uuid = {run_mark} AND key = {key_mark}"
        self.read_sql = f"SELECT step, value, is_nan, timestamp FROM metrics {where} ORDER BY step"
        self.version_sql = f"SELECT COUNT(*), MAX(step) FROM metrics {where}"
        self.named = style in ("named", "pyformat")

    def _fetch(self, sql: str, run_id: str, key: str) -> list[Any]:
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute(sql, {"run": run_id, "key": key} if self.named else (run_id, key))
            rows = cur.fetchall()
            cur.close()
            return list(rows)
        finally:
            raw.close()

    def version(self, run_id: str, key: str) -> tuple[int, int]:
        count, last = self._fetch(self.version_sql, run_id, key)[0]
        return int(count or 0), int(last or 0)

    def read(self, run_id: str, key: str) -> Arrays:
        rows = self._fetch(self.read_sql, run_id, key)
        if not rows:
            empty = np.array([], dtype=np.int64)
            return empty, np.array([], dtype=float), empty
        data = np.fromiter(chain.from_iterable(rows), dtype=float, count=len(rows) * 4)
        data = data.reshape(len(rows), 4)
        steps, stamps = data[:, 0].astype(np.int64), data[:, 3].astype(np.int64)
        order = np.lexsort((stamps, steps))
        values = np.where(data[:, 2] != 0, np.nan, data[:, 1])
        return steps[order], values[order], stamps[order]


class _LruCache:
    """A small thread-safe LRU map (the server calls queries from a thread pool)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def _version(steps: np.ndarray) -> tuple[int, int]:
    """What :meth:`_SqlMetrics.version` answers for these points: (count, last step)."""
    return len(steps), int(steps.max()) if len(steps) else 0


def _series(
    run_id: str,
    key: str,
    steps: np.ndarray,
    values: np.ndarray,
    stamps: np.ndarray,
    max_points: int,
) -> MetricSeries:
    total = len(values)
    keep = downsample_indices(values, max_points)
    kept = values[keep]
    finite = np.abs(kept) < MAX_FLOAT  # False for NaN and the store's stand-in for infinities
    return MetricSeries(
        run_id=run_id,
        key=key,
        steps=steps[keep].tolist(),
        values=[v if ok else None for v, ok in zip(kept.tolist(), finite.tolist(), strict=True)],
        timestamps=stamps[keep].tolist(),
        total_points=total,
        downsampled=len(keep) < total,
    )


def _experiment(exp: Any) -> ExperimentSummary:
    return ExperimentSummary(
        experiment_id=str(exp.experiment_id),
        name=exp.name,
        artifact_location=exp.artifact_location or "",
        lifecycle_stage=exp.lifecycle_stage,
        tags={k: v for k, v in (exp.tags or {}).items() if not k.startswith("mlflow.")},
        created_at=_when(exp.creation_time),
        updated_at=_when(exp.last_update_time),
    )


def _run(run: Any) -> RunSummary:
    tags = dict(run.data.tags)
    attempt = tags.get(ATTEMPT_TAG)
    return RunSummary(
        run_id=run.info.run_id,
        run_name=run.info.run_name or "",
        experiment_id=str(run.info.experiment_id),
        status=run.info.status,
        started_at=_when(run.info.start_time),
        ended_at=_when(run.info.end_time),
        artifact_uri=run.info.artifact_uri or "",
        job_id=tags.get(JOB_TAG),
        attempt=int(attempt) if attempt and attempt.isdigit() else None,
        params=dict(run.data.params),
        metrics={k: _finite(v) for k, v in run.data.metrics.items()},
        tags={k: v for k, v in tags.items() if not k.startswith("mlflow.")},
    )


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE}, got {limit}")


def _check_cursor(cursor: str | None) -> None:
    """MLflow page tokens are base64 text; anything else is the caller's mistake, not a 500."""
    if not cursor:
        return
    try:
        base64.b64decode(cursor.encode("ascii"), validate=False)
    except (UnicodeEncodeError, ValueError):
        raise InvalidInputError(
            "invalid cursor", hint="pass the next_cursor of a previous page unchanged"
        ) from None


def _quote(value: str) -> str:
    """A string literal for an MLflow search filter."""
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise InvalidInputError("search text cannot hold both ' and \" quotes")


def _sort_key(sort: str) -> str:
    if sort in RUN_SORT_ATTRIBUTES:
        return f"attributes.{sort}"
    m = _SORT.match(sort)
    if not m or "`" in m.group(2):
        raise InvalidInputError(
            f"cannot sort runs by {sort!r}",
            hint="sort by " + ", ".join(RUN_SORT_ATTRIBUTES) + ", metrics.KEY, params.KEY "
            "or tags.KEY",
        )
    return f"{m.group(1)}.`{m.group(2)}`"


def _check_filter(filter: str) -> None:
    from mlflow.utils.search_utils import SearchUtils

    try:
        SearchUtils.parse_search_filter(filter)
    except Exception as exc:
        raise InvalidInputError(
            f"invalid run filter: {str(exc).splitlines()[0][:300]}",
            hint="MLflow search syntax, e.g. metrics.loss < 0.1 and params.lr = '0.01'",
            details={"errors": [{"field": "filter", "message": str(exc)[:300]}]},
        ) from None


@contextmanager
def _mlflow_errors(
    not_found: type[NotFoundError] = NotFoundError, what: str = "resource"
) -> Iterator[None]:
    """MLflow's errors as mlbench's: unknown ids are NotFound, bad arguments InvalidInput."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as exc:
        code = getattr(exc, "error_code", "")
        message = str(getattr(exc, "message", exc)).splitlines()[0][:300]
        if code == "RESOURCE_DOES_NOT_EXIST":
            raise not_found(f"{what} does not exist") from None
        if code in ("INVALID_PARAMETER_VALUE", "BAD_REQUEST", "INVALID_STATE"):
            raise InvalidInputError(message) from None
        raise


__all__ = [
    "ExperimentPage",
    "ExperimentSummary",
    "MetricHistory",
    "MetricSeries",
    "RunComparison",
    "RunPage",
    "RunSummary",
    "TrackingQueries",
    "downsample_indices",
]
