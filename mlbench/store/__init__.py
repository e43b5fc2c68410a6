"""Metadata store: SQLAlchemy 2 models, the database handle and Alembic migrations."""

from mlbench.store.db import Database
from mlbench.store.schema import (
    AgentRow,
    Base,
    ComputeTargetRow,
    DataAssetRow,
    DataLineageRow,
    DataManifestRow,
    DatastoreRow,
    DataVersionRow,
    JobEventRow,
    JobRow,
    NotificationDeliveryRow,
    NotificationRuleRow,
    ScheduleRow,
    ScheduleRunRow,
    SweepRow,
    SweepTrialRow,
)

__all__ = [
    "AgentRow",
    "Base",
    "ComputeTargetRow",
    "DataAssetRow",
    "DataLineageRow",
    "DataManifestRow",
    "DataVersionRow",
    "Database",
    "DatastoreRow",
    "JobEventRow",
    "JobRow",
    "NotificationDeliveryRow",
    "NotificationRuleRow",
    "ScheduleRow",
    "ScheduleRunRow",
    "SweepRow",
    "SweepTrialRow",
]
