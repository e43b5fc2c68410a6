"""``ws.jobs``: submit, find, follow, cancel, rerun and delete notebook jobs."""

from __future__ import annotations

import base64
import getpass
import json
import logging
import shutil
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
from pydantic import ValidationError
from sqlalchemy import and_, delete, func, or_, select, update

from mlbench._ids import new_id, utcnow
from mlbench.data.models import JobInput, JobOutput
from mlbench.errors import (
    ConflictError,
    InvalidInputError,
    JobNotFoundError,
    KernelNotFoundError,
    NotebookError,
    ResourceRequestError,
    WaitTimeoutError,
)
from mlbench.jobs.job import Job, JobList
from mlbench.jobs.models import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    JobError,
    JobInfo,
    JobProgress,
    JobResources,
    JobStatus,
)
from mlbench.jobs.parameters import NotebookParameter, coerce_parameters, inspect_parameters
from mlbench.store import JobEventRow, JobRow

if TYPE_CHECKING:
    from mlbench.workspace import Workspace

log = logging.getLogger(__name__)

MAX_LIMIT = 1000


class Jobs:
    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    # -- submission ----------------------------------------------------------------------------
    def submit(
        self,
        notebook: str | Path,
        parameters: dict[str, Any] | None = None,
        *,
        compute: str = "local",
        kernel_name: str | None = None,
        cpus: float | None = None,
        gpus: int | None = None,
        memory: str | int | None = None,
        custom_resources: dict[str, float] | None = None,
        timeout: float | None = None,
        max_retries: int = 0,
        tags: dict[str, Any] | None = None,
        experiment: str | None = None,
        display_name: str | None = None,
        cwd: str | Path | None = None,
        allow_unknown_params: bool = False,
        start_agent: bool = True,
        inputs: dict[str, Any] | None = None,
        outputs: dict[str, Any] | None = None,
    ) -> Job:
        """Validate and queue a notebook job; the compute target's agent is started if needed.

        Everything is checked before anything is queued: the notebook, the kernel, every
        parameter against the notebook's ``parameters`` cell, and the resources against the
        target's capacity.

        ``inputs`` maps a parameter name to a data asset version (``"data:iris:3"``, or
        ``"iris"`` for the newest): the job gets the data's local path in that parameter.
        ``outputs`` maps a parameter name to an asset name (``"data:iris-clean"``, options as
        in ``"data:x,kind=table,format=csv,datastore=s3data"``): the notebook writes to the path
        in that parameter and a new version is registered when the job completes.
        """
        path = Path(notebook).expanduser().resolve()
        source = _read_notebook_bytes(path)
        return self._submit(
            source=source,
            recorded_path=path,
            parameters=parameters or {},
            compute=compute,
            kernel_name=kernel_name,
            resources={
                "cpus": cpus,
                "gpus": gpus,
                "memory_mb": memory,
                "custom": custom_resources,
            },
            timeout=timeout,
            max_retries=max_retries,
            tags=tags,
            experiment=experiment,
            display_name=display_name,
            cwd=Path(cwd).expanduser().resolve() if cwd else path.parent,
            allow_unknown_params=allow_unknown_params,
            start_agent=start_agent,
            rerun_of=None,
            inputs=inputs,
            outputs=outputs,
        )

    def _submit(
        self,
        *,
        source: bytes,
        recorded_path: Path,
        parameters: dict[str, Any],
        compute: str,
        kernel_name: str | None,
        resources: dict[str, Any],
        timeout: float | None,
        max_retries: int,
        tags: dict[str, Any] | None,
        experiment: str | None,
        display_name: str | None,
        cwd: Path,
        allow_unknown_params: bool,
        start_agent: bool,
        rerun_of: str | None,
        inputs: dict[str, Any] | None = None,
        outputs: dict[str, Any] | None = None,
    ) -> Job:
        nb = _parse_notebook(source, recorded_path)
        backend, config, capacity = self._ws.compute.backend(compute)
        kernel = kernel_name or _notebook_kernel(nb, recorded_path)
        _check_kernel(kernel, compute, backend.kernel_names(config))
        given = {k: v for k, v in resources.items() if v is not None}
        res = _resources({**backend.job_defaults(config), **given})
        _check_capacity(res, capacity, compute)
        if timeout is not None and timeout <= 0:
            raise InvalidInputError(f"timeout must be positive seconds, got {timeout}")
        if not 0 <= max_retries <= 100:
            raise InvalidInputError(f"max_retries must be between 0 and 100, got {max_retries}")
        if not cwd.is_dir():
            raise InvalidInputError(
                f"working folder {cwd} does not exist", hint="pass an existing folder as cwd"
            )

        job_id = new_id()
        bound_in: list[Any] = []
        bound_out: list[Any] = []
        if (inputs or outputs) and not backend.carries_data:
            raise InvalidInputError(
                f"compute target {compute!r} ({backend.kind}) cannot take data inputs or outputs",
                hint="run jobs with --input/--output on a local or ray target, or read the data "
                "in the notebook from storage the target's machine can reach",
            )
        if inputs or outputs:
            from mlbench.data.jobs import bind

            bound_in, bound_out, data_paths = bind(
                self._ws,
                job_id,
                inputs,
                outputs,
                parameters,
                max_input_bytes=backend.max_data_bytes,
                target=compute,
            )
            parameters = {**parameters, **data_paths}
        snapshot = self._ws.paths.snapshot(job_id)
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        snapshot.write_bytes(source)
        try:
            has_cell = any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb.cells)
            params = coerce_parameters(
                parameters,
                inspect_parameters(snapshot),
                allow_unknown=allow_unknown_params,
                has_parameters_cell=has_cell,
            )
            now = utcnow()
            stem = recorded_path.stem
            row = JobRow(
                id=job_id,
                display_name=display_name or stem,
                experiment=experiment or stem,
                compute=compute,
                kernel_name=kernel,
                notebook_path=str(recorded_path),
                cwd=str(cwd),
                parameters=params,
                resources=res.model_dump(),
                timeout_s=timeout,
                max_retries=max_retries,
                attempt=1,
                tags={str(k): str(v) for k, v in (tags or {}).items()},
                owner=_user(),
                rerun_of=rerun_of,
                status=JobStatus.QUEUED.value,
                status_reason="",
                cancel_requested=False,
                created_at=now,
                updated_at=now,
                gpu_ids=[],
                inputs=[b.model_dump(mode="json") for b in bound_in],
                outputs=[b.model_dump(mode="json") for b in bound_out],
            )
            with self._ws.db.write() as s:
                s.add(row)
                s.add(status_event(job_id, JobStatus.QUEUED, now))
            for b in bound_in:  # lineage: this job reads that version
                self._ws.data.record_input(job_id, b.name, self._ws.data.info(b.ref))
        except BaseException:
            shutil.rmtree(snapshot.parent, ignore_errors=True)  # nothing half-submitted
            raise
        if start_agent:
            self.agent(compute).ensure_running()
            self.agent(compute).wake()
        return Job(self._ws, _to_info(row))

    def parameters(self, notebook: str | Path) -> dict[str, NotebookParameter]:
        """The typed parameters of a notebook (for forms and ``--help``)."""
        path = Path(notebook).expanduser().resolve()
        _parse_notebook(_read_notebook_bytes(path), path)
        return inspect_parameters(path)

    # -- reading -------------------------------------------------------------------------------
    def get(self, job_id: str) -> Job:
        return Job(self._ws, self.info(job_id))

    def info(self, job_id: str) -> JobInfo:
        with self._ws.db.session() as s:
            row = s.get(JobRow, job_id)
            if row is None and len(job_id) >= 4:
                matches = s.scalars(
                    select(JobRow).where(JobRow.id.startswith(job_id, autoescape=True)).limit(2)
                ).all()
                if len(matches) == 1:
                    row = matches[0]
                elif len(matches) > 1:
                    raise InvalidInputError(
                        f"job id prefix {job_id!r} is ambiguous", hint="give more characters"
                    )
            if row is None:
                raise JobNotFoundError(
                    f"job {job_id!r} does not exist", hint="list jobs with `mlbench job list`"
                )
            return _to_info(row)

    def list(
        self,
        *,
        status: str | JobStatus | Iterable[str | JobStatus] | None = None,
        compute: str | None = None,
        experiment: str | None = None,
        tag: str | None = None,
        text: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        oldest_first: bool = False,
    ) -> JobList:
        """Newest first (or oldest first), ``limit`` at a time; pass ``next_cursor`` for more."""
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInputError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
        query = select(JobRow)
        if status is not None:
            wanted = [status] if isinstance(status, (str, JobStatus)) else list(status)
            try:
                values = [JobStatus(s).value for s in wanted]
            except ValueError:
                raise InvalidInputError(
                    f"unknown status in {wanted!r}",
                    hint="statuses: " + ", ".join(s.value for s in JobStatus),
                ) from None
            query = query.where(JobRow.status.in_(values))
        if compute:
            query = query.where(JobRow.compute == compute)
        if experiment:
            query = query.where(JobRow.experiment == experiment)
        if text:
            like = f"%{text}%"
            query = query.where(
                or_(
                    JobRow.display_name.ilike(like),
                    JobRow.notebook_path.ilike(like),
                    JobRow.experiment.ilike(like),
                    JobRow.id.ilike(like),
                )
            )
        if cursor:
            created, last_id = _decode_cursor(cursor)
            if oldest_first:
                after = or_(
                    JobRow.created_at > created,
                    and_(JobRow.created_at == created, JobRow.id > last_id),
                )
            else:
                after = or_(
                    JobRow.created_at < created,
                    and_(JobRow.created_at == created, JobRow.id < last_id),
                )
            query = query.where(after)
        if oldest_first:
            query = query.order_by(JobRow.created_at.asc(), JobRow.id.asc())
        else:
            query = query.order_by(JobRow.created_at.desc(), JobRow.id.desc())
        tag_key, _, tag_value = (tag or "").partition("=")
        rows: list[JobRow] = []
        with self._ws.db.session() as s:
            if not tag_key:
                rows = list(s.scalars(query.limit(limit + 1)))
            else:  # tags are JSON: filter in Python, streaming so paging stays correct
                for row in s.scalars(query.execution_options(yield_per=500)):
                    if tag_key in row.tags and (not tag_value or row.tags[tag_key] == tag_value):
                        rows.append(row)
                        if len(rows) > limit:
                            break
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = _encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
        return JobList([Job(self._ws, _to_info(r)) for r in rows], next_cursor=next_cursor)

    def logs(
        self,
        job_id: str,
        offset: int = 0,
        *,
        tail: int | None = None,
        max_bytes: int | None = None,
    ) -> tuple[str, int]:
        """The job's log from byte ``offset`` (or its last ``tail`` bytes), and the new offset.

        ``max_bytes`` caps one read (cut at a UTF-8 character boundary); read again from the
        returned offset for the rest.
        """
        info = self.info(job_id)
        path = self._ws.paths.log(info.id)
        if not path.exists():
            return "", offset
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            start = max(0, size - tail) if tail is not None else min(max(0, offset), size)
            f.seek(start)
            data = f.read(max_bytes) if max_bytes is not None else f.read()
        if max_bytes is not None and len(data) == max_bytes and start + len(data) < size:
            cut = len(data)
            while cut > 0 and len(data) - cut < 3 and data[cut - 1] & 0xC0 == 0x80:
                cut -= 1  # continuation bytes of a character split by the cap
            if cut > 0 and data[cut - 1] >= 0xC0:
                cut -= 1  # and its lead byte
            data = data[:cut] if cut > 0 else data
        return data.decode("utf-8", errors="replace"), start + len(data)

    def events(
        self, *, after: int = 0, job_id: str | None = None, limit: int = 500
    ) -> list[dict[str, Any]]:
        """Job changes with an id greater than ``after``, oldest first."""
        query = select(JobEventRow).where(JobEventRow.id > after)
        if job_id:
            query = query.where(JobEventRow.job_id == job_id)
        with self._ws.db.session() as s:
            rows = s.scalars(query.order_by(JobEventRow.id).limit(limit)).all()
            return [
                {
                    "id": r.id,
                    "job_id": r.job_id,
                    "kind": r.kind,
                    "data": r.data,
                    "created_at": r.created_at.isoformat(),
                }
                for r in rows
            ]

    def last_event_id(self) -> int:
        """Id of the newest job event (0 when there is none): where a live tail starts."""
        with self._ws.db.session() as s:
            return int(s.scalar(select(func.max(JobEventRow.id))) or 0)

    def snapshot_path(self, job: str | JobInfo) -> Path:
        """The notebook exactly as the job was submitted (what a rerun runs)."""
        info = job if isinstance(job, JobInfo) else self.info(job)
        snapshot = self._ws.paths.snapshot(info.id)
        if not snapshot.exists():
            raise ConflictError(f"the notebook snapshot of job {info.id} is missing ({snapshot})")
        return snapshot

    def output_notebook_path(self, job_id: str) -> Path | None:
        info = self.info(job_id)
        path = self._ws.paths.output_notebook(info.id)
        return path if path.exists() else None

    # -- changing ------------------------------------------------------------------------------
    def cancel(self, job_id: str) -> JobInfo:
        """Cancel a job: a queued one at once; a running one is interrupted, then killed."""
        info = self.info(job_id)
        if info.status.is_final:
            raise ConflictError(
                f"job {info.id} is already {info.status.value}; there is nothing to cancel",
                hint=f"rerun it with `mlbench job rerun {info.id}`",
            )
        now = utcnow()
        with self._ws.db.write() as s:
            done = s.execute(
                update(JobRow)
                .where(JobRow.id == info.id, JobRow.status == JobStatus.QUEUED.value)
                .values(
                    status=JobStatus.CANCELED.value,
                    status_reason="canceled before it started",
                    cancel_requested=True,
                    finished_at=now,
                    updated_at=now,
                    error=JobError(
                        kind="canceled", message="canceled before it started"
                    ).model_dump(),
                )
            ).rowcount
            if done:
                s.add(status_event(info.id, JobStatus.CANCELED, now, "canceled before it started"))
            else:
                s.execute(
                    update(JobRow)
                    .where(JobRow.id == info.id, JobRow.status.in_(("starting", "running")))
                    .values(cancel_requested=True, updated_at=now)
                )
        if not done:
            self.agent(info.compute).wake()
        return self.info(info.id)

    def rerun(self, job_id: str, parameters: dict[str, Any] | None = None, **overrides: Any) -> Job:
        """Submit the same notebook snapshot again, with parameters and settings overridden."""
        info = self.info(job_id)
        snapshot = self.snapshot_path(info)
        allowed = {
            "compute",
            "kernel_name",
            "cpus",
            "gpus",
            "custom_resources",
            "memory",
            "timeout",
            "max_retries",
            "tags",
            "experiment",
            "display_name",
            "allow_unknown_params",
            "start_agent",
        }
        unknown = set(overrides) - allowed
        if unknown:
            raise InvalidInputError(
                f"cannot override {', '.join(sorted(unknown))} on rerun",
                hint="overridable: " + ", ".join(sorted(allowed)),
            )
        res = info.resources.model_dump()
        bound = {b.name for b in info.inputs} | {b.name for b in info.outputs}
        kept = {k: v for k, v in info.parameters.items() if k not in bound}  # paths made anew
        return self._submit(
            source=snapshot.read_bytes(),
            recorded_path=Path(info.notebook_path),
            parameters={**kept, **(parameters or {})},
            inputs={b.name: b.ref for b in info.inputs} or None,
            outputs={
                b.name: b.model_copy(update={"version": None, "ref": None}) for b in info.outputs
            }
            or None,
            compute=overrides.get("compute", info.compute),
            kernel_name=overrides.get("kernel_name", info.kernel_name),
            resources={
                "cpus": overrides.get("cpus", res["cpus"]),
                "gpus": overrides.get("gpus", res["gpus"]),
                "memory_mb": overrides.get("memory", res["memory_mb"]),
                "custom": overrides.get("custom_resources", res["custom"]),
            },
            timeout=overrides.get("timeout", info.timeout_s),
            max_retries=overrides.get("max_retries", info.max_retries),
            tags=overrides.get("tags", info.tags),
            experiment=overrides.get("experiment", info.experiment),
            display_name=overrides.get("display_name", info.display_name),
            cwd=Path(info.cwd),
            allow_unknown_params=overrides.get("allow_unknown_params", True),
            start_agent=overrides.get("start_agent", True),
            rerun_of=info.id,
        )

    def delete(self, job_id: str, *, delete_run: bool = True) -> None:
        self.delete_many([job_id], delete_run=delete_run)

    def delete_many(self, job_ids: Iterable[str], *, delete_run: bool = True) -> list[str]:
        """Delete finished jobs, their files and (soft-deleted, restorable) MLflow runs."""
        infos = [self.info(j) for j in job_ids]
        active = [i.id for i in infos if not i.status.is_final]
        if active:
            raise ConflictError(
                f"job(s) {', '.join(active)} are still queued or running",
                hint="cancel them first, then delete",
            )
        ids = [i.id for i in infos]
        with self._ws.db.write() as s:
            s.execute(
                delete(JobRow).where(
                    JobRow.id.in_(ids), JobRow.status.in_([x.value for x in FINAL_STATUSES])
                )
            )
            s.execute(delete(JobEventRow).where(JobEventRow.job_id.in_(ids)))
        for info in infos:
            shutil.rmtree(self._ws.paths.job_dir(info.id), ignore_errors=True)
            if delete_run and info.mlflow_run_id:
                self._ws.tracking.delete_run(info.mlflow_run_id)
        return ids

    def wait(
        self, job_id: str, timeout: float | None = None, poll_interval: float = 0.05
    ) -> JobInfo:
        """Block until the job is final; keeps its agent alive (restarting a dead one)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        last_check = time.monotonic()
        while True:
            info = self.info(job_id)
            if info.status.is_final:
                return info
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeoutError(
                    f"job {info.id} is still {info.status.value} after waiting {timeout:g} s",
                    hint="the job goes on; wait again or cancel it",
                )
            if time.monotonic() - last_check > 2.0:
                last_check = time.monotonic()
                self.agent(info.compute).ensure_running()
            time.sleep(poll_interval)

    def agent(self, compute: str) -> Any:
        from mlbench.agent.process import AgentHandle

        return AgentHandle(self._ws, compute)


# -- helpers -----------------------------------------------------------------------------------
def status_event(
    job_id: str, status: JobStatus, at: datetime, reason: str = "", **extra: Any
) -> JobEventRow:
    return JobEventRow(
        job_id=job_id,
        kind="status",
        data={"status": status.value, "reason": reason, **extra},
        created_at=at,
    )


def _read_notebook_bytes(path: Path) -> bytes:
    if not path.exists():
        raise NotebookError(f"notebook {path} does not exist", hint="check the path")
    if not path.is_file():
        raise NotebookError(f"{path} is not a file", hint="give the path of an .ipynb file")
    return path.read_bytes()


def _parse_notebook(source: bytes, path: Path) -> nbformat.NotebookNode:
    try:
        nb = nbformat.reads(source.decode("utf-8"), as_version=4)
    except UnicodeDecodeError:
        raise NotebookError(
            f"{path} is not a Jupyter notebook (not UTF-8 text)",
            hint="submit an .ipynb file; scripts must be converted first (e.g. with jupytext)",
        ) from None
    except Exception as exc:  # nbformat raises several kinds for non-JSON / non-notebook input
        raise NotebookError(
            f"{path} is not a valid Jupyter notebook: {str(exc).splitlines()[0][:300]}",
            hint="open and save it in JupyterLab to repair it, or check that it is an .ipynb file",
        ) from None
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        raise NotebookError(
            f"{path} does not follow the notebook format: {exc.message[:300]}",
            hint="open and save it in JupyterLab to repair it",
        ) from None
    return nb


def _notebook_kernel(nb: nbformat.NotebookNode, path: Path) -> str:
    name = nb.metadata.get("kernelspec", {}).get("name")
    if not name:
        raise KernelNotFoundError(
            f"{path} names no kernel (metadata.kernelspec is missing)",
            hint="pass a kernel, e.g. --kernel python3",
        )
    return str(name)


def _check_kernel(name: str, compute: str, offered: list[str] | None) -> None:
    """The kernel must exist where the job runs: here, or among the target's kernels."""
    if offered is not None:
        if name not in offered:
            raise KernelNotFoundError(
                f"kernel {name!r} is not offered by compute target {compute!r}",
                hint=f"its kernels: {', '.join(offered) or 'none'}; choose one with --kernel "
                f"(`mlbench compute update {compute}` re-reads them)",
            )
        return
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    ksm = KernelSpecManager()
    try:
        ksm.get_kernel_spec(name)
    except NoSuchKernel:
        available = ", ".join(sorted(ksm.find_kernel_specs())) or "none"
        raise KernelNotFoundError(
            f"kernel {name!r} is not installed",
            hint=f"installed kernels: {available}; choose one with --kernel",
        ) from None


