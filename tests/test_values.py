"""Cell content -> number in catalog units: every spelling the spec lists."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huizong.read.values import parse_cell, to_catalog_units


def convert(raw: object, catalog_unit: str, unit_column: str | None = None):  # type: ignore[no-untyped-def]
    from builders import CONFIG

    return to_catalog_units(parse_cell(raw), unit_column, catalog_unit, CONFIG.units)


@pytest.mark.parametrize(
    "raw, unit, column, number, flags",
    [
        ("0.51亿元", "万元", None, 5100.0, ("converted",)),
        ("230万元", "万元", None, 230.0, ()),
        ("4.15", "万元", "亿元", 41500.0, ("converted",)),
        (4.15, "万元", "亿元", 41500.0, ("converted",)),
        ("5100万元", "万元", "亿元", 5100.0, ()),  # the cell's own unit wins over the column
        ("13.50%", "%", None, 13.5, ()),
        ("1万人次", "人次", None, 10000.0, ("converted",)),
        ("1万", "人次", "人次", 10000.0, ("converted",)),
        ("55名", "人", None, 55.0, ()),
        ("31件", "件", None, 31.0, ()),
        ("135000人", "万人", None, 13.5, ("converted",)),
        ("1,234.5", "万元", None, 1234.5, ()),
        ("12,345,678", "万元", None, 12345678.0, ()),
        ("１２３", "家", None, 123.0, ()),
        ("１２，３４５．６", "万元", None, 12345.6, ()),
        (" 36 ", "项", None, 36.0, ()),
        ("3 6", "项", None, 36.0, ()),
        ("\u300036\u3000", "项", None, 36.0, ()),
        ("500多", "人次", None, 500.0, ("approximate",)),
        ("10余", "项", None, 10.0, ("approximate",)),
        ("约200", "万元", None, 200.0, ("approximate",)),
        ("10余万元", "万元", None, 10.0, ("approximate",)),
        ("500多人(次)", "人次", None, 500.0, ("approximate",)),
        ("300左右", "人", None, 300.0, ("approximate",)),
        ("0.51亿", "万元", None, 5100.0, ("converted",)),
        (36, "项", None, 36.0, ()),
        (36.0, "项", None, 36.0, ()),
        (-3, "万元", None, -3.0, ()),
        ("2.5千元", "万元", None, 0.25, ("converted",)),
    ],
)
def test_cell_text_to_catalog_units(raw, unit, column, number, flags):  # type: ignore[no-untyped-def]
    v = convert(raw, unit, column)
    assert v.status == "ok"
    assert v.number == number
    assert v.flags == flags


@pytest.mark.parametrize("raw", ["*", "X", "XX", "x", "×", "—", "——", "-", "/", "无", "－", "／", "＊", "…"])
def test_placeholders_are_no_number(raw):  # type: ignore[no-untyped-def]
    v = convert(raw, "万元")
    assert (v.status, v.number, v.flags) == ("placeholder", None, ("placeholder",))


@pytest.mark.parametrize("raw", [None, "", "   ", "\u3000"])
def test_blank(raw):  # type: ignore[no-untyped-def]
    assert convert(raw, "万元").status == "blank"


@pytest.mark.parametrize("raw", ["abc", "待核实", "1.2.3", True, dt.date(2024, 6, 30), "36项目", float("nan")])
def test_not_numeric(raw):  # type: ignore[no-untyped-def]
    assert convert(raw, "项").status in {"not-numeric", "unit-unknown"}
    assert convert(raw, "项").number is None


@pytest.mark.parametrize("raw, unit, column", [("5亿元", "家", None), ("12", "人", "亿元"), ("3万美元", "万元", None)])
def test_unconvertible_unit(raw, unit, column):  # type: ignore[no-untyped-def]
    v = convert(raw, unit, column)
    assert v.status == "unit-unknown"
    assert v.number is None


def test_decimal_arithmetic_is_exact():
    # 0.51 * 10000 in binary floating point is 5100.000000000001
    assert convert("0.51亿元", "万元").number == 5100.0
    assert convert("0.07亿元", "万元").number == 700.0


@given(st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False))
def test_thousands_and_full_width_round_trip(d):  # type: ignore[no-untyped-def]
    text = f"{d:,.2f}"
    full = text.translate(str.maketrans("0123456789,.", "０１２３４５６７８９，．"))
    assert convert(text, "万元").number == float(d)
    assert convert(full, "万元").number == float(d)
    assert convert(f"{d}亿元", "万元").number == float(d * 10000)
