"""The ``ray`` compute kind against a real Ray head started by the tests.

Ray listens on every interface whatever --node-ip-address says (see MACHINE-NOTES), so these
tests run only inside a loopback-only network namespace — `make test` runs the whole suite in
one (`unshare --net`); elsewhere they are skipped with that reason (in CI they fail). The head
is stopped by its own session's processes only, never by `ray stop` with `--force`
(tests/ray_head.py).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from mlbench.errors import InvalidInputError, ResourceRequestError
from tests.conftest import _stop_agents, make_notebook, require_module, require_service
from tests.ray_head import RayHead
from tests.test_jobs import WAIT, wait_for


def _only_loopback() -> bool:
    return [name for _, name in socket.if_nameindex()] == ["lo"]


@contextmanager
def ray_head(*args: str, module: str = "ray") -> Iterator[str]:
    """A Ray head of the tests' own (``ray start --head`` ARGS), its address; stopped after.

    Ray binds every interface, so it runs only in a loopback-only network namespace (in CI a
    missing one fails). Its own session, stopped by it: never `ray stop` with `--force`, which
    would also kill every other Ray on the machine (tests/ray_head.py, test_ray_isolation.py).
    """
    require_module(module, "`make setup` (ray[serve] is in the test extra)")
    if not _only_loopback():
        require_service(
            "no loopback-only network namespace (Ray binds every interface, so its tests run "
            "only in one)",
            "run as root under .ci/loopback, as `make test-python` does (unshare --net)",
        )
    head = RayHead(*args)
    address = head.start()
    try:
        yield address
    finally:
        head.stop()  # raises if any process of this head is left


@pytest.fixture(scope="module")  # stopped once this module is done, before later modules run
def ray_address() -> Iterator[str]:
    with ray_head("--num-cpus=2", "--num-gpus=2", '--resources={"special": 1}') as address:
        yield address


def ray_target_ws(home: Path, address: str, **settings: Any) -> Iterator[Any]:
    """A workspace with target ``ray`` on the cluster at ``address``; its agents stopped after."""
    from mlbench import Workspace

    ws = Workspace(home, agent_idle_timeout_s=60, **settings)
    try:
        ws.compute.create("ray", "ray", address=address)
        yield ws
    finally:
        _stop_agents(ws)
        ws.close()


@pytest.fixture(scope="module")
def ray_ws(ray_address: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from ray_target_ws(tmp_path_factory.mktemp("ray-ws"), ray_address, cancel_grace_s=3)


def test_target_creation_checks_the_cluster(ray_ws: Any, ray_address: str) -> None:
    cap = ray_ws.compute.get("ray").capacity
    assert (cap.cpus, cap.gpus, cap.resources) == (2.0, 2, {"special": 1.0})
    # Ray keeps retrying a dead address, so an unreachable cluster ends in the bounded wait.
    with pytest.raises(InvalidInputError, match=r"Ray cluster at '127.0.0.1:1'") as info:
        ray_ws.compute.create("nowhere", "ray", address="127.0.0.1:1", connect_timeout_s=8)
    assert "address" in (info.value.hint or "")
    assert [t.name for t in ray_ws.compute.list()] == ["local", "ray"]  # nothing half-created


def test_job_on_ray_completes_with_output_and_metrics(ray_ws: Any, tmp_path: Path) -> None:
    nb = make_notebook(
        tmp_path / "train.ipynb",
        "import os, mlbench\nprint('x is', x, 'on', os.environ['MLBENCH_JOB_ID'])",
        "for i in range(100):\n    mlbench.log_metric('loss', 1 / (i + 1))",
        "open(os.environ['MLBENCH_OUTPUT_DIR'] + '/model.txt', 'w').write('weights')",
        parameters="x = 1",
    )
    job = ray_ws.jobs.submit(nb, {"x": 42}, compute="ray")
    info = job.wait(WAIT).info
    assert info.status.value == "completed", info.status_reason
    assert f"x is 42 on {job.id}" in job.logs()
    assert "running on Ray node 127.0.0.1" in job.logs()
    assert job.output_notebook_path() is not None
    assert len(ray_ws.tracking.metric_history(info.mlflow_run_id, "loss")) == 100
    assert (ray_ws.paths.outputs(job.id) / "model.txt").read_text() == "weights"
    summary = ray_ws.tracking.run_summary(info.mlflow_run_id)
    assert summary["status"] == "FINISHED" and summary["params"]["x"] == "42"
    # the compute view shows the cluster's nodes and their use
    cluster = ray_ws.compute.status("ray").agent["cluster"]
    assert cluster["nodes"][0]["node_ip"] == "127.0.0.1" and cluster["total"]["GPU"] == 2
    # ... and so does `mlbench compute show` (the agent serves it while it runs)
    show = subprocess.run(
        [sys.executable, "-m", "mlbench", "-w", str(ray_ws.home), "compute", "show", "ray"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
        check=True,
    ).stdout
    assert "  node 127.0.0.1: 2 CPUs, 2 GPUs, special 1\n" in show, show
    assert "cluster in use: " in show and "/2 CPUs" in show and "/2 GPUs" in show, show


def test_a_ray_job_printing_all_the_time_still_sends_its_metrics_as_it_runs(
    ray_ws: Any, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    nb = make_notebook(
        tmp_path / "chatty.ipynb",
        "import mlbench, pathlib, time\nmlbench.log_metric('seen', 1.0)",
        "while not pathlib.Path(go).exists():\n    print('.', flush=True)\n    time.sleep(0.02)",
        parameters="go = ''",
    )
    job = ray_ws.jobs.submit(nb, {"go": str(go)}, compute="ray")
    try:  # the metric reaches the run while the job still prints
        wait_for(
            lambda: (run := job.info.mlflow_run_id) and ray_ws.tracking.metric_history(run, "seen"),
            timeout=60,
        )
        assert job.info.status.value == "running"
    finally:
        go.touch()
    assert job.wait(WAIT).info.status.value == "completed", job.logs()


def test_a_bug_in_the_ray_task_fails_its_job_with_the_cause(tmp_path: Path) -> None:
    """Not the notebook: our code on the worker raising. The job fails as an internal error
    naming it (not as a lost worker), its traceback in the log, its metrics so far sent."""
    import queue

    from mlbench.agent.execute import StopRequest
    from mlbench.agent.ray_worker import _stream

    events: queue.Queue[dict[str, Any]] = queue.Queue()
    metrics = tmp_path / "metrics.jsonl"

    def execute() -> Any:
        events.put({"type": "log", "text": "started\n"})
        metrics.write_text('{"key": "m", "value": 1.0}\n')
        raise KeyError("outcome")

    stream = _stream(execute, "notebook", events, metrics, lambda: None, StopRequest())
    sent = []
    with pytest.raises(StopIteration) as end:
        while True:
            sent.append(next(stream))
    outcome = end.value.value
    assert outcome.status.value == "failed" and outcome.error.kind == "internal_error"
    assert outcome.reason == "internal error on the Ray worker: KeyError: 'outcome'"
    assert sent[0] == {"type": "log", "text": "started\n"}
    assert "Traceback" in sent[1]["text"] and "KeyError: 'outcome'" in sent[1]["text"]
    assert sent[2] == {"type": "metrics", "text": '{"key": "m", "value": 1.0}\n'}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_jobs_run_in_warm_kernels_one_job_each(ray_ws: Any, tmp_path: Path) -> None:
    """Each node's kernel host lends a pre-started kernel per job, refills, and discards it; the
    job's variables and folder reach it by the prelude, as in a local pooled kernel."""
    nb = make_notebook(
        tmp_path / "where.ipynb",
        "import os\nprint('kernel', os.getpid(), os.environ['MLBENCH_JOB_ID'], os.getcwd())",
    )
    pids = []
    for _ in range(2):
        job = ray_ws.jobs.submit(nb, compute="ray", cwd=str(tmp_path))
        assert job.wait(WAIT).info.status.value == "completed", job.logs()
        logs = job.logs()
        warm = float(logs.split("in a warm kernel (started ")[1].split(" s before)")[0])
        pid, job_id, cwd = logs.split("kernel ")[-1].split()[:3]
        assert (job_id, cwd) == (job.id, str(tmp_path))
        pids.append(int(pid))
        time.sleep(1.0)  # the next job's kernel is started ahead, in this second
    assert warm >= 1.0  # the second job's kernel was waiting for it
    assert pids[0] != pids[1]  # one job per kernel ...
    wait_for(lambda: not any(_alive(p) for p in pids), timeout=10)  # ... discarded after it


