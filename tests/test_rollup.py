"""City totals by the catalog's rule."""

from __future__ import annotations

import pytest

from huizong.publish.rollup import rollup


def facts(county: str, **cols: dict[str, float]) -> list[dict[str, object]]:
    return [
        {"county_code": county, "indicator": ind, "column": col, "number": v}
        for col, by_ind in cols.items()
        for ind, v in by_ind.items()
    ]


def totals(config, rows):  # type: ignore[no-untyped-def]
    return {t.code: t for t in rollup(config.for_form("key-indicators"), "620700", rows)}


def test_ratios_are_recomputed_from_summed_parts_never_averaged(config):  # type: ignore[no-untyped-def]
    rows = facts("620702", value={"A01": 5100, "Z01": 120.5, "A02": 0.42}) + facts(
        "620722", value={"A01": 1000, "Z01": 10, "A02": 1.0}
    )
    a02 = totals(config, rows)["A02"]
    assert a02.value == pytest.approx(0.01 * 6100 / 130.5, abs=1e-6)
    assert a02.value == 0.467433  # not (0.42 + 1.0) / 2 = 0.71
    assert (a02.n_reported, a02.reported) == (2, ("620702", "620722"))


def test_a_ratio_counts_only_counties_with_both_parts(config):  # type: ignore[no-untyped-def]
    rows = facts("620702", value={"E05": 31, "Z02": 17.8}) + facts("620722", value={"E05": 100})
    e06 = totals(config, rows)["E06"]
    assert (e06.value, e06.n_reported) == (round(31 / 17.8, 6), 1)


def test_sums_targets_last_year_yoy_completion(config):  # type: ignore[no-untyped-def]
    rows = (
        facts("620702", value={"B01": 30}, target={"B01": 60}, last_year={"B01": 25})
        + facts("620722", value={"B01": 36}, target={"B01": 40}, last_year={"B01": 30})
        + facts("620723", value={"B01": 10})
    )  # no target, no last year
    b01 = totals(config, rows)["B01"]
    assert (b01.value, b01.target, b01.last_year) == (76.0, 100.0, 55.0)
    assert b01.yoy_pct == 20.0  # (30 + 36) / (25 + 30): like with like, 临泽县 left out
    assert b01.completion_pct == 66.0  # (30 + 36) / (60 + 40)
    assert (b01.n_reported, b01.n_expected) == (3, 6)
    assert b01.missing == ("620721", "620724", "620725")


def test_nothing_reported(config):  # type: ignore[no-untyped-def]
    t = totals(config, [])["A01"]
    assert (t.value, t.target, t.yoy_pct, t.n_reported, len(t.missing)) == (None, None, None, 0, 6)


def test_float_noise_is_rounded_away(config):  # type: ignore[no-untyped-def]
    rows = facts("620702", value={"A01": 0.1}) + facts("620722", value={"A01": 0.2})
    assert totals(config, rows)["A01"].value == 0.3
