"""The jobs table widget: a page of jobs that refreshes itself while any of them is active."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import traitlets

from mlbench.jobs.models import JobInfo
from mlbench.widgets._format import (
    FONT,
    MONO,
    MUTED,
    badge,
    card,
    duration,
    esc,
    html_table,
    text_table,
    when,
)
from mlbench.widgets.display import StaticReprMixin

if TYPE_CHECKING:
    from mlbench.workspace import Workspace

log = logging.getLogger(__name__)

COLUMNS = ["id", "name", "status", "progress", "duration", "compute", "experiment", "created"]
_PICK = "(show a job…)"


def job_row(info: JobInfo) -> dict[str, str]:
    """One job as the table shows it (also what ``JobsTable.rows`` holds)."""
    p = info.progress
    if info.status.value == "completed" and p.cell_count:
        progress = f"{p.cell_count}/{p.cell_count}"
    elif p.cell_count:
        progress = f"{(p.cell_index or 0) + 1}/{p.cell_count}"
    else:
        progress = "-"
    return {
        "id": info.id,
        "name": info.display_name,
        "status": info.status.value,
        "progress": progress,
        "duration": duration(info.duration_s),
        "compute": info.compute,
        "experiment": info.experiment,
        "created": when(info.created_at),
    }


class JobsTable(StaticReprMixin, widgets.VBox):
    """Jobs newest first, filtered like ``ws.jobs.list``; refreshes every ``interval`` seconds
    while any listed job is queued or running, and on the Refresh button. Picking a job in the
    drop-down shows its :class:`~mlbench.widgets.JobWidget` below the table."""

    rows = traitlets.List()
    """The jobs shown, as dicts of strings (``id``, ``name``, ``status``, ...)."""

    def __init__(
        self,
        ws: Workspace | None = None,
        *,
        status: str | Iterable[str] | None = None,
        compute: str | None = None,
        experiment: str | None = None,
        tag: str | None = None,
        text: str | None = None,
        limit: int = 20,
        live: bool = True,
        interval: float = 1.0,
        **kwargs: Any,
    ) -> None:
        if ws is None:
            from mlbench.sdk import Workspace

            ws = Workspace()
        self._ws = ws
        self._query: dict[str, Any] = {
            "status": status,
            "compute": compute,
            "experiment": experiment,
            "tag": tag,
            "text": text,
            "limit": limit,
        }
        self.infos: list[JobInfo] = []
        self.next_cursor: str | None = None
        self.interval = interval
        self.live = live
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._table = widgets.HTML()
        self._footer = widgets.HTML()
        self.refresh_button = widgets.Button(
            description="Refresh", icon="refresh", layout=widgets.Layout(width="auto")
        )
        self.picker = widgets.Dropdown(options=[_PICK], layout=widgets.Layout(width="320px"))
        self.detail = widgets.VBox()
        self.refresh_button.on_click(lambda _b: self._manual_refresh())
        self.picker.observe(self._on_pick, names="value")
        super().__init__(
            children=[
                self._table,
                widgets.HBox(
                    [self.refresh_button, self.picker, self._footer],
                    layout=widgets.Layout(align_items="center"),
                ),
                self.detail,
            ],
            **kwargs,
        )
        self.refresh()
        if live:
            self.start()

    @property
    def active(self) -> bool:
        return any(not i.status.is_final for i in self.infos)

    def refresh(self) -> None:
        """List the jobs again and redraw."""
        with self._lock:
            page = self._ws.jobs.list(**self._query)
            self.infos = [j._info for j in page]
            self.next_cursor = page.next_cursor
            was_active = any(r["status"] in ("queued", "starting", "running") for r in self.rows)
            self.rows = [job_row(i) for i in self.infos]
            self._table.value = self._table_html()
            self._footer.value = (
                f'<span style="font-family:{FONT};font-size:12px;color:{MUTED}">'
                f"{esc(self._footer_text())}</span>"
            )
            current = self.picker.value
            options = [_PICK] + [
                f"{i.id}  {i.display_name}  ({i.status.value})" for i in self.infos
            ]
            matching = [o for o in options if o.split("  ", 1)[0] == current.split("  ", 1)[0]]
            with self.picker.hold_trait_notifications():
                self.picker.unobserve(self._on_pick, names="value")
                self.picker.options = options
                self.picker.value = matching[0] if matching else _PICK
                self.picker.observe(self._on_pick, names="value")
            if was_active and not self.active:
                self._republish()

    def _footer_text(self) -> str:
        n = len(self.infos)
        text = f"{n} job{'s' if n != 1 else ''}"
        if self.next_cursor:
            text += f" (more: raise the limit, now {self._query['limit']})"
        if self.active and self.live:
            text += " · refreshing while jobs are active"
        return text

    def _manual_refresh(self) -> None:
        self.refresh()
        if self.live:
            self.start()

    def start(self) -> None:
        """Refresh in the background while any listed job is active (started by default)."""
        if not self.active or (self._thread is not None and self._thread.is_alive()):
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="mlbench-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.refresh()
            except Exception:
                log.warning("refreshing the jobs table failed", exc_info=True)
                return
            if not self.active:
                self._footer.value = (
                    f'<span style="font-family:{FONT};font-size:12px;color:{MUTED}">'
                    f"{esc(self._footer_text())}</span>"
                )
                return

    def _on_pick(self, change: dict[str, Any]) -> None:
        from mlbench.widgets.job import JobWidget

        for child in self.detail.children:
            child.close()
        value = change["new"]
        if not value or value == _PICK:
            self.detail.children = ()
            return
        self.detail.children = (JobWidget(value.split("  ", 1)[0], self._ws),)

    def close(self) -> None:
        self.stop()
        for child in self.detail.children:
            child.close()
        super().close()

    # -- rendering -----------------------------------------------------------------------------
    def _table_html(self) -> str:
        if not self.rows:
            return (
                f'<div style="font-family:{FONT};font-size:12px;color:{MUTED}">no jobs match</div>'
            )
        cells = []
        for row in self.rows:
            cells.append(
                [
                    f'<code style="font-family:{MONO}">{esc(row["id"])}</code>',
                    esc(row["name"]),
                    badge(row["status"]),
                    *(esc(row[c]) for c in COLUMNS[3:]),
                ]
            )
        return html_table(COLUMNS, cells, raw=True)

    def _static_html(self) -> str:
        with self._lock:
            return card(
                self._table_html()
                + f'<div style="font-size:12px;color:{MUTED};margin-top:4px">'
                + esc(self._footer_text().split(" · ")[0])
                + "</div>"
            )

    def _static_text(self) -> str:
        with self._lock:
            if not self.rows:
                return "no jobs match"
            body = text_table(COLUMNS, [[r[c] for c in COLUMNS] for r in self.rows])
            return body + "\n" + self._footer_text().split(" · ")[0]

    def __repr__(self) -> str:
        return f"<JobsTable {len(self.rows)} jobs>"
