"""The job engine end to end: real agent process, real kernels, real papermill and MLflow."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

from mlbench.errors import ConflictError

WAIT = 120  # generous bound that only catches hangs; not a speed assertion


def wait_for(predicate: Any, timeout: float = WAIT, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not reached in time")


def test_success_records_everything(module_ws: Any, notebook: Any) -> None:
    nb = notebook(
        "import os, mlbench\nprint('hello from', os.environ['MLBENCH_JOB_ID'])",
        "for i in range(5):\n    mlbench.log_metric('loss', 1.0 / (i + 1))",
        "import mlflow\nmlflow.log_metric('direct', 3.0)\nmlflow.log_param('extra', 'yes')",
        "open(os.path.join(os.environ['MLBENCH_OUTPUT_DIR'], 'result.txt'), 'w').write(str(x * 2))",
        parameters="x = 1",
    )
    digest = hashlib.sha256(nb.read_bytes()).hexdigest()
    job = module_ws.jobs.submit(nb, {"x": 21}, tags={"team": "a"}, experiment="e2e")
    info = job.wait(WAIT).info
    assert info.status.value == "completed", info.status_reason
    assert info.attempt == 1 and info.error is None
    assert info.progress.cell_count == 5  # parameters + 4 (the injected cell is not counted)
    # the user's notebook is untouched; the snapshot is byte-identical
    assert hashlib.sha256(nb.read_bytes()).hexdigest() == digest
    assert module_ws.paths.snapshot(job.id).read_bytes() == nb.read_bytes()
    # the output notebook is separate and holds the injected parameters and outputs
    out = nbformat.read(job.output_notebook_path(), as_version=4)
    injected = [c for c in out.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "x = 21" in injected[0].source
    assert f"hello from {job.id}" in job.logs()
    # one MLflow run with params, buffered and direct metrics, artifacts and final status
    summary = module_ws.tracking.run_summary(info.mlflow_run_id)
    assert summary["status"] == "FINISHED"
    assert summary["params"]["x"] == "21" and summary["params"]["extra"] == "yes"
    assert summary["metrics"]["loss"] == pytest.approx(0.2)
    assert summary["metrics"]["direct"] == 3.0
    assert summary["tags"]["mlbench.job_id"] == job.id and summary["tags"]["team"] == "a"
    assert [s for s, _, _ in module_ws.tracking.metric_history(info.mlflow_run_id, "loss")] == [
        0,
        1,
        2,
        3,
        4,
    ]
    artifacts = Path(summary["artifact_uri"].removeprefix("file://"))
    assert (artifacts / "output.ipynb").exists() and (artifacts / "job.log").exists()
    assert (artifacts / "outputs" / "result.txt").read_text() == "42"


def test_failing_cell_reports_cell_and_traceback(module_ws: Any, notebook: Any) -> None:
    nb = notebook("a = 1", "raise ValueError('bad value ' + str(a))", "print('never')")
    info = module_ws.jobs.submit(nb).wait(WAIT).info
    assert info.status.value == "failed"
    err = info.error
    assert err.kind == "cell_error" and err.ename == "ValueError"
    assert err.evalue == "bad value 1" and err.cell_index == 1
    assert "raise ValueError" in err.cell_source
    assert any("ValueError" in line for line in err.traceback)
    assert "cell 2 raised ValueError" in info.status_reason  # counted from 1, as shown
    assert module_ws.tracking.run_summary(info.mlflow_run_id)["status"] == "FAILED"
    out = nbformat.read(module_ws.jobs.output_notebook_path(info.id), as_version=4)
    assert out.metadata.papermill.exception is True


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("import sys\nsys.exit(0)", "completed"),
        ("raise SystemExit", "completed"),
        ("import sys\nsys.exit(1)", "failed"),
    ],
)
def test_system_exit_semantics(module_ws: Any, notebook: Any, code: str, status: str) -> None:
    nb = notebook("x = 1", code, "print('after exit')")
    info = module_ws.jobs.submit(nb).wait(WAIT).info
    assert info.status.value == status, info.status_reason
    if status == "failed":
        assert info.error.ename == "SystemExit"


def test_kernel_killed_mid_cell_fails_with_reason(module_ws: Any, notebook: Any) -> None:
    nb = notebook("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", "print('never')")
    info = module_ws.jobs.submit(nb).wait(WAIT).info
    assert info.status.value == "failed"
    assert info.error.kind == "kernel_died"
    assert "signal 9" in info.status_reason and "SIGKILL" in info.status_reason


def test_timeout(module_ws: Any, notebook: Any) -> None:
    nb = notebook("import time\ntime.sleep(600)")
    info = module_ws.jobs.submit(nb, timeout_s=1.5).wait(WAIT).info
    assert info.status.value == "timed_out"
    assert info.error.kind == "timeout" and "1.5 s" in info.status_reason
    assert module_ws.tracking.run_summary(info.mlflow_run_id)["status"] == "FAILED"


def test_cancel_running_job(module_ws: Any, notebook: Any) -> None:
    nb = notebook("print('started', flush=True)", "import time\nwhile True:\n    time.sleep(0.1)")
    job = module_ws.jobs.submit(nb)
    wait_for(lambda: job.info.progress.cell_index == 1)
    assert "started" in job.logs()  # the log is readable while the job runs
    progress = job.progress
    assert progress.cell_count == 2 and progress.cell_source.startswith("import time")
    assert progress.elapsed_s is not None and progress.elapsed_s >= 0
    job.cancel()
    info = job.wait(WAIT).info
    assert info.status.value == "canceled"
    assert info.error.kind == "canceled"
    assert module_ws.tracking.run_summary(info.mlflow_run_id)["status"] == "KILLED"
    with pytest.raises(ConflictError, match="already canceled"):
        job.cancel()


def test_cancel_escalates_to_kill_when_interrupt_is_ignored(module_ws: Any, notebook: Any) -> None:
    nb = notebook(
        "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "while True:\n    time.sleep(0.1)"
    )
    job = module_ws.jobs.submit(nb)
    wait_for(lambda: job.info.status.value == "running" and job.info.progress.cell_index == 0)
    time.sleep(0.3)
    info = job.cancel().wait(WAIT).info
    assert info.status.value == "canceled"


def test_retries_until_success(module_ws: Any, notebook: Any) -> None:
    nb = notebook(
        "import os\nattempt = int(os.environ['MLBENCH_ATTEMPT'])\nprint('attempt', attempt)\n"
        "if attempt < 3:\n    raise RuntimeError(f'flaky {attempt}')"
    )
    info = module_ws.jobs.submit(nb, max_retries=2).wait(WAIT).info
    assert info.status.value == "completed"
    assert info.attempt == 3
    log = module_ws.jobs.logs(info.id)[0]
    assert "attempt 1" in log and "attempt 3" in log
    runs = module_ws.tracking.client.search_runs(
        [info.mlflow_experiment_id], f"tags.`mlbench.job_id` = '{info.id}'"
    )
    assert sorted(r.info.status for r in runs) == ["FAILED", "FAILED", "FINISHED"]


def test_retries_exhausted(module_ws: Any, notebook: Any) -> None:
    nb = notebook("raise RuntimeError('always')")
    info = module_ws.jobs.submit(nb, max_retries=1).wait(WAIT).info
    assert info.status.value == "failed" and info.attempt == 2


ALL_TYPES = """\
i = 1
f = 1.5
s = "text"
b = False
n = None
l = [1, 2]
d = {"k": "v"}
"""

CHECK_TYPES = """\
import json, os
with open(os.environ["MLBENCH_OUTPUT_DIR"] + "/values.json", "w") as fh:
    json.dump({"i": [i, type(i).__name__], "f": [f, type(f).__name__], "s": [s, type(s).__name__],
               "b": [b, type(b).__name__], "n": [n, type(n).__name__], "l": l, "d": d}, fh)
