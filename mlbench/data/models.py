"""Pydantic models of datastores, data versions, previews and lineage (SDK, CLI and REST)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, Field


class DataKind(str, Enum):
    FILE = "file"
    FOLDER = "folder"
    TABLE = "table"

    def __str__(self) -> str:
        return self.value


class DatastoreInfo(BaseModel):
    """A datastore as every face shows it. Credentials appear by name only, never by value."""

    name: str
    kind: str
    description: str = ""
    config: dict[str, Any] = Field(description="Settings of the kind (no credentials).")
    credentials: list[str] = Field(
        default_factory=list,
        description="Names of the stored credentials (e.g. secret_access_key); values are "
        "never returned.",
    )
    read_only: bool = False
    is_default: bool = Field(False, description="The workspace's own datastore.")
    uri: str = Field(description="Where its root is, e.g. s3://bucket/prefix.")
    created_at: datetime
    updated_at: datetime


class DatastoreTestResult(BaseModel):
    name: str
    ok: bool
    reachable: bool
    can_list: bool
    can_write: bool | None = Field(None, description="null when the datastore is read-only.")
    elapsed_ms: float
    message: str = ""
    error_code: str | None = None


class ColumnInfo(BaseModel):
    name: str
    type: str
    nullable: bool = True


class DataVersionInfo(BaseModel):
    """One immutable version of a data asset."""

    id: str
    name: str
    version: int
    ref: str = Field(description="name:version")
    kind: DataKind
    format: str | None = Field(None, description="csv or parquet (tables).")
    datastore: str
    path: str = Field(
        description="Relative to the datastore's root: the data itself (references) or the "
        "version's manifest (uploads, whose files are kept once each under mlbench/blobs/)."
    )
    uri: str = Field(description="The full URI of path.")
    stored: Literal["upload", "reference"] = Field(
        description="upload: copied into the datastore, one blob per distinct file; reference: "
        "data that was already there, checked against its hash when used."
    )
    filename: str | None = Field(None, description="File and table (single file) assets.")
    content_hash: str = Field(description="BLAKE3 of the file, or of the folder's file list.")
    hash_algorithm: Literal["blake3"] = "blake3"
    size_bytes: int
    file_count: int
    columns: list[ColumnInfo] | None = Field(None, description="Tables: the schema.")
    row_count: int | None = None
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    source: str = Field("", description="What it was created from (local path or URI).")
    created_by: str = ""
    created_at: datetime
    job_id: str | None = Field(None, description="The job whose output this is.")
    archived: bool = False
    skipped: list[str] = Field(
        default_factory=list,
        description="Only in the answer to a create: what the folder walk left out, as "
        "'path (why)': hidden files and folders, symlinks leading outside the folder, "
        "symlinked folders, broken symlinks.",
    )


class DataVersionPage(BaseModel):
    items: list[DataVersionInfo]
    next_cursor: str | None = None


class FileEntry(BaseModel):
    path: str
    size: int
    hash: str


class DataPreview(BaseModel):
    ref: str
    kind: DataKind
    columns: list[ColumnInfo] | None = None
    rows: list[dict[str, Any]] | None = Field(None, description="Tables: the first rows.")
    row_count: int | None = None
    files: list[FileEntry] | None = Field(None, description="Files and folders: the files.")
    file_count: int
    truncated: bool


class LineageNode(BaseModel):
    id: str = Field(description="data:NAME:VERSION or job:ID")
    type: Literal["data", "job"]
    label: str
    name: str | None = None
    version: int | None = None
    job_id: str | None = None
    status: str | None = Field(None, description="Jobs: their status, or 'deleted'.")
    archived: bool | None = None


class LineageEdge(BaseModel):
    source: str
    target: str
    binding: str = Field(description="The job's input or output name.")
    direction: Literal["input", "output"]


class LineageGraph(BaseModel):
    root: str
    nodes: list[LineageNode]
    edges: list[LineageEdge]
    truncated: bool = Field(False, description="The depth limit cut the graph.")


class JobInput(BaseModel):
    """A data asset version a job reads, passed to it as the local path in parameter ``name``."""

    name: str = Field(description="The notebook parameter that receives the local path.")
    asset: str
    version: int
    ref: str
    kind: DataKind


class JobOutput(BaseModel):
    """What the notebook writes to the path in parameter ``name``, registered on completion."""

    name: str
    asset: str
    kind: DataKind = DataKind.FOLDER
    datastore: str | None = Field(None, description="Default: the workspace's datastore.")
    format: str | None = Field(None, description="Tables: parquet (default) or csv.")
    filename: str | None = Field(None, description="Files: the file's name.")
    description: str = ""
    version: int | None = Field(None, description="Set once registered.")
    ref: str | None = None

    def spec_text(self) -> str:
        """This binding as ``--output`` takes it: ``data:ASSET[,kind=...][,format=...]...``."""
        parts = [f"data:{self.asset}", f"kind={self.kind.value}"]
        for key in ("format", "datastore", "filename", "description"):
            value = getattr(self, key)
            if value:
                parts.append(f"{key}={value}")
        return ",".join(parts)
