"""The ledger's schema, brought to the newest migration when a store is opened.

Alembic owns the schema (`huizong/ledger/migrations/`), on SQLite and PostgreSQL alike. Opening
a store checks the revision (cheap, every run); only a ledger behind the newest revision is
upgraded, by one process at a time: PostgreSQL serializes it with an advisory lock (and its DDL is
transactional), SQLite with a lock file beside the database. A ledger written by huizong before
migrations existed (tables, no `alembic_version`) gets the tables and columns added since and is stamped
as the first revision, then upgraded like any other.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).parent / "migrations"
BASELINE = "0001"
ADVISORY_KEY = 0x6875697A6F6E67  # "huizong"


def alembic_config(connection: sa.Connection | None = None) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    from alembic.script import ScriptDirectory

    rev = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert rev is not None
    return rev


def revision(engine: sa.Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def newest_file() -> str:
    """The newest migration's revision as its file names it (`versions/0003_sightings.py`: 0003).
    The migrations are one line, each named after its revision (a test holds them to Alembic's
    head), so a run that finds its ledger there need not import Alembic (0.2 s a process)."""
    return max(p.name.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


def _stamped(engine: sa.Engine) -> str | None:
    """The ledger's revision, read as plain SQL."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        rows = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
        return rows[0] if len(rows) == 1 else None


@contextlib.contextmanager
def _one_at_a_time(engine: sa.Engine, conn: sa.Connection) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": ADVISORY_KEY})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
            conn.commit()
        return
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    fd = os.open(f"{database}.migrate-lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# What later migrations add (tables, and (table, column)): not part of the baseline a legacy ledger is
# completed to, so that those migrations find it as they expect.
AFTER_BASELINE = {
    "records",
    "sightings",
    "users",
    "actions",
    "sessions",
    "sign_in_failures",
    "reviews",
    "approvals",
    "explanations",
    "notices",
    "notice_marks",
    "publish_due",
    "published",
    ("submissions", "form"),
    ("facts", "form"),
}


def _complete_legacy(conn: sa.Connection) -> None:
    """A ledger created before migrations gets the tables and nullable columns added to the code
    since, so that it is the baseline revision."""
    from huizong.ledger.tables import metadata

    baseline = [t for t in metadata.sorted_tables if t.name not in AFTER_BASELINE]
    metadata.create_all(conn, tables=baseline)  # only the tables it lacks
    inspector = sa.inspect(conn)
    for table in baseline:
        if not inspector.has_table(table.name):
            continue
        have = {c["name"] for c in inspector.get_columns(table.name)}
        for col in table.columns:
            if col.name not in have and col.nullable and (table.name, col.name) not in AFTER_BASELINE:
                type_ = col.type.compile(dialect=conn.dialect)
                conn.execute(sa.text(f'ALTER TABLE {table.name} ADD COLUMN "{col.name}" {type_}'))


def upgrade(engine: sa.Engine) -> str:
    """Bring the ledger to the newest revision; returns it. Safe to call from several processes."""
    if _stamped(engine) == newest_file():
        return newest_file()
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    newest = head()
    if revision(engine) == newest:
        return newest
    with engine.connect() as conn, _one_at_a_time(engine, conn):
        current = MigrationContext.configure(conn).get_current_revision()
        if current is None and sa.inspect(conn).has_table("submissions"):
            _complete_legacy(conn)
            conn.commit()
            command.stamp(alembic_config(conn), BASELINE)
            conn.commit()
        command.upgrade(alembic_config(conn), "head")
        conn.commit()
    return newest
