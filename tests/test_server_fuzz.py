"""Schemathesis against a live ``jupyter server`` with mlbench: no 5xx, responses as documented.

A real server process on 127.0.0.1 (loopback only), a tmp root and workspace; schemathesis
reads the served OpenAPI document and sends generated (valid and invalid) requests, bounded in
examples per operation and in time; the data routes too (local datastores stay inside the
server root, which is a tmp folder here). Needs schemathesis (a test dependency); skipped
without it (failed in CI).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import _stop_agents, make_notebook, require_module
from tests.storage_servers import free_port


@pytest.fixture(autouse=True, scope="module")
def _needs_schemathesis() -> None:
    require_module("schemathesis", "`make setup` (schemathesis is in the test extra)")


TOKEN = "fuzz-token"
MAX_EXAMPLES = int(os.environ.get("MLBENCH_FUZZ_EXAMPLES", "5"))
MAX_TIME_S = int(os.environ.get("MLBENCH_FUZZ_SECONDS", "90"))
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance"
)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("fuzz")
    root, home, jupyter = base / "root", base / "ws", base / "jupyter"
    for folder in (root, home, jupyter):
        folder.mkdir()
    (home / "mlbench.yaml").write_text("agent_idle_timeout_s: 20\ncancel_grace_s: 1\n")
    make_notebook(root / "nb.ipynb", "print(x)", parameters="x = 1")
    port = free_port()
    config = {
        "ServerApp": {
            "jpserver_extensions": {"mlbench": True},
            "allow_unauthenticated_access": False,
            "ip": "127.0.0.1",
            "port": port,
            "port_retries": 0,
            "open_browser": False,
            "root_dir": str(root),
            "allow_root": True,
        },
        "IdentityProvider": {"token": TOKEN},
        "MlbenchApp": {"workspace": str(home), "warm_tracking": True},
    }
    (base / "config.json").write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLBENCH_")}
    env.update(
        HOME=str(base),
        JUPYTER_CONFIG_DIR=str(jupyter),
        JUPYTER_DATA_DIR=str(jupyter / "data"),
        JUPYTER_RUNTIME_DIR=str(jupyter / "runtime"),
        # fuzzed POST /environments must never download and build arbitrary PyPI packages
        UV_OFFLINE="1",
    )
    log = open(base / "server.log", "wb")  # noqa: SIM115 - closed at teardown
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", f"--config={base / 'config.json'}"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=base,
    )
    url = f"http://127.0.0.1:{port}/mlbench/api/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                req = urllib.request.Request(
                    f"{url}/health", headers={"Authorization": f"token {TOKEN}"}
                )
                with urllib.request.urlopen(req, timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise AssertionError((base / "server.log").read_text()[-3000:]) from None
                time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        server.wait(30)
        log.close()
        from mlbench import Workspace

        ws = Workspace(home)
        _stop_agents(ws)
        ws.close()


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_undocumented_response(
    live_server: str, tmp_path: Path
) -> None:
    cmd = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{live_server}/openapi.json",
        "--header",
        f"Authorization: token {TOKEN}",
        "--checks",
        CHECKS,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--max-time",
        str(MAX_TIME_S),
        "--workers",
        "1",
        "--seed",
        "20261128",
        "--request-timeout",
        "30",
        "--no-shrink",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    result = subprocess.run(
        cmd, capture_output=True, text=True, timeout=MAX_TIME_S + 180, cwd=tmp_path, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "passed" in output
