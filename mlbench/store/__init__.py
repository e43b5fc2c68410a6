"""Metadata store: SQLAlchemy 2 models, the database handle and Alembic migrations."""

from mlbench.store.db import Database
from mlbench.store.schema import AgentRow, Base, ComputeTargetRow, JobEventRow, JobRow

__all__ = ["AgentRow", "Base", "ComputeTargetRow", "Database", "JobEventRow", "JobRow"]
