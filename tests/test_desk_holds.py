"""The desk holds: nothing of one county reaches another (its files, its submissions, its figures),
whatever a county uploads; ids of any size are not found, with the security headers."""

from __future__ import annotations

import re
import statistics

import pytest
from builders import BASE_VALUES, CONFIG, write_return
from test_desk_review import browser, csrf_of, upload

from huizong.desk import accounts as acc
from huizong.ledger.store import Store

PASSWORD = "desk review 2026"
SECRET = 7777.25  # 临泽县's A01: a figure no other county may see


@pytest.fixture
def desk(ws, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HUIZONG_NOW", "2024-08-01T10:00:00+08:00")
    ws.store.mkdir(parents=True, exist_ok=True)
    store = Store.open(ws.settings.db_url)
    for name, role, division in [
        ("minle", "county", "620722"),
        ("linze", "county", "620723"),
        ("zhangye", "city", "620700"),
    ]:
        acc.add_user(store, CONFIG.divisions, name, role, division, password=PASSWORD)
    return store, ws


def linze_uploads(store, ws, tmp_path):  # type: ignore[no-untyped-def]
    """临泽县 sends its return on the desk, under a name no one else knows."""
    path = write_return(tmp_path / "linze.xlsx", "620723", "2024H1", {**BASE_VALUES, "A01": SECRET})
    c = browser(store, ws, "linze")
    sid, page = upload(c, path, "临泽_内部底稿.xlsx")
    assert store.submissions(ids=[sid])[0]["status"] == "accepted", page
    return path, sid


def nothing_of_linze(page: str, linze_id: int) -> None:
    assert "临泽_内部底稿" not in page
    assert f"/returns/{linze_id}" not in page
    assert "7,777.25" not in page and "7777.25" not in page


def test_an_upload_headed_with_another_countys_code_shows_nothing_of_that_county(desk, tmp_path):  # type: ignore[no-untyped-def]
    store, ws = desk
    _, linze_id = linze_uploads(store, ws, tmp_path)
    theirs = write_return(tmp_path / "x.xlsx", "620723", "2024H1", {**BASE_VALUES, "A01": 1})
    c = browser(store, ws, "minle")
    _, page = upload(c, theirs, "民乐_误传.xlsx")
    assert "不能以民乐县的名义报送" in page
    nothing_of_linze(page, linze_id)
    assert "本期各版本" not in page or page.count("/returns/") <= 2


def test_a_byte_copy_of_another_countys_file_is_refused_as_theirs_naming_nothing_of_it(desk, tmp_path):  # type: ignore[no-untyped-def]
    store, ws = desk
    path, linze_id = linze_uploads(store, ws, tmp_path)
    c = browser(store, ws, "minle")
    sid, page = upload(c, path, "copy.xlsx")
    assert sid != linze_id
    assert "这是620723（临泽县）的报表，不能以民乐县的名义报送" in page
    assert "重复报送" not in page
    nothing_of_linze(page, linze_id)
    row = store.submissions(ids=[sid])[0]
    assert row["status"] == "rejected" and row["duplicate_of"] is None


def test_a_county_sees_its_rank_but_never_another_countys_figure(desk, tmp_path):  # type: ignore[no-untyped-def]
    store, ws = desk
    _, linze_id = linze_uploads(store, ws, tmp_path)
    c = browser(store, ws, "minle")
    sid, page = upload(c, write_return(tmp_path / "m.xlsx", "620722", "2024H1"), "民乐.xlsx")
    assert "本市排名" in page and "本市其他县区中位数" not in page
    assert re.search(r"<td class=\"num\">2/2</td>", page)  # 5,100 after 7,777.25
    nothing_of_linze(page, linze_id)
    reviewer = browser(store, ws, "zhangye")
    seen = reviewer.get(f"/returns/{sid}").text
    assert "本市其他县区中位数" in seen and "7777.25" in seen  # a reviewer sees the median (of one county)
    assert statistics.median([SECRET]) == SECRET


def test_peers_shown_to_everyone_when_the_bureau_says_so(desk, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    import dataclasses

    store, ws = desk
    from huizong.desk import web

    config = dataclasses.replace(
        CONFIG, rules=dataclasses.replace(CONFIG.rules, desk=dataclasses.replace(CONFIG.rules.desk, peers="everyone"))
    )
    real = web.create_app
    monkeypatch.setattr("test_desk_review.create_app", lambda s, _c, st: real(s, config, st))
    linze_uploads(store, ws, tmp_path)
    c = browser(store, ws, "minle")
    _, page = upload(c, write_return(tmp_path / "m.xlsx", "620722", "2024H1"), "民乐.xlsx")
    assert "本市其他县区中位数" in page and "7777.25" in page


@pytest.mark.parametrize(
    "path",
    [
        "/returns/9223372036854775808",
        "/returns/99999999999999999999999",
        "/returns/0",
        "/returns/-1",
        "/returns/abc",
        "/returns/9223372036854775808/feedback",
    ],
)
def test_ids_of_any_size_are_not_found_with_the_security_headers(desk, path):  # type: ignore[no-untyped-def]
    store, ws = desk
    c = browser(store, ws, "minle")
    r = c.get(path)
    assert r.status_code == 404, (path, r.status_code)
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    token = csrf_of(c.get("/").text)
    r = c.post(path.removesuffix("/feedback") + "/explain", data={"csrf": token, "note-99999999999999999999999": "x"})
    assert r.status_code == 404 and r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "name", ["报表.tmp", "报表.xlsx.crdownload", "报表.xlsx#", "~$报表.xlsx", ".报表.xlsx", "Thumbs.db"]
)
def test_every_upload_gets_a_verdict_whatever_its_name(desk, tmp_path, name):  # type: ignore[no-untyped-def]
    store, ws = desk
    c = browser(store, ws, "minle")
    sid, _ = upload(c, write_return(tmp_path / "m.xlsx", "620722", "2024H1"), name)
    row = store.submissions(ids=[sid])[0]
    assert row["status"] == "accepted" and row["inbox_path"].startswith("网上报送/620722/")
    waiting = [p for p in (ws.inputs / "网上报送").rglob("*") if p.is_file()]
    assert waiting == []  # nothing left in the inbox without a verdict


def test_a_non_return_upload_is_refused_with_the_reason(desk, tmp_path):  # type: ignore[no-untyped-def]
    store, ws = desk
    c = browser(store, ws, "minle")
    notes = tmp_path / "说明.tmp"
    notes.write_text("这是一份说明", encoding="utf-8")
    sid, page = upload(c, notes)
    assert store.submissions(ids=[sid])[0]["status"] == "rejected" and "不是 Excel 工作簿（文本文件）" in page


def test_words_in_a_link_are_never_printed_on_a_page(desk):  # type: ignore[no-untyped-def]
    store, ws = desk
    c = browser(store, ws, "minle")
    bait = "您的账号已冻结，请致电 400-000-0000"
    assert bait not in c.get("/?notice=" + bait).text
    reviewer = browser(store, ws, "zhangye")
    assert bait not in reviewer.get("/board?form=key-indicators&division=620700&period=2024H1&error=" + bait).text


def test_an_error_on_the_board_is_shown_once_to_its_user(desk):  # type: ignore[no-untyped-def]
    store, ws = desk
    reviewer = browser(store, ws, "zhangye")
    board = "/board?form=key-indicators&division=620700&period=2024H1"
    r = reviewer.post(
        "/periods",
        data={
            "csrf": csrf_of(reviewer.get(board).text),
            "action": "approve",
            "division": "620700",
            "form": "key-indicators",
            "period": "2024H1",
        },
    )
    assert r.status_code == 303
    first = reviewer.get(r.headers["location"]).text
    said = re.search(r'<p class="error" role="alert">([^<]+)</p>', first)
    assert said, first
    assert said.group(1) not in reviewer.get(r.headers["location"]).text  # once
    county = browser(store, ws, "minle")
    assert said.group(1) not in county.get(r.headers["location"]).text  # and only to them


def test_uploads_per_county_and_day_are_capped(desk, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    import dataclasses

    from huizong.desk import web

    store, ws = desk
    config = dataclasses.replace(
        CONFIG, rules=dataclasses.replace(CONFIG.rules, desk=dataclasses.replace(CONFIG.rules.desk, uploads_per_day=2))
    )
    real = web.create_app
    monkeypatch.setattr("test_desk_review.create_app", lambda s, _c, st: real(s, config, st))
    c = browser(store, ws, "minle")
    path = write_return(tmp_path / "m.xlsx", "620722", "2024H1")
    upload(c, path, "a.xlsx")
    upload(c, path, "b.xlsx")
    r = c.post("/upload", data={"csrf": csrf_of(c.get("/").text)}, files={"file": ("c.xlsx", path.read_bytes())})
    assert r.status_code == 429 and "已达每日上限（2 次" in r.text
    assert len(store.submissions(counties=["620722"])) == 2
    other = browser(store, ws, "linze")  # another county's quota is its own
    upload(other, write_return(tmp_path / "l.xlsx", "620723", "2024H1"), "l.xlsx")


def test_forwarded_headers_are_believed_from_no_one_by_default(monkeypatch):  # type: ignore[no-untyped-def]
    import uvicorn

    from huizong import cli

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw))
    monkeypatch.setattr("huizong.desk.web.create_app", lambda *a, **k: object())
    monkeypatch.setattr("huizong.pipeline.open_store", lambda s: None)
    for argv, believed, allowed in [
        (["web", "--port", "8123"], False, None),
        (["web", "--port", "8123", "--proxy", "127.0.0.1"], True, "127.0.0.1"),
    ]:
        with pytest.raises(SystemExit) as done:
            cli.main(argv)
        assert done.value.code in (0, None)
        assert seen["proxy_headers"] is believed and seen["forwarded_allow_ips"] == allowed
