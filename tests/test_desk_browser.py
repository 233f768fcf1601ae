"""The desk's story in a real browser: Playwright driving Debian's Chromium against `huizong web`
on a free local port. Each step's screenshot goes to the test's folder, and to the user manual's
images (`docs/images/desk/`) when HUIZONG_SCREENSHOTS names that folder (`make docs`)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from builders import BASE_VALUES, CONFIG, write_return

from huizong.desk import accounts as acc
from huizong.ledger.store import Store

CHROMIUM = shutil.which("chromium")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is installed by `make test`"),
]
PASSWORD = "desk review 2026"
NOW = "2024-08-01T10:00:00+08:00"
OTHERS = ["620702", "620721", "620723", "620724", "620725"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(ws, monkeypatch):  # type: ignore[no-untyped-def]
    """`huizong web` on a free port over the workspace, five of 张掖's six counties already in."""
    monkeypatch.setenv("HUIZONG_NOW", NOW)
    for code in OTHERS:
        write_return(ws.drop(f"{code}.xlsx"), code, "2024H1")
    ws.run()
    store = Store.open(ws.settings.db_url)
    for name, role, division, display in [
        ("minle", "county", "620722", "王芳"),
        ("zhangye", "city", "620700", "李明"),
        ("gansu", "province", "620000", "赵强"),
    ]:
        acc.add_user(
            store,
            CONFIG.divisions,
            name,
            role,
            division,
            password=PASSWORD,
            display_name=display,
            phone="0936-5551234",
            email=f"{name}@example.cn",
        )
    port = _free_port()
    env = {**os.environ, "HUIZONG_NOW": NOW}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "huizong.cli",
            "web",
            "--port",
            str(port),
            "--inputs",
            str(ws.inputs),
            "--outputs",
            str(ws.outputs),
            "--store",
            str(ws.store),
            "--region",
            "620700",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/login", timeout=5).read()
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.3)
    try:
        yield base, store, ws
    finally:
        proc.terminate()
        proc.wait(30)
        assert proc.returncode is not None


@pytest.fixture
def chromium():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


class Shots:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.copy_to = Path(os.environ["HUIZONG_SCREENSHOTS"]) if os.environ.get("HUIZONG_SCREENSHOTS") else None

    def __call__(self, page, name: str) -> None:  # type: ignore[no-untyped-def]
        path = self.folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if self.copy_to is not None:
            self.copy_to.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, self.copy_to / path.name)


def sign_in(browser, base: str, username: str):  # type: ignore[no-untyped-def]
    page = browser.new_context(viewport={"width": 1100, "height": 800}, locale="zh-CN").new_page()
    page.goto(base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")
    return page


def upload(page, base: str, path: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(base + "/")
    page.set_input_files("#file", str(path))
    page.click("#upload button[type=submit]")
    page.wait_for_url("**/returns/*", timeout=60_000)


def test_the_story_in_a_browser(server, chromium, tmp_path):  # type: ignore[no-untyped-def]
    base, store, _ = server
    shot = Shots(tmp_path)

    # a county signs in and downloads its template
    login = chromium.new_page()
    login.goto(base + "/login")
    shot(login, "01-登录")
    county = sign_in(chromium, base, "minle")
    assert "逾期" in county.inner_text("table")
    shot(county, "02-县区首页")
    with county.expect_download() as got:
        county.click("text=下载模板 >> nth=0")
    download = got.value
    assert download.suggested_filename.startswith("民乐县_2024H1_") and download.suggested_filename.endswith(".xlsx")
    assert Path(download.path()).read_bytes()[:2] == b"PK"

    # a bad return: its errors at their cells
    b02 = f"F{10 + list(BASE_VALUES).index('B02')}"
    upload(
        county, base, write_return(tmp_path / "民乐县2024上半年.xlsx", "620722", "2024H1", {**BASE_VALUES, "B02": 40})
    )
    assert "退回待改" in county.inner_text(".verdict")
    row = county.locator("table.issues tr", has_text="大于省级科技计划项目申报数")
    assert row.locator("td.cell").inner_text() == b02
    # the feedback workbook's link fills in by itself (htmx), without a reload
    county.wait_for_selector("#feedback a", timeout=30_000)
    assert county.inner_text("#feedback") == "下载反馈表（问题已标在单元格上）"
    shot(county, "03-校验未通过")

    # fixed, with a warning the county explains, then submits
    upload(
        county,
        base,
        write_return(tmp_path / "民乐县2024上半年（改）.xlsx", "620722", "2024H1", {**BASE_VALUES, "G01": "227多"}),
    )
    assert "已报送" in county.inner_text(".verdict")
    county.fill("table.issues textarea >> nth=0", "技术市场统计口径为约数，实为 227 家")
    shot(county, "04-填写警告说明")
    county.click("text=提交说明")
    assert "技术市场统计口径为约数" in county.inner_text("table.issues .explained")

    # the reviewer returns it with a reason
    city = sign_in(chromium, base, "zhangye")
    city.goto(base + "/board?form=key-indicators&period=2024H1")
    shot(city, "05-审核表")
    city.click("tr:has(th:text('民乐县')) td >> nth=0 >> a")
    city.fill("#reason", "R&D 经费与统计局口径不一致，请核对后重报")
    shot(city, "06-退回县区")
    city.click("button[value=return]")
    assert "退回" in city.inner_text(".review-returned")

    # the county sees the reason and uploads a correction
    county.goto(base + "/")
    assert "R&D 经费与统计局口径不一致" in county.inner_text("body")
    shot(county, "07-县区看到退回理由")
    upload(
        county, base, write_return(tmp_path / "民乐县（更正）.xlsx", "620722", "2024H1", {**BASE_VALUES, "A01": 1.2})
    )
    assert "已报送" in county.inner_text(".verdict")

    # the reviewer accepts every county, approves the period and reports it
    for sid in [r["id"] for r in store.submissions(periods=["2024H1"]) if r["status"] == "accepted"]:
        city.goto(f"{base}/returns/{sid}")
        city.click("button[value=accept]")
        city.wait_for_selector(".review-accepted")
    shot(city, "08-审核数据对比")
    city.goto(base + "/board?form=key-indicators&period=2024H1")
    city.click("button[value=approve] >> nth=0")
    city.click("button[value=report] >> nth=0")
    assert "已上报" in city.inner_text("tfoot")
    shot(city, "09-审核通过并上报")

    # the province sees the city reported
    province = sign_in(chromium, base, "gansu")
    province.goto(base + "/board?form=key-indicators&period=2024H1")
    assert province.locator("tr:has(th:text('张掖市')) td[data-state=reported]").count() == 1
    shot(province, "10-省级审核表")

    # a late upload after approval waits for review
    upload(
        county, base, write_return(tmp_path / "民乐县（再更正）.xlsx", "620722", "2024H1", {**BASE_VALUES, "A01": 1.3})
    )
    assert "更正待市级审核" in county.inner_text("body")
    shot(county, "11-锁定后的更正")
    city.goto(base + "/board?form=key-indicators&period=2024H1")
    assert city.locator("text=更正待审").count() == 1
    shot(city, "12-更正待审")
    city.goto(base + "/late?form=key-indicators&division=620700&period=2024H1")
    shot(city, "13-催报")
    county.goto(base + "/password")
    assert "不再接收通知" in county.inner_text("body")
    shot(county, "14-通知设置")
