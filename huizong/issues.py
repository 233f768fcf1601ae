"""Bad data as values: `Issue` records, collected lazily, never raised.

Every rule has a stable kebab-case code (see `huizong.codes`). An `Issue` names the file,
sheet, cell and indicator it concerns, as the county sees them in Excel.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from enum import StrEnum

from huizong.compact import compact


class Severity(StrEnum):
    ERROR = "error"  # refuses the return
    WARNING = "warning"  # accepts it with a flag


@compact
@dataclass(frozen=True, slots=True)
class Issue:
    code: str
    severity: Severity
    message: str  # Chinese, for the county and the analyst
    file: str
    sheet: str | None = None
    cell: str | None = None  # "F17", as Excel shows it
    indicator: str | None = None
    value: object = None
    explanation: str | None = None  # the county's answer to a warning, from the row's 备注
    message_en: str | None = None  # the same in English, for maintainers (`huizong validate --lang en`, --json)

    @property
    def where(self) -> str:
        """`sheet!cell` as a person reads it, or the sheet, or ''."""
        if self.sheet and self.cell:
            return f"{self.sheet}!{self.cell}"
        return self.sheet or ""

    def as_row(self) -> dict[str, object]:
        row = asdict(self)
        row["severity"] = str(self.severity)
        return row


@dataclass(frozen=True, slots=True)
class Answer:
    """A cross-form rule asked again of a return already received, because a return whose numbers
    it reads arrived later: what the earlier return now shows for that rule (`issue`, or None when
    the rule now holds)."""

    submission_id: int | None  # the earlier return in the ledger; None: it came earlier in the same batch
    form: str
    period: str
    county: str
    rule: str
    issue: Issue | None


FLAT_COLUMNS = (
    "file",
    "sheet",
    "cell",
    "indicator",
    "code",
    "severity",
    "message",
    "value",
    "explanation",
    "message_en",
)


@dataclass(slots=True)
class Report:
    """All issues of one file, with `valid` and `flatten()` in the frictionless manner."""

    file: str
    issues: list[Issue] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity is Severity.WARNING]

    @property
    def valid(self) -> bool:
        return not self.errors

    def flatten(self, columns: Iterable[str] = FLAT_COLUMNS) -> list[list[object]]:
        cols = list(columns)
        return [[i.as_row()[c] for c in cols] for i in self.issues]


def explain(issues: Iterable[Issue], notes: dict[str, str]) -> list[Issue]:
    """Mark warnings the county answered in the 备注 of the indicator's row. Errors stay as they are."""
    from dataclasses import replace

    out = []
    for i in issues:
        note = notes.get(i.indicator or "")
        if note and i.severity is Severity.WARNING and not i.explanation:
            i = replace(i, explanation=note)
        out.append(i)
    return out


def sort_issues(issues: Iterable[Issue]) -> list[Issue]:
    """Errors first, then by sheet and cell in reading order (row, then column)."""
    from huizong.read.cells import cell_sort_key

    return sorted(
        issues,
        key=lambda i: (
            i.file,
            i.severity is not Severity.ERROR,
            i.sheet or "",
            cell_sort_key(i.cell),
            i.code,
        ),
    )
