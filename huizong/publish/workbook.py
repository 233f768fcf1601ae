"""The consolidated workbook 汇总_<region>_<period>.xlsx and the reporting status 报送情况_<region>.xlsx,
in Chinese, for the analyst; new files, written with xlsxwriter (a streaming writer, several times
faster than openpyxl for tables of thousands of rows; openpyxl stays for editing a county's file).

Sheets: 汇总 (totals), 分县区 (indicator × county) or, above a prefecture, 分地区 (indicator ×
division), 报送情况, 问题清单, 项目明细, 通报排名, 图表 (native Excel charts), 更正记录, 数据来源
(every number back to its file and cell). County text is always written as text: a cell a county
filled with `=HYPERLINK(...)` never becomes a formula here.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from huizong.catalog import FormConfig, Indicator
from huizong.formats import AMOUNT
from huizong.ledger.standing import Counted
from huizong.publish import fastrows
from huizong.publish.reporting import Matrix
from huizong.publish.style import (
    BORDER_COLOR,
    HEAD_COLOR,
    PCT,
    SEVERITY_ZH,
    TOTAL_COLOR,
    number_format,
)
from huizong.publish.view import STATUS_ZH, RegionPeriod
from huizong.read.periods import parse_token

OPTIONS = {
    "constant_memory": True,  # rows go out as written, strings inline: every sheet is written top to bottom
    "strings_to_numbers": False,  # what a county wrote as text stays text
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "nan_inf_to_errors": True,
}
BORDERED_ROWS = 2000  # past this, body cells get no borders (a table of 100,000 rows prints as a list)


class _RowsInMemory(Worksheet):
    """A worksheet in `constant_memory` mode whose rows stream into memory, not into a temporary
    file of their own: the file was created, written, read back and removed for every sheet of
    every workbook (ten a workbook, hundreds of workbooks a national run), and its UTF-8 encoded
    and decoded once more than the package needs. The rows still go out as written (a row at a
    time, strings inline), and the sheet is the one xlsxwriter writes, byte for byte
    (`tests/test_fastrows.py`); the workbook's parts are zipped from memory anyway (`Book`)."""

    def _initialize(self, init_data: dict[str, Any]) -> None:
        super()._initialize({**init_data, "constant_memory": False})  # no temporary file
        self.constant_memory = True
        self.row_data_fh = self.fh = io.StringIO()

    def _opt_close(self) -> None:  # the rows stay where they are until the sheet is assembled
        self.row_data_fh_closed = True

    def _opt_reopen(self) -> None:
        if self.row_data_fh_closed:
            self.row_data_fh_closed = False
            self.fh = self.row_data_fh

    def _write_optimized_sheet_data(self) -> None:  # xlsxwriter's, from memory
        if self.dim_rowmin is None:
            self._xml_empty_tag("sheetData")
        else:
            self._xml_start_tag("sheetData")
            self.fh.write(self.row_data_fh.getvalue())
            self.row_data_fh = io.StringIO()
            self._xml_end_tag("sheetData")


class Book:
    """An xlsxwriter workbook and the few formats every sheet uses, made once each."""

    sheet_class: type[Worksheet] = _RowsInMemory

    def __init__(self, path: Path) -> None:
        self.wb = xlsxwriter.Workbook(str(path), OPTIONS)
        # the package's parts (workbook, styles, charts, each sheet's XML) assembled in memory and
        # zipped from there, not as a dozen temporary files each: creating and removing files was
        # a quarter of a national run's publishing. Set after construction, since xlsxwriter turns
        # constant_memory off when asked for both (each sheet's rows stream on: `_RowsInMemory`).
        self.wb.in_memory = True
        self._formats: dict[tuple[str, bool, str], Format] = {}
        self.title = self.wb.add_format({"bold": True, "font_size": 14})
        self.bold = self.wb.add_format({"bold": True})
        self.head = self.wb.add_format(
            {
                "bold": True,
                "bg_color": HEAD_COLOR,
                "border": 1,
                "border_color": BORDER_COLOR,
                "align": "center",
                "valign": "vcenter",
                "text_wrap": True,
            }
        )

    def fmt(self, num: str = "", border: bool = False, fill: str = "") -> Format | None:
        if not (num or border or fill):
            return None
        key = (num, border, fill)
        if key not in self._formats:
            spec: dict[str, Any] = {}
            if num:
                spec["num_format"] = num
            if border:
                spec.update(border=1, border_color=BORDER_COLOR)
            if fill:
                spec["bg_color"] = fill
            self._formats[key] = self.wb.add_format(spec)
        return self._formats[key]

    def sheet(self, name: str) -> Worksheet:
        return self.wb.add_worksheet(name, worksheet_class=self.sheet_class)

    def close(self) -> None:
        self.wb.close()


