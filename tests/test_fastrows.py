"""The fast table body (`publish.fastrows`) writes the workbook xlsxwriter writes, byte for byte in
every sheet and style part, and reads back as written in openpyxl and python-calamine."""

from __future__ import annotations

import math
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


def write(path: Path, rows: list[list[object]], fast: bool, monkeypatch: pytest.MonkeyPatch) -> Path:
    with monkeypatch.context() as m:
        if not fast:
            m.setattr(fastrows, "supported", lambda ws: False)
        book = Book(path)
        ws = book.sheet("数据来源")
        ws.write_string(0, 0, "数据来源", book.title)
        after = table(
            book, ws, 4, ["县区", "代码", "名称", "数值", "整数", "空", "标记"], rows, {4: "#,##0.####"}, [14] * 7
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
@given(st.lists(st.lists(cell, min_size=1, max_size=6), min_size=1, max_size=30))
def test_any_rows_make_the_same_sheet_either_way(tmp_path_factory, monkeypatch, rows):  # type: ignore[no-untyped-def]
    rows = [r for r in rows if not any(isinstance(v, str) and v.startswith("<r>") and v.endswith("</r>") for v in r)]
    if not rows:
        return
    d = tmp_path_factory.mktemp("rows")
    a = parts(write(d / "fast.xlsx", rows, True, monkeypatch))
    b = parts(write(d / "slow.xlsx", rows, False, monkeypatch))
    assert [k for k in a if a[k] != b[k]] == []


def test_a_text_that_looks_like_rich_text_stays_text(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    path = write(tmp_path / "fast.xlsx", [["<r><t>x</t></r>", 1]], True, monkeypatch)
    assert openpyxl.load_workbook(path)["数据来源"].cell(5, 1).value == "<r><t>x</t></r>"
    assert not math.isnan(1.0)
