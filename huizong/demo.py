"""Demo returns for 张掖市 (620700), 2024 first half: clean, messy and bad, so that one
`make run` shows every path through the pipeline.

民乐县's figures are those of its 2024 first-half work report (36 provincial applications,
6 approved, 230 万元 secured, R&D 0.51 亿元, contract turnover 4.15 亿元, ...).
"""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path

import openpyxl
import xlwt

from huizong.catalog import Config
from huizong.publish.template import write_template
from huizong.read.periods import Period
from huizong.read.projects import uscc_check_char

PERIOD = Period(2024, "H1")

# 本期累计 for each county (catalog units), then target and last year as factors of it.
MINLE = {
    "Z01": 58.3, "Z02": 16.9, "Z03": 32, "A01": 5100, "A02": 0.87, "A03": 14, "A04": 43.75, "A05": 620,
    "B01": 36, "B02": 6, "B03": 230, "B04": 2, "C01": 15, "C02": 2, "C03": 22, "C04": 6, "C05": 4,
    "D01": 2, "D02": 3, "D03": 1, "D04": 2, "D05": 4, "E01": 9, "E02": 21, "E03": 35, "E04": 41500,
    "E05": 31, "E06": 1.83, "E07": 6, "F01": 96, "F02": 55, "F03": 2, "F04": 2, "F05": 38, "F06": 10000,
    "G01": 227, "G02": 12,
}  # fmt: skip
SCALE = {"620702": 2.6, "620721": 0.35, "620722": 1.0, "620723": 0.8, "620724": 0.9, "620725": 0.7}
TARGET_FACTOR, LAST_YEAR_FACTOR = 1.8, 0.88
RATIOS = {"A02": ("A01", "Z01", 0.01), "A04": ("A03", "Z03", 100), "E06": ("E05", "Z02", 1)}


def county_values(config: Config, county: str) -> dict[str, dict[str, float]]:
    """target / value / last_year per indicator, consistent (ratios from their parts, approved <= applied)."""
    k = SCALE[county]
    out: dict[str, dict[str, float]] = {}
    for ind in config.catalog:
        if ind.code in RATIOS:
            continue
        v = MINLE[ind.code] * k
        t, ly = v * TARGET_FACTOR, v * LAST_YEAR_FACTOR
        if ind.kind == "stock":
            t, ly = v * 1.1, v * 0.95
        if ind.integer:
            v, t, ly = float(max(round(v), 1)), float(max(round(t), 1)), float(max(round(ly), 1))
        else:
            v, t, ly = round(v, 2), round(t, 2), round(ly, 2)
        out[ind.code] = {"target": t, "value": v, "last_year": ly}
    for code, (num, den, mult) in RATIOS.items():
        out[code] = {c: round(mult * out[num][c] / out[den][c], 2) for c in ("target", "value", "last_year")}
    for small, big in (("B02", "B01"), ("C02", "C01"), ("C05", "C04"), ("A03", "Z03")):
        for c in ("target", "value", "last_year"):
            out[small][c] = min(out[small][c], out[big][c])
    return out


def uscc(body: str) -> str:
    return body + uscc_check_char(body)


TOPICS = ["马铃薯脱毒种薯繁育关键技术研究", "节水灌溉管材智能制造示范", "道地中药材种植技术集成", "肉牛秸秆颗粒饲料研发与示范",
          "马铃薯加工废水资源化利用", "寒旱农业智能温室栽培示范", "特色林果提质增效技术", "精细化工绿色合成工艺"]  # fmt: skip
ORGS = ["甘肃鼎丰马铃薯种业有限公司", "甘肃青龙管业有限责任公司", "民乐县诚泰药业有限公司", "张掖市希诺农牧业有限公司",
        "甘肃丰源薯业有限公司", "甘肃海升农业科技有限公司", "张掖市集华农业有限公司", "甘肃锦世化工有限责任公司"]  # fmt: skip
