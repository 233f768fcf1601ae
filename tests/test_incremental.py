"""Incremental publishing: a correction rewrites the outputs of the regions that hold it (its city,
its province, the nation) and leaves every other region's files untouched, and what it leaves is
what a full republish writes (`ledger.published`, `publish.digest`)."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import openpyxl
import pytest
from builders import BASE_VALUES, CONFIG, write_return
from conftest import Workspace

from huizong.ledger import due
from huizong.ledger.store import Store
from huizong.pipeline import publish_owed, run_batch
from huizong.settings import Settings

DIV = CONFIG.divisions
PERIOD_DIR = Path("key-indicators") / "2024H1"


def counties() -> list[str]:
    return [c.code for c in DIV.counties_of("620700")] + [c.code for c in DIV.counties_of("620100")][:2] + ["429004"]


def settings(ws: Workspace) -> Settings:
    return Settings.from_env(inputs=ws.inputs, outputs=ws.outputs, store=ws.store, region="000000", docs="0")


def state(outputs: Path) -> dict[str, tuple[int, bytes]]:
    return {
        p.relative_to(outputs).as_posix(): (p.stat().st_mtime_ns, p.read_bytes())
        for p in outputs.rglob("*")
        if p.is_file()
    }


@pytest.fixture
def published(tmp_path):  # type: ignore[no-untyped-def]
    ws = Workspace(tmp_path)
    for c in counties():
        write_return(ws.drop(f"{c}.xlsx"), c, "2024H1", BASE_VALUES)
    s = run_batch(settings(ws), CONFIG)
    assert s.counts.get("accepted") == len(counties())
    return ws


def region_files(before: dict[str, tuple[int, bytes]], region: str) -> set[str]:
    return {
        k
        for k in before
        if k.startswith(f"{region}/{PERIOD_DIR.as_posix()}/")
        or k == f"validation/{region}/{PERIOD_DIR.as_posix()}.html"
    }


def test_a_correction_rewrites_its_city_province_and_nation_only(published):  # type: ignore[no-untyped-def]
    ws = published
    before = state(ws.outputs)
    untouched = region_files(before, "620100") | region_files(before, "420000") | region_files(before, "429004")
    assert {f for f in untouched if f.endswith("totals.csv")} >= {f"620100/{PERIOD_DIR.as_posix()}/totals.csv"}
    time.sleep(0.05)
    write_return(ws.drop("山丹县_更正.xlsx"), "620725", "2024H1", {**BASE_VALUES, "A01": 1234.5})
    s = run_batch(settings(ws), CONFIG)
    assert [d.status for d in s.decisions] == ["accepted"]
    after = state(ws.outputs)
    changed = {k for k in after if before.get(k) != after[k]}
    for region in ("620700", "620000", "000000"):  # the correction's city, province and nation
        for name in ("totals.csv", "counties.csv"):
            assert f"{region}/{PERIOD_DIR.as_posix()}/{name}" in changed
        assert f"validation/{region}/{PERIOD_DIR.as_posix()}.html" in changed
    assert not (changed & untouched), sorted(changed & untouched)  # neither rewritten nor touched
    written = {p.relative_to(ws.outputs).as_posix() for p in s.outputs}
    assert not (written & untouched)
    # and what it left in place is what a full republish writes
    incremental = state(ws.outputs)
    time.sleep(0.05)
    again = run_batch(settings(ws), CONFIG, republish=True)
    assert {p.relative_to(ws.outputs).as_posix() for p in again.outputs} >= untouched  # all rewritten
    full = state(ws.outputs)
    assert set(full) == set(incremental)
    differ = [k for k in full if content(ws.outputs, k, full) != content(ws.outputs, k, incremental)]
    assert not differ, differ  # every workbook cell by cell, every CSV and report draft byte for byte


def content(outputs: Path, rel: str, files: dict[str, tuple[int, bytes]]) -> object:
    """What a file says: a workbook's cells (an .xlsx carries its save time), a page without its
    time and its list of changes since it was last written, anything else its bytes."""
    data = files[rel][1]
    if rel.endswith(".xlsx"):
        wb = openpyxl.load_workbook(io.BytesIO(data))
        return {ws.title: [[c.value for c in row] for row in ws.iter_rows()] for ws in wb.worksheets}
    if rel.endswith(".html"):
        text = re.sub(r'<ul class="changes">.*?</ul>', "", data.decode("utf-8"), flags=re.S)
        return re.sub(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d)?", "", text)
    return data


def publish_everything(ws: Workspace) -> None:
    """Publishing owed for every period and region, as after a crash: only what differs is written."""
    store = Store.open(settings(ws).db_url)
    try:
        with store.begin() as conn:
            due.queue(conn, None)
        publish_owed(store, CONFIG, settings(ws))
    finally:
        store.engine.dispose()


def test_publishing_everything_again_writes_no_region_whose_view_is_unchanged(published):  # type: ignore[no-untyped-def]
    ws = published
    before = state(ws.outputs)
    time.sleep(0.05)
    publish_everything(ws)
    after = state(ws.outputs)
    regions = {k for k in before if k.split("/")[0].isdigit() and f"/{PERIOD_DIR.as_posix()}/" in k}
    assert len(regions) > 20
    assert [k for k in regions if after[k] != before[k]] == []


def test_an_output_deleted_is_written_again(published):  # type: ignore[no-untyped-def]
    ws = published
    gone = ws.outputs / "620100" / PERIOD_DIR / "totals.csv"
    text = gone.read_bytes()
    gone.unlink()
    publish_everything(ws)
    assert gone.read_bytes() == text  # its view is unchanged, but its file was missing
