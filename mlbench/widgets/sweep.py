"""The sweep widget: status, trial table and the objective's best-so-far curve, live.

Like the job widget, it reads the workspace (``ws.sweeps``) and never blocks the kernel: a daemon
thread polls while the sweep is active and stops when it ends (or the widget is closed).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import traitlets

from mlbench.widgets._format import (
    BORDER,
    FONT,
    MUTED,
    badge,
    card,
    esc,
    html_table,
    number,
    text_table,
)
from mlbench.widgets.display import StaticReprMixin
from mlbench.widgets.svg import Series, line_chart

if TYPE_CHECKING:
    from mlbench.sweeps.models import SweepInfo, TrialInfo
    from mlbench.workspace import Workspace

log = logging.getLogger(__name__)

MAX_ROWS = 200
"""Trial rows shown (the best first); every trial stays in ``trials``."""


def best_so_far(trials: list[TrialInfo], goal: str) -> tuple[list[int], list[float]]:
    """The best objective after each trial that reported one, in trial order."""
    steps: list[int] = []
    values: list[float] = []
    best: float | None = None
    for t in sorted(trials, key=lambda t: t.index):
        if t.value is None:
            continue
        if best is None or (t.value > best if goal == "maximize" else t.value < best):
            best = t.value
        steps.append(t.index)
        values.append(best)
    return steps, values


def _goal(info: SweepInfo) -> str:
    return str(getattr(info.spec.objective.goal, "value", info.spec.objective.goal))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return number(value)
    return str(value)


def trial_rows(info: SweepInfo, trials: list[TrialInfo]) -> tuple[list[str], list[list[str]]]:
    """The trial table: #, status, parameters, objective, why a trial stopped; best first."""
    params: list[str] = list(info.spec.search_space)
    goal = _goal(info)
    missing = float("inf")

    def key(t: TrialInfo) -> tuple[float, int]:
        if t.value is None:
            return (missing, t.index)
        return (-t.value if goal == "maximize" else t.value, t.index)

    columns = ["#", "status", *params, info.spec.objective.primary_metric, "stopped by"]
    rows = []
    for t in sorted(trials, key=key)[:MAX_ROWS]:
        status = str(getattr(t.status, "value", t.status))
        mark = "*" if info.best_trial == t.index else ""
        rows.append(
            [
                f"{t.index}{mark}",
                status,
                *[_cell(t.parameters.get(p)) for p in params],
                _cell(t.value),
                t.termination.detail if t.termination else "",
            ]
        )
    return columns, rows


class SweepWidget(StaticReprMixin, widgets.VBox):
    """A live view of one sweep: ``SweepWidget(sweep_id, ws)``.

    While the sweep is queued or running, a background thread refreshes it every
    ``poll_interval`` seconds; it stops when the sweep ends or the widget is closed. The traits
    ``status``, ``done`` (trials finished), ``best_value`` and ``finished`` follow the sweep.
    """

    status = traitlets.Unicode("")
    done = traitlets.Int(0)
    best_value = traitlets.Float(None, allow_none=True)
    finished = traitlets.Bool(False)

    def __init__(
        self, sweep_id: str, ws: Workspace, *, poll_interval: float = 0.5, live: bool = True
    ) -> None:
        self._ws = ws
        self.sweep_id = sweep_id
        self.poll_interval = poll_interval
        self.info: SweepInfo | None = None
        self.trials: list[TrialInfo] = []
        self._header = widgets.HTML()
        self._chart = widgets.HTML()
        self._table = widgets.HTML()
        self._cancel = widgets.Button(description="Cancel sweep", button_style="warning")
        self._cancel.on_click(lambda _: self.cancel())
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        super().__init__(children=[self._header, self._chart, self._table, self._cancel])
        self.refresh()
        if live and not self.finished:
            self._thread = threading.Thread(target=self._watch, daemon=True)
            self._thread.start()

    # -- state -----------------------------------------------------------------------------------
    def refresh(self) -> bool:
        """Read the sweep and its trials again; True while it is still active."""
        with self._lock:
            info = self._ws.sweeps.info(self.sweep_id)
            trials = self._ws.sweeps.trials(self.sweep_id)
            self.info, self.trials = info, trials
            counts = info.counts
            self.status = str(info.status)
            self.done = counts.completed + counts.early_terminated + counts.failed + counts.canceled
            self.best_value = info.best_value
            self.finished = info.status.is_final
            self._header.value = self._header_html()
            self._chart.value = self._chart_svg()
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
                log.debug("sweep widget refresh failed", exc_info=True)

    def wait(self, timeout: float | None = None) -> SweepWidget:
        """Block until the sweep ends (refreshing the widget)."""
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while self.refresh():
            if deadline is not None and time.monotonic() > deadline:
                break
            time.sleep(self.poll_interval)
        return self

    def cancel(self) -> None:
        self._ws.sweeps.cancel(self.sweep_id)
        self.refresh()

    def close(self) -> None:
        self._stop.set()
        super().close()

    # -- rendering -------------------------------------------------------------------------------
    def _summary(self) -> str:
        info = self.info
        assert info is not None
        c = info.counts
        parts = [f"{self.done}/{info.max_total_trials} trials done"]
        for n, label in (
            (c.running, "running"),
            (c.queued, "queued"),
            (c.early_terminated, "stopped early"),
            (c.failed, "failed"),
            (c.canceled, "canceled"),
        ):
            if n:
                parts.append(f"{n} {label}")
        objective = info.spec.objective
        best = (
            f"best {objective.primary_metric} {number(info.best_value)} (trial {info.best_trial})"
            if info.best_value is not None
            else f"{_goal(info)} {objective.primary_metric}: no value yet"
        )
        return " · ".join(parts) + " · " + best

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

    def _chart_svg(self) -> str:
        info = self.info
        assert info is not None
        steps, values = best_so_far(self.trials, _goal(info))
        return line_chart(
            [Series(f"best {info.spec.objective.primary_metric}", steps, values)],
            title=f"best {info.spec.objective.primary_metric} so far (by trial)",
            empty_text="no trial has reported the objective yet",
        )

    def _table_html(self) -> str:
        info = self.info
        assert info is not None
        columns, rows = trial_rows(info, self.trials)
        if not rows:
            return f'<div style="color:{MUTED};font-size:12px">no trial yet</div>'
        more = len(self.trials) - len(rows)
        note = (
            f'<div style="color:{MUTED};font-size:12px">{more} more trials: '
            "ws.sweeps.trials(ID) has them all</div>"
            if more > 0
            else ""
        )
        return (
            f'<div style="max-height:320px;overflow:auto;border:1px solid {BORDER}">'
            f"{html_table(columns, rows)}</div>{note}"
        )

    def _static_html(self) -> str:
        if self.info is None:
            return ""
        return card(self._header_html() + self._chart_svg() + self._table_html())

    def _static_text(self) -> str:
        info = self.info
        if info is None:
            return f"sweep {self.sweep_id}"
        columns, rows = trial_rows(info, self.trials)
        head = f"sweep {info.display_name} ({info.id}): {info.status}"
        if info.status_reason:
            head += f" - {info.status_reason}"
        lines = [head, self._summary()]
        if rows:
            lines.append(text_table(columns, rows))
        return "\n".join(lines)
