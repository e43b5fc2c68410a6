"""The metadata database: engine set-up, sessions and schema migration."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from mlbench.errors import InvalidInputError
from mlbench.store.locks import file_lock
from mlbench.store.schema import JobEventRow

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


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

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A read session (also fine for a single atomic UPDATE)."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction, committed on success and rolled back on error."""
        with self._write_sessions() as session, session.begin():
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
        with self.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        if current == head:
            return
        lock = self._lock_dir / "migrate.lock" if self._lock_dir else None
        with file_lock(lock) if lock else _nullcontext():
            self._upgrade()

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
