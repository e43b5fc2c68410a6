"""Runs of an experiment as a table, and a chart comparing runs' metric histories."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from mlbench.errors import InvalidInputError, JobNotFoundError
from mlbench.widgets._format import MONO, MUTED, card, esc, html_table, number, shorten, when
from mlbench.widgets.display import StaticReprMixin
from mlbench.widgets.svg import PALETTE, Series, line_chart
from mlbench.widgets.tables import TableView

if TYPE_CHECKING:
    from mlbench.tracking.query import (
        ExperimentSummary,
        RunComparison,
        RunPage,
        TrackingQueries,
    )
    from mlbench.workspace import Workspace

log = logging.getLogger(__name__)

MAX_METRIC_COLUMNS = 6
MAX_PARAM_COLUMNS = 6


def queries(ws: Workspace) -> TrackingQueries:
    from mlbench.tracking.query import TrackingQueries

    return TrackingQueries(ws.tracking)


def find_experiment(ws: Workspace, name_or_id: str) -> ExperimentSummary:
    """An experiment by exact name (what jobs are submitted with), else by MLflow id."""
    from mlbench.tracking.query import ExperimentNotFoundError

    q = queries(ws)
    cursor = None
    while True:
        page = q.experiments(text=name_or_id, limit=1000, cursor=cursor)
        for exp in page.items:
            if exp.name == name_or_id:
                return exp
        cursor = page.next_cursor
        if not cursor:
            break
    try:
        return q.experiment(name_or_id)
    except (ExperimentNotFoundError, InvalidInputError):  # not an id either
        names = [e.name for e in q.experiments(limit=20).items]
        raise ExperimentNotFoundError(
            f"experiment {name_or_id!r} does not exist",
            hint=f"experiments: {', '.join(names) or 'none yet'}",
        ) from None


def resolve_run_ids(ws: Workspace, refs: Sequence[Any]) -> list[str]:
    """MLflow run ids for run ids, job ids (or unique prefixes) and ``Job`` objects."""
    from mlbench.tracking.query import RunNotFoundError

    q = queries(ws)
    out = []
    for item in refs:
        ref = item if isinstance(item, str) else str(getattr(item, "id", item))  # Job, JobWidget
        try:
            out.append(q.run(str(ref)).run_id)
            continue
        except (RunNotFoundError, InvalidInputError):
            pass
        try:
            info = ws.jobs.info(str(ref))
        except JobNotFoundError:
            raise RunNotFoundError(
                f"{ref!r} is neither an MLflow run id nor a job id",
                hint="run ids are listed by %mlbench runs EXPERIMENT, job ids by %mlbench jobs",
            ) from None
        if not info.mlflow_run_id:
            raise InvalidInputError(
                f"job {info.id} has no MLflow run yet (it is {info.status.value})",
                hint="a job's run is created when it starts",
            )
        out.append(info.mlflow_run_id)
    return out


def runs_table(
    ws: Workspace,
    experiment: str,
    *,
    sort: str = "start_time",
    order: str = "desc",
    status: str | None = None,
    filter: str | None = None,
    limit: int = 50,
) -> TableView:
    """The runs of an experiment with their latest metrics and parameters."""
    exp = find_experiment(ws, experiment)
    page: RunPage = queries(ws).runs(
        exp.experiment_id,
        status=status,
        filter=filter,
        sort=sort,
        order=order,  # type: ignore[arg-type]
        limit=limit,
    )
    runs = page.items
    sort_metric = sort.removeprefix("metrics.") if sort.startswith("metrics.") else None
    metric_keys = sorted({k for r in runs for k in r.metrics})
    if sort_metric in metric_keys:
        metric_keys.remove(sort_metric)
        metric_keys.insert(0, sort_metric)
    param_keys = sorted({k for r in runs for k in r.params})
    # parameters that differ between the runs say most; constant ones go last
    param_keys.sort(key=lambda k: len({r.params.get(k) for r in runs}) <= 1)
    metric_keys, param_keys = metric_keys[:MAX_METRIC_COLUMNS], param_keys[:MAX_PARAM_COLUMNS]
    columns = ["run", "name", "status", "job", "started", *metric_keys, *param_keys]
    rows = [
        [r.run_id, r.run_name, r.status, r.job_id or "-", when(r.started_at)]
        + [r.metrics.get(k) for k in metric_keys]
        + [shorten(r.params.get(k, "-"), 24) for k in param_keys]
        for r in runs
    ]
    html_rows = [
        [f'<code style="font-family:{MONO}">{esc(row[0][:12])}</code>']
        + [esc(v) for v in row[1:5]]
        + [esc(number(v)) for v in row[5 : 5 + len(metric_keys)]]
        + [esc(v) for v in row[5 + len(metric_keys) :]]
        for row in rows
    ]
    note = f"experiment {exp.name!r} (id {exp.experiment_id}), sorted by {sort} {order}"
    if page.next_cursor:
        note += f"; showing the first {limit}"
    return TableView(
        columns,
        rows,
        title=f"Runs of {exp.name}",
        note=note,
        empty=f"experiment {exp.name!r} has no runs",
        html_cells=html_rows,
    )


def experiments_table(ws: Workspace, *, text: str | None = None, limit: int = 50) -> TableView:
    page = queries(ws).experiments(text=text, limit=limit)
    rows = [[e.experiment_id, e.name, when(e.updated_at)] for e in page.items]
    return TableView(
        ["id", "name", "updated"],
        rows,
        title="Experiments",
        empty="no experiments yet: submit a job",
        note="more: raise --limit" if page.next_cursor else "",
    )


class RunComparisonChart(StaticReprMixin, widgets.VBox):
    """Runs side by side: one metric's history per run on a shared chart (pick the metric in
    the drop-down), latest metric values with the best marked, and the parameters that differ.

    ``runs`` are MLflow run ids, job ids or ``Job`` objects.
    """

    def __init__(
        self,
        runs: Sequence[Any],
        ws: Workspace | None = None,
        *,
        metrics: Sequence[str] = (),
        max_points: int = 500,
        **kwargs: Any,
    ) -> None:
        if ws is None:
            from mlbench.sdk import Workspace

            ws = Workspace()
        self._ws = ws
        run_ids = resolve_run_ids(ws, runs)
        q = queries(ws)
        self.comparison: RunComparison = q.compare(run_ids)
        self.run_ids = [r.run_id for r in self.comparison.runs]
        available = [m.key for m in self.comparison.metrics]
        unknown = [m for m in metrics if m not in available]
        if unknown:
            raise InvalidInputError(
                f"no run logged metric(s) {', '.join(map(repr, unknown))}",
                hint=f"metrics of these runs: {', '.join(available) or 'none'}",
            )
        self.metrics = list(metrics) or available
        history = (
            q.metric_history(self.run_ids, self.metrics, max_points=max_points)
            if self.metrics
            else None
        )
        labels = self._labels()
        self.series: dict[str, list[Series]] = {m: [] for m in self.metrics}
        for s in history.series if history else []:
            i = self.run_ids.index(s.run_id)
            self.series[s.key].append(
                Series(labels[s.run_id], s.steps, s.values, PALETTE[i % len(PALETTE)])
            )
        self.picker = widgets.Dropdown(
            options=self.metrics, description="metric", layout=widgets.Layout(width="320px")
        )
        self._chart = widgets.HTML(self._chart_html(self.metrics[0]) if self.metrics else "")
        self._tables = widgets.HTML(self._tables_html())
        self.picker.observe(self._on_pick, names="value")
        children: list[widgets.Widget] = [self._chart, self._tables]
        if len(self.metrics) > 1:
            children.insert(0, self.picker)
        super().__init__(children=children, **kwargs)

    def _labels(self) -> dict[str, str]:
        labels = {}
        for r in self.comparison.runs:
            base = r.run_name or r.run_id[:8]
            labels[r.run_id] = f"{base} ({(r.job_id or r.run_id)[:8]})"
        return labels

    def _on_pick(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self._chart.value = self._chart_html(change["new"])

    def _chart_html(self, metric: str) -> str:
        return line_chart(self.series.get(metric, []), width=560, height=220, title=metric)

    def _tables_html(self) -> str:
        labels = self._labels()
        head = ["", *(labels[r] for r in self.run_ids)]
        metric_rows = []
        for m in self.comparison.metrics:
            cells = [esc(m.key)]
            for rid in self.run_ids:
                value = esc(number(m.values.get(rid)))
                if rid == m.min_run_id and m.min_run_id != m.max_run_id:
                    value = f'<b title="lowest">{value} ▼</b>'
                elif rid == m.max_run_id and m.min_run_id != m.max_run_id:
                    value = f'<b title="highest">{value} ▲</b>'
                cells.append(value)
            metric_rows.append(cells)
        differing = [p for p in self.comparison.params if p.differs]
        param_rows = [
            [esc(p.key), *(esc(shorten(p.values.get(r) or "-", 30)) for r in self.run_ids)]
            for p in differing
        ]
        same = [p.key for p in self.comparison.params if not p.differs]
        out = ""
        if metric_rows:
            out += "<div style='margin-top:6px'><b>latest metrics</b></div>"
            out += html_table(head, metric_rows, raw=True)
        if param_rows:
            out += "<div style='margin-top:6px'><b>parameters that differ</b></div>"
            out += html_table(head, param_rows, raw=True)
        if same:
            out += (
                f'<div style="font-size:12px;color:{MUTED};margin-top:4px">same in every run: '
                f"{esc(', '.join(same))}</div>"
            )
        return out

    def _static_html(self) -> str:
        charts = "".join(self._chart_html(m) for m in self.metrics[:4])
        return card(
            f'<div style="display:flex;flex-wrap:wrap;gap:8px">{charts}</div>'
            + self._tables_html(),
            title=f"Comparing {len(self.run_ids)} runs",
        )

    def _static_text(self) -> str:
        labels = self._labels()
        lines = [f"Comparing {len(self.run_ids)} runs: " + ", ".join(labels.values())]
        for m in self.comparison.metrics:
            values = ", ".join(
                f"{labels[r].split(' (')[0]}={number(m.values.get(r))}" for r in self.run_ids
            )
            lines.append(f"  {m.key}: {values}")
        differing = [p for p in self.comparison.params if p.differs]
        for p in differing:
            values = ", ".join(
                f"{labels[r].split(' (')[0]}={p.values.get(r) or '-'}" for r in self.run_ids
            )
            lines.append(f"  param {p.key}: {values}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<RunComparisonChart {len(self.run_ids)} runs>"
