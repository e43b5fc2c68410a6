"""Command jobs and Azure ML job YAML, on real processes, MLflow and the local agent."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlbench.errors import InvalidInputError
from mlbench.jobs.command import check_command, placeholders, resolve, scan_code
from tests.conftest import run_cli
from tests.test_jobs import WAIT, wait_for

TRAIN = """\
import argparse, os, sys
import mlbench
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, default=0.1)
p.add_argument("--data")
p.add_argument("--out")
p.add_argument("--exit", type=int, default=0)
a = p.parse_args()
for step in range(3):
    mlbench.log_metric("loss", a.lr / (step + 1), step=step)
if a.data:
    target = a.data if os.path.isfile(a.data) else os.path.join(a.data, "rows.csv")
    print("rows:", open(target).read().strip())
if a.out:
    with open(os.path.join(a.out, "model.txt"), "w") as f:
        f.write(f"lr={a.lr}")
print("greeting:", os.environ.get("GREETING"), "cwd:", os.path.basename(os.getcwd()))
if a.exit:
    print("something went wrong", file=sys.stderr)
    print("ValueError: the last words", file=sys.stderr)
    sys.exit(a.exit)
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A code folder with a script, data next to it, and files its .gitignore leaves out."""
    root = tmp_path / "project"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "train.py").write_text(TRAIN)
    (root / "src" / "pkg" / "util.py").write_text("X = 1\n")
    (root / "src" / ".gitignore").write_text("*.ckpt\nscratch/\n")
    (root / "src" / "old.ckpt").write_text("x" * 1000)
    (root / "src" / "scratch").mkdir()
    (root / "src" / "scratch" / "tmp.txt").write_text("tmp")
    (root / "data").mkdir()
    (root / "data" / "rows.csv").write_text("a,b\n1,2\n")
    return root


# -- placeholders and the code snapshot (no processes) ------------------------------------------
def test_placeholders_resolve_with_quoting_and_optional_parts(tmp_path: Path) -> None:
    command = (
        "python train.py --lr ${{inputs.lr}} --name ${{inputs.name}} "
        "[--seed ${{inputs.seed}}] --out ${{outputs.model}} --p ${{search_space.p}}"
    )
    assert [(p.kind, p.name) for p in placeholders(command)] == [
        ("inputs", "lr"),
        ("inputs", "name"),
        ("inputs", "seed"),
        ("outputs", "model"),
        ("search_space", "p"),
    ]
    params = {"lr": 0.01, "name": "two words", "p": True}
    check_command(command, params, {})  # seed is optional
    text = resolve(command, params, tmp_path / "outputs")
    assert text == (
        f"python train.py --lr 0.01 --name 'two words'  --out {tmp_path}/outputs/model --p true"
    )
    assert (tmp_path / "outputs" / "model").is_dir()
    with_seed = resolve(command, {**params, "seed": 7}, tmp_path / "outputs")
    assert "--seed 7 --out" in with_seed


@pytest.mark.parametrize(
    "command, message",
    [
        ("python x.py ${{inputs.lr}}", r"\$\{\{inputs.lr\}\} not given"),
        (
            "python x.py ${{input.lr}}",
            "cannot resolve '\\$\\{\\{input.lr\\}\\}' \\(at character 13\\)",
        ),
        ("python x.py ${{inputs.}}", "cannot resolve"),
        ("python x.py ${{inputs.lr", "unclosed placeholder at character 13"),
    ],
)
def test_bad_placeholders_are_clear_errors(command: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message) as err:
        check_command(command, {}, {})
    assert err.value.hint


def test_the_snapshot_honours_ignore_files_and_its_size_limit(project: Path) -> None:
    snap = scan_code(project / "src")
    assert [rel for rel, _ in snap.files] == ["pkg/util.py", "train.py"]
    (project / "src" / ".amlignore").write_text("pkg/\n")  # .amlignore wins over .gitignore
    assert [rel for rel, _ in scan_code(project / "src").files] == [
        "old.ckpt",
        "scratch/tmp.txt",
        "train.py",
    ]
    with pytest.raises(InvalidInputError, match="more than 0 MiB") as err:
        scan_code(project / "src", max_bytes=100)
    assert ".amlignore" in (err.value.hint or "")


# -- command jobs on the local agent ------------------------------------------------------------
def test_command_job_with_inputs_outputs_env_and_metrics(module_ws: Any, project: Path) -> None:
    ws = module_ws
    job = ws.jobs.submit(
        command="python train.py --lr ${{inputs.lr}} --data ${{inputs.data}} "
        "--out ${{outputs.model}}",
        code=str(project / "src"),
        parameters={"lr": 0.5, "data": str(project / "data")},
        environment_variables={"GREETING": "hello"},
        experiment="commands",
    )
    info = job.wait(WAIT).info
    assert info.status.value == "completed", info.status_reason
    log = job.logs()
    assert "rows: a,b\n1,2" in log and "greeting: hello cwd: work" in log
    assert f"$ python train.py --lr 0.5 --data {project / 'data'} --out" in log
    assert (ws.paths.outputs(job.id) / "model" / "model.txt").read_text() == "lr=0.5"
    assert sorted(p.name for p in ws.paths.code(job.id).iterdir()) == ["pkg", "train.py"]
    run = ws.tracking.client.get_run(info.mlflow_run_id)
    assert run.data.metrics["loss"] == pytest.approx(0.5 / 3)
    assert run.data.tags["mlbench.command"].startswith("python train.py")
    artifacts = [a.path for a in ws.tracking.client.list_artifacts(info.mlflow_run_id, "outputs")]
    assert artifacts == ["outputs/model"]
    assert info.command is not None and info.notebook_path == ""
    # a rerun runs the snapshot again, with a change
    again = ws.jobs.rerun(job.id, {"lr": 0.25}).wait(WAIT)
    assert again.info.status.value == "completed"
    assert (ws.paths.outputs(again.id) / "model" / "model.txt").read_text() == "lr=0.25"
    assert again.info.spec_hash != info.spec_hash


def test_a_failing_command_fails_with_the_tail_of_stderr(module_ws: Any, project: Path) -> None:
    job = module_ws.jobs.submit(command="python train.py --exit 3", code=str(project / "src"))
    info = job.wait(WAIT).info
    assert info.status.value == "failed"
    assert info.status_reason == "the command exited with code 3: ValueError: the last words"
    assert info.error is not None and info.error.kind == "exit_code"
    assert info.error.traceback[-2:] == ["something went wrong", "ValueError: the last words"]


def test_cancel_and_timeout_stop_a_command(module_ws: Any, tmp_path: Path) -> None:
    ws = module_ws
    job = ws.jobs.submit(command="echo started; sleep 60; echo never")
    wait_for(lambda: "started" in job.logs())
    job.cancel()
    info = job.wait(WAIT).info
    assert info.status.value == "canceled" and "\nnever\n" not in job.logs()
    slow = ws.jobs.submit(command="python -c 'import time; time.sleep(60)'", timeout_s=1)
    info = slow.wait(WAIT).info
    assert info.status.value == "timed_out", info.status_reason


def test_mlflow_autolog_lands_in_the_jobs_run(module_ws: Any, tmp_path: Path) -> None:
    code = tmp_path / "autolog"
    code.mkdir()
    (code / "fit.py").write_text(
        textwrap.dedent(
            """\
            import mlflow
            from sklearn.datasets import load_iris
            from sklearn.linear_model import LogisticRegression
            mlflow.autolog()
            X, y = load_iris(return_X_y=True)
            with mlflow.start_run():  # MLFLOW_RUN_ID: the job's own run
                LogisticRegression(max_iter=200, C=0.5).fit(X, y)
            """
        )
    )
    job = module_ws.jobs.submit(command="python fit.py", code=str(code))
    info = job.wait(WAIT).info
    assert info.status.value == "completed", job.logs()[-2000:]
    run = module_ws.tracking.client.get_run(info.mlflow_run_id)
    assert run.data.params["C"] == "0.5"
    assert "training_score" in run.data.metrics


def test_a_gateway_refuses_commands_and_bad_commands_create_nothing(
    module_ws: Any, project: Path
) -> None:
    ws = module_ws
    before = len(ws.jobs.list(limit=1000))
    for fields, message in [
        ({"command": "python train.py ${{inputs.lr}}"}, "inputs.lr\\}\\} not given"),
        ({"command": "python x.py", "code": str(project / "nope")}, "does not exist"),
        ({"command": "x", "notebook_path": "a.ipynb"}, "either notebook_path"),
        ({"code": str(project)}, "either notebook_path"),
    ]:
        with pytest.raises(InvalidInputError, match=message):
            ws.jobs.submit(**fields)
    assert len(ws.jobs.list(limit=1000)) == before


# -- Azure ML job YAML ---------------------------------------------------------------------------
def _write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def test_azureml_command_yaml_runs_as_written(module_ws: Any, project: Path) -> None:
    ws = module_ws
    job_file = _write(
        project / "job.yml",
        """\
        $schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
        code: src
        command: >-
          python train.py --lr ${{inputs.learning_rate}} --data ${{inputs.rows}}
          --out ${{outputs.model_dir}}
        inputs:
          learning_rate: 0.01
          rows:
            type: uri_file
            path: data/rows.csv
            mode: ro_mount
        outputs:
          model_dir:
            type: uri_folder
        environment: azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest
        environment_variables:
          GREETING: from-yaml
        compute: azureml:cpu-cluster
        display_name: hello-command
        experiment_name: yaml-demo
        description: Train with a script
        resources:
          instance_count: 2
        distribution:
          type: pytorch
        limits:
          timeout: 300
        """,
    )
    loaded = ws.jobs.load_yaml(job_file)
    assert loaded.notes == [
        "distribution: multi-node distribution is not run here: the command runs once",
        "compute azureml:cpu-cluster: no compute target 'cpu-cluster' here -> local",
        "input rows: mode ro_mount -> a local path",
        "environment azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest: no mlbench "
        "environment 'AzureML-sklearn-1.0-ubuntu20.04-py38-cpu' -> the current Python (create "
        "one: mlbench env create AzureML-sklearn-1.0-ubuntu20.04-py38-cpu -r requirements.txt)",
        "resources.instance_count: 2 is Azure's -> not applied here",
    ]
    job = ws.jobs.submit_yaml(job_file)
    info = job.wait(WAIT).info
    assert info.status.value == "completed", info.status_reason
    assert info.display_name == "hello-command" and info.experiment == "yaml-demo"
    assert info.timeout_s == 300 and info.tags["description"] == "Train with a script"
    assert "rows: a,b" in job.logs() and "greeting: from-yaml" in job.logs()
    assert (ws.paths.outputs(job.id) / "model_dir" / "model.txt").read_text() == "lr=0.01"
    # export -> run again: the same spec
    exported = project / "exported.yml"
    exported.write_text(ws.jobs.export_yaml(job.id))
    doc = yaml.safe_load(exported.read_text())
    assert doc["type"] == "command" and doc["inputs"]["rows"]["type"] == "uri_file"
    again = ws.jobs.submit_yaml(exported).wait(WAIT)
    first, second = ws.jobs.spec(job.id), ws.jobs.spec(again.id)
    same = ("command", "code", "parameters", "environment_variables", "compute", "timeout_s")
    assert {k: getattr(first, k) for k in same} == {k: getattr(second, k) for k in same}
    assert again.info.spec_hash == info.spec_hash


@pytest.mark.parametrize(
    "text, message",
    [
        ("command: echo hi\ncomand: typo\n", "job.yml:2: unknown key 'comand'"),
        ("command: echo hi\ninputs:\n  x:\n    type: uri_blob\n    path: a\n", "job.yml:3"),
        ("type: pipeline\njobs: {}\n", "a pipeline needs jobs"),
        ("type: command\n", "a command job needs a command"),
        ("command: echo ${{inputs.x}}\n", "inputs.x\\}\\} not given"),
        (
            "command: cat ${{inputs.d}}\ninputs:\n  d:\n    type: uri_folder\n    path: "
            "wasbs://c@a.blob.core.windows.net/p\n",
            "job.yml:3: input d: az://c/p is not inside any datastore",
        ),
        ("command: [a\n", "not valid YAML"),
    ],
)
def test_bad_job_files_name_the_line_and_create_nothing(
    module_ws: Any, tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "job.yml"
    path.write_text(text)
    before = len(module_ws.jobs.list(limit=1000))
    with pytest.raises(InvalidInputError, match=message):
        module_ws.jobs.submit_yaml(path)
    assert len(module_ws.jobs.list(limit=1000)) == before


def test_azureml_sweep_over_a_script(module_ws: Any, project: Path) -> None:
    sweep_file = _write(
        project / "sweep.yml",
        """\
        $schema: https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json
        type: sweep
        trial:
          code: src
          command: >-
            python train.py --lr ${{search_space.learning_rate}} --data ${{inputs.rows}}
          environment: azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest
        inputs:
          rows:
            type: uri_folder
            path: data
        compute: azureml:cpu-cluster
        sampling_algorithm:
          type: random
          seed: 5
        search_space:
          learning_rate:
            type: uniform
            min_value: 0.01
            max_value: 0.9
        objective:
          goal: minimize
          primary_metric: loss
        limits:
          max_total_trials: 4
          max_concurrent_trials: 2
          timeout: 3600
        experiment_name: yaml-sweep
        """,
    )
    sweep = module_ws.jobs.submit_yaml(sweep_file)
    info = sweep.wait(WAIT).info
    assert info.status.value == "completed", info.status_reason
    trials = sweep.trials()
    assert len(trials) == 4 and all(t.status.value == "completed" for t in trials)
    lrs = [t.parameters["learning_rate"] for t in trials]
    assert all(0.01 <= lr <= 0.9 for lr in lrs)
    best = min(trials, key=lambda t: t.value or 1e9)
    assert info.best_trial == best.index
    assert best.value == pytest.approx(best.parameters["learning_rate"] / 3)
    assert "rows: a,b" in module_ws.jobs.logs(best.job_id)[0]
    # a search space parameter the command does not use is refused
    text = sweep_file.read_text().replace("${{search_space.learning_rate}}", "0.1")
    unused = _write(project / "unused.yml", text)
    with pytest.raises(InvalidInputError, match="not used by the command"):
        module_ws.jobs.submit_yaml(unused)


def test_cli_runs_a_job_file_and_a_command(tmp_path: Path, project: Path) -> None:
    home = tmp_path / "cli-ws"
    job_file = _write(
        project / "hello.yml",
        """\
        command: echo "hello ${{inputs.who}}" && echo "$GREETING"
        inputs:
          who: world
        environment_variables:
          GREETING: hi
        compute: azureml:gpu-cluster
        """,
    )
    done = run_cli(home, "run", str(job_file))
    assert done.returncode == 0, done.stderr
    assert "hello world\nhi\n" in done.stdout
    assert "note: compute azureml:gpu-cluster: no compute target 'gpu-cluster' here -> local" in (
        done.stderr
    )
    failed = run_cli(
        home, "run", "--command", "python train.py --exit 2", "--code", str(project / "src")
    )
    assert failed.returncode == 1 and "exited with code 2" in failed.stdout + failed.stderr
    jobs = json.loads(run_cli(home, "job", "list", "--json").stdout)["items"]
    exported = run_cli(home, "job", "export", jobs[-1]["id"])
    assert exported.returncode == 0 and "type: command" in exported.stdout
    assert 'command: echo "hello ${{inputs.who}}"' in exported.stdout
    run_cli(home, "agent", "stop", "--now")
