"""Checking, backing up and restoring an embedded workspace (SQLite + MLflow's SQLite store).

Everything here works from the workspace's files and settings alone, so it also works when the
workspace database is damaged and :class:`~mlbench.workspace.Workspace` cannot open it.

A backup is a folder: ``mlbench.db`` and ``mlflow/mlflow.db`` written with SQLite's online
backup API (a consistent snapshot each, taken while agents and servers keep working), then every
other file of the workspace (job folders, MLflow artifacts and series, uploaded data, settings,
the secrets file) copied after them, so whatever the databases name is in the backup; a file made
meanwhile is at worst an orphan, which ``mlbench workspace check`` reports. Runtime state (agent
locks and announcements, caches) is left out. ``mlbench-backup.json`` describes the backup.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from mlbench.config import load_settings
from mlbench.errors import ConflictError, InvalidInputError, MlbenchError
from mlbench.paths import WorkspacePaths
from mlbench.store.db import SQLITE_HEADER
from mlbench.store.locks import FileLock

MANIFEST = "mlbench-backup.json"
MISSING = "the file does not exist"
FORMAT = 1
MLFLOW_DB = "mlflow.db"
# Not workspace content: agents' runtime files, caches, locks, SQLite's side files.
_SKIP_TOP = {"agents", "cache", "migrate.lock"}
_SQLITE_SIDE = ("-wal", "-shm", "-journal")


class BackupError(MlbenchError):
    code = "backup_failed"


@dataclass(frozen=True)
class Layout:
    """Where an embedded workspace keeps what a backup holds (None: not a local SQLite file)."""

    home: Path
    database: Path | None
    database_url: str
    mlflow_database: Path | None
    tracking_uri: str
    artifacts: Path | None

    @classmethod
    def of(cls, home: Path) -> Layout:
        settings = load_settings(home)
        paths = WorkspacePaths(home)
        database_url = settings.database_url or f"sqlite:///{paths.database}"
        # The defaults of Workspace.tracking_uri / artifact_root (read here without opening
        # the workspace, which a damaged database would stop).
        tracking_uri = settings.tracking_uri or f"sqlite:///{paths.mlflow_dir / MLFLOW_DB}"
        artifacts = settings.artifact_location or (paths.mlflow_dir / "artifacts").as_uri()
        return cls(
            home=home,
            database=_sqlite_file(database_url),
            database_url=database_url,
            mlflow_database=_sqlite_file(tracking_uri),
            tracking_uri=tracking_uri,
            artifacts=_file_path(artifacts),
        )


def _sqlite_file(url: str) -> Path | None:
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return None
    path = url[len(prefix) :].split("?", 1)[0]
    return Path(path if path.startswith("/") else "/" + path) if path else None


def _file_path(uri: str) -> Path | None:
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if not parsed.scheme:
        return Path(uri)
    return None


# -- SQLite helpers ----------------------------------------------------------------------------
def integrity(path: Path) -> str | None:
    """None when ``path`` is a sound SQLite database (``PRAGMA integrity_check``), else what
    is wrong, in SQLite's words (first lines)."""
    if not path.is_file():
        return MISSING
    with path.open("rb") as f:
        header = f.read(len(SQLITE_HEADER))
    if not header:
        return "the file is empty"
    if header != SQLITE_HEADER:
        return "file is not a database (it does not start with SQLite's header)"
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=60)
        try:
            rows = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    if rows == ["ok"]:
        return None
    return "; ".join(str(r) for r in rows[:5]) + (
        f" (and {len(rows) - 5} more)" if len(rows) > 5 else ""
    )


