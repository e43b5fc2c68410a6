"""Issue 12, item 10: a damaged workspace database is one clear line for every command, an emptied
one is not taken for a new workspace, and `mlbench workspace check|backup|restore` recover.

Run as users run it: the CLI in a subprocess, against a workspace that ran a real job (real
agent, kernel and MLflow store); damage is done by writing over the database file.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_notebook, run_cli

COMMANDS = [
    ("job", "list"),
    ("compute", "list"),
    ("data", "list"),
    ("datastore", "list"),
    ("agent", "status"),
]


def mlbench(home: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return run_cli(home, *args, timeout=timeout, idle_s=30)


def _stop(home: Path) -> None:
    mlbench(home, "agent", "stop", "--now", timeout=120)


@contextlib.contextmanager
def running_agent(home: Path) -> Iterator[None]:
    """The local agent of ``home`` running (in the foreground of a child process)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlbench", "-w", str(home), "agent"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while "running" not in mlbench(home, "agent", "status").stdout:
            assert proc.poll() is None and time.monotonic() < deadline, "the agent did not start"
            time.sleep(0.3)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=60)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A workspace that ran one job (its MLflow run, artifacts and job folder exist)."""
    base = tmp_path_factory.mktemp("ops")
    nb = make_notebook(
        base / "nb.ipynb",
        "import mlflow\nmlflow.log_metric('m', 1.5)\nprint('done', x)",
        parameters="x = 1",
    )
    home = base / "ws"
    result = mlbench(home, "run", str(nb), "-p", "x", "7")
    assert result.returncode == 0, result.stdout + result.stderr
    yield home
    _stop(home)


def _job(home: Path) -> dict[str, Any]:
    listed = mlbench(home, "job", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    items = json.loads(listed.stdout)["items"]
    assert len(items) == 1
    return dict(items[0])


def _one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    # (log lines, e.g. a deprecation warning about the environment, are not the error)
    lines = [
        ln
        for ln in result.stderr.splitlines()
        if ln.strip() and not ln.startswith(("WARNING ", "INFO ", "DEBUG "))
    ]
    assert lines[0].startswith("error: ") and len(lines) <= 2, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def test_check_a_healthy_workspace(home: Path) -> None:
    result = mlbench(home, "workspace", "check", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"]
    checks = {f["check"]: f for f in report["findings"]}
    assert {"database", "mlflow database", "mlflow store", "artifacts", "job folders"} <= set(
        checks
    )


def test_check_a_workspace_never_used(tmp_path: Path) -> None:
    """A new user's first `workspace check` is not a problem to restore from a backup."""
    fresh = tmp_path / "never-used"
    r = mlbench(fresh, "workspace", "check")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "a new workspace" in r.stdout and "problem" not in r.stdout


def test_check_reports_orphans_and_leaves_them(home: Path) -> None:
    job = _job(home)
    jobs_dir = home / "jobs"
    orphan = jobs_dir / "no-such-job"
    orphan.mkdir()
    moved = jobs_dir.parent / "moved-away"
    (jobs_dir / job["id"]).rename(moved)
    try:
        result = mlbench(home, "workspace", "check")
        assert result.returncode == 1, result.stdout + result.stderr
        assert "1 job folder(s) without a job in the database: no-such-job" in result.stdout
        assert f"1 job(s) in the database without a folder: {job['id']}" in result.stdout
        assert orphan.is_dir()  # reported, not deleted
    finally:
        orphan.rmdir()
        moved.rename(jobs_dir / job["id"])
    assert mlbench(home, "workspace", "check").returncode == 0


def test_backup_online_and_restore_elsewhere(home: Path, tmp_path: Path) -> None:
    job = _job(home)
    backup = tmp_path / "backup"
    with running_agent(home):  # online: the agent keeps the databases open meanwhile
        made = mlbench(home, "workspace", "backup", str(backup))
    assert made.returncode == 0, made.stdout + made.stderr
    assert (backup / "mlbench.db").is_file() and (backup / "mlflow" / "mlflow.db").is_file()
    assert (backup / "jobs" / job["id"] / "input.ipynb").is_file()
    assert not (backup / "agents").exists()
    again = mlbench(home, "workspace", "backup", str(backup))
    _one_line_error(again, "not empty")

    new_home = tmp_path / "restored"
    done = mlbench(new_home, "workspace", "restore", str(backup))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pointed at the new location" in done.stdout
    assert mlbench(new_home, "workspace", "check").returncode == 0
    restored = _job(new_home)
    assert restored["id"] == job["id"] and restored["status"] == "completed"
    assert restored["mlflow_run_id"] == job["mlflow_run_id"]
    logs = mlbench(new_home, "job", "logs", job["id"])
    assert logs.returncode == 0 and "done 7" in logs.stdout, logs.stdout + logs.stderr
    _artifacts_readable(new_home, job["mlflow_run_id"], tmp_path / "artifacts")

    # Over a workspace with content: refused, then moved aside with --force (never deleted).
    refused = mlbench(new_home, "workspace", "restore", str(backup))
    _one_line_error(refused, "not empty", "--force")
    forced = mlbench(new_home, "workspace", "restore", str(backup), "--force")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    aside = next(tmp_path.glob("restored.before-restore-*"))
    assert (aside / "mlbench.db").is_file()
    assert _job(new_home)["id"] == job["id"]