def _resources(raw: dict[str, Any]) -> JobResources:
    try:
        return JobResources.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ResourceRequestError(f"invalid resources: {problems}") from None


def _check_capacity(res: JobResources, capacity: Any, compute: str) -> None:
    problems = []
    if res.gpus > capacity.gpus:
        problems.append(f"{res.gpus} GPU(s) requested but {compute!r} has {capacity.gpus}")
    if res.cpus > capacity.cpus:
        problems.append(f"{res.cpus:g} CPUs requested but {compute!r} has {capacity.cpus:g}")
    if res.memory_mb and capacity.memory_mb and res.memory_mb > capacity.memory_mb:
        problems.append(
            f"{res.memory_mb} MiB requested but {compute!r} has {capacity.memory_mb} MiB"
        )
    for name, amount in res.custom.items():
        has = capacity.resources.get(name, 0.0)
        if amount > has:
            problems.append(f"{amount:g} {name!r} requested but {compute!r} has {has:g}")
    if problems:
        raise ResourceRequestError(
            "the job can never run: " + "; ".join(problems),
            hint="ask for less, or pick a larger target (`mlbench compute list`)",
        )


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return ""


def _encode_cursor(created: datetime, job_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([created.isoformat(), job_id]).encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created, job_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(created), str(job_id)
    except Exception:
        raise InvalidInputError(
            "invalid cursor", hint="pass the next_cursor of a previous page unchanged"
        ) from None


def _to_info(row: JobRow) -> JobInfo:
    elapsed = None
    if row.started_at:
        end = row.finished_at or utcnow()
        elapsed = (end - row.started_at).total_seconds()
    return JobInfo(
        id=row.id,
        display_name=row.display_name,
        experiment=row.experiment,
        compute=row.compute,
        kernel_name=row.kernel_name,
        notebook_path=row.notebook_path,
        cwd=row.cwd,
        parameters=row.parameters or {},
        resources=JobResources.model_validate(row.resources or {}),
        timeout_s=row.timeout_s,
        max_retries=row.max_retries,
        attempt=row.attempt,
        tags=row.tags or {},
        owner=row.owner,
        rerun_of=row.rerun_of,
        status=JobStatus(row.status),
        status_reason=row.status_reason,
        cancel_requested=row.cancel_requested,
        error=JobError.model_validate(row.error) if row.error else None,
        created_at=row.created_at,
        updated_at=row.updated_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        gpu_ids=[str(g) for g in row.gpu_ids or []],
        mlflow_experiment_id=row.mlflow_experiment_id,
        mlflow_run_id=row.mlflow_run_id,
        progress=JobProgress(
            cell_index=row.cell_index,
            cell_count=row.cell_count,
            cell_source=row.cell_source,
            cell_started_at=row.cell_started_at,
            elapsed_s=elapsed,
        ),
        inputs=[JobInput.model_validate(b) for b in row.inputs or []],
        outputs=[JobOutput.model_validate(b) for b in row.outputs or []],
    )


__all__ = ["ACTIVE_STATUSES", "Jobs", "status_event"]
