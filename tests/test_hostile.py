"""Nothing a county sends can stop the night: every class of hostile or odd file, built for real,
dropped beside a good return. Each test asserts the file's status and reason, that the good
return is accepted, that every kept original hashes to its ledger row, and what the worker cost."""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import os
import sqlite3
import threading
import time
import zipfile

import hostile
import pytest
from builders import BASE_VALUES, CONFIG, write_return

from huizong.ledger import inbox
from huizong.limits import Limits
from huizong.pipeline import run_batch
from huizong.read.worker import ReadJob, read_bounded

MIB_KIB = 1024


def ledger_rows(ws) -> list[dict]:  # type: ignore[no-untyped-def]
    db = sqlite3.connect(ws.store / "huizong.db")
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("select * from submissions order by id")]
    finally:
        db.close()


def assert_store_faithful(ws) -> None:  # type: ignore[no-untyped-def]
    """Every original the store keeps hashes to its ledger row; nothing is left in staging."""
    for row in ledger_rows(ws):
        if row["stored_as"]:
            kept = ws.store / row["stored_as"]
            assert not kept.is_symlink()
            assert hashlib.sha256(kept.read_bytes()).hexdigest() == row["sha256"], row["file"]
    assert not list((ws.store / ".staging").glob("*"))


def by_file(summary) -> dict:  # type: ignore[no-untyped-def]
    return {d.inbound.rel: d for d in summary.decisions}


@pytest.mark.parametrize(
    "build, reason",
    [
        (hostile.far_cells, "用到第 1,048,576 行，超过上限 200,000 行"),
        (hostile.deflate_bomb, "压缩比 {ratio}:1，超过上限 200:1（疑似压缩炸弹）"),
        (hostile.million_rows, "超过上限 200,000 行"),
        (hostile.entities, "含有 DOCTYPE 或实体声明"),
    ],
    ids=["cells-far-apart", "deflate-bomb", "million-rows", "xml-entities"],
)
def test_bombs_are_refused_cheaply_and_the_good_return_is_accepted(ws, build, reason):  # type: ignore[no-untyped-def]
    bad = build(ws.drop("bad.xlsx"))
    assert bad.stat().st_size < 6 << 20  # small on disk
    if "{ratio}" in reason:  # about 1,000:1; the exact figure depends on the machine's zlib
        with zipfile.ZipFile(bad) as z:
            i = max(z.infolist(), key=lambda i: i.file_size)
        assert 900 < i.file_size / i.compress_size < 1200
        reason = reason.format(ratio=f"{i.file_size / i.compress_size:,.0f}")
    hostile.good(ws.drop("good.xlsx"))
    s = ws.run()
    d = by_file(s)
    assert d["good.xlsx"].status == "accepted"
    assert d["bad.xlsx"].status == "rejected"
    (issue,) = d["bad.xlsx"].issues
    assert issue.code == ("file-corrupt" if "DOCTYPE" in reason else "file-over-limits")
    assert reason in issue.message
    assert d["bad.xlsx"].ret.read_peak_kib < 200 * MIB_KIB  # refused before any reader inflated it
    assert not any(ws.inputs.iterdir())
    assert_store_faithful(ws)
    # its feedback lists the problem and never opens the bomb again
    (fb,) = (ws.outputs / "feedback").glob("*_bad_反馈.xlsx")
    import openpyxl

    assert openpyxl.load_workbook(fb).sheetnames == ["问题说明"]


def test_a_worker_out_of_time_or_memory_refuses_only_its_file(tmp_path):  # type: ignore[no-untyped-def]
    big = tmp_path / "big.xlsx"
    hostile.million_rows(big, rows=150_000)  # within the row limit, but slow and large to read
    ok = hostile.good(tmp_path / "ok.xlsx")
    slow = dataclasses.replace(CONFIG, rules=dataclasses.replace(CONFIG.rules, limits=Limits(seconds=0.05)))
    t = time.monotonic()
    got = read_bounded([ReadJob(big, "big.xlsx"), ReadJob(ok, "ok.xlsx")], slow, "620700")
    assert time.monotonic() - t < 30
    assert [i.code for i in got[0].issues] == ["file-over-limits"]
    assert "读取超过 0 秒" in got[0].issues[0].message or "读取超过" in got[0].issues[0].message
    assert got[1].readable and got[1].county_code == "620702"
    small = dataclasses.replace(CONFIG, rules=dataclasses.replace(CONFIG.rules, limits=Limits(memory_mb=80)))
    got = read_bounded([ReadJob(big, "big.xlsx"), ReadJob(ok, "ok.xlsx")], small, "620700")
    assert [i.code for i in got[0].issues] == ["file-over-limits"]
    assert "内存超过上限 80 MiB" in got[0].issues[0].message
    assert got[1].readable and got[1].facts


