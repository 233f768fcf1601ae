"""A workbook (.xlsx .xlsm .xls) -> a `Return`, however the county mangled the form.

Reading never raises for bad data: what cannot be read becomes an Issue on the Return.
"""

from __future__ import annotations

import re
from pathlib import Path

from huizong.catalog import Config, normalize_label
from huizong.codes import make_issue
from huizong.read.grid import Grid, WorkbookUnreadable, load_grids
from huizong.read.header import clean_code, read_header
from huizong.read.model import Located, Return
from huizong.read.periods import Period, find_period_in_text, parse_period
from huizong.read.projects import find_project_header, read_projects
from huizong.read.screen import Screened, screen
from huizong.read.sniff import sniff
from huizong.read.table import Layout, find_layout, read_table

MAIN_SHEET = "主要指标"
PROJECT_SHEET = "项目明细"


def form_sheets(grids: list[Grid]) -> list[tuple[Grid, Layout]]:
    """Every sheet that holds the key-indicator table, the one named 主要指标 first."""
    named = [g for g in grids if MAIN_SHEET in normalize_label(g.name)]
    out = []
    for g in named + [g for g in grids if g not in named]:
        layout = find_layout(g)
        if layout is not None:
            out.append((g, layout))
    return out


def pick_main_sheet(grids: list[Grid]) -> tuple[Grid, Layout] | None:
    forms = form_sheets(grids)
    return forms[0] if forms else None


def pick_project_sheet(grids: list[Grid], main: Grid | None) -> Grid | None:
    others = [g for g in grids if g is not main]
    named = [g for g in others if "项目" in normalize_label(g.name)]
    for g in named + [g for g in others if g not in named]:
        if find_project_header(g):
            return g
    return None


def _title_text(grid: Grid, before_row: int) -> str:
    """Text above the table that is not a label: the form's title, usually."""
    parts = []
    for r in range(min(before_row, grid.height)):
        for c in range(len(grid.rows[r])):
            t = grid.text(r, c)
            if t:
                parts.append(t)
    return " ".join(parts)


def read_return(path: Path, config: Config, city: str | None = None, display_name: str | None = None) -> Return:
    """Read one file. Hostile files are screened first (`screen`); run it in a bounded worker
    (`huizong.worker`) whenever the file comes from outside."""
    name = display_name or path.name
    ret = Return(file=name, path=path)
    screened = screen(path, None, config.limits)
    sniffed = sniff(path) if screened.problem is None else None
    if sniffed is not None:
        ret.format = sniffed.format
        if sniffed.problem is None:
            screened = screen(path, sniffed.format, config.limits)
    problem = screened.problem or (sniffed.problem if sniffed else None)
    if problem:
        ret.readable = False
        detail = screened.detail if screened.problem else (sniffed.detail if sniffed else "")
        ret.issues.append(make_issue(problem, name, detail=detail))
        return ret
    try:
        grids = load_grids(path)
    except WorkbookUnreadable as e:
        ret.readable = False
        code = "file-encrypted" if str(e) == "encrypted" else "file-corrupt"
        ret.issues.append(make_issue(code, name, detail=str(e)))
        return ret
    forms = [f for f in form_sheets(grids) if "value" in f[1].columns] or form_sheets(grids)
    picked = forms[0] if forms else None
    if picked is None:
        ret.readable = False
        names = "、".join(g.name for g in grids) or "无"
        if any(MAIN_SHEET in normalize_label(g.name) for g in grids):
            sheet = next(g.name for g in grids if MAIN_SHEET in normalize_label(g.name))
            ret.issues.append(make_issue("table-header-missing", name, sheet=sheet))
        else:
            ret.issues.append(make_issue("sheet-missing", name, detail=names))
        return ret
    grid, layout = picked
    ret.sheet = grid.name
    if "value" not in layout.columns:
        ret.readable = False
        ret.issues.append(make_issue("column-missing", name, sheet=grid.name, detail="本期累计"))
        return ret
    _read_form(ret, grid, layout, config, city)
    _formulas_without_values(ret, screened, grid.name)
    _other_forms(ret, forms[1:], config, city)
    project_grid = pick_project_sheet(grids, grid)
    if project_grid is not None:
        ret.project_sheet = project_grid.name
        ret.projects = read_projects(project_grid, config)
        _formulas_without_values(ret, screened, project_grid.name)
    return ret


