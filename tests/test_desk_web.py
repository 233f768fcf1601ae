"""The desk's doors: sign-in, sessions, CSRF, throttling, headers, escaping, and one division's view."""

from __future__ import annotations

import re

import pytest
from builders import CONFIG, write_return
from fastapi.testclient import TestClient

from huizong.desk import accounts as acc
from huizong.desk import sessions as ss
from huizong.desk.web import COOKIE, create_app
from huizong.ledger.store import Store

pytestmark = pytest.mark.both_stores
PASSWORD = "民乐 county 2026"


@pytest.fixture
def desk(ws):  # type: ignore[no-untyped-def]
    ws.store.mkdir(parents=True, exist_ok=True)
    store = Store.open(ws.settings.db_url)
    acc.add_user(store, CONFIG.divisions, "minle", "county", "620722", password=PASSWORD, display_name="<b>王芳</b>")
    acc.add_user(store, CONFIG.divisions, "zhangye", "city", "620700", password="张掖 review 2026")
    return store, ws


def client(store: Store, ws) -> TestClient:  # type: ignore[no-untyped-def]
    return TestClient(create_app(ws.settings, CONFIG, store), base_url="https://testserver", follow_redirects=False)


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, html
    return m.group(1)


def sign_in(c: TestClient, username: str, password: str) -> str:
    token = csrf_of(c.get("/login").text)
    r = c.post("/login", data={"csrf": token, "username": username, "password": password})
    assert r.status_code == 303, r.text
    return str(r.headers["location"])


def test_a_county_signs_in_sees_only_its_returns_and_signs_out(desk):  # type: ignore[no-untyped-def]
    store, ws = desk
    write_return(ws.drop("民乐县.xlsx"), "620722", "2024H1")
    write_return(ws.drop("临泽县.xlsx"), "620723", "2024H1")
    ws.run()
    c = client(store, ws)
    assert c.get("/").headers["location"] == "/login"
    assert sign_in(c, "MinLe", PASSWORD) == "/"
    cookie = c.cookies.get(COOKIE)
    assert cookie and "HttpOnly" in c.get("/").headers.get("set-cookie", "HttpOnly")
    page = c.get("/")
    assert page.status_code == 200
    assert "&lt;b&gt;王芳&lt;/b&gt;（县区填报，民乐县）" in page.text and "<b>王芳</b>" not in page.text
    assert "民乐县.xlsx" in page.text and "临泽县.xlsx" not in page.text
    assert "2024年上半年" in page.text and "已报送" in page.text
    for name, value in {
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }.items():
        assert page.headers[name] == value
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    r = c.post("/logout", data={"csrf": csrf_of(page.text)})
    assert (r.status_code, r.headers["location"]) == (303, "/login")
    again = client(store, ws)  # the cookie from before signing out, replayed
    again.cookies.set(COOKIE, cookie)
    assert again.get("/").headers["location"] == "/login"
    assert [j["action"] for j in acc.journal(store, "minle")] == ["user-add", "sign-in", "sign-out"]


def test_a_city_reviewer_sees_every_county_inside(desk):  # type: ignore[no-untyped-def]
    store, ws = desk
    write_return(ws.drop("民乐县.xlsx"), "620722", "2024H1")
    write_return(ws.drop("临泽县.xlsx"), "620723", "2024H1")
    ws.run()
    c = client(store, ws)
    sign_in(c, "zhangye", "张掖 review 2026")
    page = c.get("/").text
    assert "民乐县.xlsx" in page and "临泽县.xlsx" in page


def test_every_post_needs_the_sessions_csrf_token(desk):  # type: ignore[no-untyped-def]
    store, ws = desk
    c = client(store, ws)
    sign_in(c, "minle", PASSWORD)
    for data in ({}, {"csrf": "forged"}, {"csrf": "令牌"}):
        r = c.post("/logout", data=data)
        assert r.status_code == 403
    assert c.get("/").status_code == 200  # still signed in: nothing was done
    r = c.post("/password", data={"old": PASSWORD, "new": "another 2026 pw", "again": "another 2026 pw"})
    assert r.status_code == 403
    assert acc.authenticate(store, "minle", PASSWORD) is not None
    fresh = TestClient(create_app(ws.settings, CONFIG, store), base_url="https://testserver", follow_redirects=False)
    r = fresh.post("/login", data={"csrf": "x", "username": "minle", "password": PASSWORD})  # no sign-in cookie
    assert r.status_code == 403 and COOKIE not in fresh.cookies


