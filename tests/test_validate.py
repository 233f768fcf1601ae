"""Every rule of the suites: a case that passes, one that fails, and exactly where it points."""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import BASE_VALUES, CONFIG, Shape, project_row, standard_header, valid_uscc, write_return

from huizong.read.returns import read_return
from huizong.rules.suites import SuiteError, load_suite_specs, validator_for

CITY = "620700"


def issues_of(*paths: Path) -> dict[str, list[tuple[str, str, str | None, str | None]]]:
    rets = [read_return(p, CONFIG, CITY) for p in paths]
    by_file, _ = validator_for(CONFIG, CITY).run(rets)
    return {p.name: [(i.code, str(i.severity), i.cell, i.indicator) for i in by_file.get(p.name, [])] for p in paths}


def messages_of(path: Path) -> list[str]:
    by_file, _ = validator_for(CONFIG, CITY).run([read_return(path, CONFIG, CITY)])
    return [i.message for i in by_file.get(path.name, [])]


def test_a_clean_return_has_no_issue(tmp_path):  # type: ignore[no-untyped-def]
    p = write_return(tmp_path / "ok.xlsx", "620722", "2024H1")
    assert issues_of(p) == {"ok.xlsx": []}


@pytest.mark.parametrize(
    "header, expected",
    [
        ({"报告期": "2024H1"}, ("county-missing", None)),
        ({"行政区划代码": "620799", "报告期": "2024H1"}, ("county-unknown", "C3")),
        ({"行政区划代码": "110101", "报告期": "2024H1"}, ("county-outside-city", "C3")),
        ({"行政区划代码": "620700", "报告期": "2024H1"}, ("county-unknown", "C3")),  # the city itself
        ({"填报单位": "民乐县科学技术局", "行政区划代码": "620723", "报告期": "2024H1"}, ("county-mismatch", "C4")),
        ({"行政区划代码": "620722"}, ("period-missing", None)),
        ({"行政区划代码": "620722", "报告期": "2024年下半年"}, ("period-unreadable", "C4")),
    ],
)
def test_header_rules(tmp_path, header, expected):  # type: ignore[no-untyped-def]
    p = write_return(tmp_path / "r.xlsx", "", "", shape=Shape(header=header, title="县（区）科技创新主要指标报表"))
    got = issues_of(p)["r.xlsx"]
    assert [(c, cell) for c, _, cell, _ in got] == [expected]
    assert got[0][1] == "error"


def test_header_messages_name_the_county_and_city(tmp_path):  # type: ignore[no-untyped-def]
    p = write_return(tmp_path / "r.xlsx", "", "", shape=Shape(header={"行政区划代码": "110101", "报告期": "2024H1"}))
    assert messages_of(p) == ["110101（东城区）不属于张掖市，请报送本市所辖县区的报表"]
    p = write_return(
        tmp_path / "m.xlsx",
        "",
        "",
        shape=Shape(header={"填报单位": "民乐县科学技术局", "行政区划代码": "620723", "报告期": "2024H1"}),
    )
    assert messages_of(p) == ["行政区划代码 620723（临泽县）与填报单位“民乐县科学技术局”不符"]


# default shape: Z01 is on row 10 and 本期累计 is column F; the catalog order gives the rest
ROW = {code: 10 + n for n, code in enumerate(BASE_VALUES)}


def cell(code: str, col: str = "F") -> str:
    return f"{col}{ROW[code]}"


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"A05": "待定"}, [("value-not-numeric", "error", cell("A05"), "A05")]),
        ({"A05": -3}, [("value-negative", "error", cell("A05"), "A05")]),
        ({"A05": {"value": 800, "last_year": -1}}, [("value-negative", "error", cell("A05", "G"), "A05")]),
        ({"C01": 18.5}, [("value-not-whole", "error", cell("C01"), "C01")]),
        ({"C01": {"value": 18, "target": 20.5}}, [("value-not-whole", "error", cell("C01", "E"), "C01")]),
        ({"A05": 800.5}, []),  # amounts need not be whole
        ({"F01": {"value": 60, "unit": "亿元"}}, [("unit-unknown", "error", cell("F01"), "F01")]),
        ({"G01": "227多"}, [("value-approximate", "warning", cell("G01"), "G01")]),
        ({"A05": "*"}, [("value-redacted", "error", cell("A05"), "A05")]),  # refused like a blank one
        ({"D03": "*"}, []),  # not required: a placeholder is simply no number
        ({"A05": None}, [("value-missing", "error", cell("A05"), "A05")]),
        ({"B02": 37}, [("approved-exceeds-applied", "error", cell("B02"), "B02")]),
        ({"B02": 36}, []),  # equal is allowed
        ({"C02": 19}, [("approved-exceeds-applied", "error", cell("C02"), "C02")]),
        ({"C05": 7}, [("approved-exceeds-applied", "error", cell("C05"), "C05")]),
        (
            {"A03": 41, "A04": 102.5},
            [
                ("value-implausible", "error", cell("A04"), "A04"),  # a share over 100 %
                ("approved-exceeds-applied", "error", cell("A03"), "A03"),
            ],
        ),
        ({"A02": 0.9}, [("ratio-mismatch", "warning", cell("A02"), "A02")]),
        ({"A02": 0.4232}, []),  # within the catalog's tolerance
        (
            {"A02": 0.0042},
            [("ratio-slip", "warning", cell("A02"), "A02")],
        ),  # 0.42 % written as a fraction (a percent format is read as shown: test_portable)
        ({"E06": 3.5}, [("ratio-mismatch", "warning", cell("E06"), "E06")]),
    ],
)
def test_value_rules(tmp_path, changes, expected):  # type: ignore[no-untyped-def]
    p = write_return(tmp_path / "r.xlsx", "620722", "2024H1", {**BASE_VALUES, **changes})
    assert issues_of(p)["r.xlsx"] == expected


