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
from typing import Any

import openpyxl
import xlwt

from huizong.catalog import Config, FormConfig
from huizong.publish.template import write_template
from huizong.read.periods import Period
from huizong.read.uscc import uscc_check_char

PERIOD = Period(2024, "H1")

# 本期累计 for each county (catalog units), then target and last year as factors of it.
MINLE = {
    "Z01": 58.3,
    "Z02": 16.9,
    "Z03": 32,
    "A01": 5100,
    "A02": 0.87,
    "A03": 14,
    "A04": 43.75,
    "A05": 620,
    "B01": 36,
    "B02": 6,
    "B03": 230,
    "B04": 2,
    "C01": 15,
    "C02": 2,
    "C03": 22,
    "C04": 6,
    "C05": 4,
    "D01": 2,
    "D02": 3,
    "D03": 1,
    "D04": 2,
    "D05": 4,
    "E01": 9,
    "E02": 21,
    "E03": 35,
    "E04": 41500,
    "E05": 31,
    "E06": 1.83,
    "E07": 6,
    "F01": 96,
    "F02": 55,
    "F03": 2,
    "F04": 2,
    "F05": 38,
    "F06": 10000,
    "G01": 227,
    "G02": 12,
}
SCALE = {"620702": 2.6, "620721": 0.35, "620722": 1.0, "620723": 0.8, "620724": 0.9, "620725": 0.7}
KEY_FORM = "key-indicators"  # the demo fills the two shipped forms
TARGET_FACTOR, LAST_YEAR_FACTOR = 1.8, 0.88
RATIOS = {"A02": ("A01", "Z01", 0.01), "A04": ("A03", "Z03", 100), "E06": ("E05", "Z02", 1)}


def county_values(config: FormConfig, county: str) -> dict[str, dict[str, float]]:
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


TOPICS = [
    "马铃薯脱毒种薯繁育关键技术研究",
    "节水灌溉管材智能制造示范",
    "道地中药材种植技术集成",
    "肉牛秸秆颗粒饲料研发与示范",
    "马铃薯加工废水资源化利用",
    "寒旱农业智能温室栽培示范",
    "特色林果提质增效技术",
    "精细化工绿色合成工艺",
]
ORGS = [
    "甘肃鼎丰马铃薯种业有限公司",
    "甘肃青龙管业有限责任公司",
    "民乐县诚泰药业有限公司",
    "张掖市希诺农牧业有限公司",
    "甘肃丰源薯业有限公司",
    "甘肃海升农业科技有限公司",
    "张掖市集华农业有限公司",
    "甘肃锦世化工有限责任公司",
]
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
        rows.append(
            [
                n + 1,
                f"{TOPICS[n % len(TOPICS)]}（{n + 1}）",
                ORGS[n % len(ORGS)],
                uscc(body),
                "中央引导地方科技发展资金" if is_central else CATEGORIES[n % 3],
                status,
                funds_each if status != "申报" or is_central else None,
                None,
            ]
        )
    return rows


def _fill_template(
    path: Path,
    config: FormConfig,
    county: str,
    values: dict[str, dict[str, float]],
    project_rows: Sequence[Sequence[object]] = (),
    filled_by: str = "李明",
) -> None:
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


def _messy_grid(config: FormConfig, values: dict[str, dict[str, float]]) -> list[list[object]]:
    """临泽县's way: title, header in one cell each, table shifted and reordered, units changed."""
    grid: list[list[object]] = [
        [],
        [None, "临泽县2024年上半年科技创新主要指标完成情况表"],
        [],
        [None, "填报单位：临泽县科学技术局", None, None, "行政区划代码：", "620723"],
        [None, "报 告 期：2024年1-6月"],
        [],
    ]
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


