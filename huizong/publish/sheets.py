"""openpyxl helpers for the workbooks huizong edits or must keep editable: the county's own file
marked up as feedback, and the template sent to the counties. (New read-only workbooks, the
consolidated one and the reporting status, are written with xlsxwriter: `workbook.py`.)"""

from __future__ import annotations

from collections.abc import Sequence

from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from huizong.publish.files import FORMULA_START
from huizong.publish.style import BORDER_COLOR, HEAD_COLOR

HEAD_FILL = PatternFill("solid", fgColor=HEAD_COLOR)
THIN = Side(style="thin", color=BORDER_COLOR)
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=14)


def put(ws: Worksheet, row: int, col: int, value: object):
    """Write a value; county text that Excel would run as a formula stays plain text."""
    cell = ws.cell(row=row, column=col, value=value)
    if isinstance(value, str) and value.startswith(FORMULA_START):
        cell.data_type = "s"
    return cell


BORDERED_ROWS = 300  # past this, body cells get no borders: openpyxl styles cell by cell, slowly


def table(
    ws: Worksheet,
    top: int,
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    formats: dict[int, str] | None = None,
    widths: Sequence[float] | None = None,
    print_titles: bool = True,
) -> int:
    """Write a header row and rows from row `top` (1-based); return the next free row."""
    bordered = len(rows) <= BORDERED_ROWS
    for c, h in enumerate(headers, start=1):
        cell = ws.cell(row=top, column=c, value=h)
        cell.font, cell.fill, cell.border = BOLD, HEAD_FILL, BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    if any(len(str(h)) > 8 for h in headers):
        ws.row_dimensions[top].height = 45  # room for wrapped headers
    for r, row in enumerate(rows, start=top + 1):
        for c, v in enumerate(row, start=1):
            cell = put(ws, r, c, v)
            if bordered:
                cell.border = BORDER
            if formats and c in formats and isinstance(v, int | float):
                cell.number_format = formats[c]
    ws.freeze_panes = ws.cell(row=top + 1, column=1)
    print_setup(ws, top if print_titles else None)
    for c, width in enumerate(widths or [], start=1):
        ws.column_dimensions[get_column_letter(c)].width = width
    return top + 1 + len(rows)


def print_setup(ws: Worksheet, header_row: int | None) -> None:
    """Landscape A4, as wide as one page, the header row repeated on every page."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    if header_row is not None and not ws.print_title_rows:
        ws.print_title_rows = f"{header_row}:{header_row}"
