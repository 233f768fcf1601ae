"""The consolidated workbook and the contract files, as the analyst opens them."""

from __future__ import annotations

import zipfile

import openpyxl
import pytest
from builders import BASE_VALUES, Shape, project_row, valid_uscc, write_return
from hypothesis import given, settings
from hypothesis import strategies as st

from huizong.demo import county_values, write_demo

SHEETS = ["汇总", "分县区", "报送情况", "问题清单", "项目明细", "通报排名", "图表", "更正记录", "数据来源"]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):  # type: ignore[no-untyped-def]
    """One demo run shared by the tests that only read its outputs."""
    from conftest import Workspace

    ws = Workspace(tmp_path_factory.mktemp("demo"))
    write_demo(ws.inputs)
    summary = ws.run()
    book = openpyxl.load_workbook(
        ws.outputs / "620700" / "key-indicators" / "2024H1" / "主要指标汇总_张掖市_2024H1.xlsx"
    )
    return ws, summary, book


def test_demo_run_decisions(demo_run):  # type: ignore[no-untyped-def]
    ws, summary, _ = demo_run
    assert not (ws.outputs / "validation" / "gx").exists()  # HUIZONG_DOCS=0: no Data Docs
    assert [(d.inbound.rel, d.status) for d in summary.decisions] == [
        ("甘州区_2024年上半年_科技创新主要指标.xlsx", "accepted"),
        ("民乐县科技局-2024年1-6月主要指标.xls", "accepted"),
        ("临泽县上半年报表.xlsx", "accepted"),
        ("高台县_2024H1.xlsx", "superseded"),
        ("高台县_2024H1_更正.xlsx", "accepted"),
        ("山丹县_2024H1.xlsm", "rejected"),
        ("肃南县科技局_2024年上半年.xlsx", "accepted"),
        ("肃南县科技局_2024年上半年(1).xlsx", "duplicate"),
        ("工作总结.xlsx", "rejected"),
        ("临泽县_项目表.xlsx", "rejected"),
        ("~$甘州区_2024年上半年_科技创新主要指标.xlsx", "ignored"),
    ]


def test_demo_totals_are_the_sum_of_what_the_counties_wrote(demo_run, config):  # type: ignore[no-untyped-def]
    ws, _, _ = demo_run
    totals = ws.totals("2024H1")
    accepted = ["620702", "620721", "620722", "620723", "620724"]
    expected = sum(county_values(config.for_form("key-indicators"), c)["E04"]["value"] for c in accepted)
    assert float(totals["E04"]["value"]) == pytest.approx(expected, abs=1e-6)
    a01 = {c: county_values(config.for_form("key-indicators"), c)["A01"]["value"] for c in accepted}
    z01 = {c: county_values(config.for_form("key-indicators"), c)["Z01"]["value"] for c in accepted}
    assert float(totals["A02"]["value"]) == round(0.01 * sum(a01.values()) / sum(z01.values()), 6)
    assert totals["E04"]["missing"] == "620725 山丹县"


def test_workbook_sheets_and_summary(demo_run, config):  # type: ignore[no-untyped-def]
    ws, _, book = demo_run
    assert book.sheetnames == SHEETS
    s = book["汇总"]
    assert s["A1"].value == "张掖市2024年上半年科技创新主要指标汇总表"
    assert s["A2"].value == "应报 6 个县区，已报 5 个；未纳入：山丹县（汇总数为部分数）"
    assert [c.value for c in s[4]][:8] == [
        "序号",
        "指标代码",
        "类别",
        "指标名称",
        "计量单位",
        "年度目标",
        "本期累计",
        "上年同期",
    ]
    assert s.freeze_panes == "A5"
    totals = ws.totals("2024H1")
    row = next(r for r in s.iter_rows(min_row=5) if r[1].value == "E04")
    assert row[6].value == pytest.approx(float(totals["E04"]["value"]))
    assert row[6].number_format == "#,##0.00"
    b01 = next(r for r in s.iter_rows(min_row=5) if r[1].value == "B01")
    assert b01[6].number_format == "#,##0"
    assert (b01[10].value, b01[11].value) == (5, 6)


