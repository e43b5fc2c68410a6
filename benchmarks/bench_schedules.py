"""Schedule fire delay (issue 16): how late after its tick a schedule starts its job.

Three measurements:

1. **mlbench, compressed** — 100 minute ticks of a ``* * * * *`` schedule, fired by the real
   :class:`~mlbench.schedules.scheduler.Scheduler` loop (claim in the database, submit the job,
   record the run) on a clock that runs ``--speed`` times faster than real time (60: a minute
   tick every real second). The loop's waits are scaled by the same factor, so a delay measured
   on that clock, divided by the speed, is the real delay. The job submission itself runs at
   real speed, so the compression does not hide its cost. No Jupyter server runs.
2. **mlbench, real time** — ``--real-ticks`` minute ticks fired by the scheduler *process*
   (``python -m mlbench.scheduler``, started on demand as a user's would be) on the system clock;
   the jobs it starts run on the local agent. No Jupyter server runs.
3. **jupyter-scheduler** (when ``--jupyter-scheduler PYTHON`` names an interpreter that has it):
   the same rule as a job definition in a running Jupyter server, for ``--real-ticks`` ticks
   (delay = the job's ``create_time`` minus the tick); then the server is stopped across one
   tick and started again, and the jobs created for that tick are counted.

Goal: p99 <= 2 s. Run: ``python benchmarks/bench_schedules.py [--ticks 100] [--speed 60]
[--real-ticks 3] [--jupyter-scheduler /path/to/venv/bin/python] [--append]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import nbformat  # noqa: E402

UTC = timezone.utc


class ScaledClock:
    """Real time sped up ``speed`` times from ``start``; waits shrink by the same factor."""

    def __init__(self, start: datetime, speed: float) -> None:
        self.start, self.speed, self.t0 = start, speed, time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self.t0) * self.speed)

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        return stop.wait(max(0.0, seconds) / self.speed)


def notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "python3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("print('tick')")]
    nbformat.write(nb, path)
    return path


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": statistics.median(values),
        "p99": pct(values, 0.99),
        "max": max(values),
    }


# -- 1. compressed ---------------------------------------------------------------------------
def compressed(base: Path, ticks: int, speed: float) -> dict[str, Any]:
    from mlbench.schedules.scheduler import Scheduler
    from mlbench.workspace import Workspace  # no agents: the jobs stay queued

    ws = Workspace(base / "ws-compressed")
    nb = notebook(base / "tick.ipynb")
    start = datetime(2026, 12, 1, 0, 0, 30, tzinfo=UTC)
    clock = ScaledClock(start, speed)
    info = ws.schedules.create(
        {
            "name": "bench",
            "trigger": {"cron": "* * * * *"},
            "job": {"notebook_path": str(nb)},
            "missed": {"policy": "skip", "grace_s": 300},
        },
        now=clock.now(),
    )
    scheduler = Scheduler(ws, clock, name="bench")
    thread = threading.Thread(target=scheduler.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + ticks / speed * 60 * 3 + 30
    runs: list[Any] = []
    while time.monotonic() < deadline:
        runs = [r for r in ws.schedules.runs(info.id, limit=ticks * 2) if r.fired_at]
        if len(runs) >= ticks:
            break
        time.sleep(0.2)
    scheduler.stop()
    thread.join(10)
    runs = sorted(runs, key=lambda r: r.tick)[:ticks]
    every = ws.schedules.runs(info.id, limit=ticks * 2)
    jobs = ws.jobs.list(limit=ticks * 2)
    ws.close()
    delays = [r.late_s / speed for r in runs if r.late_s is not None]
    return {
        "delays": delays,
        "ticks": len(runs),
        "unique_ticks": len({r.tick for r in runs}),
        "missed": sum(1 for r in every if r.status.value == "missed"),
        "failed": sum(1 for r in every if r.status.value == "failed"),
        "jobs": len(jobs),
    }


# -- 2. real time ----------------------------------------------------------------------------
def next_minute_in(seconds_min: float) -> float:
    now = time.time()
    top = (now // 60 + 1) * 60
    return top if top - now >= seconds_min else top + 60


def real_mlbench_start(base: Path) -> tuple[Any, str]:
    from mlbench import Workspace

    ws = Workspace(base / "ws-real", agent_idle_timeout_s=120)
    nb = notebook(base / "tick-real.ipynb")
    info = ws.schedules.create(
        {"name": "bench-real", "trigger": {"cron": "* * * * *"}, "job": {"notebook_path": str(nb)}}
    )
    ws.schedules.scheduler().wait_ready(60)
    return ws, info.id


def real_mlbench_finish(ws: Any, schedule_id: str, after: float) -> dict[str, Any]:
    runs = [
        r
        for r in ws.schedules.runs(schedule_id, limit=100)
        if r.fired_at and r.tick.timestamp() >= after
    ]
    ws.schedules.delete(schedule_id)
    ws.schedules.scheduler().stop()
    ws.agents("local").stop(now=True, timeout=30)
    ws.close()
    return {"delays": [r.late_s for r in runs], "ticks": len(runs)}


# -- 3. jupyter-scheduler --------------------------------------------------------------------
class JupyterScheduler:
    def __init__(self, python: str, base: Path) -> None:
        self.python, self.base = python, base
        self.root = base / "js-root"
        self.root.mkdir()
        notebook(self.root / "tick.ipynb")
        self.token = secrets.token_hex(16)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.env = {**os.environ}
        for var in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
            folder = base / "js-home" / var.lower()
            folder.mkdir(parents=True, exist_ok=True)
            self.env[var] = str(folder)
        self.env["PATH"] = f"{Path(python).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.base / "js-server.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                self.python,
                "-m",
                "jupyter_server",
                f"--ServerApp.root_dir={self.root}",
                f"--ServerApp.port={self.port}",
                "--ServerApp.port_retries=0",
                "--ServerApp.ip=127.0.0.1",
                f"--IdentityProvider.token={self.token}",
                "--ServerApp.open_browser=False",
                "--ServerApp.allow_root=True",
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.root,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                self.call("GET", "/scheduler/config")
                return
            except OSError:
                time.sleep(0.25)
        raise RuntimeError(f"jupyter server did not start; see {self.base / 'js-server.log'}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None

    def call(self, method: str, path: str, body: Any = None) -> Any:
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            text = resp.read()
        return json.loads(text) if text else None

    def define(self) -> str:
        out = self.call(
            "POST",
            "/scheduler/job_definitions",
            {
                "input_uri": "tick.ipynb",
                "runtime_environment_name": "python3",
                "name": "bench",
                "schedule": "* * * * *",
                "timezone": "UTC",
                "output_formats": [],
            },
        )
        return out["job_definition_id"]

    def create_times(self, definition: str) -> list[float]:
        out = self.call("GET", f"/scheduler/jobs?job_definition_id={definition}&max_items=1000")
        return sorted(j["create_time"] / 1000 for j in out["jobs"])


def delays_of(create_times: list[float], after: float) -> list[float]:
    return [t - (t // 60) * 60 for t in create_times if t >= after]


# -- main --------------------------------------------------------------------------------------
def fmt(s: dict[str, float]) -> str:
    if not s.get("n"):
        return "| - | - | - |"
    return f"| {s['p50']:.3f} | {s['p99']:.3f} | {s['max']:.3f} |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=100)
    ap.add_argument("--speed", type=float, default=60.0)
    ap.add_argument("--real-ticks", type=int, default=3)
    ap.add_argument("--jupyter-scheduler", metavar="PYTHON", help="a python with it installed")
    ap.add_argument("--append", action="store_true", help="append the results to RESULTS.md")
    args = ap.parse_args()
    os.environ.setdefault("MLBENCH_SCHEDULER_IDLE_S", "30")
    with tempfile.TemporaryDirectory(prefix="bench-schedules-") as tmp:
        base = Path(tmp)
        os.environ["MLBENCH_HOME"] = str(base / "ws-real")
        print(f"compressed: {args.ticks} minute ticks at {args.speed:g}x ...", flush=True)
        comp = compressed(base, args.ticks, args.speed)
        print({k: v for k, v in comp.items() if k != "delays"}, summary(comp["delays"]))

        real: dict[str, Any] = {"delays": [], "ticks": 0}
        js_run: list[float] = []
        js_stopped: dict[str, Any] = {}
        if args.real_ticks:
            js = JupyterScheduler(args.jupyter_scheduler, base) if args.jupyter_scheduler else None
            definition = None
            if js:
                js.start()
                definition = js.define()
            ws, schedule_id = real_mlbench_start(base)
            first = next_minute_in(5)  # ticks from here on are measured, for both
            end = first + 60 * (args.real_ticks - 1) + 20
            print(f"real time: {args.real_ticks} ticks, until {time.ctime(end)} ...", flush=True)
            time.sleep(max(0.0, end - time.time()))
            real = real_mlbench_finish(ws, schedule_id, first)
            print("mlbench real", summary(real["delays"]))
            if js and definition:
                js_run = delays_of(js.create_times(definition), first)
                print("jupyter-scheduler running", summary(js_run))
                js.stop()
                stopped_at = time.time()
                restart = next_minute_in(5) + 10  # one tick passes while it is down
                time.sleep(max(0.0, restart - time.time()))
                js.start()
                time.sleep(15)  # beyond its 10 s poll
                times = js.create_times(definition)
                js.stop()
                js_stopped = {
                    "down_s": round(restart - stopped_at, 1),
                    "ticks_while_down": int(restart // 60 - stopped_at // 60),
                    "jobs_for_them": sum(1 for t in times if stopped_at <= t),
                }
                print("jupyter-scheduler stopped", js_stopped)

    comp_s, real_s, js_s = summary(comp["delays"]), summary(real["delays"]), summary(js_run)
    p99 = max(comp_s.get("p99", 0), real_s.get("p99", 0))
    lines = [
        f"### Schedules: fire delay after the tick — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}. `python benchmarks/bench_schedules.py --ticks {args.ticks}"
        f" --speed {args.speed:g} --real-ticks {args.real_ticks}"
        + (" --jupyter-scheduler PYTHON`" if args.jupyter_scheduler else "`"),
        "",
        "| scheduler | ticks | p50 (s) | p99 (s) | max (s) |",
        "|---|---|---|---|---|",
        f"| mlbench, test clock at {args.speed:g}x (claim + submit + record), no Jupyter "
        f"| {comp_s.get('n', 0)} {fmt(comp_s)}",
        f"| mlbench scheduler process, real minutes, no Jupyter | {real_s.get('n', 0)} "
        f"{fmt(real_s)}",
    ]
    if args.jupyter_scheduler:
        lines.append(
            f"| jupyter-scheduler 2.12, Jupyter server running | {js_s.get('n', 0)} {fmt(js_s)}"
        )
        lines.append(
            f"| jupyter-scheduler, Jupyter server stopped {js_stopped.get('down_s')} s "
            f"({js_stopped.get('ticks_while_down')} tick(s)) | - | jobs started for those "
            f"ticks: {js_stopped.get('jobs_for_them')} | | |"
        )
    lines += [
        "",
        f"Compressed run: {comp['ticks']} ticks fired, {comp['unique_ticks']} distinct, "
        f"{comp['missed']} missed, {comp['failed']} failed, {comp['jobs']} jobs queued. "
        f"Goal p99 <= 2 s: {'met' if p99 <= 2 else 'not met'} (p99 {p99:.3f} s).",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.append:
        with open(ROOT / "benchmarks" / "RESULTS.md", "a", encoding="utf-8") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
