"""The desk's view models: what a page shows, read from the ledger as far as its user may see it.

Nothing of one county reaches another here: the versions of a return are filtered by the viewer's
division, its numbers shown only to a user who may act on its county, and the other counties'
median only to reviewers (or everyone, if `[desk] peers` says so).
"""

from __future__ import annotations

import statistics
from typing import Any

from huizong.desk import accounts as acc
from huizong.desk import board as bd
from huizong.desk.doors import Desk
from huizong.ledger import review as rv
from huizong.ledger.store import SubmissionRow
from huizong.publish.layout import Layout
from huizong.read.periods import parse_token


def county_home(desk: Desk, user: acc.User) -> dict[str, Any]:
    """A county's home: each form's open periods with their standing and deadline, and its uploads."""
    config, store = desk.config, desk.store
    county = config.divisions.get(user.division)
    assert county is not None
    due = []
    for form in config.forms:
        periods = bd.periods_open(config, form.id)
        cells = bd.county_cells(store, config, form.id, [county], periods)
        due += [
            {"form": form, "period": p, "due": bd.due_of(config, form.id, p), "cell": cells[(county.code, p)]}
            for p in periods
        ]
    rows = [
        r
        for r in store.of_county(county.code, f"{rv.UPLOADS}/{county.code}/", newest=200)
        if rv.owner_of(r) == county.code
    ]
    reviews = rv.reviews_for(store, [r["id"] for r in rows])
    return {"due": due, "rows": rows[::-1], "reviews": reviews, "max_mb": config.limits.file_bytes >> 20}


def reviewer_home(desk: Desk, user: acc.User) -> dict[str, Any]:
    """A reviewer's home: a board for each form, and the latest submissions inside their division."""
    config = desk.config
    boards = [{"form": f, "periods": bd.periods_open(config, f.id)} for f in config.forms]
    counties = [c.code for c in config.divisions.counties_of(user.division)]
    rows = desk.store.submissions(counties=counties, newest=100) if counties else []
    return {"boards": boards, "rows": rows[::-1]}


def feedback_ready(desk: Desk, row: SubmissionRow) -> tuple[bool, bool]:
    """(the feedback workbook is written, one will be): a return with issues that was stored gets one."""
    ready = Layout(desk.settings.outputs).feedback(int(row["id"]), row["inbox_path"]).is_file()
    return ready, bool(row["errors"] or row["warnings"]) and bool(row["stored_as"])


def return_view(desk: Desk, row: SubmissionRow, user: acc.User) -> dict[str, Any]:
    """What `user` may see of return `row`: its versions, numbers and reviews only as far as they
    are of the user's division (a county that uploaded another county's return sees its refusal
    and nothing of that county)."""
    store, config, divisions = desk.store, desk.config, desk.config.divisions
    sid = int(row["id"])
    found = store.issues_for([sid])
    explained = rv.explanations_for(store, [sid])
    catalog = config.catalogs.get(row["form"]) if row["form"] else None
    names = {i.code: f"{i.name}（{i.unit}）" if i.unit else i.name for i in catalog} if catalog else {}
    ready, soon = feedback_ready(desk, row)
    same = []  # every version of the county's return for the period, as far as the user may see them
    if row["county_code"] and row["period"]:
        same = [
            s
            for s in store.submissions(counties=[row["county_code"]], periods=[row["period"]], form=row["form"])
            if (owner := rv.owner_of(s)) is not None and acc.may_act_on(user, owner, divisions)
        ]
    theirs = bool(row["county_code"]) and acc.may_act_on(user, str(row["county_code"]), divisions)
    reviews = rv.reviews_for(store, [sid, *(s["id"] for s in same)])
    return {
        "row": row,
        "issues": found,
        "explained": explained,
        "names": names,
        "review": reviews.get(sid),
        "feedback": ready,
        "feedback_soon": soon,
        "numbers": numbers(desk, row, names, user) if theirs else [],
        "same": same,
        "revisions": store.revisions_for([sid]) if theirs else [],
        "peers": peers_shown(desk, user),
        "reviews": reviews,
        "held": any(i["code"] == rv.HELD for i in found),
    }


def peers_shown(desk: Desk, user: acc.User) -> bool:
    """Whether `user` sees the median of the other counties (their unpublished figures)."""
    return desk.config.rules.desk.peers == "everyone" or user.role is not acc.Role.COUNTY


def numbers(desk: Desk, row: SubmissionRow, names: dict[str, str], user: acc.User) -> list[dict[str, Any]]:
    """The return's numbers beside last year's, with the county's rank among its city's counties,
    and (for reviewers, or everyone if `[desk] peers` says so) the median of the others."""
    if not row["county_code"] or not row["period"] or not names:
        return []
    store, divisions = desk.store, desk.config.divisions
    county, period, form = row["county_code"], row["period"], row["form"]
    mine = [f for f in store.facts_of(int(row["id"])) if f["column"] == "value" and f["number"] is not None]
    if not mine:
        return []
    p = parse_token(period)
    before = {f["indicator"]: f["number"] for f in store.current_values([county], [p.last_year().token], form)}
    d = divisions.get(county)
    peers = [c.code for c in divisions.counties_of(d.parent)] if d and d.parent else [county]
    others: dict[str, list[float]] = {}
    for f in store.current_values(peers, [period], form):
        if f["county_code"] != county and f["number"] is not None:
            others.setdefault(f["indicator"], []).append(f["number"])
    shown = peers_shown(desk, user)
    out = []
    for f in mine:
        code, value = f["indicator"], f["number"]
        last = before.get(code)
        peer = others.get(code, [])
        out.append(
            {
                "code": code,
                "name": names.get(code, code),
                "value": value,
                "cell": f["cell"],
                "last": last,
                "growth": (value / last - 1) if last else None,
                "median": statistics.median(peer) if peer and shown else None,
                "rank": 1 + sum(v > value for v in peer) if peer else None,
                "of": len(peer) + 1,
            }
        )
    return out
