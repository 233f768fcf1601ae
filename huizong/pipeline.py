"""One run, step by step: discover -> recover -> plan -> read -> validate -> decide -> commit -> publish.

Each step is a plain function so that the Prefect flow (flows/) can wrap and map them,
and `run_batch` chains them for runs without Prefect. One run at a time (`runlock`); a run
killed at any point is finished by the next (`ledger.recover`).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from huizong.catalog import Config
from huizong.clock import fault_point, now
from huizong.codes import FILE_LEVEL, make_issue
from huizong.issues import Issue, Severity, explain, sort_issues
from huizong.ledger import due, inbox, published
from huizong.ledger import store as st
from huizong.ledger.commit import commit, interrupted_runs, recover
from huizong.ledger.decisions import Decision, Inbound, Plan
from huizong.ledger.review import bound_county, gate, owner_of
from huizong.read.model import Return
from huizong.read.periods import parse_token
from huizong.read.worker import ReadJob, read_bounded
from huizong.settings import Settings

if TYPE_CHECKING:
    from huizong.publish.parallel import Spread

__all__ = ["Decision", "Inbound", "Plan", "commit", "now"]

STAGING = ".staging"


def take(settings: Settings) -> tuple[list[Inbound], list[str]]:
    """Every inbox entry as an Inbound, the files copied into the store's staging folder and
    hashed there; and the names of files still being written (left for the next run)."""
    staging = settings.store / STAGING
    shutil.rmtree(staging, ignore_errors=True)  # copies of an interrupted run: the inbox still has the originals
    out: list[Inbound] = []
    deferred: list[str] = []
    for found in inbox.scan(settings.inputs):
        if found.kind == inbox.TAKE:
            try:
                copy, sha, identity = inbox.stage(found, staging, settings.quiet)
            except inbox.StillWriting:
                deferred.append(found.rel)
                continue
            except FileNotFoundError:
                continue  # taken away while we looked
            except inbox.Unreadable as e:
                out.append(
                    _inbound(
                        found, inbox.pseudo_sha(found, inbox.Kind.UNREADABLE), kind=inbox.Kind.UNREADABLE, note=str(e)
                    )
                )
                continue
            if inbox.unfinished(copy, found, settings.fresh):
                copy.unlink(missing_ok=True)  # a zip cut short that changed lately: its writer may only have stalled
                deferred.append(found.rel)
                continue
            out.append(_inbound(found, sha, staged=copy, identity=identity))
        else:
            out.append(_inbound(found, inbox.pseudo_sha(found, found.kind), kind=found.kind, note=found.target))
    return out, deferred


def see(store: st.Store, settings: Settings) -> Seen:
    """Note, before anything else of the run, when each entry of the inbox was first seen: if this
    run is killed, the night that commits the file still receives it tonight, and in its turn."""
    found = [(f.rel, f.size, f.mtime_ns) for f in inbox.scan(settings.inputs)]
    store.sight(found, now())
    return store.seen(found)


TEMPORARIES = ((".huizong.", ".tmp"), (".incoming.", ""))  # what write_atomic and commit.move leave if killed


def _writer_alive(name: str) -> bool:
    """Whether the process that is writing `.huizong.<pid>.*.tmp` still lives (then it is not stale)."""
    from huizong.ledger.runlock import alive

    pid = name.split(".")[2] if name.count(".") >= 3 else ""
    return pid.isdigit() and alive(int(pid))


def sweep(settings: Settings, where: tuple[str, ...] = ("outputs", "store")) -> list[Path]:
    """Remove the temporary files a killed run or publisher left under outputs/ (`.huizong.<pid>.*.tmp`,
    unless that process still lives: the run and the publisher work side by side) and the store
    (`.incoming.*`: only one run at a time holds the lock, so any found at its start are stale)."""
    gone = []
    for root in (getattr(settings, w) for w in where):
        if not root.is_dir():
            continue
        for dirpath, _dirs, files in os.walk(root):
            for name in files:
                if any(name.startswith(a) and name.endswith(b) for a, b in TEMPORARIES):
                    if name.startswith(".huizong.") and _writer_alive(name):
                        continue
                    path = Path(dirpath) / name
                    if path.is_file() and not path.is_symlink():
                        path.unlink(missing_ok=True)
                        gone.append(path)
    return gone


def _inbound(found: inbox.Found, sha: str, **extra: Any) -> Inbound:
    return Inbound(found.path, found.rel, sha, found.size, raw=found.raw, landed_ns=found.landed_ns, **extra)


def plan(inbound: list[Inbound], store: st.Store, settings: Settings) -> Plan:
    """Sort the batch: entries to record and leave (lock files, links), bytes seen before, files to read."""
    out = Plan()
    seen_in_batch: set[tuple[str | None, str]] = set()
    for f in inbound:
        if f.kind != inbox.TAKE:  # recorded once, then left alone until it changes
            if not any(r["inbox_path"] == f.rel for r in store.by_sha(f.sha256)):
                (out.unreadable if f.kind == inbox.Kind.UNREADABLE else out.ignored).append(f)
            continue
        # a desk upload is a copy only of what its own county sent: a byte copy of another county's
        # file is read like any other, and refused as that county's return (`gate`), naming nothing of it
        bound = bound_county(f.rel)
        earlier = [
            r for r in store.by_sha(f.sha256) if r["status"] != st.IGNORED and (bound is None or owner_of(r) == bound)
        ]
        if earlier or (bound, f.sha256) in seen_in_batch:
            out.duplicates.append((f, earlier[0] if earlier else None))
        else:
            out.to_read.append(f)
        seen_in_batch.add((bound, f.sha256))
    return out


def docs_dir(settings: Settings) -> Path | None:
    """Where the GX Data Docs go, built once per run; None when they are switched off."""
    from huizong.publish.layout import Layout

    return Layout(settings.outputs).gx_docs if settings.docs else None


Progress = Callable[[str, int, int], None]  # (step, done, total)


def read_files(files: Iterable[Inbound], config: Config, region: str, progress: Progress | None = None) -> list[Return]:
    """Read each file's staged copy in a bounded worker (`huizong.read.worker`): one Return per file."""
    todo = list(files)
    jobs = [ReadJob(f.source, f.rel) for f in todo]
    out = read_bounded(jobs, config, region, (lambda done, total: progress("读取", done, total)) if progress else None)
    for _ in out:
        fault_point("file read")
    return out


