"""``ws.data``: versioned data assets (``name:version``) on datastores, with lineage.

A version is immutable. Creating one from a local path uploads the content into a datastore,
content-addressed (``mlbench/<hash[:2]>/<hash>/...``), so the same bytes are stored once; creating
one from a URI on a datastore references the data where it is and records its hash, which is
checked whenever the data is used. Registering content identical to a live version of the same
asset returns that version instead of making a new one.

Local copies of remote data go to ``<workspace>/cache/data/<hash>``, so a version is downloaded
once per machine; on local datastores ``.path()`` is the data's own path.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import os
import shutil
import tempfile
from functools import cached_property
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import select, update

from mlbench._ids import new_id, utcnow
from mlbench.data.datastores import DEFAULT_DATASTORE, Datastore
from mlbench.data.errors import (
    DataChangedError,
    DataNotFoundError,
    DataPathNotFoundError,
)
from mlbench.data.hashing import (
    Entry,
    HashCache,
    Scan,
    check_entries,
    decode_manifest,
    encode_manifest,
    scan_local,
    scan_remote,
)
from mlbench.data.models import (
    ColumnInfo,
    DataKind,
    DataPreview,
    DataVersionInfo,
    FileEntry,
    LineageEdge,
    LineageGraph,
    LineageNode,
)
from mlbench.data.refs import DataRef, check_name, parse_ref
from mlbench.data.tables import FORMATS, infer_format
from mlbench.errors import InvalidInputError
from mlbench.store import (
    DataAssetRow,
    DataLineageRow,
    DataManifestRow,
    DataVersionRow,
    JobRow,
)

if TYPE_CHECKING:
    from mlbench.workspace import Workspace

log = logging.getLogger(__name__)

MAX_SKIPPED = 100  # skipped items reported in a create's answer (all of them go to the log)
OBJECTS = "mlbench"  # folder of uploaded data on a datastore: blobs/ and manifests/
UPLOAD_THREADS = 8
_TABLE_EXTENSIONS = (".csv", ".tsv", ".parquet", ".pq")
MAX_LINEAGE_DEPTH = 20


class DataAsset:
    """One version of a data asset, ready to read. ``info`` holds its record."""

    def __init__(self, data: Data, info: DataVersionInfo) -> None:
        self._data = data
        self.info = info

    def __repr__(self) -> str:
        i = self.info
        extra = f", {i.row_count} rows" if i.row_count is not None else ""
        return (
            f"<DataAsset {i.ref} {i.kind.value}, {i.file_count} file(s), "
            f"{i.size_bytes} bytes{extra}, on {i.datastore}>"
        )

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def version(self) -> int:
        return self.info.version

    @property
    def ref(self) -> str:
        return self.info.ref

    @property
    def kind(self) -> DataKind:
        return self.info.kind

    def path(self) -> Path:
        """A local path of the data: the file (file, one-file table) or the folder.

        On a local datastore this is the data's own path (do not modify it); otherwise the data
        is downloaded once into the workspace's cache, keyed by its hash.
        """
        return self._data.local_path(self.info)

    def files(self) -> list[FileEntry]:
        return [
            FileEntry(path=e.path, size=e.size, hash=e.hash) for e in self._data.entries(self.info)
        ]

    def open(self, file: str | None = None, mode: str = "rb") -> IO[Any]:
        """Open the file (or ``file`` inside a folder) for reading."""
        if "w" in mode or "a" in mode or "+" in mode:
            raise InvalidInputError(
                "data versions are read-only", hint="open with mode 'rb' or 'r'"
            )
        base = self.path()
        if base.is_dir():
            if file is None:
                raise InvalidInputError(
                    f"{self.ref} is a folder", hint="name the file to open, e.g. .open('a.csv')"
                )
            target = (base / file).resolve()
            if base.resolve() not in target.parents:
                raise InvalidInputError(f"{file!r} is outside {self.ref}")
        else:
            target = base
        if not target.is_file():
            raise DataPathNotFoundError(f"{file!r} is not a file of {self.ref}")
        return open(target, mode)

    def to_arrow(self) -> Any:
        """The table as a ``pyarrow.Table``."""
        from mlbench.data import tables

        return tables.read(self._table_path(), self.info.format or "parquet")

    def to_pandas(self) -> Any:
        return self.to_arrow().to_pandas()

    def preview(self, n: int = 20) -> DataPreview:
        return self._data.preview(self.info, n)

    def lineage(self, depth: int = 10) -> LineageGraph:
        return self._data.lineage(self.ref, depth=depth)

    def _table_path(self) -> Path:
        if self.kind != DataKind.TABLE:
            raise InvalidInputError(
                f"{self.ref} is a {self.kind.value}, not a table",
                hint="use .path() or .open() for files and folders",
            )
        return self.path()


class Data:
    """``ws.data``."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    @property
    def _stores(self) -> Any:
        return self._ws.datastores

    @cached_property
    def hash_cache(self) -> HashCache:
        """The stat cache of file hashes (one SQLite connection per thread)."""
        return HashCache(self._ws.home / "cache" / "hashes.sqlite")

    @property
    def cache_dir(self) -> Path:
        return self._ws.home / "cache" / "data"

    # -- creating ------------------------------------------------------------------------------
    def create(
        self,
        name: str,
        source: str | os.PathLike[str],
        *,
        kind: str | DataKind | None = None,
        datastore: str | None = None,
        format: str | None = None,
        description: str = "",
        tags: dict[str, Any] | None = None,
        job_id: str | None = None,
        binding: str | None = None,
    ) -> DataAsset:
        """Register ``source`` as the next version of ``name`` (or return an identical one).

        ``source`` is a local file or folder (uploaded to ``datastore``, default the workspace's
        own) or a URI on a datastore (``datastore://NAME/path``, ``s3://bucket/key``...),
        referenced where it is. ``kind`` is ``file``, ``folder`` or ``table`` (CSV/Parquet);
        by default a .csv/.parquet file is a table, another file a file, a folder a folder.
        """
        check_name(name)
        wanted = _kind(kind)
        text = os.fspath(source)
        if "://" in text:
            store, rel = self._stores.resolve_uri(text, datastore)
            return self._create_reference(
                name, store, rel, text, wanted, format, description, tags, job_id, binding
            )
        try:
            local = Path(text).expanduser()
        except RuntimeError:  # "~user" of nobody known
            raise InvalidInputError(
                f"cannot expand {text!r}", hint="give an absolute path"
            ) from None
        if not local.exists():
            raise DataPathNotFoundError(
                f"{text} does not exist",
                hint="give an existing local file or folder, or a URI on a datastore "
                "(datastore://NAME/path, s3://bucket/key)",
            )
        return self._create_upload(
            name, local.resolve(), datastore, wanted, format, description, tags, job_id, binding
        )

    def _create_upload(
        self,
        name: str,
        local: Path,
        datastore: str | None,
        wanted: DataKind | None,
        fmt: str | None,
        description: str,
        tags: dict[str, Any] | None,
        job_id: str | None,
        binding: str | None,
    ) -> DataAsset:
        store = self._stores.open(datastore or DEFAULT_DATASTORE)
        store.check_writable()
        if store.is_local and local.is_dir():
            root = Path(store.root).resolve()
            if root == local or local in root.parents:
                raise InvalidInputError(
                    f"{local} contains datastore {store.name!r} ({root}), where it would be "
                    "copied to",
                    hint="upload a folder outside the datastore, or reference data already in "
                    f"it (datastore://{store.name}/PATH)",
                )
        scan = scan_local(local, self.hash_cache)
        log.debug("hashed %s: %d file(s), %d read", local, scan.file_count, scan.rehashed)
        _warn_skipped(str(local), scan)
        kind, fmt = _decide_kind(wanted, scan, local.name, fmt)
        if not scan.entries:
            raise _empty(str(local), scan)
        existing = self._same_content(name, scan.content_hash, kind)
        if existing is not None:
            return _noting(self._identical(existing, job_id, binding), scan)
        columns = rows = preview = None
        if kind == DataKind.TABLE:
            columns, rows, preview = _describe_table(str(local), fmt, None, scan)
        rel = manifest_path(scan.content_hash)
        created = self._upload(store, name, local, scan, rel, kind)
        try:
            committed = self._commit(
                name=name,
                kind=kind,
                fmt=fmt,
                store=store,
                rel=rel,
                stored="upload",
                filename=None if scan.is_dir else local.name,
                scan=scan,
                columns=columns,
                rows=rows,
                preview=preview,
                description=description,
                tags=tags,
                source=str(local),
                job_id=job_id,
                binding=binding,
            )
        except BaseException:
            for full in created:  # nothing half-registered: what this upload added goes too
                with contextlib.suppress(Exception):
                    store.fs.rm_file(full)
            raise
        return _noting(committed, scan)

    def _create_reference(
        self,
        name: str,
        store: Datastore,
        rel: str,
        source: str,
        wanted: DataKind | None,
        fmt: str | None,
        description: str,
        tags: dict[str, Any] | None,
        job_id: str | None,
        binding: str | None,
    ) -> DataAsset:
        if not rel:
            raise InvalidInputError(
                f"{source} is the whole datastore {store.name!r}",
                hint="reference a file or folder inside it",
            )
        scan = self._scan_store(store, rel)
        _warn_skipped(source, scan)
        filename = None if scan.is_dir else rel.rsplit("/", 1)[-1]
        kind, fmt = _decide_kind(wanted, scan, filename or rel, fmt)
        if not scan.entries:
            raise _empty(source, scan)
        existing = self._same_content(name, scan.content_hash, kind)
        if existing is not None:
            return _noting(self._identical(existing, job_id, binding), scan)
        columns = rows = preview = None
        if kind == DataKind.TABLE:
            if store.is_local:
                columns, rows, preview = _describe_table(store.full(rel), fmt, None, scan)
            else:
                columns, rows, preview = store.call(
                    "reading the table", _describe_table, store.full(rel), fmt, store.fs, scan
                )
        committed = self._commit(
            name=name,
            kind=kind,
            fmt=fmt,
            store=store,
            rel=rel,
            stored="reference",
            filename=filename,
            scan=scan,
            columns=columns,
            rows=rows,
            preview=preview,
            description=description,
            tags=tags,
            source=store.uri(rel),
            job_id=job_id,
            binding=binding,
        )
        return _noting(committed, scan)

    def _scan_store(self, store: Datastore, rel: str) -> Scan:
        full = store.full(rel)
        if store.is_local:
            if not Path(full).exists():
                raise DataPathNotFoundError(
                    f"{store.uri(rel)} does not exist on datastore {store.name!r}",
                    hint="check the path (relative to the datastore's root)",
                )
            return scan_local(Path(full), self.hash_cache)
        return store.call(
            f"reading {rel}",
            scan_remote,
            store.fs,
            full,
            f"ds:{store.name}:",
            self.hash_cache,
        )

    def _upload(
        self, store: Datastore, name: str, local: Path, scan: Scan, rel: str, kind: DataKind
    ) -> list[str]:
        """Store each file once, by its hash (``blobs/``), and the version's file list
        (``manifests/``); only files not there already are copied. Returns what was added.

        Re-versioning a large folder therefore copies only the files that changed: the blobs
        of the asset's previous version on this datastore are known to be there; any other is
        looked up (in parallel on remote stores).
        """
        fs = store.fs
        # on remote stores a lookup is a request: trust the previous version's file list instead
        known = set() if store.is_local else self._uploaded_hashes(name, store.name)
        todo: dict[str, Entry] = {}
        for e in scan.entries:
            if e.hash not in known:
                todo.setdefault(e.hash, e)

        def missing(e: Entry) -> bool:
            full = store.internal(blob_path(e.hash))
            if store.is_local:
                return not os.path.exists(full)
            return not store.call("looking up", fs.exists, full)

        if store.is_local or len(todo) < 2:
            absent = [e for e in todo.values() if missing(e)]
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
                flags = list(pool.map(missing, todo.values()))
            absent = [e for e, gone in zip(todo.values(), flags, strict=True) if gone]
        pairs = [
            (str(local / e.path if scan.is_dir else local), store.internal(blob_path(e.hash)))
            for e in absent
        ]
        manifest_full = store.internal(rel)
        created: list[str] = []
        try:
            store.put_files(pairs)
            created = [p[1] for p in pairs]
            if store.is_local:
                for _, full in pairs:  # a version's bytes are immutable: keep them read-only
                    os.chmod(full, 0o444)
            if store.is_local:
                if not os.path.exists(manifest_full):
                    Path(manifest_full).parent.mkdir(parents=True, exist_ok=True)
                    tmp = f"{manifest_full}.{new_id()}.tmp"
                    Path(tmp).write_bytes(manifest_bytes(kind, scan))
                    os.replace(tmp, manifest_full)
                    created.append(manifest_full)
            elif not store.call("looking up", fs.exists, manifest_full):
                store.call(
                    "writing the manifest", fs.pipe_file, manifest_full, manifest_bytes(kind, scan)
                )
                created.append(manifest_full)
        except BaseException:
            for full in created:
                with contextlib.suppress(Exception):
                    fs.rm_file(full)
            raise
        log.debug("uploaded %d of %d file(s) to %s", len(pairs), scan.file_count, store.name)
        return created

    def _uploaded_hashes(self, name: str, datastore: str) -> set[str]:
        """File hashes of the newest uploaded version of ``name`` on ``datastore``."""
        with self._ws.db.session() as s:
            row = s.scalars(
                select(DataVersionRow)
                .where(
                    DataVersionRow.name == name,
                    DataVersionRow.datastore == datastore,
                    DataVersionRow.stored == "upload",
                )
                .order_by(DataVersionRow.version.desc())
                .limit(1)
            ).first()
            if row is None:
                return set()
            if row.filename is not None:
                return {row.content_hash}
            manifest = s.get(DataManifestRow, row.content_hash)
            return {e.hash for e in decode_manifest(manifest.entries)} if manifest else set()

    def _same_content(self, name: str, content_hash: str, kind: DataKind) -> DataVersionRow | None:
        with self._ws.db.session() as s:
            row = s.scalars(
                select(DataVersionRow)
                .where(
                    DataVersionRow.name == name,
                    DataVersionRow.content_hash == content_hash,
                    DataVersionRow.kind == kind.value,
                    DataVersionRow.archived.is_(False),
                )
                .order_by(DataVersionRow.version.desc())
                .limit(1)
            ).first()
            if row is not None:
                s.expunge(row)
            return row

    def _identical(self, row: DataVersionRow, job_id: str | None, binding: str | None) -> DataAsset:
        if job_id and binding:  # a job made the same content again: it produced this version too
            self._record_edge(job_id, "output", binding, row)
        return DataAsset(self, self._to_info(row))

    def _commit(
        self,
        *,
        name: str,
        kind: DataKind,
        fmt: str | None,
        store: Datastore,
        rel: str,
        stored: str,
        filename: str | None,
        scan: Scan,
        columns: list[ColumnInfo] | None,
        rows: int | None,
        preview: list[dict[str, Any]] | None,
        description: str,
        tags: dict[str, Any] | None,
        source: str,
        job_id: str | None,
        binding: str | None,
    ) -> DataAsset:
        now = utcnow()
        with self._ws.db.write() as s:
            again = s.scalars(
                select(DataVersionRow).where(
                    DataVersionRow.name == name,
                    DataVersionRow.content_hash == scan.content_hash,
                    DataVersionRow.kind == kind.value,
                    DataVersionRow.archived.is_(False),
                )
            ).first()
            if again is not None:  # registered by someone else meanwhile
                s.expunge(again)
                row = again
            else:
                asset = s.get(DataAssetRow, name)
                if asset is None:
                    asset = DataAssetRow(
                        name=name, last_version=0, archived=False, created_at=now, updated_at=now
                    )
                    s.add(asset)
                asset.last_version += 1
                asset.archived = False
                asset.updated_at = now
                if scan.is_dir and s.get(DataManifestRow, scan.content_hash) is None:
                    s.add(
                        DataManifestRow(
                            content_hash=scan.content_hash,
                            file_count=scan.file_count,
                            entries=encode_manifest(scan.entries),
                            created_at=now,
                        )
                    )
                row = DataVersionRow(
                    id=new_id(),
                    name=name,
                    version=asset.last_version,
                    kind=kind.value,
                    format=fmt,
                    datastore=store.name,
                    path=rel,
                    stored=stored,
                    filename=filename,
                    content_hash=scan.content_hash,
                    size_bytes=scan.size,
                    file_count=scan.file_count,
                    columns=[c.model_dump() for c in columns] if columns is not None else None,
                    row_count=rows,
                    preview=preview,
                    description=description,
                    tags={str(k): str(v) for k, v in (tags or {}).items()},
                    source=source,
                    created_by=_user(),
                    job_id=job_id,
                    archived=False,
                    created_at=now,
                )
                s.add(row)
                s.flush()
                if job_id and binding:
                    s.add(_edge(job_id, "output", binding, row, now))
                s.expunge(row)
        if again is not None:
            return self._identical(row, job_id, binding)
        log.info(
            "registered %s:%d (%s, %d file(s))", name, row.version, kind.value, scan.file_count
        )
        return DataAsset(self, self._to_info(row))

    # -- reading -------------------------------------------------------------------------------
    def get(self, ref: str | DataRef) -> DataAsset:
        """``name`` / ``name@latest`` (newest live version) or ``name:VERSION``."""
        return DataAsset(self, self._to_info(self._row(ref)))

    def info(self, ref: str | DataRef) -> DataVersionInfo:
        return self._to_info(self._row(ref))

    def _row(self, ref: str | DataRef) -> DataVersionRow:
        r = parse_ref(ref) if isinstance(ref, str) else ref
        with self._ws.db.session() as s:
            query = select(DataVersionRow).where(DataVersionRow.name == r.name)
            if r.version is not None:
                query = query.where(DataVersionRow.version == r.version)
            else:
                query = query.where(DataVersionRow.archived.is_(False)).order_by(
                    DataVersionRow.version.desc()
                )
            row = s.scalars(query.limit(1)).first()
            if row is not None:
                s.expunge(row)
                return row
            versions = s.scalars(
                select(DataVersionRow.version)
                .where(DataVersionRow.name == r.name)
                .order_by(DataVersionRow.version)
            ).all()
        if not versions:
            names = self._names()
            close = [n for n in names if r.name.lower() in n.lower() or n.lower() in r.name.lower()]
            raise DataNotFoundError(
                f"data asset {r.name!r} does not exist",
                hint=(f"did you mean {', '.join(close[:5])}? " if close else "")
                + "list assets with `mlbench data list`; create one with "
                "`mlbench data create NAME PATH`",
            )
        if r.version is None:
            raise DataNotFoundError(
                f"every version of {r.name!r} is archived",
                hint=f"name one explicitly (versions: {_span(versions)}) or restore one with "
                f"`mlbench data archive {r.name}:{versions[-1]} --restore`",
            )
        raise DataNotFoundError(
            f"data asset {r.name!r} has no version {r.version}",
            hint=f"versions: {_span(versions)}; `mlbench data versions {r.name}` lists them",
        )

    def _names(self) -> list[str]:
        with self._ws.db.session() as s:
            return list(s.scalars(select(DataAssetRow.name).order_by(DataAssetRow.name)))

    def list(
        self, *, text: str | None = None, include_archived: bool = False
    ) -> list[DataVersionInfo]:
        """Every asset's newest version (live ones only unless ``include_archived``)."""
        with self._ws.db.session() as s:
            query = select(DataAssetRow).order_by(DataAssetRow.name)
            if not include_archived:
                query = query.where(DataAssetRow.archived.is_(False))
            if text:
                query = query.where(DataAssetRow.name.ilike(f"%{text}%"))
            names = [a.name for a in s.scalars(query)]
            out: list[DataVersionInfo] = []
            for name in names:
                vq = select(DataVersionRow).where(DataVersionRow.name == name)
                if not include_archived:
                    vq = vq.where(DataVersionRow.archived.is_(False))
                row = s.scalars(vq.order_by(DataVersionRow.version.desc()).limit(1)).first()
                if row is not None:
                    out.append(self._to_info(row))
            return out

    def versions(self, name: str, *, include_archived: bool = True) -> list[DataVersionInfo]:
        """Versions of ``name``, newest first."""
        check_name(name)
        with self._ws.db.session() as s:
            query = select(DataVersionRow).where(DataVersionRow.name == name)
            if not include_archived:
                query = query.where(DataVersionRow.archived.is_(False))
            rows = s.scalars(query.order_by(DataVersionRow.version.desc())).all()
            infos = [self._to_info(r) for r in rows]
        if not infos:
            self._row(DataRef(name))  # raises the not-found error with its hint
        return infos

    def archive(self, ref: str, *, restore: bool = False) -> list[DataVersionInfo]:
        """Hide a version (``name:3``) or a whole asset (``name``) from lists and ``latest``.

        Archived versions keep their data and can still be used by exact version.
        """
        r = parse_ref(ref)
        raw = str(ref).strip().removeprefix("data:")
        whole = r.version is None and ":" not in raw and "@" not in raw
        now = utcnow()
        if whole:
            self.versions(r.name)  # raises if unknown
            with self._ws.db.write() as s:
                s.execute(
                    update(DataVersionRow)
                    .where(DataVersionRow.name == r.name)
                    .values(archived=not restore)
                )
                s.execute(
                    update(DataAssetRow)
                    .where(DataAssetRow.name == r.name)
                    .values(archived=not restore, updated_at=now)
                )
            return self.versions(r.name)
        row = self._row(r)
        with self._ws.db.write() as s:
            s.execute(
                update(DataVersionRow)
                .where(DataVersionRow.id == row.id)
                .values(archived=not restore)
            )
            live = s.scalars(
                select(DataVersionRow.id).where(
                    DataVersionRow.name == r.name, DataVersionRow.archived.is_(False)
                )
            ).first()
            s.execute(
                update(DataAssetRow)
                .where(DataAssetRow.name == r.name)
                .values(archived=live is None, updated_at=now)
            )
        return [self.info(f"{r.name}:{row.version}")]

    # -- content -------------------------------------------------------------------------------
    def entries(self, info: DataVersionInfo) -> list[Entry]:
        """The files of a version as registered: (path, size, hash)."""
        if info.kind != DataKind.FOLDER and info.filename is not None:
            return [Entry(info.filename, info.size_bytes, info.content_hash)]
        with self._ws.db.session() as s:
            manifest = s.get(DataManifestRow, info.content_hash)
            if manifest is None:
                raise DataNotFoundError(f"the file list of {info.ref} is missing")
            return decode_manifest(manifest.entries)

    def local_path(self, info: DataVersionInfo) -> Path:
        store = self._stores.open(info.datastore)
        folder = info.filename is None
        if store.is_local and info.stored == "reference":
            full = Path(store.full(info.path))
            if not full.exists():
                raise DataPathNotFoundError(
                    f"the data of {info.ref} is gone from datastore {store.name!r} ({full})",
                    hint="the version cannot be used; register the data again",
                )
            scan = scan_local(full, self.hash_cache)
            if scan.content_hash == info.content_hash and not scan.skipped:
                return full  # the folder is exactly the version: used in place
            problem = (
                check_entries(full, self.entries(info), self.hash_cache) if folder else "it changed"
            )
            if problem is not None:
                raise DataChangedError(
                    f"the data of {info.ref} at {full} changed since it was registered ({problem})",
                    hint=f"register the new content as a new version: "
                    f"`mlbench data create {info.name} {store.uri(info.path)}`",
                )
            # The folder holds more than the version (hidden files, symlinks leading out, files
            # added since): hand out only the version's files, linked into the cache.
        target = self.cache_dir / info.content_hash
        if not target.exists():
            self._materialize(store, info, target)
        return target if folder else target / str(info.filename)

    def _materialize(self, store: Datastore, info: DataVersionInfo, target: Path) -> None:
        """Lay the version's files out under ``target``: hard links to the blobs of a local
        datastore, else downloads checked against the recorded hash."""
        entries = self.entries(info)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{info.content_hash[:12]}-", dir=target.parent))
        try:
            pairs = []
            base = store.full(info.path) if info.stored == "reference" else ""
            made: set[Path] = set()
            for e in entries:
                local = tmp / e.path
                if local.parent not in made:
                    local.parent.mkdir(parents=True, exist_ok=True)
                    made.add(local.parent)
                if info.stored == "upload":
                    remote = store.internal(blob_path(e.hash))
                elif info.filename is not None:
                    remote = base
                else:
                    remote = f"{base}/{e.path}"
                pairs.append((remote, str(local)))
            if store.is_local:
                for remote, local in pairs:
                    _link_or_copy(remote, local, store.name)
            else:
                store.get_files(pairs)
                # Each listed file against its recorded hash (not a walk of what arrived).
                problem = check_entries(tmp, entries)
                if problem is not None:
                    raise DataChangedError(
                        f"the data of {info.ref} on datastore {store.name!r} changed since it "
                        f"was registered ({problem})",
                        hint=f"register the new content as a new version (`mlbench data create "
                        f"{info.name} {info.uri}`)",
                    )
            try:
                tmp.rename(target)
            except OSError:
                if not target.exists():
                    raise  # else another process finished the same download first
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def download(self, ref: str, dest: str | os.PathLike[str]) -> Path:
        """Copy a version to ``dest`` (a folder, created if needed); returns the copy's path."""
        asset = self.get(ref)
        src = asset.path()
        out = Path(dest).expanduser().resolve()
        out.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            target = out / asset.name
            # plain copies: the cache's files are read-only hard links, a download is the user's
            shutil.copytree(src, target, dirs_exist_ok=True, copy_function=shutil.copyfile)
            return target
        target = out / src.name
        shutil.copyfile(src, target)
        return target

    def preview(self, ref: str | DataVersionInfo, n: int = 20) -> DataPreview:
        """Tables: schema and first ``n`` rows (read when beyond what was recorded); else files."""
        info = ref if isinstance(ref, DataVersionInfo) else self.info(ref)
        n = max(0, min(int(n), 1000))
        if info.kind == DataKind.TABLE:
            with self._ws.db.session() as s:
                row = s.get(DataVersionRow, info.id)
                recorded = list(row.preview or []) if row is not None else []
            if n <= len(recorded) or (
                info.row_count is not None and len(recorded) >= info.row_count
            ):
                rows = recorded[:n]
            else:
                from mlbench.data import tables

                path = self.local_path(info)
                fmt = info.format or "parquet"
                source: Any = path
                if path.is_dir():  # the version's table files, nothing else in the folder
                    source = _table_files(str(path), fmt, self.entries(info))
                rows = tables.head(source, fmt, n)
            return DataPreview(
                ref=info.ref,
                kind=info.kind,
                columns=info.columns,
                rows=rows,
                row_count=info.row_count,
                file_count=info.file_count,
                truncated=(info.row_count or 0) > len(rows),
            )
        entries = self.entries(info)
        limit = max(n, 1) * 10
        return DataPreview(
            ref=info.ref,
            kind=info.kind,
            files=[FileEntry(path=e.path, size=e.size, hash=e.hash) for e in entries[:limit]],
            file_count=info.file_count,
            truncated=len(entries) > limit,
        )

    # -- lineage -------------------------------------------------------------------------------
    def record_input(self, job_id: str, binding: str, info: DataVersionInfo) -> None:
        with self._ws.db.write() as s:
            row = s.get(DataVersionRow, info.id)
            if row is not None:
                s.add(_edge(job_id, "input", binding, row, utcnow()))

    def _record_edge(self, job_id: str, direction: str, binding: str, row: DataVersionRow) -> None:
        with self._ws.db.write() as s:
            s.add(_edge(job_id, direction, binding, row, utcnow()))

    def lineage(self, ref: str, *, depth: int = 10) -> LineageGraph:
        """Jobs that made this version and what they read, and jobs that read it and what they
        made, transitively, up to ``depth`` jobs away in each direction."""
        depth = max(1, min(int(depth), MAX_LINEAGE_DEPTH))
        root = self._row(ref)
        nodes: dict[str, LineageNode] = {}
        edges: dict[tuple[str, str, str], LineageEdge] = {}
        truncated = False
        with self._ws.db.session() as s:
            self._add_version_node(nodes, root)

            def edges_of(version_id: str | None = None, job_id: str | None = None) -> list[Any]:
                q = select(DataLineageRow)
                if version_id is not None:
                    q = q.where(DataLineageRow.version_id == version_id)
                if job_id is not None:
                    q = q.where(DataLineageRow.job_id == job_id)
                return list(s.scalars(q.order_by(DataLineageRow.id)))

            for direction in ("up", "down"):
                frontier = [root.id]
                seen_versions = {root.id}
                seen_jobs: set[str] = set()
                for level in range(depth + 1):
                    next_jobs: set[str] = set()
                    for vid in frontier:
                        for e in edges_of(version_id=vid):
                            wanted = "output" if direction == "up" else "input"
                            if e.direction == wanted and e.job_id not in seen_jobs:
                                next_jobs.add(e.job_id)
                    if not next_jobs:
                        break
                    if level == depth:
                        truncated = True
                        break
                    frontier = []
                    for jid in sorted(next_jobs):
                        seen_jobs.add(jid)
                        self._add_job_node(s, nodes, jid)
                        for e in edges_of(job_id=jid):
                            vnode = f"data:{e.asset_name}:{e.asset_version}"
                            if vnode not in nodes:
                                vrow = s.get(DataVersionRow, e.version_id)
                                if vrow is None:
                                    continue
                                self._add_version_node(nodes, vrow)
                            jnode = f"job:{jid}"
                            if e.direction == "input":
                                key = (vnode, jnode, e.binding)
                                edges[key] = LineageEdge(
                                    source=vnode, target=jnode, binding=e.binding, direction="input"
                                )
                            else:
                                key = (jnode, vnode, e.binding)
                                edges[key] = LineageEdge(
                                    source=jnode,
                                    target=vnode,
                                    binding=e.binding,
                                    direction="output",
                                )
                            follow = e.direction == ("input" if direction == "up" else "output")
                            if follow and e.version_id not in seen_versions:
                                seen_versions.add(e.version_id)
                                frontier.append(e.version_id)
        return LineageGraph(
            root=f"data:{root.name}:{root.version}",
            nodes=list(nodes.values()),
            edges=list(edges.values()),
            truncated=truncated,
        )

    @staticmethod
    def _add_version_node(nodes: dict[str, LineageNode], row: DataVersionRow) -> None:
        key = f"data:{row.name}:{row.version}"
        nodes.setdefault(
            key,
            LineageNode(
                id=key,
                type="data",
                label=f"{row.name}:{row.version}",
                name=row.name,
                version=row.version,
                archived=row.archived,
            ),
        )

    @staticmethod
    def _add_job_node(s: Any, nodes: dict[str, LineageNode], job_id: str) -> None:
        key = f"job:{job_id}"
        if key in nodes:
            return
        job = s.get(JobRow, job_id)
        nodes[key] = LineageNode(
            id=key,
            type="job",
            label=f"{job.display_name} ({job_id})" if job else job_id,
            job_id=job_id,
            status=job.status if job else "deleted",
        )

    # -- helpers -------------------------------------------------------------------------------
    def _to_info(self, row: DataVersionRow) -> DataVersionInfo:
        try:
            store = self._stores.open(row.datastore)
            uri = store.uri(row.path)
        except Exception:  # a deleted datastore must not hide the record
            uri = f"datastore://{row.datastore}/{row.path}"
        return DataVersionInfo(
            id=row.id,
            name=row.name,
            version=row.version,
            ref=f"{row.name}:{row.version}",
            kind=DataKind(row.kind),
            format=row.format,
            datastore=row.datastore,
            path=row.path,
            uri=uri,
            stored=row.stored,  # type: ignore[arg-type]
            filename=row.filename,
            content_hash=row.content_hash,
            size_bytes=row.size_bytes,
            file_count=row.file_count,
            columns=[ColumnInfo.model_validate(c) for c in row.columns]
            if row.columns is not None
            else None,
            row_count=row.row_count,
            description=row.description,
            tags=row.tags or {},
            source=row.source,
            created_by=row.created_by,
            created_at=row.created_at,
            job_id=row.job_id,
            archived=row.archived,
        )


