"""A long-lived process stays warm and bounded: its readers are kept between calls (still capped,
replaced when they die, retired for another configuration), its configuration is loaded again only
when a file of it changed, and Great Expectations is imported without the libraries it never needs
here, which still work when something does use them."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import time

import hostile
import pytest
from builders import CONFIG

from huizong.catalog import Config
from huizong.limits import Limits
from huizong.read import worker
from huizong.read.worker import ReadJob, keep_warm, read_bounded


@pytest.fixture
def warm():  # type: ignore[no-untyped-def]
    keep_warm()
    yield worker._IDLE
    keep_warm(False)


def pids(idle) -> set[int]:  # type: ignore[no-untyped-def]
    return {w.proc.pid for w in idle.workers}


def test_kept_readers_serve_the_next_call_and_stay_bounded(tmp_path, warm):  # type: ignore[no-untyped-def]
    ok = hostile.good(tmp_path / "ok.xlsx")
    (first,) = read_bounded([ReadJob(ok, "ok.xlsx")], CONFIG, "620700")
    kept = pids(warm)
    assert first.readable and len(kept) == 1
    (again,) = read_bounded([ReadJob(ok, "again.xlsx")], CONFIG, "620700")
    assert again.readable and again.file == "again.xlsx" and pids(warm) == kept  # the same process read it

    # a file that runs out of memory kills its worker: refused alone, the worker replaced, the pool sound
    big = tmp_path / "big.xlsx"
    hostile.million_rows(big, rows=150_000)
    small = dataclasses.replace(CONFIG, rules=dataclasses.replace(CONFIG.rules, limits=Limits(memory_mb=80)))
    got = read_bounded([ReadJob(big, "big.xlsx"), ReadJob(ok, "ok.xlsx")], small, "620700")
    assert [i.code for i in got[0].issues] == ["file-over-limits"] and got[1].readable
    assert warm.owner[0] is small and not pids(warm) & kept  # another configuration: the old ones retired
    for pid in kept:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    slow = dataclasses.replace(CONFIG, rules=dataclasses.replace(CONFIG.rules, limits=Limits(seconds=0.05)))
    (late,) = read_bounded([ReadJob(big, "big.xlsx")], slow, "620700")
    assert [i.code for i in late.issues] == ["file-over-limits"]  # each job keeps its time limit


def test_a_kept_reader_that_died_is_replaced(tmp_path, warm):  # type: ignore[no-untyped-def]
    ok = hostile.good(tmp_path / "ok.xlsx")
    read_bounded([ReadJob(ok, "ok.xlsx")], CONFIG, "620700")
    (dead,) = pids(warm)
    os.kill(dead, 9)
    time.sleep(0.2)
    (ret,) = read_bounded([ReadJob(ok, "ok.xlsx")], CONFIG, "620700")
    assert ret.readable and pids(warm) and dead not in pids(warm)


def test_without_keep_warm_no_reader_outlives_its_call(tmp_path):  # type: ignore[no-untyped-def]
    ok = hostile.good(tmp_path / "ok.xlsx")
    read_bounded([ReadJob(ok, "ok.xlsx")], CONFIG, "620700")
    assert worker._IDLE.workers == []


def test_stopping_keep_warm_retires_every_reader(tmp_path):  # type: ignore[no-untyped-def]
    ok = hostile.good(tmp_path / "ok.xlsx")
    keep_warm()
    read_bounded([ReadJob(ok, "ok.xlsx")], CONFIG, "620700")
    kept = pids(worker._IDLE)
    keep_warm(False)
    assert kept and worker._IDLE.workers == []
    for pid in kept:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_the_current_configuration_is_loaded_again_only_when_a_file_changed(tmp_path):  # type: ignore[no-untyped-def]
    root = tmp_path / "expectations"
    shutil.copytree(CONFIG.root, root)
    first = Config.current(root)
    assert Config.current(root) is first
    rules = root / "catalog" / "rules.toml"
    text = rules.read_text(encoding="utf-8")
    assert "outlier_z" in text
    rules.write_text(text.replace("outlier_z = ", "outlier_z = 9 #", 1), encoding="utf-8")
    second = Config.current(root)
    assert second is not first and second.rules.history.outlier_z == 9


def test_great_expectations_is_imported_without_scipy_stats_and_altair_which_work_when_used():
    code = (
        "import sys; from huizong.rules.gximport import import_gx; gx = import_gx();"
        "print(sorted(n for n in ('scipy.stats', 'altair') if type(sys.modules[n]).__name__ != '_Deferred'));"
        "from scipy import stats; print(round(stats.entropy([0.5, 0.5], [0.9, 0.1]), 4));"
        "import scipy.stats; from scipy.stats import norm; print(norm.cdf(0));"
        "import altair as alt; print(alt.Chart.__name__);"
        "from great_expectations.expectations.core.expect_column_kl_divergence_to_be_less_than import stats as s;"
        "print(s.entropy([1, 1], [1, 1]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["[]", "0.5108", "0.5", "Chart", "0.0"]


def test_great_expectations_is_imported_without_the_collector_and_then_set_aside():
    code = (
        "import gc; from huizong.rules.gximport import import_gx;"
        "before = gc.get_freeze_count(); import_gx();"
        "print(before, gc.get_freeze_count() > 200_000, gc.isenabled());"
        "gc.unfreeze(); import_gx(); print(gc.get_freeze_count())"  # once only: a second call freezes nothing
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["0", "True", "True", "0"]
    code = "import gc; gc.disable(); from huizong.rules.gximport import import_gx; import_gx(); print(gc.get_freeze_count(), gc.isenabled())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["0", "False"]  # a process that manages its collector itself is left to it
