"""Keyset paging shared by every list that pages newest first (jobs, sweeps, pipeline runs).

A cursor is the (created_at, id) of the last row of a page, opaque to callers.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_

from mlbench.errors import InvalidInputError


def encode_cursor(created: datetime, row_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([created.isoformat(), row_id]).encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created, row_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(created), str(row_id)
    except Exception:
        raise InvalidInputError(
            "invalid cursor", hint="pass the next_cursor of a previous page unchanged"
        ) from None


def older_than(row: Any, cursor: str) -> Any:
    """The clause keeping the rows after ``cursor`` in newest-first order of ``row``'s table."""
    created, last = decode_cursor(cursor)
    return or_(row.created_at < created, and_(row.created_at == created, row.id < last))


__all__ = ["decode_cursor", "encode_cursor", "older_than"]
