"""The ledger and the accepted facts, in any database SQLAlchemy reaches (SQLite by default).

Every file ever dropped has one `submissions` row with its sha256 and its current status.
A return's ledger row, facts, projects and issues are written in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

ACCEPTED, REJECTED, DUPLICATE, SUPERSEDED, IGNORED = "accepted", "rejected", "duplicate", "superseded", "ignored"
STATUSES = (ACCEPTED, REJECTED, DUPLICATE, SUPERSEDED, IGNORED)

metadata = sa.MetaData()

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("started_at", sa.String(32), nullable=False),
    sa.Column("finished_at", sa.String(32)),
    sa.Column("inputs", sa.Text),
    sa.Column("n_files", sa.Integer, default=0),
    sa.Column("summary", sa.Text),  # JSON: counts by status
)

submissions = sa.Table(
    "submissions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id")),
    sa.Column("file", sa.Text, nullable=False),  # the name as dropped, readable (see inbox.readable_name)
    sa.Column("name_bytes", sa.LargeBinary),  # the path under the inbox exactly as the file system had it
    sa.Column("inbox_path", sa.Text, nullable=False),  # relative to the inbox
    sa.Column("sha256", sa.String(64), nullable=False, index=True),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("received_at", sa.String(32), nullable=False),
    sa.Column("format", sa.String(8)),
    sa.Column("county_code", sa.String(12), index=True),
    sa.Column("period", sa.String(8), index=True),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("errors", sa.Integer, default=0),
    sa.Column("warnings", sa.Integer, default=0),
    sa.Column("reason", sa.Text),
    sa.Column("stored_as", sa.Text),
    sa.Column("duplicate_of", sa.Integer),
    sa.Column("superseded_by", sa.Integer),
    sa.Column("sheet", sa.Text),
    sa.Column("office", sa.Text),
    sa.Column("filled_by", sa.Text),
    sa.Column("phone", sa.Text),
    sa.Column("fill_date", sa.Text),
    sa.Column("override_by", sa.Text),  # `huizong accept`: who accepted a refused return,
    sa.Column("override_reason", sa.Text),  # why,
    sa.Column("override_at", sa.String(32)),  # and when
)

facts = sa.Table(
    "facts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("submission_id", sa.Integer, sa.ForeignKey("submissions.id"), nullable=False, index=True),
    sa.Column("county_code", sa.String(12), nullable=False),
    sa.Column("period", sa.String(8), nullable=False),
    sa.Column("indicator", sa.String(16), nullable=False),
    sa.Column("column", sa.String(12), nullable=False),  # target | value | last_year
    sa.Column("number", sa.Float),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("raw", sa.Text),
    sa.Column("unit_written", sa.Text),
    sa.Column("flags", sa.Text),
    sa.Column("sheet", sa.Text),
    sa.Column("cell", sa.String(16)),
    sa.Column("note", sa.Text),
    sa.Index("ix_facts_key", "period", "county_code", "indicator"),
)

projects = sa.Table(
    "projects",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("submission_id", sa.Integer, sa.ForeignKey("submissions.id"), nullable=False, index=True),
    sa.Column("sheet", sa.Text),
    sa.Column("row", sa.Integer),
    sa.Column("name", sa.Text),
    sa.Column("org", sa.Text),
    sa.Column("uscc", sa.String(32)),
    sa.Column("category", sa.Text),
    sa.Column("status", sa.Text),
    sa.Column("funds", sa.Float),
    sa.Column("funds_raw", sa.Text),
    sa.Column("note", sa.Text),
)

issues = sa.Table(
    "issues",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("submission_id", sa.Integer, sa.ForeignKey("submissions.id"), nullable=False, index=True),
    sa.Column("code", sa.String(48), nullable=False),
    sa.Column("severity", sa.String(8), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("sheet", sa.Text),
    sa.Column("cell", sa.String(16)),
    sa.Column("indicator", sa.String(16)),
    sa.Column("value", sa.Text),
    sa.Column("explanation", sa.Text),
)


locks = sa.Table(
    "locks",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("host", sa.String(200)),
    sa.Column("pid", sa.Integer),
    sa.Column("acquired_at", sa.DateTime),
    sa.Column("heartbeat_at", sa.DateTime),
)

revisions = sa.Table(
    "revisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("submission_id", sa.Integer, sa.ForeignKey("submissions.id"), nullable=False, index=True),
    sa.Column("previous_id", sa.Integer, sa.ForeignKey("submissions.id"), nullable=False),
    sa.Column("indicator", sa.String(16), nullable=False),
    sa.Column("column", sa.String(12), nullable=False),
    sa.Column("old", sa.Float),
    sa.Column("new", sa.Float),
    sa.Column("old_raw", sa.Text),
    sa.Column("new_raw", sa.Text),
    sa.Column("cell", sa.String(16)),
)


def _create_schema(engine: Engine, attempts: int = 10) -> None:
    """Create the tables, tolerating another process that creates them at the same moment
    (two runs started together on a new ledger: the loser sees "already exists" and retries)."""
    import time

    for attempt in range(attempts):
        try:
            metadata.create_all(engine)
            _add_missing_columns(engine)
            return
        except sa.exc.OperationalError as e:
            if attempt == attempts - 1 or not any(w in str(e) for w in ("already exists", "locked", "duplicate")):
                raise
            time.sleep(0.2 * (attempt + 1))


def _add_missing_columns(engine: Engine) -> None:
    """A ledger created by an older huizong gets the nullable columns added since."""
    inspector = sa.inspect(engine)
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            have = {c["name"] for c in inspector.get_columns(table.name)}
            for col in table.columns:
                if col.name not in have and col.nullable:
                    type_ = col.type.compile(dialect=engine.dialect)
                    conn.execute(sa.text(f'ALTER TABLE {table.name} ADD COLUMN "{col.name}" {type_}'))


@dataclass
class Store:
    engine: Engine

    @classmethod
    def open(cls, url: str) -> Store:
        engine = sa.create_engine(url, future=True)
        if engine.dialect.name == "sqlite":

            @sa.event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn: Any, _: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.close()

        _create_schema(engine)
        return cls(engine)

    def begin(self):
        return self.engine.begin()

    # reading -------------------------------------------------------------------------

    def _all(self, query: sa.Select[Any]) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def submissions(self) -> list[dict[str, Any]]:
        return self._all(sa.select(submissions).order_by(submissions.c.id))

    def by_sha(self, sha: str) -> list[dict[str, Any]]:
        q = sa.select(submissions).where(submissions.c.sha256 == sha).order_by(submissions.c.id)
        return self._all(q)

    def names_stored(self, stored_as: str) -> bool:
        """Does a ledger row say a file is kept at this path (relative to the store)?"""
        q = sa.select(submissions.c.id).where(submissions.c.stored_as == stored_as).limit(1)
        with self.engine.connect() as conn:
            return conn.execute(q).first() is not None

    def current(self, county: str, period: str) -> dict[str, Any] | None:
        q = sa.select(submissions).where(
            submissions.c.county_code == county,
            submissions.c.period == period,
            submissions.c.status == ACCEPTED,
        )
        rows = self._all(q)
        return rows[0] if rows else None

    def accepted_facts(self, counties: Sequence[str], period: str | None = None) -> list[dict[str, Any]]:
        """Facts of the current accepted return of each county (one period, or all)."""
        q = (
            sa.select(facts, submissions.c.file, submissions.c.received_at)
            .join(submissions, submissions.c.id == facts.c.submission_id)
            .where(submissions.c.status == ACCEPTED, facts.c.county_code.in_(list(counties)))
            .order_by(facts.c.county_code, facts.c.id)
        )
        if period is not None:
            q = q.where(facts.c.period == period)
        return self._all(q)

    def current_values(self, counties: Sequence[str], periods: Sequence[str] | None) -> list[dict[str, Any]]:
        """本期累计 of the current accepted returns of these counties (and periods), with file and cell:
        what the history rules compare a new return with, selected by the database."""
        if not counties:
            return []
        q = (
            sa.select(facts.c.county_code, facts.c.period, facts.c.indicator, facts.c.column, facts.c.number,
                      facts.c.cell, submissions.c.file)
            .join(submissions, submissions.c.id == facts.c.submission_id)
            .where(submissions.c.status == ACCEPTED, facts.c.column == "value", facts.c.county_code.in_(list(counties)))
        )  # fmt: skip
        if periods is not None:
            q = q.where(facts.c.period.in_(list(periods)))
        return self._all(q)

    def projects_for(self, submission_ids: Iterable[int]) -> list[dict[str, Any]]:
        ids = list(submission_ids)
        q = (
            sa.select(projects)
            .where(projects.c.submission_id.in_(ids))
            .order_by(projects.c.submission_id, projects.c.row)
        )
        return self._all(q)

    def issues_for(self, submission_ids: Iterable[int]) -> list[dict[str, Any]]:
        ids = list(submission_ids)
        q = sa.select(issues).where(issues.c.submission_id.in_(ids)).order_by(issues.c.submission_id, issues.c.id)
        return self._all(q)

    def runs(self) -> list[dict[str, Any]]:
        return self._all(sa.select(runs).order_by(runs.c.id))

    def revisions_for(self, submission_ids: Iterable[int]) -> list[dict[str, Any]]:
        ids = list(submission_ids)
        q = sa.select(revisions).where(revisions.c.submission_id.in_(ids)).order_by(revisions.c.id)
        return self._all(q)

    def periods(self, counties: Sequence[str]) -> list[str]:
        q = (
            sa.select(submissions.c.period)
            .where(submissions.c.county_code.in_(list(counties)), submissions.c.period.is_not(None))
            .distinct()
        )
        with self.engine.connect() as conn:
            return sorted(r[0] for r in conn.execute(q))

    # writing -------------------------------------------------------------------------

    @staticmethod
    def insert(conn: Connection, table: sa.Table, row: dict[str, Any]) -> int:
        result = conn.execute(sa.insert(table).values(**row))
        pk = result.inserted_primary_key
        assert pk is not None
        return int(pk[0])

    @staticmethod
    def insert_many(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        if rows:
            conn.execute(sa.insert(table), rows)

    @staticmethod
    def update_submission(conn: Connection, sid: int, **values: Any) -> None:
        conn.execute(sa.update(submissions).where(submissions.c.id == sid).values(**values))
