"""The AutoML search logs its guardrails and its trials so far into the job's MLflow run while it
runs (what the JupyterLab leaderboard shows before the end): a real FLAML search on the wine
table against a real MLflow store, and the live writer on a log FLAML is still writing."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from mlbench.automl.models import AutoMLSettings
from mlbench.automl.run import GUARDRAILS, LEADERBOARD, _LiveBoard, search


@pytest.fixture
def mlflow_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    experiment = mlflow.create_experiment(
        "live", artifact_location=(tmp_path / "artifacts").as_uri()
    )
    with mlflow.start_run(experiment_id=experiment) as run:
        yield run


def _artifact(run_id: str, path: str, tmp: Path) -> Any:
    import mlflow

    listed = {a.path for a in mlflow.MlflowClient().list_artifacts(run_id, "automl")}
    if path not in listed:
        return None
    return json.loads(
        Path(
            mlflow.artifacts.download_artifacts(f"runs:/{run_id}/{path}", dst_path=str(tmp))
        ).read_text()
    )


def test_search_logs_guardrails_and_trials_while_it_runs(mlflow_run: Any, tmp_path: Path) -> None:
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    settings = AutoMLSettings(
        task="classification", target="target", budget_s=10, max_trials=4, estimators=["lgbm"]
    )
    work = tmp_path / "work"
    work.mkdir()
    result = search(frame, settings, work, live=True)
    run_id = mlflow_run.info.run_id
    # logged by the search itself, before log_results writes the final artifacts
    rails = _artifact(run_id, GUARDRAILS, tmp_path / "g")
    assert [r["name"] for r in rails] == [r.name for r in result["guardrails"]]
    board = _artifact(run_id, LEADERBOARD, tmp_path / "b")
    assert board, "no trial was logged during the search"
    final = [t.model_dump() for t in result["trials"]]
    # the trials so far: the first of the final list, as they were read then, each with the
    # child run it got then (log_results gives the rest theirs)
    assert board == final[: len(board)] and all(t["run_id"] for t in board)


def test_live_board_skips_half_written_lines_and_waits_its_period(
    mlflow_run: Any, tmp_path: Path
) -> None:
    log = tmp_path / "trials.jsonl"
    line = {
        "record_id": 0,
        "iter_per_learner": 1,
        "logged_metric": None,
        "trial_time": 0.1,
        "wall_clock_time": 0.2,
        "validation_loss": 0.25,
        "config": {"n_estimators": 4},
        "learner": "lgbm",
        "sample_size": 100,
    }
    board = _LiveBoard(log, "accuracy", period_s=3600)
    record = logging.LogRecord("flaml", logging.INFO, __file__, 1, "trial", None, None)
    board.emit(record)  # no log file yet
    log.write_text(json.dumps(line)[:40])  # FLAML is writing its first line
    board.emit(record)
    assert len(board.run_ids) == 0
    run_id = mlflow_run.info.run_id
    assert _artifact(run_id, LEADERBOARD, tmp_path / "a") is None
    log.write_text(json.dumps(line) + "\n")
    board.emit(record)
    assert len(board.run_ids) == 1
    first = _artifact(run_id, LEADERBOARD, tmp_path / "b")
    assert [(t["estimator"], t["score"]) for t in first] == [("lgbm", 0.75)]
    # a second trial within the period waits for a later line
    log.write_text(json.dumps(line) + "\n" + json.dumps({**line, "validation_loss": 0.1}) + "\n")
    board.emit(record)
    assert len(board.run_ids) == 1
    board.period_s = 0
    board.emit(record)
    assert len(board.run_ids) == 2
    latest = _artifact(run_id, LEADERBOARD, tmp_path / "c")
    assert len(latest) == 2
    # each trial became its child run once, as the search went
    import mlflow

    children = mlflow.MlflowClient().search_runs(
        [mlflow_run.info.experiment_id], f"tags.mlflow.parentRunId = '{run_id}'"
    )
    assert sorted(c.info.run_id for c in children) == sorted(board.run_ids.values())
    assert [t["run_id"] for t in latest] == [board.run_ids[0], board.run_ids[1]]


@pytest.mark.slow
def test_a_running_search_shows_its_guardrails_and_trials_so_far(ws: Any, tmp_path: Path) -> None:
    from sklearn.datasets import load_breast_cancer

    load_breast_cancer(as_frame=True).frame.to_parquet(tmp_path / "cancer.parquet")
    ws.data.create("cancer", tmp_path / "cancer.parquet", kind="table")
    # a budget far longer than the test waits: the search is running when it is read
    job = ws.automl.run("cancer", target="target", task="classification", budget_s=300)
    deadline = time.monotonic() + 240
    try:
        while True:
            shown = ws.automl.show(job.id)
            assert shown.status in ("queued", "starting", "running"), job.logs()[-3000:]
            if shown.trials > 0:
                break
            assert time.monotonic() < deadline, job.logs()[-3000:]
            time.sleep(1)
        assert {g.name for g in shown.guardrails} >= {"class_imbalance", "target_leakage"}
        board = ws.automl.leaderboard(job.id)
        assert len(board) >= shown.trials
        # each trial shown is a child run already (made as the search goes)
        children = ws.tracking.client.search_runs(
            [ws.tracking.client.get_run(job.info.mlflow_run_id).info.experiment_id],
            f"tags.mlflow.parentRunId = '{job.info.mlflow_run_id}'",
        )
        assert {t.run_id for t in board} <= {c.info.run_id for c in children}
        assert board == sorted(board, key=lambda t: t.validation_loss)
        assert shown.best_estimator is None  # the summary is written at the end
    finally:
        job.cancel()
