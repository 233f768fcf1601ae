"""Watch the inbox and call back once dropped files have settled.

A run starts when files that could be returns have stopped changing for `settle` seconds
(sizes and modification times unchanged, no new events): many files dropped together make
one run, a file still being copied makes none yet. Lock files (`~$…`, `.~lock…#`), partial
downloads and our own moves out of the inbox (deletions) do not count.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from watchfiles import Change, watch

from huizong.ledger.inbox import TAKE, kind_of, readable_name


def counts(path: Path) -> bool:
    """Does a file in the inbox count towards a run? The same predicate the run takes files by."""
    return kind_of(readable_name(os.fsencode(path.name))) == TAKE


def snapshot(inbox: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for p in inbox.rglob("*"):
        try:
            if p.is_file() and counts(p):
                st = p.stat()
                out[p.as_posix()] = (st.st_size, st.st_mtime_ns)
        except OSError:
            continue  # moved away while we looked
    return out


class Settler:
    """The decision, apart from the watching: has the inbox settled since it last changed?"""

    def __init__(self, settle: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.settle, self.clock = settle, clock
        self.dirty = False
        self.changed_at = 0.0
        self.seen: dict[str, tuple[int, int]] = {}

    def changed(self) -> None:
        self.dirty, self.changed_at = True, self.clock()

    def due(self, current: dict[str, tuple[int, int]]) -> bool:
        """True once: files are there, nothing changed for `settle` s, and sizes held still."""
        if not self.dirty:
            return False
        if current != self.seen:
            self.seen, self.changed_at = current, self.clock()
            return False
        if not current:
            self.dirty = False
            return False
        if self.clock() - self.changed_at >= self.settle:
            self.dirty = False
            return True
        return False


def watch_inbox(inbox: Path, settle: float, on_settled: Callable[[], None], stop: threading.Event) -> None:
    """Block until `stop` is set, calling `on_settled` after each settled drop."""
    inbox.mkdir(parents=True, exist_ok=True)
    settler = Settler(settle)
    if snapshot(inbox):
        settler.changed()  # files waiting since before we started
    tick = max(200, int(settle * 250))
    for changes in watch(
        inbox,
        stop_event=stop,
        rust_timeout=tick,
        yield_on_timeout=True,
        step=50,
        recursive=True,
        ignore_permission_denied=True,
    ):
        if any(kind != Change.deleted and counts(Path(p)) for kind, p in changes):
            settler.changed()
        if settler.due(snapshot(inbox)):
            on_settled()
