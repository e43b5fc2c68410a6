"""Pydantic models of registered models as every face reports them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class ModelLineage(BaseModel):
    """Where a version came from."""

    job_id: str | None = Field(None, description="The job whose run logged it.")
    run_id: str | None = Field(None, description="The MLflow run it was logged in.")
    experiment: str | None = None
    data_inputs: list[str] = Field(
        default_factory=list, description="The data versions the job read (data:NAME:V)."
    )
    environment: str | None = Field(None, description="The environment version the job ran in.")
    spec_hash: str | None = Field(None, description="The job's spec hash.")


class ModelVersionInfo(BaseModel):
    name: str
    version: int
    ref: str = Field(description="NAME:VERSION")
    source: str = Field(description="Where MLflow keeps its files (models:/..., runs:/...).")
    status: str
    description: str = ""
    aliases: list[str] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)
    lineage: ModelLineage
    signature: dict[str, Any] | None = Field(
        None, description="inputs/outputs schema as MLflow records it (shown by `model show`)."
    )
    created_at: datetime


class ModelInfo(BaseModel):
    name: str
    latest_version: int | None
    versions: int
    aliases: dict[str, int] = Field(default_factory=dict, description="alias -> version")
    description: str = ""
    updated_at: datetime | None = None


class ModelList(BaseModel):
    items: list[ModelInfo]


class ModelVersionList(BaseModel):
    items: list[ModelVersionInfo]
