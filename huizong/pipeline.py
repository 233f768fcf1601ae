"""One run, step by step: discover -> plan -> read -> validate -> decide -> commit -> publish.

Each step is a plain function so that the Prefect flow (flows/) can wrap and map them,
and `run_batch` chains them for tests and for runs without Prefect.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from huizong import store as st
from huizong.catalog import Config
from huizong.issues import Issue, Severity, explain, sort_issues
from huizong.model import Return
from huizong.read import read_return
from huizong.settings import Settings
from huizong.sniff import is_lock_file

TZ = ZoneInfo("Asia/Shanghai")
SYSTEM_FILES = {".gitkeep", ".ds_store", "thumbs.db", "desktop.ini"}


def now() -> str:
    return dt.datetime.now(TZ).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class Inbound:
    path: Path
    rel: str  # path relative to the inbox, "/"-separated: the file's name in every report
    sha256: str
    size: int


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


@dataclass
class Plan:
    to_read: list[Inbound] = field(default_factory=list)
    ignored: list[Inbound] = field(default_factory=list)
    duplicates: list[tuple[Inbound, dict[str, object] | None]] = field(default_factory=list)  # (file, earlier row)
    recover: list[tuple[Inbound, dict[str, object]]] = field(default_factory=list)  # moves to finish


def plan(inbound: list[Inbound], store: st.Store, settings: Settings) -> Plan:
    """Sort the batch: lock files to ignore, bytes seen before, interrupted moves, files to read."""
    out = Plan()
    seen_in_batch: set[str] = set()
    for f in inbound:
        earlier = [r for r in store.by_sha(f.sha256) if r["status"] != st.IGNORED]
        if is_lock_file(f.path):
            if not any(r["inbox_path"] == f.rel for r in store.by_sha(f.sha256)):
                out.ignored.append(f)
            continue
        unfinished = [
            r for r in earlier if r["inbox_path"] == f.rel and not (settings.store / str(r["stored_as"])).exists()
        ]
        if unfinished:
            out.recover.append((f, unfinished[0]))
        elif earlier or f.sha256 in seen_in_batch:
            out.duplicates.append((f, earlier[0] if earlier else None))
        else:
            out.to_read.append(f)
        seen_in_batch.add(f.sha256)
    return out


def docs_dir(settings: Settings) -> Path:
    return settings.outputs / "validation" / "gx"


def read_files(files: Iterable[Inbound], config: Config, city: str) -> list[Return]:
    return [read_return(f.path, config, city, display_name=f.rel) for f in files]


def validate(returns: list[Return], config: Config, city: str, store: st.Store | None = None,
             docs_dir: Path | None = None) -> dict[str, list[Issue]]:  # fmt: skip
    """All issues of the batch by file; `store` lets the rules compare with what it holds;
    `docs_dir` receives the GX Data Docs of the suite runs."""
    from huizong.history import history_for
    from huizong.validate import validator_for

    by_file, _ = validator_for(config, city, docs_dir).run(returns, history_for(store, config, city))
    return {r.file: sort_issues(explain(by_file.get(r.file, []), r.notes)) for r in returns}


@dataclass
class Decision:
    inbound: Inbound
    status: str
    ret: Return | None = None
    issues: list[Issue] = field(default_factory=list)
    reason: str = ""
    duplicate_of: int | None = None
    submission_id: int | None = None  # set when committed
    stored_as: str | None = None  # where the original now lies, relative to the store

    @property
    def errors(self) -> int:
        return sum(i.severity is Severity.ERROR for i in self.issues)

    @property
    def warnings(self) -> int:
        return sum(i.severity is Severity.WARNING for i in self.issues)


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


FOLDER = {st.ACCEPTED: "archive", st.REJECTED: "rejected", st.DUPLICATE: "duplicates"}


def storage_path(settings: Settings, status: str, f: Inbound) -> str:
    """Where the original goes, relative to the store: never an existing file."""
    base = Path(FOLDER[status]) / f.sha256[:16]
    name = Path(f.rel).name
    candidate = base / name
    n = 2
    while (settings.store / candidate).exists():
        candidate = base / f"{Path(name).stem} ({n}){Path(name).suffix}"
        n += 1
    return candidate.as_posix()


def _move(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        raise FileExistsError(dest)  # never overwrite a kept original
    shutil.move(str(src), str(dest))


def commit(decisions: list[Decision], store: st.Store, settings: Settings, run_id: int,
           on_each: Callable[[Decision], None] | None = None) -> None:  # fmt: skip
    """Record each decision in one transaction, then move its file out of the inbox.

    A crash between the two leaves a ledger row whose `stored_as` does not exist yet; the next
    run finishes the move (see `plan`) instead of counting the file again."""
    by_id: dict[int, Decision] = {}
    for d in decisions:
        f = d.inbound
        stored_as = None if d.status == st.IGNORED else storage_path(settings, d.status, f)
        ret = d.ret
        with store.begin() as conn:
            row = {
                "run_id": run_id, "file": Path(f.rel).name, "inbox_path": f.rel, "sha256": f.sha256,
                "size": f.size, "received_at": now(), "format": ret.format if ret else None,
                "county_code": ret.county_code if ret else None,
                "period": ret.period.token if ret and ret.period else None,
                "status": d.status, "errors": d.errors, "warnings": d.warnings, "reason": d.reason,
                "stored_as": stored_as, "duplicate_of": d.duplicate_of, "sheet": ret.sheet if ret else None,
            }  # fmt: skip
            if ret:
                for key in ("office", "filled_by", "phone", "fill_date"):
                    located = ret.header.get(key)
                    row[key] = str(located.value) if located else None
            if d.status == st.DUPLICATE and d.duplicate_of is None:
                earlier = [r for r in store.by_sha(f.sha256) if r["status"] != st.IGNORED]
                d.duplicate_of = int(earlier[0]["id"]) if earlier else None
                row["duplicate_of"] = d.duplicate_of
            if d.status == st.DUPLICATE:
                row["reason"] = d.reason = f"与第 {d.duplicate_of} 号报送内容完全相同（sha256 一致）"
                first = store_row(conn, d.duplicate_of)
                if first:
                    row["county_code"], row["period"] = first["county_code"], first["period"]
            sid = store.insert(conn, st.submissions, row)
            by_id[sid] = d
            d.submission_id, d.stored_as = sid, stored_as
            if d.status == st.ACCEPTED and ret is not None and ret.period is not None and ret.county_code:
                for old_id, reason in supersede(conn, store, ret.county_code, ret.period.token, sid, f.rel):
                    if old_id in by_id:  # superseded within this batch: report its final status
                        by_id[old_id].status, by_id[old_id].reason = st.SUPERSEDED, reason
                insert_return(conn, store, sid, ret)
            if ret is not None or d.issues:
                store.insert_many(conn, st.issues, [_issue_row(sid, i) for i in d.issues])
        if stored_as is not None:
            _move(f.path, settings.store / stored_as)
        if on_each:
            on_each(d)


def store_row(conn, sid: int | None) -> dict[str, object] | None:
    if sid is None:
        return None
    r = conn.execute(st.sa.select(st.submissions).where(st.submissions.c.id == sid)).first()
    return dict(r._mapping) if r else None


def supersede(conn, store: st.Store, county: str, period: str, new_id: int, new_file: str) -> list[tuple[int, str]]:
    """Mark the county's current accepted return for the period superseded by `new_id`."""
    done = []
    q = st.sa.select(st.submissions.c.id).where(
        st.submissions.c.county_code == county, st.submissions.c.period == period,
        st.submissions.c.status == st.ACCEPTED, st.submissions.c.id != new_id,
    )  # fmt: skip
    for (old_id,) in conn.execute(q).all():
        reason = f"已被第 {new_id} 号报送（{new_file}）更正替代"
        store.update_submission(conn, old_id, status=st.SUPERSEDED, superseded_by=new_id, reason=reason)
        done.append((old_id, reason))
    return done


