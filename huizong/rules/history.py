"""Rules that look beyond one form: what the store already holds, and the other counties.

`History` is the accepted, current facts of the city's counties (from the store) plus the
returns of the batch being validated. The frames built here feed the suites
`history.json` and `peers.json`; thresholds come from `rules.toml` and the catalog.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from huizong.catalog import FormConfig
from huizong.numbers import shown
from huizong.read.model import Return
from huizong.read.periods import KINDS, Period
from huizong.rules.frames import Frame, frame_of

ORDER = {k: n for n, k in enumerate(KINDS)}  # Q1 < H1 < Q3 < FY


@dataclass(frozen=True, slots=True)
class Known:
    number: float
    file: str
    cell: str


@dataclass
class History:
    """(county, period token, indicator, column) -> what the store holds as current."""

    known: dict[tuple[str, str, str, str], Known] = field(default_factory=dict)
    # The batch as the nights would have seen it one file at a time: a return is compared only with
    # those that arrived before it (`order`: id(return) -> position) and that the rules not looking
    # beyond a return have not refused (`refused`: ids) — a refused return never enters the store.
    order: dict[int, int] = field(default_factory=dict)
    refused: set[int] = field(default_factory=set)

    def before(self, r: Return, ret: Return) -> bool:
        """Did `r` arrive before `ret`, and would it be in the store when `ret` is checked?"""
        if id(r) in self.refused or r is ret:
            return False
        return self.order.get(id(r), 0) < self.order.get(id(ret), 0) if self.order else True

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> History:
        out = cls()
        for r in rows:
            if r["number"] is not None:
                key = (r["county_code"], r["period"], r["indicator"], r["column"])
                out.known[key] = Known(float(r["number"]), str(r.get("file") or ""), str(r.get("cell") or ""))
        return out

    def get(self, county: str, period: str, indicator: str, column: str = "value") -> Known | None:
        return self.known.get((county, period, indicator, column))


def _identified(returns: list[Return]) -> list[Return]:
    return [r for r in returns if r.readable and r.county_code and r.period]


def _batch_values(returns: list[Return]) -> dict[tuple[str, str, str], list[tuple[Return, float, str]]]:
    out: dict[tuple[str, str, str], list[tuple[Return, float, str]]] = defaultdict(list)
    for r in _identified(returns):
        assert r.period and r.county_code
        for f in r.facts:
            if f.column == "value" and f.number is not None:
                out[(r.county_code, r.period.token, f.indicator)].append((r, f.number, f.cell))
    return out


def cumulative_frame(returns: list[Return], config: FormConfig, history: History) -> Frame:
    """Flow indicators within a year: Q1 <= H1 <= Q3 <= FY, against the store and the batch."""
    batch = _batch_values(returns)
    flows = {i.code for i in config.catalog if i.kind == "flow"}
    held = {(c, p) for c, p, _ in batch} | {(c, p) for c, p, _, _ in history.known}  # (county, period)
    rows: list[dict[str, Any]] = []
    ctx: list[dict[str, Any]] = []
    for ret in _identified(returns):
        assert ret.period and ret.county_code
        year, county = ret.period.year, ret.county_code
        if not any((county, f"{year}{k}") in held for k in KINDS if k != ret.period.kind):
            continue  # nothing of the county's other periods of the year to compare with
        for f in ret.facts:
            if f.column != "value" or f.number is None or f.indicator not in flows:
                continue
            earlier: list[tuple[float, str]] = []
            later: list[tuple[float, str]] = []
            for kind in KINDS:
                if kind == ret.period.kind:
                    continue
                other = Period(ret.period.year, kind)
                seen = [
                    (n, f"{other.zh} {shown(n)}（{r.file} {c}）")
                    for r, n, c in batch.get((ret.county_code, other.token, f.indicator), [])
                    if history.before(r, ret)
                ]
                seen = seen[-1:]  # the latest of them: a correction replaces what it corrects
                if not seen:
                    k = history.get(ret.county_code, other.token, f.indicator)
                    if k:
                        seen = [(k.number, f"{other.zh} {shown(k.number)}（{k.file} {k.cell}）")]
                (earlier if ORDER[kind] < ORDER[ret.period.kind] else later).extend(seen)
            prev = max(earlier, default=None)
            nxt = min(later, default=None)
            if prev is None and nxt is None:
                continue
            rows.append(
                {
                    "row_id": len(ctx),
                    "number": f.number,
                    "prev_max": prev[0] if prev else None,
                    "next_min": nxt[0] if nxt else None,
                }
            )
            ind = config.catalog[f.indicator]
            ctx.append(
                {
                    "file": ret.file,
                    "sheet": f.sheet,
                    "cell": f.cell,
                    "indicator": f.indicator,
                    "name": ind.name,
                    "value": shown(f.number),
                    "prev": prev[1] if prev else None,
                    "next": nxt[1] if nxt else None,
                }
            )
    return frame_of("cumulative", rows, ctx, ["number", "prev_max", "next_min"])


def last_year_frame(returns: list[Return], config: FormConfig, history: History) -> Frame:
    """上年同期 as written against what the county reported for that period last year."""
    rules = config.rules.history
    rel, absolute = rules.last_year_relative_tolerance, rules.last_year_absolute_tolerance
    value_label = config.form.role_labels["value"]
    rows: list[dict[str, Any]] = []
    ctx: list[dict[str, Any]] = []
    for ret in _identified(returns):
        assert ret.period and ret.county_code
        last = ret.period.last_year()
        for f in ret.facts:
            if f.column != "last_year" or f.number is None:
                continue
            k = history.get(ret.county_code, last.token, f.indicator)
            if k is None:
                continue
            agrees = abs(f.number - k.number) <= max(absolute, rel * abs(k.number))
            rows.append({"row_id": len(ctx), "agrees": agrees})
            ctx.append(
                {
                    "file": ret.file,
                    "sheet": f.sheet,
                    "cell": f.cell,
                    "indicator": f.indicator,
                    "name": config.catalog[f.indicator].name,
                    "value": shown(f.number),
                    "detail": f"{last.zh}报送的{value_label}为 {shown(k.number)}（{k.file} {k.cell}）",
                }
            )
    return frame_of("last_year", rows, ctx, ["agrees"])


def jumps_frame(returns: list[Return], config: FormConfig, history: History) -> Frame:
    """This period against the same period last year: the return's own 上年同期, else the store's."""
    rules = config.rules.history
    default, hints = rules.jump_factor, rules.jump_hints
    rows: list[dict[str, Any]] = []
    ctx: list[dict[str, Any]] = []
    for ret in _identified(returns):
        assert ret.period and ret.county_code
        own = {f.indicator: f.number for f in ret.facts if f.column == "last_year" and f.number is not None}
        for f in ret.facts:
            if f.column != "value" or not f.number:
                continue
            ref = own.get(f.indicator)
            if ref is None:
                k = history.get(ret.county_code, ret.period.last_year().token, f.indicator)
                ref = k.number if k else None
            if not ref or ref < 0 or f.number < 0:
                continue
            ind = config.catalog[f.indicator]
            limit = ind.jump_factor or default
            ratio = f.number / ref
            power = round(abs(math.log10(ratio)))
            rows.append({"row_id": len(ctx), "within": 1 / limit <= ratio <= limit})
            ctx.append(
                {
                    "file": ret.file,
                    "sheet": f.sheet,
                    "cell": f.cell,
                    "indicator": f.indicator,
                    "name": ind.name,
                    "value": shown(f.number),
                    "expected": shown(ref),
                    "factor": f"{ratio:.3g}",
                    "detail": hints.get(power, "请核实是否属实或是否填错单位"),
                }
            )
    return frame_of("jumps", rows, ctx, ["within"])


def outliers_frame(returns: list[Return], config: FormConfig, history: History) -> Frame:
    """Robust z of log(1 + value) among the peer counties of the same period (median and MAD): a
    county's peers are the counties of its prefecture (or province, for one directly under it)."""
    rules = config.rules.history
    min_n, z_limit = rules.outlier_min_counties, rules.outlier_z
    mad_floor = 0.6745 * math.log(rules.outlier_min_factor) / z_limit
    divisions = config.divisions

    def group(county: str | None) -> str:
        d = divisions.get(county)
        return (d.parent or "") if d is not None else ""

    groups = {group(r.county_code) for r in _identified(returns)}
    peers = {d.code for g in groups if g for d in divisions.counties_of(g)}
    # (peer group, period, indicator) -> county -> value
    latest: dict[tuple[str, str, str], dict[str, float]] = defaultdict(dict)
    for (county, period, indicator, column), k in history.known.items():
        if column == "value" and county in peers:
            latest[(group(county), period, indicator)][county] = k.number
    rows: list[dict[str, Any]] = []
    ctx: list[dict[str, Any]] = []
    ordered = sorted(_identified(returns), key=lambda r: history.order.get(id(r), 0))
    for ret in ordered:  # each among its peers as they stood when it arrived: the store and those before it
        assert ret.period and ret.county_code
        for f in ret.facts:
            if f.column != "value" or f.number is None or f.number < 0:
                continue
            peers_now = latest[(group(ret.county_code), ret.period.token, f.indicator)]
            before = peers_now.get(ret.county_code)
            peers_now[ret.county_code] = f.number
            values = list(peers_now.values())
            if id(ret) in history.refused:  # it never joins the store: the later ones do not see it
                if before is None:
                    del peers_now[ret.county_code]
                else:
                    peers_now[ret.county_code] = before
            if len(values) < min_n:
                continue
            logs = [math.log1p(v) for v in values if v >= 0]
            med = statistics.median(logs)
            mad = max(statistics.median(abs(x - med) for x in logs), mad_floor)
            z = 0.6745 * (math.log1p(f.number) - med) / mad
            ind = config.catalog[f.indicator]
            rows.append({"row_id": len(ctx), "robust_z": z})
            ctx.append(
                {
                    "file": ret.file,
                    "sheet": f.sheet,
                    "cell": f.cell,
                    "indicator": f.indicator,
                    "name": ind.name,
                    "unit": ind.unit,
                    "value": shown(f.number),
                    "expected": shown(statistics.median(values)),
                    "detail": f"{z:.1f}",
                }
            )
    return frame_of("outliers", rows, ctx, ["robust_z"])


