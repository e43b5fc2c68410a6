"""``%%mlbench job``: a cell written as a one-cell notebook in the workspace, for submission."""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import nbformat


def cell_notebook_name() -> str:
    """``<notebook>_cell`` when the kernel knows its notebook (JupyterLab sets
    ``JPY_SESSION_NAME``), else ``cell``: the job's default name and experiment."""
    session = os.environ.get("JPY_SESSION_NAME", "")
    stem = Path(session).stem if session else ""
    return f"{stem}_cell" if stem else "cell"


def current_kernel_name() -> str:
    """The installed kernel whose Python is this kernel's, so the job runs where the cell
    would have; ``python3`` when none matches."""
    from jupyter_client.kernelspec import KernelSpecManager

    try:
        specs = KernelSpecManager().get_all_specs()
    except Exception:
        return "python3"
    here = os.path.realpath(sys.executable)
    matches = []
    for name, spec in specs.items():
        argv = spec.get("spec", {}).get("argv") or []
        if argv and argv[0] not in ("python", "python3"):
            if os.path.realpath(argv[0]) == here:
                matches.append(name)
        elif argv and name == "python3":
            matches.append(name)  # "python" in argv means the kernel's own interpreter
    if "python3" in matches:
        return "python3"
    return matches[0] if matches else "python3"


def build_notebook(
    source: str, parameter_names: Iterable[str], kernel: str
) -> nbformat.NotebookNode:
    """A notebook of the cell's code, after a ``parameters`` cell declaring each name as
    ``None`` (so values are typed by papermill's rule, as untyped CLI parameters are)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": kernel, "display_name": kernel, "language": "python"}
    nb.metadata.language_info = {"name": "python"}
    names = list(dict.fromkeys(parameter_names))
    if names:
        params = nbformat.v4.new_code_cell("\n".join(f"{n} = None" for n in names))
        params.metadata.tags = ["parameters"]
        nb.cells.append(params)
    nb.cells.append(nbformat.v4.new_code_cell(source.rstrip("\n")))
    return nb


@contextmanager
def temporary_notebook(home: Path, nb: nbformat.NotebookNode, name: str) -> Iterator[Path]:
    """Write ``nb`` under ``<workspace>/tmp`` (never the user's folder) and remove it after:
    submission snapshots the notebook, so the file is needed only while submitting."""
    folder = home / "tmp" / f"cell-{uuid.uuid4().hex[:12]}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.ipynb"
    try:
        nbformat.write(nb, path)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)
