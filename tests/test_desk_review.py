"""The desk's whole story over HTTP, on real workbooks: a county uploads, sees its errors at their
cells, explains a warning; the city returns, accepts, approves and reports; the province sees it;
a late upload waits as a correction. And the attacks: other divisions' ids, forged forms, huge
and hostile uploads, names with HTML and paths."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path
from urllib.parse import quote, unquote

import openpyxl
import pytest
from builders import BASE_VALUES, CONFIG, write_return
from fastapi.testclient import TestClient

from huizong.desk import accounts as acc
from huizong.desk.web import create_app
from huizong.ledger import review as rv
from huizong.ledger.store import Store

PASSWORD = "desk review 2026"
OTHERS = ["620702", "620721", "620723", "620724", "620725"]  # 张掖's counties besides 民乐县 (620722)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def desk(ws, monkeypatch):  # type: ignore[no-untyped-def]
    return make_desk(ws, monkeypatch)


def make_desk(ws, monkeypatch):  # type: ignore[no-untyped-def]
    """Two counties of 张掖市 and one of 兰州市, their cities' reviewers and 甘肃省's, on a fixed clock."""
    monkeypatch.setenv("HUIZONG_NOW", "2024-08-01T10:00:00+08:00")
    ws.store.mkdir(parents=True, exist_ok=True)
    store = Store.open(ws.settings.db_url)
    users = [
        ("minle", "county", "620722"),
        ("linze", "county", "620723"),
        ("zhangye", "city", "620700"),
        ("lanzhou", "city", "620100"),
        ("gansu", "province", "620000"),
    ]
    for name, role, division in users:
        acc.add_user(store, CONFIG.divisions, name, role, division, password=PASSWORD, phone="0936-1234567")
    return store, ws


def browser(store: Store, ws, username: str) -> TestClient:  # type: ignore[no-untyped-def]
    c = TestClient(create_app(ws.settings, CONFIG, store), base_url="https://testserver", follow_redirects=False)
    c.__enter__()  # the app's lifespan: warm readers, the runs' thread
    token = csrf_of(c.get("/login").text)
    r = c.post("/login", data={"csrf": token, "username": username, "password": PASSWORD})
    assert r.status_code == 303 and r.headers["location"] == "/", r.text
    return c


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, html
    return m.group(1)


def upload(c: TestClient, path: Path, name: str | None = None) -> tuple[int, str]:
    """Upload a file as the page does; returns the new return's id and its page."""
    token = csrf_of(c.get("/").text)
    r = c.post("/upload", data={"csrf": token}, files={"file": (name or path.name, path.read_bytes(), XLSX)})
    assert r.status_code == 303, r.text
    m = re.fullmatch(r"/returns/(\d+)", r.headers["location"])
    assert m, r.headers["location"]
    return int(m.group(1)), c.get(r.headers["location"]).text


def post(c: TestClient, url: str, page_url: str, **data: str):  # type: ignore[no-untyped-def]
    return c.post(url, data={"csrf": csrf_of(c.get(page_url).text), **data})


def state_of(c: TestClient, county: str, period: str = "2024H1") -> str:
    page = c.get(f"/board?form=key-indicators&period={period}").text
    rows = re.findall(r"<tr><th>([^<]+)</th>(.*?)</tr>", page, re.S)
    name = CONFIG.divisions.get(county).name  # type: ignore[union-attr]
    cells = next(body for n, body in rows if n == name)
    m = re.search(
        rf'data-state="([a-z-]+)">\s*(?:<a href="[^"]*">)?[^<]*(?:</a>)?\s*(?:<br><small>{period[:4]})?', cells
    )
    assert m, cells
    return m.group(1)


