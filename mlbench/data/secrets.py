"""Datastore credentials, kept apart from the metadata database.

The database records only *which* credentials a datastore has (their names). The values live in
one of two places, chosen by the workspace setting ``secrets_backend``:

- ``file`` (default): ``<workspace>/secrets/<datastore>.json``, created ``0600`` in a ``0700``
  folder, written atomically; readable by the owner only.
- ``keyring``: the OS keyring (the ``keyring`` package), one entry per datastore under the
  service ``mlbench:<workspace path>``.

Values never leave this module except to build a datastore's filesystem. :func:`redact` takes
them out of any text (error messages from storage libraries) before it is shown.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets as _secrets
from pathlib import Path
from typing import Protocol

from mlbench.errors import InvalidInputError

MASK = "***"
_CONNECTION_PARTS = re.compile(r"(?i)(AccountKey|SharedAccessSignature|sig)=([^;&]+)")


class SecretStore(Protocol):
    def get(self, datastore: str) -> dict[str, str]: ...

    def set(self, datastore: str, values: dict[str, str]) -> None: ...

    def delete(self, datastore: str) -> None: ...


class FileSecretStore:
    """One 0600 JSON file per datastore in a 0700 folder of the workspace."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, datastore: str) -> Path:
        return self.folder / f"{datastore}.json"

    def get(self, datastore: str) -> dict[str, str]:
        try:
            data = json.loads(self._path(datastore).read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise InvalidInputError(
                f"the credentials of datastore {datastore!r} cannot be read ({type(exc).__name__})",
                hint=f"set them again with `mlbench datastore update {datastore} --credential ...`",
            ) from None
        return {str(k): str(v) for k, v in data.items()}

    def set(self, datastore: str, values: dict[str, str]) -> None:
        if not values:
            self.delete(datastore)
            return
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        tmp = self.folder / f".{datastore}.{_secrets.token_hex(4)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(values, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self._path(datastore))
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    def delete(self, datastore: str) -> None:
        self._path(datastore).unlink(missing_ok=True)


class KeyringSecretStore:
    """The OS keyring, through the ``keyring`` package."""

    def __init__(self, service: str) -> None:
        try:
            import keyring
        except ImportError:
            raise InvalidInputError(
                "secrets_backend is 'keyring' but the keyring package is not installed",
                hint="pip install keyring, or set secrets_backend: file",
            ) from None
        self._keyring = keyring
        self.service = service

    def get(self, datastore: str) -> dict[str, str]:
        raw = self._keyring.get_password(self.service, datastore)
        return {str(k): str(v) for k, v in json.loads(raw).items()} if raw else {}

    def set(self, datastore: str, values: dict[str, str]) -> None:
        if not values:
            self.delete(datastore)
            return
        self._keyring.set_password(self.service, datastore, json.dumps(values))

    def delete(self, datastore: str) -> None:
        with contextlib.suppress(Exception):  # keyring raises PasswordDeleteError when absent
            self._keyring.delete_password(self.service, datastore)


def secret_store(home: Path, backend: str = "file") -> SecretStore:
    if backend == "keyring":
        return KeyringSecretStore(f"mlbench:{home}")
    return FileSecretStore(home / "secrets")


def secret_values(values: dict[str, str]) -> list[str]:
    """Every string that must not be shown: each value, and the keys inside connection strings."""
    found: set[str] = set()
    for value in values.values():
        if value and len(value) >= 4:
            found.add(value)
        for _, part in _CONNECTION_PARTS.findall(value or ""):
            if len(part) >= 4:
                found.add(part)
    return sorted(found, key=len, reverse=True)


def redact(text: str, values: dict[str, str] | list[str]) -> str:
    """``text`` with every secret (see :func:`secret_values`) replaced by ``***``."""
    secrets_list = secret_values(values) if isinstance(values, dict) else values
    for value in secrets_list:
        text = text.replace(value, MASK)
    return _CONNECTION_PARTS.sub(lambda m: f"{m.group(1)}={MASK}", text)
