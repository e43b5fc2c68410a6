"""The ``gateway`` compute kind against a real Jupyter Kernel Gateway on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import nbformat
import pytest
import requests

from mlbench.errors import InvalidInputError, KernelNotFoundError
from tests.conftest import _stop_agents, make_notebook, require_module
from tests.storage_servers import free_port
from tests.test_jobs import WAIT, wait_for


@pytest.fixture(autouse=True, scope="module")
def _needs_kernel_gateway() -> None:
    require_module("kernel_gateway", "`make setup` (jupyter-kernel-gateway is in the test extra)")


TOKEN = "gw-secret-token-1234"
AUTH = {"Authorization": f"token {TOKEN}"}


@contextmanager
def kernel_gateway(tmp: Path) -> Iterator[str]:
    """A real `jupyter kernelgateway` with an auth token, stopped (and its kernels) on exit."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "KG_AUTH_TOKEN": TOKEN,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
    }
    log = open(tmp / f"gateway-{port}.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kernel_gateway",
            "--KernelGatewayApp.ip=127.0.0.1",
            f"--KernelGatewayApp.port={port}",
            "--KernelGatewayApp.port_retries=0",
            "--JupyterWebsocketPersonality.list_kernels=True",  # so tests see leftovers
        ],
        cwd=tmp,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/api", headers=AUTH, timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"kernel gateway did not start: see {log.name}")
            time.sleep(0.2)
        yield url
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        log.close()


def kernels_on(url: str) -> list[dict[str, Any]]:
    return list(requests.get(f"{url}/api/kernels", headers=AUTH, timeout=5).json())


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with kernel_gateway(tmp_path_factory.mktemp("gateway")) as url:
        yield url


