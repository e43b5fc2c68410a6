"""Names and references: ``name``, ``name:3``, ``name@latest``, ``data:name:3``."""

from __future__ import annotations

from dataclasses import dataclass

from mlbench import validation
from mlbench.errors import InvalidInputError

ASSET_NAME_MAX = 128
PREFIX = "data:"
LATEST = "latest"
MAX_VERSION = 2**31 - 1  # versions are 32-bit integers in the database


@dataclass(frozen=True)
class DataRef:
    """A reference to a data asset version; ``version`` None means the newest (not archived)."""

    name: str
    version: int | None = None

    def __str__(self) -> str:
        return f"{self.name}:{self.version}" if self.version is not None else self.name


def check_name(name: str, what: str = "data asset") -> str:
    """The workspace's one name rule (:func:`mlbench.validation.check_name`), 128 long."""
    try:
        return validation.check_name(name, what, max_len=ASSET_NAME_MAX)
    except InvalidInputError as exc:
        exc.hint = f"{exc.hint}; ':' and '@' separate the version"
        raise


def check_datastore_name(name: str) -> str:
    return validation.check_name(name, "datastore")


def parse_ref(text: str) -> DataRef:
    """``name``, ``name:VERSION``, ``name:latest`` or ``name@latest``, optionally ``data:``-led."""
    raw = str(text).strip()
    if raw.startswith(PREFIX):
        raw = raw[len(PREFIX) :]
    name, version = raw, None
    if "@" in raw:
        name, _, label = raw.partition("@")
        if label != LATEST:
            raise InvalidInputError(
                f"invalid data reference {text!r}: unknown label {label!r}",
                hint="use name, name:VERSION or name@latest",
            )
    elif ":" in raw:
        name, _, tail = raw.partition(":")
        if tail != LATEST:
            if not (tail.isascii() and tail.isdigit()) or not 1 <= int(tail) <= MAX_VERSION:
                raise InvalidInputError(
                    f"invalid data reference {text!r}: version {tail!r} is not a positive number",
                    hint="use name, name:VERSION (e.g. iris:3) or name@latest",
                )
            version = int(tail)
    check_name(name)
    return DataRef(name, version)
