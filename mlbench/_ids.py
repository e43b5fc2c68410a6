"""Identifiers and timestamps used across the store."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone


def new_id() -> str:
    """A short random id: 12 hex characters, easy to type and to copy (unique prefixes work)."""
    return secrets.token_hex(6)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
