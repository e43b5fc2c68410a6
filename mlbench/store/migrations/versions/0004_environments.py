"""Environments: named, versioned Python environments jobs run in.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mlbench.store.schema import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "environments",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("spec_key", sa.String(64), nullable=False),
        sa.Column("lock", sa.JSON, nullable=False),
        sa.Column("lock_hash", sa.String(64), nullable=False),
        sa.Column("python", sa.String(64), nullable=False),
        sa.Column("python_path", sa.Text, nullable=False),
        sa.Column("platform", sa.String(64), nullable=False),
        sa.Column("kernel_name", sa.String(128), nullable=False),
        sa.Column("venv", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("build_seconds", sa.Float, nullable=True),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("name", "version", name="uq_environments_name_version"),
    )
    op.create_index("ix_environments_name_hash", "environments", ["name", "lock_hash"])
    op.create_index("ix_environments_spec_key", "environments", ["name", "spec_key"])
    op.create_index("ix_environments_kernel", "environments", ["kernel_name"])


def downgrade() -> None:
    op.drop_table("environments")
