"""`huizong web`: the review desk in a browser, server-rendered in Chinese, plain HTML forms.

This first part signs users in and out, makes them change a first password, and shows each user
the returns of their own division (a county its own, a reviewer every county inside theirs).
Every page sets strict security headers; every POST carries the session's CSRF token (the sign-in
form a token of its own, in a cookie and the form both); cookies are HttpOnly, SameSite=Strict,
and Secure when the request came over HTTPS (the reverse proxy says so). Everything a county wrote
is escaped by Jinja2's autoescaping.
"""

from __future__ import annotations

import dataclasses
import hmac
import logging
import secrets
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from huizong.catalog import Config
from huizong.desk import accounts as acc
from huizong.desk import actions
from huizong.desk import board as bd
from huizong.desk import sessions as ss
from huizong.desk import uploads as up
from huizong.desk.publisher import Publisher
from huizong.formats import register
from huizong.ledger import review as rv
from huizong.ledger import store as st
from huizong.ledger.inbox import safe_component
from huizong.notify.sender import Sender
from huizong.pipeline import run_batch
from huizong.publish.layout import Layout
from huizong.publish.listtemplate import write_list_template
from huizong.publish.template import write_template
from huizong.read.periods import parse_token
from huizong.read.worker import keep_warm
from huizong.settings import Settings

COOKIE = "huizong_session"
LOGIN_COOKIE = "huizong_signin"  # the sign-in form's CSRF token, before there is a session
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
VERDICT_WAIT = 120  # seconds an upload waits for its run before the county is told to look later
MAX_FORM_BYTES = 16 << 10  # a sign-in or password form: nothing bigger is read
log = logging.getLogger(__name__)
MAX_ID = 2**63 - 1  # the largest id a ledger row can have (a signed 64-bit integer)
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
STATIC = Path(__file__).resolve().parents[1] / "static"
HTMX = "htmx-2.0.10.min.js"  # sha256 71ea6718…c0de, from bigskysoftware/htmx v2.0.10 dist/
_ENV = register(
    Environment(
        loader=FileSystemLoader(Path(__file__).resolve().parents[1] / "templates" / "desk"),
        autoescape=select_autoescape(default=True),
    )
)


def publish_outputs(publisher: Publisher) -> None:
    """Write what publishing owes, in the desk's publisher process (a seam for the tests)."""
    publisher.publish()


class Refusal(Exception):
    """A request refused, with the words its user reads and the status; raised by the doors
    (`signed_in`, `visible`, `acting`, `_board_args`) and the pages, rendered by one handler."""

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


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


def _secured(response: Response) -> Response:
    for k, v in HEADERS.items():
        response.headers.setdefault(k, v)
    return response


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


