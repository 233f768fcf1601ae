"""One door (issue 22, item 7): every page of the desk names what it needs as a dependency of
`huizong.desk.doors`, which resolves the session and the object the path names or refuses; no
route reads a session, a return or a form on its own. A route added without its door fails here."""

from __future__ import annotations

import pytest
from builders import BASE_VALUES, CONFIG, write_return
from fastapi.routing import APIRoute
from test_desk_review import browser, csrf_of, make_desk, upload

from huizong.desk import doors
from huizong.desk.web import create_app

# the doors every route may pass through, and the few that check their own way in
SIGN_IN = {("GET", "/login"), ("POST", "/login")}  # before there is a session: a CSRF cookie of its own
OWN_CSRF = {("POST", "/logout"), ("POST", "/password"), ("POST", "/upload")}  # the token read with the body
PUBLIC = {("GET", "/static/htmx-2.0.10.min.js")}


def _calls(dependant) -> set:  # type: ignore[no-untyped-def]
    out = set()
    for d in dependant.dependencies:
        out.add(d.call)
        out |= _calls(d)
    return out


def _routes(ws):  # type: ignore[no-untyped-def]
    from huizong.ledger.store import Store

    ws.store.mkdir(parents=True, exist_ok=True)
    app = create_app(ws.settings, CONFIG, Store.open(ws.settings.db_url), notify=False)

    def flat(routes):  # type: ignore[no-untyped-def]
        for r in routes:  # FastAPI keeps an included router as one route: its own (no prefix here)
            inner = getattr(r, "original_router", None)
            yield from flat(inner.routes) if inner is not None else [r]

    for r in flat(app.routes):
        if isinstance(r, APIRoute):
            for method in r.methods:
                yield method, r.path, _calls(r.dependant)


def test_every_route_passes_its_door(ws):  # type: ignore[no-untyped-def]
    seen = set()
    for method, path, calls in _routes(ws):
        seen.add((method, path))
        if (method, path) in PUBLIC:
            assert not calls
            continue
        assert doors.the_desk in calls, f"{method} {path} reaches the desk some other way"
        if (method, path) == ("POST", "/login"):
            continue  # signs in: checks the sign-in form's own token
        assert doors.maybe_session in calls, f"{method} {path} resolves no session"
        if (method, path) not in SIGN_IN | {("GET", "/password"), ("POST", "/password"), ("POST", "/logout")}:
            assert doors.signed_in in calls, f"{method} {path} lets in a session that must change its password"
        if method == "POST" and (method, path) not in SIGN_IN | OWN_CSRF:
            assert doors.posted in calls, f"POST {path} reads its form without the CSRF check"
        if "{sid}" in path:
            assert doors.seen_return in calls or doors.acted_return in calls, (
                f"{method} {path} names a return unchecked"
            )
        if path in ("/board", "/late"):
            assert doors.board_scope in calls
    assert {("GET", "/returns/{sid}"), ("POST", "/returns/{sid}/review"), ("POST", "/periods"), ("GET", "/")} <= seen


@pytest.mark.parametrize(
    "path",
    [
        "/returns/0",
        "/returns/-1",
        "/returns/abc",
        "/returns/9223372036854775808",
        "/returns/1/feedback",
        "/board?form=key-indicators&period=2024Q9",
        "/board?division=620702",
        "/late?form=key-indicators",
    ],
)
def test_what_a_path_names_is_found_or_refused_the_same_way(ws, monkeypatch, tmp_path, path):  # type: ignore[no-untyped-def]
    store, ws = make_desk(ws, monkeypatch)
    minle = browser(store, ws, "minle")
    upload(minle, write_return(tmp_path / "民乐县.xlsx", "620722", "2024H1", {**BASE_VALUES}))  # return 1, clean
    reviewer = browser(store, ws, "zhangye")
    r = reviewer.get(path)
    assert r.status_code == 404, (path, r.status_code)
    assert r.headers["x-frame-options"] == "DENY" and "content-security-policy" in r.headers
    assert "<form" not in r.text or "logout" in r.text
    for c in (minle, reviewer):
        c.__exit__(None, None, None)


def test_a_post_on_a_return_checks_the_token_before_it_says_whether_the_return_exists(ws, monkeypatch):  # type: ignore[no-untyped-def]
    store, ws = make_desk(ws, monkeypatch)
    reviewer = browser(store, ws, "zhangye")
    forged = reviewer.post("/returns/999/review", data={"csrf": "forged", "action": "accept"})
    assert forged.status_code == 403  # no answer about return 999 to a forged form
    real = reviewer.post("/returns/999/review", data={"csrf": csrf_of(reviewer.get("/").text), "action": "accept"})
    assert real.status_code == 404
    reviewer.__exit__(None, None, None)
