"""Environment benchmarks (issue 13), each beside its baseline in the same run.

1. Warm-cache build of a reference environment (ipykernel, numpy, pandas, scikit-learn):
   ``ws.environments.create`` (uv: resolve, venv, byte-compiled install, kernelspec) against
   ``python -m venv`` + ``pip install`` of the same pinned packages (pip's cache warm too).
2. A no-op rebuild: ``create`` again with the same packages in another order (goal <= 0.2 s),
   and with ``refresh=True`` (resolved again, nothing built).
3. The first job in a fresh environment (its kernel started, numpy/pandas/sklearn imported),
   byte-compiled at build against not compiled.

Run: ``python benchmarks/bench_envs.py`` (needs PyPI or a warm uv cache; the first build of the
reference warms the caches and is not measured). ``--append`` adds the results to RESULTS.md.
"""

from __future__ import annotations

import argparse
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
from mlbench.environments import build as envbuild  # noqa: E402

log = logging.getLogger("bench")
REFERENCE = ["ipykernel", "numpy", "pandas", "scikit-learn"]
IMPORTS = "import numpy, pandas, sklearn.linear_model\nprint(numpy.__version__)"


def _workspace(base: Path, name: str) -> Workspace:
    return Workspace(base / name, agent_idle_timeout_s=30)


_compiling: list[Any] = []
_compile_later = envbuild.compile_later


def _tracked_compile(venv: Path, log_path: Path) -> Any:
    proc = _compile_later(venv, log_path)
    _compiling.append(proc)
    return proc


def _wait_compiles() -> float:
    """Wait for background byte-compiles (so they load no later measurement); seconds waited."""
    started = time.monotonic()
    while _compiling:
        proc = _compiling.pop()
        if proc is not None:
            proc.wait()
    return time.monotonic() - started


def bench_build(base: Path) -> dict[str, Any]:
    warm = _workspace(base, "warm")  # fills uv's cache; not measured
    ref = warm.environments.create("reference", requirements=REFERENCE)
    _wait_compiles()
    ws = _workspace(base, "measured")
    started = time.monotonic()
    info = ws.environments.create("reference", requirements=list(reversed(REFERENCE)))
    uv_s = time.monotonic() - started
    compile_s = _wait_compiles()
    assert info.lock_hash == ref.lock_hash
    started = time.monotonic()
    _workspace(base, "measured-compiled").environments.create(
        "reference", requirements=REFERENCE, compile_now=True
    )
    uv_compiled_s = time.monotonic() - started

    lock = base / "lock.txt"
    lock.write_text("\n".join(info.packages) + "\n")
    pip_s = []
    for attempt in range(2):  # the first run warms pip's cache; the second is measured
        venv = base / f"pip-venv-{attempt}"
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [
                str(venv / "bin/pip"),
                "install",
                "-q",
                "--disable-pip-version-check",
                "-r",
                str(lock),
            ],
            check=True,
        )
        pip_s.append(time.monotonic() - started)
        log.info("pip run %d: %.1f s", attempt, pip_s[-1])
    return {
        "packages": len(info.packages),
        "uv_s": uv_s,
        "uv_compiled_s": uv_compiled_s,
        "background_compile_s": compile_s,
        "pip_s": pip_s[-1],
        "pip_cold_s": pip_s[0],
        "ws": ws,
    }


def bench_noop(ws: Workspace) -> dict[str, Any]:
    same, refresh = [], []
    for i in range(20):
        order = REFERENCE[i % 4 :] + REFERENCE[: i % 4]
        started = time.monotonic()
        info = ws.environments.create("reference", requirements=order)
        same.append(time.monotonic() - started)
        assert info.version == 1
    for _ in range(3):
        started = time.monotonic()
        info = ws.environments.create("reference", requirements=REFERENCE, refresh=True)
        refresh.append(time.monotonic() - started)
        assert info.version == 1
    return {
        "same_p50": statistics.median(same),
        "same_max": max(same),
        "refresh_p50": statistics.median(refresh),
    }