def validate(
    returns: list[Return], config: Config, region: str, store: st.Store | None = None, docs_dir: Path | None = None
) -> dict[str, list[Issue]]:
    """All issues of the batch by file; `store` lets the rules compare with what it holds;
    `docs_dir` receives the GX Data Docs of the suite runs."""
    by_file: dict[str, list[Issue]] = {r.file: list(r.issues) for r in returns}
    if any(r.readable for r in returns):  # GX is loaded only when there is a return to validate
        from huizong.rules.suites import validator_for

        by_file, _ = validator_for(config, region, docs_dir).run(returns, store)
    if store is not None:  # an upload that is another county's; a correction to an approved period
        for file, found in gate(returns, store, config.divisions).items():
            by_file.setdefault(file, []).extend(found)
    return {r.file: sort_issues(explain(by_file.get(r.file, []), r.notes)) for r in returns}


def _first_error(issues: list[Issue]) -> str:
    for i in issues:
        if i.severity is Severity.ERROR:
            return f"{i.where} {i.message}".strip()
    return ""


def decide(p: Plan, returns: list[Return], issues: dict[str, list[Issue]], seen: Seen | None = None) -> list[Decision]:
    """accepted | rejected | duplicate | ignored, in the order the files arrived.

    Superseding is settled at commit time, against what the ledger holds then."""
    decisions = [Decision(f, st.IGNORED, reason=inbox.Kind.of(f.kind).reason.format(note=f.note)) for f in p.ignored]
    for f in p.unreadable:
        issue = make_issue("file-unreadable", f.rel, detail=f.note)
        decisions.append(Decision(f, st.REJECTED, None, [issue], issue.message))
    by_rel = {r.file: r for r in returns}
    for f in p.to_read:
        ret = by_rel[f.rel]
        found = issues.get(f.rel, [])
        errors = [i for i in found if i.severity is Severity.ERROR]
        status = st.REJECTED if errors or not ret.readable else st.ACCEPTED
        reason = _first_error(found) if status == st.REJECTED else ""
        if status == st.ACCEPTED and found:
            reason = f"{len(found)} 条警告"
        decisions.append(Decision(f, status, ret, found, reason))
    for f, earlier in p.duplicates:
        dup_of = int(earlier["id"]) if earlier else None  # type: ignore[call-overload]
        decisions.append(Decision(f, st.DUPLICATE, reason="", duplicate_of=dup_of))
    everything = [*p.ignored, *p.unreadable, *p.to_read, *(d for d, _ in p.duplicates)]
    order = {f.rel: n for n, f in enumerate(sorted(everything, key=lambda f: _arrival(f, seen)))}
    return sorted(decisions, key=lambda d: order[d.inbound.rel])


