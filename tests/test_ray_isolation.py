"""The Ray tests stop their own Ray head and nothing else: another Ray on the machine survives.

`ray stop` with `--force` (which the Ray fixture used to end with) kills every Ray process on the
machine, whatever namespace started it. Here an unrelated head — standing in for a user's own
cluster — runs in network and PID namespaces of its own (`unshare --net --pid`, so it is not the
one `.ci/loopback` gives the suite) while the tests of tests/test_ray.py that stop or kill
something (its head, an agent and its kernel hosts, a worker, a host, a task) run in a
subprocess (the whole file runs in the suite itself); then every process of the unrelated head
must still be the same live process and the head must still answer `ray status`, and nothing the
suite started may be left. Needs root (unshare), as CI has.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import require_module, require_service
from tests.ray_head import RAY, command_line, descendants, process_table

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


# The tests of tests/test_ray.py that stop or kill processes, each its own way; the module's
# head fixture stops its head after them.
STOPPING_TESTS = (
    "test_stopping_the_agent_stops_its_kernel_hosts_and_their_kernels",
    "test_a_dead_kernel_host_fails_its_job_with_the_reason_and_jobs_go_on_without_it",
    "test_cancel_a_running_ray_job",
    "test_worker_killed_mid_job_fails_with_reason_and_is_retried",
    "test_an_agent_restart_follows_its_ray_jobs_again",
)


@dataclass
class UnrelatedHead:
    init: int  # its PID namespace's init process (as seen from here)
    processes: dict[int, int]  # pid -> start time
    commands: dict[int, str]  # pid -> command line, for the report


@pytest.fixture
def unrelated_head() -> Iterator[UnrelatedHead]:
    """A Ray head in network and PID namespaces of its own, as a user's own cluster would be."""
    require_module("ray", "`make setup` (ray is in the test extra)")
    if os.geteuid() != 0 or not all(map(shutil.which, ("unshare", "nsenter", "ip"))):
        require_service(
            "root, unshare/nsenter (util-linux) and ip (iproute2), to start a Ray head in "
            "namespaces of its own",
            "run the tests as root, as CI does",
        )
    temp = Path(tempfile.mkdtemp(prefix="mlbother-"))
    log = temp / "start.log"
    script = "ip link set lo up && exec " + " ".join(
        [
            RAY,
            "start",
            "--head",
            "--block",
            "--port=6379",
            "--node-ip-address=127.0.0.1",
            "--num-cpus=1",
            "--include-dashboard=false",
            "--disable-usage-stats",
            f"--temp-dir={temp}",
        ]
    )
    bash = ["bash", "-c", script]
    with open(log, "wb") as out:
        unshare = subprocess.Popen(
            ["unshare", "--net", "--pid", "--fork", "--mount-proc", "--kill-child", *bash],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"},
            start_new_session=True,
        )
    init = None
    try:
        deadline = time.monotonic() + 180
        while "Ray runtime started" not in log.read_text(errors="replace"):
            assert unshare.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            time.sleep(0.5)
        time.sleep(3)  # the raylet's agents and first workers
        table = process_table()
        init = next(pid for pid, (ppid, *_rest) in table.items() if ppid == unshare.pid)
        pids = descendants(table, {init})
        head = UnrelatedHead(
            init, {pid: table[pid][3] for pid in pids}, {pid: command_line(pid) for pid in pids}
        )
        commands = " ".join(head.commands.values())
        assert "gcs_server" in commands and "raylet" in commands, commands
        yield head
    finally:
        # SIGKILL to its namespace's init ends every process in that namespace
        with suppress(ProcessLookupError, TypeError):
            os.kill(init, signal.SIGKILL)  # type: ignore[arg-type]
        with suppress(ProcessLookupError):
            os.killpg(unshare.pid, signal.SIGKILL)
        unshare.wait(30)
        shutil.rmtree(temp, ignore_errors=True)


def _live(head: UnrelatedHead) -> set[int]:
    """Those of the head's processes that are still the same live process."""
    table = process_table()
    return {p for p, start in head.processes.items() if p in table and table[p][3] == start}


def _ray_status(init: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["nsenter", f"--target={init}", "--net", RAY, "status", "--address=127.0.0.1:6379"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.timeout(1800)
def test_the_ray_suite_leaves_an_unrelated_ray_head_running(
    unrelated_head: UnrelatedHead,
) -> None:
    head = unrelated_head
    before = _ray_status(head.init)
    assert before.returncode == 0 and "Active:" in before.stdout, before.stdout + before.stderr
    # A short private TMPDIR (Ray's socket paths must stay under ~107 bytes): whatever the suite
    # starts names it (its Ray head's temp dir) or its basetemp (the kernels' runtime dir).
    scratch = Path(tempfile.mkdtemp(prefix="mlbiso-"))
    basetemp = scratch / "pytest"
    pytest_args = [sys.executable, "-m", "pytest", "tests/test_ray.py", "-p", "no:cacheprovider"]
    pytest_args += ["-k", " or ".join(STOPPING_TESTS)]
    pytest_args += ["-q", "-rfEs", f"--basetemp={basetemp}"]
    try:
        suite = subprocess.run(
            [str(ROOT / ".ci" / "loopback"), *pytest_args],
            cwd=ROOT,
            env={**os.environ, "CI": "true", "TMPDIR": str(scratch)},  # CI: fail, never skip
            capture_output=True,
            text=True,
            timeout=1700,
            check=False,
        )
        report = suite.stdout[-6000:] + suite.stderr[-3000:]
        assert suite.returncode == 0, report
        passed = re.search(r"\b(\d+) passed\b", suite.stdout)
        assert passed and int(passed.group(1)) == len(STOPPING_TESTS), report
        assert "skipped" not in suite.stdout, report
        # the unrelated head: the same processes, all alive, and it still answers
        killed = {pid: head.commands[pid][:100] for pid in set(head.processes) - set(_live(head))}
        assert not killed, f"the unrelated Ray head lost {len(killed)} processes: {killed}"
        after = _ray_status(head.init)
        assert after.returncode == 0 and "Active:" in after.stdout, after.stdout + after.stderr
        # and nothing the suite started is left
        left = {
            pid: cmd
            for pid in process_table()
            if str(scratch) in (cmd := command_line(pid)) and pid != os.getpid()
        }
        assert not left, left
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
