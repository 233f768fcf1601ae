"""Every level of the hierarchy from county returns: a slice of the nation (two provinces, some
prefectures partial, a county-level city directly under a third province) run as `--region 000000`.
Every level's totals are the sums of the generated county figures; ratios are recomputed at
every level from the summed parts, never averaged."""

from __future__ import annotations

import math
import random

import openpyxl
import pytest
from builders import BASE_VALUES, CONFIG, write_return

from huizong.pipeline import run_batch

DIV = CONFIG.divisions
CAT = CONFIG.catalogs["key-indicators"]


def slice_counties() -> list[str]:
    ningxia = [c.code for c in DIV.counties_of("640000")]  # all of 宁夏
    zhangye = [c.code for c in DIV.counties_of("620700")]  # all of 张掖市
    lanzhou = [c.code for c in DIV.counties_of("620100")][:3]  # part of 兰州市
    return ningxia + zhangye + lanzhou + ["429004"]  # 仙桃市, directly under 湖北省


def figures(county: str) -> dict[str, float]:
    rnd = random.Random(county)
    out: dict[str, float] = {}
    for ind in CAT:
        if ind.is_ratio:
            continue
        base = float(BASE_VALUES[ind.code])  # type: ignore[arg-type]
        out[ind.code] = (
            float(round(base * rnd.uniform(0.5, 1.5))) if ind.integer else round(base * rnd.uniform(0.5, 1.5), 2)
        )
    out["B02"] = min(out["B02"], out["B01"])
    out["C02"], out["C05"], out["A03"] = (
        min(out["C02"], out["C01"]),
        min(out["C05"], out["C04"]),
        min(out["A03"], out["Z03"]),
    )
    for ind in CAT:
        if ind.is_ratio:
            out[ind.code] = round(float(ind.multiplier or 1) * out[ind.numerator] / out[ind.denominator], 4)  # type: ignore[index]
    return out


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def nation(tmp_path_factory, request):  # type: ignore[no-untyped-def]
    from conftest import Workspace

    url = request.getfixturevalue("pg_cluster").new_database() if request.param == "postgresql" else ""
    ws = Workspace(tmp_path_factory.mktemp("nation"), url)
    made = {c: figures(c) for c in slice_counties()}
    for c, vals in made.items():
        write_return(ws.drop(f"{c}.xlsx"), c, "2024H1", vals)
    settings = ws.settings.__class__.from_env(
        inputs=ws.inputs, outputs=ws.outputs, store=ws.store, region="000000", db_url=ws.db_url
    )
    summary = run_batch(settings, CONFIG)
    return ws, made, summary


def totals(ws, region: str) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    return {r["indicator_code"]: r for r in ws.csv(f"{region}/key-indicators/2024H1/totals.csv")}


def test_every_return_of_the_slice_is_accepted(nation) -> None:  # type: ignore[no-untyped-def]
    _, made, summary = nation
    assert summary.counts["accepted"] == len(made)
    assert all(d.status == "accepted" for d in summary.decisions)


@pytest.mark.parametrize("region", ["000000", "620000", "640000", "420000", "620700", "620100", "640100", "640500"])
def test_every_level_sums_the_county_figures_and_recomputes_ratios(nation, region) -> None:  # type: ignore[no-untyped-def]
    ws, made, _ = nation
    inside = [c.code for c in DIV.counties_of(region)]
    mine = {c: v for c, v in made.items() if c in inside}
    got = totals(ws, region)
    for ind in CAT:
        row = got[ind.code]
        assert int(row["n_expected"]) == len(inside)
        assert int(row["n_reported"]) == len(mine)
        if ind.is_ratio:
            num = math.fsum(v[ind.numerator] for v in mine.values())  # type: ignore[index]
            den = math.fsum(v[ind.denominator] for v in mine.values())  # type: ignore[index]
            expected = float(ind.multiplier or 1) * num / den
            averaged = sum(v[ind.code] for v in mine.values()) / len(mine)
            assert float(row["value"]) == pytest.approx(expected, rel=1e-6), ind.code
            assert float(row["value"]) != pytest.approx(averaged, rel=1e-9)  # never an average of ratios
        else:
            assert float(row["value"]) == pytest.approx(math.fsum(v[ind.code] for v in mine.values()), rel=1e-9)


def test_a_province_workbook_shows_its_prefectures_and_how_many_counties_each_has_in(nation) -> None:  # type: ignore[no-untyped-def]
    ws, made, _ = nation
    book = openpyxl.load_workbook(
        ws.outputs / "620000" / "key-indicators" / "2024H1" / "主要指标汇总_甘肃省_2024H1.xlsx"
    )
    sheet = book["分地区"]
    rows = [[c.value for c in r] for r in sheet.iter_rows()]
    header = next(r for r in rows if r[0] == "指标代码")
    assert header[3:5] == ["兰州市", "嘉峪关市"] and header[-1] == "甘肃省合计"
    counts = next(r for r in rows if r[1] == "已报/应报县区数")
    col = {name: i for i, name in enumerate(header)}
    assert counts[col["张掖市"]] == "6/6"
    assert counts[col["兰州市"]] == f"3/{len(DIV.counties_of('620100'))}"
    assert counts[col["嘉峪关市"]].startswith("0/")
    assert counts[-1] == f"9/{len(DIV.counties_of('620000'))}"
    a01 = next(r for r in rows if r[0] == "A01")
    zhangye = math.fsum(made[c.code]["A01"] for c in DIV.counties_of("620700"))
    assert a01[col["张掖市"]] == pytest.approx(zhangye)
    assert a01[col["嘉峪关市"]] is None