def insert_return(conn, store: st.Store, sid: int, ret: Return) -> None:
    assert ret.county_code and ret.period
    store.insert_many(conn, st.facts, [
        {"submission_id": sid, "county_code": ret.county_code, "period": ret.period.token, "indicator": f.indicator,
         "column": f.column, "number": f.number, "status": f.status, "raw": f.raw, "unit_written": f.unit_written,
         "flags": f.flags, "sheet": f.sheet, "cell": f.cell, "note": f.note}
        for f in ret.facts
    ])  # fmt: skip
    store.insert_many(conn, st.projects, [
        {"submission_id": sid, "sheet": p.sheet, "row": p.row + 1, "name": p.name, "org": p.org, "uscc": p.uscc,
         "category": p.category, "status": p.status, "funds": p.funds, "funds_raw": p.funds_raw, "note": p.note}
        for p in ret.projects
    ])  # fmt: skip


def _issue_row(sid: int, i: Issue) -> dict[str, object]:
    return {
        "submission_id": sid, "code": i.code, "severity": str(i.severity), "message": i.message,
        "sheet": i.sheet, "cell": i.cell, "indicator": i.indicator,
        "value": None if i.value is None else str(i.value), "explanation": i.explanation,
    }  # fmt: skip


def write_feedbacks(decisions: list[Decision], settings: Settings, config: Config) -> list[Path]:
    """A feedback workbook for every return of the run that has issues."""
    from huizong.feedback import feedback_path, write_feedback

    written = []
    for d in decisions:
        if not d.issues or d.stored_as is None:
            continue
        ret = d.ret
        div = config.divisions.get(ret.county_code) if ret else None
        who = " ".join(x for x in ((div.name if div else ret.county_code if ret else None),
                                   (ret.period.zh if ret and ret.period else None)) if x)  # fmt: skip
        target = feedback_path(settings.outputs, d.inbound.rel)
        original = settings.store / d.stored_as
        written.append(write_feedback(original, ret.format if ret else None, d.inbound.rel, who, d.issues, target))
    return written


