"""`huizong serve`: the settle rule on its own, then the real thing in a subprocess."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from builders import BASE_VALUES, write_return

from huizong.ledger.watch import Settler, counts


@pytest.mark.parametrize(
    "name, counted",
    [
        ("甘州区.xlsx", True),
        ("~$甘州区.xlsx", False),
        (".~lock.甘州区.xlsx#", False),
        ("报表.xlsx.crdownload", False),
        ("报表.tmp", False),
        (".DS_Store", False),
        ("民乐县.xls", True),
    ],
)
def test_which_files_count(name, counted):  # type: ignore[no-untyped-def]
    assert counts(Path(name)) is counted


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_settle_waits_for_files_to_hold_still_and_fires_once():
    clock = Clock()
    s = Settler(settle=5, clock=clock)
    assert not s.due({})  # nothing happened
    s.changed()
    assert not s.due({"a": (10, 1)})  # a file appeared
    clock.t = 3
    assert not s.due({"a": (20, 2)})  # still being copied: it grew
    clock.t = 7
    assert not s.due({"a": (20, 2), "b": (5, 1)})  # another file joined the drop
    clock.t = 11
    assert not s.due({"a": (20, 2), "b": (5, 1)})  # 4 s of quiet: not yet
    clock.t = 12.5
    assert s.due({"a": (20, 2), "b": (5, 1)})  # 5.5 s of quiet: one run for the whole drop
    clock.t = 100
    assert not s.due({"a": (20, 2), "b": (5, 1)})  # and only one


def test_settle_ignores_a_drop_that_vanished():
    clock = Clock()
    s = Settler(settle=1, clock=clock)
    s.changed()
    clock.t = 5
    assert not s.due({})
    assert not s.dirty


def _wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _runs(store: Path) -> list[tuple]:
    if not (store / "huizong.db").exists():
        return []
    db = sqlite3.connect(store / "huizong.db")
    try:
        return db.execute("select id, finished_at is not null, n_files from runs order by id").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()


@pytest.mark.slow
def test_serve_runs_on_dropped_files_once_and_stops_cleanly(tmp_path):  # type: ignore[no-untyped-def]
    from huizong.demo import write_demo

    inputs, outputs, store = tmp_path / "inputs", tmp_path / "outputs", tmp_path / "store"
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env |= {
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PYTHONUNBUFFERED": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    log = (tmp_path / "serve.log").open("w")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        web_port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "huizong.cli",
            "serve",
            "--settle",
            "2",
            "--inputs",
            str(inputs),
            "--outputs",
            str(outputs),
            "--store",
            str(store),
            "--city",
            "620700",
            "--web",
            f"127.0.0.1:{web_port}",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        _wait_for(lambda: "正在监视" in (tmp_path / "serve.log").read_text(), 240, "the watcher")
        staging = tmp_path / "staging"
        write_demo(staging)
        for p in sorted(staging.iterdir(), key=lambda p: p.stat().st_mtime):
            os.replace(p, inputs / p.name)  # dropped one after another, as an analyst copies them
        totals = outputs / "620700" / "key-indicators" / "2024H1" / "totals.csv"
        _wait_for(totals.exists, 240, "the outputs of the first run")
        _wait_for(lambda: len(_runs(store)) == 1 and _runs(store)[0][1], 120, "the first run to finish")
        time.sleep(6)  # settle interval three times over: no second run for the same drop
        assert [(r[1], r[2]) for r in _runs(store)] == [(True, 11)]
        first = totals.read_text(encoding="utf-8-sig")

        write_return(inputs / "山丹县_2024H1_更正.xlsx", "620725", "2024年上半年", BASE_VALUES)
        _wait_for(lambda: len(_runs(store)) == 2 and _runs(store)[1][1], 240, "the second run")
        # the run ends at its commit; its outputs are published right after, under a lock of their own
        _wait_for(lambda: totals.read_text(encoding="utf-8-sig") != first, 60, "the second run's outputs")
        second = totals.read_text(encoding="utf-8-sig")
        assert "620725 山丹县" not in second.splitlines()[1]  # 山丹县 is now in the totals
        _wait_for(lambda: (tmp_path / "serve.log").read_text().count("流程运行") == 2, 60, "the second run's end")
        text = (tmp_path / "serve.log").read_text()
        ran_in = re.findall(r"流程运行 \S+：Completed（进程 (\d+)）", text)
        assert ran_in == [str(proc.pid)] * 2, text[-3000:]  # both runs in the serving process: it stays warm
        ui = re.search(r"Prefect 界面：(\S+)", text)
        assert ui, text[-2000:]
        assert text.count("审核台：") == 1, text[-3000:]  # the desk's address, said once (by the desk)
        assert (tmp_path / "prefect" / "logs" / "server.log").is_file()  # with Prefect's own files,
        assert not list(store.glob("*.log"))  # not in the store
        with urllib.request.urlopen(ui.group(1), timeout=10) as r:
            assert r.status == 200 and b"<html" in r.read().lower()  # the UI is served
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/login", timeout=10) as r:
            assert "<h1>登录</h1>" in r.read().decode("utf-8")  # and the review desk beside it (--web)
        chromium = shutil.which("chromium")
        if chromium:  # and, in a browser, it reaches its API rather than the default port 4200
            dom = subprocess.run(
                [
                    chromium,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--virtual-time-budget=15000",
                    "--dump-dom",
                    ui.group(1) + "/dashboard",
                ],
                capture_output=True,
                text=True,
                timeout=120,
            ).stdout
            assert "Can't connect to Server API" not in dom and "4200" not in dom
            assert "<div" in dom
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=90)
        finally:
            if proc.poll() is None:
                proc.kill()
            log.close()
    assert code == 0, (tmp_path / "serve.log").read_text()[-3000:]
    assert "已停止" in (tmp_path / "serve.log").read_text()
    with pytest.raises(OSError):  # the desk stopped with it
        socket.create_connection(("127.0.0.1", web_port), timeout=5).close()


def test_flow_runs_go_without_prefects_heartbeat_unless_the_operator_sets_it(monkeypatch):  # type: ignore[no-untyped-def]
    """Prefect joins its heartbeat thread, asleep in whole seconds, at the end of every flow run: up to
    a second on an analyst's correction. Off by default; an operator's setting is kept."""
    from prefect.settings import get_current_settings

    from flows.nightly import HEARTBEAT_SETTINGS, without_heartbeat

    for name in HEARTBEAT_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    before = get_current_settings().flows.heartbeat_frequency
    assert before is not None
    with without_heartbeat():
        assert get_current_settings().flows.heartbeat_frequency is None
    assert get_current_settings().flows.heartbeat_frequency == before
    monkeypatch.setenv("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "60")
    with without_heartbeat():
        assert get_current_settings().flows.heartbeat_frequency == before


def test_the_server_log_is_placed_without_importing_prefect(tmp_path):  # type: ignore[no-untyped-def]
    # importing Prefect before the local server's PREFECT_API_URL is set fixes its settings without
    # it: every flow run would then go to a temporary server of its own and be cancelled
    code = "import sys, flows.server as s; print(s.server_log()); print('prefect' in sys.modules)"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "ph")}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    ).stdout.split()
    assert out == [str(tmp_path / "ph" / "logs" / "server.log"), "False"]
