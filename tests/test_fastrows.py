"""The fast table body (`publish.fastrows`) writes the workbook xlsxwriter writes, byte for byte in
every sheet and style part, and reads back as written in openpyxl and python-calamine."""

from __future__ import annotations

import math
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import python_calamine as pc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from huizong.publish import fastrows
from huizong.publish.workbook import Book, table

TRICKY = [
    ["张掖市甘州区", "A01", "研究与试验发展经费支出", 1234.5, 7, None, True],
    [" 前后有空格 ", "a & b < c > d", 'quote "x"', -0.000123, 10**15, "", False],
    ["=SUM(A1:A2)", "+1", "@x", float("inf"), float("nan"), Decimal("1.50"), 3],
    ["line\nbreak", "tab\there", "ctrl\x01\x1f", "_x0041_ literal", "\ufffe", 1e-300, -(2**53)],
    ["x" * 40000, "😀" * 20000, "", None, 0, 0.1 + 0.2, 1.0],
]


def parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist() if n.startswith("xl/")}


def resolved(path: Path) -> dict[str, object]:
    """The workbook with every style number replaced by the style itself (its number format, font,
    fill and border written out): equal when every cell has the same value and the same look,
    whatever order the styles were numbered in. xlsxwriter numbers a style on its first use and
    holds a sheet's last row back until the sheet goes on or closes; the fast body writes that row
    at once, so with a row's own format first used in the last row the numbers may differ."""
    with zipfile.ZipFile(path) as z:
        styles = z.read("xl/styles.xml").decode()
        formats = dict(re.findall(r'<numFmt numFmtId="(\d+)" formatCode="([^"]*)"', styles))
        lists = {
            name: re.findall(
                rf"<{item}\b.*?(?:</{item}>|/>)", re.search(rf"<{name}\b.*?</{name}>", styles, re.S)[0], re.S
            )
            for name, item in (("fonts", "font"), ("fills", "fill"), ("borders", "border"), ("cellXfs", "xf"))
        }

        def style(i: int) -> str:
            xf = lists["cellXfs"][i]
            xf = re.sub(r'numFmtId="(\d+)"', lambda m: f'numFmt="{formats.get(m[1], m[1])}"', xf)
            for attr, name in (("fontId", "fonts"), ("fillId", "fills"), ("borderId", "borders")):
                xf = re.sub(rf'{attr}="(\d+)"', lambda m, n=name: f"{n}={lists[n][int(m[1])]!r}", xf)
            return xf

        out: dict[str, object] = {
            n: re.sub(r' s="(\d+)"', lambda m: f" s={style(int(m[1]))!r}", z.read(n).decode())
            for n in z.namelist()
            if n.startswith("xl/worksheets/")
        }
        out["styles"] = sorted(style(i) for i in range(len(lists["cellXfs"])))
        return out


def write(
    path: Path,
    rows: list[list[object]],
    fast: bool,
    monkeypatch: pytest.MonkeyPatch,
    row_formats: list[dict[int, str]] | None = None,
) -> Path:
    with monkeypatch.context() as m:
        if not fast:
            m.setattr(fastrows, "supported", lambda ws: False)
        book = Book(path)
        ws = book.sheet("数据来源")
        ws.write_string(0, 0, "数据来源", book.title)
        after = table(
            book,
            ws,
            4,
            ["县区", "代码", "名称", "数值", "整数", "空", "标记"],
            rows,
            {4: "#,##0.####"},
            [14] * 7,
            row_formats=row_formats,
            fills={5: "#FFF2CC"},
        )
        assert after == 5 + len(rows)
        ws2 = book.sheet("后面")  # a sheet after it, written the ordinary way
        table(book, ws2, 1, ["a"], [["b"], [1.5]], {1: "0.0"})
        book.close()
    return path


@pytest.mark.parametrize("n", [len(TRICKY), 2500])  # bordered (a short table) and plain (past BORDERED_ROWS)
def test_the_fast_body_is_the_workbook_xlsxwriter_writes(tmp_path, monkeypatch, n):  # type: ignore[no-untyped-def]
    rows = [TRICKY[i % len(TRICKY)] for i in range(n)]
    fast = write(tmp_path / "fast.xlsx", rows, True, monkeypatch)
    slow = write(tmp_path / "slow.xlsx", rows, False, monkeypatch)
    a, b = parts(fast), parts(slow)
    assert sorted(a) == sorted(b)
    assert [k for k in a if a[k] != b[k]] == []
    assert b't="inlineStr"' in a["xl/worksheets/sheet1.xml"]  # the body is really there


PER_ROW = [{4: "0.00", 5: "0.0%"}, {}, {1: "0.0", 7: "#,##0"}, {4: "#,##0.####", 6: "0"}, {5: "0.00"}]


