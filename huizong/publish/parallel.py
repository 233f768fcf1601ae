"""Publishing many regions at once (a province, the nation) in a few publisher processes.

Writing workbooks is pure Python and takes one core; a national run writes hundreds. The
(region, period) jobs are shared out by weight (a region's count of counties) among one publisher
per core; each is a fresh interpreter (`python -m huizong.publish.parallel`: no fork of a
threaded parent, no re-import of the caller's main module), with its own connection to the
ledger, and writes its files atomically as everywhere else. A publisher's exception (a full disk)
is raised again here, as if it had happened in this process.
"""

from __future__ import annotations

import contextlib
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from huizong.catalog import Config


class PublisherDied(Exception):
    "A publisher process ended without its result"


def share_out(jobs: Sequence[tuple[str, ...]], weights: Sequence[float], n: int) -> list[list[tuple[str, ...]]]:
    """`n` lists of jobs of about equal weight, heaviest first to the lightest list; each list in
    the jobs' own order (so that a publisher reads each period's submissions once)."""
    loads = [0.0] * n
    picked: list[list[int]] = [[] for _ in range(n)]
    for i in sorted(range(len(jobs)), key=lambda i: -weights[i]):
        k = loads.index(min(loads))
        loads[k] += weights[i]
        picked[k].append(i)
    return [[jobs[i] for i in sorted(ids)] for ids in picked if ids]


def publish_in_processes(
    jobs: Sequence[tuple[str, str, str]], weights: Sequence[float], n: int, db_url: str, config: Config, outputs: Path
) -> list[Path]:
    groups = share_out(jobs, weights, n)
    results: list[Any] = []
    failure: BaseException | None = None
    with contextlib.ExitStack() as stack:
        procs = []
        for group in groups:
            err_file = stack.enter_context(tempfile.TemporaryFile())  # not a pipe: a chatty publisher never blocks
            p = subprocess.Popen(
                [sys.executable, "-m", "huizong.publish.parallel"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err_file,
            )
            assert p.stdin is not None
            p.stdin.write(pickle.dumps((db_url, config, outputs, group)))
            p.stdin.close()
            procs.append((p, err_file))
        for p, err_file in procs:
            assert p.stdout is not None
            out = p.stdout.read()
            p.wait()
            err_file.seek(0)
            err = err_file.read()[-4000:]
            try:
                kind, value = pickle.loads(out)
            except Exception:
                tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit status {p.returncode}"]
                failure = failure or PublisherDied(f"发布进程意外退出：{tail[0]}")
                continue
            if kind == "error":
                failure = failure or value
            else:
                results.append(value)
    if failure is not None:
        raise failure
    done = {job: paths for group in results for job, paths in group}
    return [Path(p) for job in jobs for p in done[job]]


def _serve() -> None:
    from huizong.ledger.store import Store
    from huizong.publish.layout import Layout
    from huizong.publish.region import publish_regions

    db_url, config, outputs, group = pickle.loads(sys.stdin.buffer.read())
    out = sys.stdout.buffer
    try:
        store, layout = Store.open(db_url), Layout(outputs)
        done = [(job, [str(x) for x in paths]) for job, paths in publish_regions(store, config, layout, group)]
        store.engine.dispose()
        result: tuple[str, Any] = ("ok", done)
    except Exception as e:  # raised again in the parent
        try:
            pickle.dumps(e)
            result = ("error", e)
        except Exception:
            result = ("error", PublisherDied(f"{type(e).__name__}: {e}"))
    out.write(pickle.dumps(result))
    out.flush()


if __name__ == "__main__":
    _serve()