def put(ws: Worksheet, row: int, col: int, value: object, fmt: Format | None = None) -> None:
    """One cell, 0-based: numbers as numbers, everything else as text; None leaves it blank."""
    if value is None:
        if fmt is not None:
            ws.write_blank(row, col, None, fmt)
    elif isinstance(value, bool):
        ws.write_boolean(row, col, value, fmt)
    elif isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            ws.write_string(row, col, str(value), fmt)
        else:
            ws.write_number(row, col, value, fmt)
    else:
        ws.write_string(row, col, str(value), fmt)


def table(
    book: Book,
    ws: Worksheet,
    top: int,
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    formats: dict[int, str] | None = None,
    widths: Sequence[float] | None = None,
    print_titles: bool = True,
    row_formats: Sequence[dict[int, str]] | None = None,
    fills: dict[int, str] | None = None,
) -> int:
    """A header row at row `top` (1-based, as Excel counts) and the rows under it; returns the next
    free row (1-based). `formats`: column (1-based) → number format; `row_formats`: the same per
    row; `fills`: column → background colour."""
    h = top - 1
    if any(len(str(x)) > 8 for x in headers):
        ws.set_row(h, 45)  # room for wrapped headers
    for c, text in enumerate(headers):
        ws.write_string(h, c, str(text), book.head)
    bordered = len(rows) <= BORDERED_ROWS
    formats = formats or {}
    fills = fills or {}
    n_cols = max((len(row) for row in rows), default=0)
    text_fmt = [book.fmt("", bordered, fills.get(c, "")) for c in range(1, n_cols + 1)]  # per column, made once
    num_fmt = [book.fmt(formats.get(c, ""), bordered, fills.get(c, "")) for c in range(1, n_cols + 1)]
    slow = rows
    if fastrows.supported(ws):  # the same cells, written as their XML at once
        per_row_fmt = (
            [
                [
                    book.fmt(pr[c], bordered, fills.get(c, "")) if pr.get(c) else num_fmt[c - 1]
                    for c in range(1, n_cols + 1)
                ]
                for pr in row_formats
            ]
            if row_formats
            else None
        )
        fastrows.write_rows(ws, h + 1, rows, text_fmt, num_fmt, per_row_fmt)
        slow = ()
    write_string = ws.write_string
    for r, row in enumerate(slow, start=h + 1):
        per_row = row_formats[r - h - 1] if row_formats else None
        for c, v in enumerate(row):
            if type(v) is str:  # most cells: text, written as text
                write_string(r, c, v, text_fmt[c])
            elif per_row and isinstance(v, int | float) and per_row.get(c + 1):
                put(ws, r, c, v, book.fmt(per_row[c + 1], bordered, fills.get(c + 1, "")))
            else:
                put(ws, r, c, v, num_fmt[c] if isinstance(v, int | float) else text_fmt[c])
    ws.freeze_panes(h + 1, 0)
    print_setup(ws, top if print_titles else None)
    for c, width in enumerate(widths or []):
        ws.set_column(c, c, width)
    return top + 1 + len(rows)


def print_setup(ws: Worksheet, header_row: int | None) -> None:
    """Landscape A4, as wide as one page, the header row (1-based) repeated on every page."""
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    if header_row is not None:
        ws.repeat_rows(header_row - 1)


def _title(book: Book, ws: Worksheet, text: str, sub: str | None = None) -> int:
    ws.write_string(0, 0, text, book.title)
    if sub:
        ws.write_string(1, 0, sub)
    return 4


