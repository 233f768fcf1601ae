"""The reviewers' board: each part of a division (a county, or a city under a province) in each
period of a form — 未报, 待审, 退回, 已通过, 逾期 — and the actions that move it (return, accept,
approve, report upward, un-approve), each checked and journalled in the ledger.

A county's state is read from the ledger as the run left it: its current accepted return and the
reviewer's verdict on it, a held correction waiting for review, or the latest refused upload.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from huizong.catalog import Config, Division
from huizong.clock import now
from huizong.ledger import review as rv
from huizong.ledger import standing
from huizong.ledger import store as st
from huizong.ledger.standing import Review, Timeliness, due_at
from huizong.read.periods import Period, parse_token


@dataclass
class Cell:
    """One part in one period."""

    part: Division
    period: str
    state: Review
    at: str | None = None  # when the return came in (or the city reported)
    submission: dict[str, Any] | None = None  # the return the state is about
    note: str = ""  # the reason it was returned, or what waits
    held: list[dict[str, Any]] = field(default_factory=list)  # corrections waiting for review
    unexplained: int = 0  # warnings the county has not explained yet
    timeliness: Timeliness | None = None  # a county's: in time or not, by the one rule (`standing.timeliness`)

    @property
    def done(self) -> bool:
        return self.state in (Review.PASSED, Review.REPORTED) and not self.held


def _today() -> dt.datetime:
    return dt.datetime.fromisoformat(now())


def periods_open(config: Config, form_id: str, today: dt.datetime | None = None, back: int = 4) -> list[str]:
    """The periods of a form a county reports now or reported lately: those that have ended, the
    newest `back` of them, newest first (of the kinds the form collects: months, quarters…)."""
    form = config.form_by_id[form_id]
    today = today or _today()
    out: list[Period] = []
    for year in range(today.year, today.year - 3, -1):
        candidates = sorted(
            (Period(year, k) for k in form.periods), key=lambda p: (p.months[-1], len(p.months)), reverse=True
        )
        out += [p for p in candidates if p.end < today.date()]
    return [p.token for p in out[:back]]


def due_of(config: Config, form_id: str, period: str) -> dt.datetime:
    form = config.form_by_id[form_id]
    return due_at(parse_token(period), dict(form.due or config.deadlines))


def county_cells(
    store: st.Store,
    config: Config,
    form_id: str,
    counties: Sequence[Division],
    periods: Sequence[str],
    today: dt.datetime | None = None,
) -> dict[tuple[str, str], Cell]:
    """(county, period) -> its cell, from one read of the ledger."""
    today = today or _today()
    codes = [c.code for c in counties]
    rows = [
        s for part in st.chunks(codes, 2000) for s in store.submissions(form=form_id, periods=periods, counties=part)
    ]
    mine: dict[tuple[str, str], list[dict[str, Any]]] = {}  # a county's own rows of a period, every status
    for s in standing.own(rows):
        mine.setdefault((s["county_code"], s["period"]), []).append(s)
    current_ids = [s["id"] for s in rows if s["status"] == st.ACCEPTED]
    refused_ids = [s["id"] for s in rows if s["status"] == st.REJECTED]
    reviews = rv.reviews_for(store, [*current_ids, *refused_ids])
    held = rv.held_ids(store, refused_ids)
    open_warnings = rv.unexplained(store, current_ids)
    out: dict[tuple[str, str], Cell] = {}
    for p in periods:
        due = due_of(config, form_id, p)
        for c in counties:
            subs = sorted(mine.get((c.code, p), []), key=lambda s: s["id"])
            cell = _cell(
                c, p, [s for s in subs if s["status"] in (st.ACCEPTED, st.REJECTED)], reviews, held, due, today
            )
            cell.timeliness = standing.timeliness(subs, due, today)[0]
            if cell.submission is not None and cell.submission["status"] == st.ACCEPTED:
                cell.unexplained = open_warnings.get(cell.submission["id"], 0)
            out[(c.code, p)] = cell
    return out


def _cell(
    c: Division,
    p: str,
    subs: list[dict[str, Any]],
    reviews: dict[int, dict[str, Any]],
    held: set[int],
    due: dt.datetime,
    today: dt.datetime,
) -> Cell:
    current = next((s for s in subs if s["status"] == st.ACCEPTED), None)
    waiting = [s for s in subs if s["id"] in held and s["id"] not in reviews]
    if current is None:
        refused = [s for s in subs if s["status"] == st.REJECTED and s["id"] not in held]
        if refused:
            last = refused[-1]
            return Cell(
                c, p, Review.RETURNED, last["received_at"], last, f"校验未通过：{last['reason'] or ''}", waiting
            )
        return Cell(c, p, Review.LATE if today > due else Review.NOT_IN, None, None, "", waiting)
    review = reviews.get(current["id"])
    if review is not None and review["state"] == rv.RETURNED:
        return Cell(c, p, Review.RETURNED, current["received_at"], current, review["reason"] or "", waiting)
    if review is not None and review["state"] == rv.ACCEPTED:
        note = f"有 {len(waiting)} 份更正待审" if waiting else ""
        return Cell(c, p, Review.PENDING if waiting else Review.PASSED, current["received_at"], current, note, waiting)
    later = [s for s in subs if s["id"] > current["id"] and s["status"] == st.REJECTED and s["id"] not in held]
    note = "最近一次上传未通过校验" if later else ""
    return Cell(c, p, Review.PENDING, current["received_at"], current, note, waiting)


def region_cells(
    store: st.Store, form_id: str, regions: Sequence[Division], periods: Sequence[str]
) -> dict[tuple[str, str], Cell]:
    """(city, period) -> its approval state, for a province's board."""
    found = rv.approvals_of(store, form_id, [r.code for r in regions], periods)
    out = {}
    for p in periods:
        for r in regions:
            a = found.get((form_id, r.code, p))
            if a is None:
                out[(r.code, p)] = Cell(r, p, Review.OPEN, None, None, "尚未审核通过")
            elif a.state == rv.REPORTED:
                out[(r.code, p)] = Cell(r, p, Review.REPORTED, a.reported_at, None, f"{a.actor} 上报")
            else:
                out[(r.code, p)] = Cell(r, p, Review.APPROVED, a.at, None, f"{a.actor} 审核通过，未上报")
    return out


