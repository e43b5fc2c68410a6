"""``ws.compute``: create, inspect and delete compute targets."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import func, select

from mlbench._ids import utcnow
from mlbench.compute.base import Capacity, ComputeBackend, ComputeConfig
from mlbench.compute.registry import compute_backends
from mlbench.errors import ComputeNotFoundError, ConflictError, InvalidInputError
from mlbench.store import ComputeTargetRow, JobRow
from mlbench.store.secrets import SecretStore, secret_store
from mlbench.validation import check_name

if TYPE_CHECKING:
    from mlbench.workspace import Workspace

DEFAULT_COMPUTE = "local"


def _exists(name: str) -> ConflictError:
    return ConflictError(
        f"compute target {name!r} already exists",
        hint=f"update it with `mlbench compute update {name} ...` or pick another name",
    )


def _secret_key(name: str) -> str:
    # '@' cannot start a datastore name: compute secrets never collide with datastores'.
    return f"@compute.{name}"


ACTIVE_STATUSES = ("queued", "starting", "running")


class ComputeTarget(BaseModel):
    name: str
    kind: str
    description: str = ""
    config: dict[str, Any]
    capacity: Capacity
    created_at: datetime
    updated_at: datetime
    problem: str | None = Field(
        None,
        description="Why the stored settings cannot be used (capacity then shows 0); fix them "
        "with an update or delete the target.",
    )


class ComputeStatus(BaseModel):
    """A target with what is happening on it now."""

    target: ComputeTarget
    agent: dict[str, Any] | None = Field(None, description="The live agent, if one runs.")
    queued: int = 0
    running: int = 0
    gpu_ids_in_use: list[str] = Field(default_factory=list)
    cpus_in_use: float = 0.0


class ComputeTargets:
    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    # -- reading -------------------------------------------------------------------------------
    def list(self) -> list[ComputeTarget]:
        self.ensure_default()
        with self._ws.db.session() as s:
            rows = s.scalars(select(ComputeTargetRow).order_by(ComputeTargetRow.name)).all()
            return [self._to_model(r) for r in rows]

    def get(self, name: str) -> ComputeTarget:
        if name == DEFAULT_COMPUTE:
            self.ensure_default()
        with self._ws.db.session() as s:
            row = s.get(ComputeTargetRow, name)
            if row is None:
                names = s.scalars(select(ComputeTargetRow.name)).all()
                raise ComputeNotFoundError(
                    f"compute target {name!r} does not exist",
                    hint=f"available: {', '.join(sorted(names)) or DEFAULT_COMPUTE}; "
                    f"create one with `mlbench compute create {name} --type local ...`",
                )
            return self._to_model(row)

    def status(self, name: str) -> ComputeStatus:
        target = self.get(name)
        with self._ws.db.session() as s:
            counts = dict(
                s.execute(
                    select(JobRow.status, func.count())
                    .where(JobRow.compute == name, JobRow.status.in_(ACTIVE_STATUSES))
                    .group_by(JobRow.status)
                ).all()
            )
            active = s.execute(
                select(JobRow.gpu_ids, JobRow.resources).where(
                    JobRow.compute == name, JobRow.status.in_(("starting", "running"))
                )
            ).all()
        agent = self._ws.agents(name).info()
        return ComputeStatus(
            target=target,
            agent=agent,
            queued=counts.get("queued", 0),
            running=counts.get("running", 0) + counts.get("starting", 0),
            gpu_ids_in_use=sorted({str(g) for ids, _ in active for g in (ids or [])}),
            cpus_in_use=sum(float((res or {}).get("cpus", 1)) for _, res in active),
        )

    def backend(
        self, name: str, *, with_secrets: bool = False
    ) -> tuple[ComputeBackend, ComputeConfig, Capacity]:
        """The target's backend and settings; ``with_secrets`` for the agent that connects.

        Submissions do not ask for secrets, so they never read the secret store (or a keyring).
        """
        target = self.get(name)
        if target.problem:
            raise InvalidInputError(
                f"compute target {name!r} cannot be used: {target.problem}",
                hint=f"fix its settings with `mlbench compute update {name} ...` "
                f"or delete it with `mlbench compute delete {name}`",
            )
        backend = compute_backends.get(target.kind)
        raw = target.config
        if with_secrets:
            raw = {**raw, **self._read_secrets(backend, name)}
        return backend, backend.parse_config(raw), target.capacity

    # -- writing -------------------------------------------------------------------------------
    def create(
        self, name: str, kind: str = "local", *, description: str = "", **config: Any
    ) -> ComputeTarget:
        check_name(name, "compute target")
        backend = compute_backends.get(kind)
        with self._ws.db.session() as s:  # before a slow connectivity check
            if s.get(ComputeTargetRow, name) is not None:
                raise _exists(name)
        parsed = backend.check(self._parse(backend, config))
        now = utcnow()
        with self._ws.db.write() as s:
            if s.get(ComputeTargetRow, name) is not None:  # created meanwhile
                raise _exists(name)
            self._store_secrets(backend, name, parsed)
            s.add(
                ComputeTargetRow(
                    name=name,
                    kind=kind,
                    description=description,
                    config=parsed.model_dump(exclude_none=True, mode="json"),
                    created_at=now,
                    updated_at=now,
                )
            )
        return self.get(name)

    def update(self, name: str, *, description: str | None = None, **changes: Any) -> ComputeTarget:
        target = self.get(name)
        backend = compute_backends.get(target.kind)
        merged = {**target.config, **self._read_secrets(backend, name), **changes}
        merged = {k: v for k, v in merged.items() if v is not None}
        parsed = backend.check(self._parse(backend, merged))
        with self._ws.db.write() as s:
            row = s.get(ComputeTargetRow, name)
            assert row is not None
            self._store_secrets(backend, name, parsed)
            row.config = parsed.model_dump(exclude_none=True, mode="json")
            if description is not None:
                row.description = description
            row.updated_at = utcnow()
        return self.get(name)

    def delete(self, name: str) -> None:
        if name == DEFAULT_COMPUTE:
            raise ConflictError(
                "the default 'local' target cannot be deleted",
                hint="change it instead, e.g. "
                "`mlbench compute update local --max-concurrent-jobs 1`",
            )
        self.get(name)
        with self._ws.db.write() as s:
            active = s.scalar(
                select(func.count())
                .select_from(JobRow)
                .where(JobRow.compute == name, JobRow.status.in_(ACTIVE_STATUSES))
            )
            if active:
                raise ConflictError(
                    f"compute target {name!r} has {active} queued or running job(s)",
                    hint="cancel them first (`mlbench job cancel ID`) or wait for them to finish",
                )
            row = s.get(ComputeTargetRow, name)
            if row is not None:
                s.delete(row)
        self._secrets.delete(_secret_key(name))

    def ensure_default(self) -> None:
        with self._ws.db.session() as s:
            if s.get(ComputeTargetRow, DEFAULT_COMPUTE) is not None:
                return
        now = utcnow()
        with self._ws.db.write() as s:
            if s.get(ComputeTargetRow, DEFAULT_COMPUTE) is None:
                s.add(
                    ComputeTargetRow(
                        name=DEFAULT_COMPUTE,
                        kind="local",
                        description="This machine (created automatically).",
                        config={},
                        created_at=now,
                        updated_at=now,
                    )
                )

    # -- helpers -------------------------------------------------------------------------------
    @property
    def _secrets(self) -> SecretStore:
        return secret_store(self._ws.home, self._ws.settings.secrets_backend)

    def secret_values(self) -> list[str]:
        """Every secret value of every target (for masking; never shown)."""
        with self._ws.db.session() as s:
            rows = s.execute(select(ComputeTargetRow.name, ComputeTargetRow.kind)).all()
        values: list[str] = []
        for name, kind in rows:
            try:
                backend = compute_backends.get(kind)
            except InvalidInputError:
                continue
            values += self._read_secrets(backend, name).values()
        return values

    def _read_secrets(self, backend: ComputeBackend, name: str) -> dict[str, str]:
        return self._secrets.get(_secret_key(name)) if backend.secret_fields else {}

    def _store_secrets(self, backend: ComputeBackend, name: str, config: ComputeConfig) -> None:
        if not backend.secret_fields:
            return
        values = {}
        for field in backend.secret_fields:
            value = getattr(config, field, None)
            if value is not None:
                values[field] = (
                    value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
                )
        self._secrets.set(_secret_key(name), values)
        self._ws.redact.refresh()

    @staticmethod
    def _parse(backend: ComputeBackend, config: dict[str, Any]) -> ComputeConfig:
        try:
            return backend.parse_config(config)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}"
                for e in exc.errors()
            )
            raise InvalidInputError(
                f"invalid {backend.kind} compute settings: {problems}",
                hint=f"settings of kind {backend.kind!r}: "
                + ", ".join(backend.config_model.model_fields),
                details={
                    "errors": [
                        {"field": ".".join(map(str, e["loc"])), "message": e["msg"]}
                        for e in exc.errors()
                    ]
                },
            ) from exc

    @classmethod
    def _to_model(cls, row: ComputeTargetRow) -> ComputeTarget:
        problem = None
        try:
            backend = compute_backends.get(row.kind)
            capacity = backend.capacity(cls._parse(backend, row.config))
        except (InvalidInputError, ValidationError, ArithmeticError, ValueError) as exc:
            # Settings stored before today's checks (or edited by hand) must not make every
            # listing, update and delete fail: show the target with the problem instead.
            problem = exc.message if isinstance(exc, InvalidInputError) else str(exc)
            capacity = Capacity(cpus=0, max_concurrent_jobs=0)
        return ComputeTarget(
            name=row.name,
            kind=row.kind,
            description=row.description,
            config=row.config,
            capacity=capacity,
            created_at=row.created_at,
            updated_at=row.updated_at,
            problem=problem,
        )
