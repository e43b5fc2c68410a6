"""Seed a workspace for the UI benchmarks (ui-tests/tests/bench.spec.ts).

- ``--jobs N``: N finished jobs inserted straight into the metadata database through the store
  (as if N notebooks had run; running them would take hours and measure the agent, not the UI);
- ``--runs R --points P``: R MLflow runs in experiment ``--experiment``, each with a ``loss``
  series of P points, logged through MLflow's ``log_batch`` (the workspace's tracking client).

Prints one JSON line: ``{"jobs": N, "experiment_id": ..., "run_ids": [...], "seconds": ...}``.
Usage: ``python benchmarks/seed_ui_bench.py --workspace DIR --jobs 10000 --runs 4 --points 100000``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mlbench import Workspace  # noqa: E402


def seed_jobs(ws: Workspace, count: int, prefix: str = "uibench") -> None:
    from mlbench.store import JobRow

    now = datetime.now(timezone.utc)
    statuses = ["completed", "failed", "canceled", "completed", "completed"]
    with ws.db.write() as s:
        for i in range(count):
            at = now - timedelta(hours=1, seconds=count - i)
            s.add(
                JobRow(
                    # ids sort after real ones: 32 characters like the store's
                    id=f"{prefix}{i:012d}".ljust(32, "0"),
                    display_name=f"train-{i}",
                    experiment=f"bench-{i % 20}",
                    compute="local",
                    kernel_name="python3",
                    notebook_path=f"/seed/train-{i}.ipynb",
                    cwd="/seed",
                    parameters={"lr": 0.01, "epochs": i % 50},
                    resources={"cpus": 1.0, "gpus": 0, "memory_mb": None},
                    timeout_s=None,
                    max_retries=0,
                    attempt=1,
                    tags={"team": f"t{i % 5}"},
                    owner="bench",
                    rerun_of=None,
                    status=statuses[i % len(statuses)],
                    status_reason="",
                    cancel_requested=False,
                    error=None,
                    created_at=at,
                    updated_at=at,
                    started_at=at,
                    finished_at=at + timedelta(seconds=3),
                    gpu_ids=[],
                )
            )


def seed_runs(ws: Workspace, experiment: str, runs: int, points: int) -> tuple[str, list[str]]:
    run_ids = []
    exp_id = ""
    t0 = 1_700_000_000_000
    for r in range(runs):
        exp_id, run_id = ws.tracking.start_run(experiment, f"bench-run-{r}", {}, {"run": r})
        # A noisy decaying loss: every bucket has distinct extremes to keep.
        ws.tracking.log_points(
            run_id,
            (
                (
                    "loss",
                    math.exp(-i / (points / 4)) * (1 + 0.1 * r) + 0.05 * math.sin(i * 0.37 + r),
                    i,
                    t0 + i * 10,
                )
                for i in range(points)
            ),
        )
        ws.tracking.end_run(run_id, "completed")
        run_ids.append(run_id)
    return exp_id, run_ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", required=True, help="the workspace folder (MLBENCH_HOME)")
    parser.add_argument("--jobs", type=int, default=0)
    parser.add_argument(
        "--prefix", default="uibench", help="job ids start with this (unique per call)"
    )
    parser.add_argument("--runs", type=int, default=0)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--experiment", default="ui-bench-chart")
    args = parser.parse_args()

    start = time.perf_counter()
    ws = Workspace(args.workspace)
    out: dict[str, object] = {"jobs": args.jobs}
    if args.jobs:
        seed_jobs(ws, args.jobs, args.prefix)
    if args.runs:
        exp_id, run_ids = seed_runs(ws, args.experiment, args.runs, args.points)
        out.update(experiment=args.experiment, experiment_id=exp_id, run_ids=run_ids)
    out["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
