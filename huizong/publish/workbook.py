"""The consolidated workbook 汇总_<city>_<period>.xlsx, in Chinese, for the analyst.

Sheets: 汇总 (city totals), 分县区 (indicator × county with the city total), 报送情况,
问题清单, 项目明细, 通报排名, 图表 (native Excel charts), 数据来源 (every number back to
its file and cell).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from huizong.catalog import Config, Indicator
from huizong.publish.files import FORMULA_START
from huizong.publish.reporting import ZH, Matrix
from huizong.publish.view import STATUS_ZH, CityPeriod
from huizong.read.model import COLUMN_ZH
from huizong.read.periods import parse_token

HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")
TOTAL_FILL = PatternFill("solid", fgColor="FFF2CC")
THIN = Side(style="thin", color="A6A6A6")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=14)
PCT = "0.00"
SEVERITY_ZH = {"error": "错误", "warning": "警告"}


def number_format(ind: Indicator) -> str:
    if ind.integer:
        return "#,##0"
    if ind.unit == "%":
        return "0.00"
    return "#,##0.00"


def put(ws: Worksheet, row: int, col: int, value: object):
    """Write a value; county text that Excel would run as a formula stays plain text."""
    cell = ws.cell(row=row, column=col, value=value)
    if isinstance(value, str) and value.startswith(FORMULA_START):
        cell.data_type = "s"
    return cell


BORDERED_ROWS = 300  # past this, body cells get no borders: openpyxl styles cell by cell, slowly


def table(ws: Worksheet, top: int, headers: Sequence[str], rows: Sequence[Sequence[object]],
           formats: dict[int, str] | None = None, widths: Sequence[float] | None = None,
           print_titles: bool = True) -> int:  # fmt: skip
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


def _title(ws: Worksheet, text: str, sub: str | None = None) -> int:
    ws["A1"] = text
    ws["A1"].font = TITLE
    if sub:
        ws["A2"] = sub
    return 4


def write_consolidated(view: CityPeriod, config: Config, path: Path) -> None:
    wb = Workbook()
    period = parse_token(view.period)
    head = f"{view.city.name}{period.zh}科技创新主要指标汇总表"
    missing = [s.county.name for s in view.statuses if s.status != "accepted"]
    if len(missing) > 30:  # a province or the nation: the names are in 报送情况
        left = f"；未纳入 {len(missing):,} 个县区（见“报送情况”，汇总数为部分数）"
    else:
        left = f"；未纳入：{'、'.join(missing)}（汇总数为部分数）" if missing else "；全部纳入"
    sub = f"应报 {len(view.counties):,} 个县区，已报 {view.n_reported:,} 个" + left
    _summary(wb.active, view, config, head, sub)
    if view.parts is None:
        _by_county(wb.create_sheet("分县区"), view, config, head)
    else:
        _by_part(wb.create_sheet("分地区"), view, config, head)
    _status(wb.create_sheet("报送情况"), view)
    _issues(wb.create_sheet("问题清单"), view)
    local = view.parts is None  # a city: every project and every number's source are listed here;
    if local:  # above it they are in the cities' workbooks, and a chart of 2,849 bars helps nobody
        _projects(wb.create_sheet("项目明细"), view)
    _ranking(wb.create_sheet("通报排名"), view, config)
    if local:
        _charts(wb.create_sheet("图表"), view, config)
    _revisions(wb.create_sheet("更正记录"), view, config)
    if local:
        _provenance(wb.create_sheet("数据来源"), view, config)
    wb.save(path)


def _summary(ws: Worksheet, view: CityPeriod, config: Config, head: str, sub: str) -> None:
    ws.title = "汇总"
    top = _title(ws, head, sub)
    rows = []
    for n, t in enumerate(view.totals, start=1):
        ind = config.catalog[t.code]
        rows.append([n, t.code, ind.group, t.name, t.unit, t.target, t.value, t.last_year, t.yoy_pct,
                     t.completion_pct, t.n_reported, t.n_expected])  # fmt: skip
    headers = ["序号", "指标代码", "类别", "指标名称", "计量单位", "年度目标", "本期累计", "上年同期", "同比增长(%)",
               "目标完成率(%)", "已报县区数", "应报县区数"]  # fmt: skip
    table(ws, top, headers, rows, {9: PCT, 10: PCT}, [6, 9, 10, 34, 10, 14, 14, 14, 12, 13, 10, 10])
    for r, t in enumerate(view.totals, start=top + 1):
        fmt = number_format(config.catalog[t.code])
        for c in (6, 7, 8):
            ws.cell(row=r, column=c).number_format = fmt
    ws.cell(row=top + len(rows) + 2, column=1,
            value="说明：比率类指标（研发投入强度等）由各县区分子、分母合计后重新计算，不取平均；"
                  "同比增长、完成率按同时填报两项数据的县区计算（可比口径）。")  # fmt: skip


def _by_county(ws: Worksheet, view: CityPeriod, config: Config, head: str) -> None:
    top = _title(ws, head + "（分县区）", "单位见“计量单位”列；空白为未报或未纳入")
    values: dict[tuple[str, str], float] = {}
    for f in view.facts:
        if f["column"] == "value" and f["number"] is not None:
            values[(f["indicator"], f["county_code"])] = f["number"]
    headers = ["指标代码", "指标名称", "计量单位", *[c.name for c in view.counties], f"{view.city.name}合计"]
    rows = []
    for t in view.totals:
        rows.append([t.code, t.name, t.unit, *[values.get((t.code, c.code)) for c in view.counties], t.value])
    table(ws, top, headers, rows, None, [9, 34, 10, *[12] * len(view.counties), 14])
    for r, t in enumerate(view.totals, start=top + 1):
        fmt = number_format(config.catalog[t.code])
        for c in range(4, 5 + len(view.counties)):
            ws.cell(row=r, column=c).number_format = fmt
        ws.cell(row=r, column=4 + len(view.counties)).fill = TOTAL_FILL
    ws.freeze_panes = ws.cell(row=top + 1, column=4)


def _by_part(ws: Worksheet, view: CityPeriod, config: Config, head: str) -> None:
    """Above a prefecture: the divisions under the region × indicators, each from its counties'
    returns, and how many of each one's counties are in."""
    parts = view.parts or []
    top = _title(
        ws, head + "（分地区）", "各地区数据由所辖县区报表直接汇总（比率由分子分母重新计算）；空白为无县区报送"
    )
    headers = ["指标代码", "指标名称", "计量单位", *[p.division.name for p in parts], f"{view.city.name}合计"]
    rows = [[t.code, t.name, t.unit, *[p.totals[t.code].value for p in parts], t.value] for t in view.totals]
    rows.append(["", "已报/应报县区数", "个", *[f"{p.n_reported}/{p.n_expected}" for p in parts],
                 f"{view.n_reported}/{len(view.counties)}"])  # fmt: skip
    table(ws, top, headers, rows, None, [9, 34, 10, *[12] * len(parts), 14])
    for r, t in enumerate(view.totals, start=top + 1):
        fmt = number_format(config.catalog[t.code])
        for c in range(4, 5 + len(parts)):
            ws.cell(row=r, column=c).number_format = fmt
        ws.cell(row=r, column=4 + len(parts)).fill = TOTAL_FILL
    ws.freeze_panes = ws.cell(row=top + 1, column=4)


