"""The pipeline widget: a run's DAG as an SVG graph with each step's live status, and its steps.

Like the sweep widget, it reads the workspace (``ws.pipelines``) and never blocks the kernel: a
daemon thread polls while the run is active and stops when it ends (or the widget is closed). The
graph is laid out as the JupyterLab view lays it out: a column per layer (a step one column right
of its furthest upstream step), each column ordered by its neighbours' rows so edges cross little.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ipywidgets as widgets
import traitlets

from mlbench.widgets._format import (
    BORDER,
    FONT,
    MUTED,
    STATUS_COLORS,
    badge,
    card,
    esc,
    html_table,
    shorten,
    text_table,
)
from mlbench.widgets.display import StaticReprMixin

if TYPE_CHECKING:
    from mlbench.pipelines.models import PipelineRunInfo, StepInfo
    from mlbench.workspace import Workspace

log = logging.getLogger(__name__)

NODE_W, NODE_H, LAYER_GAP, ROW_GAP, PAD = 150, 44, 48, 16, 8
ORDER_PASSES = 4
STEP_COLORS = {
    **STATUS_COLORS,
    "pending": "#9e9e9e",
    "reused": "#66bb6a",
    "skipped": "#bdbdbd",
    "excluded": "#bdbdbd",
}


@dataclass
class Box:
    name: str
    layer: int
    row: int
    x: float
    y: float


def layout(steps: Sequence[tuple[str, Sequence[str]]]) -> dict[str, Box]:
    """Boxes for ``(name, upstream names)`` in the pipeline's order; unknown upstream names
    are ignored."""
    known = {name for name, _ in steps}
    ups = {name: [d for d in deps if d in known and d != name] for name, deps in steps}
    layer: dict[str, int] = {}

    def depth(name: str, seen: frozenset[str] = frozenset()) -> int:
        if name not in layer:
            if name in seen:  # a cycle (refused at submission): cut it
                return 0
            layer[name] = max((depth(d, seen | {name}) + 1 for d in ups[name]), default=0)
        return layer[name]

    for name in ups:
        depth(name)
    columns: list[list[str]] = [[] for _ in range(max(layer.values(), default=-1) + 1)]
    for name in ups:
        columns[layer[name]].append(name)
    downs: dict[str, list[str]] = {n: [] for n in ups}
    for name, deps in ups.items():
        for d in deps:
            downs[d].append(name)
    row = {n: i for col in columns for i, n in enumerate(col)}
    for p in range(ORDER_PASSES):
        near = ups if p % 2 == 0 else downs
        for col in columns if p % 2 == 0 else reversed(columns):
            center = {
                n: (sum(row[m] for m in near[n]) / len(near[n]) if near[n] else i)
                for i, n in enumerate(col)
            }
            col.sort(key=lambda n: center[n])
            row.update({n: i for i, n in enumerate(col)})
    tallest = max((len(c) for c in columns), default=0)
    boxes = {}
    for li, col in enumerate(columns):
        offset = (tallest - len(col)) * (NODE_H + ROW_GAP) / 2
        for ri, name in enumerate(col):
            boxes[name] = Box(
                name, li, ri, li * (NODE_W + LAYER_GAP), offset + ri * (NODE_H + ROW_GAP)
            )
    return boxes


def graph_svg(steps: Sequence[StepInfo], now: float | None = None) -> str:
    """The run's DAG: a box per step (its status in colour and words, ``reused`` marked, its
    duration) and an arrow per dependency."""
    if not steps:
        return ""
    boxes = layout([(s.name, s.depends_on) for s in steps])
    width = max(b.x for b in boxes.values()) + NODE_W + 2 * PAD
    height = max(b.y for b in boxes.values()) + NODE_H + 2 * PAD
    parts = [
        f'<svg class="mlbench-pipeline-graph" xmlns="http://www.w3.org/2000/svg" '
        f'width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="{-PAD} {-PAD} {width:.0f} {height:.0f}" '
        f'style="font-family:{FONT};font-size:12px">',
        '<defs><marker id="mlbench-arrow" viewBox="0 0 8 8" refX="8" refY="4" '
        'markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L8,4 L0,8 z" '
        'fill="#9e9e9e"/></marker></defs>',
    ]
    for s in steps:
        to = boxes[s.name]
        for d in s.depends_on:
            if d not in boxes:
                continue
            fr = boxes[d]
            x1, y1 = fr.x + NODE_W, fr.y + NODE_H / 2
            x2, y2 = to.x, to.y + NODE_H / 2
            bend = (x2 - x1) / 2
            parts.append(
                f'<path class="mlbench-pipeline-edge" data-from="{esc(d)}" '
                f'data-to="{esc(s.name)}" d="M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1:.1f} '
                f'{x2 - bend:.1f},{y2:.1f} {x2:.1f},{y2:.1f}" fill="none" stroke="#9e9e9e" '
                'stroke-width="1.5" marker-end="url(#mlbench-arrow)"/>'
            )
    for s in steps:
        b = boxes[s.name]
        status = s.status.value
        color = STEP_COLORS.get(status, "#757575")
        took = _seconds(s, now)
        detail = status if took is None or status == "reused" else f"{status} · {_dur(took)}"
        dash = ' stroke-dasharray="4 3"' if status == "reused" else ""
        title = f"{s.name}: {status}" + (f" - {s.status_reason}" if s.status_reason else "")
        parts.append(
            f'<g class="mlbench-pipeline-step" data-step="{esc(s.name)}" '
            f'data-status="{esc(status)}" transform="translate({b.x:.1f},{b.y:.1f})">'
            f"<title>{esc(title)}</title>"
            f'<rect width="{NODE_W}" height="{NODE_H}" rx="5" fill="none" '
            f'stroke="{color}" stroke-width="1.5"{dash}/>'
            f'<rect width="5" height="{NODE_H}" rx="2" fill="{color}"/>'
            f'<text x="12" y="18" font-weight="600" fill="currentColor">'
            f"{esc(shorten(s.name, 20))}</text>"
            f'<text x="12" y="35" fill="{color}">{esc(detail)}</text>'
            + (
                f'<text x="{NODE_W - 6}" y="35" text-anchor="end" fill="{color}" '
                'font-weight="600">↺ reused</text>'
                if status == "reused"
                else ""
            )
            + "</g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _seconds(step: StepInfo, now: float | None) -> float | None:
    if step.duration_s is not None:
        return step.duration_s
    if step.started_at is None or step.status.is_final:
        return None
    return max(0.0, (now if now is not None else time.time()) - step.started_at.timestamp())


def _dur(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 60}m {s % 60:02d}s" if s >= 60 else f"{seconds:.0f}s"


def step_rows(steps: Sequence[StepInfo]) -> tuple[list[str], list[list[str]]]:
    rows = []
    for s in steps:
        took = _seconds(s, None)
        note = f"from run {s.reused_from_run}" if s.status.value == "reused" else s.status_reason
        rows.append(
            [
                s.name,
                s.status.value,
                "" if took is None else _dur(took),
                s.job_id or s.reused_from_job or "",
                note,
            ]
        )
    return ["step", "status", "time", "job", "note"], rows


class PipelineWidget(StaticReprMixin, widgets.VBox):
    """A live view of one pipeline run: ``PipelineWidget(run_id, ws)``.

    While the run is queued or running, a background thread refreshes it every
    ``poll_interval`` seconds; it stops when the run ends or the widget is closed. The traits
    ``status``, ``done`` (steps finished), ``reused`` and ``finished`` follow the run;
    ``step_status`` maps each step to its state.
    """

    status = traitlets.Unicode("")
    done = traitlets.Int(0)
    reused = traitlets.Int(0)
    finished = traitlets.Bool(False)
    step_status = traitlets.Dict()

    def __init__(
        self, run_id: str, ws: Workspace, *, poll_interval: float = 0.5, live: bool = True
    ) -> None:
        self._ws = ws
        self.run_id = run_id
        self.poll_interval = poll_interval
        self.info: PipelineRunInfo | None = None
        self.steps: list[StepInfo] = []
        self._header = widgets.HTML()
        self._graph = widgets.HTML()
        self._table = widgets.HTML()
        self._cancel = widgets.Button(description="Cancel run", button_style="warning")
        self._cancel.on_click(lambda _: self.cancel())
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        super().__init__(children=[self._header, self._graph, self._table, self._cancel])
        self.refresh()
        if live and not self.finished:
            self._thread = threading.Thread(target=self._watch, daemon=True)
            self._thread.start()

    # -- state -----------------------------------------------------------------------------------
    def refresh(self) -> bool:
        """Read the run and its steps again; True while it is still active."""
        with self._lock:
            info = self._ws.pipelines.info(self.run_id)
            steps = self._ws.pipelines.steps(info.id)
            self.info, self.steps = info, steps
            c = info.counts
            self.status = str(info.status)
            self.done = c.completed + c.reused + c.failed + c.canceled + c.skipped
            self.reused = c.reused
            self.step_status = {s.name: s.status.value for s in steps}
            self.finished = info.status.is_final
            self._header.value = self._header_html()
            self._graph.value = graph_svg(steps)
            self._table.value = self._table_html()
            self._cancel.layout.display = "none" if self.finished else None
        self._republish()
        return not self.finished

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_interval):
            try:
                if not self.refresh():
                    return
            except Exception:  # a busy database: try again next time
                log.debug("pipeline widget refresh failed", exc_info=True)

    def wait(self, timeout: float | None = None) -> PipelineWidget:
        """Block until the run ends (refreshing the widget)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.refresh():
            if deadline is not None and time.monotonic() > deadline:
                break
            time.sleep(self.poll_interval)
        return self

    def cancel(self) -> None:
        self._ws.pipelines.cancel(self.run_id)
        self.refresh()

    def close(self) -> None:
        self._stop.set()
        super().close()

    # -- rendering -------------------------------------------------------------------------------
    def _summary(self) -> str:
        info = self.info
        assert info is not None
        c = info.counts
        total = self.done + c.pending + c.running
        parts = [f"{self.done}/{total} steps done"]
        for n, label in (
            (c.reused, "reused"),
            (c.running, "running"),
            (c.failed, "failed"),
            (c.canceled, "canceled"),
            (c.skipped, "skipped"),
        ):
            if n:
                parts.append(f"{n} {label}")
        return " · ".join(parts)

    def _header_html(self) -> str:
        info = self.info
        assert info is not None
        reason = f" {esc(info.status_reason)}" if info.status_reason else ""
        return (
            f'<div style="font-family:{FONT};display:flex;gap:8px;align-items:center">'
            f"<b>{esc(info.display_name)}</b> {badge(str(info.status))}"
            f'<span style="color:{MUTED}">{esc(info.id)}{reason}</span></div>'
            f'<div style="font-family:{FONT};color:{MUTED};font-size:12px">'
            f"{esc(self._summary())}</div>"
        )

    def _table_html(self) -> str:
        columns, rows = step_rows(self.steps)
        return (
            f'<div style="max-height:320px;overflow:auto;border:1px solid {BORDER}">'
            f"{html_table(columns, rows)}</div>"
        )

    def _static_html(self) -> str:
        if self.info is None:
            return ""
        return card(self._header_html() + graph_svg(self.steps) + self._table_html())

    def _static_text(self) -> str:
        info = self.info
        if info is None:
            return f"pipeline run {self.run_id}"
        head = f"pipeline {info.display_name} ({info.id}): {info.status}"
        if info.status_reason:
            head += f" - {info.status_reason}"
        columns, rows = step_rows(self.steps)
        return "\n".join([head, self._summary(), text_table(columns, rows, max_width=60)])
