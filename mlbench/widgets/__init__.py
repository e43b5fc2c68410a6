"""ipywidgets views of mlbench: a live job, a live sweep, a jobs table, runs compared on a chart.

Each widget also has HTML and plain-text representations, so outputs stay readable in saved
notebooks, nbconvert and papermill, where no widget manager runs.
"""

from __future__ import annotations

from mlbench.widgets.job import JobWidget
from mlbench.widgets.jobs import JobsTable
from mlbench.widgets.runs import RunComparisonChart, experiments_table, runs_table
from mlbench.widgets.sweep import SweepWidget
from mlbench.widgets.tables import TableView, compute_table, params_table, workspace_table

__all__ = [
    "JobWidget",
    "JobsTable",
    "RunComparisonChart",
    "SweepWidget",
    "TableView",
    "compute_table",
    "experiments_table",
    "params_table",
    "runs_table",
    "workspace_table",
]