def _online_copy(src: Path, dest: Path) -> None:
    """A consistent copy of a live SQLite database (its WAL included), via the backup API."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"{src.as_uri()}?mode=ro", uri=True, timeout=60)
    try:
        target = sqlite3.connect(dest)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()


def _schema_revision(path: Path) -> str | None:
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return str(row[0]) if row else None


# -- check -------------------------------------------------------------------------------------
@dataclass
class Finding:
    check: str
    ok: bool
    message: str
    hint: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class CheckReport:
    home: str
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "home": self.home,
            "ok": self.ok,
            "findings": [f.__dict__ for f in self.findings],
        }


def check(
    home: Path,
    *,
    tracking_probe: Callable[[str], None] | None = None,
    job_ids: Callable[[], set[str]] | None = None,
) -> CheckReport:
    """What is wrong with the workspace at ``home``; nothing is changed.

    ``tracking_probe(uri)`` raises when the MLflow store cannot be used; ``job_ids()`` lists the
    jobs the database knows (the caller's way in when the database is not SQLite here).
    """
    layout = Layout.of(home)
    paths = WorkspacePaths(home)
    findings: list[Finding] = []

    db_ok = True
    used = (layout.mlflow_database is not None and layout.mlflow_database.exists()) or (
        paths.jobs_dir.is_dir() and any(paths.jobs_dir.iterdir())
    )
    if layout.database is not None and not layout.database.exists() and not used:
        # nothing was ever run here: the database is made on first use, nothing is lost
        findings.append(Finding("database", True, "none yet: a new workspace (made on first use)"))
    elif layout.database is not None:
        problem = integrity(layout.database)
        db_ok = problem is None
        findings.append(
            Finding(
                "database",
                db_ok,
                f"{layout.database}: integrity check passed"
                if db_ok
                else f"{layout.database} is missing"
                if problem == MISSING
                else f"{layout.database} is damaged: {problem}",
                None
                if db_ok
                else "restore a backup (`mlbench workspace restore BACKUP`); the job folders and "
                "runs are kept",
            )
        )
    if layout.mlflow_database is not None and layout.mlflow_database.exists():
        problem = integrity(layout.mlflow_database)
        findings.append(
            Finding(
                "mlflow database",
                problem is None,
                f"{layout.mlflow_database}: integrity check passed"
                if problem is None
                else f"{layout.mlflow_database} is damaged: {problem}",
                None
                if problem is None
                else "restore a backup (`mlbench workspace restore BACKUP`)",
            )
        )
    mlflow_ok = not any(f.check == "mlflow database" and not f.ok for f in findings)
    if layout.mlflow_database is not None and not layout.mlflow_database.exists():
        findings.append(Finding("mlflow store", True, "no MLflow store yet (no runs so far)"))
    elif tracking_probe is not None and mlflow_ok:
        try:
            tracking_probe(layout.tracking_uri)
            findings.append(Finding("mlflow store", True, f"{layout.tracking_uri} answers"))
        except Exception as exc:
            text = " ".join(str(exc).split())[:300] or type(exc).__name__
            findings.append(
                Finding(
                    "mlflow store",
                    False,
                    f"the MLflow store {layout.tracking_uri} cannot be used: {text}",
                    "check tracking_uri in mlbench.yaml and that the store (or its server) is up",
                )
            )
    if layout.artifacts is not None:
        present = layout.artifacts.is_dir()
        needed = _has_runs(layout)
        state = "present" if present else "is missing" if needed else "not made yet (no runs)"
        findings.append(
            Finding(
                "artifacts",
                present or not needed,
                f"artifacts folder {layout.artifacts} {state}",
                "restore a backup: the runs' artifacts are gone"
                if needed and not present
                else None,
            )
        )

    known: set[str] | None = None
    if job_ids is None:

        def job_ids() -> set[str]:
            return _job_ids(layout.database_url)

    new_workspace = layout.database is not None and not layout.database.exists() and not used
    if db_ok and not new_workspace:
        try:
            known = job_ids()
        except Exception as exc:
            findings.append(
                Finding("jobs", False, f"cannot list the jobs: {' '.join(str(exc).split())[:300]}")
            )
    folders = (
        {p.name for p in paths.jobs_dir.iterdir() if p.is_dir()}
        if paths.jobs_dir.is_dir()
        else set()
    )
    if known is not None:
        orphans = sorted(folders - known)
        missing = sorted(known - folders)
        findings.append(
            Finding(
                "job folders",
                not orphans,
                f"{len(orphans)} job folder(s) without a job in the database"
                + (f": {', '.join(orphans[:10])}" if orphans else ""),
                "left as they are; delete them by hand if they are not needed" if orphans else None,
                {"orphan_folders": orphans},
            )
        )
        findings.append(
            Finding(
                "job rows",
                not missing,
                f"{len(missing)} job(s) in the database without a folder"
                + (f": {', '.join(missing[:10])}" if missing else ""),
                "their notebooks and logs are gone; `mlbench job delete ID` removes the records"
                if missing
                else None,
                {"rows_without_folders": missing},
            )
        )
    return CheckReport(str(home), findings)


def _job_ids(database_url: str) -> set[str]:
    from sqlalchemy import select

    from mlbench.store.db import Database
    from mlbench.store.schema import JobRow

    db = Database(database_url)
    try:
        with db.session() as s:
            return set(s.scalars(select(JobRow.id)))
    finally:
        db.dispose()


def _has_runs(layout: Layout) -> bool:
    return layout.mlflow_database is not None and layout.mlflow_database.is_file()


# -- backup ------------------------------------------------------------------------------------
@dataclass
class BackupResult:
    path: str
    files: int
    bytes: int
    databases: list[str]
    skipped: list[str]


def backup(home: Path, dest: Path) -> BackupResult:
    """Back the workspace at ``home`` up into the new folder ``dest`` (online: agents and
    servers may keep running). Written to ``dest.partial`` first: a backup is whole or absent."""
    layout = Layout.of(home)
    home = home.resolve()
    dest = dest.expanduser().resolve()
    if layout.database is None:
        raise InvalidInputError(
            f"the workspace database is not a SQLite file here ({_hidden(layout.database_url)})",
            hint="back a PostgreSQL database up with pg_dump; `mlbench workspace backup` covers "
            "embedded workspaces",
        )
    if dest == home or home in dest.parents or dest in home.parents:
        raise InvalidInputError(
            f"{dest} is inside the workspace (or holds it)", hint="back up to another folder"
        )
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ConflictError(f"{dest} exists and is not empty", hint="name a new folder")
    if not layout.database.is_file():
        raise InvalidInputError(f"{home} holds no workspace database", hint="check the path")
    partial = dest.with_name(dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        databases: list[str] = []
        db_rel = _relative(layout.database, home) or "mlbench.db"
        _online_copy(layout.database, partial / db_rel)
        databases.append(db_rel)
        mlflow_rel = None
        if layout.mlflow_database is not None and layout.mlflow_database.is_file():
            mlflow_rel = _relative(layout.mlflow_database, home)
            if mlflow_rel is not None:
                _online_copy(layout.mlflow_database, partial / mlflow_rel)
                databases.append(mlflow_rel)
        for rel in databases:
            problem = integrity(partial / rel)
            if problem is not None:
                raise BackupError(
                    f"{home / rel} is damaged ({problem}): a backup of it could not be restored",
                    hint="`mlbench workspace check` shows what is wrong; copy the folder by hand "
                    "to keep what is there",
                )
        # Files after the databases: what the snapshots name was written before them.
        files, size, skipped = _copy_tree(home, partial, exclude=set(databases))
        manifest = {
            "format": FORMAT,
            "created_at": datetime.now(timezone.utc).isoformat(),
            "source": str(home),
            "database": db_rel,
            "mlflow_database": mlflow_rel,
            "schema_revision": _schema_revision(partial / db_rel),
            "files": files,
            "bytes": size,
        }
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2))
        if dest.exists():
            dest.rmdir()
        partial.rename(dest)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return BackupResult(str(dest), files, size, databases, skipped)


def _relative(path: Path, home: Path) -> str | None:
    try:
        return path.resolve().relative_to(home.resolve()).as_posix()
    except ValueError:
        return None


def _hidden(url: str) -> str:
    parsed = urlparse(url)
    return f"{parsed.scheme}://{parsed.hostname or ''}" if parsed.password else url


def _copy_tree(src: Path, dest: Path, *, exclude: set[str]) -> tuple[int, int, list[str]]:
    """Copy ``src`` into ``dest`` except runtime state and ``exclude`` (relative paths, with
    their SQLite side files); symlinks stay symlinks; files that vanish meanwhile are skipped."""
    skip = set(exclude) | {e + side for e in exclude for side in _SQLITE_SIDE}
    files = size = 0
    skipped: list[str] = []
    stack = [Path()]
    while stack:
        rel_dir = stack.pop()
        try:
            entries = list(os.scandir(src / rel_dir))
        except FileNotFoundError:
            continue
        (dest / rel_dir).mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):  # e.g. secrets/ stays private (0700)
            shutil.copymode(src / rel_dir, dest / rel_dir)
        for entry in entries:
            rel = (rel_dir / entry.name).as_posix()
            if rel in skip or (rel_dir == Path() and entry.name in _SKIP_TOP):
                continue
            target = dest / rel
            try:
                if entry.is_symlink():
                    os.symlink(os.readlink(entry.path), target)
                elif entry.is_dir():
                    stack.append(rel_dir / entry.name)
                elif entry.is_file():
                    shutil.copy2(entry.path, target)
                    files += 1
                    size += target.stat().st_size
                else:
                    skipped.append(f"{rel} (not a regular file)")
            except FileNotFoundError:
                skipped.append(f"{rel} (removed while copying)")
    return files, size, skipped


# -- restore -----------------------------------------------------------------------------------
@dataclass
class RestoreResult:
    home: str
    source: str
    moved_aside: str | None
    rewritten: int


def read_manifest(src: Path) -> dict[str, Any]:
    path = src / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        raise InvalidInputError(
            f"{src} is not an mlbench backup (no readable {MANIFEST})",
            hint="name a folder made by `mlbench workspace backup`",
        ) from None
    if manifest.get("format") != FORMAT:
        raise InvalidInputError(
            f"{src} is a backup of format {manifest.get('format')!r}; this mlbench reads {FORMAT}",
            hint="restore it with the mlbench version that made it",
        )
    return dict(manifest)


def workspace_content(home: Path) -> list[str]:
    """What in ``home`` a restore would replace (empty: nothing worth keeping)."""
    layout = Layout.of(home)
    paths = WorkspacePaths(home)
    found = []
    if layout.database is not None and layout.database.is_file() and layout.database.stat().st_size:
        found.append(str(layout.database))
    if paths.jobs_dir.is_dir() and any(paths.jobs_dir.iterdir()):
        found.append(str(paths.jobs_dir))
    if paths.mlflow_dir.is_dir() and any(paths.mlflow_dir.iterdir()):
        found.append(str(paths.mlflow_dir))
    return found


@contextlib.contextmanager
def _agents_held(home: Path) -> Iterator[None]:
    """Hold every agent's lock: refuse when one runs, and keep any from starting meanwhile."""
    agents = WorkspacePaths(home).agents_dir
    names = {p.stem for p in agents.glob("*.lock")} | {"local"} if agents.is_dir() else {"local"}
    held: list[FileLock] = []
    try:
        for name in sorted(names):
            lock = FileLock(agents / f"{name}.lock")
            if not lock.acquire(blocking=False):
                raise ConflictError(
                    f"the agent of compute target {name!r} is running on this workspace",
                    hint=f"stop it first (`mlbench agent stop --compute {name}`), and close "
                    "Jupyter servers using this workspace",
                )
            held.append(lock)
        yield
    finally:
        for lock in held:
            lock.release()


def restore(home: Path, src: Path, *, force: bool = False) -> RestoreResult:
    """Make ``home`` the workspace backed up in ``src``. Refused while an agent runs, and over
    a workspace with content unless ``force`` (which moves that content aside, never deletes)."""
    home = home.expanduser().resolve()
    src = src.expanduser().resolve()
    manifest = read_manifest(src)
    db_rel = str(manifest["database"])
    mlflow_rel = manifest.get("mlflow_database")
    for rel in [db_rel, *([mlflow_rel] if mlflow_rel else [])]:
        problem = integrity(src / rel)
        if problem is not None:
            raise BackupError(
                f"the backup's {rel} is damaged: {problem}", hint="use another backup"
            )
    if home == src or src in home.parents or home in src.parents:
        raise InvalidInputError(
            f"the backup {src} and the workspace {home} overlap",
            hint="restore into another folder",
        )
    layout = Layout.of(home)
    if layout.database is None:
        raise InvalidInputError(
            "this workspace's database is not a SQLite file here",
            hint="restore PostgreSQL with pg_restore; `mlbench workspace restore` covers "
            "embedded workspaces",
        )
    home.mkdir(parents=True, exist_ok=True)
    with _agents_held(home):
        content = workspace_content(home)
        moved = None
        if content:
            if not force:
                raise ConflictError(
                    f"{home} is not empty ({', '.join(content)})",
                    hint="restore into a new folder (--workspace), or pass --force to move the "
                    "current content aside first (nothing is deleted)",
                )
            moved = _move_aside(home)
        for rel in [db_rel, *([mlflow_rel] if mlflow_rel else [])]:
            _online_copy(src / rel, home / rel)
        _copy_tree(src, home, exclude={MANIFEST, db_rel, *([mlflow_rel] if mlflow_rel else [])})
        rewritten = 0
        old = Path(str(manifest.get("source") or home))
        if old != home:
            rewritten = _rewrite_home(home, old, db_rel, mlflow_rel)
    return RestoreResult(str(home), str(src), moved, rewritten)


def _move_aside(home: Path) -> str:
    """Move the workspace's content (not runtime state) to a sibling folder; returns it."""
    aside = home.with_name(f"{home.name}.before-restore-{time.strftime('%Y%m%d-%H%M%S')}")
    aside.mkdir()
    for entry in home.iterdir():
        if entry.name in ("agents",):  # the locks we hold stay in place
            continue
        shutil.move(str(entry), aside / entry.name)
    return str(aside)


def _rewrite_home(home: Path, old: Path, db_rel: str, mlflow_rel: str | None) -> int:
    """Point absolute paths under the backed-up home at the new one: MLflow's artifact
    locations and local datastores inside the workspace. Returns how many values changed."""
    changed = 0
    swaps = [(old.as_uri(), home.as_uri()), (str(old), str(home))]

    def swap(value: str | None) -> str | None:
        if not value:
            return value
        for before, after in swaps:
            if value == before or value.startswith(before + "/"):
                return after + value[len(before) :]
        return value

    if mlflow_rel:
        conn = sqlite3.connect(home / mlflow_rel)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            for table, column in (
                ("experiments", "artifact_location"),
                ("runs", "artifact_uri"),
                ("model_versions", "source"),
                ("model_versions", "storage_location"),
            ):
                if table not in tables:
                    continue
                columns = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
                if column not in columns:
                    continue
                rows = conn.execute(f"SELECT rowid, {column} FROM {table}").fetchall()
                for rowid, value in rows:
                    new = swap(value)
                    if new != value:
                        conn.execute(
                            f"UPDATE {table} SET {column} = ? WHERE rowid = ?", (new, rowid)
                        )
                        changed += 1
            conn.commit()
        finally:
            conn.close()
    conn = sqlite3.connect(home / db_rel)
    try:
        for name, config in conn.execute("SELECT name, config FROM datastores").fetchall():
            data = json.loads(config) if config else {}
            path = data.get("path")
            new = swap(path) if isinstance(path, str) else path
            if new != path:
                data["path"] = new
                conn.execute(
                    "UPDATE datastores SET config = ? WHERE name = ?", (json.dumps(data), name)
                )
                changed += 1
        conn.commit()
    except sqlite3.OperationalError:
        pass  # an older schema without datastores
    finally:
        conn.close()
    return changed
