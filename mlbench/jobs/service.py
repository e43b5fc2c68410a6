"""``ws.jobs``: submit, find, follow, cancel, rerun and delete notebook jobs."""

from __future__ import annotations

import getpass
import hashlib
import logging
import shutil
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
from pydantic import ValidationError
from sqlalchemy import and_, func, or_, select

from mlbench._ids import new_id, utcnow
from mlbench.data.models import JobInput, JobOutput
from mlbench.errors import (
    ConflictError,
    InvalidInputError,
    JobNotFoundError,
    KernelNotFoundError,
    MlbenchError,
    NotebookError,
    ResourceRequestError,
    WaitTimeoutError,
)
from mlbench.jobs.azureml import Loaded, export_command_job, load_job_yaml
from mlbench.jobs.command import CodeSnapshot, check_command, copy_code, scan_code
from mlbench.jobs.job import Job, JobList
from mlbench.jobs.lifecycle import JobHook, Lifecycle, Submission
from mlbench.jobs.models import (
    ACTIVE_STATUSES,
    ON_AGENT,
    JobError,
    JobInfo,
    JobProgress,
    JobResources,
    JobStatus,
    Termination,
)
from mlbench.jobs.parameters import NotebookParameter, coerce_parameters, notebook_parameters
from mlbench.jobs.spec import JobSpec, gather_resources, spec_hash
from mlbench.paging import decode_cursor, encode_cursor
from mlbench.store import AgentRow, JobEventRow, JobRow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from mlbench.compute.agents import AgentControl
    from mlbench.paths import WorkspacePaths
    from mlbench.workspace import Workspace

log = logging.getLogger(__name__)

MAX_LIMIT = 1000
AGENT_CHECK_S = 2.0  # how often a follower makes sure the job's agent is alive


