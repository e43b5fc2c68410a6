"""Online endpoints, their deployments and keys.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mlbench.store.schema import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "endpoints",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("host", sa.String(128), nullable=False),
        sa.Column("port", sa.Integer, nullable=False),
        sa.Column("auth_mode", sa.String(16), nullable=False),
        sa.Column("keys", sa.JSON, nullable=False),
        sa.Column("traffic", sa.JSON, nullable=False),
        sa.Column("mirror", sa.JSON, nullable=False),
        sa.Column("log_sample_rate", sa.Float, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "endpoint_deployments",
        sa.Column("endpoint", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("model_name", sa.String(256), nullable=False),
        sa.Column("model_version", sa.Integer, nullable=False),
        sa.Column("model_path", sa.Text, nullable=False),
        sa.Column("input_columns", sa.JSON, nullable=False),
        sa.Column("environment", sa.String(128), nullable=True),
        sa.Column("python", sa.Text, nullable=True),
        sa.Column("compute", sa.String(64), nullable=False),
        sa.Column("instance_count", sa.Integer, nullable=False),
        sa.Column("resources", sa.JSON, nullable=False),
        sa.Column("max_batch_size", sa.Integer, nullable=False),
        sa.Column("max_wait_ms", sa.Float, nullable=False),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.Text, nullable=False),
        sa.Column("instances", sa.JSON, nullable=False),
        sa.Column("url", sa.Text, nullable=True),
        sa.Column("restarts", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "endpoint_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("endpoint", sa.String(64), nullable=False),
        sa.Column("deployment", sa.String(64), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
    )
    op.create_index("ix_endpoint_events_endpoint", "endpoint_events", ["endpoint", "id"])


def downgrade() -> None:
    op.drop_table("endpoint_events")
    op.drop_table("endpoint_deployments")
    op.drop_table("endpoints")
