"""Online scoring (issue 18): mlbench's scoring server and endpoint vs `mlflow models serve`.

One model (a 50-tree random forest, saved with ``mlflow.sklearn.save_model``), one client (an
aiohttp client at concurrency 1, 8 and 32, a fixed number of one-row ``dataframe_split``
requests after a warm-up), three servers started in the same run and measured in turns at each
concurrency, so that a change in the machine's load hits all of them alike:

- ``mlflow``: ``mlflow models serve --env-manager local`` (the baseline);
- ``scoring``: ``python -m mlbench.endpoints.scoring`` alone (``--workers``, batching);
- ``endpoint``: the full path, ``ws.endpoints`` in a tmp workspace: router (key check, traffic,
  metrics) in front of a deployment of the registered model.

Also the time from start to the first ``/ping`` 200 of each server, and from
``ws.endpoints.deploy`` to a ready deployment: the first (the agent starts too) and a second
one with the agent running (its spare scoring process waiting). Goals: >= 2x throughput and
<= half the p99 at concurrency 8; >= 5x throughput at 32; deploy to ready <= 5 s.

Run: ``python benchmarks/bench_endpoints.py`` (``--help``; ``--json FILE`` keeps the results).
Everything listens on 127.0.0.1; every process started here is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

log = logging.getLogger("bench-endpoints")
FEATURES = [f"f{i}" for i in range(8)]
BODY = json.dumps(
    {"dataframe_split": {"columns": FEATURES, "data": [[0.1 * i for i in range(len(FEATURES))]]}}
).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def train(folder: Path) -> None:
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(2000, len(FEATURES))), columns=FEATURES)
    y = (X.f0 + X.f1 * X.f2 > 0).astype(int)
    model = RandomForestClassifier(n_estimators=50, random_state=0).fit(X, y)
    mlflow.sklearn.save_model(
        model,
        str(folder),
        signature=infer_signature(X, model.predict(X)),
        skops_trusted_types=["sklearn.tree._tree.Tree"],
    )


def wait_ready(url: str, proc: subprocess.Popen[bytes] | None, timeout: float = 300) -> float:
    """Seconds until ``url`` answers 200 (polled every 20 ms)."""
    import requests

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return time.monotonic() - started
        except requests.ConnectionError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"{url} not ready after {timeout} s")


@contextmanager
def server(cmd: list[str], ping: str, log_file: Path) -> Iterator[float]:
    """Start ``cmd`` in a session of its own; yields seconds to ready; SIGTERM to it at the end."""
    with log_file.open("wb") as out:
        started = time.monotonic()
        # mlflow models serve runs `uvicorn` from PATH: this interpreter's bin comes first
        path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PATH": path},
        )
        try:
            try:
                wait_ready(ping, proc)
            except RuntimeError:
                log.error("%s", log_file.read_text(errors="replace")[-3000:])
                raise
            yield time.monotonic() - started
        finally:
            with suppress(ProcessLookupError):  # the session may have ended with it
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


async def load(url: str, concurrency: int, count: int, headers: dict[str, str]) -> dict[str, Any]:
    """``count`` requests from ``concurrency`` clients on kept-alive connections."""
    import aiohttp

    headers = {"Content-Type": "application/json", **headers}
    latencies: list[float] = []
    errors = 0
    left = count
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client() -> None:
            nonlocal left, errors
            while left > 0:
                left -= 1
                started = time.perf_counter()
                async with session.post(url, data=BODY, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()

    def pct(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 1)

    return {
        "rps": round(count / elapsed, 1),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "errors": errors,
    }


def measure(
    targets: dict[str, tuple[str, dict[str, str]]], levels: list[int], count: int, warmup: int
) -> dict[str, dict[int, dict[str, Any]]]:
    results: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in targets}
    for concurrency in levels:
        for name, (url, headers) in targets.items():
            asyncio.run(load(url, concurrency, warmup, headers))
            results[name][concurrency] = asyncio.run(load(url, concurrency, count, headers))
            log.info("c=%d %s: %s", concurrency, name, results[name][concurrency])
    return results


@contextmanager
def endpoint(model: Path, home: Path, args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """The full path: a workspace, the model registered, an endpoint with one deployment."""
    from mlbench import Workspace
    from mlbench.agent.process import AgentHandle

    ws = Workspace(home, agent_idle_timeout_s=600)
    try:
        ws.models.register("forest", folder=model)
        created = ws.endpoints.create("bench")
        started = time.monotonic()
        ws.endpoints.deploy(
            "bench",
            "blue",
            "forest:1",
            resources={"workers": args.workers},
            max_batch_size=args.max_batch_size,
            max_wait_ms=args.max_wait_ms,
        )
        deploy_s = time.monotonic() - started
        # The usual case after the first: the agent runs and its spare scoring process waits
        # (started 10 s after the first deploy took the previous one; its imports take seconds).
        time.sleep(20)
        started = time.monotonic()
        ws.endpoints.deploy("bench", "green", "forest:1", max_batch_size=args.max_batch_size)
        warm_s = time.monotonic() - started
        ws.endpoints.delete_deployment("bench", "green")
        yield {
            "url": created.url,
            "key": created.secrets.primary,
            "deploy_to_ready_s": round(deploy_s, 2),
            "warm_deploy_to_ready_s": round(warm_s, 2),
        }
    finally:
        try:
            ws.endpoints.delete("bench")
        finally:
            for target in ws.compute.list():
                AgentHandle(ws, target.name).stop(now=True, timeout=30)
            ws.close()


def report(results: dict[str, Any]) -> str:
    rows = results["throughput"]
    base = rows["mlflow"]
    lines = [
        "| concurrency | server | req/s | p50 ms | p99 ms | errors | req/s vs mlflow "
        "| p99 vs mlflow |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for concurrency in results["levels"]:
        for name, by_level in rows.items():
            r = by_level[concurrency]
            b = base[concurrency]
            lines.append(
                f"| {concurrency} | {name} | {r['rps']} | {r['p50_ms']} | {r['p99_ms']} | "
                f"{r['errors']} | {r['rps'] / b['rps']:.2f}x | {r['p99_ms'] / b['p99_ms']:.2f}x |"
            )
    lines.append("")
    lines.append("start to ready (s): " + json.dumps(results["ready_s"]))
    lines.append("goals: " + json.dumps(results["goals"]))
    return "\n".join(lines)


def goals(results: dict[str, Any]) -> dict[str, Any]:
    rows, out = results["throughput"], {}
    base = rows["mlflow"]
    for name in rows:
        if name == "mlflow":
            continue
        r = rows[name]
        out[name] = {
            "c8 >= 2x req/s": r[8]["rps"] >= 2 * base[8]["rps"] if 8 in r else None,
            "c8 p99 <= half": r[8]["p99_ms"] <= base[8]["p99_ms"] / 2 if 8 in r else None,
            "c32 >= 5x req/s": r[32]["rps"] >= 5 * base[32]["rps"] if 32 in r else None,
        }
    ready = results["ready_s"]
    out["ready <= 5 s"] = {name: value <= 5 for name, value in ready.items() if name != "mlflow"}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="per level and server")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--levels", default="1,8,32")
    parser.add_argument("--workers", type=int, default=1, help="scoring server processes")
    parser.add_argument("--max-batch-size", type=int, default=64)
    parser.add_argument("--max-wait-ms", type=float, default=2.0)
    parser.add_argument("--no-endpoint", action="store_true", help="skip the full endpoint")
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    levels = [int(x) for x in args.levels.split(",")]

    with tempfile.TemporaryDirectory(prefix="bench-endpoints-") as tmp:
        base = Path(tmp)
        model = base / "forest"
        train(model)
        bin_dir = Path(sys.executable).parent
        mlflow_port, scoring_port = free_port(), free_port()
        mlflow_cmd = [str(bin_dir / "mlflow"), "models", "serve", "-m", str(model)]
        mlflow_cmd += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(mlflow_port)]
        scoring_cmd = [sys.executable, "-m", "mlbench.endpoints.scoring", "--model", str(model)]
        scoring_cmd += ["--host", "127.0.0.1", "--port", str(scoring_port)]
        scoring_cmd += ["--workers", str(args.workers)]
        scoring_cmd += ["--max-batch-size", str(args.max_batch_size)]
        scoring_cmd += ["--max-wait-ms", str(args.max_wait_ms)]
        ready: dict[str, float] = {}
        with (
            server(mlflow_cmd, f"http://127.0.0.1:{mlflow_port}/ping", base / "mlflow.log") as t1,
            server(scoring_cmd, f"http://127.0.0.1:{scoring_port}/ping", base / "ours.log") as t2,
        ):
            ready["mlflow"], ready["scoring"] = round(t1, 2), round(t2, 2)
            targets: dict[str, tuple[str, dict[str, str]]] = {
                "mlflow": (f"http://127.0.0.1:{mlflow_port}/invocations", {}),
                "scoring": (f"http://127.0.0.1:{scoring_port}/invocations", {}),
            }
            if args.no_endpoint:
                throughput = measure(targets, levels, args.requests, args.warmup)
            else:
                with endpoint(model, base / "ws", args) as ep:
                    ready["endpoint deploy"] = ep["deploy_to_ready_s"]
                    ready["endpoint deploy, agent running"] = ep["warm_deploy_to_ready_s"]
                    auth = {"Authorization": f"Bearer {ep['key']}"}
                    targets["endpoint"] = (ep["url"], auth)
                    throughput = measure(targets, levels, args.requests, args.warmup)

    results: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="minutes"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python "
        f"{platform.python_version()}, 1-min load at end {os.getloadavg()[0]:.1f}",
        "config": {
            "workers": args.workers,
            "max_batch_size": args.max_batch_size,
            "max_wait_ms": args.max_wait_ms,
            "requests": args.requests,
        },
        "levels": levels,
        "ready_s": ready,
        "throughput": throughput,
    }
    results["goals"] = goals(results)
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