def _write_xls_minle(path: Path, config: FormConfig) -> None:
    """民乐县: legacy .xls, no code column, county known by office name only, text with units."""
    text = {
        "A01": "0.51亿元",
        "B03": "230万元",
        "E04": "4.15亿元",
        "F06": "1万人次",
        "F02": "55名",
        "E05": "31件",
        "G01": "227万元",
        "G02": "10多",
    }
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
    key = (config or Config.load()).for_form(KEY_FORM)
    inbox.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def add(name: str) -> Path:
        p = inbox / name
        written.append(p)
        return p

    gz = county_values(key, "620702")
    _fill_template(add("甘州区_2024年上半年_科技创新主要指标.xlsx"), key, "620702", gz, projects("620702", gz))
    _write_xls_minle(add("民乐县科技局-2024年1-6月主要指标.xls"), key)
    lz = county_values(key, "620723")
    _write_xlsx_grid(add("临泽县上半年报表.xlsx"), _messy_grid(key, lz), "Sheet1", hidden=[20])
    gt = county_values(key, "620724")
    first = {**gt, "A01": {**gt["A01"], "value": gt["A01"]["value"] * 10}}  # a slip, corrected below
    _fill_template(add("高台县_2024H1.xlsx"), key, "620724", first)
    _fill_template(add("高台县_2024H1_更正.xlsx"), key, "620724", gt, projects("620724", gt))
    sd = county_values(key, "620725")
    bad = {**sd, "B02": {**sd["B02"], "value": sd["B01"]["value"] + 3}, "C01": {**sd["C01"], "value": 12.5}}
    bad_projects = projects("620725", bad)
    bad_projects[0][3] = str(bad_projects[0][3])[:-1] + "0"  # wrong check character
    sm = add("山丹县_2024H1.xlsm")
    _fill_template(sm, key, "620725", bad, bad_projects)
    _fill_template(add("肃南县科技局_2024年上半年.xlsx"), key, "620721", county_values(key, "620721"))
    shutil.copyfile(written[-1], add("肃南县科技局_2024年上半年(1).xlsx"))  # sent twice
    _word_file(add("工作总结.xlsx"))
    corrupt = add("临泽县_项目表.xlsx")
    corrupt.write_bytes(written[0].read_bytes()[:3000])
    add("~$甘州区_2024年上半年_科技创新主要指标.xlsx").write_bytes(b"\x0bzhangsan" + b"\x00" * 150)
    base = 1_720_000_000
    for n, p in enumerate(written):
        os.utime(p, (base + n * 60, base + n * 60))
    return written


# The technology-contract return (forms/tech-contracts/), monthly, 2024 January to June -----------

CONTRACT_FORM = "tech-contracts"
CONTRACT_TITLES = [
    "马铃薯种薯脱毒快繁技术服务",
    "节水灌溉智能控制系统开发",
    "中药材有效成分提取工艺转让",
    "肉牛养殖粪污资源化技术咨询",
    "光伏治沙一体化技术服务",
    "农产品冷链物流信息平台开发",
    "玉米制种精量播种技术许可",
    "高原夏菜病虫害绿色防控技术服务",
]
CONTRACT_CATEGORIES = ["技术开发（委托）", "技术服务", "技术转让", "技术咨询", "技术开发（合作）", "技术许可"]
CONTRACT_DOMAINS = ["现代农业", "先进制造", "生物医药", "资源与环境", "新能源与节能", "电子信息"]
BUYER_PLACES = ["甘肃省张掖市", "甘肃省兰州市", "甘肃省酒泉市", "北京市", "陕西省西安市", "甘肃省张掖市"]
CONTRACT_COUNTIES = {
    "620702": "甘州区",
    "620721": "肃南县",
    "620722": "民乐县",
    "620723": "临泽县",
    "620724": "高台县",
    "620725": "山丹县",
}
# 高台县's contract lists do not add up to the E03/E04 of its key-indicator return: a warning there
CONTRACT_SHORTFALL = "620724"


def contract_plan(config: Config, county: str) -> dict[int, list[tuple[float, float]]]:
    """Month -> contracts (成交金额, 技术交易额) that add up, over January to June, to the county's
    E03 (number) and E04 (turnover) of its half-year key-indicator return."""
    values = county_values(config.for_form(KEY_FORM), county)
    n = int(values["E03"]["value"]) - (3 if county == CONTRACT_SHORTFALL else 0)
    total = round(values["E04"]["value"], 2)
    months = [1, 2, 3, 4, 6] if county == "620721" else [1, 2, 3, 4, 5, 6]  # 肃南县 registered nothing in May
    plan: dict[int, list[tuple[float, float]]] = {m: [] for m in range(1, 7)}
    each = round(total / n, 2)
    for k in range(n):
        amount = each if k < n - 1 else round(total - each * (n - 1), 2)
        plan[months[k % len(months)]].append((amount, round(amount * 0.8, 2)))
    return plan


def _contract_row(county: str, year: int, month: int, serial: int, k: int, amount: float, tech: float) -> list[object]:
    import datetime as dt

    body = f"91{county}MA{serial:04d}C{'ABCDEFGHJ'[serial % 9]}{serial % 10}"[:17]
    day = 2 + (serial % 25)
    return [
        f"{county}{year}{serial:04d}",
        CONTRACT_TITLES[k % len(CONTRACT_TITLES)],
        CONTRACT_CATEGORIES[k % 6],
        ORGS[k % len(ORGS)],
        uscc(body),
        f"{TOPICS[k % len(TOPICS)][:4]}科技有限公司",
        BUYER_PLACES[k % 6],
        amount,
        tech,
        dt.datetime(year, month, max(day - 1, 1)),
        dt.datetime(year, month, day),
        CONTRACT_DOMAINS[k % 6],
    ]


