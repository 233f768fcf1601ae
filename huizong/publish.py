"""Everything a run leaves in `outputs/`: the contract files and the consolidated workbooks.

Every file is written to a temporary name beside its target and renamed into place, so a
reader never sees half a file. CSVs are UTF-8 with a BOM so that Excel shows the Chinese.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from huizong import store as st
from huizong.catalog import Config, Division
from huizong.rollup import Total, rollup
from huizong.settings import Settings

SUBMISSION_COLUMNS = ["file", "sha256", "received_at", "county_code", "period", "status", "errors", "warnings",
                      "reason", "stored_as"]  # fmt: skip
TOTAL_COLUMNS = ["indicator_code", "name", "unit", "value", "target", "last_year", "yoy_pct", "completion_pct",
                 "n_reported", "n_expected", "missing"]  # fmt: skip
ISSUE_COLUMNS = ["file", "county_code", "period", "sheet", "cell", "indicator_code", "code", "severity", "message",
                 "value"]  # fmt: skip
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: object) -> object:
    """County text that Excel would run as a formula is written as plain text."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        try:
            float(value)
            return value  # a plain negative number such as "-3"
        except ValueError:
            return "'" + value
    return value


def fmt(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(safe_text(value))


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()  # outputs are read by colleagues on a shared folder: not mkstemp's 0600


def write_atomic(path: Path, write: Callable[[Path], object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".huizong.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for row in rows:
        w.writerow([fmt(v) for v in row])
    data = buf.getvalue().encode("utf-8-sig")
    return write_atomic(path, lambda tmp: tmp.write_bytes(data))


@dataclass
class CountyStatus:
    county: Division
    status: str  # accepted | rejected | missing
    submission: dict[str, Any] | None
    history: list[dict[str, Any]]  # every submission of the county for the period


STATUS_ZH = {"accepted": "已报送", "rejected": "退回待改", "missing": "未报送", "superseded": "已更正替代",
             "duplicate": "重复报送", "ignored": "已忽略"}  # fmt: skip


@dataclass
class CityPeriod:
    """What the outputs of one city and period are made of."""

    city: Division
    period: str
    counties: list[Division]
    totals: list[Total]
    facts: list[dict[str, Any]]
    statuses: list[CountyStatus]
    issues: list[dict[str, Any]]
    projects: list[dict[str, Any]]
    submissions: list[dict[str, Any]]
    reporting: Any = None  # huizong.reporting.Matrix, county × every period of the city
    revisions: list[dict[str, Any]] | None = None  # cell-by-cell changes of corrections this period

    @property
    def n_reported(self) -> int:
        return sum(s.status == "accepted" for s in self.statuses)


def gather(store: st.Store, config: Config, city_code: str, period: str,
           submissions: list[dict[str, Any]] | None = None, reporting: Any = None) -> CityPeriod:  # fmt: skip
    """Everything the outputs of one city and period show. `submissions` and `reporting` (the
    ledger's rows, the reporting matrix) are shared by all periods of a publish: pass them in."""
    city = config.divisions.get(city_code)
    if city is None:
        raise ValueError(f"unknown city code {city_code}")
    counties = config.divisions.counties_of(city_code)
    codes = [c.code for c in counties]
    every = store.submissions() if submissions is None else submissions
    subs = [s for s in every if s["period"] == period and s["county_code"] in codes]
    facts = store.accepted_facts(codes, period)
    statuses = []
    for c in counties:
        mine = [s for s in subs if s["county_code"] == c.code]
        current = [s for s in mine if s["status"] == st.ACCEPTED]
        if current:
            statuses.append(CountyStatus(c, "accepted", current[-1], mine))
        elif any(s["status"] == st.REJECTED for s in mine):
            last = [s for s in mine if s["status"] == st.REJECTED][-1]
            statuses.append(CountyStatus(c, "rejected", last, mine))
        else:
            statuses.append(CountyStatus(c, "missing", None, mine))
    with_issues = [s for s in subs if s["status"] in (st.ACCEPTED, st.REJECTED, st.SUPERSEDED)]
    by_id = {s["id"]: s for s in with_issues}
    issues = [{**i, "submission": by_id[i["submission_id"]]} for i in store.issues_for(by_id)]
    accepted_ids = [s.submission["id"] for s in statuses if s.status == "accepted" and s.submission]
    projects = store.projects_for(accepted_ids)
    from huizong.reporting import matrix

    revisions = store.revisions_for([s["id"] for s in subs])
    return CityPeriod(city, period, counties, rollup(config, city_code, facts), facts, statuses, issues,
                      projects, subs, reporting or matrix(store, config, city_code, submissions=every),
                      revisions)  # fmt: skip


def publish(store: st.Store, config: Config, settings: Settings, periods: Iterable[str] | None = None) -> list[Path]:
    """Write submissions.csv and, per period of the city, the workbook and its two CSVs.

    `periods`: only these (the ones a run touched) besides any whose outputs are missing;
    None: every period the ledger knows."""
    from huizong.report import write_index, write_report
    from huizong.reporting import matrix
    from huizong.workbook import write_consolidated

    out = settings.outputs
    subs = store.submissions()  # read once: every period's view and the index use it
    written = [
        write_csv(out / "submissions.csv", SUBMISSION_COLUMNS, ([s[c] for c in SUBMISSION_COLUMNS] for s in subs))
    ]
    counties = [c.code for c in config.divisions.counties_of(settings.city)]
    wanted = None if periods is None else set(periods)
    all_periods = store.periods(counties)
    reporting = matrix(store, config, settings.city, submissions=subs) if all_periods else None
    for period in all_periods:
        folder = out / settings.city / period
        if wanted is not None and period not in wanted and (folder / "city_totals.csv").exists():
            continue
        view = gather(store, config, settings.city, period, subs, reporting)
        written.append(write_totals(folder / "city_totals.csv", view))
        written.append(write_issues(folder / "issues.csv", view))
        target = folder / f"汇总_{view.city.name}_{period}.xlsx"
        written.append(write_atomic(target, partial(write_consolidated, view, config)))
        written.append(write_report(view, out))
    city = config.divisions.get(settings.city)
    written.append(write_index(subs, all_periods, city.name if city else settings.city, settings.city, out))
    return written


def with_explanation(issue: dict[str, Any]) -> str:
    """The message, and the county's answer to it when it gave one (issues.csv keeps its columns)."""
    if issue.get("explanation"):
        return f"{issue['message']}（已说明：{issue['explanation']}）"
    return str(issue["message"])


def write_totals(path: Path, view: CityPeriod) -> Path:
    names = {c.code: c.name for c in view.counties}
    rows = (
        [t.code, t.name, t.unit, t.value, t.target, t.last_year, t.yoy_pct, t.completion_pct, t.n_reported,
         t.n_expected, ";".join(f"{c} {names[c]}" for c in t.missing)]
        for t in view.totals
    )  # fmt: skip
    return write_csv(path, TOTAL_COLUMNS, rows)


def write_issues(path: Path, view: CityPeriod) -> Path:
    rows = (
        [i["submission"]["file"], i["submission"]["county_code"], i["submission"]["period"], i["sheet"], i["cell"],
         i["indicator"], i["code"], i["severity"], with_explanation(i), i["value"]]
        for i in view.issues
    )  # fmt: skip
    return write_csv(path, ISSUE_COLUMNS, rows)
