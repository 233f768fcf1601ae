"""A return: its verdict page, its feedback workbook, the county's explanations, the reviewer's verdict."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from huizong.desk import actions, views
from huizong.desk.doors import ActedReturn, NotFound, SeenReturn, TheDesk, Urls, address, page
from huizong.desk.pages.home import XLSX
from huizong.publish.layout import Layout

router = APIRouter()


@router.get("/returns/{sid}")
def a_return(desk: TheDesk, seen: SeenReturn) -> Response:
    return page("return.html", **desk.frame(seen.session, **views.return_view(desk, seen.row, seen.session.user)))


@router.get("/returns/{sid}/feedback-link")
def feedback_link(desk: TheDesk, seen: SeenReturn) -> Response:
    """The verdict page's feedback line, asked again (htmx) until the workbook is ready."""
    ready, soon = views.feedback_ready(desk, seen.row)
    return page("feedback_link.html", row=seen.row, feedback=ready, feedback_soon=soon)


@router.get("/returns/{sid}/feedback")
def feedback(desk: TheDesk, seen: SeenReturn) -> Response:
    path = Layout(desk.settings.outputs).feedback(int(seen.row["id"]), seen.row["inbox_path"])
    if not path.is_file():
        raise NotFound("这份报送没有反馈表")
    return FileResponse(path, filename=path.name, media_type=XLSX)


def _again(desk: TheDesk, act: ActedReturn, status: int, error: str) -> Response:
    """The return's page again, with why the action was refused."""
    user = act.session.user
    return page("return.html", status, **desk.frame(act.session, error=error, **views.return_view(desk, act.row, user)))


@router.post("/returns/{sid}/explain")
async def explain(request: Request, desk: TheDesk, act: ActedReturn) -> Response:
    texts = {int(k[5:]): v for k, v in act.form.items() if k.startswith("note-") and k[5:].isdigit() and len(k) < 20}
    try:
        actions.explain(desk.store, act.session.user, act.row, texts, address(request))
    except actions.Refused as e:
        return _again(desk, act, 400, str(e))
    return RedirectResponse(Urls.a_return(act.row["id"]), status_code=303)


@router.post("/returns/{sid}/review")
async def review(request: Request, desk: TheDesk, act: ActedReturn) -> Response:
    form, user, where = act.form, act.session.user, address(request)
    seen = form.get("seen") or None
    try:
        if form.get("action") == "return":
            actions.send_back(desk.store, desk.config, user, act.row, form.get("reason", ""), seen, where)
        elif form.get("action") == "accept":
            await run_in_threadpool(
                actions.accept,
                desk.store,
                desk.config,
                desk.settings,
                user,
                act.row,
                form.get("reason", ""),
                seen,
                where,
            )
        else:
            raise actions.Refused("未知的操作")
    except actions.Refused as e:
        return _again(desk, act, 409, str(e))
    return RedirectResponse(Urls.a_return(act.row["id"]), status_code=303)
