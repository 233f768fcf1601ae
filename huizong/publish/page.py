"""The validation page an analyst reads first, per region and period, in outputs/validation/.

Every county's status, its errors and warnings, links to the feedback workbooks and to the
GX Data Docs, and what changed since the page was last written (kept in a JSON beside it).
County text is HTML-escaped by the template engine.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from huizong.clock import now
from huizong.formats import register, when
from huizong.forms.model import Form
from huizong.ledger.standing import Counted
from huizong.publish.files import write_atomic
from huizong.publish.layout import Layout
from huizong.publish.reporting import Matrix
from huizong.publish.view import STATUS_ZH, RegionPeriod
from huizong.read.periods import chronological, parse_token

_ENV = register(Environment(loader=PackageLoader("huizong", "templates"), autoescape=select_autoescape(["html"])))


def _state(view: RegionPeriod) -> dict[str, Any]:
    return {
        "counties": {
            s.county.code: {
                "status": s.status,
                "file": (s.submission or {}).get("file"),
                "errors": (s.submission or {}).get("errors"),
                "warnings": (s.submission or {}).get("warnings"),
            }
            for s in view.statuses
        },
        "last_submission": max((int(s["id"]) for s in view.submissions), default=0),
    }


def changes_since(previous: dict[str, Any] | None, view: RegionPeriod) -> list[str]:
    """What an analyst should notice since the page was last written."""
    if previous is None:
        return ["首次生成本期校验报告。"]
    lines = []
    names = {c.code: c.name for c in view.counties}
    before = previous.get("counties", {})
    for code, now_ in _state(view)["counties"].items():
        old = before.get(code, {"status": "missing"})
        if old != now_:
            was, is_ = STATUS_ZH.get(old["status"], old["status"]), STATUS_ZH.get(now_["status"], now_["status"])
            detail = f"（{now_['file']}，错误 {now_['errors']}，警告 {now_['warnings']}）" if now_["file"] else ""
            lines.append(
                f"{names[code]}：{was} → {is_}{detail}" if was != is_ else f"{names[code]}：{is_}，报表有更新{detail}"
            )
    last = int(previous.get("last_submission", 0))
    for s in view.submissions:
        if int(s["id"]) > last and s["status"] in ("duplicate", "superseded"):
            lines.append(f"{names.get(s['county_code'], '')}：{s['file']} {STATUS_ZH[s['status']]}（{s['reason']}）")
    return lines


def write_report(view: RegionPeriod, layout: Layout) -> Path:
    region, period, form = view.region.code, view.period, view.form
    assert form is not None, "a view is always of a form"
    target = layout.validation_page(region, period, form)
    state_file = target.with_suffix(".json")
    previous = json.loads(state_file.read_text(encoding="utf-8")) if state_file.exists() else None
    names = {c.code: c.name for c in view.counties}
    counties = []
    for s in view.statuses:
        sub: dict[str, Any] = s.submission or {}
        fb = layout.feedback(int(sub["id"]), str(sub.get("inbox_path") or sub.get("file") or "")) if sub else None
        counties.append(
            {
                "code": s.county.code,
                "name": s.county.name,
                "status": s.status,
                "status_zh": STATUS_ZH[s.status],
                "file": sub.get("file"),
                "received_at": sub.get("received_at"),
                "errors": sub.get("errors"),
                "warnings": sub.get("warnings"),
                "reason": sub.get("reason"),
                "feedback_href": layout.href(fb, target) if fb and fb.exists() else None,
                "feedback_name": fb.name if fb else None,
            }
        )
    current = {s.submission["id"] for s in view.statuses if s.submission}
    fields = {f.code: f.name for f in form.list.fields} if form is not None and form.list is not None else {}
    column_words = form.role_labels if form is not None else {}
    subs_by_id = {s["id"]: s for s in view.submissions}
    issues = [
        {
            "county": names.get(i["submission"]["county_code"], ""),
            "file": i["submission"]["file"],
            "severity": i["severity"],
            "where": f"{i['sheet']}!{i['cell']}" if i["sheet"] and i["cell"] else (i["sheet"] or ""),
            "indicator": fields.get(i["indicator"], i["indicator"]),
            "message": i["message"],
            "explanation": i.get("explanation"),
        }
        for i in view.issues
        if i["submission_id"] in current
    ]
    revisions = [
        {
            "county": names.get(str(subs_by_id.get(r["submission_id"], {}).get("county_code")), ""),
            "indicator": r["indicator"],
            "column": column_words.get(r["column"], r["column"]),
            "old": r["old"],
            "new": r["new"],
            "cell": r["cell"],
        }
        for r in view.revisions or []
    ]
    workbook = layout.workbook(region, view.region.name, period, form)
    docs = layout.gx_index
    html = _ENV.get_template("report.html").render(
        title=f"{view.region.name}{parse_token(period).zh}{_form_words(form)}报表校验报告",
        generated_at=when(now()),
        workbook_href=layout.href(workbook, target),
        workbook_name=workbook.name,
        docs_href=layout.href(docs, target) if docs.exists() else None,
        n_expected=len(view.counties),
        n_accepted=sum(s.status == Counted.ACCEPTED for s in view.statuses),
        n_rejected=sum(s.status == Counted.REJECTED for s in view.statuses),
        n_missing=sum(s.status == Counted.MISSING for s in view.statuses),
        n_errors=sum(i["severity"] == "error" for i in issues),
        n_warnings=sum(i["severity"] == "warning" for i in issues),
        changes=changes_since(previous, view),
        counties=counties,
        issues=issues,
        index_href=layout.href(layout.validation_index, target),
        revisions=revisions,
        basis=view.basis,
        n_unapproved=sum(s.status == Counted.UNAPPROVED for s in view.statuses),
    )
    write_atomic(target, lambda tmp: tmp.write_text(html, encoding="utf-8"))
    state = json.dumps(_state(view), ensure_ascii=False, indent=1)
    write_atomic(state_file, lambda tmp: tmp.write_text(state, encoding="utf-8"))
    return target


def _reporting(m: Matrix | None) -> dict[str, Any] | None:
    if m is None or not m.counties or not m.periods:
        return None
    return {
        "periods": [
            {
                "token": p,
                "zh": parse_token(p).zh,
                "due": m.due(p).strftime("%m-%d"),
                "rate": "/".join(str(x) for x in m.rate(p)),
            }
            for p in m.periods
        ],
        "rows": [
            {
                "name": c.name,
                "cells": [{"status": m.cells[(c.code, p)].status, "zh": m.cells[(c.code, p)].zh} for p in m.periods],
            }
            for c in m.counties
        ],
    }


def _form_words(form: Form | None) -> str:
    """A form kept in a folder of its own (every form, in the layout every form shares) is named in titles."""
    return form.short_name if form is not None and "{form}" in form.outputs else ""


def write_index(
    unplaced: list[dict[str, Any]],
    forms: list[tuple[Form | None, list[str], Matrix | None]],
    region_name: str,
    region: str,
    layout: Layout,
) -> Path:
    """outputs/validation/index.html: for each form (side by side), every period's page and the
    reporting status as of today; and the files no county or period could be read from
    (`unplaced`). Written by every run."""
    target = layout.validation_index
    docs = layout.gx_index
    sections = [
        {
            "name": form.name if form else "",
            "short_name": form.short_name if form else "",
            "periods": [
                {"zh": parse_token(p).zh, "href": layout.href(layout.validation_page(region, p, form), target)}
                for p in sorted(periods, key=chronological, reverse=True)
                if form is not None
            ],
            "reporting": _reporting(m),
        }
        for form, periods, m in forms
    ]
    html = _ENV.get_template("index.html").render(
        region=region_name,
        generated_at=now(),
        docs_href=layout.href(docs, target) if docs.exists() else None,
        forms=sections,
        unplaced=unplaced,
    )
    return write_atomic(target, lambda tmp: tmp.write_text(html, encoding="utf-8"))
