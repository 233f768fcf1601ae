"""Committing decisions: the ledger rows, facts and issues of a group of returns in one
transaction, then the originals moved out of the inbox, atomically, never over an existing file.

Crash safety. Each file is kept in the store, recorded (a transaction per group) and then moved
(one rename). A run killed between the two leaves ledger rows of an unfinished run whose files
are still in the inbox: the next run finishes the moves instead of counting the files again
(`recover`). A run killed after its commits but before its outputs is republished in full by the
next run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from huizong.clock import fault_point, received
from huizong.forms.model import key_text
from huizong.issues import Issue
from huizong.ledger import store as st
from huizong.ledger.decisions import Decision, Inbound
from huizong.ledger.inbox import safe_component, still_there
from huizong.ledger.review import UPLOADS, bound_county
from huizong.read.model import Return
from huizong.settings import Settings

FOLDER: dict[str, str] = {st.ACCEPTED: "archive", st.REJECTED: "rejected", st.DUPLICATE: "duplicates"}


class StoreError(Exception):
    "The store cannot keep a file where the ledger says it is"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def storage_path(
    settings: Settings,
    status: str,
    f: Inbound,
    store: st.Store | None = None,
    claimed: set[str] | frozenset[str] = frozenset(),
) -> str:
    """Where the original goes, relative to the store: `<folder>/<sha256[:16]>/<safe name>`.

    Never another file: an existing file is reused only if it holds the same bytes and no ledger
    row names it (a copy kept by a run killed before it recorded the file), nor is it one of the
    paths `claimed` by files of the same transaction, not yet recorded."""
    base = Path(FOLDER[status]) / f.sha256[:16]
    name = safe_component(Path(f.rel).name)
    stem, suffix = Path(name).stem, Path(name).suffix
    candidate = base / name
    n = 2
    while (settings.store / candidate).exists():
        path = candidate.as_posix()
        unnamed = store is not None and path not in claimed and not store.names_stored(path)
        if unnamed and sha256_of(settings.store / candidate) == f.sha256:
            break
        candidate = base / f"{stem} ({n}){suffix}"
        n += 1
    return candidate.as_posix()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def keep(staged: Path, dest: Path, sha: str, synced: bool = False, folders: set[Path] | None = None) -> None:
    """Put the staged copy at `dest`, never over another file, durably: the file fsynced (unless
    `synced`: the staged copy was fsynced when it was made, and `dest` is the same inode or its
    rename), and its folder, now or, given `folders`, by the caller before it records the file
    (one fsync for every file of a batch that lands in the same folder).

    `dest` already holding the same bytes is fine (a rerun after a kill); different bytes are a
    StoreError, never overwritten."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(staged, dest)  # atomic, and refuses to overwrite
    except FileExistsError:
        if sha256_of(dest) != sha:
            raise StoreError(f"存储位置已有另一个文件：{dest}") from None
    except OSError:  # a file system without hard links: rename, after checking nothing is there
        if dest.exists():
            if sha256_of(dest) != sha:
                raise StoreError(f"存储位置已有另一个文件：{dest}") from None
        else:
            os.rename(staged, dest)
    if not synced:
        with dest.open("rb") as fh:
            os.fsync(fh.fileno())
    if folders is None:
        _fsync_dir(dest.parent)
    else:
        folders.add(dest.parent)


def sync_folders(folders: set[Path]) -> None:
    for folder in sorted(folders):
        _fsync_dir(folder)
    folders.clear()


def release(f: Inbound, folders: set[Path] | None = None) -> None:
    """The original is kept and recorded: take the inbox file away, if it is still the one taken
    (a file rewritten since stays for the next run), and drop the staged copy. The inbox folder is
    fsynced now, or by the caller once for a batch (`folders`): a removal lost to a power cut only
    leaves a recorded file in the inbox, which `recover` finishes."""
    if f.identity is not None and still_there(f.path, f.identity):
        f.path.unlink()
        if folders is None:
            with contextlib.suppress(OSError):
                _fsync_dir(f.path.parent)
        else:
            folders.add(f.path.parent)
    if f.staged is not None:
        f.staged.unlink(missing_ok=True)