@pytest.mark.both_stores
def test_the_whole_story(desk, tmp_path):  # type: ignore[no-untyped-def]
    store, ws = desk
    for code in OTHERS:
        write_return(ws.drop(f"{code}.xlsx"), code, "2024H1")
    ws.run()
    county, city, province = (browser(store, ws, u) for u in ("minle", "zhangye", "gansu"))

    # the county downloads its prefilled template
    home = county.get("/").text
    assert "2024年上半年" in home and "2024-07-10" in home and "逾期" in home
    t = county.get("/template?form=key-indicators&period=2024H1")
    assert t.status_code == 200 and t.content[:2] == b"PK"
    assert t.headers["content-disposition"].startswith("attachment; filename*=utf-8''" + quote("民乐县_2024H1_"))
    sheet = openpyxl.load_workbook(io.BytesIO(t.content)).active
    assert (sheet["C3"].value, sheet["C4"].value, sheet["C5"].value) == ("民乐县科学技术局", "620722", "2024年上半年")

    # a bad return: its errors at their cells, a feedback workbook to download
    bad = write_return(tmp_path / "民乐县2024上半年.xlsx", "620722", "2024H1", {**BASE_VALUES, "B02": 40})
    sid, page = upload(county, bad)
    assert "校验结果：退回待改" in page, page
    b02 = f"F{10 + list(BASE_VALUES).index('B02')}"  # the default shape: Z01 on row 10, 本期累计 in column F
    assert f'<td class="cell">{b02}</td>\n<td>省级科技计划项目立项数（项）</td>' in page, page
    assert "40 大于省级科技计划项目申报数" in page
    assert ("反馈表正在生成" in page) != (f'<a href="/returns/{sid}/feedback">' in page)
    fb = county.get(f"/returns/{sid}/feedback")
    deadline = time.monotonic() + 60
    while fb.status_code == 404 and time.monotonic() < deadline:  # written by the run after its verdicts
        time.sleep(0.2)
        fb = county.get(f"/returns/{sid}/feedback")
    assert fb.status_code == 200 and fb.content[:2] == b"PK"
    marked = openpyxl.load_workbook(io.BytesIO(fb.content))
    assert any(c.comment is not None for ws_ in marked.worksheets for row in ws_.iter_rows() for c in row)

    # fixed, with a warning the county explains
    fixed = write_return(tmp_path / "民乐县2024上半年（改）.xlsx", "620722", "2024H1", {**BASE_VALUES, "G01": "227多"})
    sid2, page = upload(county, fixed)
    assert 'class="verdict status-accepted"' in page and "value-approximate" not in page and "警告" in page
    issue_id = next(i["id"] for i in store.issues_for([sid2]) if i["severity"] == "warning")
    r = post(
        county,
        f"/returns/{sid2}/explain",
        f"/returns/{sid2}",
        **{f"note-{issue_id}": "技术市场统计口径为约数，实为 227 家"},
    )
    assert r.status_code == 303
    assert "技术市场统计口径为约数" in county.get(f"/returns/{sid2}").text
    assert state_of(city, "620722") == "pending"

    # the reviewer returns it with a reason; the county sees the reason
    r = post(
        city,
        f"/returns/{sid2}/review",
        f"/returns/{sid2}",
        action="return",
        reason="<b>R&D 经费</b>与统计局口径不一致，请核对",
    )
    assert r.status_code == 303
    assert state_of(city, "620722") == "returned"
    home = county.get("/").text
    assert "&lt;b&gt;R&amp;D 经费&lt;/b&gt;与统计局口径不一致" in home and "<b>R&D" not in home

    # the county uploads a correction; the reviewer accepts every county and approves
    sid3, page = upload(
        county, write_return(tmp_path / "民乐县（更正）.xlsx", "620722", "2024H1", {**BASE_VALUES, "A01": 1.2})
    )
    assert 'class="verdict status-accepted"' in page and state_of(city, "620722") == "pending"
    assert "本市排名" in city.get(f"/returns/{sid3}").text
    r = post(
        city,
        "/periods",
        "/board?form=key-indicators&period=2024H1",
        action="approve",
        form="key-indicators",
        division="620700",
        period="2024H1",
    )
    assert "还有 6 个地区未报或未审核通过" in _error(city, r)
    for row in store.submissions(periods=["2024H1"]):
        if row["status"] == "accepted":
            assert (
                post(city, f"/returns/{row['id']}/review", f"/returns/{row['id']}", action="accept").status_code == 303
            )
    assert {state_of(city, c) for c in [*OTHERS, "620722"]} == {"passed"}
    r = post(
        city,
        "/periods",
        "/board?form=key-indicators&period=2024H1",
        action="approve",
        form="key-indicators",
        division="620700",
        period="2024H1",
    )
    assert r.status_code == 303 and "error=" not in r.headers["location"]
    (a,) = rv.approvals_of(store, "key-indicators", ["620700"], ["2024H1"]).values()
    r = post(
        city,
        "/periods",
        "/board?form=key-indicators&period=2024H1",
        action="report",
        form="key-indicators",
        division="620700",
        period="2024H1",
        version=str(a.version),
    )
    assert r.status_code == 303 and "error=" not in r.headers["location"]

    # the province sees the city reported
    page = province.get("/board?form=key-indicators&period=2024H1").text
    assert re.search(r"<th>张掖市</th>\s*<td class=\"state-ok\" data-state=\"reported\">", page), page

    # a late upload after approval waits for review; the reviewer accepts it with a reason
    sid4, page = upload(
        county, write_return(tmp_path / "民乐县（再更正）.xlsx", "620722", "2024H1", {**BASE_VALUES, "A01": 1.3})
    )
    assert "本期已审核通过并锁定" in page
    assert f'<a href="/returns/{sid4}">更正待审</a>' in city.get("/board?form=key-indicators&period=2024H1").text
    r = post(city, f"/returns/{sid4}/review", f"/returns/{sid4}", action="accept", reason="")
    assert r.status_code == 409 and "请填写理由" in r.text
    r = post(city, f"/returns/{sid4}/review", f"/returns/{sid4}", action="accept", reason="统计局反馈更正 R&D 经费")
    assert r.status_code == 303
    assert store.submissions(ids=[sid4])[0]["status"] == "accepted"
    assert store.submissions(ids=[sid3])[0]["status"] == "superseded"

    # un-approving needs a reason; the journal holds every action with its address
    r = post(
        city,
        "/periods",
        "/board?form=key-indicators&period=2024H1",
        action="unapprove",
        form="key-indicators",
        division="620700",
        period="2024H1",
        version=str(a.version + 1),
        reason="",
    )
    assert "请填写理由" in _error(city, r)
    done = [(j["actor"], j["action"]) for j in acc.journal(store) if j["action"] not in ("user-add", "sign-in")]
    assert ("minle", "upload") in done and ("minle", "explain") in done and ("zhangye", "return") in done
    assert ("zhangye", "approve") in done and ("zhangye", "report") in done and ("zhangye", "accept") in done
    for c in (county, city, province):
        c.__exit__(None, None, None)


