"""REST handlers: each a few lines over the core; parsing, errors and auth live in the base.

Every verb is ``@tornado.web.authenticated`` and ``@authorized`` on the ``mlbench`` resource,
``read`` for GET and ``write`` for everything that changes state; ``@endpoint`` describes it for
the OpenAPI document (:mod:`mlbench.server.openapi`), which is generated from this module.
"""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath
from typing import Any

import nbformat
import tornado
from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import url_path_join

from mlbench.compute.registry import compute_backends
from mlbench.data.models import (
    DataPreview,
    DatastoreInfo,
    DatastoreTestResult,
    DataVersionInfo,
    LineageGraph,
)
from mlbench.environments.models import EnvironmentInfo, EnvironmentLog, GcResult
from mlbench.errors import ConflictError, InvalidInputError, NotFoundError
from mlbench.jobs.models import JobInfo, JobStatus
from mlbench.jobs.parameters import NotebookParameter
from mlbench.jobs.spec import JobSpec
from mlbench.models.models import ModelVersionInfo
from mlbench.notify.models import DeliveryInfo, NotificationInfo
from mlbench.pipelines.models import WhyInfo
from mlbench.schedules.models import NextTicks, ScheduleInfo
from mlbench.server import models as m
from mlbench.server.base import (
    READ,
    WRITE,
    MlbenchHandler,
    endpoint,
)
from mlbench.sweeps.models import SweepInfo, SweepSpec
from mlbench.tracking.query import (
    ExperimentNotFoundError,
    ExperimentPage,
    ExperimentSummary,
    MetricHistory,
    RunComparison,
    RunPage,
    RunSummary,
)

API = "mlbench/api/v1"
NOTEBOOK = {"type": "object", "description": "An nbformat 4 notebook."}


class OutputNotFoundError(NotFoundError):
    code = "output_not_found"


class DestinationExistsError(ConflictError):
    code = "destination_exists"


# -- meta --------------------------------------------------------------------------------------
class HealthHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(summary="Server and workspace status", tag="meta", action=READ, response=m.Health)
    async def get(self) -> None:
        from mlbench import __version__

        self.reply(
            m.Health(
                status="ok",
                version=__version__,
                workspace=str(self.ws.home),
                mlflow_ui_url=_mlflow_ui_url(self.ws.tracking_uri),
            )
        )


def _mlflow_ui_url(tracking_uri: str) -> str | None:
    """An MLflow server's address without any credentials in it; None for a local store."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(tracking_uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


class OpenAPIHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="This API's OpenAPI 3.1 document",
        tag="meta",
        action=READ,
        extra={"responses_schema": {"type": "object"}},
    )
    async def get(self) -> None:
        from mlbench.server.openapi import served_document

        self.finish(served_document(self.base_url))


# -- compute -----------------------------------------------------------------------------------
def _compute_list(ws: Any) -> m.ComputeList:
    return m.ComputeList(items=[ws.compute.status(t.name) for t in ws.compute.list()])


def _create_compute(ws: Any, req: m.CreateCompute) -> Any:
    _check_config_keys(req.config)
    ws.compute.create(req.name, req.kind, description=req.description, **req.config)
    return ws.compute.status(req.name)


def _update_compute(ws: Any, name: str, req: m.UpdateCompute) -> Any:
    _check_config_keys(req.config)
    ws.compute.update(name, description=req.description, **req.config)
    return ws.compute.status(name)


def _check_config_keys(config: dict[str, Any]) -> None:
    reserved = sorted({"name", "kind", "description"} & set(config))
    if reserved:
        raise InvalidInputError(
            f"{', '.join(reserved)} cannot be set inside config",
            hint="name, kind and description are top-level fields",
            details={"errors": [{"field": f"config.{k}", "message": "reserved"} for k in reserved]},
        )


class ComputeListHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="Compute targets with capacity, running jobs and GPU ids in use",
        tag="compute",
        action=READ,
        response=m.ComputeList,
    )
    async def get(self) -> None:
        self.reply(await self.call(_compute_list, self.ws))

    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Create a compute target",
        tag="compute",
        action=WRITE,
        body=m.CreateCompute,
        response=m.ComputeStatus,
        status=201,
        errors=(409,),
    )
    async def post(self) -> None:
        req = self.body(m.CreateCompute)
        self.reply(await self.call(_create_compute, self.ws, req), 201)


class ComputeHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(summary="One compute target", tag="compute", action=READ, response=m.ComputeStatus)
    async def get(self, name: str) -> None:
        self.reply(await self.call(self.ws.compute.status, name))

    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Change a compute target's settings",
        tag="compute",
        action=WRITE,
        body=m.UpdateCompute,
        response=m.ComputeStatus,
    )
    async def patch(self, name: str) -> None:
        req = self.body(m.UpdateCompute)
        self.reply(await self.call(_update_compute, self.ws, name, req))

    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Delete a compute target (not 'local'; none of its jobs active)",
        tag="compute",
        action=WRITE,
        status=204,
        errors=(409,),
    )
    async def delete(self, name: str) -> None:
        await self.call(self.ws.compute.delete, name)
        self.reply(None, 204)


class ComputeKindsHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="Compute kinds and the JSON schema of their settings",
        tag="compute",
        action=READ,
        response=m.ComputeKindList,
    )
    async def get(self) -> None:
        self.reply(_compute_kinds())


def _compute_kinds() -> m.ComputeKindList:
    items = []
    for kind in compute_backends.kinds():
        backend = compute_backends.get(kind)
        items.append(
            m.ComputeKind(
                kind=kind,
                description=backend.description,
                config_schema=backend.config_model.model_json_schema(),
            )
        )
    return m.ComputeKindList(items=items)


# -- kernels and notebooks ---------------------------------------------------------------------
def _kernels(default: str | None) -> m.KernelList:
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().get_all_specs()
    items = [
        m.KernelSpecInfo(
            name=name,
            display_name=str(s["spec"].get("display_name", name)),
            language=str(s["spec"].get("language", "")),
        )
        for name, s in sorted(specs.items())
    ]
    return m.KernelList(items=items, default=default if default in specs else None)


def _notebook_parameters(ws: Any, path: Path, rel: str) -> m.NotebookParameters:
    params = ws.jobs.parameters(path)  # validates the notebook first
    nb = nbformat.read(path, as_version=4)
    return m.NotebookParameters(
        path=rel,
        kernel_name=nb.metadata.get("kernelspec", {}).get("name"),
        has_parameters_cell=any(
            "parameters" in c.get("metadata", {}).get("tags", []) for c in nb.cells
        ),
        parameters=list(params.values()),
    )


class KernelsHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="Kernels a job can run on", tag="notebooks", action=READ, response=m.KernelList
    )
    async def get(self) -> None:
        default = getattr(self.kernel_manager, "default_kernel_name", None)
        self.reply(await self.call(_kernels, default))


class NotebookParametersHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="A notebook's typed parameters (from its cell tagged 'parameters')",
        tag="notebooks",
        action=READ,
        query=m.NotebookPathQuery,
        response=m.NotebookParameters,
        errors=(404,),
    )
    async def get(self) -> None:
        q = self.query(m.NotebookPathQuery)
        path = self.user_path(q.path)
        self.reply(await self.call(_notebook_parameters, self.ws, path, self.relative(path) or ""))


# -- jobs --------------------------------------------------------------------------------------
def _submit(ws: Any, spec: m.SubmitJob) -> JobInfo:
    return ws.jobs.submit(spec).info


def _rerun(ws: Any, job_id: str, req: m.RerunJob) -> JobInfo:
    changes = req.model_dump(exclude_unset=True, exclude={"parameters"})
    return ws.jobs.rerun(job_id, req.parameters, **changes).info


def _list_jobs(ws: Any, q: m.ListJobsQuery) -> tuple[list[JobInfo], str | None]:
    page = ws.jobs.list(
        status=q.status or None,
        compute=q.compute,
        experiment=q.experiment,
        tag=q.tag,
        text=q.text,
        limit=q.limit,
        cursor=q.cursor,
        oldest_first=q.sort == "created_at",
        parent=q.parent,
        top_level=q.top_level,
    )
    return [j._info for j in page], page.next_cursor


def _logs(ws: Any, job_id: str, q: m.LogsQuery) -> m.JobLogs:
    info = ws.jobs.info(job_id)  # first: when it is final, the log read next is complete
    text, offset = ws.jobs.logs(info.id, q.offset, tail=q.tail, max_bytes=q.max_bytes)
    return m.JobLogs(job_id=info.id, text=text, offset=offset, status=info.status)


def _progress(ws: Any, job_id: str) -> m.Progress:
    info = ws.jobs.info(job_id)
    done = info.status == JobStatus.COMPLETED
    return m.Progress(
        job_id=info.id,
        status=info.status,
        status_reason=info.status_reason,
        fraction=1.0 if done else info.progress.fraction,
        progress=info.progress,
    )


def _job_events(ws: Any, job_id: str, q: m.JobEventsQuery) -> m.EventPage:
    info = ws.jobs.info(job_id)
    items = ws.jobs.events(after=q.after, job_id=info.id, limit=q.limit)
    return m.EventPage(items=items, last_event_id=ws.jobs.last_event_id())


def _events(ws: Any, q: m.EventsQuery) -> m.EventPage:
    last = ws.jobs.last_event_id()
    items = ws.jobs.events(after=q.after, job_id=q.job_id, limit=q.limit)
    return m.EventPage(items=items, last_event_id=max(last, items[-1]["id"] if items else 0))


def _output_source(ws: Any, job_id: str) -> tuple[JobInfo, Path]:
    info = ws.jobs.info(job_id)
    path = ws.jobs.output_notebook_path(info.id)
    if path is None:
        raise OutputNotFoundError(
            f"job {info.id} has no output notebook yet ({info.status.value})",
            hint="the output notebook is written once the job starts running",
        )
    return info, path


def _copy_output(source: Path, dest: Path, overwrite: bool) -> None:
    if dest.exists() and not overwrite:
        raise DestinationExistsError(
            f"{dest.name} already exists", hint="pass overwrite: true or choose another path"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.mlbench-tmp")
    shutil.copyfile(source, tmp)
    tmp.replace(dest)


class JobBase(MlbenchHandler):
    def spec_paths(self, spec: JobSpec) -> dict[str, str | None]:
        """A spec's paths, given relative to the server root, as absolute paths inside it."""
        return {
            "notebook_path": str(self.user_path(spec.notebook_path))
            if spec.notebook_path
            else None,
            "code": str(self.user_path(spec.code, kind="dir")) if spec.code else None,
            "cwd": str(self.user_path(spec.cwd, kind="dir")) if spec.cwd else None,
        }

    def job(self, info: JobInfo) -> m.Job:
        """The REST view of a job: the core record plus its notebook's path under the root."""
        return m.Job.model_construct(
            **dict(info), notebook_relpath=self.relative(info.notebook_path)
        )


