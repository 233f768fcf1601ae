"""one form model: the key form's project detail is a list of the form, kept as records

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 23:00:00

Until now an indicator form's project detail (项目明细) had a table of its own, `projects`, with a
column per role. It is now a `[list]` of the form like any other, so its rows move into `records`:
one record per project, under its submission's form, county and period, its fields as JSON by
the codes of the key form's fields.csv (name, org, uscc, category, status, funds, note). Nothing
is lost: the funds as written (`funds_raw`) are kept beside the number when they differ from it,
and the downgrade puts every row back.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

FIELDS = ("name", "org", "uscc", "category", "status", "funds", "note")
RAW = "_raw"  # the funds as written, when they say more than the number
CHUNK = 5000


def _tables() -> tuple[sa.Table, sa.Table, sa.Table]:
    meta = sa.MetaData()
    projects = sa.Table(
        "projects",
        meta,
        sa.Column("id", sa.Integer),
        sa.Column("submission_id", sa.Integer),
        sa.Column("sheet", sa.Text),
        sa.Column("row", sa.Integer),
        sa.Column("name", sa.Text),
        sa.Column("org", sa.Text),
        sa.Column("uscc", sa.Text),
        sa.Column("category", sa.Text),
        sa.Column("status", sa.Text),
        sa.Column("funds", sa.Float),
        sa.Column("funds_raw", sa.Text),
        sa.Column("note", sa.Text),
    )
    records = sa.Table(
        "records",
        meta,
        sa.Column("id", sa.Integer),
        sa.Column("submission_id", sa.Integer),
        sa.Column("form", sa.Text),
        sa.Column("county_code", sa.Text),
        sa.Column("period", sa.Text),
        sa.Column("sheet", sa.Text),
        sa.Column("row", sa.Integer),
        sa.Column("key", sa.Text),
        sa.Column("data", sa.Text),
    )
    submissions = sa.Table(
        "submissions",
        meta,
        sa.Column("id", sa.Integer),
        sa.Column("form", sa.Text),
        sa.Column("county_code", sa.Text),
        sa.Column("period", sa.Text),
    )
    return projects, records, submissions


def _shown(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else repr(float(number))


def record_data(row: dict[str, Any]) -> dict[str, Any]:
    """A project row's fields as a record's data (the funds as written kept when they differ)."""
    data = {f: row[f] for f in FIELDS}
    raw = row.get("funds_raw")
    if raw and (row["funds"] is None or raw.replace(",", "").strip() != _shown(row["funds"])):
        data[RAW] = {"funds": raw}
    return data


def upgrade() -> None:
    bind = op.get_bind()
    if "projects" not in sa.inspect(bind).get_table_names():
        return
    projects, records, submissions = _tables()
    q = (
        sa.select(projects, submissions.c.form, submissions.c.county_code, submissions.c.period)
        .join(submissions, submissions.c.id == projects.c.submission_id)
        .order_by(projects.c.id)
    )
    batch: list[dict[str, Any]] = []
    for row in bind.execute(q).mappings():
        if not (row["form"] and row["county_code"] and row["period"]):
            continue  # only accepted returns had projects: these always have all three
        batch.append(
            {
                "submission_id": row["submission_id"],
                "form": row["form"],
                "county_code": row["county_code"],
                "period": row["period"],
                "sheet": row["sheet"],
                "row": row["row"],
                "key": None,
                "data": json.dumps(record_data(dict(row)), ensure_ascii=False, sort_keys=True),
            }
        )
        if len(batch) >= CHUNK:
            bind.execute(records.insert(), batch)
            batch = []
    if batch:
        bind.execute(records.insert(), batch)
    with op.batch_alter_table("projects") as b:
        b.drop_index("ix_projects_submission_id")
    op.drop_table("projects")


def downgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("sheet", sa.Text(), nullable=True),
        sa.Column("row", sa.Integer(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("org", sa.Text(), nullable=True),
        sa.Column("uscc", sa.Text(), nullable=True),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=True),
        sa.Column("funds", sa.Float(), nullable=True),
        sa.Column("funds_raw", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_projects_submission_id", "projects", ["submission_id"], unique=False)
    bind = op.get_bind()
    projects, records, _ = _tables()
    q = sa.select(records).where(records.c.key.is_(None)).order_by(records.c.id)
    moved: list[int] = []
    for row in bind.execute(q).mappings():
        data = json.loads(row["data"])
        if not set(data) - {RAW} <= set(FIELDS):
            continue  # another list's record: not a project
        funds = data.get("funds")
        raw = data.get(RAW, {}).get("funds") or ("" if funds is None else _shown(funds))
        bind.execute(
            projects.insert().values(
                submission_id=row["submission_id"],
                sheet=row["sheet"],
                row=row["row"],
                funds_raw=raw,
                **{f: data.get(f) for f in FIELDS},
            )
        )
        moved.append(row["id"])
    for i in range(0, len(moved), CHUNK):
        bind.execute(records.delete().where(records.c.id.in_(moved[i : i + CHUNK])))
