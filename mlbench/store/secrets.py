"""Datastore credentials, kept apart from the metadata database.

The database records only *which* credentials a datastore has (their names). The values live in
one of two places, chosen by the workspace setting ``secrets_backend``:

- ``file`` (default): ``<workspace>/secrets/<datastore>.json``, created ``0600`` in a ``0700``
  folder, written atomically; readable by the owner only.
- ``keyring``: the OS keyring (the ``keyring`` package), one entry per datastore under the
  service ``mlbench:<workspace path>``.

Values never leave this module except to build a datastore's filesystem or connect a compute
target. :func:`redact` takes them out of a text; :class:`Redactor` (``ws.redact``) takes every
secret the workspace holds out of every text mlbench stores or prints.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets as _secrets
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

from mlbench.errors import InvalidInputError

log = logging.getLogger(__name__)

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


class Redactor:
    """Masks every secret the workspace holds (datastore credentials, compute tokens) in any
    text mlbench stores or prints, whatever produced it: a storage library's error, a gateway
    echoing its request, a debug log line.

    ``load`` returns the secret values; ``version`` is a cheap fingerprint of where they live,
    checked at most once a second, so a secret added by another process is masked here too.
    """

    def __init__(
        self, load: Callable[[], Iterable[str]], version: Callable[[], object] | None = None
    ) -> None:
        self._load = load
        self._version = version
        self._values: list[str] | None = None
        self._seen: object = None
        self._checked = 0.0
        self._loading = False
        # re-entrant: loading the secrets may log (SQL, keyring), and logs pass this redactor
        self._lock = threading.RLock()

    def refresh(self) -> None:
        """Forget the values: the next text reloads them (after a secret changed here)."""
        with self._lock:
            self._values = None

    def _current(self) -> list[str]:
        with self._lock:
            if self._loading:  # a log line written while loading: the values known so far
                return self._values or []
            now = time.monotonic()
            if self._version is not None and now - self._checked >= 1.0:
                self._checked = now
                try:
                    seen = self._version()
                except Exception:  # a busy database must not stop a text from being written
                    seen = self._seen
                if seen != self._seen:
                    self._seen, self._values = seen, None
            if self._values is None:
                try:
                    found = {v for x in self._load() for v in secret_values({"": x})}
                except Exception:
                    log.warning(
                        "could not read the workspace's secrets to mask them", exc_info=True
                    )
                    found = set()
                self._values = sorted(found, key=len, reverse=True)
            return self._values

    def __call__(self, text: str) -> str:
        if not text:
            return text
        return redact(text, self._current())

    def json(self, value: Any) -> Any:
        """A JSON-like value with every string in it redacted."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, list):
            return [self.json(v) for v in value]
        if isinstance(value, dict):
            return {k: self.json(v) for k, v in value.items()}
        return value


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in every record passing a handler (any library's)."""

    def __init__(self, redactor: Callable[[str], str]) -> None:
        super().__init__()
        self._redact = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        masked = self._redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = self._redact(text)
        return True


def mask_logs(
    redactor: Callable[[str], str], handlers: Iterable[logging.Handler] | None = None
) -> Callable[[], None]:
    """Mask secrets in every record that ``handlers`` (default: the root logger's) write, from
    any library; returns what takes the masking off again. Whoever masks must unmask when its
    workspace is done with: a process that opens many (a test session, a notebook running the
    CLI) would otherwise pass each record through every workspace it ever opened."""
    masking = RedactingFilter(redactor)
    masked = list(logging.getLogger().handlers if handlers is None else handlers)
    for handler in masked:
        handler.addFilter(masking)

    def unmask() -> None:
        for handler in masked:
            handler.removeFilter(masking)

    return unmask
