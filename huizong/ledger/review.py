"""What reviewers decided, in the ledger: each return's review (通过 or 退回 with a reason), each
division's period approved (审核通过) and reported upward (上报), counties' explanations (说明) of
warnings, and the journal of every action (who, what, when, why, from which address).

A state changes only from the state the actor saw: two reviewers acting at once never overwrite
each other's action; the second is told what the first did. Every change and its journal row are
written in one transaction.

Two rules bind the run itself (`gate`): a file uploaded on the desk into `网上报送/<county code>/`
must be that county's return, and a return for a period its city (or province) has approved is
held as a correction for a reviewer to accept or return, never taken into approved totals.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from huizong.catalog import Divisions
from huizong.clock import now
from huizong.codes import make_issue
from huizong.formats import when
from huizong.issues import Issue
from huizong.ledger import store as st
from huizong.ledger.tables import actions, approvals, explanations, issues, reviews
from huizong.read.model import Return

UPLOADS = "网上报送"  # the inbox folder the desk writes uploads into, one folder per county code
ACCEPTED, RETURNED = "accepted", "returned"  # a reviewer's verdict on a return
APPROVED, REPORTED = "approved", "reported"  # a division's period
LOCKING = (APPROVED, REPORTED)
HELD = "period-locked"  # the issue code of a correction held for review


class ReviewError(Exception):
    "The ledger refuses this action (someone else acted first, the period is not complete, …)"


def journal(
    conn: sa.Connection,
    actor: str,
    action: str,
    *,
    target: str = "",
    division: str = "",
    reason: str = "",
    address: str = "",
    detail: Mapping[str, Any] | None = None,
    user_id: int | None = None,
) -> None:
    """One row of the desk's journal: who did what, to what, when, why, from where."""
    st.Store.insert(
        conn,
        actions,
        {
            "at": now(),
            "user_id": user_id,
            "actor": actor,
            "action": action,
            "target": target,
            "division": division,
            "reason": reason,
            "address": address,
            "detail": json.dumps(dict(detail or {}), ensure_ascii=False),
        },
    )


def uploads_today(store: st.Store, division: str) -> tuple[int, int]:
    """(uploads, bytes) a county has made on the desk today, China time, from the journal."""
    start = now()[:10] + "T00:00:00"
    q = sa.select(actions.c.detail).where(
        actions.c.action == "upload", actions.c.division == division, actions.c.at >= start
    )
    count = size = 0
    for row in store._all(q):
        count += 1
        try:
            size += int(json.loads(row["detail"] or "{}").get("size", 0))
        except (ValueError, TypeError, AttributeError):
            continue
    return count, size


def bound_county(inbox_path: str | None) -> str | None:
    """The county a desk upload was made for: `网上报送/<code>/<file>` -> code."""
    parts = (inbox_path or "").split("/")
    if len(parts) >= 3 and parts[0] == UPLOADS and len(parts[1]) == 6 and parts[1].isdigit():
        return parts[1]
    return None


def owner_of(row: Mapping[str, Any]) -> str | None:
    """The county a ledger row belongs to: the one that uploaded it on the desk, else the one read from
    the file (a county that uploads another's return sees its refusal; the other never does)."""
    return bound_county(row.get("inbox_path")) or row.get("county_code")


def held_ids(store: st.Store, ids: Sequence[int]) -> set[int]:
    """Which of these refused returns are corrections held because their period was approved."""
    out: set[int] = set()
    for part in st.chunks(ids):
        q = sa.select(issues.c.submission_id).where(issues.c.code == HELD, issues.c.submission_id.in_(list(part)))
        with store.engine.connect() as conn:
            out |= {r[0] for r in conn.execute(q)}
    return out