def move(src: Path, dest: Path) -> None:
    """Copy `src` to `dest` (never over an existing file), durably, then remove `src`."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".incoming.", dir=dest.parent)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.chmod(tmp, 0o644)
        keep(Path(tmp), dest, sha256_of(Path(tmp)))
    finally:
        Path(tmp).unlink(missing_ok=True)
    fault_point("moved, inbox copy not yet removed")
    src.unlink()


BATCH = 64  # files recorded per transaction


def commit(
    decisions: list[Decision],
    store: st.Store,
    settings: Settings,
    run_id: int,
    on_each: Callable[[Decision], None] | None = None,
) -> None:
    """Record the decisions, then move their files out of the inbox, `BATCH` files at a time: each
    group's files kept in the store (durably), then recorded in one transaction, then released.

    A kill anywhere leaves what one file at a time would: copies kept but not recorded are taken
    up again by the next run (`storage_path` reuses an unnamed copy of the same bytes), and files
    recorded but still in the inbox are finished by `recover`."""
    by_id: dict[int, Decision] = {}
    folders: set[Path] = set()
    for group in st.chunks(decisions, BATCH):
        claimed: set[str] = set()  # kept by this group, not yet named by the ledger
        places: list[str | None] = []
        for d in group:
            fault_point("before recording a file")
            f = d.inbound
            stored_as = None
            if d.status != st.IGNORED and f.staged is not None:
                stored_as = storage_path(settings, d.status, f, store, claimed)
                claimed.add(stored_as)
                # the staged copy was fsynced when it was taken (`inbox.stage`): only the folders remain
                keep(f.staged, settings.store / stored_as, f.sha256, synced=True, folders=folders)
            fault_point("kept, not yet recorded")
            places.append(stored_as)
        sync_folders(folders)  # durable before the ledger says so
        with store.begin() as conn:
            current = _current_returns(conn, group)
            seen = _sightings(conn, group)
            for d, stored_as in zip(group, places, strict=True):
                _record(conn, store, d, stored_as, run_id, by_id, current, seen)
            _forget_sightings(conn, list(seen))  # received: the sightings have done their work
        for d, stored_as in zip(group, places, strict=True):
            fault_point("recorded, not yet moved")
            if stored_as is not None:
                release(d.inbound, folders)
            if on_each:
                on_each(d)
        with contextlib.suppress(OSError):
            sync_folders(folders)


Key = tuple[str, str, str]  # (county, period, form) of a return


def _current_returns(conn: Any, group: list[Decision]) -> set[Key]:
    """Which of the group's accepted returns' (county, period, form) already have an accepted return
    in the ledger: only those have one to supersede (besides a correction within the group)."""
    keys = {k for d in group if d.status == st.ACCEPTED and (k := _key(d.ret)) is not None}
    counties = sorted({k[0] for k in keys})
    s = st.submissions.c
    found: set[Key] = set()
    for part in st.chunks(counties):
        q = st.sa.select(s.county_code, s.period, s.form).where(s.status == st.ACCEPTED, s.county_code.in_(part))
        found |= {(str(r[0]), str(r[1]), str(r[2])) for r in conn.execute(q.distinct())}
    return found & keys


def _key(ret: Return | None) -> Key | None:
    if ret is None or ret.period is None or not ret.county_code:
        return None
    return ret.county_code, ret.period.token, ret.form


def _record(
    conn: Any,
    store: st.Store,
    d: Decision,
    stored_as: str | None,
    run_id: int,
    by_id: dict[int, Decision],
    current: set[Key],
    seen: dict[Sighting, str],
) -> None:
    """One file's ledger row, and for an accepted return its facts, records and the
    return it supersedes (where `current`, the keys with an accepted return, says there is one);
    its issues."""
    f, ret = d.inbound, d.ret
    row = {
        "run_id": run_id,
        "file": Path(f.rel).name,
        "inbox_path": f.rel,
        "sha256": f.sha256,
        "name_bytes": f.raw or None,
        "size": f.size,
        "received_at": _received(f, seen),
        "format": ret.format if ret else None,
        "county_code": ret.county_code if ret else None,
        "period": ret.period.token if ret and ret.period else None,
        "form": (ret.form or None) if ret else None,
        "status": d.status,
        "errors": d.errors,
        "warnings": d.warnings,
        "reason": d.reason,
        "stored_as": stored_as,
        "duplicate_of": d.duplicate_of,
        "sheet": ret.sheet if ret else None,
    }
    if ret:
        for key in ("office", "filled_by", "phone", "fill_date"):
            located = ret.header.get(key)
            row[key] = str(located.value) if located else None
    if d.status == st.DUPLICATE:
        if d.duplicate_of is None:  # its first copy came in this batch: recorded in this transaction
            q = st.sa.select(st.submissions.c.id).where(
                st.submissions.c.sha256 == f.sha256, st.submissions.c.status != st.IGNORED
            )
            if (bound := bound_county(f.rel)) is not None:  # a desk upload copies only its own county's files
                q = q.where(st.submissions.c.inbox_path.like(f"{UPLOADS}/{bound}/%"))
            first_id = conn.execute(q.order_by(st.submissions.c.id).limit(1)).scalar()
            d.duplicate_of = int(first_id) if first_id is not None else None
        row["duplicate_of"] = d.duplicate_of
        first = _row(conn, d.duplicate_of)
        row["reason"] = d.reason = f"与{_named(first)}内容完全相同（sha256 一致）"
        if first:
            row["county_code"], row["period"], row["form"] = first["county_code"], first["period"], first["form"]
    sid = store.insert(conn, st.submissions, row)
    by_id[sid] = d
    d.submission_id, d.stored_as = sid, stored_as
    if d.status == st.ACCEPTED and ret is not None and ret.period is not None and ret.county_code:
        insert_return(conn, store, sid, ret)
        this = (ret.county_code, ret.period.token, ret.form)
        if this in current:
            for old_id, reason in supersede(conn, store, ret.county_code, ret.period.token, sid, f.rel, ret.form):
                if old_id in by_id:  # superseded within this batch: report its final status
                    by_id[old_id].status, by_id[old_id].reason = st.SUPERSEDED, reason
        current.add(this)  # a later return of the group for the same key supersedes this one
        answer(conn, store, ret)
    store.insert_many(conn, st.issues, [issue_row(sid, i) for i in d.issues])


Sighting = tuple[str, int, int]  # (inbox path, size, mtime_ns) of a file a run saw before it was taken


def _sightings(conn: Any, group: list[Decision]) -> dict[Sighting, str]:
    """When each of the group's files was first seen by a run: one query for the group, not one per file."""
    wanted = {(d.inbound.rel, d.inbound.size, d.inbound.identity[3]) for d in group if d.inbound.identity}
    s = st.sightings.c
    found: dict[Sighting, str] = {}
    for part in st.chunks(sorted({path for path, _, _ in wanted})):
        q = st.sa.select(s.inbox_path, s.size, s.mtime_ns, s.seen_at).where(s.inbox_path.in_(part))
        for r in conn.execute(q):
            key = (str(r[0]), int(r[1]), int(r[2]))
            if key in wanted:
                found[key] = str(r[3])
    return found


