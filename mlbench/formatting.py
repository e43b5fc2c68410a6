"""Plain-text formatting shared by every face (CLI, widgets, agent log): one style everywhere."""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def duration(seconds: float | None) -> str:
    """``4.2s``, ``3m07s``, ``2h05m``; ``-`` when unknown."""
    if seconds is None or seconds < 0 or not math.isfinite(seconds):
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def when(value: datetime | None) -> str:
    """A time in the local zone, to the second; ``-`` for none."""
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def seconds_since(value: datetime | None, until: datetime | None = None) -> float | None:
    if value is None:
        return None
    end = until or datetime.now(timezone.utc)
    return max(0.0, (end - value).total_seconds())


def number(value: float | None) -> str:
    """A metric value in at most 4 significant digits; ``-`` for none, ``nan`` for NaN."""
    if value is None:
        return "-"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.4g}"


def shorten(text: str, width: int) -> str:
    """One line of at most ``width`` characters (whitespace collapsed, an ellipsis if cut)."""
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"


def strip_ansi(text: str) -> str:
    """Text without terminal color codes (tracebacks from kernels carry them)."""
    return _ANSI.sub("", text)
