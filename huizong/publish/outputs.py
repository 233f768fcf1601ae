"""Everything a run leaves in `outputs/`: the contract files, the consolidated workbooks, the
validation pages; every path from the `Layout`."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from pathlib import Path

from huizong.catalog import Config
from huizong.ledger import store as st
from huizong.publish.csvs import write_issues, write_submissions, write_totals
from huizong.publish.files import write_atomic
from huizong.publish.layout import Layout
from huizong.publish.page import write_index, write_report
from huizong.publish.reporting import matrix
from huizong.publish.view import gather
from huizong.publish.workbook import write_consolidated
from huizong.settings import Settings


def publish(store: st.Store, config: Config, settings: Settings, periods: Iterable[str] | None = None) -> list[Path]:
    """Write submissions.csv and, per period of the city, the workbook and its two CSVs.

    `periods`: only these (the ones a run touched) besides any whose outputs are missing;
    None: every period the ledger knows."""
    layout = Layout(settings.outputs)
    subs = store.submissions()  # read once: every period's view and the index use it
    written = [write_submissions(layout.submissions_csv, subs)]
    counties = [c.code for c in config.divisions.counties_of(settings.city)]
    wanted = None if periods is None else set(periods)
    all_periods = store.periods(counties)
    reporting = matrix(store, config, settings.city, submissions=subs) if all_periods else None
    for period in all_periods:
        if wanted is not None and period not in wanted and layout.totals_csv(settings.city, period).exists():
            continue
        view = gather(store, config, settings.city, period, subs, reporting)
        written.append(write_totals(layout.totals_csv(settings.city, period), view))
        written.append(write_issues(layout.issues_csv(settings.city, period), view))
        target = layout.workbook(settings.city, view.city.name, period)
        written.append(write_atomic(target, partial(write_consolidated, view, config)))
        written.append(write_report(view, layout))
    city = config.divisions.get(settings.city)
    written.append(write_index(subs, all_periods, city.name if city else settings.city, settings.city, layout))
    return written
