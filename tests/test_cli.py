"""The `huizong` command on real files, and the county template."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from builders import BASE_VALUES, CONFIG, write_return
from conftest import cli

from huizong.read.periods import Period
from huizong.read.returns import read_return

ROOT = Path(__file__).resolve().parents[1]


def huizong(*args: str, cwd: Path | None = None):  # type: ignore[no-untyped-def]
    return cli(*args, cwd=cwd)


def test_core_does_not_load_prefect_or_gx():
    code = (
        "import sys, huizong.cli, huizong.pipeline, huizong.publish.outputs, huizong.publish.template, huizong.demo; "
        "assert not any(m.startswith(('prefect', 'great_expectations')) for m in sys.modules), "
        "[m for m in sys.modules if m.startswith(('prefect', 'great_expectations'))][:3]"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_validate_accepts_and_refuses_with_exit_codes(tmp_path):  # type: ignore[no-untyped-def]
    good = write_return(tmp_path / "good.xlsx", "620722", "2024H1")
    bad = write_return(tmp_path / "bad.xlsx", "620722", "2024H1", {**BASE_VALUES, "B02": 40, "G01": "227多"})
    r = huizong("validate", str(good))
    assert r.returncode == 0, r.stderr
    assert "可接收" in r.stdout
    r = huizong("validate", str(good), str(bad))
    assert r.returncode == 1
    assert "主要指标!F19  省级科技计划项目立项数（B02）40 大于省级科技计划项目申报数（B01）36" in r.stdout
    assert "(approved-exceeds-applied)" in r.stdout
    assert "主要指标!F45" in r.stdout and "为约数" in r.stdout
    assert list(tmp_path.iterdir()) and good.exists() and bad.exists()  # nothing moved, nothing written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.xlsx", "good.xlsx"]


def test_validate_json_is_the_flat_issue_table(tmp_path):  # type: ignore[no-untyped-def]
    import json

    bad = write_return(tmp_path / "bad.xlsx", "620722", "2024H1", {**BASE_VALUES, "B02": 40})
    r = huizong("validate", "--json", str(bad))
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert out["valid"] is False
    assert [(i["code"], i["cell"], i["indicator"], i["severity"]) for i in out["issues"]] == [
        ("approved-exceeds-applied", "F19", "B02", "error")
    ]
    assert set(out["issues"][0]) == {
        "file",
        "sheet",
        "cell",
        "indicator",
        "code",
        "severity",
        "message",
        "value",
        "explanation",
        "message_en",
    }
    assert out["issues"][0]["message_en"] == "B02 40 exceeds 省级科技计划项目申报数（B01）36"


def test_validate_prints_english_messages_on_request(tmp_path, capsys, monkeypatch):  # type: ignore[no-untyped-def]
    from huizong import cli

    bad = write_return(tmp_path / "bad.xlsx", "620722", "2024H1", {**BASE_VALUES, "A05": "*"})
    monkeypatch.setenv("HUIZONG_STORE", str(tmp_path / "none"))
    with pytest.raises(SystemExit) as e:
        cli.main(["validate", "--lang", "en", str(bad)])
    assert e.value.code == 1
    assert (
        "Required A05 本期累计 is given as '*' (unknown or withheld); a number is required" in capsys.readouterr().out
    )


def test_validate_missing_file(tmp_path):  # type: ignore[no-untyped-def]
    r = huizong("validate", str(tmp_path / "nope.xlsx"))
    assert r.returncode == 2
    assert "文件不存在" in r.stderr


def test_template_round_trip_with_last_year_prefilled(ws):  # type: ignore[no-untyped-def]
    last = {**BASE_VALUES, "A01": 4321.5, "B01": 30}
    write_return(ws.drop("2023.xlsx"), "620722", "2023年上半年", last)
    ws.run()
    out = ws.root / "form.xlsx"
    r = huizong("template", "--county", "620722", "--period", "2024H1", "-o", str(out), "--store", str(ws.store))
    assert r.returncode == 0, r.stderr
    wb = openpyxl.load_workbook(out)
    sheet = wb["主要指标"]
    assert (sheet["C3"].value, sheet["C4"].value, sheet["C5"].value) == ("民乐县科学技术局", "620722", "2024年上半年")
    rows = {row[1].value: row for row in sheet.iter_rows(min_row=12) if row[1].value}
    assert rows["A01"][6].value == 4321.5 and rows["B01"][6].value == 30  # 上年同期 from the store
    assert sheet.protection.sheet is True
    # it prints as the consolidated workbook does: landscape, one page wide, the header row repeated
    assert sheet.page_setup.orientation == "landscape" and sheet.page_setup.fitToWidth == 1
    assert sheet.sheet_properties.pageSetUpPr.fitToPage and sheet.print_title_rows == "$11:$11"
    assert rows["A01"][5].protection.locked is False and rows["A01"][2].protection.locked is True
    kinds = {(dv.type, str(dv.sqref).split()[0]) for dv in sheet.data_validations.dataValidation}
    assert ("whole", rows["B01"][4].coordinate) in kinds or any(
        dv.type == "whole" and rows["B01"][5].coordinate in dv.sqref for dv in sheet.data_validations.dataValidation
    )
    assert any(
        dv.type == "decimal" and rows["A01"][5].coordinate in dv.sqref for dv in sheet.data_validations.dataValidation
    )
    lists = [dv.formula1 for dv in wb["项目明细"].data_validations.dataValidation if dv.type == "list"]
    assert '"申报,立项,结题"' in lists
    # the county fills it in and the city reads it back exactly, without a single issue
    for code, row in rows.items():
        row[5].value = BASE_VALUES[code]
    wb.save(out)
    ret = read_return(out, CONFIG, "620700")
    assert (ret.county_code, ret.period, ret.issues) == ("620722", Period(2024, "H1"), [])
    assert {f.indicator: f.number for f in ret.facts if f.column == "value"} == {
        k: float(v) for k, v in BASE_VALUES.items()
    }  # type: ignore[arg-type]
    assert ret.number("A01", "last_year") == 4321.5


def test_template_refuses_unknown_county_and_period(tmp_path):  # type: ignore[no-untyped-def]
    assert huizong("template", "--county", "620700", "--period", "2024H1", cwd=tmp_path).returncode == 2
    assert huizong("template", "--county", "620722", "--period", "2024H2", cwd=tmp_path).returncode == 2


def test_demo_then_run_without_prefect(tmp_path):  # type: ignore[no-untyped-def]
    assert huizong("demo", "--inputs", "inputs", cwd=tmp_path).returncode == 0
    r = huizong("run", "--no-prefect", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    # the key-indicator batch (6 accepted, 3 refused, …) and 36 monthly contract lists (one refused)
    assert "accepted: 41  rejected: 4  duplicate: 1  superseded: 1  ignored: 1" in r.stdout
    assert (tmp_path / "outputs" / "620700" / "key-indicators" / "2024H1" / "主要指标汇总_张掖市_2024H1.xlsx").is_file()
    half = tmp_path / "outputs" / "620700" / "tech-contracts" / "2024H1"
    assert (half / "技术合同汇总_张掖市_2024H1.xlsx").is_file()
    totals = {r["indicator_code"]: r for r in csv.DictReader((half / "totals.csv").open(encoding="utf-8-sig"))}
    assert (totals["N"]["n_reported"], totals["N"]["missing"]) == ("5", "620725 山丹县")  # its February was refused


def test_every_command_is_in_the_docs():
    """Every `huizong <command>` is documented on a page of the docs site; the README keeps the two commands."""
    from huizong.cli import build_parser

    site = "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "docs").rglob("*.md")))
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name in sub.choices:  # type: ignore[union-attr]
        assert re.search(rf"huizong {name}\b", site), f"`huizong {name}` is not documented in docs/**/*.md"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make run" in readme and "make test" in readme


@pytest.mark.parametrize(
    ("env", "args", "named"),
    [
        ({"HUIZONG_SETTLE": "abc"}, ["serve"], "HUIZONG_SETTLE = 'abc'"),
        ({"HUIZONG_QUIET": "-1"}, ["run", "--no-prefect"], "HUIZONG_QUIET = '-1'"),
    ],
)
def test_a_bad_setting_in_the_environment_ends_in_one_line(tmp_path, monkeypatch, env, args, named):  # type: ignore[no-untyped-def]
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    r = huizong(*args, cwd=tmp_path)
    assert r.returncode == 2 and named in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert "Traceback" not in r.stderr


def test_version() -> None:
    r = cli("--version")
    assert r.returncode == 0 and r.stdout.startswith("huizong ")


def test_template_without_output_writes_under_outputs(tmp_path):  # type: ignore[no-untyped-def]
    r = huizong("template", "--county", "620722", "--period", "2024H1", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    made = tmp_path / "outputs" / "templates" / "民乐县_2024H1_主要指标.xlsx"
    assert r.stdout.strip() == str(Path("outputs") / "templates" / made.name)
    assert made.is_file() and [p.name for p in tmp_path.iterdir()] == ["outputs"]  # nothing in the folder it ran in
    assert openpyxl.load_workbook(made).sheetnames[0] == "主要指标"


def test_forms_check_counts_what_forms_lists():  # type: ignore[no-untyped-def]
    listed = huizong("forms", "--config", str(ROOT / "expectations"))
    for form in CONFIG.forms:
        r = huizong("forms", "check", str(ROOT / "expectations" / "forms" / form.id))
        assert r.returncode == 0, r.stderr
        n = int(re.search(r"；(\d+) 个(?:指标|汇总数)", r.stdout).group(1))  # type: ignore[union-attr]
        assert n == len(CONFIG.catalogs[form.id]) > 0, (form.id, r.stdout)
        assert re.search(rf"{form.id}\s.*?│\s+{n}\s+│", listed.stdout), (form.id, listed.stdout)


def test_validate_in_english_words_its_verdicts_and_severities_too(tmp_path):  # type: ignore[no-untyped-def]
    bad = write_return(tmp_path / "bad.xlsx", "620722", "2024H1", {**BASE_VALUES, "B02": 40, "A05": "*"})
    r = huizong("validate", "--lang", "en", str(bad), cwd=tmp_path)
    assert r.returncode == 1
    head, *lines = r.stdout.strip().splitlines()
    assert "refused" in head and "errors 2, warnings 0" in head, r.stdout
    assert [line.split()[0] for line in lines] == ["error", "error"], r.stdout
    assert not re.search(r"[错误警告退回可接收反馈表]", r.stdout.replace("省级科技计划项目申报数", "")), r.stdout


def test_history_does_not_count_a_lock_file_as_a_file(tmp_path):  # type: ignore[no-untyped-def]
    (tmp_path / "inputs").mkdir()
    write_return(tmp_path / "inputs" / "民乐县.xlsx", "620722", "2024H1")
    (tmp_path / "inputs" / "~$民乐县.xlsx").write_bytes(b"\x00" * 165)  # Excel's lock file of an open workbook
    assert huizong("run", "--no-prefect", cwd=tmp_path).returncode == 0
    r = huizong("history", cwd=tmp_path)
    row = next(line for line in r.stdout.splitlines() if line.startswith("│ 1 "))
    cells = [c.strip() for c in row.strip("│").split("│")]
    assert cells[3] == "1" and cells[4].startswith("accepted 1") and "另忽略 1 个" in cells[4], r.stdout


def test_the_demo_looks_like_a_bureaus_july(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """Received around the deadline by the demo's own clock: most counties on time, 肃南县 late,
    山丹县 refused and corrected; on the board, in the reporting status and in the monthly lists."""
    import datetime as dt

    from huizong.desk import board as bd
    from huizong.ledger.standing import Review
    from huizong.ledger.store import Store

    assert huizong("demo", "--inputs", "inputs", cwd=tmp_path).returncode == 0
    ran = huizong("run", "--no-prefect", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert "key-indicators/reporting.csv" in ran.stdout, (ran.stdout[:6000], ran.stderr)
    reporting = {
        (r["county_code"], r["period"]): (r["status"], r["received_at"][:10])
        for r in csv.DictReader((tmp_path / "outputs/620700/key-indicators/reporting.csv").open(encoding="utf-8-sig"))
    }
    assert reporting == {
        ("620702", "2024H1"): ("on-time", "2024-07-03"),
        ("620721", "2024H1"): ("late", "2024-07-11"),
        ("620722", "2024H1"): ("on-time", "2024-07-05"),
        ("620723", "2024H1"): ("on-time", "2024-07-08"),
        ("620724", "2024H1"): ("on-time", "2024-07-09"),
        ("620725", "2024H1"): ("on-time", "2024-07-10"),
    }
    monthly = [
        (r["county_code"], r["period"], r["status"])
        for r in csv.DictReader((tmp_path / "outputs/620700/tech-contracts/reporting.csv").open(encoding="utf-8-sig"))
        if r["status"] != "on-time"
    ]
    assert monthly == [("620723", "2024M04", "late"), ("620725", "2024M02", "refused")]
    store = Store.open(f"sqlite:///{tmp_path / 'store' / 'huizong.db'}")
    shandan = [(s["status"], s["received_at"][:16]) for s in store.submissions(counties=["620725"], periods=["2024H1"])]
    assert shandan == [("rejected", "2024-07-09T17:45"), ("accepted", "2024-07-10T20:10")]  # refused, then corrected
    today = dt.datetime.fromisoformat("2024-07-15T09:00:00+08:00")
    counties = CONFIG.divisions.counties_of("620700")
    cells = bd.county_cells(store, CONFIG, "key-indicators", counties, ["2024H1"], today)
    timeliness = {c.code: str(cells[(c.code, "2024H1")].timeliness) for c in counties}
    assert timeliness == {c: s for (c, _), (s, _) in reporting.items()}  # the board says what the reporting status says
    assert {cells[(c.code, "2024H1")].state for c in counties} == {Review.PENDING}  # each waits for its reviewer
    store.engine.dispose()


def test_the_command_sets_its_objects_aside_before_the_interpreter_ends(tmp_path):  # type: ignore[no-untyped-def]
    """Ending a process that loaded GX walked some 300,000 objects one last time (0.6 s); the
    command freezes them first (`forms list` loads no GX, whose import freezes its own)."""
    code = (
        "import atexit, gc, sys; from huizong.cli import main;"
        "atexit.register(lambda: print('frozen', gc.get_freeze_count(), file=sys.stderr));"
        "main(['forms', 'list'])"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "key-indicators" in r.stdout
    frozen = int(r.stderr.split()[-1])
    assert frozen > 10_000
