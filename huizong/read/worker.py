"""Reading county files in worker processes that may die without taking the run along.

A file from outside can make a reader allocate terabytes, loop for minutes or abort in native
code. Each file is read in a worker process (one per core by default) with an address-space cap
(`RLIMIT_AS`) and a wall-clock limit enforced from here; a worker that runs out, is killed or
crashes refuses only the file it was reading (`file-over-limits`, `read-crashed`) and is
replaced. The workers are fresh interpreters (`python -m huizong.read.worker`, talking over two pipes)
that import only the reading code, so they start small (about 25 MiB) and never inherit the run's
threads, database connections, lock or main module.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing.connection as mpc
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from huizong.catalog import Config
from huizong.codes import Said, make_issue
from huizong.limits import Limits
from huizong.read.model import Return

OVER_LIMITS, CRASHED = "file-over-limits", "read-crashed"
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReadJob:
    path: Path  # the bytes to read (the run's staged copy)
    name: str  # the file's name in every report


def refused(job: ReadJob, code: str, detail: Said) -> Return:
    ret = Return(file=job.name, path=job.path, readable=False)
    ret.issues.append(make_issue(code, job.name, detail=detail))
    return ret


# the worker side ------------------------------------------------------------------------------


def _peak_reset() -> None:
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM, the peak resident set size


def _peak_kib() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _confine(limits: Limits, stderr_path: str) -> None:
    os.environ["RUST_BACKTRACE"] = "0"
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    mem = limits.memory_bytes
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (mem if hard == resource.RLIM_INFINITY else min(mem, hard), hard))


def _serve(conn_in: mpc.Connection, conn_out: mpc.Connection, stderr_path: str) -> None:
    config, region, limits = conn_in.recv()
    from huizong.read.returns import read_return

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _confine(limits, stderr_path)
    while True:
        try:
            job = conn_in.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        _peak_reset()
        started = time.perf_counter()
        restart = False
        try:
            ret = read_return(job.path, config, region, display_name=job.name)
        except MemoryError:
            ret, restart = refused(job, OVER_LIMITS, _memory(limits)), True
        except RecursionError:
            ret = refused(job, OVER_LIMITS, Said("结构嵌套过深", "nested too deeply"))
        except Exception as e:  # a reader's bug must refuse the file, not stop the run
            log.warning("reading %s failed: %s: %s", job.name, type(e).__name__, str(e)[:300])
            ret = refused(job, CRASHED, Said("程序内部错误", f"internal error ({type(e).__name__})"))
        ret.read_seconds = time.perf_counter() - started
        ret.read_peak_kib = _peak_kib()
        try:
            conn_out.send((ret, restart))
        except Exception as e:
            conn_out.send(
                (refused(job, CRASHED, Said("结果无法传回", f"result not sent back ({type(e).__name__})")), True)
            )
        if restart:
            return


# the parent side ------------------------------------------------------------------------------


@dataclass
class _Worker:
    proc: subprocess.Popen[bytes]
    conn: mpc.Connection  # results from the worker; EOF when it dies
    send: mpc.Connection  # jobs to the worker
    stderr: Path
    queue: deque[int] = field(default_factory=deque)  # jobs sent, the head being read now
    started: float = 0.0  # when the head job started (the previous result came back)

    @property
    def deadline(self) -> float:
        return self.started + self._seconds

    _seconds: float = 0.0


PREFETCH = 2  # jobs queued per worker, so that it never waits for the parent between files


def _memory(limits: Limits) -> Said:
    return Said(
        f"读取所需内存超过上限 {limits.memory_mb:,.0f} MiB", f"reading needs more than {limits.memory_mb:,.0f} MiB"
    )


def _why_dead(w: _Worker, limits: Limits, timed_out: bool) -> tuple[str, Said]:
    """Why a worker died, in words for the county: the signal or exit code, never the reader's own
    output (a panic's text names source files of the build); that goes to the log for maintainers."""
    if timed_out:
        return OVER_LIMITS, Said(f"读取超过 {limits.seconds:,.0f} 秒", f"reading took over {limits.seconds:,.0f} s")
    code = w.proc.returncode
    try:
        tail = w.stderr.read_bytes()[-4000:].decode("utf-8", "replace")
    except OSError:
        tail = ""
    if "memory allocation" in tail or "MemoryError" in tail or code == -signal.SIGKILL:
        return OVER_LIMITS, _memory(limits)
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        said = Said(f"进程因信号 {name} 退出", f"the reader died of {name}")
    else:
        said = Said(f"进程异常退出（退出码 {code}）", f"the reader exited with status {code}")
    last = [line for line in tail.splitlines() if line.strip()]
    if last:
        log.warning("the reader died on a file: %s", " | ".join(last[-5:])[:1000])
    return CRASHED, said


@dataclass
class _Idle:
    """Workers kept between calls by a long-lived process (`keep_warm`), for one configuration
    and region at a time: another's call retires them (a worker holds the configuration it started with)."""

    keep: bool = False
    folder: Path | None = None  # their stderr files, for the life of the process
    owner: tuple[Config, str | None] | None = None
    workers: list[_Worker] = field(default_factory=list)

    def _mine(self, config: Config, region: str | None) -> bool:
        """Are the kept workers this configuration's and region's? If not, they retire."""
        if self.owner is not None and self.owner[0] is config and self.owner[1] == region:
            return True
        self.retire()
        return False

    def retire(self) -> None:
        """Stop every kept worker; the next call to keep some makes its caller the owner."""
        for w in self.workers:
            _stop(w)
        self.workers.clear()
        self.owner = None

    def take(self, config: Config, region: str | None) -> _Worker | None:
        if not self._mine(config, region):
            return None
        while self.workers:
            w = self.workers.pop()
            if w.proc.poll() is None:
                return w
            _close(w)
        return None

    def park(self, config: Config, region: str | None, w: _Worker) -> bool:
        if not self.keep or w.queue or w.proc.poll() is not None:
            return False
        if not self._mine(config, region):
            self.owner = (config, region)
        if len(self.workers) >= config.limits.worker_count:
            return False
        self.workers.append(w)
        return True

    def close(self) -> None:
        self.retire()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


_IDLE = _Idle()


def keep_warm(keep: bool = True) -> None:
    """Keep the reading workers between calls of `read_bounded` (one per core at most), for a
    process that runs many times (`huizong serve`, the web desk, a benchmark's warm loop): a
    worker's start, a fresh interpreter importing the readers, is most of the time one return takes
    to read. The workers stay as bounded as ever: each keeps its memory cap, every job its time
    limit, and a worker that dies or runs out is replaced. `keep_warm(False)` stops them."""
    _IDLE.keep = keep
    if not keep:
        _IDLE.close()


atexit.register(_IDLE.close)


def _close(w: _Worker) -> None:
    w.conn.close()
    w.send.close()


def _stop(w: _Worker) -> None:
    with contextlib.suppress(Exception):
        w.send.send(None)
    try:
        w.proc.wait(2)
    except subprocess.TimeoutExpired:
        w.proc.kill()
        w.proc.wait(2)
    _close(w)


def read_bounded(
    jobs: Sequence[ReadJob],
    config: Config,
    region: str | None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Return]:
    """Read every job in bounded workers; one Return per job, in order, whatever happens."""
    limits = config.limits
    if not jobs:
        return []
    if _IDLE.keep and _IDLE.folder is None:
        _IDLE.folder = Path(tempfile.mkdtemp(prefix="huizong-readers-"))
    tmp = _IDLE.folder if _IDLE.keep and _IDLE.folder is not None else Path(tempfile.mkdtemp(prefix="huizong-read-"))
    results: list[Return | None] = [None] * len(jobs)
    todo = deque(range(len(jobs)))
    workers: list[_Worker] = []
    done = 0

    def start() -> _Worker:
        kept = _IDLE.take(config, region)
        if kept is not None:
            return kept
        jobs_r, jobs_w = os.pipe()
        results_r, results_w = os.pipe()
        err = tmp / f"worker-{len(workers)}-{time.monotonic_ns()}.stderr"
        with err.open("wb") as errfile:
            proc = subprocess.Popen(  # a fresh interpreter: nothing of the run is inherited
                [sys.executable, "-m", "huizong.read.worker", str(jobs_r), str(results_w), str(err)],
                pass_fds=(jobs_r, results_w),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errfile,
                env={**os.environ, "RUST_BACKTRACE": "0", "PYTHONSAFEPATH": "1"},
            )
        os.close(jobs_r)
        os.close(results_w)
        w = _Worker(proc, mpc.Connection(results_r, writable=False), mpc.Connection(jobs_w, readable=False), err)
        w._seconds = limits.seconds
        w.send.send((config, region, limits))
        return w

    def assign(w: _Worker) -> None:
        while todo and len(w.queue) < PREFETCH:
            if not w.queue:
                w.started = time.monotonic()
            job = todo.popleft()
            w.queue.append(job)
            w.send.send(jobs[job])

    def finish(job: int, ret: Return) -> None:
        nonlocal done
        results[job] = ret
        done += 1
        if progress:
            progress(done, len(jobs))

    def replace(w: _Worker) -> None:
        """Retire a worker; the jobs it had queued but not begun go back to the front of the line."""
        with contextlib.suppress(Exception):
            w.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            w.proc.wait(5)
        w.conn.close()
        w.send.close()
        workers.remove(w)
        todo.extendleft(reversed(w.queue))
        w.queue.clear()

    def staff() -> None:
        while todo and len(workers) < min(limits.worker_count, len(jobs)):
            workers.append(start())
        for w in workers:
            assign(w)

    try:
        staff()
        while done < len(jobs):
            busy = [w for w in workers if w.queue]
            if not busy:
                staff()
                continue
            timeout = max(0.0, min(w.deadline for w in busy) - time.monotonic())
            mpc.wait([w.conn for w in busy], timeout=timeout + 0.05)
            for w in busy:
                outcome = "ok"  # ok | restart (it asked to be replaced) | dead
                while w.queue and w.conn.poll():
                    try:
                        ret, restart = w.conn.recv()
                    except (EOFError, OSError):
                        outcome = "dead"
                        break
                    finish(w.queue.popleft(), ret)
                    w.started = time.monotonic()
                    if restart:
                        outcome = "restart"
                        break
                if outcome == "restart":
                    replace(w)
                elif outcome == "dead" or (w.queue and time.monotonic() > w.deadline):
                    timed_out = outcome != "dead"
                    if timed_out:
                        w.proc.kill()
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        w.proc.wait(5)
                    code, detail = _why_dead(w, limits, timed_out)
                    job = w.queue.popleft()
                    ret = refused(jobs[job], code, detail)
                    ret.read_seconds = time.monotonic() - w.started
                    finish(job, ret)
                    replace(w)
                else:
                    assign(w)
            staff()
    finally:
        leaving = [w for w in workers if not _IDLE.park(config, region, w)]
        for w in leaving:
            with contextlib.suppress(Exception):
                w.send.send(None)
        for w in leaving:
            _stop(w)
        if tmp != _IDLE.folder:
            shutil.rmtree(tmp, ignore_errors=True)
    return [r for r in results if r is not None]


def main(argv: list[str]) -> None:
    """`python -m huizong.read.worker JOBS_FD RESULTS_FD STDERR`: the worker's side, started by read_bounded."""
    conn_in = mpc.Connection(int(argv[0]), writable=False)
    conn_out = mpc.Connection(int(argv[1]), readable=False)
    _serve(conn_in, conn_out, argv[2])


if __name__ == "__main__":
    main(sys.argv[1:])