def _status(ws: Worksheet, view: CityPeriod) -> None:
    top = _title(ws, f"{view.city.name}{parse_token(view.period).zh}报送情况")
    rows = []
    for s in view.statuses:
        sub: dict[str, Any] = s.submission or {}
        rows.append([s.county.code, s.county.name, STATUS_ZH[s.status], sub.get("file"), sub.get("received_at"),
                     sub.get("errors"), sub.get("warnings"), sub.get("reason"), len(s.history)])  # fmt: skip
    headers = ["区划代码", "县区", "状态", "文件", "接收时间", "错误数", "警告数", "说明", "报送次数"]
    table(ws, top, headers, rows, None, [10, 18, 10, 36, 22, 8, 8, 60, 9])
    r = top + len(rows) + 3
    ws.cell(row=r, column=1, value="全部报送记录").font = BOLD
    hist = [[s["id"], s["county_code"], s["file"], STATUS_ZH.get(s["status"], s["status"]), s["received_at"],
             s["errors"], s["warnings"], s["reason"], s["stored_as"]] for s in view.submissions]  # fmt: skip
    table(ws, r + 1, ["编号", "区划代码", "文件", "状态", "接收时间", "错误数", "警告数", "说明", "原件存放"], hist)
    ws.freeze_panes = ws.cell(row=top + 1, column=1)


