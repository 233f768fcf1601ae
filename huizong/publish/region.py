"""One region's outputs of one period: its view from the ledger, the two CSVs, the consolidated
workbook and the validation page; every path from the `Layout`."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from huizong.catalog import Config
from huizong.ledger import store as st
from huizong.publish.csvs import write_issues, write_totals
from huizong.publish.files import write_atomic
from huizong.publish.layout import Layout
from huizong.publish.page import write_report
from huizong.publish.view import gather
from huizong.publish.workbook import write_consolidated


def publish_region(store: st.Store, config: Config, layout: Layout, region: str, period: str,
                    subs: list[dict[str, Any]]) -> list[Path]:  # fmt: skip
    view = gather(store, config, region, period, subs)
    target = layout.workbook(region, view.city.name, period)
    return [
        write_totals(layout.totals_csv(region, period), view),
        write_issues(layout.issues_csv(region, period), view),
        write_atomic(target, partial(write_consolidated, view, config)),
        write_report(view, layout),
    ]


def publish_regions(store: st.Store, config: Config, layout: Layout,
                    jobs: list[tuple[str, str]]) -> list[tuple[tuple[str, str], list[Path]]]:  # fmt: skip
    """(region, period) jobs in order, each with the paths it wrote; each period's submissions read
    once for all its regions."""
    done = []
    period, subs = None, []
    for region, p in jobs:
        if p != period:
            period, subs = p, store.submissions(periods=[p])
        done.append(((region, p), publish_region(store, config, layout, region, p, subs)))
    return done