class Jobs:
    def __init__(self, ws: Workspace, hooks: Sequence[JobHook] = ()) -> None:
        self._ws = ws
        self.lifecycle = Lifecycle(ws, hooks)

    # -- submission ----------------------------------------------------------------------------
    def submit(
        self,
        spec: JobSpec | str | Path | None = None,
        parameters: dict[str, Any] | None = None,
        *,
        start_agent: bool = True,
        **fields: Any,
    ) -> Job:
        """Validate and queue a job; the compute target's agent is started if needed.

        ``spec`` is a :class:`JobSpec`, or a notebook path with the spec's other fields as
        keyword arguments (``compute="gpu"``, ``gpus=1`` or ``resources={"gpus": 1}``,
        ``timeout_s=3600``, ``inputs={"train": "data:iris:3"}``...), or no notebook and
        ``command="python train.py ${{inputs.lr}}", code="src"``. Everything is checked
        before anything is queued: the notebook, the kernel, every parameter against the
        notebook's ``parameters`` cell, the resources against the target's capacity, and the
        data bindings.

        ``inputs`` maps a parameter name to a data asset version (``"data:iris:3"``, or
        ``"iris"`` for the newest): the job gets the data's local path in that parameter.
        ``outputs`` maps a parameter name to an asset name (``"data:iris-clean"``, options as
        in ``"data:x,kind=table,format=csv,datastore=s3data"``): the notebook writes to the path
        in that parameter and a new version is registered when the job completes.
        """
        fields = gather_resources(fields)
        if isinstance(spec, JobSpec):
            if parameters or fields:
                spec = make_spec({**spec.model_dump(exclude_unset=True), **fields}, parameters)
        elif spec is None:  # a command job: command="python train.py", code="src"
            spec = make_spec(fields, parameters)
        else:
            spec = make_spec({"notebook_path": str(spec), **fields}, parameters)
        return _submitted(self._submit(spec, start_agent=start_agent))

    def submit_yaml(self, path: str | Path, *, start_agent: bool = True, **fields: Any) -> Any:
        """Submit an Azure ML job file (``type: command``, ``sweep`` or ``pipeline``) as it is;
        returns the Job (or the Sweep, or the PipelineRun). How its references were mapped is
        logged (:meth:`load_yaml`
        gives the notes)."""
        loaded = self.load_yaml(path)
        for note in loaded.notes:
            log.info("%s: %s", Path(path).name, note)
        if loaded.kind == "sweep":
            return self._ws.sweeps.submit(loaded.body, start_agent=start_agent, **fields)
        if loaded.kind == "pipeline":
            return self._ws.pipelines.run(loaded.body["path"], start_agent=start_agent, **fields)
        return self.submit(make_spec({**loaded.body, **fields}), start_agent=start_agent)

    def load_yaml(self, path: str | Path) -> Loaded:
        """An Azure ML job file read and mapped to this workspace (nothing submitted)."""
        ws = self._ws
        return load_job_yaml(
            Path(path).expanduser().resolve(),
            compute_exists=lambda name: name in {t.name for t in ws.compute.list()},
            environment_exists=lambda name: _environment_exists(ws, name),
            register_data=lambda asset, uri, kind: _register_remote(ws, asset, uri, kind),
        )

    def export_yaml(self, job_id: str) -> str:
        """A job as Azure ML command job YAML: a command job as it was submitted, a notebook
        job as a papermill command (see :func:`mlbench.jobs.azureml.export_command_job`)."""
        return export_command_job(self.spec(job_id))

    def submit_child(self, spec: JobSpec, source: JobSource, *, job_id: str | None = None) -> Job:
        """Queue a job of a sweep or pipeline (``spec.parent`` set) that runs the parent's
        snapshot (its notebook, or its code folder), under a job id the parent may have
        reserved; its agent is the caller's (nothing is started)."""
        return _submitted(self._submit(spec, start_agent=False, source=source, job_id=job_id))

    def check(self, spec: JobSpec, source: JobSource | None = None) -> None:
        """Everything :meth:`submit` checks, without queueing anything."""
        self._submit(spec, start_agent=False, source=source, dry_run=True)

    def _submit(
        self,
        spec: JobSpec,
        *,
        start_agent: bool,
        source: JobSource | None = None,
        job_id: str | None = None,
        dry_run: bool = False,
    ) -> Job | None:
        source = source or self.source(spec)
        nb = _parse_notebook(source.notebook, source.path) if source.notebook is not None else None
        backend, config, capacity = self._ws.compute.backend(spec.compute)
        given = spec.resources.model_dump(exclude_none=True)
        if "memory" in given:
            given["memory_mb"] = given.pop("memory")
        res = _resources({**backend.job_defaults(config), **given})
        _check_capacity(res, capacity, spec.compute)
        if nb is not None:
            cwd = Path(spec.cwd).expanduser().resolve() if spec.cwd else source.path.parent
            _check_folder(cwd)
        else:  # a command runs in its own copy of the code; cwd records where that came from
            cwd = source.path
        job_id = job_id or new_id()
        resolved = spec.model_copy(
            update={
                "notebook_path": str(source.path) if nb is not None else None,
                "code": str(source.path) if nb is None and source.code is not None else None,
                "cwd": str(cwd),
                "resources": res.as_request(),
            }
        )
        sub = Submission(
            ws=self._ws,
            job_id=job_id,
            spec=resolved,
            backend=backend,
            parameters=dict(spec.parameters),
        )
        self.lifecycle.bind(sub)  # hooks may resolve fields (an environment names the kernel)
        if sub.spec.environment and "environment" not in sub.handled:
            raise InvalidInputError(
                f"environment {sub.spec.environment!r} cannot be used: this workspace has no "
                "environments",
                hint="leave environment unset to run on the notebook's kernel",
            )
        if nb is not None:
            declared, has_cell = notebook_parameters(nb)
            kernel = sub.spec.kernel_name or _notebook_kernel(nb, source.path)
            _check_kernel(kernel, spec.compute, backend.kernel_names(config))
            params = coerce_parameters(
                sub.parameters,
                declared,
                allow_unknown=spec.allow_unknown_params,
                has_parameters_cell=has_cell,
            )
        else:  # a command's inputs are what its placeholders name
            kernel = sub.spec.kernel_name or ""
            params = dict(sub.parameters)
            check_command(spec.command or "", params, spec.outputs)
            if not backend.runs_commands:
                raise InvalidInputError(
                    f"compute target {spec.compute!r} ({backend.kind}) cannot run commands",
                    hint="run command jobs on a local or Ray target",
                )
        resolved = sub.spec.model_copy(
            update={
                "kernel_name": kernel or None,
                "parameters": {k: v for k, v in params.items() if k in spec.parameters},
            }
        )
        if dry_run:
            return None
        job_dir = self._ws.paths.job_dir(job_id)
        source.write(self._ws.paths, job_id)
        try:
            now = utcnow()
            stem = source.name
            row = self.lifecycle.queue(
                id=job_id,
                display_name=spec.display_name or stem,
                experiment=spec.experiment or stem,
                compute=spec.compute,
                kernel_name=kernel,
                notebook_path=str(source.path) if nb is not None else "",
                cwd=str(cwd),
                parameters=params,
                resources=res.model_dump(),
                timeout_s=spec.timeout_s,
                max_retries=spec.max_retries,
                tags=dict(sub.spec.tags),  # with what hooks added
                owner=_user(),
                rerun_of=spec.rerun_of,
                created_at=now,
                updated_at=now,
                gpu_ids=[],
                inputs=[b.model_dump(mode="json") for b in sub.inputs],
                outputs=[b.model_dump(mode="json") for b in sub.outputs],
                spec=resolved.model_dump(mode="json"),
                spec_hash=spec_hash(resolved, source.sha256),
                parent_id=spec.parent.id if spec.parent else None,
            )
            for stored in sub.stored:
                stored()
        except BaseException:
            shutil.rmtree(job_dir, ignore_errors=True)  # nothing half-submitted
            raise
        if start_agent:
            agent = self.agent(spec.compute)
            agent.ensure_running()
            agent.wake()
        return Job(self._ws, _to_info(row))

    def source(self, spec: JobSpec) -> JobSource:
        """What the job runs, read now: the notebook's bytes or the code folder's files (or an
        earlier job's snapshot, for a rerun)."""
        paths = self._ws.paths
        max_bytes = self._ws.settings.code_max_bytes
        if spec.rerun_of:
            original = self.info(spec.rerun_of)
            if original.command is None:
                return JobSource(
                    Path(original.notebook_path), notebook=self.snapshot_path(original).read_bytes()
                )
            code = paths.code(original.id)
            snapshot = scan_code(code, max_bytes) if code.is_dir() else None
            return JobSource(Path(original.cwd), code=snapshot)
        if spec.command is not None:
            if spec.code is None:
                return JobSource(Path(spec.cwd or ".").expanduser().resolve())
            folder = Path(spec.code).expanduser().resolve()
            return JobSource(folder, code=scan_code(folder, max_bytes))
        path = Path(spec.notebook_path or "").expanduser().resolve()
        return JobSource(path, notebook=_read_notebook_bytes(path))

    def spec(self, job: str | JobInfo) -> JobSpec:
        """The job's resolved spec, as stored at submission (what ``rerun`` copies)."""
        info = job if isinstance(job, JobInfo) else self.info(job)
        with self._ws.db.session() as s:
            stored = s.scalar(select(JobRow.spec).where(JobRow.id == info.id))
        if stored:
            return JobSpec.model_validate(stored)
        return _legacy_spec(info)

    def parameters(self, notebook: str | Path) -> dict[str, NotebookParameter]:
        """The typed parameters of a notebook (for forms and ``--help``)."""
        path = Path(notebook).expanduser().resolve()
        return notebook_parameters(_parse_notebook(_read_notebook_bytes(path), path))[0]

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
            return self._infos(s, [row])[0]

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
        parent: str | None = None,
        top_level: bool = False,
    ) -> JobList:
        """Newest first (or oldest first), ``limit`` at a time; pass ``next_cursor`` for more.
        ``parent``: only that sweep's trials (or pipeline's steps); ``top_level``: none of them."""
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
        if parent:
            query = query.where(JobRow.parent_id == parent)
        if top_level:
            query = query.where(JobRow.parent_id.is_(None))
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
            created, last_id = decode_cursor(cursor)
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
            infos = self._infos(s, rows)
        next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
        return JobList([Job(self._ws, i) for i in infos], next_cursor=next_cursor)

    def _infos(self, s: Session, rows: Sequence[JobRow]) -> list[JobInfo]:
        """Rows as JobInfo; a starting or running job whose agent stopped heartbeating says so
        (and an agent is started, whose start-up resolves it), instead of looking alive."""
        infos = [_to_info(r) for r in rows]
        agent_ids = {r.agent_id for r in rows if r.agent_id and r.status in ON_AGENT}
        if not agent_ids:
            return infos
        beats = dict(
            s.execute(
                select(AgentRow.id, AgentRow.heartbeat_at).where(
                    AgentRow.id.in_(agent_ids), AgentRow.state == "running"
                )
            ).all()
        )
        silent_for = max(3.0, 5 * self._ws.settings.agent_heartbeat_interval_s)
        now = utcnow()
        lost: set[str] = set()
        for i, row in enumerate(rows):
            if row.status not in ON_AGENT or not row.agent_id:
                continue
            beat = beats.get(row.agent_id)
            if beat is not None and (now - beat).total_seconds() < silent_for:
                continue
            since = f"since {beat.astimezone().strftime('%H:%M:%S')}" if beat else "(stopped)"
            infos[i] = infos[i].model_copy(
                update={
                    "agent_lost": True,
                    "status_reason": f"agent lost: no heartbeat {since}; the job is requeued or "
                    f"failed when an agent for {row.compute!r} starts",
                }
            )
            lost.add(row.compute)
        for compute in lost:  # whoever sees it starts the reconciliation
            try:
                self.agent(compute).ensure_running()
            except Exception:
                log.debug("could not start an agent for %r", compute, exc_info=True)
        return infos

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
        """The notebook exactly as the job was submitted, or a command job's code folder (what
        a rerun runs)."""
        info = job if isinstance(job, JobInfo) else self.info(job)
        paths = self._ws.paths
        snapshot = paths.snapshot(info.id) if info.command is None else paths.code(info.id)
        if not snapshot.exists():
            what = "notebook snapshot" if info.command is None else "code snapshot"
            raise ConflictError(f"the {what} of job {info.id} is missing ({snapshot})")
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
        done = self.lifecycle.cancel(info.id)
        if done:  # it never reached an agent: its log says so instead of staying empty
            log_path = self._ws.paths.log(info.id)
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(log_path, "a", encoding="utf-8") as f:
                f.write(f"[mlbench {utcnow().strftime('%H:%M:%S')}] canceled before it started\n")
        else:
            self.agent(info.compute).wake()
        return self.info(info.id)

    def rerun(
        self,
        job_id: str,
        parameters: dict[str, Any] | None = None,
        *,
        start_agent: bool = True,
        **changes: Any,
    ) -> Job:
        """Submit the job's notebook snapshot again: its spec with ``parameters`` merged over
        the original ones and any other spec field changed (``resources`` merged likewise).
        Data inputs stay the exact versions the original read."""
        info = self.info(job_id)
        self.snapshot_path(info)  # a lost snapshot is a 409 before anything else
        base = self.spec(info)
        changes = gather_resources(changes)
        data = base.model_dump(exclude_unset=True)
        if "resources" in changes and isinstance(changes["resources"], dict):
            changes["resources"] = {**data.get("resources", {}), **changes["resources"]}
        data.update(changes, rerun_of=info.id)
        return _submitted(self._submit(make_spec(data, parameters), start_agent=start_agent))

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
        self.lifecycle.delete(ids)
        for info in infos:
            shutil.rmtree(self._ws.paths.job_dir(info.id), ignore_errors=True)
            if delete_run and info.mlflow_run_id:
                self._ws.tracking.delete_run(info.mlflow_run_id)
        return ids

    def follow(
        self, job_id: str, *, timeout: float | None = None, poll_interval: float = 0.05
    ) -> Iterator[JobInfo]:
        """The job as it changes, polled until it is final (the final state is the last one).

        Whoever follows a job keeps its target's agent alive (restarting one that died), so a
        waiting CLI, widget or script never waits on nothing. Raises WaitTimeoutError after
        ``timeout`` seconds (the job goes on).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        last_check = time.monotonic()
        while True:
            info = self.info(job_id)
            yield info
            if info.status.is_final:
                return
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeoutError(
                    f"job {info.id} is still {info.status.value} after waiting {timeout:g} s",
                    hint="the job goes on; wait again or cancel it",
                )
            if time.monotonic() - last_check > AGENT_CHECK_S:
                last_check = time.monotonic()
                self.agent(info.compute).ensure_running()
            time.sleep(poll_interval)

    def wait(
        self, job_id: str, timeout: float | None = None, poll_interval: float = 0.05
    ) -> JobInfo:
        """Block until the job is final; keeps its agent alive (restarting a dead one)."""
        *_, final = self.follow(job_id, timeout=timeout, poll_interval=poll_interval)
        return final

    def agent(self, compute: str) -> AgentControl:
        """The agent of a compute target (started on demand by whoever submits or waits)."""
        return self._ws.agents(compute)


# -- helpers -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class JobSource:
    """What a job runs, as read at submission: a notebook's bytes, or a command's code folder
    (``code``; None: the command runs in an empty folder). ``path`` is the notebook or the
    folder, as recorded."""

    path: Path
    notebook: bytes | None = None
    code: CodeSnapshot | None = None

    @property
    def name(self) -> str:
        return self.path.stem if self.notebook is not None else (self.path.name or "command")

    @property
    def sha256(self) -> str:
        if self.notebook is not None:
            return hashlib.sha256(self.notebook).hexdigest()
        return self.code.sha256 if self.code is not None else hashlib.sha256(b"").hexdigest()

    def write(self, paths: WorkspacePaths, job_id: str) -> None:
        """The job's snapshot: ``input.ipynb``, or ``code/`` (empty without a code folder)."""
        if self.notebook is not None:
            snapshot = paths.snapshot(job_id)
            snapshot.parent.mkdir(parents=True, exist_ok=True)
            snapshot.write_bytes(self.notebook)
        elif self.code is not None:
            copy_code(self.code, paths.code(job_id))
        else:
            paths.code(job_id).mkdir(parents=True, exist_ok=True)


