"""The model registry: models registered from real jobs (scikit-learn trained and logged by the
job), with lineage, aliases, loading, the CLI and REST."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from mlbench.errors import ConflictError, InvalidInputError, NotFoundError
from tests.conftest import run_cli
from tests.test_jobs import WAIT

FIT = textwrap.dedent(
    """\
    import sys
    import mlflow
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    table = pd.read_csv(sys.argv[1])
    X, y = table.iloc[:, :4], table.iloc[:, 4]
    models = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    with mlflow.start_run():  # the job's own run (MLFLOW_RUN_ID)
        for i in range(models):
            model = LogisticRegression(max_iter=500, C=1.0 / (i + 1)).fit(X, y)
            mlflow.log_metric("accuracy", model.score(X, y))
            mlflow.sklearn.log_model(model, name=f"model{i or ''}", input_example=X.head(2))
    """
)
IRIS = Path(__file__).resolve().parents[1] / "examples" / "data" / "iris.csv"


@pytest.fixture(scope="module")
def trained(module_ws: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A job that trains a model on a data asset version and logs it; one that logs two."""
    ws = module_ws
    code = tmp_path_factory.mktemp("fit")
    (code / "fit.py").write_text(FIT)
    ws.data.create("iris-table", IRIS)
    one = ws.jobs.submit(
        command="python fit.py ${{inputs.table}}",
        code=str(code),
        inputs={"table": "data:iris-table"},
        experiment="registry",
    ).wait(WAIT)
    two = ws.jobs.submit(
        command="python fit.py ${{inputs.table}} 2",
        code=str(code),
        inputs={"table": "data:iris-table"},
    ).wait(WAIT)
    for job in (one, two):
        assert job.info.status.value == "completed", job.logs()[-3000:]
    return {"one": one.info, "two": two.info}


def test_register_from_a_job_with_lineage_alias_and_load(
    module_ws: Any, trained: dict[str, Any]
) -> None:
    ws, job = module_ws, trained["one"]
    info = ws.models.register("iris", job=job.id, alias="champion", description="first")
    assert info.ref == "iris:1" and info.aliases == ["champion"] and info.description == "first"
    lin = info.lineage
    assert lin.job_id == job.id and lin.run_id == job.mlflow_run_id
    assert lin.data_inputs == ["data:iris-table:1"] and lin.spec_hash == job.spec_hash
    assert lin.experiment == "registry"
    assert info.signature is not None
    assert [c["name"] for c in info.signature["inputs"]][:2] == ["sepal_length", "sepal_width"]
    # a second version; the alias stays where it was until moved
    second = ws.models.register("iris", job=job.id, tags={"stage": "candidate"})
    assert second.ref == "iris:2" and second.tags == {"stage": "candidate"}
    assert ws.models.info("iris@champion").version == 1
    assert ws.models.info("iris").version == 2  # a bare name: the newest
    ws.models.set_alias("iris", "champion", 2)
    assert ws.models.info("iris@champion").version == 2
    listed = {m.name: m for m in ws.models.list()}
    assert listed["iris"].versions == 2 and listed["iris"].aliases == {"champion": 2}
    assert [v.version for v in ws.models.versions("iris")] == [2, 1]
    # the registered model predicts
    import pandas as pd

    rows = pd.read_csv(IRIS).iloc[:3, :4]
    assert list(ws.models.load("iris@champion").predict(rows)) == ["setosa"] * 3
    ws.models.delete("iris:1")
    assert [v.version for v in ws.models.versions("iris")] == [2]


def test_a_run_with_several_models_needs_a_path(module_ws: Any, trained: dict[str, Any]) -> None:
    ws, job = module_ws, trained["two"]
    with pytest.raises(InvalidInputError, match="logged several models") as err:
        ws.models.register("pair", job=job.id)
    assert "--path" in (err.value.hint or "")
    assert ws.models.register("pair", job=job.id, path="model1").ref == "pair:1"
    with pytest.raises(InvalidInputError, match="logged no model 'nope'"):
        ws.models.register("pair", job=job.id, path="nope")


def test_bad_registrations_are_clear_errors(
    module_ws: Any, trained: dict[str, Any], tmp_path: Path
) -> None:
    ws = module_ws
    with pytest.raises(NotFoundError, match="does not exist"):
        ws.models.register("x", job="no-such-job")
    with pytest.raises(InvalidInputError, match="one of: a job, a run or a local model folder"):
        ws.models.register("x")
    plain = ws.jobs.submit(command="echo no model").wait(WAIT)
    with pytest.raises(InvalidInputError, match="logged no MLflow model") as err:
        ws.models.register("x", job=plain.id)
    assert "log_model" in (err.value.hint or "")
    failed = ws.jobs.submit(command="exit 1").wait(WAIT)
    with pytest.raises(ConflictError, match="is failed"):
        ws.models.register("x", job=failed.id)
    with pytest.raises(InvalidInputError, match="invalid model name"):
        ws.models.register("bad name", job=trained["one"].id)
    with pytest.raises(InvalidInputError, match="invalid alias"):
        ws.models.set_alias("iris", "latest", 2)
    with pytest.raises(NotFoundError):
        ws.models.info("no-such-model:1")
    with pytest.raises(InvalidInputError, match="cannot read model reference"):
        ws.models.info("a:b:c")
    with pytest.raises(InvalidInputError, match="not an MLflow model folder"):
        ws.models.register("x", folder=tmp_path)
    assert "x" not in {m.name for m in ws.models.list()}


