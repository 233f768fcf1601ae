"""publish_due: what publishing owes (outputs, feedback workbooks), queued by the run that committed it

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "publish_due",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("form", sa.Text()),
        sa.Column("period", sa.Text()),
        sa.Column("county", sa.Text()),
        sa.Column("submission_id", sa.Integer()),
        sa.Column("run_id", sa.Integer()),
        sa.Column("queued_at", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("publish_due")
