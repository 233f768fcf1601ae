"""A reading worker's results cross to the parent pickled: the compact state of the records."""

from __future__ import annotations

import pickle
from dataclasses import FrozenInstanceError, dataclass, fields

import pytest
from builders import CONFIG, Shape, project_row, valid_uscc, write_return

from huizong.compact import compact
from huizong.issues import Issue
from huizong.read.model import Fact, Located, Record, Return, RowRef
from huizong.read.periods import Period
from huizong.read.returns import read_return


def test_a_return_read_from_a_real_file_comes_back_equal(tmp_path):  # type: ignore[no-untyped-def]
    projects = [project_row(1, "项目1", "某公司", valid_uscc("91620722000000001"), "省级重点研发计划", "立项", 12.5)]
    path = write_return(
        tmp_path / "民乐县.xlsx", "620722", "2024H1", {"A01": 5100, "B01": 36, "B02": 40}, Shape(projects=projects)
    )
    ret = read_return(path, CONFIG, "620700")
    assert ret.facts and ret.records and ret.header and ret.rows and ret.period == Period(2024, "H1")
    ret.issues.append(Issue("value-negative", "error", "不能为负数", ret.file, "主要指标", "F12", "A01", -1))  # type: ignore[arg-type]
    back = pickle.loads(pickle.dumps(ret))
    for f in fields(Return):
        assert getattr(back, f.name) == getattr(ret, f.name), f.name
    fact = next(f for f in back.facts if f.indicator == "A01" and f.column == "value")
    assert (fact.number, fact.cell, fact.flags) == (5100.0, ret.fact("A01").cell, "")  # type: ignore[union-attr]


@pytest.mark.parametrize("cls", [Located, Fact, RowRef, Record, Return, Issue, Period])
def test_every_record_pickles_as_a_tuple_of_its_fields(cls):  # type: ignore[no-untyped-def]
    assert cls.__getstate__.__qualname__.startswith("compact.")


@compact
@dataclass(frozen=True, slots=True)
class One:
    x: int


def test_frozen_stays_frozen_and_one_field_works():  # type: ignore[no-untyped-def]
    one = pickle.loads(pickle.dumps(One(3)))
    assert one == One(3)
    with pytest.raises(FrozenInstanceError):
        one.x = 4  # type: ignore[misc]
    issue = Issue("value-negative", "error", "不能为负数", "a.xlsx", "主要指标", "F12", "A01", -1)  # type: ignore[arg-type]
    assert pickle.loads(pickle.dumps(issue)) == issue
    assert issue.__getstate__() == (
        "value-negative",
        "error",
        "不能为负数",
        "a.xlsx",
        "主要指标",
        "F12",
        "A01",
        -1,
        None,
        None,
    )