def write_consolidated(view: RegionPeriod, config: FormConfig, path: Path) -> None:
    book = Book(path)
    period = parse_token(view.period)
    head = f"{view.region.name}{period.zh}{view.form.title if view.form else '汇总表'}"
    missing = [s.county.name for s in view.statuses if s.status != Counted.ACCEPTED]
    if len(missing) > 30:  # a province or the nation: the names are in 报送情况
        left = f"；未纳入 {len(missing):,} 个县区（见“报送情况”，汇总数为部分数）"
    else:
        left = f"；未纳入：{'、'.join(missing)}（汇总数为部分数）" if missing else "；全部纳入"
    sub = f"应报 {len(view.counties):,} 个县区，已报 {view.n_reported:,} 个" + left
    _summary(book, view, config, head, sub, view.basis)
    if view.parts is None:
        _by_county(book, view, config, head)
    else:
        _by_part(book, view, config, head)
    _status(book, view)
    _issues(book, view)
    # a city: every record (contract, project) and every number's source are listed here; above it
    # they are in the cities' workbooks, and a chart of 2,849 bars helps nobody
    local = view.parts is None
    if local and view.records is not None:
        _records(book, view)
    _ranking(book, view, config)
    if local:
        _charts(book, view, config)
    _revisions(book, view, config)
    if local:
        _provenance(book, view, config)
    book.close()


def _summary(book: Book, view: RegionPeriod, config: FormConfig, head: str, sub: str, basis: str | None = None) -> None:
    ws = book.sheet("汇总")
    top = _title(book, ws, head, sub)
    if basis:
        ws.write_string(2, 0, basis)
    rows, per_row = [], []
    for n, t in enumerate(view.totals, start=1):
        ind = config.catalog[t.code]
        rows.append(
            [
                n,
                t.code,
                ind.group,
                t.name,
                t.unit,
                t.target,
                t.value,
                t.last_year,
                t.yoy_pct,
                t.completion_pct,
                t.n_reported,
                t.n_expected,
            ]
        )
        fmt = number_format(ind)
        per_row.append({6: fmt, 7: fmt, 8: fmt})
    w = config.form.role_labels
    headers = [
        w["seq"],
        w["code"],
        "类别",
        w["name"],
        w["unit"],
        w["target"],
        w["value"],
        w["last_year"],
        "同比增长(%)",
        "目标完成率(%)",
        "已报县区数",
        "应报县区数",
    ]
    end = table(
        book,
        ws,
        top,
        headers,
        rows,
        {9: PCT, 10: PCT},
        [6, 9, 10, 34, 10, 14, 14, 14, 12, 13, 10, 10],
        row_formats=per_row,
    )
    ws.write_string(
        end,
        0,
        "说明：比率类指标（研发投入强度等）由各县区分子、分母合计后重新计算，不取平均；"
        "同比增长、完成率按同时填报两项数据的县区计算（可比口径）。",
    )


def _matrix(
    book: Book,
    view: RegionPeriod,
    config: FormConfig,
    name: str,
    head: str,
    sub: str,
    columns: Sequence[str],
    values: list[list[object]],
    extra: list[object] | None = None,
) -> None:
    """Indicators down, `columns` across, the region's total last (filled)."""
    ws = book.sheet(name)
    top = _title(book, ws, head, sub)
    w = config.form.role_labels
    headers = [w["code"], w["name"], w["unit"], *columns, f"{view.region.name}合计"]
    rows: list[list[object]] = [
        [t.code, t.name, t.unit, *vals, t.value] for t, vals in zip(view.totals, values, strict=True)
    ]
    per_row = [dict.fromkeys(range(4, 5 + len(columns)), number_format(config.catalog[t.code])) for t in view.totals]
    if extra is not None:
        rows.append(extra)
        per_row.append({})
    table(
        book,
        ws,
        top,
        headers,
        rows,
        None,
        [9, 34, 10, *[12] * len(columns), 14],
        row_formats=per_row,
        fills={4 + len(columns): TOTAL_COLOR},
    )
    ws.freeze_panes(top, 3)


def _by_county(book: Book, view: RegionPeriod, config: FormConfig, head: str) -> None:
    values: dict[tuple[str, str], float] = {}
    for f in view.facts:
        if f["column"] == "value" and f["number"] is not None:
            values[(f["indicator"], f["county_code"])] = f["number"]
    cells: list[list[object]] = [[values.get((t.code, c.code)) for c in view.counties] for t in view.totals]
    _matrix(
        book,
        view,
        config,
        "分县区",
        head + "（分县区）",
        "单位见“计量单位”列；空白为未报或未纳入",
        [c.name for c in view.counties],
        cells,
    )


