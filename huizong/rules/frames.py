"""The batch as tables for Great Expectations, one per suite, with our own row keys.

Each frame has a `row_id` column that indexes a `context` list: everything needed to turn
a failing row back into an Issue with file, sheet, cell and indicator. Parsing results
that pandas cannot see (was the text a number? was the unit convertible?) become plain
columns the suites check, so every rule stays a vectorised single-column expectation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from huizong.catalog import Config, FormConfig
from huizong.read.model import Return
from huizong.read.values import BLANK, NOT_NUMERIC, PLACEHOLDER, UNIT_UNKNOWN


@dataclass
class Frame:
    name: str
    data: pd.DataFrame
    context: list[dict[str, Any]] = field(default_factory=list)  # by row_id


def frame_of(name: str, rows: list[dict[str, Any]], contexts: list[dict[str, Any]], columns: list[str]) -> Frame:
    df = pd.DataFrame(rows, columns=["row_id", *columns])
    if not rows:
        df = df.astype({"row_id": "int64"})
    return Frame(name, df, contexts)


def returns_frame(returns: list[Return], config: Config, history: object = None) -> Frame:
    divisions = config.divisions
    rows: list[dict[str, Any]] = []
    ctx: list[dict[str, Any]] = []
    for ret in returns:
        div = divisions.get(ret.county_code)
        known = ret.county_code if div is not None and div.level == "county" else None
        agrees = None
        if known and ret.county_by_name:
            agrees = ret.county_by_name == known
        by_name = divisions.get(ret.county_by_name)
        src, psrc = ret.county_source, ret.period_source
        form = config.form_by_id.get(ret.form)
        rows.append(
            {
                "row_id": len(ctx),
                "county_code": ret.county_code,
                "county_known": known,
                "county_agrees": agrees,
                "period_text": ret.period_text,
                "period": ret.period.token if ret.period else ret.period_text,
                "period_collected": (form.collects(ret.period) if form is not None else True) if ret.period else None,
            }
        )
        office = ret.header.get("office")
        ctx.append(
            {
                "file": ret.file,
                "sheet": (src.sheet if src and src.cell else ret.sheet),
                "cell": (src.cell if src and src.cell else None),
                "value": ret.county_code,
                "name": div.name if div else (by_name.name if by_name else None),
                "detail": str(office.value) if office else None,
                "period_sheet": (psrc.sheet if psrc and psrc.cell else ret.sheet),
                "period_cell": (psrc.cell if psrc and psrc.cell else None),
                "period_value": ret.period_text,
                "period_expected": form.periods_zh if form is not None else "",
                "period_zh": ret.period.zh if ret.period else "",
            }
        )
    cols = ["county_code", "county_known", "county_agrees", "period_text", "period", "period_collected"]
    return frame_of("returns", rows, ctx, cols)


def facts_frame(returns: list[Return], config: FormConfig, history: object = None) -> Frame:
    cat = config.catalog
    labels = config.form.role_labels
    rows: list[dict[str, Any]] = []
    ctx: list[dict[str, Any]] = []
    for ret in returns:
        for f in ret.facts:
            ind = cat.by_code[f.indicator]
            whole = None
            if ind.integer and f.number is not None:
                whole = float(f.number).is_integer()
            rows.append(
                {
                    "row_id": len(ctx),
                    "column": f.column,
                    "number": f.number,
                    "numeric": f.status != NOT_NUMERIC,
                    "unit_ok": f.status != UNIT_UNKNOWN,
                    "whole": whole,
                    "approximate": f.approximate,
                    "redacted": f.status == PLACEHOLDER and f.column == "value" and ind.required,
                    "plausible": _plausible(f.number, ind.maximum),
                }
            )
            ctx.append(
                {
                    "file": ret.file,
                    "sheet": f.sheet,
                    "cell": f.cell,
                    "indicator": f.indicator,
                    "value": f.raw if f.status != UNIT_UNKNOWN else f.unit_written,
                    "number": f.number,
                    "name": ind.name,
                    "unit": ind.unit,
                    "column": labels.get(f.column, f.column),
                    "expected": f"{ind.maximum:,.0f}" if ind.maximum else None,
                }
            )
    cols = ["column", "number", "numeric", "unit_ok", "whole", "approximate", "redacted", "plausible"]
    return frame_of("facts", rows, ctx, cols)


def _plausible(number: float | None, maximum: float | None) -> bool | None:
    """Finite, and within the catalog's `max` for the indicator (1e308 万元 is a slip, not a total)."""
    if number is None:
        return None
    if not math.isfinite(number):
        return False
    return maximum is None or abs(number) <= maximum


