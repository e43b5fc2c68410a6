"""Pydantic models of Responsible AI reports as every face shows them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class RaiReportInfo(BaseModel):
    job_id: str
    status: str
    run_id: str | None
    model: str = Field(description="The model version (NAME:VERSION) or run model URI.")
    data: str = Field(description="The test table (data:NAME:VERSION).")
    target: str
    task: str
    sensitive: list[str]
    html_artifact: str | None = Field(None, description="Artifact path of the HTML report.")
    notebook_artifact: str | None = Field(None, description="The executed notebook.")
    summary: dict[str, Any] | None = Field(
        None, description="The report's numbers (metrics, fairness, cohorts, importance)."
    )
    error: str | None = None


class RaiRequest(BaseModel):
    """A report to run (REST)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(
        min_length=1,
        max_length=300,
        description="NAME, NAME:VERSION, NAME@ALIAS or a run's model (runs:/RUN_ID/PATH).",
    )
    data: str = Field(min_length=1, max_length=200, description="Test table: NAME[:VERSION].")
    sensitive: list[str] = Field(default_factory=list, max_length=20)
    target: str | None = Field(None, description="Default: the AutoML model's target.")
    task: Literal["classification", "regression"] | None = None
    positive_label: str | None = None
    compute: str = Field("local", min_length=1, max_length=64)
    environment: str | None = Field(None, min_length=1, max_length=200)


class RaiHtml(BaseModel):
    job_id: str
    html: str = Field(description="The static HTML report (no script).")