# -- helpers -----------------------------------------------------------------------------------
def blob_path(file_hash: str) -> str:
    """Where an uploaded file is kept on a datastore (relative to its root), by content."""
    return f"{OBJECTS}/blobs/{file_hash[:2]}/{file_hash}"


def manifest_path(content_hash: str) -> str:
    return f"{OBJECTS}/manifests/{content_hash}.json"


def manifest_bytes(kind: DataKind, scan: Scan) -> bytes:
    """The version's file list, stored next to the blobs so the data explains itself."""
    import json

    return json.dumps(
        {
            "hash_algorithm": "blake3",
            "content_hash": scan.content_hash,
            "kind": kind.value,
            "files": [[e.path, e.size, e.hash] for e in scan.entries],
        },
        separators=(",", ":"),
    ).encode()


def _link_or_copy(src: str, dest: str, datastore: str) -> None:
    try:
        os.link(src, dest)
    except FileNotFoundError:
        raise DataPathNotFoundError(
            f"a file of this version is gone from datastore {datastore!r} ({src})",
            hint="the version cannot be used; register the data again",
        ) from None
    except OSError:  # another filesystem, or no hard links there
        shutil.copyfile(src, dest)


def _kind(kind: str | DataKind | None) -> DataKind | None:
    if kind is None or isinstance(kind, DataKind):
        return kind
    try:
        return DataKind(str(kind))
    except ValueError:
        raise InvalidInputError(
            f"unknown data kind {kind!r}", hint="kinds: file, folder, table"
        ) from None


