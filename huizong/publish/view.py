"""The view model: what the outputs of one region and period are made of, gathered from the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from huizong.catalog import Division, FormConfig
from huizong.forms.model import Form
from huizong.ledger import review as rv
from huizong.ledger import store as st
from huizong.ledger.standing import Counted
from huizong.publish.rollup import Total, Values, index_facts, rollup, total_for
from huizong.read.periods import parse_token


@dataclass
class CountyStatus:
    county: Division
    status: Counted
    submission: dict[str, Any] | None
    history: list[dict[str, Any]]  # every submission of the county for the period


# a county with no return yet: 未报送; one whose city has not approved the period, above a city when
# [totals] upward = "approved": 未经审核
STATUS_ZH = {str(s): s.zh for s in st.Status} | {str(c): c.zh for c in Counted}


@dataclass
class Part:
    """A division directly under the region (a province's prefecture, the nation's province), its
    totals computed from county returns directly, and how many of its counties are in."""

    division: Division
    totals: dict[str, Total]  # by indicator code
    n_reported: int  # counties with an accepted return
    n_expected: int


@dataclass
class RegionPeriod:
    """What the outputs of one region (a city, a province, the nation) and period are made of."""

    region: Division
    period: str
    counties: list[Division]
    totals: list[Total]
    facts: list[dict[str, Any]]
    statuses: list[CountyStatus]
    issues: list[dict[str, Any]]
    submissions: list[dict[str, Any]]
    revisions: list[dict[str, Any]] | None = None  # cell-by-cell changes of corrections this period
    parts: list[Part] | None = None  # above a prefecture: the divisions under the region, each totalled
    form: Form | None = None
    records: list[dict[str, Any]] | None = None  # the form's list: the records of the accepted returns
    months: tuple[str, ...] = ()  # a monthly form's longer period: the months it sums
    basis: str | None = None  # above a city: what its totals count ([totals] upward), in words

    @property
    def n_reported(self) -> int:
        return sum(s.status == Counted.ACCEPTED for s in self.statuses)

    @cached_property
    def values(self) -> Values:
        """The facts' numbers by column, indicator and county (`index_facts`)."""
        return index_facts(self.facts)


def months_of(form: Form, period: str) -> tuple[str, ...]:
    """The ledger periods a period of the form is made of: itself, or for a period its returns are
    summed into, the months (quarters, half years) it adds up."""
    return form.parts_of(parse_token(period))


def gather(
    store: st.Store, config: FormConfig, region_code: str, period: str, submissions: list[dict[str, Any]] | None = None
) -> RegionPeriod:
    """Everything the outputs of one region and period of the configuration's form show.
    `submissions` (the ledger's rows) is shared by all regions of a period: pass it in."""
    region = config.divisions.get(region_code)
    if region is None:
        raise ValueError(f"unknown region code {region_code}")
    form = config.form
    months = months_of(form, period)
    if months != (period,):
        return _gather_months(store, config, region, period, months, submissions)
    counties = config.divisions.counties_of(region_code)
    codes = [c.code for c in counties]
    inside = set(codes)
    every = store.submissions(periods=[period], form=form.id) if submissions is None else submissions
    subs = [s for s in every if s["period"] == period and s["county_code"] in inside and s["form"] == form.id]
    local = region.level in ("prefecture", "county")  # above a region, projects and records are in the cities' outputs
    by_county = _by_county(subs)
    counted = None if local else counted_counties(store, config, counties, [period], by_county)
    facts = store.accepted_facts(codes if counted is None else sorted(counted), period, lean=not local, form=form.id)
    statuses = []
    for c in counties:
        mine = by_county.get(c.code, [])
        current = [s for s in mine if s["status"] == st.ACCEPTED]
        if current and counted is not None and c.code not in counted:
            statuses.append(CountyStatus(c, Counted.UNAPPROVED, current[-1], mine))
        elif current:
            statuses.append(CountyStatus(c, Counted.ACCEPTED, current[-1], mine))
        elif any(s["status"] == st.REJECTED for s in mine):
            last = [s for s in mine if s["status"] == st.REJECTED][-1]
            statuses.append(CountyStatus(c, Counted.REJECTED, last, mine))
        else:
            statuses.append(CountyStatus(c, Counted.MISSING, None, mine))
    with_issues = [s for s in subs if s["status"] in (st.ACCEPTED, st.REJECTED, st.SUPERSEDED)]
    by_id = {s["id"]: s for s in with_issues}
    issues = [{**i, "submission": by_id[i["submission_id"]]} for i in store.issues_for(by_id)]
    accepted_ids = [s.submission["id"] for s in statuses if s.status == Counted.ACCEPTED and s.submission]
    revisions = store.revisions_for([s["id"] for s in subs])
    records = store.records_for(accepted_ids) if form.list is not None and local else None
    vals = index_facts(facts)
    view = RegionPeriod(
        region,
        period,
        counties,
        rollup(config, region_code, facts, vals),
        facts,
        statuses,
        issues,
        subs,
        revisions,
        parts_of(config, region, statuses, facts, vals),
        form,
        records,
        basis=None if local else config.rules.totals.basis,
    )
    view.__dict__["values"] = vals  # made once: the totals, the parts and the report draft use it
    return view