def _received(f: Inbound, seen: dict[Sighting, str]) -> str:
    """When the file was received: when it landed (its inode change time), or when a run first saw
    it if that was earlier by the run's clock (a replay's, or a night whose run was killed).
    `seen`: the sightings of the file's batch (`_sightings`), forgotten once it is recorded."""
    at = received(f.landed_ns)
    first = seen.get((f.rel, f.size, f.identity[3])) if f.identity is not None else None
    return at if first is None else min(at, first, key=dt.datetime.fromisoformat)


def _forget_sightings(conn: Any, keys: list[Sighting]) -> None:
    s = st.sightings.c
    for part in st.chunks(keys, 300):  # three parameters each
        conn.execute(st.sa.delete(st.sightings).where(st.sa.tuple_(s.inbox_path, s.size, s.mtime_ns).in_(part)))


def _named(row: dict[str, Any] | None) -> str:
    """Another submission as a message names it: who sent which file for which period, when."""
    if row is None:
        return "已收到的报送"
    who = row.get("office") or row.get("county_code") or ""
    what = f"{row.get('period')} " if row.get("period") else ""
    when = str(row.get("received_at") or "")[:10]
    return f"{who}{' ' if who else ''}{what}报送的“{row.get('file')}”{f'（{when} 收到）' if when else ''}"


def _row(conn: Any, sid: int | None) -> dict[str, Any] | None:
    if sid is None:
        return None
    r = conn.execute(st.sa.select(st.submissions).where(st.submissions.c.id == sid)).first()
    return dict(r._mapping) if r else None


def supersede(
    conn: Any, store: st.Store, county: str, period: str, new_id: int, new_file: str, form: str
) -> list[tuple[int, str]]:
    """Mark the county's current accepted return of the form for the period superseded by `new_id`,
    and keep the cell-by-cell difference (indicator, column, old, new) in `revisions`."""
    done = []
    q = st.sa.select(st.submissions.c.id).where(
        st.submissions.c.county_code == county,
        st.submissions.c.period == period,
        st.submissions.c.status == st.ACCEPTED,
        st.submissions.c.id != new_id,
        st.submissions.c.form == form,
    )
    for (old_id,) in conn.execute(q).all():
        reason = f"已被更正报送“{new_file}”替代"
        store.update_submission(conn, old_id, status=st.SUPERSEDED, superseded_by=new_id, reason=reason)
        store.insert_many(conn, st.revisions, diff_facts(conn, old_id, new_id))
        done.append((old_id, reason))
    return done


