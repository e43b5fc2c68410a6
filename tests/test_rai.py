"""Responsible AI report: the packaged notebook run as a real job on a model with a sensitive
column and a planted error region; its fairness numbers against ones computed here with plain
numpy, its cohorts, its size; bad input refused before anything is queued."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlbench.errors import InvalidInputError, NotFoundError
from tests.conftest import run_cli

WAIT = 600  # only catches hangs


def _table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b"], size=n, p=[0.6, 0.4])
    x1 = rng.normal(size=n) + np.where(group == "b", -0.4, 0.0)
    x2 = rng.normal(size=n)
    y = (x1 + 0.3 * rng.normal(size=n) > 0).astype(int)
    return pd.DataFrame({"x1": x1, "x2": x2, "group": group, "y": y})


@pytest.fixture(scope="module")
def report(module_ws: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import mlflow
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    ws = module_ws
    folder = tmp_path_factory.mktemp("rai")
    train = _table(2000, 0)
    model = Pipeline(
        [
            (
                "encode",
                ColumnTransformer([("g", OneHotEncoder(), ["group"])], remainder="passthrough"),
            ),
            ("fit", LogisticRegression()),
        ]
    ).fit(train.drop(columns=["y"]), train["y"])
    mlflow.sklearn.save_model(
        model, folder / "model", input_example=train.drop(columns=["y"]).head(2)
    )
    ws.models.register("fair", folder=folder / "model")
    test = _table(1500, 1)
    planted = test["x2"] > 1.2  # the model is right there on its own; these labels are flipped
    test.loc[planted, "y"] = 1 - test.loc[planted, "y"]
    test.to_parquet(folder / "test.parquet")
    ws.data.create("fair-test", folder / "test.parquet", kind="table")
    (folder / "readme.txt").write_text("not a table")
    ws.data.create("fair-notes", folder / "readme.txt")
    job = ws.rai.report(
        "fair:1", data="fair-test", sensitive=["group"], target="y", task="classification"
    ).wait(WAIT)
    assert job.info.status.value == "completed", job.logs()[-4000:]
    pred = np.asarray(ws.models.load("fair:1").predict(test.drop(columns=["y"])))
    return {"job": job.info, "test": test, "pred": pred, "planted": planted}


def test_fairness_numbers_match_an_independent_computation(
    module_ws: Any, report: dict[str, Any]
) -> None:
    info = module_ws.rai.show(report["job"].id)
    assert info.status == "completed" and info.model == "fair:1" and info.data == "data:fair-test:1"
    summary = info.summary
    assert summary is not None and summary["positive_label"] == "1"
    test, pred = report["test"], report["pred"]
    y = test["y"].to_numpy()
    (fair,) = summary["fairness"]
    assert fair["feature"] == "group"
    rates = {}
    for g in ("a", "b"):
        m = test["group"].to_numpy() == g
        rates[g] = {
            "count": m.sum(),
            "selection_rate": pred[m].mean(),
            "tpr": pred[m & (y == 1)].mean(),
            "fpr": pred[m & (y == 0)].mean(),
            "accuracy": (pred[m] == y[m]).mean(),
        }
    by = {row["group"]: row for row in fair["by_group"]}
    for g, expected in rates.items():
        for key, value in expected.items():
            assert by[g][key] == pytest.approx(value), (g, key)
    dp = abs(rates["a"]["selection_rate"] - rates["b"]["selection_rate"])
    eo = max(abs(rates["a"]["tpr"] - rates["b"]["tpr"]), abs(rates["a"]["fpr"] - rates["b"]["fpr"]))
    assert fair["demographic_parity_difference"] == pytest.approx(dp)
    assert fair["equalized_odds_difference"] == pytest.approx(eo)
    assert dp > 0.05  # group b's lower x1 shows
    accuracy = next(m for m in summary["metrics"] if m["metric"] == "accuracy")
    assert accuracy["value"] == pytest.approx((pred == y).mean())
    assert accuracy["low"] < accuracy["value"] < accuracy["high"]


def test_error_cohorts_find_the_planted_region(module_ws: Any, report: dict[str, Any]) -> None:
    summary = module_ws.rai.show(report["job"].id).summary
    assert summary is not None
    top = summary["cohorts"][0]
    assert "x2 >" in top["rule"] and top["error_rate"] > 0.6
    threshold = float(top["rule"].split("x2 >")[1].split()[0])
    assert 0.9 < threshold < 1.5
    planted = report["planted"].to_numpy()
    wrong = report["pred"] != report["test"]["y"].to_numpy()
    # the cohorts under that split hold most of the planted region's errors
    inside = [c for c in summary["cohorts"] if c["rule"].startswith(f"x2 > {threshold:.4g}")]
    assert sum(c["errors"] for c in inside) >= 0.8 * wrong[planted].sum()
    assert all(c["error_rate"] > 3 * summary["error_rate"] for c in inside[:2])
    assert summary["importance"]["permutation"][0]["feature"] in ("x1", "x2")
    assert (
        "not installed" in summary["counterfactuals"]["note"]
        or summary["counterfactuals"]["available"]
    )


def test_html_report_and_notebook_are_artifacts(
    module_ws: Any, report: dict[str, Any], tmp_path: Path
) -> None:
    ws, job = module_ws, report["job"]
    info = ws.rai.show(job.id)
    assert info.html_artifact == "outputs/rai_report.html" and info.notebook_artifact
    page = ws.rai.html(job.id)
    assert len(page.encode()) < 2 * 1024 * 1024
    assert "<script" not in page.lower() and "demographic parity difference" in page
    assert "x2 &gt;" in page and "group" in page
    # the CLI saves the same page; no row of the table is in it (only summaries)
    out = tmp_path / "report.html"
    shown = run_cli(ws.home, "rai", "show", job.id, "--html", str(out))
    assert shown.returncode == 0, shown.stderr
    assert "demographic parity difference" in shown.stdout
    assert out.read_text() == page
    row = report["test"].iloc[0]
    assert f"{row['x1']:.6f}" not in page
    nb = ws.jobs.output_notebook_path(job.id)
    assert nb is not None and "wrote" in json.dumps(json.loads(Path(nb).read_text()))


@pytest.mark.parametrize(
    ("model", "fields", "error", "message"),
    [
        (
            "fair:1",
            {"data": "fair-test", "sensitive": ["gender"], "target": "y", "task": "classification"},
            InvalidInputError,
            "'gender' not in",
        ),
        (
            "fair:1",
            {"data": "fair-notes", "target": "y", "task": "classification"},
            InvalidInputError,
            "not a table",
        ),
        (
            "fair:1",
            {"data": "fair-test", "task": "classification"},
            InvalidInputError,
            "which column",
        ),
        ("fair:1", {"data": "fair-test", "target": "y"}, InvalidInputError, "classifier or"),
        (
            "nope:3",
            {"data": "fair-test", "target": "y", "task": "regression"},
            NotFoundError,
            "nope",
        ),
    ],
)
def test_bad_input_fails_before_anything_is_queued(
    module_ws: Any,
    report: dict[str, Any],
    model: str,
    fields: dict[str, Any],
    error: type,
    message: str,
) -> None:
    before = len(module_ws.jobs.list(limit=500))
    with pytest.raises(error, match=message):
        module_ws.rai.report(model, **fields)
    assert len(module_ws.jobs.list(limit=500)) == before


def test_magics_show_the_numbers_and_the_page(module_ws: Any, report: dict[str, Any]) -> None:
    from mlbench.magics.automl import rai_command
    from mlbench.magics.parser import build_parser

    parser = build_parser()
    job = report["job"]
    table = rai_command(module_ws, parser.parse_args(["rai", "show", job.id]))
    metrics = {r["metric"]: r for r in table.rows}
    assert metrics["accuracy"]["low"] < metrics["accuracy"]["value"] < metrics["accuracy"]["high"]
    assert "group: demographic_parity_difference" in metrics
    page = rai_command(module_ws, parser.parse_args(["rai", "show", job.id, "--html"]))
    assert page.data == module_ws.rai.html(job.id)
