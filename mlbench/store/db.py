"""The metadata database: engine set-up, sessions and schema migration."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from mlbench.errors import InvalidInputError, MlbenchError
from mlbench.paths import WorkspacePaths
from mlbench.store.locks import file_lock
from mlbench.store.schema import JobEventRow

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_HEADER = b"SQLite format 3\x00"
# SQLite's words for a damaged file (SQLITE_NOTADB, SQLITE_CORRUPT and a broken schema).
_DAMAGED = ("file is not a database", "database disk image is malformed", "malformed database")


class DatabaseDamagedError(MlbenchError):
    """A workspace's SQLite file is not a database, or is damaged (maps to HTTP 503)."""

    code = "database_damaged"


class DatabaseMissingError(MlbenchError):
    """The database is empty or gone while the workspace holds jobs and runs (HTTP 503)."""

    code = "database_missing"


def damaged_reason(error: BaseException) -> str | None:
    """SQLite's message when ``error`` (or what caused it) says a database file is damaged."""
    seen: BaseException | None = error
    for _ in range(10):
        if seen is None:
            break
        if isinstance(seen, sqlite3.DatabaseError):
            message = str(seen)
            if any(word in message.lower() for word in _DAMAGED):
                return message
        seen = getattr(seen, "orig", None) or seen.__cause__ or seen.__context__
    return None


def damaged_error(path: Path | str, reason: str) -> DatabaseDamagedError:
    return DatabaseDamagedError(
        f"the workspace database {path} is damaged: {reason}",
        hint="see what is wrong with `mlbench workspace check`; then restore a backup "
        "(`mlbench workspace restore BACKUP`), or move the file away to start an empty one",
        details={"path": str(path), "reason": reason},
    )


