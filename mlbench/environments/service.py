"""``ws.environments``: named, versioned Python environments (``name:version``).

``create`` resolves a spec to a lock with uv and builds it once: a version is immutable and
identified by its lock hash (the normalized lock, the interpreter and the platform), so the
same packages in another order make no new version and no new build. An identical spec
returns the existing version at once, without resolving (``refresh=True`` resolves again and
makes a new version if the index now gives other versions).

Builds run in the calling process (Ctrl-C cancels one: uv is stopped, the version is marked
failed and nothing usable is left); their log is readable while they build. A version whose
builder died is shown as failed ("build interrupted").
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from sqlalchemy import delete, func, select, update

from mlbench._ids import new_id, utcnow
from mlbench.environments import build as envbuild
from mlbench.environments import spec as specs
from mlbench.environments.errors import (
    EnvironmentBuildError,
    EnvironmentInUseError,
    EnvironmentNotFoundError,
    EnvironmentNotReadyError,
)
from mlbench.environments.models import (
    EnvironmentInfo,
    EnvironmentLog,
    EnvironmentSpec,
    EnvironmentStatus,
    GcResult,
)
from mlbench.errors import InvalidInputError
from mlbench.jobs.models import JobStatus
from mlbench.store import JobRow
from mlbench.store.locks import FileLock, file_lock
from mlbench.store.schema import EnvironmentRow
from mlbench.validation import check_name

if TYPE_CHECKING:
    from mlbench.workspace import Workspace

log = logging.getLogger(__name__)

MAX_VERSION = 2**31 - 1
_ACTIVE = (JobStatus.QUEUED.value, JobStatus.STARTING.value, JobStatus.RUNNING.value)
INTERRUPTED = "build interrupted (its builder stopped before it finished)"


class EnvironmentPaths:
    def __init__(self, home: Path) -> None:
        self.root = home / "environments"

    @property
    def jupyter(self) -> Path:
        """A Jupyter data folder: its ``kernels/`` holds the environments' kernelspecs."""
        return self.root / "jupyter"

    @property
    def kernels(self) -> Path:
        return self.jupyter / "kernels"

    @property
    def venvs(self) -> Path:
        return self.root / "venvs"

    def venv(self, lock_hash: str) -> Path:
        return self.venvs / lock_hash[:16]

    def log(self, env_id: str) -> Path:
        return self.root / "logs" / f"{env_id}.log"

    def lock(self, key: str) -> Path:
        return self.root / "locks" / f"{key}.lock"


def check_env_name(name: str) -> str:
    check_name(name, "environment")
    if name != name.lower():
        raise InvalidInputError(
            f"invalid environment name {name!r}: upper-case letters",
            hint="environment names are lower case (they name a kernel, which Jupyter lowers)",
        )
    return name


def parse_env_ref(text: str) -> tuple[str, int | None]:
    """``NAME`` or ``NAME:VERSION``."""
    name, sep, tail = str(text).strip().partition(":")
    version = None
    if sep:
        if not (tail.isascii() and tail.isdigit()) or not 1 <= int(tail) <= MAX_VERSION:
            raise InvalidInputError(
                f"invalid environment reference {text!r}: version {tail!r} is not a number",
                hint="use NAME or NAME:VERSION, e.g. torch:2",
            )
        version = int(tail)
    return check_env_name(name), version


