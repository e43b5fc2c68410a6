"""Issue 12 item 6: a secret mlbench holds never reaches a text it stores or prints, whatever
produced the text — here a hostile gateway that echoes its request's Authorization header."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mlbench.store.secrets import Redactor
from tests.test_jobs import WAIT

TOKEN = "s3cr3t-gateway-token-5f1c9a"


class _EchoingGateway(BaseHTTPRequestHandler):
    """Answers like a Jupyter gateway, except that starting a kernel fails with a 500 whose
    message repeats the request's headers (as some proxies and debug builds do)."""

    def log_message(self, *args: Any) -> None:
        pass

    def _json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.startswith("/api/kernelspecs"):
            spec = {"name": "python3", "spec": {"display_name": "Python 3", "language": "python"}}
            self._json(200, {"default": "python3", "kernelspecs": {"python3": spec}})
        else:
            self._json(200, {"version": "double"})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        echoed = "; ".join(f"{k}: {v}" for k, v in self.headers.items())
        self._json(500, {"message": f"kernel start failed for request with {echoed}"})


@pytest.fixture
def hostile_gateway() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoingGateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_gateway_echoing_its_token_leaves_no_trace(
    ws: Any, notebook: Any, hostile_gateway: str, tmp_path: Path
) -> None:
    ws.compute.create("gw", "gateway", url=hostile_gateway, token=TOKEN)
    job = ws.jobs.submit(notebook("print(1)"), compute="gw")
    info = job.wait(WAIT).info
    assert info.status.value == "failed" and info.error is not None
    # the gateway's words are kept (they say what went wrong), its copy of the token is not
    assert "kernel start failed" in info.status_reason and "***" in info.status_reason
    texts = {
        "status_reason": info.status_reason,
        "error": info.error.model_dump_json(),
        "events": json.dumps(ws.jobs.events(job_id=info.id)),
        "job.log": ws.paths.log(info.id).read_text(),
        "agent log": ws.paths.agents_dir.joinpath("gw.log").read_text(),
    }
    cli = subprocess.run(
        [sys.executable, "-m", "mlbench", "-w", str(ws.home), "job", "list", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    texts["cli"] = cli.stdout + cli.stderr
    assert info.id in cli.stdout
    for name, text in texts.items():
        assert TOKEN not in text, f"the token is in the {name}"
    # nowhere in the workspace's files but the secret store: database, MLflow store, artifacts
    for path in ws.home.rglob("*"):
        if path.is_file() and "secrets" not in path.parts:
            assert TOKEN.encode() not in path.read_bytes(), f"the token is in {path}"


def test_the_redactor_follows_secrets_added_elsewhere(ws: Any) -> None:
    other = type(ws)(ws.home)  # another process's view of the same workspace
    assert ws.redact(f"x {TOKEN} y") == f"x {TOKEN} y"
    other.datastores.create(
        "s3data",
        "s3",
        bucket="bucket-b",
        endpoint_url="http://127.0.0.1:9",
        credentials={"access_key_id": "AKIAEXAMPLEKEY", "secret_access_key": TOKEN},
        verify=False,
    )
    time.sleep(1.1)  # the redactor looks for new secrets at most once a second
    masked = ws.redact(f"x {TOKEN} and AKIAEXAMPLEKEY y")
    assert TOKEN not in masked and "AKIAEXAMPLEKEY" not in masked
    assert ws.redact.json({"a": [TOKEN]}) == {"a": ["***"]}


def test_a_redactor_that_logs_while_loading_does_not_deadlock() -> None:
    import logging

    from mlbench.store.secrets import RedactingFilter

    record: list[str] = []

    def load() -> list[str]:
        logging.getLogger("mlbench.test").warning("loading %s", TOKEN)  # passes the filter
        return [TOKEN]

    redactor = Redactor(load)
    handler = logging.Handler()
    handler.emit = lambda r: record.append(r.getMessage())  # type: ignore[method-assign]
    handler.addFilter(RedactingFilter(redactor))
    logger = logging.getLogger("mlbench.test")
    logger.addHandler(handler)
    try:
        logger.warning("token %s", TOKEN)
    finally:
        logger.removeHandler(handler)
    assert record[-1] == "token ***"


def test_masking_logs_lasts_as_long_as_its_workspace_is_used(tmp_path: Path) -> None:
    """A process that opens many workspaces (a notebook or a test session running CLI commands,
    Jupyter servers started and stopped) must not pass each later record through every one of
    them: that slowed a whole test session's logging to a crawl. The CLI masks for one command."""
    import logging

    from click.testing import CliRunner

    from mlbench.cli.main import cli
    from mlbench.store.secrets import mask_logs

    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda r: records.append(r.getMessage())  # type: ignore[method-assign]
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        unmask = mask_logs(Redactor(lambda: [TOKEN]))
        logging.getLogger("mlbench.test").warning("token %s", TOKEN)
        unmask()
        logging.getLogger("mlbench.test").warning("token %s", TOKEN)
        assert records == ["token ***", f"token {TOKEN}"]
        for _ in range(3):
            result = CliRunner().invoke(cli, ["-w", str(tmp_path), "compute", "list"])
            assert result.exit_code == 0, result.output
        assert handler.filters == []
    finally:
        root.removeHandler(handler)