def _error(c: TestClient, r) -> str:  # type: ignore[no-untyped-def]
    """The error an action was refused with: on the board it sends the user back to, or on its own page."""
    if r.status_code != 303:
        assert r.status_code == 403, r.text
        return str(r.text)
    assert "error=" in r.headers["location"] and "%" not in r.headers["location"]  # a key, never the words
    m = re.search(r'<p class="error" role="alert">([^<]+)</p>', c.get(r.headers["location"]).text)
    assert m, r.headers["location"]
    return m.group(1)


def test_no_one_reaches_another_divisions_returns(desk, tmp_path):  # type: ignore[no-untyped-def]
    store, ws = desk
    write_return(ws.drop("民乐县.xlsx"), "620722", "2024H1")
    ws.run()
    (sid,) = [r["id"] for r in store.submissions()]
    linze, lanzhou, minle = (browser(store, ws, u) for u in ("linze", "lanzhou", "minle"))
    for c in (linze, lanzhou):
        for url in (
            f"/returns/{sid}",
            f"/returns/{sid}/feedback",
            "/template?form=key-indicators&period=2024H1&county=620722",
        ):
            r = c.get(url)
            assert r.status_code == 404 and "民乐县" not in r.text, url
        for url in (f"/returns/{sid}/explain", f"/returns/{sid}/review"):
            r = post(c, url, "/", action="return", reason="x", **{"note-1": "x"})
            assert r.status_code == 404, url
    assert lanzhou.get("/board?form=key-indicators&division=620700").status_code == 404
    for query in ("period=2024M03", "period=x", "period=2024H1&form=tech-contracts", "period=<b>"):
        for page in ("/board", "/late"):
            r = lanzhou.get(f"{page}?{query}")
            assert r.status_code == 404 and "报告期不正确" in r.text, (page, query)
    assert minle.get("/board?form=key-indicators&division=620700").status_code == 403
    r = post(lanzhou, "/periods", "/", action="approve", form="key-indicators", division="620700", period="2024H1")
    assert "您无权审核" in _error(lanzhou, r)
    for form, period in (
        ("nope", "2024H1"),
        ("key-indicators", "2024M03"),
        ("key-indicators", "'; drop"),
        ("tech-contracts", "2024H1"),
    ):
        r = post(lanzhou, "/periods", "/", action="approve", form=form, division="620100", period=period)
        assert r.status_code in (303, 400, 403) and (
            r.status_code == 400 or "没有这张报表或这个报告期" in _error(lanzhou, r)
        ), r.text
    r = post(minle, f"/returns/{sid}/review", "/", action="accept", reason="")
    assert r.status_code == 409 and "只有审核人员可以审核" in r.text
    assert rv.reviews_for(store, [sid]) == {} and rv.approvals_of(store, None, ["620700"]) == {}
    # a county cannot upload another county's return under its own name
    _, page = upload(linze, write_return(tmp_path / "x.xlsx", "620722", "2024H1"))
    assert "这是620722（民乐县）的报表，不能以临泽县的名义报送" in page and 'class="verdict status-rejected"' in page
    assert store.submissions(ids=[sid])[0]["status"] == "accepted"  # 民乐县's return stands
    for c in (linze, lanzhou, minle):
        c.__exit__(None, None, None)