def diff_facts(conn: Any, old_id: int, new_id: int) -> list[dict[str, Any]]:
    def facts(sid: int) -> dict[tuple[str, str], dict[str, Any]]:
        rows = conn.execute(st.sa.select(st.facts).where(st.facts.c.submission_id == sid)).all()
        return {(r.indicator, r.column): dict(r._mapping) for r in rows}

    old, new = facts(old_id), facts(new_id)
    out = []
    for key in sorted(old.keys() | new.keys()):
        o, n = old.get(key), new.get(key)
        o_num, n_num = (o or {}).get("number"), (n or {}).get("number")
        if o_num == n_num:
            continue
        out.append(
            {
                "submission_id": new_id,
                "previous_id": old_id,
                "indicator": key[0],
                "column": key[1],
                "old": o_num,
                "new": n_num,
                "old_raw": (o or {}).get("raw"),
                "new_raw": (n or {}).get("raw"),
                "cell": (n or o or {}).get("cell"),
            }
        )
    return out


def answer(conn: Any, store: st.Store, ret: Return) -> None:
    """What an accepted return tells the returns it answers (cross-form rules asked again when it
    arrived): each one's issue of that rule replaced by the new verdict, its counts made anew."""
    for a in ret.answers:
        if a.submission_id is None:
            continue
        conn.execute(
            st.sa.delete(st.issues).where(st.issues.c.submission_id == a.submission_id, st.issues.c.code == a.rule)
        )
        if a.issue is not None:
            store.insert_many(conn, st.issues, [issue_row(a.submission_id, a.issue)])
        counts = dict(
            conn.execute(
                st.sa.select(st.issues.c.severity, st.sa.func.count())
                .where(st.issues.c.submission_id == a.submission_id)
                .group_by(st.issues.c.severity)
            ).all()
        )
        store.update_submission(
            conn, a.submission_id, errors=int(counts.get("error", 0)), warnings=int(counts.get("warning", 0))
        )


def insert_return(conn: Any, store: st.Store, sid: int, ret: Return) -> None:
    assert ret.county_code and ret.period
    store.insert_many(
        conn,
        st.facts,
        [
            {
                "submission_id": sid,
                "county_code": ret.county_code,
                "period": ret.period.token,
                "form": ret.form,
                "indicator": f.indicator,
                "column": f.column,
                "number": f.number,
                "status": f.status,
                "raw": f.raw,
                "unit_written": f.unit_written,
                "flags": f.flags,
                "sheet": f.sheet,
                "cell": f.cell,
                "note": f.note,
            }
            for f in ret.facts
        ],
    )
    key = ret.list_key
    store.insert_many(
        conn,
        st.records,
        [
            {
                "submission_id": sid,
                "form": ret.form,
                "county_code": ret.county_code,
                "period": ret.period.token,
                "sheet": r.sheet,
                "row": r.row + 1,
                "key": key_text(r.values, key) if key else None,
                "data": json.dumps(r.values, ensure_ascii=False, sort_keys=True),
            }
            for r in ret.records
        ],
    )


def issue_row(sid: int, i: Issue) -> dict[str, object]:
    return {
        "submission_id": sid,
        "code": i.code,
        "severity": str(i.severity),
        "message": i.message,
        "sheet": i.sheet,
        "cell": i.cell,
        "indicator": i.indicator,
        "value": None if i.value is None else str(i.value),
        "explanation": i.explanation,
    }


def interrupted_runs(store: st.Store, current: int | None = None) -> list[int]:
    """Runs that started and never finished: killed, or stopped by a crash."""
    return [int(r["id"]) for r in store.runs() if r["finished_at"] is None and r["id"] != current]


def recover(files: list[Inbound], store: st.Store, settings: Settings) -> list[Inbound]:
    """Finish what interrupted runs left undone; return the files that still need a run.

    A file recorded by an interrupted run is the same receipt, not a duplicate: its move is
    finished (or, where the original already lies complete in the store, the inbox copy of
    the same bytes is removed)."""
    unfinished = set(interrupted_runs(store))
    if not unfinished:
        return files
    left = []
    for f in files:
        rows = [r for r in store.by_sha(f.sha256) if r["inbox_path"] == f.rel and r["run_id"] in unfinished]
        row = rows[-1] if rows else None
        if row is None or row["stored_as"] is None:
            left.append(f)
            continue
        dest = settings.store / str(row["stored_as"])
        if f.staged is not None:
            keep(f.staged, dest, f.sha256)  # already there with the same bytes, or put there now
            release(f)
        elif dest.exists():
            f.path.unlink()  # the same bytes (same sha256) are kept at dest
        else:
            move(f.path, dest)
    return left
