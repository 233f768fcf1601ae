"""Publishing many regions at once (a province, the nation) in a few publisher processes.

Writing workbooks is pure Python and takes one core; a national run writes hundreds. The
(region, period) jobs are shared out by weight (a region's count of counties) among one publisher
per core; each is a fresh interpreter (`python -m huizong.publish.parallel`: no fork of a
threaded parent, no re-import of the caller's main module), with its own connection to the
ledger. A publisher makes each file whole under a temporary name beside its target and leaves
the renaming to this process (`files.finished`): the run puts every output in place, as a
publishing on a cluster's workers does (`make_group`), and a publisher outliving a killed run
leaves only temporary files, which the next run's sweep removes. A publisher's exception (a full
disk) is raised again here, as if it had happened in this process.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from huizong.catalog import Config
from huizong.ledger.published import Written
from huizong.publish.files import finished, kept, put_in_place
from huizong.publish.region import Done, Job


class PublisherDied(Exception):
    "A publisher process ended without its result"


def share_out(jobs: Sequence[Job], weights: Sequence[float], n: int) -> list[list[Job]]:
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
    jobs: Sequence[Job],
    weights: Sequence[float],
    n: int,
    db_url: str,
    config: Config,
    outputs: Path,
    known: dict[Job, Written] | None = None,
) -> list[Done]:
    """Each job's paths and digest (`region.publish_regions`), in the jobs' order."""
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
            mine = {job: (known or {})[job] for job in group if job in (known or {})}
            p.stdin.write(pickle.dumps((db_url, config, outputs, group, mine, os.getpid())))
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
            elif failure is not None:  # the run fails: what the others made is not put in place
                for tmp, _ in value[1]:
                    Path(tmp).unlink(missing_ok=True)
            else:  # made whole by the publisher, put in place here, by the run (`files.finished`)
                put_in_place((Path(tmp), Path(path)) for tmp, path in value[1])
                results.append(value[0])
    if failure is not None:
        raise failure
    done = {job: (job, [Path(p) for p in paths], written) for group in results for job, paths, written in group}
    return [done[job] for job in jobs]


Made = tuple[list[Done], list[tuple[str, bytes]]]
"""A group's result made elsewhere (`make_group`): each job's paths and digest, and the bytes of
each file by its path under outputs/, for this process to put in place."""

Spread = Callable[[list[list[Job]], list[dict[Job, Written]], str, Path, Path], list[Made]]
"""Runs `make_group` on each group of jobs elsewhere (a Dask cluster's workers, as Prefect tasks)
and returns each group's result: (groups, what each group's outputs were written from, the ledger's
URL, the configuration folder, outputs/)."""


def publish_group(
    db_url: str, config: Config | Path, outputs: Path, group: list[Job], known: dict[Job, Written]
) -> list[Done]:
    """A publisher's work, in whatever process or machine runs it: the group's views read from the
    ledger, and their outputs written into outputs/ as everywhere (each file complete under a
    temporary name, then renamed into place). Needs the package, the ledger's URL and outputs/ (and
    the configuration folder, when given as a path) at the same paths as the flow sees them."""
    from huizong.ledger.store import Store
    from huizong.publish.layout import Layout
    from huizong.publish.region import publish_regions

    store = Store.open(db_url)
    try:
        cfg = config if isinstance(config, Config) else Config.current(config)
        return publish_regions(store, cfg, Layout(Path(outputs)), list(group), known)
    finally:
        store.engine.dispose()


def make_group(db_url: str, config: Config | Path, outputs: Path, group: list[Job], known: dict[Job, Written]) -> Made:
    """`publish_group`, its files made but not put in place (`files.kept`): what a cluster's worker
    does, so that the flow's process alone writes outputs/ (`outputs.publish` places them, each as
    atomically as every file). The worker reads the ledger, the configuration folder and outputs/
    (the previous validation page, which feedback workbooks exist) and writes nothing there."""
    with kept() as made:
        done = publish_group(db_url, config, outputs, group, known)
    return done, [(path.relative_to(outputs).as_posix(), data) for path, data in made.items()]


def _serve() -> None:
    db_url, config, outputs, group, known, owner = pickle.loads(sys.stdin.buffer.read())
    out = sys.stdout.buffer
    try:
        with finished(owner) as left:  # the run that started this process puts them in place
            made = publish_group(db_url, config, outputs, group, known)
        done = [(job, [str(x) for x in paths], w) for job, paths, w in made]
        result: tuple[str, Any] = ("ok", (done, [(str(tmp), str(path)) for tmp, path in left]))
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
