"""A monitor's pass over its target split across Ray tasks, then merged.

The target is cut into pieces (a Parquet file's row groups, taken a few at a time; a CSV file
whole); each task counts its piece against the reference profile exactly as the local pass does
(:func:`mlbench.monitoring.profile.sketch_target`) and returns its sketch, O(features x bins);
the sketches add up (:func:`~mlbench.monitoring.profile.merge_sketches`) to what one pass would
count. The files must be readable where the tasks run (this machine's cluster, or a shared
filesystem).

The Ray driver is a child process (``python -m mlbench.monitoring.ray_pass REQUEST``): the
process running the monitor (a Jupyter server, the scheduler) does not become a Ray driver.
"""

from __future__ import annotations

import json
import logging
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlbench.errors import InvalidInputError
from mlbench.monitoring.models import Profile
from mlbench.monitoring.profile import TargetSketch

log = logging.getLogger(__name__)

MAX_TASKS = 64  # pieces per pass: enough to spread, few enough that merging stays trivial
PASS_TIMEOUT_S = 3600.0


def pieces(paths: Sequence[str], fmt: str | None, tasks: int) -> list[tuple[str, list[int] | None]]:
    """(file, row groups) to count, at most about ``tasks`` of them; row groups None: whole."""
    import pyarrow.parquet as pq

    from mlbench.data.tables import infer_format

    files: list[str] = []
    for raw in paths:
        path = Path(raw)
        files += (
            [str(p) for p in sorted(path.rglob("*")) if p.is_file() and not p.name.startswith(".")]
            if path.is_dir()
            else [str(path)]
        )
    if infer_format(files, fmt) != "parquet":
        return [(f, None) for f in files]
    groups = [(f, g) for f in files for g in range(pq.ParquetFile(f).metadata.num_row_groups)]
    per_task = max(1, -(-len(groups) // max(1, tasks)))
    out: list[tuple[str, list[int] | None]] = []
    for f in files:
        mine = [g for name, g in groups if name == f]
        out += [(f, mine[i : i + per_task]) for i in range(0, len(mine), per_task)]
    return out


def sketch_piece(
    path: str, row_groups: list[int] | None, fmt: str | None, profile_json: str, names: list[str]
) -> TargetSketch:
    """One task: count one piece against the profile (runs on a Ray worker)."""
    import pyarrow.dataset as ds

    from mlbench.monitoring.profile import open_source, sketch_target

    profile = Profile.model_validate_json(profile_json)
    fragment: Any = None
    if row_groups is None:
        dataset = open_source([path], fmt)
    else:
        # without pre_buffer, as open_source reads Parquet (see there)
        form = ds.ParquetFileFormat(
            default_fragment_scan_options=ds.ParquetFragmentScanOptions(pre_buffer=False)
        )
        import pyarrow.fs as pafs

        fragment = form.make_fragment(path, pafs.LocalFileSystem(), row_groups=row_groups)
        dataset = ds.FileSystemDataset([fragment], fragment.physical_schema, form)
    sketch = sketch_target(dataset, profile, features=names, keep_exact=False)
    if row_groups is not None:
        # count_rows of a fragment of some row groups counts the whole file (its metadata)
        sketch.rows = sum(rg.num_rows for rg in fragment.row_groups)
    return sketch


def sketch_on_ray(
    config: Any,
    paths: Sequence[str],
    fmt: str | None,
    profile: Profile,
    names: list[str],
    *,
    exact: bool,
) -> TargetSketch:
    """The target's sketch, counted by Ray tasks on the cluster of ``config`` (a Ray compute
    target's settings: address, namespace, runtime_env)."""
    with tempfile.TemporaryDirectory(prefix="mlbench-monitor-") as tmp:
        request = Path(tmp) / "request.json"
        result = Path(tmp) / "sketch.pickle"
        request.write_text(
            json.dumps(
                {
                    "address": config.address,
                    "namespace": config.namespace,
                    "runtime_env": config.runtime_env,
                    "paths": list(paths),
                    "fmt": fmt,
                    "profile": profile.model_dump_json(),
                    "names": names,
                    "exact": exact,
                    "result": str(result),
                }
            )
        )
        done = subprocess.run(
            [sys.executable, "-m", "mlbench.monitoring.ray_pass", str(request)],
            capture_output=True,
            text=True,
            timeout=PASS_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0 or not result.exists():
            tail = (done.stderr or done.stdout).strip()[-1500:]
            raise InvalidInputError(
                f"the monitor's pass on the Ray cluster at {config.address!r} failed: {tail}",
                hint="check the cluster (mlbench compute show) and that its workers can read the "
                "target's files; or run the monitor with compute: local",
            )
        with result.open("rb") as f:
            sketch: TargetSketch = pickle.load(f)  # written just now by our own child
        return sketch


def main(argv: list[str] | None = None) -> int:
    import ray

    from mlbench.monitoring.profile import merge_sketches

    args = argv if argv is not None else sys.argv[1:]
    req = json.loads(Path(args[0]).read_text())
    ray.init(
        address=req["address"],
        namespace=req["namespace"],
        runtime_env=req["runtime_env"],
        logging_level=logging.WARNING,
        log_to_driver=False,
    )
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        work = pieces(req["paths"], req["fmt"], min(MAX_TASKS, 2 * cpus))
        task = ray.remote(max_retries=2)(sketch_piece)
        profile_ref = ray.put(req["profile"])
        fmt, names = req["fmt"], req["names"]
        parts = ray.get([task.remote(path, rgs, fmt, profile_ref, names) for path, rgs in work])
        merged = merge_sketches(parts, exact=req["exact"])
    finally:
        ray.shutdown()
    with open(req["result"], "wb") as f:
        pickle.dump(merged, f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
