"""The AutoML job itself: ``python -m mlbench.automl.run --data PATH --settings JSON``.

An AutoML run is a command job rather than a packaged notebook: the search is one long call to
FLAML with nothing to show cell by cell, a command runs the same on every compute target, its
log streams FLAML's progress, and the job's MLflow run (``MLFLOW_RUN_ID``) is the parent run of
the trials. This module runs inside the job's process, like a user's training script, so it
talks to MLflow directly (the import contract allows it here only).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mlbench.automl.guardrails import check
from mlbench.automl.models import AutoMLSettings, AutoMLTrial, higher_is_better

log = logging.getLogger("mlbench.automl")

TAG = "mlbench.automl"
LOG_RESERVE_S = 10.0  # at most, kept from the search for logging the trials and the model
LIVE_PERIOD_S = 3.0  # the trials so far are logged at most this often while the search runs
GUARDRAILS = "automl/guardrails.json"
LEADERBOARD = "automl/leaderboard.json"
REQUIREMENTS = ("mlbench", "flaml", "lightgbm", "xgboost", "scikit-learn", "pandas", "cloudpickle")


def read_table(path: str, fmt: str) -> Any:
    from mlbench.data import tables

    return tables.read(Path(path), fmt).to_pandas()


def score_of(metric: str, loss: float) -> float:
    """FLAML minimizes a loss: 1 - score for scores, the error itself for errors."""
    return 1.0 - loss if higher_is_better(metric) else loss


class _ExitScore(logging.Handler):
    """Stops FLAML's search once its best loss reaches the exit score.

    FLAML has no per-trial callback; it logs a line after every trial and ends the search when
    the time spent reaches its budget, so the budget is spent at that point.
    """

    def __init__(self, automl: Any, loss: float) -> None:
        super().__init__(logging.INFO)
        self.automl, self.loss = automl, loss
        self.reached = False

    def emit(self, record: logging.LogRecord) -> None:
        state = getattr(self.automl, "_state", None)
        best = getattr(state, "best_loss", math.inf)
        if best <= self.loss and state is not None and not self.reached:
            self.reached = True
            state.time_budget = 0


class _LiveBoard(logging.Handler):
    """Logs the trials so far while the search runs: each as a child run of the job's run, and
    the run's leaderboard artifact, so a leaderboard shows them before the search ends (the
    final one replaces it) and the budget pays for logging them as it goes, not after. FLAML has
    no per-trial callback; it logs a line after every trial and appends the trial to its log
    file first. At most one pass per ``period_s``, and none while no new trial was written."""

    def __init__(self, path: Path, metric: str, period_s: float = LIVE_PERIOD_S) -> None:
        super().__init__(logging.INFO)
        self.path, self.metric, self.period_s = path, metric, period_s
        self.run_ids: dict[int, str] = {}  # trial number -> its child run
        self._last = -math.inf

    def emit(self, record: logging.LogRecord) -> None:
        now = time.monotonic()
        if now - self._last < self.period_s:
            return
        try:
            trials = read_trials(self.path, self.metric)
        except (OSError, ValueError):
            return  # a line half written: the next record reads it whole
        if len(trials) <= len(self.run_ids):
            return
        import mlflow

        self.adopt(trials)
        try:
            log_trials(trials, self.metric)
            mlflow.log_dict([t.model_dump() for t in trials], LEADERBOARD)
        except Exception as exc:  # never the search's end: what is missing is logged after it
            log.warning("logging the trials while searching failed: %s", exc)
        self.run_ids.update({t.number: t.run_id for t in trials if t.run_id})
        self._last = time.monotonic()

    def adopt(self, trials: list[AutoMLTrial]) -> None:
        """Give the trials logged already their child runs' ids."""
        for trial in trials:
            trial.run_id = self.run_ids.get(trial.number, trial.run_id)


