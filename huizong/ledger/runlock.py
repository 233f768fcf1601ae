"""One run at a time, with a lock in the ledger's database (not a pid file).

The holder writes its host, pid and a heartbeat; a second run waits for it or gives up with
a clear message. A killed run cannot hold the lock for ever: on the same host a dead pid
frees it at once, and anywhere a heartbeat older than the lease frees it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from huizong.ledger.store import Store, locks

LEASE_SECONDS = 300
HEARTBEAT_SECONDS = 30


class RunLocked(Exception):
    "Another run holds the lock"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def alive(pid: int) -> bool:
    """Whether process `pid` of this host lives (a pid too large for the system never does)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True
    return True


def _stale(row: dict[str, object], lease: float) -> bool:
    if row["host"] == socket.gethostname() and not alive(int(row["pid"])):  # type: ignore[call-overload]
        return True
    beat = row["heartbeat_at"]
    return isinstance(beat, dt.datetime) and (_utcnow() - beat).total_seconds() > lease


def _try_acquire(store: Store, name: str, owner: str, lease: float, took: list[bool]) -> dict[str, object] | None:
    """None if acquired (`took` gains True if from a holder that died), else the holder's row."""
    me = {
        "name": name,
        "owner": owner,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "acquired_at": _utcnow(),
        "heartbeat_at": _utcnow(),
    }
    try:
        with store.begin() as conn:
            row = conn.execute(sa.select(locks).where(locks.c.name == name)).first()
            if row is None:
                conn.execute(sa.insert(locks).values(**me))
                return None
            held = dict(row._mapping)
            if not _stale(held, lease):
                return held
            taken = conn.execute(
                sa.update(locks).where(locks.c.name == name, locks.c.owner == held["owner"]).values(**me)
            )
            if taken.rowcount == 1:
                took.append(True)
                return None
            return held
    except sa.exc.IntegrityError:  # another process inserted first
        with store.engine.connect() as conn:
            row = conn.execute(sa.select(locks).where(locks.c.name == name)).first()
        return dict(row._mapping) if row else {"owner": "?", "acquired_at": None}
    except sa.exc.OperationalError as e:
        # SQLite in WAL mode: another process wrote between our read and our write, and SQLite
        # answers "database is locked" at once (no busy wait for a stale snapshot): not ours yet
        if "locked" not in str(e).lower() and "busy" not in str(e).lower():
            raise
        return {"owner": "?", "host": "?", "pid": "?", "acquired_at": None}


@contextmanager
def run_lock(
    store: Store, wait: float = 0, name: str = "run", lease: float = LEASE_SECONDS, poll: float = 1.0
) -> Iterator[bool]:
    """Hold the run lock for the block; wait up to `wait` seconds for it, else raise RunLocked.
    Yields True if the lock was taken over from a holder that died (what it was doing is unfinished)."""
    owner = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{time.time_ns()}"
    deadline = time.monotonic() + wait
    took: list[bool] = []
    while (holder := _try_acquire(store, name, owner, lease, took)) is not None:
        if time.monotonic() >= deadline:
            since = holder.get("acquired_at")
            raise RunLocked(
                f"另一个运行正在进行（{holder.get('host')} 进程 {holder.get('pid')}，开始于 {since} UTC），"
                "请稍后再试或使用 --wait 等待"
            )
        time.sleep(poll)
    stop = threading.Event()

    def beat() -> None:
        """Every HEARTBEAT_SECONDS; a database error (locked, briefly gone) is retried sooner, never
        allowed to end the heartbeat: a dead heartbeat would hand the lock to another run mid-run."""
        delay: float = HEARTBEAT_SECONDS
        while not stop.wait(delay):
            try:
                with store.begin() as conn:
                    conn.execute(sa.update(locks).where(locks.c.owner == owner).values(heartbeat_at=_utcnow()))
                delay = HEARTBEAT_SECONDS
            except Exception:
                delay = min(5.0, HEARTBEAT_SECONDS)

    t = threading.Thread(target=beat, name="huizong-lock-heartbeat", daemon=True)
    t.start()
    try:
        yield bool(took)
    finally:
        stop.set()
        t.join(10)
        # a lock we cannot release expires with its heartbeat
        with contextlib.suppress(Exception), store.begin() as conn:
            conn.execute(sa.delete(locks).where(locks.c.owner == owner))
