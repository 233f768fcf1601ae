"""One region's outputs of one period of one form: its view from the ledger, the CSVs, the
consolidated workbook and the validation page; every path from the `Layout`."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from huizong.catalog import Config, FormConfig
from huizong.ledger import store as st
from huizong.publish import report
from huizong.publish.csvs import write_counties, write_issues, write_records, write_totals
from huizong.publish.files import write_atomic
from huizong.publish.layout import Layout
from huizong.publish.page import write_report
from huizong.publish.view import gather, months_of
from huizong.publish.workbook import write_consolidated

Job = tuple[str, str, str]  # (region, period, form id)


def publish_region(
    store: st.Store, config: FormConfig, layout: Layout, region: str, period: str, subs: list[dict[str, Any]]
) -> list[Path]:
    """`config`: the configuration seen from the form (`Config.for_form`)."""
    form = config.form
    view = gather(store, config, region, period, subs)
    target = layout.workbook(region, view.region.name, period, form)
    out = [
        write_totals(layout.totals_csv(region, period, form), view),
        write_counties(layout.counties_csv(region, period, form), view, config.catalog),
        write_issues(layout.issues_csv(region, period, form), view),
    ]
    if view.records is not None and form.list is not None:
        out.append(write_records(layout.records_csv(region, period, form), view, form))
    out += [write_atomic(target, partial(write_consolidated, view, config)), write_report(view, layout)]
    drafts = report.templates(form.root)
    if drafts:  # the 报告稿: each template filled once, with what this region's totals say
        ctx = report.context(view, config)
        for tpl in drafts:
            try:
                body = report.render(tpl, ctx)
            except report.TemplateError:  # `forms check` names it; the totals are published all the same
                continue
            out.append(
                write_atomic(
                    layout.report_draft(region, view.region.name, period, form, tpl),
                    partial(Path.write_bytes, data=body),
                )
            )
    return out


def publish_regions(store: st.Store, config: Config, layout: Layout, jobs: list[Job]) -> list[tuple[Job, list[Path]]]:
    """(region, period, form) jobs in order, each with the paths it wrote; each period's submissions
    read once for all its regions."""
    done = []
    current, subs = None, []
    for region, p, form_id in jobs:
        view = config.for_form(form_id)
        if (p, form_id) != current:
            current, subs = (p, form_id), store.submissions(periods=list(months_of(view.form, p)), form=form_id)
        done.append(((region, p, form_id), publish_region(store, view, layout, region, p, subs)))
    return done
