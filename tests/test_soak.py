"""A simulated year of nightly runs: drops of every period (returns, corrections, duplicates, bad and
odd files, monthly contract lists), runs killed at random fault points and by signal at random
times (the main process alone, like `kill -9`, and the whole process group, like a power cut),
the next night going on from whatever was left; then a clean replay of the same drops. The
ledger, the store, the inbox, every CSV and workbook, and `huizong status` of every period must
equal the replay's. Each night has its own clock: receipt times are part of what is compared.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import random
import shutil
import signal
import sqlite3
import time
from pathlib import Path

import openpyxl
import pytest
from builders import BASE_VALUES, CONFIG, write_return
from conftest import cli
from test_forms import contract, write_contracts

from huizong import clock
from huizong.pipeline import run_batch
from huizong.settings import Settings

pytestmark = pytest.mark.slow

COUNTIES = ["620702", "620721", "620722", "620723", "620724", "620725"]
NAMES = {
    "620702": "甘州区",
    "620721": "肃南县",
    "620722": "民乐县",
    "620723": "临泽县",
    "620724": "高台县",
    "620725": "山丹县",
}


def _drops(src: Path) -> list[tuple[str, list[Path]]]:
    """(night, files to drop that evening), every file written once into `src`."""
    nights: list[tuple[str, list[Path]]] = []

    def ret(name: str, county: str, period: str, **changes: object) -> Path:
        return write_return(src / name, county, period, {**BASE_VALUES, **changes})

    def contracts(name: str, county: str, month: int, n: int) -> Path:
        rows = [
            contract(
                f"{county}2024{month:02d}{k:02d}",
                registered=dt.datetime(2024, month, 10 + k),
                signed=dt.datetime(2024, month, 1),
            )
            for k in range(n)
        ]
        return write_contracts(src / name, county, f"2024年{month}月", rows)

    src.mkdir(parents=True)
    nights.append(
        (
            "2024-04-05T23:00:00+08:00",
            [ret(f"{NAMES[c]}_Q1.xlsx", c, "2024Q1", A01=1000) for c in COUNTIES[:3]]
            + [contracts("民乐县_1月合同.xlsx", "620722", 1, 3)],
        )
    )
    dup = src / "dup"
    dup.mkdir()
    nights.append(
        (
            "2024-04-10T23:00:00+08:00",
            [ret(f"{NAMES[c]}_Q1.xlsx", c, "2024Q1", A01=1100) for c in COUNTIES[3:5]]
            + [Path(shutil.copy(src / "民乐县_Q1.xlsx", dup / "民乐县_Q1(1).xlsx"))],
        )
    )
    word = src / "工作总结.xlsx"
    word.write_bytes(b"PK\x03\x04not really")
    os.utime(word, (1_600_000_000, 1_600_000_000))
    nights.append(
        (
            "2024-04-15T23:00:00+08:00",
            [
                ret("山丹县_Q1.xlsx", "620725", "2024Q1", A01=900),
                ret("甘州区_Q1_更正.xlsx", "620702", "2024Q1", A01=1200),
                word,
            ],
        )
    )
    nights.append(
        (
            "2024-07-08T23:00:00+08:00",
            [ret(f"{NAMES[c]}_H1.xlsx", c, "2024H1", A01=3000) for c in COUNTIES[:4]]
            + [contracts(f"民乐县_{m}月合同.xlsx", "620722", m, 2) for m in range(2, 7)],
        )
    )
    nights.append(
        (
            "2024-07-10T23:00:00+08:00",
            [ret("高台县_H1.xlsx", "620724", "2024H1", A01=3100), ret("山丹县_H1.xlsx", "620725", "2024H1", B02=99)],
        )
    )
    nights.append(("2024-07-20T23:00:00+08:00", [ret("山丹县_H1_更正.xlsx", "620725", "2024H1", A01=2900)]))
    nights.append(("2024-10-10T23:00:00+08:00", [ret(f"{NAMES[c]}_Q3.xlsx", c, "2024Q3", A01=5000) for c in COUNTIES]))
    nights.append(
        ("2025-01-20T23:00:00+08:00", [ret(f"{NAMES[c]}_FY.xlsx", c, "2024FY", A01=7000) for c in COUNTIES[:5]])
    )
    nights.append(("2025-01-25T23:00:00+08:00", [ret("山丹县_FY.xlsx", "620725", "2024FY", A01=6500)]))
    return nights


def _night(root: str, now: str, kill_at: int) -> None:
    os.setpgrp()  # its own process group, so that a power cut can take the group
    os.environ["HUIZONG_NOW"] = now
    os.environ["HUIZONG_DOCS"] = "0"
    os.environ["HUIZONG_FAULT_KILL_AT"] = str(kill_at) if kill_at else ""
    clock.reset_fault_points()
    r = Path(root)
    run_batch(
        Settings.from_env(inputs=r / "inputs", outputs=r / "outputs", store=r / "store", region="620700", quiet="0"),
        CONFIG,
    )
    os._exit(0)


def _run(root: Path, now: str, kill: tuple[str, float] | None) -> None:
    """One night's run: to its end, or killed at a fault point or by a signal after some seconds."""
    ctx = multiprocessing.get_context("fork")
    kill_at = int(kill[1]) if kill and kill[0] == "point" else 0
    p = ctx.Process(target=_night, args=(str(root), now, kill_at))
    p.start()
    if kill and kill[0] in ("signal", "group"):
        p.join(kill[1])
        if p.is_alive():
            assert p.pid is not None
            if kill[0] == "group":
                os.killpg(p.pid, signal.SIGKILL)  # a power cut: the run and its workers
            else:
                os.kill(p.pid, signal.SIGKILL)  # kill -9 of the main process alone
    p.join(300)
    time.sleep(0.2)  # orphaned workers see their pipes close and go


