"""The usual words of a return are data (`huizong/forms/vocabulary.toml`), not code: the default
column labels and the words `forms new` guesses a blank form with. A word added to the file is
known to the next `forms new`; a file broken by an edit is refused in one line naming its key."""

from __future__ import annotations

import csv
import importlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from conftest import cli
from test_forms import copy_config

import huizong.forms.model as model
import huizong.forms.new as new
from huizong.catalog import CatalogError, Config


@pytest.fixture
def words(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the vocabulary, read in its place (by `forms new` too) while the test runs."""
    copy = tmp_path / "vocabulary.toml"
    shutil.copy(model.VOCABULARY, copy)
    monkeypatch.setattr(model, "VOCABULARY", copy)
    model.vocabulary.cache_clear()
    yield copy
    monkeypatch.undo()
    model.vocabulary.cache_clear()
    importlib.reload(new)  # its words read again from the shipped file


def test_the_shipped_words_fit_their_shape_and_give_every_role_a_label() -> None:
    model.vocabulary.cache_clear()
    v = model.vocabulary()
    assert model.default_labels() == {
        "seq": "序号",
        "code": "代码",
        "name": "名称",
        "unit": "计量单位",
        "target": "目标",
        "value": "本期数",
        "last_year": "上年同期",
        "note": "备注",
    }
    roles = [c["role"] for c in v["table"]["columns"]]
    assert sorted(roles) == sorted(model.COLUMN_ROLES)  # every role has its cues, once
    assert new.ROLE_CUES[0] == ("seq", "序号", ("序", "编号", "NO", "NO."), ("序号",))
    assert new._CODES[0] == ("统一社会信用代码", "uscc") and "万元" in new._UNIT_WORDS and "家" in new.COUNT_UNITS


def write_blank(path: Path, heads: list[str]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "获奖名单"
    ws["A1"] = "2024年度科技奖励获奖统计表"
    ws["A2"], ws["D2"] = "填报单位：", "报告期：    年"
    for c, h in enumerate(heads, start=1):
        ws.cell(row=4, column=c, value=h)
    for r in range(5, 8):
        ws.cell(row=r, column=1, value=r - 4)
    wb.save(path)
    return path


def fields_of(folder: Path) -> list[tuple[str, str, str]]:
    with (folder / "fields.csv").open(encoding="utf-8-sig", newline="") as f:
        return [(r["code"], r["name"], r["type"]) for r in csv.DictReader(f)]


HEADS = ["序号", "企业名称", "统一社会信用代码", "获奖等级", "奖金（万元）"]


def test_a_word_added_to_the_vocabulary_is_known_to_the_next_forms_new(tmp_path: Path, words: Path) -> None:
    root = copy_config(tmp_path)
    blank = write_blank(tmp_path / "获奖统计表.xlsx", HEADS)
    r = cli("forms", "new", str(blank), "--id", "awards-a", "--config", str(root))
    assert r.returncode == 0, r.stderr
    before = fields_of(root / "forms" / "awards-a")
    assert before[3] == ("f04", "获奖等级", "text") and before[4] == ("f05", "奖金", "number")

    text = words.read_text(encoding="utf-8")
    text = text.replace("codes = [\n", 'codes = [\n    ["获奖等级", "award_level"],\n    ["奖金", "bonus"],\n', 1)
    words.write_text(text, encoding="utf-8")
    model.vocabulary.cache_clear()
    importlib.reload(new)  # what a new `huizong forms new` process does: read the words afresh
    r = cli("forms", "new", str(blank), "--id", "awards-b", "--config", str(root))
    assert r.returncode == 0, r.stderr
    after = fields_of(root / "forms" / "awards-b")
    assert after[3] == ("award_level", "获奖等级", "text") and after[4] == ("bonus", "奖金", "number")
    assert before[:3] == after[:3]


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        (lambda t: t.replace('["信用代码", "uscc"]', '["信用代码", "USCC-code"]'), "[list] codes 缺少或写法不对"),
        (lambda t: t.replace('last_year = "上年同期"\n', ""), "[table] labels 缺少或写法不对"),
        (lambda t: t.replace('role = "target"', 'role = "goal"'), "[table] columns 缺少或写法不对"),
        (lambda t: t.replace('role = "code"', 'role = "name"'), "[table] columns 缺少或写法不对"),  # no cues for code
        (lambda t: t.replace("count = [", "count = ", 1), "vocabulary.toml: "),  # not TOML
    ],
)
def test_a_broken_vocabulary_stops_the_configuration_in_one_line(tmp_path: Path, words: Path, edit, said) -> None:
    words.write_text(edit(words.read_text(encoding="utf-8")), encoding="utf-8")
    model.vocabulary.cache_clear()
    with pytest.raises(CatalogError) as e:
        Config.load(copy_config(tmp_path))
    assert said in str(e.value) and str(words) in str(e.value) and "\n" not in str(e.value)
