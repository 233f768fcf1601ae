"""The form the city sends out: header filled in, last year's values prefilled from the store,
input cells unlocked on a protected sheet, and Excel's own data validation on every input.

The layout is the one `huizong.read` reads best, so a county that only types numbers
returns a file that passes without a single conversion.
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from huizong.catalog import Division, FormConfig
from huizong.forms.model import Form, ListField, ListPart
from huizong.ledger.store import Store
from huizong.publish.sheets import BOLD, BORDER, HEAD_FILL, TITLE, print_setup
from huizong.publish.style import number_format
from huizong.read.periods import Period

INPUT_FILL = PatternFill("solid", fgColor="FFFFE0")
UNLOCKED = Protection(locked=False)
ROLES = ("seq", "code", "name", "unit", "target", "value", "last_year", "note")  # the template's columns, in order
LIST_ROWS = 200  # rows of a list's sheet unlocked for input
LIST_WIDTHS = {"seq": 6, "uscc": 22, "id": 20, "number": 16, "integer": 12, "date": 14, "choice": 24, "text": 30}


def last_year_values(store: Store | None, county: str, period: Period, config_form: str) -> dict[str, float]:
    """The county's accepted 本期累计 for the same period a year earlier, by indicator."""
    if store is None:
        return {}
    rows = store.accepted_facts([county], period.last_year().token, form=config_form)
    return {r["indicator"]: r["number"] for r in rows if r["column"] == "value" and r["number"] is not None}


def write_template(
    path: Path, config: FormConfig, county: Division, period: Period, store: Store | None = None
) -> Path:
    """An indicator form's template (`config` seen from the form): its labels, sheets and title from
    its definition."""
    form = config.form
    wb = Workbook()
    ws = wb.active
    ws.title = (form.sheet_names[0] if form.sheet_names else form.short_name)[:31]
    _indicator_sheet(ws, config, county, period, last_year_values(store, county.code, period, form.id))
    if form.list is not None:  # the list beside the table (项目明细), on a sheet of its own
        _list_sheet(wb.create_sheet(form.list.title[:31]), form.list)
    _notes(wb.create_sheet("填报说明"), period, form)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def _indicator_sheet(
    ws: Worksheet, config: FormConfig, county: Division, period: Period, last: dict[str, float]
) -> None:
    ws["A1"] = config.form.name
    ws["A1"].font = TITLE
    ws.merge_cells("A1:H1")
    ws["A1"].alignment = Alignment(horizontal="center")
    header = [
        ("填报单位：", f"{county.name}科学技术局", False),
        ("行政区划代码：", county.code, False),
        ("报告期：", period.zh, False),
        ("填报人：", None, True),
        ("联系电话：", None, True),
        ("填报日期：", None, True),
        ("单位负责人：", None, True),
    ]
    for r, (label, value, editable) in enumerate(header, start=3):
        ws.cell(row=r, column=1, value=label).font = BOLD
        cell = ws.cell(row=r, column=3, value=value)
        if editable:
            cell.protection, cell.fill = UNLOCKED, INPUT_FILL
    top = 3 + len(header) + 1
    print_setup(ws, top)  # prints as the consolidated workbook does: landscape, one page wide, header repeated
    labels = config.form.column_labels
    for c, h in enumerate((labels.get(r, "") for r in ROLES), start=1):
        cell = ws.cell(row=top, column=c, value=h)
        cell.font, cell.fill, cell.border = BOLD, HEAD_FILL, BORDER
        cell.alignment = Alignment(horizontal="center")
    whole = DataValidation(
        type="whole",
        operator="greaterThanOrEqual",
        formula1="0",
        allow_blank=True,
        error="请填写非负整数",
        errorTitle="数据有误",
        showErrorMessage=True,
    )
    decimal = DataValidation(
        type="decimal",
        operator="greaterThanOrEqual",
        formula1="0",
        allow_blank=True,
        error="请填写非负数值",
        errorTitle="数据有误",
        showErrorMessage=True,
    )
    ws.add_data_validation(whole)
    ws.add_data_validation(decimal)
    for n, ind in enumerate(config.catalog, start=1):
        r = top + n
        for c, v in enumerate([n, ind.code, ind.name, ind.unit], start=1):
            ws.cell(row=r, column=c, value=v).border = BORDER
        for c in (5, 6, 7, 8):
            cell = ws.cell(row=r, column=c)
            cell.protection, cell.fill, cell.border = UNLOCKED, INPUT_FILL, BORDER
            if c < 8:
                cell.number_format = number_format(ind)
                (whole if ind.integer else decimal).add(cell.coordinate)
        if ind.code in last:
            ws.cell(row=r, column=7, value=last[ind.code])
    for col, width in zip("ABCDEFGH", [6, 9, 36, 10, 14, 14, 14, 24], strict=True):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = ws.cell(row=top + 1, column=4)
    ws.protection.sheet = True
    ws.protection.formatColumns = False  # let the county widen a column


