"""Small formatting helpers shared by the widgets' live views and their static reprs.

Colors use JupyterLab's CSS variables with fallbacks, so the HTML reads in light and dark themes
and still renders where no JupyterLab CSS is loaded (nbconvert, GitHub, papermill output).
"""

from __future__ import annotations

import html
from typing import Any

from mlbench.formatting import duration, number, seconds_since, shorten, strip_ansi, when

STATUS_COLORS = {
    "queued": "#757575",
    "starting": "#0097a7",
    "running": "#1976d2",
    "completed": "#2e7d32",
    "failed": "#c62828",
    "canceled": "#ef6c00",
    "timed_out": "#8e24aa",
    "early_terminated": "#a1887f",
}
# ipywidgets' bar_style for each status
BAR_STYLES = {
    "queued": "",
    "starting": "info",
    "running": "info",
    "completed": "success",
    "failed": "danger",
    "canceled": "warning",
    "timed_out": "danger",
    "early_terminated": "warning",
}
FONT = "var(--jp-ui-font-family, -apple-system, BlinkMacSystemFont, 'Segoe UI', sans-serif)"
MONO = "var(--jp-code-font-family, SFMono-Regular, Menlo, Consolas, monospace)"
MUTED = "var(--jp-ui-font-color2, #616161)"
BORDER = "var(--jp-border-color2, #e0e0e0)"


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def badge(status: str) -> str:
    color = STATUS_COLORS.get(status, "#757575")
    return (
        f'<span class="mlbench-badge mlbench-{esc(status)}" style="background:{color};'
        "color:#fff;border-radius:10px;padding:1px 8px;font-size:11px;font-weight:600;"
        f'white-space:nowrap">{esc(status)}</span>'
    )


def text_table(columns: list[str], rows: list[list[str]], *, max_width: int = 40) -> str:
    """Columns aligned with spaces: how tables read in plain-text outputs and logs."""
    cells = [[shorten(c, max_width) for c in row] for row in rows]
    widths = [len(c) for c in columns]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join(lines)


def html_table(columns: list[str], rows: list[list[str]], *, raw: bool = False) -> str:
    """A compact HTML table; cells are escaped unless ``raw`` (already HTML)."""
    head = "".join(
        f'<th style="text-align:left;padding:2px 10px 2px 0;border-bottom:1px solid {BORDER}">'
        f"{esc(c)}</th>"
        for c in columns
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td style="text-align:left;padding:2px 10px 2px 0;vertical-align:top">'
            f"{c if raw else esc(c)}</td>"
            for c in row
        )
        + "</tr>"
        for row in rows
    )
    return (
        f'<table class="mlbench-table" style="border-collapse:collapse;font-family:{FONT};'
        f'font-size:12px"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    )


def card(body: str, *, title: str = "") -> str:
    header = f'<div style="font-weight:600;margin-bottom:4px">{title}</div>' if title else ""
    return (
        f'<div class="mlbench-card" style="font-family:{FONT};font-size:13px;'
        f'border:1px solid {BORDER};border-radius:4px;padding:8px 10px;max-width:960px">'
        f"{header}{body}</div>"
    )


__all__ = [
    "badge",
    "card",
    "duration",
    "esc",
    "html_table",
    "number",
    "seconds_since",
    "shorten",
    "strip_ansi",
    "text_table",
    "when",
]
