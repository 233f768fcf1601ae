"""The national benchmark: one realistic return for every county-level division, run as `--region 000000`.

    python benchmarks/bench_national.py [N_COUNTIES] [--naive-sample K] [--no-prefect]

Generates one return per county (40 indicator rows, 20-60 project rows; about 3 % messy, 2 % bad),
then prints, on the same files in one run: files/s and seconds per stage, peak RSS, and the ratios
against (1) the floor, python-calamine reading every file's sheets and nothing else, and (2) the
naive validated pipeline a user would write (pandas.read_excel with openpyxl and a GX validation
per file, a groupby, an openpyxl workbook per prefecture; timed on a sample, per file). Then
huizong end to end: cold in-process, cold as the Prefect flow against a running server (started
before the clock), one new return, nothing new; and one new return on a store holding
1, 5 and 10 years of national history (written straight into the ledger), to show it stays flat.
The Prefect part also runs the cold case on a local Dask cluster (a scheduler and two single-thread
workers started by the bench): reading and publishing as tasks on its workers.
Figures, not pass/fail: compare the ratios.
"""

from __future__ import annotations

import os
import random
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
os.environ.setdefault("TQDM_DISABLE", "1")  # GX's progress bars in the naive pipeline

from builders import BASE_VALUES, CONFIG, Shape, project_row, valid_uscc, write_return

from huizong.pipeline import run_batch
from huizong.settings import Settings


def figures(code: str) -> dict[str, object]:
    rnd = random.Random(code)
    out: dict[str, object] = {}
    for ind in CONFIG.catalogs["key-indicators"]:
        if ind.is_ratio:
            continue
        v = float(BASE_VALUES[ind.code]) * rnd.uniform(0.5, 1.5)  # type: ignore[arg-type]
        out[ind.code] = round(v) if ind.integer else round(v, 2)
    out["B02"] = min(out["B02"], out["B01"])  # type: ignore[type-var]
    out["C02"] = min(out["C02"], out["C01"])  # type: ignore[type-var]
    out["C05"] = min(out["C05"], out["C04"])  # type: ignore[type-var]
    out["A03"] = min(out["A03"], out["Z03"])  # type: ignore[type-var]
    for ind in CONFIG.catalogs["key-indicators"]:
        if ind.is_ratio:
            num, den = float(out[ind.numerator]), float(out[ind.denominator])  # type: ignore[arg-type,index]
            out[ind.code] = round(float(ind.multiplier or 1) * num / den, 4)
    return out


PROVINCIAL = ["省级重点研发计划", "省级科技计划其他", "省级科技重大专项"]


def detail(code: str, vals: dict[str, object], rnd: random.Random) -> list[list[object]]:
    """Project detail that agrees with the county's B01 (provincial applied), B02 (approved), B04
    (central guidance) and B03 (funds), as a county's own sheet does: B01 + B04 rows, 20-60 of them."""
    applied, approved, central = (int(vals[c]) for c in ("B01", "B02", "B04"))  # type: ignore[call-overload]
    each = round(float(vals["B03"]) * 0.8 / max(approved + central, 1), 2)  # type: ignore[arg-type]
    rows = []
    for n in range(applied + central):
        is_central = n >= applied
        status = "申报" if is_central or n >= approved else rnd.choice(["立项", "结题"])
        body = f"91{code}{n:09d}"[:17]
        rows.append(
            project_row(
                n + 1,
                f"项目{n + 1}",
                f"某公司{n + 1}",
                valid_uscc(body),
                "中央引导地方科技发展资金" if is_central else rnd.choice(PROVINCIAL),
                status,
                each if is_central or status != "申报" else None,
            )
        )
    return rows


