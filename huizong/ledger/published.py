"""What each region's outputs of a period were last written from (`publish.digest`).

Publishing looks up the digest of every (form, period, region) it is about to write; one whose
view has not changed, and whose files are all in place, is left as it is. The digest is recorded
after the files are in place, so a publishing killed in between writes them again next time
(the same bytes): a digest never vouches for files that were not written."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from huizong.clock import now
from huizong.ledger.store import Store, chunks
from huizong.ledger.tables import published

Key = tuple[str, str, str]  # (form, period, region)


@dataclass(frozen=True)
class Written:
    digest: str
    files: tuple[str, ...]  # relative to outputs/, "/"-separated


def known(store: Store, keys: Sequence[Key]) -> dict[Key, Written]:
    out: dict[Key, Written] = {}
    by_form: dict[str, set[str]] = {}
    for form, period, _ in keys:
        by_form.setdefault(form, set()).add(period)
    with store.engine.connect() as conn:
        for form, periods in by_form.items():
            for some in chunks(sorted(periods)):
                q = sa.select(published).where(published.c.form == form, published.c.period.in_(some))
                for r in conn.execute(q):
                    out[(r.form, r.period, r.region)] = Written(r.digest, tuple(json.loads(r.files)))
    wanted = set(keys)
    return {k: v for k, v in out.items() if k in wanted}


def record(store: Store, written: Iterable[tuple[Key, Written]]) -> None:
    """Remember what these outputs were written from, replacing what was remembered of them."""
    rows = [
        {
            "form": f,
            "period": p,
            "region": r,
            "digest": w.digest,
            "files": json.dumps(list(w.files)),
            "published_at": now(),
        }
        for (f, p, r), w in written
    ]
    if not rows:
        return
    with store.begin() as conn:
        for some in chunks(rows):
            for row in some:
                conn.execute(
                    sa.delete(published).where(
                        published.c.form == row["form"],
                        published.c.period == row["period"],
                        published.c.region == row["region"],
                    )
                )
            conn.execute(sa.insert(published), some)


def forget(store: Store) -> None:
    """Every digest dropped: the next publishing writes every output again."""
    with store.begin() as conn:
        conn.execute(sa.delete(published))
