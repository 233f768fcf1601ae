"""The body of a large plain table, written as the sheet XML xlsxwriter itself writes, about ten
times faster (its per-cell bookkeeping, not the XML, is what a 5-million-cell national run paid for).

Only for an xlsxwriter worksheet in `constant_memory` mode (rows streamed out as written) and
rows of plain values: text, numbers, booleans and blanks, a text style per column and a number
style per column or per row (the totals sheet gives each indicator its own). Each cell is the
element xlsxwriter writes for `write_string`/`write_number`/`write_boolean`/`write_blank` with
that style (`<c r="B7" s="3" t="inlineStr"><is><t>…</t></is></c>`, control characters as
`_xHHHH_`, whitespace kept, the 32,767-character limit), so a workbook written either way is the
same file (with a row's own number format, styles may be numbered in another order: xlsxwriter
numbers a style when it writes the row, and holds each sheet's last row back); `tests/test_fastrows.py`
holds the two byte for byte, or style for style, and reads the result back with
openpyxl and python-calamine. One difference, on purpose: a text that looks like rich-text XML
(`<r>…</r>`) is escaped like any other, where xlsxwriter would copy it into the sheet unescaped.

Everything else (the header, row heights, freeze panes, column widths, print setup) stays with
xlsxwriter; `supported` says whether a worksheet is one this can write into.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from xlsxwriter.format import Format
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import Worksheet

STRMAX = 32767  # Excel's longest text, in UTF-16 units
_CONTROL_ESCAPED = re.compile("(_x[0-9a-fA-F]{4}_)")
_CONTROL = re.compile(r"([\x00-\x08\x0b-\x1f])")
_EDGE_SPACE = re.compile(r"^\s|\s$")


def supported(ws: Worksheet) -> bool:
    """Rows go straight to the worksheet's row stream, and a row element needs no attributes."""
    return bool(
        ws.constant_memory
        and not ws.row_data_fh_closed
        and ws.excel_version != 2010
        and ws.default_row_height == ws.original_row_height
    )


_SPECIAL = re.compile("[\x00-\x08\x0b-\x1f&<>_\ufffe\uffff]")  # what any step below would change


def _text(s: str) -> str:
    """A text as the inline string element's content and its <t> attribute, as xlsxwriter makes them."""
    if len(s) <= STRMAX // 2 and not _SPECIAL.search(s) and not _EDGE_SPACE.search(s):
        return f"<is><t>{s}</t></is>"  # most texts: nothing to escape, truncate or keep
    if len(s) > STRMAX // 2 and len(s.encode("utf-16-le")) // 2 > STRMAX:
        from xlsxwriter.utility import _utf16_truncate

        s = _utf16_truncate(s, STRMAX)
    s = _CONTROL_ESCAPED.sub(r"_x005F\1", s)
    s = _CONTROL.sub(lambda m: f"_x{ord(m.group(1)):04X}_", s)
    s = s.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
    preserve = ' xml:space="preserve"' if _EDGE_SPACE.search(s) else ""  # after the escapes, as xlsxwriter
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"<is><t{preserve}>{s}</t></is>"


def write_rows(
    ws: Worksheet,
    first: int,
    rows: Sequence[Sequence[Any]],
    text_styles: Sequence[Format | None],
    number_styles: Sequence[Format | None],
    row_number_styles: Sequence[Sequence[Format | None]] | None = None,
) -> None:
    """Rows from row `first` (0-based) down: in each column a number (int or float, finite) takes
    `number_styles` (or, given `row_number_styles`, that row's), anything else `text_styles`; None
    is a blank cell where its style is set and nothing otherwise; a value that is neither text,
    number nor boolean is written as its text."""
    if not rows:
        return
    if first > ws.previous_row:  # the row xlsxwriter holds back (the header) goes out first
        ws._write_single_row(first)
    n_cols = max(len(row) for row in rows)
    letters = [xl_col_to_name(c) for c in range(n_cols)]
    # a style's index is given on its first use, as xlsxwriter gives it: cell by cell, in order
    attr: dict[int, str] = {}  # id of a format -> its s="…" attribute (per-row styles)

    def style(f: Format | None) -> str:
        if f is None:
            return ""
        found = attr.get(id(f))
        if found is None:
            found = attr[id(f)] = f' s="{f._get_xf_index()}"'
        return found

    ts: list[str | None] = [None] * n_cols  # each column's attribute, made at its first use
    ns: list[str | None] = [None] * n_cols
    texts: dict[str, str] = {}  # county names, codes and file names come again and again
    out: list[str] = []
    write = out.append
    for r, row in enumerate(rows, start=first + 1):
        write(f'<row r="{r}">')
        own = None if row_number_styles is None else row_number_styles[r - first - 1]
        for c, v in enumerate(row):
            if type(v) is str or (v is None and text_styles[c] is not None):
                s = ts[c]
                if s is None:
                    s = ts[c] = style(text_styles[c])
                if v is None:
                    write(f'<c r="{letters[c]}{r}"{s}/>')
                    continue
                body = texts.get(v)
                if body is None:
                    body = texts[v] = _text(v)
                write(f'<c r="{letters[c]}{r}"{s} t="inlineStr">{body}</c>')
            elif v is None:
                continue
            elif isinstance(v, int | float):
                if own is not None:
                    s = style(own[c])
                else:
                    s = ns[c]
                    if s is None:
                        s = ns[c] = style(number_styles[c])
                if isinstance(v, bool):
                    write(f'<c r="{letters[c]}{r}"{s} t="b"><v>{int(v)}</v></c>')
                elif isinstance(v, float) and not math.isfinite(v):
                    write(f'<c r="{letters[c]}{r}"{s} t="inlineStr">{_text(str(v))}</c>')
                else:
                    write(f'<c r="{letters[c]}{r}"{s}><v>{v:.16G}</v></c>')
            else:
                s = ts[c]
                if s is None:
                    s = ts[c] = style(text_styles[c])
                write(f'<c r="{letters[c]}{r}"{s} t="inlineStr">{_text(str(v))}</c>')
        write("</row>")
        if len(out) > 50_000:
            ws.fh.write("".join(out))
            out.clear()
    ws.fh.write("".join(out))
    last = first + len(rows) - 1
    ws._check_dimensions(first, 0)
    ws._check_dimensions(last, n_cols - 1)
    ws.previous_row = last  # nothing of it is held back
