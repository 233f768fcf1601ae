"""What publishing owes: the (form, period, county) a run or a review changed, and the feedback
workbooks the desk's runs leave to it, queued in the ledger in the transaction that closes the
run, taken and cleared by the publisher.

A run ends at its commit and the feedback workbooks; the outputs are written after it, under a
lock of their own (`publish_lock`), so the next verdict never waits for them. Whatever the
publisher has not finished (it was killed, the disk was full) stays queued and is written by the
next publishing, whoever starts it; many runs' changes are written by one publishing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa

from huizong.clock import now
from huizong.ledger.store import Store
from huizong.ledger.tables import publish_due

Changed = Mapping[tuple[str, str], set[str]]  # (form, period) -> the counties whose returns changed ("" all)


def queue(conn: sa.Connection, changed: Changed | None, run_id: int | None = None, feedback: Iterable[int] = ()) -> int:
    """Queue `changed` (None: every period of every form) and the feedback workbooks of the
    submissions `feedback`. Returns the rows queued."""
    at = now()
    rows = [
        {"form": None, "period": None, "county": None, "submission_id": sid, "run_id": run_id, "queued_at": at}
        for sid in sorted(set(feedback))
    ]
    rows += (
        [{"form": None, "period": None, "county": None, "submission_id": None, "run_id": run_id, "queued_at": at}]
        if changed is None
        else [
            {"form": f, "period": p, "county": c, "submission_id": None, "run_id": run_id, "queued_at": at}
            for (f, p), counties in changed.items()
            for c in sorted(counties or {""})
        ]
    )
    if rows:
        conn.execute(sa.insert(publish_due), rows)
    return len(rows)


@dataclass
class Owed:
    """What the queue holds up to row `upto`: `changed` as `publish` takes it (None: everything),
    and the submissions whose feedback workbooks are owed."""

    upto: int
    changed: dict[tuple[str, str], set[str]] | None
    feedback: list[int] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.upto == 0


def owed(store: Store) -> Owed:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(publish_due).order_by(publish_due.c.id)).all()
    if not rows:
        return Owed(0, {})
    changed: dict[tuple[str, str], set[str]] | None = {}
    feedback = sorted({int(r.submission_id) for r in rows if r.submission_id is not None})
    for r in rows:
        if r.submission_id is not None:
            continue
        if r.form is None:
            changed = None
            break
        assert changed is not None
        changed.setdefault((r.form, r.period), set()).add(r.county or "")
    return Owed(max(r.id for r in rows), changed, feedback)


def clear(store: Store, upto: int) -> None:
    """Drop what has been written: the rows up to `upto` (those queued since stay)."""
    if upto:
        with store.begin() as conn:
            conn.execute(sa.delete(publish_due).where(publish_due.c.id <= upto))


def waiting(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(publish_due)).scalar_one())