def search(
    frame: Any,
    settings: AutoMLSettings,
    workdir: Path,
    started: float | None = None,
    live: bool = False,
) -> dict[str, Any]:
    """Guardrails, the FLAML search, and the best model as a Pipeline (preparation + AutoML).

    The budget is the whole run's, from ``started`` (``time.monotonic()``) to the best model
    logged: the search gets what loading and the checks left of it, less a reserve for logging
    the trials and the model (at least half of the budget, so a slow start still searches).
    ``live``: log the guardrails, then the trials so far, into the active MLflow run while the
    search runs (what the leaderboard view shows before the end).
    """
    if settings.concurrency == 1:
        # FLAML imports Ray whenever it is installed (tens of seconds on a busy machine) though
        # sequential trials never use it; without it FLAML uses its own samplers
        sys.modules.setdefault("ray", None)  # type: ignore[arg-type]
    from flaml import AutoML
    from sklearn.pipeline import Pipeline

    from mlbench.automl.prepare import Prepare

    forecasting = settings.task == "forecasting"
    frame = frame[frame[settings.target].notna()].reset_index(drop=True)
    if forecasting:  # FLAML holds out the last horizon rows: they must be the latest
        import pandas as pd

        # the column itself stays as the table has it: the model's signature takes what the
        # table holds (text dates too), its Prepare step reads them as datetimes
        order = pd.to_datetime(frame[settings.time_column]).to_numpy().argsort(kind="stable")
        frame = frame.iloc[order].reset_index(drop=True)
    rails, prep = check(frame, settings)
    for rail in rails:
        log.info("guardrail %s: %s (%s)", rail.name, rail.status, rail.message)
    if live:
        import mlflow

        mlflow.log_dict([r.model_dump() for r in rails], GUARDRAILS)
    prepare = Prepare(drop=prep.drop, fill=prep.fill, time_column=settings.time_column)
    X = frame.drop(columns=[settings.target])
    y = frame[settings.target]
    Xp = prepare.transform(X)
    cv = not forecasting and len(frame) < settings.cv_below_rows
    spent = 0.0 if started is None else time.monotonic() - started
    reserve = min(LOG_RESERVE_S, 0.05 * settings.budget_s)
    search_budget = max(0.5 * settings.budget_s, settings.budget_s - spent - reserve)
    automl = AutoML()
    fit: dict[str, Any] = {
        "task": "ts_forecast" if forecasting else settings.task,
        "metric": settings.primary_metric,
        "time_budget": search_budget,
        "eval_method": "cv" if cv else "holdout",
        "log_file_name": str(workdir / "trials.jsonl"),
        "log_type": "all",
        "mlflow_logging": False,  # the trials are logged below, as child runs of the job's run
        "seed": settings.seed,
        "verbose": 3,  # a line per trial in the job log (and what the exit score watches)
    }
    if forecasting:
        fit["period"] = settings.horizon  # ... and the last `period` rows are the holdout
    elif cv:
        fit["n_splits"] = settings.cv_folds
    else:
        fit["split_ratio"] = settings.holdout_ratio
    if settings.max_trials is not None:
        fit["max_iter"] = settings.max_trials
    if settings.estimators:
        fit["estimator_list"] = settings.estimators
    if settings.concurrency > 1:
        fit["n_concurrent_trials"] = settings.concurrency
        fit["use_ray"] = True
    from flaml.automl.logger import logger_formatter

    flaml_log = logging.getLogger("flaml.automl.logger")
    # FLAML adds its console handler only to a logger without one: add it, so the job log
    # shows a line per trial whether or not the exit score's handler is there
    console = logging.StreamHandler(sys.stdout)
    console.setFormatter(logger_formatter)
    handlers: list[logging.Handler] = [console]
    stopper = None
    if settings.exit_score is not None:
        metric = settings.primary_metric
        exit_loss = 1 - settings.exit_score if higher_is_better(metric) else settings.exit_score
        stopper = _ExitScore(automl, exit_loss)
        handlers.append(stopper)
    board = _LiveBoard(workdir / "trials.jsonl", settings.primary_metric) if live else None
    if board is not None:
        handlers.append(board)
    for handler in handlers:
        flaml_log.addHandler(handler)
    fit_started = time.monotonic()
    try:
        automl.fit(Xp, y, **fit)
    finally:
        for handler in handlers:
            flaml_log.removeHandler(handler)
    search_time = time.monotonic() - fit_started
    trials = read_trials(workdir / "trials.jsonl", settings.primary_metric)
    if board is not None:
        board.adopt(trials)
    model = Pipeline([("prepare", prepare), ("automl", automl)])
    return {
        "guardrails": rails,
        "model": model,
        "automl": automl,
        "X": X,
        "trials": trials,
        "search_time_s": search_time,
        "validation": f"cv ({settings.cv_folds} folds)"
        if cv
        else f"holdout (the last {settings.horizon} time steps)"
        if forecasting
        else "holdout",
        "exit_score_reached": bool(stopper and stopper.reached),
    }


def read_trials(path: Path, metric: str) -> list[AutoMLTrial]:
    trials = []
    if not path.exists():
        return trials
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if "validation_loss" not in record:
            continue  # FLAML's summary line (the best configuration) closes the log
        loss = float(record["validation_loss"])
        trials.append(
            AutoMLTrial(
                number=len(trials),
                estimator=record["learner"],
                score=score_of(metric, loss) if math.isfinite(loss) else None,
                validation_loss=loss,
                trial_time_s=float(record["trial_time"]),
                wall_clock_s=float(record["wall_clock_time"]),
                sample_size=int(record["sample_size"]),
                config={k: _scalar(v) for k, v in (record.get("config") or {}).items()},
            )
        )
    return trials