def test_register_a_local_model_folder_and_the_cli(module_ws: Any, tmp_path: Path) -> None:
    import mlflow.sklearn
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    table = pd.read_csv(IRIS)
    folder = tmp_path / "tree"
    mlflow.sklearn.save_model(
        LogisticRegression(max_iter=500).fit(table.iloc[:, :4], table.iloc[:, 4]), str(folder)
    )
    home = module_ws.home
    made = run_cli(home, "model", "register", "tree", "--folder", str(folder), "--alias", "prod")
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == "tree:1"
    shown = json.loads(run_cli(home, "model", "show", "tree@prod", "--json").stdout)
    assert shown["ref"] == "tree:1" and shown["aliases"] == ["prod"]
    listed = run_cli(home, "model", "list")
    assert "tree" in listed.stdout and "@prod=1" in listed.stdout
    bad = run_cli(home, "model", "show", "tree:9")
    assert bad.returncode == 2 and "tree:9 does not exist" in bad.stderr
    assert run_cli(home, "model", "delete", "tree").returncode == 0
    assert "tree" not in {m.name for m in module_ws.models.list()}
    # each change is on the event feed, so open views follow the registry
    changes = [
        e["data"]
        for e in module_ws.jobs.events(job_id="models", limit=5000)
        if e["data"]["model"] == "tree"
    ]
    assert changes == [
        {"model": "tree", "action": "registered", "version": 1},
        {"model": "tree", "action": "alias", "version": 1},
        {"model": "tree", "action": "deleted", "version": None},
    ]


def test_a_job_registers_its_model_when_it_completes(
    module_ws: Any, trained: dict[str, Any], tmp_path: Path
) -> None:
    ws = module_ws
    (tmp_path / "fit.py").write_text(FIT)
    job = ws.jobs.submit(
        command="python fit.py ${{inputs.table}}",
        code=str(tmp_path),
        inputs={"table": "data:iris-table"},
        register_model={"name": "iris-auto", "alias": "candidate", "tags": {"by": "job"}},
    ).wait(WAIT)
    assert job.info.status.value == "completed", job.logs()[-3000:]
    version = ws.models.info("iris-auto@candidate")
    assert version.ref == "iris-auto:1" and version.tags == {"by": "job"}
    assert version.lineage.job_id == job.id and version.lineage.run_id == job.info.mlflow_run_id
    assert version.lineage.data_inputs == ["data:iris-table:1"]
    assert "registered model iris-auto:1 (alias candidate)" in job.logs()
    events = [e for e in ws.jobs.events(job_id=job.id) if e["kind"] == "model_registered"]
    assert [e["data"] for e in events] == [{"model": "iris-auto", "version": 1}]
    # from the command line: NAME[,alias=..][,path=..]
    made = run_cli(
        ws.home,
        "run",
        "--command",
        "python fit.py ${{inputs.table}} 2",
        "--code",
        str(tmp_path),
        "--input",
        "table=data:iris-table",
        "--register-model",
        "iris-auto,path=model1,alias=second",
    )
    assert made.returncode == 0, made.stderr
    assert ws.models.info("iris-auto@second").ref == "iris-auto:2"


def test_register_model_errors_fail_early_or_fail_the_job(module_ws: Any) -> None:
    ws = module_ws
    before = ws.jobs.list(limit=500)
    for bad, message in (
        ({"name": "bad name"}, "invalid model name"),
        ({"name": "m", "alias": "latest"}, "invalid alias"),
        ({"nam": "m"}, "register_model"),
    ):
        with pytest.raises(InvalidInputError, match=message):
            ws.jobs.submit(command="echo hi", register_model=bad)
    bad_cli = run_cli(ws.home, "job", "submit", "--command", "echo", "--register-model", "m,x=1")
    assert bad_cli.returncode == 2 and "cannot read 'x=1'" in bad_cli.stderr
    assert len(ws.jobs.list(limit=500)) == len(before)  # nothing was queued
    # a job that logs no model has not done what it was asked: failed, saying why and how
    job = ws.jobs.submit(command="echo no model", register_model={"name": "never"}).wait(WAIT)
    assert job.info.status.value == "failed"
    assert "could not be registered as 'never'" in job.info.status_reason
    assert "log_model" in job.info.status_reason
    assert job.info.error is not None and job.info.error.kind == "model_error"
    assert "never" not in {m.name for m in ws.models.list()}