def create_app(settings: Settings, config: Config, store: st.Store | None = None, notify: bool = True) -> FastAPI:
    """The desk over `settings`' inbox, store and outputs; uploads are judged by runs of the
    pipeline in this process, one at a time (`uploads.Runs`); notices are sent from a thread of it
    (`notify`: False leaves them to another process)."""
    store = store or st.Store.open(settings.db_url)
    # the desk's runs leave the GX Data Docs to the nightly run: a county waits for its verdict, not for them
    quick = dataclasses.replace(settings, docs=False)

    publisher = Publisher(quick, config)  # a process of its own: the next verdict keeps this one's core

    def write_outputs(done: Any) -> None:
        try:
            publish_outputs(publisher)
        except Exception:  # a full disk: what is owed stays queued, and the next verdict's publishing retries
            log.exception("desk: writing the outputs failed")
            raise
        done()

    # the outputs are written beside the next verdicts, not before them (`pipeline.publish_owed`)
    publishing = up.Runs(write_outputs, gather=0.5, name="publishing")

    def judge(committed: Any) -> None:
        try:
            run_batch(quick, config, wait=600, on_commit=committed, publish=False)
        finally:
            publishing.ask()
        up.tidy(settings.inputs / rv.UPLOADS)

    runs = up.Runs(judge)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        up.tidy(settings.inputs / rv.UPLOADS)
        keep_warm(True)
        publishing.ask()  # whatever a publisher that died left unwritten
        sending = Sender(store, lambda: config, settings.region).start() if notify else None
        try:
            yield
        finally:
            runs.stop()
            publishing.stop()
            publisher.stop()
            keep_warm(False)
            if sending is not None:
                sending[1].set()
                sending[0].join(timeout=30)

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    divisions = config.divisions

    @app.exception_handler(RequestValidationError)
    async def not_found(request: Request, exc: RequestValidationError) -> Response:
        """A path or query value of the wrong kind (an id that is no number, or too large): not found."""
        return _secured(_page("error.html", 404, message="没有这个页面"))

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> Response:
        """An error of the desk itself: one page, with the security headers, and the trace in the log."""
        log.error("desk: %s %s failed", request.method, request.url.path, exc_info=exc)
        return _secured(_page("error.html", 500, message="系统出错，请稍后重试；如仍出错，请联系管理员"))

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        for k, v in HEADERS.items():
            response.headers.setdefault(k, v)
        return response

    flashes = Flashes()

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
        new, address = form.get("new", ""), _address(request)
        try:  # the old password is a re-authentication: throttled and counted like a sign-in
            ss.check_throttle(store, session.user.username, address)
            if acc.authenticate(store, session.user.username, form.get("old", "")) is None:
                ss.count_failure(store, session.user.username, address)
                raise acc.AccountError("原密码不正确")
            if new != form.get("again", ""):
                raise acc.AccountError("两次输入的新密码不一致")
            acc.change_own_password(store, session.user.username, form.get("old", ""), new, address)
        except ss.Throttled as e:
            return _page("password.html", 429, user=session.user, csrf=session.csrf, error=str(e))
        except acc.AccountError as e:
            return _page("password.html", user=session.user, csrf=session.csrf, error=str(e))
        ss.end_all(store, session.user.id, but=session.token_hash)  # other browsers signed in as them: out
        return RedirectResponse("/", status_code=303)

    def signed_in(request: Request) -> ss.Session:
        """The door of every page: the request's session, or `GoTo` where the browser must go
        instead (sign-in, password change)."""
        session = current(request)
        if session is None:
            raise GoTo("/login")
        if session.user.must_change:
            raise GoTo("/password")
        return session

    def refused(message: str, status: int = 403) -> HTMLResponse:
        return _page("error.html", status, message=message)

    @app.exception_handler(Refusal)
    async def refusal(request: Request, exc: Refusal) -> Response:
        """Every refusal of every page, rendered the one way (the security headers added by the middleware)."""
        return refused(exc.message, exc.status)

    @app.exception_handler(GoTo)
    async def go_to(request: Request, exc: GoTo) -> Response:
        return RedirectResponse(exc.to, status_code=303)

    def div_name(code: str | None) -> str:
        d = divisions.get(code)
        return d.name if d else (code or "")

    def period_zh(token: str | None) -> str:
        return parse_token(token).zh if token else ""

    def frame(session: ss.Session, **context: Any) -> dict[str, Any]:
        user = session.user
        return {"user": user, "csrf": session.csrf, "region": div_name(user.division), "forms": config.forms,
                "period_zh": period_zh, "div_name": div_name, "status_zh": lambda s: st.Status.of(s).zh, **context}  # fmt: skip

    @app.get("/")
    def home(request: Request) -> Response:
        session = signed_in(request)
        user = session.user
        if user.role is acc.Role.COUNTY:
            county = divisions.get(user.division)
            assert county is not None
            due = []
            for form in config.forms:
                periods = bd.periods_open(config, form.id)
                cells = bd.county_cells(store, config, form.id, [county], periods)
                due += [{"form": form, "period": p, "due": bd.due_of(config, form.id, p), "cell": cells[(county.code, p)]}
                        for p in periods]  # fmt: skip
            rows = [r for r in store.of_county(county.code, f"{rv.UPLOADS}/{county.code}/", newest=200)
                    if rv.owner_of(r) == county.code]  # fmt: skip
            reviews = rv.reviews_for(store, [r["id"] for r in rows])
            return _page("county.html", **frame(session, due=due, rows=rows[::-1], reviews=reviews,
                         max_mb=config.limits.file_bytes >> 20, notice=flashes.take(request.query_params.get("notice"), user.id)))  # fmt: skip
        boards = [{"form": f, "periods": bd.periods_open(config, f.id)} for f in config.forms]
        counties = [c.code for c in divisions.counties_of(user.division)]
        rows = store.submissions(counties=counties, newest=100) if counties else []
        return _page("reviewer.html", **frame(session, boards=boards, rows=rows[::-1]))

    @app.get("/template")
    def template(request: Request, form: str = "", period: str = "", county: str = "") -> Response:
        session = signed_in(request)
        user = session.user
        code = county or user.division
        div = divisions.get(code)
        f = config.form_by_id.get(form)
        if div is None or div.level != "county" or not acc.may_act_on(user, code, divisions) or f is None:
            raise NotFound("没有这张报表，或您无权下载")
        try:
            p = parse_token(period)
        except ValueError:
            raise NotFound("报告期不正确") from None
        if not f.collects(p):
            raise NotFound("报告期不正确")
        tmp = Path(tempfile.mkdtemp(prefix="huizong-template-"))
        out = tmp / safe_component(f"{div.name}_{p.token}_{f.short_name}.xlsx")
        if f.indicators is not None:
            write_template(out, config.for_form(f.id), div, p, store)
        else:
            write_list_template(out, config, f, div, p)
        return FileResponse(out, filename=out.name, media_type=XLSX,
                            background=BackgroundTask(shutil.rmtree, tmp, ignore_errors=True))  # fmt: skip

    @app.post("/upload")
    async def upload(request: Request) -> Response:
        session = signed_in(request)
        user = session.user
        if user.role is not acc.Role.COUNTY:
            raise Forbidden("只有县区用户可以上传报表")
        folder = settings.inputs / rv.UPLOADS / user.division
        quota = config.rules.desk
        count, used = rv.uploads_today(store, user.division)
        declared = request.headers.get("content-length", "")
        # a body over the file cap is refused for that (413, while streaming); the quota counts what can land
        extra = min(int(declared), config.limits.file_bytes) if declared.isdigit() and len(declared) < 16 else 0
        if count >= quota.uploads_per_day or used + extra > quota.upload_mb_per_day << 20:
            answer = refused(f"今天已上传 {count} 次、{used / (1 << 20):,.1f} MB，已达每日上限（{quota.uploads_per_day} 次、"
                             f"{quota.upload_mb_per_day} MB），请明天再传；确需更多，请联系市级管理员", 429)  # fmt: skip
            answer.headers["connection"] = "close"
            return answer
        try:
            got = await up.receive(request.stream(), request.headers.get("content-type", ""),
                                   request.headers.get("content-length"), folder, config.limits.file_bytes)  # fmt: skip
        except up.UploadRefused as e:
            answer = refused(str(e), e.status)
            answer.headers["connection"] = "close"  # the rest of the body is not read: the server hangs up
            return answer
        if not ss.csrf_ok(session, got.fields.get("csrf")):
            assert got.path is not None
            got.path.unlink(missing_ok=True)
            raise Forbidden("页面已过期或来源不明，请刷新后重试")
        rel = up.place(got, settings.inputs, user.division, max(settings.quiet, settings.fresh))
        with store.begin() as conn:
            rv.journal(conn, user.username, "upload", target=rel, division=user.division, address=_address(request),
                       detail={"size": got.size, "name": got.filename[:200]}, user_id=user.id)  # fmt: skip
        ticket = runs.ask()
        failed = await run_in_threadpool(runs.wait, ticket, VERDICT_WAIT)
        row = store.by_inbox_path(rel)
        if row is None:
            why = "系统繁忙" if failed == "timeout" else "处理出错"
            said = flashes.put(user.id, f"已收到 {got.filename[:80]}，{why}，校验结果稍后在下方列出")
            return RedirectResponse(f"/?notice={said}", status_code=303)
        return RedirectResponse(f"/returns/{row['id']}", status_code=303)

    def visible(request: Request, sid: int, known: ss.Session | None = None) -> tuple[ss.Session, dict[str, Any]]:
        """The signed-in session (`known`, or the request's) and return `sid` if its user may see
        it; else NotFound, the same answer whether it does not exist or is another division's."""
        session = known or signed_in(request)
        if not 0 < sid <= MAX_ID:  # no row has such an id
            raise NotFound("没有这份报送，或您无权查看")
        try:
            return session, actions.submission(store, config, session.user, sid)
        except actions.Refused as e:
            raise NotFound(str(e)) from None

    @app.get("/returns/{sid}")
    def a_return(request: Request, sid: int) -> Response:
        got = visible(request, sid)
        session, row = got
        return _page("return.html", **frame(session, **_return_view(row, session.user)))

    def _return_view(row: dict[str, Any], user: acc.User) -> dict[str, Any]:
        """What `user` may see of return `row`: its versions, numbers and reviews only as far as they
        are of the user's division (a county that uploaded another county's return sees its refusal
        and nothing of that county)."""
        sid = int(row["id"])
        found = store.issues_for([sid])
        explained = rv.explanations_for(store, [sid])
        catalog = config.catalogs.get(row["form"]) if row["form"] else None
        names = {i.code: f"{i.name}（{i.unit}）" if i.unit else i.name for i in catalog} if catalog else {}
        feedback = Layout(settings.outputs).feedback(sid, row["inbox_path"])
        same = []  # every version of the county's return for the period, as far as the user may see them
        if row["county_code"] and row["period"]:
            same = [s for s in store.submissions(counties=[row["county_code"]], periods=[row["period"]], form=row["form"])
                    if (owner := rv.owner_of(s)) is not None and acc.may_act_on(user, owner, divisions)]  # fmt: skip
        theirs = bool(row["county_code"]) and acc.may_act_on(user, str(row["county_code"]), divisions)
        reviews = rv.reviews_for(store, [sid, *(s["id"] for s in same)])
        return {"row": row, "issues": found, "explained": explained, "names": names, "review": reviews.get(sid),
                "feedback": feedback.exists(), "feedback_soon": bool(row["errors"] or row["warnings"]) and bool(row["stored_as"]),
                "numbers": _numbers(row, names, user) if theirs else [], "same": same,
                "revisions": store.revisions_for([sid]) if theirs else [], "peers": _peers_shown(user),
                "reviews": reviews, "held": any(i["code"] == rv.HELD for i in found)}  # fmt: skip

    def _peers_shown(user: acc.User) -> bool:
        """Whether `user` sees the median of the other counties (their unpublished figures)."""
        return config.rules.desk.peers == "everyone" or user.role is not acc.Role.COUNTY

    def _numbers(row: dict[str, Any], names: dict[str, str], user: acc.User) -> list[dict[str, Any]]:
        """The return's numbers beside last year's, with the county's rank among its city's counties,
        and (for reviewers, or everyone if `[desk] peers` says so) the median of the others."""
        if not row["county_code"] or not row["period"] or not names:
            return []
        county, period, form = row["county_code"], row["period"], row["form"]
        mine = [f for f in store.facts_of(int(row["id"])) if f["column"] == "value" and f["number"] is not None]
        if not mine:
            return []
        p = parse_token(period)
        before = {f["indicator"]: f["number"] for f in store.current_values([county], [p.last_year().token], form)}
        d = divisions.get(county)
        peers = [c.code for c in divisions.counties_of(d.parent)] if d and d.parent else [county]
        others: dict[str, list[float]] = {}
        for f in store.current_values(peers, [period], form):
            if f["county_code"] != county and f["number"] is not None:
                others.setdefault(f["indicator"], []).append(f["number"])
        out = []
        for f in mine:
            code, value = f["indicator"], f["number"]
            last = before.get(code)
            peer = others.get(code, [])
            out.append({"code": code, "name": names.get(code, code), "value": value, "cell": f["cell"],
                        "last": last, "growth": (value / last - 1) if last else None,
                        "median": statistics.median(peer) if peer and _peers_shown(user) else None,
                        "rank": 1 + sum(v > value for v in peer) if peer else None, "of": len(peer) + 1})  # fmt: skip
        return out

    @app.get("/static/" + HTMX)
    def htmx() -> Response:
        """The vendored htmx (pinned, 0BSD): the verdict page and the board update in place with it,
        and work without it."""
        return FileResponse(STATIC / HTMX, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})

    @app.get("/returns/{sid}/feedback-link")
    def feedback_link(request: Request, sid: int) -> Response:
        """The verdict page's feedback line, asked again (htmx) until the workbook is ready."""
        got = visible(request, sid)
        _, row = got
        ready = Layout(settings.outputs).feedback(sid, row["inbox_path"]).is_file()
        soon = bool(row["errors"] or row["warnings"]) and bool(row["stored_as"])
        return _page("feedback_link.html", row=row, feedback=ready, feedback_soon=soon)

    @app.get("/returns/{sid}/feedback")
    def feedback(request: Request, sid: int) -> Response:
        got = visible(request, sid)
        _, row = got
        path = Layout(settings.outputs).feedback(sid, row["inbox_path"])
        if not path.is_file():
            raise NotFound("这份报送没有反馈表")
        return FileResponse(path, filename=path.name, media_type=XLSX)

    async def acting(request: Request, sid: int | None = None) -> tuple[ss.Session, dict[str, str], Any]:
        """The door of every POST: its session, its form (CSRF checked) and, with `sid`, the return
        it acts on."""
        session = signed_in(request)
        form = await _form(request)
        if form is None or not ss.csrf_ok(session, form.get("csrf")):
            raise Forbidden("页面已过期或来源不明，请刷新后重试")
        if sid is None:
            return session, form, None
        return session, form, visible(request, sid, session)[1]

    @app.post("/returns/{sid}/explain")
    async def explain(request: Request, sid: int) -> Response:
        got = await acting(request, sid)
        session, form, row = got
        texts = {int(k[5:]): v for k, v in form.items() if k.startswith("note-") and k[5:].isdigit() and len(k) < 20}
        try:
            actions.explain(store, session.user, row, texts, _address(request))
        except actions.Refused as e:
            return _page("return.html", 400, **frame(session, error=str(e), **_return_view(row, session.user)))
        return RedirectResponse(f"/returns/{sid}", status_code=303)

    @app.post("/returns/{sid}/review")
    async def review(request: Request, sid: int) -> Response:
        got = await acting(request, sid)
        session, form, row = got
        seen = form.get("seen") or None
        try:
            if form.get("action") == "return":
                actions.send_back(store, config, session.user, row, form.get("reason", ""), seen, _address(request))
            elif form.get("action") == "accept":
                await run_in_threadpool(actions.accept, store, config, settings, session.user, row,
                                        form.get("reason", ""), seen, _address(request))  # fmt: skip
            else:
                raise actions.Refused("未知的操作")
        except actions.Refused as e:
            return _page("return.html", 409, **frame(session, error=str(e), **_return_view(row, session.user)))
        return RedirectResponse(f"/returns/{sid}", status_code=303)

    def _board_args(request: Request, form: str, division: str, period: str) -> tuple[Any, ...]:
        """A reviewer's session, the division and form of a board they may see, and the period
        asked for (None if none): else Forbidden or NotFound."""
        session = signed_in(request)
        user = session.user
        if user.role not in actions.REVIEWERS:
            raise Forbidden("只有审核人员可以查看审核表")
        d = divisions.get(division or user.division)
        f = config.form_by_id.get(form or config.forms[0].id)
        if d is None or d.level == "county" or f is None or not acc.may_act_on(user, d.code, divisions):
            raise NotFound("没有这个地区或报表，或您无权查看")
        if not period:
            return session, d, f, None
        try:
            p = parse_token(period)
        except ValueError:
            p = None
        if p is None or not f.collects(p):
            raise NotFound("报告期不正确")
        return session, d, f, p.token

    @app.get("/board")
    def board_page(request: Request, form: str = "", division: str = "", period: str = "") -> Response:
        got = _board_args(request, form, division, period)
        session, d, f, p = got
        periods = bd.periods_open(config, f.id)
        if p is not None and p not in periods:
            periods = [p, *periods][:6]
        b = bd.board(store, config, d, f.id, periods)
        basis = config.rules.totals.basis if d.level in ("province", "nation") else ""
        here = f"/board?form={quote(f.id)}&division={d.code}" + (f"&period={p}" if p else "")
        return _page("board.html", **frame(session, board=b, form=f, division=d, basis=basis, due={p: bd.due_of(config, f.id, p)
                     for p in periods}, error=flashes.take(request.query_params.get("error"), session.user.id),
                     here=here))  # fmt: skip

    @app.get("/late")
    def late_page(request: Request, form: str = "", division: str = "", period: str = "") -> Response:
        got = _board_args(request, form, division, period)
        session, d, f, p = got
        if p is None:
            raise NotFound("报告期不正确")
        b = bd.board(store, config, d, f.id, [p])
        cells = bd.late(b, p)
        contacts = acc.contacts(store, [c.part.code for c in cells])
        return _page("late.html", **frame(session, form=f, division=d, period=p, cells=cells, contacts=contacts,
                                          due=bd.due_of(config, f.id, p), notices=config.notices.on("overdue"),
                                          notice=flashes.take(request.query_params.get("notice"), session.user.id)))  # fmt: skip

    @app.post("/urge")
    async def urge(request: Request) -> Response:
        got = await acting(request)
        session, form, _ = got
        division, f, p = form.get("division", ""), form.get("form", ""), form.get("period", "")
        try:
            made = await run_in_threadpool(actions.urge, store, config, session.user, division, f, p, _address(request))
        except actions.Refused as e:
            raise Forbidden(str(e)) from None
        said = flashes.put(
            session.user.id,
            f"已排队发送 {made} 条催报通知" if made else "没有可发的催报（县区未登记邮箱，或今天已催报）",
        )
        return RedirectResponse(f"/late?form={quote(f)}&division={quote(division)}&period={quote(p)}&notice={said}",
                                status_code=303)  # fmt: skip

    @app.post("/notices")
    async def notices_setting(request: Request) -> Response:
        got = await acting(request)
        session, form, _ = got
        actions.notices_setting(store, session.user, form.get("on") == "1", _address(request))
        return RedirectResponse("/password", status_code=303)

    def _board_shown(user: acc.User, division: str, form_id: str, period: str) -> bool:
        """Whether the board a refused action sends its user back to is one they can see."""
        f = config.form_by_id.get(form_id)
        try:
            collected = f is not None and f.collects(parse_token(period))
        except ValueError:
            collected = False
        return collected and divisions.get(division) is not None and acc.may_act_on(user, division, divisions)

    @app.post("/periods")
    async def period_action(request: Request) -> Response:
        got = await acting(request)
        session, form, _ = got
        division, f, p = form.get("division", ""), form.get("form", ""), form.get("period", "")
        where = f"/board?form={quote(f)}&division={quote(division)}&period={quote(p)}"
        try:
            version = int(form.get("version") or 0)
            what = form.get("action")
            user, address = session.user, _address(request)
            if what == "approve":  # in a worker thread: the board is read, and outputs may be written again
                await run_in_threadpool(actions.approve, store, config, settings, user, division, f, p, address)
            elif what == "report":
                await run_in_threadpool(actions.report, store, config, settings, user, division, f, p, version, address)
            elif what == "unapprove":
                await run_in_threadpool(actions.unapprove, store, config, settings, user, division, f, p, version,
                                        form.get("reason", ""), address)  # fmt: skip
            else:
                raise actions.Refused("未知的操作")
        except ValueError:
            raise Refusal("请求不正确", 400) from None
        except actions.Refused as e:
            if not _board_shown(session.user, division, f, p):
                raise Forbidden(str(e)) from None  # no board of theirs to show it on
            return RedirectResponse(where + "&error=" + flashes.put(session.user.id, str(e)), status_code=303)
        return RedirectResponse(where, status_code=303)

    return app
