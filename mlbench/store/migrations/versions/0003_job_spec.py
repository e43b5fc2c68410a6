"""Jobs keep their resolved JobSpec, its content hash and their parent (sweep or pipeline run).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("spec", sa.JSON, nullable=True))
        batch.add_column(sa.Column("spec_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("parent_id", sa.String(64), nullable=True))
        batch.create_index("ix_jobs_spec_hash", ["spec_hash"])
        batch.create_index("ix_jobs_parent", ["parent_id"])


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_parent")
        batch.drop_index("ix_jobs_spec_hash")
        batch.drop_column("parent_id")
        batch.drop_column("spec_hash")
        batch.drop_column("spec")