@pytest.fixture(scope="module")
def gw_ws(gateway_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from mlbench import Workspace

    ws = Workspace(tmp_path_factory.mktemp("gw-ws"), agent_idle_timeout_s=60, cancel_grace_s=3)
    # no kernels started ahead: these tests count the kernels a job leaves on the gateway
    ws.compute.create(
        "gw", "gateway", url=gateway_url, token=TOKEN, gpu_ids=[0, 1], prestart_kernels=0
    )
    yield ws
    _stop_agents(ws)
    ws.close()


def test_target_creation_checks_the_gateway_and_keeps_the_token_secret(
    gw_ws: Any, gateway_url: str
) -> None:
    target = gw_ws.compute.get("gw")
    assert target.config["kernels"] == ["python3"] and target.capacity.gpu_ids == ["0", "1"]
    assert TOKEN not in target.model_dump_json()
    assert TOKEN not in json.dumps(gw_ws.compute.status("gw").model_dump(mode="json"))
    secret_files = list((gw_ws.home / "secrets").iterdir())
    assert [oct(p.stat().st_mode & 0o777) for p in secret_files] == ["0o600"]
    assert TOKEN in secret_files[0].read_text()
    # a wrong token, a dead address and a URL that is no gateway are refused with the fix
    with pytest.raises(InvalidInputError, match="token") as info:
        gw_ws.compute.create("bad-token", "gateway", url=gateway_url, token="wrong")
    assert "--token" in (info.value.hint or "")
    dead = free_port()  # nothing listens there
    started = time.monotonic()
    with pytest.raises(InvalidInputError, match="cannot reach the gateway") as info:
        gw_ws.compute.create("nowhere", "gateway", url=f"http://127.0.0.1:{dead}", token=TOKEN)
    assert time.monotonic() - started < 15 and "reachable" in (info.value.hint or "")
    with pytest.raises(InvalidInputError, match="http:// or https://"):
        gw_ws.compute.create("no-scheme", "gateway", url="127.0.0.1:8888")
    assert [t.name for t in gw_ws.compute.list()] == ["gw", "local"]  # nothing half-created


def test_job_on_gateway_completes_with_output_metrics_and_files(
    gw_ws: Any, gateway_url: str, tmp_path: Path
) -> None:
    nb = make_notebook(
        tmp_path / "train.ipynb",
        "import os, mlbench\nprint('x is', x, 'job', os.environ['MLBENCH_JOB_ID'])\n"
        "print('CUDA', repr(os.environ['CUDA_VISIBLE_DEVICES']))",
        "for i in range(200):\n    mlbench.log_metric('loss', 1 / (i + 1))",
        "open(os.path.join(os.environ['MLBENCH_OUTPUT_DIR'], 'model.txt'), 'w').write('weights')\n"
        "print('home' , 'MLBENCH_HOME' in os.environ)",
        parameters="x = 1",
    )
    job = gw_ws.jobs.submit(nb, {"x": 42}, compute="gw", gpus=1)
    info = job.wait(WAIT).info
    assert info.status.value == "completed", info.status_reason
    logs = job.logs()
    assert f"x is 42 job {job.id}" in logs and "started on the gateway" in logs
    assert f"CUDA '{info.gpu_ids[0]}'" in logs and info.gpu_ids[0] in ("0", "1")
    assert "home False" in logs  # this machine's paths do not travel to the gateway's
    assert len(gw_ws.tracking.metric_history(info.mlflow_run_id, "loss")) == 200
    assert (gw_ws.paths.outputs(job.id) / "model.txt").read_text() == "weights"
    out = nbformat.read(job.output_notebook_path(), as_version=4)
    assert "x = 42" in out.cells[1].source  # papermill's injected parameters
    # the metric and file messages are the job's side channel, never outputs of the notebook
    assert "vnd.mlbench" not in json.dumps(out)
    summary = gw_ws.tracking.run_summary(info.mlflow_run_id)
    assert summary["status"] == "FINISHED" and summary["params"]["x"] == "42"
    wait_for(lambda: kernels_on(gateway_url) == [])  # the job's kernel is deleted there


def test_failing_cell_fails_like_local(gw_ws: Any, tmp_path: Path) -> None:
    nb = make_notebook(tmp_path / "fail.ipynb", "a = 1", "raise ValueError('bad ' + str(a))")
    info = gw_ws.jobs.submit(nb, compute="gw").wait(WAIT).info
    assert info.status.value == "failed"
    assert (info.error.kind, info.error.ename, info.error.evalue, info.error.cell_index) == (
        "cell_error",
        "ValueError",
        "bad 1",
        1,
    )


def test_a_kernel_the_gateway_lacks_is_refused_at_submission(gw_ws: Any, tmp_path: Path) -> None:
    nb = make_notebook(tmp_path / "x.ipynb", "x = 1")
    with pytest.raises(KernelNotFoundError, match="not offered by compute target 'gw'") as info:
        gw_ws.jobs.submit(nb, compute="gw", kernel_name="julia-1.10")
    assert "python3" in (info.value.hint or "")


def test_kernels_started_ahead_serve_one_job_each_and_leave_with_the_agent(
    gw_ws: Any, gateway_url: str, tmp_path: Path
) -> None:
    from mlbench.agent.process import AgentHandle

    gw_ws.compute.create("gw-ahead", "gateway", url=gateway_url, token=TOKEN, prestart_kernels=1)
    nb = make_notebook(tmp_path / "pid.ipynb", "import os\nprint('pid', os.getpid())")
    try:
        first = gw_ws.jobs.submit(nb, compute="gw-ahead").wait(WAIT)
        assert first.info.status.value == "completed", first.info.status_reason
        # one kernel is waiting for the next job as soon as the first took its own
        wait_for(lambda: len(kernels_on(gateway_url)) == 1)
        (waiting,) = kernels_on(gateway_url)
        second = gw_ws.jobs.submit(nb, compute="gw-ahead").wait(WAIT)
        assert second.info.status.value == "completed", second.info.status_reason
        assert f"kernel {waiting['id']} started ahead" in second.logs()
        pids = [j.logs().split("pid ")[1].split()[0] for j in (first, second)]
        assert pids[0] != pids[1]  # a kernel serves one job, never two
        # one the gateway culled is skipped, not handed to a job
        wait_for(lambda: len(kernels_on(gateway_url)) == 1)
        (culled,) = kernels_on(gateway_url)
        requests.delete(f"{gateway_url}/api/kernels/{culled['id']}", headers=AUTH, timeout=10)
        third = gw_ws.jobs.submit(nb, compute="gw-ahead").wait(WAIT)
        assert third.info.status.value == "completed", third.info.status_reason
        assert culled["id"] not in third.logs()
    finally:
        AgentHandle(gw_ws, "gw-ahead").stop(timeout=30)
    assert kernels_on(gateway_url) == []  # the agent deleted what it started ahead
    gw_ws.compute.delete("gw-ahead")


def test_cancel_a_running_gateway_job(gw_ws: Any, gateway_url: str, tmp_path: Path) -> None:
    nb = make_notebook(
        tmp_path / "slow.ipynb", "print('go')", "import time\nwhile True:\n    time.sleep(0.1)"
    )
    job = gw_ws.jobs.submit(nb, compute="gw")
    wait_for(lambda: job.info.progress.cell_index == 1)
    info = job.cancel().wait(WAIT).info
    assert info.status.value == "canceled" and info.error.cell_index == 1
    wait_for(lambda: kernels_on(gateway_url) == [])


def test_kernel_dying_on_the_gateway_fails_the_job(gw_ws: Any, tmp_path: Path) -> None:
    nb = make_notebook(tmp_path / "die.ipynb", "import os\nos._exit(1)", "print('never')")
    info = gw_ws.jobs.submit(nb, compute="gw").wait(WAIT).info  # a hang would time out here
    assert info.status.value == "failed" and info.error.kind == "kernel_died"
    assert "died on the gateway" in info.error.message


def test_kernel_deleted_on_the_gateway_fails_the_job(
    gw_ws: Any, gateway_url: str, tmp_path: Path
) -> None:
    """Someone (or the gateway's culler) deletes the job's kernel: a clear failure, no hang."""
    nb = make_notebook(tmp_path / "culled.ipynb", "import time\ntime.sleep(120)")
    job = gw_ws.jobs.submit(nb, compute="gw", max_retries=0)
    wait_for(lambda: job.info.progress.cell_index == 0)
    (kernel,) = kernels_on(gateway_url)
    deleted = requests.delete(f"{gateway_url}/api/kernels/{kernel['id']}", headers=AUTH, timeout=10)
    assert deleted.status_code == 204
    gone = time.monotonic()
    info = job.wait(WAIT).info
    assert time.monotonic() - gone < 20
    assert info.status.value == "failed" and info.error.kind == "kernel_died"
    assert "gone from the gateway" in info.error.message, info.error.message
    assert kernels_on(gateway_url) == []


def test_gateway_stopped_mid_job_fails_it_within_bounded_time(tmp_path: Path) -> None:
    from mlbench import Workspace

    ws = Workspace(tmp_path / "ws", agent_idle_timeout_s=30)
    try:
        with kernel_gateway(tmp_path) as url:
            ws.compute.create("doomed", "gateway", url=url, token=TOKEN)
            nb = make_notebook(tmp_path / "long.ipynb", "import time\ntime.sleep(120)")
            job = ws.jobs.submit(nb, compute="doomed", max_retries=0)
            wait_for(lambda: job.info.progress.cell_index == 0)
        stopped = time.monotonic()  # the gateway and its kernels are gone
        info = job.wait(WAIT).info
        assert time.monotonic() - stopped < 20
        assert info.status.value == "failed" and info.error.kind == "kernel_died"
        assert "gateway" in info.error.message, info.error.message
        # a job submitted while the gateway is down fails with the reason, not a hang
        again = ws.jobs.submit(nb, compute="doomed").wait(WAIT).info
        assert again.status.value == "failed" and again.error.kind == "gateway_error"
        assert "cannot reach the gateway" in again.error.message
    finally:
        _stop_agents(ws)
        ws.close()


def test_cli_creates_a_gateway_target_without_showing_its_token(
    gateway_url: str, tmp_path: Path
) -> None:
    from tests.test_cli import mlbench

    env_token = {"MLBENCH_GATEWAY_TOKEN": TOKEN}
    os.environ.update(env_token)  # the CLI reads the token from the environment, not argv
    try:
        made = mlbench(
            tmp_path, "compute", "create", "box", "--type", "gateway", "--url", gateway_url,
            "--gpu-ids", "0,1", "--cpus", "8",
        )  # fmt: skip
    finally:
        os.environ.pop("MLBENCH_GATEWAY_TOKEN")
    assert made.returncode == 0, made.stderr
    shown = mlbench(tmp_path, "compute", "show", "box")
    assert "python3" in shown.stdout and "capacity: 8 CPUs" in shown.stdout
    assert "2 GPUs [0, 1]" in shown.stdout, shown.stdout
    as_json = mlbench(tmp_path, "compute", "show", "box", "--json")
    assert TOKEN not in shown.stdout + as_json.stdout + made.stdout + made.stderr
    assert json.loads(as_json.stdout)["target"]["config"]["url"] == gateway_url
    wrong = mlbench(tmp_path, "compute", "create", "x", "--type", "local", "--url", gateway_url)
    assert wrong.returncode != 0 and "url" in wrong.stderr and "Traceback" not in wrong.stderr


def test_data_bindings_are_refused_on_a_gateway_target(gw_ws: Any, tmp_path: Path) -> None:
    nb = make_notebook(tmp_path / "x.ipynb", "print(train)", parameters='train = ""')
    with pytest.raises(InvalidInputError, match="cannot take data inputs") as info:
        gw_ws.jobs.submit(nb, compute="gw", inputs={"train": "data:raw"})
    assert "local or ray" in (info.value.hint or "")
