"""Agent crashes, restarts, stops and heavy concurrent submission."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from tests.test_jobs import WAIT, wait_for


def _agent_pid(ws: Any, compute: str = "local") -> int:
    info = wait_for(lambda: (ws.jobs.agent(compute).info() or {}).get("pid"))
    return int(info)


def _kernel_pids(ws: Any, *job_ids: str) -> list[int]:
    from sqlalchemy import select

    from mlbench.store import JobRow

    with ws.db.session() as s:
        return [p for p in s.scalars(select(JobRow.kernel_pid).where(JobRow.id.in_(job_ids))) if p]


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_agent_sigkill_mid_job_then_restart(ws: Any, notebook: Any) -> None:
    marker = Path(ws.home) / "runs.txt"
    nb = notebook(
        f"import os, time\nopen({str(marker)!r}, 'a').write(os.environ['MLBENCH_JOB_ID'] + '\\n')",
        "time.sleep(30)",
        "print('done')",
    )
    retried = ws.jobs.submit(nb, max_retries=1)
    lost = ws.jobs.submit(nb, max_retries=0)
    queued = ws.jobs.submit(nb, max_retries=0)  # max 2 at once: this one waits in the queue
    wait_for(lambda: retried.info.status.value == "running" and lost.info.status.value == "running")
    wait_for(lambda: retried.info.progress.cell_index == 1 and lost.info.progress.cell_index == 1)
    pid = _agent_pid(ws)
    kernel_pids = _kernel_pids(ws, retried.id, lost.id)
    assert len(kernel_pids) == 2
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not ws.jobs.agent("local").is_running())
    # Nothing is resolved until an agent comes back; then every job ends final or requeued.
    assert retried.info.status.value == "running"
    ws.jobs.agent("local").ensure_running(wait=True)
    info = lost.wait(WAIT).info
    assert info.status.value == "failed" and info.error.kind == "agent_lost"
    assert f"pid {pid}" in info.status_reason
    # the retried one was requeued and then ran to the end (its cells take 30 s: cancel it)
    wait_for(lambda: retried.info.attempt == 2 and retried.info.status.value == "running")
    retried.cancel()
    assert retried.wait(WAIT).info.status.value == "canceled"
    queued.cancel()
    assert queued.wait(WAIT).status.value == "canceled"
    # the kernels of the dead agent are gone (they watch their parent; the new agent checks)
    wait_for(lambda: not any(_alive(p) for p in kernel_pids))
    for job in (retried, lost, queued):
        assert job.status.is_final


def test_a_reader_sees_a_lost_agent_and_starts_the_recovery(tmp_path: Path, notebook: Any) -> None:
    """After SIGKILL of the agent, reading a job it ran says so at once (no stale 'running'
    without a reason), and that read starts the agent whose start-up resolves the job."""
    from mlbench import Workspace

    ws = Workspace(tmp_path / "ws", agent_heartbeat_interval_s=0.4, agent_idle_timeout_s=60)
    try:
        job = ws.jobs.submit(notebook("import time", "time.sleep(60)"))
        wait_for(lambda: job.info.progress.cell_index == 1)
        pid = _agent_pid(ws)
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not ws.jobs.agent("local").is_running())
        time.sleep(3.5)  # longer than the heartbeat allows (5 beats, at least 3 s)
        seen = ws.jobs.info(job.id)
        assert seen.status.value == "running" and seen.agent_lost
        assert seen.status_reason.startswith("agent lost: no heartbeat since")
        listed = ws.jobs.list(limit=5)[0].info
        assert listed.agent_lost and listed.status_reason == seen.status_reason
        # nobody started an agent by hand: the read did, and its start-up resolves the job
        wait_for(lambda: ws.jobs.agent("local").is_running())
        final = ws.jobs.wait(job.id, timeout=WAIT)
        assert final.status.value == "failed" and final.error is not None
        assert final.error.kind == "agent_lost" and f"pid {pid}" in final.status_reason
        assert not final.agent_lost
    finally:
        ws.jobs.agent("local").stop(now=True, timeout=30)
        ws.close()


def test_agent_stop_drains_then_now_requeues(ws: Any, notebook: Any) -> None:
    nb = notebook("import time\ntime.sleep(2)\nprint('finished')")
    job = ws.jobs.submit(nb)
    wait_for(lambda: job.info.status.value == "running")
    assert ws.jobs.agent("local").stop(timeout=WAIT)  # drain: lets it finish
    assert job.info.status.value == "completed"

    slow = notebook("import time\ntime.sleep(60)", name="slow.ipynb")
    again = ws.jobs.submit(slow, max_retries=1)
    wait_for(lambda: again.info.status.value == "running")
    assert ws.jobs.agent("local").stop(now=True, timeout=WAIT)
    info = again.info
    assert info.status.value == "queued" and info.attempt == 2
    assert "agent was stopped" in info.status_reason
    again.cancel()
    assert again.status.value == "canceled"


def test_on_demand_agent_exits_when_idle(tmp_path: Path, notebook: Any) -> None:
    from mlbench import Workspace

    ws = Workspace(tmp_path / "ws", agent_idle_timeout_s=1)
    job = ws.jobs.submit(notebook("x = 1")).wait(WAIT)
    assert job.status.value == "completed"
    wait_for(lambda: not ws.jobs.agent("local").is_running(), timeout=60)


SUBMITTER = textwrap.dedent(
    """
    import sys
    sys.modules.setdefault("rfc3987_syntax", None)
    from mlbench import Workspace
    ws = Workspace(sys.argv[1])
    for _ in range(int(sys.argv[3])):
        ws.jobs.submit(sys.argv[2], compute="burst")
    """
)


@pytest.mark.slow
def test_200_submissions_from_4_processes_run_exactly_once(ws: Any, tmp_path: Path) -> None:
    from tests.conftest import make_notebook

    marker = tmp_path / "ran.txt"
    nb = make_notebook(
        tmp_path / "tiny.ipynb",
        f"import os\nopen({str(marker)!r}, 'a').write(os.environ['MLBENCH_JOB_ID'] + '\\n')",
    )
    ws.compute.create("burst", "local", max_concurrent_jobs=2, kernel_pool_size=2)
    env = {**os.environ, "MLBENCH_SETTINGS_JSON": json.dumps({"agent_idle_timeout_s": 60})}
    procs = [
        subprocess.Popen([sys.executable, "-c", SUBMITTER, str(ws.home), str(nb), "50"], env=env)
        for _ in range(4)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0, 0]
    jobs = ws.jobs.list(compute="burst", limit=1000)
    assert len(jobs) == 200
    deadline = time.monotonic() + 600
    for job in jobs:
        job.wait(max(1.0, deadline - time.monotonic()))
    statuses = {j.status.value for j in ws.jobs.list(compute="burst", limit=1000)}
    assert statuses == {"completed"}
    ran = marker.read_text().split()
    assert len(ran) == 200 and len(set(ran)) == 200
    assert set(ran) == {j.id for j in jobs}


def test_a_new_agent_adopts_only_the_attempt_that_still_runs(tmp_path: Path) -> None:
    """What a new agent of a Ray target follows again: the same attempt of a job still starting
    or running there with its MLflow run; the rest is resolved as before (requeued or failed)."""
    from mlbench.jobs.models import JobStatus
    from mlbench.workspace import Workspace
    from tests.conftest import make_notebook

    ws = Workspace(tmp_path / "ws")
    try:
        nb = make_notebook(tmp_path / "x.ipynb", "x = 1")
        kept, lost = (ws.jobs.submit(nb).id for _ in range(2))
        life = ws.jobs.lifecycle
        for job_id in (kept, lost):
            assert life.claim(job_id, "old-agent", [])
            life.record_run(job_id, "0", f"run-{job_id}")
            life.mark_running(job_id, "old-agent", pid=None, run_id=f"run-{job_id}", gpu_ids=None)
        assert not life.adopt(kept, 2, "local", "new-agent")  # not that attempt
        assert not life.adopt(kept, 1, "other", "new-agent")  # not that target
        assert life.adopt(kept, 1, "local", "new-agent")
        resolved = life.reconcile("local", on_orphan=lambda *_: None, keep=[kept])
        assert resolved == [(lost, JobStatus.FAILED)]
        info = ws.jobs.info(kept)
        assert (info.status, info.attempt) == (JobStatus.RUNNING, 1)
        reasons = [e["data"].get("reason", "") for e in ws.jobs.events(job_id=kept)]
        assert reasons[-1].startswith("followed again by a new agent")
        assert not life.adopt(lost, 1, "local", "new-agent")  # resolved: nothing to follow
    finally:
        ws.close()
