"""``ws.sweeps``: submit, read, cancel and delete sweeps.

A sweep is checked whole at submission — the search space against the notebook's typed
parameters, the sampler against the space, one trial's job spec as the job service would check
it — and nothing is stored unless all of it passes. The notebook is snapshotted once; every
trial runs that snapshot. The compute target's agent drives the sweep from the database
(:mod:`mlbench.sweeps.driver`).
"""

from __future__ import annotations

import getpass
import logging
import secrets
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError
from sqlalchemy import and_, delete, func, or_, select, update

from mlbench._ids import new_id, utcnow
from mlbench.errors import ConflictError, InvalidInputError, NotFoundError, WaitTimeoutError
from mlbench.jobs.command import copy_code, placeholders, scan_code
from mlbench.jobs.models import JobStatus, Termination
from mlbench.jobs.parameters import coerce_parameters, notebook_parameters
from mlbench.jobs.service import JobSource, make_spec
from mlbench.paging import encode_cursor, older_than
from mlbench.store import JobRow, SweepRow, SweepTrialRow
from mlbench.sweeps.models import (
    SweepInfo,
    SweepPage,
    SweepSpec,
    SweepStatus,
    TrialCounts,
    TrialInfo,
)
from mlbench.sweeps.samplers import make_sampler
from mlbench.sweeps.space import check_against_parameters, grid_size, parse_space, to_optuna

if TYPE_CHECKING:
    import pandas as pd

    from mlbench.workspace import Workspace

log = logging.getLogger(__name__)

DEFAULT_TRIALS = 10
MAX_LIMIT = 1000
ACTIVE = (SweepStatus.QUEUED.value, SweepStatus.RUNNING.value)


class SweepNotFoundError(NotFoundError):
    code = "sweep_not_found"


