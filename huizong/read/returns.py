"""A workbook (.xlsx .xlsm .xls) -> a `Return`, however the county mangled the form.

Reading never raises for bad data: what cannot be read becomes an Issue on the Return.
"""

from __future__ import annotations

import re
from pathlib import Path

from huizong.catalog import Config, FormConfig, normalize_label
from huizong.codes import make_issue
from huizong.forms.model import Form
from huizong.read.cells import address
from huizong.read.grid import Grid, WorkbookUnreadable, load_grids
from huizong.read.header import Labels, clean_code, label_index, read_header
from huizong.read.model import Located, Return
from huizong.read.periods import Period, find_period_in_text, parse_period
from huizong.read.records import find_list_header, read_records
from huizong.read.screen import Screened, screen
from huizong.read.sniff import BINARY, SAVE_AS_XLSX, sniff
from huizong.read.table import Layout, find_layout, match_indicator, read_table


def _named_first(grids: list[Grid], names: tuple[str, ...]) -> list[Grid]:
    cues = [normalize_label(n) for n in names]
    named = [g for g in grids if any(c in normalize_label(g.name) for c in cues)]
    return named + [g for g in grids if g not in named]


def form_sheets(grids: list[Grid], form: Form) -> list[tuple[Grid, Layout]]:
    """Every sheet that holds the form's indicator table, the ones named as the form says first."""
    out = []
    for g in _named_first(grids, form.sheet_names):
        layout = find_layout(g, form.table_header, form.table_header_exact, form.column_roles)
        if layout is not None:
            out.append((g, layout))
    return out


def list_sheets(grids: list[Grid], form: Form, config: Config) -> list[Grid]:
    """Every sheet that holds the form's list, the ones named as the list (or else the form) says first."""
    assert form.list is not None
    named = _named_first(grids, form.list.sheet_names or form.sheet_names)
    return [g for g in named if find_list_header(g, form.list, config.units)]


def recognise(grids: list[Grid], config: Config) -> list[tuple[Form, list[tuple[Grid, Layout | None]]]]:
    """The forms this workbook holds, each with its sheets (best first): an indicator form by its
    table (one with a value column preferred), a list form by its list's header row."""
    found: list[tuple[Form, list[tuple[Grid, Layout | None]]]] = []
    scores: dict[str, int] = {}
    for form in config.forms:
        if form.indicators is not None:
            sheets = form_sheets(grids, form)
            with_value = [f for f in sheets if "value" in f[1].columns]
            if sheets:
                found.append((form, [(g, lay) for g, lay in (with_value or sheets)]))
                g, lay = (with_value or sheets)[0]
                scores[form.id] = _rows_known(g, lay, config.for_form(form.id))
        elif form.list is not None:
            lists = list_sheets(grids, form, config)
            if lists:
                found.append((form, [(g, None) for g in lists]))
    # indicator forms share a table's shape: the one whose catalog knows the table's rows is it; a
    # table with rows none of which its catalog knows is not that form, whatever its sheet is called
    # (a table with no rows at all is kept, for its reader to say what is missing)
    best = max(scores.values(), default=0)
    found = [f for f in found if scores.get(f[0].id, 1) > 0 or (scores[f[0].id] < 0 and best <= 0)]
    return sorted(found, key=lambda f: -scores.get(f[0].id, 0))


def _rows_known(grid: Grid, layout: Layout, config: FormConfig) -> int:
    """How many rows of the table the form's catalog names (by code or name); -1 if it has none."""
    cols = layout.columns
    n = seen = 0
    for r in range(layout.first_data_row, min(grid.height, layout.first_data_row + 200)):
        code = grid.text(r, cols["code"]) if "code" in cols else ""
        name = grid.text(r, cols["name"]) if "name" in cols else ""
        if code or name:
            seen += 1
            n += any(match_indicator(config, code, name))
    return n if seen else -1


def _title_text(grid: Grid, before_row: int) -> str:
    """Text above the table that is not a label: the form's title, usually."""
    parts = []
    for r in range(min(before_row, grid.height)):
        for c in range(len(grid.rows[r])):
            t = grid.text(r, c)
            if t:
                parts.append(t)
    return " ".join(parts)


