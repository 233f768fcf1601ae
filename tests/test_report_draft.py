"""The report draft (报告稿, issue 23 item 5): a form's Word template filled with a region's
period each time it is published, opened here with python-docx and read sentence by sentence."""

from __future__ import annotations

import shutil
import time
from decimal import Decimal
from pathlib import Path

import docx
import pytest
from builders import BASE_VALUES, CONFIG, write_docx_template, write_return
from conftest import cli
from test_desk_review import browser, make_desk, upload

from huizong.pipeline import run_batch
from huizong.publish.report import amount, change

ROOT = Path(__file__).resolve().parents[1]
DRAFT = "620700/key-indicators/2024H1/报告稿_张掖市_2024H1.docx"


def _paragraphs(path: Path) -> list[str]:
    return [p.text for p in docx.Document(str(path)).paragraphs]


def test_the_shipped_template_drafts_the_half_year_in_a_bureaus_words(ws):  # type: ignore[no-untyped-def]
    def v(value: float, last: float | None = None) -> dict[str, object]:
        return {"value": value, **({"last_year": last} if last is not None else {})}

    minle = {**BASE_VALUES, "A01": v(5100, 4500), "E04": v(41500, 50000), "B03": v(230, 230), "C03": v(22, 20)}
    linze = {**BASE_VALUES, "A01": v(3000, 2500), "E04": v(20000, 25000), "B03": v(100, 100), "C03": v(10)}
    write_return(ws.drop("民乐县.xlsx"), "620722", "2024H1", minle)
    write_return(ws.drop("临泽县.xlsx"), "620723", "2024H1", linze)
    write_return(ws.drop("肃南县.xlsx"), "620721", "2024H1")  # no 上年同期 at all: left out of every growth
    s = run_batch(ws.settings, CONFIG)
    assert [d.status for d in s.decisions] == ["accepted"] * 3, [(d.status, d.reason) for d in s.decisions]
    text = _paragraphs(ws.outputs / DRAFT)
    assert text[0] == "张掖市2024年上半年科技工作主要指标完成情况（初稿）"
    assert text[1].startswith("一、报送情况。截至目前，应报6个县区，已报3个（甘州区、")
    # a rise, over the comparable counties (民乐 8100 against 7000), the total over all three
    assert "全社会研发经费支出1.32亿元，同比增长15.7%" in text[2], text[2]
    assert "成交额10.3亿元，同比下降18.0%" in text[6], text[6]  # a fall: 61,500 against 75,000
    assert "争取上级科技资金560万元，与上年持平" in text[3], text[3]  # no change
    assert "科技型中小企业入库54家，同比增长10.0%" in text[4], text[4]  # only 民乐 gave last year's
    assert "开展科技培训30000人次" in text[7] and "配备科学副校长114人" in text[7], text[7]
    assert text[-2].startswith("各县区全社会研发经费支出：") and text[-2].endswith("临泽县0.3亿元。"), text[-2]
    assert text[-1] == "注：同比增减按可比口径计算，肃南裕固族自治县未填报上年同期数，未计入全社会研发经费支出同比。"
    assert not any("{" in t or "}" in t for t in text)
    # the same totals make the same bytes: a rerun or a republish writes what was written
    first = (ws.outputs / DRAFT).read_bytes()
    time.sleep(2.1)  # a zip entry's time has two-second steps: this is later by at least one
    run_batch(ws.settings, CONFIG, republish=True)
    assert (ws.outputs / DRAFT).read_bytes() == first


def test_growth_and_amounts_are_worded_as_a_bureau_writes_them() -> None:
    assert change(Decimal("13.5")) == "同比增长13.5%"
    assert change(Decimal("-2")) == "同比下降2.0%" and change(Decimal("-0.04")) == "与上年持平"
    assert change(Decimal("0.05")) == "同比增长0.1%" and change(None) == ""
    assert amount(Decimal(5100), "万元") == "0.51亿元" and amount(Decimal(230), "万元") == "230万元"
    assert (
        amount(Decimal("1392.5"), "万元") == "1392.5万元"
        and amount(Decimal(3000), "万元", like=Decimal(13200)) == "0.3亿元"
    )
    assert amount(Decimal("0.425"), "%") == "0.4%" and amount(Decimal(10000), "人次") == "10000人次"
    assert amount(Decimal(36), "项") == "36项" and amount(Decimal("1.745"), "件/万人") == "1.75件/万人"