def _fill_contracts(path: Path, config: Config, county: str, month: int, rows: list[list[object]]) -> None:
    from huizong.publish.listtemplate import write_list_template

    form = config.form_by_id[CONTRACT_FORM]
    div = config.divisions.get(county)
    assert div is not None and form.list is not None
    write_list_template(path, config, form, div, Period(2024, f"M{month:02d}"))
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    top = next(
        r
        for r in range(1, 30)
        if ws.cell(row=r, column=2).value and "合同登记号" in str(ws.cell(row=r, column=2).value)
    )
    ws.cell(row=6, column=3, value="赵琳")
    for r, row in enumerate(rows, start=top + 1):
        for c, v in enumerate(row, start=2):
            ws.cell(row=r, column=c, value=v)
    wb.save(path)


def _messy_contracts_xls(path: Path, county: str, rows: list[list[Any]]) -> None:
    """民乐县's March list: legacy .xls, amounts with units, dates as text, numbers for registration numbers."""
    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("Sheet1")
    ws.write(0, 1, "民乐县2024年3月技术合同认定登记明细表")
    ws.write(2, 0, "填报单位：民乐县技术市场管理办公室")
    ws.write(2, 5, "登记月份：")
    ws.write(2, 6, "2024年03月")
    heads = [
        "序号",
        "合同登记号",
        "合同名称",
        "合同类型",
        "卖方（技术输出方）",
        "卖方信用代码",
        "买方（技术吸纳方）",
        "买方所在地",
        "成交金额（万元）",
        "技术交易额（万元）",
        "签订日期",
        "登记日期",
        "技术领域",
    ]
    for c, h in enumerate(heads):
        ws.write(4, c, h)
    for n, row in enumerate(rows, start=1):
        regno, title, cat, seller, code, buyer, place, amount, tech, signed, registered, domain = row
        cells = [
            n,
            int(str(regno)),
            title,
            str(cat).replace("（", "(").replace("）", ")"),
            seller,
            code,
            buyer,
            place,
            f"{amount}万元" if n % 2 else f"{float(amount) / 10000:.6f}亿元",
            tech,
            f"{signed:%Y年%-m月%-d日}",
            f"{registered:%Y.%-m.%-d}",
            domain,
        ]
        for c, v in enumerate(cells):
            ws.write(4 + n, c, v)
    ws.write(5 + len(rows), 1, "合计")
    ws.write(5 + len(rows), 8, sum(float(r[7]) for r in rows))
    wb.save(str(path))


