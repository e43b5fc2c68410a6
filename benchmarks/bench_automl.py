"""AutoML and Responsible AI benchmarks (issue 20), each beside its baseline in the same run.

1. On scikit-learn's bundled datasets (breast_cancer, wine: accuracy; diabetes: r2), a fixed 80/20
   split: mlbench AutoML (a real job, ``ws.automl.run``, budget B) against a default-parameter
   LightGBM and against plain FLAML (``AutoML().fit`` in this process, same budget, metric and
   validation), all scored on the same held-out 20 %. Goal: better than default LightGBM on each;
   the job's wall time (submit -> completed, with guardrails, MLflow child runs, the model logged
   and registered; the target's agent already up) within 5 % of plain FLAML's fit. mlbench's
   budget covers the whole run (imports, checks, search, logging); FLAML's covers its search.
2. A Responsible AI report (a real notebook job) of a model on a 10,000 x 20 table with a
   sensitive column: wall time (submit -> completed) and HTML size. Goal: <= 60 s, <= 2 MB.

Run: ``python benchmarks/bench_automl.py`` (about 6 minutes at the default 60 s budget),
``--budget S`` for a shorter run, ``--parts automl|rai`` for one part, ``--json PATH``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATASETS = {
    "breast_cancer": ("classification", "accuracy"),
    "wine": ("classification", "accuracy"),
    "diabetes": ("regression", "r2"),
}


def load(name: str) -> pd.DataFrame:
    from sklearn import datasets

    return getattr(datasets, f"load_{name}")(as_frame=True).frame


def score(metric: str, y: Any, pred: Any) -> float:
    from sklearn.metrics import accuracy_score, r2_score

    return float(accuracy_score(y, pred) if metric == "accuracy" else r2_score(y, pred))


def split(frame: pd.DataFrame, task: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    strat = frame["target"] if task == "classification" else None
    return train_test_split(frame, test_size=0.2, random_state=0, stratify=strat)


def default_lightgbm(train: pd.DataFrame, test: pd.DataFrame, task: str, metric: str) -> float:
    import lightgbm as lgb

    cls = lgb.LGBMClassifier if task == "classification" else lgb.LGBMRegressor
    model = cls(verbose=-1).fit(train.drop(columns=["target"]), train["target"])
    return score(metric, test["target"], model.predict(test.drop(columns=["target"])))


def plain_flaml(
    train: pd.DataFrame, test: pd.DataFrame, task: str, metric: str, budget: float
) -> tuple[float, float]:
    from flaml import AutoML

    automl = AutoML()
    started = time.perf_counter()
    automl.fit(
        train.drop(columns=["target"]),
        train["target"],
        task=task,
        metric=metric,
        time_budget=budget,
        eval_method="cv",
        n_splits=5,
        seed=0,
        verbose=0,
        mlflow_logging=False,
    )
    wall = time.perf_counter() - started
    return score(metric, test["target"], automl.predict(test.drop(columns=["target"]))), wall


def mlbench_automl(
    ws: Any,
    name: str,
    train: pd.DataFrame,
    test: pd.DataFrame,
    task: str,
    metric: str,
    budget: float,
    folder: Path,
) -> dict[str, Any]:
    path = folder / f"{name}.parquet"
    train.to_parquet(path)
    ws.data.create(name, path, kind="table")
    started = time.perf_counter()
    job = ws.automl.run(name, target="target", task=task, metric=metric, budget_s=budget)
    job.wait(budget * 4 + 600)
    wall = time.perf_counter() - started
    assert job.info.status.value == "completed", job.logs()[-3000:]
    info = ws.automl.show(job.id)
    model = ws.models.load(info.model)
    return {
        "score": score(
            metric, test["target"], np.asarray(model.predict(test.drop(columns=["target"])))
        ),
        "job_wall_s": wall,
        "search_s": info.search_time_s,
        "trials": info.trials,
        "best_estimator": info.best_estimator,
    }


def rai_report(ws: Any, folder: Path) -> dict[str, Any]:
    import mlflow
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(0)
    n, k = 10_000, 19
    X = pd.DataFrame(rng.normal(size=(n, k)), columns=[f"f{i}" for i in range(k)])
    X["group"] = rng.choice(["a", "b", "c"], size=n)
    y = ((X["f0"] + X["f1"] * X["f2"] + rng.normal(scale=0.5, size=n)) > 0).astype(int)
    model = Pipeline(
        [
            (
                "enc",
                ColumnTransformer([("g", OneHotEncoder(), ["group"])], remainder="passthrough"),
            ),
            ("fit", RandomForestClassifier(n_estimators=50, max_depth=8, random_state=0)),
        ]
    ).fit(X, y)
    mlflow.sklearn.save_model(
        model, folder / "model", input_example=X.head(2), serialization_format="cloudpickle"
    )
    ws.models.register("bench-rai", folder=folder / "model")
    X.assign(y=y).to_parquet(folder / "rai.parquet")
    ws.data.create("bench-rai", folder / "rai.parquet", kind="table")
    started = time.perf_counter()
    job = ws.rai.report(
        "bench-rai:1", data="bench-rai", sensitive=["group"], target="y", task="classification"
    ).wait(900)
    wall = time.perf_counter() - started
    assert job.info.status.value == "completed", job.logs()[-3000:]
    html = ws.rai.html(job.id)
    return {"rows": n, "features": k + 1, "job_wall_s": wall, "html_bytes": len(html.encode())}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--parts", default="automl,rai", help="automl, rai or both (default)")
    args = parser.parse_args()
    import mlbench

    load_before = os.getloadavg()
    results: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}",
        "budget_s": args.budget,
        "load_before": load_before,
        "datasets": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ws = mlbench.Workspace(folder / "ws", agent_idle_timeout_s=120)
        ws.agents("local").ensure_running(wait=True, timeout=300)  # steady state: agent up
        for name, (task, metric) in DATASETS.items() if "automl" in args.parts else ():
            train, test = split(load(name), task)
            row = {
                "metric": metric,
                "default_lightgbm": default_lightgbm(train, test, task, metric),
            }
            row["plain_flaml"], row["plain_flaml_wall_s"] = plain_flaml(
                train, test, task, metric, args.budget
            )
            row["mlbench"] = mlbench_automl(
                ws, name, train, test, task, metric, args.budget, folder
            )
            row["beats_default_lightgbm"] = row["mlbench"]["score"] > row["default_lightgbm"]
            row["wall_ratio_vs_flaml"] = row["mlbench"]["job_wall_s"] / row["plain_flaml_wall_s"]
            results["datasets"][name] = row
            print(name, json.dumps(row, default=str), flush=True)
        if "rai" in args.parts:
            results["rai"] = rai_report(ws, folder)
            print("rai", json.dumps(results["rai"]), flush=True)
        ws.agents("local").stop()
    results["load_after"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    print(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
