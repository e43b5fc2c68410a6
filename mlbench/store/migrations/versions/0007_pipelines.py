"""Pipeline runs and their steps (reuse keys indexed).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mlbench.store.schema import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pipeline_runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("display_name", sa.String(256), nullable=False),
        sa.Column("experiment", sa.String(256), nullable=False),
        sa.Column("compute", sa.String(64), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("selection", sa.JSON, nullable=False),
        sa.Column("source_run_id", sa.String(32), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.Text, nullable=False),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("mlflow_experiment_id", sa.String(64), nullable=True),
        sa.Column("mlflow_run_id", sa.String(64), nullable=True),
    )
    op.create_index("ix_pipeline_runs_compute_status", "pipeline_runs", ["compute", "status"])
    op.create_index("ix_pipeline_runs_created", "pipeline_runs", ["created_at", "id"])
    op.create_index("ix_pipeline_runs_name", "pipeline_runs", ["name", "created_at"])
    op.create_table(
        "pipeline_steps",
        sa.Column("run_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("compute", sa.String(64), nullable=False),
        sa.Column("depends_on", sa.JSON, nullable=False),
        sa.Column("selected", sa.Boolean, nullable=False),
        sa.Column("forced", sa.Boolean, nullable=False),
        sa.Column("pinned", sa.JSON, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.Text, nullable=False),
        sa.Column("job_id", sa.String(32), nullable=True),
        sa.Column("reuse_key", sa.String(64), nullable=True),
        sa.Column("components", sa.JSON, nullable=True),
        sa.Column("reused_from_run", sa.String(32), nullable=True),
        sa.Column("reused_from_job", sa.String(32), nullable=True),
        sa.Column("outputs", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_pipeline_steps_job", "pipeline_steps", ["job_id"], unique=True)
    op.create_index("ix_pipeline_steps_key", "pipeline_steps", ["reuse_key", "status"])


def downgrade() -> None:
    op.drop_table("pipeline_steps")
    op.drop_table("pipeline_runs")
