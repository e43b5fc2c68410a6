"""The command line, run as users run it (a subprocess), against a real workspace."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_notebook, run_cli

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cli_home(tmp_path_factory: pytest.TempPathFactory) -> Any:
    home = tmp_path_factory.mktemp("cli-ws")
    yield home
    subprocess.run(
        [sys.executable, "-m", "mlbench", "-w", str(home), "agent", "stop", "--now"],
        capture_output=True,
        timeout=120,
        check=False,
    )


def mlbench(home: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return run_cli(home, *args, timeout=timeout)


def test_run_example_notebook(cli_home: Path) -> None:
    result = mlbench(
        cli_home,
        "run",
        str(ROOT / "examples" / "train.ipynb"),
        "-p",
        "epochs",
        "3",
        "-p",
        "dataset",
        "wine",
        "--tag",
        "source=test",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "completed" in out and "final_accuracy=" in out
    assert "MLflow run:" in out and "output notebook:" in out
    assert "wine:" in out  # streamed cell output
    job_id = out.split("Submitted job ")[1].split()[0]
    shown = json.loads(mlbench(cli_home, "job", "show", job_id, "--json").stdout)
    assert shown["status"] == "completed"
    assert shown["parameters"] == {"epochs": 3, "dataset": "wine"}
    assert shown["tags"] == {"source": "test"}
    listed = json.loads(mlbench(cli_home, "job", "list", "--json", "--tag", "source=test").stdout)
    assert [j["id"] for j in listed["items"]] == [job_id]


def test_run_failing_notebook_exits_1_with_the_error(cli_home: Path, tmp_path: Path) -> None:
    nb = make_notebook(tmp_path / "fail.ipynb", "x = 1", "1 / 0")
    result = mlbench(cli_home, "run", str(nb))
    assert result.returncode == 1
    assert "failed" in result.stdout and "ZeroDivisionError" in result.stdout


def test_bad_input_is_one_clear_line_and_exit_2(cli_home: Path, tmp_path: Path) -> None:
    result = mlbench(
        cli_home, "run", str(ROOT / "examples" / "train.ipynb"), "-p", "epochs", "many"
    )
    assert result.returncode == 2
    assert "error: invalid parameters: 'epochs': expects int, got 'many'" in result.stderr
    assert "Traceback" not in result.stderr
    result = mlbench(cli_home, "job", "submit", str(tmp_path / "missing.ipynb"))
    assert result.returncode == 2 and "does not exist" in result.stderr
    result = mlbench(cli_home, "job", "show", "nonexistent")
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_submit_logs_cancel_delete_and_compute(cli_home: Path, tmp_path: Path) -> None:
    nb = make_notebook(
        tmp_path / "slow.ipynb", "print('tick', flush=True)", "import time\ntime.sleep(60)"
    )
    job_id = mlbench(cli_home, "job", "submit", str(nb)).stdout.strip()
    assert mlbench(cli_home, "job", "wait", job_id, "--timeout", "0.1").returncode == 2
    cancel = mlbench(cli_home, "job", "cancel", job_id)
    assert cancel.returncode == 0, cancel.stderr
    assert mlbench(cli_home, "job", "wait", job_id).stdout.strip() == "canceled"
    assert "canceled" in mlbench(cli_home, "job", "logs", job_id).stdout
    assert mlbench(cli_home, "job", "delete", job_id).returncode == 0
    created = mlbench(cli_home, "compute", "create", "gpu-box", "--gpu-ids", "0,1", "--cpus", "8")
    assert created.returncode == 0, created.stderr
    shown = json.loads(mlbench(cli_home, "compute", "show", "gpu-box", "--json").stdout)
    assert shown["target"]["capacity"]["gpu_ids"] == ["0", "1"]
    assert shown["target"]["capacity"]["cpus"] == 8
    assert "gpu-box" in mlbench(cli_home, "compute", "list").stdout
    assert mlbench(cli_home, "compute", "delete", "gpu-box").returncode == 0
    info = json.loads(mlbench(cli_home, "workspace", "info", "--json").stdout)
    assert info["home"] == str(cli_home)


def test_params_command(cli_home: Path) -> None:
    result = mlbench(cli_home, "params", str(ROOT / "examples" / "train.ipynb"), "--json")
    params = {p["name"]: p for p in json.loads(result.stdout)}
    assert params["epochs"]["type"] == "int" and params["learning_rate"]["type"] == "float"
    assert params["dataset"]["help"].startswith("one of")