Seen = dict[tuple[str, int, int], str]  # (inbox path, size, mtime) -> when a run first saw it


def _arrival(f: Inbound, seen: Seen | None = None) -> tuple[str, int, str]:
    """The order files arrived in: the night a run first saw them, then their modification time."""
    try:
        st_ = os.lstat(f.path)
        mtime, size = st_.st_mtime_ns, st_.st_size
    except OSError:
        mtime, size = (f.identity[3] if f.identity else 0), f.size
    return ((seen or {}).get((f.rel, size, mtime), "~"), mtime, f.rel)


FEEDBACK_COPY_LIMIT = 5 << 20  # bytes: a county's file larger than a real return gets the problem list only


def can_mark_up(original: Path, issues: list[Issue]) -> bool:
    """Is the county's own file opened (in this process, by openpyxl) to mark its cells? Not if
    it could not be read as a workbook, nor if it is far larger than any real return."""
    if any(i.code in FILE_LEVEL for i in issues):
        return False
    try:
        return original.stat().st_size <= FEEDBACK_COPY_LIMIT
    except OSError:
        return False


def write_feedbacks(store: st.Store, settings: Settings, config: Config, submission_ids: Iterable[int]) -> list[Path]:
    """A feedback workbook for each of these submissions that has issues, from the ledger.

    A file that could not be read as a workbook (over the limits, corrupt, crashed its reader)
    is never opened again here: its feedback holds the list of problems only."""
    wanted = set(submission_ids)
    rows = [s for s in store.submissions(ids=wanted) if s["stored_as"] and s["errors"] + s["warnings"]]
    if not rows:  # a clean return has none: openpyxl is not even imported
        return []
    from huizong.publish.feedback import write_feedback
    from huizong.publish.layout import Layout
    from huizong.read.sniff import sniff

    issues_by: dict[int, list[Issue]] = {}
    for i in store.issues_for([s["id"] for s in rows]):
        issues_by.setdefault(i["submission_id"], []).append(
            Issue(
                code=i["code"],
                severity=Severity(i["severity"]),
                message=i["message"],
                file=i["submission_id"],
                sheet=i["sheet"],
                cell=i["cell"],
                indicator=i["indicator"],
                value=i["value"],
                explanation=i["explanation"],
            )
        )
    written = []
    for s in rows:
        div = config.divisions.get(s["county_code"])
        period = parse_token(s["period"]).zh if s["period"] else None
        who = " ".join(x for x in (div.name if div else s["county_code"], period) if x)
        original = settings.store / s["stored_as"]
        found = sort_issues(issues_by.get(s["id"], []))
        target = Layout(settings.outputs).feedback(int(s["id"]), s["inbox_path"])
        fmt = None if not can_mark_up(original, found) else sniff(original).format
        written.append(write_feedback(original, fmt, s["inbox_path"], who, found, target))
        fault_point("feedback written")
    return written


def touched(decisions: list[Decision], store: st.Store) -> dict[tuple[str, str], set[str]]:
    """(form, period) -> the counties whose returns this run changed (a duplicate changes its
    period's submission list; a return no county could be placed in touches the period as a whole, "")."""
    out: dict[tuple[str, str], set[str]] = {}
    for d in decisions:
        if d.ret is not None and d.ret.period is not None and d.ret.form:
            out.setdefault((d.ret.form, d.ret.period.token), set()).add(d.ret.county_code or "")
            if d.status == st.ACCEPTED:  # the returns it answered show a cross-form rule's new verdict
                for a in d.ret.answers:
                    out.setdefault((a.form, a.period), set()).add(a.county)
    dup_ids = {d.duplicate_of for d in decisions if d.duplicate_of is not None}
    for s in store.submissions(ids=dup_ids) if dup_ids else []:
        if s["period"] and s["form"]:
            out.setdefault((str(s["form"]), str(s["period"])), set()).add(str(s["county_code"] or ""))
    return out


