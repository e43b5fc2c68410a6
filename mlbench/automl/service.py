"""``ws.automl``: AutoML runs on table data assets, submitted as command jobs.

Everything that can be checked before the search is checked at submission, so a typo fails with
nothing queued: the asset is a table, the target is one of its columns, the task fits the target
(a text target cannot be regressed; a float target with many values is not a set of classes),
the metric and the estimators fit the task. The job then runs ``python -m mlbench.automl.run``
(see :mod:`mlbench.automl.run`), on any compute target, and registers its best model with the
job's lineage through the job's ``register_model`` hook.
"""

from __future__ import annotations

import json
import shlex
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from mlbench.automl.models import AutoMLGuardrail, AutoMLRunInfo, AutoMLSettings, AutoMLTrial
from mlbench.errors import InvalidInputError, NotFoundError
from mlbench.jobs.spec import JobSpec, RegisterModel

if TYPE_CHECKING:
    from mlbench.jobs.job import Job
    from mlbench.jobs.models import JobInfo
    from mlbench.workspace import Workspace

TAG = "mlbench.automl"
MAX_CLASSES = 1000
# a numeric target with more distinct values than this is a quantity, not a set of classes
CONTINUOUS_DISTINCT = 50
COMMAND = (
    "python -m mlbench.automl.run --data ${{inputs.data}} --format %s --settings "
    "${{inputs.settings}}"
)


class AutoMLNotFoundError(NotFoundError):
    code = "automl_not_found"


class AutoML:
    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def run(
        self,
        data: str,
        *,
        target: str,
        task: str,
        model_name: str | None = None,
        compute: str = "local",
        environment: str | None = None,
        experiment: str | None = None,
        start_agent: bool = True,
        **settings: Any,
    ) -> Job:
        """Submit an AutoML job on table asset ``data`` (``NAME``, ``NAME:VERSION``).

        ``settings``: ``metric``, ``budget_s``, ``max_trials``, ``concurrency``, ``estimators``,
        ``cv_below_rows``, ``cv_folds``, ``holdout_ratio``, ``exit_score``, ``seed`` (see
        :class:`AutoMLSettings`). The best model is registered as ``model_name`` (default:
        ``<asset>-automl``).
        """
        try:
            parsed = AutoMLSettings(task=task, target=target, **settings)  # type: ignore[arg-type]
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InvalidInputError(
                f"AutoML settings: {where + ': ' if where else ''}{first['msg']}",
                hint="see `mlbench automl run --help` for the settings and their values",
            ) from None
        if parsed.concurrency > 1 and self._ws.compute.get(compute).kind != "ray":
            raise InvalidInputError(
                f"concurrency {parsed.concurrency} runs trials in parallel on Ray Tune, and "
                f"compute {compute!r} is not a Ray cluster",
                hint="submit to a Ray compute target (compute='NAME' of a target of type ray), "
                "or leave concurrency at 1",
            )
        info = self._ws.data.info(data)
        if info.kind.value != "table":
            raise InvalidInputError(
                f"data:{info.ref} is a {info.kind.value}, not a table",
                hint="AutoML trains on a table asset: register the CSV or Parquet file with "
                "kind='table' (mlbench data create NAME PATH --kind table)",
            )
        fmt = info.format or "parquet"
        check_target(self._ws.data.get(info.ref).path(), fmt, parsed)
        name = model_name or f"{info.name}-automl"
        spec = JobSpec(
            command=COMMAND % shlex.quote(fmt),
            parameters={"settings": parsed.model_dump_json()},
            inputs={"data": f"data:{info.ref}"},
            compute=compute,
            environment=environment,
            experiment=experiment or f"automl-{info.name}",
            display_name=f"automl {info.name} -> {parsed.target}",
            tags={TAG: "true", f"{TAG}.task": parsed.task, f"{TAG}.target": parsed.target},
            # the search stops at its budget; the margin covers data loading, guardrails, the
            # final refit and logging, and stops a job that hangs
            timeout_s=parsed.budget_s * 2 + 600,
            register_model=RegisterModel(
                name=name,
                path="model",
                description=f"AutoML {parsed.task} of {parsed.target!r} on data:{info.ref}",
                tags={  # shown with the version (mlbench.* tags are lineage, kept apart)
                    "automl.task": parsed.task,
                    "automl.target": parsed.target,
                    "automl.metric": parsed.primary_metric,
                },
            ),
        )
        return self._ws.jobs.submit(spec, start_agent=start_agent)

    # -- reading -------------------------------------------------------------------------------
    def _job(self, job_id: str) -> JobInfo:
        info = self._ws.jobs.info(job_id)
        if info.tags.get(TAG) != "true":
            raise AutoMLNotFoundError(
                f"job {info.id} is not an AutoML run",
                hint="list AutoML runs with `mlbench automl list`",
            )
        return info

    def list(self, limit: int = 50) -> list[AutoMLRunInfo]:
        """AutoML runs, newest first."""
        return [self.show(j.id) for j in self._ws.jobs.list(tag=f"{TAG}=true", limit=limit)]

    def show(self, job_id: str) -> AutoMLRunInfo:
        info = self._job(job_id)
        spec = self._ws.jobs.spec(info)
        settings = AutoMLSettings.model_validate_json(str(spec.parameters["settings"]))
        out = AutoMLRunInfo(
            job_id=info.id,
            status=info.status.value,
            run_id=info.mlflow_run_id,
            data=f"data:{info.inputs[0].ref}" if info.inputs else None,
            settings=settings,
            error=info.error.message if info.error else None,
        )
        summary = self._artifact(info, "automl/summary.json")
        if summary is not None:
            best = summary.get("best") or {}
            out.guardrails = [AutoMLGuardrail.model_validate(g) for g in summary["guardrails"]]
            out.trials = int(summary.get("trials") or 0)
            out.best_estimator = best.get("estimator")
            out.best_score = best.get("score")
            out.best_config = best.get("config") or {}
            out.search_time_s = summary.get("search_time_s")
            out.validation = summary.get("validation")
        elif info.status.value in ("starting", "running"):
            # the search logs its guardrails, then its trials so far, as it goes
            rails = self._artifact(info, "automl/guardrails.json") or []
            out.guardrails = [AutoMLGuardrail.model_validate(g) for g in rails]
            out.trials = len(self._artifact(info, "automl/leaderboard.json") or [])
        if info.status.value == "completed" and spec.register_model is not None:
            out.model = self._registered(spec.register_model.name, info.id)
        return out

    def leaderboard(self, job_id: str) -> list[AutoMLTrial]:
        """The trials, best first (by validation loss, which FLAML minimizes)."""
        info = self._job(job_id)
        rows = self._artifact(info, "automl/leaderboard.json") or []
        return sorted(
            (AutoMLTrial.model_validate(r) for r in rows), key=lambda t: t.validation_loss
        )

    def guardrails(self, job_id: str) -> list[AutoMLGuardrail]:
        info = self._job(job_id)
        rails = self._artifact(info, "automl/guardrails.json") or []
        return [AutoMLGuardrail.model_validate(g) for g in rails]

    def _artifact(self, info: JobInfo, path: str) -> Any:
        if not info.mlflow_run_id:
            return None
        client = self._ws.tracking.client
        folder = path.rpartition("/")[0]
        listed = {a.path for a in client.list_artifacts(info.mlflow_run_id, folder)}
        if path not in listed:
            return None
        with tempfile.TemporaryDirectory() as tmp:
            local = client.download_artifacts(info.mlflow_run_id, path, tmp)
            try:
                return json.loads(Path(local).read_text())
            except ValueError:
                if info.status.value != "running":
                    raise
                # read while the search was rewriting it: as if not there yet
                return None

    def _registered(self, name: str, job_id: str) -> str | None:
        try:
            versions = self._ws.models.versions(name)
        except NotFoundError:
            return None
        for v in versions:
            if v.lineage.job_id == job_id:
                return v.ref
        return None


