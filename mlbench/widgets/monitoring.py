"""A drift report in a notebook: the static HTML report, isolated in an iframe (its styles do
not leak into JupyterLab's), with a one-line text form for terminals and nbconvert."""

from __future__ import annotations

from html import escape
from typing import Any

from mlbench.monitoring.models import DriftReport
from mlbench.widgets.display import Displayable


class DriftReportView(Displayable):
    """What ``%mlbench drift`` returns; ``.report`` holds the :class:`DriftReport`."""

    def __init__(self, report: DriftReport, title: str = "drift report") -> None:
        self.report = report
        self.title = title

    def text(self) -> str:
        r = self.report
        lines = [f"{self.title}: {r.verdict} ({r.reference} -> {r.target}, {r.target_rows} rows)"]
        for f in r.features:
            worst = [f"{s.signal}={s.value:.3g}" for s in f.signals if s.verdict == "breached"]
            lines.append(f"  {f.name}: {f.verdict}" + (f" ({', '.join(worst)})" if worst else ""))
        return "\n".join(lines)

    def html(self) -> str:
        from mlbench.monitoring.report import render_html

        page = render_html(self.report, title=self.title)
        height = min(160 + 190 * len(self.report.features), 900)
        return (
            f'<iframe class="mlbench-drift-report" srcdoc="{escape(page, quote=True)}" '
            f'style="width:100%;height:{height}px;border:1px solid var(--jp-border-color2,#ccc)" '
            'sandbox=""></iframe>'
        )

    def _display_bundle(self) -> dict[str, Any]:
        return {"text/plain": self.text(), "text/html": self.html()}

    def __repr__(self) -> str:
        return self.text()