class JobsHandler(JobBase):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="List jobs, newest first, filtered and paged",
        tag="jobs",
        action=READ,
        query=m.ListJobsQuery,
        response=m.JobPage,
    )
    async def get(self) -> None:
        q = self.query(m.ListJobsQuery)
        infos, cursor = await self.call(_list_jobs, self.ws, q)
        self.reply(m.JobPage(items=[self.job(i) for i in infos], next_cursor=cursor))

    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Submit a notebook (path relative to the server root) as a job",
        tag="jobs",
        action=WRITE,
        body=m.SubmitJob,
        response=m.Job,
        status=201,
        errors=(404, 413),
    )
    async def post(self) -> None:
        req = self.body(m.SubmitJob)
        spec = req.model_copy(update=self.spec_paths(req))
        self.reply(self.job(await self.call(_submit, self.ws, spec)), 201)


class JobsDeleteHandler(JobBase):
    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Delete several finished jobs at once (all or none)",
        tag="jobs",
        action=WRITE,
        body=m.DeleteJobsRequest,
        response=m.DeleteJobsResult,
        errors=(404, 409, 413),
    )
    async def post(self) -> None:
        req = self.body(m.DeleteJobsRequest)
        deleted = await self.call(self.ws.jobs.delete_many, req.ids, delete_run=req.delete_runs)
        self.reply(m.DeleteJobsResult(deleted=deleted))


class JobHandler(JobBase):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(summary="One job", tag="jobs", action=READ, response=m.Job)
    async def get(self, job_id: str) -> None:
        self.reply(self.job(await self.call(self.ws.jobs.info, job_id)))

    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Delete a finished job, its files and (restorably) its MLflow run",
        tag="jobs",
        action=WRITE,
        query=m.DeleteJobQuery,
        status=204,
        errors=(409,),
    )
    async def delete(self, job_id: str) -> None:
        q = self.query(m.DeleteJobQuery)
        await self.call(self.ws.jobs.delete, job_id, delete_run=q.delete_run)
        self.reply(None, 204)


class JobCancelHandler(JobBase):
    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Cancel a job (a queued one at once; a running one is interrupted, then killed)",
        tag="jobs",
        action=WRITE,
        response=m.Job,
        errors=(409,),
    )
    async def post(self, job_id: str) -> None:
        self.reply(self.job(await self.call(self.ws.jobs.cancel, job_id)))


class JobRerunHandler(JobBase):
    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Run a job's notebook snapshot again, with overrides",
        tag="jobs",
        action=WRITE,
        body=m.RerunJob,
        response=m.Job,
        status=201,
        errors=(409, 413),
    )
    async def post(self, job_id: str) -> None:
        req = self.body(m.RerunJob)
        self.reply(self.job(await self.call(_rerun, self.ws, job_id, req)), 201)