def _decide_kind(
    wanted: DataKind | None, scan: Scan, filename: str, fmt: str | None
) -> tuple[DataKind, str | None]:
    if fmt is not None and fmt not in FORMATS:
        raise InvalidInputError(
            f"unknown table format {fmt!r}", hint=f"formats: {', '.join(FORMATS)}"
        )
    kind = wanted
    if kind is None:
        if scan.is_dir:
            kind = DataKind.FOLDER
        elif fmt or filename.lower().endswith(_TABLE_EXTENSIONS):
            kind = DataKind.TABLE
        else:
            kind = DataKind.FILE
    if kind == DataKind.FILE and scan.is_dir:
        raise InvalidInputError(
            f"{filename} is a folder, not a file", hint="use kind 'folder' (or 'table')"
        )
    if kind == DataKind.FOLDER and not scan.is_dir:
        raise InvalidInputError(f"{filename} is a file, not a folder", hint="use kind 'file'")
    if kind == DataKind.TABLE:
        fmt = infer_format([e.path for e in scan.entries] if scan.is_dir else [filename], fmt)
        return kind, fmt
    return kind, None


def _describe_table(
    source: str, fmt: str | None, filesystem: Any, scan: Scan
) -> tuple[list[ColumnInfo], int, list[dict[str, Any]]]:
    from mlbench.data import tables

    target: Any = source
    if scan.is_dir:
        target = _table_files(source, fmt, scan.entries)
    return tables.describe(target, fmt or "parquet", filesystem)


