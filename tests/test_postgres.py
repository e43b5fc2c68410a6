"""Team mode: the metadata database on a real PostgreSQL server (started by the test)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_module, require_service
from tests.storage_servers import free_port


def _pg_bindir() -> Path | None:
    found = shutil.which("initdb")
    candidates = [found] if found else sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).resolve().parent if candidates else None


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    bindir = _pg_bindir()
    if bindir is None:
        require_service(
            "the PostgreSQL server binaries (initdb, pg_ctl) are not installed",
            "apt-get install postgresql (or put a PostgreSQL bin folder on PATH)",
        )
    require_module("psycopg", "`make setup` (psycopg[binary] is in the test extra)")
    # PostgreSQL refuses to run as root: run it as the 'postgres' user in a folder it owns.
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    data = Path(tempfile.mkdtemp(prefix="mlbench-pg-"))
    if as_root:
        shutil.chown(data, "postgres", "postgres")
    port = free_port()

    def run(*cmd: str) -> None:
        subprocess.run([*prefix, *cmd], check=True, capture_output=True, timeout=120)

    run(
        str(bindir / "initdb"),
        "-D",
        str(data / "db"),
        "-U",
        "mlbench",
        "--auth=trust",
        "-E",
        "UTF8",
    )
    run(
        str(bindir / "pg_ctl"),
        "-D",
        str(data / "db"),
        "-l",
        str(data / "log"),
        "-w",
        "-o",
        f"-h 127.0.0.1 -p {port} -k {data}",
        "start",
    )
    try:
        run(
            str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "mlbench", "mlbench"
        )
        yield f"postgresql+psycopg://mlbench@127.0.0.1:{port}/mlbench"
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data / "db"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(data, ignore_errors=True)


def test_migrations_match_the_models_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from mlbench.store import Base, Database

    db = Database(postgres_url, lock_dir=tmp_path)
    db.migrate()
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    db.dispose()


def test_jobs_run_with_a_postgres_metadata_store(
    postgres_url: str, tmp_path: Path, notebook: Any
) -> None:
    from mlbench import Workspace
    from tests.conftest import _stop_agents

    ws = Workspace(tmp_path / "ws", database_url=postgres_url, agent_idle_timeout_s=30)
    try:
        assert ws.info()["database_url"].startswith("postgresql+psycopg://mlbench@")
        nb = notebook("print('on postgres', x)", parameters="x = 1")
        jobs = [ws.jobs.submit(nb, {"x": i}) for i in range(3)]
        infos = [j.wait(120).info for j in jobs]
        assert [i.status.value for i in infos] == ["completed"] * 3
        assert "on postgres 2" in jobs[2].logs()
        assert [
            e["data"]["status"] for e in ws.jobs.events(job_id=jobs[0].id) if e["kind"] == "status"
        ] == ["queued", "starting", "running", "completed"]
        failing = ws.jobs.submit(notebook("1 / 0", name="fail.ipynb")).wait(120).info
        assert failing.status.value == "failed" and failing.error.ename == "ZeroDivisionError"
        assert len(ws.jobs.list(limit=10)) == 4
    finally:
        _stop_agents(ws)
        ws.close()


def test_event_feed_never_skips_an_event_under_concurrent_writers(
    postgres_url: str, tmp_path: Path
) -> None:
    """A reader tailing job_events by id must see every event even when writers interleave."""
    import threading
    import time

    from mlbench import Workspace
    from mlbench._ids import utcnow
    from mlbench.store import JobEventRow

    ws = Workspace(tmp_path / "ws", database_url=postgres_url)
    start = ws.jobs.events(after=0, limit=100_000)
    after = start[-1]["id"] if start else 0
    writers, per_writer = 4, 40

    def write(n: int) -> None:
        for i in range(per_writer):
            with ws.db.write() as s:
                s.add(
                    JobEventRow(job_id=f"w{n}", kind="status", data={"i": i}, created_at=utcnow())
                )
                s.flush()  # the id is taken here ...
                time.sleep(0.002 * (n % 2))  # ... and committed a little later by some writers

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    seen: list[int] = []
    while True:
        # Whether the writers are done is read before the events: a writer may commit its last
        # event between this read and the query, and the loop must then go round once more.
        done = not any(t.is_alive() for t in threads)
        batch = ws.jobs.events(after=after, limit=1000)
        if batch:
            seen += [e["id"] for e in batch]
            after = batch[-1]["id"]
        elif done:
            break
    assert len(seen) == writers * per_writer
    assert seen == sorted(seen) and len(set(seen)) == len(seen)
    ws.close()
