"""Datastores and versioned data assets with lineage (``ws.datastores``, ``ws.data``)."""

from mlbench.data.models import DataKind, DatastoreInfo, DataVersionInfo, LineageGraph
from mlbench.data.refs import DataRef, parse_ref

__all__ = ["DataKind", "DataRef", "DataVersionInfo", "DatastoreInfo", "LineageGraph", "parse_ref"]