def test_worker_reports_its_peak_memory_and_time(tmp_path):  # type: ignore[no-untyped-def]
    ok = hostile.good(tmp_path / "ok.xlsx")
    (ret,) = read_bounded([ReadJob(ok, "ok.xlsx")], CONFIG, "620700")
    assert 5 * MIB_KIB < ret.read_peak_kib < 150 * MIB_KIB
    assert 0 < ret.read_seconds < 10


def test_names_that_are_not_utf8_long_or_hostile_are_data(ws):  # type: ignore[no-untyped-def]
    gbk = hostile.not_utf8_name(ws.inputs)
    long_name = "县" * 80 + ".xlsx"  # 245 bytes
    write_return(ws.drop(long_name), "620721", "2024H1", {**BASE_VALUES, "B02": 40})
    odd = ["-x.xlsx", "a\"b'c.xlsx", "new\nline.xlsx", "<img src=x onerror=alert(1)>.xlsx"]
    for n, name in enumerate(odd):
        write_return(ws.drop(name), ["620723", "620724", "620725", "620702"][n], "2024H1", {**BASE_VALUES, "B02": 40})
    s = ws.run()
    d = by_file(s)
    assert d["民乐县_2024年上半年.xlsx"].status == "accepted"  # GBK bytes shown as the name they are
    assert d[long_name].status == "rejected"
    assert {d[n.replace("\n", "\\n")].status for n in odd} == {"rejected"}
    rows = {r["file"]: r for r in ledger_rows(ws)}
    assert rows["民乐县_2024年上半年.xlsx"]["name_bytes"] == os.fsencode(gbk.name)
    assert rows["new\\nline.xlsx"]["name_bytes"] == b"new\nline.xlsx"
    assert_store_faithful(ws)
    for p in ws.store.rglob("*"):
        assert len(p.name.encode()) <= 255 and "\n" not in p.name
    feedback = list((ws.outputs / "feedback").iterdir())
    assert len(feedback) == 5  # one per refused file, never shared
    assert all(len(p.name.encode()) <= 255 and not p.name.startswith("-") for p in feedback)
    page = (ws.outputs / "validation" / "620700" / "key-indicators" / "2024H1.html").read_text(encoding="utf-8")
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;.xlsx" in page
    subs = (ws.outputs / "submissions.csv").read_text(encoding="utf-8-sig")
    assert "new\\nline.xlsx" in subs


def test_links_are_recorded_and_left_never_followed(ws, tmp_path):  # type: ignore[no-untyped-def]
    outside = hostile.good(tmp_path / "outside.xlsx")
    (ws.inputs / "to_outside.xlsx").symlink_to(outside)
    (ws.inputs / "passwd.xlsx").symlink_to("/etc/passwd")
    (ws.inputs / "dangling.xlsx").symlink_to(tmp_path / "nowhere.xlsx")
    (ws.inputs / "folder").symlink_to(tmp_path)
    os.mkfifo(ws.inputs / "pipe.xlsx")
    hostile.good(ws.drop("good.xlsx"))
    s = ws.run()
    d = by_file(s)
    assert d["good.xlsx"].status == "accepted"
    for name in ("to_outside.xlsx", "passwd.xlsx", "dangling.xlsx", "folder", "pipe.xlsx"):
        assert d[name].status == "ignored", name
        assert d[name].ret is None  # never read
    assert "符号链接（指向 /etc/passwd）" in d["passwd.xlsx"].reason
    assert "不是普通文件" in d["pipe.xlsx"].reason
    assert (ws.inputs / "passwd.xlsx").is_symlink() and outside.exists()
    assert not [r for r in ledger_rows(ws) if r["status"] == "ignored" and r["stored_as"]]
    assert ws.run().decisions == []  # recorded once, not on every run
    assert_store_faithful(ws)


def test_an_unreadable_file_is_refused_and_left_and_the_run_goes_on(ws, monkeypatch):  # type: ignore[no-untyped-def]
    locked = hostile.good(ws.drop("locked.xlsx"), "620721")
    hostile.good(ws.drop("good.xlsx"))
    real_open = os.open

    def deny(path, flags, *args, **kwargs):  # type: ignore[no-untyped-def]
        if os.fspath(path) == os.fspath(locked):  # what a file the service user may not read does
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(inbox.os, "open", deny)
    d = by_file(ws.run())
    assert d["good.xlsx"].status == "accepted"
    assert d["locked.xlsx"].status == "rejected"
    assert [i.code for i in d["locked.xlsx"].issues] == ["file-unreadable"]
    assert "没有读取权限" in d["locked.xlsx"].reason
    assert locked.exists()
    assert ws.run().decisions == []  # refused once, not again every night
    monkeypatch.undo()
    d = by_file(ws.run())  # readable again: taken as any other file
    assert d["locked.xlsx"].status == "accepted" and not locked.exists()
    assert_store_faithful(ws)


