"""Dependency-free SVG line charts for metric histories.

An SVG string is small, renders in an ipywidgets ``HTML``, in JupyterLab without a widget manager,
in nbconvert's HTML and on GitHub, and needs neither matplotlib nor a JavaScript plotting library.
Gaps (``None``, NaN, infinities) break a line instead of being drawn as zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from mlbench.widgets._format import FONT, esc, number

# Readable on light and dark backgrounds (Tableau 10).
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)


@dataclass
class Series:
    """One line: ``values[i]`` at ``steps[i]``; ``None`` for a missing or non-finite value."""

    label: str
    steps: Sequence[int | float]
    values: Sequence[float | None]
    color: str | None = None
    points: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.points = sum(1 for v in self.values if _finite(v))


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    """About ``count`` round tick values covering [low, high]."""
    if high <= low:
        return [low]
    raw = (high - low) / max(1, count)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9 and len(ticks) < 12:
        ticks.append(0.0 if abs(value) < step * 1e-9 else value)
        value += step
    return ticks


def line_chart(
    series: Sequence[Series],
    *,
    width: int = 420,
    height: int = 180,
    title: str = "",
    legend: bool | None = None,
    empty_text: str = "no points yet",
) -> str:
    """An SVG line chart of several series over a shared step axis."""
    legend = len(series) > 1 if legend is None else legend
    legend_rows = math.ceil(len(series) / 2) if legend else 0
    top = 18 if title else 6
    left, right, bottom = 48, 10, 22
    legend_h = legend_rows * 14 + (4 if legend_rows else 0)
    total_h = height + legend_h
    plot_w = max(10, width - left - right)
    plot_h = max(10, height - top - bottom)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{total_h}" '
        f'viewBox="0 0 {width} {total_h}" role="img" aria-label="{esc(title or "chart")}" '
        f'style="font-family:{FONT};font-size:10px;color:var(--jp-ui-font-color1, #333);'
        'overflow:visible">'
    ]
    if title:
        parts.append(
            f'<text x="{left}" y="12" fill="currentColor" font-size="11" font-weight="600">'
            f"{esc(title)}</text>"
        )
    xs = [
        float(s) for ser in series for s, v in zip(ser.steps, ser.values, strict=True) if _finite(v)
    ]
    ys = [float(v) for ser in series for v in ser.values if _finite(v)]  # type: ignore[arg-type]
    frame = (
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="currentColor" stroke-opacity="0.25"/>'
    )
    if not ys:
        parts.append(frame)
        parts.append(
            f'<text x="{left + plot_w / 2:.1f}" y="{top + plot_h / 2:.1f}" fill="currentColor" '
            f'fill-opacity="0.6" text-anchor="middle">{esc(empty_text)}</text></svg>'
        )
        return "".join(parts)
    x_lo, x_hi = min(xs), max(xs)
    y_lo, y_hi = min(ys), max(ys)
    if x_hi == x_lo:
        x_lo, x_hi = x_lo - 1, x_hi + 1
    if y_hi == y_lo:
        pad = abs(y_lo) * 0.1 or 1.0
        y_lo, y_hi = y_lo - pad, y_hi + pad
    else:
        pad = (y_hi - y_lo) * 0.05
        y_lo, y_hi = y_lo - pad, y_hi + pad

    def px(x: float) -> float:
        return left + (x - x_lo) / (x_hi - x_lo) * plot_w

    def py(y: float) -> float:
        return top + plot_h - (y - y_lo) / (y_hi - y_lo) * plot_h

    for tick in _ticks(y_lo, y_hi):
        y = py(tick)
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="currentColor" stroke-opacity="0.1"/>'
            f'<text x="{left - 4}" y="{y + 3:.1f}" fill="currentColor" fill-opacity="0.7" '
            f'text-anchor="end">{esc(number(tick))}</text>'
        )
    for tick in _ticks(x_lo, x_hi):
        if float(tick).is_integer() or x_hi - x_lo < 10:
            x = px(tick)
            parts.append(
                f'<text x="{x:.1f}" y="{top + plot_h + 13}" fill="currentColor" '
                f'fill-opacity="0.7" text-anchor="middle">{esc(number(tick))}</text>'
            )
    parts.append(frame)
    for i, ser in enumerate(series):
        color = ser.color or PALETTE[i % len(PALETTE)]
        segment: list[str] = []
        segments: list[list[str]] = []
        for step, value in zip(ser.steps, ser.values, strict=True):
            if _finite(value):
                segment.append(f"{px(float(step)):.1f},{py(float(value)):.1f}")  # type: ignore[arg-type]
            elif segment:
                segments.append(segment)
                segment = []
        if segment:
            segments.append(segment)
        for seg in segments:
            if len(seg) == 1:
                cx, cy = seg[0].split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{color}"/>')
            else:
                parts.append(
                    f'<polyline fill="none" stroke="{color}" stroke-width="1.6" '
                    f'stroke-linejoin="round" points="{" ".join(seg)}"/>'
                )
    if legend:
        col_w = width / 2
        for i, ser in enumerate(series):
            color = ser.color or PALETTE[i % len(PALETTE)]
            x = (i % 2) * col_w + 8
            y = height + 4 + (i // 2) * 14
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="10" height="3" fill="{color}"/>'
                f'<text x="{x + 14:.1f}" y="{y + 4:.1f}" fill="currentColor">'
                f"{esc(ser.label[:48])}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def last_value(series: Series) -> tuple[float | int | None, float | None]:
    """The step and value of the last finite point."""
    for step, value in zip(
        reversed(list(series.steps)), reversed(list(series.values)), strict=True
    ):
        if _finite(value):
            return step, value
    return None, None
