"""The scoring server (mlbench.endpoints.scoring) against real models and MLflow's own server.

A random forest saved with ``mlflow.sklearn.save_model`` is served by ``python -m
mlbench.endpoints.scoring``; each body is also sent to the app that ``mlflow models serve`` runs
(``mlflow.pyfunc.scoring_server.init``, in process), and the answers must be the same. Batching
and draining use a second model whose ``predict`` waits for a gate file, so that which requests
are in flight together is decided by the test, never by timing.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import requests

from tests.storage_servers import free_port
from tests.test_jobs import wait_for

COLUMNS = ["a", "b", "c", "d"]
SCORING = [sys.executable, "-m", "mlbench.endpoints.scoring"]


def start_server(
    model: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [*SCORING, "--model", str(model), "--host", "127.0.0.1", "--port", str(port), *args],
        env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert proc.poll() is None, f"the scoring server exited with {proc.returncode}"
        try:
            return requests.get(f"{url}/ping", timeout=5).status_code == 200
        except requests.ConnectionError:
            return False

    wait_for(ready, timeout=120, interval=0.2)
    return proc, url


def stop_server(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=60)


@pytest.fixture(scope="module")
def forest(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, pd.DataFrame]:
    return save_forest(tmp_path_factory.mktemp("forest") / "model")


def save_forest(folder: Path) -> tuple[Path, Any, pd.DataFrame]:
    """A small random forest saved as an MLflow model; returns the folder, model, 7 rows."""
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 4)), columns=COLUMNS)
    y = (X.a + X.b > 0).astype(int) + (X.c > 1).astype(int)
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)
    mlflow.sklearn.save_model(
        model,
        str(folder),
        signature=infer_signature(X, model.predict(X)),
        skops_trusted_types=["sklearn.tree._tree.Tree"],  # our own file: trusted
    )
    return folder, model, X.head(7)


@pytest.fixture(scope="module")
def server(forest: tuple[Path, Any, pd.DataFrame]) -> Iterator[str]:
    proc, url = start_server(forest[0])
    yield url
    assert stop_server(proc) == 0


@pytest.fixture(scope="module")
def mlflow_app(forest: tuple[Path, Any, pd.DataFrame]) -> Iterator[Any]:
    """The app `mlflow models serve` runs, in process (it sets a serving flag in os.environ)."""
    from mlflow.pyfunc import load_model, scoring_server
    from starlette.testclient import TestClient

    saved = dict(os.environ)
    with TestClient(scoring_server.init(load_model(str(forest[0])))) as client:
        yield client
    os.environ.clear()
    os.environ.update(saved)


def bodies(X: pd.DataFrame) -> dict[str, tuple[str, bytes]]:
    """One request per input format MLflow accepts, all holding the rows of X."""
    split = json.loads(X.to_json(orient="split", index=False))
    records = X.to_dict(orient="records")
    parquet = io.BytesIO()
    X.to_parquet(parquet)
    as_json = "application/json"
    return {
        "dataframe_split": (as_json, json.dumps({"dataframe_split": split}).encode()),
        "dataframe_records": (as_json, json.dumps({"dataframe_records": records}).encode()),
        "instances": (as_json, json.dumps({"instances": records}).encode()),
        "inputs records": (as_json, json.dumps({"inputs": records}).encode()),
        "inputs columns": (
            as_json,
            json.dumps({"inputs": {c: X[c].tolist() for c in X}}).encode(),
        ),
        "utf-8 charset": (
            "application/json; charset=utf-8",
            json.dumps({"inputs": records}).encode(),
        ),
        "csv": ("text/csv", X.to_csv(index=False).encode()),
        "parquet": ("application/vnd.apache.parquet", parquet.getvalue()),
    }


def test_every_format_predicts_as_the_model_and_answers_as_mlflow(
    server: str, mlflow_app: Any, forest: tuple[Path, Any, pd.DataFrame]
) -> None:
    _, model, X = forest
    expected = model.predict(X).tolist()
    for name, (content_type, body) in bodies(X).items():
        ours = requests.post(
            f"{server}/invocations", data=body, headers={"Content-Type": content_type}, timeout=30
        )
        theirs = mlflow_app.post(
            "/invocations", content=body, headers={"Content-Type": content_type}
        )
        assert ours.status_code == 200, (name, ours.text)
        assert ours.json() == theirs.json() == {"predictions": expected}, name


def test_rows_of_requests_batched_together_are_parsed_as_mlflow_parses_each(
    forest: tuple[Path, Any, pd.DataFrame],
) -> None:
    """In process: split/records bodies stay raw until their batch, which MLflow parses once;
    the answers equal each body parsed and predicted alone, and a bad one in the batch gets its
    own MLflow error while the others are answered."""
    from mlflow.exceptions import MlflowException
    from mlflow.pyfunc import scoring_server

    from mlbench.endpoints.batching import merge_key, predict_together
    from mlbench.endpoints.scoring import RawFrame, Refused, ScoringModel

    folder, model, X = forest
    scoring = ScoringModel(str(folder))
    pieces = [X.iloc[:2], X.iloc[2:3], X.iloc[3:7]]
    payloads = [
        {"dataframe_split": json.loads(pieces[0].to_json(orient="split", index=False))},
        {"dataframe_records": pieces[1].to_dict(orient="records")},
        {"dataframe_split": {"columns": COLUMNS, "data": pieces[2].to_numpy().tolist()}},
        {"dataframe_split": {"columns": COLUMNS, "data": [["x", 1, 2, 3]]}},  # not a double
    ]
    parsed = [scoring.parse(json.dumps(p).encode(), "application/json") for p in payloads]
    assert all(isinstance(p.data, RawFrame) for p in parsed)  # type: ignore[union-attr]
    split = [p for p in parsed if p.data.orient == "split"]  # type: ignore[union-attr]
    assert len({merge_key(p.data, p.params) for p in split}) == 1  # type: ignore[union-attr]
    outcomes, calls = predict_together(scoring.predict, [(p.data, p.params) for p in split])
    assert calls == 4  # the merged call failed (the bad row), then each alone
    assert [o.value.tolist() for o in outcomes[:2]] == [
        model.predict(pieces[0]).tolist(),
        model.predict(pieces[2]).tolist(),
    ]
    assert isinstance(outcomes[2].error, Refused)
    with pytest.raises(MlflowException) as theirs:
        scoring_server.invocations(
            json.dumps(payloads[3]), "application/json", scoring.model, scoring.input_schema
        )
    answer = scoring.error_answer(None, outcomes[2].error)
    assert answer.status_code == theirs.value.get_http_status_code() == 400
    ours = json.loads(answer.body)
    assert (ours["error_code"], ours["message"]) == (theirs.value.error_code, theirs.value.message)
    good, calls = predict_together(scoring.predict, [(p.data, p.params) for p in split[:2]])
    assert calls == 1 and good[1].value.tolist() == model.predict(pieces[2]).tolist()


def _sorted_set(match: re.Match[str]) -> str:
    return "{" + ", ".join(sorted(match.group(0)[1:-1].split(", "))) + "}"


def error_of(response: Any) -> tuple[int, Any]:
    """Status and body of an error answer, without MLflow's stack trace (it names lines) and
    with the sets it prints in one order (each process orders a set of strings its own way)."""
    try:
        body = response.json()
    except ValueError:
        return response.status_code, response.text
    body.pop("stack_trace", None)
    body["message"] = re.sub(r"\{'\w+'(, '\w+')*\}", _sorted_set, body["message"])
    return response.status_code, body


BAD_BODIES = {
    "not json": ("application/json", b"{'dataframe_split': "),
    "not utf-8": ("application/json", b'{"inputs": "\xff\xfe"}'),
    "a json list": ("application/json", b"[[1, 2, 3, 4]]"),
    "no input field": ("application/json", b'{"data": [[1, 2, 3, 4]]}'),
    "two input fields": ("application/json", b'{"inputs": [[1, 2, 3, 4]], "instances": [[1]]}'),
    "missing columns": (
        "application/json",
        b'{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}',
    ),
    "wrong type": (
        "application/json",
        b'{"dataframe_records": [{"a": "x", "b": 1, "c": 2, "d": 3}]}',
    ),
    "malformed split": ("application/json", b'{"dataframe_split": {"rows": 3}}'),
    "csv garbage": ("text/csv", b'a,b\n"1,2\n'),
    "parquet garbage": ("application/vnd.apache.parquet", b"PAR1 not really"),
    "other content type": ("text/plain", b"1,2,3,4"),
    "latin-1 charset": ("application/json; charset=latin-1", b'{"inputs": []}'),
    "unknown content parameter": ("application/json; format=pandas-split", b'{"inputs": []}'),
}


def test_bad_bodies_get_mlflows_errors(server: str, mlflow_app: Any) -> None:
    for name, (content_type, body) in BAD_BODIES.items():
        ours = requests.post(
            f"{server}/invocations", data=body, headers={"Content-Type": content_type}, timeout=30
        )
        theirs = mlflow_app.post(
            "/invocations", content=body, headers={"Content-Type": content_type}
        )
        assert ours.status_code in (400, 415), (name, ours.status_code, ours.text)
        assert error_of(ours) == error_of(theirs), name
        if ours.status_code == 400:
            assert ours.json()["error_code"] in ("BAD_REQUEST", "INVALID_PARAMETER_VALUE"), name
            assert ours.json()["message"], name


def test_probes_metadata_and_a_bad_model_folder(server: str, tmp_path: Path) -> None:
    assert requests.get(f"{server}/health", timeout=5).status_code == 200
    meta = requests.get(f"{server}/metadata", timeout=5).json()
    assert [column["name"] for column in meta["signature"]["inputs"]] == COLUMNS
    assert meta["flavors"] == ["python_function", "sklearn"]
    stats = requests.get(f"{server}/stats", timeout=5).json()
    assert stats["requests"] >= len(bodies(pd.DataFrame(columns=COLUMNS)))
    (tmp_path / "notes.txt").write_text("not a model")
    refused = subprocess.run(
        [*SCORING, "--model", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode == 2
    assert "no MLmodel file" in refused.stderr and "save_model" in refused.stderr


def test_a_spare_serves_the_arguments_it_is_given_and_ends_when_stdin_closes(
    forest: tuple[Path, Any, pd.DataFrame], tmp_path: Path
) -> None:
    """The supervisor's spare: imports done ahead, its real arguments as one line on stdin,
    its output to the instance's log from then on."""
    spare = subprocess.Popen([*SCORING, "--spare"], stdin=subprocess.PIPE)
    port = free_port()
    log_path = tmp_path / "instance-0.log"
    argv = ["--model", str(forest[0]), "--host", "127.0.0.1", "--port", str(port)]
    assert spare.stdin is not None
    spare.stdin.write(json.dumps({"argv": argv, "log": str(log_path)}).encode() + b"\n")
    spare.stdin.close()
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert spare.poll() is None, f"the spare exited with {spare.returncode}"
        try:
            return requests.get(f"{url}/ping", timeout=5).status_code == 200
        except requests.ConnectionError:
            return False

    wait_for(ready, timeout=120, interval=0.2)
    X = forest[2]
    answer = requests.post(
        f"{url}/invocations", json={"dataframe_records": X.to_dict(orient="records")}, timeout=30
    )
    assert answer.json()["predictions"] == forest[1].predict(X).tolist()
    assert stop_server(spare) == 0
    assert f"serving {forest[0]}" in log_path.read_text()
    # a spare nobody needed: the supervisor closes its stdin (or dies), and it ends cleanly
    idle = subprocess.Popen([*SCORING, "--spare"], stdin=subprocess.PIPE)
    assert idle.stdin is not None
    idle.stdin.close()
    assert idle.wait(timeout=120) == 0


