"""Reporting rate (报送情况): for each county and period, on time, late, missing, refused
awaiting a fix, or not yet due, against the deadlines in `catalog/deadlines.toml`.

On time means the first acceptable version (accepted, or accepted then superseded by a
correction) arrived by the end of the due day; a later correction does not make it late.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from huizong.catalog import Division, FormConfig
from huizong.clock import TZ, now
from huizong.ledger import store as st
from huizong.read.periods import Period, parse_token
from huizong.words import Worded


class Reporting(Worded):
    """A county's reporting state for a period: its value (in reporting.csv), its Chinese label,
    its fill in the workbooks and its colour on the terminal, in one place."""

    ON_TIME = "on-time", "按时报送", "C6EFCE", "green"
    LATE = "late", "逾期报送", "FFEB9C", "yellow"
    MISSING = "missing", "逾期未报", "FFC7CE", "red"
    REFUSED = "refused", "退回待改", "FFC7CE", "red"
    NOT_DUE = "not-due", "未到期", "EDEDED", "dim"

    __words__ = ("zh", "fill", "terminal")
    zh: str
    fill: str
    terminal: str


ON_TIME, LATE, MISSING, REFUSED, NOT_DUE = Reporting


def load_deadlines(config: FormConfig) -> dict[str, Any]:
    """`[due]` of deadlines.toml, checked when the configuration is loaded (`catalog.Config`)."""
    return config.deadlines


def due_at(period: Period, deadlines: dict[str, Any]) -> dt.datetime:
    """The last moment the return for `period` is on time: a monthly, quarterly or half-yearly
    form's `month` = (months after the period's last, day); else the kind's "MM-DD", in the year
    after for the kinds of `next_year`."""
    if "month" in deadlines:  # a month, quarter or half year: months after it ends
        after, day = deadlines["month"]
        m = period.months[-1] - 1 + int(after)
        return dt.datetime(period.year + m // 12, m % 12 + 1, int(day), 23, 59, 59, tzinfo=TZ)
    month, day = (int(x) for x in str(deadlines[period.kind]).split("-"))
    year = period.year + (1 if period.kind in deadlines.get("next_year", []) else 0)
    return dt.datetime(year, month, day, 23, 59, 59, tzinfo=TZ)


@dataclass(frozen=True, slots=True)
class Cell:
    status: Reporting
    received_at: str | None  # of the first acceptable version, or of the latest refused one
    due: dt.datetime

    @property
    def zh(self) -> str:
        return self.status.zh


def status_of(subs: list[dict[str, Any]], due: dt.datetime, today: dt.datetime) -> Cell:
    ok = sorted(s["received_at"] for s in subs if s["status"] in (st.ACCEPTED, st.SUPERSEDED))
    if any(s["status"] == st.ACCEPTED for s in subs) and ok:
        first = dt.datetime.fromisoformat(ok[0])
        return Cell(ON_TIME if first <= due else LATE, ok[0], due)
    refused = sorted(s["received_at"] for s in subs if s["status"] == st.REJECTED)
    if refused:
        return Cell(REFUSED, refused[-1], due)
    return Cell(MISSING if today > due else NOT_DUE, None, due)


@dataclass
class Matrix:
    counties: list[Division]
    periods: list[str]
    cells: dict[tuple[str, str], Cell]  # (county, period) -> cell

    def due(self, period: str) -> dt.datetime:
        return self.cells[(self.counties[0].code, period)].due

    def rate(self, period: str) -> tuple[int, int, int]:
        """(on time, reported at all, expected) for a period."""
        cells = [self.cells[(c.code, period)] for c in self.counties]
        return (sum(c.status == ON_TIME for c in cells), sum(c.status in (ON_TIME, LATE) for c in cells), len(cells))


def matrix(store: st.Store, config: FormConfig, region: str, periods: list[str] | None = None,
           today: dt.datetime | None = None, submissions: list[dict[str, Any]] | None = None) -> Matrix:  # fmt: skip
    """`submissions`: the ledger's rows when the caller has read them already."""
    counties = config.divisions.counties_of(region)
    codes = [c.code for c in counties]
    deadlines = load_deadlines(config)
    today = today or dt.datetime.fromisoformat(now())
    every = store.submissions(form=config.form_id) if submissions is None else submissions
    inside = set(codes)
    subs = [s for s in every if s["county_code"] in inside and s["period"] and s["form"] == config.form_id]
    form = config.form
    wanted = sorted(p for p in (periods if periods is not None else {s["period"] for s in subs})
                    if form.collects(parse_token(p)))  # a refused file's period the form does not collect is no column  # fmt: skip
    by_cell: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for s in subs:
        by_cell.setdefault((s["county_code"], s["period"]), []).append(s)
    cells = {}
    for p in wanted:
        due = due_at(parse_token(p), deadlines)
        for c in counties:
            cells[(c.code, p)] = status_of(by_cell.get((c.code, p), []), due, today)
    return Matrix(counties, wanted, cells)
