"""What notices are due, to whom: planned from the ledger and queued in the outbox.

- `returned`: queued by the desk in the transaction that sends a return back (`for_return`).
- `judged` and `waiting`: for each return committed since the planner's mark (`verdicts`): a
  county hears the verdict on a return it sent after one that was refused or sent back; the
  reviewers of the divisions above it hear of a return, or a correction, that waits for them.
- `reminder` and `overdue`: counties without an acceptable return, `[remind] days_before` days
  before a period's deadline and every `overdue_every` days after it, for `overdue_for` days
  (`deadlines`); `urge` queues a 催报 at once, from the button on /late.
- `digest`: once a day after `digest_at`, to each reviewer and each robot that carries it.

Every notice has a key naming what it is about and to whom, so planning again queues nothing twice.
People get e-mail if their account has an address and they have not opted out; robots get what
their `events` list for their division and the divisions inside it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from huizong.catalog import Config, Division
from huizong.clock import now
from huizong.desk import accounts as acc
from huizong.formats import when
from huizong.ledger import review as rv
from huizong.ledger import store as st
from huizong.ledger.standing import Review
from huizong.ledger.tables import submissions, users
from huizong.notify.outbox import Notice, mark, queue, set_mark
from huizong.read.periods import parse_token

REVIEWER_ROLES = (acc.Role.CITY.value, acc.Role.PROVINCE.value)
MARK = "verdicts"
WAITING_STATES = ("not-in", "late", "returned")  # standing.Review values of a county still owing its return


def _people(conn: sa.Connection, divisions: Iterable[str], roles: Sequence[str]) -> list[acc.User]:
    u = users.c
    q = sa.select(users).where(
        u.division.in_(list(divisions)),
        u.role.in_(list(roles)),
        u.disabled_at.is_(None),
        u.notices_off_at.is_(None),
        u.email.is_not(None),
        u.email != "",
    )
    return [acc.user_of(r) for r in conn.execute(q.order_by(u.id)).mappings()]


def _bureau(config: Config, code: str) -> str:
    if config.notices.bureau:
        return config.notices.bureau
    d = config.divisions.get(code)
    while d is not None and d.level == "county" and d.parent:
        d = config.divisions.get(d.parent)
    return f"{d.name}科技局" if d is not None else "科技局"


def _link(config: Config, path: str) -> str:
    return f"{config.notices.desk_url}{path}" if config.notices.desk_url else ""


def _common(config: Config, county: str, form: str, period: str, path: str) -> dict[str, Any]:
    d = config.divisions.get(county)
    f = config.form_by_id.get(form)
    return {
        "county": d.name if d else county,
        "form": f.name if f else form,
        "period": parse_token(period).zh if period else "",
        "link": _link(config, path),
        "bureau": _bureau(config, county),
    }


def addressed(
    conn: sa.Connection, config: Config, kind: str, key: str, division: str, context: dict[str, Any], to: str
) -> list[Notice]:
    """The notices of one event: e-mail to the people it concerns (`to`: county | reviewers) and
    the robots that carry `kind` for `division` or a division above it."""
    n = config.notices
    if not n.on(kind):
        return []
    subject, body = n.render(kind, context)
    above = rv.ancestors(division, config.divisions)
    if to == "county":
        people = _people(conn, [division], [acc.Role.COUNTY.value])
    else:
        people = _people(conn, above, REVIEWER_ROLES)
    out = (
        [Notice(f"{key}:email:{p.id}", kind, "email", p.email, subject, body, division, p.id) for p in people]
        if n.email.host
        else []
    )
    out += [
        Notice(f"{key}:robot:{r.name}", kind, "robot", r.name, subject, body, division)
        for r in n.robots_for(kind, [division, *above])
    ]
    return out


def for_return(conn: sa.Connection, config: Config, row: dict[str, Any], reason: str, reviewer: str) -> int:
    """退回: the county hears why, in the transaction that sends its return back."""
    county = str(rv.owner_of(row) or "")
    if not county:
        return 0
    at = now()
    context = {
        **_common(config, county, row["form"], row["period"], f"/returns/{row['id']}"),
        "file": row["file"],
        "reason": reason,
        "reviewer": reviewer,
        "at": when(at),
    }
    return queue(conn, addressed(conn, config, "returned", f"returned:{row['id']}:{at}", county, context, "county"))


def verdicts(store: st.Store, config: Config) -> int:
    """`judged` and `waiting` for each return committed since the mark; the mark moves with them."""
    s = submissions.c
    with store.begin() as conn:
        since = mark(conn, MARK)
        if since is None:  # the first plan on this ledger: what came before is not news
            set_mark(conn, MARK, int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(s.id), 0))).scalar() or 0))
            return 0
        rows = [
            dict(r)
            for r in conn.execute(sa.select(submissions).where(s.id > since).order_by(s.id).limit(500)).mappings()
        ]
        if not rows:
            return 0
        made: list[Notice] = []
        for row in rows:
            made += _verdict(conn, store, config, row)
        set_mark(conn, MARK, int(rows[-1]["id"]))
        return queue(conn, made)


def _verdict(conn: sa.Connection, store: st.Store, config: Config, row: dict[str, Any]) -> list[Notice]:
    county, form, period = row["county_code"], row["form"], row["period"]
    if not county or not form or not period or rv.owner_of(row) != county:
        return []
    if row["status"] not in (st.ACCEPTED, st.REJECTED):
        return []
    s = submissions.c
    before = [
        dict(r)
        for r in conn.execute(
            sa.select(submissions)
            .where(
                s.county_code == county,
                s.form == form,
                s.period == period,
                s.id < row["id"],
                s.status.in_([st.ACCEPTED, st.REJECTED, st.SUPERSEDED]),
            )
            .order_by(s.id)
        ).mappings()
        if rv.owner_of(dict(r)) == county
    ]
    reviews = rv.reviews_for(store, [b["id"] for b in before]) if before else {}
    last = before[-1] if before else None
    redo = last is not None and (
        last["status"] == st.REJECTED or reviews.get(last["id"], {}).get("state") == rv.RETURNED
    )
    issues = store.issues_for([row["id"]])
    held = any(i["code"] == rv.HELD for i in issues)
    accepted = row["status"] == st.ACCEPTED
    verdict = "更正待审" if held else "校验通过" if accepted else "未通过校验"
    path = f"/returns/{row['id']}"
    common = {
        **_common(config, county, form, period, path),
        "file": row["file"],
        "verdict": verdict,
        "warnings": int(row["warnings"] or 0),
    }
    out: list[Notice] = []
    if redo:
        out += addressed(
            conn,
            config,
            "judged",
            f"judged:{row['id']}",
            county,
            {**common, "accepted": accepted, "errors": int(row["errors"] or 0)},
            "county",
        )
    if accepted or held:
        out += addressed(
            conn, config, "waiting", f"waiting:{row['id']}", county, {**common, "correction": bool(before)}, "reviewers"
        )
    return out


def _owing(store: st.Store, config: Config, region: Division, form: str, period: str, today: dt.datetime) -> list[Any]:
    from huizong.desk import board as bd

    counties = config.divisions.counties_of(region.code) if region.level != "county" else [region]
    cells = bd.county_cells(store, config, form, counties, [period], today)
    return [
        c
        for c in cells.values()
        if c.state.value in WAITING_STATES and not (c.submission is not None and c.submission["status"] == st.ACCEPTED)
    ]


def deadlines(store: st.Store, config: Config, region: Division, today: dt.datetime | None = None) -> int:
    """Reminders before each open period's deadline, 催报 after it, to the counties that owe it."""
    from huizong.desk import board as bd

    n = config.notices
    today = today or dt.datetime.fromisoformat(now())
    made = 0
    for form in config.forms:
        for period in bd.periods_open(config, form.id, today, back=3):
            due = bd.due_of(config, form.id, period)
            left = (due.date() - today.date()).days
            if due > today:
                points = [d for d in n.remind.days_before if left <= d]
                if not points or not n.on("reminder"):
                    continue
                kind, step, extra = "reminder", min(points), {"days": left}
            else:
                late = (today.date() - due.date()).days
                every = n.remind.overdue_every
                if late < 1 or not every or late > n.remind.overdue_for or not n.on("overdue"):
                    continue
                kind, step, extra = "overdue", (late - 1) // every, {"days_late": late}
            for cell in _owing(store, config, region, form.id, period, today):
                code = cell.part.code
                context = {**_common(config, code, form.id, period, "/"), "due": due.date().isoformat(), **extra}
                with store.begin() as conn:
                    made += queue(
                        conn,
                        addressed(
                            conn, config, kind, f"{kind}:{form.id}:{period}:{code}:{step}", code, context, "county"
                        ),
                    )
    return made