# A pyfunc model (MLflow's models-from-code) whose predict records that it started and then
# waits until the gate file exists: the test holds requests in flight as long as it needs.
GATED_MODEL = textwrap.dedent(
    """
    import os, time
    import mlflow.pyfunc
    import pandas as pd

    class Gated(mlflow.pyfunc.PythonModel):
        def load_context(self, context):
            self.gate = context.model_config["gate"]

        def predict(self, context, model_input, params=None):
            open(self.gate + ".entered", "a").close()
            while not os.path.exists(self.gate):
                time.sleep(0.01)
            return model_input.sum(axis=1).to_numpy()

    mlflow.models.set_model(Gated())
    """
)


@pytest.fixture(scope="module")
def gated_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import mlflow.pyfunc

    base = tmp_path_factory.mktemp("gated")
    code = base / "gated.py"
    code.write_text(GATED_MODEL)
    folder = base / "model"
    mlflow.pyfunc.save_model(str(folder), python_model=str(code), model_config={"gate": ""})
    return folder


def post_in_thread(url: str, payload: dict[str, Any], results: list[Any]) -> threading.Thread:
    def send() -> None:
        response = requests.post(f"{url}/invocations", json=payload, timeout=120)
        results.append((response.status_code, response.json()))

    thread = threading.Thread(target=send)
    thread.start()
    return thread


