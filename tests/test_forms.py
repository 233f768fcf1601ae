"""Forms as data: definitions checked on load, the rule language, and the technology-contract
list form end to end, on real .xlsx/.xls files written here as counties' own programs would."""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
from pathlib import Path

import openpyxl
import pytest
import xlwt
from builders import BASE_VALUES, CONFIG, write_return
from conftest import Workspace, cli
from hypothesis import given, settings
from hypothesis import strategies as st

from huizong.catalog import CatalogError, Config
from huizong.forms.expr import ExprError, parse
from huizong.read.returns import read_return
from huizong.rules.evaluate import Tables, holds

ROOT = Path(__file__).resolve().parents[1]
FORMS = ROOT / "expectations" / "forms"
HEAD = [
    "序号",
    "合同登记号",
    "项目名称",
    "合同类别",
    "卖方名称",
    "卖方统一社会信用代码",
    "买方名称",
    "买方所在地",
    "成交金额（万元）",
    "技术交易额（万元）",
    "签订日期",
    "登记日期",
    "技术领域",
]
USCC_OK = "91620722MA0001CB1Q"  # check character computed below in `uscc`


def uscc(body17: str) -> str:
    from huizong.read.uscc import uscc_check_char

    return body17 + uscc_check_char(body17)


def contract(
    regno: str,
    amount: object = 100.0,
    tech: object = 80.0,
    signed: object = None,
    registered: object = None,
    category: str = "技术服务",
    domain: str = "现代农业",
    seller_code: str | None = None,
    place: str = "甘肃省张掖市",
) -> list[object]:
    registered = registered or dt.datetime(2024, 3, 15)
    signed = signed or dt.datetime(2024, 3, 1)
    return [
        regno,
        "马铃薯种薯技术服务",
        category,
        "甘肃某科技有限公司",
        seller_code or uscc("91620722MA0001CB1"),
        "张掖某农业有限公司",
        place,
        amount,
        tech,
        signed,
        registered,
        domain,
    ]