def unexplained(store: st.Store, ids: Sequence[int]) -> dict[int, int]:
    """Per return, its warnings the county has not explained."""
    out: dict[int, int] = {}
    with store.engine.connect() as conn:
        for part in st.chunks(ids):
            q = (
                sa.select(issues.c.submission_id, sa.func.count())
                .select_from(issues.outerjoin(explanations, explanations.c.issue_id == issues.c.id))
                .where(
                    issues.c.submission_id.in_(part),
                    issues.c.severity == "warning",
                    explanations.c.issue_id.is_(None),
                )
                .group_by(issues.c.submission_id)
            )
            out.update({r[0]: r[1] for r in conn.execute(q)})
    return out


# -- reviews of returns ------------------------------------------------------------------------


def reviews_for(store: st.Store, submission_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    ids = list(set(submission_ids))
    out: dict[int, dict[str, Any]] = {}
    for part in st.chunks(ids):
        for r in store._all(sa.select(reviews).where(reviews.c.submission_id.in_(part))):
            out[int(r["submission_id"])] = r
    return out


def set_review(conn: sa.Connection, sid: int, state: str, actor: str, reason: str, seen: str | None) -> None:
    """Record a reviewer's verdict on return `sid`, if its review is still what the reviewer saw
    (`seen`: the state, or None for none)."""
    row = conn.execute(sa.select(reviews).where(reviews.c.submission_id == sid)).first()
    current = row.state if row is not None else None
    if current != seen:
        raise ReviewError(f"此报表已由{row.actor if row else '他人'}处理（{_zh(current)}），请刷新页面后再操作")
    values = {"state": state, "actor": actor, "at": now(), "reason": reason}
    if row is None:
        try:
            conn.execute(sa.insert(reviews).values(submission_id=sid, **values))
        except sa.exc.IntegrityError as e:
            raise ReviewError("此报表刚被他人处理，请刷新页面后再操作") from e
    elif (
        conn.execute(
            sa.update(reviews).where(reviews.c.submission_id == sid, reviews.c.state == seen).values(**values)
        ).rowcount
        != 1
    ):
        raise ReviewError("此报表刚被他人处理，请刷新页面后再操作")


def _zh(state: str | None) -> str:
    return {ACCEPTED: "已通过", RETURNED: "已退回", APPROVED: "已审核通过", REPORTED: "已上报", None: "待审"}.get(
        state, str(state)
    )


# -- explanations of warnings -------------------------------------------------------------------


def explanations_for(store: st.Store, submission_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """issue id -> the county's explanation of it."""
    ids = list(set(submission_ids))
    if not ids:
        return {}
    rows = store._all(sa.select(explanations).where(explanations.c.submission_id.in_(ids)))
    return {int(r["issue_id"]): r for r in rows}


def explain(conn: sa.Connection, sid: int, texts: Mapping[int, str], actor: str) -> None:
    """Write (or rewrite) the county's explanation of each of these warnings of return `sid`."""
    for issue_id, text in texts.items():
        conn.execute(sa.delete(explanations).where(explanations.c.issue_id == issue_id))
        conn.execute(
            sa.insert(explanations).values(issue_id=issue_id, submission_id=sid, text=text, actor=actor, at=now())
        )


# -- approvals of periods ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Approval:
    form: str
    division: str
    period: str
    state: str
    actor: str
    at: str
    reported_at: str | None
    version: int

    @property
    def zh(self) -> str:
        return _zh(self.state)


def approvals_of(
    store: st.Store, form: str | None, divisions: Sequence[str], periods: Sequence[str] | None = None
) -> dict[tuple[str, str, str], Approval]:
    """(form, division, period) -> its approval, for these divisions (and periods, and form)."""
    out: dict[tuple[str, str, str], Approval] = {}
    divs = list(divisions)
    for part in st.chunks(divs):
        q = sa.select(approvals).where(approvals.c.division.in_(part))
        if form is not None:
            q = q.where(approvals.c.form == form)
        if periods is not None:
            q = q.where(approvals.c.period.in_(list(periods)))
        for r in store._all(q):
            a = Approval(**r)
            out[(a.form, a.division, a.period)] = a
    return out


def _current(conn: sa.Connection, form: str, division: str, period: str) -> Approval | None:
    row = conn.execute(
        sa.select(approvals).where(
            approvals.c.form == form, approvals.c.division == division, approvals.c.period == period
        )
    ).first()
    return Approval(**row._mapping) if row is not None else None


def approve(conn: sa.Connection, form: str, division: str, period: str, actor: str) -> None:
    if (a := _current(conn, form, division, period)) is not None:
        raise ReviewError(f"本期已由{a.actor}于{when(a.at)}{a.zh}")
    try:
        conn.execute(
            sa.insert(approvals).values(
                form=form, division=division, period=period, state=APPROVED, actor=actor, at=now(), version=1
            )
        )
    except sa.exc.IntegrityError as e:
        raise ReviewError("本期刚被他人审核，请刷新页面") from e


def report(conn: sa.Connection, form: str, division: str, period: str, actor: str, version: int) -> None:
    a = _current(conn, form, division, period)
    if a is None or a.state != APPROVED or a.version != version:
        raise ReviewError("本期状态已变化（" + (a.zh if a else "未审核") + "），请刷新页面后再操作")
    conn.execute(
        sa.update(approvals)
        .where(
            approvals.c.form == form,
            approvals.c.division == division,
            approvals.c.period == period,
            approvals.c.version == version,
        )
        .values(state=REPORTED, reported_at=now(), version=version + 1)
    )


def unapprove(conn: sa.Connection, form: str, division: str, period: str, version: int) -> Approval:
    a = _current(conn, form, division, period)
    if a is None or a.version != version:
        raise ReviewError("本期状态已变化（" + (a.zh if a else "未审核") + "），请刷新页面后再操作")
    conn.execute(
        sa.delete(approvals).where(
            approvals.c.form == form,
            approvals.c.division == division,
            approvals.c.period == period,
            approvals.c.version == version,
        )
    )
    return a


def ancestors(code: str, divisions: Divisions) -> list[str]:
    """The divisions above a county, nearest first (the nation not included)."""
    out = []
    d = divisions.get(code)
    while d is not None and d.parent:
        out.append(d.parent)
        d = divisions.get(d.parent)
    return out


def _name(code: str, divisions: Divisions) -> str:
    d = divisions.get(code)
    return d.name if d else code


# -- what binds a run --------------------------------------------------------------------------


def gate(returns: Sequence[Return], store: st.Store, divisions: Divisions) -> dict[str, list[Issue]]:
    """Issues a run adds to what the rules found: an upload that is another county's return, and a
    return for a period that is approved above its county (held for review)."""
    out: dict[str, list[Issue]] = {}
    placed = [r for r in returns if r.readable and r.county_code and r.period is not None and r.form]
    wanted = {r.county_code: ancestors(r.county_code, divisions) for r in placed if r.county_code}
    above = sorted({a for chain in wanted.values() for a in chain})
    periods = sorted({r.period.token for r in placed if r.period is not None})
    locks = approvals_of(store, None, above, periods) if above and periods else {}
    is_placed = {id(r) for r in placed}
    for r in returns:
        found: list[Issue] = []
        bound = bound_county(r.file)
        if bound and r.county_code and r.county_code != bound:
            found.append(
                make_issue(
                    "upload-other-county",
                    r.file,
                    value=r.county_code,
                    name=_name(r.county_code, divisions),
                    own=_name(bound, divisions),
                )
            )
        if id(r) in is_placed and r.period is not None and r.county_code:
            for a in wanted[r.county_code]:
                if (lock := locks.get((r.form, a, r.period.token))) is not None:
                    found.append(
                        make_issue(
                            "period-locked", r.file, period=r.period.zh, region=_name(a, divisions), state=lock.zh
                        )
                    )
                    break
        if found:
            out[r.file] = found
    return out
