"""The one module that talks to MLflow."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlbench.tracking.metrics import Point

if TYPE_CHECKING:
    from mlbench.tracking.series import SeriesFiles

log = logging.getLogger(__name__)

MAX_PARAM_LENGTH = 6000
BATCH = 1000  # MLflow's limit of metrics per log_batch call

# MLflow's SQL store engines (its DATABASE_ENGINES; importing mlflow here would cost a second)
DATABASE_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")
RUN_STATUS = {
    "completed": "FINISHED",
    "failed": "FAILED",
    "timed_out": "FAILED",
    "canceled": "KILLED",
    "early_terminated": "KILLED",
}


def is_database_uri(uri: str) -> bool:
    """Whether MLflow keeps this store in a database (as opposed to a server or files)."""
    return uri.split(":", 1)[0].split("+", 1)[0] in DATABASE_SCHEMES


def _sqlite_path(uri: str) -> Path | None:
    prefix = "sqlite:///"
    return Path(uri[len(prefix) :]) if uri.startswith(prefix) else None


class TrackingClient:
    """A thin, typed facade over ``MlflowClient`` for one workspace's tracking store.

    With ``series`` (a folder), points logged through :meth:`log_points` are also appended to
    column files there that metric-history queries read instead of the store when they match
    it (see :mod:`mlbench.tracking.series`); only SQL stores, whose point counts can be checked
    cheaply, use them.
    """

    def __init__(
        self, tracking_uri: str, artifact_root: str | None = None, series: Path | None = None
    ) -> None:
        self.tracking_uri = tracking_uri
        self.artifact_root = artifact_root
        self.series: SeriesFiles | None = None
        if series and is_database_uri(tracking_uri):
            from mlbench.tracking.series import SeriesFiles  # numpy stays out of `import mlbench`

            self.series = SeriesFiles(series)
        self._client: Any = None
        self._sql: Any = None
        self._experiments: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        if self._client is None:
            from mlflow.tracking import MlflowClient

            path = _sqlite_path(self.tracking_uri)
            if path is None or path.name == ":memory:":
                self._client = MlflowClient(tracking_uri=self.tracking_uri)
                return self._client
            from mlbench.store.locks import file_lock

            # MLflow creates (and migrates) a SQLite store's tables when it first opens it; two
            # processes doing that at once (server, agent, CLI) collide in alembic.
            path.parent.mkdir(parents=True, exist_ok=True)
            with file_lock(path.with_name(path.name + ".init.lock")):
                client = MlflowClient(tracking_uri=self.tracking_uri)
                _ = client._tracking_client.store
            self._client = client
        return self._client

    def initialize(self) -> None:
        """Create the store's tables now (MLflow does it on first use, which takes seconds)."""
        self.client.search_experiments(max_results=1)

    def experiment_id(self, name: str) -> str:
        with self._lock:
            if name in self._experiments:
                return self._experiments[name]
            exp = self.client.get_experiment_by_name(name)
            if exp is None:
                exp_id = self._create_experiment(name)
            else:
                exp_id = exp.experiment_id
                if exp.lifecycle_stage == "deleted":
                    self.client.restore_experiment(exp_id)
            self._experiments[name] = exp_id
            return exp_id

    def _create_experiment(self, name: str) -> str:
        from mlflow.exceptions import MlflowException

        location = None
        if self.artifact_root:
            slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "experiment"
            location = f"{self.artifact_root.rstrip('/')}/{slug}"
        try:
            return str(self.client.create_experiment(name, artifact_location=location))
        except MlflowException:
            exp = self.client.get_experiment_by_name(name)  # created by another process meanwhile
            if exp is None:
                raise
            return str(exp.experiment_id)

    def start_run(
        self, experiment: str, run_name: str, tags: dict[str, str], params: dict[str, Any]
    ) -> tuple[str, str]:
        """Create a RUNNING run with its tags and params; returns (experiment id, run id)."""
        from mlflow.entities import Param

        exp_id = self.experiment_id(experiment)
        run = self.client.create_run(exp_id, run_name=run_name, tags=tags)
        run_id = run.info.run_id
        items = [Param(k, _param_value(v)) for k, v in params.items()]
        for i in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[i : i + 100])
        return exp_id, run_id

    def log_points(self, run_id: str, points: Iterable[Point]) -> int:
        from mlflow.entities import Metric

        batch: list[Any] = []
        count = 0
        for key, value, step, ts in points:
            batch.append(Metric(key=key, value=value, timestamp=ts, step=step))
            if len(batch) == BATCH:
                count += self._log_batch(run_id, batch)
                batch = []
        if batch:
            count += self._log_batch(run_id, batch)
        return count

    def _log_batch(self, run_id: str, metrics: list[Any]) -> int:
        self.client.log_batch(run_id, metrics=metrics)
        if self.series is not None:
            self.series.append(run_id, ((m.key, m.value, m.step, m.timestamp) for m in metrics))
        return len(metrics)

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def log_data_inputs(self, run_id: str, datasets: list[dict[str, str]]) -> None:
        """Record data versions a run read as MLflow dataset inputs.

        Each item has ``name``, ``digest``, ``source`` (a URI) and ``binding`` (the notebook
        parameter), which becomes the input's ``mlflow.data.context`` tag.
        """
        from mlflow.entities import Dataset, DatasetInput, InputTag

        inputs = [
            DatasetInput(
                Dataset(
                    name=d["name"],
                    digest=d["digest"],
                    source_type="mlbench",
                    source=json.dumps({"uri": d["source"]}),
                ),
                tags=[InputTag("mlflow.data.context", d["binding"])],
            )
            for d in datasets
        ]
        if not inputs:
            return
        from mlflow.exceptions import MlflowException

        for attempt in range(3):
            try:
                self.client.log_inputs(run_id, datasets=inputs)
                return
            except MlflowException as exc:
                # two runs of one experiment logging the same new dataset at once (a pipeline's
                # fan-out): one insert wins, the other hits the unique key; again finds it
                if "UNIQUE constraint" not in str(exc) and "IntegrityError" not in str(exc):
                    raise
                if attempt == 2:
                    raise

    def log_artifact(self, run_id: str, path: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(run_id, str(path), artifact_path)

    def log_artifacts(self, run_id: str, folder: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifacts(run_id, str(folder), artifact_path)

    def end_run(self, run_id: str, job_status: str) -> None:
        self.client.set_terminated(run_id, status=RUN_STATUS.get(job_status, "FAILED"))

    def delete_run(self, run_id: str) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self.client.delete_run(run_id)
        except MlflowException as exc:
            log.warning("could not delete MLflow run %s: %s", run_id, exc)
        if self.series is not None:
            self.series.remove(run_id)

    # -- reading -------------------------------------------------------------------------------
    def run_summary(self, run_id: str) -> dict[str, Any]:
        run = self.client.get_run(run_id)
        return {
            "run_id": run.info.run_id,
            "experiment_id": run.info.experiment_id,
            "status": run.info.status,
            "artifact_uri": run.info.artifact_uri,
            "params": dict(run.data.params),
            "metrics": dict(run.data.metrics),
            "tags": {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")},
        }

    def metric_version(self, run_id: str, key: str) -> tuple[int, int] | None:
        """(point count, last step) of a series: an index lookup that tells whether it grew
        (None when the store cannot answer cheaply)."""
        reader = self._sql_metrics()
        return reader.version(run_id, key) if reader is not None else None

    def metric_values(self, run_id: str, key: str) -> list[float]:
        """A metric's values in step order (NaN where a NaN was logged)."""
        reader = self._sql_metrics()
        if reader is not None:
            return [float(v) for v in reader.read(run_id, key)[1]]
        history = sorted(self.metric_history(run_id, key), key=lambda p: (p[0], p[2]))
        return [float(v) for _, v, _ in history]

    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(k, _param_value(v)) for k, v in params.items()]
        for i in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[i : i + 100])

    def _sql_metrics(self) -> Any:
        if self._sql is None:
            from mlbench.tracking.query import sql_metrics_reader

            self._sql = sql_metrics_reader(self.client) or False
        return self._sql or None

    def metric_history(self, run_id: str, key: str) -> list[tuple[int, float, int]]:
        return [(m.step, m.value, m.timestamp) for m in self.client.get_metric_history(run_id, key)]


def _param_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    if len(text) > MAX_PARAM_LENGTH:
        text = text[: MAX_PARAM_LENGTH - 15] + "...[truncated]"
    return text


def log_to_active_run(points: list[Point]) -> None:
    """Outside a job: send points to MLflow's active run, as ``mlflow.log_metric`` would."""
    import mlflow

    run = mlflow.active_run() or mlflow.start_run()
    TrackingClient(mlflow.get_tracking_uri()).log_points(run.info.run_id, points)


class MetricsRelay:
    """Tails a job's metrics file and forwards new points to its run (runs in the agent)."""

    def __init__(
        self, tracking: TrackingClient, run_id: str, path: Path, *, keep_offset: bool = False
    ) -> None:
        self.tracking = tracking
        self.run_id = run_id
        self.path = path
        # keep_offset: how far it relayed is kept beside the file, for whoever relays next
        self._offset_path = path.with_name(path.name + ".relayed") if keep_offset else None
        self.offset = self._read_offset()
        self.relayed = 0
        self._lock = threading.Lock()

    def pump(self) -> int:
        with self._lock:
            try:
                with open(self.path, "rb") as f:
                    f.seek(self.offset)
                    data = f.read()
            except FileNotFoundError:
                return 0
            end = data.rfind(b"\n")
            if end < 0:
                return 0
            chunk = data[: end + 1]
            points: list[Point] = []
            for line in chunk.splitlines():
                try:
                    rec = json.loads(line)
                    points.append((str(rec["k"]), float(rec["v"]), int(rec["s"]), int(rec["t"])))
                except (ValueError, KeyError, TypeError):
                    log.warning("skipping a malformed metric line in %s", self.path)
            sent = self.tracking.log_points(self.run_id, points) if points else 0
            self.offset += len(chunk)
            self.relayed += sent
            if self._offset_path is not None:
                self._offset_path.write_text(str(self.offset))
            return sent

    def _read_offset(self) -> int:
        try:
            return int(self._offset_path.read_text()) if self._offset_path else 0
        except (OSError, ValueError):
            return 0