def test_wrong_passwords_are_throttled_by_name_and_address_with_backoff(desk, monkeypatch):  # type: ignore[no-untyped-def]
    store, ws = desk
    c = client(store, ws)
    token = csrf_of(c.get("/login").text)
    for _ in range(ss.MAX_PER_PAIR):
        r = c.post("/login", data={"csrf": token, "username": "minle", "password": "wrong-guess-1"})
        assert r.status_code == 200 and "用户名或密码不正确" in r.text
    r = c.post("/login", data={"csrf": token, "username": "minle", "password": PASSWORD})  # right, but too soon
    assert r.status_code == 429 and "请 1 分钟后再试" in r.text and COOKIE not in c.cookies
    r = c.post("/login", data={"csrf": token, "username": "nobody", "password": "x"})  # the same answer for no one
    assert r.status_code == 200 and "用户名或密码不正确" in r.text
    monkeypatch.setattr(ss, "WINDOW_MINUTES", 0)  # the window has passed
    r = c.post("/login", data={"csrf": token, "username": "minle", "password": PASSWORD})
    assert r.status_code == 303


def test_wrong_passwords_are_throttled_by_address_across_names(desk, monkeypatch):  # type: ignore[no-untyped-def]
    store, ws = desk
    monkeypatch.setattr(ss, "MAX_PER_ADDRESS", 3)
    c = client(store, ws)
    token = csrf_of(c.get("/login").text)
    for name in ("a1", "a2", "a3"):
        assert c.post("/login", data={"csrf": token, "username": name, "password": "x"}).status_code == 200
    r = c.post("/login", data={"csrf": token, "username": "minle", "password": PASSWORD})
    assert r.status_code == 429 and COOKIE not in c.cookies


def test_a_first_password_must_be_changed_and_other_sessions_end(desk):  # type: ignore[no-untyped-def]
    store, ws = desk
    _, first = acc.add_user(store, CONFIG.divisions, "gaotai", "county", "620724")
    assert first
    elsewhere = client(store, ws)
    assert sign_in(elsewhere, "gaotai", first) == "/password"
    c = client(store, ws)
    assert sign_in(c, "gaotai", first) == "/password"
    assert c.get("/").headers["location"] == "/password"
    token = csrf_of(c.get("/password").text)
    r = c.post("/password", data={"csrf": token, "old": first, "new": "gaotai2026", "again": "gaotai2027"})
    assert "两次输入的新密码不一致" in r.text
    r = c.post("/password", data={"csrf": token, "old": first, "new": "short", "again": "short"})
    assert "密码至少 10 个字符" in r.text
    r = c.post("/password", data={"csrf": token, "old": first, "new": "高台 2026 年报表", "again": "高台 2026 年报表"})
    assert (r.status_code, r.headers["location"]) == (303, "/")
    assert c.get("/").status_code == 200
    assert elsewhere.get("/").headers["location"] == "/login"  # the other browser is signed out
    assert acc.authenticate(store, "gaotai", "高台 2026 年报表") is not None


def test_a_disabled_account_is_signed_out_at_once(desk):  # type: ignore[no-untyped-def]
    store, ws = desk
    c = client(store, ws)
    sign_in(c, "minle", PASSWORD)
    acc.disable(store, "minle", "调离岗位")
    assert c.get("/").headers["location"] == "/login"


