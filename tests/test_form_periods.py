"""Periods of every kind: a form says which periods it collects (a year, half years, quarters,
months, or the cumulative quarters) and their deadlines, nothing more; a file headed with another
period is refused; shorter periods add up to the longer ones the form declares, and only those a
received return can fill are published."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from conftest import Workspace, cli
from test_exact import config_with, write_firms
from test_forms import contract, write_contracts

from huizong.catalog import Config
from huizong.pipeline import run_batch
from huizong.read.periods import Period, chronological, parse_period

NO_RULES = "code,scope,severity,expression,field,message,periods,message_en\n"
YEARLY = (
    'frequency = "cumulative"\ndue = { Q1 = "04-15", H1 = "07-15", Q3 = "10-15", FY = "01-25", next_year = ["FY"] }'
)


def with_frequency(root: Path, text: str) -> None:
    toml = root / "forms" / "rd-firms" / "form.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace(YEARLY, text), encoding="utf-8")


def workspace(tmp_path: Path) -> Workspace:
    (tmp_path / "run").mkdir()
    return Workspace(tmp_path / "run")


def test_a_yearly_form_refuses_a_half_year_file(tmp_path: Path) -> None:
    root = config_with(tmp_path, rules=NO_RULES)
    with_frequency(root, 'frequency = "year"\ndue = { FY = "01-25", next_year = ["FY"] }')
    assert cli("forms", "check", str(root / "forms" / "rd-firms"), "--config", str(root)).returncode == 0
    ws = workspace(tmp_path)
    write_firms(ws.drop("民乐县.xlsx"), "620722", "2024年度", [["甲", None, 1000, 50]])
    write_firms(ws.drop("甘州区.xlsx"), "620702", "2024年上半年", [["乙", None, 1000, 50]])
    write_firms(ws.drop("临泽县.xlsx"), "620723", "2024年1-6月", [["丙", None, 1000, 50]])
    summary = run_batch(dataclasses.replace(ws.settings, config=root), Config.load(root))
    got = {d.inbound.rel: (d.status, [(i.code, i.cell) for i in d.issues]) for d in summary.decisions}
    assert got == {
        "民乐县.xlsx": ("accepted", []),
        "甘州区.xlsx": ("rejected", [("period-not-collected", "A3")]),
        "临泽县.xlsx": ("rejected", [("period-not-collected", "A3")]),
    }
    refused = next(d for d in summary.decisions if d.inbound.rel == "甘州区.xlsx").issues[0]
    assert (
        refused.message
        == "报告期“2024年上半年”是2024年上半年，本表不收这一期的报表（应为 全年，如 2024年 或 2024年度）"
    )
    made = sorted(p.name for p in (ws.outputs / "620700" / "rd-firms").iterdir() if p.is_dir())
    assert made == ["2024FY"]  # no 上半年 output from the refused files
    due = {r["period"]: r["due"] for r in ws.csv("620700/rd-firms/reporting.csv")}
    assert due == {"2024FY": "2025-01-25"}


@pytest.mark.parametrize(
    ("frequency", "said"),
    [
        ('frequency = "year"\ndue = { Q1 = "04-15", FY = "01-25" }', "due 中的 Q1 不是本表收的报告期"),
        ('frequency = "year"\ndue = { }', "due 缺少 FY"),
        ('frequency = "cumulative"\nperiods = ["H1", "FY"]\ndue = { H1 = "07-32", FY = "01-25" }', "due.H1"),
        ('frequency = "quarter"', "缺少 due"),
        ('frequency = "weekly"', "frequency = 'weekly'"),
        ('frequency = "month"\ndue = "+1-05"\nperiods = ["H1"]', "periods 中的 H1"),
        ('frequency = "quarter"\ndue = "+1-10"\nperiods = ["K1", "K2"]\nsums = ["FY"]', "FY（全年）不能由"),
        ('frequency = "year"\ndue = { FY = "01-25" }\nsums = ["FY"]', "sums 只用于"),
    ],
)
def test_periods_and_deadlines_are_checked_at_load(tmp_path: Path, frequency: str, said: str) -> None:
    root = config_with(tmp_path, rules=NO_RULES)
    with_frequency(root, frequency)
    out = cli("forms", "check", str(root / "forms" / "rd-firms"), "--config", str(root))
    assert out.returncode != 0 and said in out.stderr, out.stderr
    assert "form.toml" in out.stderr


def test_half_yearly_returns_in_a_cumulative_form_need_no_other_deadlines(tmp_path: Path) -> None:
    root = config_with(tmp_path, rules=NO_RULES)
    with_frequency(
        root,
        'frequency = "cumulative"\nperiods = ["H1", "FY"]\ndue = { H1 = "07-20", FY = "01-31", next_year = ["FY"] }',
    )
    ws = workspace(tmp_path)
    write_firms(ws.drop("民乐县.xlsx"), "620722", "2024年上半年", [["甲", None, 1000, 50]])
    write_firms(ws.drop("甘州区.xlsx"), "620702", "2024年一季度", [["乙", None, 1000, 50]])
    summary = run_batch(dataclasses.replace(ws.settings, config=root), Config.load(root))
    assert {d.inbound.rel: d.status for d in summary.decisions} == {
        "民乐县.xlsx": "accepted",
        "甘州区.xlsx": "rejected",
    }
    assert {r["period"]: r["due"] for r in ws.csv("620700/rd-firms/reporting.csv")} == {"2024H1": "2024-07-20"}


def test_quarters_add_up_to_the_half_year_and_only_what_can_be_filled_is_published(tmp_path: Path) -> None:
    root = config_with(tmp_path, rules=NO_RULES)
    with_frequency(root, 'frequency = "quarter"\ndue = "+1-10"')
    ws = workspace(tmp_path)
    write_firms(ws.drop("民乐县一季度.xlsx"), "620722", "2024年第一季度", [["甲", None, 1000, 50.05]])
    write_firms(ws.drop("民乐县二季度.xlsx"), "620722", "2024年4-6月", [["甲", None, 1001, 49.95], ["乙", None, 1, 1]])
    write_firms(ws.drop("甘州区二季度.xlsx"), "620702", "2024Q2", [["丙", None, 500, 5]])
    write_firms(ws.drop("临泽县.xlsx"), "620723", "2024年上半年", [["丁", None, 500, 5]])  # not a quarter
    summary = run_batch(dataclasses.replace(ws.settings, config=root), Config.load(root))
    assert {d.inbound.rel: d.status for d in summary.decisions} == {
        "民乐县一季度.xlsx": "accepted",
        "民乐县二季度.xlsx": "accepted",
        "甘州区二季度.xlsx": "accepted",
        "临泽县.xlsx": "rejected",
    }
    made = sorted(p.name for p in (ws.outputs / "620700" / "rd-firms").iterdir() if p.is_dir())
    assert made == ["2024H1", "2024K1", "2024K2"]  # no 前三季度 or 全年: nothing after June came in
    half = {r["indicator_code"]: r for r in ws.csv("620700/rd-firms/2024H1/totals.csv")}
    # 民乐 has both quarters (counted); 甘州 only the second (not counted in the half year)
    assert (half["RD"]["value"], half["REV"]["value"], half["RD"]["n_reported"]) == ("101", "2002", "1")
    assert half["RDI"]["value"] == str(round(100 * 101 / 2002, 6))
    due = {r["period"]: r["due"] for r in ws.csv("620700/rd-firms/reporting.csv") if r["county_code"] == "620722"}
    assert due == {"2024K1": "2024-04-10", "2024K2": "2024-07-10"}


def test_the_monthly_contracts_publish_no_empty_longer_periods(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    for m in (1, 2, 3):
        write_contracts(
            ws.drop(f"民乐县{m}月.xlsx"),
            "620722",
            f"2024-{m:02d}",
            [
                contract(
                    f"6207222024000{m}",
                    amount=10.0,
                    tech=1,
                    registered=dt.datetime(2024, m, 9),
                    signed=dt.datetime(2024, m, 1),
                )
            ],
        )
    summary = ws.run()
    assert summary.counts["accepted"] == 3
    made = sorted(p.name for p in (ws.outputs / "620700" / "tech-contracts").iterdir() if p.is_dir())
    assert made == ["2024M01", "2024M02", "2024M03", "2024Q1"]  # not 上半年, 前三季度, 全年
    q1 = {r["indicator_code"]: r["value"] for r in ws.csv("620700/tech-contracts/2024Q1/totals.csv")}
    assert (q1["N"], q1["AMT"]) == ("3", "30")


@pytest.mark.parametrize(
    ("text", "grain", "token"),
    [
        ("2024年第二季度", "quarter", "2024K2"),
        ("二〇二四年第四季度", "quarter", "2024K4"),
        ("2024年7-9月", "quarter", "2024K3"),
        ("2024Q3", "quarter", "2024K3"),
        ("2024年前三季度", "quarter", "2024Q3"),  # read, then refused: not a quarter
        ("2024年第三季度", "cumulative", "2024Q3"),  # a cumulative form's 第三季度 is 前三季度
        ("2024年下半年", "half", "2024H2"),
        ("2024年7-12月", "half", "2024H2"),
        ("2024年1-6月", "half", "2024H1"),
        ("2024年度", "year", "2024FY"),
        ("2024年上半年", "year", "2024H1"),  # read, then refused by a yearly form
        ("2024年3月", "month", "2024M03"),
    ],
)
def test_each_grain_reads_its_periods(text: str, grain: str, token: str) -> None:
    p = parse_period(text, grain)
    assert p is not None and p.token == token


def test_periods_sort_shorter_first_and_know_their_months() -> None:
    tokens = ["2024FY", "2024H2", "2024K4", "2024M12", "2024K2", "2024H1", "2024M06", "2024Q3"]
    assert sorted(tokens, key=chronological) == [
        "2024M06",
        "2024K2",
        "2024H1",
        "2024Q3",
        "2024M12",
        "2024K4",
        "2024H2",
        "2024FY",
    ]
    assert Period(2024, "K3").months == (7, 8, 9) and Period(2024, "H2").start == dt.date(2024, 7, 1)
    assert Period(2024, "K4").end == dt.date(2024, 12, 31) and Period(2024, "K1").zh == "2024年第一季度"
