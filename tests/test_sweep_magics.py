"""``%mlbench sweep ...`` in a real notebook: the verbs of ``mlbench sweep`` over ``ws.sweeps``,
with a grid + bandit sweep run by a real agent on real kernels; ``submit`` and ``show`` return the
live sweep widget (status, trial table, best-so-far curve)."""

from __future__ import annotations

import re
from pathlib import Path

from tests import test_magics
from tests.conftest import make_notebook
from tests.test_magics import assert_ok, displays, error_lines, execute, text

home = test_magics.home

CURVE = (
    "import math, time, mlbench\n"
    "for t in range(1, steps + 1):\n"
    "    mlbench.log_metric('acc', quality * (1 - math.exp(-t / 2)), step=t)\n"
    "    time.sleep(pause)"
)
SWEEP_YML = """\
$schema: https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json
type: sweep
display_name: magic-bandit
trial:
  notebook: curve.ipynb
  parameters: {steps: 6, pause: 0.3}
search_space:
  quality: choice(1.0, 0.2, 0.9)
sampling_algorithm: grid
objective: {primary_metric: acc, goal: maximize}
early_termination: {type: bandit, slack_factor: 0.2, delay_evaluation: 2}
limits: {max_concurrent_trials: 1}
"""
BAD = {
    "%mlbench sweep": "%mlbench sweep: give a command",
    "%mlbench sweep submit nope.yml": "argument FILE.yml: file 'nope.yml'",
    "%mlbench sweep show 000000000000": "000000000000",
    "%mlbench sweep submit bad.yml": "a sweep needs an objective",
}


def test_sweep_verbs_in_a_notebook(home: Path, tmp_path: Path) -> None:
    make_notebook(
        tmp_path / "curve.ipynb", CURVE, parameters="quality = 0.5\nsteps = 6\npause = 0.2"
    )
    (tmp_path / "sweep.yml").write_text(SWEEP_YML)
    (tmp_path / "bad.yml").write_text(
        "notebook: curve.ipynb\nsearch_space: {quality: uniform(0, 1)}\n"
    )
    cells = [
        "%load_ext mlbench",
        "w = %mlbench sweep submit sweep.yml --wait\n"
        "print('STATUS', w.status, w.done, len(w.trials), w.best_value)",
        "%mlbench sweep list",
        "t = %mlbench sweep trials {w.sweep_id}\nprint(t.rows)",
        "%mlbench sweep trials {w.sweep_id} --status early_terminated",
        "s = %mlbench sweep show {w.sweep_id}\nprint('LIVE', s.finished)",
        "%mlbench sweep cancel {w.sweep_id}",
        *BAD,
    ]
    nb = execute(cells, tmp_path)
    for cell in nb.cells[: -len(BAD)]:
        assert_ok(cell)
    _, submitted, listed, trials, stopped, shown, canceled = nb.cells[:7]

    # the widget followed the sweep to its end: grid of 3, trial 1 (0.2) stopped by the bandit
    m = re.search(r"STATUS completed 3 3 ([0-9.]+)", text(submitted))
    assert m, text(submitted)
    assert float(m.group(1)) > 0.9
    bundle = displays(submitted)[0]
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "best acc so far" in bundle["text/html"]  # the best-so-far curve (SVG)
    assert "magic-bandit" in bundle["text/plain"] and "stopped by" in bundle["text/plain"]

    assert re.search(r"magic-bandit +completed +3/3 +acc", text(listed)), text(listed)
    rows = text(trials)
    assert "'status': 'early_terminated'" in rows and "'quality': 0.2" in rows
    assert "bandit" in text(stopped) and "early_terminated" in text(stopped)
    assert "completed" not in text(stopped).split("stopped by", 1)[1]
    assert "LIVE True" in text(shown)
    assert "completed" in text(canceled)  # a finished sweep stays as it ended

    for cell, expected in zip(nb.cells[-len(BAD) :], BAD.values(), strict=True):
        lines = error_lines(cell)
        assert lines and expected in lines[-1], (cell.source, lines)