def _register_remote(ws: Any, asset: str, uri: str, kind: str | None) -> str:
    """A remote input of a job file as a data asset version (an identical one is reused)."""
    version = ws.data.create(asset, uri, kind=kind)
    return f"data:{version.info.name}:{version.info.version}"


def _environment_exists(ws: Any, name: str) -> bool:
    try:
        return bool(ws.environments.versions(name))
    except MlbenchError:
        return False


def _check_folder(cwd: Path) -> None:
    try:
        cwd_ok = cwd.is_dir()
    except OSError:  # e.g. a name over the file system's limit
        cwd_ok = False
    if not cwd_ok:
        raise InvalidInputError(
            f"working folder {cwd} does not exist", hint="pass an existing folder as cwd"
        )


def _submitted(job: Job | None) -> Job:
    assert job is not None, "only a dry run queues nothing"
    return job


def make_spec(fields: dict[str, Any], parameters: dict[str, Any] | None = None) -> JobSpec:
    """A validated JobSpec from field values (``parameters`` merged over ``fields``'s)."""
    if parameters:
        fields = {**fields, "parameters": {**fields.get("parameters", {}), **parameters}}
    try:
        return JobSpec.model_validate(fields)
    except ValidationError as exc:
        errors = exc.errors()
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
        kind = InvalidInputError
        if all(e["loc"][:1] == ("resources",) for e in errors):
            kind = ResourceRequestError
        raise kind(
            f"invalid job: {problems}",
            hint="job fields: " + ", ".join(JobSpec.model_fields),
        ) from None


