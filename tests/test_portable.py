"""What the store keeps is portable to Windows and macOS shares; nothing in the inbox goes unseen;
a killed run's temporary files do not outlive the run that finishes its work."""

from __future__ import annotations

import os
from pathlib import Path

from builders import write_return
from conftest import Workspace

from huizong.ledger.inbox import safe_component


def test_stored_names_are_portable() -> None:
    assert safe_component("CON.xlsx") == "_CON.xlsx"
    assert safe_component("aux") == "_aux"
    assert safe_component("Com1.xls") == "_Com1.xls"
    assert safe_component("民乐县. ") == "民乐县"
    assert safe_component('a<b>:c"d|e?f*.xlsx') == "a_b__c_d_e_f_.xlsx"
    assert safe_component("console.xlsx") == "console.xlsx"


def test_a_return_named_con_is_kept_under_a_portable_name(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    write_return(ws.drop("CON.xlsx"), "620722", "2024H1")
    s = ws.run()
    [d] = s.decisions
    assert d.status == "accepted" and d.stored_as is not None
    assert Path(d.stored_as).name == "_CON.xlsx" and (ws.store / d.stored_as).is_file()
    assert ws.sql("select file from submissions") == [("CON.xlsx",)]  # the name as dropped, in the ledger


def test_a_hidden_workbook_is_recorded_once_and_left(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    hidden = write_return(ws.drop(".民乐县.xlsx"), "620722", "2024H1")
    (ws.inputs / ".DS_Store").write_bytes(b"\0")
    first = ws.run()
    assert [(d.inbound.rel, d.status) for d in first.decisions] == [(".民乐县.xlsx", "ignored")]
    assert "隐藏文件" in first.decisions[0].reason
    assert hidden.exists()
    assert ws.run().decisions == []  # once, not every night
    assert [r["status"] for r in ws.csv("submissions.csv")] == ["ignored"]


def test_temporary_files_of_a_killed_run_are_swept_by_the_next(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    write_return(ws.drop("民乐县.xlsx"), "620722", "2024H1")
    ws.run()
    left = [ws.outputs / "620700" / "2024H1" / ".huizong.abc123.tmp", ws.store / "archive" / ".incoming.x1y2"]
    for p in left:
        p.write_bytes(b"")
    keep = ws.outputs / "620700" / "notes.tmp"
    keep.write_text("the analyst's own file")
    import sqlalchemy as sa

    engine = sa.create_engine(ws.settings.db_url)
    with engine.begin() as conn:  # as if the run had been killed
        conn.execute(sa.text("update runs set finished_at = null"))
    engine.dispose()
    ws.run()
    assert not any(p.exists() for p in left) and keep.exists()
    assert not [n for _, _, files in os.walk(ws.outputs) for n in files if n.startswith(".huizong.")]
