"""``%mlbench drift`` and ``%mlbench monitor`` in a real notebook kernel: an inline report
(HTML in an iframe, a text form), monitor verbs, one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tests import test_magics
from tests.test_magics import assert_ok, displays, error_lines, execute, text

home = test_magics.home


def test_drift_and_monitor_magics(home: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    pq.write_table(pa.table({"x": rng.normal(0, 1, 3_000)}), tmp_path / "ref.parquet")
    pq.write_table(pa.table({"x": rng.normal(1, 1, 3_000)}), tmp_path / "new.parquet")
    cells = [
        "%load_ext mlbench",
        "%mlbench drift ref.parquet new.parquet",
        "r = %mlbench drift ref.parquet ref.parquet\nprint('VERDICT', r.report.verdict)",
        "import mlbench\nws = mlbench.Workspace()\n"
        "ws.data.create('ref', 'ref.parquet'); ws.data.create('new', 'new.parquet')\n"
        "ws.monitors.create(name='m', reference={'data': 'ref:1'}, target={'data': 'new'})",
        "%mlbench monitor run m",
        "%mlbench monitor list",
        "%mlbench monitor show m",
        "%mlbench drift nope:1 new.parquet",
        "%mlbench monitor run nope",
    ]
    nb = execute(cells, tmp_path)
    for cell in nb.cells[:7]:
        assert_ok(cell)
    shifted = displays(nb.cells[1])[0]
    assert "drift report: breached" in shifted["text/plain"]
    assert "x: breached" in shifted["text/plain"]
    assert shifted["text/html"].startswith('<iframe class="mlbench-drift-report"')
    assert "VERDICT ok" in text(nb.cells[2])
    assert "monitor m: breached" in text(nb.cells[4])
    assert "breached" in text(nb.cells[5]) and "ref:1" in text(nb.cells[5])
    assert "completed" in text(nb.cells[6])
    for cell, expected in ((nb.cells[7], "data asset 'nope' does not exist"),
                           (nb.cells[8], "monitor 'nope' does not exist")):  # fmt: skip
        lines = error_lines(cell)
        assert len(lines) == 1 and lines[0].startswith("UsageError: "), lines
        assert expected in lines[0], lines