def _list_sheet(ws: Worksheet, part: ListPart) -> None:
    """The list's header row (each field's name, its unit in brackets), and below it LIST_ROWS rows
    unlocked for input with Excel's data validation from each field's type: a drop-down of its
    choices, 18 characters for a credit code, a number (not below its minimum) in its unit."""
    for c, f in enumerate(part.fields, start=1):
        cell = ws.cell(row=1, column=c, value=f"{f.name}（{f.unit}）" if f.unit else f.name)
        cell.font, cell.fill, cell.border = BOLD, HEAD_FILL, BORDER
    last = LIST_ROWS + 1
    for c, f in enumerate(part.fields, start=1):
        col = get_column_letter(c)
        dv = _validation(f)
        if dv is not None:
            ws.add_data_validation(dv)
            dv.add(f"{col}2:{col}{last}")
        ws.column_dimensions[col].width = 40 if f.code == "name" else LIST_WIDTHS.get(f.type, 20)
        for r in range(2, last + 1):
            cell = ws.cell(row=r, column=c)
            cell.protection = UNLOCKED
            if f.type in ("uscc", "id"):
                cell.number_format = "@"  # keep leading zeros of codes
    ws.freeze_panes = "A2"
    ws.protection.sheet = True


def _validation(f: ListField) -> DataValidation | None:
    if f.type == "choice" and f.choices:
        formula = '"' + ",".join(f.choices) + '"'
        return DataValidation(type="list", formula1=formula, allow_blank=True) if len(formula) <= 255 else None
    if f.type == "uscc":
        return DataValidation(
            type="textLength",
            operator="equal",
            formula1="18",
            allow_blank=True,
            error=f"{f.name}应为 18 位",
            showErrorMessage=True,
        )
    if f.type in ("number", "integer") and f.minimum is not None:
        unit = f"（{f.unit}）" if f.unit else ""
        words = "非负" if f.minimum == 0 else f"不小于 {f.minimum:g} 的"
        return DataValidation(
            type="whole" if f.type == "integer" else "decimal",
            operator="greaterThanOrEqual",
            formula1=f"{f.minimum:g}",
            allow_blank=True,
            error=f"请填写{words}数值{unit}",
            showErrorMessage=True,
        )
    return None


def _notes(ws: Worksheet, period: Period, form: Form) -> None:
    col = form.role_labels
    lines = [
        "填报说明",
        f"1. 报告期为 {period.zh}；流量指标填写 1 月 1 日起的累计数，存量指标填写期末数。",
        f"2. 请按“{col['unit']}”列的单位填写数值，只填数字；确需使用其他单位时，请同时修改该行{col['unit']}。",
        f"3. 不掌握的数据请留空并在“{col['note']}”中说明，不要填写“约”“多”“余”等约数。",
    ]
    if form.list is not None:
        codes = "、".join(f.name for f in form.list.fields if f.type == "uscc")
        choices = "、".join(f.name for f in form.list.fields if f.type == "choice")
        lines.append(
            f"4. “{form.list.title}”表每行一条"
            + (f"，{codes}为 18 位" if codes else "")
            + (f"；{choices}请从下拉列表选择" if choices else "")
            + "。"
        )
    lines.append(f"{len(lines)}. 请勿修改表头、{col['code']}和{col['name']}，勿增删行列。")
    for r, text in enumerate(lines, start=1):
        ws.cell(row=r, column=1, value=text).font = TITLE if r == 1 else Font()
    ws.column_dimensions["A"].width = 100
