"""Faults of the machine and of the configuration end in one clear line and a non-zero exit, with
nothing lost; the next run finishes the job."""

from __future__ import annotations

import errno
import shutil
import sqlite3
import time
from pathlib import Path

import hostile
import pytest
import sqlalchemy as sa
from builders import CONFIG

from huizong import cli
from huizong.catalog import DEFAULT_CONFIG
from huizong.ledger import inbox, runlock
from huizong.ledger.store import Store, locks


def run_cli(capsys, *args: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as e:
        cli.main(list(args))
    return int(e.value.code or 0), capsys.readouterr().err


def places(ws) -> list[str]:  # type: ignore[no-untyped-def]
    return ["--inputs", str(ws.inputs), "--outputs", str(ws.outputs), "--store", str(ws.store), "--city", "620700"]


def test_disk_full_ends_in_one_line_and_the_next_run_finishes(ws, capsys, monkeypatch):  # type: ignore[no-untyped-def]
    hostile.good(ws.drop("a.xlsx"))
    hostile.good(ws.drop("b.xlsx"), "620721")
    real_write = inbox.os.write
    calls = {"n": 0}

    def full(fd, data):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] > 1:  # the second file finds the disk full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(inbox.os, "write", full)
    code, err = run_cli(capsys, "run", "--no-prefect", *places(ws))
    monkeypatch.undo()
    assert code == 4
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("huizong: 磁盘空间不足") and "Traceback" not in err
    assert sorted(p.name for p in ws.inputs.iterdir()) == ["a.xlsx", "b.xlsx"]  # nothing lost
    code, _ = run_cli(capsys, "run", "--no-prefect", *places(ws))
    assert code == 0
    assert not any(ws.inputs.iterdir())
    db = sqlite3.connect(ws.store / "huizong.db")
    assert sorted(r[0] for r in db.execute("select status from submissions")) == ["accepted", "accepted"]


def test_a_read_only_ledger_ends_in_one_line(ws, capsys):  # type: ignore[no-untyped-def]
    hostile.good(ws.drop("a.xlsx"))
    ws.run()
    hostile.good(ws.drop("b.xlsx"), "620721")
    url = f"sqlite:///file:{ws.store / 'huizong.db'}?mode=ro&uri=true"
    code, err = run_cli(capsys, "run", "--no-prefect", "--db", url, *places(ws))
    assert code == 4
    assert err.count("\n") == 1 and "账本数据库" in err and "Traceback" not in err
    assert (ws.inputs / "b.xlsx").exists()


@pytest.mark.parametrize(
    "file, change, expected",
    [
        ("catalog/indicators.csv", lambda t: t.replace(",100000000\n", ",-5\n", 1), "indicators.csv:5"),
        ("catalog/rules.toml", lambda t: t.replace("seconds = 60 ", "seconds = -1 "), "[limits] seconds 应为正数"),
        ("catalog/rules.toml", lambda t: t + "\n[[[broken\n", "rules.toml"),
        ("catalog/deadlines.toml", lambda t: t.replace('H1 = "07-10"', 'H1 = "07-40"'), "截止日期配置有误"),
        ("suites/facts.json", lambda t: t.replace('"expectations": [', '"expectations": [,', 1), "facts.json:4"),
        ("catalog/divisions.csv", lambda t: "id,title\n1,x\n", "divisions.csv: 不认识的列 'id'、'title'"),
    ],
    ids=["catalog-row", "limits", "toml", "deadlines", "suite-json", "divisions"],
)
def test_configuration_errors_name_the_file_and_exit_2(ws, capsys, tmp_path, file, change, expected):  # type: ignore[no-untyped-def]
    config = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG, config)
    target = config / file
    target.write_text(change(target.read_text(encoding="utf-8")), encoding="utf-8")
    hostile.good(ws.drop("a.xlsx"))
    code, err = run_cli(capsys, "run", "--no-prefect", "--config", str(config), *places(ws))
    assert code == 2
    assert err.startswith("huizong: 配置文件有误：") and expected in err and err.count("\n") == 1
    assert (ws.inputs / "a.xlsx").exists()


def test_validate_takes_a_file_whose_name_starts_with_a_dash(tmp_path, capsys, monkeypatch):  # type: ignore[no-untyped-def]
    hostile.good(tmp_path / "-x.xlsx")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUIZONG_STORE", str(tmp_path / "no-store"))
    with pytest.raises(SystemExit) as e:
        cli.main(["validate", "--", "-x.xlsx"])
    assert e.value.code == 0
    assert capsys.readouterr().out.startswith("-x.xlsx  620702 2024H1")


def test_validate_refuses_a_bomb_without_dying(tmp_path, capsys, monkeypatch):  # type: ignore[no-untyped-def]
    bomb = hostile.far_cells(tmp_path / "bomb.xlsx")
    monkeypatch.setenv("HUIZONG_STORE", str(tmp_path / "no-store"))
    with pytest.raises(SystemExit) as e:
        cli.main(["validate", str(bomb), "--feedback"])
    assert e.value.code == 1
    out = capsys.readouterr().out
    assert "文件超出处理限制" in out
    assert (tmp_path / "bomb_反馈.xlsx").exists()


def test_the_heartbeat_survives_database_errors(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    store = Store.open(f"sqlite:///{tmp_path / 'l.db'}")
    monkeypatch.setattr(runlock, "HEARTBEAT_SECONDS", 0.05)
    real_begin = store.begin
    failures = {"left": 3}

    def flaky():  # type: ignore[no-untyped-def]
        if failures["left"] > 0:
            failures["left"] -= 1
            raise sa.exc.OperationalError("update", {}, Exception("database is locked"))
        return real_begin()

    def beat_at() -> object:
        with store.engine.connect() as conn:
            return conn.execute(sa.select(locks.c.heartbeat_at)).scalar_one()

    with runlock.run_lock(store):
        first = beat_at()
        store.begin = flaky  # type: ignore[method-assign]
        deadline = time.monotonic() + 20
        while failures["left"] and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)
        assert failures["left"] == 0
        later = beat_at()
        store.begin = real_begin  # type: ignore[method-assign]
        assert later != first  # still beating after the errors: no other run may take the lock
        with pytest.raises(runlock.RunLocked), runlock.run_lock(store, wait=0):
            pass


def test_the_demo_config_loads_with_its_limits() -> None:
    assert CONFIG.limits.sheet_rows == 200_000 and CONFIG.limits.worker_count >= 1
    assert all(i.maximum for i in CONFIG.catalogs["key-indicators"])
    assert Path(DEFAULT_CONFIG / "catalog" / "rules.toml").read_text(encoding="utf-8").count("[limits]") == 1