def _by_part(book: Book, view: RegionPeriod, config: FormConfig, head: str) -> None:
    """Above a prefecture: the divisions under the region × indicators, each from its counties'
    returns, and how many of each one's counties are in."""
    parts = view.parts or []
    cells: list[list[object]] = [[p.totals[t.code].value for p in parts] for t in view.totals]
    counts: list[object] = [
        "",
        "已报/应报县区数",
        "个",
        *[f"{p.n_reported}/{p.n_expected}" for p in parts],
        f"{view.n_reported}/{len(view.counties)}",
    ]
    _matrix(
        book,
        view,
        config,
        "分地区",
        head + "（分地区）",
        "各地区数据由所辖县区报表直接汇总（比率由分子分母重新计算）；空白为无县区报送",
        [p.division.name for p in parts],
        cells,
        counts,
    )


def _status(book: Book, view: RegionPeriod) -> None:
    ws = book.sheet("报送情况")
    top = _title(book, ws, f"{view.region.name}{parse_token(view.period).zh}报送情况")
    rows = []
    for s in view.statuses:
        sub: dict[str, Any] = s.submission or {}
        rows.append(
            [
                s.county.code,
                s.county.name,
                STATUS_ZH[s.status],
                sub.get("file"),
                sub.get("received_at"),
                sub.get("errors"),
                sub.get("warnings"),
                sub.get("reason"),
                len(s.history),
            ]
        )
    headers = ["区划代码", "县区", "状态", "文件", "接收时间", "错误数", "警告数", "说明", "报送次数"]
    r = table(book, ws, top, headers, rows, None, [10, 18, 10, 36, 22, 8, 8, 60, 9]) + 2
    ws.write_string(r - 1, 0, "全部报送记录", book.bold)
    hist = [
        [
            s["id"],
            s["county_code"],
            s["file"],
            STATUS_ZH.get(s["status"], s["status"]),
            s["received_at"],
            s["errors"],
            s["warnings"],
            s["reason"],
            s["stored_as"],
        ]
        for s in view.submissions
    ]
    headers = ["编号", "区划代码", "文件", "状态", "接收时间", "错误数", "警告数", "说明", "原件存放"]
    table(book, ws, r + 1, headers, hist, print_titles=False)
    ws.freeze_panes(top, 0)


def _issues(book: Book, view: RegionPeriod) -> None:
    ws = book.sheet("问题清单")
    top = _title(book, ws, "问题清单", "错误：报表被退回；警告：已接收，请核实")
    rows = [
        [
            i["submission"]["county_code"],
            i["submission"]["file"],
            STATUS_ZH.get(i["submission"]["status"]),
            SEVERITY_ZH.get(i["severity"], i["severity"]),
            i["code"],
            i["sheet"],
            i["cell"],
            i["indicator"],
            i["message"],
            i["value"],
            i.get("explanation"),
        ]
        for i in view.issues
    ]
    headers = [
        "区划代码",
        "文件",
        "报表状态",
        "级别",
        "规则",
        "工作表",
        "单元格",
        "指标",
        "问题说明",
        "填报值",
        "县区说明",
    ]
    table(book, ws, top, headers, rows, None, [10, 30, 10, 7, 26, 10, 8, 7, 70, 16, 30])


def _records(book: Book, view: RegionPeriod) -> None:
    """The form's list (contracts, projects): the records of the accepted returns, a column per field."""
    form = view.form
    assert form is not None and form.list is not None
    ws = book.sheet(form.list.title[:31])
    top = _title(book, ws, f"{form.list.title}（已接收报表）")
    names = {c.code: c.name for c in view.counties}
    fields = [f for f in form.list.fields if f.type != "seq"]
    rows = [
        [
            names.get(r["county_code"], r["county_code"]),
            r["period"],
            *(r["data"].get(f.code) for f in fields),
            f"{r['sheet']}!{r['row']}",
        ]
        for r in view.records or []
    ]
    headers = ["县区", "报告期", *(f"{f.name}（{f.unit}）" if f.unit else f.name for f in fields), "来源行"]
    formats = {n: AMOUNT for n, f in enumerate(fields, start=2) if f.type in ("number", "integer")}
    widths = [12, 9, *(14 if f.type in ("number", "integer", "date") else 24 for f in fields), 14]
    table(book, ws, top, headers, rows, formats, widths)


