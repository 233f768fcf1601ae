"""The desk's publisher: a process of its own that writes what publishing owes (`pipeline.publish_owed`).

The desk judges uploads in its own process; writing the outputs and the feedback workbooks is pure
Python that would hold the interpreter's lock against the next verdict. So one long-lived child
(`python -m huizong.desk.publisher`: a fresh interpreter, imports paid once) writes them on the
other core, one publishing per request. It is told the settings and the configuration once, on
start; it ends when its standard input closes (the desk stopped, or was killed). If it dies, the
next request starts another; what it left unwritten stays owed in the ledger.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import tempfile
import threading
import weakref
from typing import IO, Any

from huizong.catalog import Config
from huizong.settings import Settings


class PublisherDied(Exception):
    "The publisher process ended or failed"


_LIVE: weakref.WeakSet[Publisher] = weakref.WeakSet()  # every publisher of this process (`stop_all`)


class Publisher:
    def __init__(self, settings: Settings, config: Config) -> None:
        self._args = pickle.dumps((settings, config))
        self._proc: subprocess.Popen[bytes] | None = None
        self._err: IO[bytes] | None = None
        self._lock = threading.Lock()
        _LIVE.add(self)

    def _start(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        if self._err is not None:
            self._err.close()
        self._err = tempfile.TemporaryFile()  # noqa: SIM115  (lives as long as the child; not a pipe, which a chatty child could fill)
        proc = subprocess.Popen(
            [sys.executable, "-m", "huizong.desk.publisher"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._err,
        )
        assert proc.stdin is not None
        proc.stdin.write(self._args)
        proc.stdin.flush()
        self._proc = proc
        return proc

    def publish(self) -> None:
        """Write what is owed now; raises PublisherDied with the child's last words if it failed."""
        with self._lock:
            proc = self._start()
            assert proc.stdin is not None and proc.stdout is not None
            try:
                proc.stdin.write(b"go\n")
                proc.stdin.flush()
                answer = proc.stdout.readline().decode("utf-8", "replace").strip()
            except OSError:
                answer = ""
            if answer == "ok":
                return
            if not answer:  # it died: its last line of stderr says why
                proc.kill()
                proc.wait()
                self._proc = None
                tail = b""
                if self._err is not None:
                    self._err.seek(0)
                    tail = self._err.read()[-2000:]
                words = tail.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
                raise PublisherDied(f"发布进程意外退出：{words[0]}")
            raise PublisherDied(answer.removeprefix("error "))

    def stop(self, timeout: float = 30) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()


def stop_all(timeout: float = 5) -> None:
    """Stop the publisher process of every desk app this process made (one whose lifespan never
    ran, such as an app a test drives without it, would keep its child until the process ends)."""
    for publisher in list(_LIVE):
        publisher.stop(timeout)


def _serve() -> None:
    from huizong.ledger.store import Store
    from huizong.pipeline import publish_owed

    stdin, out = sys.stdin.buffer, sys.stdout.buffer
    settings, config = pickle.load(stdin)
    store = Store.open(settings.db_url)
    for _line in iter(stdin.readline, b""):
        answer: Any
        try:
            publish_owed(store, config, settings, wait=600)
            answer = "ok"
        except Exception as e:  # a full disk: said to the desk, which logs it; the owed rows stay
            answer = f"error {type(e).__name__}: {e}".replace("\n", " ")
        out.write(answer.encode("utf-8") + b"\n")
        out.flush()
    store.engine.dispose()


if __name__ == "__main__":
    _serve()