def first_job(ws: Workspace, nb: Path) -> float:
    started = time.monotonic()
    job = ws.jobs.submit(nb, environment="reference").wait(600)
    elapsed = time.monotonic() - started
    assert job.status.value == "completed", job.logs()
    return elapsed


def bench_first_job(base: Path) -> dict[str, Any]:
    """The first job right after ``create`` returns: compiled at build (``compile_now``), the
    default (compiling in the background meanwhile), and never compiled."""
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(IMPORTS)]
    path = base / "imports.ipynb"
    nbformat.write(nb, path)
    results = {}
    for label in ("compile_now", "background", "never"):
        ws = Workspace(base / f"first-{label}", agent_idle_timeout_s=30)
        ws.jobs.agent("local").ensure_running(wait=True)
        time.sleep(2)  # the agent's own start-up is not the job's
        if label == "never":
            envbuild.compile_later = lambda *a: None  # type: ignore[assignment]
        try:
            info = ws.environments.create(
                "reference", requirements=REFERENCE, compile_now=label == "compile_now"
            )
            results[label] = first_job(ws, path)
            results[f"{label}_build_s"] = info.build_seconds
        finally:
            envbuild.compile_later = _tracked_compile  # type: ignore[assignment]
            ws.jobs.agent("local").stop(now=True)
            _wait_compiles()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--append", action="store_true", help="append to benchmarks/RESULTS.md")
    args = parser.parse_args()
    envbuild.compile_later = _tracked_compile  # type: ignore[assignment]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    with tempfile.TemporaryDirectory(prefix="bench-envs-") as tmp:
        base = Path(tmp)
        built = bench_build(base)
        noop = bench_noop(built.pop("ws"))
        first = bench_first_job(base)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%MZ")
    load = os.getloadavg()[0]
    ratio = built["pip_s"] / built["uv_s"]
    ratio_compiled = built["pip_s"] / built["uv_compiled_s"]
    met = "met" if ratio >= 10 else "not met"
    lines = [
        f"### Run of {when} ({os.cpu_count()} cores, {platform.machine()}, Python "
        f"{platform.python_version()}, 1-minute load {load:.1f} at the end)",
        "",
        "| benchmark | mlbench | baseline, same run | ratio | goal | |",
        "|---|---|---|---|---|---|",
        f"| warm-cache build to ready, reference environment ({built['packages']} packages: "
        f"ipykernel, numpy, pandas, scikit-learn), kernel registered, byte-compiled after it in "
        f"the background ({built['background_compile_s']:.1f} s more) | **{built['uv_s']:.1f} s** "
        f"| `python -m venv` + pip (which compiles), warm cache {built['pip_s']:.1f} s (cold "
        f"{built['pip_cold_s']:.1f} s) | {ratio:.1f}x faster | >= 10x | {met} |",
        f"| the same, byte-compiled before ready (`compile_now=True`) | "
        f"{built['uv_compiled_s']:.1f} s | pip {built['pip_s']:.1f} s | "
        f"{ratio_compiled:.1f}x faster | | |",
        f"| identical spec (reordered), p50 / max of 20 | **{noop['same_p50'] * 1000:.1f} ms** / "
        f"{noop['same_max'] * 1000:.1f} ms | resolved again (`refresh=True`, nothing built) "
        f"{noop['refresh_p50']:.2f} s | | <= 0.2 s | "
        f"{'met' if noop['same_max'] <= 0.2 else 'not met'} |",
        f"| first job right after create (kernel start + numpy/pandas/sklearn imports): "
        f"compiled before ready / background compile (default) / never compiled | "
        f"{first['compile_now']:.2f} s / **{first['background']:.2f} s** / "
        f"{first['never']:.2f} s | builds {first['compile_now_build_s']:.1f} / "
        f"{first['background_build_s']:.1f} / {first['never_build_s']:.1f} s | | | |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.append:
        results = ROOT / "benchmarks" / "RESULTS.md"
        body = results.read_text()
        header = "## Environments (`python benchmarks/bench_envs.py`, issue 13)"
        if header not in body:
            body = body.rstrip("\n") + f"\n\n{header}\n\n"
        results.write_text(body.rstrip("\n") + "\n\n" + text)


if __name__ == "__main__":
    main()
