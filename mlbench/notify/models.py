"""Pydantic shapes of notification rules and their deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# The events a rule can name; "job.*" style wildcards are accepted too.
EVENTS = (
    "job.completed",
    "job.failed",
    "job.timed_out",
    "job.canceled",
    "sweep.completed",
    "sweep.failed",
    "sweep.canceled",
    "pipeline.completed",
    "pipeline.failed",
    "pipeline.canceled",
    "schedule.missed",
    "schedule.failed",
    "monitor.breached",
)
Channel = Literal["jupyterlab", "webhook", "slack", "email"]


def expand_events(names: list[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        key = name.strip().lower()
        if key.endswith(".*") or key == "*":
            prefix = key[:-1]
            found = [e for e in EVENTS if e.startswith(prefix)]
        else:
            found = [key] if key in EVENTS else []
        if not found:
            raise ValueError(f"unknown event {name!r}; events: {', '.join(EVENTS)} (or job.*)")
        out.extend(e for e in found if e not in out)
    return out


class NotificationFilters(BaseModel):
    """Narrow a rule to some events' sources (all given must match)."""

    model_config = ConfigDict(extra="forbid")

    experiment: str | None = Field(None, max_length=256)
    compute: str | None = Field(None, max_length=64)
    schedule: str | None = Field(None, max_length=128, description="Schedule name or id.")
    include_trials: bool = Field(False, description="Also a sweep's trials' job events.")


class NotificationSpec(BaseModel):
    """A rule: which events, sent where. ``secret`` and ``password`` are write-only.

    ``jupyterlab`` shows each event as a toast in every open JupyterLab (through the server's
    event stream); it needs no other field."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    events: list[str] = Field(
        min_length=1, description="e.g. job.failed, job.timed_out, sweep.*, schedule.missed."
    )
    channel: Channel
    url: str | None = Field(
        None, max_length=2000, description="webhook and slack: where to POST (https://...)."
    )
    secret: str | None = Field(
        None,
        min_length=8,
        max_length=500,
        description="webhook: the HMAC-SHA256 key the X-Mlbench-Signature-256 header is made "
        "with (write-only).",
    )
    to: list[str] = Field(default_factory=list, description="email: recipients.")
    sender: str | None = Field(None, max_length=256, description="email: the From address.")
    smtp_host: str | None = Field(None, max_length=256)
    smtp_port: int = Field(587, ge=1, le=65535)
    starttls: bool = Field(True, description="email: require STARTTLS before logging in.")
    username: str | None = Field(None, max_length=256, description="email: SMTP login.")
    password: str | None = Field(
        None,
        max_length=1000,
        description="email: SMTP password (write-only, kept in the secret store).",
    )
    ca_file: str | None = Field(
        None, max_length=4096, description="email: CA bundle to verify the SMTP server with."
    )
    filters: NotificationFilters = Field(default_factory=NotificationFilters)
    enabled: bool = True
    max_attempts: int = Field(5, ge=1, le=50)
    backoff_s: float = Field(
        30.0, gt=0, le=86400, description="Wait before the 2nd attempt; doubled each time."
    )

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str]) -> list[str]:
        return expand_events(value)

    @model_validator(mode="after")
    def _channel(self) -> NotificationSpec:
        if self.channel == "jupyterlab":
            given = [
                k for k in ("url", "secret", "sender", "smtp_host", "password") if getattr(self, k)
            ]
            if given or self.to:
                raise ValueError(
                    f"a jupyterlab rule sends nowhere else: drop {', '.join(given or ['to'])}"
                )
        elif self.channel in ("webhook", "slack"):
            if not self.url or not self.url.startswith(("http://", "https://")):
                raise ValueError(f"a {self.channel} rule needs url: http(s)://...")
        else:
            if not self.to or not self.smtp_host or not self.sender:
                raise ValueError("an email rule needs to, sender and smtp_host")
            if self.password and not self.username:
                raise ValueError("a password needs a username")
        return self


class NotificationInfo(BaseModel):
    id: str
    name: str
    enabled: bool
    events: list[str]
    channel: Channel
    config: dict[str, Any] = Field(description="Where it sends (secrets never shown).")
    secrets: list[str] = Field(description="Names of the secrets it keeps (never the values).")
    filters: NotificationFilters
    created_at: datetime
    updated_at: datetime


class Attempt(BaseModel):
    n: int
    at: datetime
    ok: bool
    status_code: int | None = None
    error: str | None = None
    duration_ms: float
    detail: str | None = Field(
        None, description="jupyterlab: which server published it, to how many connections."
    )


class DeliveryInfo(BaseModel):
    id: int
    rule_id: str
    event_id: int
    event: str
    status: Literal["pending", "sending", "delivered", "failed"]
    attempts: int
    attempt_log: list[Attempt]
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    created_at: datetime
    finished_at: datetime | None = None
    payload: dict[str, Any]
