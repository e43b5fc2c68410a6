"""MLflow's model registry in the workspace's tracking store (the only module calling it).

MLflow is the source of truth for registered models, versions, aliases and tags; mlbench keeps
a job's lineage on the version as ``mlbench.*`` tags.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlbench.tracking.client import TrackingClient

log = logging.getLogger(__name__)


class RegistryError(Exception):
    """A registry call failed; ``missing`` when what was named does not exist."""

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing


_GLOBAL = threading.Lock()


@contextmanager
def _errors(what: str) -> Iterator[None]:
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as exc:
        code = getattr(exc, "error_code", "")
        raise RegistryError(
            f"{what}: {exc.message}", missing=code == "RESOURCE_DOES_NOT_EXIST"
        ) from None


class Registry:
    def __init__(self, tracking: TrackingClient) -> None:
        self.tracking = tracking

    @contextmanager
    def _store(self) -> Iterator[None]:
        """MLflow resolves ``models:/`` URIs (registering, downloading, loading) through its
        process-wide tracking URI, not the client's: point it at this workspace meanwhile."""
        import mlflow

        with _GLOBAL:
            previous = mlflow.get_tracking_uri()
            mlflow.set_tracking_uri(self.tracking.tracking_uri)
            try:
                yield
            finally:
                mlflow.set_tracking_uri(previous)

    @property
    def client(self) -> Any:
        return self.tracking.client

    def run_models(self, run_id: str) -> list[dict[str, str]]:
        """The MLflow models a run logged: {name, source} (MLflow 3 logged models, and MLmodel
        folders among the run's artifacts)."""
        found: list[dict[str, str]] = []
        with _errors(f"run {run_id!r}"):
            run = self.client.get_run(run_id)
            search = getattr(self.client, "search_logged_models", None)
            if search is not None:
                for m in search(
                    experiment_ids=[run.info.experiment_id],
                    filter_string=f"source_run_id='{_quote(run_id)}'",
                ):
                    found.append({"name": m.name, "source": f"models:/{m.model_id}"})
            for folder in self._mlmodel_folders(run_id, ""):
                found.append({"name": folder, "source": f"runs:/{run_id}/{folder}"})
        return found

    def _mlmodel_folders(self, run_id: str, path: str, depth: int = 0) -> list[str]:
        if depth > 3:
            return []
        out: list[str] = []
        entries = self.client.list_artifacts(run_id, path or None)
        if any(not e.is_dir and Path(e.path).name == "MLmodel" for e in entries):
            return [path]
        for e in entries:
            if e.is_dir:
                out += self._mlmodel_folders(run_id, e.path, depth + 1)
        return out

    def log_model_folder(self, folder: Path, experiment: str, name: str) -> tuple[str, str]:
        """A local MLflow model folder as the artifacts of a new run; (run id, source)."""
        if not (folder / "MLmodel").is_file():
            raise RegistryError(f"{folder} is not an MLflow model folder (no MLmodel file)")
        _, run_id = self.tracking.start_run(experiment, f"register {name}", {}, {})
        self.client.log_artifacts(run_id, str(folder), "model")
        self.client.set_terminated(run_id)
        return run_id, f"runs:/{run_id}/model"

    def register(
        self, name: str, source: str, run_id: str | None, tags: dict[str, str], description: str
    ) -> Any:
        with _errors(f"registering {name!r}"), self._store():
            try:
                self.client.create_registered_model(name)
            except Exception as exc:  # it exists already: a new version of it
                if "RESOURCE_ALREADY_EXISTS" not in str(getattr(exc, "error_code", exc)):
                    raise
            return self.client.create_model_version(
                name, source, run_id=run_id, tags=tags, description=description or None
            )

    def names(self) -> list[Any]:
        with _errors("listing models"):
            return list(self.client.search_registered_models(max_results=1000))

    def versions(self, name: str) -> list[Any]:
        with _errors(f"model {name!r}"):
            self.client.get_registered_model(name)
            found = self.client.search_model_versions(f"name='{_quote(name)}'", max_results=1000)
        return sorted(found, key=lambda v: int(v.version), reverse=True)

    def version(self, name: str, version: str) -> Any:
        with _errors(f"model {name}:{version}"):
            return self.client.get_model_version(name, version)

    def by_alias(self, name: str, alias: str) -> Any:
        with _errors(f"model {name}@{alias}"):
            return self.client.get_model_version_by_alias(name, alias)

    def aliases(self, name: str) -> dict[str, str]:
        with _errors(f"model {name!r}"):
            model = self.client.get_registered_model(name)
        return {str(k): str(v) for k, v in (model.aliases or {}).items()}

    def set_alias(self, name: str, alias: str, version: str) -> None:
        with _errors(f"alias {name}@{alias}"):
            self.client.set_registered_model_alias(name, alias, version)

    def delete_alias(self, name: str, alias: str) -> None:
        with _errors(f"alias {name}@{alias}"):
            self.client.delete_registered_model_alias(name, alias)

    def delete(self, name: str, version: str | None) -> None:
        with _errors(f"model {name}" + (f":{version}" if version else "")):
            if version is None:
                self.client.delete_registered_model(name)
            else:
                self.client.delete_model_version(name, version)

    def signature(self, name: str, version: str) -> dict[str, Any] | None:
        """The version's signature (inputs/outputs as MLflow writes them), if it has one."""
        try:
            from mlflow.models import get_model_info

            with self._store():
                info = get_model_info(f"models:/{name}/{version}")
        except Exception as exc:  # a model without metadata still registers
            log.debug("no model info for %s:%s: %s", name, version, exc)
            return None
        sig = info.signature
        if sig is None:
            return None
        return {k: json.loads(v) if v else None for k, v in sig.to_dict().items() if k != "params"}

    def download(self, name: str, version: str, dest: Path) -> Path:
        """The version's files copied into ``dest`` (created); returns the MLmodel folder (what
        a scoring process or a batch scoring job loads, without the registry)."""
        from mlflow.artifacts import download_artifacts

        dest.mkdir(parents=True, exist_ok=True)
        with _errors(f"downloading {name}:{version}"), self._store():
            return Path(
                download_artifacts(artifact_uri=f"models:/{name}/{version}", dst_path=str(dest))
            )

    def load(self, name: str, version: str) -> Any:
        """The version as an MLflow pyfunc model (``.predict(data)``)."""
        import mlflow.pyfunc

        with _errors(f"loading {name}:{version}"), self._store():
            return mlflow.pyfunc.load_model(f"models:/{name}/{version}")


def _quote(value: str) -> str:
    return value.replace("'", "\\'")


__all__ = ["Registry", "RegistryError"]