def _job_parameters(ws: Any, job_id: str, relative: Any) -> m.NotebookParameters:
    info = ws.jobs.info(job_id)
    snapshot = ws.jobs.snapshot_path(info)
    if info.command is not None:  # a command's inputs: the values it ran with, untyped
        return m.NotebookParameters(
            path=relative(Path(info.cwd)) or info.cwd,
            has_parameters_cell=False,
            parameters=[
                NotebookParameter(name=k, type="any", nullable=True, default=v)
                for k, v in info.parameters.items()
            ],
        )
    recorded = Path(info.notebook_path)
    return _notebook_parameters(ws, snapshot, relative(recorded) or recorded.name)


class JobParametersHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="The typed parameters of a job's notebook snapshot (what a rerun runs)",
        tag="jobs",
        action=READ,
        response=m.NotebookParameters,
        errors=(409,),
    )
    async def get(self, job_id: str) -> None:
        self.reply(await self.call(_job_parameters, self.ws, job_id, self.relative))


class JobLogsHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="A job's log from a byte offset (or its tail)",
        tag="jobs",
        action=READ,
        query=m.LogsQuery,
        response=m.JobLogs,
    )
    async def get(self, job_id: str) -> None:
        q = self.query(m.LogsQuery)
        self.reply(await self.call(_logs, self.ws, job_id, q))


class JobProgressHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="A job's status and per-cell progress", tag="jobs", action=READ, response=m.Progress
    )
    async def get(self, job_id: str) -> None:
        self.reply(await self.call(_progress, self.ws, job_id))


class JobEventsHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="A job's recorded events (status changes and progress), oldest first",
        tag="events",
        action=READ,
        query=m.JobEventsQuery,
        response=m.EventPage,
    )
    async def get(self, job_id: str) -> None:
        q = self.query(m.JobEventsQuery)
        self.reply(await self.call(_job_events, self.ws, job_id, q))


class JobOutputHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="The executed output notebook (nbformat JSON)",
        tag="jobs",
        action=READ,
        extra={"responses_schema": NOTEBOOK},
    )
    async def get(self, job_id: str) -> None:
        _info, source = await self.call(_output_source, self.ws, job_id)
        self.finish(await self.call(source.read_bytes))

    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Copy the output notebook into the server's tree, for JupyterLab to open",
        tag="jobs",
        action=WRITE,
        body=m.CopyOutput,
        response=m.OutputCopied,
        status=201,
        errors=(409, 413),
    )
    async def post(self, job_id: str) -> None:
        req = self.body(m.CopyOutput)
        info, source = await self.call(_output_source, self.ws, job_id)
        rel = req.path or self.default_output_path(info)
        dest = self.user_path(rel, must_exist=False)
        if dest.is_dir():
            raise InvalidInputError(f"{rel!r} is a folder", hint="give a file path ending .ipynb")
        await self.call(_copy_output, source, dest, req.overwrite)
        self.reply(m.OutputCopied(path=self.relative(dest) or rel), 201)

    def default_output_path(self, info: JobInfo) -> str:
        folder = PurePosixPath(self.relative(Path(info.notebook_path).parent) or "")
        name = f"{Path(info.notebook_path).stem}-{info.id[:8]}.output.ipynb"
        return str(folder / name)


# -- events ------------------------------------------------------------------------------------
class EventsHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="Recorded job events after an id (the stream's polling twin)",
        tag="events",
        action=READ,
        query=m.EventsQuery,
        response=m.EventPage,
    )
    async def get(self) -> None:
        q = self.query(m.EventsQuery)
        self.reply(await self.call(_events, self.ws, q))


# -- experiments and runs ----------------------------------------------------------------------
_MAX_EXPERIMENT_ID = 2**63 - 1  # MLflow's SQL stores keep experiment ids as 64-bit integers


def _experiment_id(value: str) -> str:
    """``value``, or 404 when it is a number no store can hold (MLflow's SQL store would raise
    OverflowError binding it: a 500)."""
    if value.isascii() and value.isdigit() and (len(value) > 19 or int(value) > _MAX_EXPERIMENT_ID):
        raise ExperimentNotFoundError(f"experiment {value[:40]!r} does not exist")
    return value


class ExperimentsHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="Experiments, most recently updated first",
        tag="experiments",
        action=READ,
        query=m.ListExperimentsQuery,
        response=ExperimentPage,
    )
    async def get(self) -> None:
        q = self.query(m.ListExperimentsQuery)
        queries = self.mlbench.queries
        self.reply(
            await self.call(queries.experiments, text=q.text, limit=q.limit, cursor=q.cursor)
        )


class ExperimentHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(summary="One experiment", tag="experiments", action=READ, response=ExperimentSummary)
    async def get(self, experiment_id: str) -> None:
        queries = self.mlbench.queries
        self.reply(await self.call(queries.experiment, _experiment_id(experiment_id)))


class RunsHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="Runs of an experiment with params and latest metrics, sortable by a metric",
        tag="experiments",
        action=READ,
        query=m.ListRunsQuery,
        response=RunPage,
    )
    async def get(self, experiment_id: str) -> None:
        q = self.query(m.ListRunsQuery)
        queries = self.mlbench.queries
        self.reply(await self.call(queries.runs, _experiment_id(experiment_id), **q.model_dump()))


class RunHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(summary="One run", tag="experiments", action=READ, response=RunSummary)
    async def get(self, run_id: str) -> None:
        self.reply(await self.call(self.mlbench.queries.run, run_id))


class MetricHistoryHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="Metric histories of runs, downsampled server-side (extremes kept)",
        tag="experiments",
        action=READ,
        query=m.MetricHistoryQuery,
        response=MetricHistory,
        errors=(404,),
    )
    async def get(self) -> None:
        q = self.query(m.MetricHistoryQuery)
        queries = self.mlbench.queries
        self.reply(
            await self.call(queries.metric_history, q.run_id, q.key, max_points=q.max_points)
        )


class CompareRunsHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="Runs side by side: params (flagged where they differ) and latest metrics",
        tag="experiments",
        action=READ,
        query=m.CompareRunsQuery,
        response=RunComparison,
        errors=(404,),
    )
    async def get(self) -> None:
        q = self.query(m.CompareRunsQuery)
        self.reply(await self.call(self.mlbench.queries.compare, q.run_id))


# -- data --------------------------------------------------------------------------------------
def _page(
    items: list[Any], key: str, limit: int, cursor: str | None
) -> tuple[list[Any], str | None]:
    """Items sorted by ``key`` after ``cursor`` (the last key of the previous page)."""
    if cursor:
        items = [i for i in items if str(getattr(i, key)) > cursor]
    more = len(items) > limit
    items = items[:limit]
    return items, str(getattr(items[-1], key)) if more and items else None


def _datastores(ws: Any) -> m.DatastorePage:
    return m.DatastorePage(items=ws.datastores.list())


def _create_datastore(ws: Any, req: m.CreateDatastore) -> DatastoreInfo:
    return ws.datastores.create(
        req.name,
        req.kind,
        description=req.description,
        credentials=req.credentials,
        read_only=req.read_only,
        verify=req.verify,
        **req.config,
    )


def _list_data(ws: Any, q: m.ListDataQuery) -> m.DataVersionPage:
    infos = ws.data.list(text=q.text, include_archived=q.include_archived)
    items, cursor = _page(infos, "name", q.limit, q.cursor)
    return m.DataVersionPage(items=items, next_cursor=cursor)


