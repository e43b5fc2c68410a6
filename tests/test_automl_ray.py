"""AutoML on a Ray target with concurrency 2: FLAML's trials run as Ray Tune trials on the
cluster the job's task runs on (its ``ray.init()`` joins that cluster through ``RAY_ADDRESS``),
two in flight at once; elsewhere concurrency above 1 is refused before anything is queued. Real
Ray head in the loopback namespace (see tests/test_ray.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlbench.errors import InvalidInputError
from tests.test_automl import WAIT, _children
from tests.test_ray import ray_head, ray_target_ws

pytestmark = pytest.mark.slow

ACTIVE = ("PENDING", "RUNNING")  # Ray Tune's states of a trial not yet ended


@pytest.fixture(scope="module")
def ray_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with ray_head("--num-cpus=3") as address:  # the job's task holds one, two trials the others
        yield from ray_target_ws(tmp_path_factory.mktemp("automl-ray-ws"), address)


def test_trials_run_two_at_a_time_on_the_jobs_ray_cluster(ray_ws: Any, tmp_path: Path) -> None:
    from sklearn.datasets import load_breast_cancer

    load_breast_cancer(as_frame=True).frame.to_parquet(tmp_path / "cancer.parquet")
    ray_ws.data.create("cancer", tmp_path / "cancer.parquet", kind="table")
    with pytest.raises(InvalidInputError, match="compute 'local' is not a Ray cluster") as err:
        ray_ws.automl.run("cancer", target="target", task="classification", concurrency=2)
    assert "leave concurrency at 1" in (err.value.hint or "")

    job = ray_ws.automl.run(
        "cancer",
        target="target",
        task="classification",
        budget_s=40,
        concurrency=2,
        estimators=["lgbm", "rf"],
        compute="ray",
    )
    info = job.wait(WAIT).info
    logs = job.logs()
    assert info.status.value == "completed", logs[-4000:]
    # it joined the target's cluster, and Ray Tune had two trials in flight at once (FLAML's
    # own timings cannot show it: a trial's fit is far shorter than Tune's start of it)
    assert "Connecting to existing Ray cluster" in logs, logs[-4000:]
    assert "Started a local Ray instance" not in logs
    in_flight = [
        sum(int(n) for n, state in re.findall(r"(\d+) (\w+)", line) if state in ACTIVE)
        for line in logs.splitlines()
        if line.startswith("Trial status:")
    ]
    assert in_flight and max(in_flight) >= 2, logs[-4000:]
    run = ray_ws.automl.show(job.id)
    trials = ray_ws.automl.leaderboard(job.id)
    assert run.trials == len(trials) >= 2, logs[-4000:]
    assert len(_children(ray_ws, info.mlflow_run_id)) == len(trials)
    assert run.best_score is not None and run.best_score > 0.85 and run.model is not None
