"""Shared fixtures: isolated Jupyter/IPython dirs, real workspaces, notebook builders."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

pytest_plugins = ["pytest_jupyter.jupyter_server"]

# The CLI and agent skip this slow, unused import (see mlbench.cli.main); so do the tests.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


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
