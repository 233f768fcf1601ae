"""A list (rows are records: contracts, projects, enterprises), read by its form's definition.

The header row is the first row (of the first 60) that holds one of the list's header texts and
at least `min_fields` recognised columns; columns are matched to fields by their header text
(the field's name or an alias; brackets, their width and spaces do not matter; a unit in
brackets, `成交金额（亿元）`, converts the column). Below it every row with something in it
is a record, except subtotal rows (合计/小计) and rows that only carry a row number; notes and
the signature block end the list. Values are parsed by the field's type and kept with their
cell: what is wrong with them is for the validation to say (`problems`).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

from huizong.catalog import Units
from huizong.forms.model import ListField, ListPart, fold
from huizong.read.cells import address
from huizong.read.grid import Grid
from huizong.read.header import Labels, match_label
from huizong.read.model import Record
from huizong.read.uscc import normalize_uscc, uscc_status
from huizong.read.values import BLANK, OK, PLACEHOLDER, parse_cell, to_catalog_units

HEADER_SCAN_ROWS = 60
_UNIT = re.compile(r"[(（]\s*([^()（）]+?)\s*[)）]\s*$")
_SUBTOTAL = ("合计", "小计", "总计")
_ENDS = ("注", "填报说明", "说明：", "说明:")


def _header_match(text: str, part: ListPart, units: Units) -> tuple[ListField, str] | None:
    """(field, unit written in the header) for a header cell; None if it names no field."""
    norm = unicodedata.normalize("NFKC", text).strip()
    if not norm:
        return None
    unit = ""
    m = _UNIT.search(norm)
    candidates = [norm]
    if m:
        candidates.insert(0, norm[: m.start()])
        unit = m.group(1)
    for cand in candidates:
        f = part.matches(cand)
        if f is not None:
            if f.unit and unit and units.factor(unit, f.unit) is None:
                unit = ""
            return f, (unit if cand is not norm else "")
    key = fold(norm)
    best: tuple[int, ListField] | None = None
    for fh, f in part.contained:  # `=…` aliases match only exactly
        if fh in key and (best is None or len(fh) > best[0]):
            best = (len(fh), f)
    if best is None:
        return None
    if not (best[1].unit and unit and units.factor(unit, best[1].unit) is not None):
        unit = ""
    return best[1], unit


def find_list_header(grid: Grid, part: ListPart, units: Units) -> tuple[int, dict[str, int], dict[str, str]] | None:
    """(header row, field -> column, field -> unit written in its header) of the list, if the sheet has it."""
    cues = [fold(h) for h in part.header]
    for r in range(min(grid.height, HEADER_SCAN_ROWS)):
        texts = grid.row_texts(r)
        joined = "\x00".join(fold(t) for t in texts if t)  # no cue holds a NUL: none spans two cells
        if not joined or not any(cue in joined for cue in cues):
            continue
        columns: dict[str, int] = {}
        written: dict[str, str] = {}
        for c, t in enumerate(texts):
            found = _header_match(t, part, units) if t else None
            if found and found[0].code not in columns:
                columns[found[0].code] = c
                written[found[0].code] = found[1]
        if len(columns) >= part.min_fields:
            return r, columns, written
    return None


def parse_date(value: object) -> dt.date | None:
    """An Excel date, 2024-03-02, 2024年3月2日, 2024.3.2, 2024/3/2, 20240302 -> a date."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        v = float(value)
        if 20000 <= v <= 80000:  # an Excel serial day number without a date format
            return dt.date(1899, 12, 30) + dt.timedelta(days=int(v))
        value = str(int(v)) if v.is_integer() else str(v)
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(value or "")))
    m = re.fullmatch(
        r"((?:19|20)\d{2})(?:[-./年])(\d{1,2})(?:[-./月])(\d{1,2})日?(?:0:00:00|00:00:00)?", text
    ) or re.fullmatch(r"((?:19|20)\d{2})(\d{2})(\d{2})", text)
    if not m:
        return None
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()[:10]
    return unicodedata.normalize("NFKC", str(value)).strip()


def parse_value(f: ListField, value: object, header_unit: str, units: Units) -> tuple[Any, str]:
    """(the value as the form means it, its status): ok | blank | placeholder | not-numeric |
    unit-unknown | not-date | choice-unknown | pattern | uscc-invalid | uscc-check-failed."""
    text = _text(value)
    if not text:
        return None, BLANK
    if f.type in ("number", "integer"):
        v = to_catalog_units(parse_cell(value), header_unit, f.unit or header_unit, units) if f.unit else None
        if v is None:
            p = parse_cell(value)
            if p.status != OK or p.number is None:
                return None, p.status
            return float(p.number), OK
        if v.status == PLACEHOLDER:
            return None, PLACEHOLDER
        if v.status != OK:
            return None, v.status
        if f.type == "integer" and v.number is not None and not float(v.number).is_integer():
            return v.number, "not-whole"
        return v.number, OK
    if f.type == "date":
        d = parse_date(value)
        return (d.isoformat(), OK) if d else (None, "not-date")
    if f.type == "choice":
        c = f.choice_of(text)
        return (c, OK) if c else (text, "choice-unknown")
    if f.type == "uscc":
        code = normalize_uscc(text)
        well, right, _ = uscc_status(code)
        return code, OK if right else ("uscc-check-failed" if well else "uscc-invalid")
    if f.type == "id":
        text = re.sub(r"\s+", "", text).upper()
    if f.pattern and not re.fullmatch(f.pattern, text):
        return text, "pattern"
    if f.type == "text":  # kept as written (full-width brackets of a name stay): matched and checked folded
        return (value.strip() if isinstance(value, str) else text), OK
    return text, OK


def read_records(grid: Grid, part: ListPart, units: Units, labels: Labels) -> list[Record] | None:
    """Every record of the list on this sheet; None if the sheet has no such list."""
    found = find_list_header(grid, part, units)
    if found is None:
        return None
    header_row, columns, written = found
    fields = part.by_code
    out: list[Record] = []
    for r in range(header_row + 1, grid.height):
        texts = {code: grid.text(r, c) for code, c in columns.items()}
        filled = [code for code, t in texts.items() if t and fields[code].type != "seq"]
        row_text = [grid.text(r, c) for c in range(len(grid.rows[r])) if grid.text(r, c)]
        if not row_text:
            continue
        first = row_text[0]
        if first.startswith(_ENDS) or match_label(first, labels):
            break
        if any(fold(t).startswith(_SUBTOTAL) for t in row_text[:3]):
            continue
        if not filled:
            continue  # only a row number: a template's empty row
        values: dict[str, Any] = {}
        raw: dict[str, str] = {}
        problems: dict[str, str] = {}
        for code, c in columns.items():
            if fields[code].type == "seq":
                continue
            value = grid.get(r, c)
            parsed, status = parse_value(fields[code], value, written.get(code, ""), units)
            values[code] = parsed
            raw[code] = _text(value)
            if status != OK:
                problems[code] = status
        out.append(Record(grid.name, r, values, raw, problems, {code: address(r, c) for code, c in columns.items()}))
    return out
