"""Pipeline benchmarks (issue 15), each side by side with its baseline in the same run.

1. Four independent 10-second notebook steps on a 4-slot local target (declared 4 CPUs, 4 jobs
   at once): pipeline submit -> run completed, against the same four notebooks run one after
   another with ``papermill.execute_notebook`` (what Elyra's local runner does). Goal: <= 12 s.
2. A fully reused rerun of a 10-step chain: the chain is run once, then run again unchanged;
   submit -> run completed, with the number of jobs (kernels) it started. Goal: <= 1 s, none.
3. Overhead per step of a 50-step chain of trivial notebook steps (each reads its upstream's
   output and writes its own), against 50 trivial jobs submitted one after another, each
   waited for (the same notebook work without a pipeline). Overhead per step =
   (chain - jobs) / 50.

Run: ``python benchmarks/bench_pipelines.py`` (about 5 minutes on 2 cores), ``--quick`` for
smaller sizes, ``--json PATH`` to keep the numbers.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import nbformat  # noqa: E402

from mlbench import Workspace  # noqa: E402
from mlbench.jobs.service import make_spec  # noqa: E402

WAIT = 900


def notebook(path: Path, *cells: str, parameters: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "python3", "language": "python"}
    cell = nbformat.v4.new_code_cell(parameters)
    cell.metadata.tags = ["parameters"]
    nb.cells = [cell, *(nbformat.v4.new_code_cell(c) for c in cells)]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def parallel(ws: Workspace, folder: Path, seconds: float, pool: int = 1) -> dict[str, Any]:
    ws.compute.create("four-slots", "local", cpus=4, max_concurrent_jobs=4, kernel_pool_size=pool)
    paths = [
        notebook(
            folder / f"sleep{i}.ipynb", "import time\ntime.sleep(pause)", parameters="pause = 0.0"
        )
        for i in range(4)
    ]
    body = {
        "display_name": "four-sleeps",
        "compute": "four-slots",
        "jobs": {
            f"s{i}": {
                "notebook": str(p),
                "parameters": {"pause": seconds},
                "is_deterministic": False,
            }
            for i, p in enumerate(paths)
        },
    }
    ws.jobs.agent("four-slots").ensure_running(wait=True)  # a warm agent, as in use
    # a warm submitting process (a server, a notebook, a CLI that already ran): imports done
    ws.jobs.check(make_spec({"notebook_path": str(paths[0]), "compute": "four-slots"}))
    if pool > 1:
        # the agent fills its pool after its first job of a kernel name; then give it time
        first = ws.jobs.submit(str(paths[0]), compute="four-slots", parameters={"pause": 0.0})
        assert first.wait(WAIT).info.status.value == "completed"
        time.sleep(3.0 * pool)
    start = time.monotonic()
    run = ws.pipelines.run(body).wait(WAIT)
    pipeline_s = time.monotonic() - start
    assert run.info.status.value == "completed", run.info.status_reason
    import papermill

    start = time.monotonic()
    for p in paths:
        papermill.execute_notebook(
            str(p), str(p.with_suffix(".out.ipynb")), parameters={"pause": seconds},
            progress_bar=False, log_output=False,
        )  # fmt: skip
    sequential_s = time.monotonic() - start
    ws.jobs.agent("four-slots").stop(now=True, timeout=30)
    return {
        "steps": 4,
        "step_seconds": seconds,
        "kernel_pool_size": pool,
        "pipeline_s": round(pipeline_s, 2),
        "sequential_papermill_s": round(sequential_s, 2),
        "speedup": round(sequential_s / pipeline_s, 2),
        "goal_s": 12,
    }


CHAIN_CELL = """
import os
value = 0
if previous:
    value = int(open(os.path.join(previous, "value.txt")).read())
os.makedirs(out, exist_ok=True)
open(os.path.join(out, "value.txt"), "w").write(str(value + 1))
"""


def chain_body(folder: Path, name: str, n: int) -> dict[str, Any]:
    path = notebook(folder / "step.ipynb", CHAIN_CELL, parameters='previous = ""\nout = ""')
    jobs: dict[str, Any] = {}
    for i in range(n):
        step: dict[str, Any] = {"notebook": str(path), "outputs": {"out": None}}
        if i:
            step["inputs"] = {"previous": "${{parent.jobs.s" + str(i - 1) + ".outputs.out}}"}
        jobs[f"s{i}"] = step
    return {"display_name": name, "jobs": jobs}


def reused(ws: Workspace, folder: Path, n: int) -> dict[str, Any]:
    body = chain_body(folder / "reuse", "reuse-chain", n)
    start = time.monotonic()
    first = ws.pipelines.run(body).wait(WAIT)
    first_s = time.monotonic() - start
    assert first.info.status.value == "completed", first.info.status_reason
    jobs_before = len(ws.jobs.list(limit=1000))
    start = time.monotonic()
    again = ws.pipelines.run(body)
    submitted_s = time.monotonic() - start
    info = ws.pipelines.wait(again.id, WAIT, poll=0.01)
    second_s = time.monotonic() - start
    assert info.status.value == "completed" and info.counts.reused == n, info
    return {
        "steps": n,
        "first_run_s": round(first_s, 2),
        "reused_run_s": round(second_s, 3),
        "of_which_submission_s": round(submitted_s, 3),
        "jobs_started": len(ws.jobs.list(limit=1000)) - jobs_before,
        "goal_s": 1,
    }


def overhead(ws: Workspace, folder: Path, n: int) -> dict[str, Any]:
    body = chain_body(folder / "chain", "overhead-chain", n)
    for step in body["jobs"].values():
        step["is_deterministic"] = False
    start = time.monotonic()
    run = ws.pipelines.run(body).wait(WAIT)
    chain_s = time.monotonic() - start
    assert run.info.status.value == "completed", run.info.status_reason
    path = folder / "chain" / "step.ipynb"
    out = folder / "plain"
    start = time.monotonic()
    for i in range(n):
        previous = str(out / f"{i - 1}") if i else ""
        job = ws.jobs.submit(path, {"previous": previous, "out": str(out / f"{i}")})
        assert job.wait(WAIT).info.status.value == "completed"
    jobs_s = time.monotonic() - start
    return {
        "steps": n,
        "pipeline_chain_s": round(chain_s, 2),
        "sequential_jobs_s": round(jobs_s, 2),
        "pipeline_per_step_s": round(chain_s / n, 3),
        "job_per_step_s": round(jobs_s / n, 3),
        "overhead_per_step_s": round((chain_s - jobs_s) / n, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--kernel-pool", type=int, default=1, help="kernel_pool_size of the 4-slot target"
    )
    parser.add_argument("--only-parallel", action="store_true", help="case 1 only")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    results: dict[str, Any] = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
    }
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        ws = Workspace(base / "ws", agent_idle_timeout_s=120)
        try:
            results["parallel"] = parallel(
                ws, base / "par", 3.0 if args.quick else 10.0, args.kernel_pool
            )
            print("parallel:", results["parallel"], flush=True)
            if not args.only_parallel:
                results["reused"] = reused(ws, base, 10)
                print("reused:", results["reused"], flush=True)
                results["overhead"] = overhead(ws, base, 10 if args.quick else 50)
                print("overhead:", results["overhead"], flush=True)
        finally:
            for target in ws.compute.list():
                ws.jobs.agent(target.name).stop(now=True, timeout=30)
            ws.close()
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
