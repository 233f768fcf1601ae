"""Kill a run with SIGKILL at many points; a clean rerun must end exactly as an uninterrupted run.

Each run happens in a forked child (GX is imported once, in the parent). The clock is fixed
with HUIZONG_NOW so that received_at, and so the CSVs, are deterministic. Compared: the
ledger (every table but `runs`), every file left in the inbox and kept in the store, the
CSVs byte for byte, and every workbook cell by cell (an .xlsx carries its save time).
"""

from __future__ import annotations

import csv
import hashlib
import multiprocessing
import os
import re
import shutil
import sqlite3
from pathlib import Path

import openpyxl
import pytest
from builders import CONFIG, write_return

from huizong import clock as batch
from huizong.demo import write_demo
from huizong.pipeline import run_batch
from huizong.settings import Settings

NOW = "2024-07-08T09:30:00+08:00"
KILLS = 22


def _child(root: str, kill_at: int, counter, prefect: bool) -> None:  # type: ignore[no-untyped-def]
    os.environ["HUIZONG_NOW"] = NOW
    if kill_at:
        os.environ["HUIZONG_FAULT_KILL_AT"] = str(kill_at)
    else:
        os.environ.pop("HUIZONG_FAULT_KILL_AT", None)
    batch.reset_fault_points()
    r = Path(root)
    if prefect:  # the path `huizong run` and `huizong serve` take every night
        from flows.nightly import huizong_run

        huizong_run(inputs=str(r / "inputs"), outputs=str(r / "outputs"), store=str(r / "store"), region="620700")
    else:
        settings = Settings.from_env(inputs=r / "inputs", outputs=r / "outputs", store=r / "store", region="620700")
        run_batch(settings, CONFIG)
    counter.value = batch._fault_points
    os._exit(0)


def run(root: Path, kill_at: int = 0, prefect: bool = False) -> tuple[int | None, int]:
    ctx = multiprocessing.get_context("fork")
    counter = ctx.Value("i", 0)
    p = ctx.Process(target=_child, args=(str(root), kill_at, counter, prefect))
    p.start()
    p.join(300)
    return p.exitcode, counter.value


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def snapshot(root: Path) -> dict[str, object]:
    out: dict[str, object] = {}
    db = sqlite3.connect(root / "store" / "huizong.db")
    try:
        for table, drop in [
            ("submissions", {"run_id"}),
            ("facts", {"id"}),
            ("issues", {"id"}),
            ("records", {"id"}),
            ("revisions", {"id"}),
        ]:
            cur = db.execute(f"select * from {table} order by 1")
            cols = [c[0] for c in cur.description]
            out[table] = [tuple(v for c, v in zip(cols, row, strict=True) if c not in drop) for row in cur]
        out["open_runs"] = db.execute("select count(*) from runs where finished_at is null").fetchone()[0]
        out["locks"] = db.execute("select count(*) from locks").fetchone()[0]
    finally:
        db.close()
    out["inbox"] = sorted(
        (p.relative_to(root).as_posix(), _sha(p)) for p in (root / "inputs").rglob("*") if p.is_file()
    )
    out["store"] = sorted(
        (p.relative_to(root).as_posix(), _sha(p))
        for p in (root / "store").rglob("*")
        if p.is_file() and not p.name.startswith("huizong.db")
    )
    for p in sorted((root / "outputs").rglob("*")):
        rel = p.relative_to(root).as_posix()
        if not p.is_file() or "/gx/" in rel:
            continue  # GX Data Docs carry run times
        if p.suffix == ".xlsx":
            wb = openpyxl.load_workbook(p)
            out[rel] = {ws.title: [[c.value for c in row] for row in ws.iter_rows()] for ws in wb.worksheets}
        elif p.suffix == ".html":  # what changed since the page was last written depends on when that was
            out[rel] = re.sub(r'<ul class="changes">.*?</ul>', "", p.read_text(encoding="utf-8"), flags=re.S)
        else:
            out[rel] = p.read_bytes()
    return out


@pytest.fixture(scope="module")
def demo_inbox(tmp_path_factory):  # type: ignore[no-untyped-def]
    inbox = tmp_path_factory.mktemp("demo") / "inputs"
    write_demo(inbox, CONFIG)
    return inbox


def fresh(base: Path, inbox: Path) -> Path:
    shutil.copytree(inbox, base / "inputs", copy_function=shutil.copy2)  # same bytes, same arrival order
    return base


@pytest.mark.slow
def test_kill_at_many_points_then_rerun_equals_an_uninterrupted_run(tmp_path, demo_inbox):  # type: ignore[no-untyped-def]
    ref = fresh(tmp_path / "ref", demo_inbox)
    code, points = run(ref)
    assert code == 0
    expected = snapshot(ref)
    assert expected["open_runs"] == 0 and expected["locks"] == 0
    assert points >= KILLS, f"a run passes only {points} fault points"
    at = sorted({round(1 + i * (points - 1) / (KILLS - 1)) for i in range(KILLS)})
    assert len(at) >= 20
    killed = 0
    for k in at:
        root = fresh(tmp_path / f"kill{k}", demo_inbox)
        code, _ = run(root, kill_at=k)
        killed += code == -9
        code, _ = run(root)
        assert code == 0, f"rerun after a kill at point {k} failed"
        got = snapshot(root)
        got.pop("open_runs")
        diff = [key for key in expected if key != "open_runs" and got.get(key) != expected[key]]
        assert not diff, f"after a kill at point {k} of {points}, these differ: {diff}"
    assert killed == len(at)


