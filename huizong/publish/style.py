"""The look every workbook huizong writes shares, whatever writes it: colours, number formats, words."""

from __future__ import annotations

from huizong.catalog import Indicator
from huizong.formats import AMOUNT, INTEGER, RATIO

HEAD_COLOR = "DDEBF7"  # header rows
TOTAL_COLOR = "FFF2CC"  # the region's total column
BORDER_COLOR = "A6A6A6"
PCT = RATIO
SEVERITY_ZH = {"error": "错误", "warning": "警告"}


def number_format(ind: Indicator) -> str:
    if ind.integer:
        return INTEGER
    if ind.unit == "%":
        return RATIO
    return AMOUNT