"""


def test_every_papermill_parameter_type(module_ws: Any, notebook: Any) -> None:
    nb = notebook(CHECK_TYPES, parameters=ALL_TYPES)
    params = {
        "i": 7,
        "f": 2,
        "s": "hello 'world'",
        "b": True,
        "n": {"any": 1},
        "l": ["a", 3.5, None],
        "d": {"nested": {"x": [1, 2]}},
    }
    info = module_ws.jobs.submit(nb, params).wait(WAIT).info
    assert info.status.value == "completed", info.status_reason
    values = json.loads((module_ws.paths.outputs(info.id) / "values.json").read_text())
    assert values == {
        "i": [7, "int"],
        "f": [2.0, "float"],
        "s": ["hello 'world'", "str"],
        "b": [True, "bool"],
        "n": [{"any": 1}, "dict"],
        "l": ["a", 3.5, None],
        "d": {"nested": {"x": [1, 2]}},
    }


def test_concurrency_limited_by_capacity(module_ws: Any, notebook: Any) -> None:
    module_ws.compute.create("one-at-a-time", "local", max_concurrent_jobs=1)
    nb = notebook("import time\ntime.sleep(1)")
    jobs = [module_ws.jobs.submit(nb, compute="one-at-a-time") for _ in range(3)]
    infos = sorted((j.wait(WAIT).info for j in jobs), key=lambda i: i.started_at)
    assert all(i.status.value == "completed" for i in infos)
    for earlier, later in itertools.pairwise(infos):
        assert later.started_at >= earlier.finished_at


def test_gpu_assignment(module_ws: Any, notebook: Any) -> None:
    module_ws.compute.create("gpus", "local", gpu_ids=[0, 1], max_concurrent_jobs=4)
    nb = notebook(
        "import os, time\nprint('CUDA', os.environ['CUDA_VISIBLE_DEVICES'])\ntime.sleep(3)"
    )
    jobs = [module_ws.jobs.submit(nb, compute="gpus", gpus=1) for _ in range(3)]

    def first_two_running() -> list[Any] | None:
        infos = [j.info for j in jobs[:2]]
        return infos if all(i.status.value == "running" for i in infos) else None

    first_two = wait_for(first_two_running)
    assert sorted(g for i in first_two for g in i.gpu_ids) == ["0", "1"]
    waiting = jobs[2].info
    assert waiting.status.value == "queued" and "GPU" in waiting.status_reason
    infos = [j.wait(WAIT).info for j in jobs]
    assert all(i.status.value == "completed" for i in infos)
    seen = [module_ws.jobs.logs(i.id)[0].split("CUDA ")[1].split()[0] for i in infos]
    assert seen[0] != seen[1] and set(seen) <= {"0", "1"}
    assert infos[2].started_at >= min(infos[0].finished_at, infos[1].finished_at)
    # a job that asks for no GPU sees none
    cpu = module_ws.jobs.submit(nb, compute="gpus").wait(WAIT)
    assert "CUDA \n" in cpu.logs() or cpu.logs().split("CUDA ")[1].startswith("\n")


def test_rerun_with_overrides(module_ws: Any, notebook: Any) -> None:
    nb = notebook("print('x is', x)", parameters="x = 1")
    first = module_ws.jobs.submit(nb, {"x": 2}).wait(WAIT)
    nb.write_text("this file changed after submission")  # rerun uses the snapshot
    second = first.rerun({"x": 3}).wait(WAIT)
    assert second.info.rerun_of == first.id
    assert second.info.parameters == {"x": 3}
    assert "x is 3" in second.logs()


def test_kernel_frozen_is_detected(tmp_path: Path, notebook: Any) -> None:
    from mlbench import Workspace

    ws = Workspace(tmp_path / "ws", kernel_heartbeat_timeout_s=2, agent_idle_timeout_s=30)
    try:
        nb = notebook("import os, signal\nos.kill(os.getpid(), signal.SIGSTOP)")
        info = ws.jobs.submit(nb).wait(WAIT).info
        assert info.status.value == "failed"
        assert info.error.kind == "kernel_unresponsive"
        assert "no heartbeat" in info.status_reason
    finally:
        from tests.conftest import _stop_agents

        _stop_agents(ws)


# Stands in for the driver's tool on this GPU-less machine (benchmarks/gpu_check.sh runs the real
# thing): two GPUs, their load as `nvidia-smi --query-gpu=index,utilization.gpu,...` prints it.
FAKE_NVIDIA_SMI = """#!/bin/sh
case "$1" in
  --query-gpu=index,utilization.gpu*) printf '0, 87, 1234, 81559\\n1, 3, [N/A], 81559\\n' ;;
  *) printf '0, Test GPU, GPU-0, 81559\\n1, Test GPU, GPU-1, 81559\\n' ;;