def make_return(folder: Path, code: str, period: str = "2024H1", name: str | None = None) -> Path:
    rnd = random.Random(code + period)
    vals = figures(code)
    projects = detail(code, vals, rnd)
    roll = rnd.random()
    shape = Shape(projects=projects)
    if roll < 0.03:  # messy: shifted, renamed sheet, 亿元
        shape = Shape(projects=projects, top=3, left=2, sheet="Sheet1", units={"E04": "亿元"})
        vals = {**vals, "E04": round(float(vals["E04"]) / 10000, 6)}  # type: ignore[arg-type]
    elif roll < 0.05:  # bad: approved > applied
        vals = {**vals, "B02": int(vals["B01"]) + 5}  # type: ignore[call-overload]
    return write_return(folder / (name or f"{code}_{period}.xlsx"), code, period, vals, shape)


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def floor(paths: list[Path]) -> float:
    import python_calamine as pc

    t = time.perf_counter()
    for p in paths:
        wb = pc.CalamineWorkbook.from_path(str(p))
        for name in wb.sheet_names:
            wb.get_sheet_by_name(name).to_python()
        wb.close()
    return time.perf_counter() - t


def naive_per_file(paths: list[Path], out: Path) -> float:
    """What a user would write: read each file with pandas (openpyxl), validate it with GX, group,
    and write a workbook per prefecture with openpyxl. Seconds per file."""
    import great_expectations as gx
    import pandas as pd

    t = time.perf_counter()
    ctx = gx.get_context(mode="ephemeral")
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)  # as huizong's validator: no bars
    frames = []
    for n, p in enumerate(paths):
        df = pd.read_excel(p, sheet_name=0, header=None, engine="openpyxl")
        df = df.iloc[10:, [1, 5]].dropna()
        df.columns = ["indicator", "value"]
        df["value"] = pd.to_numeric(df["value"], errors="coerce")
        df["county"] = p.name[:6]
        source = ctx.data_sources.add_pandas(f"s{n}")
        batch = (
            source.add_dataframe_asset("a")
            .add_batch_definition_whole_dataframe("b")
            .get_batch(batch_parameters={"dataframe": df})
        )
        batch.validate(gx.expectations.ExpectColumnValuesToBeBetween(column="value", min_value=0))
        frames.append(df)
    allf = pd.concat(frames)
    allf["prefecture"] = allf["county"].str[:4] + "00"
    for pref, g in allf.groupby("prefecture"):
        g.pivot_table(index="indicator", columns="county", values="value", aggfunc="sum").to_excel(
            out / f"{pref}.xlsx", engine="openpyxl"
        )
    return (time.perf_counter() - t) / len(paths)


def seed_history(db: Path, years: int) -> None:
    """`years` years of national history (four periods a year) written straight into the ledger."""
    con = sqlite3.connect(db)
    cur = con.cursor()
    counties = CONFIG.divisions.county_codes
    inds = [i.code for i in CONFIG.catalogs["key-indicators"]]
    for y in range(2023 - years, 2023):
        for kind in ("Q1", "H1", "Q3", "FY"):
            period = f"{y}{kind}"
            for c in counties:
                cur.execute(
                    "insert into submissions (file, inbox_path, sha256, size, received_at, county_code, period,"
                    " form, status, errors, warnings) values (?, ?, ?, 0, '2020-01-01T00:00:00+08:00', ?, ?,"
                    " 'key-indicators', 'accepted', 0, 0)",
                    (f"{c}_{period}.xlsx", f"{c}_{period}.xlsx", f"h{c}{period}", c, period),
                )
                sid = cur.lastrowid
                cur.executemany(
                    'insert into facts (submission_id, county_code, period, form, indicator, "column", number,'
                    " status, raw, sheet, cell) values (?, ?, ?, 'key-indicators', ?, 'value', ?, 'ok', '', '主要指标', 'F1')",
                    [(sid, c, period, i, 100.0) for i in inds],
                )
    con.commit()
    con.close()


# issue 24's targets were set on a machine whose floor was 1.1 s; machines and their moments differ by
# 2-3x (docs/performance.md), so each is printed also as a multiple of the floor measured in this run
ISSUE_FLOOR = 1.1
TARGETS = {"cold": 25 * ISSUE_FLOOR, "one new return (warm)": 3.0, "nothing new": 0.5}


