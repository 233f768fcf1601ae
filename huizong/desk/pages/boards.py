"""A reviewer's board of a division, form and periods; the late list and its 催报; a period's
approval, report upward and un-approval."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from huizong.desk import accounts as acc
from huizong.desk import actions
from huizong.desk import board as bd
from huizong.desk.doors import (
    Forbidden,
    NotFound,
    Posted,
    Refusal,
    Scope,
    TheDesk,
    Urls,
    address,
    collected_period,
    page,
)
from huizong.publish import report
from huizong.publish.layout import Layout

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
router = APIRouter()


@router.get("/board")
def board_page(request: Request, desk: TheDesk, scope: Scope) -> Response:
    config, d, f, p = desk.config, scope.division, scope.form, scope.period
    periods = bd.periods_open(config, f.id)
    if p is not None and p not in periods:
        periods = [p, *periods][:6]
    b = bd.board(desk.store, config, d, f.id, periods)
    basis = config.rules.totals.basis if d.level in ("province", "nation") else ""
    error = desk.flashes.take(request.query_params.get("error"), scope.session.user.id)
    due = {p: bd.due_of(config, f.id, p) for p in periods}
    layout, templates = Layout(desk.settings.outputs), report.templates(f.root)
    drafts = {
        p: [
            (t.stem, Urls.report_draft(f.id, d.code, p, t.stem))
            for t in templates
            if layout.report_draft(d.code, d.name, p, f, t).is_file()
        ]
        for p in periods
    }
    return page(
        "board.html",
        **desk.frame(
            scope.session,
            board=b,
            form=f,
            division=d,
            basis=basis,
            due=due,
            error=error,
            here=Urls.board(f.id, d.code, p),
            drafts=drafts,
        ),
    )


@router.get("/report")
def report_draft(desk: TheDesk, scope: Scope, name: str = "报告稿") -> Response:
    """A region's 报告稿 of a period, as published beside its workbook, for its reviewers."""
    d, f, p = scope.division, scope.form, scope.period
    template = next((t for t in report.templates(f.root) if t.stem == name), None)
    path = Layout(desk.settings.outputs).report_draft(d.code, d.name, p, f, template) if template and p else None
    if path is None or not path.is_file():
        raise NotFound("这一期还没有报告稿")
    return FileResponse(path, filename=path.name, media_type=DOCX)


@router.get("/late")
def late_page(request: Request, desk: TheDesk, scope: Scope) -> Response:
    config, d, f, p = desk.config, scope.division, scope.form, scope.period
    if p is None:
        raise NotFound("报告期不正确")
    b = bd.board(desk.store, config, d, f.id, [p])
    cells = bd.late(b, p)
    contacts = acc.contacts(desk.store, [c.part.code for c in cells])
    notice = desk.flashes.take(request.query_params.get("notice"), scope.session.user.id)
    return page(
        "late.html",
        **desk.frame(
            scope.session,
            form=f,
            division=d,
            period=p,
            cells=cells,
            contacts=contacts,
            due=bd.due_of(config, f.id, p),
            notices=config.notices.on("overdue"),
            notice=notice,
        ),
    )


@router.post("/urge")
async def urge(request: Request, desk: TheDesk, post: Posted) -> Response:
    division, f, p = post.form.get("division", ""), post.form.get("form", ""), post.form.get("period", "")
    user = post.session.user
    try:
        made = await run_in_threadpool(actions.urge, desk.store, desk.config, user, division, f, p, address(request))
    except actions.Refused as e:
        raise Forbidden(str(e)) from None
    said = desk.flashes.put(
        user.id, f"已排队发送 {made} 条催报通知" if made else "没有可发的催报（县区未登记邮箱，或今天已催报）"
    )
    return RedirectResponse(Urls.with_notice(Urls.late(f, division, p), said), status_code=303)


def _board_shown(desk: TheDesk, user: acc.User, division: str, form_id: str, period: str) -> bool:
    """Whether the board a refused action sends its user back to is one they can see."""
    f = desk.config.form_by_id.get(form_id)
    divisions = desk.config.divisions
    return (
        f is not None
        and collected_period(f, period) is not None
        and divisions.get(division) is not None
        and acc.may_act_on(user, division, divisions)
    )


@router.post("/periods")
async def period_action(request: Request, desk: TheDesk, post: Posted) -> Response:
    form, user, where = post.form, post.session.user, address(request)
    division, f, p = form.get("division", ""), form.get("form", ""), form.get("period", "")
    store, config, settings = desk.store, desk.config, desk.settings
    back = Urls.board(f, division, p)
    try:
        version = int(form.get("version") or 0)
        what = form.get("action")
        if what == "approve":  # in a worker thread: the board is read, and outputs may be written again
            await run_in_threadpool(actions.approve, store, config, settings, user, division, f, p, where)
        elif what == "report":
            await run_in_threadpool(actions.report, store, config, settings, user, division, f, p, version, where)
        elif what == "unapprove":
            await run_in_threadpool(
                actions.unapprove, store, config, settings, user, division, f, p, version, form.get("reason", ""), where
            )
        else:
            raise actions.Refused("未知的操作")
    except ValueError:
        raise Refusal("请求不正确", 400) from None
    except actions.Refused as e:
        if not _board_shown(desk, user, division, f, p):
            raise Forbidden(str(e)) from None  # no board of theirs to show it on
        return RedirectResponse(Urls.with_notice(back, desk.flashes.put(user.id, str(e)), "error"), status_code=303)
    return RedirectResponse(back, status_code=303)
