"""Rules that compare with the store and the other counties, on real files and real runs."""

from __future__ import annotations

import os

import pytest
from builders import BASE_VALUES, Shape, project_row, valid_uscc, write_return

pytestmark = pytest.mark.both_stores

MINLE = "620722"
ROW = {code: 10 + n for n, code in enumerate(BASE_VALUES)}  # default shape: row of each indicator


def issues(summary, rel: str) -> list[tuple[str, str, str | None, str | None]]:  # type: ignore[no-untyped-def]
    d = next(d for d in summary.decisions if d.inbound.rel == rel)
    return [(i.code, str(i.severity), i.cell, i.indicator) for i in d.issues]


def messages(summary, rel: str, code: str) -> list[str]:  # type: ignore[no-untyped-def]
    d = next(d for d in summary.decisions if d.inbound.rel == rel)
    return [i.message for i in d.issues if i.code == code]


def status(summary, rel: str) -> str:  # type: ignore[no-untyped-def]
    return next(d.status for d in summary.decisions if d.inbound.rel == rel)


def values(**changes: object) -> dict[str, object]:
    """A consistent return: ratios blank (they are checked on their own), project-free."""
    return {**{k: v for k, v in BASE_VALUES.items() if k not in {"A02", "A04", "E06"}}, **changes}


def test_2023fy_then_2024h1_with_a_unit_slip_then_2024fy_smaller_than_h1(ws):  # type: ignore[no-untyped-def]
    write_return(ws.drop("民乐县_2023年度.xlsx"), MINLE, "2023年度", values(A01=12000, E04=80000))
    first = ws.run()
    assert issues(first, "民乐县_2023年度.xlsx") == []

    # 4.15 亿元 typed into a 万元 row, with last year's 36000 万元 beside it
    h1 = values(A01=5100, E04={"value": 4.15, "last_year": 36000})
    write_return(ws.drop("民乐县_2024年上半年.xlsx"), MINLE, "2024年上半年", h1)
    second = ws.run()
    e04 = f"F{ROW['E04'] - 2}"  # the A02 and A04 rows above it are left out
    assert issues(second, "民乐县_2024年上半年.xlsx") == [("yoy-jump", "warning", e04, "E04")]
    assert messages(second, "民乐县_2024年上半年.xlsx", "yoy-jump") == [
        "E04 技术合同成交额 本期 4.15 是上年同期 36000 的 0.000115 倍，疑似万元与亿元（或人次与万人次）混用（相差约 1 万倍）"
    ]
    assert status(second, "民乐县_2024年上半年.xlsx") == "accepted"

    # the whole year smaller than its first half, and last year's figure misquoted
    fy = values(A01={"value": 3000, "last_year": 11000}, E04=90000)
    write_return(ws.drop("民乐县_2024年度.xlsx"), MINLE, "2024年度", fy)
    third = ws.run()
    a01 = ROW["A01"]
    assert issues(third, "民乐县_2024年度.xlsx") == [
        ("cumulative-decrease", "error", f"F{a01}", "A01"),
        ("last-year-mismatch", "warning", f"G{a01}", "A01"),
    ]
    assert messages(third, "民乐县_2024年度.xlsx", "cumulative-decrease") == [
        f"A01 全社会研发经费支出 本期累计 3000 小于同年较早报告期的累计数 2024年上半年 5100（民乐县_2024年上半年.xlsx F{a01}）"
        "（流量指标应逐期累计、不应减少）"
    ]
    assert messages(third, "民乐县_2024年度.xlsx", "last-year-mismatch") == [
        f"A01 全社会研发经费支出 的上年同期填报 11000，而 2023年全年报送的本期累计为 12000（民乐县_2023年度.xlsx F{a01}）"
    ]
    assert status(third, "民乐县_2024年度.xlsx") == "rejected"


def test_an_earlier_period_arriving_later_is_checked_too(ws):  # type: ignore[no-untyped-def]
    write_return(ws.drop("fy.xlsx"), MINLE, "2024年度", values(A01=5000))
    ws.run()
    write_return(ws.drop("h1.xlsx"), MINLE, "2024H1", values(A01=6000))
    s = ws.run()
    assert issues(s, "h1.xlsx") == [("cumulative-exceeds-later", "error", f"F{ROW['A01']}", "A01")]