def run(label: str, settings: Settings) -> float:
    t = time.perf_counter()
    s = run_batch(settings, CONFIG)
    wall = time.perf_counter() - t
    n = len(s.decisions)
    stages = "  ".join(f"{k} {v:.2f}" for k, v in s.timings.items() if v >= 0.01)
    rate = f"{n / wall:7.1f} files/s" if n else "              "
    # ru_maxrss: this process's peak so far (after the Prefect and cluster runs, theirs too)
    print(f"  {label:<44} {wall:7.2f} s {rate}   {stages}   peak so far {peak_mib():.0f} MiB")
    return wall


def prefect_cold(root: Path, inbox: Path, cluster: bool = True) -> float:
    """The same cold run as the Prefect flow, against a local Prefect server started beforehand;
    then again on a local Dask cluster (a scheduler and two single-thread workers, started before
    the clock), reading and publishing as tasks on its workers."""
    from flows.server import start_local_server

    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ["HUIZONG_DOCS"] = "0"
    os.environ["HUIZONG_QUIET"] = "0"
    server = start_local_server(root / "prefect-server.log")
    try:
        from flows.nightly import huizong_run

        t = time.perf_counter()
        result = huizong_run(
            inputs=str(inbox), outputs=str(root / "outputs-prefect"), store=str(root / "store-prefect"), region="000000"
        )
        wall = time.perf_counter() - t
        n = sum(result["counts"].values())
        stages = "  ".join(f"{k} {v:.2f}" for k, v in result.get("timings", {}).items() if v >= 0.01)
        print(
            f"  {'huizong cold through Prefect (running server)':<44} {wall:7.2f} s {n / wall:7.1f} files/s   {stages}"
        )
        if cluster:
            on_cluster(root, inbox.parent / "inputs-dask")
        return wall
    finally:
        server.terminate()
        server.wait(30)


def on_cluster(root: Path, inbox: Path) -> None:
    from distributed import LocalCluster

    from flows.nightly import flow_for

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        t = time.perf_counter()
        result = flow_for(cluster.scheduler_address)(
            inputs=str(inbox), outputs=str(root / "outputs-dask"), store=str(root / "store-dask"), region="000000"
        )
        wall = time.perf_counter() - t
    n = sum(result["counts"].values())
    stages = "  ".join(f"{k} {v:.2f}" for k, v in result.get("timings", {}).items() if v >= 0.01)
    label = "huizong cold on a local Dask cluster (2 workers)"
    print(f"  {label:<44} {wall:7.2f} s {n / wall:7.1f} files/s   {stages}")


CHILD = """
import json, sys, time
from huizong.pipeline import run_batch
from huizong.settings import Settings
a = json.loads(sys.argv[1])
t = time.perf_counter()
s = run_batch(Settings.from_env(**a))
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps([time.perf_counter() - t, len(s.decisions), s.timings, hwm / 1024]))
"""


def run_fresh(label: str, **settings: object) -> None:
    """A run in a process of its own, as the nightly run is: its wall time and its own peak RSS
    (VmHWM: ru_maxrss would carry the forking parent's; the reading workers' and publishers' peaks
    are their own, about 25-85 MiB each)."""
    import json
    import subprocess

    args = json.dumps({k: str(v) for k, v in settings.items()})
    out = subprocess.run([sys.executable, "-c", CHILD, args], capture_output=True, text=True, check=True).stdout
    wall, n, timings, peak = json.loads(out.strip().splitlines()[-1])
    stages = "  ".join(f"{k} {v:.2f}" for k, v in timings.items() if v >= 0.01)
    print(f"  {label:<44} {wall:7.2f} s {n:5d} files        {stages}   peak {peak:.0f} MiB (own process)")