def test_a_third_run_after_recovery_changes_nothing(tmp_path, demo_inbox):  # type: ignore[no-untyped-def]
    root = fresh(tmp_path / "r", demo_inbox)
    assert run(root, kill_at=20)[0] == -9
    assert run(root)[0] == 0
    first = snapshot(root)
    assert run(root)[0] == 0
    assert snapshot(root) == first


@pytest.mark.slow
@pytest.mark.parametrize("kills", [(40, 2), (30, 5, 12), (45, 45)])
def test_runs_killed_one_after_another_then_a_plain_run_equals_an_uninterrupted_run(tmp_path, demo_inbox, kills):  # type: ignore[no-untyped-def]
    """Recovery converges whatever the number of interruptions: a run killed while finishing the
    work of a killed run leaves that work to the next (no feedback workbook lost for good)."""
    ref = fresh(tmp_path / "ref", demo_inbox)
    assert run(ref)[0] == 0
    expected = snapshot(ref)
    root = fresh(tmp_path / "killed", demo_inbox)
    for k in kills:
        assert run(root, kill_at=k)[0] in (-9, 0)
    assert run(root)[0] == 0
    got = snapshot(root)
    diff = [key for key in expected if key != "open_runs" and got.get(key) != expected[key]]
    assert not diff, f"after kills at {kills}, these differ: {diff}"
    assert got["open_runs"] == 0


def _night(root: str, now: str, kill_at: int) -> None:
    os.environ["HUIZONG_NOW"] = now
    os.environ["HUIZONG_FAULT_KILL_AT"] = str(kill_at) if kill_at else ""
    batch.reset_fault_points()
    r = Path(root)
    run_batch(Settings.from_env(inputs=r / "inputs", outputs=r / "outputs", store=r / "store", region="620700"), CONFIG)
    os._exit(0)


def test_a_file_whose_night_was_killed_is_received_that_night(tmp_path):  # type: ignore[no-untyped-def]
    """Landed on the due day; that night's run is killed before it commits; the next night's run
    commits it: received the night it was first seen, so on time."""
    (tmp_path / "inputs").mkdir()
    write_return(tmp_path / "inputs" / "民乐县.xlsx", "620722", "2024H1")
    ctx = multiprocessing.get_context("fork")
    for now, kill in (("2024-07-10T23:00:00+08:00", 2), ("2024-07-11T23:00:00+08:00", 0)):
        p = ctx.Process(target=_night, args=(str(tmp_path), now, kill))
        p.start()
        p.join(120)
        assert p.exitcode == (-9 if kill else 0)
    [row] = [r for r in csv.DictReader((tmp_path / "outputs" / "submissions.csv").open(encoding="utf-8-sig"))]
    assert row["received_at"] == "2024-07-10T23:00:00+08:00"
    [status] = [
        r["status"]
        for r in csv.DictReader(
            (tmp_path / "outputs" / "620700" / "key-indicators" / "reporting.csv").open(encoding="utf-8-sig")
        )
        if r["county_code"] == "620722"
    ]
    assert status == "on-time"


@pytest.fixture(scope="module")
def prefect_server():  # type: ignore[no-untyped-def]
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.mark.slow
def test_the_prefect_flow_killed_at_points_then_rerun_equals_an_uninterrupted_run(tmp_path, demo_inbox, prefect_server):  # type: ignore[no-untyped-def]
    """The same fault points on the Prefect path; its rerun ends as an uninterrupted in-process run."""
    ref = fresh(tmp_path / "ref", demo_inbox)
    code, points = run(ref)
    assert code == 0
    expected = snapshot(ref)
    whole = fresh(tmp_path / "whole", demo_inbox)
    code, flow_points = run(whole, prefect=True)
    assert code == 0 and flow_points == points  # the same steps, the same fault points
    got = snapshot(whole)
    assert not [k for k in expected if got.get(k) != expected[k]]
    for k in sorted({2, points // 4, points // 2, (3 * points) // 4, points - 1}):
        root = fresh(tmp_path / f"kill{k}", demo_inbox)
        code, _ = run(root, kill_at=k, prefect=True)
        assert code == -9
        code, _ = run(root, prefect=True)
        assert code == 0, f"Prefect rerun after a kill at point {k} failed"
        got = snapshot(root)
        got.pop("open_runs")
        diff = [key for key in expected if key != "open_runs" and got.get(key) != expected[key]]
        assert not diff, f"after a kill at point {k} of {points} (Prefect), these differ: {diff}"
