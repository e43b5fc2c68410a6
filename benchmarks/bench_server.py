"""REST/event benchmarks of the jupyter-server extension, on a live server over loopback.

1. list-jobs page latency (p50/p95) with 10,000 jobs in the workspace: first page, a later page
   (cursor), and a filtered page (goal: p95 <= 50 ms);
2. metric history of one 100,000-point series downsampled to <= 1,000 points (goal: <= 100 ms);
3. 50 WebSocket clients on the event stream while 20 jobs run: every client must see every
   status transition, in order; delivery latency from the event's creation.

Run: ``python benchmarks/bench_server.py`` (``--help`` for sizes; ``--json FILE`` keeps results).
Everything runs on 127.0.0.1 in a tmp folder; the server and the agent are stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import logging
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import nbformat  # noqa: E402
from seed_ui_bench import seed_jobs  # noqa: E402

from mlbench import Workspace  # noqa: E402

log = logging.getLogger("bench-server")
TOKEN = "bench-token"
API = "/mlbench/api/v1"


# -- helpers -----------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary_ms(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "p50_ms": round(pct(ms, 0.5), 2),
        "p95_ms": round(pct(ms, 0.95), 2),
        "max_ms": round(max(ms), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
    }


class Server:
    """A ``jupyter server`` process with mlbench on a free loopback port."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "root"
        self.home = base / "ws"
        for folder in (self.root, self.home, base / "jupyter"):
            folder.mkdir(parents=True, exist_ok=True)
        (self.home / "mlbench.yaml").write_text("agent_idle_timeout_s: 120\n")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        config = {
            "ServerApp": {
                "jpserver_extensions": {"mlbench": True},
                "ip": "127.0.0.1",
                "port": self.port,
                "port_retries": 0,
                "open_browser": False,
                "root_dir": str(self.root),
                "allow_root": True,
                "log_level": "WARN",
            },
            "IdentityProvider": {"token": TOKEN},
            "MlbenchApp": {"workspace": str(self.home)},
        }
        (self.base / "config.json").write_text(json.dumps(config))
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLBENCH_")}
        jupyter = self.base / "jupyter"
        env.update(
            HOME=str(self.base),
            JUPYTER_CONFIG_DIR=str(jupyter),
            JUPYTER_DATA_DIR=str(jupyter / "data"),
            JUPYTER_RUNTIME_DIR=str(jupyter / "runtime"),
        )
        out = open(self.base / "server.log", "wb")  # noqa: SIM115 - lives with the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", f"--config={self.base / 'config.json'}"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=self.base,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                self.get("/health")
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError((self.base / "server.log").read_text()[-3000:]) from None
                time.sleep(0.3)

    def request(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        query = urllib.parse.urlencode(params, doseq=True)
        url = f"{self.url}{API}{path}" + (f"?{query}" if query else "")
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            url, data=data, method=method, headers={"Authorization": f"token {TOKEN}"}
        )
        with urllib.request.urlopen(req, timeout=60) as r:
            text = r.read()
        return json.loads(text) if text else None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, **params)

    def timed_get(self, path: str, runs: int, **params: Any) -> dict[str, float]:
        return self.timed_gets(path, [params] * runs)

    def timed_gets(
        self,
        path: str,
        queries: list[dict[str, Any]],
        before: Callable[[], None] | None = None,
        warmup: dict[str, Any] | None = None,
    ) -> dict[str, float]:
        """Latency of GETs on a kept-alive connection, as a browser's would be; one warm-up.

        ``before`` runs ahead of each request, outside the timing; ``warmup`` is the untimed
        first request's query (default: the first timed one's).
        """
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Authorization": f"token {TOKEN}"}
        times = []
        try:
            for i, params in enumerate([warmup or queries[0], *queries]):
                url = f"{API}{path}?{urllib.parse.urlencode(params, doseq=True)}"
                if before is not None:
                    before()
                start = time.perf_counter()
                conn.request("GET", url, headers=headers)
                response = conn.getresponse()
                body = response.read()
                if response.status != 200:
                    raise RuntimeError(f"GET {url}: {response.status} {body[:300]!r}")
                if i:  # the first is a warm-up (imports, caches)
                    times.append(time.perf_counter() - start)
        finally:
            conn.close()
        return summary_ms(times)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(30)