def _gather_months(
    store: st.Store,
    config: FormConfig,
    region: Division,
    period: str,
    months: tuple[str, ...],
    submissions: list[dict[str, Any]] | None,
) -> RegionPeriod:
    """A monthly form's quarter, half year or year: each county's months summed, the county counted
    only once every month of the period is in (accepted); its status is its latest month's."""
    form = config.form
    counties = config.divisions.counties_of(region.code)
    codes = [c.code for c in counties]
    every = store.submissions(periods=list(months), form=form.id) if submissions is None else submissions
    wanted, inside = set(months), set(codes)
    subs = [s for s in every if s["period"] in wanted and s["county_code"] in inside and s["form"] == form.id]
    by_county = _by_county(subs)
    local = region.level in ("prefecture", "county")
    counted = None if local else counted_counties(store, config, counties, list(months), by_county)
    statuses = []
    complete: set[str] = set()
    for c in counties:
        mine = by_county.get(c.code, [])
        current = {s["period"]: s for s in mine if s["status"] == st.ACCEPTED}
        if set(current) == wanted and counted is not None and c.code not in counted:
            statuses.append(CountyStatus(c, Counted.UNAPPROVED, current[months[-1]], mine))
        elif set(current) == wanted:
            complete.add(c.code)
            statuses.append(CountyStatus(c, Counted.ACCEPTED, current[months[-1]], mine))
        elif any(s["status"] == st.REJECTED and s["period"] not in current for s in mine):
            last = [s for s in mine if s["status"] == st.REJECTED and s["period"] not in current][-1]
            statuses.append(CountyStatus(c, Counted.REJECTED, last, mine))
        else:
            statuses.append(CountyStatus(c, Counted.MISSING, None, mine))
    lean = not local
    summed: dict[tuple[str, str, str], float] = {}
    for f in store.accepted_facts(sorted(complete), None, lean=True, form=form.id, periods=list(months)):
        if f["number"] is not None:
            key = (f["county_code"], f["indicator"], f["column"])
            summed[key] = summed.get(key, 0.0) + float(f["number"])
    label = f"{len(months)} 个月合计"
    facts: list[dict[str, Any]] = []
    for (county, indicator, column), number in sorted(summed.items()):
        row = {
            "county_code": county,
            "period": period,
            "indicator": indicator,
            "column": column,
            "number": round(number, 6) + 0.0,
        }
        if not lean:
            row |= {"raw": "", "unit_written": None, "flags": "", "file": label, "sheet": "", "cell": "", "note": None}
        facts.append(row)
    with_issues = [s for s in subs if s["status"] in (st.ACCEPTED, st.REJECTED, st.SUPERSEDED)]
    by_id = {s["id"]: s for s in with_issues}
    issues = [{**i, "submission": by_id[i["submission_id"]]} for i in store.issues_for(by_id)]
    records = None  # the records are listed in the months' own outputs, not again in every longer period
    vals = index_facts(facts)
    view = RegionPeriod(
        region,
        period,
        counties,
        rollup(config, region.code, facts, vals),
        facts,
        statuses,
        issues,
        subs,
        store.revisions_for([s["id"] for s in subs]),
        parts_of(config, region, statuses, facts, vals),
        form,
        records,
        months,
        None if local else config.rules.totals.basis,
    )
    view.__dict__["values"] = vals
    return view


def counted_counties(
    store: st.Store,
    config: FormConfig,
    counties: list[Division],
    periods: list[str],
    by_county: dict[str, list[dict[str, Any]]],
) -> set[str] | None:
    """Above a city with [totals] upward = "approved": the counties whose returns the totals count,
    those of cities that approved (or reported) every one of `periods`, and a county directly
    under a province whose current return of each period a reviewer passed. None: every county."""
    if config.rules.totals.upward != "approved":
        return None
    form = config.form.id
    divisions = config.divisions
    parent = {c.code: divisions.get(c.parent) for c in counties}
    cities = sorted({p.code for p in parent.values() if p is not None and p.level == "prefecture"})
    approved = rv.approvals_of(store, form, cities, periods)
    passed_ids = {s["id"] for subs in by_county.values() for s in subs if s["status"] == st.ACCEPTED}
    passed = {sid for sid, r in rv.reviews_for(store, passed_ids).items() if r["state"] == rv.ACCEPTED}
    out = set()
    for c in counties:
        p = parent[c.code]
        if p is not None and p.level == "prefecture":
            if all((form, p.code, q) in approved for q in periods):
                out.add(c.code)
        elif all(any(s["id"] in passed and s["period"] == q for s in by_county.get(c.code, [])) for q in periods):
            out.add(c.code)
    return out


def _by_county(subs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Submissions by county, each county's in the ledger's (arrival) order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for s in subs:
        out.setdefault(s["county_code"], []).append(s)
    return out


def parts_of(
    config: FormConfig,
    region: Division,
    statuses: list[CountyStatus],
    facts: list[dict[str, Any]],
    vals: Values | None = None,
) -> list[Part] | None:
    """For a province or the nation: each division under it, totalled from its counties' returns
    (ratios recomputed from summed parts at this level too, never averaged)."""
    if region.level in ("prefecture", "county"):
        return None
    vals = index_facts(facts) if vals is None else vals
    accepted = {s.county.code for s in statuses if s.status == Counted.ACCEPTED}
    out = []
    for d in config.divisions.parts_of(region.code):
        counties = [d] if d.level == "county" else config.divisions.counties_of(d.code)
        totals = {ind.code: total_for(ind, vals, counties) for ind in config.catalog}
        out.append(Part(d, totals, sum(c.code in accepted for c in counties), len(counties)))
    return out
