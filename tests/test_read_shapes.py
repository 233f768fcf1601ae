"""Every shape under "What real returns look like" in the spec, as real workbooks."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pytest
from builders import BASE_VALUES, CONFIG, Shape, write_return

from huizong.read.returns import read_return

CITY = "620700"


def read(path: Path):  # type: ignore[no-untyped-def]
    return read_return(path, CONFIG, CITY)


def values_of(ret) -> dict[str, float | None]:  # type: ignore[no-untyped-def]
    return {f.indicator: f.number for f in ret.facts if f.column == "value"}


SHAPES = {
    "standard": Shape(),
    "shifted-down-right": Shape(top=6, left=3),
    "columns-reordered": Shape(
        columns=["指标名称", "本期累计", "备注", "指标代码", "上年同期", "计量单位", "年度目标", "序号"]
    ),
    "renamed-sheet": Shape(sheet="Sheet1"),
    "extra-sheets": Shape(extra_sheets=["填报说明", "附表"]),
    "hidden-rows": Shape(hidden_rows=["A01", "E04"]),
    "blank-rows": Shape(blank_rows_every=4),
    "subtotal-row": Shape(subtotal_after="A05"),
    "header-in-one-cell": Shape(header_style="same-cell"),
    "no-title": Shape(title=None),
}


@pytest.mark.parametrize("suffix", [".xlsx", ".xls", ".xlsm"])
@pytest.mark.parametrize("shape_name", list(SHAPES))
def test_every_shape_reads_every_number(tmp_path, shape_name, suffix):  # type: ignore[no-untyped-def]
    p = write_return(tmp_path / f"r{suffix}", "620722", "2024年上半年", shape=SHAPES[shape_name])
    ret = read(p)
    assert ret.issues == []
    assert (ret.county_code, ret.period.token) == ("620722", "2024H1")
    assert values_of(ret) == {k: float(v) for k, v in BASE_VALUES.items()}  # type: ignore[arg-type]


def test_cells_are_where_excel_shows_them(tmp_path):  # type: ignore[no-untyped-def]
    ret = read(write_return(tmp_path / "r.xlsx", "620722", "2024H1"))
    cells = {f.indicator: f.cell for f in ret.facts if f.column == "value"}
    assert (cells["Z01"], cells["A01"], cells["E04"], cells["G02"]) == ("F10", "F13", "F35", "F46")
    assert ret.county_source.cell == "C4" and ret.period_source.cell == "C5"
    shifted = read(write_return(tmp_path / "s.xlsx", "620722", "2024H1", shape=Shape(top=3, left=2)))
    cells = {f.indicator: f.cell for f in shifted.facts if f.column == "value"}
    assert (cells["Z01"], cells["A01"]) == ("H13", "H16")
    assert {f.column: f.cell for f in shifted.facts if f.indicator == "Z01"} == {
        "target": "G13",
        "value": "H13",
        "last_year": "I13",
    }


def test_rows_matched_by_name_and_alias_when_code_blank(tmp_path):  # type: ignore[no-untyped-def]
    vals = {
        "A01": {"value": 5100, "name": "全社会R&D经费支出"},
        "E04": {"value": 41500, "name": "技术合同交易额"},
        "F03": {"value": 2, "name": "（三）其中：引进外国专家数（人）"},
        "C01": {"value": 15, "name": "1. 高新技术企业数"},
    }
    ret = read(write_return(tmp_path / "r.xlsx", "620722", "2024H1", vals, with_codes=False))
    assert values_of(ret) == {"A01": 5100.0, "E04": 41500.0, "F03": 2.0, "C01": 15.0}


def test_numbers_as_text_units_and_approximations(tmp_path):  # type: ignore[no-untyped-def]
    vals = {
        "A01": "0.51亿元",
        "B01": " 36 ",
        "B03": "230万元",
        "E04": "4.15亿元",
        "F06": "1万人次",
        "F02": "55名",
        "G01": "1,227.5",
        "C03": "２２",
        "G02": "10多",
        "E05": "31件",
        "Z02": "17.8万人",
    }
    ret = read(write_return(tmp_path / "r.xlsx", "620722", "2024H1", vals))
    assert values_of(ret) == {
        "A01": 5100.0,
        "B01": 36.0,
        "B03": 230.0,
        "E04": 41500.0,
        "F06": 10000.0,
        "F02": 55.0,
        "G01": 1227.5,
        "C03": 22.0,
        "G02": 10.0,
        "E05": 31.0,
        "Z02": 17.8,
    }
    a01 = ret.fact("A01")
    assert (a01.raw, a01.unit_written, a01.converted, a01.approximate) == ("0.51亿元", "亿元", True, False)
    assert ret.fact("G02").approximate


def test_unit_column_differs_from_catalog(tmp_path):  # type: ignore[no-untyped-def]
    vals = {
        "E04": {"value": 4.15, "target": 8, "last_year": 3.6, "unit": "亿元"},
        "A01": {"value": 51000000, "unit": "元"},
    }
    ret = read(write_return(tmp_path / "r.xls", "620722", "2024H1", vals))
    assert {f.column: f.number for f in ret.facts if f.indicator == "E04"} == {
        "target": 80000.0,
        "value": 41500.0,
        "last_year": 36000.0,
    }
    assert ret.number("A01") == 5100.0


def test_placeholders_are_read_as_no_number(tmp_path):  # type: ignore[no-untyped-def]
    vals = {"D03": "*", "D04": "—", "F03": "无", "F04": "/", "F05": "XX", "B04": "-", "E07": None}
    ret = read(write_return(tmp_path / "r.xlsx", "620722", "2024H1", vals))
    got = {f.indicator: (f.status, f.number) for f in ret.facts if f.column == "value"}
    assert got == {k: ("placeholder", None) for k in ("D03", "D04", "F03", "F04", "F05", "B04")} | {
        "E07": ("blank", None)
    }


@pytest.mark.parametrize(
    "written, token",
    [
        ("2024年1-6月", "2024H1"),
        ("2024年度", "2024FY"),
        ("2024年前三季度", "2024Q3"),
        ("2024年一季度", "2024Q1"),
        (2024, "2024FY"),
    ],
)
def test_period_as_written(tmp_path, written, token):  # type: ignore[no-untyped-def]
    ret = read(write_return(tmp_path / "r.xlsx", "620722", written, {"A01": 1}))
    assert ret.period.token == token


def test_county_known_only_by_office_name(tmp_path):  # type: ignore[no-untyped-def]
    shape = Shape(header={"填报单位": "肃南县科学技术局", "报告期": "2024年上半年"})
    ret = read(write_return(tmp_path / "r.xlsx", "", "", {"A01": 1}, shape))
    assert (ret.county_code, ret.county_source.cell, ret.period.token) == ("620721", "C3", "2024H1")


def test_labels_with_spaces_colons_and_a_gap_before_the_value(tmp_path):  # type: ignore[no-untyped-def]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"], ws["D1"] = "行政区划代码:", 620722  # a number, and two empty cells between
    ws["A2"] = "报 告 期 ： 2024年1-6月"
    ws["A4"], ws["B4"], ws["C4"] = "指标名称", "本期累计", "计量单位"
    ws["A5"], ws["B5"], ws["C5"] = "技术合同成交额", "4.15", "亿元"
    wb.save(tmp_path / "r.xlsx")
    ret = read(tmp_path / "r.xlsx")
    assert (ret.county_code, ret.county_source.cell, ret.period.token, ret.period_source.cell) == (
        "620722",
        "D1",
        "2024H1",
        "A2",
    )
    assert values_of(ret) == {"E04": 41500.0}


def test_county_and_period_from_title_or_file_name(tmp_path):  # type: ignore[no-untyped-def]
    shape = Shape(header={}, title="山丹县2024年前三季度科技创新主要指标报表")
    ret = read(write_return(tmp_path / "r.xlsx", "", "", {"A01": 1}, shape))
    assert (ret.county_code, ret.period.token) == ("620725", "2024Q3")
    shape = Shape(header={}, title="科技创新主要指标报表")
    ret = read(write_return(tmp_path / "临泽县_2024H1.xlsx", "", "", {"A01": 1}, shape))
    assert (ret.county_code, ret.period.token) == ("620723", "2024H1")


def test_two_row_header(tmp_path):  # type: ignore[no-untyped-def]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"], ws["C1"] = "行政区划代码：", "620724"
    ws["A2"], ws["C2"] = "报告期：", "2024年度"
    ws.append([])
    ws.append(["指标代码", "指标名称", "计量单位", "2024年", None, None])
    ws.merge_cells("D4:F4")
    ws.append([None, None, None, "年度目标", "本期累计", "上年同期"])
    ws.append(["B01", "省级科技计划项目申报数", "项", 40, 36, 30])
    wb.save(tmp_path / "r.xlsx")
    ret = read(tmp_path / "r.xlsx")
    assert {f.column: (f.number, f.cell) for f in ret.facts} == {
        "target": (40.0, "D6"),
        "value": (36.0, "E6"),
        "last_year": (30.0, "F6"),
    }


def test_merged_title_cells(tmp_path):  # type: ignore[no-untyped-def]
    p = write_return(tmp_path / "r.xlsx", "620722", "2024H1", {"A01": 1})
    wb = openpyxl.load_workbook(p)
    assert wb["主要指标"].merged_cells.ranges  # the builder merged the title over A1:H1
    assert read(p).number("A01") == 1.0


def test_unknown_row_duplicate_row_and_code_name_mismatch(tmp_path):  # type: ignore[no-untyped-def]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "主要指标"
    ws.append(["行政区划代码", "620722"])
    ws.append(["报告期", "2024H1"])
    ws.append(["指标代码", "指标名称", "本期累计"])
    ws.append(["B01", "省级科技计划项目申报数", 36])
    ws.append([None, "科技馆参观人数", 5000])  # not in the catalog
    ws.append(["B01", "省级科技计划项目申报数", 38])  # the same indicator again, another value
    ws.append(["C01", "技术合同成交额", 15])  # code and name disagree
    ws.append(["B02", "省级科技计划项目立项数", 6])
    ws.append(["B02", "省级科技计划项目立项数", 6])  # an identical repeat is harmless
    wb.save(tmp_path / "r.xlsx")
    ret = read(tmp_path / "r.xlsx")
    assert [(i.code, i.severity, i.cell, i.indicator) for i in ret.issues] == [
        ("indicator-unknown", "warning", "B5", None),
        ("indicator-duplicate", "error", "C6", "B01"),
        ("indicator-code-name-mismatch", "error", "B7", "C01"),
    ]
    assert values_of(ret) == {"B01": 36.0, "C01": 15.0, "B02": 6.0}
    assert ret.issues[0].message == "指标“科技馆参观人数”不在指标目录中，本行未汇总"


def test_footer_labels_end_the_table(tmp_path):  # type: ignore[no-untyped-def]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["指标名称", "本期累计"])
    ws.append(["高新技术企业数", 15])
    ws.append(["填报人：", "王芳"])
    ws.append(["联系电话：", 13800000000])
    ws["A10"] = "行政区划代码："
    ws["B10"] = "620723"
    ws["A11"] = "报告期：2024年上半年"
    wb.save(tmp_path / "r.xlsx")
    ret = read(tmp_path / "r.xlsx")
    assert ret.issues == []
    assert values_of(ret) == {"C01": 15.0}
    assert (ret.county_code, ret.header["filled_by"].value, ret.period.token) == ("620723", "王芳", "2024H1")


# files that are not returns ------------------------------------------------------------


def _encrypted(path: Path) -> None:
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = write_return(path.with_name("plain.xlsx"), "620722", "2024H1")
    with plain.open("rb") as f, path.open("wb") as out:
        OOXMLFile(f).encrypt("123456", out)


def _word(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")


def _truncated(path: Path) -> None:
    full = write_return(path.with_name("full.xlsx"), "620722", "2024H1")
    path.write_bytes(full.read_bytes()[:2000])


def _garbage_xls(path: Path) -> None:
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)


@pytest.mark.parametrize(
    "name, make, code, detail",
    [
        ("empty.xlsx", lambda p: p.write_bytes(b""), "file-empty", None),
        ("cut.xlsx", _truncated, "file-corrupt", None),
        ("secret.xlsx", _encrypted, "file-encrypted", None),
        ("report.xlsx", _word, "not-a-workbook", "Word 文档"),
        (
            "notes.xls",
            lambda p: p.write_text("年度目标,本期累计\n1,2\n", encoding="utf-8"),
            "format-unsupported",
            "文件是 CSV 文本（逗号或制表符分隔），无法可靠读取。请在 Excel 或 WPS 中打开，另存为 .xlsx",
        ),
        ("scan.xlsx", lambda p: p.write_bytes(b"%PDF-1.4\n..."), "not-a-workbook", "PDF 文件"),
        ("page.xls", lambda p: p.write_text("<html><table></table></html>"), "format-unsupported", "网页"),
        ("broken.xls", _garbage_xls, "file-corrupt", None),
    ],
)
def test_files_that_are_not_returns(tmp_path, name, make, code, detail):  # type: ignore[no-untyped-def]
    p = tmp_path / name
    make(p)
    ret = read(p)
    assert not ret.readable
    assert [i.code for i in ret.issues] == [code]
    assert ret.issues[0].severity == "error"
    if detail:
        assert detail in ret.issues[0].message


def test_workbook_without_the_form(tmp_path):  # type: ignore[no-untyped-def]
    wb = openpyxl.Workbook()
    wb.active.title = "通讯录"
    wb.active["A1"] = "姓名"
    wb.save(tmp_path / "r.xlsx")
    ret = read(tmp_path / "r.xlsx")
    assert [(i.code, i.message) for i in ret.issues] == [
        ("sheet-missing", "未找到“主要指标”或“技术合同”表（工作簿中的表：通讯录）")
    ]


def test_table_without_value_column(tmp_path):  # type: ignore[no-untyped-def]
    wb = openpyxl.Workbook()
    wb.active.title = "主要指标"
    wb.active.append(["指标代码", "指标名称", "计量单位"])
    wb.save(tmp_path / "r.xlsx")
    ret = read(tmp_path / "r.xlsx")
    assert [(i.code, i.sheet) for i in ret.issues] == [("column-missing", "主要指标")]


# spellings other people's returns use ---------------------------------------------------


def _sheet(tmp_path: Path, rows: list[list[object]]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "主要指标"
    for row in rows:
        ws.append(row)
    wb.save(tmp_path / "r.xlsx")
    return tmp_path / "r.xlsx"


def test_unit_in_the_indicator_name_when_there_is_no_unit_column(tmp_path):  # type: ignore[no-untyped-def]
    p = _sheet(
        tmp_path,
        [
            ["行政区划代码", "620722"],
            ["报告期", "2024H1"],
            ["指标名称", "本期累计"],
            ["技术合同成交额（亿元）", 4.15],
            ["全社会研发经费支出（万元）", 5100],
            ["高新技术企业数（家）", 15],
        ],
    )
    ret = read(p)
    assert values_of(ret) == {"E04": 41500.0, "A01": 5100.0, "C01": 15.0}
    assert ret.fact("E04").converted


def test_code_written_in_the_name_cell(tmp_path):  # type: ignore[no-untyped-def]
    p = _sheet(
        tmp_path,
        [
            ["行政区划代码", "620722"],
            ["报告期", "2024H1"],
            ["指标", "本期累计"],
            ["E04 技术合同成交额", 41500],
            ["B01、省级科技计划项目申报数", 36],
        ],
    )
    assert values_of(read(p)) == {"E04": 41500.0, "B01": 36.0}


@pytest.mark.parametrize(
    "code_cell, county", [("620722（民乐县）", "620722"), ("民乐县", "620722"), ("肃南", "620721")]
)
def test_county_cell_with_a_name_or_a_note(tmp_path, code_cell, county):  # type: ignore[no-untyped-def]
    p = _sheet(
        tmp_path,
        [["行政区划代码：", code_cell], ["报告期：", "2024H1"], ["指标名称", "本期累计"], ["高新技术企业数", 15]],
    )
    assert read(p).county_code == county


@pytest.mark.parametrize("written", ["2024年上半年（1-6月）", "2024年度上半年", "2024年上半年累计"])
def test_period_with_extra_words(tmp_path, written):  # type: ignore[no-untyped-def]
    p = _sheet(
        tmp_path, [["行政区划代码", "620722"], ["报告期", written], ["指标名称", "本期累计"], ["高新技术企业数", 15]]
    )
    assert read(p).period.token == "2024H1"


def test_period_headers_as_value_and_last_year_columns(tmp_path):  # type: ignore[no-untyped-def]
    p = _sheet(
        tmp_path,
        [
            ["县区", "临泽县"],
            ["报告期", "2024年1-6月"],
            ["指标名称", "计量单位", "2023年1-6月", "2024年1-6月"],
            ["高新技术企业数", "家", 12, 15],
        ],
    )
    ret = read(p)
    assert ret.county_code == "620723"
    assert {f.column: (f.number, f.cell) for f in ret.facts} == {"value": (15.0, "D4"), "last_year": (12.0, "C4")}
    p = _sheet(
        tmp_path, [["行政区划代码", "620722"], ["报告期", "2024H1"], ["指标名称", "1-6月"], ["高新技术企业数", 15]]
    )
    assert values_of(read(p)) == {"C01": 15.0}
