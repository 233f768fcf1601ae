from __future__ import annotations

import pytest

from huizong.read.periods import Period, find_period_in_text, parse_period, parse_token


@pytest.mark.parametrize(
    "text, token",
    [
        ("2024Q1", "2024Q1"),
        ("2024h1", "2024H1"),
        ("2024年一季度", "2024Q1"),
        ("2024年第一季度", "2024Q1"),
        ("2024年1-3月", "2024Q1"),
        ("2024年上半年", "2024H1"),
        ("2024年1-6月", "2024H1"),
        ("2024年1—6月", "2024H1"),
        ("2024年1至6月", "2024H1"),
        ("2024年1月-6月", "2024H1"),
        ("2024年1-6月份", "2024H1"),
        ("２０２４年１－６月", "2024H1"),
        (" 2024 年 上半年 ", "2024H1"),
        ("2024年前三季度", "2024Q3"),
        ("2024年1-9月", "2024Q3"),
        ("2024年", "2024FY"),
        ("2024年度", "2024FY"),
        ("2024年全年", "2024FY"),
        ("2024年1-12月", "2024FY"),
        ("2024", "2024FY"),
        (2024, "2024FY"),
        (2024.0, "2024FY"),
        ("二〇二四年上半年", "2024H1"),
        ("2024.1-6", "2024H1"),
    ],
)
def test_period_spellings(text, token):  # type: ignore[no-untyped-def]
    p = parse_period(text)
    assert p is not None and p.token == token


@pytest.mark.parametrize("text", ["2024年1-5月", "2024年3-6月", "上半年", "2024年下半年", "abc", "", None, "99年"])
def test_unreadable_periods(text):  # type: ignore[no-untyped-def]
    assert parse_period(text) is None


def test_period_in_title_and_file_name():
    assert find_period_in_text("民乐县2024年上半年科技创新主要指标报表") == Period(2024, "H1")
    assert find_period_in_text("高台县_2024H1_更正") == Period(2024, "H1")
    assert find_period_in_text("临泽县2023年1-9月") == Period(2023, "Q3")
    assert find_period_in_text("工作总结") is None


def test_token_round_trip():
    p = parse_token("2024H1")
    assert (p.year, p.kind, p.zh, p.last_year().token) == (2024, "H1", "2024年上半年", "2023H1")
    assert parse_token("2024H2").zh == "2024年下半年" and parse_token("2024K3").months == (7, 8, 9)
    for wrong in ("2024H3", "2024K5", "2024Q2", "2024M13"):
        with pytest.raises(ValueError):
            parse_token(wrong)
