"""Running for months: reporting rate, revisions with an audit trail, run history, one run at a time."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import openpyxl
import pytest
from builders import BASE_VALUES, write_return
from conftest import cli

from huizong.ledger.runlock import RunLocked, run_lock
from huizong.pipeline import open_store

pytestmark = pytest.mark.both_stores


def at(when: str):  # type: ignore[no-untyped-def]
    """Run with the clock at `when` (Asia/Shanghai)."""
    os.environ["HUIZONG_NOW"] = f"{when}+08:00"


@pytest.fixture(autouse=True)
def _clock():  # type: ignore[no-untyped-def]
    yield
    os.environ.pop("HUIZONG_NOW", None)


def values(**changes: object) -> dict[str, object]:
    return {**{k: v for k, v in BASE_VALUES.items() if k not in {"A02", "A04", "E06"}}, **changes}


def test_reporting_rate_on_time_late_missing_refused(ws, config):  # type: ignore[no-untyped-def]
    from huizong.publish.reporting import matrix

    at("2024-07-09T16:00:00")
    write_return(ws.drop("甘州区.xlsx"), "620702", "2024H1", values())
    write_return(ws.drop("山丹县.xlsx"), "620725", "2024H1", values(B02=99))  # refused
    ws.run()
    at("2024-07-11T09:00:00")
    write_return(ws.drop("民乐县.xlsx"), "620722", "2024H1", values())  # a day late
    ws.run()
    at("2024-07-15T09:00:00")
    write_return(ws.drop("甘州区_更正.xlsx"), "620702", "2024H1", values(A01=5200))  # a correction stays on time
    ws.run()
    m = matrix(open_store(ws.settings), config.for_form("key-indicators"), "620700")
    got = {c.code: m.cells[(c.code, "2024H1")].status for c in m.counties}
    assert got == {
        "620702": "on-time",
        "620721": "missing",
        "620722": "late",
        "620723": "missing",
        "620724": "missing",
        "620725": "refused",
    }
    assert m.rate("2024H1") == (1, 2, 6)
    book = openpyxl.load_workbook(ws.outputs / "620700" / "key-indicators" / "报送情况_主要指标_张掖市.xlsx")
    rows = {r[0].value: r[1].value for r in book["报送率"].iter_rows(min_row=5) if r[0].value}
    assert rows["甘州区"] == "按时报送" and rows["民乐县"] == "逾期报送" and rows["山丹县"] == "退回待改"
    assert rows["截止日期"] == "2024-07-10" and rows["按时/已报/应报"] == "1/2/6"
    assert (
        "报送率"
        not in openpyxl.load_workbook(
            ws.outputs / "620700" / "key-indicators" / "2024H1" / "主要指标汇总_张掖市_2024H1.xlsx"
        ).sheetnames
    )
    page = (ws.outputs / "validation" / "index.html").read_text(encoding="utf-8")
    assert "rs-late" in page and "逾期未报" in page
    csv_rows = {(r["county_code"], r["period"]): r["status"] for r in ws.csv("620700/key-indicators/reporting.csv")}
    assert csv_rows[("620722", "2024H1")] == "late" and csv_rows[("620721", "2024H1")] == "missing"


def test_the_reporting_status_is_refreshed_by_a_run_with_nothing_new(ws):  # type: ignore[no-untyped-def]
    """After a deadline passes, the status must say 逾期未报 without any new file arriving."""
    import os

    os.environ["HUIZONG_NOW"] = "2024-07-08T09:00:00+08:00"
    try:
        write_return(ws.drop("甘州区.xlsx"), "620702", "2024H1", values())
        ws.run()
        before = {(r["county_code"], r["period"]): r["status"] for r in ws.csv("620700/key-indicators/reporting.csv")}
        assert before[("620721", "2024H1")] == "not-due"
        os.environ["HUIZONG_NOW"] = "2024-07-12T09:00:00+08:00"
        assert ws.run().decisions == []
        after = {(r["county_code"], r["period"]): r["status"] for r in ws.csv("620700/key-indicators/reporting.csv")}
        assert after[("620721", "2024H1")] == "missing"
        book = openpyxl.load_workbook(ws.outputs / "620700" / "key-indicators" / "报送情况_主要指标_张掖市.xlsx")
        assert any(r[0].value == "肃南裕固族自治县" and r[1].value == "逾期未报" for r in book["报送率"].iter_rows())
    finally:
        os.environ.pop("HUIZONG_NOW", None)


def test_not_yet_due_and_the_annual_deadline_next_january(ws, config):  # type: ignore[no-untyped-def]
    import datetime as dt

    from huizong.publish.reporting import due_at, load_deadlines, matrix
    from huizong.read.periods import Period

    d = load_deadlines(config.for_form("key-indicators"))
    assert due_at(Period(2024, "FY"), d).date() == dt.date(2025, 1, 20)
    assert due_at(Period(2024, "Q3"), d).date() == dt.date(2024, 10, 10)
    at("2024-12-30T10:00:00")
    write_return(ws.drop("r.xlsx"), "620702", "2024年度", values())
    ws.run()
    m = matrix(
        open_store(ws.settings),
        config.for_form("key-indicators"),
        "620700",
        today=dt.datetime.fromisoformat("2024-12-31T00:00:00+08:00"),
    )
    assert m.cells[("620721", "2024FY")].status == "not-due"
    assert m.cells[("620702", "2024FY")].status == "on-time"


def test_status_command(ws):  # type: ignore[no-untyped-def]
    at("2024-07-09T16:00:00")
    write_return(ws.drop("r.xlsx"), "620702", "2024H1", values())
    ws.run()
    at("2024-07-20T09:00:00")  # after the deadline
    r = cli("status", "--db", ws.settings.db_url, "--period", "2024H1")
    assert r.returncode == 0, r.stderr
    assert "甘州区" in r.stdout and "按时报送" in r.stdout and "逾期未报" in r.stdout and "1/1/6" in r.stdout
    assert "原件库：1 份，共 0.0 MB；近 7 天新增 0 份、0.0 MB" in r.stdout  # the store's growth (received 9 July)


def test_a_correction_keeps_a_cell_by_cell_diff(ws):  # type: ignore[no-untyped-def]
    first = write_return(ws.drop("高台县.xlsx"), "620724", "2024H1", values(A01=51000, B01=36))
    os.utime(first, (1_700_000_000, 1_700_000_000))
    ws.run()
    write_return(ws.drop("高台县_更正.xlsx"), "620724", "2024H1", values(A01=5100, B01=38, F06=None))
    ws.run()
    rows = ws.sql('select submission_id, previous_id, indicator, "column", old, new, cell from revisions order by id')
    a01, b01, f06 = (10 + list(values()).index(c) for c in ("A01", "B01", "F06"))
    assert rows == [
        (2, 1, "A01", "value", 51000.0, 5100.0, f"F{a01}"),
        (2, 1, "B01", "value", 36.0, 38.0, f"F{b01}"),
        (2, 1, "F06", "value", 10000.0, None, f"F{f06}"),
    ]
    book = openpyxl.load_workbook(
        ws.outputs / "620700" / "key-indicators" / "2024H1" / "主要指标汇总_张掖市_2024H1.xlsx"
    )
    changes = [[c.value for c in r][:6] for r in book["更正记录"].iter_rows(min_row=5) if r[0].value]
    assert changes[0] == ["620724", "A01", "全社会研发经费支出", "本期累计", 51000, 5100]
    assert book["更正记录"].cell(row=5, column=5).number_format == "#,##0.####"
    page = (ws.outputs / "validation" / "620700" / "key-indicators" / "2024H1.html").read_text(encoding="utf-8")
    assert '<td class="n">51,000</td><td class="n">5,100</td>' in page and "51000.0" not in page


def test_history_lists_runs(ws):  # type: ignore[no-untyped-def]
    write_return(ws.drop("r.xlsx"), "620702", "2024H1", values())
    ws.run()
    ws.run()
    r = cli("history", "--db", ws.settings.db_url)
    assert r.returncode == 0, r.stderr
    assert "accepted 1" in r.stdout and "没有新文件" in r.stdout


def test_the_lock_refuses_a_second_holder_and_frees_a_dead_ones(ws):  # type: ignore[no-untyped-def]
    store = open_store(ws.settings)
    with run_lock(store), pytest.raises(RunLocked, match="另一个运行正在进行"), run_lock(store, wait=0.5, poll=0.1):
        pass
    # a holder that was killed: its pid is gone, so the lock is free at once
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket

    import sqlalchemy as sa

    from huizong.ledger.store import locks

    with store.begin() as conn:
        conn.execute(
            sa.insert(locks).values(
                name="run",
                owner="ghost",
                host=socket.gethostname(),
                pid=int(dead.stdout),
                acquired_at=None,
                heartbeat_at=None,
            )
        )
    with run_lock(store, wait=0):
        pass


def test_two_runs_started_together_equal_a_single_run(ws):  # type: ignore[no-untyped-def]
    for n, county in enumerate(["620702", "620721", "620722"]):
        write_return(ws.drop(f"r{n}.xlsx"), county, "2024H1", values())
    env = {
        **os.environ,
        "HUIZONG_INPUTS": str(ws.inputs),
        "HUIZONG_OUTPUTS": str(ws.outputs),
        "HUIZONG_STORE": str(ws.store),
        "HUIZONG_DB": ws.settings.db_url,
    }
    cmd = [sys.executable, "-m", "huizong.cli", "run", "--no-prefect"]
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    statuses = ws.sql("select file, status from submissions order by id")
    runs = ws.sql("select count(*), count(finished_at) from runs")[0]
    assert statuses == [("r0.xlsx", "accepted"), ("r1.xlsx", "accepted"), ("r2.xlsx", "accepted")]
    assert runs == (2, 2)  # the second waited, then found nothing new
    assert ws.totals("2024H1")["A01"]["n_reported"] == "3"


def test_a_second_run_can_refuse_to_wait(ws):  # type: ignore[no-untyped-def]
    store = open_store(ws.settings)
    release = threading.Event()

    def hold() -> None:
        with run_lock(store):
            release.wait(30)

    t = threading.Thread(target=hold)
    t.start()
    time.sleep(0.5)
    try:
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "huizong.cli",
                "run",
                "--no-prefect",
                "--wait",
                "0",
                "--store",
                str(ws.store),
                "--db",
                ws.settings.db_url,
                "--inputs",
                str(ws.inputs),
                "--outputs",
                str(ws.outputs),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        release.set()
        t.join()
    assert r.returncode == 3
    assert "另一个运行正在进行" in r.stderr
    assert not Path(ws.outputs / "submissions.csv").exists()