def _versions(ws: Any, name: str, q: m.ListVersionsQuery) -> m.DataVersionPage:
    infos = ws.data.versions(name, include_archived=q.include_archived)
    if q.cursor:
        if not (q.cursor.isascii() and q.cursor.isdigit()):
            raise InvalidInputError("invalid cursor", hint="pass next_cursor unchanged")
        infos = [i for i in infos if i.version < int(q.cursor)]
    more = len(infos) > q.limit
    infos = infos[: q.limit]
    return m.DataVersionPage(
        items=infos, next_cursor=str(infos[-1].version) if more and infos else None
    )


def _version_ref(name: str, version: str) -> str:
    if not (version.isascii() and version.isdigit()) and version != "latest":
        raise InvalidInputError(
            f"invalid version {version!r}", hint="a version is a positive number, or latest"
        )
    return f"{name}:{version}"


def _create_data(ws: Any, req: m.CreateData, local: Path | None) -> DataVersionInfo:
    if local is None and "://" not in str(req.uri):
        raise InvalidInputError(
            f"uri {req.uri!r} has no scheme",
            hint="e.g. datastore://NAME/path or s3://bucket/key; local files go in path",
        )
    source = str(local) if local is not None else str(req.uri)
    asset = ws.data.create(
        req.name,
        source,
        kind=req.kind,
        datastore=req.datastore,
        format=req.format,
        description=req.description,
        tags=req.tags,
    )
    return asset.info


def _archive_data(ws: Any, name: str, req: m.ArchiveData) -> m.DataVersionPage:
    ref = f"{name}:{req.version}" if req.version else name
    return m.DataVersionPage(items=ws.data.archive(ref, restore=req.restore))


class DatastoresHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="Datastores (credentials by name only, never their values)",
        tag="data",
        action=READ,
        response=m.DatastorePage,
    )
    async def get(self) -> None:
        self.reply(await self.call(_datastores, self.ws))

    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Create a datastore; it is tested first unless verify is false",
        tag="data",
        action=WRITE,
        body=m.CreateDatastore,
        response=DatastoreInfo,
        status=201,
        errors=(409, 413, 502),
    )
    async def post(self) -> None:
        req = self.body(m.CreateDatastore)
        if req.kind == "local":  # like every path of this API: inside the server root
            folder = self.user_path(str(req.config.get("path", "")), kind="dir")
            req = req.model_copy(update={"config": {**req.config, "path": str(folder)}})
        self.reply(await self.call(_create_datastore, self.ws, req), 201)


class DatastoreHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="One datastore, secrets never included",
        tag="data",
        action=READ,
        response=DatastoreInfo,
        errors=(404,),
    )
    async def get(self, name: str) -> None:
        self.reply(await self.call(self.ws.datastores.get, name))

    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Delete a datastore no data version lives on (its data is left in place)",
        tag="data",
        action=WRITE,
        status=204,
        errors=(404, 409),
    )
    async def delete(self, name: str) -> None:
        await self.call(self.ws.datastores.delete, name)
        self.reply(None, 204)


class DatastoreTestHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Test a datastore: reachable, can list, can write (when writable)",
        tag="data",
        action=WRITE,
        response=DatastoreTestResult,
        errors=(404,),
    )
    async def post(self, name: str) -> None:
        self.reply(await self.call(self.ws.datastores.test, name))


class DataAssetsHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="Data assets, the newest version of each, by name",
        tag="data",
        action=READ,
        query=m.ListDataQuery,
        response=m.DataVersionPage,
    )
    async def get(self) -> None:
        q = self.query(m.ListDataQuery)
        self.reply(await self.call(_list_data, self.ws, q))

    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Register a data version from a path under the server root (uploaded) or a "
        "URI on a datastore (referenced); identical content returns the existing version",
        tag="data",
        action=WRITE,
        body=m.CreateData,
        response=DataVersionInfo,
        status=201,
        errors=(404, 413, 502),
    )
    async def post(self) -> None:
        req = self.body(m.CreateData)
        if (req.path is None) == (req.uri is None):
            raise InvalidInputError(
                "give either path or uri", hint="path: under the server root; uri: on a datastore"
            )
        local = self.user_path(req.path, kind="any") if req.path is not None else None
        self.reply(await self.call(_create_data, self.ws, req, local), 201)


class DataAssetHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="A data asset's versions, newest first",
        tag="data",
        action=READ,
        query=m.ListVersionsQuery,
        response=m.DataVersionPage,
        errors=(404,),
    )
    async def get(self, name: str) -> None:
        q = self.query(m.ListVersionsQuery)
        self.reply(await self.call(_versions, self.ws, name, q))


class DataArchiveHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Archive (or restore) a version or a whole asset; the data is kept",
        tag="data",
        action=WRITE,
        body=m.ArchiveData,
        response=m.DataVersionPage,
        errors=(404,),
    )
    async def post(self, name: str) -> None:
        req = self.body(m.ArchiveData)
        self.reply(await self.call(_archive_data, self.ws, name, req))


class DataAssetVersionHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="One version: URI, hash, size, file count, schema and producing job",
        tag="data",
        action=READ,
        response=DataVersionInfo,
        errors=(404,),
    )
    async def get(self, name: str, version: str) -> None:
        self.reply(await self.call(self.ws.data.info, _version_ref(name, version)))


class DataPreviewHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="A version's first rows (tables) or its files (files and folders)",
        tag="data",
        action=READ,
        query=m.PreviewQuery,
        response=DataPreview,
        errors=(404, 502),
    )
    async def get(self, name: str, version: str) -> None:
        q = self.query(m.PreviewQuery)
        self.reply(await self.call(self.ws.data.preview, _version_ref(name, version), q.limit))


class DataLineageHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="Lineage: the jobs that made and read the version, transitively (nodes, edges)",
        tag="data",
        action=READ,
        query=m.LineageQuery,
        response=LineageGraph,
        errors=(404,),
    )
    async def get(self, name: str, version: str) -> None:
        q = self.query(m.LineageQuery)
        ref = _version_ref(name, version)
        self.reply(await self.call(self.ws.data.lineage, ref, depth=q.depth))


