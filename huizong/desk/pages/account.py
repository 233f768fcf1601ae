"""Signing in and out, changing one's password, and one's notices."""

from __future__ import annotations

import hmac
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from huizong.desk import accounts as acc
from huizong.desk import actions
from huizong.desk import sessions as ss
from huizong.desk.doors import (
    COOKIE,
    LOGIN_COOKIE,
    STALE,
    MaybeSession,
    Posted,
    TheDesk,
    Urls,
    address,
    page,
    read_form,
    set_cookie,
)

router = APIRouter()


def _to(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


@router.get("/login")
def login_page(request: Request, session: MaybeSession) -> Response:
    if session is not None:
        return _to(Urls.home)
    token = secrets.token_urlsafe(32)
    response = page("login.html", csrf=token, error=None, username="")
    set_cookie(response, request, LOGIN_COOKIE, token, max_age=3600)
    return response


@router.post("/login")
async def login(request: Request, desk: TheDesk) -> Response:
    form = await read_form(request)
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if form is None or not expected or not hmac.compare_digest(expected.encode(), form.get("csrf", "").encode()):
        return page("error.html", 403, message="页面已过期或来源不明，请重新打开登录页")
    username = form.get("username", "")
    try:
        token, session = ss.sign_in(desk.store, username, form.get("password", ""), address(request))
    except ss.SignInRefused as e:
        status = 429 if isinstance(e, ss.Throttled) else 200
        return page("login.html", status, csrf=expected, error=str(e), username=username[:64])
    signed_in = _to(Urls.password if session.user.must_change else Urls.home)
    set_cookie(signed_in, request, COOKIE, token)
    signed_in.delete_cookie(LOGIN_COOKIE, path="/")
    return signed_in


@router.post("/logout")
async def logout(request: Request, desk: TheDesk, session: MaybeSession) -> Response:
    form = await read_form(request)
    if session is None:
        return _to(Urls.login)
    if form is None or not ss.csrf_ok(session, form.get("csrf")):
        return page("error.html", 403, message=STALE)
    ss.sign_out(desk.store, session, address(request))
    response = _to(Urls.login)
    response.delete_cookie(COOKIE, path="/")
    return response


# The password pages take a session that must change its password (every other page sends it here).


@router.get("/password")
def password_page(session: MaybeSession) -> Response:
    if session is None:
        return _to(Urls.login)
    return page("password.html", user=session.user, csrf=session.csrf, error=None)


@router.post("/password")
async def password(request: Request, desk: TheDesk, session: MaybeSession) -> Response:
    if session is None:
        return _to(Urls.login)
    form = await read_form(request)
    if form is None or not ss.csrf_ok(session, form.get("csrf")):
        return page("error.html", 403, message=STALE)
    store, new, where = desk.store, form.get("new", ""), address(request)
    try:  # the old password is a re-authentication: throttled and counted like a sign-in
        ss.check_throttle(store, session.user.username, where)
        if acc.authenticate(store, session.user.username, form.get("old", "")) is None:
            ss.count_failure(store, session.user.username, where)
            raise acc.AccountError("原密码不正确")
        if new != form.get("again", ""):
            raise acc.AccountError("两次输入的新密码不一致")
        acc.change_own_password(store, session.user.username, form.get("old", ""), new, where)
    except ss.Throttled as e:
        return page("password.html", 429, user=session.user, csrf=session.csrf, error=str(e))
    except acc.AccountError as e:
        return page("password.html", user=session.user, csrf=session.csrf, error=str(e))
    ss.end_all(store, session.user.id, but=session.token_hash)  # other browsers signed in as them: out
    return _to(Urls.home)


@router.post("/notices")
async def notices_setting(request: Request, desk: TheDesk, post: Posted) -> Response:
    actions.notices_setting(desk.store, post.session.user, post.form.get("on") == "1", address(request))
    return _to(Urls.password)
