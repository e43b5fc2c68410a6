"""The job widget: status, per-cell progress, elapsed time, live output, metric plots, actions.

The widget reads the workspace (job record, log file, MLflow run) and never blocks the kernel: a
daemon thread polls while the job is active and stops when it ends. ``wait()`` polls in the
calling thread instead, for magics that block until the job ends (``%mlbench run``).
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import traitlets

from mlbench.errors import MlbenchError
from mlbench.jobs.models import JobInfo, JobStatus
from mlbench.widgets._format import (
    BAR_STYLES,
    BORDER,
    FONT,
    MONO,
    MUTED,
    badge,
    card,
    duration,
    esc,
    number,
    seconds_since,
    shorten,
    strip_ansi,
)
from mlbench.widgets.display import StaticReprMixin
from mlbench.widgets.svg import Series, last_value, line_chart

if TYPE_CHECKING:
    from mlbench.jobs.job import Job
    from mlbench.workspace import Workspace

log = logging.getLogger(__name__)

LOG_TAIL_BYTES = 32_768
MAX_CHARTS = 6
CHART_POINTS = 300


def workspace_of(job: Any, ws: Workspace | None) -> Workspace:
    if ws is not None:
        return ws
    owner = getattr(job, "_ws", None)
    if owner is not None:
        return owner  # type: ignore[no-any-return]
    from mlbench.workspace import Workspace

    return Workspace()


class JobWidget(StaticReprMixin, widgets.VBox):
    """A live view of one job.

    ``JobWidget(job)`` or ``JobWidget("3f2a1b9c", ws)``. While the job is queued or running, a
    background thread refreshes it every ``poll_interval`` seconds (metrics every
    ``metrics_interval``); it stops when the job ends or the widget is closed. The observable
    traits ``status`` (a :class:`JobStatus` value), ``cell_index``, ``cell_count`` and
    ``finished`` follow the job; ``history`` lists every status seen, in order.
    """

    status = traitlets.Unicode("")
    cell_index = traitlets.Int(0)
    cell_count = traitlets.Int(0)
    finished = traitlets.Bool(False)
    metric_values = traitlets.Dict()

    def __init__(
        self,
        job: Job | str,
        ws: Workspace | None = None,
        *,
        live: bool = True,
        poll_interval: float = 0.25,
        metrics_interval: float = 1.0,
        log_lines: int = 15,
        **kwargs: Any,
    ) -> None:
        self._ws = workspace_of(job, ws)
        job_id = job if isinstance(job, str) else job.id
        self.job: Job = self._ws.jobs.get(job_id)  # resolves a unique prefix; raises if unknown
        self.info: JobInfo = self.job._info
        self.history: list[str] = []
        self.poll_interval = poll_interval
        self.metrics_interval = metrics_interval
        self.series: dict[str, Series] = {}
        self.log_lines = max(1, log_lines)
        self._log_lines: deque[str] = deque(maxlen=self.log_lines)
        self._log_partial = ""
        self._log_offset: int | None = None
        self._metrics_at = 0.0
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._queries: Any = None
        self._metrics_thread: threading.Thread | None = None

        self._header = widgets.HTML()
        self._bar = widgets.IntProgress(
            value=0, min=0, max=1, layout=widgets.Layout(width="260px", height="16px")
        )
        self._bar_label = widgets.HTML()
        self._metrics_html = widgets.HTML()
        self._log_html = widgets.HTML()
        self._error_html = widgets.HTML()
        self._message = widgets.HTML()
        # Rendered by JupyterLab's rendermime (unlike an HTML widget's content), so a relative
        # link opens the file in a JupyterLab tab.
        self._link = widgets.Output()
        self.cancel_button = widgets.Button(
            description="Cancel",
            icon="stop",
            button_style="danger",
            tooltip="Interrupt the job, then kill it after the grace period",
            layout=widgets.Layout(width="auto"),
        )
        self.output_button = widgets.Button(
            description="Open output",
            icon="external-link",
            tooltip="Copy the executed notebook next to this notebook and link to it",
            layout=widgets.Layout(width="auto"),
        )
        self.cancel_button.on_click(lambda _b: self.cancel())
        self.output_button.on_click(lambda _b: self.open_output())
        super().__init__(
            children=[
                self._header,
                widgets.HBox(
                    [self._bar, self._bar_label],
                    layout=widgets.Layout(align_items="center"),
                ),
                self._error_html,
                self._metrics_html,
                self._log_html,
                widgets.HBox(
                    [self.cancel_button, self.output_button, self._message, self._link],
                    layout=widgets.Layout(align_items="center"),
                ),
            ],
            layout=widgets.Layout(
                border=f"1px solid {BORDER}", padding="6px 10px", max_width="980px"
            ),
            **kwargs,
        )
        self.refresh()
        if live and not self.finished:
            self.start()

    # -- reading -------------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.info.id

    def refresh(self, info: JobInfo | None = None) -> bool:
        """Read the job once (or take ``info`` just read) and update the view; returns True once
        the job has ended."""
        with self._lock:
            if self.finished:
                return True
            info = info or self._ws.jobs.info(self.info.id)
            self._read_log()
            final = info.status.is_final
            if final:
                self._final_metrics(info)
            else:
                self._fetch_metrics_soon(info)
            changed = info.status.value != self.status
            self.info = info
            self._render()
            if changed:
                self.history.append(info.status.value)
                self.status = info.status.value
            if final:
                self._finish()
            elif changed:
                self._republish()
            return final

    def _read_log(self) -> None:
        """Append new output to the tail; only the last ``LOG_TAIL_BYTES`` are ever read, so a
        job that prints megabytes between two refreshes costs one bounded read."""
        jobs = self._ws.jobs
        if self._log_offset is None:
            text, self._log_offset = jobs.logs(self.info.id, tail=LOG_TAIL_BYTES)
            if text and self._log_offset > len(text.encode()):
                text = text.split("\n", 1)[-1]  # drop a line cut by the tail
        else:
            text, offset = jobs.logs(self.info.id, self._log_offset, max_bytes=LOG_TAIL_BYTES)
            if offset - self._log_offset >= LOG_TAIL_BYTES - 4:  # capped (at a char boundary):
                # more new output than the view holds; jump to its tail
                self._log_partial = ""
                text, offset = jobs.logs(self.info.id, tail=LOG_TAIL_BYTES)
                text = text.split("\n", 1)[-1]
            self._log_offset = offset
        if not text:
            return
        lines = (self._log_partial + strip_ansi(text)).split("\n")
        self._log_partial = lines.pop()
        self._log_lines.extend(_as_shown(line) for line in lines)

    def _fetch_metrics_soon(self, info: JobInfo) -> None:
        """Read metrics in a thread of their own: MLflow's first import takes seconds, and
        status and output must keep updating meanwhile."""
        if not info.mlflow_run_id or time.monotonic() - self._metrics_at < self.metrics_interval:
            return
        if self._metrics_thread is not None and self._metrics_thread.is_alive():
            return
        self._metrics_at = time.monotonic()
        self._metrics_thread = threading.Thread(
            target=self._fetch_metrics, args=(info,), name="mlbench-job-metrics", daemon=True
        )
        self._metrics_thread.start()

    def _fetch_metrics(self, info: JobInfo) -> None:
        try:
            self._read_metrics(info)
        except Exception:
            log.warning("reading the metrics of job %s failed", info.id, exc_info=True)
            return
        if not self.finished:  # not under the lock: the final refresh joins this thread
            self._metrics_html.value = self._charts_html()

    def _final_metrics(self, info: JobInfo) -> None:
        """Once the job ended, its run holds every point: read them all before the last render."""
        thread = self._metrics_thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)
        self._read_metrics(info)

    def _read_metrics(self, info: JobInfo) -> None:
        if not info.mlflow_run_id:
            return
        try:
            if self._queries is None:
                from mlbench.tracking.query import TrackingQueries

                self._queries = TrackingQueries(self._ws.tracking)
            history = self._queries.metric_history([info.mlflow_run_id], max_points=CHART_POINTS)
        except MlbenchError as exc:  # e.g. the run was deleted
            log.debug("no metrics for job %s: %s", info.id, exc)
            return
        series = {s.key: Series(s.key, s.steps, s.values) for s in history.series}
        self.series = series
        self.metric_values = {k: last_value(s)[1] for k, s in series.items()}

    @property
    def log_tail(self) -> str:
        lines = list(self._log_lines)
        if self._log_partial:
            lines.append(_as_shown(self._log_partial))
        return "\n".join(lines[-self.log_lines :])

    # -- live updates ------------------------------------------------------------------------------
    def start(self) -> None:
        """Refresh in a background thread until the job ends (started by default)."""
        if self.finished or (self._thread is not None and self._thread.is_alive()):
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._watch, name=f"mlbench-job-{self.info.id}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop live updates (the job itself goes on)."""
        self._stop.set()

    def _watch(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                # following keeps the target's agent alive (restarted if it died)
                for info in self._ws.jobs.follow(self.info.id, poll_interval=self.poll_interval):
                    failures = 0
                    if self.refresh(info) or self._stop.is_set():
                        return
            except Exception:  # a transient database or file error must not end live updates
                failures += 1
                log.warning("refreshing job %s failed", self.info.id, exc_info=failures == 1)
                if failures >= 20:
                    self._message.value = _note("live updates stopped after repeated errors")
                    return
                self._stop.wait(self.poll_interval * 4)

    def wait(
        self, timeout: float | None = None, on_change: Callable[[JobInfo], None] | None = None
    ) -> JobWidget:
        """Block until the job ends, refreshing the view; ``on_change`` sees each new status.

        Raises :class:`mlbench.errors.WaitTimeoutError` after ``timeout`` seconds (the job goes
        on) and lets ``KeyboardInterrupt`` through (the caller decides what stopping means).
        """
        seen = None
        for info in self._ws.jobs.follow(
            self.id, timeout=timeout, poll_interval=self.poll_interval
        ):
            final = self.refresh(info)
            if on_change is not None and self.info.status.value != seen:
                seen = self.info.status.value
                on_change(self.info)
            if final:
                break
        return self

    def close(self) -> None:
        self.stop()
        super().close()

    def _finish(self) -> None:
        self.finished = True
        self._stop.set()
        self.cancel_button.disabled = True
        self._republish()

    # -- actions -----------------------------------------------------------------------------------
    def cancel(self) -> None:
        """Cancel the job (what the Cancel button does)."""
        try:
            info = self._ws.jobs.cancel(self.info.id)
        except MlbenchError as exc:
            self._message.value = _note(exc.message, error=True)
            return
        self._message.value = _note(
            "canceled" if info.status.is_final else "cancel requested: interrupting the job"
        )
        self.refresh()

    def open_output(self, folder: str | Path | None = None) -> Path | None:
        """Copy the output notebook into ``folder`` (default: the kernel's working folder,
        which is the notebook's folder in JupyterLab) and show a link that opens it."""
        source = self._ws.jobs.output_notebook_path(self.info.id)
        if source is None:
            self._message.value = _note(
                f"no output notebook yet (the job is {self.status}); "
                "it is written once the job starts running",
                error=True,
            )
            return None
        dest = Path(folder or Path.cwd()) / (
            f"{Path(self.info.notebook_path).stem}-{self.info.id[:8]}.output.ipynb"
        )
        tmp = dest.with_name(f".{dest.name}.mlbench-tmp")
        try:
            shutil.copyfile(source, tmp)
            tmp.replace(dest)
        except OSError as exc:
            self._message.value = _note(f"could not copy the output notebook: {exc}", error=True)
            return None
        # relative to the kernel's folder, which is where JupyterLab resolves the notebook's links
        try:
            href = dest.resolve().relative_to(Path.cwd().resolve()).as_posix()
        except ValueError:
            href = dest.resolve().as_uri()
        self._message.value = _note(
            "output (still running: click again for newer output):"
            if not self.finished
            else "output:"
        )
        anchor = f'<a href="{esc(href)}" style="font-size:12px">{esc(dest.name)}</a>'
        self._link.outputs = (
            {
                "output_type": "display_data",
                "data": {"text/html": anchor, "text/plain": str(dest)},
                "metadata": {},
            },
        )
        return dest

    # -- rendering -----------------------------------------------------------------------------
    def _render(self) -> None:
        info = self.info
        status = info.status.value
        self._header.value = self._header_html()
        p = info.progress
        count = p.cell_count or 0
        done = self._cells_done()
        self.cell_count = count
        self.cell_index = p.cell_index or 0
        self._bar.max = max(1, count)
        self._bar.value = min(done, self._bar.max)
        self._bar.bar_style = BAR_STYLES.get(status, "")
        self._bar_label.value = (
            f'<span style="font-family:{FONT};font-size:12px;color:{MUTED}">'
            f"{esc(self._progress_text())}</span>"
        )
        self._error_html.value = self._error_block()
        self._metrics_html.value = self._charts_html()
        self._log_html.value = self._log_block(self.log_lines)
        self.cancel_button.disabled = info.status.is_final

    def _cells_done(self) -> int:
        p = self.info.progress
        if not p.cell_count:
            return 0
        if self.info.status == JobStatus.COMPLETED:
            return p.cell_count
        return p.cell_index or 0

    def _progress_text(self) -> str:
        info = self.info
        p = info.progress
        if not p.cell_count:
            return "waiting to start" if info.status.value == "queued" else info.status.value
        index = (p.cell_index or 0) + 1
        if info.status == JobStatus.COMPLETED:
            return f"{p.cell_count}/{p.cell_count} cells"
        if info.status.is_final:
            return f"stopped at cell {index}/{p.cell_count}"
        source = shorten((p.cell_source or "").strip().splitlines()[0], 60) if p.cell_source else ""
        return f"cell {index}/{p.cell_count}" + (f": {source}" if source else "")

    def _elapsed_text(self) -> str:
        info = self.info
        if info.status == JobStatus.QUEUED:
            return f"queued {duration(seconds_since(info.created_at, info.finished_at))}"
        return duration(info.duration_s)

    def _header_html(self) -> str:
        info = self.info
        reason = info.status_reason if not info.error else ""
        return (
            f'<div style="font-family:{FONT};font-size:13px;line-height:1.6">'
            f"{badge(info.status.value)} <b>{esc(info.display_name)}</b> "
            f'<code style="font-family:{MONO}">{esc(info.id)}</code>'
            f'<span style="color:{MUTED}"> · {esc(info.compute)} · {esc(self._elapsed_text())}'
            f"{' · attempt ' + str(info.attempt) if info.attempt > 1 else ''}</span>"
            + (f'<div style="color:{MUTED};font-size:12px">{esc(reason)}</div>' if reason else "")
            + "</div>"
        )

    def _error_title(self) -> str:
        e = self.info.error
        if e is None:
            return ""
        where = ""
        if e.cell_index is not None:  # 1-based, as the progress bar counts cells
            count = self.info.progress.cell_count
            where = f" in cell {e.cell_index + 1}" + (f"/{count}" if count else "")
        return f"{e.kind}{where}: {e.message}"

    def _error_block(self) -> str:
        e = self.info.error
        if e is None:
            return ""
        title = self._error_title()
        trace = strip_ansi("\n".join(e.traceback[-20:])) if e.traceback else ""
        return (
            f'<div style="font-family:{FONT};font-size:12px;color:#c62828;margin:4px 0">'
            f"<b>{esc(title)}</b>"
            + (
                f'<pre style="font-family:{MONO};font-size:11px;white-space:pre-wrap;'
                f'margin:4px 0;max-height:12em;overflow:auto">{esc(trace)}</pre>'
                if trace
                else ""
            )
            + "</div>"
        )

    def _charts_html(self) -> str:
        if not self.series:
            return ""
        keys = sorted(self.series)
        charts = []
        for key in keys[:MAX_CHARTS]:
            step, value = last_value(self.series[key])
            title = f"{key} = {number(value)}" + (f" (step {step})" if step is not None else "")
            charts.append(line_chart([self.series[key]], width=300, height=130, title=title))
        more = ""
        if len(keys) > MAX_CHARTS:
            more = (
                f'<div style="font-size:12px;color:{MUTED}">'
                + esc(
                    ", ".join(f"{k}={number(self.metric_values.get(k))}" for k in keys[MAX_CHARTS:])
                )
                + "</div>"
            )
        return (
            '<div class="mlbench-metrics" style="display:flex;flex-wrap:wrap;gap:8px;'
            f'margin:4px 0">{"".join(charts)}</div>{more}'
        )

    def _log_block(self, lines: int) -> str:
        """The newest ``lines`` lines of output, unscrolled, so the newest is always in view."""
        text = "\n".join(self.log_tail.splitlines()[-lines:])
        if not text:
            return ""
        return (
            f'<div style="border:1px solid {BORDER};border-radius:3px;margin:4px 0">'
            f'<pre style="font-family:{MONO};font-size:11px;margin:0;padding:4px 6px;'
            f'white-space:pre-wrap;overflow-wrap:anywhere">{esc(text)}</pre></div>'
        )

    # -- static representations (saved notebooks, nbconvert, papermill) ----------------------
    def _static_html(self) -> str:
        with self._lock:
            info = self.info
            p = info.progress
            pct = 100.0 * self._cells_done() / p.cell_count if p.cell_count else 0.0
            color = {"failed": "#c62828", "completed": "#2e7d32"}.get(info.status.value, "#1976d2")
            bar = (
                f'<div style="display:flex;align-items:center;gap:8px;margin:4px 0">'
                f'<div style="width:240px;height:8px;background:{BORDER};border-radius:4px">'
                f'<div style="width:{pct:.0f}%;height:8px;background:{color};'
                'border-radius:4px"></div></div>'
                f'<span style="font-size:12px;color:{MUTED}">{esc(self._progress_text())}</span>'
                "</div>"
            )
            return card(
                self._header_html()
                + bar
                + self._error_block()
                + self._charts_html()
                + self._log_block(min(self.log_lines, 12))
            )

    def _static_text(self) -> str:
        with self._lock:
            info = self.info
            lines = [
                f"mlbench job {info.id} ({info.display_name}) {info.status.value} on "
                f"{info.compute} — {self._progress_text()}, {self._elapsed_text()}"
            ]
            if info.error:
                lines.append(f"  {self._error_title()}")
            elif info.status_reason and not info.status.is_final:
                lines.append(f"  {info.status_reason}")
            if self.metric_values:
                lines.append(
                    "  metrics: "
                    + ", ".join(f"{k}={number(v)}" for k, v in sorted(self.metric_values.items()))
                )
            return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<JobWidget {self.info.id} {self.info.status.value}>"


def _note(text: str, *, error: bool = False) -> str:
    color = "#c62828" if error else MUTED
    return f'<span style="font-family:{FONT};font-size:12px;color:{color}">{esc(text)}</span>'


def _as_shown(line: str) -> str:
    """A line as a terminal shows it: progress bars rewrite it after each carriage return."""
    return line.rstrip("\r").rsplit("\r", 1)[-1]
