"""The desk's doors: who asks, and what the path and query name, resolved by FastAPI dependencies.

Every page declares what it needs (`SignedIn`, `SeenReturn`, `Posted`, `ActedReturn`, `Scope`)
and gets it resolved, or the request is refused by raising `Forbidden`, `NotFound` or `GoTo`,
which one handler each renders (datasette's `allowed()` and `Forbidden`). A return or a board of
another division is `NotFound`, the same answer as one that does not exist, so that no id tells
what another division has. `Urls` builds every address a page redirects to.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote

from fastapi import Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from huizong.catalog import Config, Division
from huizong.desk import accounts as acc
from huizong.desk import actions
from huizong.desk import sessions as ss
from huizong.desk import uploads as up
from huizong.formats import register
from huizong.forms.model import Form
from huizong.ledger import store as st
from huizong.read.periods import parse_token
from huizong.settings import Settings

COOKIE = "huizong_session"
LOGIN_COOKIE = "huizong_signin"  # the sign-in form's CSRF token, before there is a session
MAX_FORM_BYTES = 16 << 10  # a sign-in or password form: nothing bigger is read
MAX_ID = 2**63 - 1  # the largest id a ledger row can have (a signed 64-bit integer)
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
STALE = "页面已过期或来源不明，请刷新后重试"
_ENV = register(
    Environment(
        loader=FileSystemLoader(Path(__file__).resolve().parents[1] / "templates" / "desk"),
        autoescape=select_autoescape(default=True),
    )
)


class Refusal(Exception):
    """A request refused, with the words its user reads and the status; raised by the doors and the
    pages, rendered by one handler."""

    status = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status or self.status


class Forbidden(Refusal):
    status = 403


class NotFound(Refusal):
    """Not there, or not the asker's: the same answer, so that no id tells what another division has."""

    status = 404


class GoTo(Exception):
    """The browser must go elsewhere first (sign in, change the password)."""

    def __init__(self, to: str) -> None:
        super().__init__(to)
        self.to = to


def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(_ENV.get_template(name).render(**context), status_code=status)


def address(request: Request) -> str:
    return request.client.host if request.client else ""


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(
        name, value, max_age=max_age, httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/"
    )


async def read_form(request: Request) -> dict[str, str] | None:
    """A small urlencoded form, or None if it is anything else or too big (read no further)."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        return None


class Flashes:
    """Messages for a user's next page, kept on the server: a redirect carries only a random key, so
    no text in a URL is ever printed on a page (a link someone sends cannot put words on the desk)."""

    def __init__(self, ttl: float = 300, most: int = 10_000) -> None:
        self.ttl, self.most = ttl, most
        self._held: dict[str, tuple[float, int, str]] = {}
        self._lock = threading.Lock()

    def put(self, user_id: int, text: str) -> str:
        key = secrets.token_urlsafe(12)
        with self._lock:
            now = time.monotonic()
            if len(self._held) >= self.most:
                self._held = {k: v for k, v in self._held.items() if v[0] > now}
            self._held[key] = (now + self.ttl, user_id, text[:300])
        return key

    def take(self, key: str | None, user_id: int) -> str:
        """The message left for `user_id` under `key`, once; '' for any other key or user."""
        if not key:
            return ""
        with self._lock:
            held = self._held.get(key)
            if held is None or held[1] != user_id:
                return ""
            del self._held[key]
        return held[2] if held[0] > time.monotonic() else ""


class Urls:
    """Every address the desk sends a browser to, built in one place (query values quoted)."""

    home = "/"
    login = "/login"
    password = "/password"

    @staticmethod
    def a_return(sid: int) -> str:
        return f"/returns/{int(sid)}"

    @staticmethod
    def with_notice(path: str, key: str, name: str = "notice") -> str:
        return f"{path}{'&' if '?' in path else '?'}{name}={quote(key)}"

    @staticmethod
    def board(form: str, division: str, period: str | None = None) -> str:
        return f"/board?form={quote(form)}&division={quote(division)}" + (f"&period={quote(period)}" if period else "")

    @staticmethod
    def report_draft(form: str, division: str, period: str, name: str) -> str:
        return f"/report?form={quote(form)}&division={quote(division)}&period={quote(period)}&name={quote(name)}"

    @staticmethod
    def late(form: str, division: str, period: str) -> str:
        return f"/late?form={quote(form)}&division={quote(division)}&period={quote(period)}"


@dataclass
class Desk:
    """What every page of one desk works with, on `app.state.desk`."""

    settings: Settings
    config: Config
    store: st.Store
    runs: up.Runs
    flashes: Flashes
    urls: type[Urls] = Urls

    def div_name(self, code: str | None) -> str:
        d = self.config.divisions.get(code)
        return d.name if d else (code or "")

    def frame(self, session: ss.Session, **context: Any) -> dict[str, Any]:
        """The context every signed-in page is rendered with."""
        user = session.user
        return {
            "user": user,
            "csrf": session.csrf,
            "region": self.div_name(user.division),
            "forms": self.config.forms,
            "period_zh": _period_zh,
            "div_name": self.div_name,
            "status_zh": lambda s: st.Status.of(s).zh,
            **context,
        }


def _period_zh(token: str | None) -> str:
    return parse_token(token).zh if token else ""


def the_desk(request: Request) -> Desk:
    desk: Desk = request.app.state.desk
    return desk


TheDesk = Annotated[Desk, Depends(the_desk)]


def maybe_session(request: Request, desk: TheDesk) -> ss.Session | None:
    """The request's session, if it carries a live one."""
    return ss.resolve(desk.store, request.cookies.get(COOKIE))


