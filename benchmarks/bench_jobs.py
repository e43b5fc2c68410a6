"""Job engine benchmarks, each side by side with its baseline in the same run.

1. submit -> completed latency of a 3-cell notebook on a warm local agent, against the papermill
   CLI and jupyter-scheduler (its own venv, jobs created over its REST API);
2. trivial jobs per minute with many submitted at once, against jupyter-scheduler;
3. 10,000 metric points from a notebook with ``mlbench.log_metric`` against an
   ``mlflow.log_metric`` loop, as time added to the same notebook without logging.

Run: ``python benchmarks/bench_jobs.py`` (``--help`` for sizes). jupyter-scheduler is measured
when its venv exists (``benchmarks/baselines/setup_scheduler_venv.sh`` makes it).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
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

log = logging.getLogger("bench")
THREE_CELLS = ROOT / "benchmarks" / "notebooks" / "three_cells.ipynb"
SCHEDULER_VENV = Path(os.environ.get("SCHEDULER_VENV", ROOT / "benchmarks" / ".venv-scheduler"))


def notebook(path: Path, *cells: str, parameters: str | None = None) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if parameters is not None:
        cell = nbformat.v4.new_code_cell(parameters)
        cell.metadata.tags = ["parameters"]
        nb.cells.append(cell)
    nb.cells.extend(nbformat.v4.new_code_cell(c) for c in cells)
    nbformat.write(nb, path)
    return path


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_s": round(statistics.median(values), 3),
        "p90_s": round(pct(values, 0.9), 3),
        "min_s": round(min(values), 3),
    }


def bench_latency(ws: Workspace, nb: Path, runs: int, pause: float) -> dict[str, Any]:
    ws.jobs.agent("local").ensure_running(wait=True)
    ws.jobs.submit(nb).wait(120)  # the agent has imported everything and warmed its pool
    times = []
    for i in range(runs):
        time.sleep(pause)  # an interactive user's pace: the kernel pool refills between jobs
        start = time.perf_counter()
        job = ws.jobs.submit(nb, {"x": i})
        info = ws.jobs.wait(job.id, timeout=120, poll_interval=0.005)
        assert info.status.value == "completed", info.status_reason
        times.append(time.perf_counter() - start)
    return summary(times)


def bench_papermill_cli(nb: Path, runs: int, workdir: Path) -> dict[str, Any]:
    exe = Path(sys.executable).with_name("papermill")
    times = []
    for i in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [
                str(exe),
                str(nb),
                str(workdir / f"pm-{i}.ipynb"),
                "-p",
                "x",
                str(i),
                "--no-progress-bar",
                "-k",
                "python3",
            ],
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - start)
    return summary(times)


def bench_throughput(ws: Workspace, nb: Path, jobs: int) -> dict[str, Any]:
    ws.compute.create("bench-burst", "local", kernel_pool_size=2)
    handle = ws.jobs.agent("bench-burst")
    handle.ensure_running(wait=True)
    ws.jobs.submit(nb, compute="bench-burst").wait(120)
    time.sleep(3)
    start = time.perf_counter()
    submitted = [ws.jobs.submit(nb, {"x": i}, compute="bench-burst") for i in range(jobs)]
    for job in submitted:
        assert job.wait(600).status.value == "completed"
    elapsed = time.perf_counter() - start
    handle.stop()
    return {
        "jobs": jobs,
        "seconds": round(elapsed, 2),
        "jobs_per_min": round(jobs * 60 / elapsed, 1),
    }


def bench_metrics(ws: Workspace, workdir: Path, points: int) -> dict[str, Any]:
    loop = f"for i in range({points}):\n    value = 1.0 / (i + 1)\n"
    variants = {
        "no logging": notebook(workdir / "m0.ipynb", "import mlflow, mlbench", loop + "    pass"),
        "mlbench.log_metric": notebook(
            workdir / "m1.ipynb",
            "import mlflow, mlbench",
            loop + "    mlbench.log_metric('m', value, step=i)",
        ),
        "mlflow.log_metric": notebook(
            workdir / "m2.ipynb",
            "import mlflow, mlbench",
            loop + "    mlflow.log_metric('m', value, step=i)",
        ),
    }
    out: dict[str, Any] = {}
    for name, path in variants.items():
        info = ws.jobs.submit(path).wait(1200).info
        assert info.status.value == "completed", info.status_reason
        run_time = _cell_seconds(ws, info.id, index=1)
        logged = len(ws.tracking.metric_history(info.mlflow_run_id, "m"))
        out[name] = {
            "loop_s": round(run_time, 3),
            "points_in_mlflow": logged,
            "job_s": round(info.duration_s or 0, 3),
        }
    base = out["no logging"]["loop_s"]
    for name in ("mlbench.log_metric", "mlflow.log_metric"):
        out[name]["added_s"] = round(out[name]["loop_s"] - base, 3)
    return out


def _cell_seconds(ws: Workspace, job_id: str, index: int) -> float:
    out = nbformat.read(ws.paths.output_notebook(job_id), as_version=4)
    return float(out.cells[index].metadata.papermill.duration)


def bench_scheduler(nb: Path, runs: int, jobs: int) -> dict[str, Any] | None:
    if not (SCHEDULER_VENV / "bin" / "jupyter").exists():
        log.warning(
            "no jupyter-scheduler venv at %s: skipped (run "
            "benchmarks/baselines/setup_scheduler_venv.sh)",
            SCHEDULER_VENV,
        )
        return None
    from benchmarks.baselines.jupyter_scheduler import BaselineError, run_baseline

    try:
        return run_baseline(
            SCHEDULER_VENV, nb, latency_jobs=runs, throughput_jobs=jobs, concurrency=10
        )
    except BaselineError as exc:  # a baseline that fails is a result too
        return {"error": str(exc)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-runs", type=int, default=20)
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between latency runs")
    parser.add_argument("--throughput-jobs", type=int, default=40)
    parser.add_argument("--metric-points", type=int, default=10_000)
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["latency", "throughput", "metrics", "scheduler", "papermill"],
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("alembic", "papermill"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    results: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
    }
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        ws = Workspace(workdir / "ws", agent_idle_timeout_s=120)
        nb = (
            THREE_CELLS
            if THREE_CELLS.exists()
            else notebook(workdir / "three.ipynb", "y = x * 2", "print(y)", parameters="x = 1")
        )
        sections = {
            "latency": (
                "latency_mlbench",
                lambda: bench_latency(ws, nb, args.latency_runs, args.pause),
            ),
            "papermill": (
                "latency_papermill_cli",
                lambda: bench_papermill_cli(nb, args.latency_runs, workdir),
            ),
            "throughput": (
                "throughput_mlbench",
                lambda: bench_throughput(ws, nb, args.throughput_jobs),
            ),
            "metrics": ("metrics", lambda: bench_metrics(ws, workdir, args.metric_points)),
        }
        try:
            for key, (name, run) in sections.items():
                if key not in args.skip:
                    log.info("%s ...", name)
                    results[name] = run()
                    log.info("%s: %s", name, json.dumps(results[name]))
        finally:
            for target in ws.compute.list():
                ws.jobs.agent(target.name).stop(now=True)
        if "scheduler" not in args.skip:
            log.info("jupyter_scheduler ...")
            results["jupyter_scheduler"] = bench_scheduler(
                nb, args.latency_runs, args.throughput_jobs
            )
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
