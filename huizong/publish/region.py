"""One region's outputs of one period of one form: its view from the ledger, the CSVs, the
consolidated workbook and the validation page; every path from the `Layout`."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Any

from huizong.catalog import Config, FormConfig
from huizong.ledger import store as st
from huizong.ledger.published import Written
from huizong.publish import digest, report
from huizong.publish.csvs import write_counties, write_issues, write_records, write_totals
from huizong.publish.files import write_atomic
from huizong.publish.layout import Layout
from huizong.publish.page import write_report
from huizong.publish.view import gather, months_of
from huizong.publish.workbook import write_consolidated

Job = tuple[str, str, str]  # (region, period, form id)


def publish_region(
    store: st.Store,
    config: FormConfig,
    layout: Layout,
    region: str,
    period: str,
    subs: list[dict[str, Any]],
    feedback_made: set[str],
    known: Written | None = None,
) -> tuple[list[Path], Written | None]:
    """The files written and what they were written from; `config`: the configuration seen from
    the form (`Config.for_form`). Nothing is written, and None returned, when `known` (what the
    outputs were last written from) has the view's digest and its files are all in place.
    `feedback_made`: the names of the files in feedback/ (listed once for many regions)."""
    form = config.form
    view = gather(store, config, region, period, subs)
    feedback = sorted(  # the validation page links the feedback workbooks that exist
        str(f.relative_to(layout.outputs))
        for s in view.statuses
        if s.submission
        for f in [
            layout.feedback(
                int(s.submission["id"]), str(s.submission.get("inbox_path") or s.submission.get("file") or "")
            )
        ]
        if f.name in feedback_made
    )
    made_from = digest.of_view((view, feedback), config)
    if known is not None and known.digest == made_from and all((layout.outputs / f).exists() for f in known.files):
        return [], None
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
    return out, Written(made_from, tuple(p.relative_to(layout.outputs).as_posix() for p in out))


def _names(folder: Path) -> set[str]:
    """The names of the files in a folder (none if it does not exist)."""
    try:
        with os.scandir(folder) as entries:
            return {e.name for e in entries if e.is_file()}
    except FileNotFoundError:
        return set()


Done = tuple[Job, list[Path], Written | None]  # a job, the paths it wrote, what they were written from


def publish_regions(
    store: st.Store, config: Config, layout: Layout, jobs: list[Job], known: dict[Job, Written] | None = None
) -> list[Done]:
    """(region, period, form) jobs in order, each with the paths it wrote and their digest (None:
    its outputs were in place, `known`); each period's submissions read once for all its regions."""
    done: list[Done] = []
    current, subs = None, []
    made = _names(layout.feedback_dir)  # one listing for every region, not a stat per county
    for region, p, form_id in jobs:
        view = config.for_form(form_id)
        if (p, form_id) != current:
            current, subs = (p, form_id), store.submissions(periods=list(months_of(view.form, p)), form=form_id)
        job = (region, p, form_id)
        paths, written = publish_region(store, view, layout, region, p, subs, made, (known or {}).get(job))
        done.append((job, paths, written))
    return done
