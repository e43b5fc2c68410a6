"""``ws.datastores``: named connections to storage through fsspec.

A datastore is a kind (``local``, ``s3``, ``azureblob``, ``gcs``), settings (bucket, prefix,
endpoint...) and credentials. Settings are in the metadata database; credentials are stored apart
(:mod:`mlbench.store.secrets`) and only their names are ever shown. Every workspace has a local
datastore named ``workspace`` (``<workspace>/data``), where uploads go by default.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import secrets as _secrets
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

from pydantic import ValidationError
from sqlalchemy import func, select

from mlbench._ids import utcnow
from mlbench.data.errors import (
    DataPathNotFoundError,
    DatastoreError,
    DatastoreNotFoundError,
    DatastoreReadOnlyError,
    PathOutsideDatastoreError,
)
from mlbench.data.kinds import DatastoreKind, check_reachable, datastore_kinds, translate
from mlbench.data.models import DatastoreInfo, DatastoreTestResult
from mlbench.data.refs import check_datastore_name
from mlbench.errors import ConflictError, InvalidInputError, MlbenchError
from mlbench.store import DatastoreRow, DataVersionRow
from mlbench.store.secrets import SecretStore, redact, secret_store

if TYPE_CHECKING:
    from mlbench.workspace import Workspace

DEFAULT_DATASTORE = "workspace"
DATASTORE_SCHEME = "datastore"
T = TypeVar("T")


class Datastore:
    """An open datastore: its filesystem, root and path rules. Credentials stay inside."""

    def __init__(
        self,
        name: str,
        kind: DatastoreKind,
        config: Any,
        credentials: dict[str, str],
        *,
        read_only: bool,
    ) -> None:
        self.name = name
        self.kind = kind
        self.config = config
        self.read_only = read_only
        self._credentials = credentials
        self._fs: Any = None
        self._lock = threading.Lock()
        self.root = kind.root(config).rstrip("/") or "/"
        self.is_local = kind.kind == "local"

    def __repr__(self) -> str:
        return f"<Datastore {self.name} ({self.kind.kind}) {self.uri('')}>"

    @property
    def fs(self) -> Any:
        with self._lock:
            if self._fs is None:
                check_reachable(self.kind, self.config, self.name)
                self._fs = self.call(
                    "opening the storage", self.kind.filesystem, self.config, self._credentials
                )
            return self._fs

    def call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a storage operation; its errors become clear, secret-free mlbench errors."""
        try:
            return fn(*args, **kwargs)
        except MlbenchError as exc:
            exc.message = redact(exc.message, self._credentials)
            raise
        except Exception as exc:
            raise translate(exc, self.name, self._credentials, what) from None

    def redact(self, text: str) -> str:
        return redact(text, self._credentials)

    # -- paths -------------------------------------------------------------------------------
    def full(self, rel: str) -> str:
        """The filesystem path of ``rel`` (relative to the root); refuses to leave the root."""
        rel = normalize_rel(rel, self.name)
        if not rel:
            return self.root
        full = posixpath.join(self.root, rel) if self.root != "/" else "/" + rel
        if self.is_local:
            real = str(Path(full).resolve())
            root = str(Path(self.root).resolve())
            if real != root and not real.startswith(root.rstrip("/") + "/"):
                raise PathOutsideDatastoreError(
                    f"{rel!r} resolves outside datastore {self.name!r} (through a symlink)",
                    hint=f"paths must stay inside {root}",
                )
        return full

    def internal(self, rel: str) -> str:
        """The filesystem path of a path mlbench made itself (blobs, manifests: hex names that
        cannot escape the root), without :meth:`full`'s symlink checks (10,000 of them add
        seconds to a large folder)."""
        return posixpath.join(self.root, rel) if self.root != "/" else "/" + rel

    def rel(self, full: str) -> str:
        """``full`` (a filesystem path) relative to the root; refuses paths outside it."""
        full = full.rstrip("/")
        if self.is_local:
            full = str(Path(full).resolve())
            root = str(Path(self.root).resolve())
        else:
            full = posixpath.normpath(full) if full else full
            root = self.root
        if full == root:
            return ""
        prefix = root.rstrip("/") + "/"
        if not full.startswith(prefix):
            raise PathOutsideDatastoreError(
                f"{self.kind.uri(self.config, full)} is outside datastore {self.name!r} "
                f"({self.uri('')})",
                hint="reference data inside the datastore's root, create a datastore for "
                "that location, or upload the data",
            )
        return full[len(prefix) :]

    def uri(self, rel: str) -> str:
        return self.kind.uri(self.config, self.full(rel) if rel else self.root)

    def check_writable(self) -> None:
        if self.read_only:
            raise DatastoreReadOnlyError(
                f"datastore {self.name!r} is read-only",
                hint="upload to another datastore (--datastore), or reference data on this one",
            )

    # -- operations ----------------------------------------------------------------------------
    def put_files(self, pairs: list[tuple[str, str]]) -> None:
        """Upload local files to datastore paths (``full`` paths); atomic per file on local."""
        if not pairs:
            return
        self.check_writable()
        fs = self.fs
        if self.is_local:
            import shutil

            for local, remote in pairs:
                dest = Path(remote)
                dest.parent.mkdir(parents=True, exist_ok=True)
                tmp = dest.with_name(f".{dest.name}.{_secrets.token_hex(4)}.tmp")
                try:
                    shutil.copyfile(local, tmp)
                    tmp.replace(dest)
                except BaseException as exc:
                    with contextlib.suppress(OSError):
                        tmp.unlink()
                    if isinstance(exc, FileNotFoundError) and not os.path.exists(local):
                        raise DataPathNotFoundError(
                            f"{local} disappeared while it was being uploaded",
                            hint="register data that is not being changed meanwhile",
                        ) from None
                    if isinstance(exc, OSError):
                        raise translate(exc, self.name, self._credentials, "copying") from None
                    raise
            return
        lpaths = [p[0] for p in pairs]
        rpaths = [p[1] for p in pairs]
        self.call("uploading", fs.put, lpaths, rpaths)

    def get_files(self, pairs: list[tuple[str, str]]) -> None:
        """Download datastore paths to local files."""
        if not pairs:
            return
        fs = self.fs
        if self.is_local:
            import shutil

            for remote, local in pairs:
                try:
                    shutil.copyfile(remote, local)
                except OSError as exc:
                    raise translate(
                        exc, self.name, self._credentials, f"reading {remote}"
                    ) from None
            return
        self.call("downloading", fs.get, [p[0] for p in pairs], [p[1] for p in pairs])

    def test(self) -> DatastoreTestResult:
        started = time.perf_counter()
        reachable = can_list = False
        can_write: bool | None = None
        try:
            check_reachable(self.kind, self.config, self.name)
            reachable = True
            fs = self.fs
            top = self.root.split("/", 1)[0] if not self.is_local else self.root
            self.call("listing", fs.ls, top or self.root)
            can_list = True
            if not self.read_only:
                probe = posixpath.join(self.root, f".mlbench-write-test-{_secrets.token_hex(6)}")
                self.call("writing a test file", fs.pipe_file, probe, b"mlbench")
                with contextlib.suppress(Exception):
                    fs.rm_file(probe)
                can_write = True
            return DatastoreTestResult(
                name=self.name,
                ok=True,
                reachable=True,
                can_list=True,
                can_write=can_write,
                elapsed_ms=(time.perf_counter() - started) * 1000,
                message="reachable, can list" + (", can write" if can_write else " (read-only)"),
            )
        except MlbenchError as exc:
            if can_list and not self.read_only:
                can_write = False
            return DatastoreTestResult(
                name=self.name,
                ok=False,
                reachable=reachable,
                can_list=can_list,
                can_write=can_write,
                elapsed_ms=(time.perf_counter() - started) * 1000,
                message=self.redact(exc.message),
                error_code=exc.code,
            )