@dataclass
class Board:
    """A division's board for one form: its parts × periods, and each period's approval."""

    division: Division
    form: str
    periods: list[str]
    parts: list[Division]
    cells: dict[tuple[str, str], Cell]
    approvals: dict[str, rv.Approval]  # period -> this division's own approval

    def counts(self, period: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for part in self.parts:
            s = self.cells[(part.code, period)].state
            out[s.zh] = out.get(s.zh, 0) + 1
        return out

    def complete(self, period: str) -> bool:
        return all(self.cells[(p.code, period)].done for p in self.parts)

    def missing(self, period: str) -> list[Cell]:
        return [c for p in self.parts if not (c := self.cells[(p.code, period)]).done]


def board(
    store: st.Store,
    config: Config,
    division: Division,
    form_id: str,
    periods: Sequence[str],
    today: dt.datetime | None = None,
) -> Board:
    """The board of `division` (a city: its counties; a province: its cities and the counties
    directly under it; the nation: every county)."""
    divisions = config.divisions
    parts = divisions.parts_of(division.code) if division.level == "province" else divisions.counties_of(division.code)
    counties = [p for p in parts if p.level == "county"]
    regions = [p for p in parts if p.level != "county"]
    cells = county_cells(store, config, form_id, counties, periods, today) if counties else {}
    if regions:
        cells.update(region_cells(store, form_id, regions, periods))
    own = rv.approvals_of(store, form_id, [division.code], periods)
    return Board(division, form_id, list(periods), parts, cells, {p: a for (_, _, p), a in own.items()})


def late(board_: Board, period: str) -> list[Cell]:
    """The counties that have not sent an acceptable return, the cities that have not reported: for 催报."""
    waiting = (Review.LATE, Review.NOT_IN, Review.RETURNED, Review.OPEN, Review.APPROVED)
    return [c for p in board_.parts if (c := board_.cells[(p.code, period)]).state in waiting]
