"""What a return is once read: header fields and long records, each with its cell."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huizong.compact import compact
from huizong.issues import Answer, Issue
from huizong.read.periods import Period

COLUMNS = ("target", "value", "last_year")  # the numbers of an indicator table's row (labels: the form's)


@compact
@dataclass(frozen=True, slots=True)
class Located:
    """A header value and where it was written."""

    value: object
    sheet: str
    cell: str
    label_cell: str


@compact
@dataclass(frozen=True, slots=True)
class Fact:
    """One number of the key-indicator table: (indicator, column) of one return."""

    indicator: str
    column: str  # target | value | last_year
    status: str  # ok | blank | placeholder | not-numeric | unit-unknown
    number: float | None  # in catalog units
    raw: str  # as written
    unit_written: str | None
    approximate: bool
    converted: bool
    sheet: str
    cell: str
    note: str | None = None  # the row's 备注

    @property
    def flags(self) -> str:
        out = [f for f, on in (("approximate", self.approximate), ("converted", self.converted)) if on]
        if self.status == "placeholder":
            out.append("placeholder")
        return ",".join(out)


@compact
@dataclass(frozen=True, slots=True)
class RowRef:
    """Where an indicator's row stands: for issues that concern the row, not one cell."""

    indicator: str
    row: int  # 0-based
    name_cell: str
    value_cell: str | None
    name_written: str


@compact
@dataclass(frozen=True, slots=True)
class Record:
    """One row of a form's list (a contract, an enterprise): field -> value as the form means it
    (text, a number in the field's unit, a date as YYYY-MM-DD), as written, and what is wrong."""

    sheet: str
    row: int  # 0-based
    values: dict[str, Any]
    raw: dict[str, str]
    problems: dict[str, str]  # field -> not-numeric | not-date | choice-unknown | pattern | uscc-… | blank …
    cells: dict[str, str]  # field -> A1 address


@compact
@dataclass(slots=True)
class Return:
    file: str  # the name as dropped
    path: Path
    form: str = ""  # the form's id (forms/<id>/), "" until a form is recognised
    format: str | None = None
    sheet: str | None = None  # the key-indicator sheet as named in the file
    header: dict[str, Located] = field(default_factory=dict)
    county_code: str | None = None
    county_source: Located | None = None
    county_by_name: str | None = None  # the county the office name points at
    period: Period | None = None
    period_text: str | None = None  # as written, for messages
    period_source: Located | None = None
    facts: list[Fact] = field(default_factory=list)
    rows: dict[str, RowRef] = field(default_factory=dict)
    records: list[Record] = field(default_factory=list)  # the rows of the form's list
    list_sheet: str | None = None
    list_key: tuple[str, ...] = ()  # the fields that identify a record (合同登记号), per the form
    issues: list[Issue] = field(default_factory=list)  # found while reading
    readable: bool = True  # False: the file is not a return at all
    read_seconds: float = 0.0  # how long its worker took
    read_peak_kib: int = 0  # its worker's peak resident memory while reading it
    answers: list[Answer] = field(default_factory=list)  # cross-form rules of returns it answers (validation)

    @property
    def notes(self) -> dict[str, str]:
        """Indicator -> the 备注 the county wrote on its row."""
        return {f.indicator: f.note for f in self.facts if f.note}

    def fact(self, indicator: str, column: str = "value") -> Fact | None:
        for f in self.facts:
            if f.indicator == indicator and f.column == column:
                return f
        return None

    def number(self, indicator: str, column: str = "value") -> float | None:
        f = self.fact(indicator, column)
        return f.number if f else None
