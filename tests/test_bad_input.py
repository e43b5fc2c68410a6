"""Bad input: a clear error naming the problem and the fix, and nothing queued."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlbench.errors import (
    ComputeNotFoundError,
    ConflictError,
    InvalidInputError,
    JobNotFoundError,
    KernelNotFoundError,
    NotebookError,
    ParameterError,
    ResourceRequestError,
)


def _no_jobs(ws: Any) -> None:
    assert len(ws.jobs.list()) == 0
    assert not ws.jobs.agent("local").is_running()
    assert (
        not [p for p in ws.paths.jobs_dir.glob("*") if p.is_dir()]
        if ws.paths.jobs_dir.exists()
        else True
    )


def test_missing_notebook(ws: Any, tmp_path: Path) -> None:
    with pytest.raises(NotebookError, match="does not exist"):
        ws.jobs.submit(tmp_path / "nope.ipynb")
    _no_jobs(ws)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not a valid Jupyter notebook"),
        (b"print('a script')\n", "not a valid Jupyter notebook"),
        (
            b'{"cells": "wrong", "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
            "not a valid Jupyter notebook",
        ),
        (
            b'{"cells": [], "metadata": {"kernelspec": 5}, "nbformat": 4, "nbformat_minor": 5}',
            "does not follow the notebook format",
        ),
        (b"\xff\xfe\x00binary", "not UTF-8"),
    ],
)
def test_malformed_notebooks(ws: Any, tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.ipynb"
    path.write_bytes(content)
    with pytest.raises(NotebookError, match=message) as info:
        ws.jobs.submit(path)
    assert info.value.hint
    assert path.read_bytes() == content  # never modified
    _no_jobs(ws)


def test_missing_kernel(ws: Any, notebook: Any) -> None:
    nb = notebook("x = 1", kernel="no-such-kernel")
    with pytest.raises(KernelNotFoundError, match="no-such-kernel") as info:
        ws.jobs.submit(nb)
    assert "python3" in (info.value.hint or "")
    _no_jobs(ws)


def test_missing_compute_target(ws: Any, notebook: Any) -> None:
    with pytest.raises(ComputeNotFoundError, match="'gpu-box' does not exist") as info:
        ws.jobs.submit(notebook("x = 1"), compute="gpu-box")
    assert "mlbench compute create" in (info.value.hint or "")
    _no_jobs(ws)


def test_wrong_parameter_types_and_names(ws: Any, notebook: Any) -> None:
    nb = notebook("pass", parameters="epochs = 10\nlr = 0.1\nname = 'a'")
    with pytest.raises(ParameterError) as info:
        ws.jobs.submit(nb, {"epochs": "ten", "lr": True, "nmae": "typo"})
    message = str(info.value)
    assert "'epochs': expects int" in message
    assert "'lr': expects float" in message
    assert "'nmae' is not a parameter of this notebook (known: epochs, lr, name)" in message
    assert "--allow-unknown-params" in message
    _no_jobs(ws)


def test_parameters_without_parameters_cell(ws: Any, notebook: Any) -> None:
    with pytest.raises(ParameterError, match="no cell tagged 'parameters'"):
        ws.jobs.submit(notebook("x = 1"), {"x": 2})
    _no_jobs(ws)


def test_unknown_parameters_allowed_on_request(ws: Any, notebook: Any) -> None:
    job = ws.jobs.submit(notebook("print(y)"), {"y": 5}, allow_unknown_params=True)
    assert job.wait(120).status.value == "completed"
    assert "5" in job.logs()


def test_impossible_resources(ws: Any, notebook: Any) -> None:
    ws.compute.create("two-gpus", "local", gpu_ids=[0, 1])
    with pytest.raises(ResourceRequestError, match=r"3 GPU.* has 2"):
        ws.jobs.submit(notebook("x = 1"), compute="two-gpus", gpus=3)
    with pytest.raises(ResourceRequestError, match="memory"):
        ws.jobs.submit(notebook("x = 1"), memory="lots")
    with pytest.raises(InvalidInputError, match="timeout"):
        ws.jobs.submit(notebook("x = 1"), timeout_s=-1)
    _no_jobs(ws)


def test_unknown_ids_and_conflicts(ws: Any) -> None:
    with pytest.raises(JobNotFoundError):
        ws.jobs.get("does-not-exist")
    with pytest.raises(ConflictError, match="cannot be deleted"):
        ws.compute.delete("local")
    with pytest.raises(InvalidInputError, match="invalid compute target name"):
        ws.compute.create("bad name!", "local")
    with pytest.raises(InvalidInputError, match="unknown compute kind"):
        ws.compute.create("x", "quantum")
    with pytest.raises(InvalidInputError, match="cpus"):
        ws.compute.create("x", "local", cpus=-2)
    with pytest.raises(InvalidInputError, match="invalid cursor"):
        ws.jobs.list(cursor="garbage")
    with pytest.raises(InvalidInputError, match="unknown status"):
        ws.jobs.list(status="sleeping")


def test_active_jobs_cannot_be_deleted(ws: Any, notebook: Any) -> None:
    job = ws.jobs.submit(notebook("import time\ntime.sleep(30)"))
    with pytest.raises(ConflictError, match="cancel them first"):
        job.delete()
    job.cancel().wait(120)
    job.delete()
    with pytest.raises(JobNotFoundError):
        ws.jobs.get(job.id)
    assert not ws.paths.job_dir(job.id).exists()


def test_bad_workspace_settings(tmp_path: Path) -> None:
    from mlbench import Workspace

    (tmp_path / "mlbench.yaml").write_text("agent_idle_timeout_s: soon\n")
    with pytest.raises(InvalidInputError, match="agent_idle_timeout_s") as info:
        Workspace(tmp_path)
    assert "mlbench.yaml" in (info.value.hint or "")
    (tmp_path / "mlbench.yaml").write_text("no_such_setting: 1\n")
    with pytest.raises(InvalidInputError, match="no_such_setting"):
        Workspace(tmp_path)
