"""The ledger's schema is Alembic's: the migrations build exactly the tables the code defines, on
SQLite and PostgreSQL; a ledger from before migrations is upgraded in place; many processes
opening a new ledger at once create it once."""

from __future__ import annotations

import subprocess
import sys

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from huizong.ledger import schema
from huizong.ledger.store import Store
from huizong.ledger.tables import metadata


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):  # type: ignore[no-untyped-def]
    if request.param == "postgresql":
        return request.getfixturevalue("pg_cluster").new_database()
    return f"sqlite:///{tmp_path / 'ledger.db'}"


def test_the_migrations_build_the_tables_the_code_defines(url):  # type: ignore[no-untyped-def]
    store = Store.open(url)
    assert schema.revision(store.engine) == schema.head()
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []
    assert set(sa.inspect(store.engine).get_table_names()) == {*metadata.tables, "alembic_version"}


def test_a_ledger_from_before_migrations_is_stamped_and_completed(tmp_path):  # type: ignore[no-untyped-def]
    db = tmp_path / "old.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:  # as huizong 0.1 created it: no alembic_version, no override columns
        conn.execute(sa.text("create table runs (id integer primary key, started_at varchar(32) not null, "
                             "finished_at varchar(32), inputs text, n_files integer, summary text)"))  # fmt: skip
        cols = ", ".join(
            f'"{c.name}" {c.type.compile(dialect=engine.dialect)}'
            for c in metadata.tables["submissions"].columns
            if not c.name.startswith("override_") and c.name not in ("id", "form")
        )
        conn.execute(sa.text(f"create table submissions (id integer primary key, {cols})"))
        conn.execute(sa.text("insert into submissions (file, inbox_path, sha256, size, received_at, status) "
                             "values ('a.xlsx', 'a.xlsx', 'ab', 1, 'now', 'accepted')"))  # fmt: skip
    engine.dispose()
    store = Store.open(f"sqlite:///{db}")
    assert schema.revision(store.engine) == schema.head()
    [row] = store.submissions()
    assert row["file"] == "a.xlsx" and row["override_by"] is None
    assert "facts" in sa.inspect(store.engine).get_table_names()


def test_processes_opening_a_new_ledger_together_create_it_once(url):  # type: ignore[no-untyped-def]
    code = "import sys; from huizong.ledger.store import Store; Store.open(sys.argv[1]).submissions()"
    procs = [subprocess.Popen([sys.executable, "-c", code, url], stderr=subprocess.PIPE, text=True) for _ in range(4)]
    errs = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errs
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("select version_num from alembic_version")).scalars().all() == [schema.head()]
    engine.dispose()


def test_text_with_nul_is_kept_visibly_on_every_backend(url):  # type: ignore[no-untyped-def]
    from huizong.ledger import store as st

    store = Store.open(url)
    with store.begin() as conn:
        sid = store.insert(conn, st.submissions, {"file": "a\x00b.xls", "inbox_path": "x", "sha256": "s", "size": 3,
                                                  "received_at": "now", "status": "rejected"})  # fmt: skip
        store.update_submission(conn, sid, reason="bad\x00cell")
        store.insert_many(conn, st.issues, [  # the bulk path (the driver's executemany): one row of two with a NUL
            {"submission_id": sid, "code": "c", "severity": "error", "message": "m\x00", "value": None},
            {"submission_id": sid, "code": "c", "severity": "error", "message": "plain", "value": 1.5}])  # fmt: skip
    [row] = store.submissions()
    assert (row["file"], row["reason"]) == ("a\\x00b.xls", "bad\\x00cell")
    assert [(i["message"], i["value"]) for i in store.issues_for([sid])] == [("m\\x00", None), ("plain", "1.5")]


def test_the_newest_migration_file_is_alembics_head_and_opening_a_current_ledger_skips_alembic(tmp_path):  # type: ignore[no-untyped-def]
    assert schema.newest_file() == schema.head()
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    Store.open(url).engine.dispose()
    code = (
        "import sys; from huizong.ledger.store import Store; Store.open(sys.argv[1]); print('alembic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
