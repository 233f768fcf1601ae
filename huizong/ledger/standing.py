"""A county's standing in one period of a form: computed here, from the ledger's rows, and shown the
same way by every page and output that shows it: the reviewers' board and a county's home page
(`desk.board`), the reporting workbook and reporting.csv (`publish.reporting`), `huizong status`
and the notices.

It has three sides, each an enumeration whose members carry their Chinese word (and where shown in
colour, their CSS class on the desk, their fill in the workbooks and their colour on the terminal):

- `Timeliness` (报送情况): reported in time, late, not at all, refused awaiting a fix, or not yet
  due. One rule of lateness (`timeliness`): the first acceptable version (accepted, or accepted
  then superseded by a correction) arrived by the end of the due day; a later correction does not
  make it late.
- `Review` (审核): where the return is in the reviewers' hands (未报, 待审, 退回, 已通过, 逾期), and on
  a province's board where a city's period is (市级审核中, 已审核未上报, 已上报).
- `Counted` (the 报送情况 of a region's period workbook): whether the county's return is in the
  region's totals (accepted), refused, missing, or not counted above its city until approved.

Only a county's own rows count for it (`own`): a file another county uploaded with its code is
that other county's refusal, and never a standing of this one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from huizong.clock import TZ
from huizong.ledger import review as rv
from huizong.ledger import store as st
from huizong.read.periods import Period
from huizong.words import Worded


class Timeliness(Worded):
    """Whether a county reported for a period, and in time (its value is what reporting.csv says)."""

    ON_TIME = "on-time", "按时报送", "ok", "C6EFCE", "green"
    LATE = "late", "逾期报送", "late", "FFEB9C", "yellow"
    MISSING = "missing", "逾期未报", "back", "FFC7CE", "red"
    REFUSED = "refused", "退回待改", "back", "FFC7CE", "red"
    NOT_DUE = "not-due", "未到期", "none", "EDEDED", "dim"

    __words__ = ("zh", "css", "fill", "terminal")
    zh: str
    css: str
    fill: str
    terminal: str


class Review(Worded):
    """Where a part of a division (a county; a city, on its province's board) stands with its reviewers."""

    NOT_IN = "not-in", "未报", "none", "EDEDED", "dim"
    PENDING = "pending", "待审", "wait", "FFEB9C", "yellow"
    RETURNED = "returned", "退回", "back", "FFC7CE", "red"
    PASSED = "passed", "已通过", "ok", "C6EFCE", "green"
    LATE = "late", "逾期", "late", "FFC7CE", "red"
    REPORTED = "reported", "已上报", "ok", "C6EFCE", "green"  # a city's period, on its province's board
    APPROVED = "approved", "已审核未上报", "wait", "FFEB9C", "yellow"
    OPEN = "open", "市级审核中", "none", "EDEDED", "dim"  # a city that has not approved the period yet

    __words__ = ("zh", "css", "fill", "terminal")
    zh: str
    css: str
    fill: str
    terminal: str


class Counted(Worded):
    """Whether a county's return is in a region's totals for a period (the period workbook's 报送情况)."""

    ACCEPTED = st.ACCEPTED.value, st.ACCEPTED.zh
    REJECTED = st.REJECTED.value, st.REJECTED.zh
    MISSING = "missing", "未报送"
    UNAPPROVED = "unapproved", "未经审核（不计入）"  # above a city, when [totals] upward = "approved"

    __words__ = ("zh",)
    zh: str


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


def own(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows that count for the county they name: not a file another county uploaded with its code."""
    return [s for s in rows if rv.owner_of(s) == s["county_code"]]


def timeliness(subs: Iterable[dict[str, Any]], due: dt.datetime, today: dt.datetime) -> tuple[Timeliness, str | None]:
    """A county's timeliness for a period from its own rows of that period, with the time it is
    about: of the first acceptable version, or of the latest refused upload."""
    subs = list(subs)
    ok = sorted(s["received_at"] for s in subs if s["status"] in (st.ACCEPTED, st.SUPERSEDED))
    if ok and any(s["status"] == st.ACCEPTED for s in subs):
        first = dt.datetime.fromisoformat(ok[0])
        return (Timeliness.ON_TIME if first <= due else Timeliness.LATE), ok[0]
    refused = sorted(s["received_at"] for s in subs if s["status"] == st.REJECTED)
    if refused:
        return Timeliness.REFUSED, refused[-1]
    return (Timeliness.MISSING if today > due else Timeliness.NOT_DUE), None
