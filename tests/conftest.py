"""Shared fixtures: isolated Jupyter/IPython dirs, real workspaces, notebook builders."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import nbformat
import pytest

pytest_plugins = ["pytest_jupyter.jupyter_server"]

# The CLI and agent skip this slow, unused import (see mlbench.cli.main); so do the tests.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

# CI sets CI (`.ci/run` exports CI=true): there a test whose service is missing fails.
IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_service(missing: str, install: str) -> NoReturn:
    """A test cannot run because ``missing`` (a server, binary, package or privilege) is absent.

    Locally the test is skipped with that reason. In CI (``CI`` set) it fails instead, naming
    what is missing and ``install``, how to get it: a CI run that silently skipped the Ray,
    PostgreSQL or storage tests would prove nothing about them.
    """
    message = f"{missing} (to get it: {install})"
    if IN_CI:
        pytest.fail(f"missing in CI, where no test may skip: {message}", pytrace=False)
    pytest.skip(message, allow_module_level=True)


def require_module(name: str, install: str) -> Any:
    """``pytest.importorskip`` under :func:`require_service`'s rule (fails in CI).

    Call it from a fixture or a test, not at module level: there a failure would be a
    collection error that stops the whole run instead of failing this module's tests.
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        require_service(f"the Python module {name!r} cannot be imported ({exc})", install)


@pytest.fixture(autouse=True, scope="session")
def _isolated_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep kernels' connection files and IPython state out of the home folder."""
    base = tmp_path_factory.mktemp("jupyter-env")
    saved = dict(os.environ)
    os.environ["JUPYTER_RUNTIME_DIR"] = str(base / "runtime")
    os.environ["IPYTHONDIR"] = str(base / "ipython")
    os.environ.pop("MLBENCH_HOME", None)
    os.environ.pop("MLBENCH_SETTINGS_JSON", None)
    yield
    os.environ.clear()
    os.environ.update(saved)


def run_cli(
    home: Path, *args: str, timeout: float = 180, idle_s: float = 60
) -> subprocess.CompletedProcess[str]:
    """``mlbench -w HOME ARGS...`` in a subprocess, as a user types it (wide output, agents it
    starts exit after ``idle_s`` idle)."""
    env = {**os.environ, "MLBENCH_AGENT_IDLE_TIMEOUT_S": str(idle_s), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "mlbench", "-w", str(home), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def make_notebook(
    path: Path,
    *cells: str,
    parameters: str | None = None,
    kernel: str = "python3",
) -> Path:
    """Write a notebook: an optional cell tagged 'parameters', then the given code cells."""
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": kernel, "display_name": kernel, "language": "python"}
    if parameters is not None:
        cell = nbformat.v4.new_code_cell(parameters)
        cell.metadata.tags = ["parameters"]
        nb.cells.append(cell)
    nb.cells.extend(nbformat.v4.new_code_cell(source) for source in cells)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


@pytest.fixture
def notebook(tmp_path: Path) -> Any:
    def build(
        *cells: str, parameters: str | None = None, name: str = "nb.ipynb", **kw: Any
    ) -> Path:
        return make_notebook(tmp_path / name, *cells, parameters=parameters, **kw)

    return build


def _stop_agents(ws: Any) -> None:
    from mlbench.agent.process import AgentHandle

    for target in ws.compute.list():
        AgentHandle(ws, target.name).stop(now=True, timeout=30)


@pytest.fixture(scope="module")
def module_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A workspace shared by a module's tests (agents start once); agents stopped at the end."""
    from mlbench import Workspace

    ws = Workspace(
        tmp_path_factory.mktemp("ws"),
        agent_idle_timeout_s=60,
        cancel_grace_s=2,
    )
    yield ws
    _stop_agents(ws)
    ws.close()


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Any]:
    """A fresh workspace for one test."""
    from mlbench import Workspace

    ws = Workspace(tmp_path / "ws", agent_idle_timeout_s=60, cancel_grace_s=2)
    yield ws
    _stop_agents(ws)
    ws.close()
