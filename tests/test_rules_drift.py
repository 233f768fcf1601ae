"""Codes, suites and frames cannot drift apart: every code is raised somewhere, every suite names a
real frame and real columns, every frame is checked by a suite, and rules.toml is read whole."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from builders import CONFIG, write_return

from huizong.codes import CODES
from huizong.read.returns import read_return
from huizong.rules.history import History
from huizong.rules.lists import PROBLEM_CODES, suites_for
from huizong.rules.suites import BUILDERS, load_suite_specs

ROOT = Path(__file__).resolve().parents[1] / "huizong"
SPECS = load_suite_specs(CONFIG.suites_dir)
COLUMN_KWARGS = ("column", "column_A", "column_B")


def codes_in_source() -> set[str]:
    found: set[str] = set()
    for path in ROOT.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(r'make_issue\(\s*"([a-z0-9-]+)"', text))
        found |= set(re.findall(r'^\s*(?:return )?Sniffed\(None, "([a-z0-9-]+)"', text, flags=re.M))
        found |= set(re.findall(r'Refused\("([a-z0-9-]+)"', text))
        found |= set(re.findall(r'_refuse\(\s*"([a-z0-9-]+)"', text))
        found |= set(re.findall(r'^(?:OVER_LIMITS|CRASHED)(?:, \w+)* = "([a-z0-9-]+)"', text, flags=re.M))
    return found


def test_every_code_is_raised_by_a_suite_or_by_the_reader_and_every_raised_code_is_registered() -> None:
    in_suites = {e["meta"]["code"] for s in SPECS for e in s["expectations"]}
    generated = [e["meta"] for f in CONFIG.forms for s in suites_for(f) for e in s["expectations"]]
    in_suites |= {m["code"] for m in generated if "code" in m and m["code"] != "record-invalid"}
    in_suites |= set(PROBLEM_CODES.values())
    raised = codes_in_source() | {"read-crashed", "file-over-limits"}
    assert set(CODES) - in_suites - raised == set(), "registered codes nothing raises"
    assert (in_suites | raised) - set(CODES) == set(), "raised codes that are not registered"


@pytest.fixture(scope="module")
def frames(tmp_path_factory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("drift")
    ret = read_return(write_return(folder / "r.xlsx", "620722", "2024H1"), CONFIG, "620700")
    key = CONFIG.for_form("key-indicators")
    return {name: build([ret], CONFIG if name == "returns" else key, History()) for name, build in BUILDERS.items()}


def test_every_suite_names_a_frame_and_its_columns(frames) -> None:  # type: ignore[no-untyped-def]
    for spec in SPECS:
        frame = frames[spec["meta"]["frame"]]
        for e in spec["expectations"]:
            for key in COLUMN_KWARGS:
                if key in e["kwargs"]:
                    assert e["kwargs"][key] in frame.data.columns, f"{spec['name']}: no column {e['kwargs'][key]}"


def test_every_frame_is_checked_by_a_suite() -> None:
    assert {s["meta"]["frame"] for s in SPECS} == set(BUILDERS)


def test_rules_toml_is_read_whole() -> None:
    rules = CONFIG.rules
    assert rules.history.jump_hints[4].startswith("疑似万元与亿元")
    status = CONFIG.form_by_id["key-indicators"].list.by_code["status"]  # the form's own, in its fields.csv
    assert "立项" in status.choices and status.choice_of("在研") == "立项"
    assert rules.limits.seconds == 60
    text = (CONFIG.root / "catalog" / "rules.toml").read_text(encoding="utf-8")
    assert "[[pairs]]" not in text  # the pairs live in suites/pairs.json, and only there