def normalize_rel(rel: str, datastore: str) -> str:
    """A relative POSIX path inside a datastore, with ``.`` and ``..`` resolved; no escapes."""
    if "\x00" in rel or "\\" in rel:
        raise InvalidInputError(f"invalid path {rel!r}")
    if rel.startswith("/"):
        rel = rel.lstrip("/")
    norm = posixpath.normpath(rel) if rel else ""
    if norm in (".", ""):
        return ""
    if norm == ".." or norm.startswith("../"):
        raise PathOutsideDatastoreError(
            f"path {rel!r} leaves datastore {datastore!r}",
            hint="paths are relative to the datastore's root and cannot go above it",
        )
    return norm


class Datastores:
    """``ws.datastores``."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._open: dict[str, tuple[Any, Datastore]] = {}
        self._lock = threading.Lock()

    @property
    def secrets(self) -> SecretStore:
        return secret_store(self._ws.home, self._ws.settings.secrets_backend)

    # -- reading -------------------------------------------------------------------------------
    def secret_values(self) -> list[str]:
        """Every credential value of every datastore (for masking; never shown)."""
        with self._ws.db.session() as s:
            names = [
                name
                for name, creds in s.execute(
                    select(DatastoreRow.name, DatastoreRow.credential_names)
                )
                if creds
            ]
        return [v for name in names for v in self.secrets.get(name).values()]

    def list(self) -> list[DatastoreInfo]:
        self.ensure_default()
        with self._ws.db.session() as s:
            rows = s.scalars(select(DatastoreRow).order_by(DatastoreRow.name)).all()
            return [self._to_info(r) for r in rows]

    def get(self, name: str) -> DatastoreInfo:
        return self._to_info(self._row(name))

    def show(self, name: str) -> DatastoreInfo:
        """The same as :meth:`get` (the CLI's verb)."""
        return self.get(name)

    def open(self, name: str | None = None) -> Datastore:
        """The datastore ready for use (its filesystem opens on first use)."""
        row = self._row(name or DEFAULT_DATASTORE)
        with self._lock:
            cached = self._open.get(row.name)
            if cached is not None and cached[0] == row.updated_at:
                return cached[1]
        kind = datastore_kinds.get(row.kind)
        store = Datastore(
            row.name,
            kind,
            kind.parse_config(row.config),
            self.secrets.get(row.name),
            read_only=row.read_only,
        )
        with self._lock:
            self._open[row.name] = (row.updated_at, store)
        return store

    def _row(self, name: str) -> DatastoreRow:
        if name == DEFAULT_DATASTORE:
            self.ensure_default()
        with self._ws.db.session() as s:
            row = s.get(DatastoreRow, name)
            if row is None:
                names = s.scalars(select(DatastoreRow.name)).all()
                raise DatastoreNotFoundError(
                    f"datastore {name!r} does not exist",
                    hint=f"datastores: {', '.join(sorted(names)) or DEFAULT_DATASTORE}; create one "
                    "with `mlbench datastore create NAME --type s3|azureblob|gcs|local ...`",
                )
            s.expunge(row)
            return row

    def test(self, name: str) -> DatastoreTestResult:
        return self.open(name).test()

    # -- writing -------------------------------------------------------------------------------
    def create(
        self,
        name: str,
        kind: str = "local",
        *,
        description: str = "",
        credentials: dict[str, str] | None = None,
        read_only: bool = False,
        verify: bool = True,
        **config: Any,
    ) -> DatastoreInfo:
        """Register a datastore; with ``verify`` (default) it must answer first.

        ``credentials`` (e.g. ``secret_access_key``) are stored apart and never shown again.
        Nothing is stored when the check fails.
        """
        check_datastore_name(name)
        if name == DEFAULT_DATASTORE:
            raise ConflictError(f"{DEFAULT_DATASTORE!r} is the workspace's own datastore")
        spec = datastore_kinds.get(kind)
        parsed = self._parse(spec, config)
        creds = self._check_credentials(spec, credentials or {})
        with self._ws.db.session() as s:
            if s.get(DatastoreRow, name) is not None:
                raise ConflictError(
                    f"datastore {name!r} already exists",
                    hint=f"change it with `mlbench datastore update {name} ...`",
                )
        if spec.kind == "local" and not Path(parsed.path).is_dir():  # type: ignore[attr-defined]
            raise InvalidInputError(
                f"folder {parsed.path} does not exist",  # type: ignore[attr-defined]
                hint="create it first, or give an existing folder",
            )
        if verify:
            self._verify(Datastore(name, spec, parsed, creds, read_only=read_only))
        now = utcnow()
        self.secrets.set(name, creds)
        self._ws.redact.refresh()
        try:
            with self._ws.db.write() as s:
                if s.get(DatastoreRow, name) is not None:
                    raise ConflictError(f"datastore {name!r} already exists")
                s.add(
                    DatastoreRow(
                        name=name,
                        kind=spec.kind,
                        description=description,
                        config=parsed.model_dump(mode="json", exclude_none=True),
                        credential_names=sorted(creds),
                        read_only=read_only,
                        created_at=now,
                        updated_at=now,
                    )
                )
        except BaseException:
            self.secrets.delete(name)  # nothing half-registered
            raise
        return self.get(name)

    def update(
        self,
        name: str,
        *,
        description: str | None = None,
        credentials: dict[str, str | None] | None = None,
        read_only: bool | None = None,
        verify: bool = True,
        **changes: Any,
    ) -> DatastoreInfo:
        """Change settings or credentials (a credential set to None is removed)."""
        row = self._row(name)
        if row.name == DEFAULT_DATASTORE and (changes or credentials):
            raise ConflictError(f"the settings of {DEFAULT_DATASTORE!r} cannot be changed")
        spec = datastore_kinds.get(row.kind)
        merged = {k: v for k, v in {**row.config, **changes}.items() if v is not None}
        parsed = self._parse(spec, merged)
        creds = dict(self.secrets.get(name))
        for key, value in (credentials or {}).items():
            if value is None:
                creds.pop(key, None)
            else:
                creds[key] = value
        creds = self._check_credentials(spec, creds)
        ro = row.read_only if read_only is None else read_only
        if verify and (changes or credentials):
            self._verify(Datastore(name, spec, parsed, creds, read_only=ro))
        old = self.secrets.get(name)
        self.secrets.set(name, creds)
        self._ws.redact.refresh()
        try:
            with self._ws.db.write() as s:
                stored = s.get(DatastoreRow, name)
                if stored is None:
                    raise DatastoreNotFoundError(f"datastore {name!r} does not exist")
                stored.config = parsed.model_dump(mode="json", exclude_none=True)
                stored.credential_names = sorted(creds)
                stored.read_only = ro
                if description is not None:
                    stored.description = description
                stored.updated_at = utcnow()
        except BaseException:
            self.secrets.set(name, old)
            raise
        with self._lock:
            self._open.pop(name, None)
        return self.get(name)

    def delete(self, name: str) -> None:
        """Delete a datastore that no data version lives on (its data is left untouched)."""
        if name == DEFAULT_DATASTORE:
            raise ConflictError(f"{DEFAULT_DATASTORE!r} is the workspace's own datastore")
        self._row(name)
        with self._ws.db.write() as s:
            used = s.scalar(
                select(func.count())
                .select_from(DataVersionRow)
                .where(DataVersionRow.datastore == name)
            )
            if used:
                raise ConflictError(
                    f"datastore {name!r} holds {used} data version(s)",
                    hint="data versions are immutable and keep their datastore; "
                    "archive them if unused (`mlbench data archive NAME`)",
                )
            row = s.get(DatastoreRow, name)
            if row is not None:
                s.delete(row)
        self.secrets.delete(name)
        with self._lock:
            self._open.pop(name, None)

    def ensure_default(self) -> None:
        with self._ws.db.session() as s:
            if s.get(DatastoreRow, DEFAULT_DATASTORE) is not None:
                return
        folder = self._ws.home / "data"
        folder.mkdir(parents=True, exist_ok=True)
        now = utcnow()
        with self._ws.db.write() as s:
            if s.get(DatastoreRow, DEFAULT_DATASTORE) is None:
                s.add(
                    DatastoreRow(
                        name=DEFAULT_DATASTORE,
                        kind="local",
                        description="The workspace's own datastore (created automatically).",
                        config={"path": str(folder)},
                        credential_names=[],
                        read_only=False,
                        created_at=now,
                        updated_at=now,
                    )
                )

    # -- URIs ----------------------------------------------------------------------------------
    def resolve_uri(self, uri: str, datastore: str | None = None) -> tuple[Datastore, str]:
        """(datastore, path relative to its root) for ``datastore://NAME/path`` or a URI such as
        ``s3://bucket/key`` (inside ``datastore`` when given, else the datastore that contains it).
        """
        parsed = urlparse(uri)
        scheme = parsed.scheme.lower()
        if scheme == DATASTORE_SCHEME:
            name = parsed.netloc
            if datastore and datastore != name:
                raise InvalidInputError(
                    f"{uri} names datastore {name!r} but datastore {datastore!r} was given"
                )
            store = self.open(name)
            return store, normalize_rel(parsed.path, name)
        kinds = datastore_kinds.for_protocol(scheme)
        if not kinds:
            raise InvalidInputError(
                f"unsupported URI {uri!r}",
                hint="use datastore://NAME/path, s3://, az://, abfs://, gs:// or file:// URIs, "
                "or a local path to upload",
            )
        if scheme in ("file", "local"):
            full = str(Path(parsed.path).resolve()) if parsed.path else ""
        else:
            full = posixpath.normpath(f"{parsed.netloc}/{parsed.path.lstrip('/')}".rstrip("/"))
        candidates: Iterable[DatastoreInfo] = (
            [self.get(datastore)] if datastore else [d for d in self.list() if d.kind in kinds]
        )
        last: PathOutsideDatastoreError | None = None
        for info in candidates:
            store = self.open(info.name)
            if store.kind.kind not in kinds:
                raise InvalidInputError(
                    f"{uri} is not on datastore {info.name!r} (a {info.kind} datastore)"
                )
            try:
                return store, store.rel(full)
            except PathOutsideDatastoreError as exc:
                last = exc
        if last is not None and datastore:
            raise last
        raise PathOutsideDatastoreError(
            f"{uri} is not inside any datastore",
            hint="create a datastore for that location first (`mlbench datastore create ...`), "
            "or pass a local path to upload the data",
        )

    # -- helpers -------------------------------------------------------------------------------
    @staticmethod
    def _parse(spec: DatastoreKind, config: dict[str, Any]) -> Any:
        try:
            return spec.parse_config(config)
        except ValidationError as exc:
            errors = [
                {"field": ".".join(map(str, e["loc"])) or "config", "message": e["msg"]}
                for e in exc.errors()
            ]
            problems = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
            raise InvalidInputError(
                f"invalid {spec.kind} datastore settings: {problems}",
                hint=f"settings of kind {spec.kind!r}: "
                + ", ".join(spec.config_model.model_fields),
                details={"errors": errors},
            ) from None

    @staticmethod
    def _check_credentials(spec: DatastoreKind, creds: dict[str, Any]) -> dict[str, str]:
        unknown = sorted(set(creds) - set(spec.credential_fields))
        if unknown:
            allowed = ", ".join(spec.credential_fields) or "none"
            raise InvalidInputError(
                f"unknown credential(s) for a {spec.kind} datastore: {', '.join(unknown)}",
                hint=f"credentials of kind {spec.kind!r}: {allowed}",
            )
        return {k: str(v) for k, v in creds.items() if v not in (None, "")}

    @staticmethod
    def _verify(store: Datastore) -> None:
        result = store.test()
        if result.ok:
            return
        if result.error_code == "datastore_auth_failed":
            from mlbench.data.errors import DatastoreAuthError as cls
        elif result.error_code == "datastore_unreachable":
            from mlbench.data.errors import DatastoreUnreachableError as cls  # type: ignore[assignment]
        else:
            cls = DatastoreError  # type: ignore[assignment]
        raise cls(
            f"datastore {store.name!r} failed its check, so it was not saved: {result.message}",
            hint="fix the settings or credentials, or pass verify=False (--no-verify) to save "
            "it unchecked",
        )

    def _to_info(self, row: DatastoreRow) -> DatastoreInfo:
        kind = datastore_kinds.get(row.kind)
        config = kind.parse_config(row.config)
        return DatastoreInfo(
            name=row.name,
            kind=row.kind,
            description=row.description,
            config=row.config,
            credentials=list(row.credential_names or []),
            read_only=row.read_only,
            is_default=row.name == DEFAULT_DATASTORE,
            uri=kind.uri(config, kind.root(config)),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