def _ranking(book: Book, view: RegionPeriod, config: FormConfig) -> None:
    ws = book.sheet("通报排名")
    top = _title(
        book,
        ws,
        f"{view.region.name}{parse_token(view.period).zh}重点指标通报排名",
        f"按{config.form.role_labels['value']}从高到低排名",
    )
    values = view.values  # the view's one index of its facts: column -> indicator -> county -> number
    names = {c.code: c.name for c in view.counties}
    rows: list[list[object]] = []

    def reported(code: str, column: str) -> Mapping[str, float]:
        return values[column].get(code, {}) if column in values else {}

    def recomputed(ind: Indicator, column: str) -> Mapping[str, float]:
        """A ratio from its parts, as 汇总 makes it (never the county's own ratio); else as reported."""
        if not ind.is_ratio:
            return reported(ind.code, column)
        num, den = reported(ind.numerator or "", column), reported(ind.denominator or "", column)
        m = float(ind.multiplier or 1)
        return {c: m * num[c] / den[c] for c in num if den.get(c)}

    for ind in (i for i in config.catalog if i.key):
        vals = recomputed(ind, "value")
        if not vals:
            continue
        counties = list(vals)
        n = len(counties)
        v = np.fromiter(vals.values(), float, n)
        targets, lasts = recomputed(ind, "target"), recomputed(ind, "last_year")
        t = np.fromiter((targets.get(c, 0.0) for c in counties), float, n)
        last = np.fromiter((lasts.get(c, 0.0) for c in counties), float, n)
        order = np.argsort(-v, kind="stable")  # highest first; a tie keeps the order the facts came in
        v, t, last = v[order], t[order], last[order]
        # no target or last year: no rate (NaN here, None in the sheet)
        completion = np.divide(v, t, out=np.full(n, np.nan), where=t != 0) * 100
        yoy = (np.divide(v, last, out=np.full(n, np.nan), where=last != 0) - 1) * 100
        # Python's round, which rounds the float's exact value (numpy's scales by 100 first)
        rows += [
            [ind.name, ind.unit, rank, names.get(counties[k], counties[k]), x, _round2(cp), _round2(y)]
            for rank, (k, x, cp, y) in enumerate(
                zip(order.tolist(), v.tolist(), completion.tolist(), yoy.tolist(), strict=True), start=1
            )
        ]
    w = config.form.role_labels
    headers = ["指标", w["unit"], "名次", "县区", w["value"], "目标完成率(%)", "同比增长(%)"]
    table(book, ws, top, headers, rows, {5: AMOUNT, 6: PCT, 7: PCT}, [34, 10, 6, 18, 14, 13, 12])


def _round2(x: float) -> float | None:
    return None if x != x else round(x, 2)  # NaN: no rate


