"""The look every workbook huizong writes shares, whatever writes it: colours, number formats, words."""

from __future__ import annotations

from huizong.catalog import Indicator

HEAD_COLOR = "DDEBF7"  # header rows
TOTAL_COLOR = "FFF2CC"  # the region's total column
BORDER_COLOR = "A6A6A6"
PCT = "0.00"
SEVERITY_ZH = {"error": "错误", "warning": "警告"}


def number_format(ind: Indicator) -> str:
    if ind.integer:
        return "#,##0"
    if ind.unit == "%":
        return "0.00"
    return "#,##0.00"