def _world(root: Path, nights: list[tuple[str, list[Path]]], src: Path, rnd: random.Random | None) -> int:
    (root / "inputs").mkdir(parents=True)
    kills = 0
    for now, files in nights:
        for f in files:
            shutil.copy2(f, root / "inputs" / f.name)  # the same bytes and times in both worlds
        kill = None
        if rnd is not None and rnd.random() < 0.7:
            kind = rnd.choice(["point", "signal", "group"])
            kill = (kind, rnd.randint(1, 45)) if kind == "point" else (kind, rnd.uniform(0.3, 4.0))
            kills += 1
        _run(root, now, kill)
    _run(root, "2025-01-26T23:00:00+08:00", None)  # a last, quiet night finishes what is left
    return kills


def _state(root: Path) -> dict[str, object]:
    out: dict[str, object] = {}
    con = sqlite3.connect(root / "store" / "huizong.db")
    out["ledger"] = con.execute(
        "select file, inbox_path, sha256, size, received_at, county_code, period, form, status, errors, warnings,"
        " reason, stored_as, duplicate_of, superseded_by from submissions order by id"
    ).fetchall()
    out["facts"] = con.execute(
        'select submission_id, indicator, "column", number from facts order by 1, 2, 3'
    ).fetchall()
    out["records"] = con.execute("select submission_id, row, key, data from records order by 1, 2").fetchall()
    out["issues"] = con.execute("select submission_id, code, cell, message from issues order by 1, 2, 3").fetchall()
    out["open_runs"] = con.execute("select count(*) from runs where finished_at is null").fetchone()
    con.close()
    store = root / "store"
    out["store"] = sorted(
        str(p.relative_to(store))
        for p in store.rglob("*")
        if p.is_file() and p.parent.name != "store" and "staging" not in p.parts
    )
    out["inbox"] = sorted(str(p.relative_to(root / "inputs")) for p in (root / "inputs").rglob("*") if p.is_file())
    outputs = root / "outputs"
    for p in sorted(outputs.rglob("*")):
        rel = str(p.relative_to(outputs))
        if p.suffix == ".csv":
            out[rel] = p.read_bytes()
        elif p.suffix == ".xlsx":
            wb = openpyxl.load_workbook(p, read_only=True)
            out[rel] = {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}
            wb.close()
    return out


def _status(root: Path) -> str:
    os.environ["HUIZONG_NOW"] = "2025-01-26T23:00:00+08:00"
    try:
        r = cli("status", "--store", str(root / "store"))
    finally:
        os.environ.pop("HUIZONG_NOW", None)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("seed", [7, 2024])
def test_a_year_of_killed_nights_ends_as_its_clean_replay(tmp_path, seed):  # type: ignore[no-untyped-def]
    nights = _drops(tmp_path / "src")
    replay = tmp_path / "replay"
    _world(replay, nights, tmp_path / "src", None)
    killed = tmp_path / "killed"
    kills = _world(killed, nights, tmp_path / "src", random.Random(seed))
    assert kills >= 3
    want, got = _state(replay), _state(killed)
    assert want["open_runs"] == got["open_runs"] == (0,)
    assert not want["inbox"] and not got["inbox"]
    differ = [k for k in want.keys() | got.keys() if want.get(k) != got.get(k)]
    assert not differ, f"seed {seed}: these differ from the clean replay: {sorted(differ)[:10]}"
    assert _status(killed) == _status(replay)