class Database:
    """One metadata database (SQLite in WAL mode by default, PostgreSQL for teams).

    Writes go through :meth:`write`, which on SQLite takes the write lock up front
    (``BEGIN IMMEDIATE``): a read that later upgrades to a write could otherwise fail with
    "database is locked" instead of waiting its turn.
    """

    def __init__(self, url: str, *, lock_dir: Path | None = None) -> None:
        try:
            self.url = make_url(url)
        except Exception as exc:
            raise InvalidInputError(
                f"invalid database_url {url!r}: {exc}",
                hint="use e.g. sqlite:////abs/path/mlbench.db or postgresql+psycopg://user@host/db",
            ) from exc
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self._lock_dir = lock_dir
        database = self.url.database if self.is_sqlite else None
        self.path: Path | None = (
            Path(database)
            if database and database != ":memory:" and "mode=memory" not in database
            else None
        )
        self._check_file()
        self.engine = self._create_engine()
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(
            self.engine.execution_options(sqlite_begin="IMMEDIATE"), expire_on_commit=False
        )
        if not self.is_sqlite:
            for maker in (self._sessions, self._write_sessions):
                event.listen(maker, "before_flush", _serialize_event_inserts)

    def _create_engine(self) -> Engine:
        if not self.is_sqlite:
            return create_engine(self.url, pool_pre_ping=True, future=True)
        # Driver-level autocommit: SQLAlchemy emits BEGIN itself (see _begin) so that
        # write transactions can ask for the lock up front.
        engine = create_engine(
            self.url,
            connect_args={"isolation_level": None, "timeout": 60, "check_same_thread": False},
            poolclass=NullPool if self.url.database in (None, "", ":memory:") else None,
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine

    def _check_file(self) -> None:
        """Refuse a file that is not SQLite at all before SQLAlchemy and Alembic trip on it."""
        if self.path is None or not self.path.is_file():
            return
        try:
            with self.path.open("rb") as f:
                header = f.read(len(SQLITE_HEADER))
        except OSError as error:
            raise DatabaseDamagedError(
                f"the workspace database {self.path} cannot be read: {error.strerror or error}",
                hint="check the file's permissions and the disk",
            ) from None
        if header and header != SQLITE_HEADER:
            raise damaged_error(
                self.path, "file is not a database (it does not start with SQLite's header)"
            )

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """SQLite's 'file is not a database' / 'malformed' as one clear error naming the file."""
        try:
            yield
        except exc.DatabaseError as error:
            reason = damaged_reason(error)
            if reason is None:
                raise
            raise damaged_error(self.path or self.url, reason) from None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A read session (also fine for a single atomic UPDATE)."""
        with self._translated(), self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction, committed on success and rolled back on error."""
        with self._translated(), self._write_sessions() as session, session.begin():
            yield session

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (a no-op when it already is).

        Concurrent first opens of one workspace are serialized by a file lock, so four processes
        creating the workspace at once do not race to create tables.
        """
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        script = ScriptDirectory(str(MIGRATIONS))
        head = script.get_current_head()
        if self.path is not None and (not self.path.exists() or not self.path.stat().st_size):
            # Before connecting, which would write SQLite's header over the evidence.
            self._refuse_new_over_content()
        with self._translated(), self.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        if current == head:
            return
        lock = self._lock_dir / "migrate.lock" if self._lock_dir else None
        with file_lock(lock) if lock else _nullcontext():
            if current is None:
                self._refuse_new_over_content()
            with self._translated():
                self._upgrade()

    def _refuse_new_over_content(self) -> None:
        """A database without mlbench's tables is a new workspace, unless the workspace folder
        already holds jobs or runs: then the file was emptied, truncated or replaced, and
        starting afresh would silently orphan them."""
        if self.path is None or self._lock_dir is None:
            return
        # The lock folder is the workspace's home (the Workspace passes it).
        paths = WorkspacePaths(self._lock_dir)
        if self.path.resolve() != paths.database.resolve():
            return  # a database_url of its own: not this folder's database
        if self.path.exists() and self.path.stat().st_size:
            from alembic.runtime.migration import MigrationContext

            with self.engine.connect() as conn:  # the first writer may have migrated meanwhile
                if MigrationContext.configure(conn).get_current_revision() is not None:
                    return
        found = []
        jobs = (
            [p for p in paths.jobs_dir.iterdir() if p.is_dir()] if paths.jobs_dir.is_dir() else []
        )
        if jobs:
            found.append(f"{len(jobs)} job folder(s) in {paths.jobs_dir}")
        mlflow_db = paths.mlflow_dir / "mlflow.db"
        if mlflow_db.is_file() and mlflow_db.stat().st_size > 0:
            found.append(f"an MLflow store ({mlflow_db})")
        if found:
            size = self.path.stat().st_size if self.path.exists() else None
            state = "is missing" if size is None else "is empty" if size == 0 else "has no tables"
            raise DatabaseMissingError(
                f"the workspace database {self.path} {state}, but the workspace holds "
                f"{' and '.join(found)}: it was emptied or replaced",
                hint="restore a backup (`mlbench workspace restore BACKUP`); or, to start a new "
                "workspace here anyway, move the jobs and mlflow folders away first",
                details={"path": str(self.path)},
            )

    def _upgrade(self) -> None:
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("sqlalchemy.url", self.url.render_as_string(hide_password=False))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        log.info("metadata database migrated to head")

    def dispose(self) -> None:
        self.engine.dispose()


# Readers tail job_events by id. On PostgreSQL, ids come from a sequence and transactions may
# commit out of order, so a reader could see id 12 before 11 commits and then skip 11 forever.
# Transactions that add events therefore take one lock until they commit (SQLite already has a
# single writer).
_EVENTS_LOCK = 0x6D6C6265  # "mlbe"


def _serialize_event_inserts(session: Session, _context: Any, _instances: Any) -> None:
    if any(isinstance(obj, JobEventRow) for obj in session.new):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _EVENTS_LOCK})


@contextmanager
def _nullcontext() -> Iterator[None]:
    yield
