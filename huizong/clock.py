"""The run's clock and its fault points.

`HUIZONG_NOW` fixes the clock (ISO 8601) for replays and tests. `HUIZONG_FAULT_KILL_AT=N`
kills the process with SIGKILL at the N-th fault point of a run: the crash test uses it to
prove that a rerun after a kill at any point ends as an uninterrupted run would.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")


def now() -> str:
    fixed = os.environ.get("HUIZONG_NOW")
    if fixed:
        return dt.datetime.fromisoformat(fixed).astimezone(TZ).isoformat(timespec="seconds")
    return dt.datetime.now(TZ).isoformat(timespec="seconds")


def received(landed_ns: int) -> str:
    """When a file was received: when it landed in the inbox, not when a run got to it (a night whose
    run was killed must not make a county late); never later than now()."""
    at = now()
    if landed_ns <= 0:
        return at
    landed = dt.datetime.fromtimestamp(landed_ns / 1e9, TZ).isoformat(timespec="seconds")
    return min(at, landed, key=dt.datetime.fromisoformat)


_fault_points = 0


def fault_point(name: str) -> None:
    """A place where a crash is survivable; with HUIZONG_FAULT_KILL_AT set, maybe die here."""
    global _fault_points
    _fault_points += 1
    target = os.environ.get("HUIZONG_FAULT_KILL_AT")
    if target and int(target) == _fault_points:
        os.kill(os.getpid(), signal.SIGKILL)


def reset_fault_points() -> None:
    global _fault_points
    _fault_points = 0