# -- the route table ---------------------------------------------------------------------------
def routes() -> list[tuple[str, type[Any]]]:
    """(path template relative to the API root, handler); more specific paths first."""
    from mlbench.server.events import EventStreamHandler
    from mlbench.server.handlers_automl import routes as automl_routes
    from mlbench.server.handlers_endpoints import routes as endpoint_routes
    from mlbench.server.handlers_monitors import routes as monitor_routes

    return [
        ("/health", HealthHandler),
        ("/openapi.json", OpenAPIHandler),
        ("/compute", ComputeListHandler),
        ("/compute/{name}", ComputeHandler),
        ("/compute-kinds", ComputeKindsHandler),
        ("/kernels", KernelsHandler),
        ("/notebooks/parameters", NotebookParametersHandler),
        ("/jobs", JobsHandler),
        ("/jobs/delete", JobsDeleteHandler),
        ("/jobs/{job_id}", JobHandler),
        ("/jobs/{job_id}/cancel", JobCancelHandler),
        ("/jobs/{job_id}/rerun", JobRerunHandler),
        ("/jobs/{job_id}/parameters", JobParametersHandler),
        ("/jobs/{job_id}/logs", JobLogsHandler),
        ("/jobs/{job_id}/progress", JobProgressHandler),
        ("/jobs/{job_id}/events", JobEventsHandler),
        ("/jobs/{job_id}/output", JobOutputHandler),
        ("/events", EventsHandler),
        ("/events/stream", EventStreamHandler),
        ("/experiments", ExperimentsHandler),
        ("/experiments/{experiment_id}", ExperimentHandler),
        ("/experiments/{experiment_id}/runs", RunsHandler),
        ("/runs/metric-history", MetricHistoryHandler),
        ("/runs/compare", CompareRunsHandler),
        ("/runs/{run_id}", RunHandler),
        ("/datastores", DatastoresHandler),
        ("/datastores/{name}", DatastoreHandler),
        ("/datastores/{name}/test", DatastoreTestHandler),
        ("/data", DataAssetsHandler),
        ("/data/{name}", DataAssetHandler),
        ("/data/{name}/archive", DataArchiveHandler),
        ("/data/{name}/versions/{version}", DataAssetVersionHandler),
        ("/data/{name}/versions/{version}/preview", DataPreviewHandler),
        ("/data/{name}/versions/{version}/lineage", DataLineageHandler),
        ("/environments", EnvironmentsHandler),
        ("/environments/_gc", EnvironmentGcHandler),  # '_' starts no environment name
        ("/environments/{name}", EnvironmentHandler),
        ("/environments/{name}/versions/{version}", EnvironmentVersionHandler),
        ("/environments/{name}/versions/{version}/build", EnvironmentBuildHandler),
        ("/environments/{name}/versions/{version}/log", EnvironmentLogHandler),
        ("/sweeps", SweepsHandler),
        ("/sweeps/{sweep_id}", SweepHandler),
        ("/sweeps/{sweep_id}/cancel", SweepCancelHandler),
        ("/sweeps/{sweep_id}/trials", SweepTrialsHandler),
        ("/schedules", SchedulesHandler),
        ("/schedules/_next", SchedulePreviewHandler),  # '_' starts no schedule name
        ("/schedules/{ref}", ScheduleHandler),
        ("/schedules/{ref}/pause", SchedulePauseHandler),
        ("/schedules/{ref}/resume", ScheduleResumeHandler),
        ("/schedules/{ref}/runs", ScheduleRunsHandler),
        ("/schedules/{ref}/next", ScheduleNextHandler),
        ("/notifications", NotificationsHandler),
        ("/notifications/{ref}", NotificationHandler),
        ("/notifications/{ref}/test", NotificationTestHandler),
        ("/notifications/{ref}/deliveries", NotificationDeliveriesHandler),
        ("/pipelines", PipelinesHandler),
        ("/pipelines/{run_id}", PipelineHandler),
        ("/pipelines/{run_id}/cancel", PipelineCancelHandler),
        ("/pipelines/{run_id}/rerun", PipelineRerunHandler),
        ("/pipelines/{run_id}/steps", PipelineStepsHandler),
        ("/pipelines/{run_id}/steps/{step}/why", PipelineWhyHandler),
        ("/models", ModelsHandler),
        ("/models/{model}", ModelHandler),
        ("/models/{model}/aliases/{alias}", ModelAliasHandler),
        ("/models/{model}/versions/{version}", ModelVersionHandler),
        *automl_routes(),
        *monitor_routes(),
        *endpoint_routes(),
    ]


def _pattern(template: str) -> str:
    out = template
    for part in template.split("/"):
        if part.startswith("{") and part.endswith("}"):
            out = out.replace(part, f"(?P<{part[1:-1]}>[^/]+)")
    return out + "/?"


class UnknownRouteHandler(MlbenchHandler):
    """Anything else under the API root: a 404 in the API's error shape, not an HTML page."""

    @tornado.web.authenticated
    @authorized(READ)
    async def get(self, path: str) -> None:
        raise NotFoundError(f"no such API route: /{path}", hint="see the OpenAPI document")

    @tornado.web.authenticated
    @authorized(WRITE)
    async def post(self, path: str) -> None:
        await self.get(path)

    put = patch = delete = post


def route_handlers() -> list[tuple[str, type[Any]]]:
    """Tornado URL specs (relative to the server's base_url, which jupyter-server adds)."""
    specs: list[tuple[str, type[Any]]] = [
        (url_path_join("/", API, _pattern(t)), h) for t, h in routes()
    ]
    specs.append((url_path_join("/", API, "(?P<path>.*)"), UnknownRouteHandler))
    return specs


# -- environments ------------------------------------------------------------------------------
def _create_environment(ws: Any, req: m.CreateEnvironment) -> EnvironmentInfo:
    return ws.environments.create(
        req.name,
        requirements=req.requirements,
        conda_yaml=req.conda_yaml,
        pyproject=req.pyproject,
        python=req.python,
        description=req.description,
        refresh=req.refresh,
    )


def _env_ref(name: str, version: str) -> str:
    if not (version.isascii() and version.isdigit()):
        raise InvalidInputError(f"invalid version {version!r}", hint="a version is a number")
    return f"{name}:{version}"


class EnvironmentsHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="Environments, the newest version of each, by name",
        tag="environments",
        action=READ,
        response=m.EnvironmentPage,
    )
    async def get(self) -> None:
        items = await self.call(self.ws.environments.list)
        self.reply(m.EnvironmentPage(items=items))

    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Create an environment version and build it (an identical spec, or one with "
        "the same lock, returns the existing version without building)",
        tag="environments",
        action=WRITE,
        body=m.CreateEnvironment,
        response=EnvironmentInfo,
        status=201,
        errors=(409, 413),
    )
    async def post(self) -> None:
        req = self.body(m.CreateEnvironment)
        self.reply(await self.call(_create_environment, self.ws, req), 201)


class EnvironmentHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="An environment's versions, newest first",
        tag="environments",
        action=READ,
        response=m.EnvironmentPage,
        errors=(404,),
    )
    async def get(self, name: str) -> None:
        items = await self.call(self.ws.environments.versions, name)
        self.reply(m.EnvironmentPage(items=items))

    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Delete every version of an environment (refused while a job uses one)",
        tag="environments",
        action=WRITE,
        status=204,
        errors=(404, 409),
    )
    async def delete(self, name: str) -> None:
        await self.call(self.ws.environments.delete, name)
        self.reply(None, 204)


class EnvironmentVersionHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="One version: status, spec, lock (packages), hash, kernel",
        tag="environments",
        action=READ,
        response=EnvironmentInfo,
        errors=(404,),
    )
    async def get(self, name: str, version: str) -> None:
        self.reply(await self.call(self.ws.environments.get, _env_ref(name, version)))

    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Delete one version (refused while a job uses it)",
        tag="environments",
        action=WRITE,
        status=204,
        errors=(404, 409),
    )
    async def delete(self, name: str, version: str) -> None:
        await self.call(self.ws.environments.delete, _env_ref(name, version))
        self.reply(None, 204)


class EnvironmentBuildHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Build a version again from its lock (after a failed build or a removed venv)",
        tag="environments",
        action=WRITE,
        response=EnvironmentInfo,
        errors=(404, 409),
    )
    async def post(self, name: str, version: str) -> None:
        self.reply(await self.call(self.ws.environments.build, _env_ref(name, version)))


class EnvironmentLogHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="A version's build log from offset (readable while it builds)",
        tag="environments",
        action=READ,
        query=m.EnvironmentLogQuery,
        response=EnvironmentLog,
        errors=(404,),
    )
    async def get(self, name: str, version: str) -> None:
        q = self.query(m.EnvironmentLogQuery)
        ref = _env_ref(name, version)
        self.reply(await self.call(self.ws.environments.log, ref, q.offset))


class EnvironmentGcHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Remove venvs and kernelspecs no environment version refers to",
        tag="environments",
        action=WRITE,
        response=GcResult,
    )
    async def post(self) -> None:
        self.reply(await self.call(self.ws.environments.gc))


# -- sweeps ------------------------------------------------------------------------------------
def _list_sweeps(ws: Any, q: m.ListSweepsQuery) -> Any:
    return ws.sweeps.list(
        status=q.status.value if q.status else None,
        compute=q.compute,
        limit=q.limit,
        cursor=q.cursor,
    )


def _submit_sweep(ws: Any, spec: m.SubmitSweep) -> SweepInfo:
    return ws.sweeps.submit(SweepSpec.model_validate(spec.model_dump())).info


def _trials(ws: Any, sweep_id: str, q: m.TrialsQuery) -> m.TrialList:
    status = q.status.value if q.status else None
    return m.TrialList(items=ws.sweeps.trials(sweep_id, status=status))


class SweepBase(JobBase):
    def sweep(self, info: SweepInfo) -> m.Sweep:
        return m.Sweep.model_construct(
            **dict(info), notebook_relpath=self.relative(info.notebook_path)
        )


class SweepsHandler(SweepBase):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="List sweeps, newest first",
        tag="sweeps",
        action=READ,
        query=m.ListSweepsQuery,
        response=m.SweepList,
    )
    async def get(self) -> None:
        page = await self.call(_list_sweeps, self.ws, self.query(m.ListSweepsQuery))
        items = [self.sweep(i) for i in page.items]
        self.reply(m.SweepList(items=items, next_cursor=page.next_cursor))

    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Submit a sweep: a notebook (path relative to the server root) run over a "
        "search space of its parameters; checked whole before anything is stored",
        tag="sweeps",
        action=WRITE,
        body=m.SubmitSweep,
        response=m.Sweep,
        status=201,
        errors=(404, 413),
    )
    async def post(self) -> None:
        req = self.body(m.SubmitSweep)
        trial = req.trial.model_copy(update=self.spec_paths(req.trial))
        spec = req.model_copy(update={"trial": trial})
        self.reply(self.sweep(await self.call(_submit_sweep, self.ws, spec)), 201)


class SweepHandler(SweepBase):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(summary="One sweep", tag="sweeps", action=READ, response=m.Sweep, errors=(404,))
    async def get(self, sweep_id: str) -> None:
        self.reply(self.sweep(await self.call(self.ws.sweeps.info, sweep_id)))

    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Delete a finished sweep, its trials' jobs and (restorably) its MLflow runs",
        tag="sweeps",
        action=WRITE,
        query=m.DeleteSweepQuery,
        status=204,
        errors=(404, 409),
    )
    async def delete(self, sweep_id: str) -> None:
        q = self.query(m.DeleteSweepQuery)
        await self.call(self.ws.sweeps.delete, sweep_id, delete_runs=q.delete_runs)
        self.reply(None, 204)


class SweepCancelHandler(SweepBase):
    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Cancel a sweep: no new trials; running ones are interrupted",
        tag="sweeps",
        action=WRITE,
        response=m.Sweep,
        errors=(404,),
    )
    async def post(self, sweep_id: str) -> None:
        self.reply(self.sweep(await self.call(self.ws.sweeps.cancel, sweep_id)))


class SweepTrialsHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="A sweep's trials in order: parameters, state, objective, metrics, and why a "
        "trial was stopped early",
        tag="sweeps",
        action=READ,
        query=m.TrialsQuery,
        response=m.TrialList,
        errors=(404,),
    )
    async def get(self, sweep_id: str) -> None:
        q = self.query(m.TrialsQuery)
        self.reply(await self.call(_trials, self.ws, sweep_id, q))


# -- schedules ---------------------------------------------------------------------------------
def _after(text: str | None) -> Any:
    from datetime import datetime

    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(f"cannot read time {text!r}", hint="use ISO 8601") from None


def _preview(q: m.SchedulePreviewQuery) -> Any:
    from mlbench.schedules.service import preview

    if (q.cron is None) == (q.frequency is None):
        raise InvalidInputError("give cron, or frequency (and interval)")
    trigger: dict[str, Any] = {"timezone": q.timezone}
    if q.cron is not None:
        trigger["cron"] = q.cron
    else:
        trigger["recurrence"] = {"frequency": q.frequency, "interval": q.interval}
    return preview(trigger, q.count, _after(q.after))


class ScheduleBase(MlbenchHandler):
    def action_paths(self, spec: m.CreateSchedule) -> m.CreateSchedule:
        """The job's (or the sweep trial's) paths, relative to the server root, made absolute."""
        if spec.job is not None:
            job = spec.job.model_copy(update=_given(self.job_paths(spec.job)))
            return spec.model_copy(update={"job": job})
        if isinstance(spec.pipeline, str):  # a pipeline YAML (a mapping's paths: the cwd's)
            return spec.model_copy(update={"pipeline": str(self.user_path(spec.pipeline))})
        sweep = dict(spec.sweep or {})
        trial = dict(sweep.get("trial") or {})
        for key, kind in (("notebook_path", "file"), ("notebook", "file"), ("cwd", "dir")):
            if isinstance(trial.get(key), str):
                trial[key] = str(self.user_path(trial[key], kind=kind))
        sweep["trial"] = trial
        return spec.model_copy(update={"sweep": sweep})

    def job_paths(self, job: JobSpec) -> dict[str, str | None]:
        return {
            "notebook_path": str(self.user_path(job.notebook_path)) if job.notebook_path else None,
            "code": str(self.user_path(job.code, kind="dir")) if job.code else None,
            "cwd": str(self.user_path(job.cwd, kind="dir")) if job.cwd else None,
        }


