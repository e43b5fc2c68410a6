"""``ws.pipelines``: run, read, explain, cancel and rerun pipelines.

A pipeline is checked whole before anything is stored: the graph (unknown steps or outputs,
cycles), every pipeline input (data resolved to exact versions), and each step as the job
service would check it — the notebook or code folder read and snapshotted, parameters typed
against the notebook's ``parameters`` cell (a value bound from an upstream step's output is a
path: a notebook parameter that is not a string is a type mismatch), the kernel, the compute
target's capacity. The compute target's agent then drives the run from the database
(:mod:`mlbench.pipelines.driver`).
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import re
import shutil
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update

from mlbench._ids import new_id, utcnow
from mlbench.data.refs import parse_ref as parse_data_ref
from mlbench.errors import ConflictError, InvalidInputError, NotFoundError, WaitTimeoutError
from mlbench.jobs.command import copy_code, scan_code
from mlbench.jobs.parameters import coerce_parameters, notebook_parameters
from mlbench.jobs.service import JobSource, _parse_notebook, make_spec
from mlbench.jobs.spec import JobParent, JobSpec
from mlbench.paging import encode_cursor, older_than
from mlbench.pipelines import keys
from mlbench.pipelines.models import (
    KeyComponents,
    PipelineRunInfo,
    PipelineRunPage,
    PipelineSpec,
    PipelineStatus,
    StepCounts,
    StepInfo,
    StepSpec,
    StepStatus,
    WhyInfo,
)
from mlbench.pipelines.spec import (
    Pipeline,
    ancestors,
    check_graph,
    load_yaml,
    parse_pipeline,
    parse_ref,
    selection,
    upstream,
)
from mlbench.store import JobRow, PipelineRunRow, PipelineStepRow

if TYPE_CHECKING:
    from mlbench.workspace import Workspace

log = logging.getLogger(__name__)
MAX_LIMIT = 1000
ACTIVE = (PipelineStatus.QUEUED.value, PipelineStatus.RUNNING.value)
UPSTREAM_PATH = "/pipeline/upstream/output"  # what a checked step sees for an upstream output


class PipelineRunNotFoundError(NotFoundError):
    code = "pipeline_run_not_found"


class Pipelines:
    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    # -- paths ---------------------------------------------------------------------------------
    def folder(self, run_id: str) -> Path:
        return self._ws.home / "pipelines" / run_id

    def step_folder(self, run_id: str, step: str) -> Path:
        return self.folder(run_id) / "steps" / step

    def source(self, run_id: str, name: str, step: StepSpec) -> JobSource:
        """What the step runs, as snapshotted when the run was submitted."""
        folder = self.step_folder(run_id, name)
        if step.notebook is not None:
            return JobSource(Path(step.notebook), notebook=(folder / "notebook.ipynb").read_bytes())
        code = folder / "code"
        if step.code is not None:
            snapshot = scan_code(code, self._ws.settings.code_max_bytes)
            return JobSource(Path(step.code), code=snapshot)
        return JobSource(folder)

    # -- submission ----------------------------------------------------------------------------
    def load(self, path: str | Path) -> PipelineSpec:
        """A pipeline file (YAML with Azure ML's pipeline job keys, or an Elyra .pipeline)."""
        path = Path(path).expanduser().resolve()
        if path.suffix == ".pipeline":
            from mlbench.pipelines.elyra import load_elyra

            return load_elyra(path, self._ws)
        from mlbench.jobs.azureml import _Reader
        from mlbench.jobs.service import _environment_exists

        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InvalidInputError(
                f"{path} does not exist", hint="give the pipeline's YAML file"
            ) from None
        reader = _Reader(path, text)
        ws = self._ws
        targets = {t.name for t in ws.compute.list()}
        spec = parse_pipeline(
            load_yaml(path),
            path.parent,
            compute_of=lambda raw: reader.compute(raw, lambda n: n in targets),
            environment_of=lambda raw, step: reader.environment(
                raw, lambda n: _environment_exists(ws, n), "jobs", step, "environment"
            ),
        )
        for note in reader.notes:
            log.info("%s: %s", path.name, note)
        return spec

    def run(
        self,
        pipeline: PipelineSpec | Pipeline | Mapping[str, Any] | str | Path,
        *,
        only: Iterable[str] = (),
        from_step: str | None = None,
        to_step: str | None = None,
        force_rerun: bool = False,
        start_agent: bool = True,
        **changes: Any,
    ) -> PipelineRun:
        """Check and queue a run of a pipeline (a spec, a builder, a mapping with Azure ML's
        pipeline job keys, or a file); ``only``/``from_step``/``to_step`` run part of it (the
        steps upstream of the part are reused, never run)."""
        if isinstance(pipeline, str | Path):
            spec = self.load(pipeline)
        elif isinstance(pipeline, Pipeline):
            spec = pipeline.spec()
        elif isinstance(pipeline, PipelineSpec):
            spec = pipeline
        else:
            spec = parse_pipeline(pipeline)
        if changes:
            spec = PipelineSpec.model_validate({**spec.model_dump(exclude_unset=True), **changes})
        if force_rerun:
            spec = spec.model_copy(
                update={"settings": spec.settings.model_copy(update={"force_rerun": True})}
            )
        chosen = selection(spec, only, from_step, to_step)
        run_id = new_id()
        spec, sources = self._check(spec)
        folder = self.folder(run_id)
        try:
            for name, source in sources.items():
                step_dir = self.step_folder(run_id, name)
                step_dir.mkdir(parents=True, exist_ok=True)
                if source.notebook is not None:
                    (step_dir / "notebook.ipynb").write_bytes(source.notebook)
                elif source.code is not None:
                    copy_code(source.code, step_dir / "code")
            sel = {
                "only": list(only),
                "from": from_step,
                "to": to_step,
                "force_rerun": force_rerun,
            }
            self._store(run_id, spec, chosen, sel, source_run=None, pins={})
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return self._started(run_id, spec, start_agent)

    def rerun(
        self,
        run_id: str,
        *,
        only: Iterable[str] = (),
        from_step: str | None = None,
        to_step: str | None = None,
        start_agent: bool = True,
    ) -> PipelineRun:
        """Run a pipeline run's snapshots again. With a selection (``from_step``: that step and
        everything downstream; ``only``; ``to_step``), the selected steps run (forced) and the
        steps upstream of them take the source run's results. Without one, the steps that
        succeeded are taken as they are and the others (failed, canceled, skipped) run."""
        source = self.info(run_id)
        spec = source.spec
        chosen = selection(spec, only, from_step, to_step)
        steps = {s.name: s for s in self.steps(source.id)}
        pins: dict[str, dict[str, Any]] = {}
        for name, step in steps.items():
            if step.status.succeeded and (chosen is None or name not in chosen):
                pins[name] = {
                    "run": step.reused_from_run or source.id,
                    "job": step.reused_from_job or step.job_id,
                    "outputs": step.outputs,
                }
        new = new_id()
        src = self.folder(source.id) / "steps"
        if not src.is_dir():
            raise ConflictError(f"the snapshots of pipeline run {source.id} are missing ({src})")
        shutil.copytree(src, self.folder(new) / "steps")
        try:
            sel = {"only": list(only), "from": from_step, "to": to_step, "rerun": True}
            self._store(new, spec, chosen, sel, source_run=source.id, pins=pins, forced=chosen)
        except BaseException:
            shutil.rmtree(self.folder(new), ignore_errors=True)
            raise
        return self._started(new, spec, start_agent)

    def _started(self, run_id: str, spec: PipelineSpec, start_agent: bool) -> PipelineRun:
        self._ws.jobs.lifecycle.event(run_id, "pipeline", {"status": "queued"})
        if start_agent:
            agent = self._ws.agents(spec.compute)
            agent.ensure_running()
            agent.wake()
        return PipelineRun(self._ws, self.info(run_id))

    def _store(
        self,
        run_id: str,
        spec: PipelineSpec,
        chosen: set[str] | None,
        sel: dict[str, Any],
        *,
        source_run: str | None,
        pins: dict[str, dict[str, Any]],
        forced: set[str] | None = None,
    ) -> None:
        needed = set(spec.jobs) if chosen is None else ancestors(spec, chosen)
        now = utcnow()
        name = spec.display_name or "pipeline"
        with self._ws.db.write() as s:
            s.add(
                PipelineRunRow(
                    id=run_id,
                    name=name,
                    display_name=name,
                    experiment=spec.experiment or name,
                    compute=spec.compute,
                    spec=spec.model_dump(mode="json"),
                    selection=sel,
                    source_run_id=source_run,
                    status=PipelineStatus.QUEUED.value,
                    status_reason="waiting for the agent",
                    cancel_requested=False,
                    owner=_user(),
                    created_at=now,
                    updated_at=now,
                )
            )
            for step_name, step in spec.jobs.items():
                selected = chosen is None or step_name in chosen
                excluded = step_name not in needed
                s.add(
                    PipelineStepRow(
                        run_id=run_id,
                        name=step_name,
                        kind=step.kind,
                        compute=step.compute or spec.settings.default_compute or spec.compute,
                        depends_on=sorted(upstream(step)),
                        selected=selected,
                        forced=bool(forced and step_name in forced),
                        pinned=None if excluded else pins.get(step_name),
                        status=(StepStatus.EXCLUDED if excluded else StepStatus.PENDING).value,
                        status_reason="not in the selection" if excluded else "",
                        outputs={},
                        created_at=now,
                    )
                )

    def _check(self, spec: PipelineSpec) -> tuple[PipelineSpec, dict[str, JobSource]]:
        """The spec checked whole and resolved: data inputs exact, pipeline inputs substituted,
        parameters typed; and each step's source read once."""
        check_graph(spec)
        pipeline_inputs: dict[str, Any] = {}
        for name, value in spec.inputs.items():
            if isinstance(value, Mapping):
                info = self._ws.data.info(parse_data_ref(str(value["path"])))
                pipeline_inputs[name] = {
                    "type": value.get("type", "uri_folder"),
                    "path": f"data:{info.ref}",
                }
            else:
                pipeline_inputs[name] = value
        jobs: dict[str, StepSpec] = {}
        sources: dict[str, JobSource] = {}
        for name, given in spec.jobs.items():
            jobs[name], sources[name] = self._check_step(spec, name, given, pipeline_inputs)
        resolved = spec.model_copy(update={"inputs": pipeline_inputs, "jobs": jobs})
        return resolved, sources

    def _check_step(
        self, spec: PipelineSpec, name: str, step: StepSpec, pipeline_inputs: dict[str, Any]
    ) -> tuple[StepSpec, JobSource]:
        params: dict[str, Any] = {}
        for key, given in step.parameters.items():
            value = given
            ref = parse_ref(value)
            if ref is not None:  # check_graph allows only pipeline inputs here
                value = pipeline_inputs[ref[1]]
                if isinstance(value, Mapping):
                    raise InvalidInputError(
                        f"step {name}: parameters.{key} reads data input {ref[1]!r}",
                        hint=f"bind data under inputs: {{{key}: ${{{{parent.inputs.{ref[1]}}}}}}}",
                    )
            params[key] = value
        inputs: dict[str, Any] = {}
        for key, given in step.inputs.items():
            value = given
            ref = parse_ref(value)
            if ref is not None and ref[0] == "input":
                value = pipeline_inputs[ref[1]]
                if isinstance(value, Mapping):
                    value = value["path"]
                else:
                    params[key] = value
                    continue
            if isinstance(value, str) and (value.startswith("data:") or ref is not None):
                if ref is None:
                    info = self._ws.data.info(parse_data_ref(value))
                    value = f"data:{info.ref}"
                inputs[key] = value
            else:
                params[key] = value  # a literal input is a parameter
        step = step.model_copy(update={"parameters": params, "inputs": inputs})
        try:
            source = self._ws.jobs.source(self.job_spec(spec, name, step, check=True))
        except Exception as exc:
            _prefix(exc, name)
            raise
        try:
            typed = params
            if source.notebook is not None:
                nb = _parse_notebook(source.notebook, source.path)
                declared, has_cell = notebook_parameters(nb)
                typed = coerce_parameters(
                    params,
                    declared,
                    allow_unknown=step.allow_unknown_params,
                    has_parameters_cell=has_cell,
                )
                typed = {k: v for k, v in typed.items() if k in params}
            step = step.model_copy(update={"parameters": typed})
            self._ws.jobs.check(self.job_spec(spec, name, step, check=True), source)
        except Exception as exc:
            _prefix(exc, name)
            raise
        return step, source

    def job_spec(
        self,
        spec: PipelineSpec,
        name: str,
        step: StepSpec,
        *,
        inputs: dict[str, str] | None = None,
        check: bool = False,
        run_id: str = "check",
        tags: dict[str, str] | None = None,
    ) -> JobSpec:
        """The job a step runs as: its upstream outputs bound as exact data versions
        (``inputs``), or, to check it before they exist, as path parameters."""
        params = dict(step.parameters)
        bound: dict[str, str] = {}
        for key, value in step.inputs.items():
            ref = parse_ref(value)
            if ref is None:
                bound[key] = str(value)
            elif check:
                params[key] = UPSTREAM_PATH
            else:
                assert inputs is not None
                bound[key] = inputs[key]
        outputs = {
            key: f"data:{output_asset(spec, name, key, out)},kind="
            + ("file" if out.type == "uri_file" else "folder")
            for key, out in _outputs(step).items()
        }
        display = spec.display_name or "pipeline"
        fields: dict[str, Any] = {
            "parameters": params,
            "inputs": bound,
            "outputs": outputs,
            "environment": step.environment,
            "environment_variables": step.environment_variables,
            "compute": step.compute or spec.settings.default_compute or spec.compute,
            "kernel_name": step.kernel_name,
            "resources": step.resources.model_dump(exclude_none=True),
            "timeout_s": step.timeout_s,
            "max_retries": step.max_retries,
            "allow_unknown_params": step.allow_unknown_params,
            "display_name": step.display_name or f"{display} / {name}"[:256],
            "experiment": spec.experiment or display,
            "parent": JobParent(kind="pipeline", id=run_id, name=name),
            "tags": {**spec.tags, **(tags or {})},
        }
        if step.notebook is not None:
            fields["notebook_path"] = step.notebook
        else:
            fields["command"] = step.command
            if step.code is not None:
                fields["code"] = step.code
        return make_spec({k: v for k, v in fields.items() if v is not None})

    # -- reuse keys ----------------------------------------------------------------------------
    def components(
        self,
        run_id: str,
        spec: PipelineSpec,
        name: str,
        inputs: dict[str, str],
        source: JobSource | None = None,
    ) -> KeyComponents:
        """The reuse key's components of a step whose inputs are known."""
        step = spec.jobs[name]
        source = source or self.source(run_id, name, step)
        kernel = step.kernel_name
        if source.notebook is not None:
            code = keys.notebook_digest(source.notebook)
            if kernel is None:
                nb = _parse_notebook(source.notebook, source.path)
                kernel = nb.metadata.get("kernelspec", {}).get("name")
        else:
            files = source.code.files if source.code is not None else []
            code = keys.code_digest(files, step.command or "")
        environment = None
        if step.environment:
            environment = self._ws.environments.resolve(step.environment).ref
        data = {k: v.removeprefix("data:") for k, v in inputs.items()}
        for key, value in step.inputs.items():
            if parse_ref(value) is None:
                data[key] = str(value).removeprefix("data:")
        return KeyComponents(
            code=code,
            kind=step.kind,
            parameters=step.parameters,
            inputs=dict(sorted(data.items())),
            environment=environment,
            options={
                "kernel": kernel,
                "outputs": {k: o.type for k, o in sorted(_outputs(step).items())},
                "environment_variables": step.environment_variables,
                "allow_unknown_params": step.allow_unknown_params,
            },
        )

    def find_reusable(self, key: str, not_run: str) -> PipelineStepRow | None:
        """The newest step that completed (or was reused) with this key and whose outputs
        still exist: a run deleted after others reused it leaves them as candidates."""
        with self._ws.db.session() as s:
            rows = list(
                s.scalars(
                    select(PipelineStepRow)
                    .where(
                        PipelineStepRow.reuse_key == key,
                        PipelineStepRow.status.in_(
                            (StepStatus.COMPLETED.value, StepStatus.REUSED.value)
                        ),
                        PipelineStepRow.run_id != not_run,
                    )
                    .order_by(PipelineStepRow.finished_at.desc())
                    .limit(20)
                )
            )
        for row in rows:
            if self._outputs_exist(row.outputs or {}):
                return row
        return None

    def _outputs_exist(self, outputs: dict[str, str]) -> bool:
        for ref in outputs.values():
            try:
                if self._ws.data.info(parse_data_ref(ref)).archived:
                    return False
            except Exception:
                return False
        return True

    def why(self, run_id: str, step: str) -> WhyInfo:
        """Why a step of a run was reused or not: the component that changed, with a diff."""
        info = self.info(run_id)
        row = self._step_row(info.id, step)
        base = {"run_id": info.id, "step": step}
        if row.status == StepStatus.REUSED.value:
            how = "taken from the source run" if row.pinned else "the same key"
            return WhyInfo(
                **base,
                reused=True,
                reason=f"reused from run {row.reused_from_run} (job {row.reused_from_job}): {how}",
                compared_run=row.reused_from_run,
            )
        if row.status == StepStatus.EXCLUDED.value:
            return WhyInfo(**base, reused=False, reason="not in the run's selection")
        if row.components is None:
            reason = row.status_reason or f"not decided yet ({row.status})"
            return WhyInfo(**base, reused=False, reason=reason)
        spec_step = info.spec.jobs[step]
        if row.forced or spec_step.force_rerun or info.spec.settings.force_rerun:
            where = "selected in a rerun" if row.forced else "force_rerun is set"
            return WhyInfo(**base, reused=False, reason=f"not looked up: {where}")
        if not spec_step.is_deterministic:
            return WhyInfo(**base, reused=False, reason="not looked up: is_deterministic is false")
        new = KeyComponents.model_validate(row.components)
        earlier = self._earlier(info, step, row.created_at, new)
        if earlier is None:
            return WhyInfo(
                **base,
                reused=False,
                reason=f"no earlier run of step {step!r} in pipeline {info.name!r} (nor any "
                "step with the same key) to reuse",
            )
        old = KeyComponents.model_validate(earlier.components)
        changed = keys.changed(old, new)
        if not changed:
            return WhyInfo(
                **base,
                reused=False,
                reason=f"run {earlier.run_id} had the same key, but its outputs were deleted or "
                "archived (or it had not completed when this step started)",
                compared_run=earlier.run_id,
            )
        details: list[str] = []
        for comp in changed:
            if comp == "code":
                details += self._code_diff(earlier, row, info.spec, step)
            else:
                details += keys.value_diff(comp, getattr(old, comp), getattr(new, comp))
        return WhyInfo(
            **base,
            reused=False,
            reason=f"changed since run {earlier.run_id}: {', '.join(changed)}",
            compared_run=earlier.run_id,
            changed=changed,
            details=details,
        )

    def _earlier(
        self, info: PipelineRunInfo, step: str, before: datetime, new: KeyComponents
    ) -> PipelineStepRow | None:
        """The closest earlier result of this step in this pipeline: of the last 50, the one
        with the fewest changed components (the newest of those)."""
        with self._ws.db.session() as s:
            rows = list(
                s.scalars(
                    select(PipelineStepRow)
                    .join(PipelineRunRow, PipelineRunRow.id == PipelineStepRow.run_id)
                    .where(
                        PipelineRunRow.name == info.name,
                        PipelineStepRow.name == step,
                        PipelineStepRow.run_id != info.id,
                        PipelineStepRow.components.is_not(None),
                        PipelineStepRow.created_at <= before,
                        PipelineStepRow.status.in_(
                            (StepStatus.COMPLETED.value, StepStatus.REUSED.value)
                        ),
                    )
                    .order_by(PipelineStepRow.created_at.desc())
                    .limit(50)
                )
            )
        if not rows:
            return None
        return min(
            rows,
            key=lambda r: len(keys.changed(KeyComponents.model_validate(r.components), new)),
        )

    def _code_diff(
        self, old: PipelineStepRow, new: PipelineStepRow, spec: PipelineSpec, step: str
    ) -> list[str]:
        old_info = self.info(old.run_id)
        texts = []
        for run, sp in ((old.run_id, old_info.spec), (new.run_id, spec)):
            folder = self.step_folder(run, step)
            st = sp.jobs.get(step)
            if (folder / "notebook.ipynb").exists():
                texts.append(keys.notebook_text((folder / "notebook.ipynb").read_bytes()))
            elif st is not None:
                texts.append(keys.folder_text(folder / "code", st.command or ""))
            else:
                texts.append("")
        return keys.text_diff(texts[0], texts[1], f"run {old.run_id}", f"run {new.run_id}")

    # -- reading -------------------------------------------------------------------------------
    def get(self, run_id: str) -> PipelineRun:
        return PipelineRun(self._ws, self.info(run_id))

    def _row(self, s: Any, run_id: str) -> PipelineRunRow:
        row = s.get(PipelineRunRow, run_id)
        if row is None and len(run_id) >= 4:
            rows = s.scalars(
                select(PipelineRunRow)
                .where(PipelineRunRow.id.startswith(run_id, autoescape=True))
                .limit(2)
            ).all()
            if len(rows) > 1:
                raise InvalidInputError(
                    f"pipeline run id prefix {run_id!r} is ambiguous", hint="give more characters"
                )
            row = rows[0] if rows else None
        if row is None:
            raise PipelineRunNotFoundError(
                f"pipeline run {run_id!r} does not exist",
                hint="list runs with `mlbench pipeline list`",
            )
        return row

    def info(self, run_id: str) -> PipelineRunInfo:
        with self._ws.db.session() as s:
            return self._infos(s, [self._row(s, run_id)])[0]

    def _infos(self, s: Any, rows: list[PipelineRunRow]) -> list[PipelineRunInfo]:
        ids = [r.id for r in rows]
        counts = {i: StepCounts() for i in ids}
        outputs: dict[str, dict[str, dict[str, str]]] = {i: {} for i in ids}
        if ids:
            for run_id, name, status, outs in s.execute(
                select(
                    PipelineStepRow.run_id,
                    PipelineStepRow.name,
                    PipelineStepRow.status,
                    PipelineStepRow.outputs,
                ).where(PipelineStepRow.run_id.in_(ids))
            ):
                key = "running" if status in ("queued", "starting", "running") else status
                c = counts[run_id]
                setattr(c, key, getattr(c, key) + 1)
                outputs[run_id][name] = outs or {}
        out = []
        for r in rows:
            spec = PipelineSpec.model_validate(r.spec)
            produced = {}
            for pout, value in spec.outputs.items():
                ref = parse_ref(value)
                if ref and ref[0] == "step":
                    got = outputs[r.id].get(ref[1], {}).get(ref[2])
                    if got:
                        produced[pout] = got
            out.append(
                PipelineRunInfo(
                    id=r.id,
                    name=r.name,
                    display_name=r.display_name,
                    experiment=r.experiment,
                    compute=r.compute,
                    status=PipelineStatus(r.status),
                    status_reason=r.status_reason,
                    cancel_requested=r.cancel_requested,
                    owner=r.owner,
                    spec=spec,
                    selection=r.selection or {},
                    source_run_id=r.source_run_id,
                    created_at=r.created_at,
                    updated_at=r.updated_at,
                    started_at=r.started_at,
                    finished_at=r.finished_at,
                    mlflow_experiment_id=r.mlflow_experiment_id,
                    mlflow_run_id=r.mlflow_run_id,
                    counts=counts[r.id],
                    outputs=produced,
                )
            )
        return out

    def list(
        self,
        *,
        status: str | None = None,
        name: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> PipelineRunPage:
        """Newest first, ``limit`` at a time; pass ``next_cursor`` for more."""
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInputError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
        query = select(PipelineRunRow)
        if status:
            try:
                query = query.where(PipelineRunRow.status == PipelineStatus(status).value)
            except ValueError:
                raise InvalidInputError(
                    f"unknown pipeline status {status!r}",
                    hint="statuses: " + ", ".join(x.value for x in PipelineStatus),
                ) from None
        if name:
            query = query.where(PipelineRunRow.name == name)
        if cursor:
            query = query.where(older_than(PipelineRunRow, cursor))
        query = query.order_by(PipelineRunRow.created_at.desc(), PipelineRunRow.id.desc())
        with self._ws.db.session() as s:
            rows = list(s.scalars(query.limit(limit + 1)))
            more = len(rows) > limit
            rows = rows[:limit]
            items = self._infos(s, rows)
        nxt = encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
        return PipelineRunPage(items=items, next_cursor=nxt)

    def _step_row(self, run_id: str, step: str) -> PipelineStepRow:
        with self._ws.db.session() as s:
            row = s.get(PipelineStepRow, (run_id, step))
            if row is None:
                names = s.scalars(
                    select(PipelineStepRow.name).where(PipelineStepRow.run_id == run_id)
                ).all()
                raise NotFoundError(
                    f"pipeline run {run_id} has no step {step!r}",
                    hint="its steps: " + ", ".join(names),
                )
            return row

    def steps(self, run_id: str) -> list[StepInfo]:
        """Every step of a run, in the pipeline's order, with its job's current state."""
        info = self.info(run_id)
        order = {n: i for i, n in enumerate(info.spec.jobs)}
        with self._ws.db.session() as s:
            rows = s.execute(
                select(PipelineStepRow, JobRow.status, JobRow.started_at, JobRow.finished_at)
                .join(JobRow, JobRow.id == PipelineStepRow.job_id, isouter=True)
                .where(PipelineStepRow.run_id == info.id)
            ).all()
        out = []
        for row, job_status, job_started, job_finished in rows:
            status = StepStatus(row.status)
            if not status.is_final and job_status in ("queued", "starting", "running"):
                status = StepStatus(job_status)
            started = job_started or row.started_at
            finished = row.finished_at or job_finished
            duration = None
            if started is not None and row.status != StepStatus.REUSED.value:
                duration = ((finished or utcnow()) - started).total_seconds()
            out.append(
                StepInfo(
                    run_id=row.run_id,
                    name=row.name,
                    kind=row.kind,  # type: ignore[arg-type]
                    status=status,
                    status_reason=row.status_reason,
                    job_id=row.job_id,
                    compute=row.compute,
                    depends_on=row.depends_on or [],
                    selected=row.selected,
                    forced=row.forced,
                    reuse_key=row.reuse_key,
                    components=KeyComponents.model_validate(row.components)
                    if row.components
                    else None,
                    reused_from_run=row.reused_from_run,
                    reused_from_job=row.reused_from_job,
                    outputs=row.outputs or {},
                    created_at=row.created_at,
                    started_at=started,
                    finished_at=finished,
                    duration_s=duration,
                )
            )
        return sorted(out, key=lambda x: order.get(x.name, 0))

    # -- changes -------------------------------------------------------------------------------
    def cancel(self, run_id: str) -> PipelineRunInfo:
        """Cancel the running steps and skip the rest; the agent finishes the run."""
        info = self.info(run_id)
        if info.status.is_final:
            return info
        with self._ws.db.write() as s:
            s.execute(
                update(PipelineRunRow)
                .where(PipelineRunRow.id == info.id, PipelineRunRow.status.in_(ACTIVE))
                .values(cancel_requested=True, updated_at=utcnow())
            )
        for step in self.steps(info.id):
            if step.job_id and not step.status.is_final:
                # already final, or not submitted yet: the driver sees to it
                with contextlib.suppress(Exception):
                    self._ws.jobs.cancel(step.job_id)
        self._ws.agents(info.compute).wake()
        return self.info(info.id)

    def delete(self, run_id: str, *, delete_runs: bool = True) -> None:
        """Remove a finished run, its steps' jobs and (by default) its MLflow runs. Data
        versions its steps registered stay (other runs may reuse them)."""
        info = self.info(run_id)
        if not info.status.is_final:
            raise ConflictError(
                f"pipeline run {info.id} is {info.status.value}",
                hint=f"cancel it first: mlbench pipeline cancel {info.id}",
            )
        with self._ws.db.session() as s:
            job_ids = list(s.scalars(select(JobRow.id).where(JobRow.parent_id == info.id)))
        self._ws.jobs.delete_many(job_ids, delete_run=delete_runs)
        if delete_runs and info.mlflow_run_id:
            self._ws.tracking.delete_run(info.mlflow_run_id)
        with self._ws.db.write() as s:
            s.execute(delete(PipelineStepRow).where(PipelineStepRow.run_id == info.id))
            s.execute(delete(PipelineRunRow).where(PipelineRunRow.id == info.id))
        shutil.rmtree(self.folder(info.id), ignore_errors=True)
        self._ws.jobs.lifecycle.event(info.id, "pipeline", {"status": "deleted"})

    def wait(self, run_id: str, timeout: float | None = None, poll: float = 0.2) -> PipelineRunInfo:
        deadline = None if timeout is None else time.monotonic() + timeout
        last_check = time.monotonic()
        while True:
            info = self.info(run_id)
            if info.status.is_final:
                return info
            if deadline is not None and time.monotonic() > deadline:
                raise WaitTimeoutError(
                    f"pipeline run {info.id} is still {info.status.value} after {timeout:g} s",
                    hint="wait longer, or follow it with `mlbench pipeline show`",
                )
            if time.monotonic() - last_check > 2.0:  # keep its agent alive, as a job wait does
                last_check = time.monotonic()
                self._ws.agents(info.compute).ensure_running()
            time.sleep(poll)


class PipelineRun:
    """A submitted pipeline run. Attribute reads fetch fresh state."""

    def __init__(self, ws: Workspace, info: PipelineRunInfo) -> None:
        self._ws = ws
        self._info = info

    @property
    def id(self) -> str:
        return self._info.id

    @property
    def info(self) -> PipelineRunInfo:
        self._info = self._ws.pipelines.info(self.id)
        return self._info

    @property
    def status(self) -> PipelineStatus:
        return self.info.status

    def steps(self) -> list[StepInfo]:
        return self._ws.pipelines.steps(self.id)

    def step(self, name: str) -> StepInfo:
        for s in self.steps():
            if s.name == name:
                return s
        raise NotFoundError(f"pipeline run {self.id} has no step {name!r}")

    def why(self, step: str) -> WhyInfo:
        return self._ws.pipelines.why(self.id, step)

    def wait(self, timeout: float | None = None) -> PipelineRun:
        self._info = self._ws.pipelines.wait(self.id, timeout)
        return self

    def cancel(self) -> PipelineRun:
        self._info = self._ws.pipelines.cancel(self.id)
        return self

    def rerun(self, **selection: Any) -> PipelineRun:
        return self._ws.pipelines.rerun(self.id, **selection)

    def __repr__(self) -> str:
        i = self._info
        return f"<PipelineRun {i.id} {i.display_name!r} {i.status.value}>"


# -- helpers -----------------------------------------------------------------------------------
def _outputs(step: StepSpec) -> dict[str, Any]:
    from mlbench.pipelines.models import StepOutput

    return {
        k: v if isinstance(v, StepOutput) else StepOutput(type=v or "uri_folder")  # type: ignore[arg-type]
        for k, v in step.outputs.items()
    }


def output_asset(spec: PipelineSpec, step: str, output: str, out: Any) -> str:
    """The data asset a step output registers versions of (default PIPELINE.STEP.OUTPUT)."""
    if getattr(out, "name", None):
        return str(out.name)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", spec.display_name or "pipeline").strip("-.")
    stem = stem if stem and stem[0].isalnum() else f"p{stem}"
    return f"{stem[:60]}.{step}.{output}"[:128]


def _prefix(exc: Exception, step: str) -> None:
    """An error from checking a step names the step."""
    message = getattr(exc, "message", None)
    if isinstance(message, str) and not message.startswith(f"step {step}:"):
        exc.message = f"step {step}: {message}"  # type: ignore[attr-defined]
        exc.args = (exc.message,)  # type: ignore[attr-defined]


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return ""


__all__ = [
    "ACTIVE",
    "Pipeline",
    "PipelineRun",
    "PipelineRunNotFoundError",
    "Pipelines",
    "output_asset",
]