def frame(*rows: list[float], columns: list[str] = COLUMNS[:2]) -> dict[str, Any]:
    return {"dataframe_split": {"columns": columns, "data": [list(row) for row in rows]}}


def test_concurrent_requests_share_one_predict_call(gated_model: Path, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    config = {"SERVING_MODEL_CONFIG": json.dumps({"gate": str(gate)})}
    # a long max wait: the batch waits until every request in flight has been parsed and queued
    proc, url = start_server(gated_model, "--max-wait-ms", "60000", env=config)
    try:
        results: list[Any] = []
        threads = [post_in_thread(url, frame([100, 0]), results)]
        wait_for(lambda: Path(f"{gate}.entered").exists())  # the first call holds the model
        # eight with the same columns, one with other columns: it cannot join them
        threads += [post_in_thread(url, frame([i, 1], [i, 2]), results) for i in range(8)]
        threads.append(post_in_thread(url, frame([5, 5, 5], columns=["x", "y", "z"]), results))
        wait_for(lambda: requests.get(f"{url}/stats", timeout=5).json()["in_flight"] == 10)
        gate.touch()
        for thread in threads:
            thread.join(timeout=120)
        stats = requests.get(f"{url}/stats", timeout=5).json()
    finally:
        gate.touch()
        assert stop_server(proc) == 0
    assert sorted(results, key=str) == sorted(
        [(200, {"predictions": [100]}), (200, {"predictions": [15]})]
        + [(200, {"predictions": [i + 1, i + 2]}) for i in range(8)],
        key=str,
    )
    # the first alone, the eight together (16 rows), the odd one alone
    assert stats["requests"] == 10 and stats["predict_calls"] == 3
    assert stats["merged_requests"] == 8 and stats["largest_batch"] == 8
    assert stats["in_flight"] == 0


def test_sigterm_drains_in_flight_requests(gated_model: Path, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    config = {"SERVING_MODEL_CONFIG": json.dumps({"gate": str(gate)})}
    proc, url = start_server(gated_model, "--workers", "2", env=config)
    try:
        assert requests.get(f"{url}/stats", timeout=5).json()["workers"][1]["requests"] == 0
        results: list[Any] = []
        threads = [post_in_thread(url, frame([i, 1]), results) for i in range(4)]
        wait_for(lambda: requests.get(f"{url}/stats", timeout=5).json()["in_flight"] == 4)
        proc.send_signal(signal.SIGTERM)

        def refused() -> bool:
            try:
                requests.get(f"{url}/health", timeout=5)
            except requests.ConnectionError:
                return True
            return False

        wait_for(refused)  # no longer accepting, while four requests are still in the model
        assert proc.poll() is None
        gate.touch()
        for thread in threads:
            thread.join(timeout=120)
        assert proc.wait(timeout=60) == 0
    finally:
        gate.touch()
        if proc.poll() is None:
            proc.kill()
    assert sorted(results, key=str) == sorted(
        [(200, {"predictions": [i + 1]}) for i in range(4)], key=str
    )