def write_contracts(
    path: Path, county: str, month: str, rows: list[list[object]], *, office: str = "", top: int = 6, left: int = 1
) -> Path:
    """A county's contract list as its own program writes it: header block, then the table."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    ws.cell(row=1, column=left, value="技术合同认定登记明细表")
    ws.cell(row=2, column=left, value=f"填报单位：{office or county + '科学技术局'}")
    ws.cell(row=3, column=left, value="行政区划代码")
    ws.cell(row=3, column=left + 1, value=county)
    ws.cell(row=4, column=left, value=f"登记月份：{month}")
    for c, h in enumerate(HEAD, start=left):
        ws.cell(row=top, column=c, value=h)
    for r, row in enumerate(rows, start=top + 1):
        ws.cell(row=r, column=left, value=r - top)
        for c, v in enumerate(row, start=left + 1):
            ws.cell(row=r, column=c, value=v)
    wb.save(path)
    return path


# definitions ------------------------------------------------------------------------------


def copy_config(tmp_path: Path) -> Path:
    root = tmp_path / "expectations"
    shutil.copytree(ROOT / "expectations", root)
    return root


@pytest.mark.parametrize(
    ("file", "edit", "expected"),
    [
        (
            "tech-contracts/rules.csv",
            lambda t: t.replace("tech_amount <= amount", "tech_amout <= amount"),
            "rules.csv:4: contract-tech-exceeds: tech_amout 不是本表的字段",
        ),
        (
            "tech-contracts/rules.csv",
            lambda t: t.replace("tech_amount <= amount", "tech_amount <= = amount"),
            "rules.csv:4: contract-tech-exceeds: expression: 表达式无法解析",
        ),
        (
            "tech-contracts/rules.csv",
            lambda t: t.replace("unique(regno)", "__import__('os').system('id')"),
            "rules.csv:2: contract-duplicate: expression: 不认识的函数 __import__",
        ),
        (
            "tech-contracts/rules.csv",
            lambda t: t.replace("unique(regno)", "regno.upper()"),
            "rules.csv:2: contract-duplicate: expression: 不认识的函数 regno.upper",
        ),
        (
            "tech-contracts/fields.csv",
            lambda t: t.replace("title,项目名称,", "regno,项目名称,"),
            "fields.csv:4: code 'regno' 重复（第 3 行已有）",
        ),
        (
            "tech-contracts/fields.csv",
            lambda t: t.replace(",choice,,y,,,技术开发", ",option,,y,,,技术开发"),
            "fields.csv:5: category: type 'option' 应为",
        ),
        (
            "key-indicators/form.toml",
            lambda t: t.replace("note = {", "remark = {"),
            "[indicators.columns] remark：不认识的栏目角色",
        ),
        (
            "key-indicators/rules.csv",
            lambda t: t.replace('form(""tech-contracts"", ""N"")', 'form(""contracts"", ""N"")', 1),
            "rules.csv:2: contracts-count-differs: form('contracts', …)：没有这张报表",
        ),
        (
            "tech-contracts/measures.csv",
            lambda t: t.replace("sum(amount),,y,n", "sum(amont),,y,n"),
            "measures.csv:3: AMT: expression 中的 amont 不是明细表的字段",
        ),
        (
            "tech-contracts/form.toml",
            lambda t: t.replace('key = "regno"', 'key = "reg_no"'),
            "[list] key 中的 'reg_no' 不是 fields 中的字段代码",
        ),
        # the project detail's own section of old, in a deployment's form.toml: told where it went
        ("key-indicators/form.toml", lambda t: t + '\n[projects]\nsheet = ["项目"]\n', "[projects] 已改为 [list]"),
        (
            "key-indicators/rules.csv",
            lambda t: t.replace("sum(funds) <= B03", "sum(fund) <= B03"),
            "rules.csv:7: detail-funds-exceed: count()/sum() 中的 fund 不是明细表的字段",
        ),
    ],
)
def test_a_wrong_definition_is_refused_in_one_line_naming_file_row_and_field(tmp_path, file, edit, expected):  # type: ignore[no-untyped-def]
    root = copy_config(tmp_path)
    path = root / "forms" / file
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(CatalogError) as e:
        Config.load(root)
    assert expected in str(e.value) and "\n" not in str(e.value), str(e.value)
    r = cli("forms", "check", str(path.parent), "--config", str(root))
    assert r.returncode == 2 and expected in r.stderr and r.stderr.count("\n") == 1, r.stderr
    r = cli("validate", str(tmp_path / "nothing.xlsx"), "--config", str(root))
    assert r.returncode == 2


def test_the_shipped_forms_check_and_list(tmp_path):  # type: ignore[no-untyped-def]
    r = cli("forms", "check", str(FORMS / "tech-contracts"))
    assert r.returncode == 0 and "tech-contracts: 技术合同认定登记明细表 定义正确" in r.stdout, r.stderr
    assert cli("forms", "check", str(FORMS / "key-indicators")).returncode == 0
    listed = cli("forms")
    assert "key-indicators" in listed.stdout and "tech-contracts" in listed.stdout and "次月 5 日" in listed.stdout


# the rule language ----------------------------------------------------------------------------


def test_expressions_are_evaluated_as_data_never_run() -> None:
    import pandas as pd

    df = pd.DataFrame(
        {
            "amount": [10.0, 5.0, None],
            "tech": [12.0, 5.0, 3.0],
            "cat": ["技术开发（委托）", "技术服务", None],
            "d": pd.to_datetime(["2024-03-02", "2024-04-01", None]),
        }
    )
    assert list(holds(parse("tech <= amount"), Tables(df))) == [False, True, True]  # a blank amount: not applicable
    assert list(holds(parse("cat == “技术开发（委托）”"), Tables(df))) == [True, False, True]
    assert list(holds(parse("month(d) == 3"), Tables(df))) == [True, False, True]
    assert list(holds(parse("filled(cat)"), Tables(df))) == [True, True, False]
    assert list(holds(parse("tech <= band(amount, [6], [1, 20])"), Tables(df))) == [True, False, True]
    for bad in ("__import__('os')", "(1).__class__", "x ** 2", "lambda: 1", "a[0]", "open('/etc/passwd')", "f'{x}'"):
        with pytest.raises(ExprError):
            parse(bad)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_parses_to_an_expression_or_a_clean_refusal(text: str) -> None:
    with contextlib.suppress(ExprError):
        parse(text)


# reading --------------------------------------------------------------------------------------


def test_a_contract_list_is_read_however_the_county_wrote_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rows = [
        contract(
            "62072220240001",
            amount="85万元",
            tech=50,
            signed="2024年3月2日",
            registered="2024.3.5",
            category="技术开发(委托)",
        ),
        contract(
            62072220240002,
            amount="0.12亿元",
            tech="1,000",
            signed="2024-03-03",
            registered=20240306,
            domain="电子信息技术",
        ),
        ["合计", None, None, None, None, None, None, 1285],
    ]
    path = write_contracts(tmp_path / "民乐县三月.xlsx", "620722", "2024年03月", rows, top=9, left=3)
    ret = read_return(path, CONFIG, "620700")
    assert (ret.form, ret.county_code, ret.period.token if ret.period else None) == (
        "tech-contracts",
        "620722",
        "2024M03",
    )
    assert [r.values["regno"] for r in ret.records] == ["62072220240001", "62072220240002"]
    first, second = ret.records
    assert (first.values["amount"], first.values["category"], first.values["sign_date"], first.values["reg_date"]) == (
        85.0,
        "技术开发（委托）",
        "2024-03-02",
        "2024-03-05",
    )
    assert (
        second.values["amount"],
        second.values["tech_amount"],
        second.values["reg_date"],
        second.values["domain"],
    ) == (1200.0, 1000.0, "2024-03-06", "电子信息")
    assert first.cells["amount"] == "K10" and not first.problems and not second.problems


def test_an_xls_and_an_empty_month_are_returns(tmp_path) -> None:  # type: ignore[no-untyped-def]
    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("三月")
    ws.write(0, 0, "填报单位：民乐县科学技术局")
    ws.write(1, 0, "报告期：2024年3月")
    for c, h in enumerate(HEAD):
        ws.write(3, c, h)
    wb.save(str(tmp_path / "empty.xls"))
    ret = read_return(tmp_path / "empty.xls", CONFIG, "620700")
    assert (ret.form, ret.county_code, str(ret.period), ret.records, ret.issues) == (
        "tech-contracts",
        "620722",
        "2024M03",
        [],
        [],
    )


# the pipeline ----------------------------------------------------------------------------------


def test_contracts_validated_against_the_store_summed_and_cross_checked(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ws = Workspace(tmp_path)
    months = {
        m: [
            contract(
                f"620722202400{m}{k}",
                amount=100.0,
                tech=80.0,
                signed=dt.datetime(2024, m, 1),
                registered=dt.datetime(2024, m, 10),
            )
            for k in range(2)
        ]
        for m in range(1, 7)
    }
    for m, rows in months.items():
        write_contracts(ws.drop(f"民乐县_2024年{m}月.xlsx"), "620722", f"2024年{m}月", rows)
    # E03 12 and E04 1200 万元 agree with the six lists; 甘州区 says 20 and has no lists (no check)
    write_return(ws.drop("民乐县_H1.xlsx"), "620722", "2024H1", {**BASE_VALUES, "E03": 12, "E04": 1200})
    first = ws.run()
    assert first.counts["accepted"] == 7, [(d.inbound.rel, d.status, d.reason) for d in first.decisions]
    half = {r["indicator_code"]: r for r in ws.csv("620700/tech-contracts/2024H1/totals.csv")}
    assert (half["N"]["value"], half["AMT"]["value"], half["TECH"]["value"], half["N"]["n_reported"]) == (
        "12",
        "1200",
        "960",
        "1",
    )
    q1 = {r["indicator_code"]: r for r in ws.csv("620700/tech-contracts/2024Q1/totals.csv")}
    assert q1["N"]["value"] == "6"
    nc = {
        r["name"]: r["value"]
        for r in ws.csv("620700/tech-contracts/2024M03/totals.csv")
        if r["indicator_code"].startswith("NC_")
    }
    assert nc["合同数（技术服务）"] == "2" and nc["合同数（技术转让）"] == "0"
    assert ws.csv("620700/key-indicators/2024H1/issues.csv") == []  # the key-indicator return agrees with the lists

    # July: a number 民乐县 registered in March, a date in June, technology part above the turnover,
    # a bad credit code, a number of another county's; and 民乐县's H1 return corrected to 15 contracts
    bad = [
        contract("62072220240031", registered=dt.datetime(2024, 7, 3)),
        contract("62072220240032", registered=dt.datetime(2024, 6, 30)),
        contract("62072220240033", amount=50, tech=60, registered=dt.datetime(2024, 7, 4)),
        contract("62072220240034", seller_code="91620722MA0001CB10", registered=dt.datetime(2024, 7, 5)),
        contract("62070220240001", registered=dt.datetime(2024, 7, 6)),
    ]
    write_contracts(ws.drop("民乐县_2024年7月.xlsx"), "620722", "2024年7月", bad)
    write_return(ws.drop("民乐县_H1_更正.xlsx"), "620722", "2024H1", {**BASE_VALUES, "E03": 15, "E04": 1200})
    second = ws.run()
    status = {d.inbound.rel: d.status for d in second.decisions}
    assert status == {"民乐县_2024年7月.xlsx": "rejected", "民乐县_H1_更正.xlsx": "accepted"}
    issues = [(i["cell"], i["code"], i["indicator_code"]) for i in ws.csv("620700/tech-contracts/2024M07/issues.csv")]
    assert issues == [
        ("B7", "contract-duplicate", "regno"),
        ("L8", "contract-date-outside", "reg_date"),
        ("J9", "contract-tech-exceeds", "tech_amount"),
        ("F10", "record-uscc-check-failed", "seller_uscc"),
        ("B11", "contract-county", "regno"),
    ], issues
    dup = ws.csv("620700/tech-contracts/2024M07/issues.csv")[0]["message"]
    assert "62072220240031" in dup and "民乐县_2024年3月.xlsx" in dup  # names the other return
    cross = ws.csv("620700/key-indicators/2024H1/issues.csv")
    assert [(i["code"], i["cell"], i["severity"]) for i in cross if i["file"] == "民乐县_H1_更正.xlsx"] == [
        ("contracts-count-differs", "F34", "warning")
    ]
    assert "15 项" in cross[-1]["message"] and "12 项" in cross[-1]["message"]
    # the ledger: every submission and fact names its form; records kept with their key
    assert ws.sql("select count(*) from records where form = 'tech-contracts' and key is not null") == [(12,)]
    assert sorted(ws.sql("select distinct form from facts")) == [("key-indicators",), ("tech-contracts",)]


def test_a_province_sums_the_months_of_its_counties(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ws = Workspace(tmp_path)
    write_contracts(ws.drop("民乐县.xlsx"), "620722", "2024-03", [contract("62072220240001", amount=100.0, tech=1)])
    write_contracts(
        ws.drop("七里河区.xlsx"),
        "620103",
        "202403",
        [contract("62010320240001", amount=7.5, tech=1, registered=dt.datetime(2024, 3, 9), place="北京市")],
    )
    import dataclasses

    from huizong.pipeline import run_batch

    summary = run_batch(dataclasses.replace(ws.settings, region="620000"), CONFIG)
    assert summary.counts["accepted"] == 2
    province = {r["indicator_code"]: r for r in ws.csv("620000/tech-contracts/2024M03/totals.csv")}
    assert (province["N"]["value"], province["AMT"]["value"], province["N_OUT"]["value"]) == ("2", "107.5", "1")
    assert province["N"]["n_expected"] == "86"
    city = {r["indicator_code"]: r for r in ws.csv("620700/tech-contracts/2024M03/totals.csv")}
    assert (city["AMT"]["value"], city["AMT"]["n_expected"]) == ("100", "6")


# a third form, written from docs/forms.md alone ---------------------------------------------------

HIGHTECH_TOML = """
name = "高新技术企业培育库入库名单"
short_name = "培育库"
table_no = "科技统05表"
frequency = "cumulative"
due = { Q1 = "04-15", H1 = "07-15", Q3 = "10-15", FY = "01-25", next_year = ["FY"] }
order = 3

