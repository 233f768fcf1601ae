"""sightings: when a run first saw each file of the inbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 23:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("sightings"):  # a legacy ledger completed with it
        return
    op.create_table(
        "sightings",
        sa.Column("inbox_path", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("seen_at", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("inbox_path", "size", "mtime_ns"),
    )


def downgrade() -> None:
    op.drop_table("sightings")