def _issues(ws: Worksheet, view: CityPeriod) -> None:
    top = _title(ws, "问题清单", "错误：报表被退回；警告：已接收，请核实")
    rows = [[i["submission"]["county_code"], i["submission"]["file"], STATUS_ZH.get(i["submission"]["status"]),
             SEVERITY_ZH.get(i["severity"], i["severity"]), i["code"], i["sheet"], i["cell"], i["indicator"],
             i["message"], i["value"], i.get("explanation")] for i in view.issues]  # fmt: skip
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
    table(ws, top, headers, rows, None, [10, 30, 10, 7, 26, 10, 8, 7, 70, 16, 30])


def _projects(ws: Worksheet, view: CityPeriod) -> None:
    top = _title(ws, "项目明细（已接收报表）")
    county_of = {s.submission["id"]: s.county for s in view.statuses if s.submission}
    rows = []
    for p in view.projects:
        c = county_of.get(p["submission_id"])
        rows.append([c.name if c else "", p["name"], p["org"], p["uscc"], p["category"], p["status"], p["funds"],
                     p["note"], f"{p['sheet']}!{p['row']}"])  # fmt: skip
    headers = [
        "县区",
        "项目名称",
        "承担单位",
        "统一社会信用代码",
        "项目类别",
        "状态",
        "到位资金（万元）",
        "备注",
        "来源行",
    ]
    table(ws, top, headers, rows, {7: "#,##0.00"}, [14, 40, 30, 22, 22, 8, 14, 20, 14])


def _ranking(ws: Worksheet, view: CityPeriod, config: Config) -> None:
    top = _title(ws, f"{view.city.name}{parse_token(view.period).zh}重点指标通报排名", "按本期累计从高到低排名")
    cols: dict[str, dict[str, dict[str, float]]] = {}
    for f in view.facts:
        if f["number"] is not None:
            cols.setdefault(f["column"], {}).setdefault(f["indicator"], {})[f["county_code"]] = f["number"]
    names = {c.code: c.name for c in view.counties}
    rows = []
    for ind in (i for i in config.catalog if i.key):
        vals = cols.get("value", {}).get(ind.code, {})
        if ind.is_ratio:
            num = cols.get("value", {}).get(ind.numerator or "", {})
            den = cols.get("value", {}).get(ind.denominator or "", {})
            vals = {c: float(ind.multiplier or 1) * num[c] / den[c] for c in num if den.get(c)}
        ranked = sorted(vals.items(), key=lambda kv: -kv[1])
        for rank, (county, v) in enumerate(ranked, start=1):
            target = cols.get("target", {}).get(ind.code, {}).get(county)
            last = cols.get("last_year", {}).get(ind.code, {}).get(county)
            completion = round(v / target * 100, 2) if target else None
            yoy = round((v / last - 1) * 100, 2) if last else None
            rows.append([ind.name, ind.unit, rank, names.get(county, county), v, completion, yoy])
    headers = ["指标", "计量单位", "名次", "县区", "本期累计", "目标完成率(%)", "同比增长(%)"]
    table(ws, top, headers, rows, {5: "#,##0.00", 6: PCT, 7: PCT}, [34, 10, 6, 18, 14, 13, 12])


def _charts(ws: Worksheet, view: CityPeriod, config: Config) -> None:
    _title(ws, "重点指标分县区图表")
    keys = [i for i in config.catalog if i.key and not i.is_ratio]
    values: dict[tuple[str, str], float] = {}
    targets: dict[tuple[str, str], float] = {}
    for f in view.facts:
        if f["number"] is not None and f["column"] in ("value", "target"):
            (values if f["column"] == "value" else targets)[(f["indicator"], f["county_code"])] = f["number"]
    top = 4
    rows = [[c.name, *[values.get((k.code, c.code)) for k in keys]] for c in view.counties]
    widths = [18, *[14] * len(keys)]
    table(ws, top, ["县区", *[f"{k.name}（{k.unit}）" for k in keys]], rows, None, widths, print_titles=False)
    comp_top = top + len(rows) + 3
    comp_rows = []
    for c in view.counties:
        row: list[object] = [c.name]
        for k in keys:
            v, t = values.get((k.code, c.code)), targets.get((k.code, c.code))
            row.append(round(v / t * 100, 2) if v is not None and t else None)
        comp_rows.append(row)
    table(ws, comp_top, ["县区", *[f"{k.name}完成率(%)" for k in keys]], comp_rows, None, widths, print_titles=False)
    ws.freeze_panes = None
    n = len(view.counties)
    cats = Reference(ws, min_col=1, min_row=top + 1, max_row=top + n)
    anchor_row = comp_top + n + 3
    for i, k in enumerate(keys):
        chart = BarChart()
        chart.title = f"{k.name}（{k.unit}）"
        chart.legend = None
        chart.add_data(Reference(ws, min_col=2 + i, min_row=top, max_row=top + n), titles_from_data=True)
        chart.set_categories(cats)
        chart.height, chart.width = 7, 12
        ws.add_chart(chart, f"{'A' if i % 2 == 0 else 'H'}{anchor_row + (i // 2) * 15}")
    comp = BarChart()
    comp.title = "重点指标目标完成率（%）"
    comp.add_data(Reference(ws, min_col=2, max_col=1 + len(keys), min_row=comp_top, max_row=comp_top + n),
                  titles_from_data=True)  # fmt: skip
    comp.set_categories(Reference(ws, min_col=1, min_row=comp_top + 1, max_row=comp_top + n))
    comp.height, comp.width = 10, 24
    ws.add_chart(comp, f"A{anchor_row + ((len(keys) + 1) // 2) * 15}")


