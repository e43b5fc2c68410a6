"""A registered model version's files as a local folder (what a scoring process loads)."""

from __future__ import annotations

from pathlib import Path

from mlbench.tracking.registry import Registry, _errors


def download_model(registry: Registry, name: str, version: int, dest: Path) -> Path:
    """Copy ``models:/name/version`` into ``dest`` (created) and return the MLmodel folder."""
    from mlflow.artifacts import download_artifacts

    dest.mkdir(parents=True, exist_ok=True)
    with _errors(f"downloading {name}:{version}"), registry._store():
        return Path(
            download_artifacts(artifact_uri=f"models:/{name}/{version}", dst_path=str(dest))
        )
