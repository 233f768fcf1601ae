"""Feedback workbooks for the counties: their own file, problem cells marked, a list in front.

Each problem cell is filled red (error) or yellow (warning) and carries an Excel comment
with the rule and what is expected; a first sheet `问题说明` lists every issue with a link
to its cell. The county's layout and values are otherwise untouched (a legacy .xls is
rebuilt from its values, since openpyxl cannot edit .xls). The original stays in the
archive: this is a copy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import openpyxl
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.workbook import Workbook

from huizong.issues import Issue, Severity
from huizong.publish.files import write_atomic
from huizong.publish.sheets import BOLD, TITLE, put, table
from huizong.read.grid import WorkbookUnreadable, load_grids

ERROR_FILL = PatternFill("solid", fgColor="FFC7CE")
WARNING_FILL = PatternFill("solid", fgColor="FFEB9C")
SHEET = "问题说明"


def _open_copy(original: Path, fmt: str | None) -> Workbook:
    """The county's workbook to mark up: itself where openpyxl can edit it, else its values."""
    if fmt == "xlsx":
        try:
            return _without_formulas(
                openpyxl.load_workbook(original), lambda: openpyxl.load_workbook(original, data_only=True)
            )
        except Exception:  # openpyxl reads less than calamine: fall back to the values
            pass
    wb = Workbook()
    wb.remove(wb.active)
    if fmt is None:
        return wb
    try:
        grids = load_grids(original)
    except (WorkbookUnreadable, MemoryError):
        return wb
    for grid in grids:
        ws = wb.create_sheet(grid.name)
        for r, row in enumerate(grid.rows, start=1):
            for c, v in enumerate(row, start=1):
                if v not in (None, ""):
                    put(ws, r, c, v)
    return wb


def _without_formulas(wb: Workbook, load_values: Callable[[], Workbook]) -> Workbook:
    """Every formula of the county's file replaced by the value it had when saved (the file read
    again for its values, `load_values`, only if it has a formula), and its links to other
    workbooks dropped: nothing in a feedback workbook runs when the county opens it (a DDE formula
    such as =cmd|' /C calc'!A0 stays a number)."""
    values: Workbook | None = None
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f" or (isinstance(cell.value, str) and cell.value.startswith("=")):
                    values = values or load_values()
                    value = values[ws.title][cell.coordinate].value
                    put(ws, cell.row, cell.column, value)
    wb._external_links = []  # links to other workbooks (and DDE links) go with them
    for name in list(wb.defined_names):
        if "[" in str(wb.defined_names[name].attr_text) or "|" in str(wb.defined_names[name].attr_text):
            del wb.defined_names[name]
    return wb


def _mark(wb: Workbook, issues: list[Issue]) -> None:
    by_cell: dict[tuple[str, str], list[Issue]] = defaultdict(list)
    for i in issues:
        if i.sheet and i.cell and i.sheet in wb.sheetnames:
            by_cell[(i.sheet, i.cell)].append(i)
    for (sheet, cell), found in by_cell.items():
        target = wb[sheet][cell]
        is_error = any(i.severity is Severity.ERROR for i in found)
        target.fill = ERROR_FILL if is_error else WARNING_FILL
        lines = []
        for i in found:
            tag = "错误" if i.severity is Severity.ERROR else ("警告（已说明）" if i.explanation else "警告")
            lines.append(f"【{tag}】{i.message}（规则 {i.code}）")
        text = "\n".join(lines)
        target.comment = Comment(text, "市科技局 huizong", width=360, height=max(80, 20 * (len(text) // 24 + 2)))


def _summary_sheet(wb: Workbook, file: str, who: str, verdict: str, issues: list[Issue]) -> None:
    ws = wb.create_sheet(SHEET, 0)
    ws["A1"] = "报表问题说明"
    ws["A1"].font = TITLE
    put(ws, 2, 1, f"文件：{file}　{who}　结论：{verdict}")
    ws["A2"].font = BOLD
    ws["A3"] = "红色单元格为错误（须修改后重新报送），黄色为警告（请核实；如数据无误，可在该行“备注”中说明）。"
    rows = [
        [
            n,
            "错误" if i.severity is Severity.ERROR else "警告",
            i.sheet,
            i.cell,
            i.indicator,
            i.message,
            None if i.value is None else str(i.value),
            i.explanation,
            i.code,
        ]
        for n, i in enumerate(issues, start=1)
    ]
    headers = ["序号", "级别", "工作表", "单元格", "指标", "问题说明", "填报值", "县区说明", "规则代码"]
    table(ws, 5, headers, rows, None, [6, 8, 12, 8, 8, 80, 14, 24, 26])
    for r, i in enumerate(issues, start=6):
        if i.sheet and i.cell and i.sheet in wb.sheetnames:
            link = ws.cell(row=r, column=4)
            link.hyperlink = f"#'{i.sheet}'!{i.cell}"
            link.font = Font(color="0563C1", underline="single")
        ws.cell(row=r, column=6).font = Font(color="9C0006" if i.severity is Severity.ERROR else "000000")
    wb.active = 0


def write_feedback(original: Path, fmt: str | None, file: str, who: str, issues: list[Issue], target: Path) -> Path:
    """Write the feedback workbook for one return to `target` (atomically)."""
    wb = _open_copy(original, fmt)
    _mark(wb, issues)
    verdict = "退回，请修改后重新报送" if any(i.severity is Severity.ERROR for i in issues) else "已接收，请核实警告"
    _summary_sheet(wb, file, who, verdict, issues)
    for ws in wb.worksheets[1:]:
        ws.sheet_view.tabSelected = False
    return write_atomic(target, wb.save)