def _artifacts_readable(home: Path, run_id: str, dest: Path) -> None:
    """The run's artifacts through the restored workspace's MLflow store (moved URIs)."""
    from mlbench import Workspace

    ws = Workspace(home)
    try:
        client = ws.tracking.client
        names = [a.path for a in client.list_artifacts(run_id)]
        assert names, "no artifacts"
        dest.mkdir()
        got = Path(client.download_artifacts(run_id, "", str(dest)))
        assert str(home) in client.get_run(run_id).info.artifact_uri
        assert any(p.suffix == ".ipynb" for p in got.rglob("*")), names
    finally:
        ws.close()


def test_restore_refuses_while_an_agent_runs(home: Path, tmp_path: Path) -> None:
    backup = tmp_path / "b"
    assert mlbench(home, "workspace", "backup", str(backup)).returncode == 0
    with running_agent(home):
        refused = mlbench(home, "workspace", "restore", str(backup), "--force")
    _one_line_error(refused, "agent", "running", "mlbench agent stop")
    assert _job(home)["status"] == "completed"  # nothing was touched
    assert not list(home.parent.glob("ws.before-restore-*"))


def _damaged_copy(home: Path, tmp_path: Path, name: str) -> tuple[Path, Path]:
    backup = tmp_path / f"{name}-backup"
    assert mlbench(home, "workspace", "backup", str(backup)).returncode == 0
    copy = tmp_path / name
    assert mlbench(copy, "workspace", "restore", str(backup)).returncode == 0
    return copy, backup


def test_garbage_over_the_database_is_one_line_for_every_command(
    home: Path, tmp_path: Path
) -> None:
    copy, backup = _damaged_copy(home, tmp_path, "garbage")
    db = copy / "mlbench.db"
    db.write_bytes(os.urandom(64 * 1024))
    for command in COMMANDS:
        _one_line_error(mlbench(copy, *command), str(db), "damaged", "workspace restore")
    checked = mlbench(copy, "workspace", "check")
    assert checked.returncode == 1 and "is damaged" in checked.stdout
    # The recovery the message names works.
    fixed = mlbench(copy, "workspace", "restore", str(backup), "--force")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert _job(copy)["status"] == "completed"


def test_a_malformed_database_is_one_line(home: Path, tmp_path: Path) -> None:
    copy, _ = _damaged_copy(home, tmp_path, "malformed")
    db = copy / "mlbench.db"
    for side in ("-wal", "-shm"):
        Path(f"{db}{side}").unlink(missing_ok=True)
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big") or 65536
    for start in range(page, len(data), page):  # every page after the first: the tables
        data[start : start + 64] = b"\xa5" * 64
    db.write_bytes(bytes(data))
    for command in COMMANDS[:2]:
        _one_line_error(mlbench(copy, *command), str(db), "damaged")
    checked = mlbench(copy, "workspace", "check", "--json")
    assert checked.returncode == 1
    finding = next(f for f in json.loads(checked.stdout)["findings"] if f["check"] == "database")
    assert not finding["ok"]


@pytest.mark.parametrize("how", ["empty", "missing"])
def test_an_emptied_database_is_not_a_new_workspace(home: Path, tmp_path: Path, how: str) -> None:
    copy, _ = _damaged_copy(home, tmp_path, f"emptied-{how}")
    db = copy / "mlbench.db"
    for side in ("-wal", "-shm"):
        Path(f"{db}{side}").unlink(missing_ok=True)
    if how == "empty":
        db.write_bytes(b"")
    else:
        db.unlink()
    result = mlbench(copy, "job", "list")
    _one_line_error(result, str(db), "1 job folder(s)", "workspace restore")
    assert not db.exists() or db.stat().st_size == 0  # nothing was created over it


def test_a_new_workspace_still_starts_from_an_empty_file(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "mlbench.db").write_bytes(b"")
    result = mlbench(fresh, "compute", "list")
    assert result.returncode == 0, result.stdout + result.stderr


def test_backup_refuses_a_damaged_database(home: Path, tmp_path: Path) -> None:
    copy, _ = _damaged_copy(home, tmp_path, "nobackup")
    (copy / "mlbench.db").write_bytes(b"x" * 8192)
    result = mlbench(copy, "workspace", "backup", str(tmp_path / "never"))
    _one_line_error(result, "damaged")
    assert not (tmp_path / "never").exists() and not (tmp_path / "never.partial").exists()


def test_restore_refuses_what_is_not_a_backup(tmp_path: Path) -> None:
    (tmp_path / "nothing").mkdir()
    result = mlbench(tmp_path / "ws", "workspace", "restore", str(tmp_path / "nothing"))
    _one_line_error(result, "not an mlbench backup")
    shutil.rmtree(tmp_path / "ws", ignore_errors=True)


# -- the REST face -----------------------------------------------------------------------------
@pytest.fixture
def jp_server_config(tmp_path: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"mlbench": True}},
        "MlbenchApp": {"workspace": str(tmp_path / "srv-ws"), "warm_tracking": False},
    }


async def test_rest_answers_503_naming_the_damaged_database(
    jp_fetch: Any, jp_serverapp: Any
) -> None:
    ws = jp_serverapp.web_app.settings["mlbench_workspace"]
    ok = await jp_fetch("mlbench/api/v1/compute", raise_error=False)
    assert ok.code == 200
    db = ws.paths.database
    ws.db.dispose()  # the damage reaches the next connection
    for side in ("-wal", "-shm"):
        Path(f"{db}{side}").unlink(missing_ok=True)
    db.write_bytes(os.urandom(64 * 1024))
    r = await jp_fetch("mlbench/api/v1/compute", raise_error=False)
    assert r.code == 503, r.body
    error = json.loads(r.body)["error"]
    assert error["code"] == "database_damaged" and str(db) in error["message"]
    assert "workspace restore" in error["hint"]