esac
"""


def test_gpu_load_is_recorded_as_the_jobs_system_metrics(
    tmp_path: Path, notebook: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlbench import Workspace
    from mlbench.compute.gpus import sample_gpus

    tool = tmp_path / "bin" / "nvidia-smi"
    tool.parent.mkdir()
    tool.write_text(FAKE_NVIDIA_SMI)
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tool.parent}:{os.environ['PATH']}")  # the agent inherits it
    assert [(s.index, s.utilization_pct, s.memory_used_mb) for s in sample_gpus({"1"})] == [
        ("1", 3.0, None)
    ]
    ws = Workspace(tmp_path / "ws", gpu_sample_interval_s=0.2, agent_idle_timeout_s=30)
    try:
        ws.compute.create("gpu1", "local", gpu_ids=[1], max_concurrent_jobs=1)
        nb = notebook("import os, time\nprint('CUDA', os.environ['CUDA_VISIBLE_DEVICES'])\n"
                      "time.sleep(3)")  # fmt: skip
        job = ws.jobs.submit(nb, compute="gpu1", gpus=1).wait(WAIT)
        assert job.info.status.value == "completed", job.logs()
        assert "CUDA 1" in job.logs()
        run = job.info.mlflow_run_id
        # machine GPU 1 is the job's GPU 0 (CUDA_VISIBLE_DEVICES=1); an [N/A] value is left out
        util = ws.tracking.metric_values(run, "system/gpu_0_utilization_percentage")
        assert len(util) >= 2 and set(util) == {3.0}
        assert ws.tracking.metric_values(run, "system/gpu_0_memory_usage_megabytes") == []
        # the compute view shows the agent's last sample of the target's GPUs
        agent = ws.compute.status("gpu1").agent or {}
        assert agent.get("gpus") == [
            {"index": "1", "utilization_pct": 3.0, "memory_used_mb": None, "memory_total_mb": 81559}
        ]
        # a job without GPUs gets no GPU metrics
        cpu = ws.jobs.submit(nb, compute="gpu1").wait(WAIT)
        summary = ws.tracking.run_summary(cpu.info.mlflow_run_id)
        assert not any(k.startswith("system/gpu") for k in summary.get("metrics", {}))
    finally:
        from tests.conftest import _stop_agents

        _stop_agents(ws)


def test_ten_thousand_buffered_metrics_reach_mlflow(module_ws: Any, notebook: Any) -> None:
    nb = notebook(
        "import mlbench\nfor i in range(10_000):\n    mlbench.log_metric('m', i * 0.5, step=i)",
        "mlbench.log_metrics({'a': 1.0, 'b': 2.0})",
    )
    info = module_ws.jobs.submit(nb).wait(WAIT).info
    assert info.status.value == "completed"
    history = module_ws.tracking.metric_history(info.mlflow_run_id, "m")
    assert len(history) == 10_000
    assert sorted(s for s, _, _ in history) == list(range(10_000))
    summary = module_ws.tracking.run_summary(info.mlflow_run_id)["metrics"]
    assert summary["m"] == 4999.5 and summary["a"] == 1.0 and summary["b"] == 2.0


def test_events_arrive_in_order(module_ws: Any, notebook: Any) -> None:
    job = module_ws.jobs.submit(notebook("x = 1", "y = 2")).wait(WAIT)
    events = module_ws.jobs.events(job_id=job.id)
    statuses = [e["data"]["status"] for e in events if e["kind"] == "status"]
    assert statuses == ["queued", "starting", "running", "completed"]
    cells = [e["data"]["cell_index"] for e in events if e["kind"] == "progress"]
    assert cells == [0, 1]
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    later = module_ws.jobs.events(after=events[-1]["id"], job_id=job.id)
    assert later == []


def test_list_filters_and_paging(module_ws: Any, notebook: Any) -> None:
    nb = notebook("x = 1", name="pageable.ipynb")
    ids = [module_ws.jobs.submit(nb, tags={"batch": "p"}, experiment="paging").id for _ in range(5)]
    for job_id in ids:
        module_ws.jobs.wait(job_id, WAIT)
    seen: list[str] = []
    cursor = None
    while True:
        page = module_ws.jobs.list(experiment="paging", limit=2, cursor=cursor)
        seen += [j.id for j in page]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == list(reversed(ids))  # newest first, each once
    assert {j.id for j in module_ws.jobs.list(tag="batch=p", limit=10)} == set(ids)
    assert not module_ws.jobs.list(tag="batch=q", limit=10)
    assert len(module_ws.jobs.list(text="pageable", status="completed", limit=10)) == 5
    assert module_ws.jobs.get(ids[0][:6]).id == ids[0]  # unique prefixes work


def test_error_without_error_output_keeps_its_message(module_ws: Any, notebook: Any) -> None:
    nb = notebook("%this_magic_does_not_exist")
    info = module_ws.jobs.submit(nb).wait(WAIT).info
    assert info.status.value == "failed"
    assert "`%this_magic_does_not_exist` not found" in info.error.evalue
    assert "UsageError" in info.status_reason
