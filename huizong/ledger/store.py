"""The ledger and the accepted facts, in any database SQLAlchemy reaches (SQLite by default).

Every file ever dropped has one `submissions` row with its sha256 and its current status.
A return's ledger row, facts, records and issues are written in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, TypedDict, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from huizong.ledger import schema
from huizong.ledger.tables import (
    facts,
    issues,
    locks,
    metadata,
    records,
    revisions,
    runs,
    sightings,
    submissions,
)
from huizong.words import Worded

__all__ = ["chunks", "facts", "issues", "locks", "metadata", "records", "revisions", "runs", "sightings", "submissions"]


T = TypeVar("T")
IN_BATCH = 500  # values bound in one `IN (...)`: well under every database's limit


def chunks(items: Sequence[T], size: int = IN_BATCH) -> Iterator[list[T]]:
    """`items` in lists of at most `size`, in order: the batches of a long `IN (...)` or of a commit."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


class Status(Worded):
    """What became of a file a county sent: its value in the ledger and the CSVs, and its Chinese label."""

    ACCEPTED = "accepted", "已报送"
    REJECTED = "rejected", "退回待改"
    DUPLICATE = "duplicate", "重复报送"
    SUPERSEDED = "superseded", "已更正替代"
    IGNORED = "ignored", "已忽略"

    __words__ = ("zh",)
    zh: str


ACCEPTED, REJECTED, DUPLICATE, SUPERSEDED, IGNORED = Status
STATUSES = tuple(Status)


class SubmissionRow(TypedDict):
    """A row of `submissions`, typed for the code that reads one (the desk): a key for each column."""

    id: int
    run_id: int | None
    file: str
    name_bytes: bytes | None
    inbox_path: str
    sha256: str
    size: int
    received_at: str
    format: str | None
    county_code: str | None
    period: str | None
    form: str | None
    status: str
    errors: int
    warnings: int
    reason: str | None
    stored_as: str | None
    duplicate_of: int | None
    superseded_by: int | None
    sheet: str | None
    office: str | None
    filled_by: str | None
    phone: str | None
    fill_date: str | None
    override_by: str | None
    override_reason: str | None
    override_at: str | None


def _text(value: Any) -> Any:
    """PostgreSQL's text holds no NUL (a county's .xls may): kept visible as \\x00, on every backend
    alike so that SQLite and PostgreSQL ledgers hold the same values."""
    return value.replace("\x00", "\\x00") if isinstance(value, str) and "\x00" in value else value