def _shifted_contracts(path: Path, rows: list[list[Any]]) -> None:
    """临泽县's April list: shifted down and right, a title, columns reordered, a blank row."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "4月登记"
    ws["C2"] = "临泽县技术合同登记情况（2024年4月）"
    ws["C4"], ws["F4"] = "填报单位：临泽县科学技术局", "行政区划代码：620723"
    heads = [
        "登记号",
        "技术领域",
        "项目名称",
        "合同类别",
        "卖方名称",
        "卖方统一社会信用代码",
        "买方名称",
        "买方所在地",
        "成交金额(万元)",
        "技术交易额(万元)",
        "签订日期",
        "登记日期",
    ]
    for c, h in enumerate(heads, start=3):
        ws.cell(row=6, column=c, value=h)
    r = 7
    for row in rows:
        regno, title, cat, seller, code, buyer, place, amount, tech, signed, registered, domain = row
        for c, v in enumerate(
            [regno, domain, title, cat, seller, code, buyer, place, amount, tech, signed, registered], start=3
        ):
            ws.cell(row=r, column=c, value=v)
        r += 2 if r == 8 else 1
    wb.save(path)


def write_contract_demo(inbox: Path, config: Config | None = None, start: int = 1_718_000_000) -> list[Path]:
    """The technology-contract returns of 张掖市's six counties for January to June 2024: clean
    ones from the template, a legacy .xls with units and text dates (民乐县, March), a shifted
    and reordered list (临泽县, April), a month without contracts (肃南县, May), and a refused
    list (山丹县, February: a registration number 甘州区 registered already, technology part
    above the turnover, a date outside the month, a wrong credit code). They arrive before the
    half-year key-indicator returns (as monthly lists do), so those are checked against them."""
    config = config or Config.load()
    folder = inbox / "技术合同"
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    names = CONTRACT_COUNTIES
    first_ganzhou: list[object] = []
    for county, name in names.items():
        plan = contract_plan(config, county)
        serial = 0
        for month in range(1, 7):
            rows = []
            for k, (amount, tech) in enumerate(plan[month]):
                serial += 1
                rows.append(_contract_row(county, 2024, month, serial, k + month, amount, tech))
            if county == "620702" and month == 1:
                first_ganzhou = list(rows[0])
            path = folder / f"{name}_2024年{month}月_技术合同登记表.xlsx"
            if county == "620722" and month == 3:
                path = folder / f"{name}技术市场办-3月合同.xls"
                _messy_contracts_xls(path, county, rows)
            elif county == "620723" and month == 4:
                path = folder / "临泽县4月技术合同.xlsx"
                _shifted_contracts(path, rows)
            elif county == "620725" and month == 2:
                bad: list[list[Any]] = [list(r) for r in rows]
                bad[0][0] = first_ganzhou[0]  # registered by 甘州区 in January
                bad[1][8] = float(bad[1][7]) + 5  # technology part above the turnover
                bad[2][10] = bad[2][10].replace(month=3)  # registered in March
                bad[3][4] = str(bad[3][4])[:-1] + ("0" if str(bad[3][4])[-1] != "0" else "1")  # wrong check character
                _fill_contracts(path, config, county, month, bad)
            else:
                _fill_contracts(path, config, county, month, rows)
            written.append(path)
    for n, p in enumerate(written):
        os.utime(p, (start + n * 60, start + n * 60))
    return written


# The demo's half year as a bureau lives it ------------------------------------------------------

# When each demo file reached the city (Asia/Shanghai), the demo's own clock: the monthly contract
# lists a few days into the next month (the 5th is their deadline), 临泽县's April list late; the
# key returns around the 10 July deadline: most on time, 山丹县 refused and corrected the same day,
# 肃南县 a day late (and twice).
KEY_ARRIVALS = {
    "甘州区_2024年上半年_科技创新主要指标.xlsx": "2024-07-03T09:12:00",
    "~$甘州区_2024年上半年_科技创新主要指标.xlsx": "2024-07-03T09:13:00",
    "民乐县科技局-2024年1-6月主要指标.xls": "2024-07-05T16:40:00",
    "临泽县上半年报表.xlsx": "2024-07-08T10:05:00",
    "临泽县_项目表.xlsx": "2024-07-08T10:07:00",
    "工作总结.xlsx": "2024-07-08T11:30:00",
    "高台县_2024H1.xlsx": "2024-07-09T11:20:00",
    "山丹县_2024H1.xlsm": "2024-07-09T17:45:00",
    "高台县_2024H1_更正.xlsx": "2024-07-10T15:30:00",
    "山丹县_2024H1_修改.xlsx": "2024-07-10T20:10:00",
    "肃南县科技局_2024年上半年.xlsx": "2024-07-11T08:30:00",
    "肃南县科技局_2024年上半年(1).xlsx": "2024-07-11T08:31:00",
}
LATE_CONTRACTS = {("620723", 4): 7}  # 临泽县's April list came on 7 May


def write_half_year(inbox: Path, config: Config | None = None) -> dict[Path, str]:
    """`huizong demo`: the demo batches (`write_contract_demo`, `write_demo`) and 山丹县's
    corrected return, with when each arrived (ISO 8601, +08:00). The caller records those times as
    the runs' first sightings (`Store.sight`), so that the run that reads them receives each file
    when the story says, and the board and the reporting status look like a real July."""
    config = config or Config.load()
    key = config.for_form(KEY_FORM)
    contracts = write_contract_demo(inbox, config)
    files = write_demo(inbox, config)
    sd = county_values(key, "620725")
    fixed = inbox / "山丹县_2024H1_修改.xlsx"
    _fill_template(fixed, key, "620725", sd, projects("620725", sd), filled_by="王芳")
    files.append(fixed)
    when: dict[Path, str] = {}
    names = {p.name: p for p in files}
    for name, at in KEY_ARRIVALS.items():
        when[names[name]] = f"{at}+08:00"
    for n, p in enumerate(contracts):
        county, month = list(CONTRACT_COUNTIES)[n // 6], n % 6 + 1
        day = LATE_CONTRACTS.get((county, month), 2 + n // 6 % 3)
        when[p] = f"2024-{month + 1:02d}-{day:02d}T{9 + n // 6:02d}:{(n * 7) % 60:02d}:00+08:00"
    return dict(sorted(when.items(), key=lambda kv: kv[1]))