def cold_runs(root: Path, counties: list[str], sample: int, no_prefect: bool) -> None:
    """The floor, the naive pipeline, huizong cold (in-process, then through Prefect), one new, nothing new."""
    inbox = root / "inputs"
    inbox.mkdir()
    t = time.perf_counter()
    paths = [make_return(inbox, c) for c in counties]
    print(
        f"built {len(paths)} returns in {time.perf_counter() - t:.1f} s "
        f"({sum(p.stat().st_size for p in paths) / 1e6:.1f} MB)"
    )
    shutil.copytree(inbox, root / "inputs-prefect")
    shutil.copytree(inbox, root / "inputs-dask")
    floor_s = floor(paths)
    print(f"  floor: python-calamine reads every sheet       {floor_s:7.2f} s {len(paths) / floor_s:7.1f} files/s")
    naive_dir = root / "naive"
    naive_dir.mkdir()
    naive = naive_per_file(paths[:sample], naive_dir)
    print(
        f"  naive validated pipeline (sample of {sample}), per file {naive:7.3f} s  "
        f"-> {naive * len(paths):7.1f} s for all"
    )
    settings = Settings.from_env(
        inputs=inbox, outputs=root / "outputs", store=root / "store", region="000000", docs="0", quiet=0
    )
    t = time.perf_counter()
    run("huizong cold (every level published)", settings)
    cold = time.perf_counter() - t
    print(f"  ratios: cold / floor {cold / floor_s:.1f}x;  naive / cold {naive * len(paths) / cold:.1f}x")
    # the warm runs right after the cold one, in its process (before Prefect's client and a
    # cluster have left their threads in it)
    make_return(inbox, counties[0], name="correction.xlsx")
    run("one new return (first in this process)", settings)
    # warm: the publishing this process had left to its publisher processes has now run here once
    # (its imports, its templates compiled), as in a process that serves runs (the desk, a worker)
    make_return(inbox, counties[1], name="correction-2.xlsx")
    warm = run("one new return (warm)", settings)
    idle = run("nothing new", settings)
    print("  against the floor of this run (issue 24's targets on its machine, floor 1.1 s, in brackets):")
    for label, wall in (("cold", cold), ("one new return (warm)", warm), ("nothing new", idle)):
        print(f"    {label:<40} {wall / floor_s:6.2f}x the floor   (target {TARGETS[label] / ISSUE_FLOOR:.2f}x)")
    if not no_prefect:
        through = prefect_cold(root, root / "inputs-prefect")
        print(f"  ratio: Prefect / in-process {through / cold:.2f}x")


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("counties", nargs="?", type=int, default=len(CONFIG.divisions.county_codes))
    parser.add_argument("--naive-sample", type=int, default=30)
    parser.add_argument("--no-prefect", action="store_true", help="skip the run through Prefect")
    parser.add_argument("--history-only", action="store_true", help="only the one-new-return runs on history")
    opts = parser.parse_args()
    n, sample = opts.counties, opts.naive_sample
    counties = CONFIG.divisions.county_codes[:n]
    root = Path(tempfile.mkdtemp(prefix="huizong-national-"))
    try:
        if not opts.history_only:
            cold_runs(root, counties, sample, opts.no_prefect)
        for years in (1, 5, 10):
            store = root / f"store-{years}y"
            hist = Settings.from_env(
                inputs=root / f"in-{years}",
                outputs=root / f"out-{years}",
                store=store,
                region="000000",
                docs="0",
                quiet=0,
            )
            (root / f"in-{years}").mkdir()
            run_batch(hist, CONFIG)  # creates the ledger
            seed_history(store / "huizong.db", years)
            for y in range(2023 - years, 2023):  # earlier runs published the history: its outputs exist
                for kind in ("Q1", "H1", "Q3", "FY"):
                    done = root / f"out-{years}" / "000000" / "key-indicators" / f"{y}{kind}" / "totals.csv"
                    done.parent.mkdir(parents=True, exist_ok=True)
                    done.touch()
            make_return(root / f"in-{years}", counties[0])
            run_fresh(
                f"one new return, {years} years of national history",
                inputs=root / f"in-{years}",
                outputs=root / f"out-{years}",
                store=store,
                region="000000",
                docs="0",
                quiet="0",
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
