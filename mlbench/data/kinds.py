"""Datastore kinds: how each kind of storage becomes an fsspec filesystem.

A kind declares its settings (a pydantic model, stored in the database), the names of its
credentials (stored apart, see :mod:`mlbench.store.secrets`), the fsspec filesystem it opens and
where its root is. Kinds are registered like compute backends: built in here, more through the
``mlbench.datastores`` entry-point group.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
from abc import ABC, abstractmethod
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mlbench.data.errors import (
    DataPathNotFoundError,
    DatastoreAuthError,
    DatastoreError,
    DatastoreUnreachableError,
)
from mlbench.errors import InvalidInputError, MlbenchError
from mlbench.store.secrets import redact

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0


class KindConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LocalConfig(KindConfig):
    path: str = Field(description="Absolute path of the folder.")

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        path = Path(value).expanduser()
        if not path.is_absolute():
            raise ValueError("must be an absolute path")
        return str(path.resolve())


class S3Config(KindConfig):
    bucket: str = Field(min_length=3, max_length=63)
    prefix: str = Field("", description="Folder inside the bucket.")
    endpoint_url: str | None = Field(
        None, description="For S3-compatible storage (MinIO, Ceph...), e.g. http://host:9000."
    )
    region: str | None = None
    anonymous: bool = Field(False, description="Public buckets: no credentials.")


class AzureBlobConfig(KindConfig):
    account_name: str = Field(min_length=1)
    container: str = Field(min_length=3, max_length=63)
    prefix: str = ""
    endpoint_url: str | None = Field(
        None,
        description="Blob endpoint when not <account>.blob.core.windows.net, e.g. Azurite's "
        "http://127.0.0.1:10000/devstoreaccount1.",
    )
    anonymous: bool = False


class GCSConfig(KindConfig):
    bucket: str = Field(min_length=3)
    prefix: str = ""
    project: str | None = None
    endpoint_url: str | None = None
    anonymous: bool = False


class DatastoreKind(ABC):
    """One kind of storage."""

    kind: ClassVar[str]
    description: ClassVar[str] = ""
    config_model: ClassVar[type[KindConfig]]
    credential_fields: ClassVar[tuple[str, ...]] = ()
    protocols: ClassVar[tuple[str, ...]] = ()

    def parse_config(self, raw: dict[str, Any]) -> KindConfig:
        return self.config_model.model_validate(raw)

    @abstractmethod
    def filesystem(self, config: Any, credentials: dict[str, str]) -> Any:
        """An fsspec filesystem for the datastore."""

    @abstractmethod
    def root(self, config: Any) -> str:
        """The datastore's root as a path of its filesystem (no protocol)."""

    def uri(self, config: Any, path: str) -> str:
        """A full URI for ``path`` (a path of the filesystem)."""
        return f"{self.protocols[0]}://{path}"

    def endpoint(self, config: Any) -> tuple[str, int] | None:
        """(host, port) to check for reachability before slow library retries, if known."""
        url = getattr(config, "endpoint_url", None)
        if not url:
            return None
        parsed = urlparse(url)
        if not parsed.hostname:
            return None
        return parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80)

    def prepare(self, fs: Any, config: Any) -> None:  # noqa: B027 - optional hook
        """Create what the root needs on first use (e.g. a local folder)."""


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


class LocalKind(DatastoreKind):
    kind = "local"
    description = "A folder on this machine (or a mounted share)."
    config_model = LocalConfig
    protocols = ("file", "local")

    def filesystem(self, config: Any, credentials: dict[str, str]) -> Any:
        from fsspec.implementations.local import LocalFileSystem

        return LocalFileSystem()

    def root(self, config: Any) -> str:
        return str(config.path)

    def uri(self, config: Any, path: str) -> str:
        return Path(path).as_uri()