def coverage_frame(returns: list[Return], config: FormConfig, history: object = None) -> Frame:
    """One row per (return, required indicator): is the row there, is its value filled in."""
    required = [i for i in config.catalog if i.required]
    rows: list[dict[str, Any]] = []
    ctx: list[dict[str, Any]] = []
    for ret in returns:
        values = {f.indicator: f for f in ret.facts if f.column == "value"}
        for ind in required:
            ref = ret.rows.get(ind.code)
            fact = values.get(ind.code)
            present = ref is not None
            rows.append(
                {
                    "row_id": len(ctx),
                    "present": present,
                    "filled": (fact is not None and fact.status != BLANK) if present else None,
                }
            )
            ctx.append(
                {
                    "file": ret.file,
                    "sheet": ret.sheet,
                    "indicator": ind.code,
                    "name": ind.name,
                    "cell": (ref.value_cell if ref else None),
                    "value": None,
                }
            )
    return frame_of("coverage", rows, ctx, ["present", "filled"])


def pairs_frame(returns: list[Return], config: FormConfig, history: object = None) -> Frame:
    """One row per return, one column per indicator: its 本期累计 in catalog units."""
    codes = [i.code for i in config.catalog]
    rows: list[dict[str, Any]] = []
    ctx: list[dict[str, Any]] = []
    for ret in returns:
        row: dict[str, Any] = {"row_id": len(ctx)}
        cells = {}
        for f in ret.facts:
            if f.column == "value":
                row[f.indicator] = f.number
                cells[f.indicator] = f.cell
        rows.append(row)
        ctx.append({"file": ret.file, "sheet": ret.sheet, "cells": cells})
    df = pd.DataFrame(rows, columns=["row_id", *codes]).astype({c: "float64" for c in codes})
    return Frame("pairs", df, ctx)


SLIPS = {  # catalog unit -> (factor that turns what was written into what was meant, what happened)
    "%": ((100.0, "百分数写成了小数"), (0.1, "千分数当作百分数填写")),
    "‰": ((1000.0, "千分数写成了小数"), (10.0, "百分数当作千分数填写")),
}


def ratios_frame(returns: list[Return], config: FormConfig, history: object = None) -> Frame:
    """A county-filled ratio against the one recomputed from its own parts."""
    ratios = [i for i in config.catalog if i.is_ratio]
    rows: list[dict[str, Any]] = []
    ctx: list[dict[str, Any]] = []
    for ret in returns:
        values = {f.indicator: f for f in ret.facts if f.column == "value"}
        for ind in ratios:
            rep, num, den = (values.get(c) for c in (ind.code, ind.numerator, ind.denominator))
            if not (rep and num and den) or None in (rep.number, num.number, den.number) or not den.number:
                continue
            mult = float(ind.multiplier or 1)
            recomputed = mult * num.number / den.number  # type: ignore[operator]
            tol = ind.tolerance if ind.tolerance is not None else 0.01
            reported = float(rep.number)  # type: ignore[arg-type]
            within = abs(reported - recomputed) <= tol
            # a slip of scale: a percentage given as a fraction (0.0087 for 0.87 %), a permille as a
            # percentage, or the other way round: the parts say which number was meant
            slip = None
            if not within:
                for factor, hint in SLIPS.get(ind.unit, ()):
                    if abs(reported * factor - recomputed) <= max(tol, abs(recomputed) * 0.005):
                        slip = hint
                        break
            rows.append({"row_id": len(ctx), "within": within or slip is not None, "no_slip": slip is None})
            num_ind, den_ind = config.catalog[ind.numerator or ""], config.catalog[ind.denominator or ""]
            ctx.append(
                {
                    "file": ret.file,
                    "sheet": rep.sheet,
                    "cell": rep.cell,
                    "indicator": ind.code,
                    "name": ind.name,
                    "unit": ind.unit,
                    "value": rep.raw,
                    "expected": f"{recomputed:.2f}",
                    "detail": f"{num_ind.name} / {den_ind.name}",
                    "hint": slip,
                }
            )
    return frame_of("ratios", rows, ctx, ["within", "no_slip"])
