"""Environments on a Ray target: the version's lock goes into the job's Ray task as its
``runtime_env`` (``uv``), Ray installs it on the node, and the job's kernel runs in it.

Like tests/test_ray.py this needs a loopback-only network namespace (a Ray head of the test's
own, stopped by its own processes only); the packages come from a wheel made here and from
uv's cache (tests/test_environments.py warms it; offline with ``UV_OFFLINE``). Ray's uv
runtime_env needs ``virtualenv`` on the node (in the test extra).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlbench.environments.hook import LOCK_FILE, ray_runtime_env
from mlbench.errors import InvalidInputError
from tests import test_environments
from tests.conftest import make_notebook, require_module
from tests.test_ray import WAIT, ray_head, ray_target_ws
from tests.wheels import PROBE_MODULE, make_wheel

_packages_reachable = test_environments._packages_reachable


@pytest.fixture(scope="module")
def ray_ws(_packages_reachable: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A workspace with a Ray target on a head of its own, started after uv's settings (cache,
    offline) are in this process's environment, so the head's runtime_env agent has them."""
    require_module("virtualenv", "`make setup` (virtualenv is in the test extra)")
    with ray_head("--num-cpus=2") as address:
        yield from ray_target_ws(tmp_path_factory.mktemp("ray-env-ws"), address)


def test_a_job_on_ray_runs_in_the_environment(ray_ws: Any, tmp_path: Path) -> None:
    requirement = make_wheel(tmp_path / "wheels")
    env = ray_ws.environments.create("probe", requirements=[requirement])
    assert any(p.startswith("mlbench-probe@file://") for p in env.packages)
    nb = make_notebook(
        tmp_path / "probe.ipynb",
        f"import sys, {PROBE_MODULE}\nprint('probe says', {PROBE_MODULE}.VALUE)\n"
        "print('prefix', sys.prefix)",
    )
    job = ray_ws.jobs.submit(nb, compute="ray", environment="probe").wait(WAIT)
    info, logs = job.info, job.logs()
    assert info.status.value == "completed", (info.status_reason, logs)
    assert "probe says mlbench-probe 1.0" in logs
    assert "running on Ray node 127.0.0.1" in logs
    assert f"environment probe:1 ({len(env.packages)} packages" in logs
    prefix = next(line for line in logs.splitlines() if line.startswith("prefix "))
    assert env.venv not in prefix  # Ray's venv on the node, not this machine's build
    assert (ray_ws.paths.job_dir(job.id) / LOCK_FILE).is_file()
    assert ray_ws.jobs.spec(job.id).environment == "probe:1"
    tags = ray_ws.tracking.run_summary(info.mlflow_run_id)["tags"]
    assert tags["mlbench.environment_hash"] == env.lock_hash

    # the same notebook without the environment fails on Ray: the package is the env's only
    without = ray_ws.jobs.submit(nb, compute="ray").wait(WAIT).info
    assert without.status.value == "failed"
    assert f"No module named '{PROBE_MODULE}'" in (without.error.message if without.error else "")
    # a second job on the same node reuses Ray's built runtime env (cached by its hash)
    again = ray_ws.jobs.submit(nb, compute="ray", environment="probe:1").wait(WAIT)
    assert again.info.status.value == "completed", again.logs()


def test_runtime_env_takes_the_lock_in_the_targets_field() -> None:
    lock = ["mlbench-probe==1.0", "ipykernel==7.4.0"]
    assert ray_runtime_env(lock, None) == {"uv": {"packages": lock, "uv_pip_install_options": []}}
    base = {"env_vars": {"A": "1"}, "pip": ["mlbench"]}
    assert ray_runtime_env(lock, base) == {
        "env_vars": {"A": "1"},
        "pip": {"packages": ["mlbench", *lock]},
    }
    uv = ray_runtime_env(lock, {"uv": {"packages": ["x"], "uv_pip_install_options": ["-q"]}})
    assert uv == {"uv": {"packages": ["x", *lock], "uv_pip_install_options": ["-q"]}}
    for base, word in (({"conda": "env.yml"}, "conda"), ({"pip": "reqs.txt"}, "file")):
        with pytest.raises(InvalidInputError, match=word):
            ray_runtime_env(lock, base)


def test_a_ray_target_whose_runtime_env_cannot_take_the_lock_refuses_at_submission() -> None:
    from types import SimpleNamespace

    from mlbench.environments.hook import EnvironmentBinding
    from mlbench.jobs.lifecycle import Submission
    from mlbench.jobs.spec import JobSpec

    target = SimpleNamespace(config={"runtime_env": {"conda": "env.yml"}})
    sub = Submission(
        ws=SimpleNamespace(compute=SimpleNamespace(get=lambda name: target)),  # type: ignore[arg-type]
        job_id="x",
        spec=JobSpec(notebook_path="nb.ipynb", environment="tab", compute="cluster"),
        backend=SimpleNamespace(kind="ray"),  # type: ignore[arg-type]
        parameters={},
    )
    with pytest.raises(InvalidInputError, match="uses conda"):
        EnvironmentBinding().bind(sub)
    assert "environment" not in sub.handled