STATUS_FILL = {"on-time": "C6EFCE", "late": "FFEB9C", "missing": "FFC7CE", "refused": "FFC7CE", "not-due": "EDEDED"}


def write_reporting_workbook(path: Path, m: Matrix, region_name: str) -> None:
    """报送情况_<region>.xlsx: county × period against today (refreshed by every run)."""
    wb = Workbook()
    ws = wb.active
    ws.title = "报送率"
    _reporting(ws, m, region_name)
    wb.save(path)


def _reporting(ws: Worksheet, m: Matrix, region_name: str) -> None:
    top = _title(ws, f"{region_name}各县区报送情况（报送率）", "按时：首个可接收版本在截止日前到达；更正不影响按时")
    periods = m.periods
    rows: list[list[object]] = [[c.name, *[m.cells[(c.code, p)].zh for p in periods]] for c in m.counties]
    rows.append(["截止日期", *[m.due(p).strftime("%Y-%m-%d") for p in periods]])
    rows.append(["按时/已报/应报", *["/".join(str(x) for x in m.rate(p)) for p in periods]])
    table(ws, top, ["县区", *[parse_token(p).zh for p in periods]], rows, None, [18, *[14] * len(periods)])
    by_zh = {v: k for k, v in ZH.items()}
    for r in range(top + 1, top + 1 + len(m.counties)):
        for c in range(2, 2 + len(periods)):
            cell = ws.cell(row=r, column=c)
            cell.fill = PatternFill("solid", fgColor=STATUS_FILL[by_zh[str(cell.value)]])
    ws.freeze_panes = ws.cell(row=top + 1, column=2)


def _revisions(ws: Worksheet, view: CityPeriod, config: Config) -> None:
    top = _title(ws, "更正记录", "县区报送更正后，与被替代报表逐项比较的变化（目录单位）")
    subs = {s["id"]: s for s in view.submissions}
    rows = []
    for r in view.revisions or []:
        new, old = subs.get(r["submission_id"], {}), subs.get(r["previous_id"], {})
        ind = config.catalog.by_code.get(r["indicator"])
        rows.append([new.get("county_code"), r["indicator"], ind.name if ind else "", COLUMN_ZH.get(r["column"]),
                     r["old"], r["new"], r["cell"], old.get("file"), new.get("file")])  # fmt: skip
    headers = ["区划代码", "指标代码", "指标名称", "栏目", "原数值", "更正后", "单元格", "原报表", "更正报表"]
    table(ws, top, headers, rows, {5: "#,##0.####", 6: "#,##0.####"}, [10, 9, 30, 10, 14, 14, 8, 30, 30])


def _provenance(ws: Worksheet, view: CityPeriod, config: Config) -> None:
    top = _title(ws, "数据来源", "每个数据对应的报送文件、工作表和单元格")
    names = {c.code: c.name for c in view.counties}
    rows = [[names.get(f["county_code"]), f["indicator"], config.catalog[f["indicator"]].name
             if f["indicator"] in config.catalog.by_code else "", COLUMN_ZH.get(f["column"], f["column"]),
             f["number"], f["raw"], f["unit_written"], f["flags"], f["file"], f["sheet"], f["cell"]]
            for f in view.facts]  # fmt: skip
    headers = ["县区", "指标代码", "指标名称", "栏目", "数值（目录单位）", "原始填报", "填报单位", "标记", "文件",
               "工作表", "单元格"]  # fmt: skip
    table(ws, top, headers, rows, {5: "#,##0.####"}, [14, 9, 30, 10, 16, 16, 10, 14, 34, 10, 8])
