"""Data: datastores, data assets and versions, folder manifests, lineage; job data bindings.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mlbench.store.schema import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("inputs", sa.JSON, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("outputs", sa.JSON, nullable=False, server_default="[]"))
    op.create_table(
        "datastores",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("credential_names", sa.JSON, nullable=False),
        sa.Column("read_only", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "data_assets",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("last_version", sa.Integer, nullable=False),
        sa.Column("archived", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "data_versions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("format", sa.String(16), nullable=True),
        sa.Column("datastore", sa.String(64), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("stored", sa.String(16), nullable=False),
        sa.Column("filename", sa.Text, nullable=True),
        sa.Column("content_hash", sa.String(128), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("file_count", sa.Integer, nullable=False),
        sa.Column("columns", sa.JSON, nullable=True),
        sa.Column("row_count", sa.BigInteger, nullable=True),
        sa.Column("preview", sa.JSON, nullable=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("job_id", sa.String(32), nullable=True),
        sa.Column("archived", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("name", "version", name="uq_data_versions_name_version"),
    )
    op.create_index("ix_data_versions_hash", "data_versions", ["name", "content_hash"])
    op.create_index("ix_data_versions_job", "data_versions", ["job_id"])
    op.create_table(
        "data_manifests",
        sa.Column("content_hash", sa.String(128), primary_key=True),
        sa.Column("file_count", sa.Integer, nullable=False),
        sa.Column("entries", sa.LargeBinary, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "data_lineage",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("binding", sa.String(128), nullable=False),
        sa.Column("version_id", sa.String(32), nullable=False),
        sa.Column("asset_name", sa.String(128), nullable=False),
        sa.Column("asset_version", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_data_lineage_version", "data_lineage", ["version_id"])
    op.create_index("ix_data_lineage_job", "data_lineage", ["job_id"])


def downgrade() -> None:
    op.drop_table("data_lineage")
    op.drop_table("data_manifests")
    op.drop_table("data_versions")
    op.drop_table("data_assets")
    op.drop_table("datastores")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("outputs")
        batch.drop_column("inputs")
