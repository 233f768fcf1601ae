"""What the store keeps is portable to Windows and macOS shares; nothing in the inbox goes unseen;
a killed run's temporary files do not outlive the run that finishes its work."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from builders import write_return
from conftest import Workspace

from huizong.ledger.inbox import safe_component


def test_stored_names_are_portable() -> None:
    assert safe_component("CON.xlsx") == "_CON.xlsx"
    assert safe_component("aux") == "_aux"
    assert safe_component("Com1.xls") == "_Com1.xls"
    assert safe_component("民乐县. ") == "民乐县"
    assert safe_component('a<b>:c"d|e?f*.xlsx') == "a_b__c_d_e_f_.xlsx"
    assert safe_component("console.xlsx") == "console.xlsx"


def test_a_return_named_con_is_kept_under_a_portable_name(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    write_return(ws.drop("CON.xlsx"), "620722", "2024H1")
    s = ws.run()
    [d] = s.decisions
    assert d.status == "accepted" and d.stored_as is not None
    assert Path(d.stored_as).name == "_CON.xlsx" and (ws.store / d.stored_as).is_file()
    assert ws.sql("select file from submissions") == [("CON.xlsx",)]  # the name as dropped, in the ledger


def test_a_hidden_workbook_is_recorded_once_and_left(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    hidden = write_return(ws.drop(".民乐县.xlsx"), "620722", "2024H1")
    (ws.inputs / ".DS_Store").write_bytes(b"\0")
    first = ws.run()
    assert [(d.inbound.rel, d.status) for d in first.decisions] == [(".民乐县.xlsx", "ignored")]
    assert "隐藏文件" in first.decisions[0].reason
    assert hidden.exists()
    assert ws.run().decisions == []  # once, not every night
    assert [r["status"] for r in ws.csv("submissions.csv")] == ["ignored"]


def test_temporary_files_of_a_killed_run_are_swept_by_the_next(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    write_return(ws.drop("民乐县.xlsx"), "620722", "2024H1")
    ws.run()
    left = [
        ws.outputs / "620700" / "key-indicators" / "2024H1" / ".huizong.abc123.tmp",
        ws.store / "archive" / ".incoming.x1y2",
    ]
    for p in left:
        p.write_bytes(b"")
    keep = ws.outputs / "620700" / "notes.tmp"
    keep.write_text("the analyst's own file")
    import sqlalchemy as sa

    engine = sa.create_engine(ws.settings.db_url)
    with engine.begin() as conn:  # as if the run had been killed
        conn.execute(sa.text("update runs set finished_at = null"))
    engine.dispose()
    ws.run()
    assert not any(p.exists() for p in left) and keep.exists()
    assert not [n for _, _, files in os.walk(ws.outputs) for n in files if n.startswith(".huizong.")]


def test_a_formula_saved_with_an_empty_value_is_a_formula_without_value(tmp_path: Path) -> None:
    """openpyxl (and some generators) write <f>…</f><v></v>: never calculated, not a blank cell."""
    import zipfile

    import openpyxl
    from builders import CONFIG

    from huizong.read.returns import read_return

    path = write_return(tmp_path / "r.xlsx", "620722", "2024H1")
    wb = openpyxl.load_workbook(path)
    ws = wb["主要指标"]
    ws["F13"] = "=1+1"
    wb.save(path)
    with zipfile.ZipFile(path) as z:
        sheet = next(n for n in z.namelist() if n.startswith("xl/worksheets/"))
        assert b"<v></v>" in z.read(sheet) or b"<v />" in z.read(sheet)
    ret = read_return(path, CONFIG, "620700")
    assert [(i.code, i.cell) for i in ret.issues] == [("formula-no-value", "F13")]


def test_a_workbook_holding_a_sheet_twice_is_refused(tmp_path: Path) -> None:
    import zipfile

    from builders import CONFIG

    from huizong.read.returns import read_return

    good = write_return(tmp_path / "r.xlsx", "620722", "2024H1")
    bad = tmp_path / "twice.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info.filename))
        sheet = next(n for n in src.namelist() if n.startswith("xl/worksheets/sheet"))
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zipfile warns of the duplicate name: that is the point
            dst.writestr(sheet, src.read(sheet).replace(b"620722", b"620723"))
    ret = read_return(bad, CONFIG, "620700")
    assert not ret.readable and [i.code for i in ret.issues] == ["file-corrupt"]
    assert "同名成员" in ret.issues[0].message


def test_no_formula_of_the_countys_file_reaches_its_feedback(tmp_path: Path) -> None:
    """A DDE formula with a cached value is carried as that value, never as a live formula."""
    import zipfile

    import openpyxl
    from builders import BASE_VALUES

    ws = Workspace(tmp_path)
    path = write_return(ws.drop("民乐县.xlsx"), "620722", "2024H1", {**BASE_VALUES, "B02": 99})  # refused: feedback
    wb = openpyxl.load_workbook(path)
    wb["主要指标"]["H13"] = "=cmd|' /C calc'!A0"
    wb.save(path)
    with zipfile.ZipFile(path) as z:  # as Excel would have saved it: with a cached value
        names = z.namelist()
        sheet = next(n for n in names if n.startswith("xl/worksheets/sheet"))
        xml = z.read(sheet).replace(b"<v></v>", b"<v>0</v>").replace(b"<v />", b"<v>0</v>")
        parts = {n: z.read(n) for n in names}
    parts[sheet] = xml
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for n, data in parts.items():
            z.writestr(n, data)
    ws.run()
    [feedback] = list((ws.outputs / "feedback").glob("*.xlsx"))
    with zipfile.ZipFile(feedback) as z:
        for n in z.namelist():
            if n.startswith("xl/worksheets/"):
                assert b"<f>" not in z.read(n) and b"cmd|" not in z.read(n), n
    assert openpyxl.load_workbook(feedback)["主要指标"]["H13"].value == 0


def test_a_percentage_cell_holding_a_fraction_is_read_as_the_county_saw_it(tmp_path: Path) -> None:
    """0.0087 formatted 0.00% is 0.87 % (what the county saw), not 0.0087 %; the same in a
    custom format, and a permille; a plain 0.87 stays 0.87."""
    import openpyxl
    from builders import BASE_VALUES, CONFIG

    from huizong.read.returns import read_return

    path = write_return(tmp_path / "r.xlsx", "620722", "2024H1", {**BASE_VALUES})
    ret = read_return(path, CONFIG, "620700")
    a02, a04 = ret.fact("A02"), ret.fact("A04")
    assert a02 is not None and a04 is not None
    plain = a02.number
    wb = openpyxl.load_workbook(path)
    ws = wb["主要指标"]
    ws[a02.cell].value, ws[a02.cell].number_format = plain / 100, "0.00%"
    ws[a04.cell].value, ws[a04.cell].number_format = a04.number / 100, '[Blue]0.0%;"-"'
    wb.save(path)
    again = read_return(path, CONFIG, "620700")
    assert again.number("A02") == plain and again.number("A04") == a04.number
    assert again.fact("A02").converted and again.fact("A02").raw.endswith("%")  # type: ignore[union-attr]
    assert [i.code for i in again.issues] == []


def test_a_copy_that_stalled_mid_write_is_left_for_a_later_run(tmp_path: Path) -> None:
    """A zip cut short that changed lately is not refused and removed while its writer may resume;
    one that stays cut short is refused once it has not changed for HUIZONG_FRESH seconds."""
    import time

    ws = Workspace(tmp_path)
    whole = write_return(tmp_path / "whole.xlsx", "620722", "2024H1").read_bytes()
    part = ws.drop("民乐县.xlsx")
    part.write_bytes(whole[: len(whole) // 2])  # the writer stalled half way
    first = ws.run()
    assert first.deferred == ["民乐县.xlsx"] and first.decisions == [] and part.exists()
    part.write_bytes(whole)  # the writer resumed and finished
    [d] = ws.run().decisions
    assert (d.inbound.rel, d.status) == ("民乐县.xlsx", "accepted")
    cut = ws.drop("临泽县.xlsx")
    old = time.time() - 3600
    with cut.open("wb") as writer:  # a writer on this machine that holds it open, however long it stalls
        writer.write(whole[:3000])
        writer.flush()
        os.utime(cut, (old, old))
        held = ws.run()
        assert held.deferred == ["临泽县.xlsx"] and held.decisions == []
    [d] = ws.run().decisions  # closed, cut short an hour ago and never finished: corrupt
    assert (d.status, d.issues[0].code) == ("rejected", "file-corrupt")


def test_a_file_is_received_when_it_landed_not_when_a_run_got_to_it(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A file that lands on the due day, on a night whose run is killed, is committed the next
    night: it is still on time."""
    import datetime as dt

    from huizong.clock import TZ

    ws = Workspace(tmp_path)
    write_return(ws.drop("民乐县.xlsx"), "620722", "2024H1")
    landed = dt.datetime.fromtimestamp((ws.inputs / "民乐县.xlsx").stat().st_ctime, TZ)
    monkeypatch.setenv("HUIZONG_NOW", (landed + dt.timedelta(days=2)).isoformat())  # the run two nights later
    ws.run()
    [row] = ws.csv("submissions.csv")
    assert row["received_at"] == landed.isoformat(timespec="seconds")