def test_a_file_still_being_written_is_left_for_the_next_run(ws, monkeypatch):  # type: ignore[no-untyped-def]
    src = hostile.good(ws.root / "whole.xlsx")
    data = src.read_bytes()
    target = ws.drop("county.xlsx")
    target.write_bytes(data[:2000])
    (ws.inputs / "download.xlsx.crdownload").write_bytes(data[:100])
    hostile.good(ws.drop("good.xlsx"), "620721")
    done = threading.Event()

    def writer() -> None:
        time.sleep(0.3)
        with target.open("ab") as f:
            f.write(data[2000:])
        done.set()

    stage = inbox.stage

    def staging(found, *args):  # type: ignore[no-untyped-def]
        if found.rel == "county.xlsx" and not done.is_set():  # the writer goes on once the run looks at it
            threading.Thread(target=writer).start()
        return stage(found, *args)

    monkeypatch.setattr(inbox, "stage", staging)
    s = run_batch(dataclasses.replace(ws.settings, quiet=1.0), CONFIG)
    done.wait(10)
    assert s.deferred == ["county.xlsx"]
    assert [d.inbound.rel for d in s.decisions] == ["good.xlsx"]
    assert target.read_bytes() == data  # untouched, complete
    assert (ws.inputs / "download.xlsx.crdownload").exists()
    s = ws.run()
    assert [(d.inbound.rel, d.status) for d in s.decisions] == [("county.xlsx", "accepted")]
    assert (ws.inputs / "download.xlsx.crdownload").exists()  # a partial download is never taken
    assert_store_faithful(ws)


def test_a_file_rewritten_after_it_was_taken_stays_in_the_inbox(ws, monkeypatch):  # type: ignore[no-untyped-def]
    """The store keeps the bytes the run read; the newer bytes are the next run's."""
    from huizong.ledger import commit as ledger

    path = hostile.good(ws.drop("a.xlsx"))
    real_release = ledger.release

    def rewrite_then_release(f, folders=None):  # type: ignore[no-untyped-def]
        write_return(path, "620702", "2024H1", {**BASE_VALUES, "A01": 6000})
        real_release(f, folders)

    monkeypatch.setattr(ledger, "release", rewrite_then_release)
    ws.run()
    monkeypatch.undo()
    assert path.exists()  # the newer version was not deleted
    assert_store_faithful(ws)
    s = ws.run()
    assert [d.status for d in s.decisions] == ["accepted"]
    assert ws.totals("2024H1")["A01"]["value"] == "6000"


def test_two_forms_in_one_workbook_are_refused_naming_both(ws):  # type: ignore[no-untyped-def]
    import openpyxl

    two = write_return(ws.drop("两县.xlsx"), "620722", "2024H1")
    other = write_return(ws.root / "b.xlsx", "620723", "2024H1")
    wb = openpyxl.load_workbook(two)
    copy = wb.create_sheet("临泽县")
    for row in openpyxl.load_workbook(other)["主要指标"].iter_rows(values_only=True):
        copy.append(list(row))
    wb.save(two)
    same = write_return(ws.drop("副本.xlsx"), "620724", "2024H1")
    wb = openpyxl.load_workbook(same)
    wb.copy_worksheet(wb["主要指标"]).title = "主要指标 (2)"
    wb.save(same)
    d = by_file(ws.run())
    assert d["两县.xlsx"].status == "rejected"
    (issue,) = [i for i in d["两县.xlsx"].issues if i.code == "multiple-forms"]
    assert "“主要指标”：民乐县 2024年上半年" in issue.message and "“临泽县”：临泽县 2024年上半年" in issue.message
    assert d["副本.xlsx"].status == "accepted"  # the same form twice is one return


