"""notices: the outbox of e-mails and group-robot messages, the planner's mark, users' opt-out

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.Text(), nullable=False, unique=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("division", sa.Text()),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id")),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("due_at", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_at", sa.Text()),
        sa.Column("claimed_by", sa.Text()),
        sa.Column("sent_at", sa.Text()),
        sa.Column("error", sa.Text()),
    )
    op.create_index("ix_notices_division", "notices", ["division"])
    op.create_index("ix_notices_state", "notices", ["state"])
    op.create_table(
        "notice_marks",
        sa.Column("name", sa.Text(), primary_key=True),
        sa.Column("value", sa.BigInteger(), nullable=False),
    )
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("notices_off_at", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("notices_off_at")
    op.drop_table("notice_marks")
    op.drop_index("ix_notices_state", table_name="notices")
    op.drop_index("ix_notices_division", table_name="notices")
    op.drop_table("notices")