class Environments:
    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self.paths = EnvironmentPaths(ws.home)

    # -- create and build ----------------------------------------------------------------------
    def create(
        self,
        name: str,
        *,
        requirements: str | Path | list[str] | None = None,
        conda_yaml: str | Path | None = None,
        pyproject: str | Path | None = None,
        python: str | None = None,
        description: str = "",
        refresh: bool = False,
        compile_now: bool = False,
    ) -> EnvironmentInfo:
        """The version of ``name`` built from this spec: an existing one when the spec (or its
        lock) is the same, else a new version, built now.

        Give one of ``requirements`` (a list, or a requirements file's path or text),
        ``conda_yaml`` (a path or text: its ``pip:`` section) or ``pyproject`` (its
        ``[project] dependencies``); ``python`` picks an interpreter present on this machine.
        A spec that cannot be resolved raises :class:`EnvironmentBuildError` with the
        resolver's message and registers nothing. The venv is byte-compiled in the background
        once ready (``compile_now``: before it is ready).
        """
        check_env_name(name)
        given = [x for x in (requirements, conda_yaml, pyproject) if x is not None]
        if len(given) != 1:
            raise InvalidInputError(
                "give exactly one of requirements, conda_yaml or pyproject",
                hint="e.g. create('tiny', requirements=['tabulate'])",
            )
        if requirements is not None:
            spec = specs.from_requirements(requirements, python)
        elif conda_yaml is not None:
            spec = specs.from_conda(conda_yaml, python)
        else:
            assert pyproject is not None
            spec = specs.from_pyproject(pyproject, python)
        key = specs.spec_key(spec)
        if not refresh:
            same = self._ready_by(EnvironmentRow.spec_key == key, name)
            if same is not None:
                return same
        interp = envbuild.find_python(spec.python)
        with file_lock(self.paths.lock(f"name-{name}")):  # one create of a name at a time
            tmp_log = self.paths.log(f"resolve-{new_id()}")
            tmp_log.parent.mkdir(parents=True, exist_ok=True)
            try:
                with tmp_log.open("w", encoding="utf-8") as log_file:
                    packages = envbuild.compile_lock(spec.requirements, interp, log_file)
                resolve_text = tmp_log.read_text(encoding="utf-8")
            finally:
                tmp_log.unlink(missing_ok=True)
            lock_hash = envbuild.lock_hash(packages, interp)
            row = self._row_by_hash(name, lock_hash)
            if (
                row is not None
                and self._status(row) == EnvironmentStatus.READY
                and envbuild.is_complete(Path(row.venv))
            ):
                log.info("%s:%s has the same lock: no build", name, row.version)
                return self._info(row)
            if row is None:
                row = self._insert(name, spec, key, packages, lock_hash, interp, description)
            self.paths.log(row.id).write_text(resolve_text, encoding="utf-8")
            return self._build(row, interp, compile_now=compile_now)

    def capture(
        self, name: str, *, python: str | None = None, description: str = ""
    ) -> EnvironmentInfo:
        """An environment pinned to what an interpreter has installed (default: this process's,
        e.g. the notebook's kernel): its ``uv pip freeze``, minus editable and local installs,
        which cannot be rebuilt from an index (they are named in the log)."""
        target = python or sys.executable
        pinned, skipped = envbuild.freeze(target)
        if skipped:
            log.warning("capture %s: left out (not on an index): %s", name, ", ".join(skipped))
        version = envbuild.find_python(target).version
        return self.create(
            name,
            requirements=pinned,
            python=".".join(version.split(".")[:3]),
            description=description or f"captured from {target}",
        )

    def build(self, ref: str) -> EnvironmentInfo:
        """Build a version again from its lock: after a failed or canceled build, or when its
        venv was removed. A ready version is checked and returned."""
        row = self._row(ref)
        if self._status(row) == EnvironmentStatus.BUILDING:
            raise EnvironmentNotReadyError(
                f"environment {row.name}:{row.version} is being built",
                hint=f"follow it with `mlbench env show {row.name}:{row.version} --log`",
            )
        if self._status(row) == EnvironmentStatus.READY and envbuild.is_complete(Path(row.venv)):
            self._ensure_kernel(row)
            return self._info(row)
        interp = envbuild.find_python(row.python_path)
        return self._build(row, interp)

    def _insert(
        self,
        name: str,
        spec: EnvironmentSpec,
        key: str,
        packages: list[str],
        lock_hash: str,
        interp: envbuild.Interpreter,
        description: str,
    ) -> EnvironmentRow:
        now = utcnow()
        with self._ws.db.write() as s:
            last = s.scalar(
                select(func.max(EnvironmentRow.version)).where(EnvironmentRow.name == name)
            )
            row = EnvironmentRow(
                id=new_id(),
                name=name,
                version=(last or 0) + 1,
                description=description,
                spec=spec.model_dump(mode="json"),
                spec_key=key,
                lock=packages,
                lock_hash=lock_hash,
                python=interp.label,
                python_path=interp.path,
                platform=interp.platform,
                kernel_name=envbuild.kernel_name(name, lock_hash),
                venv=str(self.paths.venv(lock_hash)),
                status=EnvironmentStatus.BUILDING.value,
                created_by=_user(),
                created_at=now,
                updated_at=now,
            )
            s.add(row)
        return row

    def _build(
        self, row: EnvironmentRow, interp: envbuild.Interpreter, *, compile_now: bool = False
    ) -> EnvironmentInfo:
        """Build ``row``'s venv and kernel; on any failure (Ctrl-C included) mark it failed,
        remove what is half-made and raise."""
        builder = FileLock(self.paths.lock(f"build-{row.id}"))
        if not builder.acquire(blocking=False):
            raise EnvironmentNotReadyError(f"environment {row.name}:{row.version} is being built")
        started = time.monotonic()
        venv = Path(row.venv)
        self._set(row, status=EnvironmentStatus.BUILDING.value, error=None)
        fresh = False
        try:
            with (
                file_lock(self.paths.lock(f"venv-{row.lock_hash[:16]}")),
                self.paths.log(row.id).open("a", encoding="utf-8") as log_file,
            ):
                _note(
                    log_file,
                    f"building {row.name}:{row.version} ({len(row.lock)} packages, "
                    f"{row.python}) into {venv}",
                )
                fresh = not envbuild.is_complete(venv)
                envbuild.build_venv(
                    venv, list(row.lock), interp, log_file, compile_bytecode=compile_now
                )
                self._write_kernel(row)
                _note(log_file, f"ready: kernel {row.kernel_name}")
            self._set(
                row,
                status=EnvironmentStatus.READY.value,
                error=None,
                build_seconds=round(time.monotonic() - started, 3),
            )
        except BaseException as exc:
            envbuild.remove_kernelspec(self.paths.kernels, row.kernel_name)
            if not envbuild.is_complete(venv):
                shutil.rmtree(venv, ignore_errors=True)
            if isinstance(exc, KeyboardInterrupt):
                reason = "build canceled"
            elif isinstance(exc, EnvironmentBuildError):
                reason = exc.message
            else:
                reason = f"{type(exc).__name__}: {exc}"
            with contextlib.suppress(Exception):
                self._set(row, status=EnvironmentStatus.FAILED.value, error=reason)
                with self.paths.log(row.id).open("a", encoding="utf-8") as log_file:
                    _note(log_file, f"failed: {reason}")
            raise
        finally:
            builder.release()
        if fresh and not compile_now:
            envbuild.compile_later(venv, self.paths.log(row.id))
        return self._info(self._row(f"{row.name}:{row.version}"))

    def _write_kernel(self, row: EnvironmentRow) -> None:
        envbuild.write_kernelspec(
            self.paths.kernels,
            row.kernel_name,
            Path(row.venv),
            display=f"Python ({row.name}:{row.version})",
            meta={"environment": f"{row.name}:{row.version}", "lock_hash": row.lock_hash},
        )

    def _ensure_kernel(self, row: EnvironmentRow) -> None:
        """The kernelspec and helper link of a ready version are there (rewritten if not)."""
        venv = Path(row.venv)
        envbuild.link_helpers(venv)
        if not (self.paths.kernels / row.kernel_name / "kernel.json").is_file():
            self._write_kernel(row)

    def _set(self, row: EnvironmentRow, **values: Any) -> None:
        values["updated_at"] = utcnow()
        with self._ws.db.write() as s:
            s.execute(update(EnvironmentRow).where(EnvironmentRow.id == row.id).values(**values))
        for key, value in values.items():
            setattr(row, key, value)

    # -- reading -------------------------------------------------------------------------------
    def get(self, ref: str) -> EnvironmentInfo:
        """``NAME`` (its newest version) or ``NAME:VERSION``."""
        return self._info(self._row(ref))

    def resolve(self, ref: str) -> EnvironmentInfo:
        """The exact ready version a job on ``ref`` runs in (``NAME``: the newest ready one),
        its kernelspec in place; else a clear error."""
        name, version = parse_env_ref(ref)
        if version is None:
            rows = self._rows(name)
            ready = [r for r in rows if self._status(r) == EnvironmentStatus.READY]
            if not ready:
                row = rows[0]
                raise EnvironmentNotReadyError(
                    f"environment {name!r} has no ready version (newest: {row.version}, "
                    f"{self._status(row).value})",
                    hint=self._not_ready_hint(row),
                )
            row = ready[0]
        else:
            row = self._row(ref)
            if self._status(row) != EnvironmentStatus.READY:
                raise EnvironmentNotReadyError(
                    f"environment {name}:{version} is {self._status(row).value}"
                    + (f": {row.error}" if row.error else ""),
                    hint=self._not_ready_hint(row),
                )
        if not envbuild.is_complete(Path(row.venv)):
            raise EnvironmentNotReadyError(
                f"the venv of environment {row.name}:{row.version} is missing",
                hint=f"rebuild it: `mlbench env build {row.name}:{row.version}`",
            )
        self._ensure_kernel(row)
        return self._info(row)

    def _not_ready_hint(self, row: EnvironmentRow) -> str:
        ref = f"{row.name}:{row.version}"
        if self._status(row) == EnvironmentStatus.BUILDING:
            return f"wait for its build (`mlbench env show {ref} --log`)"
        return (
            f"see why in `mlbench env show {ref} --log`; build it again with "
            f"`mlbench env build {ref}`"
        )

    def list(self) -> list[EnvironmentInfo]:
        """The newest version of each environment, by name."""
        with self._ws.db.session() as s:
            newest = (
                select(EnvironmentRow.name, func.max(EnvironmentRow.version).label("v"))
                .group_by(EnvironmentRow.name)
                .subquery()
            )
            rows = s.scalars(
                select(EnvironmentRow)
                .join(
                    newest,
                    (EnvironmentRow.name == newest.c.name) & (EnvironmentRow.version == newest.c.v),
                )
                .order_by(EnvironmentRow.name)
            ).all()
        return [self._info(r) for r in rows]

    def versions(self, name: str) -> list[EnvironmentInfo]:
        """Every version of ``name``, newest first."""
        return [self._info(r) for r in self._rows(check_env_name(name))]

    def log(self, ref: str, offset: int = 0) -> EnvironmentLog:
        row = self._row(ref)
        path = self.paths.log(row.id)
        text = ""
        with contextlib.suppress(FileNotFoundError), path.open("rb") as f:
            f.seek(max(offset, 0))
            data = f.read()
            text = data.decode("utf-8", errors="replace")
            offset = max(offset, 0) + len(data)
        return EnvironmentLog(
            ref=f"{row.name}:{row.version}", status=self._status(row), text=text, offset=offset
        )

    # -- delete and gc ---------------------------------------------------------------------------
    def delete(self, ref: str) -> list[EnvironmentInfo]:
        """Delete a version (``NAME:VERSION``) or every version (``NAME``); refused while a
        queued or running job uses one. Venvs no version refers to any more are removed."""
        name, version = parse_env_ref(ref)
        rows = [self._row(ref)] if version is not None else self._rows(name)
        kernels = {r.kernel_name for r in rows}
        with self._ws.db.session() as s:
            using = s.execute(
                select(JobRow.id, JobRow.kernel_name).where(
                    JobRow.kernel_name.in_(kernels), JobRow.status.in_(_ACTIVE)
                )
            ).all()
        if using:
            raise EnvironmentInUseError(
                f"environment {ref} is used by {len(using)} queued or running job(s): "
                + ", ".join(j for j, _ in using[:5]),
                hint="wait for them to end, or cancel them (`mlbench job cancel ID`)",
                details={"jobs": [j for j, _ in using]},
            )
        building = [r for r in rows if self._status(r) == EnvironmentStatus.BUILDING]
        if building:
            raise EnvironmentInUseError(
                f"environment {building[0].name}:{building[0].version} is being built",
                hint="wait for the build to end (or stop it with Ctrl-C where it runs)",
            )
        infos = [self._info(r) for r in rows]
        with self._ws.db.write() as s:
            s.execute(delete(EnvironmentRow).where(EnvironmentRow.id.in_([r.id for r in rows])))
        for row in rows:
            self.paths.log(row.id).unlink(missing_ok=True)
            if not self._kernel_used(row.kernel_name):
                envbuild.remove_kernelspec(self.paths.kernels, row.kernel_name)
        self.gc()
        return infos

    def _kernel_used(self, kernel: str) -> bool:
        with self._ws.db.session() as s:
            return s.scalar(select(func.count()).where(EnvironmentRow.kernel_name == kernel)) > 0

    def gc(self) -> GcResult:
        """Remove venvs and kernelspecs no version refers to (and what interrupted builds
        left); what a version refers to is kept."""
        with self._ws.db.session() as s:
            rows = s.execute(select(EnvironmentRow.venv, EnvironmentRow.kernel_name)).all()
        venvs = {Path(v).name for v, _ in rows}
        kernels = {k for _, k in rows}
        removed: list[str] = []
        freed = 0
        if self.paths.venvs.is_dir():
            for path in sorted(self.paths.venvs.iterdir()):
                if path.name in venvs:
                    continue
                lock = FileLock(self.paths.lock(f"venv-{path.name}"))
                if not lock.acquire(blocking=False):  # being built right now
                    continue
                try:
                    freed += envbuild.venv_size(path)
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(str(path))
                finally:
                    lock.release()
        if self.paths.kernels.is_dir():
            for path in sorted(self.paths.kernels.iterdir()):
                if path.name.startswith(envbuild.KERNEL_PREFIX) and path.name not in kernels:
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(str(path))
        for path in removed:
            log.info("gc: removed %s", path)
        return GcResult(removed=removed, kept=len(venvs), freed_bytes=freed)

    # -- rows ------------------------------------------------------------------------------------
    def _rows(self, name: str) -> list[EnvironmentRow]:
        with self._ws.db.session() as s:
            rows = list(
                s.scalars(
                    select(EnvironmentRow)
                    .where(EnvironmentRow.name == name)
                    .order_by(EnvironmentRow.version.desc())
                )
            )
        if not rows:
            raise EnvironmentNotFoundError(
                f"no environment {name!r}",
                hint="see them with `mlbench env list`; make one with `mlbench env create`",
            )
        return rows

    def _row(self, ref: str) -> EnvironmentRow:
        name, version = parse_env_ref(ref)
        rows = self._rows(name)
        if version is None:
            return rows[0]
        for row in rows:
            if row.version == version:
                return row
        raise EnvironmentNotFoundError(
            f"environment {name!r} has no version {version}",
            hint=f"its versions: {', '.join(str(r.version) for r in rows)}",
        )

    def _row_by_hash(self, name: str, lock_hash: str) -> EnvironmentRow | None:
        with self._ws.db.session() as s:
            return s.scalars(
                select(EnvironmentRow)
                .where(EnvironmentRow.name == name, EnvironmentRow.lock_hash == lock_hash)
                .order_by(EnvironmentRow.version.desc())
            ).first()

    def _ready_by(self, where: Any, name: str) -> EnvironmentInfo | None:
        """The newest ready version of ``name`` matching ``where`` whose venv is built."""
        with self._ws.db.session() as s:
            row = s.scalars(
                select(EnvironmentRow)
                .where(
                    EnvironmentRow.name == name,
                    where,
                    EnvironmentRow.status == EnvironmentStatus.READY.value,
                )
                .order_by(EnvironmentRow.version.desc())
            ).first()
        if row is None or not envbuild.is_complete(Path(row.venv)):
            return None
        return self._info(row)

    def _status(self, row: EnvironmentRow) -> EnvironmentStatus:
        status = EnvironmentStatus(row.status)
        builder = FileLock(self.paths.lock(f"build-{row.id}"))
        if status == EnvironmentStatus.BUILDING and not builder.is_locked_elsewhere():
            return EnvironmentStatus.FAILED  # its builder is gone (killed): it never finishes
        return status

    def _info(self, row: EnvironmentRow) -> EnvironmentInfo:
        status = self._status(row)
        error = row.error
        if status == EnvironmentStatus.FAILED and row.status == EnvironmentStatus.BUILDING.value:
            error = INTERRUPTED
        return EnvironmentInfo(
            id=row.id,
            name=row.name,
            version=row.version,
            ref=f"{row.name}:{row.version}",
            status=status,
            spec=EnvironmentSpec.model_validate(row.spec),
            description=row.description,
            lock_hash=row.lock_hash,
            kernel_name=row.kernel_name,
            python=row.python,
            platform=row.platform,
            packages=list(row.lock),
            venv=row.venv,
            error=error,
            build_seconds=row.build_seconds,
            created_by=row.created_by,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


def _note(log_file: TextIO, text: str) -> None:
    log_file.write(f"[{utcnow().strftime('%H:%M:%S')}] {text}\n")
    log_file.flush()


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return ""