def test_the_ranking_names_the_counties_largest_first_in_the_totals_scale() -> None:
    """排名, 领先 and 第一 are made when a template asks (the nation has thousands of counties per
    indicator): largest first, ties in the counties' order, each figure in the scale of the total."""
    from huizong.catalog import Division
    from huizong.publish.report import context
    from huizong.publish.rollup import Total
    from huizong.publish.view import RegionPeriod

    names = ["甲县", "乙县", "丙县", "丁县", "戊县"]
    counties = [Division(str(n), name, "county", "0") for n, name in enumerate(names, start=1)]
    values = {"1": 300.0, "2": 9000.5, "3": 1200.0, "4": 1200.0, "5": 0.0}
    total = Total("A01", "研发经费", "万元", sum(values.values()), None, None, None, None, 5, 5, tuple(values), ())
    facts = [
        {"county_code": c, "indicator": "A01", "column": "value", "number": v, "period": "2024H1"}
        for c, v in values.items()
    ]
    region = Division("0", "某市", "prefecture", None)
    view = RegionPeriod(region, "2024H1", counties, [total], facts, [], [], [])
    a01 = context(view, CONFIG.for_form("key-indicators"))["A01"]
    assert [(p.县区, p.名次, p.本期) for p in a01.排名] == [
        ("乙县", 1, "0.9亿元"),  # 11,700.5 万元 in all: every county in 亿元
        ("丙县", 2, "0.12亿元"),
        ("丁县", 3, "0.12亿元"),
        ("甲县", 4, "0.03亿元"),
        ("戊县", 5, "0亿元"),
    ]
    assert a01.排名[0].数值 == Decimal("9000.5") and a01.本期 == "1.17亿元"
    assert a01.领先 == "乙县、丙县、丁县" and a01.第一 == "乙县"


@pytest.mark.parametrize(
    ("paragraphs", "said"),
    [
        (
            ["研发经费{{ A01.本期 }}。", "高新技术企业{{ C01.数量 }}家。"],
            "报告稿.docx：第 3 段“高新技术企业{{ C01.数量 }}家。”：没有“数量”这个字段",
        ),
        (["项目{{ X99.本期 }}。"], "报告稿.docx：第 2 段“项目{{ X99.本期 }}。”：未知字段“X99”"),
        (
            ["{{ 地区 }}", "{% if A01.同比 %}同比{{ A01.同比 }}"],
            "报告稿.docx：第 3 段“{% if A01.同比 %}同比{{ A01.同比 }}”：模板语法错误",
        ),
    ],
)
def test_a_broken_template_is_a_forms_check_error_naming_the_file_and_the_place(tmp_path, paragraphs, said):  # type: ignore[no-untyped-def]
    folder = tmp_path / "key-indicators"
    shutil.copytree(ROOT / "expectations" / "forms" / "key-indicators", folder)
    write_docx_template(folder / "报告稿.docx", "{{ 地区 }}报告", paragraphs)
    r = cli("forms", "--config", str(ROOT / "expectations"), "check", str(folder))
    assert r.returncode == 2 and said in r.stderr, r.stderr
    assert str(folder / "报告稿.docx") in r.stderr
    good = cli(
        "forms", "--config", str(ROOT / "expectations"), "check", str(ROOT / "expectations/forms/key-indicators")
    )
    assert good.returncode == 0 and "1 个报告稿模板" in good.stdout


def test_reviewers_download_the_draft_from_the_board_and_counties_do_not(ws, monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    store, ws = make_desk(ws, monkeypatch)
    minle = browser(store, ws, "minle")
    upload(minle, write_return(tmp_path / "民乐县.xlsx", "620722", "2024H1"))
    deadline = time.monotonic() + 60
    while not (ws.outputs / DRAFT).is_file() and time.monotonic() < deadline:  # the desk's publisher writes it
        time.sleep(0.2)
    reviewer = browser(store, ws, "zhangye")
    board = reviewer.get("/board?form=key-indicators&period=2024H1").text
    assert 'class="draft" href="/report?form=key-indicators&amp;division=620700&amp;period=2024H1&amp;name=' in board
    got = reviewer.get("/report", params={"form": "key-indicators", "division": "620700", "period": "2024H1"})
    assert got.status_code == 200 and got.content == (ws.outputs / DRAFT).read_bytes()
    assert "attachment" in got.headers["content-disposition"]
    none = reviewer.get("/report", params={"form": "key-indicators", "division": "620700", "period": "2023H1"})
    assert none.status_code == 404
    county = minle.get("/report", params={"form": "key-indicators", "division": "620700", "period": "2024H1"})
    assert county.status_code == 403
    lanzhou = browser(store, ws, "lanzhou")
    other = lanzhou.get("/report", params={"form": "key-indicators", "division": "620700", "period": "2024H1"})
    assert other.status_code == 404  # another city's reviewer: not theirs
    for c in (minle, reviewer, lanzhou):
        c.__exit__(None, None, None)
