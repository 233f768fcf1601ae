"""The key-indicator table: header row found by its labels, rows matched to the catalog.

Columns are found by their header text, so a table shifted down or right, with columns in
another order or a two-row header, reads the same. Blank, subtotal and group-heading rows
are skipped; a row is matched by its 指标代码 or else by its name or an alias.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace

from huizong.catalog import FormConfig, Indicator, Units, normalize_label
from huizong.codes import make_issue
from huizong.issues import Issue
from huizong.read.cells import address
from huizong.read.grid import Grid
from huizong.read.header import Labels, match_label
from huizong.read.model import COLUMNS, Fact, RowRef
from huizong.read.periods import find_period_in_text
from huizong.read.values import BLANK, parse_cell, to_catalog_units

HEADER_SCAN_ROWS = 60
Roles = tuple[tuple[str, frozenset[str], tuple[str, ...]], ...]  # (role, exact texts, contained texts), in order


def column_role(text: str, roles: Roles) -> str | None:
    """The role of a header cell (seq, code, name, unit, target, value, last_year, note), by the
    form's cues tried in their order; `ignore` (a growth rate, a ranking) and no match are None."""
    h = normalize_label(text)
    h = re.sub(r"\(.*?\)", "", unicodedata.normalize("NFKC", h))
    if not h:
        return None
    for role, exact, contained in roles:
        if h in exact or any(k in h for k in contained):
            return None if role == "ignore" else role
    return None


@dataclass(frozen=True, slots=True)
class Layout:
    header_row: int
    first_data_row: int
    columns: dict[str, int]  # role -> 0-based column


def find_layout(grid: Grid, cues: tuple[str, ...], exact: tuple[str, ...], roles: Roles) -> Layout | None:
    """The first row with a header cue of the form (指标名称 or 指标代码 in a short cell, or a
    cell that is exactly 指标), its columns, and a second header row if any."""
    folded = [normalize_label(c) for c in cues]
    whole = {normalize_label(c) for c in exact}
    for r in range(min(grid.height, HEADER_SCAN_ROWS)):
        texts = [normalize_label(t) for t in grid.row_texts(r)]
        if not any((any(c in t for c in folded) and len(t) <= 12) or t in whole for t in texts):
            continue
        columns: dict[str, int] = {}
        dated: list[tuple[int, int]] = []  # (year, column) of headers that are periods: "2024年1-6月"
        for c, t in enumerate(texts):
            role = column_role(t, roles)
            if role and role not in columns:
                columns[role] = c
            elif role is None and t:
                p = find_period_in_text(t)
                if p:
                    dated.append((p.year, c))
                elif _MONTH_RANGE.match(t) and "value" not in columns:
                    columns["value"] = c
        if dated and "value" not in columns:
            latest = max(y for y, _ in dated)
            columns["value"] = next(c for y, c in dated if y == latest)
            earlier = [c for y, c in dated if y == latest - 1]
            if earlier and "last_year" not in columns:
                columns["last_year"] = earlier[0]
        first = r + 1
        if "value" not in columns and r + 1 < grid.height:
            # a two-row header: the period spans 年度目标 / 本期累计 / 上年同期 below it
            extra = {}
            for c in range(len(grid.rows[r + 1])):
                role = column_role(grid.text(r + 1, c), roles)
                if role in COLUMNS and role not in columns and role not in extra:
                    extra[role] = c
            if extra:
                columns.update(extra)
                first = r + 2
        return Layout(r, first, columns)
    return None


_MONTH_RANGE = re.compile(r"^(?:1|01|一)(?:-|—|–|~|～|至)\d{1,2}月")
_CODE_IN_NAME = re.compile(r"^([A-Z]\d{2})[.、:]?(.*)$")
_NUMBERING = re.compile(r"^(?:\d+[.、)]|\(\d+\)|[一二三四五六七八九十]+[、.]|\([一二三四五六七八九十]+\))")
_SUBTOTAL = ("合计", "小计", "总计", "全县合计", "全区合计")


def clean_name(text: str) -> str:
    """ "（一）其中：新认定高新技术企业数（家）" -> "新认定高新技术企业数"."""
    s = normalize_label(text)
    s = _NUMBERING.sub("", s)
    s = re.sub(r"^其中", "", s)
    s = re.sub(r"[(（][^()（）]*[)）]$", "", s)
    return s


def unit_in_name(name: str, catalog_unit: str, units: Units) -> str:
    """ "技术合同成交额（亿元）" with no 计量单位: the unit is the one in the name, if it converts."""
    m = re.search(r"\(([^()]+)\)$", normalize_label(name))
    if m and units.factor(m.group(1), catalog_unit) is not None:
        return m.group(1)
    return ""


