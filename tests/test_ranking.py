"""通报排名, built with numpy from the view's index of its facts, against the plain rule it follows:
each key indicator's counties from the highest figure down (a tie keeps the order the facts came
in), a ratio recomputed from its parts, the completion and growth rates rounded as Python rounds."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from builders import CONFIG
from hypothesis import given, settings
from hypothesis import strategies as hs

from huizong.publish import workbook
from huizong.publish.rollup import index_facts

FORM = CONFIG.for_form(CONFIG.forms[0].id)
KEYS = [i for i in FORM.catalog if i.key]
CODES = sorted(
    {i.code for i in KEYS} | {i.numerator for i in KEYS if i.numerator} | {i.denominator for i in KEYS if i.denominator}
)


@dataclass(frozen=True)
class County:
    code: str
    name: str


def reference(facts: list[dict[str, Any]], counties: list[County]) -> list[list[object]]:
    """The rule, written the obvious way (the loop 通报排名 was built with before numpy)."""
    cols: dict[str, dict[str, dict[str, float]]] = {}
    for f in facts:
        if f["number"] is not None:
            cols.setdefault(f["column"], {}).setdefault(f["indicator"], {})[f["county_code"]] = f["number"]
    names = {c.code: c.name for c in counties}

    def recomputed(ind: Any, column: str) -> dict[str, float]:
        if not ind.is_ratio:
            return cols.get(column, {}).get(ind.code, {})
        num = cols.get(column, {}).get(ind.numerator or "", {})
        den = cols.get(column, {}).get(ind.denominator or "", {})
        return {c: float(ind.multiplier or 1) * num[c] / den[c] for c in num if den.get(c)}

    rows: list[list[object]] = []
    for ind in KEYS:
        vals, targets, lasts = recomputed(ind, "value"), recomputed(ind, "target"), recomputed(ind, "last_year")
        for rank, (county, v) in enumerate(sorted(vals.items(), key=lambda kv: -kv[1]), start=1):
            target, last = targets.get(county), lasts.get(county)
            completion = round(v / target * 100, 2) if target else None
            yoy = round((v / last - 1) * 100, 2) if last else None
            rows.append([ind.name, ind.unit, rank, names.get(county, county), v, completion, yoy])
    return rows


def ranked(facts: list[dict[str, Any]], counties: list[County]) -> list[list[object]]:
    """The rows `_ranking` hands the sheet writer."""
    seen: dict[str, Any] = {}
    view = SimpleNamespace(
        values=index_facts(facts), counties=counties, region=SimpleNamespace(name="某市"), period="2024H1"
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(workbook, "_title", lambda *a, **k: 3)
        mp.setattr(workbook, "table", lambda book, ws, top, headers, rows, *a, **k: seen.update(rows=rows))
        workbook._ranking(SimpleNamespace(sheet=lambda name: None), view, FORM)  # type: ignore[arg-type]
    return seen["rows"]


# figures that tie, zeros (no rate), negatives, and halves at the second decimal (x.xx5), where
# numpy's rounding and Python's part ways
NUMBERS = hs.one_of(
    hs.sampled_from([0.0, -0.0, 1.0, 2.0, 232.465, 758.795, 1.005, 0.125, 100.0, -3.5, 1e-9]),
    hs.floats(min_value=-1e7, max_value=1e9, allow_nan=False, allow_infinity=False),
    hs.integers(min_value=0, max_value=10_000).map(lambda n: n / 1000),
    hs.none(),
)


@settings(max_examples=150, deadline=None)
@given(
    hs.lists(
        hs.tuples(
            hs.integers(min_value=0, max_value=7),
            hs.sampled_from(CODES),
            hs.sampled_from(["value", "target", "last_year"]),
            NUMBERS,
        ),
        max_size=120,
    )
)
def test_the_ranking_follows_the_rule_exactly(cells: list[tuple[int, str, str, float | None]]) -> None:
    counties = [County(f"6207{n:02d}", f"县{n}") for n in range(8)]
    facts = [
        {"county_code": counties[n].code if n < 7 else "999999", "indicator": code, "column": col, "number": x}
        for n, code, col, x in cells  # county 7 is not the region's: its code stands for its name
    ]
    got = ranked(facts, counties)
    want = reference(facts, counties)
    assert repr(got) == repr(want)  # repr: -0.0 and 0.0, and None, told apart


def test_ties_zero_targets_and_halves() -> None:
    counties = [County("620701", "甲"), County("620702", "乙"), County("620703", "丙")]
    facts = []
    cases = [("620702", 5.0, 0.0, 4.0), ("620701", 5.0, 2.0, 0.0), ("620703", 232.465, 100.0, 100.0)]
    for code, v, t, last in cases:
        facts += [
            {"county_code": code, "indicator": "A01", "column": "value", "number": v},
            {"county_code": code, "indicator": "A01", "column": "target", "number": t},
            {"county_code": code, "indicator": "A01", "column": "last_year", "number": last},
        ]
    rows = [r for r in ranked(facts, counties) if r[0] == KEYS[0].name]
    assert [r[2:] for r in rows] == [
        [1, "丙", 232.465, 232.47, 132.47],  # Python's round (numpy's gives 232.46: it scales first)
        [2, "乙", 5.0, None, 25.0],  # the tie: in the order the facts came
        [3, "甲", 5.0, 250.0, None],  # a target or last year of 0: no rate
    ]


def test_many_ties_keep_the_order_the_facts_came_in() -> None:
    counties = [County(f"62{n:04d}", f"县{n}") for n in range(60)]
    order = [counties[(n * 7) % 60] for n in range(60)]  # the facts' order, not the counties'
    figure = {c.code: float(n % 3) for n, c in enumerate(order)}  # three figures, twenty counties each
    facts = [{"county_code": c.code, "indicator": "A01", "column": "value", "number": figure[c.code]} for c in order]
    rows = [r for r in ranked(facts, counties) if r[0] == KEYS[0].name]
    assert [r[3] for r in rows] == [c.name for x in (2.0, 1.0, 0.0) for c in order if figure[c.code] == x]
    assert [r[2] for r in rows] == list(range(1, 61))


def test_a_county_without_a_figure_is_not_ranked() -> None:
    facts = [{"county_code": "620701", "indicator": "A01", "column": "target", "number": 3.0}]
    assert ranked(facts, [County("620701", "甲")]) == []
