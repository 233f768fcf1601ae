"""`huizong web`: the review desk in a browser, server-rendered in Chinese, plain HTML forms.

`create_app` puts one desk together: its runs (uploads judged one batch at a time, in this
process), its publisher (the outputs written beside the next verdicts, in a process of its own),
the notices' sender, the security headers of every answer, one handler for each refusal, and the
pages (`huizong.desk.pages`: one router each), whose doors are the dependencies of
`huizong.desk.doors`. Every POST carries the session's CSRF token (the sign-in form a token of its
own, in a cookie and the form both); cookies are HttpOnly, SameSite=Strict, and Secure when the
request came over HTTPS (the reverse proxy says so). Everything a county wrote is escaped by
Jinja2's autoescaping.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, RedirectResponse, Response

from huizong.catalog import Config
from huizong.desk import uploads as up
from huizong.desk.doors import COOKIE, HEADERS, Desk, Flashes, GoTo, Refusal, page
from huizong.desk.pages import account, boards, home, returns
from huizong.desk.publisher import Publisher
from huizong.ledger import review as rv
from huizong.ledger import store as st
from huizong.notify.sender import Sender
from huizong.pipeline import run_batch
from huizong.read.worker import keep_warm
from huizong.settings import Settings

__all__ = ["COOKIE", "create_app", "publish_outputs"]
log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parents[1] / "static"
HTMX = "htmx-2.0.10.min.js"  # sha256 71ea6718…c0de, from bigskysoftware/htmx v2.0.10 dist/


def publish_outputs(publisher: Publisher) -> None:
    """Write what publishing owes, in the desk's publisher process (a seam for the tests)."""
    publisher.publish()


def _secured(response: Response) -> Response:
    for k, v in HEADERS.items():
        response.headers.setdefault(k, v)
    return response


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
    app.state.desk = Desk(settings, config, store, runs, Flashes())

    @app.exception_handler(RequestValidationError)
    async def not_found(request: Request, exc: RequestValidationError) -> Response:
        """A path or query value of the wrong kind (an id that is no number, or too large): not found."""
        return _secured(page("error.html", 404, message="没有这个页面"))

    @app.exception_handler(Refusal)
    async def refusal(request: Request, exc: Refusal) -> Response:
        """Every refusal of every page, rendered the one way (the security headers added by the middleware)."""
        return page("error.html", exc.status, message=exc.message)

    @app.exception_handler(GoTo)
    async def go_to(request: Request, exc: GoTo) -> Response:
        return RedirectResponse(exc.to, status_code=303)

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> Response:
        """An error of the desk itself: one page, with the security headers, and the trace in the log."""
        log.error("desk: %s %s failed", request.method, request.url.path, exc_info=exc)
        return _secured(page("error.html", 500, message="系统出错，请稍后重试；如仍出错，请联系管理员"))

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        return _secured(response)

    @app.get("/static/" + HTMX)
    def htmx() -> Response:
        """The vendored htmx (pinned, 0BSD): the verdict page and the board update in place with it,
        and work without it."""
        return FileResponse(STATIC / HTMX, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})

    for page_router in (account.router, home.router, returns.router, boards.router):
        app.include_router(page_router)
    return app
