"""`huizong web`: the review desk in a browser, server-rendered in Chinese, plain HTML forms.

This first part signs users in and out, makes them change a first password, and shows each user
the returns of their own division (a county its own, a reviewer every county inside theirs).
Every page sets strict security headers; every POST carries the session's CSRF token (the sign-in
form a token of its own, in a cookie and the form both); cookies are HttpOnly, SameSite=Strict,
and Secure when the request came over HTTPS (the reverse proxy says so). Everything a county wrote
is escaped by Jinja2's autoescaping.
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from huizong.catalog import Config
from huizong.desk import accounts as acc
from huizong.desk import sessions as ss
from huizong.ledger import store as st
from huizong.read.periods import parse_token

COOKIE = "huizong_session"
LOGIN_COOKIE = "huizong_signin"  # the sign-in form's CSRF token, before there is a session
MAX_FORM_BYTES = 16 << 10  # a sign-in or password form: nothing bigger is read
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parents[1] / "templates" / "desk"),
    autoescape=select_autoescape(default=True),
)


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


def _page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(_ENV.get_template(name).render(**context), status_code=status)


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/")  # fmt: skip


async def _form(request: Request) -> dict[str, str] | None:
    """A small urlencoded form, or None if it is anything else or too big (read no further)."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    from urllib.parse import parse_qsl

    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        return None


def create_app(store: st.Store, config: Config) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    divisions = config.divisions

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        for k, v in HEADERS.items():
            response.headers.setdefault(k, v)
        return response

    def current(request: Request) -> ss.Session | None:
        return ss.resolve(store, request.cookies.get(COOKIE))

    def to_login() -> RedirectResponse:
        return RedirectResponse("/login", status_code=303)

    @app.get("/login")
    def login_page(request: Request) -> Response:
        if current(request) is not None:
            return RedirectResponse("/", status_code=303)
        token = secrets.token_urlsafe(32)
        response = _page("login.html", csrf=token, error=None, username="")
        _cookie(response, request, LOGIN_COOKIE, token, max_age=3600)
        return response

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = await _form(request)
        expected = request.cookies.get(LOGIN_COOKIE, "")
        if form is None or not expected or not hmac.compare_digest(expected.encode(), form.get("csrf", "").encode()):
            return _page("error.html", 403, message="页面已过期或来源不明，请重新打开登录页")
        username = form.get("username", "")
        try:
            token, session = ss.sign_in(store, username, form.get("password", ""), _address(request))
        except ss.SignInRefused as e:
            status = 429 if isinstance(e, ss.Throttled) else 200
            return _page("login.html", status, csrf=expected, error=str(e), username=username[:64])
        signed_in = RedirectResponse("/password" if session.user.must_change else "/", status_code=303)
        _cookie(signed_in, request, COOKIE, token)
        signed_in.delete_cookie(LOGIN_COOKIE, path="/")
        return signed_in

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        session = current(request)
        form = await _form(request)
        if session is None:
            return to_login()
        if form is None or not ss.csrf_ok(session, form.get("csrf")):
            return _page("error.html", 403, message="页面已过期或来源不明，请刷新后重试")
        ss.sign_out(store, session, _address(request))
        response = to_login()
        response.delete_cookie(COOKIE, path="/")
        return response

    @app.get("/password")
    def password_page(request: Request) -> Response:
        session = current(request)
        if session is None:
            return to_login()
        return _page("password.html", user=session.user, csrf=session.csrf, error=None)

    @app.post("/password")
    async def password(request: Request) -> Response:
        session = current(request)
        if session is None:
            return to_login()
        form = await _form(request)
        if form is None or not ss.csrf_ok(session, form.get("csrf")):
            return _page("error.html", 403, message="页面已过期或来源不明，请刷新后重试")
        new = form.get("new", "")
        try:
            if new != form.get("again", ""):
                raise acc.AccountError("两次输入的新密码不一致")
            acc.change_own_password(store, session.user.username, form.get("old", ""), new, _address(request))
        except acc.AccountError as e:
            return _page("password.html", user=session.user, csrf=session.csrf, error=str(e))
        ss.end_all(store, session.user.id, but=session.token_hash)  # other browsers signed in as them: out
        return RedirectResponse("/", status_code=303)

    @app.get("/")
    def home(request: Request) -> Response:
        session = current(request)
        if session is None:
            return to_login()
        user = session.user
        if user.must_change:
            return RedirectResponse("/password", status_code=303)
        region = divisions.get(user.division)
        counties = (
            [user.division] if user.role is acc.Role.COUNTY else [c.code for c in divisions.counties_of(user.division)]
        )
        names = {c: (d.name if (d := divisions.get(c)) else c) for c in counties}
        rows = [{**r, "county_name": names.get(r["county_code"], r["county_code"]),
                 "period_zh": parse_token(r["period"]).zh if r["period"] else "",
                 "status_zh": st.Status.of(r["status"]).zh}
                for r in reversed(store.submissions(counties=counties, newest=200))]  # fmt: skip
        return _page("home.html", user=user, region=region.name if region else user.division, rows=rows,
                     csrf=session.csrf, n_counties=len(counties))  # fmt: skip

    return app
