"""A static table: what magics such as ``%mlbench compute`` and ``%mlbench runs`` return.

Nothing to update, so no widget: an object with an HTML and a plain-text repr (reads the same in
JupyterLab, a saved notebook, nbconvert and a terminal) and its data in ``rows``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlbench.widgets._format import MUTED, card, esc, html_table, text_table
from mlbench.widgets.display import Displayable

if TYPE_CHECKING:
    from mlbench.workspace import Workspace


class TableView(Displayable):
    """Rows of values under named columns, with an optional title and footnote."""

    def __init__(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        title: str = "",
        note: str = "",
        empty: str = "nothing to show",
        html_cells: Sequence[Sequence[str]] | None = None,
        max_width: int = 40,
    ) -> None:
        self.columns = list(columns)
        self._values = [list(r) for r in rows]
        self.title = title
        self.note = note
        self.empty = empty
        self._html_cells = [list(r) for r in html_cells] if html_cells is not None else None
        self.max_width = max_width
        """Longer cells are cut in the plain-text form (the HTML form shows them whole)."""

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The rows as dicts keyed by column."""
        return [dict(zip(self.columns, r, strict=True)) for r in self._values]

    def __len__(self) -> int:
        return len(self._values)

    def to_dataframe(self) -> Any:
        """The rows as a pandas DataFrame (pandas must be installed)."""
        import pandas as pd

        return pd.DataFrame(self._values, columns=self.columns)

    def _display_bundle(self) -> dict[str, Any]:
        return {"text/plain": repr(self), "text/html": self._repr_html_()}

    def _repr_html_(self) -> str:
        if not self._values:
            body = f'<div style="color:{MUTED};font-size:12px">{esc(self.empty)}</div>'
        elif self._html_cells is not None:
            body = html_table(self.columns, self._html_cells, raw=True)
        else:
            body = html_table(self.columns, [[_cell(v) for v in r] for r in self._values])
        if self.note:
            body += (
                f'<div style="color:{MUTED};font-size:12px;margin-top:4px">{esc(self.note)}</div>'
            )
        return card(body, title=esc(self.title))

    def __repr__(self) -> str:
        lines = [self.title] if self.title else []
        if self._values:
            cells = [[_cell(v) for v in r] for r in self._values]
            lines.append(text_table(self.columns, cells, max_width=self.max_width))
        else:
            lines.append(self.empty)
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def params_table(ws: Workspace, notebook: str | os.PathLike[str]) -> TableView:
    """The typed parameters of a notebook (``mlbench params``)."""
    params = ws.jobs.parameters(notebook)
    rows = [
        [
            p.name,
            p.type + (" | None" if p.nullable and p.type != "any" else ""),
            p.default_source,
            p.help,
        ]
        for p in params.values()
    ]
    return TableView(
        ["name", "type", "default", "help"],
        rows,
        title=f"Parameters of {Path(notebook).name}",
        empty="no parameters (tag a cell 'parameters' to declare some)",
    )


def compute_table(ws: Workspace, name: str | None = None) -> TableView:
    """Compute targets with their capacity, what runs and waits there, and their agent."""
    targets = [ws.compute.get(name)] if name else ws.compute.list()
    rows = []
    for target in targets:
        st = ws.compute.status(target.name)
        cap = target.capacity
        gpus = ",".join(cap.gpu_ids) or "-"
        if st.gpu_ids_in_use:
            gpus += f" (in use: {','.join(st.gpu_ids_in_use)})"
        rows.append(
            [
                target.name,
                target.kind,
                f"{st.cpus_in_use:g}/{cap.cpus:g}",
                f"{cap.memory_mb} MiB" if cap.memory_mb else "-",
                gpus,
                cap.max_concurrent_jobs,
                st.running,
                st.queued,
                "running" if st.agent else "stopped (starts on demand)",
            ]
        )
    columns = ["name", "kind", "cpus used", "memory", "gpus", "max jobs", "running", "queued"]
    return TableView([*columns, "agent"], rows, title="Compute targets")