_PLACEHOLDER = {"qmark": "?", "format": "%s", "pyformat": "%s"}  # a positional parameter, by DB-API paramstyle


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _text(v) for k, v in row.items()}


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

        elif engine.dialect.name == "postgresql":
            engine = sa.create_engine(url, future=True, pool_pre_ping=True)
        schema.upgrade(engine)
        return cls(engine)

    def begin(self):
        return self.engine.begin()

    # reading -------------------------------------------------------------------------

    def _all(self, query: sa.Select[Any]) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            result = conn.execute(query)
            keys = list(result.keys())
            # where no column needs converting, the driver's own rows: SQLAlchemy's work per row was
            # half of reading the nation's 100,000 facts
            rows = result.cursor.fetchall() if self._raw(query) else result.all()
            return [dict(zip(keys, row, strict=True)) for row in rows]

    def _raw(self, query: sa.Select[Any]) -> bool:
        """Whether the driver's values are what SQLAlchemy would return for every selected column
        (on SQLite: text, integers and floats have no result processor; elsewhere a processor
        depends on the type the server reports, so SQLAlchemy reads the rows)."""
        dialect = self.engine.dialect
        return dialect.name == "sqlite" and all(
            c.type.dialect_impl(dialect).result_processor(dialect, None) is None for c in query.selected_columns
        )

    def growth(self, since: str) -> tuple[int, int, int, int]:
        """What the store keeps: (originals, their bytes) in all, and since `since` (an ISO time)."""
        s = submissions.c
        kept = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(s.size), 0)).where(s.stored_as.is_not(None))
        with self.engine.connect() as conn:
            every = conn.execute(kept).one()
            lately = conn.execute(kept.where(s.received_at >= since)).one()
        return int(every[0]), int(every[1]), int(lately[0]), int(lately[1])

    def submissions(
        self,
        *,
        ids: Iterable[int] | None = None,
        periods: Iterable[str] | None = None,
        run_ids: Iterable[int] | None = None,
        unplaced: bool = False,
        form: str | None = None,
        counties: Iterable[str] | None = None,
        newest: int | None = None,
    ) -> list[dict[str, Any]]:
        """Ledger rows in arrival order: all of them, or only those of these ids, periods, runs or
        counties, or the refused files no county or period could be read from (`unplaced`); with
        `newest`, only that many of the latest. A run asks for what it needs, so that its cost does
        not grow with years of history."""
        q = sa.select(submissions).order_by(submissions.c.id)
        if counties is not None:
            q = q.where(submissions.c.county_code.in_(list(counties)))
        if newest is not None:
            q = q.order_by(None).order_by(submissions.c.id.desc()).limit(newest)
        if ids is not None:
            q = q.where(submissions.c.id.in_(list(ids)))
        if periods is not None:
            q = q.where(submissions.c.period.in_(list(periods)))
        if run_ids is not None:
            q = q.where(submissions.c.run_id.in_(list(run_ids)))
        if form is not None:
            q = q.where(submissions.c.form == form)
        if unplaced:
            q = q.where(
                submissions.c.status == REJECTED,
                sa.or_(submissions.c.county_code.is_(None), submissions.c.period.is_(None)),
            )
        rows = self._all(q)
        return rows[::-1] if newest is not None else rows

    def of_county(self, county: str, uploads: str, newest: int) -> list[dict[str, Any]]:
        """The newest rows of a county: those read as its returns, and what it uploaded under
        `uploads` (a folder of the inbox) that could not be read as anyone's; newest first."""
        q = (
            sa.select(submissions)
            .where(
                sa.or_(
                    submissions.c.county_code == county, submissions.c.inbox_path.startswith(uploads, autoescape=True)
                )
            )
            .order_by(submissions.c.id.desc())
            .limit(newest)
        )
        return self._all(q)

    def submission(self, sid: int) -> SubmissionRow | None:
        """Submission `sid`, if there is one."""
        rows = self._all(sa.select(submissions).where(submissions.c.id == sid))
        return cast(SubmissionRow, rows[0]) if rows else None

    def by_inbox_path(self, rel: str) -> SubmissionRow | None:
        """The latest row of the file that was at `rel` in the inbox."""
        q = sa.select(submissions).where(submissions.c.inbox_path == rel).order_by(submissions.c.id.desc()).limit(1)
        rows = self._all(q)
        return cast(SubmissionRow, rows[0]) if rows else None

    def facts_of(self, submission_id: int) -> list[dict[str, Any]]:
        return self._all(sa.select(facts).where(facts.c.submission_id == submission_id).order_by(facts.c.id))

    def sent(self, period: str, form: str | None = None) -> list[str]:
        """The counties with any submission of the period (of the form)."""
        q = sa.select(submissions.c.county_code).where(submissions.c.period == period).distinct()
        if form is not None:
            q = q.where(submissions.c.form == form)
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(q) if r[0]]

    def submission_rows(self, columns: Sequence[str]) -> Iterator[tuple[Any, ...]]:
        """Every ledger row as a tuple of these columns, in arrival order, streamed (submissions.csv)."""
        q = sa.select(*(submissions.c[c] for c in columns)).order_by(submissions.c.id)
        with self.engine.connect() as conn:
            yield from conn.execution_options(yield_per=5000).execute(q)

    def by_sha(self, sha: str) -> list[dict[str, Any]]:
        q = sa.select(submissions).where(submissions.c.sha256 == sha).order_by(submissions.c.id)
        return self._all(q)

    def names_stored(self, stored_as: str) -> bool:
        """Does a ledger row say a file is kept at this path (relative to the store)?"""
        q = sa.select(submissions.c.id).where(submissions.c.stored_as == stored_as).limit(1)
        with self.engine.connect() as conn:
            return conn.execute(q).first() is not None

    def accepted_facts(
        self,
        counties: Sequence[str],
        period: str | None = None,
        lean: bool = False,
        form: str | None = None,
        periods: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Facts of the current accepted return of each county (one period, or all). `lean`: only
        county, period, indicator, column and number, and only the cells that hold a number (what
        totals above a city need; 300,000 facts of the nation are read several times faster)."""
        cols = (
            [facts.c.county_code, facts.c.period, facts.c.indicator, facts.c.column, facts.c.number]
            if lean
            else [facts, submissions.c.file, submissions.c.received_at]
        )
        q = (
            sa.select(*cols)
            .join(submissions, submissions.c.id == facts.c.submission_id)
            .where(submissions.c.status == ACCEPTED, facts.c.county_code.in_(list(counties)))
            .order_by(facts.c.county_code, facts.c.id)
        )
        if lean:
            q = q.where(facts.c.number.is_not(None))
        if period is not None:
            q = q.where(facts.c.period == period)
        if periods is not None:
            q = q.where(facts.c.period.in_(list(periods)))
        if form is not None:
            q = q.where(facts.c.form == form)
        return self._all(q)

    def current_values(
        self, counties: Sequence[str], periods: Sequence[str] | None, form: str | None = None
    ) -> list[dict[str, Any]]:
        """本期累计 of the current accepted returns of these counties (and periods), with file and cell:
        what the history rules compare a new return with, selected by the database."""
        if not counties:
            return []
        q = (
            sa.select(
                facts.c.county_code,
                facts.c.period,
                facts.c.indicator,
                facts.c.column,
                facts.c.number,
                facts.c.cell,
                submissions.c.file,
            )
            .join(submissions, submissions.c.id == facts.c.submission_id)
            .where(submissions.c.status == ACCEPTED, facts.c.column == "value", facts.c.county_code.in_(list(counties)))
        )
        if periods is not None:
            q = q.where(facts.c.period.in_(list(periods)))
        if form is not None:
            q = q.where(facts.c.form == form)
        return self._all(q)

    def records_for(self, submission_ids: Iterable[int]) -> list[dict[str, Any]]:
        """The list records of these submissions, in order, each with its fields as `data` (a dict)."""
        import json

        ids = list(submission_ids)
        q = sa.select(records).where(records.c.submission_id.in_(ids)).order_by(records.c.submission_id, records.c.row)
        out = self._all(q)
        for r in out:
            r["data"] = json.loads(r["data"])
        return out

    def records_in(self, form: str, periods: Iterable[str]) -> list[dict[str, Any]]:
        """The records of the current accepted returns of the form for these periods, with their
        file and their fields as `data` (a dict): what a unique() over fields other than the key
        compares with."""
        import json

        wanted = sorted(set(periods))
        out: list[dict[str, Any]] = []
        for part in chunks(wanted):
            q = (
                sa.select(
                    records.c.county_code,
                    records.c.period,
                    records.c.row,
                    records.c.sheet,
                    records.c.submission_id,
                    records.c.data,
                    submissions.c.file,
                )
                .join(submissions, submissions.c.id == records.c.submission_id)
                .where(records.c.form == form, records.c.period.in_(part), submissions.c.status == ACCEPTED)
            )
            out += self._all(q)
        for r in out:
            r["data"] = json.loads(r["data"])
        return out

    def keys_taken(self, form: str, keys: Iterable[str]) -> list[dict[str, Any]]:
        """Records of current accepted returns of the form whose key is one of these, with their file:
        what a new return's keys must not repeat (合同登记号 unique across every return)."""
        wanted = sorted(set(keys))
        out: list[dict[str, Any]] = []
        for part in chunks(wanted):
            q = (
                sa.select(
                    records.c.key,
                    records.c.county_code,
                    records.c.period,
                    records.c.row,
                    records.c.sheet,
                    records.c.submission_id,
                    submissions.c.file,
                )
                .join(submissions, submissions.c.id == records.c.submission_id)
                .where(records.c.form == form, records.c.key.in_(part), submissions.c.status == ACCEPTED)
            )
            out += self._all(q)
        return out

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

    def periods(self, counties: Sequence[str], form: str | None = None) -> list[str]:
        q = (
            sa.select(submissions.c.period)
            .where(submissions.c.county_code.in_(list(counties)), submissions.c.period.is_not(None))
            .distinct()
        )
        if form is not None:
            q = q.where(submissions.c.form == form)
        with self.engine.connect() as conn:
            return sorted(r[0] for r in conn.execute(q))

    def sight(self, entries: Iterable[tuple[str, int, int]], seen_at: str) -> None:
        """Record when these inbox files (path, size, mtime) were first seen; later sightings keep it."""
        wanted = list(entries)
        if not wanted:
            return
        with self.begin() as conn:
            paths = sorted({p for p, _, _ in wanted})
            known = set()
            for part in chunks(paths):
                q = sa.select(sightings.c.inbox_path, sightings.c.size, sightings.c.mtime_ns).where(
                    sightings.c.inbox_path.in_(part)
                )
                known |= {tuple(r) for r in conn.execute(q)}
            new = [
                {"inbox_path": p, "size": n, "mtime_ns": m, "seen_at": seen_at}
                for p, n, m in wanted
                if (p, n, m) not in known
            ]
            if new:
                conn.execute(sa.insert(sightings), new)

    def seen(self, entries: Iterable[tuple[str, int, int]]) -> dict[tuple[str, int, int], str]:
        """When these inbox entries (path, size, mtime) were first seen, where known."""
        wanted = set(entries)
        paths = sorted({p for p, _, _ in wanted})
        out: dict[tuple[str, int, int], str] = {}
        with self.engine.connect() as conn:
            for part in chunks(paths):
                q = sa.select(sightings).where(sightings.c.inbox_path.in_(part))
                for r in conn.execute(q):
                    key = (r.inbox_path, int(r.size), int(r.mtime_ns))
                    if key in wanted:
                        out[key] = str(r.seen_at)
        return out

    # writing -------------------------------------------------------------------------

    @staticmethod
    def insert(conn: Connection, table: sa.Table, row: dict[str, Any]) -> int:
        # the row as parameters of the table's one INSERT (compiled once per set of keys), not as
        # values built into a new statement every time: a national run inserts 3,000 submissions
        result = conn.execute(sa.insert(table), _clean(row))
        pk = result.inserted_primary_key
        assert pk is not None
        return int(pk[0])

    @staticmethod
    def insert_many(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        """Rows that all have the same keys, through the driver's own executemany: a national run
        writes half a million facts and records, and SQLAlchemy's work per row was most of it."""
        if not rows:
            return
        keys = list(rows[0])
        mark = _PLACEHOLDER.get(conn.dialect.paramstyle)
        if mark is None or any(len(r) != len(keys) for r in rows):
            conn.execute(sa.insert(table), [_clean(r) for r in rows])
            return
        quote = conn.dialect.identifier_preparer.quote
        sql = (
            f"INSERT INTO {quote(table.name)} ({', '.join(quote(k) for k in keys)}) "
            f"VALUES ({', '.join([mark] * len(keys))})"
        )
        get = itemgetter(*keys)
        values = [get(r) for r in rows] if len(keys) > 1 else [(get(r),) for r in rows]
        if any("\x00" in v for t in values for v in t if type(v) is str):  # rare: cleaned row by row
            values = [tuple(_text(v) for v in t) for t in values]
        conn.exec_driver_sql(sql, values)

    @staticmethod
    def update_submission(conn: Connection, sid: int, **values: Any) -> None:
        conn.execute(sa.update(submissions).where(submissions.c.id == sid).values(**_clean(values)))