class S3Kind(DatastoreKind):
    kind = "s3"
    description = "Amazon S3 or any S3-compatible storage (s3fs)."
    config_model = S3Config
    credential_fields = ("access_key_id", "secret_access_key", "session_token")
    protocols = ("s3", "s3a")

    def filesystem(self, config: Any, credentials: dict[str, str]) -> Any:
        s3fs = _import("s3fs", "s3")
        client_kwargs: dict[str, Any] = {}
        if config.region:
            client_kwargs["region_name"] = config.region
        return s3fs.S3FileSystem(
            anon=config.anonymous,
            key=credentials.get("access_key_id"),
            secret=credentials.get("secret_access_key"),
            token=credentials.get("session_token"),
            endpoint_url=config.endpoint_url,
            client_kwargs=client_kwargs,
            config_kwargs={
                "connect_timeout": CONNECT_TIMEOUT_S,
                "read_timeout": 120,
                "retries": {"max_attempts": 3, "mode": "standard"},
            },
            skip_instance_cache=True,
        )

    def root(self, config: Any) -> str:
        return _join(config.bucket, config.prefix)


class AzureBlobKind(DatastoreKind):
    kind = "azureblob"
    description = "Azure Blob Storage or Azurite (adlfs)."
    config_model = AzureBlobConfig
    credential_fields = ("account_key", "sas_token", "connection_string")
    protocols = ("az", "abfs", "abfss")

    def filesystem(self, config: Any, credentials: dict[str, str]) -> Any:
        adlfs = _import("adlfs", "azureblob")
        key = credentials.get("account_key")
        sas = credentials.get("sas_token")
        conn = credentials.get("connection_string")
        if not conn and config.endpoint_url and (key or sas):
            scheme = urlparse(config.endpoint_url).scheme or "https"
            conn = (
                f"DefaultEndpointsProtocol={scheme};AccountName={config.account_name};"
                f"BlobEndpoint={config.endpoint_url.rstrip('/')};"
                + (f"AccountKey={key};" if key else f"SharedAccessSignature={sas.lstrip('?')};")
            )
        if conn:
            return adlfs.AzureBlobFileSystem(connection_string=conn, skip_instance_cache=True)
        return adlfs.AzureBlobFileSystem(
            account_name=config.account_name,
            account_key=key,
            sas_token=sas,
            anon=config.anonymous or None,
            skip_instance_cache=True,
        )

    def root(self, config: Any) -> str:
        return _join(config.container, config.prefix)

    def endpoint(self, config: Any) -> tuple[str, int] | None:
        return super().endpoint(config) or (f"{config.account_name}.blob.core.windows.net", 443)


class GCSKind(DatastoreKind):
    kind = "gcs"
    description = "Google Cloud Storage (gcsfs, the 'gcs' extra)."
    config_model = GCSConfig
    credential_fields = ("token",)
    protocols = ("gs", "gcs")

    def filesystem(self, config: Any, credentials: dict[str, str]) -> Any:
        import json

        gcsfs = _import("gcsfs", "gcs")
        token: Any = None
        if config.anonymous:
            token = "anon"
        elif credentials.get("token"):
            try:
                token = json.loads(credentials["token"])
            except ValueError:
                raise InvalidInputError(
                    "the gcs credential 'token' must be a service account's JSON key"
                ) from None
        kwargs: dict[str, Any] = {"token": token, "skip_instance_cache": True}
        if config.project:
            kwargs["project"] = config.project
        if config.endpoint_url:
            kwargs["endpoint_url"] = config.endpoint_url
        return gcsfs.GCSFileSystem(**kwargs)

    def root(self, config: Any) -> str:
        return _join(config.bucket, config.prefix)


def _import(module: str, kind: str) -> Any:
    try:
        return __import__(module)
    except ImportError:
        extra = {"gcs": "gcs", "azureblob": "azure", "s3": "s3"}.get(kind, kind)
        raise InvalidInputError(
            f"datastores of kind {kind!r} need the {module} package",
            hint=f"pip install 'mlbench[{extra}]' (or pip install {module})",
        ) from None


_BUILTIN: dict[str, type[DatastoreKind]] = {
    k.kind: k for k in (LocalKind, S3Kind, AzureBlobKind, GCSKind)
}


