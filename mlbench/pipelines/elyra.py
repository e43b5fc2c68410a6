"""Elyra ``.pipeline`` files (pipeline-flow v3 JSON) opened as they are: generic nodes
(notebooks and Python scripts) become steps, links become ``depends_on`` edges."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlbench.errors import InvalidInputError
from mlbench.pipelines.models import PipelineSpec

if TYPE_CHECKING:
    from mlbench.workspace import Workspace


def load_elyra(path: Path, ws: Workspace) -> PipelineSpec:
    raise InvalidInputError(
        f"{path.name}: Elyra .pipeline files are not read yet",
        hint="write the pipeline as YAML (see docs/pipelines.md)",
    )