@dataclass
class RunSummary:
    run_id: int
    decisions: list[Decision]
    outputs: list[Path]
    deferred: list[str] = field(default_factory=list)  # files still being written, left for the next run
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step, for the benchmark and the log

    @property
    def counts(self) -> dict[str, int]:
        out = {str(s): 0 for s in st.STATUSES}
        for d in self.decisions:
            out[d.status] += 1
        return out


def open_store(settings: Settings) -> st.Store:
    settings.store.mkdir(parents=True, exist_ok=True)
    return st.Store.open(settings.db_url)


def start_run(store: st.Store, settings: Settings, n_files: int) -> tuple[int, list[int]]:
    """Record the run; returns its id and the interrupted runs it must finish the work of. They
    stay unfinished until this run has done their work (`end_run`): a run killed while finishing
    them leaves them to the next, however many interruptions came one after another."""
    with store.begin() as conn:
        run_id = store.insert(conn, st.runs, {"started_at": now(), "inputs": str(settings.inputs), "n_files": n_files})
    return run_id, interrupted_runs(store, run_id)


def end_run(
    store: st.Store,
    run_id: int,
    decisions: list[Decision],
    interrupted: Iterable[int] = (),
    owed: due.Changed | None = None,
    feedback: Iterable[int] = (),
    rewrite: bool = False,
) -> None:
    """Close the run and queue what its publishing owes (`owed`; None: everything), in one
    transaction: a run killed before it is interrupted, and the next run republishes everything.
    Publishing leaves in place the outputs whose view is unchanged (`ledger.published`), unless
    `rewrite` (`--republish`) forgets what they were written from."""
    counts: dict[str, int] = {}
    for d in decisions:
        counts[d.status] = counts.get(d.status, 0) + 1
    if owed is not None and not owed and decisions:  # no period changed, but submissions.csv lists every file
        owed = {("", ""): {""}}
    fault_point("feedback written, run not yet closed")
    with store.begin() as conn:
        for rid in interrupted:  # their work is done now
            conn.execute(
                st.sa.update(st.runs)
                .where(st.runs.c.id == rid, st.runs.c.finished_at.is_(None))
                .values(finished_at=now(), summary='{"interrupted": true}')
            )
        conn.execute(
            st.sa.update(st.runs)
            .where(st.runs.c.id == run_id)
            .values(finished_at=now(), summary=json.dumps(counts, ensure_ascii=False))
        )
        due.queue(conn, owed, run_id, feedback)
        if rewrite:
            conn.execute(st.sa.delete(published.published))


def publish_owed(
    store: st.Store, config: Config, settings: Settings, wait: float = 600, spread: Spread | None = None
) -> list[Path]:
    """Write the outputs publishing owes (every run's and review's since the last publishing, as
    one), and the reporting rate, which depends on today; under the publish lock, so that runs go
    on committing meanwhile. Clears only what it wrote: rows queued while it wrote stay for the next."""
    from huizong.ledger.runlock import run_lock
    from huizong.publish.outputs import publish, publish_reporting

    with run_lock(store, wait=wait, name="publish") as recovered:
        if recovered:  # a publisher died: its temporary files are stale
            sweep(settings, ("outputs",))
        owed = due.owed(store)
        outputs = write_feedbacks(store, settings, config, owed.feedback) if owed.feedback else []
        if owed.changed != {}:
            outputs += publish(store, config, settings, owed.changed, spread)
        outputs += publish_reporting(store, config, settings)
        fault_point("outputs published, not yet cleared")
        due.clear(store, owed.upto)
    return outputs


def submissions_of_runs(store: st.Store, run_ids: Iterable[int]) -> list[int]:
    ids = set(run_ids)
    return [int(s["id"]) for s in store.submissions(run_ids=ids)] if ids else []


