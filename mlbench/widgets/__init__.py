"""ipywidgets views of mlbench: a live job, a jobs table, runs compared on a chart.

Each widget also has HTML and plain-text representations, so outputs stay readable in saved
notebooks, nbconvert and papermill, where no widget manager runs.
"""

from __future__ import annotations

from mlbench.widgets.job import JobWidget
from mlbench.widgets.jobs import JobsTable
from mlbench.widgets.runs import RunComparisonChart, experiments_table, runs_table
from mlbench.widgets.tables import TableView

__all__ = [
    "JobWidget",
    "JobsTable",
    "RunComparisonChart",
    "TableView",
    "experiments_table",
    "runs_table",
]
