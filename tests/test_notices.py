"""Notices end to end: a real SMTP server (aiosmtpd, on a free port) and a local HTTP server standing
in for the 企业微信 and 钉钉 robots (it checks 钉钉's signature). A 退回 sends one mail carrying the
reason; a correction's verdict reaches the county and the reviewers; reminders and 催报 go out on
their days under HUIZONG_NOW; a sender killed holding a notice leaves it to the next, which sends
it once; an unreachable server delays mail and nothing else."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from builders import BASE_VALUES, write_return
from conftest import cli
from test_desk_review import PASSWORD, csrf_of, post, upload

from huizong.catalog import DEFAULT_CONFIG, CatalogError, Config
from huizong.desk import accounts as acc
from huizong.ledger.store import Store
from huizong.ledger.tables import actions, notices
from huizong.notify import outbox
from huizong.notify.channels import dingtalk_signed
from huizong.notify.config import KINDS
from huizong.notify.sender import Sender
from huizong.pipeline import run_batch

SECRET = "SECdingtalk-test-secret"
KEY = Config.load().form_by_id["key-indicators"].name  # the key form's name, as subjects say it
SMTP_USER, SMTP_PASSWORD = "huizong@kjj.example", "smtp pass 2026"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mailbox:
    """What the SMTP server received: (recipients, parsed message)."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            (list(envelope.rcpt_tos), email.message_from_bytes(envelope.content, policy=email.policy.default))
        )
        return "250 OK"

    def to(self, address: str, about: str = "") -> list[Any]:
        """The messages to `address` (whose subject says `about`)."""
        return [m for rcpt, m in self.messages if address in rcpt and about in m["Subject"]]


