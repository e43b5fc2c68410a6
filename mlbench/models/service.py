"""``ws.models``: register models from jobs, runs or local folders; versions, aliases, lineage.

A reference is ``NAME`` (the newest version), ``NAME:VERSION`` or ``NAME@ALIAS``. Registering
from a job finds the MLflow model its run logged (``mlflow.<flavor>.log_model`` in the notebook
or script, or a folder with an ``MLmodel`` file among its artifacts, e.g. saved into
``MLBENCH_OUTPUT_DIR``); ``path`` picks one when the run logged several. The version records
the job, its run, the data versions it read, its environment and spec hash as ``mlbench.*``
tags, so the lineage stays with the model in MLflow.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlbench.errors import ConflictError, InvalidInputError, NotFoundError
from mlbench.models.models import ModelInfo, ModelLineage, ModelVersionInfo
from mlbench.tracking.registry import Registry, RegistryError
from mlbench.validation import check_name

if TYPE_CHECKING:
    from mlbench.jobs.models import JobInfo
    from mlbench.workspace import Workspace

REF = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]{0,127})"
    r"(?::(?P<version>\d+)|@(?P<alias>[A-Za-z][A-Za-z0-9_-]{0,63}))?$"
)
EVENT_OWNER = "models"
"""The feed's owner id of every ``model`` event (a model's name may be longer than an id)."""
ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


class ModelNotFoundError(NotFoundError):
    code = "model_not_found"


class Models:
    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._registry = Registry(ws.tracking)

    # -- registering ---------------------------------------------------------------------------
    def register(
        self,
        name: str,
        *,
        job: str | None = None,
        run: str | None = None,
        folder: str | Path | None = None,
        path: str | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        alias: str | None = None,
    ) -> ModelVersionInfo:
        """A new version of ``name`` from a job's run, an MLflow run, or a local MLflow model
        folder (exactly one). ``path``: which model of the run (its name or artifact folder)."""
        check_name(name, "model")
        if sum(x is not None for x in (job, run, folder)) != 1:
            raise InvalidInputError(
                "register a model from one of: a job, a run or a local model folder",
                hint="mlbench model register NAME --job ID (or --run RUN_ID, or --folder PATH)",
            )
        if alias is not None:
            check_alias(alias)
        if job is not None:
            info = self._ws.jobs.info(job)
            if info.status.value != "completed":
                raise ConflictError(
                    f"job {info.id} is {info.status.value}: register models of completed jobs",
                    hint=f"wait for it: mlbench job wait {info.id}",
                )
            return self.register_job_model(
                name, info, path=path, description=description, tags=tags, alias=alias
            )
        if folder is not None:
            run_id, source = self._wrap(
                lambda: self._registry.log_model_folder(Path(folder).resolve(), "models", name)
            )
        else:
            assert run is not None
            _check_run_id(run)
            run_id, source = run, self._pick(run, path, None)
        return self._register(name, source, run_id, {}, description, tags, alias)

    def register_job_model(
        self,
        name: str,
        info: JobInfo,
        *,
        run_id: str | None = None,
        path: str | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        alias: str | None = None,
    ) -> ModelVersionInfo:
        """A new version from the model a job's run logged, with the job's lineage. Also called
        by the job's own ``register_model`` hook, before the job is recorded as completed."""
        check_name(name, "model")
        if alias is not None:
            check_alias(alias)
        run_id = run_id or info.mlflow_run_id
        if not run_id:
            raise ConflictError(f"job {info.id} has no MLflow run")
        lineage = {
            "mlbench.job_id": info.id,
            "mlbench.experiment": info.experiment,
            "mlbench.data_inputs": json.dumps([f"data:{i.ref}" for i in info.inputs]),
            "mlbench.spec_hash": info.spec_hash or "",
        }
        spec = self._ws.jobs.spec(info)
        if spec.environment:
            lineage["mlbench.environment"] = spec.environment
        source = self._pick(run_id, path, info.id)
        return self._register(name, source, run_id, lineage, description, tags, alias)

    def _register(
        self,
        name: str,
        source: str,
        run_id: str,
        lineage: dict[str, str],
        description: str,
        tags: dict[str, str] | None,
        alias: str | None,
    ) -> ModelVersionInfo:
        all_tags = {**(tags or {}), **lineage, "mlbench.run_id": run_id}
        mv = self._wrap(
            lambda: self._registry.register(name, source, run_id, all_tags, description)
        )
        self._changed(name, "registered", int(mv.version))
        if alias is not None:
            self.set_alias(name, alias, int(mv.version))
        return self.info(f"{name}:{mv.version}")

    def _pick(self, run_id: str, path: str | None, job: str | None) -> str:
        models = self._wrap(lambda: self._registry.run_models(run_id))
        what = f"job {job}" if job else f"run {run_id}"
        if path is not None:
            chosen = [m for m in models if path in (m["name"], m["source"].rsplit("/", 1)[-1])]
            if not chosen:
                known = ", ".join(m["name"] for m in models) or "none"
                raise InvalidInputError(
                    f"{what} logged no model {path!r} (its models: {known})",
                    hint="give --path one of those names",
                )
            return chosen[0]["source"]
        if not models:
            raise InvalidInputError(
                f"{what} logged no MLflow model",
                hint="log one in the notebook or script (mlflow.sklearn.log_model(model, "
                "name='model')) or save one into MLBENCH_OUTPUT_DIR (mlflow.sklearn.save_model)",
            )
        if len(models) > 1:
            names = ", ".join(m["name"] for m in models)
            raise InvalidInputError(
                f"{what} logged several models ({names})", hint="pick one with --path NAME"
            )
        return models[0]["source"]

    # -- reading -------------------------------------------------------------------------------
    def list(self) -> list[ModelInfo]:
        out = []
        for m in self._wrap(self._registry.names):
            latest = [int(v.version) for v in (m.latest_versions or [])]
            count = len(self._wrap(lambda m=m: self._registry.versions(m.name)))
            out.append(
                ModelInfo(
                    name=m.name,
                    latest_version=max(latest) if latest else None,
                    versions=count,
                    aliases={str(k): int(v) for k, v in (m.aliases or {}).items()},
                    description=m.description or "",
                    updated_at=_when(m.last_updated_timestamp),
                )
            )
        return out

    def versions(self, name: str) -> list[ModelVersionInfo]:
        aliases = self._wrap(lambda: self._registry.aliases(name), name)
        return [
            self._version(v, aliases, signature=False)
            for v in self._wrap(lambda: self._registry.versions(name), name)
        ]

    def info(self, ref: str) -> ModelVersionInfo:
        """One version, by ``NAME``, ``NAME:VERSION`` or ``NAME@ALIAS``, with its signature."""
        name, version, alias = parse_ref(ref)
        if alias is not None:
            mv = self._wrap(lambda: self._registry.by_alias(name, alias), ref)
        elif version is not None:
            mv = self._wrap(lambda: self._registry.version(name, str(version)), ref)
        else:
            found = self._wrap(lambda: self._registry.versions(name), ref)
            if not found:
                raise ModelNotFoundError(f"model {name!r} has no versions")
            mv = found[0]
        return self._version(mv, self._wrap(lambda: self._registry.aliases(name), ref))

    def load(self, ref: str) -> Any:
        """The version as an MLflow pyfunc model: ``ws.models.load("iris@prod").predict(X)``."""
        info = self.info(ref)
        return self._wrap(lambda: self._registry.load(info.name, str(info.version)), ref)

    def download(self, ref: str, dest: Path) -> Path:
        """The version's files copied into ``dest``; returns the folder holding ``MLmodel``."""
        info = self.info(ref)
        return self._wrap(lambda: self._registry.download(info.name, str(info.version), dest), ref)

    def score(self, ref: str, data: str, output: str, **options: Any) -> Any:
        """Score table ``data`` with model ``ref`` in a job: a new version of table ``output``
        (see :func:`mlbench.models.batch.submit_scoring` for the options). Returns the Job."""
        from mlbench.models.batch import submit_scoring

        return submit_scoring(self._ws, ref, data, output, **options)

    # -- changing ------------------------------------------------------------------------------
    def set_alias(self, name: str, alias: str, version: int) -> ModelVersionInfo:
        check_alias(alias)
        self._wrap(lambda: self._registry.set_alias(name, alias, str(version)), f"{name}:{version}")
        self._changed(name, "alias", version)
        return self.info(f"{name}@{alias}")

    def delete_alias(self, name: str, alias: str) -> None:
        self._wrap(lambda: self._registry.delete_alias(name, alias), f"{name}@{alias}")
        self._changed(name, "alias", None)

    def delete(self, ref: str) -> None:
        """Delete a version (``NAME:VERSION``) or, given a bare ``NAME``, the whole model."""
        name, version, alias = parse_ref(ref)
        if alias is not None:
            raise InvalidInputError(
                "delete a version by number, not by alias", hint=f"mlbench model delete {name}:N"
            )
        self._wrap(lambda: self._registry.delete(name, str(version) if version else None), ref)
        self._changed(name, "deleted", version)

    def _changed(self, name: str, action: str, version: int | None) -> None:
        """On the event feed (kind ``model``), so open views follow the registry live."""
        self._ws.jobs.lifecycle.event(
            EVENT_OWNER, "model", {"model": name, "action": action, "version": version}
        )

    # -- helpers -------------------------------------------------------------------------------
    def _version(
        self, mv: Any, aliases: dict[str, str], *, signature: bool = True
    ) -> ModelVersionInfo:
        tags = dict(mv.tags or {})
        lineage = ModelLineage(
            job_id=tags.get("mlbench.job_id"),
            run_id=mv.run_id or tags.get("mlbench.run_id"),
            experiment=tags.get("mlbench.experiment"),
            data_inputs=json.loads(tags.get("mlbench.data_inputs") or "[]"),
            environment=tags.get("mlbench.environment"),
            spec_hash=tags.get("mlbench.spec_hash") or None,
        )
        return ModelVersionInfo(
            name=mv.name,
            version=int(mv.version),
            ref=f"{mv.name}:{mv.version}",
            source=mv.source,
            status=str(mv.status),
            description=mv.description or "",
            aliases=sorted(a for a, v in aliases.items() if str(v) == str(mv.version)),
            tags={k: v for k, v in tags.items() if not k.startswith("mlbench.")},
            lineage=lineage,
            signature=self._registry.signature(mv.name, str(mv.version)) if signature else None,
            created_at=_when(mv.creation_timestamp) or datetime.now(timezone.utc),
        )

    @staticmethod
    def _wrap(call: Any, ref: str | None = None) -> Any:
        try:
            return call()
        except RegistryError as exc:
            if exc.missing:
                raise ModelNotFoundError(
                    f"{ref or 'model'} does not exist" if ref else str(exc),
                    hint="list models with `mlbench model list`",
                ) from None
            raise InvalidInputError(str(exc)) from None


def parse_ref(ref: str) -> tuple[str, int | None, str | None]:
    m = REF.match(ref.strip())
    if not m:
        raise InvalidInputError(
            f"cannot read model reference {ref!r}", hint="write NAME, NAME:VERSION or NAME@ALIAS"
        )
    version = m.group("version")
    return m.group("name"), int(version) if version else None, m.group("alias")


def _check_run_id(run: str) -> None:
    if not run.isalnum():  # an MLflow run id is hex; anything else names no run
        raise ModelNotFoundError(f"run {run!r} does not exist", hint="give the id of an MLflow run")


def check_alias(alias: str) -> None:
    if not ALIAS.match(alias) or alias.lower() == "latest" or re.fullmatch(r"v\d+", alias):
        raise InvalidInputError(
            f"invalid alias {alias!r}",
            hint="a letter then letters, digits, '-' or '_' (not 'latest' nor v<number>)",
        )


def _when(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc) if ms else None


__all__ = ["ModelNotFoundError", "Models", "check_alias", "parse_ref"]
