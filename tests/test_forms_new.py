"""`huizong forms new`: a definition guessed from the blank form a bureau already sends out, checked
by `forms check`, and then reading the counties' filled returns of that form through the pipeline.

Every workbook is a real .xlsx written here with openpyxl, the way a bureau's own form looks: a
title, a header block (填报单位, 报告期), the header row, and (filled) the rows below."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path

import openpyxl
from conftest import CITY, Workspace, cli
from openpyxl.worksheet.datavalidation import DataValidation
from test_forms import copy_config, uscc, write_contracts

from huizong.catalog import Config
from huizong.forms.new import guess_frequency, new_form, plain_title, split_unit
from huizong.pipeline import run_batch
from huizong.publish.layout import Layout


def rows_of(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def said(notes: tuple[str, ...], *beginnings: str) -> bool:
    """The notes are these, in this order (each told by how it begins)."""
    return len(notes) == len(beginnings) and all(n.startswith(b) for n, b in zip(notes, beginnings, strict=True))


def totals(ws: Workspace, root: Path, form_id: str, period: str) -> dict[str, str]:
    form = Config.load(root).form_by_id[form_id]
    path = Layout(ws.outputs).totals_csv(CITY, period, form)
    return {r["indicator_code"]: r["value"] for r in rows_of(path)}


def run(
    tmp_path: Path, root: Path, files: dict[str, Callable[[Path], Path]]
) -> tuple[Workspace, dict[str, tuple[str, int, int]]]:
    """The pipeline on the given returns (name -> writer(path)), with the configuration at `root`."""
    (tmp_path / "run").mkdir()
    ws = Workspace(tmp_path / "run")
    for name, write in files.items():
        write(ws.drop(name))
    summary = run_batch(dataclasses.replace(ws.settings, config=root), Config.load(root))
    return ws, {d.inbound.rel: (d.status, d.errors, d.warnings) for d in summary.decisions}


# a list: one enterprise a row ----------------------------------------------------------------------

LIST_HEAD = [
    "序号",
    "企业名称",
    "统一社会信用代码",
    "营业收入（万元）",
    "研发费用（万元）",
    "从业人员\n（人）",
    "认定日期",
]


def write_list(path: Path, office: str = "", period: str = "      年", rows: list[list[object]] | None = None) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "高企名单"
    ws["A1"] = "2024年度高新技术企业统计表"
    ws.merge_cells("A1:G1")
    ws["A2"], ws["E2"] = f"填报单位：{office}", f"报告期：{period}"
    for c, h in enumerate(LIST_HEAD, start=1):
        ws.cell(row=4, column=c, value=h)
    body = rows if rows is not None else [[] for _ in range(3)]  # the blank form: numbered empty rows
    for r, row in enumerate(body, start=5):
        for c, v in enumerate([r - 4, *row], start=1):
            ws.cell(row=r, column=c, value=v)
    ws.cell(row=6 + len(body), column=1, value="填报人：")
    ws.cell(row=6 + len(body), column=4, value="联系电话：")
    wb.save(path)
    return path


def test_a_blank_list_form_becomes_a_definition_that_reads_the_filled_returns(tmp_path: Path) -> None:
    root = copy_config(tmp_path)
    blank = write_list(tmp_path / "高企统计表.xlsx")
    r = cli("forms", "new", str(blank), "--id", "hightech-list", "--config", str(root))
    assert r.returncode == 0, r.stderr
    assert "已生成报表定义" in r.stdout and "检查：通过" in r.stdout and "认出 7/7 列" in r.stdout
    folder = root / "forms" / "hightech-list"
    assert sorted(p.name for p in folder.iterdir()) == ["fields.csv", "form.toml", "measures.csv", "rules.csv"]
    assert cli("forms", "check", str(folder), "--config", str(root)).returncode == 0

    fields = [(f["code"], f["name"], f["type"], f["unit"], f["required"]) for f in rows_of(folder / "fields.csv")]
    assert fields == [
        ("seq", "序号", "seq", "", "n"),
        ("name", "企业名称", "text", "", "y"),
        ("uscc", "统一社会信用代码", "uscc", "", "y"),
        ("revenue", "营业收入", "number", "万元", "n"),
        ("rd", "研发费用", "number", "万元", "n"),
        ("staff", "从业人员", "integer", "人", "n"),
        ("cert_date", "认定日期", "date", "", "n"),
    ]
    measures = [(m["code"], m["name"], m["unit"], m["expression"], m["key"]) for m in rows_of(folder / "measures.csv")]
    assert measures == [
        ("N", "企业数", "家", "count()", "y"),
        ("REVENUE", "营业收入合计", "万元", "sum(revenue)", "y"),
        ("RD", "研发费用合计", "万元", "sum(rd)", "y"),
        ("STAFF", "从业人员合计", "人", "sum(staff)", "n"),
    ]
    toml = tomllib.loads((folder / "form.toml").read_text(encoding="utf-8"))
    assert (toml["name"], toml["short_name"], toml["frequency"], toml["order"]) == (
        "高新技术企业统计表",
        "高新技术企业",
        "year",
        3,
    )
    assert toml["due"] == {"FY": "01-31", "next_year": ["FY"]}
    assert toml["sheet"] == {"names": ["高企名单"]}
    assert toml["list"] == {
        "fields": "fields.csv",
        "header": ["企业名称", "统一社会信用代码"],
        "key": "uscc",
        "min_fields": 4,
        "title": "高新技术企业明细",
    }

    # the examples in rules.csv are comments; without their # they are rules that check
    rules = folder / "rules.csv"
    assert cli("forms", "check", str(folder), "--config", str(root)).stdout.endswith("0 条规则）\n")
    text = rules.read_text(encoding="utf-8-sig")
    rules.write_text(
        "\n".join(ln[1:] if ln.startswith("#") and "," in ln[:40] else ln for ln in text.splitlines()), encoding="utf-8"
    )
    checked = cli("forms", "check", str(folder), "--config", str(root))
    assert checked.returncode == 0 and "5 条规则" in checked.stdout, checked.stderr

    a, b, c = uscc("91620722MA0001AB1"), uscc("91620722MA0002AB2"), uscc("91620702MA0003AB3")
    ws, status = run(
        tmp_path,
        root,
        {
            "民乐县.xlsx": lambda p: write_list(
                p,
                "民乐县科学技术局",
                "2024年",
                [
                    ["民乐甲公司", a, 1200.5, 60.25, 35, dt.datetime(2024, 5, 6)],
                    ["民乐乙公司", b, "800", 90, 12, "2024-07-01"],
                ],
            ),  # a number written as text is read
            "甘州区.xlsx": lambda p: write_list(
                p, "甘州区科学技术局", "2024年度", [["甘州甲公司", c, 50, 70.1, 8, "2024年3月2日"]]
            ),  # rd 70.1 > revenue 50: rd-exceeds, a warning
        },
    )
    assert status == {"民乐县.xlsx": ("accepted", 0, 0), "甘州区.xlsx": ("accepted", 0, 1)}
    assert totals(ws, root, "hightech-list", "2024FY") == {"N": "3", "REVENUE": "2050.5", "RD": "220.35", "STAFF": "55"}


# an indicator table: one indicator a row --------------------------------------------------------------

INDICATORS = [
    ("研发经费支出", "R01", "万元"),
    ("其中：企业研发经费", "R02", "万元"),
    ("研发人员", "R03", "人"),
    ("发明专利授权量", "R04", "件"),
    ("新型研发机构数", "R05", "个"),
]


def write_table(
    path: Path, office: str = "", period: str = "      年第    季度", values: list[object] | None = None
) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "研发投入"
    ws["A1"] = "县（区）研发投入统计表"
    ws["A2"], ws["D2"] = f"填报单位：{office}", f"报告期：{period}"
    for c, h in enumerate(["序号", "指标名称", "指标代码", "计量单位", "本期数", "上年同期"], start=1):
        ws.cell(row=4, column=c, value=h)
    for r, (name, code, unit) in enumerate(INDICATORS, start=5):
        for c, v in enumerate([r - 4, name, code, unit, values[r - 5] if values else None], start=1):
            ws.cell(row=r, column=c, value=v)
    wb.save(path)
    return path


def test_a_blank_indicator_table_becomes_a_catalog_and_its_returns_are_summed(tmp_path: Path) -> None:
    root = copy_config(tmp_path)
    r = cli("forms", "new", str(write_table(tmp_path / "研发投入.xlsx")), "--id", "rd-input", "--config", str(root))
    assert r.returncode == 0, r.stderr
    assert "指标表" in r.stdout and "认出 5/5 个指标行" in r.stdout
    folder = root / "forms" / "rd-input"
    assert sorted(p.name for p in folder.iterdir()) == ["form.toml", "indicators.csv", "rules.csv"]
    assert cli("forms", "check", str(folder), "--config", str(root)).returncode == 0
    catalog = [
        (i["code"], i["name_zh"], i["unit"], i["kind"], i["aggregate"], i["integer"], i["required"])
        for i in rows_of(folder / "indicators.csv")
    ]
    assert catalog == [
        ("R01", "研发经费支出", "万元", "flow", "sum", "n", "y"),
        ("R02", "企业研发经费", "万元", "flow", "sum", "n", "y"),
        ("R03", "研发人员", "人", "flow", "sum", "y", "y"),
        ("R04", "发明专利授权量", "件", "flow", "sum", "y", "y"),
        ("R05", "新型研发机构数", "个", "flow", "sum", "y", "y"),
    ]
    toml = tomllib.loads((folder / "form.toml").read_text(encoding="utf-8"))
    assert (toml["frequency"], toml["due"]) == ("quarter", "+1-10")
    assert toml["indicators"]["catalog"] == "forms/rd-input/indicators.csv"
    assert toml["indicators"]["header"] == ["指标名称", "指标代码"]
    labels = {role: cues.get("label") for role, cues in toml["indicators"]["columns"].items()}
    assert (labels["value"], labels["last_year"], labels["name"]) == ("本期数", "上年同期", "指标名称")

    ws, status = run(
        tmp_path,
        root,
        {
            "民乐县研发.xlsx": lambda p: write_table(p, "民乐县科学技术局", "2024年第二季度", [1200.5, 800, 35, 4, 1]),
            "甘州区研发.xlsx": lambda p: write_table(p, "甘州区科学技术局", "2024年4-6月", ["0.3亿元", 2000, 60, 7, 2]),
        },
    )
    assert status == {"民乐县研发.xlsx": ("accepted", 0, 0), "甘州区研发.xlsx": ("accepted", 0, 0)}
    assert totals(ws, root, "rd-input", "2024K2") == {
        "R01": "4200.5",
        "R02": "2800",
        "R03": "95",
        "R04": "11",
        "R05": "3",
    }


# drop-down lists become choices -------------------------------------------------------------------------


def write_pool(path: Path, office: str = "", period: str = "    年    月", rows: Sequence[list[object]] = ()) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "入库名单"
    ws["A1"] = "科技型中小企业入库名单"
    ws["A2"], ws["D2"] = f"填报单位：{office}", f"报告期：{period}"
    for c, h in enumerate(
        ["序号", "企业名称", "统一社会信用代码", "技术领域", "企业规模", "研发投入（万元）"], start=1
    ):
        ws.cell(row=3, column=c, value=h)
    lists = wb.create_sheet("选项")
    for n, v in enumerate(["电子信息", "生物医药", "新材料", "其他"], start=1):
        lists.cell(row=n, column=1, value=v)
    lists.sheet_state = "hidden"
    domain = DataValidation(type="list", formula1="'选项'!$A$1:$A$4")
    size = DataValidation(type="list", formula1='"微型,小型,中型"')
    ws.add_data_validation(domain)
    ws.add_data_validation(size)
    domain.add("D4:D500")
    size.add("E4:E500")
    for r, row in enumerate(rows, start=4):
        for c, x in enumerate([r - 3, *row], start=1):
            ws.cell(row=r, column=c, value=x)
    wb.save(path)
    return path


def test_drop_down_lists_become_choices_and_a_value_outside_them_is_refused(tmp_path: Path) -> None:
    root = copy_config(tmp_path)
    r = cli("forms", "new", str(write_pool(tmp_path / "pool.xlsx")), "--config", str(root))
    assert r.returncode == 0, r.stderr
    folder = root / "forms" / "pool"  # the id from the file's name
    fields = {f["code"]: (f["type"], f["choices"]) for f in rows_of(folder / "fields.csv")}
    assert fields["domain"] == ("choice", "电子信息|生物医药|新材料|其他")  # a range on a hidden sheet
    assert fields["size"] == ("choice", "微型|小型|中型")  # a list written in the validation
    assert fields["rd"] == ("number", "")
    toml = tomllib.loads((folder / "form.toml").read_text(encoding="utf-8"))
    assert (toml["frequency"], toml["due"]) == ("month", "+1-05")
    by = [(m["code"], m["by"]) for m in rows_of(folder / "measures.csv") if m["by"]]
    assert by == [("N_DOMAIN", "domain"), ("N_SIZE", "size")]

    a, b = uscc("91620722MA0001AB1"), uscc("91620702MA0003AB3")
    ws, status = run(
        tmp_path,
        root,
        {
            "民乐县.xlsx": lambda p: write_pool(
                p, "民乐县科学技术局", "2024年3月", [["民乐甲公司", a, "新材料", "小型", 30]]
            ),
            "甘州区.xlsx": lambda p: write_pool(
                p, "甘州区科学技术局", "2024年3月", [["甘州甲公司", b, "区块链", "微型", 12]]
            ),
        },
    )
    assert status == {"民乐县.xlsx": ("accepted", 0, 0), "甘州区.xlsx": ("rejected", 1, 0)}
    form = Config.load(root).form_by_id["pool"]
    issues = rows_of(Layout(ws.outputs).issues_csv(CITY, "2024M03", form))
    assert {(i["file"], i["code"], i["cell"]) for i in issues} == {("甘州区.xlsx", "record-choice-unknown", "D4")}
    assert totals(ws, root, "pool", "2024M03")["N_DOMAIN_03"] == "1"  # 新材料


def test_a_filled_form_guesses_types_from_its_values_and_writes_where_told(tmp_path: Path) -> None:
    root = copy_config(tmp_path)
    path = tmp_path / "名单.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["科技特派员名单"])
    ws.append(["报告期：2024年上半年"])
    ws.append(["序号", "姓名", "服务单位", "服务天数", "评价得分", "派驻日期", "备注"])
    ws.append([1, "张三", "民乐县农技站", 30, 92.5, dt.datetime(2024, 3, 1), ""])
    ws.append([2, "李四", "甘州区农技站", 12, 88, dt.datetime(2024, 4, 8), "兼职"])
    wb.save(path)
    out = tmp_path / "review" / "sci-envoys"
    made = new_form(path, None, out, root)
    assert made.folder == out and made.kind == "list" and made.data_rows == 2
    assert [(f.code, f.type) for f in made.fields] == [
        ("seq", "seq"),
        ("person", "text"),
        ("f03", "text"),
        ("f04", "integer"),
        ("f05", "number"),
        ("date", "date"),
        ("note", "text"),
    ]
    assert (made.frequency, made.periods) == ("cumulative", ("H1", "FY"))
    r = cli("forms", "check", str(out), "--config", str(root))
    assert r.returncode == 0, r.stderr
    assert not (root / "forms" / "sci-envoys").exists()


def test_a_form_too_like_a_configured_one_and_layouts_the_reader_misreads_are_said(tmp_path: Path) -> None:
    root = copy_config(tmp_path)
    contracts = write_contracts(tmp_path / "合同.xlsx", "620722", "2024年3月", [])  # tech-contracts' own blank list
    r = cli("forms", "new", str(contracts), "--id", "contracts-again", "--config", str(root))
    assert r.returncode == 0, r.stderr
    assert "原表会被当作“技术合同认定登记明细表”（tech-contracts）读入" in r.stdout
    assert (
        tomllib.loads((root / "forms" / "contracts-again" / "form.toml").read_text(encoding="utf-8"))["list"]["key"]
        == "regno"
    )

    two_rows = tmp_path / "two-rows.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["企业研发情况表"])
    ws.append(["序号", "企业名称", "统一社会信用代码", "营业收入（万元）", None, "备注"])
    ws.append([None, None, None, "本年", "上年", None])
    ws.append(["甲", "乙", "丙", 1, 2, 3])
    wb.save(two_rows)
    made = new_form(two_rows, "two-rows", None, root)
    assert [f.column for f in made.fields] == ["A", "B", "C", "D", "F"]
    assert said(
        made.notes,
        "工作表名“Sheet”没有特点",
        "表头有两行（第 2、3 行）：huizong 按一行表头读明细表，E 列不会读入",
        "表头下的第 4 行是栏次行",
    )

    merged = tmp_path / "merged.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "监测"
    ws.append(["科技创新监测表"])
    ws.append(["指标", "计量单位", "2024年1-6月", None, None, "增长率"])
    ws.append([None, None, "年度目标", "本期累计", "上年同期", None])
    for row in (["一、科技投入"], ["1.研发经费投入", "万元"], ["2.财政科技支出（万元）"], ["3.研发投入强度", "%"]):
        ws.append(row)
    wb.save(merged)
    made = new_form(merged, "merged", None, root)
    assert [(i.code, i.name, i.unit, i.group) for i in made.indicators] == [
        ("I01", "研发经费投入", "万元", "科技投入"),
        ("I02", "财政科技支出", "万元", "科技投入"),
        ("I03", "研发投入强度", "%", "科技投入"),
    ]
    assert said(
        made.notes,
        "C2“2024年1-6月”跨在第 3 行的几栏之上",
        "指标表的 F“增长率” 栏不读",
        "指标 I03“研发投入强度”像比率",
        "这些行没有单位和代码，当作分组标题（不读）：第 4 行“一、科技投入”",
    )
    assert cli("forms", "check", str(made.folder), "--config", str(root)).returncode == 0


def test_words_of_the_header() -> None:
    assert split_unit("营业收入（万元）") == ("营业收入", "万元")
    assert split_unit("成交额(亿元)") == ("成交额", "亿元")
    assert split_unit("卖方（技术输出方）") == ("卖方（技术输出方）", "")
    assert split_unit("金额（单位：万元）") == ("金额", "万元")
    assert plain_title("2024年度张掖市高新技术企业统计表（  年  月）".replace(" ", "")) == "张掖市高新技术企业统计表"
    assert guess_frequency("年月", "")[0] == "month"
    assert guess_frequency("年第季度", "")[0] == "quarter"
    assert guess_frequency("2024年上半年", "")[:2] == ("cumulative", ("H1", "FY"))
    assert guess_frequency("", "2024年度统计表")[0] == "year"
    assert guess_frequency("", "某某名单")[0] == "year"


# refusals: one Chinese line, exit 2, never a traceback -----------------------------------------------------


def test_what_is_no_workbook_or_would_overwrite_is_refused_in_one_line(tmp_path: Path) -> None:
    root = copy_config(tmp_path)
    text = tmp_path / "notes.xlsx"
    text.write_text("这不是工作簿", encoding="utf-8")
    for args, words in [
        ((str(text),), "不是 Excel 工作簿"),
        ((str(tmp_path / "missing.xlsx"),), "文件不存在"),
        ((str(write_list(tmp_path / "a.xlsx")), "--id", "tech-contracts"), "已存在，不覆盖"),
        ((str(write_list(tmp_path / "b.xlsx")), "--id", "Bad_Id"), "小写字母、数字和连字符"),
        ((str(write_list(tmp_path / "c.xlsx")), "--sheet", "无此表"), "没有工作表“无此表”"),
    ]:
        r = cli("forms", "new", *args, "--config", str(root))
        assert r.returncode == 2, (args, r.stdout)
        assert r.stderr.startswith("huizong: ") and words in r.stderr and r.stderr.count("\n") == 1, r.stderr
        assert "Traceback" not in r.stderr
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(write_list(tmp_path / "d.xlsx").read_bytes()[:500])  # a truncated zip
    r = cli("forms", "new", str(broken), "--config", str(root))
    assert (r.returncode, "Traceback" in r.stderr) == (2, False) and "损坏" in r.stderr
    assert sorted(p.name for p in (root / "forms").iterdir()) == ["header.toml", "key-indicators", "tech-contracts"]
