"""forms: every submission and fact names its form; the records of list forms

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 21:40:00

A ledger written before forms held one form only, the key-indicator return
(县（区）科技创新主要指标报表, forms/key-indicators/): its submissions and facts are marked so.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

FIRST_FORM = "key-indicators"  # the only form a ledger of revision 0001 can hold


def _has(table: str, column: str) -> bool:
    return column in {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def upgrade() -> None:
    # a ledger completed from before migrations may have had its tables created with these already
    if not _has("submissions", "form"):
        with op.batch_alter_table("submissions") as batch:
            batch.add_column(sa.Column("form", sa.Text(), nullable=True))
    if "ix_submissions_form" not in {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("submissions")}:
        op.create_index("ix_submissions_form", "submissions", ["form"], unique=False)
    if not _has("facts", "form"):
        with op.batch_alter_table("facts") as batch:
            batch.add_column(sa.Column("form", sa.Text(), nullable=True))
    op.execute(
        sa.text("UPDATE submissions SET form = :f WHERE county_code IS NOT NULL OR period IS NOT NULL").bindparams(
            f=FIRST_FORM
        )
    )
    op.execute(sa.text("UPDATE facts SET form = :f").bindparams(f=FIRST_FORM))
    op.create_table(
        "records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("form", sa.Text(), nullable=False),
        sa.Column("county_code", sa.Text(), nullable=False),
        sa.Column("period", sa.Text(), nullable=False),
        sa.Column("sheet", sa.Text(), nullable=True),
        sa.Column("row", sa.Integer(), nullable=True),
        sa.Column("key", sa.Text(), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_records_submission_id", "records", ["submission_id"], unique=False)
    op.create_index("ix_records_form_key", "records", ["form", "key"], unique=False)
    op.create_index("ix_records_form_period", "records", ["form", "period", "county_code"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_records_form_period", table_name="records")
    op.drop_index("ix_records_form_key", table_name="records")
    op.drop_index("ix_records_submission_id", table_name="records")
    op.drop_table("records")
    with op.batch_alter_table("facts") as batch:
        batch.drop_column("form")
    op.drop_index("ix_submissions_form", table_name="submissions")
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("form")