def _scalar(value: Any) -> Any:
    return value if isinstance(value, (int, float, str, bool)) or value is None else str(value)


def log_results(result: dict[str, Any], settings: AutoMLSettings) -> None:
    """Trials as child runs, guardrails and the leaderboard as artifacts, the best model."""
    import mlflow
    from mlflow.models import infer_signature

    log_trials(result["trials"], settings.primary_metric)
    metric = settings.primary_metric

    automl = result["automl"]
    rails = result["guardrails"]
    best_loss = float(automl.best_loss)
    best = {
        "estimator": automl.best_estimator,
        "score": score_of(metric, best_loss),
        "config": {k: _scalar(v) for k, v in (automl.best_config or {}).items()},
    }
    summary = {
        "settings": settings.model_dump(mode="json"),
        "guardrails": [r.model_dump() for r in rails],
        "best": best,
        "trials": len(result["trials"]),
        "search_time_s": result["search_time_s"],
        "validation": result["validation"],
        "exit_score_reached": result["exit_score_reached"],
    }
    mlflow.log_dict(summary, "automl/summary.json")
    mlflow.log_dict([r.model_dump() for r in rails], GUARDRAILS)
    mlflow.log_dict([t.model_dump() for t in result["trials"]], LEADERBOARD)
    mlflow.set_tags(
        {
            f"{TAG}": "true",
            f"{TAG}.task": settings.task,
            f"{TAG}.target": settings.target,
            f"{TAG}.metric": metric,
            f"{TAG}.best_estimator": str(automl.best_estimator),
            **{f"{TAG}.guardrail.{r.name}": r.status for r in rails},
        }
    )
    mlflow.log_metrics(
        {
            f"best_{metric}": best["score"],
            "trials": len(result["trials"]),
            "search_time_s": result["search_time_s"],
        }
    )
    X = result["X"]
    sample = X.tail(5)  # a forecaster predicts for these timestamps (after the first ones)
    signature = infer_signature(sample, result["model"].predict(sample))
    # cloudpickle: skops refuses classes outside its allow-list (FLAML's, Prepare); the
    # requirements are given, as MLflow's inference runs the model in a subprocess (slow)
    mlflow.sklearn.log_model(
        result["model"],
        name="model",
        signature=signature,
        input_example=sample.head(2),
        serialization_format="cloudpickle",
        pip_requirements=_requirements(),
    )


def log_trials(trials: list[AutoMLTrial], metric: str) -> None:
    """Each trial without a child run yet gets one under the active (the job's) run."""
    import mlflow
    from mlflow.entities import Metric, Param, RunTag

    client = mlflow.MlflowClient()
    parent = mlflow.active_run()
    assert parent is not None
    now = int(time.time() * 1000)
    for trial in trials:
        if trial.run_id is not None:
            continue
        child = client.create_run(
            parent.info.experiment_id,
            run_name=f"trial-{trial.number}-{trial.estimator}",
            tags={"mlflow.parentRunId": parent.info.run_id, f"{TAG}.estimator": trial.estimator},
        )
        metrics = [
            Metric("validation_loss", trial.validation_loss, now, 0),
            Metric("trial_time_s", trial.trial_time_s, now, 0),
            Metric("wall_clock_s", trial.wall_clock_s, now, 0),
            Metric("sample_size", trial.sample_size, now, 0),
        ]
        if trial.score is not None:
            metrics.append(Metric(metric, trial.score, now, 0))
        params = [Param("estimator", trial.estimator)] + [
            Param(k, str(v)[:6000]) for k, v in trial.config.items()
        ]
        client.log_batch(
            child.info.run_id,
            metrics=metrics,
            params=params,
            tags=[RunTag(f"{TAG}.trial", str(trial.number))],
        )
        client.set_terminated(child.info.run_id, "FINISHED")
        trial.run_id = child.info.run_id


def _requirements() -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in REQUIREMENTS:
        try:
            found.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            continue
    return found


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    import mlflow

    parser = argparse.ArgumentParser(prog="python -m mlbench.automl.run")
    parser.add_argument("--data", required=True, help="local path of the table")
    parser.add_argument("--format", default="parquet", choices=("parquet", "csv"))
    parser.add_argument("--settings", required=True, help="AutoMLSettings as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = AutoMLSettings.model_validate_json(args.settings)
    frame = read_table(args.data, args.format)
    rows, columns = frame.shape
    log.info("AutoML %s of %r: %d rows, %d columns", settings.task, settings.target, rows, columns)
    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run():  # the job's run
        result = search(frame, settings, Path(tmp), started, live=True)
        log.info(
            "%d trials in %.1f s; best %s",
            len(result["trials"]),
            result["search_time_s"],
            result["automl"].best_estimator,
        )
        log_results(result, settings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