def _auth(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = data.login == SMTP_USER.encode() and data.password == SMTP_PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


def start_smtp(port: int) -> tuple[Controller, Mailbox]:
    box = Mailbox()
    ctl = Controller(box, hostname="127.0.0.1", port=port, authenticator=_auth, auth_require_tls=False)
    ctl.start()
    return ctl, box


@pytest.fixture
def smtp():  # type: ignore[no-untyped-def]
    ctl, box = start_smtp(free_port())
    yield ctl.port, box
    ctl.stop()


class RobotServer:
    """Stands in for the robots: records each message; a 钉钉 message must carry a valid signature."""

    def __init__(self) -> None:
        self.got: list[tuple[str, dict[str, Any]]] = []
        self.bad_signatures = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                url = urlsplit(self.path)
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                answer = {"errcode": 0, "errmsg": "ok"}
                if url.path.startswith("/dingtalk"):
                    q = parse_qs(url.query)
                    stamp, sign = q.get("timestamp", [""])[0], q.get("sign", [""])[0]
                    mac = hmac.new(SECRET.encode(), f"{stamp}\n{SECRET}".encode(), hashlib.sha256).digest()
                    if (
                        not stamp
                        or sign != base64.b64encode(mac).decode()
                        or abs(time.time() * 1000 - int(stamp)) > 3600_000
                    ):
                        outer.bad_signatures += 1
                        answer = {"errcode": 310000, "errmsg": "sign not match"}
                if answer["errcode"] == 0:
                    outer.got.append((url.path, body))
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def texts(self, path: str) -> list[str]:
        return [b["text"]["content"] for p, b in self.got if p == path]


@pytest.fixture
def robots(monkeypatch):  # type: ignore[no-untyped-def]
    server = RobotServer()
    monkeypatch.setenv("HZ_TEST_WECOM", f"{server.url}/wecom?key=abc")
    monkeypatch.setenv("HZ_TEST_DINGTALK", f"{server.url}/dingtalk?access_token=xyz")
    monkeypatch.setenv("HZ_TEST_DINGTALK_SECRET", SECRET)
    yield server
    server.server.shutdown()


ROBOTS = """
[[robot]]
name = "市局审核群"
kind = "wecom"
url_env = "HZ_TEST_WECOM"
division = "620700"
events = ["waiting", "digest"]

[[robot]]
name = "民乐县工作群"
kind = "dingtalk"
url_env = "HZ_TEST_DINGTALK"
secret_env = "HZ_TEST_DINGTALK_SECRET"
division = "620722"
events = ["returned", "judged", "reminder", "overdue"]
"""


def notices_config(root: Path, port: int, robots: bool = True, **extra: str) -> Config:
    """The shipped configuration with its notices pointed at the test's servers."""
    shutil.copytree(DEFAULT_CONFIG, root, dirs_exist_ok=True)
    text = (DEFAULT_CONFIG / "catalog" / "notices.toml").read_text(encoding="utf-8")
    for old, new in {
        'host = ""': 'host = "127.0.0.1"',
        "port = 465": f"port = {port}",
        'security = "tls"': 'security = "none"',
        'user = ""': f'user = "{SMTP_USER}"',
        'sender = ""': 'sender = "张掖市科技局 <huizong@kjj.example>"',
        'desk_url = ""': 'desk_url = "https://huizong.kjj.example/"',
        "retry_minutes = [1, 5, 15, 60, 180, 720]": "retry_minutes = [1, 5]",
        **extra,
    }.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    (root / "catalog" / "notices.toml").write_text(text + (ROBOTS if robots else ""), encoding="utf-8")
    return Config.load(root)


@pytest.fixture
def people(ws, monkeypatch):  # type: ignore[no-untyped-def]
    """A ledger with a county filler (with e-mail) in 民乐县 and 临泽县, a city reviewer, and no notices off."""
    monkeypatch.setenv("HUIZONG_SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("HUIZONG_NOW", "2024-08-01T10:00:00+08:00")
    ws.store.mkdir(parents=True, exist_ok=True)
    store = Store.open(ws.settings.db_url)
    for name, role, division, mail in [
        ("minle", "county", "620722", "minle@county.example"),
        ("linze", "county", "620723", "linze@county.example"),
        ("zhangye", "city", "620700", "review@kjj.example"),
    ]:
        acc.add_user(store, Config.load().divisions, name, role, division, password=PASSWORD, email=mail)
    return store


def desk_client(ws, config: Config, store: Store, username: str, notify: bool = False):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from huizong.desk.web import create_app

    c = TestClient(
        create_app(ws.settings, config, store, notify=notify), base_url="https://testserver", follow_redirects=False
    )
    c.__enter__()
    r = c.post("/login", data={"csrf": csrf_of(c.get("/login").text), "username": username, "password": PASSWORD})
    assert r.status_code == 303, r.text
    return c


def rows(store: Store, **where: str) -> list[dict[str, Any]]:
    q = sa.select(notices).order_by(notices.c.id)
    for k, v in where.items():
        q = q.where(notices.c[k] == v)
    return store._all(q)


@pytest.mark.both_stores
def test_a_return_sent_back_mails_the_county_its_reason_once_and_tells_its_group(ws, people, smtp, robots, tmp_path):  # type: ignore[no-untyped-def]
    port, box = smtp
    config = notices_config(tmp_path / "config", port)
    store = people
    write_return(ws.drop("民乐县.xlsx"), "620722", "2024H1")
    run_batch(ws.settings, config)
    sender = Sender(store, lambda: config, "620700")
    sender.tick()  # the planner's first look sets its mark (what came before is not news), and 催报 临泽县
    assert box.to("minle@county.example", KEY) == [] and box.to(
        "linze@county.example", f"【催报】临泽县 2024年上半年{KEY}"
    )
    before = len(box.messages)
    city = desk_client(ws, config, store, "zhangye")
    [row] = store.submissions(counties=["620722"])
    reason = "研发经费支出与上年相差 80%，请核实后重报"
    r = post(city, f"/returns/{row['id']}/review", f"/returns/{row['id']}", action="return", reason=reason)
    assert r.status_code == 303
    [queued] = [n for n in rows(store, kind="returned") if n["channel"] == "email"]
    assert queued["state"] == "queued" and queued["address"] == "minle@county.example"
    assert len(box.messages) == before  # queued with the review, sent by the sender: the reviewer never waits for SMTP

    _, sent, failed = sender.tick()
    mails = box.to("minle@county.example", "退回")
    assert len(mails) == 1 and failed == 0 and sent == 2
    m = mails[0]
    assert m["Subject"] == f"【退回】民乐县 2024年上半年{KEY}"
    assert m["From"] == "张掖市科技局 <huizong@kjj.example>" and m["Message-ID"].startswith("<notice-")
    body = m.get_content()
    assert reason in body and f"https://huizong.kjj.example/returns/{row['id']}" in body and "民乐县.xlsx" in body
    assert len(box.messages) == before + 1
    [group] = [t for t in robots.texts("/dingtalk") if "退回" in t]  # signed, plain text
    assert reason in group and robots.bad_signatures == 0
    assert [t for t in robots.texts("/wecom") if "退回" in t] == []  # the city's group: waiting and digest only
    assert {n["state"] for n in rows(store, kind="returned")} == {"sent"}
    ids = {str(n["id"]) for n in rows(store, kind="returned")}
    journal = [j for j in store._all(sa.select(actions).where(actions.c.action == "notice-sent")) if j["target"] in ids]
    assert len(journal) == 2 and {json.loads(j["detail"])["to"] for j in journal} == {
        "minle@county.example",
        "民乐县工作群",
    }

    assert sender.tick() == (0, 0, 0) and len(box.messages) == before + 1  # once


def test_a_correction_is_judged_to_the_county_and_waits_for_the_reviewers(ws, people, smtp, robots, tmp_path):  # type: ignore[no-untyped-def]
    port, box = smtp
    config = notices_config(tmp_path / "config", port)
    store = people
    sender = Sender(store, lambda: config, "620700")
    sender.tick()
    county = desk_client(ws, config, store, "minle")
    bad = write_return(tmp_path / "民乐县.xlsx", "620722", "2024H1", {**BASE_VALUES, "B02": 40})
    first, _ = upload(county, bad)
    assert store.submissions(ids=[first])[0]["status"] == "rejected"
    sender.tick()
    assert box.to("minle@county.example", "校验") == []  # a first refusal: the county saw it on the page
    assert box.to("review@kjj.example", "待审") == []  # nothing waits for review

    good = write_return(tmp_path / "民乐县（改）.xlsx", "620722", "2024H1")
    second, _ = upload(county, good)
    sender.tick()
    [judged] = box.to("minle@county.example", "校验")
    assert judged["Subject"] == f"【校验通过】民乐县 2024年上半年{KEY}" and f"/returns/{second}" in judged.get_content()
    [waiting] = box.to("review@kjj.example", "待审")
    assert waiting["Subject"] == f"【待审】民乐县 2024年上半年{KEY}（更正）"
    assert "民乐县（改）.xlsx" in waiting.get_content()
    assert len([t for t in robots.texts("/wecom") if "待审" in t]) == 1
    assert len([t for t in robots.texts("/dingtalk") if "校验结果" in t]) == 1
    assert sender.tick()[1] == 0  # nothing twice


def test_reminders_and_overdue_notices_go_out_on_their_days(ws, people, smtp, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    port, box = smtp
    config = notices_config(tmp_path / "config", port, robots=False)
    store = people
    monkeypatch.setenv("HUIZONG_NOW", "2025-06-20T09:00:00+08:00")
    write_return(ws.drop("临泽县.xlsx"), "620723", "2025H1")  # 临泽县 is in before the deadline (2025-07-10)
    run_batch(ws.settings, config)
    sender = Sender(store, lambda: config, "620700")

    def on(day: str) -> list[str]:
        monkeypatch.setenv("HUIZONG_NOW", f"{day}T09:00:00+08:00")
        before = len(box.messages)
        sender.tick(everything=True)
        return [m["Subject"] for _, m in box.messages[before:] if f"2025年上半年{KEY}" in m["Subject"]]

    assert on("2025-07-04") == []  # six days before: not yet
    got = on("2025-07-05")
    assert got == [f"【提醒】2025年上半年{KEY}将于 2025-07-10 截止"]
    assert "还有 5 天" in box.to("minle@county.example", KEY)[-1].get_content()
    assert box.to("linze@county.example", KEY) == []  # 临泽县 is in
    assert on("2025-07-06") == on("2025-07-08") == []  # once per reminder day
    assert on("2025-07-09") == [f"【提醒】2025年上半年{KEY}将于 2025-07-10 截止"]
    assert on("2025-07-10") == []
    assert on("2025-07-11") == [f"【催报】民乐县 2025年上半年{KEY}已逾期"]
    assert "逾期 1 天" in box.to("minle@county.example", KEY)[-1].get_content()
    assert on("2025-07-12") == on("2025-07-13") == []
    assert on("2025-07-14") == [f"【催报】民乐县 2025年上半年{KEY}已逾期"]  # every 3 days
    assert on("2025-08-15") == []  # 36 days late: 催报 has stopped by itself
    assert box.to("review@kjj.example") == [] or all("每日摘要" in m["Subject"] for m in box.to("review@kjj.example"))


def test_the_reviewers_digest_once_a_day_after_its_hour(ws, people, smtp, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    port, box = smtp
    config = notices_config(tmp_path / "config", port, robots=False)
    store = people
    write_return(ws.drop("临泽县.xlsx"), "620723", "2024H1")
    run_batch(ws.settings, config)
    sender = Sender(store, lambda: config, "620700")
    monkeypatch.setenv("HUIZONG_NOW", "2024-08-01T08:00:00+08:00")
    sender.tick(everything=True)
    assert [m for m in box.to("review@kjj.example") if "每日摘要" in m["Subject"]] == []  # before 08:30
    monkeypatch.setenv("HUIZONG_NOW", "2024-08-01T08:31:00+08:00")
    sender.tick(everything=True)
    sender.tick(everything=True)
    [digest] = [m for m in box.to("review@kjj.example") if "每日摘要" in m["Subject"]]
    assert digest["Subject"] == "【每日摘要】张掖市 2024-08-01"
    body = digest.get_content()
    assert f"2024年上半年{KEY}（2024-07-10 截止）" in body and "待审：临泽县" in body and "民乐县" in body
    assert [m for m in box.to("minle@county.example") if "每日摘要" in m["Subject"]] == []  # reviewers only


@pytest.mark.both_stores
def test_a_sender_killed_holding_a_notice_leaves_it_to_the_next_which_sends_it_once(ws, people, smtp, tmp_path):  # type: ignore[no-untyped-def]
    port, box = smtp
    config = notices_config(tmp_path / "config", port, robots=False)
    store = people
    write_return(ws.drop("民乐县.xlsx"), "620722", "2024H1")
    run_batch(ws.settings, config)
    city = desk_client(ws, config, store, "zhangye")
    [row] = store.submissions(counties=["620722"])
    post(city, f"/returns/{row['id']}/review", f"/returns/{row['id']}", action="return", reason="请补充项目明细")
    # a sender process claims the notice and is killed before it sends: queued, claimed, never sent
    script = (
        "import os, signal\n"
        "from huizong.ledger.store import Store\nfrom huizong.notify import outbox\n"
        f"store = Store.open({ws.settings.db_url!r})\n"
        "assert len(outbox.claim(store)) == 1\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == -signal.SIGKILL
    [held] = rows(store, kind="returned")
    assert held["state"] == "sending" and held["claimed_by"].endswith(f":{held['claimed_by'].rsplit(':', 1)[1]}")
    assert box.messages == []
    sender = Sender(store, lambda: config, "620700")  # the restart: the dead claim is taken back at once
    assert sender.send() == (1, 0)
    assert len(box.to("minle@county.example")) == 1 and "请补充项目明细" in box.messages[0][1].get_content()
    assert sender.send() == (0, 0) and len(box.messages) == 1


def test_an_unreachable_mail_server_delays_mail_and_nothing_else(ws, people, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    port = free_port()  # nothing listens there yet
    config = notices_config(tmp_path / "config", port, robots=False)
    store = people
    city = desk_client(ws, config, store, "zhangye", notify=True)  # the desk's own sender thread, failing
    county = desk_client(ws, config, store, "minle", notify=False)
    started = time.monotonic()
    sid, page = upload(county, write_return(tmp_path / "民乐县.xlsx", "620722", "2024H1"))
    assert "已报送" in page
    r = post(city, f"/returns/{sid}/review", f"/returns/{sid}", action="return", reason="数据有误")
    assert r.status_code == 303 and time.monotonic() - started < 60
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        [n] = [n for n in rows(store, kind="returned") if n["channel"] == "email"]
        if n["attempts"]:
            break
        time.sleep(0.2)
    assert n["state"] == "queued" and n["attempts"] == 1 and "不可用" in n["error"] and n["due_at"] > n["created_at"]
    city.__exit__(None, None, None)

    ctl, box = start_smtp(port)  # the server is back; after the backoff the notice goes
    try:
        monkeypatch.setenv("HUIZONG_NOW", "2024-08-01T10:02:00+08:00")
        sent, failed = Sender(store, lambda: config, "620700").send()
        assert sent >= 1 and failed == 0
        [mail] = box.to("minle@county.example", "退回")
        assert "数据有误" in mail.get_content()
    finally:
        ctl.stop()


def test_retries_end_in_failed_with_a_journal_row(ws, people, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    config = notices_config(tmp_path / "config", free_port(), robots=False)
    store = people
    with store.begin() as conn:
        outbox.queue(conn, [outbox.Notice("t:1", "test", "email", "minle@county.example", "s", "b", "620722")])
    sender = Sender(store, lambda: config, "620700")
    for minute in ("10:00", "10:01", "10:07"):  # retry_minutes = [1, 5]: three attempts
        monkeypatch.setenv("HUIZONG_NOW", f"2024-08-01T{minute}:00+08:00")
        assert sender.send() == (0, 1)
    [n] = rows(store, key="t:1")
    assert n["state"] == "failed" and n["attempts"] == 3
    [j] = store._all(sa.select(actions).where(actions.c.action == "notice-failed"))
    assert j["target"] == str(n["id"]) and "不可用" in j["reason"]
    monkeypatch.setenv("HUIZONG_NOW", "2024-08-02T10:00:00+08:00")
    assert sender.send() == (0, 0)


def test_a_user_who_opts_out_gets_no_mail_and_urge_queues_for_the_late(ws, people, smtp, tmp_path):  # type: ignore[no-untyped-def]
    port, box = smtp
    config = notices_config(tmp_path / "config", port, robots=False)
    store = people
    minle = desk_client(ws, config, store, "minle")
    page = minle.get("/password").text
    assert "不再接收通知" in page and "minle@county.example" in page
    assert post(minle, "/notices", "/password", on="0").status_code == 303
    assert "恢复接收通知" in minle.get("/password").text
    city = desk_client(ws, config, store, "zhangye")
    late = city.get("/late?form=key-indicators&period=2024H1").text
    assert "发送催报通知" in late
    r = post(
        city,
        "/urge",
        "/late?form=key-indicators&period=2024H1",
        form="key-indicators",
        division="620700",
        period="2024H1",
    )
    assert r.status_code == 303 and "已排队发送 1 条催报通知" in city.get(r.headers["location"]).text
    r = post(
        city,
        "/urge",
        "/late?form=key-indicators&period=2024H1",
        form="key-indicators",
        division="620700",
        period="2024H1",
    )
    assert "今天已催报" in city.get(r.headers["location"]).text  # a second click the same day sends nothing more
    Sender(store, lambda: config, "620700").send()
    assert box.to("minle@county.example") == []  # opted out
    [mail] = box.to("linze@county.example")
    assert mail["Subject"] == f"【催报】临泽县 2024年上半年{KEY}已逾期" and "逾期 22 天" in mail.get_content()
    js = store._all(sa.select(actions).where(actions.c.action == "urge").order_by(actions.c.id))
    assert [(j["actor"], json.loads(j["detail"])["notices"]) for j in js] == [("zhangye", 1), ("zhangye", 0)]
    # a county may not urge
    r = post(minle, "/urge", "/", form="key-indicators", division="620700", period="2024H1")
    assert r.status_code == 403


def test_notify_test_sends_one_message_and_says_why_not(ws, people, smtp, robots, tmp_path):  # type: ignore[no-untyped-def]
    port, box = smtp
    notices_config(tmp_path / "config", port)
    ran = cli(
        "notify",
        "test",
        "--to",
        "me@kjj.example",
        "--robot",
        "民乐县工作群",
        "--config",
        str(tmp_path / "config"),
        "--store",
        str(ws.store),
    )
    assert ran.returncode == 0, ran.stderr
    [mail] = box.to("me@kjj.example")
    assert mail["Subject"] == "【测试】汇总通知设置" and "张掖市科技局" in mail.get_content()
    assert len(robots.texts("/dingtalk")) == 1
    down = tmp_path / "down"
    notices_config(down, free_port(), robots=False)
    ran = cli("notify", "test", "--to", "me@kjj.example", "--config", str(down), "--store", str(ws.store))
    assert ran.returncode == 1 and ran.stderr.count("\n") == 1 and "邮件服务器 127.0.0.1:" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_dingtalk_signature_is_the_documented_one() -> None:
    # 钉钉's example: sign = Base64(HmacSHA256(secret, timestamp + "\n" + secret)), URL-encoded
    url = dingtalk_signed("https://oapi.dingtalk.com/robot/send?access_token=T", "SEC123", 1700000000000)
    mac = base64.b64encode(hmac.new(b"SEC123", b"1700000000000\nSEC123", hashlib.sha256).digest()).decode()
    from urllib.parse import quote_plus

    assert url == f"https://oapi.dingtalk.com/robot/send?access_token=T&timestamp=1700000000000&sign={quote_plus(mac)}"


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (("[email]", '[email]\ncolour = "red"'), "不认识的设置 colour"),
        (('subject = "【退回】{{ county }}', 'subject = "【退回】{{ countyy }}'), "countyy"),
        (('security = "tls"', 'security = "ssl"'), "security"),
        (("days_before = [5, 1]", "days_before = [0]"), "days_before"),
        (("[text.test]", '[text.nonsense]\nsubject = "x"\nbody = "y"\n[text.test]'), "没有这种通知"),
        (('digest_at = "08:30"', 'digest_at = "25:00"'), "digest_at"),
    ],
)
def test_a_wrong_notices_toml_is_refused_naming_the_file(tmp_path, change, said):  # type: ignore[no-untyped-def]
    root = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG, root)
    path = root / "catalog" / "notices.toml"
    text = path.read_text(encoding="utf-8")
    assert change[0] in text
    path.write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    with pytest.raises(CatalogError) as e:
        Config.load(root)
    assert "notices.toml" in str(e.value) and said in str(e.value)


def test_notices_are_off_without_a_server_and_the_plan_queues_nothing(ws, people) -> None:  # type: ignore[no-untyped-def]
    config = Config.load()
    assert not config.notices.enabled and set(config.notices.texts) == set(KINDS)
    write_return(ws.drop("民乐县.xlsx"), "620722", "2024H1")
    run_batch(ws.settings, config)
    assert Sender(people, lambda: config, "620700").tick(everything=True) == (0, 0, 0)
    assert rows(people) == []