def read_return(path: Path, config: Config, region: str | None = None, display_name: str | None = None) -> Return:
    """Read one file. Hostile files are screened first (`screen`); run it in a bounded worker
    (`huizong.read.worker`) whenever the file comes from outside."""
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
        if screened.problem:
            ret.issues.append(make_issue(problem, name, detail=screened.detail))
        elif sniffed is not None:
            ret.issues.append(make_issue(problem, name, detail=sniffed.detail, remedy=sniffed.remedy))
        return ret
    try:
        grids = load_grids(path)
    except WorkbookUnreadable as e:
        ret.readable = False
        if ret.format == "xlsb" and e.code == "file-corrupt":  # a binary workbook its reader does not take
            ret.issues.append(make_issue("format-unsupported", name, detail=BINARY, remedy=SAVE_AS_XLSX))
        else:
            ret.issues.append(make_issue(e.code, name, sheet=e.sheet or None, detail=e.said))
        return ret
    found = recognise(grids, config)
    if not found:
        ret.readable = False
        names = "、".join(g.shown_name for g in grids) or "无"
        for form in config.forms:  # a table shaped like the form's, none of whose rows is one of its indicators
            tables = form_sheets(grids, form) if form.indicators is not None else []
            if tables and _rows_known(*tables[0], config.for_form(form.id)) == 0:
                ret.issues.append(
                    make_issue(
                        "form-not-recognised", name, sheet=tables[0][0].name, forms=form.short_name, detail=names
                    )
                )
                return ret
        for form in config.forms:  # the sheet is there by name, but its table is not
            named = [g for g in grids if any(normalize_label(n) in normalize_label(g.name) for n in form.sheet_names)]
            if named and form.indicators is not None:
                ret.form = form.id
                ret.issues.append(
                    make_issue("table-header-missing", name, sheet=named[0].name, detail="”或“".join(form.table_header))
                )
                return ret
        wanted = "”或“".join(f.short_name for f in config.forms)
        ret.issues.append(make_issue("sheet-missing", name, detail=names, forms=wanted))
        return ret
    form, sheets = found[0]
    ret.form = form.id
    view = config.for_form(form.id)
    labels = label_index(config.labels_for(form))
    grid, layout = sheets[0]
    ret.sheet = grid.name
    if layout is None:
        _read_list_form(ret, view, grid, labels, region)
        _formulas_without_values(ret, screened, grid.name)
        _other_forms(ret, view, [(g, None) for g, _ in sheets[1:]], labels, region, found[1:], grids)
        return ret
    if "value" not in layout.columns:
        ret.readable = False
        ret.issues.append(make_issue("column-missing", name, sheet=grid.name, detail=form.column_labels["value"]))
        return ret
    shown = dict.fromkeys(screened.percent_cells.get(grid.name, ()), "percent")
    shown |= dict.fromkeys(screened.permille_cells.get(grid.name, ()), "permille")
    _read_form(ret, view, grid, layout, labels, region, shown)
    _formulas_without_values(ret, screened, grid.name)
    _other_forms(ret, view, sheets[1:], labels, region, found[1:], grids)
    if form.list is not None:  # an indicator table with a list beside it, on a sheet of its own
        lists = [g for g in list_sheets(grids, form, config) if g is not grid]
        if lists:
            ret.list_sheet, ret.list_key = lists[0].name, form.list.key
            ret.records = read_records(lists[0], form.list, config.units, labels) or []
            _formulas_without_values(ret, screened, lists[0].name)
    return ret


def _read_form(
    ret: Return,
    view: FormConfig,
    grid: Grid,
    layout: Layout,
    labels: Labels,
    region: str | None,
    shown: dict[str, str] | None = None,
) -> None:
    ret.header = read_header(grid, labels)
    _identify(ret, view.form, grid, layout.header_row, view.config, region)
    facts, rows, issues = read_table(grid, layout, view, ret.file, labels, shown)
    ret.facts, ret.rows = facts, rows
    ret.issues.extend(issues)


def _read_list_form(ret: Return, view: FormConfig, grid: Grid, labels: Labels, region: str | None) -> None:
    """A list form: the header block, the records, and the measures summed from them as facts."""
    form = view.form
    assert form.list is not None
    ret.header = read_header(grid, labels)
    found = find_list_header(grid, form.list, view.units)
    header_row = found[0] if found else 0
    _identify(ret, form, grid, header_row, view.config, region)
    ret.list_sheet, ret.list_key = grid.name, form.list.key
    ret.records = read_records(grid, form.list, view.units, labels) or []
    if found is not None:  # a required column the header lacks: one error, not one per row
        for f in form.list.fields:
            if f.required and f.code not in found[1]:
                ret.issues.append(
                    make_issue("column-missing", ret.file, sheet=grid.name, cell=address(header_row, 0), detail=f.name)
                )


def _formulas_without_values(ret: Return, screened: Screened, sheet: str) -> None:
    cells = screened.formula_cells.get(sheet)
    if not cells:
        return
    n = screened.formula_counts.get(sheet, len(cells))
    shown = "、".join(cells[:8]) + ("等" if n > 8 else "")
    ret.issues.append(make_issue("formula-no-value", ret.file, sheet=sheet, cell=cells[0], count=n, detail=shown))


