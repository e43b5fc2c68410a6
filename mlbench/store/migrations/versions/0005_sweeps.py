"""Sweeps and their trials; a job keeps the early-termination request of its sweep's policy.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mlbench.store.schema import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sweeps",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("display_name", sa.String(256), nullable=False),
        sa.Column("experiment", sa.String(256), nullable=False),
        sa.Column("compute", sa.String(64), nullable=False),
        sa.Column("notebook_path", sa.Text, nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
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
        sa.Column("trial_count", sa.Integer, nullable=False),
        sa.Column("best_trial", sa.Integer, nullable=True),
        sa.Column("best_value", sa.Float, nullable=True),
    )
    op.create_index("ix_sweeps_compute_status", "sweeps", ["compute", "status"])
    op.create_index("ix_sweeps_created", "sweeps", ["created_at", "id"])
    op.create_table(
        "sweep_trials",
        sa.Column("sweep_id", sa.String(32), primary_key=True),
        sa.Column("index", sa.Integer, primary_key=True),
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("parameters", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("reports", sa.Integer, nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("termination", sa.JSON, nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_sweep_trials_job", "sweep_trials", ["job_id"], unique=True)
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("termination", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("termination")
    op.drop_table("sweep_trials")
    op.drop_table("sweeps")
