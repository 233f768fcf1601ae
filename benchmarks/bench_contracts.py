"""A year of monthly technology-contract returns for a province, run as `--region 620000`.

    python benchmarks/bench_contracts.py [N_COUNTIES] [--months 12]

甘肃's 86 counties × 12 months, 20-200 contracts each (about 100,000 contracts), written as a
county's program would (xlsxwriter), about 2 % with a bad row. Prints, on the same files in one
run: the floor (python-calamine reading every sheet and nothing else), the naive script a user
would write (pandas.read_excel per file, a concat, a groupby to the province; timed on a sample,
per file), huizong cold (read, validate against the definition's generated GX suites, commit,
publish every month, quarter, half year and year of the province and its prefectures), one new
return (a county's correction of one month), and nothing new. Figures, not pass/fail.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
os.environ.setdefault("TQDM_DISABLE", "1")

from bench_national import floor
from builders import CONFIG, valid_uscc

from huizong.pipeline import run_batch
from huizong.settings import Settings

FORM = CONFIG.form_by_id["tech-contracts"]
HEADERS = [
    "序号",
    "合同登记号",
    "项目名称",
    "合同类别",
    "卖方名称",
    "卖方统一社会信用代码",
    "买方名称",
    "买方所在地",
    "成交金额（万元）",
    "技术交易额（万元）",
    "签订日期",
    "登记日期",
    "技术领域",
]
CATEGORIES = ["技术开发（委托）", "技术开发（合作）", "技术转让", "技术许可", "技术咨询", "技术服务"]
DOMAINS = ["电子信息", "先进制造", "新材料", "新能源与节能", "生物医药", "现代农业", "资源与环境"]
PLACES = ["甘肃省兰州市", "甘肃省张掖市", "北京市", "陕西省西安市", "甘肃省酒泉市"]


def write_month(
    folder: Path, county: str, month: int, serial: int, rnd: random.Random, name: str = ""
) -> tuple[Path, int]:
    import xlsxwriter

    n = rnd.randint(20, 200)
    path = folder / (name or f"{county}_2024{month:02d}_技术合同.xlsx")
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("技术合同")
    date = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.write_string(0, 0, "技术合同认定登记明细表")
    ws.write_string(1, 0, "行政区划代码：")
    ws.write_string(1, 2, county)
    ws.write_string(2, 0, f"登记月份：2024年{month}月")
    for c, h in enumerate(HEADERS):
        ws.write_string(4, c, h)
    bad = rnd.random() < 0.02
    for k in range(n):
        serial += 1
        amount = round(rnd.uniform(5, 500), 2)
        day = rnd.randint(2, 28)
        row: list[object] = [
            k + 1,
            f"{county}2024{serial:04d}",
            f"技术合同{serial}",
            CATEGORIES[serial % 6],
            f"卖方{serial % 97}公司",
            valid_uscc(f"91{county}{serial:09d}"[:17]),
            f"买方{serial % 89}公司",
            PLACES[serial % 5],
            amount,
            round(amount * 0.7, 2),
        ]
        if bad and k == 0:
            row[9] = amount + 10  # technology part above the turnover
        for c, v in enumerate(row):
            ws.write(5 + k, c, v)
        ws.write_datetime(5 + k, 10, dt.datetime(2024, month, day - 1), date)
        ws.write_datetime(5 + k, 11, dt.datetime(2024, month, day), date)
        ws.write_string(5 + k, 12, DOMAINS[serial % 7])
    wb.close()
    return path, serial


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def naive_per_file(paths: list[Path]) -> float:
    """pandas.read_excel (openpyxl) per file, header found by position, a concat and a groupby."""
    import pandas as pd

    t = time.perf_counter()
    frames = []
    for p in paths:
        df = pd.read_excel(p, sheet_name=0, header=4, engine="openpyxl")
        df["county"] = p.name[:6]
        frames.append(df)
    allf = pd.concat(frames)
    allf.groupby(["county", "合同类别"])["成交金额（万元）"].agg(["count", "sum"])
    return (time.perf_counter() - t) / len(paths)


def run(label: str, settings: Settings) -> float:
    t = time.perf_counter()
    s = run_batch(settings, CONFIG)
    wall = time.perf_counter() - t
    n = len(s.decisions)
    stages = "  ".join(f"{k} {v:.2f}" for k, v in s.timings.items() if v >= 0.01)
    rate = f"{n / wall:7.1f} files/s" if n else "              "
    counts = " ".join(f"{k} {v}" for k, v in s.counts.items() if v)
    print(f"  {label:<40} {wall:7.2f} s {rate}   {stages}   peak {peak_mib():.0f} MiB   [{counts}]")
    return wall


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    months = int(sys.argv[sys.argv.index("--months") + 1]) if "--months" in sys.argv else 12
    counties = [d.code for d in CONFIG.divisions.counties_of("620000")]
    if args:
        counties = counties[: int(args[0])]
    root = Path(tempfile.mkdtemp(prefix="huizong-contracts-"))
    inbox = root / "inputs"
    inbox.mkdir()
    t = time.perf_counter()
    paths: list[Path] = []
    serials: dict[str, int] = {}
    for c in counties:
        rnd = random.Random(c)
        serial = 0
        for m in range(1, months + 1):
            p, serial = write_month(inbox, c, m, serial, rnd)
            paths.append(p)
        serials[c] = serial
    n_contracts = sum(serials.values())
    print(
        f"{len(counties)} counties x {months} months: {len(paths)} returns, {n_contracts:,} contracts, built in "
        f"{time.perf_counter() - t:.1f} s ({sum(p.stat().st_size for p in paths) / 1e6:.1f} MB)"
    )
    floor_s = floor(paths)
    print(f"  {'floor: python-calamine reads every sheet':<40} {floor_s:7.2f} s {len(paths) / floor_s:7.1f} files/s")
    sample = paths[:: max(1, len(paths) // 40)]
    naive = naive_per_file(sample)
    print(
        f"  {'naive script (sample), per file':<40} {naive:7.3f} s  ->  {naive * len(paths):7.2f} s for all "
        f"(read and group only: no validation, no ledger, no workbook)"
    )
    settings = Settings.from_env(
        inputs=inbox, outputs=root / "outputs", store=root / "store", region="620000", docs="0", quiet="0"
    )
    cold = run("huizong cold (every level, every period)", settings)
    print(
        f"  ratios: cold / floor {cold / floor_s:.1f}x;  naive (read+group only) / cold {naive * len(paths) / cold:.2f}x"
    )
    c = counties[0]
    write_month(inbox, c, 3, 5000, random.Random("again"), name=f"{c}_202403_更正.xlsx")
    run("one new return (a month corrected)", settings)
    run("nothing new", settings)
    print(f"  outputs in {root}")


if __name__ == "__main__":
    main()
