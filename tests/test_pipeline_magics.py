"""``%mlbench pipeline ...`` in a real notebook: the verbs of ``mlbench pipeline`` over
``ws.pipelines`` with a real agent and kernels; ``run``, ``rerun`` and ``show`` return the live
graph widget."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests import test_magics
from tests.test_magics import assert_ok, error_lines, execute, text
from tests.test_pipelines import _diamond

home = test_magics.home

BAD = {
    "%mlbench pipeline": "%mlbench pipeline: give a command",
    "%mlbench pipeline run cyclic.yml": "the steps form a cycle",
    "%mlbench pipeline show 000000000000": "000000000000",
}


@pytest.mark.slow
def test_pipeline_verbs_in_a_notebook(home: Path, tmp_path: Path) -> None:
    body = _diamond(tmp_path)
    (tmp_path / "diamond.yml").write_text(yaml.safe_dump(body))
    body["jobs"]["prep"]["inputs"] = {"x": "${{parent.jobs.join.outputs.total}}"}
    (tmp_path / "cyclic.yml").write_text(yaml.safe_dump(body))
    cells = [
        "%load_ext mlbench",
        "w = %mlbench pipeline run diamond.yml --wait\nprint(w.status, w.step_status)",
        "w = %mlbench pipeline run diamond.yml --wait\nprint(w.step_status)",
        "%mlbench pipeline list",
        "import mlbench\nrun_id = mlbench.Workspace().pipelines.list().items[0].id",
        "%mlbench pipeline why {run_id} join",
        "%mlbench pipeline rerun {run_id} --from join --wait",
        "s = %mlbench pipeline show {run_id}\n"
        "print('SHOWN', s.finished, s.reused, '<svg' in s._graph.value)",
        *BAD,
    ]
    nb = execute(cells, tmp_path)
    for cell in nb.cells[: -len(BAD)]:
        assert_ok(cell)
    _, first, second, listed, _, why, rerun, shown = nb.cells[:8]
    assert "completed" in text(first)
    assert text(first).count("'completed'") >= 4, text(first)
    assert text(second).count("'reused'") == 4, text(second)
    assert "SHOWN True 4 True" in text(shown), text(shown)
    assert "diamond" in text(listed) and "completed" in text(listed)
    assert "join: reused: reused from run" in text(why)
    assert "completed" in text(rerun) and "reused" in text(rerun)
    for cell, expected in zip(nb.cells[-len(BAD) :], BAD.values(), strict=True):
        lines = error_lines(cell)
        assert lines and expected in lines[-1], (cell.source, lines)
