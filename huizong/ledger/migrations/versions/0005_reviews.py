"""reviews: a reviewer's verdict on each return, approved and reported periods, counties' explanations of warnings

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reviews",
        sa.Column("submission_id", sa.Integer(), sa.ForeignKey("submissions.id"), primary_key=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("at", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text()),
    )
    op.create_table(
        "approvals",
        sa.Column("form", sa.Text(), primary_key=True),
        sa.Column("division", sa.Text(), primary_key=True),
        sa.Column("period", sa.Text(), primary_key=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("at", sa.Text(), nullable=False),
        sa.Column("reported_at", sa.Text()),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_table(
        "explanations",
        sa.Column("issue_id", sa.Integer(), sa.ForeignKey("issues.id"), primary_key=True),
        sa.Column("submission_id", sa.Integer(), sa.ForeignKey("submissions.id"), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("at", sa.Text(), nullable=False),
    )
    op.create_index("ix_explanations_submission_id", "explanations", ["submission_id"])


def downgrade() -> None:
    op.drop_index("ix_explanations_submission_id", table_name="explanations")
    op.drop_table("explanations")
    op.drop_table("approvals")
    op.drop_table("reviews")