def check_target(path: Path, fmt: str, settings: AutoMLSettings) -> None:
    """The target is a column of the table and fits the task (reads that column only)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    table = ds.dataset(str(path), format=fmt)
    names = table.schema.names
    if settings.target not in names:
        raise InvalidInputError(
            f"target column {settings.target!r} is not in the table",
            hint=f"its columns: {', '.join(names[:40])}{' ...' if len(names) > 40 else ''}",
        )
    if len(names) < 2:
        raise InvalidInputError("the table has no column besides the target to learn from")
    column = table.to_table(columns=[settings.target]).column(0)
    kind = column.type
    present = pc.drop_null(column)
    if len(present) < 10:
        raise InvalidInputError(
            f"target {settings.target!r} has {len(present)} non-missing values; AutoML needs "
            "at least 10 rows"
        )
    distinct = len(pc.unique(present))
    numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
    if settings.task in ("regression", "forecasting") and not numeric:
        raise InvalidInputError(
            f"target {settings.target!r} holds {kind} values: {settings.task} needs numbers",
            hint="use --task classification to predict a category",
        )
    if settings.task == "forecasting":
        _check_time_column(table, names, settings)
    if settings.task == "classification":
        if distinct < 2:
            raise InvalidInputError(
                f"target {settings.target!r} holds one value: nothing to classify"
            )
        if (numeric and distinct > CONTINUOUS_DISTINCT) or distinct > MAX_CLASSES:
            raise InvalidInputError(
                f"target {settings.target!r} has {distinct} distinct values: it looks "
                "continuous, not a set of classes",
                hint="use --task regression to predict a number",
            )


def _check_time_column(table: Any, names: list[str], settings: AutoMLSettings) -> None:
    """Forecasting: one row per time step, every timestamp readable, enough history."""
    import pandas as pd

    column, horizon = settings.time_column, settings.horizon or 0
    if column not in names:
        raise InvalidInputError(
            f"time column {column!r} is not in the table",
            hint=f"its columns: {', '.join(names[:40])}{' ...' if len(names) > 40 else ''}",
        )
    values = table.to_table(columns=[column]).column(0).to_pandas()
    try:
        stamps = pd.to_datetime(values)
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidInputError(
            f"time column {column!r} holds values that are not dates or times: {exc}",
            hint="give a column of timestamps, e.g. 2024-01-31 or 2024-01-31T12:00",
        ) from None
    if stamps.isna().any():
        raise InvalidInputError(
            f"time column {column!r} has {int(stamps.isna().sum())} missing timestamps",
            hint="drop those rows, or fill them, before registering the table",
        )
    repeated = stamps[stamps.duplicated()]
    if len(repeated):
        raise InvalidInputError(
            f"time column {column!r} repeats {len(repeated)} timestamps (first: "
            f"{repeated.iloc[0]}): a forecast needs one row per time step",
            hint="aggregate the rows of each timestamp (one series per table)",
        )
    if len(stamps) < 2 * horizon + 10:
        raise InvalidInputError(
            f"{len(stamps)} time steps are too few to forecast {horizon} ahead: at least "
            f"{2 * horizon + 10} are needed (the last {horizon} validate the models)",
            hint="lower --horizon, or use a longer history",
        )