[sheet]
names = ["入库名单"]

[list]
fields = "fields.csv"
header = ["企业名称"]
key = "uscc"
min_fields = 3
title = "入库企业"

[measures]
file = "measures.csv"

[rules]
file = "rules.csv"
"""
HIGHTECH_FIELDS = """code,name,aliases,type,unit,required,min,max,choices,choice_aliases,pattern,severity,explanation
seq,序号,,seq,,n,,,,,,error,
name,企业名称,单位名称,text,,y,,,,,,error,
uscc,统一社会信用代码,信用代码,uscc,,y,,,,,,error,
revenue,上年营业收入,营业收入,number,万元,y,0,,,,,error,
rd,上年研发投入,研发费用,number,万元,y,0,,,,,error,
field,技术领域,领域,choice,,y,,,电子信息|生物与新医药|新材料|先进制造与自动化|其他,,,warning,
"""
HIGHTECH_MEASURES = """code,group,name,unit,expression,by,key,integer
ENT,入库,入库企业数,家,count(),,y,y
REV,入库,营业收入合计,万元,sum(revenue),,y,n
RD,入库,研发投入合计,万元,sum(rd),,n,n
BIG,入库,营业收入过亿元企业数,家,count(revenue >= 10000),,n,y
"""
HIGHTECH_RULES = """code,scope,severity,expression,field,message,periods,message_en
ent-unique,row,error,unique(uscc),uscc,企业 {name} 已入库：{other},,
rd-share,row,warning,"rd >= band(revenue, [5000, 20000], [0.05, 0.04, 0.03]) * revenue",rd,研发投入 {rd} 万元低于营业收入 {revenue} 万元对应的比例,,
ent-total,return,warning,count() >= 1,,本期没有入库企业,FY,
"""


def hightech_config(tmp_path: Path) -> Path:
    root = copy_config(tmp_path)
    folder = root / "forms" / "hightech-pool"
    folder.mkdir()
    for name, text in (
        ("form.toml", HIGHTECH_TOML),
        ("fields.csv", HIGHTECH_FIELDS),
        ("measures.csv", HIGHTECH_MEASURES),
        ("rules.csv", HIGHTECH_RULES),
    ):
        (folder / name).write_text(text, encoding="utf-8")
    return root


def write_pool(path: Path, county: str, period: str, rows: list[list[object]]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "入库名单"
    ws["A1"], ws["A2"], ws["A3"] = "高新技术企业培育库入库名单", f"行政区划代码：{county}", f"报告期：{period}"
    for c, h in enumerate(
        ["序号", "企业名称", "统一社会信用代码", "上年营业收入（亿元）", "研发费用（万元）", "技术领域"], start=1
    ):
        ws.cell(row=5, column=c, value=h)
    for r, row in enumerate(rows, start=6):
        for c, v in enumerate([r - 5, *row], start=1):
            ws.cell(row=r, column=c, value=v)
    wb.save(path)
    return path


def test_a_third_form_from_the_guide_alone_runs_without_code(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    from huizong.pipeline import run_batch

    root = hightech_config(tmp_path)
    assert cli("forms", "check", str(root / "forms" / "hightech-pool"), "--config", str(root)).returncode == 0
    config = Config.load(root)
    (tmp_path / "run").mkdir()
    ws = Workspace(tmp_path / "run")
    a, b, c = uscc("91620722MA0001AB1"), uscc("91620702MA0002AB2"), uscc("91620723MA0003AB3")
    write_pool(
        ws.drop("民乐县.xlsx"),
        "620722",
        "2024年上半年",
        [
            ["民乐甲公司", a, 1.2, 600, "新材料"],  # 1.2 亿元 = 12000 万元, 600 >= 4 % of it
            ["民乐乙公司", c, 0.3, 200, "电子信息"],
        ],
    )
    write_pool(
        ws.drop("甘州区.xlsx"), "620702", "2024H1", [["甘州甲公司", b, 0.5, 100, "区块链"]]
    )  # 100 < 5 %: warning
    write_pool(
        ws.drop("临泽县.xlsx"), "620723", "2024年1-6月", [["临泽甲公司", c, 0.2, 120, "其他"]]
    )  # c again: refused
    summary = run_batch(dataclasses.replace(ws.settings, config=root), config)
    status = {d.inbound.rel: (d.status, d.errors, d.warnings) for d in summary.decisions}
    assert status == {
        "民乐县.xlsx": ("accepted", 0, 0),
        "甘州区.xlsx": ("accepted", 0, 2),
        "临泽县.xlsx": ("rejected", 1, 0),
    }
    totals = {r["indicator_code"]: r for r in ws.csv("620700/hightech-pool/2024H1/totals.csv")}
    assert {k: totals[k]["value"] for k in ("ENT", "REV", "RD", "BIG")} == {
        "ENT": "3",
        "REV": "20000",
        "RD": "900",
        "BIG": "1",
    }
    assert (totals["ENT"]["n_reported"], totals["ENT"]["n_expected"]) == ("2", "6")
    issues = {(i["file"], i["code"], i["cell"]) for i in ws.csv("620700/hightech-pool/2024H1/issues.csv")}
    assert issues == {
        ("甘州区.xlsx", "rd-share", "E6"),
        ("甘州区.xlsx", "record-choice-unknown", "F6"),
        ("临泽县.xlsx", "ent-unique", "C6"),
    }
    assert (ws.outputs / "620700" / "hightech-pool" / "2024H1" / "培育库汇总_张掖市_2024H1.xlsx").is_file()
    reporting = ws.csv("620700/hightech-pool/reporting.csv")
    assert {r["due"] for r in reporting} == {"2024-07-15"}


RD_TOML = """
name = "县（区）研发活动统计表"
short_name = "研发统计"
frequency = "cumulative"
order = 4

