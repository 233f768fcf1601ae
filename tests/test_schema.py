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
        conn.execute(
            sa.text(
                "create table runs (id integer primary key, started_at varchar(32) not null, "
                "finished_at varchar(32), inputs text, n_files integer, summary text)"
            )
        )
        cols = ", ".join(
            f'"{c.name}" {c.type.compile(dialect=engine.dialect)}'
            for c in metadata.tables["submissions"].columns
            if not c.name.startswith("override_") and c.name not in ("id", "form")
        )
        conn.execute(sa.text(f"create table submissions (id integer primary key, {cols})"))
        conn.execute(
            sa.text(
                "insert into submissions (file, inbox_path, sha256, size, received_at, status) "
                "values ('a.xlsx', 'a.xlsx', 'ab', 1, 'now', 'accepted')"
            )
        )
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
        sid = store.insert(
            conn,
            st.submissions,
            {
                "file": "a\x00b.xls",
                "inbox_path": "x",
                "sha256": "s",
                "size": 3,
                "received_at": "now",
                "status": "rejected",
            },
        )
        store.update_submission(conn, sid, reason="bad\x00cell")
        store.insert_many(
            conn,
            st.issues,
            [  # the bulk path (the driver's executemany): one row of two with a NUL
                {"submission_id": sid, "code": "c", "severity": "error", "message": "m\x00", "value": None},
                {"submission_id": sid, "code": "c", "severity": "error", "message": "plain", "value": 1.5},
            ],
        )
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


def test_project_rows_of_an_older_ledger_become_records_of_the_key_form_and_come_back(url):  # type: ignore[no-untyped-def]
    """0006: the key form's project detail is a list of the form; every project row moves into
    `records` with nothing lost (the funds as written kept where they say more than the number),
    and the downgrade puts each row back as it was."""
    import json

    from alembic import command

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        command.upgrade(schema.alembic_config(conn), "0005")
        conn.execute(
            sa.text(
                "insert into submissions (id, file, inbox_path, sha256, size, received_at, status, "
                "county_code, period, form) values (1, 'a.xlsx', 'a.xlsx', 'ab', 1, 'now', 'accepted', "
                "'620722', '2024H1', 'key-indicators')"
            )
        )
        rows = [
            (
                1,
                1,
                "项目明细",
                2,
                "马铃薯（1）",
                "甲公司",
                "91620722MA71ABC1K0",
                "省级重点研发计划",
                "立项",
                12.5,
                "12.5",
                None,
            ),
            (2, 1, "项目明细", 3, "乙", "乙公司", None, "其他", "申报", 200.0, "200万元", "备注"),
            (3, 1, "项目明细", 4, "丙", "", None, None, None, None, "", None),
        ]
        for r in rows:
            conn.execute(
                sa.text("insert into projects values (:i, :s, :sh, :r, :n, :o, :u, :c, :st, :f, :fr, :no)"),
                dict(zip(["i", "s", "sh", "r", "n", "o", "u", "c", "st", "f", "fr", "no"], r, strict=True)),
            )
        command.upgrade(schema.alembic_config(conn), "head")
        assert "projects" not in sa.inspect(conn).get_table_names()
        got = conn.execute(
            sa.text("select submission_id, form, county_code, period, sheet, row, key, data from records order by row")
        ).all()
        assert [g[:7] for g in got] == [
            (1, "key-indicators", "620722", "2024H1", "项目明细", n, None) for n in (2, 3, 4)
        ]
        data = [json.loads(g[7]) for g in got]
        assert data[0] == {
            "name": "马铃薯（1）",
            "org": "甲公司",
            "uscc": "91620722MA71ABC1K0",
            "category": "省级重点研发计划",
            "status": "立项",
            "funds": 12.5,
            "note": None,
        }
        assert data[1]["funds"] == 200.0 and data[1]["_raw"] == {"funds": "200万元"} and data[1]["note"] == "备注"
        assert "_raw" not in data[2] and data[2]["funds"] is None
        command.downgrade(schema.alembic_config(conn), "0005")
        back = conn.execute(sa.text("select * from projects order by id")).all()
        assert [tuple(b[1:]) for b in back] == [r[1:] for r in rows]
        assert conn.execute(sa.text("select count(*) from records")).scalar() == 0
    engine.dispose()


def test_the_typed_submission_row_has_a_key_for_each_column():  # type: ignore[no-untyped-def]
    """`SubmissionRow` (what the desk reads) cannot drift from the table."""
    from huizong.ledger.store import SubmissionRow
    from huizong.ledger.tables import submissions

    assert list(SubmissionRow.__annotations__) == [c.name for c in submissions.columns]
    assert SubmissionRow.__required_keys__ == frozenset(c.name for c in submissions.columns)
