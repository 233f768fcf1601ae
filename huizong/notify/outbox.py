"""The outbox: notices queued in the ledger, claimed by one sender at a time, marked sent or retried.

A notice is queued in the same transaction as what caused it, under a key that names what it is
about and to whom, so planning twice never queues it twice. A sender claims a row before sending
it (a conditional update only one sender wins), marks it sent after the server took it, and on a
failure puts it back with the next wait of `[send] retry_minutes`, or marks it failed when they are
used up; each sent or failed notice has its journal row. A sender that dies holding a claim leaves
the row to the next sender of its host at once (its process is gone) and to any other after
STALE seconds. The one window left is between the server's acceptance and the mark: a kill exactly
there sends that notice again, with the same Message-ID, which mail clients show once.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from huizong.clock import now
from huizong.ledger import review as rv
from huizong.ledger import store as st
from huizong.ledger.runlock import alive
from huizong.ledger.tables import notice_marks, notices

QUEUED, SENDING, SENT, FAILED = "queued", "sending", "sent", "failed"
STALE = 600  # seconds after which another host's claim is taken to be dead
ME = f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Notice:
    key: str  # what it is about and to whom: queued once
    kind: str
    channel: str  # email | robot
    address: str  # the e-mail address, or the robot's name
    subject: str
    body: str
    division: str = ""
    user_id: int | None = None


def queue(conn: sa.Connection, items: Sequence[Notice]) -> int:
    """Queue each notice not queued before (by its key); how many were new."""
    if not items:
        return 0
    at = now()
    rows = [
        {
            "key": n.key[:500],
            "kind": n.kind,
            "channel": n.channel,
            "address": n.address,
            "division": n.division,
            "user_id": n.user_id,
            "subject": n.subject,
            "body": n.body,
            "state": QUEUED,
            "created_at": at,
            "due_at": at,
            "attempts": 0,
        }
        for n in items
    ]
    insert: Any
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    new = 0
    for row in rows:
        new += conn.execute(insert(notices).values(**row).on_conflict_do_nothing(index_elements=["key"])).rowcount
    return new


def mark(conn: sa.Connection, name: str) -> int | None:
    got = conn.execute(sa.select(notice_marks.c.value).where(notice_marks.c.name == name)).scalar()
    return None if got is None else int(got)


def set_mark(conn: sa.Connection, name: str, value: int) -> None:
    if conn.execute(sa.update(notice_marks).where(notice_marks.c.name == name).values(value=value)).rowcount == 0:
        conn.execute(sa.insert(notice_marks).values(name=name, value=value))


def claim(store: st.Store, most: int = 20) -> list[dict[str, Any]]:
    """Take up to `most` notices that are due: queued ones whose wait is over, and those a dead
    sender held. Each is this sender's alone once returned."""
    at = now()
    stale = (dt.datetime.fromisoformat(at) - dt.timedelta(seconds=STALE)).isoformat(timespec="seconds")
    n = notices.c
    q = (
        sa.select(n.id, n.state, n.claimed_by, n.claimed_at)
        .where(sa.or_(sa.and_(n.state == QUEUED, n.due_at <= at), n.state == SENDING))
        .order_by(n.id)
        .limit(most * 5)
    )
    host = ME.split(":")[0]
    out: list[int] = []
    with store.begin() as conn:
        for r in conn.execute(q).mappings():
            if len(out) >= most:
                break
            if r["state"] == SENDING:
                by = str(r["claimed_by"] or "")
                h, _, pid = by.rpartition(":")
                dead = h == host and pid.isdigit() and by != ME and not alive(int(pid))
                if not dead and (r["claimed_at"] or "") > stale:
                    continue
            took = conn.execute(
                sa.update(notices)
                .where(
                    n.id == r["id"],
                    n.state == r["state"],
                    n.claimed_by.is_(None) if r["claimed_by"] is None else n.claimed_by == r["claimed_by"],
                )
                .values(state=SENDING, claimed_at=at, claimed_by=ME)
            ).rowcount
            if took:
                out.append(r["id"])
        if not out:
            return []
        return [dict(r) for r in conn.execute(sa.select(notices).where(n.id.in_(out)).order_by(n.id)).mappings()]


def _journal(conn: sa.Connection, row: dict[str, Any], action: str, reason: str = "", **detail: Any) -> None:
    """The journal's row for a notice sent or failed for good."""
    rv.journal(
        conn,
        "notify",
        action,
        target=str(row["id"]),
        division=row["division"] or "",
        reason=reason,
        detail={"kind": row["kind"], "channel": row["channel"], "to": row["address"], **detail},
    )


def sent(store: st.Store, row: dict[str, Any]) -> None:
    with store.begin() as conn:
        conn.execute(
            sa.update(notices)
            .where(notices.c.id == row["id"])
            .values(state=SENT, sent_at=now(), attempts=row["attempts"] + 1, error=None)
        )
        _journal(conn, row, "notice-sent")


def failed(store: st.Store, row: dict[str, Any], error: str, waits: Sequence[float], final: bool = False) -> bool:
    """A failed attempt: queued again after the next wait, or failed for good (True) when the waits
    are used up or the failure cannot pass (`final`)."""
    attempts = row["attempts"] + 1
    done = final or attempts > len(waits)
    at = now()
    values: dict[str, Any] = {"attempts": attempts, "error": error[:500], "claimed_by": None}
    if done:
        values["state"] = FAILED
    else:
        later = dt.datetime.fromisoformat(at) + dt.timedelta(minutes=waits[attempts - 1])
        values.update(state=QUEUED, due_at=later.isoformat(timespec="seconds"))
    with store.begin() as conn:
        conn.execute(sa.update(notices).where(notices.c.id == row["id"]).values(**values))
        if done:
            _journal(conn, row, "notice-failed", reason=error[:500], attempts=attempts)
    return done


def counts(store: st.Store) -> dict[str, int]:
    q = sa.select(notices.c.state, sa.func.count()).group_by(notices.c.state)
    with store.engine.connect() as conn:
        return {str(s): int(c) for s, c in conn.execute(q)}


def recent(store: st.Store, most: int = 20, division: str | None = None) -> list[dict[str, Any]]:
    q = sa.select(notices).order_by(notices.c.id.desc()).limit(most)
    if division is not None:
        q = q.where(notices.c.division == division)
    return store._all(q)