[sheet]
names = ["研发"]

[indicators]
catalog = "forms/rd-stats/indicators.csv"
header = ["指标名称"]

[indicators.columns]
seq = { contains = ["序号"] }
name = { contains = ["指标名称"] }
unit = { contains = ["单位"] }
value = { contains = ["本期"] }
last_year = { contains = ["上年"] }

[list]
fields = "staff.csv"
header = ["姓名"]
key = "id_no"
min_fields = 2
title = "研发人员名单"

[rules]
file = "rules.csv"
"""
RD_STAFF = """code,name,aliases,type,unit,required,min,max,choices,choice_aliases,pattern,severity,explanation
id_no,工号,编号,id,,y,,,,,,error,
person,姓名,,text,,y,,,,,,error,
"""
RD_CATALOG = """code,group,name_zh,name_en,unit,kind,aggregate,numerator,denominator,multiplier,integer,required,aliases,key,tolerance,max
R01,研发,研发人员数,R&D personnel,人,stock,sum,,,,y,y,研发人员,y,,1000000
R02,研发,研发经费内部支出,Intramural R&D,万元,flow,sum,,,,n,y,研发经费,y,,100000000
R03,研发,人均研发经费,R&D per person,万元/人,ratio,ratio,R02,R01,1,n,n,,n,0.05,100000
"""
RD_RULES = """code,scope,severity,expression,field,message,periods,message_en
rd-staff-listed,return,warning,count() == R01,R01,研发人员 {R01} 人与名单 {count()} 人不一致,,
rd-above-total,return,warning,"R02 <= form(""key-indicators"", ""A01"")",R02,"研发经费内部支出 {R02} 万元超过主要指标表的全社会研发经费 {form(""key-indicators"", ""A01"")} 万元",,
"""


def write_rd(path: Path, county: str, r01: object, r02: object, r03: object = None, staff: int | None = None) -> Path:
    wb = openpyxl.Workbook()
    if staff is not None:  # the list beside the table
        names = wb.create_sheet("名单")
        names.append(["工号", "姓名"])
        for n in range(staff):
            names.append([f"{county}-{n}", f"员工{n}"])
    ws = wb.active
    ws.title = "研发活动"
    ws["A1"], ws["A2"] = f"行政区划代码：{county}", "报告期：2024年1-6月"
    for c, h in enumerate(["序号", "指标名称", "计量单位", "本期", "上年同期"], start=1):
        ws.cell(row=4, column=c, value=h)
    for r, (name, unit, v) in enumerate(
        (("研发人员", "人", r01), ("研发经费", "亿元", r02), ("人均研发经费", "万元/人", r03)), start=5
    ):
        for c, x in enumerate([r - 4, name, unit, v], start=1):
            ws.cell(row=r, column=c, value=x)
    wb.save(path)
    return path


def test_a_third_indicator_form_sums_and_recomputes_its_ratio(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    from huizong.pipeline import run_batch

    root = copy_config(tmp_path)
    folder = root / "forms" / "rd-stats"
    folder.mkdir()
    for name, text in (
        ("form.toml", RD_TOML),
        ("indicators.csv", RD_CATALOG),
        ("rules.csv", RD_RULES),
        ("staff.csv", RD_STAFF),
    ):
        (folder / name).write_text(text, encoding="utf-8")
    config = Config.load(root)
    (tmp_path / "run").mkdir()
    ws = Workspace(tmp_path / "run")
    # the key-indicator return arrives first: a rule sees what would be in the store when its return arrives
    write_return(ws.drop("民乐县主要指标.xlsx"), "620722", "2024H1", {**BASE_VALUES, "A01": 4000})
    write_rd(ws.drop("民乐县研发.xlsx"), "620722", 100, 0.5, 50, staff=99)  # 0.5 亿元 = 5000 万元; a list of 99
    write_rd(ws.drop("甘州区研发.xlsx"), "620702", 300, "1.5", 99)  # its own ratio is off: a warning
    write_rd(ws.drop("临泽县研发.xlsx"), "620723", "约百人", 1)  # not a number: refused
    summary = run_batch(dataclasses.replace(ws.settings, config=root), config)
    status = {d.inbound.rel: (d.status, d.ret.form if d.ret else None) for d in summary.decisions}
    assert status == {
        "民乐县研发.xlsx": ("accepted", "rd-stats"),
        "甘州区研发.xlsx": ("accepted", "rd-stats"),
        "临泽县研发.xlsx": ("rejected", "rd-stats"),
        "民乐县主要指标.xlsx": ("accepted", "key-indicators"),
    }
    totals = {r["indicator_code"]: r for r in ws.csv("620700/rd-stats/2024H1/totals.csv")}
    assert (totals["R01"]["value"], totals["R02"]["value"], totals["R03"]["value"]) == ("400", "20000", "50")
    codes = {(i["file"], i["code"]) for i in ws.csv("620700/rd-stats/2024H1/issues.csv")}
    assert codes == {
        ("甘州区研发.xlsx", "ratio-mismatch"),
        ("临泽县研发.xlsx", "value-not-numeric"),
        ("民乐县研发.xlsx", "rd-above-total"),
        ("民乐县研发.xlsx", "rd-staff-listed"),
    }
    # 甘州区 sent no list: nothing to count, no warning; 民乐县's 99 names are kept with their key
    assert ws.sql("select count(*) from records where form = 'rd-stats'") == [(99,)]


def test_a_list_without_a_required_column_is_refused_once_not_per_row(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from huizong.pipeline import validate

    rows = [contract(f"6207222024000{k}") for k in range(1, 4)]
    path = write_contracts(tmp_path / "r.xlsx", "620722", "2024年3月", rows)
    wb = openpyxl.load_workbook(path)
    wb.active.delete_cols(12)  # 登记日期
    wb.save(path)
    ret = read_return(path, CONFIG, "620700")
    found = [(i.code, i.cell) for i in validate([ret], CONFIG, "620700")[ret.file] if i.severity == "error"]
    assert found == [("column-missing", "A6")]


def test_old_project_settings_in_rules_toml_are_refused_saying_where_they_went(tmp_path) -> None:  # type: ignore[no-untyped-def]
    root = copy_config(tmp_path)
    rules = root / "catalog" / "rules.toml"
    rules.write_text(rules.read_text(encoding="utf-8") + '\n[project_detail]\nstatuses = ["申报"]\n', encoding="utf-8")
    with pytest.raises(CatalogError) as e:
        Config.load(root)
    assert "[project_detail] 已移入表单定义" in str(e.value) and "fields.csv" in str(e.value)


def test_the_project_detail_is_the_key_forms_list_read_like_any_other(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Headed however the county wrote it: an alias written =项目 is a header exactly 项目 only (项目类型
    is the category, 项目编号 nothing); units in the header convert; subtotal rows are skipped;
    text is kept as written."""
    from huizong.read.model import Return

    good = uscc("91620722MA71ABC1K")
    path = tmp_path / "r.xlsx"
    write_return(path, "620722", "2024H1")
    wb = openpyxl.load_workbook(path)
    ws = wb.create_sheet("科技项目")
    ws.append(["科技项目情况"])
    ws.append(["项目编号", "项目", "项目类型", "项目承担单位", "社会信用代码", "进展", "到位资金（元）"])
    ws.append(["X-1", "节水灌溉（一期）", "省级重点研发计划", "甲公司", good, "在研", 125000])
    ws.append(["X-2", "马铃薯", "中央引导地方科技发展资金", "乙公司", good, "已申报", None])
    ws.append(["合计", None, None, None, None, None, 125000])
    wb.save(path)
    ret: Return = read_return(path, CONFIG, "620700")
    assert ret.readable and ret.list_sheet == "科技项目"
    assert [r.values for r in ret.records] == [
        {
            "name": "节水灌溉（一期）",
            "category": "省级重点研发计划",
            "org": "甲公司",
            "uscc": good,
            "status": "立项",
            "funds": 12.5,
        },
        {
            "name": "马铃薯",
            "category": "中央引导地方科技发展资金",
            "org": "乙公司",
            "uscc": good,
            "status": "申报",
            "funds": None,
        },
    ]
    assert ret.records[0].cells["funds"] == "G3"