CATEGORIES = ["省级重点研发计划", "省级科技重大专项", "省级科技计划其他"]


def projects(county: str, values: dict[str, dict[str, float]]) -> list[list[object]]:
    """Project detail that agrees with the county's B01, B02, B04 and B03."""
    applied, approved, central = (int(values[c]["value"]) for c in ("B01", "B02", "B04"))
    funds_each = round(values["B03"]["value"] * 0.8 / max(approved + central, 1), 2)
    rows: list[list[object]] = []
    for n in range(applied + central):
        is_central = n >= applied
        status = "申报" if is_central or n >= approved else ("结题" if n % 3 == 2 else "立项")
        body = f"91{county}MA{n:03d}{'ABCDEFGHJ'[n % 9]}{'KLMNP'[n % 5]}{n % 10}Q"[:17]
        rows.append([n + 1, f"{TOPICS[n % len(TOPICS)]}（{n + 1}）", ORGS[n % len(ORGS)], uscc(body),
                     "中央引导地方科技发展资金" if is_central else CATEGORIES[n % 3], status,
                     funds_each if status != "申报" or is_central else None, None])  # fmt: skip
    return rows


def _fill_template(path: Path, config: Config, county: str, values: dict[str, dict[str, float]],
                   project_rows: Sequence[Sequence[object]] = (), filled_by: str = "李明") -> None:  # fmt: skip
    div = config.divisions.get(county)
    assert div is not None
    write_template(path, config, div, PERIOD)
    wb = openpyxl.load_workbook(path)
    ws = wb["主要指标"]
    ws["C6"], ws["C7"], ws["C8"] = filled_by, "0936-8821234", "2024-07-08"
    for row in ws.iter_rows(min_row=12):
        code = row[1].value
        if code in values:
            row[4].value, row[5].value, row[6].value = (values[code][c] for c in ("target", "value", "last_year"))
    pws = wb["项目明细"]
    for r, prow in enumerate(project_rows, start=2):
        for c, v in enumerate(prow, start=1):
            pws.cell(row=r, column=c, value=v)
    wb.save(path)


def _messy_grid(config: Config, values: dict[str, dict[str, float]]) -> list[list[object]]:
    """临泽县's way: title, header in one cell each, table shifted and reordered, units changed."""
    grid: list[list[object]] = [[], [None, "临泽县2024年上半年科技创新主要指标完成情况表"], [],
                                [None, "填报单位：临泽县科学技术局", None, None, "行政区划代码：", "620723"],
                                [None, "报 告 期：2024年1-6月"], []]  # fmt: skip
    grid.append([None, "序号", "指标名称", "计量单位", "本期累计", "上年同期", "年度目标", "备注"])
    for n, ind in enumerate(config.catalog, start=1):
        v = values[ind.code]
        unit, value, last, target = ind.unit, v["value"], v["last_year"], v["target"]
        if ind.code == "E04":  # turnover in 亿元 in the unit column
            unit, value, last, target = "亿元", value / 10000, last / 10000, target / 10000
        cells: list[object] = [None, n, ind.aliases[0] if ind.aliases else ind.name, unit, value, last, target, None]
        if ind.code == "A01":
            cells[4] = f"{value:,.2f}"  # thousands separator, as text
        if ind.code == "C01":
            cells[4] = "１" + str(int(value))[1:] if value >= 10 else str(int(value))  # full-width digit
        grid.append(cells)
        if ind.code == "A05":
            grid.append([None, None, "小计", None, 99999])
            grid.append([])
    grid += [[], [None, "填报人：王芳", None, None, "联系电话：0936-5561234"]]
    return grid


def _write_xlsx_grid(path: Path, grid: list[list[object]], sheet: str, hidden: Sequence[int] = ()) -> None:
    wb = openpyxl.Workbook()
    notes = wb.active
    notes.title = "填报说明"
    notes["A1"] = "本表由县区科技局填报，7月10日前报送市科技局。"
    ws = wb.create_sheet(sheet)
    for r, row in enumerate(grid, start=1):
        for c, v in enumerate(row, start=1):
            if v is not None:
                ws.cell(row=r, column=c, value=v)
    for r in hidden:
        ws.row_dimensions[r].hidden = True
    ws.merge_cells("B2:H2")
    wb.save(path)


