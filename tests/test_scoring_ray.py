"""Endpoint deployments on Ray Serve (mlbench.endpoints.ray_serve) against a real Ray head.

Like tests/test_ray.py, it runs only in a loopback-only network namespace (`.ci/loopback`), with
a head of its own stopped by its own processes (tests/ray_head.py), never `ray stop --force`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests

from mlbench.errors import InvalidInputError, NotFoundError
from tests.test_ray import ray_head
from tests.test_scoring import BAD_BODIES, bodies, error_of, save_forest


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    with ray_head("--num-cpus=2", module="ray.serve") as address:
        try:
            yield address
        finally:
            import ray
            from ray import serve

            if ray.is_initialized():
                serve.shutdown()
                ray.shutdown()


@pytest.fixture(scope="module")
def forest(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, pd.DataFrame]:
    return save_forest(tmp_path_factory.mktemp("forest") / "model")


def test_a_ray_serve_deployment_answers_like_the_scoring_server(
    ray_address: str, forest: tuple[Path, Any, pd.DataFrame]
) -> None:
    from mlflow.pyfunc import load_model, scoring_server
    from starlette.testclient import TestClient

    from mlbench.endpoints import ray_serve

    folder, model, X = forest
    with pytest.raises(InvalidInputError, match="not both"):
        ray_serve.deploy(ray_address, "forest", folder, replicas=1, autoscaling={})
    with pytest.raises(InvalidInputError, match="no MLmodel file"):
        ray_serve.deploy(ray_address, "forest", folder.parent)

    url = ray_serve.deploy(
        ray_address, "forest", folder, replicas=2, num_cpus=0.5, max_batch_size=16, max_wait_ms=5
    )
    assert url.startswith("http://127.0.0.1:") and url.endswith("/forest")
    state = ray_serve.status(ray_address, "forest")
    assert state["status"] == "RUNNING"
    assert state["deployments"]["model"]["replicas"] == {"RUNNING": 2}
    assert requests.get(f"{url}/ping", timeout=30).status_code == 200
    meta = requests.get(f"{url}/metadata", timeout=30).json()
    assert meta["flavors"] == ["python_function", "sklearn"]

    expected = model.predict(X).tolist()
    for name, (content_type, body) in bodies(X).items():
        answer = requests.post(
            f"{url}/invocations", data=body, headers={"Content-Type": content_type}, timeout=60
        )
        assert answer.status_code == 200, (name, answer.text)
        assert answer.json() == {"predictions": expected}, name
    with TestClient(scoring_server.init(load_model(str(folder)))) as reference:
        for name, (content_type, body) in BAD_BODIES.items():
            headers = {"Content-Type": content_type}
            ours = requests.post(f"{url}/invocations", data=body, headers=headers, timeout=60)
            theirs = reference.post("/invocations", content=body, headers=headers)
            assert error_of(ours) == error_of(theirs), name

    # concurrent requests, some that cannot be merged with the others: each gets its own answer
    def one(i: int) -> tuple[int, Any]:
        rows = X.iloc[i % len(X) :].head(1 + i % 3)
        payload: dict[str, Any] = {"dataframe_records": rows.to_dict(orient="records")}
        if i % 5 == 0:  # a missing column: this one alone fails
            payload = {"dataframe_records": rows[["a", "b"]].to_dict(orient="records")}
        answer = requests.post(f"{url}/invocations", json=payload, timeout=60)
        return answer.status_code, answer.json()

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(one, range(40)))
    for i, (code, body) in enumerate(answers):
        if i % 5 == 0:
            assert code == 400 and "missing inputs" in body["message"], body
        else:
            rows = X.iloc[i % len(X) :].head(1 + i % 3)
            assert (code, body) == (200, {"predictions": model.predict(rows).tolist()})

    # autoscaling instead of a fixed count: the same application, updated in place
    url = ray_serve.deploy(
        ray_address,
        "forest",
        folder,
        autoscaling={"min_replicas": 1, "max_replicas": 2, "target_ongoing_requests": 4},
        num_cpus=0.5,
    )
    # Serve keeps the running replicas within [min, max] (it scales down only after a delay)
    state = ray_serve.status(ray_address, "forest")
    assert state["status"] == "RUNNING"
    assert 1 <= state["deployments"]["model"]["replicas"]["RUNNING"] <= 2
    answer = requests.post(
        f"{url}/invocations",
        data=bodies(X)["csv"][1],
        timeout=60,
        headers={"Content-Type": "text/csv"},
    )
    assert json.loads(answer.text) == {"predictions": expected}

    ray_serve.undeploy(ray_address, "forest")
    with pytest.raises(NotFoundError, match="forest"):
        ray_serve.status(ray_address, "forest")
    assert requests.get(f"{url}/ping", timeout=30).status_code == 404
