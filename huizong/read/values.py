"""Cell content -> number in catalog units.

Counties write numbers as text, with thousands separators, full-width digits, a unit in
the cell (`0.51亿元`, `1万人次`), approximations (`500多`) and placeholders (`*`, `—`, `无`).
`parse_cell` reads what was written; `to_catalog_units` converts it with the unit table.
Arithmetic is decimal so that 0.51 亿元 is exactly 5100 万元.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from huizong.catalog import Units, normalize_label

BLANK, OK, PLACEHOLDER, NOT_NUMERIC, UNIT_UNKNOWN = "blank", "ok", "placeholder", "not-numeric", "unit-unknown"

PLACEHOLDERS = frozenset(
    normalize_label(p)
    for p in (
        "*",
        "**",
        "***",
        "X",
        "XX",
        "XXX",
        "×",
        "××",
        "—",
        "——",
        "-",
        "--",
        "―",
        "─",
        "/",
        "//",
        "\\",
        "无",
        "暂无",
        "不详",
        "未统计",
        "N/A",
        "NA",
        "…",
        "……",
        "...",
        "空",
    )
)

_NUMBER = re.compile(
    r"^(?P<pre>约|大约|近|将近|接近|逾|超过|达|约为)?"
    r"(?P<num>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,2}(?![\d.]))?)"
    r"(?P<approx>多|余|来|\+)?"
    r"(?P<unit>[^\d]*?)"
    r"(?P<post>多|余|左右|以上|上下)?$"
)
_THOUSANDS = re.compile(r"(?<=\d)[,，](?=\d{3}(?:\D|$))")


@dataclass(frozen=True, slots=True)
class Parsed:
    """What a cell says: a number in the unit written, or why there is none."""

    status: str  # ok | blank | placeholder | not-numeric
    raw: str
    number: Decimal | None = None
    unit: str | None = None  # a unit written inside the cell, e.g. 亿元 in "0.51亿元"
    approximate: bool = False


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def parse_cell(value: object) -> Parsed:
    raw = _as_text(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        return Parsed(BLANK, raw)
    if isinstance(value, bool | dt.date | dt.time | dt.timedelta):
        return Parsed(NOT_NUMERIC, raw)
    if isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")):  # NaN or infinite
            return Parsed(NOT_NUMERIC, raw)
        return Parsed(OK, raw, Decimal(str(value)))
    text = unicodedata.normalize("NFKC", str(value))
    text = re.sub(r"\s+", "", text)
    if normalize_label(text) in PLACEHOLDERS:
        return Parsed(PLACEHOLDER, raw)
    text = _THOUSANDS.sub("", text).replace("（", "(").replace("）", ")")
    m = _NUMBER.match(text)
    if not m:
        return Parsed(NOT_NUMERIC, raw)
    try:
        number = Decimal(m["num"])
    except InvalidOperation:
        return Parsed(NOT_NUMERIC, raw)
    unit = m["unit"] or None
    approximate = bool(m["pre"] or m["approx"] or m["post"])
    return Parsed(OK, raw, number, unit, approximate)


@dataclass(frozen=True, slots=True)
class Value:
    """A number in catalog units, with how it was got."""

    status: str  # ok | blank | placeholder | not-numeric | unit-unknown
    raw: str
    number: float | None
    unit_written: str | None
    approximate: bool = False
    converted: bool = False

    @property
    def flags(self) -> tuple[str, ...]:
        out = []
        if self.approximate:
            out.append("approximate")
        if self.converted:
            out.append("converted")
        if self.status == PLACEHOLDER:
            out.append("placeholder")
        return tuple(out)


def _unit_candidates(unit: str) -> list[str]:
    plain = unit.replace("(", "").replace(")", "")
    no_note = re.sub(r"\(.*?\)", "", unit)
    return list(dict.fromkeys(u for u in (unit, plain, no_note) if u))


def _base_of(unit: str, units: Units) -> str:
    """万元 -> 元, 万人 -> 人, 家 -> 家: the unit without its magnitude prefix."""
    u = normalize_label(unit)
    for prefix in units.prefixes:
        if u.startswith(prefix) and len(u) > len(prefix):
            return u[len(prefix) :]
    return u


def to_catalog_units(parsed: Parsed, unit_column: str | None, catalog_unit: str, units: Units) -> Value:
    """Convert a parsed cell to the catalog unit.

    The unit inside the cell wins over the row's 计量单位 column, which wins over the
    catalog's own unit. A bare magnitude written in the cell ("1万") is taken with the
    row's unit: "1万" in a 人次 row is 1万人次."""
    column = normalize_label(unit_column) or None
    if parsed.status != OK or parsed.number is None:
        return Value(parsed.status, parsed.raw, None, parsed.unit or column)
    written = parsed.unit or column or catalog_unit
    if parsed.unit and normalize_label(parsed.unit) in units.prefixes:
        written = normalize_label(parsed.unit) + _base_of(column or catalog_unit, units)
    factor = None
    for cand in _unit_candidates(written):
        factor = units.factor(cand, catalog_unit)
        if factor is not None:
            break
    if factor is None:
        return Value(UNIT_UNKNOWN, parsed.raw, None, written, parsed.approximate)
    number = float(parsed.number * factor)
    return Value(OK, parsed.raw, number, written, parsed.approximate, converted=factor != 1)
