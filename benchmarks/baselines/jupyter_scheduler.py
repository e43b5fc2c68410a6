"""Baseline: notebook jobs run by jupyter-scheduler, measured over its REST API.

jupyter-scheduler runs in a venv of its own (see ``setup_scheduler_venv.sh``), under a
``jupyter server`` started here on 127.0.0.1 with throw-away config, data, runtime and root
directories. Two measurements:

* latency: jobs submitted one at a time; the time from ``POST /scheduler/jobs`` until
  ``GET /scheduler/jobs/{id}`` reports ``COMPLETED`` (polled every 20 ms);
* throughput: N jobs submitted at once (K concurrent POSTs); jobs per minute until all complete.

Every job is checked after the fact: status ``COMPLETED`` and an executed output notebook in the
staging area whose ``print(y)`` cell printed ``2 * x`` for the ``x`` the job was given.

The server, the job processes it spawns and their kernels (which jupyter-client starts in
sessions of their own) are all stopped on exit, errors included: they carry a marker variable in
their environment, and whatever still has it after the server's process group is killed is
killed too.

Run:  python -m benchmarks.baselines.jupyter_scheduler --venv benchmarks/.venv-scheduler
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

log = logging.getLogger("benchmarks.baselines.jupyter_scheduler")

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_VENV = REPO_ROOT / "benchmarks" / ".venv-scheduler"
DEFAULT_NOTEBOOK = REPO_ROOT / "benchmarks" / "notebooks" / "three_cells.ipynb"

MARKER_VAR = "MLBENCH_SCHEDULER_BASELINE"
LATENCY_POLL_S = 0.02
THROUGHPUT_POLL_S = 0.1
FINAL = frozenset({"COMPLETED", "FAILED"})
HTTP_TIMEOUT_S = 30.0
READY_TIMEOUT_S = 90.0
JOB_TIMEOUT_S = 180.0
STOP_GRACE_S = 10.0

JsonDict = dict[str, Any]


class BaselineError(RuntimeError):
    """The baseline could not be measured (server, API or job failure)."""


def _is_terminal(job: JsonDict) -> bool:
    """Whether a job described by the API has finished.

    A new job's status is ``STOPPED`` (the ORM's default) until its process starts and sets
    ``IN_PROGRESS``: ``STOPPED`` means "stopped" only once the job has a ``start_time``.
    """
    status = job["status"]
    return status in FINAL or (status == "STOPPED" and job.get("start_time") is not None)


# --------------------------------------------------------------------------- processes


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _marked_pids(marker: str) -> list[int]:
    """Processes (other than this one) whose initial environment holds ``MARKER_VAR=marker``."""
    needle = f"{MARKER_VAR}={marker}".encode()
    found: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone, a zombie, or not ours to read
            continue
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def _kill_marked(marker: str, timeout_s: float = 5.0) -> int:
    """SIGKILL every marked process until none is left; return how many were killed."""
    killed: set[int] = set()
    deadline = time.monotonic() + timeout_s
    while True:
        pids = _marked_pids(marker)
        if not pids:
            return len(killed)
        if time.monotonic() > deadline:
            raise BaselineError(f"processes survived SIGKILL: {pids}")
        for pid in pids:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
        time.sleep(0.05)


def _venv_versions(python: Path) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json\n"
        "names = ['jupyter-scheduler', 'jupyter-server', 'jupyterlab', 'ipykernel', 'nbconvert',"
        " 'nbclient', 'jupyter-client']\n"
        "print(json.dumps({n: m.version(n) for n in names}))\n"
    )
    out = subprocess.run(
        [str(python), "-c", code], check=True, capture_output=True, text=True, timeout=60
    )
    versions: dict[str, str] = json.loads(out.stdout)
    versions["python"] = subprocess.run(
        [str(python), "-c", "import platform; print(platform.python_version())"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    return versions


@dataclass
class SchedulerServer:
    """A ``jupyter server`` with jupyter-scheduler, from ``venv``, living under ``workdir``."""

    venv: Path
    workdir: Path
    port: int = field(default_factory=_free_port)
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    marker: str = field(default_factory=lambda: secrets.token_hex(8))
    proc: subprocess.Popen[bytes] | None = None
    startup_s: float = 0.0

    @property
    def root_dir(self) -> Path:
        return self.workdir / "root"

    @property
    def staging_dir(self) -> Path:
        return self.workdir / "staging"

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"PYTHONPATH", "PYTHONHOME", "JUPYTER_PATH", "JUPYTER_CONFIG_PATH"}
        }
        dirs = {
            "JUPYTER_CONFIG_DIR": "jupyter-config",
            "JUPYTER_DATA_DIR": "jupyter-data",
            "JUPYTER_RUNTIME_DIR": "jupyter-runtime",
            "JUPYTERLAB_SETTINGS_DIR": "lab-settings",
            "JUPYTERLAB_WORKSPACES_DIR": "lab-workspaces",
            "IPYTHONDIR": "ipython",
        }
        for var, name in dirs.items():
            path = self.workdir / name
            path.mkdir(parents=True, exist_ok=True)
            env[var] = str(path)
        env["VIRTUAL_ENV"] = str(self.venv)
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["JUPYTER_PLATFORM_DIRS"] = "1"
        env[MARKER_VAR] = self.marker
        return env

    def start(self) -> None:
        executable = self.venv / "bin" / "jupyter-server"
        if not executable.exists():
            raise BaselineError(
                f"{executable} not found: run benchmarks/baselines/setup_scheduler_venv.sh"
            )
        self.root_dir.mkdir(parents=True, exist_ok=True)
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            str(executable),
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--port-retries=0",
            f"--ServerApp.root_dir={self.root_dir}",
            f"--IdentityProvider.token={self.token}",
            f"--SchedulerApp.db_url=sqlite:///{self.workdir / 'scheduler.sqlite'}",
            f"--Scheduler.staging_path={self.staging_dir}",
        ]
        log.info("starting jupyter server on %s (workdir %s)", self.base_url, self.workdir)
        started = time.perf_counter()
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(
                cmd,
                cwd=self.workdir,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready()
        self.startup_s = time.perf_counter() - started
        log.info("server ready in %.2f s", self.startup_s)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise BaselineError(
                    f"jupyter server exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            try:
                self.request("GET", "/scheduler/config")
            except (OSError, BaselineError):
                time.sleep(0.1)
                continue
            return
        raise BaselineError(f"jupyter server not ready in {READY_TIMEOUT_S} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])

    def request(self, method: str, path: str, body: JsonDict | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_S) as resp:
                payload = resp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise BaselineError(f"{method} {path} -> HTTP {exc.code}: {detail}") from exc
        return json.loads(payload) if payload else None

    def stop(self) -> None:
        """Stop the server, the job processes it spawned and their kernels. Idempotent.

        SIGINT and SIGTERM are held back meanwhile, so that a second Ctrl-C cannot leave
        processes behind; they are delivered once everything is stopped.
        """
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            self._stop()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)

    def _stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            if proc.poll() is None:
                log.info("stopping jupyter server (pid %d)", proc.pid)
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=STOP_GRACE_S)
                except subprocess.TimeoutExpired:
                    log.warning("server ignored SIGTERM for %.0f s: SIGKILL", STOP_GRACE_S)
            # Whatever of its process group is left (job processes), then stragglers elsewhere
            # (kernels run in sessions of their own).
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        killed = _kill_marked(self.marker)
        if killed:
            log.info("killed %d leftover process(es)", killed)

    def __enter__(self) -> SchedulerServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None and not isinstance(exc, KeyboardInterrupt | SystemExit):
            log.error("server log tail:\n%s", self.log_tail())
        self.stop()


# --------------------------------------------------------------------------- jobs


@dataclass
class JobRun:
    """One submitted job: what it was given and what the API said about it."""

    job_id: str
    x: int
    submitted: float  # perf_counter at the start of the POST
    finished: float | None = None  # perf_counter when a poll first saw it terminal
    describe: JsonDict = field(default_factory=dict)

    @property
    def status(self) -> str:
        return str(self.describe.get("status"))

    @property
    def latency_s(self) -> float:
        if self.finished is None:
            raise BaselineError(f"job {self.job_id} has not finished")
        return self.finished - self.submitted


class SchedulerClient:
    """The few jupyter-scheduler REST calls the benchmark needs."""

    def __init__(self, server: SchedulerServer, input_uri: str) -> None:
        self.server = server
        self.input_uri = input_uri
        envs = server.request("GET", "/scheduler/runtime_environments")
        if not envs:
            raise BaselineError("jupyter-scheduler lists no runtime environment")
        self.runtime_environment: str = envs[0]["name"]

    def submit(self, name: str, x: int) -> JobRun:
        body: JsonDict = {
            "name": name,
            "input_uri": self.input_uri,
            "runtime_environment_name": self.runtime_environment,
            "output_formats": ["ipynb"],
            # Injected verbatim as `x = <value>` in a cell after the `parameters` cell.
            "parameters": {"x": str(x)},
        }
        submitted = time.perf_counter()
        reply = self.server.request("POST", "/scheduler/jobs", body)
        return JobRun(job_id=reply["job_id"], x=x, submitted=submitted)

    def get(self, job_id: str) -> JsonDict:
        job: JsonDict = self.server.request("GET", f"/scheduler/jobs/{job_id}")
        return job

    def list_by_name(self, prefix: str) -> list[JsonDict]:
        query = urllib.parse.urlencode({"name": prefix, "max_items": 10000})
        reply = self.server.request("GET", f"/scheduler/jobs?{query}")
        jobs: list[JsonDict] = reply.get("jobs", [])
        return jobs

    def wait(self, run: JobRun, poll_s: float = LATENCY_POLL_S) -> None:
        deadline = time.monotonic() + JOB_TIMEOUT_S
        while True:
            job = self.get(run.job_id)
            if _is_terminal(job):
                run.finished = time.perf_counter()
                run.describe = job
                return
            if time.monotonic() > deadline:
                raise BaselineError(f"job {run.job_id} still {job['status']} after timeout")
            time.sleep(poll_s)


Check = Callable[[JobRun], None]


def _check_output(server: SchedulerServer, input_name: str, run: JobRun) -> None:
    """Fail unless the job completed and left an executed notebook that printed ``2 * x``."""
    job = run.describe
    if job.get("status") != "COMPLETED":
        raise BaselineError(
            f"job {run.job_id} ended {job.get('status')}: {job.get('status_message')}"
        )
    job_dir = server.staging_dir / run.job_id
    outputs = [p for p in job_dir.glob("*.ipynb") if p.name != input_name]
    if len(outputs) != 1:
        raise BaselineError(f"job {run.job_id}: expected one output notebook in {job_dir}")
    nb = json.loads(outputs[0].read_text())
    code_cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    if any(c.get("execution_count") is None for c in code_cells):
        raise BaselineError(f"job {run.job_id}: {outputs[0]} has unexecuted cells")
    printed = "".join(
        "".join(out.get("text", ""))
        for cell in code_cells
        if "".join(cell["source"]).strip() == "print(y)"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream"
    )
    if printed.strip() != str(2 * run.x):
        raise BaselineError(f"job {run.job_id}: printed {printed!r}, expected {2 * run.x}")


def _server_phases(runs: list[JobRun]) -> JsonDict:
    """Medians of the server's own timestamps (ms since epoch, one clock, several processes)."""
    to_start = [(r.describe["start_time"] - r.describe["create_time"]) / 1e3 for r in runs]
    to_end = [(r.describe["end_time"] - r.describe["start_time"]) / 1e3 for r in runs]
    return {
        "create_to_start_p50_s": round(statistics.median(to_start), 3),
        "start_to_end_p50_s": round(statistics.median(to_end), 3),
    }


