"""Build real county returns (.xlsx with openpyxl, .xls with xlwt) in the shapes the spec lists."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
import xlwt

from huizong.catalog import Config

CONFIG = Config.load()
KEY = CONFIG.for_form("key-indicators")  # the key form, as every step that concerns it is given it

HEADER = ["序号", "指标代码", "指标名称", "计量单位", "年度目标", "本期累计", "上年同期", "备注"]
PROJECT_HEADER = ["序号", "项目名称", "承担单位", "统一社会信用代码", "项目类别", "状态", "到位资金（万元）", "备注"]

# A plausible complete return: value per indicator (targets and last year derived).
BASE_VALUES: dict[str, object] = {
    "Z01": 120.5,
    "Z02": 17.8,
    "Z03": 40,
    "A01": 5100,
    "A02": 0.42,
    "A03": 12,
    "A04": 30,
    "A05": 800,
    "B01": 36,
    "B02": 6,
    "B03": 230,
    "B04": 2,
    "C01": 18,
    "C02": 3,
    "C03": 22,
    "C04": 6,
    "C05": 4,
    "D01": 2,
    "D02": 3,
    "D03": 1,
    "D04": 2,
    "D05": 5,
    "E01": 9,
    "E02": 21,
    "E03": 40,
    "E04": 41500,
    "E05": 31,
    "E06": 1.74,
    "E07": 6,
    "F01": 60,
    "F02": 55,
    "F03": 2,
    "F04": 2,
    "F05": 38,
    "F06": 10000,
    "G01": 227,
    "G02": 12,
}


@dataclass
class Shape:
    """How the county laid out its form."""

    sheet: str = "主要指标"
    top: int = 0  # rows above the title block
    left: int = 0  # columns left of the table
    columns: Sequence[str] = tuple(HEADER)
    header: Mapping[str, object] | None = None  # label -> value; None: the standard block
    header_style: str = "next-cell"  # next-cell | same-cell
    title: str | None = "县（区）科技创新主要指标报表"
    extra_sheets: Sequence[str] = ()
    blank_rows_every: int = 0
    hidden_rows: Sequence[str] = ()  # indicator codes whose rows are hidden
    subtotal_after: str | None = None
    projects: list[list[object]] | None = None
    project_sheet: str = "项目明细"
    units: Mapping[str, str] = field(default_factory=dict)  # code -> unit written in 计量单位


def standard_header(county: str, period: str, office: str | None = None) -> dict[str, object]:
    div = CONFIG.divisions.get(county)
    return {
        "填报单位": office or (f"{div.name}科学技术局" if div else "某科学技术局"),
        "行政区划代码": county,
        "报告期": period,
        "填报人": "张三",
        "联系电话": "0936-1234567",
    }


def rows_for(values: Mapping[str, object], with_codes: bool = True) -> list[dict[str, object]]:
    """Table rows: value may be a scalar (本期累计) or a dict with target/value/last_year/unit/name/note."""
    out = []
    for code, v in values.items():
        ind = KEY.catalog[code]
        cell = v if isinstance(v, dict) else {"value": v}
        out.append(
            {
                "指标代码": code if with_codes else None,
                "指标名称": cell.get("name", ind.name),
                "计量单位": cell.get("unit", ind.unit),
                "年度目标": cell.get("target"),
                "本期累计": cell.get("value"),
                "上年同期": cell.get("last_year"),
                "备注": cell.get("note"),
            }
        )
    return out


def write_return(
    path: Path,
    county: str,
    period: str,
    values: Mapping[str, object] | None = None,
    shape: Shape | None = None,
    with_codes: bool = True,
) -> Path:
    """Write a return; `.xls` paths are written with xlwt, others with openpyxl."""
    shape = shape or Shape()
    values = BASE_VALUES if values is None else values
    header = shape.header if shape.header is not None else standard_header(county, period)
    grid: list[tuple[int, int, object]] = []  # (row, col, value), 0-based
    hidden_rows: list[int] = []
    r = shape.top
    if shape.title:
        grid.append((r, shape.left, shape.title))
        r += 2
    for label, value in header.items():
        if shape.header_style == "same-cell":
            grid.append((r, shape.left, f"{label}：{value}"))
        else:
            grid.append((r, shape.left, f"{label}："))
            grid.append((r, shape.left + 2, value))
        r += 1
    r += 1
    for c, name in enumerate(shape.columns):
        grid.append((r, shape.left + c, name))
    r += 1
    for n, row in enumerate(rows_for(values, with_codes), start=1):
        if shape.blank_rows_every and n % shape.blank_rows_every == 0:
            r += 1
        full = {"序号": n, **row}
        for c, name in enumerate(shape.columns):
            unit = shape.units.get(str(row["指标代码"] or "")) if name == "计量单位" else None
            v = unit if unit else full.get(name)
            if v is not None:
                grid.append((r, shape.left + c, v))
        code = [k for k, ind in KEY.catalog.by_code.items() if ind.name == row["指标名称"]]
        if row["指标代码"] in shape.hidden_rows or (code and code[0] in shape.hidden_rows):
            hidden_rows.append(r)
        r += 1
        if shape.subtotal_after and row["指标代码"] == shape.subtotal_after:
            grid.append((r, shape.left + list(shape.columns).index("指标名称"), "小计"))
            grid.append((r, shape.left + list(shape.columns).index("本期累计"), 99999))
            r += 1
    sheets: list[tuple[str, list[tuple[int, int, object]]]] = [(shape.sheet, grid)]
    if shape.projects is not None:
        pgrid = [(0, c, h) for c, h in enumerate(PROJECT_HEADER)]
        for i, prow in enumerate(shape.projects, start=1):
            for c, v in enumerate(prow):
                if v is not None:
                    pgrid.append((i, c, v))
        sheets.append((shape.project_sheet, pgrid))
    for extra in shape.extra_sheets:
        sheets.insert(0, (extra, [(0, 0, "填报说明：请按要求填写")]))
    if path.suffix.lower() == ".xls":
        _write_xls(path, sheets, hidden_rows)
    else:
        _write_xlsx(path, sheets, hidden_rows, merged_title=bool(shape.title), shape=shape)
    return path


def _write_xlsx(path: Path, sheets, hidden_rows, merged_title: bool, shape: Shape) -> None:  # type: ignore[no-untyped-def]
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, cells in sheets:
        ws = wb.create_sheet(name)
        for r, c, v in cells:
            cell = ws.cell(row=r + 1, column=c + 1, value=v)
            if isinstance(v, str) and v.startswith("="):
                cell.data_type = "s"  # typed as text, as a county's apostrophe-prefixed entry is
        if name == shape.sheet:
            for r in hidden_rows:
                ws.row_dimensions[r + 1].hidden = True
            if merged_title:
                ws.merge_cells(
                    start_row=shape.top + 1,
                    start_column=shape.left + 1,
                    end_row=shape.top + 1,
                    end_column=shape.left + 8,
                )
    wb.save(path)


def _write_xls(path: Path, sheets, hidden_rows) -> None:  # type: ignore[no-untyped-def]
    wb = xlwt.Workbook(encoding="utf-8")
    for i, (name, cells) in enumerate(sheets):
        ws = wb.add_sheet(name)
        for r, c, v in cells:
            ws.write(r, c, v)
        if i == 0:
            for r in hidden_rows:
                ws.row(r).hidden = True
    wb.save(str(path))


def project_row(n: int, name: str, org: str, uscc: str, category: str, status: str, funds: object) -> list[object]:
    return [n, name, org, uscc, category, status, funds, None]


def valid_uscc(body17: str) -> str:
    from huizong.read.uscc import uscc_check_char

    return body17 + uscc_check_char(body17)


def write_docx_template(path: Path, title: str, paragraphs: Sequence[str]) -> Path:
    """A Word document as a bureau would type a report template: a title and body paragraphs (each
    one run, so that the Jinja tags in it stay whole), 仿宋 三号 for the body, 黑体 for the title."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Pt

    def font(run, name: str, size: int, bold: bool = False) -> None:  # type: ignore[no-untyped-def]
        run.font.name, run.font.size, run.font.bold = name, Pt(size), bold
        run._element.rPr.rFonts.set(qn("w:eastAsia"), name)

    doc = Document()
    head = doc.add_paragraph()
    head.alignment = WD_ALIGN_PARAGRAPH.CENTER
    font(head.add_run(title), "黑体", 22, bold=True)
    for text in paragraphs:
        p = doc.add_paragraph()
        p.paragraph_format.first_line_indent = Pt(32)
        p.paragraph_format.line_spacing = Pt(28)
        font(p.add_run(text), "仿宋_GB2312", 16)
    doc.save(str(path))
    return path