def test_messages_a_county_reads_are_plain_chinese(tmp_path: Path) -> None:
    """No reader's English, no date where the county typed a month, hidden sheets said so."""
    import datetime as dt

    import openpyxl
    from builders import CONFIG

    from huizong.read.returns import read_return

    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(write_return(tmp_path / "r.xlsx", "620722", "2024H1").read_bytes()[:3000])
    [issue] = read_return(cut, CONFIG, "620700").issues
    assert issue.code == "file-corrupt" and not any("a" <= ch.lower() <= "z" for ch in issue.message)

    dated = write_return(tmp_path / "d.xlsx", "620722", "2024H1")
    wb = openpyxl.load_workbook(dated)
    ws = wb["主要指标"]
    cell = next(c for row in ws.iter_rows() for c in row if c.value == "2024H1")
    cell.value = dt.datetime(2020, 9, 1)  # what Excel makes of 2020年9月
    wb.save(dated)
    ret = read_return(dated, CONFIG, "620700")
    assert ret.period is None and ret.period_text == "2020年9月"

    wb = openpyxl.Workbook()
    wb.active.title = "通讯录"
    hidden = wb.create_sheet("旧表")
    hidden.sheet_state = "veryHidden"
    wb.save(tmp_path / "h.xlsx")
    [issue] = read_return(tmp_path / "h.xlsx", CONFIG, "620700").issues
    assert issue.code == "sheet-missing" and "旧表（深度隐藏的工作表" in issue.message