def notebook(path: Path, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells.extend(nbformat.v4.new_code_cell(c) for c in cells)
    nbformat.write(nb, path)
    return path


# -- 1. list jobs with 10,000 in the workspace ------------------------------------------------
def bench_list_jobs(server: Server, ws: Workspace, jobs: int, runs: int) -> dict[str, Any]:
    seed_jobs(ws, jobs)
    first = server.get("/jobs", limit=50)
    later = first
    for _ in range(20):  # 20 pages in
        later = server.get("/jobs", limit=50, cursor=later["next_cursor"])
    return {
        "jobs_in_workspace": jobs,
        "first_page_50": server.timed_get("/jobs", runs, limit=50),
        "page_21_by_cursor": server.timed_get("/jobs", runs, limit=50, cursor=later["next_cursor"]),
        "filtered_status_experiment": server.timed_get(
            "/jobs", runs, limit=50, status="failed", experiment="bench-3"
        ),
        "text_search": server.timed_get("/jobs", runs, limit=50, text="train-99"),
        "goal_p95_ms": 50,
    }


# -- 2. metric history -------------------------------------------------------------------------
def bench_metric_history(server: Server, ws: Workspace, points: int, runs: int) -> dict[str, Any]:
    _, run_id = ws.tracking.start_run("bench-history", "long", {}, {})
    start = time.perf_counter()
    ws.tracking.log_points(
        run_id, [("loss", 1.0 / (1 + i) + (i % 97) * 1e-4, i, 1_000 + i) for i in range(points)]
    )
    seeded_s = time.perf_counter() - start
    assert ws.tracking.series is not None
    column_file = ws.tracking.series.path(run_id, "loss")
    cold_queries = [{"run_id": run_id, "key": "loss", "max_points": 999 - n} for n in range(runs)]
    store_queries = [{**q, "max_points": 499 - n} for n, q in enumerate(cold_queries)]
    warmup = {"run_id": run_id, "key": "loss", "max_points": 4}

    def drop_column_file() -> None:
        column_file.unlink(missing_ok=True)

    reply = server.get("/runs/metric-history", run_id=run_id, key="loss", max_points=1000)
    series = reply["series"][0]
    return {
        "points": points,
        "seeding_s": round(seeded_s, 1),
        "returned_points": len(series["steps"]),
        "extremes_kept": max(series["values"]) == 1.0,
        # cold: every request misses the server's cache (a different max_points each time) and
        # reads the column file the points were mirrored to when they were logged
        "cold": server.timed_gets("/runs/metric-history", cold_queries, warmup=warmup),
        # cold, and the column file gone too (points logged around mlbench, straight to MLflow):
        # read from MLflow's table, the baseline the column files are measured against
        "cold_from_store": server.timed_gets(
            "/runs/metric-history", store_queries, before=drop_column_file, warmup=warmup
        ),
        # warm: the same chart again (a reload, another client): answered from the cache
        "warm": server.timed_get(
            "/runs/metric-history", runs, run_id=run_id, key="loss", max_points=1000
        ),
        "goal_ms": 100,
    }


# -- 3. event fan-out --------------------------------------------------------------------------
async def _fan_out(server: Server, clients: int, jobs: int) -> dict[str, Any]:
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    ws_url = server.url.replace("http", "ws") + API + "/events/stream"
    request = HTTPRequest(ws_url, headers={"Authorization": f"token {TOKEN}"})
    conns = [await websocket_connect(request) for _ in range(clients)]
    for c in conns:
        json.loads(await c.read_message())  # hello
    nb = notebook(server.root / "quick.ipynb", "x = sum(range(1000))", "print(x)")
    loop = asyncio.get_running_loop()
    finals = ("completed", "failed", "canceled", "timed_out")
    seen: list[list[tuple[str, str]]] = [[] for _ in conns]
    latencies: list[float] = []
    submitted: list[str] = []
    all_submitted = asyncio.Event()

    async def listen(i: int, conn: Any) -> None:
        done: set[str] = set()
        while not (all_submitted.is_set() and done == set(submitted)):
            msg = json.loads(await conn.read_message())
            received = datetime.now(timezone.utc)
            if msg.get("type") != "event" or msg["kind"] != "status":
                continue
            seen[i].append((msg["job_id"], msg["data"]["status"]))
            created = datetime.fromisoformat(msg["created_at"])
            if created.tzinfo is None:
                created = created.replace(tzinfo=timezone.utc)
            latencies.append((received - created).total_seconds())
            if msg["data"]["status"] in finals:
                done.add(msg["job_id"])

    listeners = asyncio.gather(*(listen(i, c) for i, c in enumerate(conns)))
    start = time.perf_counter()
    for i in range(jobs):
        job = await loop.run_in_executor(
            None,
            lambda i=i: server.request(
                "POST",
                "/jobs",
                {"notebook_path": nb.name, "display_name": f"fan-{i}", "resources": {"cpus": 0.5}},
            ),
        )
        submitted.append(job["id"])
    all_submitted.set()
    await asyncio.wait_for(listeners, timeout=600)
    elapsed = time.perf_counter() - start
    for c in conns:
        c.close()
    expected = []
    for job_id in submitted:
        page = await loop.run_in_executor(None, lambda j=job_id: server.get(f"/jobs/{j}/events"))
        expected.extend(
            (job_id, e["data"]["status"], e["id"]) for e in page["items"] if e["kind"] == "status"
        )
    in_order = [(j, s) for j, s, _ in sorted(expected, key=lambda e: e[2])]
    complete = all(sorted(s) == sorted(in_order) for s in seen)
    ordered = all(s == in_order for s in seen)
    return {
        "clients": clients,
        "jobs": jobs,
        "transitions_per_client": len(in_order),
        "every_client_saw_every_transition": complete,
        "every_client_in_recorded_order": ordered,
        "all_jobs_final_s": round(elapsed, 1),
        "delivery_latency": summary_ms(latencies),
    }


def bench_events(server: Server, clients: int, jobs: int) -> dict[str, Any]:
    server.request("PATCH", "/compute/local", {"config": {"max_concurrent_jobs": 4}})
    return asyncio.run(_fan_out(server, clients, jobs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs in the workspace")
    parser.add_argument("--runs", type=int, default=200, help="timed requests per case")
    parser.add_argument("--points", type=int, default=100_000, help="metric points")
    parser.add_argument("--clients", type=int, default=50, help="event stream clients")
    parser.add_argument("--event-jobs", type=int, default=20, help="jobs run during fan-out")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    results: dict[str, Any] = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    with tempfile.TemporaryDirectory(prefix="mlbench-bench-server-") as tmp:
        server = Server(Path(tmp))
        server.start()
        ws = Workspace(server.home)
        try:
            sections = [
                ("list_jobs", lambda: bench_list_jobs(server, ws, args.jobs, args.runs)),
                (
                    "metric_history",
                    lambda: bench_metric_history(server, ws, args.points, max(20, args.runs // 4)),
                ),
                ("event_fan_out", lambda: bench_events(server, args.clients, args.event_jobs)),
            ]
            for name, run in sections:
                start = time.perf_counter()
                results[name] = run()
                log.info("%s (%.0f s): %s", name, time.perf_counter() - start, results[name])
        finally:
            server.stop()
            from mlbench.agent.process import AgentHandle

            for target in ws.compute.list():
                AgentHandle(ws, target.name).stop(now=True, timeout=30)
            ws.close()
    text = json.dumps(results, indent=2)
    sys.stdout.write(text + "\n")
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
