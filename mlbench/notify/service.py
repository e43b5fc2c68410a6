"""``ws.notifications``: rules that send job, sweep and schedule events somewhere.

A rule's secrets (a webhook's HMAC key, a Slack webhook URL, which is itself the credential, an
SMTP password) are kept in the secret store (``<workspace>/secrets/notify/`` or the OS keyring),
never in the database; reads return their names only, and the workspace's redactor masks their
values in every text mlbench stores or prints. Deliveries are made by the scheduler process
(:mod:`mlbench.notify.notifier`), which tails the ``job_events`` feed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy import delete, func, select

from mlbench._ids import new_id, utcnow
from mlbench.errors import ConflictError, InvalidInputError, NotFoundError
from mlbench.notify.models import (
    DeliveryInfo,
    NotificationFilters,
    NotificationInfo,
    NotificationSpec,
)
from mlbench.store import JobEventRow, NotificationDeliveryRow, NotificationRuleRow
from mlbench.store.secrets import FileSecretStore, KeyringSecretStore, SecretStore, redact

if TYPE_CHECKING:
    from mlbench.workspace import Workspace

CONFIG_KEYS = ("url", "to", "sender", "smtp_host", "smtp_port", "starttls", "username", "ca_file")
SECRET_KEYS = ("secret", "password")


class NotificationNotFoundError(NotFoundError):
    code = "notification_not_found"


class Notifications:
    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    @property
    def secrets(self) -> SecretStore:
        if self._ws.settings.secrets_backend == "keyring":
            return KeyringSecretStore(f"mlbench-notify:{self._ws.home}")
        return FileSecretStore(self._ws.home / "secrets" / "notify")

    def secret_values(self) -> list[str]:
        """Every secret value of every rule (for masking; never shown)."""
        with self._ws.db.session() as s:
            ids = [
                i
                for i, names in s.execute(
                    select(NotificationRuleRow.id, NotificationRuleRow.secret_names)
                )
                if names
            ]
        return [v for i in ids for v in self.secrets.get(i).values()]

    # -- rules ---------------------------------------------------------------------------------
    def add(
        self, spec: NotificationSpec | Mapping[str, Any] | None = None, **fields: Any
    ) -> NotificationInfo:
        """Add a rule (see :class:`NotificationSpec`); it sees events from now on."""
        if isinstance(spec, NotificationSpec):
            spec = spec.model_dump(exclude_unset=True)
        try:
            spec = NotificationSpec.model_validate({**dict(spec or {}), **fields})
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'rule'}: {e['msg']}" for e in exc.errors()
            )
            raise InvalidInputError(f"invalid notification rule: {problems}") from None
        config = {k: getattr(spec, k) for k in CONFIG_KEYS if getattr(spec, k) is not None}
        config.update(max_attempts=spec.max_attempts, backoff_s=spec.backoff_s)
        secrets = {k: getattr(spec, k) for k in SECRET_KEYS if getattr(spec, k)}
        if spec.channel == "slack":  # a Slack webhook URL is the credential itself
            secrets["url"] = config.pop("url")
        if spec.channel != "email":
            for key in ("to", "sender", "smtp_host", "smtp_port", "starttls", "username"):
                config.pop(key, None)
        else:
            config.pop("url", None)
        rule_id = new_id()
        now = utcnow()
        with self._ws.db.write() as s:
            if s.scalar(
                select(NotificationRuleRow.id).where(NotificationRuleRow.name == spec.name)
            ):
                raise ConflictError(f"a notification rule named {spec.name!r} exists")
            cursor = s.scalar(select(func.max(JobEventRow.id))) or 0
            if secrets:
                self.secrets.set(rule_id, secrets)
            s.add(
                NotificationRuleRow(
                    id=rule_id,
                    name=spec.name,
                    enabled=spec.enabled,
                    events=spec.events,
                    filters=spec.filters.model_dump(exclude_defaults=True),
                    channel=spec.channel,
                    config=config,
                    secret_names=sorted(secrets),
                    cursor=cursor,
                    created_at=now,
                    updated_at=now,
                )
            )
        self._ws.redact.refresh()
        if spec.enabled and self._ws.starts_agents:
            self._ws.schedules.scheduler().ensure_running()
        return self.info(rule_id)

    def _row(self, s: Any, ref: str) -> NotificationRuleRow:
        row = s.get(NotificationRuleRow, ref) or s.scalar(
            select(NotificationRuleRow).where(NotificationRuleRow.name == ref)
        )
        if row is None:
            raise NotificationNotFoundError(
                f"notification rule {ref!r} does not exist",
                hint="list them with `mlbench notify list`",
            )
        return row

    def info(self, ref: str) -> NotificationInfo:
        with self._ws.db.session() as s:
            return rule_info(self._row(s, ref))

    def list(self) -> list[NotificationInfo]:
        with self._ws.db.session() as s:
            rows = s.scalars(select(NotificationRuleRow).order_by(NotificationRuleRow.name))
            return [rule_info(r) for r in rows]

    def any_enabled(self) -> bool:
        with self._ws.db.session() as s:
            return (
                s.scalar(
                    select(NotificationRuleRow.id)
                    .where(NotificationRuleRow.enabled.is_(True))
                    .limit(1)
                )
                is not None
            )

    def delete(self, ref: str) -> None:
        """Delete the rule, its secrets and its delivery log."""
        with self._ws.db.write() as s:
            row = self._row(s, ref)
            s.execute(
                delete(NotificationDeliveryRow).where(NotificationDeliveryRow.rule_id == row.id)
            )
            s.execute(delete(NotificationRuleRow).where(NotificationRuleRow.id == row.id))
        self.secrets.delete(row.id)

    def deliveries(self, ref: str | None = None, *, limit: int = 50) -> list[DeliveryInfo]:
        """Newest deliveries (of one rule, or all), each with every attempt."""
        query = select(NotificationDeliveryRow).order_by(NotificationDeliveryRow.id.desc())
        with self._ws.db.session() as s:
            if ref is not None:
                query = query.where(NotificationDeliveryRow.rule_id == self._row(s, ref).id)
            return [delivery_info(r) for r in s.scalars(query.limit(limit))]

    def published(self, events: list[dict[str, Any]], connections: int, publisher: str) -> int:
        """Record that a Jupyter server's event stream offered these ``notification`` feed events
        to ``connections`` open JupyterLabs: each one's delivery, if still ``sending``, gets its
        one attempt (ok, ``publisher`` and the count in ``detail``) and is ``delivered``. The
        first server to publish it records it; the number recorded."""
        ids = [int(e["data"]["delivery"]) for e in events if e.get("kind") == "notification"]
        if not ids or connections < 1:
            return 0
        now = utcnow()
        recorded = 0
        with self._ws.db.write() as s:
            rows = s.scalars(
                select(NotificationDeliveryRow).where(
                    NotificationDeliveryRow.id.in_(ids),
                    NotificationDeliveryRow.status == "sending",
                )
            )
            for row in rows:
                row.attempts += 1
                row.attempt_log = [
                    *(row.attempt_log or []),
                    {
                        "n": row.attempts,
                        "at": now.isoformat(),
                        "ok": True,
                        "duration_ms": round((now - row.created_at).total_seconds() * 1000, 1),
                        "detail": f"published by {publisher} to {connections} JupyterLab "
                        f"connection{'s' if connections != 1 else ''}",
                    },
                ]
                row.status, row.finished_at, row.next_attempt_at = "delivered", now, None
                row.last_error = None
                recorded += 1
        return recorded

    def test(self, ref: str) -> DeliveryInfo:
        """Send a test event through the rule now (one attempt, recorded)."""
        from mlbench.notify.notifier import Notifier

        return Notifier(self._ws).send_test(self.info(ref).id)


def rule_info(row: NotificationRuleRow) -> NotificationInfo:
    config = {k: v for k, v in row.config.items() if k not in ("max_attempts", "backoff_s")}
    if row.channel == "slack":
        config["url"] = "https://hooks.slack.com/***"
    return NotificationInfo(
        id=row.id,
        name=row.name,
        enabled=row.enabled,
        events=row.events,
        channel=row.channel,  # type: ignore[arg-type]
        config={
            **config,
            "max_attempts": row.config.get("max_attempts"),
            "backoff_s": row.config.get("backoff_s"),
        },
        secrets=row.secret_names,
        filters=NotificationFilters.model_validate(row.filters or {}),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def delivery_info(row: NotificationDeliveryRow) -> DeliveryInfo:
    return DeliveryInfo(
        id=row.id,
        rule_id=row.rule_id,
        event_id=row.event_id,
        event=row.event,
        status=row.status,  # type: ignore[arg-type]
        attempts=row.attempts,
        attempt_log=row.attempt_log or [],
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        created_at=row.created_at,
        finished_at=row.finished_at,
        payload=row.payload,
    )


def masked(text: str, secrets: dict[str, str]) -> str:
    return redact(text, secrets) if secrets else text


__all__ = ["NotificationNotFoundError", "Notifications", "datetime"]
