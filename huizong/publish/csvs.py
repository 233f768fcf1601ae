"""The contract CSVs other tools read: submissions.csv, totals.csv, counties.csv, issues.csv."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from huizong.forms.model import Form
from huizong.numbers import exact
from huizong.publish.files import csv_cells, fmt, write_csv, write_csv_text
from huizong.publish.reporting import Matrix
from huizong.publish.view import STATUS_ZH, RegionPeriod

SUBMISSION_COLUMNS = [
    "file",
    "sha256",
    "received_at",
    "county_code",
    "period",
    "status",
    "errors",
    "warnings",
    "reason",
    "stored_as",
    "form",
]
TOTAL_COLUMNS = [
    "indicator_code",
    "name",
    "unit",
    "value",
    "target",
    "last_year",
    "yoy_pct",
    "completion_pct",
    "n_reported",
    "n_expected",
    "missing",
]
ISSUE_COLUMNS = [
    "file",
    "county_code",
    "period",
    "sheet",
    "cell",
    "indicator_code",
    "code",
    "severity",
    "message",
    "value",
]


def with_explanation(issue: dict[str, Any]) -> str:
    """The message, and the county's answer to it when it gave one (issues.csv keeps its columns)."""
    if issue.get("explanation"):
        return f"{issue['message']}（已说明：{issue['explanation']}）"
    return str(issue["message"])


def write_totals(path: Path, view: RegionPeriod) -> Path:
    names = {c.code: c.name for c in view.counties}
    rows = (
        [
            t.code,
            t.name,
            t.unit,
            t.value,
            t.target,
            t.last_year,
            t.yoy_pct,
            t.completion_pct,
            t.n_reported,
            t.n_expected,
            ";".join(f"{c} {names[c]}" for c in t.missing),
        ]
        for t in view.totals
    )
    return write_csv(path, TOTAL_COLUMNS, rows)


COUNTY_COLUMNS = ["county_code", "county", "status", "indicator_code", "name", "unit", "value", "target", "last_year"]


def write_counties(path: Path, view: RegionPeriod, indicators: Iterable[Any]) -> Path:
    """Each county's numbers (its current accepted return's, or its months summed), one row per
    county and indicator, every county of the region listed with its status (未报送 without numbers)."""
    # every cell written out once (`fmt`, `csv_cells`) and each line joined from them: the nation
    # has 100,000 lines, and the csv module's work per cell was most of this file's time
    numbers: dict[tuple[str, str, str], str] = {}
    for f in view.facts:
        n = f.get("number")
        if n is not None:
            numbers[f["county_code"], f["indicator"], f["column"]] = (
                exact(n) if type(n) is float else csv_cells([fmt(n)])
            )
    status = {s.county.code: s.status for s in view.statuses}
    counties = [
        (
            c.code,
            csv_cells(
                [fmt(c.code), fmt(c.name), fmt(STATUS_ZH.get(status.get(c.code, "missing"), status.get(c.code, "")))]
            ),
        )
        for c in view.counties
    ]
    catalog = [(i.code, csv_cells([fmt(i.code), fmt(i.name), fmt(i.unit)])) for i in indicators]
    get = numbers.get
    lines = [
        f"{county},{indicator},{get((c, i, 'value'), '')},{get((c, i, 'target'), '')},{get((c, i, 'last_year'), '')}\n"
        for c, county in counties
        for i, indicator in catalog
    ]
    return write_csv_text(path, csv_cells(COUNTY_COLUMNS) + "\n" + "".join(lines))


def write_issues(path: Path, view: RegionPeriod) -> Path:
    rows = (
        [
            i["submission"]["file"],
            i["submission"]["county_code"],
            i["submission"]["period"],
            i["sheet"],
            i["cell"],
            i["indicator"],
            i["code"],
            i["severity"],
            with_explanation(i),
            i["value"],
        ]
        for i in view.issues
    )
    return write_csv(path, ISSUE_COLUMNS, rows)


def write_records(path: Path, view: RegionPeriod, form: Form) -> Path:
    """A list form's records of the accepted returns: county, file, sheet and row, then every field."""
    assert form.list is not None
    fields = [f for f in form.list.fields if f.type != "seq"]
    files = {s["id"]: s for s in view.submissions}
    rows = (
        [
            r["county_code"],
            r["period"],
            files.get(r["submission_id"], {}).get("file"),
            r["sheet"],
            r["row"],
            *(r["data"].get(f.code) for f in fields),
        ]
        for r in view.records or []
    )
    return write_csv(path, ["county_code", "period", "file", "sheet", "row", *(f.code for f in fields)], rows)


def write_submissions(path: Path, rows: Iterable[Sequence[object]]) -> Path:
    """`rows`: every ledger row's SUBMISSION_COLUMNS, in arrival order (Store.submission_rows)."""
    return write_csv(path, SUBMISSION_COLUMNS, rows)


REPORTING_COLUMNS = ["county_code", "county", "period", "due", "status", "status_zh", "received_at"]


def write_reporting_csv(path: Path, m: Matrix) -> Path:
    rows = (
        [
            c.code,
            c.name,
            p,
            m.due(p).date().isoformat(),
            m.cells[(c.code, p)].status,
            m.cells[(c.code, p)].zh,
            m.cells[(c.code, p)].received_at,
        ]
        for c in m.counties
        for p in m.periods
    )
    return write_csv(path, REPORTING_COLUMNS, rows)
