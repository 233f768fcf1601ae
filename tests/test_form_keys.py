"""Keys and uniqueness: a list's key may be several fields; unique() names its fields and a scope
(the return, the period, the last N years, ever); a message about another return names its county
and file. On real .xlsx files, run after run against the ledger."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import openpyxl
import pytest
from conftest import Workspace, cli
from test_forms import uscc

from huizong.catalog import Config
from huizong.forms.expr import ExprError, parse
from huizong.pipeline import run_batch

ROOT = Path(__file__).resolve().parents[1]

FORM = """
name = "高新技术企业名单"
short_name = "高企名单"
frequency = "year"
due = { FY = "01-25", next_year = ["FY"] }
order = 6

[sheet]
names = ["高企"]

[list]
fields = "fields.csv"
header = ["证书编号"]
key = ["cert", "uscc"]
min_fields = 3
title = "高新技术企业"

[measures]
file = "measures.csv"

[rules]
file = "rules.csv"
"""
FIELDS = """code,name,aliases,type,unit,required,min,max,choices,choice_aliases,pattern,severity,explanation
seq,序号,,seq,,n,,,,,,error,
cert,证书编号,高企证书编号,id,,y,,,,,,error,
uscc,统一社会信用代码,信用代码,uscc,,y,,,,,,error,
ent,企业名称,,text,,y,,,,,,error,
"""
MEASURES = """code,group,name,unit,expression,by,key,integer
ENT,企业,高新技术企业数,家,count(),,y,y
"""
RULES = """code,scope,severity,expression,field,message,periods,message_en
cert-listed,row,error,"unique(cert, uscc, ""本期"")",cert,证书 {cert} 已列于{other},,
firm-once,row,error,"unique(uscc, ""本期"")",uscc,统一社会信用代码 {uscc} 本年度已列于{other}（一家企业只列一次）,,
"""


def configured(tmp_path: Path, rules: str = RULES) -> Path:
    root = tmp_path / "config"
    shutil.copytree(ROOT / "expectations", root)
    folder = root / "forms" / "hightech-firms"
    folder.mkdir()
    for name, text in (("form.toml", FORM), ("fields.csv", FIELDS), ("measures.csv", MEASURES), ("rules.csv", rules)):
        (folder / name).write_text(text, encoding="utf-8")
    return root


def write_list(path: Path, county: str, year: int, rows: list[tuple[str, str, str]]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "高企"
    ws["A1"], ws["A2"], ws["A3"] = "高新技术企业名单", f"行政区划代码：{county}", f"报告期：{year}年度"
    for c, h in enumerate(["序号", "证书编号", "统一社会信用代码", "企业名称"], start=1):
        ws.cell(row=5, column=c, value=h)
    for r, row in enumerate(rows, start=6):
        for c, v in enumerate([r - 5, *row], start=1):
            ws.cell(row=r, column=c, value=v)
    wb.save(path)
    return path


A, B, C = uscc("91620722MA0001AB1"), uscc("91620702MA0002AB2"), uscc("91620723MA0003AB3")


def test_next_years_list_may_repeat_its_certificates_another_countys_may_not(tmp_path: Path) -> None:
    root = configured(tmp_path)
    assert cli("forms", "check", str(root / "forms" / "hightech-firms"), "--config", str(root)).returncode == 0
    config = Config.load(root)
    (tmp_path / "run").mkdir()
    ws = Workspace(tmp_path / "run")
    settings = dataclasses.replace(ws.settings, config=root)
    write_list(
        ws.drop("民乐县2024.xlsx"), "620722", 2024, [("GR202462000001", A, "甲公司"), ("GR202462000002", B, "乙公司")]
    )
    first = run_batch(settings, config)
    assert [d.status for d in first.decisions] == ["accepted"]

    write_list(
        ws.drop("民乐县2025.xlsx"), "620722", 2025, [("GR202462000001", A, "甲公司"), ("GR202462000002", B, "乙公司")]
    )
    write_list(ws.drop("甘州区2025.xlsx"), "620702", 2025, [("GR202462000001", A, "甲公司")])
    write_list(
        ws.drop("临泽县2024.xlsx"), "620723", 2024, [("GR202462000009", B, "乙公司"), ("GR202462000010", C, "丙")]
    )
    write_list(ws.drop("高台县2025.xlsx"), "620724", 2025, [("GR202562000011", C, "丙"), ("GR202562000012", C, "丙")])
    second = run_batch(settings, config)
    got = {d.inbound.rel: (d.status, sorted((i.code, i.cell) for i in d.issues)) for d in second.decisions}
    assert got == {
        "民乐县2025.xlsx": ("accepted", []),  # the same certificates the next year: fine
        "甘州区2025.xlsx": ("rejected", [("cert-listed", "B6"), ("firm-once", "C6")]),  # 民乐's, the same year
        "临泽县2024.xlsx": ("rejected", [("firm-once", "C6")]),  # 乙 under another certificate in 2024
        "高台县2025.xlsx": ("rejected", [("firm-once", "C7")]),  # twice in its own list
    }
    said = {(d.inbound.rel, i.code): i.message for d in second.decisions for i in d.issues}
    assert said[("甘州区2025.xlsx", "cert-listed")] == "证书 GR202462000001 已列于同批报送的“民乐县2025.xlsx”第 6 行"
    assert said[("临泽县2024.xlsx", "firm-once")] == (
        f"统一社会信用代码 {B} 本年度已列于民乐县报送的“民乐县2024.xlsx”（2024FY）第 7 行（一家企业只列一次）"
    )
    assert said[("高台县2025.xlsx", "firm-once")].startswith(f"统一社会信用代码 {C} 本年度已列于本表第 6 行")
    keys = ws.sql("select key from records where county_code = '620722' and period = '2025FY' order by row")
    assert keys == [(f"GR202462000001 | {A}",), (f"GR202462000002 | {B}",)]


def test_a_scope_of_years_reaches_back_that_far_and_no_further(tmp_path: Path) -> None:
    rules = (
        "code,scope,severity,expression,field,message\n"
        'cert-3y,row,error,"unique(cert, ""近2年"")",cert,证书 {cert} 近两年已列于{other}\n'
    )
    root = configured(tmp_path, rules)
    config = Config.load(root)
    (tmp_path / "run").mkdir()
    ws = Workspace(tmp_path / "run")
    settings = dataclasses.replace(ws.settings, config=root)
    write_list(ws.drop("民乐县2022.xlsx"), "620722", 2022, [("GR1", A, "甲")])
    write_list(ws.drop("民乐县2023.xlsx"), "620722", 2023, [("GR2", A, "甲")])
    assert {d.status for d in run_batch(settings, config).decisions} == {"accepted"}
    write_list(ws.drop("甘州区2024.xlsx"), "620702", 2024, [("GR1", B, "乙"), ("GR2", C, "丙")])
    got = [(i.code, i.cell) for d in run_batch(settings, config).decisions for i in d.issues]
    assert got == [("cert-3y", "B7")]  # GR2 (2023) is within two years of 2024; GR1 (2022) is not


@pytest.mark.parametrize(
    ("expression", "said"),
    [
        ("unique(uscc)", "只能用于明细表的 key"),  # ever, on fields other than the key
        ('unique(cert, "每周")', "范围"),
        ("unique(cert, cert)", "字段重复"),
        ('unique(nothing, "本期")', "nothing 不是明细表的字段"),
    ],
)
def test_a_unique_that_cannot_be_kept_is_refused_at_load(tmp_path: Path, expression: str, said: str) -> None:
    rules = f'code,scope,severity,expression,field,message\ndup,row,error,"{expression.replace(chr(34), chr(34) * 2)}",cert,重复\n'
    root = configured(tmp_path, rules)
    out = cli("forms", "check", str(root / "forms" / "hightech-firms"), "--config", str(root))
    assert out.returncode != 0 and said in out.stderr, out.stderr


def test_unique_scopes_parse() -> None:
    assert [(u.fields, u.scope) for u in parse('unique(a, b, "近3年")').uniques] == [(("a", "b"), "years:3")]
    assert [u.scope for u in parse("unique(a)").uniques] == ["ever"]
    assert [u.scope for u in parse('unique(a, "本表")').uniques] == ["return"]
    with pytest.raises(ExprError):
        parse('unique("本期")')


# cross-form rules, both ways -------------------------------------------------------------------

E03_CELL = "F34"  # where write_return puts E03's 本期累计


def test_a_cross_form_rule_fires_whichever_return_arrives_last(tmp_path: Path) -> None:
    """The key form's E03 (technology contracts registered) against the months of the contract
    form: the key return first, the months after it; then the months first, the key return after."""
    import datetime as dt

    from builders import BASE_VALUES, write_return
    from test_forms import contract, write_contracts

    def months(ws: Workspace, county: str, count: int, last: int = 6, tag: str = "") -> None:
        for m in range(1, last + 1):
            rows = [
                contract(
                    f"{county}2024{m:02d}{n:02d}",
                    amount=41500 / 6 / count,
                    tech=1,
                    registered=dt.datetime(2024, m, 9),
                    signed=dt.datetime(2024, m, 1),
                )
                for n in range(1, count + 1)
            ]
            write_contracts(ws.drop(f"{county}_{m}月{tag}.xlsx"), county, f"2024-{m:02d}", rows)

    ws = Workspace(tmp_path)
    write_return(ws.drop("民乐县.xlsx"), "620722", "2024年上半年", {**BASE_VALUES, "E03": 40})
    assert [d.status for d in ws.run().decisions] == ["accepted"]
    months(ws, "620722", 5)  # 30 contracts, not 40
    second = ws.run()
    assert {d.status for d in second.decisions} == {"accepted"}
    said = {(d.inbound.rel, i.code, i.cell) for d in second.decisions for i in d.issues}
    assert said == {("620722_6月.xlsx", "contracts-count-differs", None)}  # only the month that completes H1
    june = next(i for d in second.decisions for i in d.issues)
    assert june.message.startswith(
        "与主要指标“民乐县.xlsx”（2024H1）核对：技术合同认定登记数（E03）40 项与技术合同登记表各月合计 30 项"
    )
    kept = ws.sql(
        "select s.file, i.code, i.cell, i.severity, i.message from issues i join submissions s "
        "on s.id = i.submission_id where i.code = 'contracts-count-differs'"
    )
    cells = sorted((f, c, cell, sev) for f, c, cell, sev, _ in kept)
    assert cells == [
        ("620722_6月.xlsx", "contracts-count-differs", None, "warning"),
        ("民乐县.xlsx", "contracts-count-differs", E03_CELL, "warning"),
    ]
    key_issue = next(m for f, *_, m in kept if f == "民乐县.xlsx")
    assert key_issue.endswith("（技术合同“620722_6月.xlsx”报来后核对）")
    assert ws.sql("select warnings from submissions where file = '民乐县.xlsx'") == [(1,)]
    city = {r["file"]: r for r in ws.csv("620700/key-indicators/2024H1/issues.csv")}
    assert city["民乐县.xlsx"]["code"] == "contracts-count-differs"  # the key form's outputs show it

    # a corrected June brings the months to 40: the key return's issue goes
    rows = [
        contract(
            f"620722202406{n:02d}",
            amount=41500 / 6 / 15,
            tech=1,
            registered=dt.datetime(2024, 6, 9),
            signed=dt.datetime(2024, 6, 1),
        )
        for n in range(1, 16)
    ]
    write_contracts(ws.drop("620722_6月_更正.xlsx"), "620722", "2024-06", rows)
    third = ws.run()
    assert [(d.status, d.warnings) for d in third.decisions] == [("accepted", 0)]
    assert ws.sql("select warnings from submissions where file = '民乐县.xlsx'") == [(0,)]
    assert ws.sql(
        "select count(*) from issues i join submissions s on s.id = i.submission_id where s.file = '民乐县.xlsx'"
    ) == [(0,)]

    # the other way: another county's months first, its key return after
    months(ws, "620723", 5)
    write_return(ws.drop("临泽县.xlsx"), "620723", "2024年上半年", {**BASE_VALUES, "E03": 40})
    fourth = ws.run()
    got = {(d.inbound.rel, i.code) for d in fourth.decisions for i in d.issues}
    assert ("临泽县.xlsx", "contracts-count-differs") in got  # the key return, checked when it came last
    assert ("620723_6月.xlsx", "contracts-count-differs") not in got  # it came before: nothing to compare then


# the guide's third worked example, installed from docs/examples -----------------------------------


def test_the_guides_third_example_installs_and_checks_both_ways(tmp_path: Path) -> None:
    """docs/examples/hightech-firms: a yearly list with a ratio measure, a compound key and a count
    checked against C01 of the key form, installed with [forms] dirs (the configuration not copied
    into it); the list first, the key form's annual return after it."""
    from builders import BASE_VALUES, write_return

    root = tmp_path / "config"
    shutil.copytree(ROOT / "expectations", root)
    rules = root / "catalog" / "rules.toml"
    rules.write_text(
        rules.read_text(encoding="utf-8").replace("dirs = []", f'dirs = ["{ROOT / "docs" / "examples"}"]'),
        encoding="utf-8",
    )
    example = ROOT / "docs" / "examples" / "hightech-firms"
    assert cli("forms", "check", str(example), "--config", str(root)).returncode == 0
    config = Config.load(root)
    (tmp_path / "run").mkdir()
    ws = Workspace(tmp_path / "run")
    settings = dataclasses.replace(ws.settings, config=root)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "高企"
    sheet["A1"], sheet["A2"], sheet["A3"] = "高新技术企业名单", "行政区划代码：620722", "报告期：2024年度"
    head = ["序号", "证书编号", "统一社会信用代码", "企业名称", "营业收入（万元）", "研发费用（万元）", "科技人员"]
    rows = [
        ["GR202462000001", A, "甲", 5000, 250, 12],  # exactly 5 % at 5,000 (upper bound included): fine
        ["GR202462000002", B, "乙", 5000.01, 200.0004, 8],  # 4 % band: exactly 4 %: fine
        ["GR202462000003", C, "丙", 20000, 599.99, 30],
    ]  # 4 % band, below: warned
    for c, h in enumerate(head, start=1):
        sheet.cell(row=5, column=c, value=h)
    for r, row in enumerate(rows, start=6):
        for c, v in enumerate([r - 5, *row], start=1):
            sheet.cell(row=r, column=c, value=v)
    book.save(ws.drop("民乐县高企名单.xlsx"))
    first = run_batch(settings, config)
    assert [(d.status, [(i.code, i.cell) for i in d.issues]) for d in first.decisions] == [
        ("accepted", [("rd-share", "F8")])
    ]
    totals = {r["indicator_code"]: r["value"] for r in ws.csv("620700/hightech-firms/2024FY/totals.csv")}
    assert (totals["ENT"], totals["REV"], totals["RD"], totals["RDI_N"], totals["RDI_D"]) == (
        "3",
        "30000.01",
        "1049.9904",
        "1049.9904",
        "30000.01",
    )
    assert totals["RDI"] == str(round(100 * 1049.9904 / 30000.01, 6))

    write_return(ws.drop("民乐县2024年报.xlsx"), "620722", "2024年", {**BASE_VALUES, "C01": 2, "C02": 1})
    second = run_batch(settings, config)
    said = [(i.code, i.indicator) for d in second.decisions for i in d.issues if i.code == "count-vs-c01"]
    assert said == [("count-vs-c01", "C01")]  # the key return, arriving last, shows it at C01
    kept = ws.sql(
        "select s.file, i.message from issues i join submissions s on s.id = i.submission_id "
        "where i.code = 'count-vs-c01' and s.file = '民乐县高企名单.xlsx'"
    )
    assert kept == [
        (
            "民乐县高企名单.xlsx",
            "名单中的高新技术企业 3 家与主要指标表的高新技术企业数（C01）2 家不一致（主要指标“民乐县2024年报.xlsx”报来后核对）",
        )
    ]