def _read_form(ret: Return, grid: Grid, layout: Layout, config: Config, city: str | None) -> None:
    ret.header = read_header(grid)
    _identify(ret, grid, layout.header_row, config, city)
    facts, rows, issues = read_table(grid, layout, config, ret.file)
    ret.facts, ret.rows = facts, rows
    ret.issues.extend(issues)


def _formulas_without_values(ret: Return, screened: Screened, sheet: str) -> None:
    cells = screened.formula_cells.get(sheet)
    if not cells:
        return
    n = screened.formula_counts.get(sheet, len(cells))
    shown = "、".join(cells[:8]) + ("等" if n > 8 else "")
    ret.issues.append(make_issue("formula-no-value", ret.file, sheet=sheet, cell=cells[0], count=n, detail=shown))


def _identity(r: Return) -> tuple[object, ...]:
    return (r.county_code, r.period.token if r.period else r.period_text,
            tuple(sorted((f.indicator, f.column, f.number, f.status) for f in r.facts)))  # fmt: skip


def _other_forms(ret: Return, others: list[tuple[Grid, Layout]], config: Config, city: str | None) -> None:
    """A workbook holding several different forms is refused, naming them all; never one silently kept.

    A sheet that repeats the same form (same county, period and numbers) is no second return."""
    different = []
    for grid, layout in others:
        if "value" not in layout.columns:
            continue
        other = Return(file=ret.file, path=ret.path)
        _read_form(other, grid, layout, config, city)
        if not other.facts or _identity(other) == _identity(ret):
            continue
        different.append((grid.name, other))
    if not different:
        return

    def who(sheet: str, r: Return) -> str:
        div = config.divisions.get(r.county_code)
        name = div.name if div else (r.county_code or "县区不明")
        return f"“{sheet}”：{name} {r.period.zh if r.period else (r.period_text or '报告期不明')}"

    listed = "；".join([who(ret.sheet or "", ret), *(who(s, r) for s, r in different)])
    ret.issues.append(make_issue("multiple-forms", ret.file, sheet=ret.sheet, count=len(different) + 1, detail=listed))


def _period_inside(value: object) -> Period | None:
    """ "2024年上半年（1-6月）", "2024年上半年累计": a period the label's cell holds among other words."""
    return find_period_in_text(re.sub(r"[(（][^)）]*[)）]", "", str(value))) if isinstance(value, str) else None


def _identify(ret: Return, grid: Grid, header_row: int, config: Config, city: str | None) -> None:
    """County and period from the header block; else from the title, then the file name."""
    divisions = config.divisions
    code_at = ret.header.get("county_code")
    office_at = ret.header.get("office")
    code = clean_code(code_at.value) if code_at else None
    if code and not re.fullmatch(r"\d{6}", code):
        digits = re.search(r"(?<!\d)\d{6}(?!\d)", code)  # "620722（民乐县）"
        named = divisions.find_county_in_text(code, city)  # a name where the code belongs
        code = digits.group(0) if digits else (named.code if named else code)
    by_name = divisions.find_county_in_text(str(office_at.value), city) if office_at else None
    ret.county_by_name = by_name.code if by_name else None
    if code:
        ret.county_code, ret.county_source = code, code_at
    elif by_name and office_at:
        ret.county_code, ret.county_source = by_name.code, office_at
    else:
        title = _title_text(grid, header_row)
        found = divisions.find_county_in_text(title, city) or divisions.find_county_in_text(Path(ret.file).stem, city)
        if found:
            ret.county_code = found.code
            ret.county_source = Located(found.name, grid.name, "", "")
    period_at = ret.header.get("period")
    if period_at is not None:
        ret.period_source = period_at
        ret.period_text = str(period_at.value)
        ret.period = parse_period(period_at.value) or _period_inside(period_at.value)
        return
    for text in (_title_text(grid, header_row), Path(ret.file).stem):
        p = find_period_in_text(text)
        if p:
            ret.period, ret.period_text = p, p.zh
            ret.period_source = Located(p.token, grid.name, "", "")
            return