def _kernel_hosts() -> list[Any]:
    """The processes of the kernel host actors on this machine (host > fork server > kernels)."""
    import psutil

    return [
        p
        for p in psutil.process_iter(["cmdline"])
        if "ray::KernelHost" in " ".join(p.info["cmdline"] or [])
    ]


def test_a_nodes_warm_kernels_fit_the_cpus_its_jobs_leave(
    ray_ws: Any, ray_address: str, tmp_path: Path
) -> None:
    """A host keeps a warm kernel per CPU its jobs leave free (at most the pool's size), and
    one for the next job while every CPU is taken, so the next job never waits for a start."""

    def kernels() -> int:  # the hosts' kernels: lent to a job, or waiting for one
        return sum(len(f.children()) for h in _kernel_hosts() for f in h.children())

    ray_ws.jobs.agent("ray").stop(timeout=30)  # only this test's target keeps hosts
    wait_for(lambda: not _kernel_hosts(), timeout=30)
    ray_ws.compute.create("ray-warm", "ray", address=ray_address, kernel_pool_size=3)
    try:
        first = ray_ws.jobs.submit(make_notebook(tmp_path / "x.ipynb", "x = 1"), compute="ray-warm")
        assert first.wait(WAIT).info.status.value == "completed"  # the agent and its host run
        wait_for(lambda: kernels() == 2, timeout=30)  # idle: one per CPU of the 2-CPU node
        nb = make_notebook(tmp_path / "busy.ipynb", "import time", "time.sleep(6)")
        jobs = [ray_ws.jobs.submit(nb, compute="ray-warm", cpus=1) for _ in range(2)]
        wait_for(lambda: all(j.info.progress.cell_index == 1 for j in jobs))
        wait_for(lambda: kernels() == 3, timeout=15)  # the jobs' two, and the next job's
        assert all(j.wait(WAIT).info.status.value == "completed" for j in jobs)
        wait_for(lambda: kernels() == 2, timeout=30)
    finally:
        ray_ws.jobs.agent("ray-warm").stop(timeout=30)
        ray_ws.compute.delete("ray-warm")