def finish_moves(p: Plan, settings: Settings) -> None:
    """Complete the moves a killed run recorded but did not make."""
    for f, row in p.recover:
        _move(f.path, settings.store / str(row["stored_as"]))


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


def start_run(store: st.Store, settings: Settings, n_files: int) -> int:
    with store.begin() as conn:
        return store.insert(conn, st.runs, {"started_at": now(), "inputs": str(settings.inputs), "n_files": n_files})


def end_run(store: st.Store, run_id: int, decisions: list[Decision]) -> None:
    counts: dict[str, int] = {}
    for d in decisions:
        counts[d.status] = counts.get(d.status, 0) + 1
    with store.begin() as conn:
        conn.execute(st.sa.update(st.runs).where(st.runs.c.id == run_id)
                     .values(finished_at=now(), summary=json.dumps(counts, ensure_ascii=False)))  # fmt: skip


def run_batch(settings: Settings, config: Config | None = None) -> RunSummary:
    """The whole run in this process, without Prefect."""
    from huizong.publish import publish

    config = config or Config.load(settings.config)
    store = open_store(settings)
    files = [fingerprint(p, settings.inputs) for p in discover(settings.inputs)]
    p = plan(files, store, settings)
    finish_moves(p, settings)
    run_id = start_run(store, settings, len(files))
    returns = read_files(p.to_read, config, settings.city)
    issues = validate(returns, config, settings.city, store, docs_dir(settings)) if returns else {}
    decisions = decide(p, returns, issues)
    commit(decisions, store, settings, run_id)
    outputs = write_feedbacks(decisions, settings, config)  # first: the report links to them
    outputs += publish(store, config, settings, touched_periods(decisions, store))
    end_run(store, run_id, decisions)
    return RunSummary(run_id, decisions, outputs)