def multi_level_counties() -> list[str]:
    """A small case with every level: a whole city (张掖市), parts of two more cities in two
    provinces, and a county directly under its province (仙桃市)."""
    div = CONFIG.divisions
    return (
        [c.code for c in div.counties_of("620700")]
        + [c.code for c in div.counties_of("620100")][:2]
        + [c.code for c in div.counties_of("640100")][:2]
        + [c.code for c in div.counties_of("640200")][:1]
        + ["429004"]
    )


def write_multi_level(folder: Path) -> list[str]:
    """The multi-level case's returns for 2024H1 into `folder`, each county's A01 its own."""
    counties = multi_level_counties()
    folder.mkdir(parents=True, exist_ok=True)
    for n, c in enumerate(counties):
        write_return(folder / f"{c}.xlsx", c, "2024H1", {**BASE_VALUES, "A01": 1000 + n})
    return counties


_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z)?")
_SHA = re.compile(r"(?<![0-9a-f])[0-9a-f]{16}/")  # a stored file's folder: the first 16 hex of its sha256


def output_contents(outputs: Path, stable: bool = False) -> dict[str, object]:
    """Every output file as what it says: a workbook's cells, a report draft's paragraphs, a CSV's
    rows (less the stored paths, which name each run's own store; the validation pages carry the
    time they were written). `stable`: every date and time as <time>, every file's hash as <sha>
    (the same case made again another day: its files are the same but for their time stamps)."""
    import csv
    import datetime as dt

    import docx

    def cell(v: object) -> object:
        if not stable:
            return v
        if isinstance(v, dt.date | dt.datetime):
            return "<time>"
        return _SHA.sub("<sha>/", _STAMP.sub("<time>", v)) if isinstance(v, str) else v

    dropped = {"stored_as", "inbox_path"} | ({"sha256"} if stable else set())
    out: dict[str, object] = {}
    for p in sorted(outputs.rglob("*")):
        rel = p.relative_to(outputs).as_posix()
        if not p.is_file() or p.suffix in (".html", ".json"):
            continue
        if p.suffix == ".xlsx":
            wb = openpyxl.load_workbook(p)
            out[rel] = {ws.title: [[cell(c.value) for c in row] for row in ws.iter_rows()] for ws in wb.worksheets}
        elif p.suffix == ".docx":
            out[rel] = [para.text for para in docx.Document(str(p)).paragraphs]
        elif p.suffix == ".csv":
            with p.open(encoding="utf-8-sig", newline="") as f:
                out[rel] = [{k: cell(v) for k, v in r.items() if k not in dropped} for r in csv.DictReader(f)]
        else:
            out[rel] = p.read_bytes()
    return out