def test_stock_indicators_may_go_down(ws):  # type: ignore[no-untyped-def]
    write_return(ws.drop("h1.xlsx"), MINLE, "2024H1", values(C01=20))
    ws.run()
    write_return(ws.drop("fy.xlsx"), MINLE, "2024年度", values(C01=18))  # enterprises lose their certificate
    assert issues(ws.run(), "fy.xlsx") == []


def test_cumulative_within_one_batch(ws):  # type: ignore[no-untyped-def]
    a = write_return(ws.drop("q1.xlsx"), MINLE, "2024Q1", values(B01=40))
    b = write_return(ws.drop("h1.xlsx"), MINLE, "2024H1", values(B01=36))
    os.utime(a, (1_700_000_000, 1_700_000_000))
    os.utime(b, (1_700_000_100, 1_700_000_100))
    s = ws.run()
    b01 = f"F{ROW['B01'] - 2}"
    # as if the two had come on two nights: the first is judged on what was there, the second against it
    assert issues(s, "q1.xlsx") == []
    assert issues(s, "h1.xlsx") == [("cumulative-decrease", "error", b01, "B01")]


def test_yoy_jump_passes_within_the_factor(ws):  # type: ignore[no-untyped-def]
    write_return(ws.drop("r.xlsx"), MINLE, "2024H1", values(E04={"value": 41500, "last_year": 9000}))  # 4.6×
    assert issues(ws.run(), "r.xlsx") == []


def test_outlier_against_the_other_counties(ws):  # type: ignore[no-untyped-def]
    for n, county in enumerate(["620702", "620721", "620723", "620724", "620725"]):
        write_return(ws.drop(f"c{n}.xlsx"), county, "2024H1", values(F06=1000 + 100 * n))
    write_return(ws.drop("minle.xlsx"), MINLE, "2024H1", values(F06=250000))
    s = ws.run()
    f06 = f"F{ROW['F06'] - 3}"
    assert issues(s, "minle.xlsx") == [("outlier", "warning", f06, "F06")]
    assert messages(s, "minle.xlsx", "outlier")[0].startswith(
        "F06 科技培训人次 250000人次 明显偏离本期其他县区（中位数 1250人次"
    )
    assert all(issues(s, f"c{n}.xlsx") == [] for n in range(5))


def test_no_outlier_check_with_too_few_counties(ws):  # type: ignore[no-untyped-def]
    write_return(ws.drop("a.xlsx"), "620702", "2024H1", values(F06=1000))
    write_return(ws.drop("b.xlsx"), MINLE, "2024H1", values(F06=250000))
    assert issues(ws.run(), "b.xlsx") == []


GOOD = valid_uscc("91620722MA71ABC1K")


def test_project_detail_against_key_indicators(ws):  # type: ignore[no-untyped-def]
    rows = [
        project_row(1, "甲", "单位甲", GOOD, "省级重点研发计划", "立项", 100),
        project_row(2, "乙", "单位乙", GOOD, "省级科技重大专项", "申报", None),
        project_row(3, "丙", "单位丙", GOOD, "中央引导地方科技发展资金", "申报", 200),
    ]
    consistent = values(B01=2, B02=1, B04=1, B03=300)
    write_return(ws.drop("ok.xlsx"), MINLE, "2024H1", consistent, Shape(projects=rows))
    bad = values(B01=5, B02=2, B04=3, B03=250)
    write_return(ws.drop("bad.xlsx"), "620723", "2024H1", bad, Shape(projects=rows))
    s = ws.run()
    assert issues(s, "ok.xlsx") == []
    row = {c: f"F{ROW[c] - 2}" for c in ("B01", "B02", "B03", "B04")}  # A02 and A04 rows left out
    assert issues(s, "bad.xlsx") == [
        ("detail-provincial-count", "warning", row["B01"], "B01"),
        ("detail-approved-count", "warning", row["B02"], "B02"),
        ("detail-funds-exceed", "warning", row["B03"], "B03"),
        ("detail-central-count", "warning", row["B04"], "B04"),
    ]
    assert messages(s, "bad.xlsx", "detail-funds-exceed") == [
        "项目明细到位资金合计 300 万元，超过主要指标 B03 争取上级科技资金 250 万元"
    ]
