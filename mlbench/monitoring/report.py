"""The static HTML report of a drift comparison: verdicts, values and small histograms.

It holds no raw rows: only statistics and the binned shares (deciles or the most common
categories), so it stays small (about 5 kB per feature) whatever the data's size.
"""

from __future__ import annotations

from html import escape

from mlbench.monitoring.models import DriftReport, FeatureResult

COLORS = {"breached": "#c62828", "warning": "#ef6c00", "ok": "#2e7d32", "skipped": "#757575"}
STYLE = """
body{font:13px system-ui,sans-serif;margin:16px;color:#222;background:#fff}
table{border-collapse:collapse;margin:6px 0 14px}
td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}
.v{font-weight:600}
h2{font-size:15px;margin:18px 0 4px}
@media (prefers-color-scheme:dark){body{background:#111;color:#ddd}td,th{border-color:#444}}
"""


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.4g}"


def _verdict(v: str) -> str:
    return f'<span class="v" style="color:{COLORS.get(v, "#000")}">{escape(v)}</span>'


def _bars(f: FeatureResult) -> str:
    """Reference (grey) and target (blue) shares per bin, as one inline SVG."""
    n = len(f.reference_hist)
    if not n:
        return ""
    width, height = max(10 * n, 120), 60
    top = max([*f.reference_hist, *f.target_hist, 1e-9])
    bar = width / n / 2
    parts = []
    for i, (p, q) in enumerate(zip(f.reference_hist, f.target_hist, strict=True)):
        for j, (share, color) in enumerate(((p, "#9e9e9e"), (q, "#1e88e5"))):
            h = height * share / top
            label = escape(f.labels[i]) if i < len(f.labels) else str(i)
            parts.append(
                f'<rect x="{(2 * i + j) * bar:.1f}" y="{height - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{color}"><title>{label}: {share:.3f}</title></rect>'
            )
    return f'<svg width="{width}" height="{height}" role="img">{"".join(parts)}</svg>'


def render_html(report: DriftReport, title: str = "drift report") -> str:
    rows = []
    for f in report.features:
        for s in f.signals:
            rows.append(
                f"<tr><td>{escape(s.signal)}</td><td>{_fmt(s.value)}</td>"
                f"<td>{_fmt(s.threshold)}</td><td>{_fmt(s.bound)}</td><td>{_fmt(s.error)}</td>"
                f"<td>{_verdict(s.verdict)}</td><td>{escape(s.method)}</td>"
                f"<td>{escape(s.detail)}</td></tr>"
            )
    sections = []
    start = 0
    for f in report.features:
        count = len(f.signals)
        body = "".join(rows[start : start + count])
        start += count
        sections.append(
            f"<h2>{escape(f.name)} <small>({f.kind}, {f.role})</small> {_verdict(f.verdict)}</h2>"
            f"<div>reference {f.reference_count} values, target {f.target_count}</div>"
            f"{_bars(f)}<table><tr><th>signal</th><th>value</th><th>floor</th>"
            f"<th>no-shift bound</th><th>error</th><th>verdict</th><th>method</th>"
            f"<th>detail</th></tr>{body}</table>"
        )
    perf = "".join(
        f"<tr><td>{escape(k)}</td><td>{_fmt(v)}</td></tr>" for k, v in report.performance.items()
    )
    missing = ", ".join(escape(m) for m in report.missing) or "none"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{escape(title)}: {_verdict(report.verdict)}</h1>"
        f"<p>reference {escape(report.reference)} ({report.reference_rows} rows); target "
        f"{escape(report.target)} ({report.target_rows} rows); KS/Wasserstein "
        f"{'exact' if report.exact else 'from binned CDFs'}; features missing in the target: "
        f"{missing}</p>"
        f"<p>breaches: {escape(', '.join(report.breaches)) or 'none'}</p>"
        + (f"<table><tr><th>performance</th><th>value</th></tr>{perf}</table>" if perf else "")
        + "".join(sections)
        + "</body></html>"
    )
