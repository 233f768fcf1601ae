"""A form as data: what one return a bureau collects looks like, how it is read, checked and summed.

A definition lives in one folder, `expectations/forms/<form id>/` (see `docs/forms.md`):
`form.toml` (metadata, period kind, deadlines, layout cues), and the CSV files it names: the
list's fields, the measures summed from the list, the rules. `huizong.forms.load` reads and
checks it; the rest of huizong reads only these objects.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from huizong.forms.expr import Expr
from huizong.read.periods import GRAINS, KIND_ZH, KINDS, Period

FIELD_TYPES = ("seq", "text", "id", "number", "integer", "date", "choice", "uscc")  # seq: a row number, ignored
# year: 全年; half: 上半年, 下半年; quarter: 第一…第四季度; month: 1…12月; cumulative: from 1 January, 一季度,
# 上半年, 前三季度, 全年 (each a return of its own)
FREQUENCIES = tuple(GRAINS)
SEVERITIES = ("error", "warning")
SCOPES = ("row", "return")
# the roles of an indicator table's columns; `ignore` marks columns to skip (growth rates, rankings)
COLUMN_ROLES = ("seq", "code", "name", "unit", "target", "value", "last_year", "note", "ignore")
VOCABULARY = Path(__file__).with_name("vocabulary.toml")
"""The usual headings, units and row words of a return, none of them any one form's (data, not code):
the default column labels, and the words `forms new` guesses a blank form with."""


class VocabularyError(ValueError):
    "vocabulary.toml is unreadable or not of its shape; the message is one line naming the key"


_WORDS = "words"  # a list of texts
_SHAPE: dict[str, dict[str, object]] = {
    "units": {"count": _WORDS, "other": _WORDS},
    "table": {"signs": _WORDS, "sign_cells": _WORDS, "subtotals": _WORDS, "labels": "labels", "columns": "columns"},
    "list": {
        **dict.fromkeys(("ends", "seq", "id_words", "number_words", "not_counts", "ratio_words", "name_like"), _WORDS),
        "codes": "codes",
        "count_names": "count_names",
        "records": "pair",
        "aliases": "aliases",
    },
}
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def _texts(v: object) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _fits(kind: object, v: object) -> bool:
    if kind == _WORDS:
        return _texts(v)
    if kind == "pair":
        return _texts(v) and len(v) == 2  # type: ignore[arg-type]
    if kind == "labels":
        return isinstance(v, dict) and set(v) == set(COLUMN_ROLES) - {"ignore"} and _texts(list(v.values()))
    if kind == "columns":  # every role has its cues (`forms new` names each column by its label)
        return (
            isinstance(v, list)
            and {c.get("role") for c in v if isinstance(c, dict) and isinstance(c.get("role"), str)}
            == set(COLUMN_ROLES)
            and all(
                isinstance(c, dict)
                and c.get("role") in COLUMN_ROLES
                and isinstance(c.get("label", ""), str)
                and _texts(c.get("equals", []))
                and _texts(c.get("contains", []))
                for c in v
            )
        )
    if kind == "codes":
        return isinstance(v, list) and all(_texts(p) and len(p) == 2 and _IDENTIFIER.match(p[1]) for p in v)
    if kind == "count_names":
        return isinstance(v, list) and all(
            isinstance(p, list) and len(p) == 3 and _texts(p[0]) and _texts(p[1:]) for p in v
        )
    if kind == "aliases":
        return isinstance(v, dict) and all(_texts(a) for a in v.values())
    return False


@lru_cache(maxsize=1)
def vocabulary() -> dict[str, Any]:
    """vocabulary.toml, read once and checked against its shape (`VocabularyError`)."""
    try:
        with VOCABULARY.open("rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise VocabularyError(f"{VOCABULARY}: {e}") from e
    for part, keys in _SHAPE.items():
        for key, kind in keys.items():
            if not _fits(kind, data.get(part, {}).get(key)):
                raise VocabularyError(f"{VOCABULARY}: [{part}] {key} 缺少或写法不对（见文件中的说明）")
    return data


def default_labels() -> dict[str, str]:
    """The words for a role's column where a form's definition gives none (`Form.role_labels`)."""
    return dict(vocabulary()["table"]["labels"])


_FOLD_NOISE = re.compile(r"[\s:：()\[\]【】]+")
CACHED_TEXT = 80  # characters: labels and choices repeat in every file a worker reads; longer text is prose


def fold(text: object) -> str:
    """Fold a label or a choice for matching: NFKC, no spaces, colons or brackets, upper case."""
    t = str(text or "")
    return _fold_cached(t) if len(t) <= CACHED_TEXT else _fold(t)


def _fold(t: str) -> str:
    return _FOLD_NOISE.sub("", unicodedata.normalize("NFKC", t)).upper()


_fold_cached = lru_cache(maxsize=16384)(_fold)


@dataclass(frozen=True)
class ListField:
    """One column of a list (a contract's 合同登记号, 成交金额, …)."""

    code: str
    name: str
    aliases: tuple[str, ...] = ()  # other header spellings
    type: str = "text"  # one of FIELD_TYPES
    unit: str = ""  # numbers: the unit values are kept in (a unit in the header or the cell converts)
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    choice_aliases: dict[str, str] = field(default_factory=dict)  # folded spelling -> choice
    pattern: str | None = None  # a regular expression the whole value must match
    severity: str = "error"  # of a value that breaks the field's type, list, bounds or pattern
    explanation: str = ""

    @property
    def headers(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    def choice_of(self, text: str) -> str | None:
        """The choice a county's spelling means (brackets, their width and spaces do not matter)."""
        key = fold(text)
        for c in self.choices:
            if fold(c) == key:
                return c
        return self.choice_aliases.get(key)


@dataclass(frozen=True)
class ListPart:
    """A list: rows are records (contracts, projects, enterprises), columns are fields."""

    fields: tuple[ListField, ...]
    header: tuple[str, ...]  # header texts that mark the list's header row
    key: tuple[str, ...] = ()  # the fields that together identify a record (indexed in the ledger)
    min_fields: int = 3  # recognised columns a header row needs
    title: str = "明细"
    sheet_names: tuple[str, ...] = ()  # a sheet whose name holds one of these is tried first (else the form's)

    def matches(self, header: str) -> ListField | None:
        """The field a header cell names exactly (its name or an alias; an alias written `=项目`
        matches only a header that is exactly it, never one that contains it)."""
        return self._exact.get(fold(header))

    @cached_property
    def _exact(self) -> dict[str, ListField]:
        """Each field's folded name and aliases -> the field (the first field naming it)."""
        out: dict[str, ListField] = {}
        for f in self.fields:
            for h in f.headers:
                out.setdefault(fold(h.removeprefix("=")), f)
        return out

    @cached_property
    def contained(self) -> tuple[tuple[str, ListField], ...]:
        """(folded header, field) of the names and aliases a header cell may hold among other words
        (not those written `=…`, nor single characters), in the fields' order."""
        return tuple(
            (fh, f) for f in self.fields for h in f.headers if not h.startswith("=") and len(fh := fold(h)) >= 2
        )

    @property
    def by_code(self) -> dict[str, ListField]:
        return {f.code: f for f in self.fields}


def key_text(values: Mapping[str, object], fields: Sequence[str]) -> str | None:
    """The text a record's key (one field or several) is compared and indexed by: the values as
    written, joined with " | "; None if any of them is missing."""
    parts = []
    for f in fields:
        v = values.get(f)
        if v is None or v == "" or (isinstance(v, float) and v != v):
            return None
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        elif hasattr(v, "strftime"):
            v = v.strftime("%Y-%m-%d")
        parts.append(str(v))
    return " | ".join(parts) if parts else None


MEASURE_KINDS = ("count", "sum", "ratio")


@dataclass(frozen=True)
class Measure:
    """A number made from a list for each return, of one of MEASURE_KINDS: count() (of the records
    meeting a condition), sum(field[, condition]), or a ratio of two of those with a factor
    (100 * sum(rd) / sum(revenue)). Counts and sums add up from county to city, province and
    nation; a ratio is recomputed at every level from its two parts (measures of their own,
    `numerator` and `denominator`), never summed. With `by`, one measure per choice of a field."""

    code: str
    group: str
    name: str
    unit: str
    expr: Expr
    integer: bool = False
    key: bool = False
    by: str | None = None
    by_value: str | None = None  # set on the measures a `by` expanded into
    kind: str = "sum"  # one of MEASURE_KINDS
    numerator: str | None = None  # a ratio's parts: the codes of two count/sum measures
    denominator: str | None = None
    multiplier: Decimal | None = None  # a ratio's factor (100 for a percentage)
    part_of: str | None = None  # set on the parts a ratio made for itself


@dataclass(frozen=True)
class Rule:
    code: str
    scope: str  # row | return
    severity: str
    expr: Expr
    message: str  # Chinese; {expression} placeholders are evaluated for the failing row
    field: str | None = None  # the field (row) or indicator (return) whose cell the issue points at
    periods: tuple[str, ...] = ()  # period kinds the rule applies to (empty: all)
    message_en: str = ""
    source: str = ""  # file:row, for messages about the definition


@dataclass(frozen=True)
class Form:
    id: str
    root: Path
    name: str
    short_name: str
    table_no: str = ""
    issuer: str = ""
    frequency: str = "cumulative"  # the grain of its returns: one of FREQUENCIES
    order: int = 100
    due: dict[str, object] = field(default_factory=dict)  # kind -> "MM-DD", next_year; or {"month": (offset, day)}
    periods: tuple[str, ...] = KINDS  # the period kinds it collects (of its grain's)
    sums: tuple[str, ...] = ()  # the cumulative kinds its returns are summed into (a monthly form's 上半年…)
    sheet_names: tuple[str, ...] = ()  # a sheet whose name holds one of these is tried first
    header_labels: dict[str, tuple[str, ...]] = field(default_factory=dict)  # extra labels of the header block
    indicators: Path | None = None  # the indicator catalog of an indicator-table form
    table_header: tuple[str, ...] = ()  # texts that mark an indicator table's header row (within a short cell)
    table_header_exact: tuple[str, ...] = ()  # …or that a header cell is exactly
    # an indicator table's columns: (role, header texts it is exactly, header texts it contains), tried in order,
    # and the label of each role (the template's header, the messages' words: 本期累计)
    column_roles: tuple[tuple[str, frozenset[str], tuple[str, ...]], ...] = ()
    column_labels: dict[str, str] = field(default_factory=dict)
    list: ListPart | None = None
    measures: tuple[Measure, ...] = ()
    rules: tuple[Rule, ...] = ()
    outputs: str = "{region}/{form}/{period}"  # where a region's outputs of a period go, under outputs/
    suites: tuple[str, ...] = ()  # Great Expectations suites (paths or globs under the configuration folder)
    title: str = ""  # the consolidated workbook's title, after the region and period: 技术合同认定登记汇总表
    workbook: str = "{short_name}汇总_{region_name}_{period}.xlsx"  # its file name

    @cached_property
    def role_labels(self) -> dict[str, str]:
        """Each column role's words: the form's own (`column_labels`), else the usual ones."""
        return {**default_labels(), **self.column_labels}

    def period_dir(self, region: str, period: str) -> str:
        """The folder (under outputs/) of a region's outputs of one period."""
        return self.outputs.format(region=region, form=self.id, period=period)

    def form_dir(self, region: str) -> str:
        """The folder (under outputs/) of what concerns every period of the form: its reporting status."""
        return self.outputs.replace("/{period}", "").format(region=region, form=self.id)

    def workbook_name(self, region_name: str, period: str) -> str:
        return self.workbook.format(short_name=self.short_name, region_name=region_name, period=period)

    @property
    def monthly(self) -> bool:
        return self.frequency == "month"

    def collects(self, period: Period) -> bool:
        """A county sends a return of the form for this period."""
        return period.kind in self.periods

    def shows(self, period: Period) -> bool:
        """The form has outputs for this period: it collects it, or sums its returns into it."""
        return period.kind in self.periods or period.kind in self.sums

    def parts_of(self, period: Period) -> tuple[str, ...]:
        """The ledger periods a period of the form is made of: itself, or the collected periods
        (months, quarters, half years) a summed period adds up (2024H1: 2024M01 … 2024M06)."""
        if self.collects(period):
            return (period.token,)
        return tuple(p.token for p in self.parts_within(period))

    def parts_within(self, period: Period) -> tuple[Period, ...]:
        """The collected periods of the year whose months lie within `period`."""
        inside = set(period.months)
        return tuple(q for q in (Period(period.year, k) for k in self.periods) if set(q.months) <= inside)

    def covering(self, period: Period) -> tuple[Period, ...]:
        """The summed periods a collected period counts in (2024M03: 一季度, 上半年, 前三季度, 全年)."""
        mine = set(period.months)
        return tuple(q for q in (Period(period.year, k) for k in self.sums) if mine <= set(q.months))

    @property
    def periods_zh(self) -> str:
        """What a county writes as the period, in words: 上半年或全年，如 2024年上半年."""
        if self.frequency == "month":
            return "某一个月，如 2024年3月、2024-03 或 202403"
        if self.frequency == "quarter":
            return "某一季度，如 2024年第二季度 或 2024年4-6月"
        words = [KIND_ZH[k] for k in self.periods]
        example = {"FY": "2024年 或 2024年度", "H2": "2024年下半年", "H1": "2024年上半年"}.get(self.periods[-1], "")
        if self.frequency == "cumulative" and self.periods == KINDS:
            return "2024年一季度、上半年、前三季度或全年，或 2024年1-6月 等"
        listed = "或".join(["、".join(words[:-1]), words[-1]]) if len(words) > 1 else words[0]
        return f"{listed}，如 {example or '2024年' + words[0]}"

    @property
    def is_list(self) -> bool:
        """A form with a list and no indicator table: its indicators are its measures."""
        return self.indicators is None and self.list is not None