def test_forms_too_big_or_not_forms_are_not_read(desk):  # type: ignore[no-untyped-def]
    store, ws = desk
    c = client(store, ws)
    token = csrf_of(c.get("/login").text)
    r = c.post(
        "/login",
        content=b"csrf=" + token.encode() + b"&username=minle&password=" + b"x" * (1 << 20),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 403
    r = c.post("/login", json={"csrf": token, "username": "minle", "password": PASSWORD})
    assert r.status_code == 403 and COOKIE not in c.cookies


def test_huizong_web_serves_on_a_free_port(tmp_path):  # type: ignore[no-untyped-def]
    """The command itself: a real server, its sign-in page and headers over HTTP, stopped cleanly."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "huizong.cli",
            "web",
            "--port",
            str(port),
            "--store",
            str(tmp_path / "store"),
            "--inputs",
            str(tmp_path / "inputs"),
            "--outputs",
            str(tmp_path / "outputs"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as r:
                    body, headers = r.read().decode("utf-8"), r.headers
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.3)
        assert "<h1>登录</h1>" in body and headers["X-Frame-Options"] == "DENY" and "server" not in headers
        assert "Secure" not in headers["set-cookie"] and "HttpOnly" in headers["set-cookie"]  # plain HTTP here
    finally:
        proc.terminate()
        proc.wait(30)


def test_a_session_ends_when_idle_too_long_and_after_twelve_hours(desk, monkeypatch):  # type: ignore[no-untyped-def]
    store, ws = desk

    def at(minutes: int) -> None:
        import datetime as dt

        t = dt.datetime(2026, 12, 3, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))) + dt.timedelta(minutes=minutes)
        monkeypatch.setenv("HUIZONG_NOW", t.isoformat())

    at(0)
    c = client(store, ws)
    sign_in(c, "minle", PASSWORD)
    at(29)
    assert c.get("/").status_code == 200  # renewed
    at(29 + 31)
    assert c.get("/").headers["location"] == "/login"  # idle for 31 minutes
    at(0)
    c = client(store, ws)
    sign_in(c, "minle", PASSWORD)
    for minutes in range(20, 12 * 60, 20):  # busy all day
        at(minutes)
        assert c.get("/").status_code == 200, minutes
    at(12 * 60 + 1)
    assert c.get("/").headers["location"] == "/login"


def on(store: Store, ws, address: str) -> TestClient:  # type: ignore[no-untyped-def]
    return TestClient(
        create_app(ws.settings, CONFIG, store),
        base_url="https://testserver",
        follow_redirects=False,
        client=(address, 50000),
    )


def test_a_flood_from_outside_never_locks_a_county_out_of_its_own_office(desk, monkeypatch):  # type: ignore[no-untyped-def]
    store, ws = desk
    monkeypatch.setenv("HUIZONG_NOW", "2024-08-01T09:00:00+08:00")
    office = on(store, ws, "10.0.0.5")
    sign_in(office, "minle", PASSWORD)  # the county's own office, known from its sign-ins
    monkeypatch.setenv("HUIZONG_NOW", "2024-08-01T10:00:00+08:00")
    for n in range(ss.MAX_PER_NAME + 2):  # from many addresses, a few each
        outsider = on(store, ws, f"203.0.113.{n}")
        token = csrf_of(outsider.get("/login").text)
        r = outsider.post("/login", data={"csrf": token, "username": "minle", "password": f"guess-{n}"})
        assert r.status_code in (200, 429)
    stranger = on(store, ws, "198.51.100.7")
    token = csrf_of(stranger.get("/login").text)
    r = stranger.post("/login", data={"csrf": token, "username": "minle", "password": PASSWORD})
    assert r.status_code == 429 and "常用的办公电脑" in r.text  # a new address waits out the flood
    assert sign_in(on(store, ws, "10.0.0.5"), "minle", PASSWORD) == "/"  # the office signs in
    import sqlalchemy as sa

    from huizong.ledger.tables import actions

    with store.engine.connect() as conn:
        floods = conn.execute(sa.select(actions.c.target).where(actions.c.action == "sign-in-flood")).all()
    assert [f.target for f in floods] == ["minle"]  # once in the window, for the admin


def test_the_old_password_is_throttled_and_counted_like_a_sign_in(desk):  # type: ignore[no-untyped-def]
    store, ws = desk
    c = client(store, ws)
    sign_in(c, "minle", PASSWORD)
    for n in range(ss.MAX_PER_PAIR):
        token = csrf_of(c.get("/password").text)
        r = c.post(
            "/password", data={"csrf": token, "old": f"guess-{n}", "new": "a new pass 2026", "again": "a new pass 2026"}
        )
        assert r.status_code == 200 and "原密码不正确" in r.text
    token = csrf_of(c.get("/password").text)
    r = c.post("/password", data={"csrf": token, "old": PASSWORD, "new": "a new pass 2026", "again": "a new pass 2026"})
    assert r.status_code == 429 and "分钟后再试" in r.text  # the right one, too soon: no oracle
    assert acc.authenticate(store, "minle", PASSWORD) is not None
    other = client(store, ws)  # and sign-in from that address waits too: one count
    token = csrf_of(other.get("/login").text)
    assert other.post("/login", data={"csrf": token, "username": "minle", "password": PASSWORD}).status_code == 429