def test_batch_scoring_a_table_in_chunks_with_lineage(
    module_ws: Any, trained: dict[str, Any], tmp_path: Path
) -> None:
    import pandas as pd

    ws = module_ws
    model = ws.models.register("scorer", job=trained["one"].id)
    rows = pd.read_csv(IRIS)
    rows.iloc[:, :4].to_parquet(tmp_path / "rows.parquet")
    ws.data.create("iris-rows", tmp_path / "rows.parquet")
    job = ws.models.score("scorer", "data:iris-rows", "data:iris-scored", chunk_rows=40)
    job.wait(WAIT)
    assert job.info.status.value == "completed", job.logs()[-3000:]
    assert "scored 150 rows" in job.logs() and "scored 40 rows" in job.logs()  # 4 chunks
    scored = ws.data.info("iris-scored")
    assert scored.ref == "iris-scored:1" and scored.kind.value == "table"
    assert scored.job_id == job.id  # lineage: made by the scoring job, which read iris-rows:1
    assert [b.ref for b in job.info.inputs] == ["iris-rows:1"]
    assert job.info.tags["mlbench.model"] == model.ref
    table = ws.data.get("iris-scored").to_pandas()
    expected = ws.models.load(model.ref).predict(rows.iloc[:, :4])
    assert list(table.columns) == [*rows.columns[:4], "prediction"]
    assert list(table["prediction"]) == list(expected)
    # from the command line: predictions only
    made = run_cli(
        ws.home,
        "model",
        "score",
        "scorer",
        "--data",
        "data:iris-rows",
        "--output",
        "data:iris-scored",
        "--predictions-only",
        "--prediction-column",
        "species",
    )
    assert made.returncode == 0, made.stderr
    assert list(ws.data.get("iris-scored:2").to_pandas().columns) == ["species"]


def test_batch_scoring_refuses_bad_input_before_running(
    module_ws: Any, trained: dict[str, Any], tmp_path: Path
) -> None:
    ws = module_ws
    if "scorer" not in {m.name for m in ws.models.list()}:  # run alone
        ws.models.register("scorer", job=trained["one"].id)
        (tmp_path / "rows.csv").write_text(IRIS.read_text())
        ws.data.create("iris-rows", tmp_path / "rows.csv")
    (tmp_path / "notes.txt").write_text("not a table")
    ws.data.create("notes", tmp_path / "notes.txt")
    before = len(ws.jobs.list(limit=500))
    with pytest.raises(InvalidInputError, match="is a file, not a table"):
        ws.models.score("scorer", "data:notes", "data:out")
    with pytest.raises(NotFoundError):
        ws.models.score("no-such-model", "data:iris-rows", "data:out")
    with pytest.raises(InvalidInputError, match="always a Parquet table"):
        ws.models.score("scorer", "data:iris-rows", "data:out,format=csv")
    with pytest.raises(InvalidInputError, match="chunk_rows"):
        ws.models.score("scorer", "data:iris-rows", "data:out", chunk_rows=0)
    assert len(ws.jobs.list(limit=500)) == before
    # a table without the model's columns: the job fails naming them
    import pandas as pd

    pd.DataFrame({"a": [1.0, 2.0]}).to_parquet(tmp_path / "other.parquet")
    ws.data.create("other-rows", tmp_path / "other.parquet")
    job = ws.models.score("scorer", "data:other-rows", "data:out").wait(WAIT)
    assert job.info.status.value == "failed"
    assert "has no column(s) sepal_length" in job.logs()
    # a model fitted on a numpy array names no columns: the job says to name them
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression

    table = pd.read_csv(IRIS)
    X = table.iloc[:, :4].to_numpy()
    mlflow.sklearn.save_model(
        LogisticRegression(max_iter=500).fit(X, table.iloc[:, 4]),
        str(tmp_path / "np"),
        input_example=X[:2],
    )
    ws.models.register("numpy-model", folder=tmp_path / "np")
    ws.data.create("iris-full", IRIS)
    job = ws.models.score("numpy-model", "data:iris-full", "data:out").wait(WAIT)
    assert job.info.status.value == "failed"
    assert "takes 4 unnamed input columns" in job.logs() and "--features" in job.logs()
    features = list(table.columns[:4])
    job = ws.models.score("numpy-model", "data:iris-full", "data:out", features=features)
    assert job.wait(WAIT).info.status.value == "completed", job.logs()
    assert list(ws.data.get("out").to_pandas().columns) == [*table.columns, "prediction"]