def _identity(r: Return) -> tuple[object, ...]:
    return (
        r.county_code,
        r.period.token if r.period else r.period_text,
        tuple(sorted((f.indicator, f.column, f.number, f.status) for f in r.facts)),
        tuple(sorted(tuple(sorted((k, str(v)) for k, v in rec.values.items())) for rec in r.records)),
    )


def _other_forms(
    ret: Return,
    view: FormConfig,
    others: list[tuple[Grid, Layout | None]],
    labels: Labels,
    region: str | None,
    other_forms: list[tuple[Form, list[tuple[Grid, Layout | None]]]],
    all_grids: list[Grid],
) -> None:
    """A workbook holding several different forms (or one form twice, for two counties or periods)
    is refused, naming them all; never one silently kept.

    A sheet that repeats the same form (same county, period and numbers) is no second return."""
    form, config = view.form, view.config
    different = []
    for grid, layout in others:
        if layout is not None and "value" not in layout.columns:
            continue
        other = Return(file=ret.file, path=ret.path, form=form.id)
        if layout is None:
            _read_list_form(other, view, grid, labels, region)
        else:
            _read_form(other, view, grid, layout, labels, region)
        if (layout is not None and not other.facts) or _identity(other) == _identity(ret):
            continue
        different.append((grid.name, other))
    for other_form, sheets in other_forms:
        grid = sheets[0][0]
        if grid.name == ret.sheet:
            continue
        other = Return(file=ret.file, path=ret.path, form=other_form.id)
        other_view = config.for_form(other_form.id)
        other_labels = label_index(config.labels_for(other_form))
        if sheets[0][1] is None:
            _read_list_form(other, other_view, grid, other_labels, region)
        else:
            _read_form(other, other_view, grid, sheets[0][1], other_labels, region)
        different.append((f"{grid.name}（{other_form.short_name}）", other))
    if not different:
        return

    shown = {g.name: g.shown_name for g in all_grids}

    def who(sheet: str, r: Return) -> str:
        div = config.divisions.get(r.county_code)
        name = div.name if div else (r.county_code or "县区不明")
        return f"“{shown.get(sheet, sheet)}”：{name} {r.period.zh if r.period else (r.period_text or '报告期不明')}"

    listed = "；".join([who(ret.sheet or "", ret), *(who(s, r) for s, r in different)])
    ret.issues.append(make_issue("multiple-forms", ret.file, sheet=ret.sheet, count=len(different) + 1, detail=listed))


def _as_written(value: object) -> str:
    """A header value as the county typed it: Excel turns 2020年9月 into a date; say it back as typed."""
    import datetime as dt

    if isinstance(value, dt.datetime | dt.date):
        return f"{value.year}年{value.month}月" if value.day == 1 else f"{value.year}年{value.month}月{value.day}日"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _period_inside(value: object, grain: str = "cumulative") -> Period | None:
    """ "2024年上半年（1-6月）", "2024年上半年累计": a period the label's cell holds among other words."""
    if not isinstance(value, str):
        return None
    return find_period_in_text(re.sub(r"[(（][^)）]*[)）]", "", value), grain)


def _identify(ret: Return, form: Form, grid: Grid, header_row: int, config: Config, region: str | None) -> None:
    """County and period from the header block; else from the title, then the file name."""
    divisions = config.divisions
    code_at = ret.header.get("county_code")
    office_at = ret.header.get("office")
    code = clean_code(code_at.value) if code_at else None
    if code and not re.fullmatch(r"\d{6}", code):
        digits = re.search(r"(?<!\d)\d{6}(?!\d)", code)  # "620722（民乐县）"
        named = divisions.find_county_in_text(code, region)  # a name where the code belongs
        code = digits.group(0) if digits else (named.code if named else code)
    by_name = divisions.find_county_in_text(str(office_at.value), region) if office_at else None
    ret.county_by_name = by_name.code if by_name else None
    if code:
        ret.county_code, ret.county_source = code, code_at
    elif by_name and office_at:
        ret.county_code, ret.county_source = by_name.code, office_at
    else:
        title = _title_text(grid, header_row)
        found = divisions.find_county_in_text(title, region) or divisions.find_county_in_text(
            Path(ret.file).stem, region
        )
        if found:
            ret.county_code = found.code
            ret.county_source = Located(found.name, grid.name, "", "")
    period_at = ret.header.get("period")
    if period_at is not None:
        ret.period_source = period_at
        ret.period_text = _as_written(period_at.value)
        ret.period = parse_period(period_at.value, form.frequency) or _period_inside(period_at.value, form.frequency)
        return
    for text in (_title_text(grid, header_row), Path(ret.file).stem):
        p = find_period_in_text(text, form.frequency)
        if p:
            ret.period, ret.period_text = p, p.zh
            ret.period_source = Located(p.token, grid.name, "", "")
            return