def _given(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class SchedulesHandler(ScheduleBase):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(summary="List schedules", tag="schedules", action=READ, response=m.ScheduleList)
    async def get(self) -> None:
        self.reply(m.ScheduleList(items=await self.call(self.ws.schedules.list)))

    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Create a schedule: a cron or recurrence rule in a time zone that starts a job, "
        "a sweep or a pipeline (fired by the scheduler process, not by this server)",
        tag="schedules",
        action=WRITE,
        body=m.CreateSchedule,
        response=ScheduleInfo,
        status=201,
        errors=(404, 409),
    )
    async def post(self) -> None:
        spec = self.action_paths(self.body(m.CreateSchedule))
        body = spec.model_dump(exclude_unset=True)
        self.reply(await self.call(self.ws.schedules.create, body), 201)


class SchedulePreviewHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="The next fire times of a rule, without creating a schedule",
        tag="schedules",
        action=READ,
        query=m.SchedulePreviewQuery,
        response=NextTicks,
    )
    async def get(self) -> None:
        self.reply(await self.call(_preview, self.query(m.SchedulePreviewQuery)))


class ScheduleHandler(ScheduleBase):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="One schedule (by id or name)", tag="schedules", action=READ,
        response=ScheduleInfo, errors=(404,),
    )  # fmt: skip
    async def get(self, ref: str) -> None:
        self.reply(await self.call(self.ws.schedules.info, ref))

    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Delete a schedule and its run records (the jobs it started stay)",
        tag="schedules", action=WRITE, status=204, errors=(404,),
    )  # fmt: skip
    async def delete(self, ref: str) -> None:
        await self.call(self.ws.schedules.delete, ref)
        self.reply(None, 204)


class SchedulePauseHandler(ScheduleBase):
    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Pause a schedule", tag="schedules", action=WRITE, response=ScheduleInfo,
        errors=(404,),
    )  # fmt: skip
    async def post(self, ref: str) -> None:
        self.reply(await self.call(self.ws.schedules.pause, ref))


class ScheduleResumeHandler(ScheduleBase):
    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Resume a schedule from its next tick (ticks while paused are not missed runs)",
        tag="schedules", action=WRITE, response=ScheduleInfo, errors=(404,),
    )  # fmt: skip
    async def post(self, ref: str) -> None:
        self.reply(await self.call(self.ws.schedules.resume, ref))


class ScheduleRunsHandler(ScheduleBase):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="A schedule's runs: each tick fired (the job or sweep it started), failed or "
        "missed, newest first",
        tag="schedules", action=READ, query=m.ScheduleRunsQuery, response=m.ScheduleRunList,
        errors=(404,),
    )  # fmt: skip
    async def get(self, ref: str) -> None:
        q = self.query(m.ScheduleRunsQuery)
        items = await self.call(self.ws.schedules.runs, ref, limit=q.limit)
        self.reply(m.ScheduleRunList(items=items))


class ScheduleNextHandler(ScheduleBase):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="A schedule's next fire times, in its time zone",
        tag="schedules", action=READ, query=m.NextTicksQuery, response=NextTicks,
        errors=(404,),
    )  # fmt: skip
    async def get(self, ref: str) -> None:
        q = self.query(m.NextTicksQuery)
        self.reply(await self.call(self.ws.schedules.next, ref, q.count, _after(q.after)))


# -- notifications -----------------------------------------------------------------------------
class NotificationsHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="List notification rules (secrets by name only)",
        tag="notifications", action=READ, response=m.NotificationList,
    )  # fmt: skip
    async def get(self) -> None:
        self.reply(m.NotificationList(items=await self.call(self.ws.notifications.list)))

    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Add a notification rule: events sent to a signed webhook, Slack or email",
        tag="notifications", action=WRITE, body=m.AddNotification, response=NotificationInfo,
        status=201, errors=(409,),
    )  # fmt: skip
    async def post(self) -> None:
        spec = self.body(m.AddNotification)
        body = spec.model_dump(exclude_unset=True)
        self.reply(await self.call(self.ws.notifications.add, body), 201)


class NotificationHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="One notification rule", tag="notifications", action=READ,
        response=NotificationInfo, errors=(404,),
    )  # fmt: skip
    async def get(self, ref: str) -> None:
        self.reply(await self.call(self.ws.notifications.info, ref))

    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Delete a notification rule, its secrets and its delivery log",
        tag="notifications", action=WRITE, status=204, errors=(404,),
    )  # fmt: skip
    async def delete(self, ref: str) -> None:
        await self.call(self.ws.notifications.delete, ref)
        self.reply(None, 204)


class NotificationTestHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Send a test notification through a rule now (one attempt, recorded)",
        tag="notifications", action=WRITE, response=DeliveryInfo, errors=(404,),
    )  # fmt: skip
    async def post(self, ref: str) -> None:
        self.reply(await self.call(self.ws.notifications.test, ref))


class NotificationDeliveriesHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="A rule's deliveries, newest first, each with every attempt",
        tag="notifications", action=READ, query=m.DeliveriesQuery, response=m.DeliveryList,
        errors=(404,),
    )  # fmt: skip
    async def get(self, ref: str) -> None:
        q = self.query(m.DeliveriesQuery)
        items = await self.call(self.ws.notifications.deliveries, ref, limit=q.limit)
        self.reply(m.DeliveryList(items=items))


# -- pipelines ---------------------------------------------------------------------------------
def _pipeline(ws: Any, run_id: str) -> m.PipelineRun:
    info = ws.pipelines.info(run_id)
    return m.PipelineRun(**dict(info), steps=ws.pipelines.steps(info.id))


def _run_pipeline(ws: Any, req: m.SubmitPipeline, check: Any) -> m.PipelineRun:
    from mlbench.pipelines.spec import parse_pipeline

    spec = ws.pipelines.load(req.path) if req.path else parse_pipeline(req.spec or {})
    for step in spec.jobs.values():  # every file a step runs lies under the server root
        for path, kind in ((step.notebook, "file"), (step.code, "dir")):
            if path is not None:
                check(path, kind)
    run = ws.pipelines.run(
        spec,
        only=req.only,
        from_step=req.from_step,
        to_step=req.to_step,
        force_rerun=req.force_rerun,
    )
    return _pipeline(ws, run.id)


def _rerun_pipeline(ws: Any, run_id: str, req: m.RerunPipeline) -> m.PipelineRun:
    run = ws.pipelines.rerun(run_id, only=req.only, from_step=req.from_step, to_step=req.to_step)
    return _pipeline(ws, run.id)


class PipelineBase(MlbenchHandler):
    def inside_root(self, path: str, kind: str) -> None:
        """An absolute path a pipeline names, refused unless it lies under the server root."""
        try:
            rel = Path(path).resolve().relative_to(self.root_dir)
        except ValueError:
            raise InvalidInputError(
                f"{path} is outside the server root",
                hint="keep the pipeline's notebooks and code under the server root",
            ) from None
        self.user_path(rel.as_posix(), kind=kind)

    def resolve_spec(self, req: m.SubmitPipeline) -> m.SubmitPipeline:
        if (req.path is None) == (req.spec is None):
            raise InvalidInputError("give the pipeline's path or an inline spec (not both)")
        if req.path is not None:
            return req.model_copy(update={"path": str(self.user_path(req.path))})
        spec = dict(req.spec or {})
        jobs = {}
        for name, given in dict(spec.get("jobs") or {}).items():
            step = dict(given) if isinstance(given, dict) else given
            if isinstance(step, dict):
                for key, kind in (("notebook", "file"), ("code", "dir")):
                    if isinstance(step.get(key), str):
                        step[key] = str(self.user_path(step[key], kind=kind))
            jobs[name] = step
        spec["jobs"] = jobs
        return req.model_copy(update={"spec": spec})


