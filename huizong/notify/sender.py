"""The sender: plans what is due and sends what is queued, in a thread of the serving process.

`Sender.tick()` is one round: the verdicts since the last round, deadlines and digests every
PLAN_EVERY seconds, then every notice due. Nothing here blocks a verdict: the desk and the runs
only queue rows; a server that does not answer costs this thread its timeout and the notice a
retry, nothing else.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from huizong.catalog import Config
from huizong.ledger import store as st
from huizong.notify import outbox, plan
from huizong.notify.channels import SendFailed, send_email, send_robot

PLAN_EVERY = 600.0  # seconds between plans of reminders, 催报 and digests
log = logging.getLogger("huizong.notify")


def message_id(row: dict[str, object]) -> str:
    return f"<notice-{row['id']}.{row['created_at']!s:.10}@huizong>"


def deliver(config: Config, row: dict[str, object]) -> None:
    """Send one claimed notice; SendFailed if it did not go."""
    n = config.notices
    subject, body, address = str(row["subject"]), str(row["body"]), str(row["address"])
    if row["channel"] == "email":
        send_email(n.email, address, subject, body, message_id(row), n.send.timeout)
        return
    robot = next((r for r in n.robots if r.name == address), None)
    if robot is None:
        raise SendFailed(f"notices.toml 中已没有机器人“{address}”", final=True)
    send_robot(robot, subject, body, n.send.timeout)


class Sender:
    def __init__(self, store: st.Store, config: Callable[[], Config], region: str) -> None:
        self.store, self.config, self.region = store, config, region
        self._planned: float | None = None

    def plan(self, everything: bool = False) -> int:
        config = self.config()
        if not config.notices.enabled:
            return 0
        made = plan.verdicts(self.store, config)
        if everything or self._planned is None or time.monotonic() - self._planned >= PLAN_EVERY:
            self._planned = time.monotonic()
            region = config.divisions.get(self.region)
            if region is not None:
                made += plan.deadlines(self.store, config, region)
                made += plan.digests(self.store, config, region)
        return made

    def send(self) -> tuple[int, int]:
        """Send every notice due now: (sent, failed attempts)."""
        config = self.config()
        done = failed = 0
        while rows := outbox.claim(self.store):
            for row in rows:
                try:
                    deliver(config, row)
                except SendFailed as e:
                    failed += 1
                    outbox.failed(self.store, row, str(e), config.notices.send.retry_minutes, e.final)
                    log.warning("notice %s to %s: %s", row["id"], row["address"], e)
                    continue
                outbox.sent(self.store, row)
                done += 1
        return done, failed

    def tick(self, everything: bool = False) -> tuple[int, int, int]:
        """One round: (queued, sent, failed attempts)."""
        made = self.plan(everything)
        return (made, *self.send())

    def run(self, stop: threading.Event) -> None:
        """Rounds until `stop` is set; a fault of the ledger is logged and tried again next round."""
        first = True
        while not stop.is_set():
            try:
                self.tick(everything=first)
                first = False
            except Exception:  # the database away for a moment: the next round tries again
                log.exception("notices: this round failed")
            stop.wait(self.config().notices.send.every)

    def start(self) -> tuple[threading.Thread, threading.Event]:
        stop = threading.Event()
        thread = threading.Thread(target=self.run, args=(stop,), daemon=True, name="huizong-notices")
        thread.start()
        return thread, stop
