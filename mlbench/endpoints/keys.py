"""Endpoint keys: random, stored only as hashes, compared in constant time.

A key is 256 random bits, so a plain SHA-256 of it cannot be reversed by guessing (no
dictionary to try, unlike passwords) and is cheap enough to check on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

KEY_NAMES = ("primary", "secondary")
PREFIX_CHARS = 6


def new_key() -> str:
    return secrets.token_urlsafe(32)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_record(key: str, now: datetime) -> dict[str, Any]:
    """What the database keeps of a key: its hash and the first characters (for display)."""
    return {"hash": key_hash(key), "prefix": key[:PREFIX_CHARS], "created_at": now.isoformat()}


def matches(key: str, hashes: Iterable[str]) -> bool:
    """Whether ``key`` is one of the keys; every hash is compared, each in constant time."""
    given = key_hash(key)
    found = False
    for h in hashes:
        found |= hmac.compare_digest(given, h)
    return found


def bearer(header: str | None) -> str | None:
    """The key in ``Authorization: Bearer KEY``."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None
