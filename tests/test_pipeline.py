"""Whole runs on real files: the ledger, the kept originals and the city totals."""

from __future__ import annotations

import hashlib
import os
import shutil

import pytest
from builders import BASE_VALUES, write_return

from huizong.publish.csvs import ISSUE_COLUMNS, SUBMISSION_COLUMNS, TOTAL_COLUMNS

pytestmark = pytest.mark.both_stores


def _age(path, seconds):  # type: ignore[no-untyped-def]
    """Arrival order is modification time: make `path` arrive `seconds` after the epoch base."""
    t = 1_700_000_000 + seconds
    os.utime(path, (t, t))


def ledger(ws) -> list[tuple]:  # type: ignore[no-untyped-def]
    return ws.sql(
        "select id, file, status, county_code, period, duplicate_of, superseded_by from submissions order by id"
    )


def values(**changes: object) -> dict[str, object]:
    """A complete return with some numbers changed; A02 (a ratio, optional) left blank."""
    return {**{k: v for k, v in BASE_VALUES.items() if k != "A02"}, **changes}


GANZHOU_1 = values(A01=9000, B01=50)
GANZHOU_2 = values(A01=9500, B01=52)  # the correction
MINLE = values(A01="0.51亿元", B01=36)
MINLE_BAD = values(A01=5200, B01=36, B02=40)  # refused revision
LINZE = values(A01=3000, B01=20)


def test_two_batches_duplicate_correction_refused_revision(ws):  # type: ignore[no-untyped-def]
    # batch 1
    g1 = write_return(ws.drop("甘州区.xlsx"), "620702", "2024年上半年", GANZHOU_1)
    m1 = write_return(ws.drop("民乐县.xls"), "620722", "2024年1-6月", MINLE)
    shutil.copyfile(m1, ws.drop("民乐县(1).xls"))
    ws.drop("~$甘州区.xlsx").write_bytes(b"\x05owner")
    ws.drop("空表.xlsx").write_bytes(b"")
    for n, p in enumerate([g1, m1, ws.drop("民乐县(1).xls"), ws.drop("~$甘州区.xlsx"), ws.drop("空表.xlsx")]):
        _age(p, n)
    first = ws.run()
    assert first.counts == {"accepted": 2, "rejected": 1, "duplicate": 1, "superseded": 0, "ignored": 1}
    assert ws.totals("2024H1")["A01"]["value"] == "14100"

    # batch 2: a correction for 甘州区, a refused revision for 民乐县, 民乐县's first file again, 临泽县 new
    g2 = write_return(ws.drop("甘州区_更正.xlsx"), "620702", "2024H1", GANZHOU_2)
    m2 = write_return(ws.drop("民乐县_修改.xlsx"), "620722", "2024H1", MINLE_BAD)
    m3 = shutil.copyfile(ws.store / "archive" / ledger_sha(ws, 2)[:16] / "民乐县.xls", ws.drop("民乐县.xls"))
    lz = write_return(ws.drop("临泽县.xlsx"), "620723", "2024H1", LINZE)
    for n, p in enumerate([g2, m2, m3, lz], start=10):
        _age(p, n)
    second = ws.run()
    assert second.counts == {"accepted": 2, "rejected": 1, "duplicate": 1, "superseded": 0, "ignored": 0}

    assert ledger(ws) == [
        (1, "甘州区.xlsx", "superseded", "620702", "2024H1", None, 6),
        (2, "民乐县.xls", "accepted", "620722", "2024H1", None, None),
        (3, "民乐县(1).xls", "duplicate", "620722", "2024H1", 2, None),
        (4, "~$甘州区.xlsx", "ignored", None, None, None, None),
        (5, "空表.xlsx", "rejected", None, None, None, None),
        (6, "甘州区_更正.xlsx", "accepted", "620702", "2024H1", None, None),
        (7, "民乐县_修改.xlsx", "rejected", "620722", "2024H1", None, None),
        (8, "民乐县.xls", "duplicate", "620722", "2024H1", 2, None),
        (9, "临泽县.xlsx", "accepted", "620723", "2024H1", None, None),
    ]
    totals = ws.totals("2024H1")
    assert totals["A01"]["value"] == "17600"  # 9500 + 5100 + 3000: the refused revision changed nothing
    assert totals["B01"]["value"] == "108"
    assert (totals["A01"]["n_reported"], totals["A01"]["n_expected"]) == ("3", "6")
    assert totals["A01"]["missing"] == "620721 肃南裕固族自治县;620724 高台县;620725 山丹县"

    # every original kept, none overwritten; only the lock file is left in the inbox
    assert sorted(p.name for p in ws.inputs.rglob("*") if p.is_file()) == ["~$甘州区.xlsx"]
    kept = sorted(p.relative_to(ws.store).parts[0] + "/" + p.name for p in ws.store.rglob("*.xls*"))
    assert kept == sorted(
        [
            "archive/甘州区.xlsx",
            "archive/民乐县.xls",
            "duplicates/民乐县(1).xls",
            "rejected/空表.xlsx",
            "archive/甘州区_更正.xlsx",
            "rejected/民乐县_修改.xlsx",
            "duplicates/民乐县.xls",
            "archive/临泽县.xlsx",
        ]
    )

    subs = {r["file"] + r["status"]: r for r in ws.csv("submissions.csv")}
    assert list(ws.csv("submissions.csv")[0]) == SUBMISSION_COLUMNS
    assert (
        subs["民乐县_修改.xlsxrejected"]["reason"]
        == "主要指标!F18 省级科技计划项目立项数（B02）40 大于省级科技计划项目申报数（B01）36"
    )
    assert subs["甘州区.xlsxsuperseded"]["reason"] == "已被更正报送“甘州区_更正.xlsx”替代"
    assert subs["空表.xlsxrejected"]["stored_as"].startswith("rejected/e3b0c44298fc1c14/")
    issues = ws.csv("620700/key-indicators/2024H1/issues.csv")
    assert list(issues[0]) == ISSUE_COLUMNS
    assert [(i["file"], i["cell"], i["code"]) for i in issues] == [
        ("民乐县_修改.xlsx", "F18", "approved-exceeds-applied")
    ]


