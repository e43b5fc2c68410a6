"""Environments end to end: real uv, real venvs, real kernels and agents.

Builds need the packages of the test environments (pyfiglet, tabulate, ipykernel and its
dependencies) from PyPI or from uv's cache (``~/.cache/uv``, shared by every test and run).
The test suite runs in a loopback-only network namespace: warm the cache before it with
``python -m tests.test_environments --prefetch`` (with network access); without network the
tests build offline (``UV_OFFLINE=1``) from that cache.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlbench.environments.errors import (
    EnvironmentBuildError,
    EnvironmentInUseError,
    EnvironmentNotFoundError,
    EnvironmentNotReadyError,
    EnvironmentSpecError,
)
from mlbench.environments.models import EnvironmentStatus
from mlbench.errors import InvalidInputError
from tests import test_server
from tests.conftest import make_notebook, require_service
from tests.test_server import Api, error_code

WAIT = 180  # bounds that only catch hangs
FIGLET = ["pyfiglet"]
TABULATE = ["tabulate"]
VENV_PIP = Path(sys.executable).parent / "pip"


def _pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=3).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="module", autouse=True)
def _packages_reachable() -> Iterator[None]:
    """PyPI, or offline builds from a warm uv cache; else the tests cannot run."""
    for name in ("pyfiglet", "tabulate"):  # the point: packages the base venv lacks
        shown = subprocess.run([str(VENV_PIP), "show", name], capture_output=True, check=False)
        assert shown.returncode != 0, f"{name} is installed in mlbench's venv: pick another"
    from uv import find_uv_bin

    saved = {k: os.environ.get(k) for k in ("UV_OFFLINE", "UV_CACHE_DIR")}
    # one cache for every test, whatever HOME a fixture sets later (pytest-jupyter's does)
    cache = subprocess.run(
        [find_uv_bin(), "cache", "dir"], capture_output=True, text=True, check=True
    ).stdout.strip()
    os.environ["UV_CACHE_DIR"] = cache
    if not _pypi_reachable():
        os.environ["UV_OFFLINE"] = "1"

        probe = subprocess.run(
            [find_uv_bin(), "pip", "compile", "-", "--no-header", "-q"],
            input="pyfiglet\ntabulate\nipykernel\n",
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode != 0:
            require_service(
                "PyPI is unreachable and uv's cache lacks the test packages",
                "run `python -m tests.test_environments --prefetch` with network access first",
            )
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _job_notebook(notebook: Any, module: str, name: str = "nb.ipynb") -> Path:
    return notebook(
        "import sys, mlbench\n"
        f"import {module}\n"
        "print('prefix', sys.prefix)\n"
        f"mlbench.log_metric('version_len', len({module}.__version__))",
        name=name,
    )


def test_a_job_runs_in_an_environment_and_fails_without_it(module_ws: Any, notebook: Any) -> None:
    env = module_ws.environments.create("figlet", requirements=FIGLET)
    assert env.status == EnvironmentStatus.READY and env.ref == "figlet:1"
    assert env.kernel_name == f"mlbench-figlet-{env.lock_hash[:8]}"
    assert any(p.startswith("pyfiglet==") for p in env.packages)
    assert any(p.startswith("ipykernel==") for p in env.packages)  # added for the kernel
    nb = _job_notebook(notebook, "pyfiglet")

    job = module_ws.jobs.submit(nb, environment="figlet").wait(WAIT)
    info = job.info
    assert info.status.value == "completed", (info.status_reason, job.logs())
    assert info.kernel_name == env.kernel_name
    assert f"prefix {env.venv}" in job.logs()
    spec = module_ws.jobs.spec(job.id)
    assert spec.environment == "figlet:1"  # the exact version, recorded
    tags = module_ws.tracking.run_summary(info.mlflow_run_id)["tags"]
    assert tags["mlbench.environment"] == "figlet:1"
    assert tags["mlbench.environment_hash"] == env.lock_hash
    # mlbench.log_metric works in the environment's kernel too
    assert module_ws.tracking.run_summary(info.mlflow_run_id)["metrics"]["version_len"] > 0

    without = module_ws.jobs.submit(nb).wait(WAIT).info
    assert without.status.value == "failed"
    assert "No module named 'pyfiglet'" in (without.error.message if without.error else "")


def test_reordered_spec_gives_the_same_version_without_building(module_ws: Any) -> None:
    first = module_ws.environments.create("both", requirements=["tabulate", "pyfiglet"])
    log_size = len(module_ws.environments.log("both:1").text)
    started = time.monotonic()
    again = module_ws.environments.create(
        "both", requirements=["PyFiglet  # the banner", "", "# comment", "tabulate"]
    )
    elapsed = time.monotonic() - started
    assert again.ref == first.ref == "both:1" and again.lock_hash == first.lock_hash
    assert elapsed < 0.2, f"an identical spec took {elapsed:.3f} s"
    # the same packages from a conda file: same spec, same version
    conda = (
        "name: x\nchannels: [defaults]\ndependencies:\n  - pip\n  - pip:\n    - tabulate\n"
        "    - pyfiglet\n"
    )
    assert module_ws.environments.create("both", conda_yaml=conda).ref == "both:1"
    # resolving again finds the same lock: still version 1, nothing rebuilt
    refreshed = module_ws.environments.create("both", requirements=TABULATE + FIGLET, refresh=True)
    assert refreshed.ref == "both:1"
    assert len(module_ws.environments.log("both:1").text) == log_size
    assert [v.version for v in module_ws.environments.versions("both")] == [1]


def test_unknown_package_is_a_clear_error_and_registers_nothing(ws: Any, notebook: Any) -> None:
    with pytest.raises(EnvironmentBuildError) as err:
        ws.environments.create("broken", requirements=["mlbench-no-such-package-zzz"])
    assert "mlbench-no-such-package-zzz" in err.value.message
    assert ws.environments.list() == []
    kernels = ws.environments.paths.kernels
    assert not kernels.exists() or not any(kernels.iterdir())
    venvs = ws.environments.paths.venvs
    assert not venvs.exists() or not any(venvs.iterdir())
    with pytest.raises(EnvironmentNotFoundError):
        ws.jobs.submit(notebook("1"), environment="broken")


def test_two_environments_kernels_serve_two_jobs(module_ws: Any, notebook: Any) -> None:
    figlet = module_ws.environments.create("figlet", requirements=FIGLET)
    tab = module_ws.environments.create("tab", requirements=TABULATE)
    assert figlet.kernel_name != tab.kernel_name and figlet.venv != tab.venv
    a = module_ws.jobs.submit(_job_notebook(notebook, "pyfiglet", "a.ipynb"), environment="figlet")
    b = module_ws.jobs.submit(_job_notebook(notebook, "tabulate", "b.ipynb"), environment="tab:1")
    for job, env in ((a, figlet), (b, tab)):
        info = job.wait(WAIT).info
        assert info.status.value == "completed", (info.status_reason, job.logs())
        assert info.kernel_name == env.kernel_name and f"prefix {env.venv}" in job.logs()
    # each environment's packages only: tabulate is not in figlet's venv
    wrong = module_ws.jobs.submit(
        _job_notebook(notebook, "tabulate", "c.ipynb"), environment="figlet"
    ).wait(WAIT)
    assert wrong.info.status.value == "failed"


def test_delete_is_refused_while_a_job_uses_the_environment(module_ws: Any, notebook: Any) -> None:
    tab = module_ws.environments.create("tab", requirements=TABULATE)
    module_ws.environments.create("busy", requirements=TABULATE)
    nb = notebook("import time\ntime.sleep(60)", name="slow.ipynb")
    job = module_ws.jobs.submit(nb, environment="busy")
    with pytest.raises(EnvironmentInUseError) as err:
        module_ws.environments.delete("busy")
    assert job.id in err.value.message
    job.cancel().wait(WAIT)
    deleted = module_ws.environments.delete("busy")
    assert [d.ref for d in deleted] == ["busy:1"]
    with pytest.raises(EnvironmentNotFoundError):
        module_ws.environments.get("busy")
    # the venv is shared with "tab" (same lock): it stays while tab:1 refers to it
    assert Path(tab.venv).is_dir() and module_ws.environments.get("tab").ref == tab.ref


def test_gc_keeps_what_is_referenced(module_ws: Any) -> None:
    paths = module_ws.environments.paths
    orphan = paths.venvs / ("0" * 16)
    (orphan / "bin").mkdir(parents=True)
    stale_kernel = paths.kernels / "mlbench-gone-00000000"
    stale_kernel.mkdir(parents=True)
    (stale_kernel / "kernel.json").write_text("{}")
    user_kernel = paths.kernels / "python-mine"  # not mlbench's: never touched
    user_kernel.mkdir()
    referenced = {Path(e.venv) for e in module_ws.environments.list()}
    result = module_ws.environments.gc()
    assert str(orphan) in result.removed and str(stale_kernel) in result.removed
    assert not orphan.exists() and not stale_kernel.exists() and user_kernel.exists()
    assert referenced and all(p.is_dir() for p in referenced)
    for env in module_ws.environments.list():
        assert (paths.kernels / env.kernel_name / "kernel.json").is_file()


def test_a_canceled_build_leaves_nothing_usable(ws: Any, notebook: Any, monkeypatch: Any) -> None:
    from mlbench.environments import build

    real = build.build_venv

    def interrupted(venv: Path, *args: Any, **kwargs: Any) -> None:
        venv.mkdir(parents=True)
        (venv / "half").write_text("x")
        raise KeyboardInterrupt

    monkeypatch.setattr(build, "build_venv", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ws.environments.create("half", requirements=TABULATE)
    info = ws.environments.get("half")
    assert info.status == EnvironmentStatus.FAILED and info.error == "build canceled"
    assert not Path(info.venv).exists()
    assert not (ws.environments.paths.kernels / info.kernel_name).exists()
    with pytest.raises(EnvironmentNotReadyError, match="failed: build canceled"):
        ws.jobs.submit(notebook("1"), environment="half:1")
    monkeypatch.setattr(build, "build_venv", real)
    rebuilt = ws.environments.build("half:1")
    assert rebuilt.status == EnvironmentStatus.READY and Path(rebuilt.venv, "bin").is_dir()


def test_a_build_is_tracked_while_it_runs(ws: Any, notebook: Any, monkeypatch: Any) -> None:
    import threading

    from mlbench.environments import build

    real, started, release = build.build_venv, threading.Event(), threading.Event()

    def held(venv: Path, packages: list[str], python: Any, log_file: Any, **kw: Any) -> None:
        log_file.write("halfway there\n")
        log_file.flush()
        started.set()
        release.wait(WAIT)
        real(venv, packages, python, log_file, **kw)

    monkeypatch.setattr(build, "build_venv", held)
    results: list[Any] = []
    builder = threading.Thread(
        target=lambda: results.append(ws.environments.create("slow", requirements=TABULATE))
    )
    builder.start()
    try:
        assert started.wait(WAIT)
        assert ws.environments.get("slow").status == EnvironmentStatus.BUILDING
        assert "halfway there" in ws.environments.log("slow:1").text  # readable meanwhile
        with pytest.raises(EnvironmentNotReadyError, match="no ready version"):
            ws.jobs.submit(notebook("1"), environment="slow")
        with pytest.raises(EnvironmentInUseError, match="being built"):
            ws.environments.delete("slow")
    finally:
        release.set()
        builder.join(WAIT)
    assert results and results[0].status == EnvironmentStatus.READY


def test_environment_and_another_kernel_are_refused(module_ws: Any, notebook: Any) -> None:
    module_ws.environments.create("tab", requirements=TABULATE)
    with pytest.raises(InvalidInputError, match="contradicts"):
        module_ws.jobs.submit(notebook("1"), environment="tab", kernel_name="python3")
    with pytest.raises(InvalidInputError, match="version"):
        module_ws.jobs.submit(notebook("1"), environment="tab:x")


def test_capture_pins_what_an_interpreter_has(ws: Any, tmp_path: Path) -> None:
    from uv import find_uv_bin

    venv = tmp_path / "mine"
    subprocess.run([find_uv_bin(), "venv", str(venv), "-q"], check=True)
    subprocess.run(
        [find_uv_bin(), "pip", "install", "-q", "--python", str(venv / "bin/python"), "tabulate"],
        check=True,
    )
    info = ws.environments.capture("mine", python=str(venv / "bin/python"))
    assert info.status == EnvironmentStatus.READY
    assert [r.split("==")[0] for r in info.spec.requirements] == ["tabulate"]
    assert "==" in info.spec.requirements[0]  # pinned to the installed version


# -- specs (no builds) -------------------------------------------------------------------------
def test_conda_packages_are_refused_by_name() -> None:
    from mlbench.environments.spec import from_conda

    text = (
        "dependencies:\n  - python=3.11\n  - numpy=1.26\n  - conda-forge::cudatoolkit\n"
        "  - pip\n  - pip:\n    - tabulate\n"
    )
    with pytest.raises(EnvironmentSpecError) as err:
        from_conda(text, None)
    assert "numpy=1.26" in err.value.message and "conda-forge::cudatoolkit" in err.value.message
    spec = from_conda("dependencies: [python=3.11, pip, {pip: [Tabulate>=0.9, pyfiglet]}]", None)
    assert spec.requirements == ["pyfiglet", "tabulate>=0.9"] and spec.python == "3.11"


def test_pyproject_and_requirements_normalize_alike(tmp_path: Path) -> None:
    from mlbench.environments.spec import from_pyproject, from_requirements, spec_key

    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\ndependencies = ["tabulate", "PyFiglet>=1"]\n')
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("# pinned\npyfiglet >= 1\ntabulate  # tables\n")
    a, b = from_pyproject(pyproject, None), from_requirements(str(reqs), None)
    assert a.requirements == b.requirements == ["pyfiglet>=1", "tabulate"]
    assert spec_key(a) == spec_key(b)
    with pytest.raises(EnvironmentSpecError, match="not supported"):
        from_requirements(["--index-url https://example.invalid", "x"], None)
    with pytest.raises(EnvironmentSpecError, match="too old"):
        from_requirements(["x"], "3.8")


def test_lock_hash_ignores_order_and_annotations() -> None:
    from mlbench.environments.build import Interpreter, lock_hash, normalize_lock

    py = Interpreter("/usr/bin/python3", "CPython", "3.11.7", "linux-x86_64")
    a = normalize_lock("tabulate==0.9.0\n    # via -r requirements.in\nPyFiglet==1.0.2\n")
    b = normalize_lock("pyfiglet==1.0.2 \\\n    --hash=sha256:abc\ntabulate==0.9.0\n")
    assert a == b == ["pyfiglet==1.0.2", "tabulate==0.9.0"]
    assert lock_hash(a, py) == lock_hash(b, py)
    other = Interpreter("/usr/bin/python3", "CPython", "3.12.1", "linux-x86_64")
    assert lock_hash(a, py) != lock_hash(a, other)


def test_targets_that_cannot_provide_environments_refuse_them(module_ws: Any) -> None:
    from mlbench.environments.hook import EnvironmentBinding
    from mlbench.jobs.lifecycle import Submission
    from mlbench.jobs.spec import JobSpec

    for kind, fix in (("gateway", "kernel on the gateway"),):  # Ray takes the lock along
        backend = type("Backend", (), {"kind": kind})()
        sub = Submission(
            ws=module_ws,
            job_id="x",
            spec=JobSpec(notebook_path="nb.ipynb", environment="tab", compute="remote"),
            backend=backend,  # type: ignore[arg-type]
            parameters={},
        )
        with pytest.raises(InvalidInputError) as err:
            EnvironmentBinding().bind(sub)
        assert "cannot run environment" in err.value.message and fix in (err.value.hint or "")
        assert "environment" not in sub.handled


def test_a_deployment_in_an_environment_without_the_scoring_server_is_refused(
    module_ws: Any, tmp_path: Path
) -> None:
    """Found before anything is stored, not after three failed starts of its processes."""
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression

    env = module_ws.environments.create("figlet", requirements=FIGLET)  # pyfiglet, no mlflow
    folder = tmp_path / "model"
    mlflow.sklearn.save_model(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), str(folder))
    module_ws.models.register("tiny", folder=folder)
    with pytest.raises(InvalidInputError) as err:
        module_ws.endpoints.deploy("ep", "blue", "tiny:1", environment="figlet")
    assert f"environment {env.ref} cannot run the scoring server" in err.value.message
    assert "mlflow" in err.value.message and "uvicorn" in err.value.message
    assert "requirements" in (err.value.hint or "")
    assert module_ws.endpoints.list() == []


# -- REST ----------------------------------------------------------------------------------------
# the server fixtures of tests/test_server.py (a module-scoped workspace and server config)
mlbench_home = test_server.mlbench_home
jp_server_config = test_server.jp_server_config
api = test_server.api
root = test_server.root


async def test_environments_over_rest(api: Api, root: Path) -> None:
    created = await api.post("/environments", body={"name": "rest", "requirements": TABULATE})
    assert api.last_code == 201 and created["ref"] == "rest:1" and created["status"] == "ready"
    listed = await api.get("/environments", expect=200)
    assert [e["ref"] for e in listed["items"]] == ["rest:1"]
    one = await api.get("/environments/{name}/versions/{version}", name="rest", version="1")
    assert one["kernel_name"] == created["kernel_name"] and one["packages"]
    log = await api.get(
        "/environments/{name}/versions/{version}/log", name="rest", version="1", expect=200
    )
    assert "ready: kernel" in log["text"] and log["offset"] == len(log["text"].encode())

    conda = "dependencies: [python=3.11, numpy, pip, {pip: [tabulate]}]"
    bad = await api.post("/environments", body={"name": "c", "conda_yaml": conda}, expect=400)
    assert error_code(bad) == "invalid_environment_spec" and "numpy" in bad["error"]["message"]
    unknown = await api.post(
        "/environments", body={"name": "u", "requirements": ["mlbench-no-such-pkg-zzz"]}
    )
    assert api.last_code == 400 and error_code(unknown) == "environment_build_failed"

    make_notebook(root / "tab.ipynb", "import tabulate\nprint(tabulate.__version__)")
    job = await api.post(
        "/jobs", body={"notebook_path": "tab.ipynb", "environment": "rest"}, expect=201
    )
    assert job["kernel_name"] == created["kernel_name"]
    final = await test_server.wait_final(api, job["id"])
    assert final["status"] == "completed", final

    await api("DELETE", "/environments/{name}/versions/{version}", name="rest", version="1")
    assert api.last_code == 204
    await api.get("/environments/{name}", name="rest", expect=404)
    assert not Path(created["venv"]).exists()  # no version refers to it: removed with it
    gc = await api.post("/environments/_gc", expect=200)
    assert gc["removed"] == []


# -- warming uv's cache for offline runs -------------------------------------------------------
def prefetch() -> None:
    """Build the test environments once (with network access): uv's cache then holds every
    package the tests need, and they build offline."""
    import tempfile

    from mlbench.workspace import Workspace

    # the venvs are byte-compiled in the background: the folder may still be written at the end
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        ws = Workspace(tmp)
        for name, reqs in (("figlet", FIGLET), ("tab", TABULATE), ("both", FIGLET + TABULATE)):
            info = ws.environments.create(name, requirements=reqs)
            print(json.dumps({"ref": info.ref, "packages": len(info.packages)}))
        ws.close()


if __name__ == "__main__":
    if sys.argv[1:] != ["--prefetch"]:
        sys.exit("usage: python -m tests.test_environments --prefetch")
    prefetch()