def workspace_table(ws: Workspace) -> TableView:
    """Where the workspace keeps things, and the job this process runs in, if any."""
    info = ws.info()
    rows = [
        ["workspace", info["home"]],
        ["database", info["database_url"]],
        ["tracking URI", info["tracking_uri"]],
        ["artifacts", info["artifact_root"]],
        ["version", info["version"]],
    ]
    job_id = os.environ.get("MLBENCH_JOB_ID")
    if job_id:
        rows += [
            ["in job", job_id],
            ["attempt", os.environ.get("MLBENCH_ATTEMPT", "-")],
            ["MLflow run", os.environ.get("MLFLOW_RUN_ID", "-")],
        ]
    else:
        rows.append(["in job", "no (this kernel is not running a job)"])
    return TableView(["", "value"], rows, title="mlbench", max_width=200)


def data_table(infos: Sequence[Any]) -> TableView:
    """Data assets, the newest version of each (``%mlbench data list``)."""
    rows = [
        [
            i.ref,
            i.kind.value + (f" ({i.format})" if i.format else ""),
            i.size_bytes,
            i.file_count,
            i.row_count,
            i.datastore,
            i.job_id,
        ]
        for i in infos
    ]
    return TableView(
        ["asset", "kind", "bytes", "files", "rows", "datastore", "made by job"],
        rows,
        title="Data assets",
        empty="no data assets (create one with `mlbench data create NAME PATH`)",
    )


def environments_table(infos: Sequence[Any]) -> TableView:
    """Environments (``%mlbench env list``): the newest version of each, or one's versions."""
    rows = [
        [
            i.ref,
            i.status.value,
            i.python,
            len(i.packages),
            i.lock_hash[:12],
            i.kernel_name,
            (i.error or "")[:80] or None,
        ]
        for i in infos
    ]
    return TableView(
        ["environment", "status", "python", "packages", "hash", "kernel", "error"],
        rows,
        title="Environments",
        empty="no environments (create one with `%mlbench env create NAME -p PACKAGE`)",
    )


def environment_table(info: Any) -> TableView:
    """One environment version (``%mlbench env show``): its fields, then its packages."""
    rows = [
        ["ref", info.ref],
        ["status", info.status.value],
        ["python", f"{info.python} ({info.platform})"],
        ["spec", f"{info.spec.source}: " + (", ".join(info.spec.requirements) or "-")],
        ["lock hash", info.lock_hash],
        ["kernel", info.kernel_name],
        ["venv", info.venv],
    ]
    if info.build_seconds is not None:
        rows.append(["build", f"{info.build_seconds:.1f} s"])
    if info.description:
        rows.append(["description", info.description])
    if info.error:
        rows.append(["error", info.error])
    packages = info.packages or ["-"]
    rows += [
        [f"packages ({len(info.packages)})" if n == 0 else "", p] for n, p in enumerate(packages)
    ]
    return TableView(["", "value"], rows, title=f"Environment {info.ref}", max_width=200)


def sweeps_table(infos: Sequence[Any]) -> TableView:
    """Sweeps, newest first (``%mlbench sweep list``)."""
    rows = []
    for i in infos:
        c = i.counts
        done = c.completed + c.early_terminated + c.failed + c.canceled
        rows.append(
            [
                i.id,
                i.display_name,
                str(i.status),
                f"{done}/{i.max_total_trials}",
                i.spec.objective.primary_metric,
                i.best_value,
                i.best_trial,
            ]
        )
    return TableView(
        ["id", "name", "status", "trials", "metric", "best", "best trial"],
        rows,
        title="sweeps",
        empty="no sweeps (submit one with `%mlbench sweep submit sweep.yml`)",
    )


def trials_table(info: Any, trials: Sequence[Any]) -> TableView:
    """A sweep's trials: every parameter and metric a column (``%mlbench sweep trials``)."""
    params = list(info.spec.search_space)
    for t in trials:
        params += [p for p in t.parameters if p not in params]
    primary = info.spec.objective.primary_metric
    metrics = sorted({m for t in trials for m in t.metrics} - {primary})
    rows = [
        [
            t.index,
            str(getattr(t.status, "value", t.status)),
            *[t.parameters.get(p) for p in params],
            t.value,
            *[t.metrics.get(m) for m in metrics],
            t.termination.detail if t.termination else "",
            t.job_id,
        ]
        for t in trials
    ]
    return TableView(
        ["#", "status", *params, primary, *metrics, "stopped by", "job"],
        rows,
        title=f"trials of sweep {info.display_name} ({info.id})",
        note=f"best: trial {info.best_trial}" if info.best_trial is not None else "",
        empty="no trial yet",
        max_width=60,
    )