def ledger_sha(ws, sid: int) -> str:  # type: ignore[no-untyped-def]
    return str(ws.sql("select sha256 from submissions where id = :sid", sid=sid)[0][0])


def test_a_second_run_changes_nothing(ws):  # type: ignore[no-untyped-def]
    write_return(ws.drop("a.xlsx"), "620702", "2024H1")
    write_return(ws.drop("b.xlsx"), "620722", "2024H1", {**BASE_VALUES, "B02": 99})
    ws.run()
    before = ledger(ws)
    csvs = ["submissions.csv", "620700/key-indicators/2024H1/totals.csv", "620700/key-indicators/2024H1/issues.csv"]
    snapshot = {c: (ws.outputs / c).read_bytes() for c in csvs}
    again = ws.run()
    assert again.decisions == []
    assert ledger(ws) == before
    assert {c: (ws.outputs / c).read_bytes() for c in csvs} == snapshot


def test_a_correction_within_one_batch_supersedes_the_earlier_file(ws):  # type: ignore[no-untyped-def]
    a = write_return(ws.drop("高台县.xlsx"), "620724", "2024H1", values(A01=1))
    b = write_return(ws.drop("高台县_更正.xlsx"), "620724", "2024H1", values(A01=2))
    _age(a, 1)
    _age(b, 2)
    s = ws.run()
    assert [(d.inbound.rel, d.status) for d in s.decisions] == [
        ("高台县.xlsx", "superseded"),
        ("高台县_更正.xlsx", "accepted"),
    ]
    assert ws.totals("2024H1")["A01"]["value"] == "2"


def test_copies_of_one_file_recorded_in_one_transaction_each_keep_their_own_copy(ws):  # type: ignore[no-untyped-def]
    """The same bytes under the same name in three folders, in one commit group: the first accepted,
    the other two duplicates of it, each kept at a path of its own that hashes to its row."""
    first = write_return(ws.drop("民乐县.xlsx"), "620722", "2024H1")
    for n, folder in enumerate(("一", "二"), start=1):
        (ws.inputs / folder).mkdir()
        _age(shutil.copyfile(first, ws.inputs / folder / "民乐县.xlsx"), n)
    _age(first, 0)
    s = ws.run()
    assert [(d.inbound.rel, d.status, d.duplicate_of) for d in s.decisions] == [
        ("民乐县.xlsx", "accepted", None),
        ("一/民乐县.xlsx", "duplicate", 1),
        ("二/民乐县.xlsx", "duplicate", 1),
    ]
    rows = ws.sql("select id, stored_as, sha256, reason from submissions order by id")
    sha = rows[0][2]
    assert [r[1] for r in rows] == [
        f"archive/{sha[:16]}/民乐县.xlsx",
        f"duplicates/{sha[:16]}/民乐县.xlsx",
        f"duplicates/{sha[:16]}/民乐县 (2).xlsx",
    ]
    received = ws.sql("select received_at from submissions where id = 1")[0][0]
    said = f"与民乐县科学技术局 2024H1 报送的“民乐县.xlsx”（{str(received)[:10]} 收到）内容完全相同（sha256 一致）"
    assert [r[3] for r in rows[1:]] == [said] * 2  # the county and file, never an internal number
    for _id, stored_as, digest, _ in rows:
        assert hashlib.sha256((ws.store / stored_as).read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in ws.inputs.rglob("*.xlsx")) == []


