"""The template of a list form (技术合同 and any form with a [list] and no indicator table): the
header block filled in, a header row of the definition's fields, then rows to fill, with Excel's
data validation from the definition (drop-downs for choices, dates, non-negative numbers within
the field's bounds, 18 characters for a credit code); input cells unlocked on a protected sheet."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, Protection
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from huizong.catalog import Config, Division
from huizong.formats import AMOUNT
from huizong.forms.model import Form, ListField
from huizong.publish.sheets import BOLD, BORDER, HEAD_FILL, TITLE, print_setup
from huizong.publish.template import INPUT_FILL
from huizong.read.periods import Period

ROWS = 300  # rows made ready to fill

UNLOCKED = Protection(locked=False)


def header_label(f: ListField) -> str:
    return f"{f.name}（{f.unit}）" if f.unit else f.name


def _validation(f: ListField) -> DataValidation | None:
    shown = {"error": f.explanation or f"请按要求填写“{f.name}”", "errorTitle": "数据有误", "showErrorMessage": True}
    if f.type == "choice":
        return DataValidation(type="list", formula1='"' + ",".join(f.choices) + '"', allow_blank=True, **shown)
    if f.type == "date":
        return DataValidation(type="date", operator="greaterThan", formula1="1", allow_blank=True, **shown)
    if f.type == "uscc":
        return DataValidation(type="textLength", operator="equal", formula1="18", allow_blank=True, **shown)
    if f.type in ("number", "integer"):
        kind = "whole" if f.type == "integer" else "decimal"
        lo = f.minimum if f.minimum is not None else 0
        if f.maximum is not None:
            return DataValidation(
                type=kind, operator="between", formula1=str(lo), formula2=str(f.maximum), allow_blank=True, **shown
            )
        return DataValidation(type=kind, operator="greaterThanOrEqual", formula1=str(lo), allow_blank=True, **shown)
    return None


def write_list_template(path: Path, config: Config, form: Form, county: Division, period: Period) -> Path:
    assert form.list is not None
    wb = Workbook()
    ws = wb.active
    ws.title = (form.sheet_names[0] if form.sheet_names else form.short_name)[:31]
    fields = form.list.fields
    width = len(fields)
    ws["A1"] = form.name
    ws["A1"].font = TITLE
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=max(width, 2))
    ws["A1"].alignment = Alignment(horizontal="center")
    labels = config.labels_for(form)
    period_label = (form.header_labels.get("period") or labels["period"])[0]
    header = [
        (labels["office"][0], f"{county.name}科学技术局", False),
        (labels["county_code"][0], county.code, False),
        (period_label, period.zh, False),
        (labels["filled_by"][0], None, True),
        (labels["phone"][0], None, True),
        (labels["fill_date"][0], None, True),
    ]
    if form.table_no:
        ws.cell(row=2, column=max(width, 2), value=f"表号：{form.table_no}").alignment = Alignment(horizontal="right")
    for r, (label, value, editable) in enumerate(header, start=3):
        ws.cell(row=r, column=1, value=f"{label}：").font = BOLD
        cell = ws.cell(row=r, column=3, value=value)
        cell.number_format = "@"
        if editable:
            cell.protection, cell.fill = UNLOCKED, INPUT_FILL
    top = 3 + len(header) + 1
    print_setup(ws, top)
    for c, f in enumerate(fields, start=1):
        cell = ws.cell(row=top, column=c, value=header_label(f))
        cell.font, cell.fill, cell.border = BOLD, HEAD_FILL, BORDER
        cell.alignment = Alignment(horizontal="center", wrap_text=True)
        letter = get_column_letter(c)
        ws.column_dimensions[letter].width = (
            6 if f.type == "seq" else 14 if f.type in ("number", "integer", "date") else 24
        )
        dv = _validation(f)
        if dv is not None:
            ws.add_data_validation(dv)
            dv.add(f"{letter}{top + 1}:{letter}{top + ROWS}")
        for r in range(top + 1, top + ROWS + 1):
            body = ws.cell(row=r, column=c)
            body.protection = UNLOCKED
            if f.type == "seq":
                body.value = r - top
            elif f.type in ("id", "uscc", "text", "choice"):
                body.number_format = "@"  # a registration number keeps its digits, a credit code its zeros
            elif f.type == "date":
                body.number_format = "yyyy-mm-dd"
            else:
                body.number_format = AMOUNT if f.type == "number" else "0"
    ws.freeze_panes = ws.cell(row=top + 1, column=1)
    ws.protection.sheet = True
    ws.protection.formatColumns = False
    notes = wb.create_sheet("填报说明")
    lines = [f"{form.name}填报说明", f"报告期：{period.zh}。每行填写一条记录，没有记录时报送空表（表头保留）。"]
    lines += [f"{header_label(f)}：{f.explanation}" for f in fields if f.explanation]
    lines += [f"{header_label(f)} 可选：{'、'.join(f.choices)}" for f in fields if f.choices]
    for r, text in enumerate(lines, start=1):
        notes.cell(row=r, column=1, value=text).font = TITLE if r == 1 else Font()
    notes.column_dimensions["A"].width = 110
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path
