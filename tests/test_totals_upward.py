"""[totals] upward: whether a province's totals count only the cities that approved the period, and
every workbook and page above a city saying which."""

from __future__ import annotations

import csv
import dataclasses

import openpyxl
import pytest
from builders import BASE_VALUES, CONFIG, write_return

from huizong.desk import accounts as acc
from huizong.desk import actions
from huizong.ledger.store import Store
from huizong.pipeline import run_batch
from huizong.publish.layout import Layout
from huizong.rulebook import UPWARD, Rules, RulesError, TotalsRules
from huizong.settings import Settings

ZHANGYE = ["620702", "620721", "620722", "620723", "620724", "620725"]
LANZHOU = ["620102", "620103"]
FORM = CONFIG.form_by_id["key-indicators"]


def approved_only() -> object:
    return dataclasses.replace(CONFIG, rules=dataclasses.replace(CONFIG.rules, totals=TotalsRules("approved")))


@pytest.fixture
def province(ws):  # type: ignore[no-untyped-def]
    settings = Settings.from_env(inputs=ws.inputs, outputs=ws.outputs, store=ws.store, region="620000", docs="0")
    for n, code in enumerate(ZHANGYE + LANZHOU):
        write_return(ws.inputs / f"{code}.xlsx", code, "2024H1", {**BASE_VALUES, "A01": 100 + n})
    return settings


def totals(settings: Settings, region: str) -> dict[str, dict[str, str]]:
    path = Layout(settings.outputs).totals_csv(region, "2024H1", FORM)
    with path.open(encoding="utf-8-sig") as f:
        return {r["indicator_code"]: r for r in csv.DictReader(f)}


def summary_a3(settings: Settings, region: str, name: str) -> object:
    path = Layout(settings.outputs).workbook(region, name, "2024H1", FORM)
    return openpyxl.load_workbook(path, read_only=True)["汇总"]["A3"].value


def test_by_default_a_province_counts_every_accepted_return_and_says_so(province):  # type: ignore[no-untyped-def]
    run_batch(province, CONFIG)
    a01 = totals(province, "620000")["A01"]
    assert (a01["n_reported"], float(a01["value"])) == ("8", sum(100 + n for n in range(8)))
    assert summary_a3(province, "620000", "甘肃省") == UPWARD["all"]
    assert summary_a3(province, "620700", "张掖市") is None  # a city's workbook is as it was
    page = Layout(province.outputs).validation_page("620000", "2024H1", FORM).read_text(encoding="utf-8")
    assert f'<div class="sub basis">{UPWARD["all"]}</div>' in page


def test_approved_only_counts_a_city_once_it_approves(province):  # type: ignore[no-untyped-def]
    config = approved_only()
    run_batch(province, config)  # type: ignore[arg-type]
    a01 = totals(province, "620000")["A01"]
    assert a01["n_reported"] == "0" and a01["value"] == ""
    assert summary_a3(province, "620000", "甘肃省") == UPWARD["approved"]
    assert totals(province, "620700")["A01"]["n_reported"] == "6"  # the city's own totals count every return
    page = Layout(province.outputs).validation_page("620000", "2024H1", FORM).read_text(encoding="utf-8")
    assert "<span>未经审核（不计入）</span><b>8</b>" in page

    store = Store.open(province.db_url)
    acc.add_user(store, CONFIG.divisions, "zhangye", "city", "620700", password="张掖 review 2026")
    user = acc.find(store, "zhangye")
    assert user is not None
    for row in store.submissions():
        if row["county_code"] in ZHANGYE:
            actions.accept(store, config, province, user, row, "", None, "127.0.0.1")  # type: ignore[arg-type]
    actions.approve(store, config, province, user, "620700", "key-indicators", "2024H1", "127.0.0.1")  # type: ignore[arg-type]
    a01 = totals(province, "620000")["A01"]
    assert (a01["n_reported"], float(a01["value"])) == ("6", sum(100 + n for n in range(6)))
    assert "城关区" in a01["missing"] and "七里河区" in a01["missing"] and "甘州区" not in a01["missing"]


def test_the_setting_is_checked_when_read() -> None:
    with pytest.raises(RulesError, match=r"\[totals\] upward 应为 all 或 approved"):
        Rules.from_toml({"totals": {"upward": "some"}})
    with pytest.raises(RulesError, match="不认识的设置"):
        Rules.from_toml({"totals": {"downward": "all"}})
    assert Rules.from_toml({"totals": {"upward": "approved"}}).totals.basis == UPWARD["approved"]
