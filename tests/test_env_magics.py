"""``%mlbench env ...`` in a real notebook: the verbs of ``mlbench env`` over the same SDK
(``ws.environments``), building a real environment with uv (offline from uv's cache when PyPI
cannot be reached, as in tests/test_environments.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests import test_environments, test_magics
from tests.test_magics import assert_ok, error_lines, execute, text

home = test_magics.home
_packages_reachable = test_environments._packages_reachable

BAD = {
    "%mlbench env": "%mlbench env: give a command",
    "%mlbench env create x": "one of the arguments -p/--package -r/--requirements --conda "
    "--pyproject is required",
    "%mlbench env create x -p tabulate --conda nope.yml": "argument --conda: file 'nope.yml'",
    "%mlbench env show nope": "no environment 'nope'",
    "%mlbench env show tab:x": "invalid environment reference 'tab:x'",
    "%mlbench env create Tab -p tabulate": "upper-case letters",
    "%mlbench env build tab:9": "environment 'tab' has no version 9",
}


def field(cell: Any, key: str) -> str:
    """A row of a one-version table as text reads it: ``key   value``."""
    m = re.search(rf"^{re.escape(key)} +(.*)$", text(cell), re.M)
    assert m, (key, text(cell))
    return m.group(1)


@pytest.mark.usefixtures("_packages_reachable")
def test_env_verbs_in_a_notebook(home: Path, tmp_path: Path) -> None:
    cells = [
        "%load_ext mlbench",
        "%mlbench env list",
        "%mlbench env create tab -p tabulate --description 'for tables'",
        "%mlbench env create tab -p 'tabulate  # again, same spec'",
        "t = %mlbench env list\nprint(t.rows)",
        "%mlbench env show tab",
        "%mlbench env show tab:1 --log",
        "%mlbench env show tab --versions",
        "%mlbench env build tab:1",
        "%mlbench env --help",
        *BAD,
        "%mlbench env delete tab",
        "%mlbench env list",
    ]
    nb = execute(cells, tmp_path)
    for cell in nb.cells[: -len(BAD) - 2]:
        assert_ok(cell)
    _, empty, created, again, listed, shown, log, versions, built, helped = nb.cells[:10]
    assert "no environments (create one with `%mlbench env create NAME -p PACKAGE`)" in text(empty)
    assert "resolving and building tab..." in text(created)
    assert (field(created, "ref"), field(created, "status")) == ("tab:1", "ready")
    assert field(again, "ref") == "tab:1"  # the same spec: the same version
    assert "'environment': 'tab:1', 'status': 'ready'" in text(listed)
    assert field(shown, "description") == "for tables"
    assert "tabulate==" in text(shown) and "ipykernel==" in text(shown)
    assert "ready: kernel mlbench-tab-" in text(log)
    assert re.search(r"^tab:1 +ready ", text(versions), re.M), text(versions)
    assert field(built, "status") == "ready"
    assert text(helped).startswith("usage: %mlbench env [-h] COMMAND ...")
    for (source, expected), cell in zip(BAD.items(), nb.cells[10:-2], strict=True):
        lines = error_lines(cell)
        assert len(lines) == 1 and lines[0].startswith("UsageError: "), (source, lines)
        assert expected in lines[0], (source, lines[0])
    deleted, gone = nb.cells[-2:]
    assert_ok(deleted)
    assert text(deleted).strip() == "deleted tab:1"
    assert "no environments" in text(gone)

    from mlbench import Workspace

    ws = Workspace(home)  # the SDK sees what the magics did
    try:
        assert ws.environments.list() == []
    finally:
        ws.close()
