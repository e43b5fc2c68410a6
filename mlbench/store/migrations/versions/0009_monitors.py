"""Model monitors and their runs.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled by the change that adds these tables


def downgrade() -> None:
    pass  # filled by the change that adds these tables
