"""Publishing split from the run (issue 22, item 6): a run ends at its commit and feedback
workbooks, queueing what its outputs owe in the ledger; the outputs are written after it, under a
lock of their own, many runs' at once, and whatever a publisher left unwritten is written by the
next one. The desk's verdicts never wait for publishing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from builders import BASE_VALUES, CONFIG, write_return
from test_desk_review import PASSWORD, XLSX, csrf_of

from huizong.desk import accounts as acc
from huizong.ledger import due
from huizong.ledger import store as st
from huizong.ledger.runlock import run_lock
from huizong.pipeline import publish_owed, run_batch


def _outputs(root: Path) -> dict[str, bytes]:
    """Every output but the workbooks' zip (whose save time differs) and the GX docs: CSVs byte for byte."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix == ".csv" and "/gx/" not in p.as_posix()
    }


def test_a_run_without_publishing_owes_its_outputs_and_the_next_publishing_writes_them(ws, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HUIZONG_NOW", "2024-07-08T09:30:00+08:00")
    write_return(ws.drop("民乐县.xlsx"), "620722", "2024H1")
    write_return(ws.drop("临泽县.xlsx"), "620723", "2024H1", {**BASE_VALUES, "A01": 321})
    s = run_batch(ws.settings, CONFIG, publish=False)
    assert [d.status for d in s.decisions] == ["accepted", "accepted"]
    assert not (ws.outputs / "submissions.csv").exists()  # only the feedback workbooks were written
    store = st.Store.open(ws.settings.db_url)
    owed = due.owed(store)
    assert owed.changed == {("key-indicators", "2024H1"): {"620722", "620723"}}
    # a second run with nothing new publishes what the first owed
    s2 = run_batch(ws.settings, CONFIG)
    assert s2.decisions == [] and due.waiting(store) == 0
    (row_a, row_b) = ws.csv("submissions.csv")
    assert {row_a["county_code"], row_b["county_code"]} == {"620722", "620723"}
    # equal to a run that published at once
    from conftest import Workspace

    (tmp_path / "ref").mkdir()
    ref = Workspace(tmp_path / "ref")
    write_return(ref.drop("民乐县.xlsx"), "620722", "2024H1")
    write_return(ref.drop("临泽县.xlsx"), "620723", "2024H1", {**BASE_VALUES, "A01": 321})
    ref.run()
    got, want = _outputs(ws.outputs), _outputs(ref.outputs)
    assert got.keys() == want.keys() and len(got) > 3
    for k in want:
        if k.endswith("submissions.csv"):  # carries the run ids and arrival times
            continue
        assert got[k] == want[k], k


def test_publishing_clears_only_what_it_wrote(ws, monkeypatch):  # type: ignore[no-untyped-def]
    """A run that commits while the outputs are written queues rows the publisher did not take:
    they stay for the next publishing."""
    import huizong.publish.outputs as outputs

    write_return(ws.drop("民乐县.xlsx"), "620722", "2024H1")
    run_batch(ws.settings, CONFIG, publish=False)
    store = st.Store.open(ws.settings.db_url)
    real = outputs.publish

    def publish_and_meanwhile_a_run_commits(*a, **k):  # type: ignore[no-untyped-def]
        with store.begin() as conn:
            due.queue(conn, {("key-indicators", "2024H1"): {"620723"}})
        return real(*a, **k)

    monkeypatch.setattr(outputs, "publish", publish_and_meanwhile_a_run_commits)
    publish_owed(store, CONFIG, ws.settings)
    assert due.owed(store).changed == {("key-indicators", "2024H1"): {"620723"}}
    monkeypatch.undo()
    publish_owed(store, CONFIG, ws.settings)
    assert due.waiting(store) == 0


def test_a_publisher_killed_mid_write_leaves_nothing_stale(ws):  # type: ignore[no-untyped-def]
    """Killed while writing: its lock and its temporary file are taken back by the next
    publishing (a dead pid), the queue written; a live writer's temporary file is left alone."""
    write_return(ws.drop("民乐县.xlsx"), "620722", "2024H1")
    run_batch(ws.settings, CONFIG, publish=False)
    store = st.Store.open(ws.settings.db_url)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    folder = ws.outputs / "620700"
    folder.mkdir(parents=True)
    stale = folder / f".huizong.{pid}.abc123.tmp"
    stale.write_bytes(b"half a workbook")
    alive = folder / f".huizong.{os.getpid()}.def456.tmp"
    alive.write_bytes(b"being written")
    import socket

    with store.begin() as conn:  # the lock row a killed publisher leaves behind
        conn.execute(
            st.sa.insert(st.locks).values(
                name="publish",
                owner=f"x:{pid}",
                host=socket.gethostname(),
                pid=pid,
                acquired_at=st.sa.func.current_timestamp(),
                heartbeat_at=st.sa.func.current_timestamp(),
            )
        )
    written = publish_owed(store, CONFIG, ws.settings, wait=5)
    assert not stale.exists() and alive.exists()
    assert due.waiting(store) == 0 and ws.outputs / "submissions.csv" in written
    with run_lock(store, name="publish") as recovered:
        assert recovered is False  # released cleanly this time


@pytest.mark.both_stores
def test_a_verdict_never_waits_for_the_outputs(ws, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """While the outputs of one upload are being written (held here), the next upload gets its
    verdict; once let go, one publishing writes both."""
    from fastapi.testclient import TestClient

    import huizong.desk.web as web

    monkeypatch.setenv("HUIZONG_NOW", "2024-08-01T10:00:00+08:00")
    ws.store.mkdir(parents=True, exist_ok=True)
    store = st.Store.open(ws.settings.db_url)
    acc.add_user(store, CONFIG.divisions, "minle", "county", "620722", password=PASSWORD)
    acc.add_user(store, CONFIG.divisions, "linze", "county", "620723", password=PASSWORD)
    hold, writing = threading.Event(), threading.Event()
    uploading = threading.Event()
    startup: list[str] = []  # each app's catch-up publishing at start, let through: "began", then "ended"
    real = web.publish_outputs

    def held(*a, **k):  # type: ignore[no-untyped-def]
        if uploading.is_set():
            writing.set()
            assert hold.wait(60)
            return real(*a, **k)
        startup.append("began")
        try:
            return real(*a, **k)
        finally:
            startup.append("ended")

    monkeypatch.setattr(web, "publish_outputs", held)
    clients = []
    for name in ("minle", "linze"):
        c = TestClient(create_app_for(ws, store), base_url="https://testserver", follow_redirects=False)
        c.__enter__()
        r = c.post("/login", data={"csrf": csrf_of(c.get("/login").text), "username": name, "password": PASSWORD})
        assert r.status_code == 303
        clients.append(c)
    minle, linze = clients
    deadline = time.monotonic() + 60  # both apps' catch-up done: it must not write the first upload's outputs
    while startup.count("ended") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert startup.count("ended") == 2
    uploading.set()
    a = write_return(tmp_path / "民乐县.xlsx", "620722", "2024H1")
    b = write_return(tmp_path / "临泽县.xlsx", "620723", "2024H1", {**BASE_VALUES, "A01": 321})
    r = minle.post(
        "/upload", data={"csrf": csrf_of(minle.get("/").text)}, files={"file": (a.name, a.read_bytes(), XLSX)}
    )
    assert re.fullmatch(r"/returns/\d+", r.headers["location"])
    assert writing.wait(30)  # the first upload's outputs are being written, and held there
    t = time.monotonic()
    r = linze.post(
        "/upload", data={"csrf": csrf_of(linze.get("/").text)}, files={"file": (b.name, b.read_bytes(), XLSX)}
    )
    assert re.fullmatch(r"/returns/\d+", r.headers["location"]), r.headers["location"]
    assert "校验结果：已报送" in linze.get(r.headers["location"]).text
    assert time.monotonic() - t < 30
    assert not (ws.outputs / "submissions.csv").exists()  # still held
    hold.set()
    deadline = time.monotonic() + 60
    while due.waiting(store) and time.monotonic() < deadline:
        time.sleep(0.1)
    for c in clients:
        c.__exit__(None, None, None)
    assert due.waiting(store) == 0
    assert {r["county_code"] for r in ws.csv("submissions.csv")} == {"620722", "620723"}


def create_app_for(ws, store):  # type: ignore[no-untyped-def]
    from huizong.desk.web import create_app

    return create_app(ws.settings, CONFIG, store, notify=False)