MaybeSession = Annotated[ss.Session | None, Depends(maybe_session)]


def signed_in(session: MaybeSession) -> ss.Session:
    """The door of every page: the request's session, or `GoTo` where the browser must go
    instead (sign-in, password change)."""
    if session is None:
        raise GoTo(Urls.login)
    if session.user.must_change:
        raise GoTo(Urls.password)
    return session


SignedIn = Annotated[ss.Session, Depends(signed_in)]
# a path's id: a number in a ledger row's range, else 404 (the handler of RequestValidationError)
ReturnId = Annotated[int, PathParam(gt=0, le=MAX_ID)]


@dataclass(frozen=True)
class Seen:
    session: ss.Session
    row: st.SubmissionRow  # the return, one its user may see


def seen_return(sid: ReturnId, session: SignedIn, desk: TheDesk) -> Seen:
    """Return `sid` if the signed-in user may see it; else NotFound, the same answer whether it
    does not exist or is another division's."""
    try:
        return Seen(session, actions.submission(desk.store, desk.config, session.user, sid))
    except actions.Refused as e:
        raise NotFound(str(e)) from None


SeenReturn = Annotated[Seen, Depends(seen_return)]


@dataclass(frozen=True)
class Post:
    session: ss.Session
    form: dict[str, str]  # the posted fields, its CSRF token checked


async def posted(request: Request, session: SignedIn) -> Post:
    """The door of every POST of a signed-in user: its form, read within limits, CSRF checked."""
    form = await read_form(request)
    if form is None or not ss.csrf_ok(session, form.get("csrf")):
        raise Forbidden(STALE)
    return Post(session, form)


Posted = Annotated[Post, Depends(posted)]


@dataclass(frozen=True)
class Act:
    session: ss.Session
    form: dict[str, str]
    row: st.SubmissionRow  # the return acted on, one its user may see


async def acted_return(post: Posted, sid: ReturnId, desk: TheDesk) -> Act:
    """A POST on return `sid`: its form (CSRF checked first) and the return, if its user may see it."""
    seen = seen_return(sid, post.session, desk)
    return Act(post.session, post.form, seen.row)


ActedReturn = Annotated[Act, Depends(acted_return)]


def county_user(session: SignedIn) -> ss.Session:
    if session.user.role is not acc.Role.COUNTY:
        raise Forbidden("只有县区用户可以上传报表")
    return session


CountyUser = Annotated[ss.Session, Depends(county_user)]


@dataclass(frozen=True)
class BoardScope:
    session: ss.Session
    division: Division
    form: Form
    period: str | None  # the period asked for, if any


def board_scope(session: SignedIn, desk: TheDesk, form: str = "", division: str = "", period: str = "") -> BoardScope:
    """A reviewer's board: the division and form they may see, and the period asked for; else
    Forbidden (not a reviewer) or NotFound."""
    user, config, divisions = session.user, desk.config, desk.config.divisions
    if user.role not in actions.REVIEWERS:
        raise Forbidden("只有审核人员可以查看审核表")
    d = divisions.get(division or user.division)
    f = config.form_by_id.get(form or config.forms[0].id)
    if d is None or d.level == "county" or f is None or not acc.may_act_on(user, d.code, divisions):
        raise NotFound("没有这个地区或报表，或您无权查看")
    if not period:
        return BoardScope(session, d, f, None)
    token = collected_period(f, period)
    if token is None:
        raise NotFound("报告期不正确")
    return BoardScope(session, d, f, token)


Scope = Annotated[BoardScope, Depends(board_scope)]


def collected_period(form: Form, period: str) -> str | None:
    """`period` as a token if it is one the form collects, else None: checked here, once."""
    try:
        p = parse_token(period)
    except ValueError:
        return None
    return p.token if form.collects(p) else None