def test_a_county_level_city_under_a_province_is_its_own_part(nation) -> None:  # type: ignore[no-untyped-def]
    ws, made, _ = nation
    book = openpyxl.load_workbook(
        ws.outputs / "420000" / "key-indicators" / "2024H1" / "主要指标汇总_湖北省_2024H1.xlsx"
    )
    rows = [[c.value for c in r] for r in book["分地区"].iter_rows()]
    header = next(r for r in rows if r[0] == "指标代码")
    assert "仙桃市" in header
    a01 = next(r for r in rows if r[0] == "A01")
    assert a01[header.index("仙桃市")] == pytest.approx(made["429004"]["A01"])
    assert not (ws.outputs / "420100").exists()  # a prefecture with no return of the period gets no outputs
    nation_book = openpyxl.load_workbook(
        ws.outputs / "000000" / "key-indicators" / "2024H1" / "主要指标汇总_全国_2024H1.xlsx"
    )
    header = next(r for r in ([c.value for c in r] for r in nation_book["分地区"].iter_rows()) if r[0] == "指标代码")
    assert len(header) == 3 + 32 + 1  # every province, then the nation
    # above a city, the projects, the charts and every number's source stay in the cities' workbooks
    assert nation_book.sheetnames == ["汇总", "分地区", "报送情况", "问题清单", "通报排名", "更正记录"]
    assert (
        "项目明细"
        in openpyxl.load_workbook(
            ws.outputs / "620700" / "key-indicators" / "2024H1" / "主要指标汇总_张掖市_2024H1.xlsx"
        ).sheetnames
    )


def test_one_new_return_republishes_only_the_regions_that_hold_it(nation) -> None:  # type: ignore[no-untyped-def]
    """Runs last: it adds a correction for a county of 银川市 to the shared run."""
    ws, made, _ = nation
    gansu = ws.outputs / "620000" / "key-indicators" / "2024H1" / "totals.csv"
    zhangye = ws.outputs / "620700" / "key-indicators" / "2024H1" / "totals.csv"
    before = {p: p.stat().st_mtime_ns for p in (gansu, zhangye)}
    county = DIV.counties_of("640100")[0].code
    write_return(ws.drop("更正.xlsx"), county, "2024H1", {**made[county], "A01": made[county]["A01"] + 1000})
    settings = ws.settings.__class__.from_env(
        inputs=ws.inputs, outputs=ws.outputs, store=ws.store, region="000000", db_url=ws.db_url
    )
    summary = run_batch(settings, CONFIG)
    assert [d.status for d in summary.decisions] == ["accepted"]
    written = {p.relative_to(ws.outputs).as_posix() for p in summary.outputs if p.name == "totals.csv"}
    assert written == {
        "000000/key-indicators/2024H1/totals.csv",
        "640000/key-indicators/2024H1/totals.csv",
        "640100/key-indicators/2024H1/totals.csv",
    }
    assert {p: p.stat().st_mtime_ns for p in (gansu, zhangye)} == before
    assert float(totals(ws, "640000")["A01"]["value"]) == pytest.approx(
        math.fsum(v["A01"] for c, v in made.items() if c.startswith("64")) + 1000
    )


def test_publishers_in_processes_write_what_one_process_writes(nation, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The slice's regions are many enough to be published by publisher processes; published
    again in this process alone, every CSV is the same, byte for byte."""
    from huizong.pipeline import open_store
    from huizong.publish import outputs

    ws, _, summary = nation
    assert len([p for p in summary.outputs if p.name == "totals.csv"]) >= outputs.PARALLEL_FROM
    settings = ws.settings.__class__.from_env(
        inputs=ws.inputs, outputs=tmp_path / "serial", store=ws.store, region="000000", db_url=ws.db_url
    )
    monkeypatch.setattr(outputs, "PARALLEL_FROM", 10**9)
    written = outputs.publish(open_store(settings), CONFIG, settings, None)
    csvs = sorted(p.relative_to(tmp_path / "serial") for p in written if p.suffix == ".csv")
    assert len(csvs) > 10
    for rel in csvs:
        if rel.name != "submissions.csv":
            assert (tmp_path / "serial" / rel).read_bytes() == (ws.outputs / rel).read_bytes(), rel


def test_jobs_are_shared_out_by_weight_in_their_order() -> None:
    from huizong.publish.parallel import share_out

    jobs = [("a", "p1"), ("b", "p1"), ("c", "p1"), ("d", "p2")]
    assert share_out(jobs, [10, 1, 1, 9], 2) == [[("a", "p1"), ("c", "p1")], [("b", "p1"), ("d", "p2")]]
    assert share_out(jobs[:1], [1], 4) == [[("a", "p1")]]


def test_a_publishers_fault_is_raised_in_the_run(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A publisher that cannot write (here: its outputs folder is a file) raises the same OSError
    in the parent, which the CLI turns into one line and exit status 4."""
    from huizong.publish.parallel import publish_in_processes

    blocker = tmp_path / "outputs"
    blocker.write_text("not a folder")
    with pytest.raises(OSError):
        publish_in_processes(
            [("620700", "2024H1", "key-indicators")], [1], 1, f"sqlite:///{tmp_path / 'l.db'}", CONFIG, blocker
        )