def test_required_indicator_missing(tmp_path):  # type: ignore[no-untyped-def]
    values = {k: v for k, v in BASE_VALUES.items() if k not in {"E04", "D03"}}  # D03 is optional
    p = write_return(tmp_path / "r.xlsx", "620722", "2024H1", values)
    assert issues_of(p)["r.xlsx"] == [("indicator-missing", "error", None, "E04")]
    assert messages_of(p) == ["缺少必填指标 E04 技术合同成交额"]


def test_value_messages(tmp_path):  # type: ignore[no-untyped-def]
    p = write_return(tmp_path / "r.xlsx", "620722", "2024H1", {**BASE_VALUES, "B02": 40, "G01": "227多", "C01": 18.5})
    assert messages_of(p) == [
        "C01 高新技术企业数 应为整数（家），本期累计填报为 18.5",
        "G01 科学研究和技术服务业营业收入 的本期累计“227多”为约数，按 227 万元 汇总，请填报准确数",
        "省级科技计划项目立项数（B02）40 大于省级科技计划项目申报数（B01）36",
    ]


GOOD = valid_uscc("91620722MA71ABC1K")


@pytest.mark.parametrize(
    "row, expected",
    [
        (project_row(1, "项目", "单位", GOOD, "省级重点研发计划", "立项", 60), []),
        (project_row(1, "项目", "单位", GOOD.lower(), "省级重点研发计划", "立项", 60), []),
        (
            project_row(
                1, "项目", "单位", GOOD[:-1] + ("0" if GOOD[-1] != "0" else "1"), "省级重点研发计划", "立项", 60
            ),
            [("record-uscc-check-failed", "error", "D2", "uscc")],
        ),
        (
            project_row(1, "项目", "单位", "91620722MA71ABC1", "省级重点研发计划", "立项", 60),
            [("record-uscc-invalid", "error", "D2", "uscc")],
        ),
        (
            project_row(1, "项目", "单位", "91620722MA71ABCIOK", "省级重点研发计划", "立项", 60),
            [("record-uscc-invalid", "error", "D2", "uscc")],
        ),
        (
            project_row(1, "项目", "单位", GOOD, "县级计划", "立项", 60),
            [("record-choice-unknown", "warning", "E2", "category")],
        ),
        (
            project_row(1, "项目", "单位", GOOD, "其他", "进行中", 60),
            [("record-choice-unknown", "warning", "F2", "status")],
        ),
        (
            project_row(1, "项目", "单位", GOOD, "其他", "已结题", "二十万"),
            [("record-not-numeric", "error", "G2", "funds")],
        ),
        (project_row(1, "项目", "单位", GOOD, "其他", "在研", "20万元"), []),
    ],
)
def test_project_detail_rules(tmp_path, row, expected):  # type: ignore[no-untyped-def]
    p = write_return(tmp_path / "r.xlsx", "620722", "2024H1", shape=Shape(projects=[row]))
    assert [i for i in issues_of(p)["r.xlsx"] if not i[0].startswith("detail-")] == expected


def test_uscc_check_character_against_a_published_code():
    from huizong.read.uscc import uscc_status

    # the check character of a real code printed on a business licence
    assert uscc_status("91350100M000100Y43") == (True, True, "3")
    assert uscc_status("91350100M000100Y44") == (True, False, "3")


