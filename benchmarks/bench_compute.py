"""Remote compute benchmarks: the ``ray`` and ``gateway`` kinds against ``local``, same run.

1. 50 trivial jobs submitted at once to each target (each capped at 2 jobs at once, the
   machine's cores): throughput, and per-job overhead (wall time per job x concurrency);
2. submit -> completed latency of single trivial jobs, one after another, on each target:
   what a Ray task or a gateway kernel adds to a job over a local kernel.

A Ray head (2 CPUs, 2 declared GPUs) and a Jupyter Kernel Gateway are started on 127.0.0.1 and
stopped at the end (the head by its own processes: tests/ray_head.py; any other Ray on the
machine is left alone). Ray listens on every interface, so the script re-runs itself in a
loopback-only network namespace (`.ci/loopback`, root only).

Run: ``python benchmarks/bench_compute.py`` (``--help`` for sizes).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_jobs import notebook, summary  # noqa: E402

from mlbench import Workspace  # noqa: E402
from tests.ray_head import RayHead  # noqa: E402

TOKEN = "bench-token"


def _only_loopback() -> bool:
    return [name for _, name in socket.if_nameindex()] == ["lo"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_gateway(workdir: Path) -> tuple[str, subprocess.Popen[bytes]]:
    import requests

    port = _free_port()
    env = {
        **os.environ,
        "KG_AUTH_TOKEN": TOKEN,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kernel_gateway",
            "--KernelGatewayApp.ip=127.0.0.1",
            f"--KernelGatewayApp.port={port}",
        ],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if requests.get(f"{url}/api", headers={"Authorization": f"token {TOKEN}"}).ok:
                return url, proc
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError("the kernel gateway did not start")


def burst(ws: Workspace, nb: Path, compute: str, jobs: int) -> dict[str, Any]:
    start = time.perf_counter()
    submitted = [ws.jobs.submit(nb, {"x": i}, compute=compute) for i in range(jobs)]
    for job in submitted:
        info = job.wait(900).info
        assert info.status.value == "completed", (compute, info.status_reason)
    elapsed = time.perf_counter() - start
    at_once = ws.compute.get(compute).capacity.max_concurrent_jobs
    return {
        "jobs": jobs,
        "seconds": round(elapsed, 2),
        "jobs_per_min": round(jobs * 60 / elapsed, 1),
        "seconds_per_job_slot": round(elapsed * at_once / jobs, 3),
    }


def latency(ws: Workspace, nb: Path, compute: str, runs: int) -> dict[str, Any]:
    times = []
    for i in range(runs):
        time.sleep(1.0)  # an interactive pace: a local agent's kernel pool refills
        start = time.perf_counter()
        job = ws.jobs.submit(nb, {"x": i}, compute=compute)
        info = ws.jobs.wait(job.id, timeout=300, poll_interval=0.005)
        assert info.status.value == "completed", (compute, info.status_reason)
        times.append(time.perf_counter() - start)
    return summary(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=50, help="jobs per target in the burst")
    parser.add_argument("--runs", type=int, default=10, help="single jobs per target")
    parser.add_argument(
        "--ray-kernels", type=int, help="warm kernels per Ray node (default: the target's, 1)"
    )
    parser.add_argument(
        "--targets", default="local,ray,gw", help="which of local, ray, gw (default: all)"
    )
    args = parser.parse_args()
    if not _only_loopback():
        if os.environ.get("MLBENCH_BENCH_NETNS") or os.geteuid() != 0:
            sys.exit("Ray binds every interface: run as root (re-run in a private netns) or in one")
        os.environ["MLBENCH_BENCH_NETNS"] = "1"
        loopback = str(ROOT / ".ci" / "loopback")
        os.execv(loopback, [loopback, sys.executable, __file__, *sys.argv[1:]])

    targets = tuple(args.targets.split(","))
    work = Path(tempfile.mkdtemp(prefix="mlbench-bench-compute-"))
    # stopped by its own processes, never by `ray stop` with `--force` (kills every Ray here)
    ray = RayHead("--num-cpus=2", "--num-gpus=2")
    address = ray.start()
    gateway_url, gateway = start_gateway(work)
    ws = Workspace(work / "ws", agent_idle_timeout_s=120)
    results: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="minutes"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
    }
    try:
        ws.compute.update("local", max_concurrent_jobs=2)
        pool = {} if args.ray_kernels is None else {"kernel_pool_size": args.ray_kernels}
        ws.compute.create("ray", "ray", address=address, max_concurrent_jobs=2, **pool)
        ws.compute.create("gw", "gateway", url=gateway_url, token=TOKEN, max_concurrent_jobs=2)
        nb = notebook(work / "trivial.ipynb", "y = x * 2", parameters="x = 0")
        for compute in targets:  # agents started, imports and connections warm
            ws.jobs.agent(compute).ensure_running(wait=True)
            ws.jobs.submit(nb, compute=compute).wait(300)
        for compute in targets:
            results[f"burst_{compute}"] = burst(ws, nb, compute, args.jobs)
            time.sleep(3)
        for compute in targets:
            results[f"latency_{compute}"] = latency(ws, nb, compute, args.runs)
        local_latency = results["latency_local"]["p50_s"]
        local_rate = results["burst_local"]["jobs_per_min"]
        for compute in (t for t in targets if t != "local"):
            added = results[f"latency_{compute}"]["p50_s"] - local_latency
            results[f"added_latency_{compute}_s"] = round(added, 3)
            rate = results[f"burst_{compute}"]["jobs_per_min"]
            results[f"throughput_ratio_{compute}_vs_local"] = round(rate / local_rate, 2)
    finally:
        for compute in targets:
            ws.jobs.agent(compute).stop()
        ws.close()
        gateway.terminate()
        gateway.wait(15)
        ray.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