def _table_files(folder: str, fmt: str | None, entries: list[Entry]) -> list[str]:
    """The table's files of a folder version: a folder may carry e.g. a README or _SUCCESS, and
    files its walk left out (hidden, symlinks leading out) are never read."""
    exts = {".csv", ".tsv"} if fmt == "csv" else {".parquet", ".pq"}
    return [
        f"{folder.rstrip('/')}/{e.path}"
        for e in entries
        if os.path.splitext(e.path)[1].lower() in exts
    ]


def _warn_skipped(source: str, scan: Scan) -> None:
    if scan.skipped:
        log.warning(
            "%s: %d item(s) left out of the data: %s",
            source,
            len(scan.skipped),
            ", ".join(scan.skipped[:10]) + (" ..." if len(scan.skipped) > 10 else ""),
        )


def _noting(asset: DataAsset, scan: Scan) -> DataAsset:
    """``asset`` with what the folder walk left out (reported once, not stored)."""
    if scan.skipped:
        asset.info = asset.info.model_copy(update={"skipped": list(scan.skipped[:MAX_SKIPPED])})
    return asset


def _empty(source: str, scan: Scan) -> InvalidInputError:
    if scan.skipped:
        return InvalidInputError(
            f"{source} holds no files once {', '.join(scan.skipped[:5])} are left out",
            hint="hidden files and symlinks leading outside the folder are never part of "
            "data; copy the files into the folder",
        )
    return InvalidInputError(f"{source} holds no files", hint="data assets cannot be empty")


def _edge(
    job_id: str, direction: str, binding: str, row: DataVersionRow, now: Any
) -> DataLineageRow:
    return DataLineageRow(
        job_id=job_id,
        direction=direction,
        binding=binding,
        version_id=row.id,
        asset_name=row.name,
        asset_version=row.version,
        created_at=now,
    )


def _span(versions: list[int] | Any) -> str:
    v = list(versions)
    if len(v) > 6:
        return f"{v[0]}..{v[-1]}"
    return ", ".join(map(str, v))


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return ""