def test_one_batch_many_files_one_run_per_suite(tmp_path):  # type: ignore[no-untyped-def]
    paths = [
        write_return(tmp_path / f"r{n}.xlsx", code, "2024H1") for n, code in enumerate(["620702", "620721", "620722"])
    ]
    bad = write_return(tmp_path / "bad.xlsx", "620723", "2024H1", {**BASE_VALUES, "B02": 99})
    rets = [read_return(p, CONFIG, CITY) for p in [*paths, bad]]
    by_file, results = validator_for(CONFIG, CITY).run(rets)
    assert {r.suite for r in results} == {
        "returns",
        "facts",
        "coverage",
        "pairs",
        "ratios",
        "history",
        "last_year",
        "jumps",
        "peers",
        "key-indicators.records",
        "key-indicators.returns",
        "tech-contracts.records",
        "tech-contracts.answers",
    }
    facts = next(r for r in results if r.suite == "facts")
    assert facts.rows == 4 * 37 * 3  # one frame for the batch (target, value, last year), not one per file
    assert [i.code for i in by_file["bad.xlsx"]] == ["approved-exceeds-applied"]
    assert all(not by_file.get(p.name) for p in paths)


def test_suite_with_unknown_rule_is_refused(tmp_path):  # type: ignore[no-untyped-def]
    (tmp_path / "x.json").write_text(
        '{"name": "x", "meta": {"frame": "facts"}, "expectations": [{"type": "expect_column_to_exist", '
        '"kwargs": {"column": "number"}, "meta": {"code": "no-such-rule"}}]}',
        encoding="utf-8",
    )
    with pytest.raises(SuiteError, match="no-such-rule"):
        load_suite_specs(tmp_path)


def test_standard_header_helper_is_what_the_form_says():
    assert list(standard_header("620722", "2024H1")) == ["填报单位", "行政区划代码", "报告期", "填报人", "联系电话"]


def test_a_suite_edited_before_regions_still_names_the_counties_by_their_old_parameter(tmp_path):  # type: ignore[no-untyped-def]
    """`city_county_codes` is `region_county_codes` now; a bureau's edited returns suite naming the old
    parameter still refuses a county outside the region, and one inside passes."""
    import shutil

    from huizong.catalog import Config

    root = tmp_path / "cfg"
    shutil.copytree(CONFIG.root, root)
    suite = root / "suites" / "returns.json"
    text = suite.read_text(encoding="utf-8")
    assert '"region_county_codes"' in text
    suite.write_text(text.replace('"region_county_codes"', '"city_county_codes"'), encoding="utf-8")
    config = Config.load(root)
    outside = write_return(
        tmp_path / "外市.xlsx",
        "",
        "",
        shape=Shape(header={"行政区划代码": "110101", "报告期": "2024H1"}, title="县（区）科技创新主要指标报表"),
    )
    inside = write_return(tmp_path / "民乐县.xlsx", "620722", "2024H1")
    rets = [read_return(p, config, CITY) for p in (outside, inside)]
    by_file, _ = validator_for(config, CITY).run(rets)
    assert [(i.code, i.cell) for i in by_file.get("外市.xlsx", [])] == [("county-outside-city", "C3")]
    assert by_file.get("民乐县.xlsx", []) == []


def test_a_validator_without_docs_keeps_no_result_and_judges_as_the_checkpoint_does(tmp_path):  # type: ignore[no-untyped-def]
    """The desk validates for weeks in one process: without Data Docs, no suite result is kept in
    the GX context (a checkpoint stores every one), and the verdicts are the checkpoint's."""
    bad = write_return(tmp_path / "bad.xlsx", "620723", "2024H1", {**BASE_VALUES, "B02": 99, "A01": -5})
    rets = [read_return(bad, CONFIG, CITY)]
    quiet = validator_for(CONFIG, CITY)
    for _ in range(3):
        by_file, results = quiet.run(rets)
    assert quiet.context.validation_results_store.list_keys() == []
    docs = validator_for(CONFIG, CITY, tmp_path / "gx")
    by_docs, with_docs = docs.run(rets)
    assert len(docs.context.validation_results_store.list_keys()) == len([r for r in with_docs if r.gx_result])
    found = [(i.code, i.sheet, i.cell, i.message) for i in by_file["bad.xlsx"]]
    assert found == [(i.code, i.sheet, i.cell, i.message) for i in by_docs["bad.xlsx"]]
    assert {"approved-exceeds-applied"} <= {code for code, *_ in found} and len(found) >= 2
    assert [(r.suite, r.rows, r.evaluated, r.failed) for r in results] == [
        (r.suite, r.rows, r.evaluated, r.failed) for r in with_docs
    ]
