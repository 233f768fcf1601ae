"""Everything a run leaves in `outputs/`: the contract files, the consolidated workbooks, the
validation pages; every path from the `Layout`."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from huizong.catalog import Config
from huizong.clock import now
from huizong.forms.model import Form
from huizong.ledger import published
from huizong.ledger import store as st
from huizong.publish.csvs import SUBMISSION_COLUMNS, write_reporting_csv, write_submissions
from huizong.publish.files import place, write_atomic
from huizong.publish.layout import Layout
from huizong.publish.page import write_index
from huizong.publish.parallel import Spread, publish_in_processes, share_out
from huizong.publish.region import Job, publish_regions
from huizong.publish.reporting import Matrix, matrix
from huizong.publish.view import months_of
from huizong.publish.workbook import write_reporting_workbook
from huizong.read.periods import parse_token
from huizong.settings import Settings

Touched = Mapping[tuple[str, str], set[str]]  # (form, period) -> the counties whose returns a run changed


def form_periods(store: st.Store, form: Form, counties: list[str]) -> list[str]:
    """The periods of a form the ledger has returns of; for a form summed into longer periods
    (`sums`) also each of those that a received return can fill: one whose last month, quarter or
    half year has come in (January to June fill 上半年, not 前三季度 or 全年)."""
    periods = [p for p in store.periods(counties, form=form.id) if form.shows(parse_token(p))]
    if not form.sums:
        return periods
    out = set(periods)
    ends = {(p.year, p.months[-1]) for p in map(parse_token, periods) if form.collects(p)}
    for p in map(parse_token, periods):
        if form.collects(p):
            out |= {q.token for q in form.covering(p) if (q.year, q.months[-1]) in ends}
    return sorted(out)


def _covering(form: Form, period: str) -> set[str]:
    """The periods a changed ledger period shows in: itself and the longer periods it is summed into."""
    p = parse_token(period)
    if not form.collects(p):
        return {period}
    return {period} | {q.token for q in form.covering(p)}


def publish(
    store: st.Store,
    config: Config,
    settings: Settings,
    periods: Iterable[tuple[str, str]] | Touched | None = None,
    spread: Spread | None = None,
) -> list[Path]:
    """Write submissions.csv and, per form and period, the workbook, its CSVs and its validation
    page for the run's region and for every province and prefecture inside it that has a return of
    that period (each computed from county returns directly).

    `periods`: only these (form, period) pairs (the ones a run touched) besides any whose outputs
    are missing; given as (form, period) -> counties, only the regions holding those counties (and
    the run's region); None: every period and region the ledger knows.

    `spread`: where many regions are published (a Dask cluster's workers, `flows.nightly`); by
    default in publisher processes on this machine, one per core."""
    layout = Layout(settings.outputs)
    written = [write_submissions(layout.submissions_csv, store.submission_rows(SUBMISSION_COLUMNS))]
    divisions = config.divisions
    counties = [c.code for c in divisions.counties_of(settings.region)]
    regions = divisions.regions_within(settings.region)
    jobs: list[Job] = []  # (region, period, form) in the order they are written
    for form in config.forms:
        wanted: set[str] | None = None
        changed: dict[str, set[str]] = {}
        if periods is not None:
            wanted = set()
            for key in periods:
                f, p = key
                if f != form.id:
                    continue
                for q in _covering(form, p):
                    wanted.add(q)
                    if isinstance(periods, Mapping):
                        changed.setdefault(q, set()).update(periods[key])
        for period in form_periods(store, form, counties):
            fresh = not layout.totals_csv(settings.region, period, form).exists()
            if wanted is not None and period not in wanted and not fresh:
                continue
            sent = {c for p in months_of(form, period) for c in store.sent(p, form.id)}
            only = (
                None
                if fresh or not isinstance(periods, Mapping) or "" in changed.get(period, {""})
                else changed[period]
            )
            for region in regions:
                inside = {c.code for c in divisions.counties_of(region.code)}
                if region.code != settings.region and not inside & sent:
                    continue  # no county of this region has sent a return of the period
                if only is not None and region.code != settings.region and not inside & only:
                    continue  # nothing of this region changed in this run
                jobs.append((region.code, period, form.id))
    # what each region's outputs were last written from: one whose view is unchanged is left in place
    known = {(r, p, f): w for (f, p, r), w in published.known(store, [(f, p, r) for r, p, f in jobs]).items()}
    workers = min(os.cpu_count() or 1, config.rules.limits.workers or os.cpu_count() or 1, len(jobs))
    weights = [_cost(divisions, r) for r, _, _ in jobs]
    if len(jobs) >= PARALLEL_FROM and spread is not None:  # on a cluster: groups of about equal weight
        groups = share_out(jobs, weights, min(len(jobs), CLUSTER_GROUPS))
        results = spread(
            groups,
            [{j: known[j] for j in g if j in known} for g in groups],
            settings.db_url,
            Path(settings.config).resolve(),
            settings.outputs.resolve(),
        )
        for _, made in results:  # made on the workers, put in place here: this process alone writes outputs/
            for rel, data in made:
                place(layout.outputs / rel, data)
        by_job = {d[0]: d for result, _ in results for d in result}
        done = [by_job[j] for j in jobs]
    elif len(jobs) < PARALLEL_FROM or workers < 2:
        done = publish_regions(store, config, layout, jobs, known)
    else:  # many regions (a province, the nation): shared out among publisher processes, one per core
        done = publish_in_processes(jobs, weights, workers, settings.db_url, config, settings.outputs, known)
    published.record(store, [((f, p, r), w) for (r, p, f), _, w in done if w is not None])
    return written + [path for _, paths, _ in done for path in paths]


PARALLEL_FROM = 8  # region-periods: below this, starting publishers costs more than it saves
CLUSTER_GROUPS = 32  # tasks a cluster's publishing is cut into: several per worker, so none waits on one


def _cost(divisions: Any, region: str) -> float:
    """A region's publishing cost in milliseconds, roughly (fitted on the national bench's 365
    regions): a city's workbook lists every number's source and every project of its counties;
    above a city, a row or two per county (the nation, 2,849 counties: about 1.5 s)."""
    div = divisions.get(region)
    n = len(divisions.counties_of(region))
    if div is not None and div.level in ("prefecture", "county"):
        return 63 + 5.2 * n
    return 50 + 0.5 * n


def publish_reporting(store: st.Store, config: Config, settings: Settings) -> list[Path]:
    """What depends on today's date, refreshed by every run (one with nothing new too), apart from
    the per-period outputs: the reporting status (county × period against the deadlines) of the
    current and previous year (or of the latest year the ledger has, if it has nothing that
    recent), as a workbook, a CSV and on the index page."""
    layout = Layout(settings.outputs)
    region = config.divisions.get(settings.region)
    name = region.name if region else settings.region
    counties = [c.code for c in config.divisions.counties_of(settings.region)]
    this_year = int(now()[:4])
    written = []
    sections: list[tuple[Form | None, list[str], Matrix | None]] = []
    for form in config.forms:
        view = config.for_form(form.id)
        every = [
            p
            for p in store.periods(counties, form=form.id)  # returns are due per period collected
            if form.collects(parse_token(p))
        ]
        if not every:
            if form is config.forms[0]:
                sections.append((form, [], None))
            continue
        recent = [p for p in every if int(p[:4]) >= this_year - 1] or [p for p in every if p[:4] == max(every)[:4]]
        m = matrix(store, view, settings.region, recent, submissions=store.submissions(periods=recent, form=form.id))
        if m.counties and m.periods:
            written.append(
                write_atomic(
                    layout.reporting_workbook(settings.region, name, form),
                    partial(write_reporting_workbook, m=m, region_name=name),
                )
            )
            written.append(write_reporting_csv(layout.reporting_csv(settings.region, form), m))
        sections.append((form, form_periods(store, form, counties), m))
    written.append(write_index(store.submissions(unplaced=True), sections, name, settings.region, layout))
    return written
