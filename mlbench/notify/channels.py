"""Sending one notification: a signed JSON webhook, a Slack message or an email.

A generic webhook's body is the event as JSON; ``X-Mlbench-Signature-256: sha256=<hex>`` is
HMAC-SHA256 of the exact body bytes with the rule's secret (GitHub's scheme), so a receiver
checks ``hmac.compare_digest(header, "sha256=" + hmac(secret, body).hexdigest())``. The body
carries its time and delivery id, so a receiver can refuse an old or repeated one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

SIGNATURE_HEADER = "X-Mlbench-Signature-256"
TIMEOUT_S = 10.0


@dataclass
class Result:
    ok: bool
    status_code: int | None = None
    error: str | None = None
    duration_ms: float = 0.0


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send(
    channel: str, config: dict[str, Any], secrets: dict[str, str], payload: dict[str, Any]
) -> Result:
    started = time.monotonic()
    try:
        if channel == "webhook":
            result = _webhook(config, secrets, payload)
        elif channel == "slack":
            result = _slack(secrets, payload)
        elif channel == "email":
            result = _email(config, secrets, payload)
        else:
            result = Result(False, error=f"unknown channel {channel!r}")
    except Exception as exc:  # any failure is this attempt's outcome, retried later
        result = Result(False, error=f"{type(exc).__name__}: {exc}")
    result.duration_ms = round((time.monotonic() - started) * 1000, 1)
    return result


def _post(url: str, body: bytes, headers: dict[str, str]) -> Result:
    import requests

    response = requests.post(url, data=body, headers=headers, timeout=TIMEOUT_S)
    ok = 200 <= response.status_code < 300
    error = None if ok else f"HTTP {response.status_code}: {response.text[:200]}"
    return Result(ok, response.status_code, error)


def _webhook(config: dict[str, Any], secrets: dict[str, str], payload: dict[str, Any]) -> Result:
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "mlbench-notify",
        "X-Mlbench-Event": str(payload.get("event", "")),
        "X-Mlbench-Delivery": str(payload.get("delivery", "")),
    }
    if secrets.get("secret"):
        headers[SIGNATURE_HEADER] = sign(secrets["secret"], body)
    return _post(config["url"], body, headers)


def _slack(secrets: dict[str, str], payload: dict[str, Any]) -> Result:
    body = json.dumps({"text": payload.get("text", "")}).encode()
    return _post(secrets["url"], body, {"Content-Type": "application/json"})


def _email(config: dict[str, Any], secrets: dict[str, str], payload: dict[str, Any]) -> Result:
    msg = EmailMessage()
    msg["Subject"] = f"[mlbench] {payload.get('title') or payload.get('event')}"
    msg["From"] = config["sender"]
    msg["To"] = ", ".join(config["to"])
    msg.set_content(
        f"{payload.get('text', '')}\n\n"
        + json.dumps({k: v for k, v in payload.items() if k != "text"}, indent=2, default=str)
    )
    with smtplib.SMTP(config["smtp_host"], int(config["smtp_port"]), timeout=TIMEOUT_S) as smtp:
        smtp.ehlo()
        if config.get("starttls", True):
            context = ssl.create_default_context(cafile=config.get("ca_file") or None)
            smtp.starttls(context=context)
            smtp.ehlo()
        if config.get("username"):
            smtp.login(config["username"], secrets.get("password", ""))
        refused = smtp.send_message(msg)
    if refused:
        return Result(False, error=f"refused recipients: {', '.join(refused)}")
    return Result(True, 250)
