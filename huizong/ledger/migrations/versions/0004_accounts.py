"""accounts: the review desk's users and its journal of actions

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 09:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.Text(), nullable=False, unique=True),
        sa.Column("display_name", sa.Text()),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("division", sa.Text(), nullable=False),
        sa.Column("phone", sa.Text()),
        sa.Column("email", sa.Text()),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("must_change", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("password_changed_at", sa.Text()),
        sa.Column("disabled_at", sa.Text()),
    )
    op.create_table(
        "actions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id")),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("target", sa.Text()),
        sa.Column("division", sa.Text()),
        sa.Column("reason", sa.Text()),
        sa.Column("address", sa.Text()),
        sa.Column("detail", sa.Text()),
    )
    op.create_index("ix_actions_division", "actions", ["division"])


def downgrade() -> None:
    op.drop_index("ix_actions_division", table_name="actions")
    op.drop_table("actions")
    op.drop_table("users")