class Sweeps:
    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    # -- paths ---------------------------------------------------------------------------------
    def folder(self, sweep_id: str) -> Path:
        return self._ws.home / "sweeps" / sweep_id

    def source(self, info: SweepInfo) -> JobSource:
        """What every trial runs, as snapshotted at submission: the notebook, or the command's
        code folder."""
        folder = self.folder(info.id)
        if info.spec.trial.command is None:
            notebook = (folder / "notebook.ipynb").read_bytes()
            return JobSource(Path(info.notebook_path), notebook=notebook)
        code = folder / "code"
        snapshot = scan_code(code, self._ws.settings.code_max_bytes) if code.is_dir() else None
        return JobSource(Path(info.notebook_path), code=snapshot)

    # -- submission ----------------------------------------------------------------------------
    def submit(
        self,
        spec: SweepSpec | Mapping[str, Any] | str | Path,
        *,
        start_agent: bool = True,
        **changes: Any,
    ) -> Sweep:
        """Check and queue a sweep: a :class:`SweepSpec`, a mapping with Azure ML's sweep job
        keys, or the path of such a YAML file; ``changes`` override top-level keys."""
        if isinstance(spec, str | Path):
            spec = self.load(Path(spec))
        if isinstance(spec, SweepSpec):
            spec = spec.model_dump(exclude_unset=True)
        spec = parse_sweep({**dict(spec), **changes})
        spec = self._normalized(spec)
        sweep_id = new_id()
        source = self._ws.jobs.source(spec.trial)  # read once: every trial runs this snapshot
        spec = self._check(spec, source)
        folder = self.folder(sweep_id)
        folder.mkdir(parents=True, exist_ok=True)
        try:
            if source.notebook is not None:
                (folder / "notebook.ipynb").write_bytes(source.notebook)
            elif source.code is not None:
                copy_code(source.code, folder / "code")
            now = utcnow()
            stem = source.name
            row = SweepRow(
                id=sweep_id,
                display_name=spec.display_name or f"{stem} sweep",
                experiment=spec.experiment or spec.trial.experiment or stem,
                compute=spec.trial.compute,
                notebook_path=str(source.path),
                spec=spec.model_dump(mode="json"),
                status=SweepStatus.QUEUED.value,
                status_reason="waiting for the agent",
                cancel_requested=False,
                owner=_user(),
                created_at=now,
                updated_at=now,
                trial_count=0,
            )
            with self._ws.db.write() as s:
                s.add(row)
            self._ws.jobs.lifecycle.event(sweep_id, "sweep", {"status": "queued"})
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        if start_agent:
            agent = self._ws.agents(spec.trial.compute)
            agent.ensure_running()
            agent.wake()
        return Sweep(self._ws, self.info(sweep_id))

    def load(self, path: Path) -> dict[str, Any]:
        """A sweep file: mlbench's notebook sweep, or Azure ML's sweep job with a command trial
        (its references mapped as :meth:`Jobs.load_yaml` does)."""
        raw = load_yaml(path)
        if isinstance(raw.get("trial"), dict) and "command" in raw["trial"]:
            loaded = self._ws.jobs.load_yaml(path)
            for note in loaded.notes:
                log.info("%s: %s", path.name, note)
            return loaded.body
        return raw

    def _normalized(self, spec: SweepSpec) -> SweepSpec:
        """Defaults made explicit (the seed, the trial budget) so a resumed sweep is the same."""
        algo = spec.sampling_algorithm
        limits = spec.limits
        update_algo: dict[str, Any] = {}
        if algo.seed is None:
            update_algo["seed"] = secrets.randbelow(2**31)
        total = limits.max_total_trials
        if algo.type == "grid":
            size = grid_size(spec.search_space)  # raises for a continuous expression
            total = size if total is None else min(total, size)
        elif algo.type == "bayesian":
            for expr in spec.search_space.values():
                to_optuna(expr)  # raises for what TPE cannot sample
        total = total or DEFAULT_TRIALS
        return spec.model_copy(
            update={
                "sampling_algorithm": algo.model_copy(update=update_algo),
                "limits": limits.model_copy(update={"max_total_trials": total}),
            }
        )

    def _check(self, spec: SweepSpec, source: JobSource) -> SweepSpec:
        """The spec checked whole, with its fixed parameters typed as the notebook declares
        them (a command line's '2' becomes 2 once, here, not in every trial)."""
        from mlbench.jobs.service import _parse_notebook

        both = sorted(set(spec.search_space) & set(spec.trial.parameters))
        if both:
            raise InvalidInputError(
                f"parameter(s) {', '.join(both)} are both fixed and in the search space",
                hint="remove them from the trial's parameters or from the search space",
            )
        if source.notebook is not None:
            nb = _parse_notebook(source.notebook, source.path)
            declared, has_cell = notebook_parameters(nb)
            check_against_parameters(spec.search_space, declared)
            fixed = coerce_parameters(
                spec.trial.parameters,
                declared,
                allow_unknown=spec.trial.allow_unknown_params,
                has_parameters_cell=has_cell,
            )
        else:  # a command takes what its placeholders name, untyped
            used = {p.name for p in placeholders(spec.trial.command or "")}
            unused = sorted(set(spec.search_space) - used)
            if unused:
                raise InvalidInputError(
                    f"search space parameter(s) {', '.join(unused)} are not used by the command",
                    hint="pass each to the command as ${{search_space.NAME}}",
                )
            fixed = dict(spec.trial.parameters)
        spec = spec.model_copy(
            update={"trial": spec.trial.model_copy(update={"parameters": fixed})}
        )
        first = self.sampler(spec).params(0)
        trial = spec.trial.model_copy(update={"parameters": {**fixed, **first}})
        self._ws.jobs.check(trial, source)
        return spec

    @staticmethod
    def sampler(spec: SweepSpec) -> Any:
        algo = spec.sampling_algorithm
        return make_sampler(
            algo.type, spec.search_space, algo.seed or 0, algo.rule, spec.objective.goal
        )

    # -- reading -------------------------------------------------------------------------------
    def get(self, sweep_id: str) -> Sweep:
        return Sweep(self._ws, self.info(sweep_id))

    def info(self, sweep_id: str) -> SweepInfo:
        with self._ws.db.session() as s:
            row = s.get(SweepRow, sweep_id)
            if row is None and len(sweep_id) >= 4:
                rows = s.scalars(
                    select(SweepRow)
                    .where(SweepRow.id.startswith(sweep_id, autoescape=True))
                    .limit(2)
                ).all()
                if len(rows) > 1:
                    raise InvalidInputError(
                        f"sweep id prefix {sweep_id!r} is ambiguous", hint="give more characters"
                    )
                row = rows[0] if rows else None
            if row is None:
                raise SweepNotFoundError(
                    f"sweep {sweep_id!r} does not exist",
                    hint="list sweeps with `mlbench sweep list`",
                )
            return self._infos(s, [row])[0]

    def _infos(self, s: Any, rows: list[SweepRow]) -> list[SweepInfo]:
        ids = [r.id for r in rows]
        counts: dict[str, TrialCounts] = {i: TrialCounts() for i in ids}
        if ids:
            for sweep_id, status, n in s.execute(
                select(JobRow.parent_id, JobRow.status, func.count())
                .where(JobRow.parent_id.in_(ids))
                .group_by(JobRow.parent_id, JobRow.status)
            ):
                key = "queued" if status == "starting" else status
                key = "failed" if key == "timed_out" else key
                c = counts[sweep_id]
                setattr(c, key, getattr(c, key) + n)
        best: dict[tuple[str, int], dict[str, Any]] = {}
        wanted = [(r.id, r.best_trial) for r in rows if r.best_trial is not None]
        if wanted:
            for t in s.scalars(
                select(SweepTrialRow).where(
                    or_(
                        *(
                            and_(SweepTrialRow.sweep_id == i, SweepTrialRow.index == n)
                            for i, n in wanted
                        )
                    )
                )
            ):
                best[(t.sweep_id, t.index)] = t.parameters
        out = []
        for r in rows:
            spec = SweepSpec.model_validate(r.spec)
            out.append(
                SweepInfo(
                    id=r.id,
                    display_name=r.display_name,
                    experiment=r.experiment,
                    compute=r.compute,
                    notebook_path=r.notebook_path,
                    status=SweepStatus(r.status),
                    status_reason=r.status_reason,
                    cancel_requested=r.cancel_requested,
                    owner=r.owner,
                    spec=spec,
                    created_at=r.created_at,
                    updated_at=r.updated_at,
                    started_at=r.started_at,
                    finished_at=r.finished_at,
                    mlflow_experiment_id=r.mlflow_experiment_id,
                    mlflow_run_id=r.mlflow_run_id,
                    trial_count=r.trial_count,
                    max_total_trials=spec.limits.max_total_trials or DEFAULT_TRIALS,
                    counts=counts[r.id],
                    best_trial=r.best_trial,
                    best_value=r.best_value,
                    best_parameters=best.get((r.id, r.best_trial or -1)),
                )
            )
        return out

    def list(
        self,
        *,
        status: str | None = None,
        compute: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> SweepPage:
        """Newest first, ``limit`` at a time; pass ``next_cursor`` for more."""
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInputError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
        query = select(SweepRow)
        if status:
            try:
                query = query.where(SweepRow.status == SweepStatus(status).value)
            except ValueError:
                raise InvalidInputError(
                    f"unknown sweep status {status!r}",
                    hint="statuses: " + ", ".join(x.value for x in SweepStatus),
                ) from None
        if compute:
            query = query.where(SweepRow.compute == compute)
        if cursor:
            query = query.where(older_than(SweepRow, cursor))
        query = query.order_by(SweepRow.created_at.desc(), SweepRow.id.desc()).limit(limit + 1)
        with self._ws.db.session() as s:
            rows = list(s.scalars(query))
            more = len(rows) > limit
            rows = rows[:limit]
            items = self._infos(s, rows)
        nxt = encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
        return SweepPage(items=items, next_cursor=nxt)

    def trials(self, sweep_id: str, *, status: str | None = None) -> list[TrialInfo]:
        """Every trial, in trial order, with its job's current state."""
        info = self.info(sweep_id)
        with self._ws.db.session() as s:
            rows = s.execute(
                select(
                    SweepTrialRow,
                    JobRow.status,
                    JobRow.termination,
                    JobRow.finished_at,
                    JobRow.mlflow_run_id,
                )
                .join(JobRow, JobRow.id == SweepTrialRow.job_id, isouter=True)
                .where(SweepTrialRow.sweep_id == info.id)
                .order_by(SweepTrialRow.index)
            ).all()
        out = []
        for t, job_status, termination, finished, run_id in rows:
            state = JobStatus(job_status or t.status)
            if status and state.value != status:
                continue
            stop = t.termination or termination
            out.append(
                TrialInfo(
                    sweep_id=t.sweep_id,
                    index=t.index,
                    job_id=t.job_id,
                    mlflow_run_id=run_id,
                    parameters=t.parameters,
                    status=state,
                    value=t.value,
                    reports=t.reports,
                    metrics=t.metrics or {},
                    termination=Termination.model_validate(stop) if stop else None,
                    recorded=JobStatus(t.status).is_final,
                    created_at=t.created_at,
                    finished_at=t.finished_at or finished,
                )
            )
        return out

    # -- changes -------------------------------------------------------------------------------
    def cancel(self, sweep_id: str) -> SweepInfo:
        """Stop sampling and cancel the running trials; the agent finishes the sweep."""
        info = self.info(sweep_id)
        if info.status.is_final:
            return info
        with self._ws.db.write() as s:
            s.execute(
                update(SweepRow)
                .where(SweepRow.id == info.id, SweepRow.status.in_(ACTIVE))
                .values(cancel_requested=True, updated_at=utcnow())
            )
        for trial in self.trials(info.id):
            if not trial.status.is_final:
                self._ws.jobs.cancel(trial.job_id)
        self._ws.agents(info.compute).wake()
        return self.info(info.id)

    def delete(self, sweep_id: str, *, delete_runs: bool = True) -> None:
        """Remove a finished sweep, its trials' jobs and (by default) its MLflow runs."""
        info = self.info(sweep_id)
        if not info.status.is_final:
            raise ConflictError(
                f"sweep {info.id} is {info.status.value}",
                hint=f"cancel it first: mlbench sweep cancel {info.id}",
            )
        with self._ws.db.session() as s:
            job_ids = list(s.scalars(select(JobRow.id).where(JobRow.parent_id == info.id)))
        self._ws.jobs.delete_many(job_ids, delete_run=delete_runs)
        if delete_runs and info.mlflow_run_id:
            self._ws.tracking.delete_run(info.mlflow_run_id)
        with self._ws.db.write() as s:
            s.execute(delete(SweepTrialRow).where(SweepTrialRow.sweep_id == info.id))
            s.execute(delete(SweepRow).where(SweepRow.id == info.id))
        shutil.rmtree(self.folder(info.id), ignore_errors=True)
        self._ws.jobs.lifecycle.event(info.id, "sweep", {"status": "deleted"})

    def wait(self, sweep_id: str, timeout: float | None = None, poll: float = 0.5) -> SweepInfo:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            info = self.info(sweep_id)
            if info.status.is_final:
                return info
            if deadline is not None and time.monotonic() > deadline:
                raise WaitTimeoutError(
                    f"sweep {info.id} is still {info.status.value} after {timeout:g} s",
                    hint="wait longer, or follow it with `mlbench sweep show --watch`",
                )
            time.sleep(poll)


class Sweep:
    """A submitted sweep. Attribute reads fetch fresh state."""

    def __init__(self, ws: Workspace, info: SweepInfo) -> None:
        self._ws = ws
        self._info = info

    @property
    def id(self) -> str:
        return self._info.id

    @property
    def info(self) -> SweepInfo:
        self._info = self._ws.sweeps.info(self.id)
        return self._info

    @property
    def status(self) -> SweepStatus:
        return self.info.status

    def trials(self, status: str | None = None) -> list[TrialInfo]:
        return self._ws.sweeps.trials(self.id, status=status)

    @property
    def best_trial(self) -> TrialInfo | None:
        """The trial with the best objective so far (None until one reported)."""
        best = self.info.best_trial
        if best is None:
            return None
        return next((t for t in self.trials() if t.index == best), None)

    def trials_dataframe(self) -> pd.DataFrame:
        """One row per trial: number, job, state, objective, each parameter and each metric."""
        import pandas as pd

        metric = self._info.spec.objective.primary_metric
        rows = []
        for t in self.trials():
            rows.append(
                {
                    "trial": t.index,
                    "job_id": t.job_id,
                    "status": t.status.value,
                    metric: t.value,
                    "reports": t.reports,
                    **{f"params.{k}": v for k, v in t.parameters.items()},
                    **{f"metrics.{k}": v for k, v in t.metrics.items()},
                    "stopped_by": t.termination.detail if t.termination else None,
                }
            )
        return pd.DataFrame(rows)

    def wait(self, timeout: float | None = None) -> Sweep:
        self._info = self._ws.sweeps.wait(self.id, timeout)
        return self

    def cancel(self) -> Sweep:
        self._info = self._ws.sweeps.cancel(self.id)
        return self

    def __repr__(self) -> str:
        i = self._info
        return f"<Sweep {i.id} {i.display_name!r} {i.status.value}: {i.trial_count} trials>"


# -- configuration -----------------------------------------------------------------------------
TRIAL_KEYS = {
    "notebook",
    "notebook_path",
    "command",
    "code",
    "environment_variables",
    "parameters",
    "compute",
    "kernel_name",
    "resources",
    "cpus",
    "gpus",
    "memory",
    "timeout_s",
    "max_retries",
    "environment",
    "inputs",
    "outputs",
    "cwd",
    "allow_unknown_params",
}


def load_yaml(path: Path) -> dict[str, Any]:
    """A sweep YAML file (Azure ML's sweep job keys); relative paths are from its folder."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInputError(
            f"{path} does not exist", hint="give the sweep's YAML file"
        ) from None
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise InvalidInputError(f"{path} must hold a mapping of sweep keys")
    trial = raw.get("trial") if isinstance(raw.get("trial"), dict) else raw
    for key in ("notebook", "notebook_path", "code"):
        value = trial.get(key)
        if isinstance(value, str) and not Path(value).expanduser().is_absolute():
            trial[key] = str((path.parent / value).resolve())
    return raw


def parse_sweep(raw: Mapping[str, Any]) -> SweepSpec:
    """A SweepSpec from Azure ML's sweep job keys (or mlbench's own), with clear errors."""
    body = dict(raw)
    kind = body.pop("type", "sweep")
    if kind != "sweep":
        raise InvalidInputError(f"type is {kind!r}; a sweep file has type: sweep")
    body.pop("$schema", None)
    body.pop("description", None)
    if "experiment_name" in body:
        body["experiment"] = body.pop("experiment_name")
    trial = body.pop("trial", None)
    if isinstance(trial, str):
        raise InvalidInputError(
            f"trial: {trial!r} names a job file; give the trial inline",
            hint="trial: {code: src, command: ...}, or `notebook: train.ipynb`",
        )
    trial = dict(trial or {})
    for key in list(body):
        if key in TRIAL_KEYS:
            trial[key] = body.pop(key)
    if "notebook" in trial:
        trial["notebook_path"] = trial.pop("notebook")
    if isinstance(trial.get("compute"), str) and trial["compute"].startswith("azureml:"):
        trial["compute"] = trial["compute"][len("azureml:") :]
    if "notebook_path" not in trial and "command" not in trial:
        raise InvalidInputError(
            "a sweep needs a notebook or a command",
            hint="add `notebook: train.ipynb`, or `trial: {code: src, command: python train.py "
            "--lr ${{search_space.lr}}}`",
        )
    if not body.get("objective"):
        raise InvalidInputError(
            "a sweep needs an objective: the metric to optimize and its goal",
            hint="objective: {primary_metric: acc, goal: maximize} (CLI: --metric acc --goal max)",
        )
    if not body.get("search_space"):
        raise InvalidInputError(
            "a sweep needs a search space: the parameters to vary",
            hint="search_space: {lr: loguniform(-6, -1)} (CLI: --space 'lr=loguniform(-6, -1)')",
        )
    if isinstance(body.get("search_space"), Mapping):
        body["search_space"] = parse_space(body["search_space"])  # its errors name the fix
    algo = body.get("sampling_algorithm")
    if isinstance(algo, str):
        body["sampling_algorithm"] = {"type": algo.lower()}
    elif isinstance(algo, Mapping) and isinstance(algo.get("type"), str):
        body["sampling_algorithm"] = {**algo, "type": algo["type"].lower()}
    policy = body.get("early_termination")
    if isinstance(policy, str):
        body["early_termination"] = None if policy.lower() == "none" else {"type": policy.lower()}
    elif isinstance(policy, Mapping) and isinstance(policy.get("type"), str):
        body["early_termination"] = {**policy, "type": policy["type"].lower()}
    try:
        body["trial"] = make_spec(trial)
        return SweepSpec.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'sweep'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInputError(
            f"invalid sweep: {problems}",
            hint="see docs/sweeps.md for the keys (Azure ML's sweep job YAML)",
        ) from None


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return ""


__all__ = ["Sweep", "SweepNotFoundError", "Sweeps", "load_yaml", "parse_sweep"]
