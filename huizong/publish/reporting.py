"""Reporting rate (报送情况): for each county and period, on time, late, missing, refused
awaiting a fix, or not yet due, against the deadlines in `catalog/deadlines.toml`: the timeliness
side of a county's standing (`ledger.standing`), whose rule of lateness is the one every page uses.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from huizong.catalog import Division, FormConfig
from huizong.clock import now
from huizong.ledger import standing
from huizong.ledger import store as st
from huizong.ledger.standing import Timeliness, due_at
from huizong.read.periods import parse_token

__all__ = ["Cell", "Matrix", "due_at", "load_deadlines", "matrix", "status_of"]
ON_TIME, LATE, MISSING, REFUSED, NOT_DUE = Timeliness


def load_deadlines(config: FormConfig) -> dict[str, Any]:
    """`[due]` of deadlines.toml, checked when the configuration is loaded (`catalog.Config`)."""
    return config.deadlines


@dataclass(frozen=True, slots=True)
class Cell:
    status: Timeliness
    received_at: str | None  # of the first acceptable version, or of the latest refused one
    due: dt.datetime

    @property
    def zh(self) -> str:
        return self.status.zh


def status_of(subs: list[dict[str, Any]], due: dt.datetime, today: dt.datetime) -> Cell:
    return Cell(*standing.timeliness(subs, due, today), due)


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


def matrix(
    store: st.Store,
    config: FormConfig,
    region: str,
    periods: list[str] | None = None,
    today: dt.datetime | None = None,
    submissions: list[dict[str, Any]] | None = None,
) -> Matrix:
    """`submissions`: the ledger's rows when the caller has read them already."""
    counties = config.divisions.counties_of(region)
    codes = [c.code for c in counties]
    deadlines = load_deadlines(config)
    today = today or dt.datetime.fromisoformat(now())
    every = store.submissions(form=config.form_id) if submissions is None else submissions
    inside = set(codes)
    subs = [
        s for s in standing.own(every) if s["county_code"] in inside and s["period"] and s["form"] == config.form_id
    ]
    form = config.form
    wanted = sorted(
        p for p in (periods if periods is not None else {s["period"] for s in subs}) if form.collects(parse_token(p))
    )  # a refused file's period the form does not collect is no column
    by_cell: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for s in subs:
        by_cell.setdefault((s["county_code"], s["period"]), []).append(s)
    cells = {}
    for p in wanted:
        due = due_at(parse_token(p), deadlines)
        for c in counties:
            cells[(c.code, p)] = status_of(by_cell.get((c.code, p), []), due, today)
    return Matrix(counties, wanted, cells)
