"""One run, step by step: discover -> recover -> plan -> read -> validate -> decide -> commit -> publish.

Each step is a plain function so that the Prefect flow (flows/) can wrap and map them,
and `run_batch` chains them for runs without Prefect. One run at a time (`runlock`); a run
killed at any point is finished by the next (`ledger.recover`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from huizong import store as st
from huizong.batch import Decision, Inbound, Plan, fault_point, now
from huizong.catalog import Config
from huizong.issues import Issue, Severity, explain, sort_issues
from huizong.ledger import close_interrupted, commit, recover
from huizong.model import Return
from huizong.periods import parse_token
from huizong.read import read_return
from huizong.settings import Settings
from huizong.sniff import is_lock_file

SYSTEM_FILES = {".gitkeep", ".ds_store", "thumbs.db", "desktop.ini"}

__all__ = ["Decision", "Inbound", "Plan", "commit", "now"]


def discover(inputs: Path) -> list[Path]:
    """Every file under the inbox, oldest first (then by name); system files skipped."""
    if not inputs.is_dir():
        return []
    found = []
    for p in inputs.rglob("*"):
        rel_parts = p.relative_to(inputs).parts
        if any(part.startswith(".") and not part.startswith(".~") for part in rel_parts[:-1]):
            continue
        if p.is_file() and p.name.lower() not in SYSTEM_FILES:
            found.append(p)
    return sorted(found, key=lambda p: (p.stat().st_mtime_ns, p.as_posix()))


def fingerprint(path: Path, inputs: Path) -> Inbound:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return Inbound(path, path.relative_to(inputs).as_posix(), h.hexdigest(), path.stat().st_size)


def plan(inbound: list[Inbound], store: st.Store, settings: Settings) -> Plan:
    """Sort the batch: lock files to ignore, bytes seen before, files to read."""
    out = Plan()
    seen_in_batch: set[str] = set()
    for f in inbound:
        earlier = [r for r in store.by_sha(f.sha256) if r["status"] != st.IGNORED]
        if is_lock_file(f.path):
            if not any(r["inbox_path"] == f.rel for r in store.by_sha(f.sha256)):
                out.ignored.append(f)
            continue
        if earlier or f.sha256 in seen_in_batch:
            out.duplicates.append((f, earlier[0] if earlier else None))
        else:
            out.to_read.append(f)
        seen_in_batch.add(f.sha256)
    return out


def docs_dir(settings: Settings) -> Path:
    return settings.outputs / "validation" / "gx"


Progress = Callable[[str, int, int], None]  # (step, done, total)


def read_files(files: Iterable[Inbound], config: Config, city: str, progress: Progress | None = None) -> list[Return]:
    todo = list(files)
    out = []
    for n, f in enumerate(todo, start=1):
        out.append(read_return(f.path, config, city, display_name=f.rel))
        fault_point("file read")
        if progress:
            progress("读取", n, len(todo))
    return out


def validate(returns: list[Return], config: Config, city: str, store: st.Store | None = None,
             docs_dir: Path | None = None) -> dict[str, list[Issue]]:  # fmt: skip
    """All issues of the batch by file; `store` lets the rules compare with what it holds;
    `docs_dir` receives the GX Data Docs of the suite runs."""
    from huizong.history import history_for
    from huizong.validate import validator_for

    by_file, _ = validator_for(config, city, docs_dir).run(returns, history_for(store, config, city))
    return {r.file: sort_issues(explain(by_file.get(r.file, []), r.notes)) for r in returns}


def _first_error(issues: list[Issue]) -> str:
    for i in issues:
        if i.severity is Severity.ERROR:
            return f"{i.where} {i.message}".strip()
    return ""


def decide(p: Plan, returns: list[Return], issues: dict[str, list[Issue]]) -> list[Decision]:
    """accepted | rejected | duplicate | ignored, in the order the files arrived.

    Superseding is settled at commit time, against what the ledger holds then."""
    decisions = [Decision(f, st.IGNORED, reason="Excel/WPS 临时锁定文件，已忽略并保留原处") for f in p.ignored]
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
    order = {
        f.rel: n for n, f in enumerate(sorted([*p.ignored, *p.to_read, *(d for d, _ in p.duplicates)], key=_arrival))
    }
    return sorted(decisions, key=lambda d: order[d.inbound.rel])


def _arrival(f: Inbound) -> tuple[int, str]:
    try:
        return (f.path.stat().st_mtime_ns, f.rel)
    except OSError:
        return (0, f.rel)


def write_feedbacks(store: st.Store, settings: Settings, config: Config, submission_ids: Iterable[int]) -> list[Path]:
    """A feedback workbook for each of these submissions that has issues, from the ledger."""
    from huizong.feedback import feedback_path, write_feedback
    from huizong.sniff import sniff

    wanted = set(submission_ids)
    rows = [s for s in store.submissions() if s["id"] in wanted and s["stored_as"] and s["errors"] + s["warnings"]]
    issues_by: dict[int, list[Issue]] = {}
    for i in store.issues_for([s["id"] for s in rows]):
        issues_by.setdefault(i["submission_id"], []).append(Issue(
            code=i["code"], severity=Severity(i["severity"]), message=i["message"], file=i["submission_id"],
            sheet=i["sheet"], cell=i["cell"], indicator=i["indicator"], value=i["value"], explanation=i["explanation"]))  # fmt: skip
    written = []
    for s in rows:
        div = config.divisions.get(s["county_code"])
        period = parse_token(s["period"]).zh if s["period"] else None
        who = " ".join(x for x in (div.name if div else s["county_code"], period) if x)
        original = settings.store / s["stored_as"]
        found = sort_issues(issues_by.get(s["id"], []))
        target = feedback_path(settings.outputs, s["inbox_path"])
        written.append(write_feedback(original, sniff(original).format, s["inbox_path"], who, found, target))
        fault_point("feedback written")
    return written


def touched_periods(decisions: list[Decision], store: st.Store) -> set[str]:
    """Periods whose outputs this run changed (a duplicate changes its period's submission list)."""
    out = {d.ret.period.token for d in decisions if d.ret is not None and d.ret.period is not None}
    dup_ids = {d.duplicate_of for d in decisions if d.duplicate_of is not None}
    out |= {str(s["period"]) for s in store.submissions() if s["id"] in dup_ids and s["period"]}
    return out


@dataclass
class RunSummary:
    run_id: int
    decisions: list[Decision]
    outputs: list[Path]

    @property
    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(st.STATUSES, 0)
        for d in self.decisions:
            out[d.status] += 1
        return out


def open_store(settings: Settings) -> st.Store:
    settings.store.mkdir(parents=True, exist_ok=True)
    return st.Store.open(settings.db_url)


def start_run(store: st.Store, settings: Settings, n_files: int) -> tuple[int, list[int]]:
    """Record the run; returns its id and the interrupted runs it must finish the work of."""
    with store.begin() as conn:
        run_id = store.insert(conn, st.runs, {"started_at": now(), "inputs": str(settings.inputs), "n_files": n_files})
    return run_id, close_interrupted(store, run_id)


def end_run(store: st.Store, run_id: int, decisions: list[Decision]) -> None:
    counts: dict[str, int] = {}
    for d in decisions:
        counts[d.status] = counts.get(d.status, 0) + 1
    fault_point("outputs written, run not yet closed")
    with store.begin() as conn:
        conn.execute(st.sa.update(st.runs).where(st.runs.c.id == run_id)
                     .values(finished_at=now(), summary=json.dumps(counts, ensure_ascii=False)))  # fmt: skip


def submissions_of_runs(store: st.Store, run_ids: Iterable[int]) -> list[int]:
    ids = set(run_ids)
    return [int(s["id"]) for s in store.submissions() if s["run_id"] in ids]


def run_batch(settings: Settings, config: Config | None = None, wait: float = 600,
              progress: Progress | None = None, republish: bool = False) -> RunSummary:  # fmt: skip
    """The whole run in this process, without Prefect; waits up to `wait` s for another run.

    `republish`: rewrite the outputs of every period, e.g. after the catalog or a suite changed."""
    from huizong.publish import publish
    from huizong.runlock import run_lock

    config = config or Config.load(settings.config)
    store = open_store(settings)
    with run_lock(store, wait=wait):
        files = recover([fingerprint(p, settings.inputs) for p in discover(settings.inputs)], store, settings)
        fault_point("files found")
        p = plan(files, store, settings)
        run_id, interrupted = start_run(store, settings, len(files))
        fault_point("run recorded")
        returns = read_files(p.to_read, config, settings.city, progress)
        if progress and returns:
            progress("校验", 0, 1)
        issues = validate(returns, config, settings.city, store, docs_dir(settings)) if returns else {}
        fault_point("validated")
        decisions = decide(p, returns, issues)
        done = iter(range(1, len(decisions) + 1))
        commit(decisions, store, settings, run_id,
               on_each=(lambda d: progress("入账", next(done), len(decisions))) if progress else None)  # fmt: skip
        if progress:
            progress("输出", 0, 1)
        ids = [d.submission_id for d in decisions if d.submission_id is not None]
        outputs = write_feedbacks(store, settings, config, ids + submissions_of_runs(store, interrupted))
        everything = republish or bool(interrupted)
        outputs += publish(store, config, settings, None if everything else touched_periods(decisions, store))
        end_run(store, run_id, decisions)
    return RunSummary(run_id, decisions, outputs)
