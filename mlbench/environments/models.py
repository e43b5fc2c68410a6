"""Pydantic models of environments (SDK, CLI and REST)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Literal

from pydantic import BaseModel, Field


class EnvironmentStatus(str, Enum):
    BUILDING = "building"
    READY = "ready"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


class EnvironmentSpec(BaseModel):
    """What an environment is made from, normalized: the same packages in another order or
    spelling (``NumPy >= 2`` vs ``numpy>=2``), with comments, give the same spec."""

    requirements: list[str] = Field(
        description="PEP 508 requirements, normalized and sorted (ipykernel is added at build)."
    )
    python: str | None = Field(
        None, description="Python version asked for (e.g. 3.11); default: mlbench's own."
    )
    source: Literal["requirements", "conda", "pyproject"] = "requirements"


class EnvironmentInfo(BaseModel):
    """One version of an environment."""

    id: str
    name: str
    version: int
    ref: str = Field(description="name:version")
    status: EnvironmentStatus
    spec: EnvironmentSpec
    description: str = ""
    lock_hash: str = Field(
        description="SHA-256 over the normalized lock, the interpreter and the platform."
    )
    kernel_name: str = Field(description="The kernelspec jobs on this version run on.")
    python: str = Field(description="Interpreter, e.g. 'CPython 3.11.7'.")
    platform: str = Field(description="e.g. linux-x86_64.")
    packages: list[str] = Field(
        default_factory=list, description="The lock: name==version, sorted."
    )
    venv: str = Field(description="Where the venv is (shared by versions with the same hash).")
    error: str | None = Field(None, description="Why the build failed (the resolver's words).")
    build_seconds: float | None = None
    created_by: str = ""
    created_at: datetime
    updated_at: datetime

    @property
    def is_ready(self) -> bool:
        return self.status == EnvironmentStatus.READY


class EnvironmentLog(BaseModel):
    """A slice of a version's build log (readable while it builds)."""

    ref: str
    status: EnvironmentStatus
    text: str
    offset: int = Field(description="Pass it back to read what was written since.")


class GcResult(BaseModel):
    removed: list[str] = Field(description="Folders removed (venvs and kernelspecs).")
    kept: int = Field(description="Venvs kept because a version refers to them.")
    freed_bytes: int
