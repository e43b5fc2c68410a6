"""Cells are numbered as in the user's notebook: papermill's injected parameters cell is not
counted in progress, in the failing cell's index or in the status reason."""

from __future__ import annotations

import time
from typing import Any

import nbformat

from mlbench.agent.execute import _head, user_cell_count, user_cell_index

WAIT = 120


def wait_for(predicate: Any, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def _cells(*tags: list[str]) -> list[Any]:
    return [nbformat.v4.new_code_cell("x", metadata={"tags": t}) for t in tags]


def test_user_cell_index_skips_the_injected_cell() -> None:
    cells = _cells([], ["parameters"], ["injected-parameters"], [], [])
    assert [user_cell_index(cells, i) for i in range(5)] == [0, 1, None, 2, 3]
    assert user_cell_count(cells) == 4
    plain = _cells([], [])
    assert [user_cell_index(plain, i) for i in range(2)] == [0, 1] and user_cell_count(plain) == 2
    first = _cells(["injected-parameters"], [])  # no parameters cell: injected at the top
    assert user_cell_index(first, 1) == 0 and user_cell_count(first) == 1


def test_head_keeps_whole_cells_and_marks_a_cut() -> None:
    seven = "\n".join(f"line{i}" for i in range(7))
    assert _head(seven) == seven  # a 7-line cell is shown whole
    long = "\n".join(f"line{i}" for i in range(100))
    cut = _head(long)
    assert cut.endswith("\n…") and "line59" in cut and "line60" not in cut


def test_failing_cell_is_numbered_as_in_the_notebook(module_ws: Any, notebook: Any) -> None:
    nb = notebook(
        "a = 1",
        "b = 2\nc = 3\nd = 4\ne = 5\nf = 6\nraise ValueError('bad ' + str(x))",
        "print('never')",
        parameters="x = 1",
    )
    # with parameters (an injected cell after the parameters cell) and without: the same numbers
    for params in ({"x": 2}, {}):
        job = module_ws.jobs.submit(nb, params)
        info = job.wait(WAIT).info
        assert info.status.value == "failed"
        assert info.error.cell_index == 2, params  # parameters cell 0, "a = 1" 1, the raise 2
        assert "cell 3 raised ValueError" in info.status_reason
        assert info.progress.cell_index == 2 and info.progress.cell_count == 4
        assert "raise ValueError" in info.error.cell_source  # the line that raised, not cut
        events = module_ws.jobs.events(job_id=job.id)
        cells = [e["data"]["cell_index"] for e in events if e["kind"] == "progress"]
        assert cells == [0, 1, 2]
        assert {e["data"]["cell_count"] for e in events if e["kind"] == "progress"} == {4}
