"""Command job latency (issue 17): submit -> completed on a warm local agent, beside running the
same script with ``python`` directly and the papermill CLI on a one-cell notebook doing the same.

Each of N rounds (default 20) runs, in turn, ABAB-style so load drifts hit all alike:
``python hello.py`` as a subprocess; ``ws.jobs.submit(command="python hello.py", code=...)``
then ``job.wait()`` (the agent already running: its first job is not measured); and
``papermill hello.ipynb out.ipynb``. Goal: a command job costs at most 0.3 s more than the
script run directly (median).

Run: ``python benchmarks/bench_commands.py [--rounds N] [--append]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import nbformat  # noqa: E402

from mlbench import Workspace  # noqa: E402

SCRIPT = "import json, sys\nprint(json.dumps({'hello': sys.argv}))\n"
BIN = Path(sys.executable).parent


def _timed(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--append", action="store_true", help="append the results to RESULTS.md")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-commands-") as tmp:
        base = Path(tmp)
        code = base / "code"
        code.mkdir()
        (code / "hello.py").write_text(SCRIPT)
        nb = nbformat.v4.new_notebook()
        nb.metadata.kernelspec = {
            "name": "python3",
            "display_name": "python3",
            "language": "python",
        }
        nb.cells = [nbformat.v4.new_code_cell(SCRIPT)]
        nbformat.write(nb, code / "hello.ipynb")
        env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        ws = Workspace(base / "ws", agent_idle_timeout_s=120)
        try:
            warm = ws.jobs.submit(command="python hello.py", code=str(code)).wait(120)
            assert warm.info.status.value == "completed", warm.info.status_reason
            direct, jobs, papermill = [], [], []
            for _ in range(args.rounds):
                direct.append(
                    _timed(
                        lambda: subprocess.run(
                            ["python", "hello.py"],
                            cwd=code,
                            env=env,
                            check=True,
                            capture_output=True,
                        )
                    )
                )

                def one_job() -> None:
                    job = ws.jobs.submit(command="python hello.py", code=str(code)).wait(120)
                    assert job.info.status.value == "completed", job.info.status_reason

                jobs.append(_timed(one_job))
                papermill.append(
                    _timed(
                        lambda: subprocess.run(
                            ["papermill", "hello.ipynb", "out.ipynb", "--log-level", "ERROR"],
                            cwd=code,
                            env=env,
                            check=True,
                            capture_output=True,
                        )
                    )
                )
        finally:
            ws.agents("local").stop(now=True, timeout=30)
            ws.close()
    med = {
        k: statistics.median(v)
        for k, v in (("python", direct), ("job", jobs), ("papermill", papermill))
    }
    p90 = {
        k: sorted(v)[int(0.9 * (len(v) - 1))]
        for k, v in (("python", direct), ("job", jobs), ("papermill", papermill))
    }
    over = med["job"] - med["python"]
    lines = [
        f"### Command jobs — {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        f"; {args.rounds} rounds, interleaved. `python benchmarks/bench_commands.py`",
        "",
        "| run | median (s) | p90 (s) |",
        "|---|---|---|",
        f"| `python hello.py` directly | {med['python']:.3f} | {p90['python']:.3f} |",
        f"| command job, submit -> completed (warm agent) | {med['job']:.3f} | {p90['job']:.3f} |",
        f"| papermill CLI, one-cell notebook | {med['papermill']:.3f} | {p90['papermill']:.3f} |",
        "",
        f"A command job costs **{over:+.3f} s** over the script run directly (goal <= 0.3 s: "
        f"{'met' if over <= 0.3 else 'not met'}); papermill costs "
        f"{med['papermill'] - med['python']:+.3f} s.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.append:
        with open(ROOT / "benchmarks" / "RESULTS.md", "a", encoding="utf-8") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