def _legacy_spec(info: JobInfo) -> JobSpec:
    """The spec of a job submitted before specs were stored (rebuilt from its row)."""
    bound = {b.name for b in info.inputs} | {b.name for b in info.outputs}
    return JobSpec(
        notebook_path=info.notebook_path,
        parameters={k: v for k, v in info.parameters.items() if k not in bound},
        compute=info.compute,
        kernel_name=info.kernel_name,
        resources=info.resources.as_request(),
        timeout_s=info.timeout_s,
        max_retries=info.max_retries,
        tags=info.tags,
        experiment=info.experiment,
        display_name=info.display_name,
        cwd=info.cwd,
        allow_unknown_params=True,
        inputs={b.name: b.ref for b in info.inputs},
        outputs={b.name: b.spec_text() for b in info.outputs},
    )


def _read_notebook_bytes(path: Path) -> bytes:
    try:
        if not path.exists():
            raise NotebookError(f"notebook {path} does not exist", hint="check the path")
        if not path.is_file():
            raise NotebookError(f"{path} is not a file", hint="give the path of an .ipynb file")
        return path.read_bytes()
    except OSError as exc:  # a name too long, no permission...
        raise NotebookError(
            f"cannot read notebook {str(path)[:200]}: {exc.strerror}", hint="check the path"
        ) from None


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
        spec_hash=row.spec_hash,
        parent=(row.spec or {}).get("parent"),
        command=(row.spec or {}).get("command"),
        termination=Termination.model_validate(row.termination) if row.termination else None,
    )


__all__ = ["ACTIVE_STATUSES", "Jobs", "make_spec"]