def test_forged_and_missing_csrf_tokens_change_nothing(desk, tmp_path):  # type: ignore[no-untyped-def]
    store, ws = desk
    write_return(ws.drop("民乐县.xlsx"), "620722", "2024H1")
    ws.run()
    (sid,) = [r["id"] for r in store.submissions()]
    city, minle = browser(store, ws, "zhangye"), browser(store, ws, "minle")
    for token in ("", "forged", "x" * 43):
        r = city.post(f"/returns/{sid}/review", data={"csrf": token, "action": "return", "reason": "x"})
        assert r.status_code == 403
        r = city.post(
            "/periods",
            data={
                "csrf": token,
                "action": "approve",
                "form": "key-indicators",
                "division": "620700",
                "period": "2024H1",
            },
        )
        assert r.status_code == 403
        r = minle.post("/upload", data={"csrf": token}, files={"file": ("a.xlsx", b"PK\x03\x04", XLSX)})
        assert r.status_code == 403
    assert rv.reviews_for(store, [sid]) == {} and len(store.submissions()) == 1
    assert not [p for p in (ws.inputs / rv.UPLOADS).rglob("*") if p.is_file()]  # nothing left behind
    for c in (city, minle):
        c.__exit__(None, None, None)


def test_huge_uploads_are_refused_while_streaming(desk):  # type: ignore[no-untyped-def]
    """On a real server: 2 GB declared is refused before a byte is read; 2 GB sent without a length
    is refused soon after the cap, and nothing of it stays on disk."""
    import http.client
    import socket
    import threading
    import time

    import uvicorn

    from huizong.desk import sessions as ss

    store, ws = desk
    token, session = ss.sign_in(store, "minle", PASSWORD, "127.0.0.1")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(ws.settings, CONFIG, store), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    boundary = "huizongboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{session.csrf}\r\n--{boundary}\r\n'
        'Content-Disposition: form-data; name="file"; filename="big.xlsx"\r\n\r\n'
    ).encode()
    headers = {"content-type": f"multipart/form-data; boundary={boundary}", "cookie": f"huizong_session={token}"}
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("POST", "/upload", body=head, headers={**headers, "content-length": str(2 << 30)})
        r = c.getresponse()
        assert r.status == 413 and "上限" in r.read().decode("utf-8")
        c.close()

        sent = 0
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.putrequest("POST", "/upload")
        for k, v in {**headers, "transfer-encoding": "chunked"}.items():
            c.putheader(k, v)
        c.endheaders()
        chunk = b"\0" * (1 << 20)
        body = b"%x\r\n%s\r\n" % (len(chunk), chunk)
        c.send(b"%x\r\n%s\r\n" % (len(head), head))
        try:
            while sent < (2 << 30):
                c.send(body)
                sent += len(chunk)
        except OSError:
            pass  # the server answered and closed the connection
        assert sent < CONFIG.limits.file_bytes + (32 << 20), sent  # stopped soon after the cap
        with socket.create_connection(("127.0.0.1", port), timeout=10):
            pass  # still up
        assert not [p for p in (ws.inputs / rv.UPLOADS).rglob("*") if p.is_file()]
    finally:
        server.should_exit = True
        thread.join(30)


