"""The ``Job`` handle returned by the SDK."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlbench.jobs.models import JobError, JobInfo, JobProgress, JobStatus

if TYPE_CHECKING:
    from mlbench.workspace import Workspace


class Job:
    """A submitted job. Attribute reads such as :attr:`status` fetch fresh state."""

    def __init__(self, ws: Workspace, info: JobInfo) -> None:
        self._ws = ws
        self._info = info

    @property
    def id(self) -> str:
        return self._info.id

    @property
    def info(self) -> JobInfo:
        """The job's full record, freshly read."""
        self._info = self._ws.jobs.info(self.id)
        return self._info

    @property
    def status(self) -> JobStatus:
        return self.info.status

    @property
    def progress(self) -> JobProgress:
        return self.info.progress

    @property
    def error(self) -> JobError | None:
        return self.info.error

    @property
    def run_id(self) -> str | None:
        return self.info.mlflow_run_id

    def wait(self, timeout: float | None = None) -> Job:
        """Block until the job is completed, failed, canceled or timed out; returns the job."""
        self._info = self._ws.jobs.wait(self.id, timeout=timeout)
        return self

    def logs(self, offset: int = 0) -> str:
        return self._ws.jobs.logs(self.id, offset)[0]

    def cancel(self) -> Job:
        self._info = self._ws.jobs.cancel(self.id)
        return self

    def rerun(self, parameters: dict[str, Any] | None = None, **overrides: Any) -> Job:
        return self._ws.jobs.rerun(self.id, parameters, **overrides)

    def delete(self) -> None:
        self._ws.jobs.delete(self.id)

    def output_notebook_path(self) -> Path | None:
        """The executed notebook (written as the job runs), or None before it starts."""
        return self._ws.jobs.output_notebook_path(self.id)

    def metrics(self) -> dict[str, float]:
        """Latest value of each metric of the job's MLflow run."""
        run_id = self.run_id
        return self._ws.tracking.run_summary(run_id)["metrics"] if run_id else {}

    def __repr__(self) -> str:
        i = self._info
        return f"<Job {i.id} {i.display_name!r} {i.status.value} on {i.compute}>"

    def _repr_html_(self) -> str:
        from html import escape

        i = self._info
        return (
            f"<b>mlbench job</b> <code>{escape(i.id)}</code> {escape(i.display_name)} — "
            f"<b>{escape(i.status.value)}</b> on {escape(i.compute)}"
        )


class JobList(list[Job]):
    """A page of jobs; ``next_cursor`` fetches the next page (None on the last one)."""

    def __init__(self, items: list[Job], next_cursor: str | None = None) -> None:
        super().__init__(items)
        self.next_cursor = next_cursor