@pytest.mark.parametrize(
    ("written", "code"), [(0.0087, "ratio-slip"), (8.7, "ratio-slip"), (0.87, None), (0.5, "ratio-mismatch")]
)
def test_a_ratio_written_at_the_wrong_scale_is_flagged_with_the_number_meant(tmp_path: Path, written, code) -> None:  # type: ignore[no-untyped-def]
    from builders import BASE_VALUES, CONFIG

    from huizong.pipeline import validate
    from huizong.read.returns import read_return

    # A02 (R&D intensity, %) = 0.01 × A01 / Z01: 5100 万元 / 58.3 亿元 -> 0.87 %
    path = write_return(
        tmp_path / "r.xlsx", "620722", "2024H1", {**BASE_VALUES, "A01": 5100, "Z01": 58.3, "A02": written}
    )
    ret = read_return(path, CONFIG, "620700")
    found = [i for i in validate([ret], CONFIG, "620700")[ret.file] if i.indicator == "A02"]
    assert [i.code for i in found] == ([code] if code else [])
    if code == "ratio-slip":
        assert "应为 0.87%" in found[0].message


def test_the_ranking_gives_a_ratio_the_answer_the_summary_gives(tmp_path: Path) -> None:
    """通报排名 compares a ratio's value, target and last year each recomputed from their parts, as
    汇总 does; a county's own (here inconsistent) target ratio never enters."""
    import openpyxl
    from builders import BASE_VALUES

    ws = Workspace(tmp_path)
    values = {
        **BASE_VALUES,
        "A01": {"value": 5100, "target": 10200},
        "Z01": {"value": 58.3, "target": 58.3},
        "A02": {"value": 0.87, "target": 9.99},
    }
    write_return(ws.drop("民乐县.xlsx"), "620722", "2024H1", values)
    ws.run()
    book = openpyxl.load_workbook(
        next((ws.outputs / "620700" / "key-indicators" / "2024H1").glob("主要指标汇总_*.xlsx"))
    )
    rows = [r for r in book["通报排名"].iter_rows(values_only=True) if r and r[0] == "研发经费投入强度"]
    summary = [r for r in book["汇总"].iter_rows(values_only=True) if r and r[1] == "A02"]
    assert rows and summary
    assert rows[0][5] == summary[0][9] == 50.0  # completion: 0.87 % of 1.75 %, from the parts, in both