def test_stopping_the_agent_stops_its_kernel_hosts_and_their_kernels(
    ray_ws: Any, tmp_path: Path
) -> None:
    nb = make_notebook(tmp_path / "x.ipynb", "x = 1")
    assert ray_ws.jobs.submit(nb, compute="ray").wait(WAIT).info.status.value == "completed"

    def host_family() -> set[int]:  # the host actor, its fork server, its waiting kernel
        return {p.pid for h in _kernel_hosts() for p in [h, *h.children(recursive=True)]}

    family = wait_for(lambda: (f := host_family()) and len(f) >= 3 and f)
    ray_ws.jobs.agent("ray").stop(now=True, timeout=30)
    wait_for(lambda: not any(_alive(p) for p in family), timeout=30)


def test_a_dead_kernel_host_fails_its_job_with_the_reason_and_jobs_go_on_without_it(
    ray_ws: Any, tmp_path: Path
) -> None:
    """A node's kernel host that dies (a crash, the OOM killer) takes the kernel it lent with it:
    that job fails with the reason and is retried, and the jobs started before the agent puts a
    new host on the node run in a kernel their task starts."""
    import signal as signals

    once = tmp_path / "slept"
    nb = make_notebook(
        tmp_path / "slow.ipynb",
        "import os, pathlib, time\nprint('kernel', os.getpid(), flush=True)",
        "if not pathlib.Path(marker).exists():\n    pathlib.Path(marker).touch()\n"
        "    time.sleep(60)",
        parameters="marker = ''",
    )
    quick = ray_ws.jobs.submit(make_notebook(tmp_path / "x.ipynb", "x = 1"), compute="ray")
    assert quick.wait(WAIT).info.status.value == "completed"
    assert "in a warm kernel" in quick.logs()
    hosts = wait_for(lambda: (h := _kernel_hosts()) and h)
    assert len(hosts) == 1, hosts  # this target's, on the one node
    job = ray_ws.jobs.submit(nb, {"marker": str(once)}, compute="ray", max_retries=1)
    wait_for(lambda: once.exists() and "in a warm kernel" in job.logs())
    kernel_pid = int(job.logs().split("\nkernel ")[1].split()[0])
    hosts[0].send_signal(signals.SIGKILL)
    info = job.wait(WAIT).info
    assert (info.status.value, info.attempt) == ("completed", 2), job.logs()
    wait_for(lambda: not _alive(kernel_pid), timeout=10)  # the host's kernels went with it
    reasons = [e["data"].get("reason", "") for e in ray_ws.jobs.events(job_id=job.id)]
    retry = next(r for r in reasons if r.startswith("retrying (attempt 2 of 2) after:"))
    assert "kernel host" in retry and "died" in retry and "memory" not in retry, retry
    assert job.logs().count("in a warm kernel") == 1  # attempt 2 started a kernel of its own
    after = ray_ws.jobs.submit(make_notebook(tmp_path / "y.ipynb", "y = 2"), compute="ray")
    assert after.wait(WAIT).info.status.value == "completed", after.logs()


