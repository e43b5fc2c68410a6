"""Errors of datastores and data assets (codes appear in the REST error shape)."""

from __future__ import annotations

from mlbench.errors import ConflictError, InvalidInputError, MlbenchError, NotFoundError


class DatastoreNotFoundError(NotFoundError):
    code = "datastore_not_found"


class DataNotFoundError(NotFoundError):
    """No such data asset or version."""

    code = "data_not_found"


class DataPathNotFoundError(NotFoundError):
    """A path on a datastore (or a local path) that does not exist."""

    code = "data_path_not_found"


class PathOutsideDatastoreError(InvalidInputError):
    code = "path_outside_datastore"


class DataChangedError(ConflictError):
    """Referenced data no longer has the content recorded when its version was registered."""

    code = "data_changed"


class DatastoreError(MlbenchError):
    """The storage behind a datastore failed (HTTP 502): see the subclasses."""

    code = "datastore_error"


class DatastoreAuthError(DatastoreError):
    """The storage refused the stored credentials (wrong key, expired token, no permission)."""

    code = "datastore_auth_failed"


class DatastoreUnreachableError(DatastoreError):
    code = "datastore_unreachable"


class DatastoreReadOnlyError(ConflictError):
    code = "datastore_read_only"
