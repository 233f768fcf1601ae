"""The home page (a county's forms and uploads, a reviewer's boards), blank templates, and uploads."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from huizong.desk import accounts as acc
from huizong.desk import sessions as ss
from huizong.desk import uploads as up
from huizong.desk import views
from huizong.desk.doors import (
    STALE,
    CountyUser,
    Forbidden,
    NotFound,
    SignedIn,
    TheDesk,
    Urls,
    address,
    collected_period,
    page,
)
from huizong.ledger import review as rv
from huizong.ledger.inbox import safe_component
from huizong.publish.listtemplate import write_list_template
from huizong.publish.template import write_template
from huizong.read.periods import parse_token

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
VERDICT_WAIT = 120  # seconds an upload waits for its run before the county is told to look later

router = APIRouter()


@router.get("/")
def home(request: Request, desk: TheDesk, session: SignedIn) -> Response:
    user = session.user
    if user.role is acc.Role.COUNTY:
        notice = desk.flashes.take(request.query_params.get("notice"), user.id)
        return page("county.html", **desk.frame(session, notice=notice, **views.county_home(desk, user)))
    return page("reviewer.html", **desk.frame(session, **views.reviewer_home(desk, user)))


@router.get("/template")
def template(desk: TheDesk, session: SignedIn, form: str = "", period: str = "", county: str = "") -> Response:
    user, config = session.user, desk.config
    code = county or user.division
    div = config.divisions.get(code)
    f = config.form_by_id.get(form)
    if div is None or div.level != "county" or not acc.may_act_on(user, code, config.divisions) or f is None:
        raise NotFound("没有这张报表，或您无权下载")
    token = collected_period(f, period)
    if token is None:
        raise NotFound("报告期不正确")
    p = parse_token(token)
    tmp = Path(tempfile.mkdtemp(prefix="huizong-template-"))
    out = tmp / safe_component(f"{div.name}_{p.token}_{f.short_name}.xlsx")
    if f.indicators is not None:
        write_template(out, config.for_form(f.id), div, p, desk.store)
    else:
        write_list_template(out, config, f, div, p)
    return FileResponse(
        out, filename=out.name, media_type=XLSX, background=BackgroundTask(shutil.rmtree, tmp, ignore_errors=True)
    )


def _refused(message: str, status: int) -> Response:
    """A refusal that hangs up: the rest of the body is not read."""
    answer = page("error.html", status, message=message)
    answer.headers["connection"] = "close"
    return answer


@router.post("/upload")
async def upload(request: Request, desk: TheDesk, session: CountyUser) -> Response:
    user, config, store, settings = session.user, desk.config, desk.store, desk.settings
    folder = settings.inputs / rv.UPLOADS / user.division
    quota = config.rules.desk
    count, used = rv.uploads_today(store, user.division)
    declared = request.headers.get("content-length", "")
    # a body over the file cap is refused for that (413, while streaming); the quota counts what can land
    extra = min(int(declared), config.limits.file_bytes) if declared.isdigit() and len(declared) < 16 else 0
    if count >= quota.uploads_per_day or used + extra > quota.upload_mb_per_day << 20:
        return _refused(
            f"今天已上传 {count} 次、{used / (1 << 20):,.1f} MB，已达每日上限（{quota.uploads_per_day} 次、"
            f"{quota.upload_mb_per_day} MB），请明天再传；确需更多，请联系市级管理员",
            429,
        )
    try:
        got = await up.receive(
            request.stream(),
            request.headers.get("content-type", ""),
            request.headers.get("content-length"),
            folder,
            config.limits.file_bytes,
        )
    except up.UploadRefused as e:
        return _refused(str(e), e.status)
    if not ss.csrf_ok(session, got.fields.get("csrf")):
        assert got.path is not None
        got.path.unlink(missing_ok=True)
        raise Forbidden(STALE)
    rel = up.place(got, settings.inputs, user.division, max(settings.quiet, settings.fresh))
    with store.begin() as conn:
        rv.journal(
            conn,
            user.username,
            "upload",
            target=rel,
            division=user.division,
            address=address(request),
            detail={"size": got.size, "name": got.filename[:200]},
            user_id=user.id,
        )
    ticket = desk.runs.ask()
    failed = await run_in_threadpool(desk.runs.wait, ticket, VERDICT_WAIT)
    row = store.by_inbox_path(rel)
    if row is None:
        why = "系统繁忙" if failed == "timeout" else "处理出错"
        said = desk.flashes.put(user.id, f"已收到 {got.filename[:80]}，{why}，校验结果稍后在下方列出")
        return RedirectResponse(Urls.with_notice(Urls.home, said), status_code=303)
    return RedirectResponse(Urls.a_return(row["id"]), status_code=303)