def test_failing_cell_fails_like_local(ray_ws: Any, tmp_path: Path) -> None:
    nb = make_notebook(tmp_path / "fail.ipynb", "a = 1", "raise ValueError('bad ' + str(a))")
    info = ray_ws.jobs.submit(nb, compute="ray").wait(WAIT).info
    assert info.status.value == "failed"
    assert (info.error.kind, info.error.ename, info.error.evalue) == (
        "cell_error",
        "ValueError",
        "bad 1",
    )
    assert info.error.cell_index == 1


def test_gpu_jobs_get_distinct_gpus_and_a_third_waits(ray_ws: Any, tmp_path: Path) -> None:
    nb = make_notebook(
        tmp_path / "gpu.ipynb",
        "import os, time\nprint('CUDA', os.environ['CUDA_VISIBLE_DEVICES'])\ntime.sleep(4)",
    )
    jobs = [ray_ws.jobs.submit(nb, compute="ray", gpus=1, cpus=0.5) for _ in range(3)]
    infos = [j.wait(WAIT).info for j in jobs]
    assert all(i.status.value == "completed" for i in infos)
    first, second, third = sorted(infos, key=lambda i: i.started_at)
    assert {first.gpu_ids[0], second.gpu_ids[0]} == {"0", "1"}
    assert first.started_at < second.finished_at and second.started_at < first.finished_at
    assert third.started_at >= min(first.finished_at, second.finished_at)
    seen = {j.logs().split("CUDA ")[1].split()[0] for j in jobs}
    assert seen == {"0", "1"}


def test_impossible_requests_are_refused(ray_ws: Any, tmp_path: Path) -> None:
    nb = make_notebook(tmp_path / "x.ipynb", "x = 1")
    with pytest.raises(ResourceRequestError, match="3 GPU"):
        ray_ws.jobs.submit(nb, compute="ray", gpus=3)
    with pytest.raises(ResourceRequestError, match="'special'"):
        ray_ws.jobs.submit(nb, compute="ray", resources={"custom": {"special": 2}})
    job = ray_ws.jobs.submit(nb, compute="ray", resources={"custom": {"special": 1}})
    info = job.wait(WAIT).info
    assert info.status.value == "completed"


def test_cancel_a_running_ray_job(ray_ws: Any, tmp_path: Path) -> None:
    nb = make_notebook(
        tmp_path / "slow.ipynb",
        "print('go', flush=True)",
        "import time\nwhile True:\n    time.sleep(0.1)",
    )
    job = ray_ws.jobs.submit(nb, compute="ray")
    wait_for(lambda: job.info.progress.cell_index == 1)
    info = job.cancel().wait(WAIT).info
    assert info.status.value == "canceled"


# The Ray worker running the job's task (the only job running): the kernel is the node's kernel
# host's, so its parent is not the worker.
KILL_WORKER = (
    "import os, psutil, time\nif os.environ['MLBENCH_ATTEMPT'] == '1':\n"
    "    open(os.environ['PID_FILE'], 'w').write(str(os.getpid()))\n"
    "    (w,) = [p for p in psutil.process_iter(['cmdline'])\n"
    "           if 'ray::run_job_payload' in ' '.join(p.info['cmdline'] or [])]\n"
    "    w.kill()\n    time.sleep(60)\nprint('second try')"
)


