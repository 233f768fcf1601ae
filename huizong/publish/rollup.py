"""City totals by the catalog's rule: sums for counts and amounts; ratios recomputed from
their summed numerator and denominator, never averaged.

YoY and completion compare like with like: only counties that gave both numbers count
(可比口径), so a county that left 上年同期 empty does not inflate the growth rate.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from huizong.catalog import Division, FormConfig, Indicator

Values = Mapping[str, Mapping[str, Mapping[str, float]]]  # column -> indicator -> county -> number


@dataclass(frozen=True, slots=True)
class Total:
    code: str
    name: str
    unit: str
    value: float | None
    target: float | None
    last_year: float | None
    yoy_pct: float | None
    completion_pct: float | None
    n_reported: int
    n_expected: int
    reported: tuple[str, ...]  # county codes
    missing: tuple[str, ...]


def index_facts(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    out: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for r in rows:
        if r["number"] is not None:
            out[r["column"]][r["indicator"]][r["county_code"]] = float(r["number"])
    return out


def _clean(x: float | None, places: int = 6) -> float | None:
    if x is None or math.isnan(x) or math.isinf(x):
        return None
    return round(x, places) + 0.0  # + 0.0 turns -0.0 into 0.0


def _pct(num: float, den: float) -> float | None:
    return _clean(num / den * 100, 2) if den else None


def _growth(value: float, last: float) -> float | None:
    return _clean((value / last - 1) * 100, 2) if last else None


def _sum(values: Mapping[str, float], counties: Iterable[str]) -> float:
    return math.fsum(values[c] for c in counties)


def _ratio(ind: Indicator, vals: Values, column: str, counties: Iterable[str]) -> tuple[float | None, list[str]]:
    num = vals.get(column, {}).get(ind.numerator or "", {})
    den = vals.get(column, {}).get(ind.denominator or "", {})
    both = [c for c in counties if c in num and c in den]
    total_den = _sum(den, both)
    if not both or not total_den:
        return None, both
    return float(ind.multiplier or 1) * _sum(num, both) / total_den, both


def total_for(ind: Indicator, vals: Values, expected: list[Division]) -> Total:
    codes = [d.code for d in expected]
    if ind.is_ratio:
        value, reported = _ratio(ind, vals, "value", codes)
        target, _ = _ratio(ind, vals, "target", codes)
        last, _ = _ratio(ind, vals, "last_year", codes)
        yoy = _growth(value, last) if value is not None and last else None
        completion = _pct(value, target) if value is not None and target else None
    else:
        v = vals.get("value", {}).get(ind.code, {})
        t = vals.get("target", {}).get(ind.code, {})
        ly = vals.get("last_year", {}).get(ind.code, {})
        reported = [c for c in codes if c in v]
        planned_all = [c for c in codes if c in t] if t else []
        with_last = [c for c in codes if c in ly] if ly else []
        value = _sum(v, reported) if reported else None
        target = _sum(t, planned_all) if planned_all else None
        last = _sum(ly, with_last) if with_last else None
        comparable = [c for c in reported if c in ly]
        yoy = _growth(_sum(v, comparable), _sum(ly, comparable)) if comparable else None
        planned = [c for c in reported if c in t]
        completion = _pct(_sum(v, planned), _sum(t, planned)) if planned else None
    return Total(
        code=ind.code,
        name=ind.name,
        unit=ind.unit,
        value=_clean(value),
        target=_clean(target),
        last_year=_clean(last),
        yoy_pct=yoy,
        completion_pct=completion,
        n_reported=len(reported),
        n_expected=len(codes),
        reported=tuple(reported),
        missing=_missing(codes, reported),
    )


def _missing(codes: list[str], reported: list[str]) -> tuple[str, ...]:
    have = set(reported)
    return tuple(c for c in codes if c not in have)


def rollup(
    config: FormConfig, region: str, facts: Iterable[Mapping[str, Any]], vals: Values | None = None
) -> list[Total]:
    """One Total per catalog indicator for the region, from the accepted facts of one period
    (`vals`: their `index_facts`, where the caller has it)."""
    expected = config.divisions.counties_of(region)
    vals = index_facts(facts) if vals is None else vals
    return [total_for(ind, vals, expected) for ind in config.catalog]
