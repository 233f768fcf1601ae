"""Exact arithmetic in forms: rules decide in decimal at their thresholds, measures are of a kind
that adds up (a ratio of two sums recomputed at every level), and the rule language is typed.

Every case runs on real .xlsx files written here, through the pipeline, with a third form (a list of
enterprises) defined in a temporary configuration folder as a bureau would write it."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from conftest import Workspace, cli
from hypothesis import given, settings
from hypothesis import strategies as st

from huizong.catalog import CatalogError, Config
from huizong.forms.expr import parse
from huizong.pipeline import run_batch
from huizong.read.values import parse_cell
from huizong.rules.evaluate import Tables, exact_sums, holds
from huizong.rules.exact import round_half_up

ROOT = Path(__file__).resolve().parents[1]

FORM = """
name = "规上企业研发情况表"
short_name = "企业研发"
frequency = "cumulative"
due = { Q1 = "04-15", H1 = "07-15", Q3 = "10-15", FY = "01-25", next_year = ["FY"] }
order = 5

[sheet]
names = ["企业"]

[list]
fields = "fields.csv"
header = ["企业名称"]
key = "uscc"
min_fields = 3
title = "企业名单"

[measures]
file = "measures.csv"

[rules]
file = "rules.csv"
"""
FIELDS = """code,name,aliases,type,unit,required,min,max,choices,choice_aliases,pattern,severity,explanation
seq,序号,,seq,,n,,,,,,error,
ent,企业名称,,text,,y,,,,,,error,
uscc,统一社会信用代码,信用代码,uscc,,n,,,,,,error,
revenue,营业收入,,number,万元,y,0,,,,,error,
rd,研发费用,,number,万元,y,0,,,,,error,
"""
MEASURES = """code,group,name,unit,expression,by,key,integer
ENT,企业,企业数,家,count(),,y,y
REV,企业,营业收入,万元,sum(revenue),,y,n
RD,企业,研发费用,万元,sum(rd),,y,n
RDI,企业,研发投入强度,%,100 * sum(rd) / sum(revenue),,y,n
"""
RULES = """code,scope,severity,expression,field,message,periods,message_en
rd-share,row,warning,100 * rd / revenue >= 5,rd,研发费用占营业收入 {100 * rd / revenue}%，低于 5%,,
rd-band,row,warning,"band(revenue, [1001], [""小"", ""大""], ""含上限"") == ""小"" or rd >= 60",revenue,营业收入超过 1001 万元的企业研发费用应不少于 60 万元,,
"""


def config_with(tmp_path: Path, *, fields: str = FIELDS, measures: str = MEASURES, rules: str = RULES) -> Path:
    root = tmp_path / "config"
    shutil.copytree(ROOT / "expectations", root)
    folder = root / "forms" / "rd-firms"
    folder.mkdir()
    for name, text in (("form.toml", FORM), ("fields.csv", fields), ("measures.csv", measures), ("rules.csv", rules)):
        (folder / name).write_text(text, encoding="utf-8")
    return root


def write_firms(path: Path, county: str, period: str, rows: list[list[object]]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "企业"
    ws["A1"], ws["A2"], ws["A3"] = "规上企业研发情况表", f"行政区划代码：{county}", f"报告期：{period}"
    for c, h in enumerate(["序号", "企业名称", "统一社会信用代码", "营业收入（万元）", "研发费用（万元）"], start=1):
        ws.cell(row=5, column=c, value=h)
    for r, row in enumerate(rows, start=6):
        for c, v in enumerate([r - 5, *row], start=1):
            ws.cell(row=r, column=c, value=v)
    wb.save(path)
    return path


def run(tmp_path: Path, root: Path) -> Workspace:
    (tmp_path / "run").mkdir()
    return Workspace(tmp_path / "run")


def test_a_ratio_exactly_at_its_threshold_is_at_it_on_both_sides(tmp_path: Path) -> None:
    root = config_with(tmp_path)
    ws = run(tmp_path, root)
    write_firms(
        ws.drop("民乐县.xlsx"),
        "620722",
        "2024年上半年",
        [
            ["甲", None, 1001, 50.05],  # exactly 5 %: no warning (floats say 4.999…)
            ["乙", None, 1001, 50.04],  # below: warned
            ["丙", None, 1001, "50.06"],  # above, typed as text
            ["丁", None, 20.02, 1.001],  # exactly 5 % again, three decimals
            ["戊", None, 1001, 59.99],  # revenue exactly at the band's upper edge: still 小
            ["己", None, 1001.01, 59.99],  # above the edge: 大, and under 60
        ],
    )
    summary = run_batch(dataclasses.replace(ws.settings, config=root), Config.load(root))
    assert [(d.status, d.errors, d.warnings) for d in summary.decisions] == [("accepted", 0, 2)]
    issues = {(i["code"], i["cell"]) for i in ws.csv("620700/rd-firms/2024H1/issues.csv")}
    assert issues == {("rd-share", "E7"), ("rd-band", "D11")}
    message = next(i["message"] for i in ws.csv("620700/rd-firms/2024H1/issues.csv") if i["code"] == "rd-share")
    assert message == "研发费用占营业收入 4.999%，低于 5%"


def test_a_ratio_of_two_sums_is_recomputed_at_county_city_and_province(tmp_path: Path) -> None:
    root = config_with(tmp_path, rules="code,scope,severity,expression,field,message,periods,message_en\n")
    ws = run(tmp_path, root)
    write_firms(ws.drop("民乐县.xlsx"), "620722", "2024H1", [["甲", None, 600.25, 60.05], ["乙", None, 399.75, 40.05]])
    write_firms(ws.drop("甘州区.xlsx"), "620702", "2024H1", [["丙", None, 3000, 5.05]])
    write_firms(ws.drop("七里河区.xlsx"), "620103", "2024H1", [["丁", None, 0.1, 0.2]])
    summary = run_batch(dataclasses.replace(ws.settings, config=root, region="620000"), Config.load(root))
    assert {d.status for d in summary.decisions} == {"accepted"}
    city = {r["indicator_code"]: r["value"] for r in ws.csv("620700/rd-firms/2024H1/totals.csv")}
    # 民乐: 100 × 100.10 / 1000 = 10.01; 甘州: 100 × 5.05 / 3000; the city: 100 × 105.15 / 4000, not their sum
    assert (city["RD"], city["REV"], city["RDI"], city["RDI_N"], city["RDI_D"]) == (
        "105.15",
        "4000",
        "2.62875",
        "105.15",
        "4000",
    )
    province = {r["indicator_code"]: r["value"] for r in ws.csv("620000/rd-firms/2024H1/totals.csv")}
    # 0.1 + 0.2 more: 105.35 / 4000.1, exactly as decimals
    assert (province["RD"], province["REV"]) == ("105.35", "4000.1")
    assert province["RDI"] == str(round(100 * 105.35 / 4000.1, 6))
    rows = ws.sql(
        "select f.indicator, f.number, f.raw from facts f join submissions s on s.id = f.submission_id "
        "where s.county_code = '620722' order by f.indicator"
    )
    by = {r[0]: (r[1], r[2]) for r in rows}
    assert by["RDI"][0] == pytest.approx(10.01) and by["RDI"][1] == "10.01"
    assert by["RD"] == (100.1, "100.1") and by["REV"] == (1000.0, "1000")


@pytest.mark.parametrize(
    ("measures", "said"),
    [
        ("code,group,name,unit,expression,aggregate\nRDI,企业,强度,%,sum(rd),ratio\n", "不认识的列 aggregate"),
        ("code,group,name,unit,expression\nX,企业,加一,万元,sum(rd) + 1\n", "两个汇总之比"),
        ("code,group,name,unit,expression\nX,企业,比率之和,%,sum(rd / revenue) / 2\n", "两个汇总之比"),
        ("code,group,name,unit,expression\nX,企业,字段,万元,rd\n", "两个汇总之比"),
        ("code,group,name,unit,expression\nX,企业,文字求和,万元,sum(ent)\n", "sum() 的参数 ent 是文字"),
        ("code,group,name,unit,expression,integer\nX,企业,强度,%,100 * sum(rd) / sum(revenue),y\n", "不是整数"),
    ],
)
def test_a_measure_that_would_not_add_up_is_refused(tmp_path: Path, measures: str, said: str) -> None:
    root = config_with(tmp_path, measures=measures, rules="code,scope,severity,expression,message\n")
    out = cli("forms", "check", str(root / "forms" / "rd-firms"), "--config", str(root))
    assert out.returncode != 0
    assert said in out.stdout + out.stderr
    assert "measures.csv" in out.stdout + out.stderr


@pytest.mark.parametrize(
    ("expression", "said"),
    [
        ("ent == 2024", "不能比较"),
        ("rd > ent", "不能比较"),
        ('revenue == "1001"', "不能比较"),
        ('left(revenue, 2) == "10"', "left() 的参数 revenue 是数字"),
        ("ent + 1 > 0", "不能做 + - * / 运算"),
        ("year(ent) == 2024", "year() 的参数 ent 是文字"),
        ('rd if rd > 0 else "无"', "类型不同"),
    ],
)
def test_a_rule_mixing_text_and_numbers_is_refused_at_load(tmp_path: Path, expression: str, said: str) -> None:
    rules = f'code,scope,severity,expression,field,message\nbad,row,error,"{expression.replace(chr(34), chr(34) * 2)}",rd,错\n'
    root = config_with(tmp_path, rules=rules)
    out = cli("forms", "check", str(root / "forms" / "rd-firms"), "--config", str(root))
    assert out.returncode != 0, out.stdout
    text = out.stdout + out.stderr
    assert said in text and "rules.csv:2" in text and "bad" in text


def test_conversions_make_a_mixed_rule_valid(tmp_path: Path) -> None:
    rules = (
        "code,scope,severity,expression,field,message\n"
        'digits,row,error,"left(text(revenue), 1) != ""9"" and number(""2.6E+02"") == 260",revenue,错\n'
    )
    root = config_with(tmp_path, rules=rules)
    out = cli("forms", "check", str(root / "forms" / "rd-firms"), "--config", str(root))
    assert out.returncode == 0, out.stdout + out.stderr
    ws = run(tmp_path, root)
    write_firms(ws.drop("民乐县.xlsx"), "620722", "2024H1", [["甲", None, 900, 1], ["乙", None, "2.6E+02", 1]])
    summary = run_batch(dataclasses.replace(ws.settings, config=root), Config.load(root))
    assert [(d.status, d.errors) for d in summary.decisions] == [("rejected", 1)]
    issues = [(i["code"], i["cell"]) for i in ws.csv("620700/rd-firms/2024H1/issues.csv")]
    assert issues == [("digits", "D6")]  # 900 starts with 9; "2.6E+02" is read as 260
    rows = ws.sql("select number from facts where indicator = 'REV'")
    assert rows == []  # refused: nothing kept


def test_scientific_notation_typed_as_text_is_the_number_it_names() -> None:
    assert parse_cell("2.6E+02").number == 260
    assert parse_cell("1.5e-3万元").unit == "万元"
    assert parse_cell("1E+400").status == "not-numeric"  # an exponent of three digits is a typo, not a number


def frame(**cols: list[object]) -> Tables:
    return Tables(pd.DataFrame(cols))


def test_band_includes_its_upper_bound_when_asked() -> None:
    t = frame(x=[4999.99, 5000, 5000.01])
    assert holds(parse('band(x, [5000], ["小", "大"]) == "小"'), t).tolist() == [True, False, False]
    assert holds(parse('band(x, [5000], ["小", "大"], "含上限") == "小"'), t).tolist() == [True, True, False]
    computed = frame(a=[2500.005, 2500, 2500.01], b=[2499.995, 2500, 2499.99])  # sums exactly 5000
    assert holds(parse('band(a + b, [5000], ["小", "大"], "upper") == "小"'), computed).tolist() == [True, True, True]
    assert holds(parse('band(a + b, [5000], ["小", "大"]) == "大"'), computed).tolist() == [True, True, True]


def test_rounding_is_half_up_on_the_decimal() -> None:
    t = frame(x=[2.675, 2.665, -2.675, 1.005])
    assert holds(parse("round(x, 2) == 2.68"), t).tolist() == [True, False, False, False]
    assert holds(parse("round(x, 2) == 2.67"), t).tolist() == [False, True, False, False]
    assert holds(parse("round(x, 2) == -2.68"), t).tolist() == [False, False, True, False]
    assert holds(parse("round(x, 2) == 1.01"), t).tolist()[3] is True


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False), min_size=1, max_size=8),
    st.decimals(min_value=1, max_value=10**6, places=2, allow_nan=False),
)
def test_a_sum_compared_with_its_own_total_is_equal(parts: list, extra: object) -> None:  # type: ignore[type-arg]
    """Whatever two-decimal amounts a county writes, their sum equals the total they make, and a
    threshold at exactly that total is met, as decimals say."""
    total = sum(parts)
    cols = {f"p{i}": [float(p)] for i, p in enumerate(parts)}
    cols["t"] = [float(total)]
    t = Tables(pd.DataFrame(cols))
    expr = " + ".join(f"p{i}" for i in range(len(parts)))
    assert holds(parse(f"{expr} == t"), t).tolist() == [True]
    assert holds(parse(f"{expr} >= t"), t).tolist() == [True]
    assert holds(parse(f"{expr} < t"), t).tolist() == [False]
    assert holds(parse(f"100 * ({expr}) / t == 100"), t).tolist() == [True] or total == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.decimals(min_value=-(10**8), max_value=10**8, places=4, allow_nan=False), max_size=30))
def test_exact_sums_are_the_decimal_sums(values: list) -> None:  # type: ignore[type-arg]
    import numpy as np

    floats = np.array([float(v) for v in values], dtype=float)
    groups = np.array([i % 3 for i in range(len(values))], dtype=np.int64)
    sums = exact_sums(floats, groups, 3)
    for g in range(3):
        assert sums[g] == sum((v for i, v in enumerate(values) if i % 3 == g), start=0)


def test_round_half_up_handles_negatives_and_tens() -> None:
    from fractions import Fraction

    assert round_half_up(Fraction(-25, 10), 0) == -3
    assert round_half_up(Fraction(1250), -2) == 1300


def test_a_deployment_installs_a_form_from_a_folder_of_its_own(tmp_path: Path) -> None:
    """[forms] dirs in rules.toml: the form lives outside the configuration, which is not copied."""
    root = config_with(tmp_path)
    installed = tmp_path / "bureau-forms"
    installed.mkdir()
    shutil.move(str(root / "forms" / "rd-firms"), installed / "rd-firms")
    rules = root / "catalog" / "rules.toml"
    rules.write_text(
        rules.read_text(encoding="utf-8").replace("dirs = []", 'dirs = ["../bureau-forms"]'), encoding="utf-8"
    )
    config = Config.load(root)
    assert "rd-firms" in config.form_by_id and config.form_by_id["rd-firms"].root == installed / "rd-firms"
    ws = run(tmp_path, root)
    write_firms(ws.drop("民乐县.xlsx"), "620722", "2024H1", [["甲", None, 1000, 60]])
    summary = run_batch(dataclasses.replace(ws.settings, config=root), config)
    assert [d.status for d in summary.decisions] == ["accepted"]
    assert {r["indicator_code"]: r["value"] for r in ws.csv("620700/rd-firms/2024H1/totals.csv")}["RD"] == "60"
    (installed / "tech-contracts").mkdir()
    shutil.copy(root / "forms" / "tech-contracts" / "form.toml", installed / "tech-contracts" / "form.toml")
    with pytest.raises(CatalogError, match="报表代码 tech-contracts 已由"):
        Config.load(root)
