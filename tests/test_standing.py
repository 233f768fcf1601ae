"""One standing of a county (issue 22, item 7): the board, a county's home, reporting.csv, the
reporting workbook and `huizong status` say the same thing, by one rule of lateness (the first
acceptable version by the end of the due day; a late correction does not make a return late) and
one rule of whose rows count (a county's own: a file another county uploaded with its code is that
other county's refusal)."""

from __future__ import annotations

import datetime as dt

import openpyxl
from builders import BASE_VALUES, CONFIG, write_return
from test_desk_review import browser, make_desk, state_of

from huizong.desk import board as bd
from huizong.ledger import review as rv
from huizong.ledger import standing
from huizong.ledger import store as st
from huizong.ledger.standing import Review, Timeliness
from huizong.pipeline import run_batch
from huizong.publish.reporting import matrix


def _night(ws, monkeypatch, when: str) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HUIZONG_NOW", when)
    run_batch(ws.settings, CONFIG)


def test_the_board_and_the_reporting_status_agree_on_lateness_and_on_whose_rows_count(ws, monkeypatch):  # type: ignore[no-untyped-def]
    store, ws = make_desk(ws, monkeypatch)
    # 5 July: 民乐 on time; 民乐 also uploads a file carrying 临泽's code (refused as another county's)
    write_return(ws.drop("民乐县.xlsx"), "620722", "2024H1")
    foreign = ws.inputs / rv.UPLOADS / "620722"
    foreign.mkdir(parents=True)
    write_return(foreign / "临泽县.xlsx", "620723", "2024H1")
    _night(ws, monkeypatch, "2024-07-05T20:00:00+08:00")
    # 20 July, after the 10 July deadline: 民乐's correction, and 甘州's first return
    write_return(ws.drop("民乐县更正.xlsx"), "620722", "2024H1", {**BASE_VALUES, "A01": 1234})
    write_return(ws.drop("甘州区.xlsx"), "620702", "2024H1")
    _night(ws, monkeypatch, "2024-07-20T20:00:00+08:00")

    statuses = {
        r["county_code"]: r["status"] for r in ws.csv("620700/key-indicators/reporting.csv") if r["period"] == "2024H1"
    }
    assert statuses["620722"] == "on-time"  # its correction came late; its first acceptable version did not
    assert statuses["620702"] == "late"
    assert statuses["620723"] == "missing"  # 民乐's upload of its code is 民乐's refusal, not 临泽's
    assert statuses["620725"] == "missing"

    today = dt.datetime.fromisoformat("2024-07-20T20:00:00+08:00")
    counties = CONFIG.divisions.counties_of("620700")
    cells = bd.county_cells(store, CONFIG, "key-indicators", counties, ["2024H1"], today)
    m = matrix(store, CONFIG.for_form("key-indicators"), "620700", ["2024H1"], today)
    for c in counties:  # one rule: the board's cell and the reporting status are the same standing
        assert cells[(c.code, "2024H1")].timeliness is m.cells[(c.code, "2024H1")].status, c.name
    assert cells[("620723", "2024H1")].state is Review.LATE  # not 退回: nothing of 临泽's was refused
    assert cells[("620722", "2024H1")].state is Review.PENDING

    reviewer = browser(store, ws, "zhangye")
    page = reviewer.get("/board?form=key-indicators&period=2024H1").text
    assert page.count('class="late-note"') == 1 and "（逾期报送）" in page  # 甘州's, not 民乐's correction
    assert state_of(reviewer, "620702") == "pending"

    book = openpyxl.load_workbook(next((ws.outputs / "620700" / "key-indicators").glob("*报送情况*.xlsx")))
    words = {row[0]: row[1] for row in book.worksheets[0].iter_rows(values_only=True) if row[0]}
    assert words["民乐县"] == Timeliness.ON_TIME.zh and words["甘州区"] == Timeliness.LATE.zh
    assert words["临泽县"] == Timeliness.MISSING.zh
    reviewer.__exit__(None, None, None)


def test_one_timeliness_rule() -> None:
    due = dt.datetime.fromisoformat("2024-07-10T23:59:59+08:00")
    today = dt.datetime.fromisoformat("2024-07-20T00:00:00+08:00")

    def row(status: str, at: str) -> dict[str, str]:
        return {"status": status, "received_at": at, "county_code": "620722", "inbox_path": "x.xlsx"}

    on_time_then_corrected = [
        row(st.SUPERSEDED, "2024-07-10T23:59:59+08:00"),
        row(st.ACCEPTED, "2024-07-15T09:00:00+08:00"),
    ]
    assert standing.timeliness(on_time_then_corrected, due, today) == (Timeliness.ON_TIME, "2024-07-10T23:59:59+08:00")
    assert standing.timeliness([row(st.ACCEPTED, "2024-07-11T00:00:00+08:00")], due, today)[0] is Timeliness.LATE
    assert standing.timeliness([row(st.REJECTED, "2024-07-01T00:00:00+08:00")], due, today)[0] is Timeliness.REFUSED
    assert standing.timeliness([], due, today) == (Timeliness.MISSING, None)
    assert standing.timeliness([], due, due - dt.timedelta(days=1)) == (Timeliness.NOT_DUE, None)
    # a superseded version alone (its successor refused later, or withdrawn) is no acceptable return now
    assert standing.timeliness([row(st.SUPERSEDED, "2024-07-01T00:00:00+08:00")], due, today)[0] is Timeliness.MISSING