def _write_xls_minle(path: Path, config: Config) -> None:
    """民乐县: legacy .xls, no code column, county known by office name only, text with units."""
    text = {"A01": "0.51亿元", "B03": "230万元", "E04": "4.15亿元", "F06": "1万人次", "F02": "55名",
            "E05": "31件", "G01": "227万元", "G02": "10多"}  # fmt: skip
    values = county_values(config, "620722")
    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("主要指标")
    ws.write(0, 0, "民乐县科技创新主要指标报表")
    ws.write(2, 0, "填报单位：民乐县科学技术局")
    ws.write(3, 0, "报告期：")
    ws.write(3, 2, "2024年1-6月")
    for c, h in enumerate(["序号", "指标名称", "计量单位", "年度目标", "本期累计", "上年同期", "备注"]):
        ws.write(5, c, h)
    for n, ind in enumerate(config.catalog, start=1):
        v = values[ind.code]
        ws.write(5 + n, 0, n)
        ws.write(5 + n, 1, ind.name)
        ws.write(5 + n, 2, ind.unit)
        ws.write(5 + n, 3, v["target"])
        ws.write(5 + n, 4, text.get(ind.code, v["value"]))
        ws.write(5 + n, 5, v["last_year"])
    wb.save(str(path))


def _word_file(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        z.writestr("word/document.xml", '<?xml version="1.0"?><w:document/>')


def write_demo(inbox: Path, config: Config | None = None) -> list[Path]:
    """Write the demo batch into `inbox`; files get increasing modification times (arrival order)."""
    config = config or Config.load()
    inbox.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def add(name: str) -> Path:
        p = inbox / name
        written.append(p)
        return p

    gz = county_values(config, "620702")
    _fill_template(add("甘州区_2024年上半年_科技创新主要指标.xlsx"), config, "620702", gz, projects("620702", gz))
    _write_xls_minle(add("民乐县科技局-2024年1-6月主要指标.xls"), config)
    lz = county_values(config, "620723")
    _write_xlsx_grid(add("临泽县上半年报表.xlsx"), _messy_grid(config, lz), "Sheet1", hidden=[20])
    gt = county_values(config, "620724")
    first = {**gt, "A01": {**gt["A01"], "value": gt["A01"]["value"] * 10}}  # a slip, corrected below
    _fill_template(add("高台县_2024H1.xlsx"), config, "620724", first)
    _fill_template(add("高台县_2024H1_更正.xlsx"), config, "620724", gt, projects("620724", gt))
    sd = county_values(config, "620725")
    bad = {**sd, "B02": {**sd["B02"], "value": sd["B01"]["value"] + 3}, "C01": {**sd["C01"], "value": 12.5}}
    bad_projects = projects("620725", bad)
    bad_projects[0][3] = str(bad_projects[0][3])[:-1] + "0"  # wrong check character
    sm = add("山丹县_2024H1.xlsm")
    _fill_template(sm, config, "620725", bad, bad_projects)
    _fill_template(add("肃南县科技局_2024年上半年.xlsx"), config, "620721", county_values(config, "620721"))
    shutil.copyfile(written[-1], add("肃南县科技局_2024年上半年(1).xlsx"))  # sent twice
    _word_file(add("工作总结.xlsx"))
    corrupt = add("临泽县_项目表.xlsx")
    corrupt.write_bytes(written[0].read_bytes()[:3000])
    add("~$甘州区_2024年上半年_科技创新主要指标.xlsx").write_bytes(b"\x0bzhangsan" + b"\x00" * 150)
    base = 1_720_000_000
    for n, p in enumerate(written):
        os.utime(p, (base + n * 60, base + n * 60))
    return written