class PipelinesHandler(PipelineBase):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="List pipeline runs, newest first", tag="pipelines", action=READ,
        query=m.ListPipelinesQuery, response=m.PipelineRunList,
    )  # fmt: skip
    async def get(self) -> None:
        q = self.query(m.ListPipelinesQuery)
        page = await self.call(
            self.ws.pipelines.list,
            status=q.status.value if q.status else None,
            name=q.name,
            limit=q.limit,
            cursor=q.cursor,
        )
        self.reply(m.PipelineRunList(items=page.items, next_cursor=page.next_cursor))

    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Run a pipeline (a file or an inline spec, paths relative to the server root); "
        "checked whole before anything is stored",
        tag="pipelines", action=WRITE, body=m.SubmitPipeline, response=m.PipelineRun,
        status=201, errors=(404,),
    )  # fmt: skip
    async def post(self) -> None:
        req = self.resolve_spec(self.body(m.SubmitPipeline))
        self.reply(await self.call(_run_pipeline, self.ws, req, self.inside_root), 201)


class PipelineHandler(PipelineBase):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="One pipeline run with its steps", tag="pipelines", action=READ,
        response=m.PipelineRun, errors=(404,),
    )  # fmt: skip
    async def get(self, run_id: str) -> None:
        self.reply(await self.call(_pipeline, self.ws, run_id))

    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Delete a finished pipeline run, its steps' jobs and (restorably) its MLflow "
        "runs; the data versions its steps made stay",
        tag="pipelines", action=WRITE, query=m.DeletePipelineQuery, status=204,
        errors=(404, 409),
    )  # fmt: skip
    async def delete(self, run_id: str) -> None:
        q = self.query(m.DeletePipelineQuery)
        await self.call(self.ws.pipelines.delete, run_id, delete_runs=q.delete_runs)
        self.reply(None, 204)


class PipelineCancelHandler(PipelineBase):
    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Cancel a pipeline run: running steps are interrupted, the rest skipped",
        tag="pipelines", action=WRITE, response=m.PipelineRun, errors=(404,),
    )  # fmt: skip
    async def post(self, run_id: str) -> None:
        info = await self.call(self.ws.pipelines.cancel, run_id)
        self.reply(await self.call(_pipeline, self.ws, info.id))


class PipelineRerunHandler(PipelineBase):
    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Rerun a pipeline run's snapshots: a selection of steps (--from/--only/--to), "
        "or the steps that did not succeed",
        tag="pipelines", action=WRITE, body=m.RerunPipeline, response=m.PipelineRun,
        status=201, errors=(404, 409),
    )  # fmt: skip
    async def post(self, run_id: str) -> None:
        req = self.body(m.RerunPipeline)
        self.reply(await self.call(_rerun_pipeline, self.ws, run_id, req), 201)


class PipelineStepsHandler(PipelineBase):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="A run's steps: state, job, reuse, key components and outputs",
        tag="pipelines", action=READ, response=m.StepList, errors=(404,),
    )  # fmt: skip
    async def get(self, run_id: str) -> None:
        self.reply(m.StepList(items=await self.call(self.ws.pipelines.steps, run_id)))


class PipelineWhyHandler(PipelineBase):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="Why a step was (not) reused: the key components that changed, with diffs",
        tag="pipelines", action=READ, response=WhyInfo, errors=(404,),
    )  # fmt: skip
    async def get(self, run_id: str, step: str) -> None:
        self.reply(await self.call(self.ws.pipelines.why, run_id, step))


# -- models ------------------------------------------------------------------------------------
def _model_ref(model: str, version: str) -> str:
    if not (version.isascii() and version.isdigit()):
        raise InvalidInputError(f"invalid version {version!r}", hint="a version is a number")
    return f"{model}:{version}"


class ModelsHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(summary="Registered models", tag="models", action=READ, response=m.ModelList)
    async def get(self) -> None:
        self.reply(m.ModelList(items=await self.call(self.ws.models.list)))

    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Register a new version of a model from a job's or a run's logged model",
        tag="models",
        action=WRITE,
        body=m.RegisterModel,
        response=ModelVersionInfo,
        status=201,
        errors=(404, 409),
    )
    async def post(self) -> None:
        req = self.body(m.RegisterModel)
        info = await self.call(
            self.ws.models.register,
            req.name,
            job=req.job_id,
            run=req.run_id,
            path=req.path,
            description=req.description,
            tags=req.tags,
            alias=req.alias,
        )
        self.reply(info, 201)


class ModelHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="A model's versions, newest first (with lineage)",
        tag="models",
        action=READ,
        response=m.ModelVersionList,
        errors=(404,),
    )
    async def get(self, model: str) -> None:
        self.reply(m.ModelVersionList(items=await self.call(self.ws.models.versions, model)))

    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Delete a model and all its versions",
        tag="models",
        action=WRITE,
        status=204,
        errors=(404,),
    )
    async def delete(self, model: str) -> None:
        await self.call(self.ws.models.delete, model)
        self.reply(None, 204)


class ModelVersionHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="One version: lineage (job, run, data, environment) and signature",
        tag="models",
        action=READ,
        response=ModelVersionInfo,
        errors=(404,),
    )
    async def get(self, model: str, version: str) -> None:
        self.reply(await self.call(self.ws.models.info, _model_ref(model, version)))

    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(summary="Delete one version", tag="models", action=WRITE, status=204, errors=(404,))
    async def delete(self, model: str, version: str) -> None:
        await self.call(self.ws.models.delete, _model_ref(model, version))
        self.reply(None, 204)


class ModelAliasHandler(MlbenchHandler):
    @tornado.web.authenticated
    @authorized(READ)
    @endpoint(
        summary="The version an alias points to",
        tag="models",
        action=READ,
        response=ModelVersionInfo,
        errors=(404,),
    )
    async def get(self, model: str, alias: str) -> None:
        self.reply(await self.call(self.ws.models.info, f"{model}@{alias}"))

    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(
        summary="Point an alias at a version",
        tag="models",
        action=WRITE,
        body=m.SetAlias,
        response=ModelVersionInfo,
        errors=(404,),
    )
    async def put(self, model: str, alias: str) -> None:
        req = self.body(m.SetAlias)
        self.reply(await self.call(self.ws.models.set_alias, model, alias, req.version))

    @tornado.web.authenticated
    @authorized(WRITE)
    @endpoint(summary="Remove an alias", tag="models", action=WRITE, status=204, errors=(404,))
    async def delete(self, model: str, alias: str) -> None:
        await self.call(self.ws.models.delete_alias, model, alias)
        self.reply(None, 204)