def _quantile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[round(q * 100) - 1]


def _measure_latency(client: SchedulerClient, jobs: int, check: Check) -> JsonDict:
    runs: list[JobRun] = []
    for i in range(jobs):
        run = client.submit(f"latency-{i}", x=i + 1)
        client.wait(run)
        runs.append(run)
        log.info("latency job %d/%d: %.3f s (%s)", i + 1, jobs, run.latency_s, run.status)
    for run in runs:
        check(run)
    samples = [r.latency_s for r in runs]
    return {
        "jobs": jobs,
        "poll_interval_s": LATENCY_POLL_S,
        "p50_s": round(statistics.median(samples), 3),
        "p90_s": round(_quantile(samples, 0.9), 3),
        "min_s": round(min(samples), 3),
        "max_s": round(max(samples), 3),
        "mean_s": round(statistics.fmean(samples), 3),
        "samples_s": [round(s, 3) for s in samples],
        "server_side": _server_phases(runs),
    }


def _measure_throughput(
    client: SchedulerClient, jobs: int, concurrency: int, check: Check
) -> JsonDict:
    prefix = f"tput-{secrets.token_hex(4)}-"
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        runs = list(pool.map(lambda i: client.submit(f"{prefix}{i}", x=100 + i), range(jobs)))
    submitted_s = time.perf_counter() - started
    by_id = {r.job_id: r for r in runs}
    peak_in_progress = 0
    deadline = time.monotonic() + JOB_TIMEOUT_S + 10.0 * jobs
    while True:
        listed = {j["job_id"]: j for j in client.list_by_name(prefix)}
        now = time.perf_counter()
        statuses = [j["status"] for j in listed.values()]
        peak_in_progress = max(peak_in_progress, statuses.count("IN_PROGRESS"))
        for job_id, job in listed.items():
            run = by_id.get(job_id)
            if run is not None and run.finished is None and _is_terminal(job):
                run.finished = now
                run.describe = job
        if all(r.finished is not None for r in runs):
            break
        if time.monotonic() > deadline:
            pending = [r.job_id for r in runs if r.finished is None]
            raise BaselineError(f"throughput jobs not finished in time: {pending}")
        time.sleep(THROUGHPUT_POLL_S)
    wall_s = max(r.finished for r in runs if r.finished is not None) - started
    log.info("throughput: %d jobs in %.2f s", jobs, wall_s)
    for run in runs:
        check(run)
    first_create = min(r.describe["create_time"] for r in runs)
    last_end = max(r.describe["end_time"] for r in runs)
    return {
        "jobs": jobs,
        "concurrency": concurrency,
        "poll_interval_s": THROUGHPUT_POLL_S,
        "submit_wall_s": round(submitted_s, 3),
        "wall_s": round(wall_s, 3),
        "jobs_per_min": round(jobs / wall_s * 60.0, 1),
        "server_makespan_s": round((last_end - first_create) / 1e3, 3),
        "peak_in_progress": peak_in_progress,
        "job_latency_p50_s": round(statistics.median(r.latency_s for r in runs), 3),
        "job_latency_max_s": round(max(r.latency_s for r in runs), 3),
        "server_side": _server_phases(runs),
    }


