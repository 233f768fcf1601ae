"""How huizong shows a value, in one place: the number formats of every workbook, a time as people
read it, a number on a page; `register` makes them the filters of every Jinja environment."""

from __future__ import annotations

from typing import Any

from huizong.numbers import shown

AMOUNT = "#,##0.00"  # an amount in a workbook: 12,345.60
INTEGER = "#,##0"  # a count: 1,234
RATIO = "0.00"  # a percentage or a ratio, already in its unit: 2.35


def when(iso: Any) -> str:
    """A timestamp to the minute: 2024-07-08T10:15:00+08:00 -> 2024-07-08 10:15 ('' if missing)."""
    return str(iso or "")[:16].replace("T", " ")


def num(value: Any) -> str:
    """A number on a page: grouped, whole numbers without decimals, others to six significant digits."""
    if value is None:
        return ""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.6g}"


FILTERS = {"when": when, "num": num, "shown": shown}


def register(env: Any) -> Any:
    """Give a Jinja environment huizong's filters; returns it."""
    env.filters.update(FILTERS)
    return env