def match_indicator(config: FormConfig, code_text: str, name_text: str) -> tuple[Indicator | None, Indicator | None]:
    """(by code, by name): either may be None."""
    cat = config.catalog
    if not code_text:
        m = _CODE_IN_NAME.match(normalize_label(name_text))
        if m and m.group(1) in cat.by_code:
            code_text, name_text = m.group(1), m.group(2)
    code = normalize_label(code_text).replace("-", "")
    by_code = cat.by_code.get(code) if code else None
    by_name = None
    if name_text:
        by_name = cat.by_name.get(clean_name(name_text)) or cat.by_name.get(normalize_label(name_text))
    return by_code, by_name


SCALED = {"%": 100, "‰": 1000}  # a fraction in a cell shown as a percentage, in these catalog units


def read_table(
    grid: Grid, layout: Layout, config: FormConfig, file: str, labels: Labels, shown: dict[str, str] | None = None
) -> tuple[list[Fact], dict[str, RowRef], list[Issue]]:
    """`shown`: cell -> "percent" | "permille", the cells whose number format shows a fraction so."""
    cols = layout.columns
    facts: list[Fact] = []
    rows: dict[str, RowRef] = {}
    issues: list[Issue] = []
    seen_values: dict[str, tuple[float | None, str]] = {}
    for r in range(layout.first_data_row, grid.height):
        code_text = grid.text(r, cols["code"]) if "code" in cols else ""
        name_text = grid.text(r, cols["name"]) if "name" in cols else ""
        first_text = next((grid.text(r, c) for c in range(len(grid.rows[r])) if grid.text(r, c)), "")
        if not first_text:
            continue
        if (
            first_text.startswith(("注", "填报说明", "说明"))
            or match_label(first_text, labels)
            or match_label(name_text, labels)
        ):
            break  # notes or the footer of the form: the table has ended
        if clean_name(name_text).startswith(_SUBTOTAL):
            continue
        value_texts = [grid.text(r, cols[c]) for c in COLUMNS if c in cols]
        by_code, by_name = match_indicator(config, code_text, name_text)
        ind = by_code or by_name
        name_cell = address(r, cols.get("name", cols.get("code", 0)))
        if ind is None:
            if any(value_texts) and (code_text or name_text):
                issues.append(
                    make_issue("indicator-unknown", file, sheet=grid.name, cell=name_cell, value=name_text or code_text)
                )
            continue
        if by_code and by_name and by_code.code != by_name.code:
            issues.append(
                make_issue(
                    "indicator-code-name-mismatch",
                    file,
                    sheet=grid.name,
                    cell=name_cell,
                    indicator=by_code.code,
                    value=name_text,
                    name=by_code.name,
                    code_label=config.form.column_labels.get("code", "代码"),
                    name_label=config.form.column_labels.get("name", "名称"),
                )
            )
        unit_text = grid.text(r, cols["unit"]) if "unit" in cols else ""
        if not unit_text:
            unit_text = unit_in_name(name_text, ind.unit, config.units)
        note = grid.text(r, cols["note"]) if "note" in cols else ""
        row_facts = []
        for column in COLUMNS:
            if column not in cols:
                continue
            c = cols[column]
            raw_value = grid.get(r, c)
            v = to_catalog_units(parse_cell(raw_value), unit_text, ind.unit, config.units)
            seen = shown.get(address(r, c)) if shown else None
            if seen and v.number is not None and isinstance(raw_value, int | float) and ind.unit in SCALED:
                # the county saw 43.37% where the cell holds 0.4337: the number it meant is the one it saw
                shown_raw = f"{raw_value * (100 if seen == 'percent' else 1000):g}{'%' if seen == 'percent' else '‰'}"
                v = replace(
                    v,
                    number=round(v.number * SCALED[ind.unit], 10),
                    raw=shown_raw,
                    unit_written=ind.unit,
                    converted=True,
                )
            row_facts.append(
                Fact(
                    ind.code,
                    column,
                    v.status,
                    v.number,
                    v.raw,
                    v.unit_written,
                    v.approximate,
                    v.converted,
                    grid.name,
                    address(r, c),
                    note or None,
                )
            )
        value_fact = next((f for f in row_facts if f.column == "value"), None)
        current = (value_fact.number if value_fact else None, value_fact.raw if value_fact else "")
        if ind.code in seen_values:
            if current != seen_values[ind.code] and value_fact and value_fact.status != BLANK:
                issues.append(
                    make_issue(
                        "indicator-duplicate",
                        file,
                        sheet=grid.name,
                        cell=value_fact.cell,
                        indicator=ind.code,
                        value=value_fact.raw,
                        name=ind.name,
                        detail=rows[ind.code].value_cell,
                    )
                )
            continue
        seen_values[ind.code] = current
        rows[ind.code] = RowRef(ind.code, r, name_cell, value_fact.cell if value_fact else None, name_text or code_text)
        facts.extend(row_facts)
    return facts, rows, issues
