"""``ws.rai``: a Responsible AI report of a model on a test table, run as a notebook job.

The packaged, parameterized notebook ``report.ipynb`` runs as a real job (papermill, on any
compute target): the executed notebook is the record, and the static HTML report and its JSON
summary, written into ``MLBENCH_OUTPUT_DIR``, become the run's artifacts (``outputs/``). The
model, the table and its columns are checked before anything is queued.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from mlbench.errors import InvalidInputError, NotFoundError
from mlbench.jobs.spec import JobSpec
from mlbench.rai.models import RaiReportInfo

if TYPE_CHECKING:
    from mlbench.jobs.job import Job
    from mlbench.jobs.models import JobInfo
    from mlbench.workspace import Workspace

TAG = "mlbench.rai"
NOTEBOOK = Path(__file__).with_name("report.ipynb")
HTML = "outputs/rai_report.html"
SUMMARY = "outputs/rai_report.json"
RUN_MODEL = re.compile(r"^runs:/[0-9a-f]{32}/[A-Za-z0-9_./-]+$")
TASKS = ("classification", "regression")


class RaiReportNotFoundError(NotFoundError):
    code = "rai_report_not_found"


class ResponsibleAI:
    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def report(
        self,
        model: str,
        *,
        data: str,
        sensitive: list[str] | str | None = None,
        target: str | None = None,
        task: str | None = None,
        positive_label: str | None = None,
        compute: str = "local",
        environment: str | None = None,
        start_agent: bool = True,
    ) -> Job:
        """Submit the report of ``model`` (``NAME``, ``NAME:VERSION``, ``NAME@ALIAS`` or a run's
        ``runs:/RUN_ID/PATH``) on table ``data``. ``target`` and ``task`` default to what an
        AutoML model recorded."""
        sensitive = [sensitive] if isinstance(sensitive, str) else list(sensitive or [])
        tags: dict[str, str] = {}
        if RUN_MODEL.match(model):
            uri, shown = model, model
        else:
            version = self._ws.models.info(model)
            uri, shown, tags = (
                f"models:/{version.name}/{version.version}",
                version.ref,
                version.tags,
            )
        target = target or tags.get("automl.target")
        task = task or tags.get("automl.task")
        if not target:
            raise InvalidInputError(
                f"which column of the table does {shown} predict?",
                hint="give the target: mlbench rai report MODEL --data ASSET --target COLUMN",
            )
        if task not in TASKS:
            raise InvalidInputError(
                f"task {task!r}: give classification or regression"
                if task
                else f"is {shown} a classifier or a regressor?",
                hint="--task classification (or regression)",
            )
        info = self._ws.data.info(data)
        if info.kind.value != "table":
            raise InvalidInputError(
                f"data:{info.ref} is a {info.kind.value}, not a table",
                hint="the report reads a test table: a CSV or Parquet asset of kind table",
            )
        fmt = info.format or "parquet"
        columns = _columns(self._ws.data.get(info.ref).path(), fmt)
        missing = [c for c in [target, *sensitive] if c not in columns]
        if missing:
            raise InvalidInputError(
                f"column(s) {', '.join(repr(c) for c in missing)} not in data:{info.ref}",
                hint=f"its columns: {', '.join(columns[:40])}",
            )
        spec = JobSpec(
            notebook_path=str(NOTEBOOK),
            kernel_name="python3",
            parameters={
                "model_uri": uri,
                "model_ref": shown,
                "data_ref": f"data:{info.ref}",
                "data_format": fmt,
                "target": target,
                "task": task,
                "sensitive": sensitive,
                "positive_label": positive_label or "",
            },
            inputs={"data": f"data:{info.ref}"},
            compute=compute,
            environment=environment,
            experiment=f"rai-{shown.split(':')[0].split('/')[-1]}",
            display_name=f"rai {shown} on {info.ref}",
            tags={TAG: "true", f"{TAG}.model": shown},
        )
        return self._ws.jobs.submit(spec, start_agent=start_agent)

    def _job(self, job_id: str) -> JobInfo:
        info = self._ws.jobs.info(job_id)
        if info.tags.get(TAG) != "true":
            raise RaiReportNotFoundError(f"job {info.id} is not a Responsible AI report")
        return info

    def show(self, job_id: str) -> RaiReportInfo:
        info = self._job(job_id)
        p = info.parameters
        out = RaiReportInfo(
            job_id=info.id,
            status=info.status.value,
            run_id=info.mlflow_run_id,
            model=str(p["model_ref"]),
            data=str(p["data_ref"]),
            target=str(p["target"]),
            task=str(p["task"]),
            sensitive=list(p["sensitive"]),
            error=info.error.message if info.error else None,
        )
        if info.mlflow_run_id and self._has(info.mlflow_run_id, SUMMARY):
            out.summary = json.loads(self._read(info.mlflow_run_id, SUMMARY))
            out.html_artifact = HTML
            notebooks = [
                a.path
                for a in self._ws.tracking.client.list_artifacts(info.mlflow_run_id)
                if a.path.endswith(".ipynb")
            ]
            out.notebook_artifact = notebooks[0] if notebooks else None
        return out

    def html(self, job_id: str) -> str:
        """The HTML report of a completed report job."""
        info = self._job(job_id)
        if not info.mlflow_run_id or not self._has(info.mlflow_run_id, HTML):
            raise RaiReportNotFoundError(
                f"job {info.id} ({info.status.value}) has no HTML report",
                hint=f"wait for it to complete: mlbench job wait {info.id}",
            )
        return self._read(info.mlflow_run_id, HTML)

    def _has(self, run_id: str, path: str) -> bool:
        folder = path.rpartition("/")[0]
        return path in {a.path for a in self._ws.tracking.client.list_artifacts(run_id, folder)}

    def _read(self, run_id: str, path: str) -> str:
        with tempfile.TemporaryDirectory() as tmp:
            local = self._ws.tracking.client.download_artifacts(run_id, path, tmp)
            return Path(local).read_text()


def _columns(path: Path, fmt: str) -> list[str]:
    import pyarrow.dataset as ds

    return list(ds.dataset(str(path), format=fmt).schema.names)
