"""`huizong accept`: the analyst takes a refused return anyway, on the record.

The return becomes the county's current one for its period (superseding any other), its
facts enter the totals, and the ledger keeps who accepted it, why and when. The original
stays where it lies in `store/rejected/`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from huizong.catalog import Config
from huizong.clock import now
from huizong.ledger import due
from huizong.ledger import store as st
from huizong.ledger.commit import insert_return, supersede
from huizong.read.worker import ReadJob, read_bounded
from huizong.rules.lists import measure
from huizong.settings import Settings


class AcceptError(Exception):
    "The file cannot be accepted (not found, not refused, or county and period unknown)"


def find_refused(store: st.Store, settings: Settings, file: str) -> dict[str, Any]:
    """The latest refused ledger row for `file`: its name as dropped, its inbox path, or its stored path."""
    rows = store.submissions()
    path = Path(file)
    stored = None
    with contextlib.suppress(ValueError):  # a path outside the store is matched by name only
        stored = path.resolve().relative_to(settings.store.resolve()).as_posix()
    matches = [
        r
        for r in rows
        if file in (r["file"], r["inbox_path"], r["stored_as"]) or r["stored_as"] == stored or r["file"] == path.name
    ]
    if not matches:
        raise AcceptError(f"账本中没有文件 {file}")
    refused = [r for r in matches if r["status"] == st.REJECTED]
    if not refused:
        raise AcceptError(f"{file} 的状态为 {matches[-1]['status']}，不是被退回的报表")
    return refused[-1]


def accept_refused(
    store: st.Store, config: Config, settings: Settings, file: str, reason: str, by: str
) -> dict[str, Any]:
    """Accept the refused return `file`; returns its ledger row as it now stands."""
    if not reason.strip():
        raise AcceptError("请用 --reason 说明接收理由")
    return accept_row(store, config, settings, find_refused(store, settings, file), reason, by)


def accept_row(
    store: st.Store,
    config: Config,
    settings: Settings,
    row: dict[str, Any],
    reason: str,
    by: str,
    also: Callable[[Any], None] | None = None,
) -> dict[str, Any]:
    """Accept the refused ledger row `row`; `also(conn)` writes more in the same transaction (the
    desk's review and journal). Queues the outputs it changes (`due`); the caller publishes them
    (`pipeline.publish_owed`) once it has let go of the run lock. Returns the row as it now stands."""
    if not reason.strip():
        raise AcceptError("请说明接收理由")
    if row["status"] != st.REJECTED:
        raise AcceptError(f"{row['file']} 的状态为 {row['status']}，不是被退回的报表")
    if not row["stored_as"]:
        raise AcceptError(f"{row['file']} 未能读取，原件不在存储中（{row['reason']}）")
    original = settings.store / str(row["stored_as"])
    (ret,) = read_bounded([ReadJob(original, str(row["inbox_path"]))], config, settings.region)
    if not ret.readable or not ret.county_code or ret.period is None:
        raise AcceptError(f"{row['file']} 无法识别县区或报告期，不能接收（请县区重新报送）")
    for form in config.forms:  # a list form's numbers are summed from its records
        measure([ret], form)
    with store.begin() as conn:
        current = conn.execute(st.sa.select(st.submissions.c.status).where(st.submissions.c.id == row["id"])).scalar()
        if current != st.REJECTED:  # accepted by someone else meanwhile
            raise AcceptError(f"{row['file']} 刚被他人处理（{current}），请刷新后再操作")
        supersede(conn, store, ret.county_code, ret.period.token, int(row["id"]), str(row["inbox_path"]), ret.form)
        insert_return(conn, store, int(row["id"]), ret)
        store.update_submission(
            conn,
            int(row["id"]),
            status=st.ACCEPTED,
            override_by=by,
            override_reason=reason,
            override_at=now(),
            reason=f"退回后由{by}接收：{reason}",
        )
        due.queue(conn, {(ret.form, ret.period.token): {ret.county_code}})  # its outputs are owed
        if also is not None:
            also(conn)
    return next(r for r in store.submissions(ids=[int(row["id"])]))