HOSTILE = [
    ("zip-bomb.xlsx", None),
    ("not-a-workbook.xlsx", b"%PDF-1.4 this is a pdf\n"),
    ("empty.xlsx", b""),
    ("truncated.xlsx", None),
]


def test_hostile_files_and_names_through_the_upload(desk, tmp_path):  # type: ignore[no-untyped-def]
    import zipfile

    store, ws = desk
    minle = browser(store, ws, "minle")
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/worksheets/sheet1.xml", b"<" + b"a" * (10 << 20) + b">")
    good = write_return(tmp_path / "good.xlsx", "620722", "2024H1").read_bytes()
    bodies = {"zip-bomb.xlsx": bomb.getvalue(), "truncated.xlsx": good[: len(good) // 2]}
    for name, body in HOSTILE:
        path = tmp_path / name
        path.write_bytes(bodies.get(name, body or b""))
        sid, page = upload(minle, path)
        row = store.submissions(ids=[sid])[0]
        assert row["status"] == "rejected" and rv.owner_of(row) == "620722", (name, row)
        assert 'class="verdict status-rejected"' in page
    # a name with HTML and a path: kept harmless on disk and on the page
    sid, page = upload(minle, tmp_path / "good.xlsx", name='../../<img src=x onerror="alert(1)">民乐.xlsx')
    assert "<img" not in page.replace("\n", " "), re.findall(r".{80}<img.{80}", page)
    row = store.submissions(ids=[sid])[0]
    assert row["status"] == "accepted" and row["inbox_path"].startswith(f"{rv.UPLOADS}/620722/")
    assert ".." not in row["inbox_path"] and (ws.store / row["stored_as"]).is_file()
    assert row["file"] == "_img src=x onerror=%22alert(1)%22_民乐.xlsx" and row["file"] in page
    assert minle.get("/").status_code == 200
    minle.__exit__(None, None, None)


@pytest.mark.both_stores
def test_two_reviewers_at_once_never_overwrite_each_other(desk):  # type: ignore[no-untyped-def]
    import threading

    from huizong.desk import actions

    store, ws = desk
    write_return(ws.drop("民乐县.xlsx"), "620722", "2024H1")
    ws.run()
    (row,) = store.submissions()
    acc.add_user(store, CONFIG.divisions, "zhangye2", "city", "620700", password=PASSWORD)
    one, two = acc.find(store, "zhangye"), acc.find(store, "zhangye2")
    assert one is not None and two is not None
    results: list[str] = []
    barrier = threading.Barrier(2)

    def act(user: acc.User, what: str) -> None:
        barrier.wait()
        try:
            if what == "return":
                actions.send_back(store, CONFIG, user, row, "数据有误", None, "10.0.0.1")
            else:
                actions.accept(store, CONFIG, ws.settings, user, row, "", None, "10.0.0.2")
            results.append(what)
        except actions.Refused as e:
            results.append(f"refused: {e}")

    threads = [threading.Thread(target=act, args=(one, "return")), threading.Thread(target=act, args=(two, "accept"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done = [r for r in results if not r.startswith("refused")]
    assert len(done) == 1 and len(results) == 2, results
    assert "处理" in next(r for r in results if r.startswith("refused"))
    (review,) = rv.reviews_for(store, [row["id"]]).values()
    assert review["state"] == {"return": rv.RETURNED, "accept": rv.ACCEPTED}[done[0]]
    journal = [j for j in acc.journal(store, str(row["id"])) if j["action"] in ("return", "accept")]
    assert [j["action"] for j in journal] == done
    # the same for approving a period twice at once: one approval, one refusal
    approvals: list[str] = []

    def approve() -> None:
        barrier.wait()
        try:
            with store.begin() as conn:
                rv.approve(conn, "key-indicators", "620700", "2024H1", "x")
            approvals.append("ok")
        except rv.ReviewError as e:
            approvals.append(type(e).__name__)

    threads = [threading.Thread(target=approve) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert approvals.count("ok") == 1 and len(rv.approvals_of(store, "key-indicators", ["620700"])) == 1


def test_an_upload_whose_run_fails_is_kept_for_the_next_run(desk, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """A fault of the machine during the run (disk full): the county is told to look later, the
    file stays in the inbox, and the next run records it as the county's."""
    import huizong.desk.web as web

    store, ws = desk

    def disk_full(*_a, **_k):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(web, "run_batch", disk_full)
    minle = browser(store, ws, "minle")
    path = write_return(tmp_path / "民乐县.xlsx", "620722", "2024H1")
    r = minle.post(
        "/upload", data={"csrf": csrf_of(minle.get("/").text)}, files={"file": (path.name, path.read_bytes(), XLSX)}
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/?notice=")
    assert "处理出错" not in unquote(r.headers["location"])  # the words stay on the server
    assert "已收到 民乐县.xlsx，处理出错，校验结果稍后在下方列出" in minle.get(r.headers["location"]).text
    minle.__exit__(None, None, None)
    (kept,) = list((ws.inputs / rv.UPLOADS / "620722").rglob("*.xlsx"))
    assert kept.read_bytes() == path.read_bytes()
    monkeypatch.undo()
    ws.run()  # the nightly run (or the next upload) takes it: nothing lost
    (row,) = store.submissions()
    assert row["status"] == "accepted" and row["county_code"] == "620722" and rv.owner_of(row) == "620722"


def test_the_provinces_late_list_names_the_cities_not_reported_and_their_reviewers(desk):  # type: ignore[no-untyped-def]
    store, ws = desk
    province = browser(store, ws, "gansu")
    page = province.get("/late?form=key-indicators&period=2024H1").text
    rows = re.findall(r"<tr><td[^>]*>([^<]+)</td><td[^>]*class=\"state-([a-z]+)\">([^<]+)</td>", page)
    assert ("张掖市", "none", "市级审核中") in rows and ("兰州市", "none", "市级审核中") in rows
    assert "zhangye" in page and "0936-1234567" in page  # 张掖's reviewer, to call
    province.__exit__(None, None, None)


def test_what_uploads_leave_in_the_inbox_is_tidied_and_nothing_waiting_is_touched(tmp_path):  # type: ignore[no-untyped-def]
    import os

    from huizong.desk.uploads import tidy

    uploads = tmp_path / rv.UPLOADS
    old = time.time() - 7200
    county = uploads / "620722"
    (county / "20240801-100000-aaaaaa").mkdir(parents=True)  # taken by a run: empty
    waiting = county / "20240801-100001-bbbbbb"
    waiting.mkdir()
    (waiting / "民乐县.xlsx").write_bytes(b"PK")  # not yet taken: kept
    (county / ".cut.part").write_bytes(b"half")  # an upload cut off by a killed server
    (county / ".live.part").write_bytes(b"streaming")  # one still streaming
    for p in (county / "20240801-100000-aaaaaa", waiting, county / ".cut.part"):
        os.utime(p, (old, old))
    assert tidy(uploads) == 2
    assert sorted(p.name for p in county.iterdir()) == [".live.part", "20240801-100001-bbbbbb"]
    assert (waiting / "民乐县.xlsx").read_bytes() == b"PK"