def test_worker_killed_mid_job_fails_with_reason_and_is_retried(
    ray_ws: Any, tmp_path: Path
) -> None:
    nb = make_notebook(tmp_path / "crash.ipynb", KILL_WORKER)
    pid_file = tmp_path / "kernel.pid"
    job = ray_ws.jobs.submit(
        nb, compute="ray", max_retries=1, environment_variables={"PID_FILE": str(pid_file)}
    )
    info = job.wait(WAIT).info
    assert info.status.value == "completed" and info.attempt == 2
    # the first attempt's kernel, orphaned by its worker, was killed, not left sleeping
    wait_for(lambda: not _alive(int(pid_file.read_text())), timeout=10)
    # why attempt 1 failed stays in the job's timeline
    reasons = [e["data"].get("reason", "") for e in ray_ws.jobs.events(job_id=job.id)]
    assert any(r.startswith("retrying (attempt 2 of 2) after:") and "worker" in r for r in reasons)
    pid_file.unlink()
    once = (
        ray_ws.jobs.submit(nb, compute="ray", environment_variables={"PID_FILE": str(pid_file)})
        .wait(WAIT)
        .info
    )
    assert once.status.value == "failed" and once.error.kind == "worker_lost"


def test_an_agent_restart_follows_its_ray_jobs_again(
    ray_ws: Any, ray_address: str, tmp_path: Path
) -> None:
    """Killed mid-job (a crash, an upgrade, a laptop asleep), the agent's successor follows the
    jobs' Ray tasks again instead of failing and rerunning them: each ends once, in its first
    attempt, with its whole log, its metrics relayed once and its MLflow run ended — also the
    one that ended while no agent ran; a job canceled after the restart is canceled."""
    import signal as signals

    steps = make_notebook(
        tmp_path / "steps.ipynb",
        "import time, mlbench\nmlbench.log_metric('m', 1.0, step=0)\nprint('before', flush=True)",
        "time.sleep(float(wait))\nmlbench.log_metric('m', 2.0, step=1)\nprint('after')",
        parameters="wait = 1",
    )
    endless = make_notebook(
        tmp_path / "endless.ipynb",
        "import time\nprint('before', flush=True)\nwhile True:\n    time.sleep(0.1)",
    )
    ray_ws.compute.create("ray3", "ray", address=ray_address, max_concurrent_jobs=3)
    late = ray_ws.jobs.submit(steps, {"wait": 12}, compute="ray3", cpus=0.5)
    early = ray_ws.jobs.submit(steps, {"wait": 3}, compute="ray3", cpus=0.5)
    stuck = ray_ws.jobs.submit(endless, compute="ray3", cpus=0.5)
    jobs = (late, early, stuck)
    wait_for(lambda: all("\nbefore\n" in j.logs() for j in jobs))
    agent = ray_ws.jobs.agent("ray3")
    os.kill(json.loads(agent.info_path.read_text())["pid"], signals.SIGKILL)
    wait_for(lambda: not agent.is_running())
    time.sleep(4)  # `early` ends on the cluster while no agent runs
    agent.ensure_running(wait=True)
    for job in (late, early):
        info = job.wait(WAIT).info
        assert (info.status.value, info.attempt) == ("completed", 1), job.logs()
        logs = job.logs()
        assert logs.count("\nbefore\n") == 1 and "\nafter\n" in logs, logs
        assert "a new agent follows attempt 1 again" in logs
        history = ray_ws.tracking.metric_history(info.mlflow_run_id, "m")
        assert sorted((step, value) for step, value, _ in history) == [(0, 1.0), (1, 2.0)]
        assert ray_ws.tracking.run_summary(info.mlflow_run_id)["status"] == "FINISHED"
        assert job.output_notebook_path() is not None
        reasons = [e["data"].get("reason", "") for e in ray_ws.jobs.events(job_id=job.id)]
        assert any(r.startswith("followed again by a new agent") for r in reasons), reasons
    assert stuck.status.value == "running" and stuck.info.attempt == 1
    assert stuck.cancel().wait(WAIT).status.value == "canceled"
    agent.stop(now=True, timeout=30)
    ray_ws.compute.delete("ray3")


def test_data_inputs_and_outputs_travel_with_a_ray_job(ray_ws: Any, tmp_path: Path) -> None:
    raw = tmp_path / "raw.csv"
    raw.write_text("x,y\n1,2\n3,4\n")
    ray_ws.data.create("raw", raw)
    nb = make_notebook(
        tmp_path / "clean.ipynb",
        "import os\nrows = open(train).read().splitlines()\n"
        "assert 'mlbench-' in train, train  # the worker's copy, not the workspace's\n"
        "open(os.path.join(out, 'count.txt'), 'w').write(str(len(rows) - 1))",
        parameters='train = ""\nout = ""',
    )
    job = ray_ws.jobs.submit(
        nb, compute="ray", inputs={"train": "data:raw"}, outputs={"out": "data:counts"}
    )
    info = job.wait(WAIT).info
    assert info.status.value == "completed", (info.status_reason, job.logs())
    assert [(o.name, o.ref) for o in info.outputs] == [("out", "counts:1")]
    assert (ray_ws.data.get("counts").path() / "count.txt").read_text() == "2"
    assert f"job:{job.id}" in {n.id for n in ray_ws.data.lineage("raw:1").nodes}