def _charts(book: Book, view: RegionPeriod, config: FormConfig) -> None:
    """Native Excel column charts of the key indicators by county, and of their completion %."""
    name = "图表"
    ws = book.sheet(name)
    _title(book, ws, "重点指标分县区图表")
    keys = [i for i in config.catalog if i.key and not i.is_ratio]
    index = view.values
    values = {k.code: index["value"].get(k.code, {}) if "value" in index else {} for k in keys}
    targets = {k.code: index["target"].get(k.code, {}) if "target" in index else {} for k in keys}
    top = 4
    rows = [[c.name, *[values[k.code].get(c.code) for k in keys]] for c in view.counties]
    widths = [18, *[14] * len(keys)]
    table(book, ws, top, ["县区", *[f"{k.name}（{k.unit}）" for k in keys]], rows, None, widths, print_titles=False)
    comp_top = top + len(rows) + 3
    comp_rows = []
    for c in view.counties:
        row: list[object] = [c.name]
        for k in keys:
            v, t = values[k.code].get(c.code), targets[k.code].get(c.code)
            row.append(round(v / t * 100, 2) if v is not None and t else None)
        comp_rows.append(row)
    table(
        book, ws, comp_top, ["县区", *[f"{k.name}完成率(%)" for k in keys]], comp_rows, None, widths, print_titles=False
    )
    ws.freeze_panes(0, 0)
    n = len(view.counties)
    if n == 0:
        return
    first, comp_first = top, comp_top  # 0-based rows of the first county in each table
    anchor = comp_top + n + 3
    for i, k in enumerate(keys):
        chart = book.wb.add_chart({"type": "column"})
        chart.add_series(
            {
                "name": [name, top - 1, 1 + i],
                "categories": [name, first, 0, first + n - 1, 0],
                "values": [name, first, 1 + i, first + n - 1, 1 + i],
            }
        )
        chart.set_title({"name": f"{k.name}（{k.unit}）"})
        chart.set_legend({"none": True})
        chart.set_size({"width": 460, "height": 270})
        ws.insert_chart(anchor - 1 + (i // 2) * 15, 0 if i % 2 == 0 else 7, chart)
    comp = book.wb.add_chart({"type": "column"})
    for i in range(len(keys)):
        comp.add_series(
            {
                "name": [name, comp_top - 1, 1 + i],
                "categories": [name, comp_first, 0, comp_first + n - 1, 0],
                "values": [name, comp_first, 1 + i, comp_first + n - 1, 1 + i],
            }
        )
    comp.set_title({"name": "重点指标目标完成率（%）"})
    comp.set_size({"width": 900, "height": 380})
    ws.insert_chart(anchor - 1 + ((len(keys) + 1) // 2) * 15, 0, comp)


def write_reporting_workbook(path: Path, m: Matrix, region_name: str) -> None:
    """报送情况_<region>.xlsx: county × period against today (refreshed by every run)."""
    book = Book(path)
    ws = book.sheet("报送率")
    top = _title(
        book, ws, f"{region_name}各县区报送情况（报送率）", "按时：首个可接收版本在截止日前到达；更正不影响按时"
    )
    periods = m.periods
    h = top - 1
    headers = ["县区", *[parse_token(p).zh for p in periods]]
    for c, text in enumerate(headers):
        ws.write_string(h, c, text, book.head)
    r = h + 1
    for county in m.counties:
        ws.write_string(r, 0, county.name, book.fmt(border=True))
        for c, p in enumerate(periods, start=1):
            status = m.cells[(county.code, p)].status
            ws.write_string(r, c, status.zh, book.fmt(border=True, fill=status.fill))
        r += 1
    for label, cells in (
        ("截止日期", [m.due(p).strftime("%Y-%m-%d") for p in periods]),
        ("按时/已报/应报", ["/".join(str(x) for x in m.rate(p)) for p in periods]),
    ):
        ws.write_string(r, 0, label, book.fmt(border=True))
        for c, text in enumerate(cells, start=1):
            ws.write_string(r, c, text, book.fmt(border=True))
        r += 1
    ws.set_column(0, 0, 18)
    ws.set_column(1, max(1, len(periods)), 14)
    ws.freeze_panes(top, 1)
    print_setup(ws, top)
    book.close()


def _revisions(book: Book, view: RegionPeriod, config: FormConfig) -> None:
    ws = book.sheet("更正记录")
    top = _title(book, ws, "更正记录", "县区报送更正后，与被替代报表逐项比较的变化（目录单位）")
    subs = {s["id"]: s for s in view.submissions}
    rows = []
    for r in view.revisions or []:
        new, old = subs.get(r["submission_id"], {}), subs.get(r["previous_id"], {})
        ind = config.catalog.by_code.get(r["indicator"])
        rows.append(
            [
                new.get("county_code"),
                r["indicator"],
                ind.name if ind else "",
                config.form.role_labels.get(r["column"], r["column"]),
                r["old"],
                r["new"],
                r["cell"],
                old.get("file"),
                new.get("file"),
            ]
        )
    w = config.form.role_labels
    headers = ["区划代码", w["code"], w["name"], "栏目", "原数值", "更正后", "单元格", "原报表", "更正报表"]
    table(book, ws, top, headers, rows, {5: "#,##0.####", 6: "#,##0.####"}, [10, 9, 30, 10, 14, 14, 8, 30, 30])


def _provenance(book: Book, view: RegionPeriod, config: FormConfig) -> None:
    ws = book.sheet("数据来源")
    top = _title(book, ws, "数据来源", "每个数据对应的报送文件、工作表和单元格")
    names = {c.code: c.name for c in view.counties}
    rows = [
        [
            names.get(f["county_code"]),
            f["indicator"],
            config.catalog[f["indicator"]].name if f["indicator"] in config.catalog.by_code else "",
            config.form.role_labels.get(f["column"], f["column"]),
            f["number"],
            f["raw"],
            f["unit_written"],
            f["flags"],
            f["file"],
            f["sheet"],
            f["cell"],
        ]
        for f in view.facts
    ]
    w = config.form.role_labels
    headers = [
        "县区",
        w["code"],
        w["name"],
        "栏目",
        "数值（目录单位）",
        "原始填报",
        "填报单位",
        "标记",
        "文件",
        "工作表",
        "单元格",
    ]
    table(book, ws, top, headers, rows, {5: "#,##0.####"}, [14, 9, 30, 10, 16, 16, 10, 14, 34, 10, 8])