def urge(store: st.Store, config: Config, cells: Sequence[Any], form: str, period: str, actor: str) -> int:
    """催报 now, from the desk: each county of `cells` that owes its return hears it once more."""
    from huizong.desk import board as bd

    due = bd.due_of(config, form, period)
    at = now()
    late = max(0, (dt.datetime.fromisoformat(at).date() - due.date()).days)
    made = 0
    with store.begin() as conn:
        for cell in cells:
            if cell.part.level != "county" or cell.state.value not in WAITING_STATES:
                continue
            code = cell.part.code
            context = {**_common(config, code, form, period, "/"), "due": due.date().isoformat(), "days_late": late}
            made += queue(
                conn,
                addressed(conn, config, "overdue", f"urge:{form}:{period}:{code}:{at[:10]}", code, context, "county"),
            )
    return made


def digests(store: st.Store, config: Config, region: Division, today: dt.datetime | None = None) -> int:
    """Each reviewer's (and robot's) daily digest, once a day after `digest_at`: per form, its
    latest period's counts, who waits for review, who has not reported."""
    from huizong.desk import board as bd

    n = config.notices
    today = today or dt.datetime.fromisoformat(now())
    if not n.on("digest") or not n.remind.digest_at or today.time() < dt.time.fromisoformat(n.remind.digest_at):
        return 0
    date = today.date().isoformat()
    above = [region.code, *rv.ancestors(region.code, config.divisions)]
    inside = {d.code for d in config.divisions.parts_of(region.code)} if region.level != "county" else set()
    with store.engine.connect() as conn:
        people = _people(conn, [region.code, *inside], REVIEWER_ROLES) if n.email.host else []
    targets: list[tuple[str, str, str, int | None]] = [(f"email:{p.id}", "email", p.email, p.id) for p in people]
    division_of = {f"email:{p.id}": p.division for p in people}
    for r in n.robots:
        if "digest" in r.events and (r.division in above or r.division in inside):
            targets.append((f"robot:{r.name}", "robot", r.name, None))
            division_of[f"robot:{r.name}"] = r.division if r.division in inside else region.code
    made = 0
    for tag, channel, address, uid in targets:
        division = config.divisions.get(division_of[tag])
        if division is None:
            continue
        rows = []
        for form in config.forms:
            periods = bd.periods_open(config, form.id, today, back=1)
            if not periods:
                continue
            b = bd.board(store, config, division, form.id, periods, today)
            p = periods[0]
            cells = [b.cells[(part.code, p)] for part in b.parts]
            waiting = [c.part.name for c in cells if c.state is Review.PENDING]
            late = [c.part.name for c in cells if c.state in (Review.NOT_IN, Review.LATE)]
            if waiting or late:
                counts = "、".join(f"{k} {v}" for k, v in b.counts(p).items())
                rows.append(
                    {
                        "form": form.name,
                        "period": parse_token(p).zh,
                        "counts": counts,
                        "waiting": waiting,
                        "late": late,
                        "due": bd.due_of(config, form.id, p).date().isoformat(),
                    }
                )
        if not rows:
            continue
        context = {
            "region": division.name,
            "date": date,
            "rows": rows,
            "link": _link(config, "/"),
            "bureau": _bureau(config, division.code),
            "county": "",
            "form": "",
            "period": "",
        }
        subject, body = n.render("digest", context)
        with store.begin() as conn:
            made += queue(
                conn, [Notice(f"digest:{date}:{tag}", "digest", channel, address, subject, body, division.code, uid)]
            )
    return made


def SAMPLE_TEST(config: Config, region: str) -> dict[str, Any]:
    return {"bureau": _bureau(config, region), "at": when(now()), "link": _link(config, "/")}
