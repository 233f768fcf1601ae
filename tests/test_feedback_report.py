"""What goes back to the counties and what the analyst reviews: feedback workbooks, explanations,
`huizong accept`, and the validation page (rendered in headless Chromium)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import openpyxl
import pytest
from builders import BASE_VALUES, write_return
from conftest import cli

from huizong.publish.feedback import ERROR_FILL, WARNING_FILL

ROW = {code: 10 + n for n, code in enumerate(BASE_VALUES)}  # default shape: the row of each indicator


def huizong(*args: str, cwd: Path | None = None):  # type: ignore[no-untyped-def]
    return cli(*args, cwd=cwd)


def feedback_of(ws, stem: str) -> Path:  # type: ignore[no-untyped-def]
    """The one feedback workbook of the file with this stem: `<submission no.>_<stem>_反馈.xlsx`."""
    (found,) = (ws.outputs / "feedback").glob(f"[0-9][0-9][0-9][0-9][0-9]_{stem}_反馈.xlsx")
    return found


def fill_of(cell) -> str:  # type: ignore[no-untyped-def]
    return cell.fill.fgColor.rgb[-6:] if cell.fill and cell.fill.fill_type else ""


def test_feedback_workbook_marks_cells_and_lists_issues(ws):  # type: ignore[no-untyped-def]
    bad = {**BASE_VALUES, "B02": 40, "G01": "227多"}
    src = write_return(ws.drop("民乐县.xlsx"), "620722", "2024H1", bad)
    original = openpyxl.load_workbook(src)["主要指标"]
    before = {c.coordinate: c.value for row in original.iter_rows() for c in row}
    ws.run()
    wb = openpyxl.load_workbook(feedback_of(ws, "民乐县"))
    assert wb.sheetnames == ["问题说明", "主要指标"]
    sheet = wb["主要指标"]
    b02, g01 = f"F{ROW['B02']}", f"F{ROW['G01']}"
    assert fill_of(sheet[b02]) == ERROR_FILL.fgColor.rgb[-6:]
    assert fill_of(sheet[g01]) == WARNING_FILL.fgColor.rgb[-6:]
    assert "approved-exceeds-applied" in sheet[b02].comment.text
    assert "【错误】省级科技计划项目立项数（B02）40 大于省级科技计划项目申报数（B01）36" in sheet[b02].comment.text
    assert "【警告】" in sheet[g01].comment.text and "value-approximate" in sheet[g01].comment.text
    assert {c.coordinate: c.value for row in sheet.iter_rows() for c in row} == before  # values untouched
    summary = wb["问题说明"]
    assert summary["A2"].value == "文件：民乐县.xlsx　民乐县 2024年上半年　结论：退回，请修改后重新报送"
    rows = [[c.value for c in r] for r in summary.iter_rows(min_row=6) if r[0].value]
    assert [(r[1], r[2], r[3], r[8]) for r in rows] == [
        ("错误", "主要指标", b02, "approved-exceeds-applied"),
        ("警告", "主要指标", g01, "value-approximate"),
    ]
    assert (
        summary["D6"].hyperlink.location == f"'主要指标'!{b02}"
        or summary["D6"].hyperlink.target == f"#'主要指标'!{b02}"
    )


def test_feedback_for_legacy_xls_and_for_a_file_that_is_no_workbook(ws):  # type: ignore[no-untyped-def]
    write_return(ws.drop("高台县.xls"), "620724", "2024H1", {**BASE_VALUES, "C01": 18.5})
    broken = ws.drop("损坏.xlsx")
    broken.write_bytes(b"PK\x03\x04broken")
    os.utime(broken, (1_700_000_000, 1_700_000_000))  # cut short long ago, not being written now
    ws.run()
    xls = openpyxl.load_workbook(feedback_of(ws, "高台县"))
    c01 = f"F{ROW['C01']}"
    assert xls["主要指标"][c01].value == 18.5
    assert fill_of(xls["主要指标"][c01]) == ERROR_FILL.fgColor.rgb[-6:]
    broken = openpyxl.load_workbook(feedback_of(ws, "损坏"))
    assert broken.sheetnames == ["问题说明"]
    assert broken["问题说明"]["I6"].value == "file-corrupt"


def test_a_county_answers_a_warning_in_the_note_column(ws):  # type: ignore[no-untyped-def]
    vals = {**BASE_VALUES, "G01": {"value": "227多", "note": "部分企业尚未报送，按估算填报"}, "G02": "10余"}
    write_return(ws.drop("r.xlsx"), "620722", "2024H1", vals)
    s = ws.run()
    found = {i.indicator: i for i in s.decisions[0].issues}
    assert (found["G01"].severity, found["G01"].explanation) == ("warning", "部分企业尚未报送，按估算填报")
    assert found["G02"].explanation is None
    assert s.decisions[0].status == "accepted"
    issues = {r["indicator_code"]: r["message"] for r in ws.csv("620700/key-indicators/2024H1/issues.csv")}
    assert issues["G01"].endswith("（已说明：部分企业尚未报送，按估算填报）")
    assert "已说明" not in issues["G02"]
    fb = openpyxl.load_workbook(feedback_of(ws, "r"))
    assert "【警告（已说明）】" in fb["主要指标"][f"F{ROW['G01']}"].comment.text


def test_an_error_cannot_be_explained_away(ws):  # type: ignore[no-untyped-def]
    write_return(ws.drop("r.xlsx"), "620722", "2024H1", {**BASE_VALUES, "B02": {"value": 40, "note": "含往年结转"}})
    s = ws.run()
    assert s.decisions[0].status == "rejected"
    assert s.decisions[0].issues[0].explanation is None


def test_analyst_accepts_a_refused_return_on_the_record(ws):  # type: ignore[no-untyped-def]
    write_return(ws.drop("民乐县.xlsx"), "620722", "2024H1", {**BASE_VALUES, "B02": 40})
    ws.run()
    assert ws.totals("2024H1")["B02"]["n_reported"] == "0"
    args = ["--store", str(ws.store), "--outputs", str(ws.outputs), "--city", "620700"]
    r = huizong("accept", "民乐县.xlsx", "--reason", "立项数含跨年度结转项目，经电话核实", "--by", "王分析", *args)
    assert r.returncode == 0, r.stderr
    db = sqlite3.connect(ws.store / "huizong.db")
    row = db.execute(
        "select status, override_by, override_reason, override_at is not null, stored_as from submissions"
    ).fetchone()
    db.close()
    assert row[:4] == ("accepted", "王分析", "立项数含跨年度结转项目，经电话核实", 1)
    assert row[4].startswith("rejected/")  # the original stays where it was kept
    assert ws.totals("2024H1")["B02"]["value"] == "40"
    assert huizong("accept", "民乐县.xlsx", "--reason", "again", *args).returncode == 2  # no longer refused
    assert huizong("accept", "nope.xlsx", "--reason", "x", *args).returncode == 2


def test_validate_can_write_the_feedback_workbook(tmp_path):  # type: ignore[no-untyped-def]
    p = write_return(tmp_path / "山丹县.xlsx", "620725", "2024H1", {**BASE_VALUES, "B02": 40})
    r = huizong("validate", str(p), "--feedback")
    assert r.returncode == 1
    assert (tmp_path / "山丹县_反馈.xlsx").is_file()
    out = tmp_path / "fb"
    assert huizong("validate", str(p), "--feedback", str(out)).returncode == 1
    assert (out / "山丹县_反馈.xlsx").is_file()


def test_validation_page_statuses_links_and_changes(ws, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HUIZONG_DOCS", "1")  # this page links the GX Data Docs
    write_return(ws.drop("甘州区.xlsx"), "620702", "2024H1")
    write_return(ws.drop("民乐县<img src=x onerror=alert(1)>.xlsx"), "620722", "2024H1", {**BASE_VALUES, "B02": 40})
    ws.run()
    page = (ws.outputs / "validation" / "620700" / "key-indicators" / "2024H1.html").read_text(encoding="utf-8")
    assert "张掖市2024年上半年主要指标报表校验报告" in page  # every form is named, the key form too
    assert "首次生成本期校验报告。" in page
    assert "民乐县&lt;img src=x onerror=alert(1)&gt;.xlsx" in page and "<img" not in page  # county text is escaped
    assert 'href="../../../feedback/00002_民乐县_img src=x onerror=alert(1)__反馈.xlsx"' in page
    assert 'href="../../gx/index.html"' in page and (ws.outputs / "validation" / "gx" / "index.html").is_file()
    assert page.count('class="badge missing"') == 4
    write_return(ws.drop("民乐县_更正.xlsx"), "620722", "2024H1")
    ws.run()
    page = (ws.outputs / "validation" / "620700" / "key-indicators" / "2024H1.html").read_text(encoding="utf-8")
    assert "民乐县：退回待改 → 已报送（民乐县_更正.xlsx，错误 0，警告 0）" in page
    index = (ws.outputs / "validation" / "index.html").read_text(encoding="utf-8")
    assert 'href="620700/key-indicators/2024H1.html"' in index


CHROMIUM = shutil.which("chromium")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is installed by `make test`")
def test_validation_page_renders_in_headless_chromium(ws, tmp_path):  # type: ignore[no-untyped-def]
    from huizong.demo import write_demo

    write_demo(ws.inputs)
    ws.run()
    page = ws.outputs / "validation" / "620700" / "key-indicators" / "2024H1.html"
    shot = tmp_path / "report.png"
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--hide-scrollbars",
            "--window-size=1400,1200",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    colours = png_colours(shot.read_bytes())
    # the page was rendered with its styles: the green badge of an accepted county, the red of a
    # refused one and of an error's text are on screen (a blank or unstyled page has none of them)
    assert {(0x1E, 0x7B, 0x34), (0xB4, 0x23, 0x18)} <= colours


def png_colours(data: bytes) -> set[tuple[int, int, int]]:
    """The colours of an 8-bit RGB or RGBA PNG (what Chromium writes), decoded by hand."""
    import struct
    import zlib

    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, kind = 8, b"", 0, 0, 0
    while pos < len(data):
        (length,), tag = struct.unpack(">I", data[pos : pos + 4]), data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if tag == b"IHDR":
            width, height, depth, kind = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and kind in (2, 6)
        elif tag == b"IDAT":
            idat += body
        pos += 12 + length
    bpp = 3 if kind == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    prev, out, i = bytearray(stride), set(), 0
    for _ in range(height):
        f, line = raw[i], bytearray(raw[i + 1 : i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out |= {tuple(line[x : x + 3]) for x in range(0, stride, bpp)}  # type: ignore[misc]
        prev = line
    return out  # type: ignore[return-value]