def test_data_inputs_too_large_for_a_ray_job_are_refused_at_submission(
    ray_ws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inputs travel with the task (up to 1 GiB): more is refused before anything is created."""
    from mlbench.compute.ray import RayBackend

    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 4096)
    ray_ws.data.create("big", big)
    monkeypatch.setattr(RayBackend, "max_data_bytes", 4000)  # 1 GiB of test data is too slow
    nb = make_notebook(tmp_path / "read.ipynb", "print(open(src).read(3))", parameters='src = ""')
    jobs_before = [j.id for j in ray_ws.jobs.list(limit=1000)]
    dirs_before = sorted(ray_ws.paths.jobs_dir.iterdir())
    with pytest.raises(InvalidInputError, match=r"add up to 0\.0 MiB.*target 'ray'") as info:
        ray_ws.jobs.submit(nb, compute="ray", inputs={"src": "data:big"})
    assert "local target" in (info.value.hint or "")
    assert info.value.details == {"input_bytes": 4096, "max_input_bytes": 4000}
    assert [j.id for j in ray_ws.jobs.list(limit=1000)] == jobs_before
    assert sorted(ray_ws.paths.jobs_dir.iterdir()) == dirs_before
    # the same input fits a local target
    local = ray_ws.jobs.submit(nb, compute="local", inputs={"src": "data:big"}).wait(WAIT).info
    assert local.status.value == "completed"


def test_a_sweep_runs_its_trials_on_ray_and_stops_the_poor_one(ray_ws: Any, tmp_path: Path) -> None:
    """Trials are ordinary jobs on the sweep's target: on Ray too, policy stop included."""
    nb = make_notebook(
        tmp_path / "curve.ipynb",
        "import math, time, mlbench\n"
        "for t in range(1, 9):\n"
        "    mlbench.log_metric('acc', quality * (1 - math.exp(-t / 2)), step=t)\n"
        "    time.sleep(0.5)",
        parameters="quality: float = 0.5",
    )
    sweep = ray_ws.sweeps.submit(
        {
            "notebook": str(nb),
            "compute": "ray",
            "search_space": {"quality": "choice(1.0, 0.2)"},
            "sampling_algorithm": "grid",
            "objective": {"primary_metric": "acc", "goal": "maximize"},
            "early_termination": {"type": "bandit", "slack_factor": 0.2, "delay_evaluation": 2},
            "limits": {"max_concurrent_trials": 1},
        }
    )
    info = sweep.wait(WAIT).info
    assert info.status.value == "completed", info.status_reason
    trials = sweep.trials()
    assert [t.status.value for t in trials] == ["completed", "early_terminated"]
    assert trials[1].termination is not None and trials[1].termination.interval == 2
    assert trials[1].reports < 8
    for t in trials:
        job = ray_ws.jobs.info(t.job_id)
        assert job.compute == "ray" and "running on Ray node" in ray_ws.jobs.logs(t.job_id)[0]
    assert info.best_trial == 0


def test_a_command_job_runs_on_ray_with_its_code_inputs_and_outputs(
    ray_ws: Any, tmp_path: Path
) -> None:
    code = tmp_path / "src"
    code.mkdir()
    (code / "train.py").write_text(
        "import os, sys, mlbench\n"
        "mlbench.log_metric('loss', float(sys.argv[1]))\n"
        "open(os.path.join(sys.argv[2], 'model.txt'), 'w').write('weights')\n"
        "print('trained on', os.environ['MLBENCH_JOB_ID'])\n"
    )
    job = ray_ws.jobs.submit(
        None,
        command="python train.py ${{inputs.lr}} ${{outputs.model}}",
        code=str(code),
        parameters={"lr": 0.5},
        compute="ray",
    )
    info = job.wait(WAIT).info
    assert info.status.value == "completed", info.status_reason
    assert "running on Ray node" in job.logs() and f"trained on {job.id}" in job.logs()
    assert (ray_ws.paths.outputs(job.id) / "model" / "model.txt").read_text() == "weights"
    assert ray_ws.tracking.run_summary(info.mlflow_run_id)["metrics"]["loss"] == 0.5
