"""Notifications: signed webhooks (retried after a 500), Slack, email over STARTTLS, the log.

Events come from the real feed: jobs canceled through the lifecycle, a schedule's missed ticks.
Time is a ManualClock, so retries and backoff need no sleeping.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import ssl
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mlbench.errors import InvalidInputError
from mlbench.notify.channels import SIGNATURE_HEADER
from mlbench.notify.notifier import Notifier
from mlbench.schedules.clock import ManualClock
from mlbench.store import NotificationDeliveryRow, NotificationRuleRow
from tests.conftest import make_notebook, require_module, run_cli

UTC = timezone.utc
SECRET = "whsec-0123456789abcdef"


class Receiver:
    """A local HTTP server: answers with the queued status codes (then 200), keeps requests."""

    def __init__(self, statuses: list[int] | None = None, echo: str = "") -> None:
        self.statuses = list(statuses or [])
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append((dict(self.headers), body))
                code = receiver.statuses.pop(0) if receiver.statuses else 200
                reply = f"status {code} {echo}".encode()
                self.send_response(code)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([500])
    yield r
    r.close()


@pytest.fixture
def core_ws(tmp_path: Path) -> Iterator[Any]:
    from mlbench.workspace import Workspace

    ws = Workspace(tmp_path / "ws")
    yield ws
    ws.close()


def canceled_job(ws: Any, tmp_path: Path, experiment: str = "exp") -> str:
    """A job that ends (canceled while queued): a final status event on the feed."""
    nb = make_notebook(tmp_path / "nb.ipynb", "print(1)")
    job = ws.jobs.submit(nb, experiment=experiment, start_agent=False)
    ws.jobs.lifecycle.cancel(job.id)
    return job.id


def deliveries(ws: Any) -> list[NotificationDeliveryRow]:
    with ws.db.session() as s:
        return list(s.scalars(select(NotificationDeliveryRow).order_by(NotificationDeliveryRow.id)))


# -- webhooks -------------------------------------------------------------------------------
def test_webhook_signed_and_retried_after_a_500(
    core_ws: Any, tmp_path: Path, receiver: Receiver
) -> None:
    clock = ManualClock(datetime(2027, 1, 1, tzinfo=UTC))
    rule = core_ws.notifications.add(
        name="hook", events=["job.canceled", "job.failed"], channel="webhook",
        url=receiver.url, secret=SECRET, backoff_s=30,
    )  # fmt: skip
    assert rule.secrets == ["secret"] and SECRET not in rule.model_dump_json()
    job_id = canceled_job(core_ws, tmp_path)
    notifier = Notifier(core_ws, clock)
    assert notifier.poll() is True
    (d,) = deliveries(core_ws)
    assert (d.status, d.attempts) == ("pending", 1)
    assert d.attempt_log[0]["status_code"] == 500 and "HTTP 500" in d.last_error
    assert d.next_attempt_at == clock.now() + timedelta(seconds=30)
    notifier.poll()  # not due yet: nothing sent
    assert len(receiver.requests) == 1
    clock.advance(31)
    notifier.poll()
    (d,) = deliveries(core_ws)
    assert (d.status, d.attempts) == ("delivered", 2)
    assert [a["ok"] for a in d.attempt_log] == [False, True]
    assert len(receiver.requests) == 2
    headers, body = receiver.requests[-1]
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers[SIGNATURE_HEADER], expected)
    payload = json.loads(body)
    assert payload["event"] == "job.canceled" and payload["job"]["id"] == job_id
    assert payload["rule"] == "hook" and headers["X-Mlbench-Event"] == "job.canceled"
    assert json.loads(receiver.requests[0][1])["event_id"] == payload["event_id"]  # a retry
    # the same event is never queued twice, by this notifier or another one
    Notifier(core_ws, clock).poll()
    notifier.poll()
    assert len(deliveries(core_ws)) == 1 and len(receiver.requests) == 2
    log = core_ws.notifications.deliveries("hook")
    assert log[0].status == "delivered" and len(log[0].attempt_log) == 2


def test_delivery_gives_up_after_max_attempts_and_masks_secrets(
    core_ws: Any, tmp_path: Path
) -> None:
    bad = Receiver([500, 502, 503], echo=f"you sent {SECRET}")
    try:
        clock = ManualClock(datetime(2027, 1, 1, tzinfo=UTC))
        core_ws.notifications.add(
            name="hook", events=["job.*"], channel="webhook", url=bad.url, secret=SECRET,
            max_attempts=3, backoff_s=10,
        )  # fmt: skip
        canceled_job(core_ws, tmp_path)
        notifier = Notifier(core_ws, clock)
        waits = []
        for _ in range(5):
            notifier.poll()
            (d,) = deliveries(core_ws)
            if d.next_attempt_at:
                waits.append((d.next_attempt_at - clock.now()).total_seconds())
            clock.advance(3600)
        (d,) = deliveries(core_ws)
        assert (d.status, d.attempts) == ("failed", 3)
        assert waits == [10.0, 20.0]  # backoff doubles
        assert len(bad.requests) == 3
        assert SECRET not in json.dumps(d.attempt_log) and SECRET not in (d.last_error or "")
        assert "***" in d.last_error
    finally:
        bad.close()


def test_filters_and_schedule_missed_events(core_ws: Any, tmp_path: Path) -> None:
    from mlbench.schedules.scheduler import Scheduler

    r = Receiver()
    try:
        t0 = datetime(2027, 5, 3, 8, 0, 30, tzinfo=UTC)
        clock = ManualClock(t0)
        core_ws.notifications.add(
            name="only-b", events=["job.canceled"], channel="webhook", url=r.url,
            filters={"experiment": "b"},
        )  # fmt: skip
        core_ws.notifications.add(
            name="missed", events=["schedule.missed"], channel="slack", url=r.url
        )
        canceled_job(core_ws, tmp_path, experiment="a")
        canceled_job(core_ws, tmp_path, experiment="b")
        nb = make_notebook(tmp_path / "s.ipynb", "print(1)")
        core_ws.schedules.create(
            {"name": "hourly", "trigger": {"cron": "0 * * * *"},
             "job": {"notebook_path": str(nb)}}, now=t0,
        )  # fmt: skip
        clock.set(t0 + timedelta(hours=3))  # down: 09:00, 10:00 missed; 11:00 is in the grace
        Scheduler(core_ws, clock).run_due()
        Notifier(core_ws, clock).poll()
        bodies = [json.loads(b) for _, b in r.requests]
        jobs = [b for b in bodies if "event" in b]
        slack = [b for b in bodies if set(b) == {"text"}]
        assert [b["job"]["experiment"] for b in jobs] == ["b"]
        assert len(slack) == 1 and "schedule hourly missed" in slack[0]["text"]
        assert "2 tick(s) missed" in slack[0]["text"]
        info = core_ws.notifications.info("missed")
        assert info.config["url"] == "https://hooks.slack.com/***" and info.secrets == ["url"]
        with core_ws.db.session() as s:  # the Slack URL (its credential) is not in the database
            rows = s.scalars(select(NotificationRuleRow)).all()
            assert all(r.url not in json.dumps(row.config) for row in rows if row.name == "missed")
    finally:
        r.close()


def test_rules_are_checked(core_ws: Any) -> None:
    with pytest.raises(InvalidInputError, match="unknown event"):
        core_ws.notifications.add(name="x", events=["job.exploded"], channel="webhook",
                                  url="http://127.0.0.1:9/")  # fmt: skip
    with pytest.raises(InvalidInputError, match="needs url"):
        core_ws.notifications.add(name="x", events=["job.failed"], channel="webhook")
    with pytest.raises(InvalidInputError, match="email rule needs"):
        core_ws.notifications.add(name="x", events=["job.failed"], channel="email", to=["a@b"])
    assert core_ws.notifications.list() == []


# -- email ----------------------------------------------------------------------------------
def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_email_over_starttls_with_login(core_ws: Any, tmp_path: Path) -> None:
    controller_mod = require_module("aiosmtpd.controller", "pip install aiosmtpd")
    smtp_mod = require_module("aiosmtpd.smtp", "pip install aiosmtpd")
    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    received: list[Any] = []
    logins: list[tuple[str, str]] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope)
            return "250 OK"

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
        user, password = auth.login.decode(), auth.password.decode()
        logins.append((user, password))
        return smtp_mod.AuthResult(success=(user, password) == ("ml", "smtp-pass-123"))

    with socket.socket() as probe:  # aiosmtpd checks readiness on the port it is given
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = controller_mod.Controller(
        Handler(),
        hostname="127.0.0.1",
        port=port,
        server_hostname="localhost",
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    controller.start()
    try:
        clock = ManualClock(datetime(2027, 1, 1, tzinfo=UTC))
        core_ws.notifications.add(
            name="mail", events=["job.canceled"], channel="email", to=["team@example.org"],
            sender="mlbench@example.org", smtp_host="localhost", smtp_port=port,
            username="ml", password="smtp-pass-123", ca_file=str(cert),
        )  # fmt: skip
        job_id = canceled_job(core_ws, tmp_path)
        Notifier(core_ws, clock).poll()
        (d,) = deliveries(core_ws)
        assert d.status == "delivered", d.attempt_log
        (envelope,) = received
        assert envelope.rcpt_tos == ["team@example.org"]
        text = envelope.content.decode()
        assert "[mlbench] job" in text and job_id in text and "canceled" in text
        assert logins == [("ml", "smtp-pass-123")]
        # the password is in the secret store (0600), nowhere in the database or a response
        with core_ws.db.session() as s:
            row = s.scalar(select(NotificationRuleRow))
            assert "smtp-pass-123" not in json.dumps(row.config)
        files = list((core_ws.home / "secrets" / "notify").glob("*.json"))
        assert len(files) == 1 and (files[0].stat().st_mode & 0o777) == 0o600
        assert "smtp-pass-123" not in core_ws.notifications.info("mail").model_dump_json()
        assert core_ws.redact("login smtp-pass-123 refused") == "login *** refused"
        # `notify test` sends once, now, and records it
        test = core_ws.notifications.test("mail")
        assert test.status == "delivered" and test.event == "test" and len(received) == 2
    finally:
        controller.stop()


# -- the CLI --------------------------------------------------------------------------------
def test_cli_add_list_test_delete(tmp_path: Path, receiver: Receiver) -> None:
    home = tmp_path / "ws"
    env = {"HOOK_SECRET": SECRET}
    os.environ.update(env)
    try:
        out = run_cli(home, "notify", "add", "ops", "--on", "job.failed", "--on",
                      "schedule.missed", "--webhook", receiver.url, "--secret-env",
                      "HOOK_SECRET")  # fmt: skip
        assert out.returncode == 0, out.stderr
        listed = run_cli(home, "notify", "list", "--json")
        assert SECRET not in listed.stdout
        (rule,) = json.loads(listed.stdout)
        assert rule["secrets"] == ["secret"] and rule["config"]["url"] == receiver.url
        failed = run_cli(home, "notify", "test", "ops")  # the receiver answers 500 first
        assert failed.returncode == 1 and "HTTP 500" in failed.stdout
        ok = run_cli(home, "notify", "test", "ops")
        assert ok.returncode == 0 and "delivered" in ok.stdout
        headers, body = receiver.requests[-1]
        assert (
            headers[SIGNATURE_HEADER]
            == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        )
        log = run_cli(home, "notify", "log", "--json")
        assert [d["status"] for d in json.loads(log.stdout)] == ["delivered", "failed"]
        assert run_cli(home, "notify", "delete", "ops").returncode == 0
        assert json.loads(run_cli(home, "notify", "list", "--json").stdout) == []
    finally:
        os.environ.pop("HOOK_SECRET", None)
        run_cli(home, "scheduler", "stop")