def test_county_sheet_status_issues_ranking_provenance(demo_run, config):  # type: ignore[no-untyped-def]
    _, _, book = demo_run
    by_county = book["分县区"]
    assert [c.value for c in by_county[4]] == [
        "指标代码",
        "指标名称",
        "计量单位",
        "甘州区",
        "肃南裕固族自治县",
        "民乐县",
        "临泽县",
        "高台县",
        "山丹县",
        "张掖市合计",
    ]
    e04 = next(r for r in by_county.iter_rows(min_row=5) if r[0].value == "E04")
    assert e04[5].value == 41500.0  # 民乐县 wrote "4.15亿元"
    assert e04[8].value is None  # 山丹县 refused
    status = {r[1].value: r[2].value for r in book["报送情况"].iter_rows(min_row=5, max_row=10)}
    assert status == {
        "甘州区": "已报送",
        "肃南裕固族自治县": "已报送",
        "民乐县": "已报送",
        "临泽县": "已报送",
        "高台县": "已报送",
        "山丹县": "退回待改",
    }
    issues = [(r[0].value, r[4].value, r[6].value) for r in book["问题清单"].iter_rows(min_row=5) if r[4].value]
    assert ("620725", "approved-exceeds-applied", "F21") in issues
    ranking = [(r[0].value, r[2].value, r[3].value) for r in book["通报排名"].iter_rows(min_row=5) if r[0].value]
    assert ranking[0] == ("全社会研发经费支出", 1, "甘州区")
    prov = book["数据来源"]
    a01 = next(
        r
        for r in prov.iter_rows(min_row=5)
        if r[2].value == "全社会研发经费支出" and r[0].value == "民乐县" and r[3].value == "本期累计"
    )
    assert (a01[4].value, a01[5].value, a01[7].value, a01[9].value, a01[10].value) == (
        5100.0,
        "0.51亿元",
        "converted",
        "主要指标",
        "E10",
    )


def test_native_charts(demo_run, config):  # type: ignore[no-untyped-def]
    ws, _, _ = demo_run
    path = ws.outputs / "620700" / "key-indicators" / "2024H1" / "主要指标汇总_张掖市_2024H1.xlsx"
    with zipfile.ZipFile(path) as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
    keys = [i for i in config.catalogs["key-indicators"] if i.key and not i.is_ratio]
    assert len(charts) == len(keys) + 1  # one per key indicator, one of completion %


def test_county_text_that_looks_like_a_formula_stays_text(ws):  # type: ignore[no-untyped-def]
    evil = '=HYPERLINK("http://x","点我")'
    rows = [project_row(1, evil, "+cmd|' /C calc'!A0", valid_uscc("91620722MA71ABC1K"), "其他", "立项", 5)]
    write_return(ws.drop("r.xlsx"), "620722", "2024H1", shape=Shape(projects=rows))
    ws.run()
    book = openpyxl.load_workbook(
        ws.outputs / "620700" / "key-indicators" / "2024H1" / "主要指标汇总_张掖市_2024H1.xlsx"
    )
    row = next(book["项目明细"].iter_rows(min_row=5, max_row=5))
    assert (row[2].value, row[2].data_type) == (evil, "s")  # after 县区 and 报告期
    assert (row[3].value, row[3].data_type) == ("+cmd|' /C calc'!A0", "s")


def test_csv_text_that_looks_like_a_formula_is_quoted(ws):  # type: ignore[no-untyped-def]
    write_return(ws.drop("=cmd.xlsx"), "620722", "2024H1", {**BASE_VALUES, "B02": 99})
    ws.run()
    assert ws.csv("submissions.csv")[0]["file"] == "'=cmd.xlsx"
    assert ws.csv("620700/key-indicators/2024H1/issues.csv")[0]["file"] == "'=cmd.xlsx"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list('ab,"\n\r =+-甲 \t')), max_size=6), min_size=2, max_size=5))
def test_cells_joined_once_are_what_the_csv_module_writes(cells):  # type: ignore[no-untyped-def]
    """The counties CSV joins each county's and indicator's cells once (`csv_cells`): the same
    text the csv module writes for them, quotes and all."""
    import csv
    import io

    from huizong.publish.files import csv_cells, fmt

    cells = [str(fmt(c)) for c in cells]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    assert csv_cells(cells) + "\n" == buf.getvalue()
