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
from huizong.ledger import store as st
from huizong.publish.csvs import SUBMISSION_COLUMNS, write_reporting_csv, write_submissions
from huizong.publish.files import write_atomic
from huizong.publish.layout import Layout
from huizong.publish.page import write_index
from huizong.publish.parallel import publish_in_processes
from huizong.publish.region import publish_regions
from huizong.publish.reporting import matrix
from huizong.publish.workbook import write_reporting_workbook
from huizong.settings import Settings


def publish(store: st.Store, config: Config, settings: Settings,
            periods: Iterable[str] | Mapping[str, set[str]] | None = None) -> list[Path]:  # fmt: skip
    """Write submissions.csv and, per period, the workbook, its two CSVs and its validation page for
    the run's region and for every province and prefecture inside it that has a return of that
    period (each computed from county returns directly).

    `periods`: only these (the ones a run touched) besides any whose outputs are missing; given
    as period -> counties, only the regions holding those counties (and the run's region);
    None: every period and region the ledger knows."""
    layout = Layout(settings.outputs)
    written = [write_submissions(layout.submissions_csv, store.submission_rows(SUBMISSION_COLUMNS))]
    divisions = config.divisions
    counties = [c.code for c in divisions.counties_of(settings.city)]
    wanted = None if periods is None else set(periods)
    changed = periods if isinstance(periods, Mapping) else {}
    all_periods = store.periods(counties)
    regions = divisions.regions_within(settings.city)
    jobs: list[tuple[str, str]] = []  # (region, period) in the order they are written
    for period in all_periods:
        fresh = not layout.totals_csv(settings.city, period).exists()
        if wanted is not None and period not in wanted and not fresh:
            continue
        sent = set(store.sent(period))
        only = None if fresh or "" in changed.get(period, {""}) else changed[period]
        for region in regions:
            inside = {c.code for c in divisions.counties_of(region.code)}
            if region.code != settings.city and not inside & sent:
                continue  # no county of this region has sent a return of the period
            if only is not None and region.code != settings.city and not inside & only:
                continue  # nothing of this region changed in this run
            jobs.append((region.code, period))
    workers = min(os.cpu_count() or 1, config.rules.limits.workers or os.cpu_count() or 1, len(jobs))
    if len(jobs) < PARALLEL_FROM or workers < 2:
        return written + [path for _, paths in publish_regions(store, config, layout, jobs) for path in paths]
    # many regions (a province, the nation): shared out among publisher processes, one per core
    weights = [_cost(divisions, r) for r, _ in jobs]
    return written + publish_in_processes(jobs, weights, workers, settings.db_url, config, settings.outputs)


PARALLEL_FROM = 8  # region-periods: below this, starting publishers costs more than it saves


def _cost(divisions: Any, region: str) -> float:
    """A region's publishing cost, roughly: a city's workbook lists every number's source and every
    project of its counties; above a city, a row or two per county."""
    div = divisions.get(region)
    n = len(divisions.counties_of(region))
    return 20 + n * (6 if div is not None and div.level in ("prefecture", "county") else 1)


def publish_reporting(store: st.Store, config: Config, settings: Settings) -> list[Path]:
    """What depends on today's date, refreshed by every run (one with nothing new too), apart from
    the per-period outputs: the reporting status (county × period against the deadlines) of the
    current and previous year (or of the latest year the ledger has, if it has nothing that
    recent), as a workbook, a CSV and on the index page."""
    layout = Layout(settings.outputs)
    region = config.divisions.get(settings.city)
    name = region.name if region else settings.city
    counties = [c.code for c in config.divisions.counties_of(settings.city)]
    every = store.periods(counties)
    this_year = int(now()[:4])
    recent = [p for p in every if int(p[:4]) >= this_year - 1] or [p for p in every if p[:4] == max(every)[:4]]
    m = matrix(store, config, settings.city, recent, submissions=store.submissions(periods=recent))
    written = []
    if m.counties and m.periods:
        written.append(write_atomic(layout.reporting_workbook(settings.city, name),
                                    partial(write_reporting_workbook, m=m, region_name=name)))  # fmt: skip
        written.append(write_reporting_csv(layout.reporting_csv(settings.city), m))
    written.append(write_index(store.submissions(unplaced=True), every, name, settings.city, layout, m))
    return written