class DatastoreKinds:
    def __init__(self) -> None:
        self._kinds: dict[str, DatastoreKind] = {}
        self._lock = threading.Lock()
        self._loaded = False

    def _load(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            for name, cls in _BUILTIN.items():
                self._kinds[name] = cls()
            for ep in entry_points(group="mlbench.datastores"):
                try:
                    self._kinds[ep.name] = ep.load()()
                except Exception:
                    log.exception("could not load datastore kind %r", ep.name)
            self._loaded = True

    def get(self, kind: str) -> DatastoreKind:
        self._load()
        try:
            return self._kinds[kind]
        except KeyError:
            raise InvalidInputError(
                f"unknown datastore kind {kind!r}", hint=f"known kinds: {', '.join(self.kinds())}"
            ) from None

    def kinds(self) -> list[str]:
        self._load()
        return sorted(self._kinds)

    def for_protocol(self, protocol: str) -> list[str]:
        self._load()
        return [name for name, k in self._kinds.items() if protocol in k.protocols]


datastore_kinds = DatastoreKinds()


# -- errors ------------------------------------------------------------------------------------
_AUTH_CODES = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AuthorizationFailure",
    "AuthenticationFailed",
    "AuthorizationPermissionMismatch",
    "InvalidAuthenticationInfo",
    "ExpiredToken",
    "InvalidToken",
    "Forbidden",
}
_MISSING_CODES = {"NoSuchBucket", "ContainerNotFound", "BlobNotFound", "NoSuchKey"}


def check_reachable(kind: DatastoreKind, config: Any, name: str) -> None:
    """Fail fast (seconds, not minutes of library retries) when the endpoint does not answer."""
    target = kind.endpoint(config)
    if target is None:
        return
    host, port = target
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise DatastoreUnreachableError(
            f"datastore {name!r}: cannot connect to {host}:{port} ({exc.strerror or exc})",
            hint="check the endpoint URL and that the storage service is running and reachable",
        ) from None


def translate(exc: BaseException, name: str, secrets: dict[str, str], what: str) -> MlbenchError:
    """A storage library's exception as a clear mlbench error, with every secret redacted."""
    if isinstance(exc, MlbenchError):
        return exc
    message = redact(_describe(exc), secrets)
    code = _error_code(exc)
    status = _http_status(exc)
    where = f"datastore {name!r}: {what}"
    if code in _AUTH_CODES or status in (401, 403) or isinstance(exc, PermissionError):
        return DatastoreAuthError(
            f"{where}: access denied ({message})",
            hint="check the datastore's credentials and permissions "
            f"(`mlbench datastore update {name} --credential ...`, then "
            f"`mlbench datastore test {name}`)",
        )
    if code in _MISSING_CODES or isinstance(exc, FileNotFoundError) or status == 404:
        return DataPathNotFoundError(f"{where}: not found ({message})")
    if _is_connection_error(exc):
        return DatastoreUnreachableError(
            f"{where}: the storage cannot be reached ({message})",
            hint="check the endpoint URL and the network",
        )
    return DatastoreError(f"{where}: {type(exc).__name__}: {message}")


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())[:500]


def _error_code(exc: BaseException) -> str | None:
    for e in _chain(exc):
        response = getattr(e, "response", None)
        if isinstance(response, dict):
            code = response.get("Error", {}).get("Code")
            if code:
                return str(code)
        code = getattr(e, "error_code", None)
        if code:
            return str(code)
        text = str(e)
        for known in _AUTH_CODES | _MISSING_CODES:
            if known in text:
                return known
    return None


def _http_status(exc: BaseException) -> int | None:
    for e in _chain(exc):
        status = getattr(e, "status_code", None)
        if isinstance(status, int):
            return status
        response = getattr(e, "response", None)
        if isinstance(response, dict):
            meta = response.get("ResponseMetadata", {})
            if isinstance(meta.get("HTTPStatusCode"), int):
                return int(meta["HTTPStatusCode"])
    return None


def _is_connection_error(exc: BaseException) -> bool:
    names = {
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ServiceRequestError",
        "ClientConnectorError",
        "ServerDisconnectedError",
        "ConnectionClosedError",
        "ReadTimeoutError",
        "TimeoutError",
    }
    for e in _chain(exc):
        if type(e).__name__ in names or isinstance(e, (ConnectionError, TimeoutError)):
            return True
        if isinstance(e, OSError) and e.errno in (
            errno.ECONNREFUSED,
            errno.EHOSTUNREACH,
            errno.ENETUNREACH,
            errno.ETIMEDOUT,
        ):
            return True
    return False


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


__all__ = [
    "DatastoreError",
    "DatastoreKind",
    "check_reachable",
    "datastore_kinds",
    "translate",
]
