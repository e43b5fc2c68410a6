"""Monitoring benchmarks (issue 19), each side by side with its baseline in the same run.

1. 1,000,000 reference rows vs 1,000,000 target rows x 10 numeric features (3 with a 0.5 sigma
   mean shift, 2 with a 1.5x scale change, 5 unshifted), from Parquet files: mlbench's drift
   report (profile the reference, one pass over the target, the signals), end to end and with
   the reference profile already stored (what a scheduled monitor does), against Evidently's
   DataDriftPreset on the same data already in pandas (its report run only, so Evidently pays
   no reading). Goal: >= 10x faster with the same verdict per feature.
2. 10,000,000 target rows x 100 numeric features (float32 Parquet) against a stored reference
   profile: wall time of one monitor pass (read, count, signals) and the process's peak memory
   (ru_maxrss of a child process doing only that). Goal: <= 120 s on 2 cores.

Evidently 0.7 needs pandas < 3 while mlbench's environment has pandas 3, so it runs in its own
virtual environment (``benchmarks/.venv-evidently``, made with uv on first use, or
``--evidently-python PATH``), as a child process reading the same Parquet files.

Run: ``python benchmarks/bench_monitoring.py`` (``--rows``/``--wide-rows``/``--wide-features``
to scale; ``--json PATH`` to keep the numbers).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.dataset as ds  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from mlbench.monitoring.profile import build_profile, open_source, sketch_target  # noqa: E402
from mlbench.monitoring.signals import compare  # noqa: E402

EVIDENTLY_VENV = ROOT / "benchmarks" / ".venv-evidently"
SHIFTS = {
    0: ("mean", 0.5),
    1: ("mean", 0.5),
    2: ("mean", 0.5),
    3: ("scale", 1.5),
    4: ("scale", 1.5),
}
EVIDENTLY_RUN = textwrap.dedent(
    """
    import json, sys, time
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset
    ref = pd.read_parquet(sys.argv[1]); cur = pd.read_parquet(sys.argv[2])
    start = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
    seconds = time.perf_counter() - start
    drift = {}
    for m in snapshot.dict()["metrics"]:
        cfg = m["config"]
        if cfg.get("type", "").endswith("ValueDrift"):
            drift[cfg["column"]] = {"value": m["value"], "threshold": cfg["threshold"],
                                    "method": cfg["method"],
                                    "drift": bool(m["value"] >= cfg["threshold"])}
    print(json.dumps({"seconds": seconds, "drift": drift}))
    """
)


def evidently_python(given: str | None) -> Path:
    if given:
        return Path(given)
    python = EVIDENTLY_VENV / "bin" / "python"
    if not python.exists():
        uv = Path(sys.executable).with_name("uv")
        subprocess.run([str(uv), "venv", "-q", "-p", sys.executable, str(EVIDENTLY_VENV)],
                       check=True)  # fmt: skip
        env = {**os.environ, "VIRTUAL_ENV": str(EVIDENTLY_VENV)}
        subprocess.run([str(uv), "pip", "install", "-q", "evidently>=0.7", "pandas<3", "pyarrow"],
                       check=True, env=env)  # fmt: skip
    return python


def make_pair(
    folder: Path, rows: int, features: int, rng: np.random.Generator
) -> tuple[Path, Path]:
    ref = pa.table({f"f{i}": rng.normal(0, 1, rows) for i in range(features)})
    cols = {}
    for i in range(features):
        kind, size = SHIFTS.get(i, ("none", 0.0))
        mean = size if kind == "mean" else 0.0
        scale = size if kind == "scale" else 1.0
        cols[f"f{i}"] = rng.normal(mean, scale, rows)
    paths = folder / "reference.parquet", folder / "target.parquet"
    pq.write_table(ref, paths[0])
    pq.write_table(pa.table(cols), paths[1])
    return paths


def drifted(report: Any) -> dict[str, bool]:
    drift_signals = {"psi", "js", "wasserstein", "ks"}
    return {
        f.name: any(s.verdict == "breached" and s.signal in drift_signals for s in f.signals)
        for f in report.features
    }


def bench_vs_evidently(rows: int, folder: Path, python: Path | None) -> dict[str, Any]:
    rng = np.random.default_rng(19)
    ref_path, tgt_path = make_pair(folder, rows, 10, rng)
    start = time.perf_counter()
    profile = build_profile(open_source([ref_path]), source="reference")
    profiled = time.perf_counter() - start
    report = compare(profile, sketch_target(open_source([tgt_path]), profile), target="target")
    end_to_end = time.perf_counter() - start
    start = time.perf_counter()
    again = compare(profile, sketch_target(open_source([tgt_path]), profile), target="target")
    stored = time.perf_counter() - start
    ours = drifted(again)
    assert ours == drifted(report)
    truth = {f"f{i}": i in SHIFTS for i in range(10)}
    out: dict[str, Any] = {
        "rows": rows,
        "features": 10,
        "mlbench_end_to_end_s": round(end_to_end, 3),
        "mlbench_profile_s": round(profiled, 3),
        "mlbench_stored_profile_s": round(stored, 3),
        "mlbench_drifted": sorted(k for k, v in ours.items() if v),
        "mlbench_matches_truth": ours == truth,
    }
    if python is None:
        out["evidently"] = "not run"
        return out
    done = subprocess.run(
        [str(python), "-c", EVIDENTLY_RUN, str(ref_path), str(tgt_path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        out["evidently"] = f"failed: {done.stderr.strip().splitlines()[-1:]}"
        return out
    ev = json.loads(done.stdout.strip().splitlines()[-1])
    theirs = {k: v["drift"] for k, v in ev["drift"].items()}
    out.update(
        evidently_s=round(ev["seconds"], 3),
        evidently_method=sorted({v["method"] for v in ev["drift"].values()}),
        evidently_drifted=sorted(k for k, v in theirs.items() if v),
        same_verdicts=theirs == ours,
        speedup_end_to_end=round(ev["seconds"] / end_to_end, 1),
        speedup_stored_profile=round(ev["seconds"] / stored, 1),
    )
    return out


WIDE_PASS = textwrap.dedent(
    """
    import json, resource, sys, time
    sys.path.insert(0, sys.argv[3])
    from mlbench.monitoring.models import Profile
    from mlbench.monitoring.profile import open_source, sketch_target
    from mlbench.monitoring.signals import compare
    profile = Profile.model_validate_json(open(sys.argv[1]).read())
    start = time.perf_counter()
    sketch = sketch_target(open_source([sys.argv[2]]), profile)  # as a monitor run opens it
    counted = time.perf_counter() - start
    report = compare(profile, sketch)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "count_s": counted, "peak_mib": peak,
                      "rows": sketch.rows, "breaches": len(report.breaches),
                      "verdict": report.verdict}))
    """
)


def bench_wide(rows: int, features: int, folder: Path) -> dict[str, Any]:
    """A float32 table written in chunks (one random block, shifted per chunk) so that making
    10 M x 100 values does not take longer than measuring them."""
    rng = np.random.default_rng(7)
    chunk = min(rows, 250_000)
    block = rng.standard_normal((features, chunk), dtype=np.float32)
    names = [f"f{i}" for i in range(features)]
    ref = pa.table({n: block[i] for i, n in enumerate(names)})
    profile = build_profile(ds.dataset(ref), source="wide reference")
    (folder / "profile.json").write_text(profile.model_dump_json())
    target = folder / "wide.parquet"
    start = time.perf_counter()
    with pq.ParquetWriter(target, ref.schema) as writer:
        for k in range(0, rows, chunk):
            n = min(chunk, rows - k)
            offset = np.float32(0.01 * (k // chunk % 7))  # chunks differ a little
            writer.write_table(pa.table({m: block[i, :n] + offset for i, m in enumerate(names)}))
    written = time.perf_counter() - start
    done = subprocess.run(
        [sys.executable, "-c", WIDE_PASS, str(folder / "profile.json"), str(target), str(ROOT)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "rows": rows,
        "features": features,
        "file_gib": round(target.stat().st_size / 2**30, 2),
        "write_s": round(written, 1),
        "monitor_pass_s": round(result["seconds"], 1),
        "count_s": round(result["count_s"], 1),
        "peak_mib": round(result["peak_mib"]),
        "verdict": result["verdict"],
        "goal_120s_met": result["seconds"] <= 120,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--wide-rows", type=int, default=10_000_000)
    parser.add_argument("--wide-features", type=int, default=100)
    parser.add_argument("--evidently-python", help="a Python with evidently (and pandas < 3)")
    parser.add_argument("--no-evidently", action="store_true")
    parser.add_argument("--skip-wide", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    python = None if args.no_evidently else evidently_python(args.evidently_python)
    results: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}",
    }
    with tempfile.TemporaryDirectory() as tmp:
        results["vs_evidently"] = bench_vs_evidently(args.rows, Path(tmp), python)
        print(json.dumps(results["vs_evidently"], indent=2), flush=True)
    if not args.skip_wide:
        with tempfile.TemporaryDirectory() as tmp:
            results["wide"] = bench_wide(args.wide_rows, args.wide_features, Path(tmp))
            print(json.dumps(results["wide"], indent=2), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
