"""AutoML: real FLAML searches run as real command jobs on scikit-learn's bundled datasets, with
child runs, guardrails and a registered, loadable best model; guardrails on tables built to
trigger each; bad input refused before anything is queued."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlbench.automl.guardrails import check
from mlbench.automl.models import AutoMLSettings
from mlbench.errors import InvalidInputError
from tests.conftest import run_cli

WAIT = 600  # only catches hangs: a 10 s search plus imports, the refit and logging
BUDGET = 10


def _frames() -> dict[str, pd.DataFrame]:
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine

    return {
        "cancer": load_breast_cancer(as_frame=True).frame,
        "wine": load_wine(as_frame=True).frame,
        "diabetes": load_diabetes(as_frame=True).frame,
    }


@pytest.fixture(scope="module")
def assets(module_ws: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    folder = tmp_path_factory.mktemp("tables")
    frames = _frames()
    for name, frame in frames.items():
        frame.to_parquet(folder / f"{name}.parquet")
        module_ws.data.create(name, folder / f"{name}.parquet", kind="table")
    (folder / "notes.txt").write_text("not a table")
    module_ws.data.create("notes", folder / "notes.txt")
    return frames


@pytest.fixture(scope="module")
def runs(module_ws: Any, assets: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """Three AutoML jobs, submitted together and waited for once."""
    ws = module_ws
    jobs = {
        "cancer": ws.automl.run("cancer", target="target", task="classification", budget_s=BUDGET),
        "wine": ws.automl.run(
            "wine",
            target="target",
            task="classification",
            budget_s=BUDGET,
            estimators=["lgbm", "rf"],
            max_trials=6,
            metric="log_loss",
        ),
        # r2 >= -100 is reached by the first trial: the exit score ends the search there
        "diabetes": ws.automl.run(
            "diabetes", target="target", task="regression", budget_s=BUDGET, exit_score=-100.0
        ),
    }
    for job in jobs.values():
        job.wait(WAIT)
        assert job.info.status.value == "completed", job.logs()[-4000:]
    return {name: job.info for name, job in jobs.items()}


def _children(ws: Any, run_id: str) -> list[Any]:
    parent = ws.tracking.client.get_run(run_id)
    return ws.tracking.client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{run_id}'", max_results=1000
    )


def test_classification_child_runs_guardrails_and_registered_model(
    module_ws: Any, assets: dict[str, pd.DataFrame], runs: dict[str, Any]
) -> None:
    ws, job = module_ws, runs["cancer"]
    shown = ws.automl.show(job.id)
    assert shown.status == "completed" and shown.data == "data:cancer:1"
    assert shown.validation == "cv (5 folds)" and shown.trials >= 2
    # FLAML stops starting trials at the budget: the last one ends within one trial of it
    board = ws.automl.leaderboard(job.id)
    assert len(board) == shown.trials
    last = max(board, key=lambda t: t.wall_clock_s)
    assert last.wall_clock_s <= BUDGET + last.trial_time_s + 1
    assert board[0].score == pytest.approx(shown.best_score)
    assert board[0].estimator == shown.best_estimator
    children = _children(ws, job.mlflow_run_id)
    assert sorted(c.info.run_id for c in children) == sorted(t.run_id for t in board)
    for child in children:
        assert "accuracy" in child.data.metrics and child.data.params["estimator"]
        assert child.data.tags["mlbench.automl.estimator"] == child.data.params["estimator"]
    tags = ws.tracking.client.get_run(job.mlflow_run_id).data.tags
    names = {g.name: g.status for g in shown.guardrails}
    assert names == {
        "validation_split": "Done",
        "class_imbalance": "Passed",
        "constant_columns": "Passed",
        "high_cardinality": "Passed",
        "missing_values": "Passed",
        "target_leakage": "Passed",
    }
    assert all(tags[f"mlbench.automl.guardrail.{n}"] == s for n, s in names.items())
    # registered with the job's lineage, and loadable
    assert shown.model == "cancer-automl:1"
    version = ws.models.info(shown.model)
    assert version.lineage.job_id == job.id and version.lineage.data_inputs == ["data:cancer:1"]
    assert version.tags["automl.target"] == "target"
    assert version.signature is not None
    frame = assets["cancer"]
    predicted = ws.models.load(shown.model).predict(frame.drop(columns=["target"]))
    majority = frame["target"].value_counts(normalize=True).max()
    assert (np.asarray(predicted) == frame["target"].to_numpy()).mean() > majority + 0.1


def test_multiclass_estimators_trial_limit_and_regression_exit_score(
    module_ws: Any, assets: dict[str, pd.DataFrame], runs: dict[str, Any]
) -> None:
    ws = module_ws
    wine = ws.automl.show(runs["wine"].id)
    assert wine.settings.metric == "log_loss" and wine.trials <= 6
    board = ws.automl.leaderboard(runs["wine"].id)
    assert {t.estimator for t in board} <= {"lgbm", "rf"}
    assert board[0].score == pytest.approx(board[0].validation_loss)  # an error, not a score
    model = ws.models.load(wine.model)
    X = assets["wine"].drop(columns=["target"])
    assert set(np.asarray(model.predict(X))) <= {0, 1, 2}

    diabetes = ws.automl.show(runs["diabetes"].id)
    assert diabetes.settings.task == "regression" and diabetes.trials == 1
    assert diabetes.best_score is not None and diabetes.best_score >= -100
    predicted = np.asarray(
        ws.models.load(diabetes.model).predict(assets["diabetes"].drop(columns=["target"]))
    )
    assert predicted.dtype.kind == "f" and len(predicted) == len(assets["diabetes"])
    listed = [r.job_id for r in ws.automl.list()]
    assert set(listed) >= {r.id for r in runs.values()}


def test_the_cli_shows_a_run_and_its_leaderboard(module_ws: Any, runs: dict[str, Any]) -> None:
    job = runs["wine"]
    shown = run_cli(module_ws.home, "automl", "show", job.id)
    assert shown.returncode == 0, shown.stderr
    assert "log_loss" in shown.stdout and "class_imbalance" in shown.stdout
    board = run_cli(module_ws.home, "automl", "leaderboard", job.id)
    assert board.returncode == 0, board.stderr
    assert "lgbm" in board.stdout or "rf" in board.stdout


def _settings(**kw: Any) -> AutoMLSettings:
    return AutoMLSettings(task="classification", target="y", **kw)


def test_guardrails_fire_on_a_table_built_to_trigger_each() -> None:
    rng = np.random.default_rng(0)
    n = 400
    x = rng.normal(size=n)
    y = np.where(rng.random(n) < 0.1, 1, 0)  # 10 % positives: imbalanced
    frame = pd.DataFrame(
        {
            "x": x,
            "with_gaps": np.where(rng.random(n) < 0.2, np.nan, x * 2),
            "color": rng.choice(["red", "blue", None], size=n),
            "row_id": np.arange(n),
            "email": [f"user{i}@example.org" for i in rng.permutation(n)],
            "constant": 7,
            "leak": y * 10 + rng.integers(0, 3, size=n),
            "y": y,
        }
    )
    rails, prep = check(frame, _settings())
    by = {r.name: r for r in rails}
    assert by["class_imbalance"].status == "Alerted"
    assert f"class '1' has {(y == 1).sum()} rows" in by["class_imbalance"].message
    assert by["constant_columns"].status == "Done" and by["constant_columns"].columns == [
        "constant"
    ]
    assert by["high_cardinality"].status == "Done"
    assert set(by["high_cardinality"].columns) == {"row_id", "email"}
    assert by["missing_values"].status == "Done"
    assert set(by["missing_values"].columns) == {"with_gaps", "color"}
    assert by["target_leakage"].status == "Alerted" and by["target_leakage"].columns == ["leak"]
    assert set(prep.drop) == {"constant", "row_id", "email"}
    assert prep.fill["with_gaps"] == pytest.approx(float(np.nanmedian(frame["with_gaps"])))
    assert prep.fill["color"] in ("red", "blue")
    # the same table without its problems passes
    clean = frame[["x", "y"]].assign(y=np.arange(n) % 2)
    assert {r.status for r in check(clean, _settings())[0] if r.name != "validation_split"} == {
        "Passed"
    }
    holdout = check(clean, _settings(cv_below_rows=100))[0][0]
    assert holdout.name == "validation_split" and "holdout" in holdout.message


@pytest.mark.parametrize(
    ("asset", "fields", "message"),
    [
        ("cancer", {"target": "nope", "task": "classification"}, "target column 'nope'"),
        ("diabetes", {"target": "target", "task": "classification"}, "looks continuous"),
        ("notes", {"target": "target", "task": "classification"}, "not a table"),
        ("cancer", {"target": "target", "task": "classification", "metric": "r2"}, "metric"),
        ("cancer", {"target": "target", "task": "forecast"}, "task"),
        ("cancer", {"target": "target", "task": "regression", "estimators": ["gbm9"]}, "gbm9"),
    ],
)
def test_bad_input_fails_before_anything_is_queued(
    module_ws: Any,
    assets: dict[str, pd.DataFrame],
    asset: str,
    fields: dict[str, Any],
    message: str,
) -> None:
    before = len(module_ws.jobs.list(limit=500))
    with pytest.raises(InvalidInputError, match=message):
        module_ws.automl.run(asset, **fields)
    assert len(module_ws.jobs.list(limit=500)) == before


def test_regression_on_a_text_target_is_refused(module_ws: Any, tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": range(30), "kind": ["a", "b", "c"] * 10})
    frame.to_csv(tmp_path / "kinds.csv", index=False)
    module_ws.data.create("kinds", tmp_path / "kinds.csv", kind="table")
    with pytest.raises(InvalidInputError, match="regression needs numbers") as err:
        module_ws.automl.run("kinds", target="kind", task="regression")
    assert "classification" in str(err.value)


def test_magics_show_leaderboard_and_list(module_ws: Any, runs: dict[str, Any]) -> None:
    from mlbench.magics.automl import automl_command
    from mlbench.magics.parser import build_parser

    parser = build_parser()
    job = runs["wine"]
    shown = automl_command(module_ws, parser.parse_args(["automl", "show", job.id]))
    values = {row["field"]: row["value"] for row in shown.rows}
    assert shown.title == f"AutoML {job.id}" and values["model"] == "wine-automl:1"
    text = shown._repr_html_()
    assert "guardrail class_imbalance" in text and "wine-automl:1" in text
    board = automl_command(
        module_ws, parser.parse_args(["automl", "leaderboard", job.id, "--top", "2"])
    )
    assert len(board.rows) == 2 and board.rows[0]["estimator"] in ("lgbm", "rf")
    assert "log_loss" in board.columns
    listed = automl_command(module_ws, parser.parse_args(["automl", "list"]))
    assert {r["job"] for r in listed.rows} >= {r.id for r in runs.values()}


def _daily_sales(n: int = 200, seed: int = 0) -> pd.DataFrame:
    """A daily series: a weekly cycle plus a promotion effect of +20, noise of 1."""
    rng = np.random.default_rng(seed)
    promo = rng.integers(0, 2, n)
    sales = 100 + 10 * np.sin(2 * np.pi * np.arange(n) / 7) + 20 * promo + rng.normal(0, 1, n)
    days = pd.date_range("2024-01-01", periods=n, freq="D").strftime("%Y-%m-%d")
    return pd.DataFrame({"day": days, "promo": promo, "sales": sales})


def test_forecasting_a_daily_series(module_ws: Any, tmp_path: Path) -> None:
    ws = module_ws
    series = _daily_sales(207)
    history, week = series.iloc[:200], series.iloc[200:]
    # rows out of time order: the search sorts them (the holdout must be the latest days)
    history.sample(frac=1, random_state=0).to_parquet(tmp_path / "sales.parquet")
    ws.data.create("sales", tmp_path / "sales.parquet", kind="table")
    job = ws.automl.run(
        "sales",
        target="sales",
        task="forecasting",
        time_column="day",
        horizon=7,
        budget_s=2 * BUDGET,
        estimators=["lgbm", "rf"],
    )
    assert job.wait(WAIT).info.status.value == "completed", job.logs()[-4000:]
    shown = ws.automl.show(job.id)
    assert shown.settings.metric == "mape" and shown.validation == "holdout (the last 7 time steps)"
    rails = {g.name: g for g in shown.guardrails}
    assert "last 7 time steps held out, the 193 before them" in rails["validation_split"].message
    assert rails["high_cardinality"].status == "Passed"  # the timestamps are not an ID column
    assert shown.trials >= 2 and shown.model == "sales-automl:1"
    # the next week, its dates as text (as a JSON request to an endpoint sends them): better
    # than the history's mean (the promotions and the weekly cycle were learned)
    predicted = np.asarray(ws.models.load(shown.model).predict(week.drop(columns=["sales"])))
    assert predicted.shape == (7,) and np.isfinite(predicted).all()
    error = np.abs(predicted - week["sales"].to_numpy()).mean()
    baseline = np.abs(history["sales"].mean() - week["sales"].to_numpy()).mean()
    assert error < 0.9 * baseline, (error, baseline)


@pytest.mark.parametrize(
    ("change", "fields", "message"),
    [
        (None, {"horizon": 7}, "needs time_column"),
        (None, {"time_column": "when", "horizon": 7}, "time column 'when' is not in the table"),
        ("text", {"time_column": "day", "horizon": 7}, "not dates or times"),
        ("repeat", {"time_column": "day", "horizon": 7}, "repeats 1 timestamps"),
        (None, {"time_column": "day", "horizon": 100}, "too few to forecast 100 ahead"),
        (None, {"time_column": "day", "horizon": 7, "estimators": ["lrl1"]}, "does not fit"),
    ],
)
def test_bad_forecasting_input_is_refused(
    module_ws: Any, tmp_path: Path, change: str | None, fields: dict[str, Any], message: str
) -> None:
    frame = _daily_sales(60)
    if change == "text":
        frame.loc[3, "day"] = "soon"
    elif change == "repeat":
        frame.loc[3, "day"] = frame.loc[2, "day"]
    frame.to_csv(tmp_path / "series.csv", index=False)
    name = f"series-{change or 'ok'}-{len(fields)}"
    module_ws.data.create(name, tmp_path / "series.csv", kind="table")
    before = len(module_ws.jobs.list(limit=500))
    with pytest.raises(InvalidInputError, match=message):
        module_ws.automl.run(name, target="sales", task="forecasting", **fields)
    assert len(module_ws.jobs.list(limit=500)) == before