@contextmanager
def _workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="mlbench-scheduler-baseline-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run_baseline(
    venv: Path, notebook: Path, latency_jobs: int, throughput_jobs: int, concurrency: int
) -> dict[str, Any]:
    """Measure jupyter-scheduler (installed in ``venv``) running ``notebook`` as jobs.

    One unmeasured warm-up job runs first. Every job is verified to have completed and printed
    the right value. Raises ``BaselineError`` on any failure; the server and everything it
    started are stopped in every case.
    """
    venv = venv.resolve()
    notebook = notebook.resolve()
    if latency_jobs < 1 or throughput_jobs < 1 or concurrency < 1:
        raise ValueError("latency_jobs, throughput_jobs and concurrency must be >= 1")
    versions = _venv_versions(venv / "bin" / "python")
    load_before = os.getloadavg()[0]
    with _workdir() as workdir, SchedulerServer(venv=venv, workdir=workdir) as server:
        shutil.copyfile(notebook, server.root_dir / notebook.name)
        client = SchedulerClient(server, input_uri=notebook.name)
        kernel = server.request("GET", "/api/kernelspecs")["kernelspecs"]["python3"]
        kernel_python = kernel["spec"]["argv"][0]
        log.info("kernel python3 runs %s", kernel_python)
        if Path(kernel_python).parent != venv / "bin":
            log.warning("kernel python3 is not the scheduler venv's interpreter")

        check: Check = partial(_check_output, server, notebook.name)
        warmup = client.submit("warmup", x=0)
        client.wait(warmup)
        check(warmup)
        log.info("warm-up job: %.3f s", warmup.latency_s)

        latency = _measure_latency(client, latency_jobs, check)
        throughput = _measure_throughput(client, throughput_jobs, concurrency, check)
        verified = 1 + latency_jobs + throughput_jobs
        log.info("verified %d jobs: COMPLETED, output notebook printed 2 * x", verified)

        return {
            "baseline": "jupyter-scheduler",
            "versions": versions,
            "machine": {
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
                # Other load on the machine skews every figure: compare only quiet runs.
                "loadavg_1m_before": round(load_before, 2),
                "loadavg_1m_after": round(os.getloadavg()[0], 2),
            },
            "notebook": notebook.name,
            "runtime_environment": client.runtime_environment,
            "kernel_python": kernel_python,
            "server_startup_s": round(server.startup_s, 3),
            "warmup_job_s": round(warmup.latency_s, 3),
            "latency": latency,
            "throughput": throughput,
            "verified_jobs": verified,
        }


def _raise_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--venv",
        type=Path,
        default=Path(os.environ.get("SCHEDULER_VENV", DEFAULT_VENV)),
        help="venv made by setup_scheduler_venv.sh (default: %(default)s)",
    )
    parser.add_argument("--notebook", type=Path, default=DEFAULT_NOTEBOOK)
    parser.add_argument("--latency-jobs", type=int, default=10, help="sequential jobs (M)")
    parser.add_argument("--jobs", type=int, default=20, help="jobs submitted at once (N)")
    parser.add_argument("--concurrency", type=int, default=10, help="concurrent POSTs (K)")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    result = run_baseline(
        venv=args.venv,
        notebook=args.notebook,
        latency_jobs=args.latency_jobs,
        throughput_jobs=args.jobs,
        concurrency=args.concurrency,
    )
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