def test_implausible_values_formulas_xlsb_name_and_redacted_required(ws):  # type: ignore[no-untyped-def]
    write_return(ws.drop("huge.xlsx"), "620702", "2024H1", {**BASE_VALUES, "A01": 1e308})
    _, cells = hostile.formulas_without_values(ws.drop("formulas.xlsx"))
    write_return(ws.drop("named.xlsb"), "620723", "2024H1")
    d = by_file(ws.run())
    huge = [i for i in d["huge.xlsx"].issues if i.code == "value-implausible"]
    assert [(i.sheet, i.cell, i.indicator) for i in huge] == [("主要指标", "F13", "A01")]
    assert "不应超过 100,000,000 万元" in huge[0].message
    assert d["huge.xlsx"].status == "rejected"
    f = [i for i in d["formulas.xlsx"].issues if i.code == "formula-no-value"]
    assert len(f) == 1 and f[0].cell == cells[0] and f"有 {len(cells)} 个单元格是公式" in f[0].message
    assert "请在 Excel 或 WPS 中打开、保存后重新报送" in f[0].message
    assert d["formulas.xlsx"].status == "rejected"
    assert d["named.xlsb"].status == "accepted"  # the reader is chosen by the bytes
    # a redacted required value refuses the return: it can never supersede a complete one
    write_return(ws.drop("redacted.xlsx"), "620723", "2024H1", {**BASE_VALUES, "A05": "*"})
    d = by_file(ws.run())
    assert d["redacted.xlsx"].status == "rejected"
    assert [i.code for i in d["redacted.xlsx"].issues] == ["value-redacted"]
    assert ws.totals("2024H1")["A05"]["value"] == "800"


@pytest.mark.parametrize(
    "text, token",
    [
        ("2024年第三季度", "2024Q3"),
        ("2024年三季度", "2024Q3"),
        ("2024年前三季度", "2024Q3"),
        ("2024年1-9月", "2024Q3"),
        ("2024年1-3季度", "2024Q3"),
        ("2024年一二季度", "2024H1"),
        ("2024年1-2季度", "2024H1"),
        ("2024年上半年", "2024H1"),
        ("2024年半年", "2024H1"),
        ("2024年上半年度", "2024H1"),
        ("2024年1-6月", "2024H1"),
        ("2024年第一季度", "2024Q1"),
        ("2024年一季度", "2024Q1"),
        ("2024年1-3月", "2024Q1"),
        ("2024年度", "2024FY"),
        ("2024年全年", "2024FY"),
        ("2024年年报", "2024FY"),
        ("2024年全年度", "2024FY"),
        ("2024年1-12月", "2024FY"),
        ("2024年", "2024FY"),
        ("二〇二四年上半年", "2024H1"),
        ("2024H1", "2024H1"),
    ],
)
def test_every_period_spelling_reads_alone_and_in_a_title(text, token):  # type: ignore[no-untyped-def]
    from huizong.read.periods import find_period_in_text, parse_period

    assert str(parse_period(text)) == token
    if text != "2024年":  # a bare year inside a title is no period
        assert str(find_period_in_text(f"县（区）科技创新主要指标报表（{text}）")) == token


def test_outputs_are_readable_by_colleagues(ws):  # type: ignore[no-untyped-def]
    old = os.umask(0o022)
    try:
        hostile.good(ws.drop("good.xlsx"))
        ws.run()
    finally:
        os.umask(old)
    for p in (ws.outputs / "620700" / "key-indicators" / "2024H1").iterdir():
        assert p.stat().st_mode & 0o777 == 0o644, p


def test_a_large_file_gets_the_problem_list_only_never_opened_by_openpyxl(ws):  # type: ignore[no-untyped-def]
    import openpyxl

    src = write_return(ws.root / "src.xlsx", "620722", "2024H1", {**BASE_VALUES, "B02": 40})
    big = hostile.rewrite_zip(
        src, ws.drop("big.xlsx"), lambda n, d: d, extra={"xl/media/scan.bin": os.urandom(6 << 20)}
    )
    assert big.stat().st_size > 6 << 20
    d = by_file(ws.run())
    assert d["big.xlsx"].status == "rejected"
    (fb,) = (ws.outputs / "feedback").glob("*_big_反馈.xlsx")
    assert openpyxl.load_workbook(fb).sheetnames == ["问题说明"]


def test_running_out_of_memory_inside_calamine_is_over_limits_not_corrupt(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """calamine raises MemoryError when an allocation fails under the worker's cap: that must reach
    the worker as a memory fault (file-over-limits), never be taken for a damaged file."""
    from huizong.read import grid

    ok = hostile.good(tmp_path / "ok.xlsx")

    def oom(*_a, **_k):  # type: ignore[no-untyped-def]
        raise MemoryError

    monkeypatch.setattr(grid.pc.CalamineWorkbook, "from_filelike", oom)
    with pytest.raises(MemoryError):
        grid.load_grids(ok)