def test_one_bad_file_never_stops_a_run(ws):  # type: ignore[no-untyped-def]
    garbage = ws.drop("garbage.xlsx")
    garbage.write_bytes(b"PK\x03\x04" + os.urandom(500))
    os.utime(garbage, (1_700_000_000, 1_700_000_000))  # not one being written now (that one waits: test_portable)
    ws.drop("notes.txt").write_text("not a return", encoding="utf-8")
    write_return(ws.drop("ok.xlsx"), "620725", "2024FY")
    s = ws.run()
    assert sorted((d.inbound.rel, d.status) for d in s.decisions) == [
        ("garbage.xlsx", "rejected"),
        ("notes.txt", "rejected"),
        ("ok.xlsx", "accepted"),
    ]
    assert ws.totals("2024FY")["A01"]["value"] == "5100"


def test_files_in_subfolders_and_periods_apart(ws):  # type: ignore[no-untyped-def]
    (ws.inputs / "民乐县").mkdir()
    write_return(ws.inputs / "民乐县" / "上半年.xlsx", "620722", "2024H1")
    write_return(ws.inputs / "民乐县" / "全年.xlsx", "620722", "2024年度", values(A01=9999))
    s = ws.run()
    assert sorted(d.inbound.rel for d in s.decisions) == ["民乐县/上半年.xlsx", "民乐县/全年.xlsx"]
    assert ws.totals("2024H1")["A01"]["value"] == "5100"
    assert ws.totals("2024FY")["A01"]["value"] == "9999"
    assert list(ws.csv("620700/key-indicators/2024FY/totals.csv")[0]) == TOTAL_COLUMNS
    assert (ws.outputs / "620700" / "key-indicators" / "2024FY" / "主要指标汇总_张掖市_2024FY.xlsx").is_file()


def test_interrupted_move_is_finished_not_counted_twice(ws, monkeypatch):  # type: ignore[no-untyped-def]
    """A run that dies between recording a file and taking it out of the inbox: the next run only
    finishes that, and the kept original hashes to its ledger row."""
    import pytest

    from huizong.ledger import commit as ledger_module

    class Killed(BaseException):
        pass

    def die(f, folders=None):  # type: ignore[no-untyped-def]
        raise Killed

    write_return(ws.drop("a.xlsx"), "620702", "2024H1")
    monkeypatch.setattr(ledger_module, "release", die)
    with pytest.raises(Killed):
        ws.run()
    monkeypatch.undo()
    assert (ws.inputs / "a.xlsx").exists()
    assert [r[2] for r in ledger(ws)] == ["accepted"]
    s = ws.run()
    assert s.decisions == []
    assert not (ws.inputs / "a.xlsx").exists()
    assert [r[2] for r in ledger(ws)] == ["accepted"]
    assert ws.totals("2024H1")["A01"]["value"] == "5100"
    assert (ws.outputs / "feedback").exists() is False  # a clean return has no feedback
    row = ws.sql("select sha256, stored_as from submissions")[0]
    assert hashlib.sha256((ws.store / row[1]).read_bytes()).hexdigest() == row[0]
    assert not list((ws.store / ".staging").glob("*"))


def test_republish_rewrites_every_period(ws):  # type: ignore[no-untyped-def]
    from huizong.pipeline import run_batch

    write_return(ws.drop("h1.xlsx"), "620702", "2024H1")
    write_return(ws.drop("fy.xlsx"), "620702", "2023年度")
    ws.run()
    old = ws.outputs / "620700" / "key-indicators" / "2023FY" / "totals.csv"
    old.write_text("stale", encoding="utf-8")
    write_return(ws.drop("h1b.xlsx"), "620721", "2024H1")
    ws.run()
    assert old.read_text(encoding="utf-8") == "stale"  # an ordinary run leaves untouched periods alone
    run_batch(ws.settings, republish=True)
    assert ws.totals("2023FY")["A01"]["value"] == "5100"