class Executor:
    """How the run's steps are executed. In this process by default; `flows.nightly` executes
    the same steps as Prefect tasks (reading mapped over chunks, retries, an artifact)."""

    chunk = 64  # files per reading task
    spread: Spread | None = None  # where many regions are published; None: publisher processes here

    def chunk_size(self, n_files: int) -> int:
        """Files per reading task, for a batch of `n_files`."""
        return self.chunk

    def step(self, name: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return fn(*args, **kwargs)

    def read(self, chunks: list[list[Inbound]], config: Config, region: str, progress: Progress | None) -> list[Return]:
        files = [f for chunk in chunks for f in chunk]
        return read_files(files, config, region, progress)

    def log(self, message: str) -> None:
        pass


T = TypeVar("T")


def run(
    settings: Settings,
    config: Config | None = None,
    executor: Executor | None = None,
    wait: float = 600,
    progress: Progress | None = None,
    republish: bool = False,
    on_commit: Callable[[list[Decision]], None] | None = None,
    publish: bool = True,
) -> RunSummary:
    """One run, its steps defined once: take → recover → plan → read → validate → decide → commit →
    feedback, under the run lock; then publish, under a lock of its own (`publish_owed`).
    Waits up to `wait` s for another run. `republish`: rewrite every period's outputs (after the
    catalog or a suite changed). `on_commit` is told the decisions as soon as they are in the
    ledger (the desk shows its verdicts then). `publish=False`: leave the feedback workbooks and
    the outputs to a publisher that runs beside (the desk's), the run ending at its commit. Configuration is
    loaded and the store opened once, here; every executor passes the same fault points."""
    from huizong.ledger.runlock import run_lock
    from huizong.rules.suites import prepare

    ex = executor or Executor()
    config = config or Config.current(settings.config)
    store = open_store(settings)
    timings: dict[str, float] = {}

    def timed(name: str, fn: Callable[..., T], *args: Any) -> T:
        t = time.perf_counter()
        out = ex.step(name, fn, *args)
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - t
        return out

    with run_lock(store, wait=wait):
        seen = see(store, settings)
        taken, deferred = timed("take", take, settings)
        files = timed("recover", recover, taken, store, settings)
        files.sort(key=lambda f: _arrival(f, seen))  # read, judged and recorded in the order they arrived
        fault_point("files found")
        p = plan(files, store, settings)
        p.deferred = deferred
        run_id, interrupted = start_run(store, settings, len(files))
        if interrupted:  # a run that died may have left temporary files behind
            ex.log(
                f"finishing the work of interrupted runs {interrupted}; removed {len(sweep(settings))} temporary files"
            )
        ex.log(f"run {run_id}: {len(files)} files, {len(p.to_read)} to read, still being written: {deferred}")
        fault_point("run recorded")
        if p.to_read:
            prepare(config, settings.region, docs_dir(settings))
        size = max(1, ex.chunk_size(len(p.to_read)))
        parts = list(st.chunks(p.to_read, size))
        t = time.perf_counter()
        returns = ex.read(parts, config, settings.region, progress) if parts else []
        timings["read"] = time.perf_counter() - t
        if progress and returns:
            progress("校验", 0, 1)
        issues = (
            timed("validate", validate, returns, config, settings.region, store, docs_dir(settings)) if returns else {}
        )
        fault_point("validated")
        decisions = decide(p, returns, issues, seen)
        done = iter(range(1, len(decisions) + 1))

        def on_each(d: Decision) -> None:
            if progress:
                progress("入账", next(done), len(decisions))

        timed("commit", commit, decisions, store, settings, run_id, on_each)
        if on_commit is not None:
            on_commit(decisions)
        ex.log(
            "committed: "
            + ", ".join(f"{d.inbound.rel} {d.status}" for d in decisions[:50])
            + (f" and {len(decisions) - 50} more" if len(decisions) > 50 else "")
        )
        ids = [d.submission_id for d in decisions if d.submission_id is not None]
        ids += submissions_of_runs(store, interrupted)
        # with publishing left to a publisher beside (the desk's), the feedback workbooks too
        outputs = timed("feedback", write_feedbacks, store, settings, config, ids) if publish else []
        everything = republish or bool(interrupted)
        end_run(
            store,
            run_id,
            decisions,
            interrupted,
            None if everything else touched(decisions, store),
            [] if publish else ids,
            rewrite=republish,
        )
        shutil.rmtree(settings.store / STAGING, ignore_errors=True)
    if publish:
        fault_point("run closed, outputs not yet published")
        if progress:
            progress("输出", 0, 1)
        outputs += timed("publish", publish_owed, store, config, settings, wait, ex.spread)
    return RunSummary(run_id, decisions, outputs, p.deferred, timings)


def run_batch(
    settings: Settings,
    config: Config | None = None,
    wait: float = 600,
    progress: Progress | None = None,
    republish: bool = False,
    on_commit: Callable[[list[Decision]], None] | None = None,
    publish: bool = True,
) -> RunSummary:
    """The whole run in this process, without Prefect."""
    return run(settings, config, Executor(), wait, progress, republish, on_commit, publish)
