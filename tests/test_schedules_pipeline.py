"""Pipeline schedules: the pipeline's spec is read and checked when the schedule is created,
stored with it, and run through ws.pipelines at each tick (tagged with the schedule and tick).
A controlled clock first; then the real scheduler process fires one that completes on the agent.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlbench.errors import InvalidInputError
from mlbench.schedules.clock import ManualClock
from mlbench.schedules.scheduler import TAG_ID, TAG_TICK, Scheduler
from tests.conftest import make_notebook, run_cli

UTC = timezone.utc


@pytest.fixture
def core_ws(tmp_path: Path) -> Iterator[Any]:
    from mlbench.workspace import Workspace

    ws = Workspace(tmp_path / "ws")
    yield ws
    ws.close()


def pipeline_file(folder: Path, x: int = 3) -> Path:
    """A one-step pipeline YAML whose notebook path is relative to the file."""
    make_notebook(folder / "step.ipynb", "print('x is', x)", parameters="x = 1")
    path = folder / "nightly-pipeline.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "type": "pipeline",
                "display_name": "nightly-pipe",
                "jobs": {
                    "train": {"type": "notebook", "notebook": "step.ipynb", "parameters": {"x": x}}
                },
            }
        )
    )
    return path


def test_a_pipeline_schedule_runs_its_stored_spec(core_ws: Any, tmp_path: Path) -> None:
    clock = ManualClock(datetime(2027, 1, 1, 0, 0, 30, tzinfo=UTC))
    path = pipeline_file(tmp_path)
    sched = core_ws.schedules.create(
        {"name": "pipe", "trigger": {"cron": "0 * * * *"}, "pipeline": str(path)}, now=clock.now()
    )
    assert sched.kind == "pipeline" and sched.action["display_name"] == "nightly-pipe"
    assert sched.action["jobs"]["train"]["notebook"] == str(tmp_path / "step.ipynb")
    path.write_text("not: [a pipeline")  # the schedule keeps what it read
    clock.advance(3600)
    (run,) = Scheduler(core_ws, clock).run_due()
    assert (run.kind, run.status.value) == ("pipeline", "submitted")
    info = core_ws.pipelines.info(run.target_id)
    assert info.display_name == "nightly-pipe" and info.status.value == "queued"
    assert info.spec.jobs["train"].parameters == {"x": 3}
    assert info.spec.tags[TAG_ID] == sched.id
    assert info.spec.tags[TAG_TICK] == "2027-01-01T01:00:00+00:00"


def test_pipeline_schedules_are_checked_when_created(core_ws: Any, tmp_path: Path) -> None:
    path = pipeline_file(tmp_path)
    (tmp_path / "step.ipynb").unlink()
    with pytest.raises(InvalidInputError, match=r"step 'train': its notebook .* does not exist"):
        core_ws.schedules.create(
            {"name": "p", "trigger": {"cron": "0 * * * *"}, "pipeline": str(path)}
        )
    with pytest.raises(InvalidInputError, match="does not exist"):
        core_ws.schedules.create(
            {"name": "p", "trigger": {"cron": "0 * * * *"}, "pipeline": str(tmp_path / "no.yml")}
        )
    nb = make_notebook(tmp_path / "step.ipynb", "print(x)", parameters="x = 1")
    with pytest.raises(InvalidInputError, match="exactly one of job, sweep and pipeline"):
        core_ws.schedules.create(
            {"name": "p", "trigger": {"cron": "0 * * * *"}, "pipeline": str(path),
             "job": {"notebook_path": str(nb)}}
        )  # fmt: skip
    assert core_ws.schedules.list() == []
    # Azure ML's schedule YAML: create_job holds the pipeline job (paths from the file's folder)
    sched_file = tmp_path / "schedule.yml"
    sched_file.write_text(
        yaml.safe_dump(
            {"name": "azure", "trigger": {"type": "cron", "expression": "0 3 * * *"},
             "create_job": {"type": "pipeline", "display_name": "from-azure",
                            "jobs": {"s": {"type": "notebook", "notebook": str(nb)}}}}
        )
    )  # fmt: skip
    sched = core_ws.schedules.create(sched_file)
    assert sched.kind == "pipeline" and sched.action["display_name"] == "from-azure"


@pytest.mark.slow
def test_the_scheduler_process_fires_a_pipeline_that_completes(
    tmp_path: Path, monkeypatch: Any
) -> None:
    from mlbench import Workspace
    from mlbench.agent.process import AgentHandle

    monkeypatch.setenv("MLBENCH_SCHEDULER_IDLE_S", "5")
    home = tmp_path / "ws"
    path = pipeline_file(tmp_path, x=21)
    Workspace(home).close()  # created and migrated beforehand: the rule's start is near
    start = datetime.now(UTC) + timedelta(seconds=6)
    out = run_cli(
        home, "schedule", "create", "pipe", "--pipeline", str(path), "--every", "minute",
        "--start", start.isoformat(timespec="seconds"),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    ws = Workspace(home, agent_idle_timeout_s=30)
    try:
        deadline = time.monotonic() + 90
        run_id = None
        while run_id is None and time.monotonic() < deadline:
            runs = ws.schedules.runs("pipe")
            run_id = runs[0].target_id if runs else None
            time.sleep(0.2)
        assert run_id, (home / "scheduler" / "scheduler.log").read_text()
        ws.schedules.pause("pipe")  # one run is all this test needs
        info = ws.pipelines.wait(run_id, timeout=180)
        assert info.status.value == "completed", info.status_reason
        (step,) = ws.pipelines.steps(run_id)
        assert ws.jobs.info(step.job_id).parameters["x"] == 21
        assert info.spec.tags["mlbench.schedule_name"] == "pipe"
    finally:
        ws.schedules.scheduler().stop()
        AgentHandle(ws, "local").stop(now=True, timeout=30)
        ws.close()