def history_for(store: Any, config: FormConfig, region: str, returns: list[Return] | None = None) -> History:
    """What the store holds as current (本期累计 of accepted returns) that the rules of this batch
    can ask about, loaded in SQL, not filtered in Python: for each return, its county's periods of
    the same year (cumulative order) and the same period last year (上年同期, jumps), and its peer
    counties' values of the same period (outliers). Without `returns`, all of the region."""
    if store is None:
        return History()
    divisions = config.divisions
    if returns is None:
        counties = [d.code for d in divisions.counties_of(region)]
        return History.from_rows(store.current_values(counties, None, form=config.form_id))
    mine: set[str] = set()
    periods: set[str] = set()
    peers: dict[str, set[str]] = defaultdict(set)  # period -> counties whose values the outlier rule compares
    for ret in _identified(returns):
        assert ret.period and ret.county_code
        mine.add(ret.county_code)
        year, kind = ret.period.year, ret.period.kind
        periods |= {f"{year}{k}" for k in KINDS} | {f"{year - 1}{kind}", ret.period.token}
        d = divisions.get(ret.county_code)
        if d is not None and d.parent:
            peers[ret.period.token] |= {c.code for c in divisions.counties_of(d.parent)}
    form = config.form_id
    rows = list(store.current_values(sorted(mine), sorted(periods), form=form)) if mine else []
    for period, peer_counties in peers.items():
        rows += store.current_values(sorted(peer_counties - mine), [period], form=form)
    return History.from_rows(rows)