@pytest.mark.parametrize("n", [len(TRICKY), 2500])
def test_per_row_number_formats_make_the_workbook_xlsxwriter_writes(tmp_path, monkeypatch, n):  # type: ignore[no-untyped-def]
    """汇总 and 分县区 give each indicator's row its own number format: the fast body writes them too."""
    rows = [TRICKY[i % len(TRICKY)] for i in range(n)]
    per_row = [PER_ROW[i % len(PER_ROW)] for i in range(n)]
    a = resolved(write(tmp_path / "fast.xlsx", rows, True, monkeypatch, per_row))
    b = resolved(write(tmp_path / "slow.xlsx", rows, False, monkeypatch, per_row))
    assert [k for k in a if a[k] != b[k]] == []
    assert len(a["styles"]) >= 8  # type: ignore[arg-type]  # the rows' own formats are in use
    ws = openpyxl.load_workbook(tmp_path / "fast.xlsx")["数据来源"]
    assert ws.cell(5, 4).number_format == "0.00" and ws.cell(6, 4).number_format == "#,##0.####"
    assert ws.cell(7, 4).number_format == "#,##0.####" and ws.cell(5, 1).number_format == "General"


def test_rows_kept_in_memory_make_the_workbook_xlsxwriter_writes_through_its_temporary_file(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """A consolidated workbook's sheets keep their rows in memory (`workbook._RowsInMemory`), not in
    xlsxwriter's temporary file per sheet: the same bytes in every part, fast body or not."""
    from xlsxwriter.worksheet import Worksheet

    from huizong.publish import workbook

    rows = [TRICKY[i % len(TRICKY)] for i in range(300)]
    per_row = [PER_ROW[i % len(PER_ROW)] for i in range(300)]
    for fast in (True, False):
        mine = parts(write(tmp_path / f"memory{fast}.xlsx", rows, fast, monkeypatch, per_row))
        with monkeypatch.context() as m:
            m.setattr(workbook.Book, "sheet_class", Worksheet)
            theirs = parts(write(tmp_path / f"file{fast}.xlsx", rows, fast, monkeypatch, per_row))
        assert sorted(mine) == sorted(theirs)
        assert [k for k in mine if mine[k] != theirs[k]] == []
        assert b"<sheetData/>" not in mine["xl/worksheets/sheet1.xml"]
    empty = Book(tmp_path / "empty.xlsx")  # a sheet with no cells at all
    empty.sheet("空")
    empty.close()
    assert b"<sheetData/>" in parts(tmp_path / "empty.xlsx")["xl/worksheets/sheet1.xml"]


def test_it_reads_back_as_written(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    path = write(tmp_path / "fast.xlsx", TRICKY, True, monkeypatch)
    ws = openpyxl.load_workbook(path)["数据来源"]
    got = [[c.value for c in row] for row in ws.iter_rows(min_row=5, max_row=4 + len(TRICKY), max_col=7)]
    assert got[0] == ["张掖市甘州区", "A01", "研究与试验发展经费支出", 1234.5, 7, None, True]
    assert got[1][:4] == [" 前后有空格 ", "a & b < c > d", 'quote "x"', -0.000123] and got[1][4] == 10**15
    assert got[2][:3] == ["=SUM(A1:A2)", "+1", "@x"]  # text, never a formula
    assert ws.cell(7, 1).data_type == "s"
    assert got[2][3:6] == ["inf", "nan", "1.50"]
    assert got[3][:2] == ["line\nbreak", "tab\there"]
    assert got[3][2] == "ctrl_x0001__x001F_"  # Excel's escape of control characters (openpyxl leaves it)
    assert (
        got[4][0] == "x" * 32767 and got[4][2] == "" and got[4][3] is None and got[4][5] == 0.3
    )  # 16 significant digits, as xlsxwriter writes
    assert ws.cell(5, 4).number_format == "#,##0.####"
    assert ws.freeze_panes == "A5"
    cal = pc.CalamineWorkbook.from_path(str(path)).get_sheet_by_name("数据来源").to_python()
    assert cal[4][:4] == ["张掖市甘州区", "A01", "研究与试验发展经费支出", 1234.5]
    assert cal[6][0] == "=SUM(A1:A2)"


cell = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.lists(cell, min_size=1, max_size=6), min_size=1, max_size=30),
    st.one_of(st.none(), st.lists(st.dictionaries(st.integers(1, 7), st.sampled_from(["0.00", "0%", "#,##0"])))),
)
def test_any_rows_make_the_same_sheet_either_way(tmp_path_factory, monkeypatch, rows, formats):  # type: ignore[no-untyped-def]
    rows = [r for r in rows if not any(isinstance(v, str) and v.startswith("<r>") and v.endswith("</r>") for v in r)]
    if not rows:
        return
    per_row = None if formats is None else [formats[i % len(formats)] if formats else {} for i in range(len(rows))]
    d = tmp_path_factory.mktemp("rows")
    a = resolved(write(d / "fast.xlsx", rows, True, monkeypatch, per_row))
    b = resolved(write(d / "slow.xlsx", rows, False, monkeypatch, per_row))
    assert [k for k in a if a[k] != b[k]] == []


def test_a_text_that_looks_like_rich_text_stays_text(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    path = write(tmp_path / "fast.xlsx", [["<r><t>x</t></r>", 1]], True, monkeypatch)
    assert openpyxl.load_workbook(path)["数据来源"].cell(5, 1).value == "<r><t>x</t></r>"
    assert not math.isnan(1.0)
