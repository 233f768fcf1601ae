"""Screening a sheet costs time in proportion to its bytes, and a refused file is answered fast.

1. A county template as printed: a 合计 formula under the table, then formatted blank cells
   (borders) down the sheet; at 1×, 4× and 16× the cells, screened in one run. Linear time shows
   as a ratio of time to cells that stays flat (16× the cells, about 16× the time).
2. The same template with 50,000 formatted blanks after its formulas, read whole (`read_return`).
3. `huizong validate` of one refused file in a fresh process (start-up included), against
   `python -c pass` and `python -c "import huizong.cli"` measured in the same run.

    python benchmarks/bench_screen.py
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from builders import CONFIG, write_return  # noqa: E402

from huizong.limits import Limits  # noqa: E402
from huizong.read.returns import read_return  # noqa: E402
from huizong.read.screen import screen  # noqa: E402

BASE_CELLS = 4_000


def template(path: Path, blanks: int) -> Path:
    """A good return with a formula at F13 (saved without a value) and `blanks` styled blank cells after it,
    with a saved subtotal formula every 1,000 rows."""
    good = write_return(path.with_name("good.xlsx"), "620722", "2024H1")
    rows = blanks // 8
    columns = [bytes([c]) for c in b"ABCDEFGH"]
    cells = b"".join(  # a subtotal formula every 1,000 rows: one in every chunk the screen reads
        b'<row r="%d">' % r
        + b"".join(b'<c r="%s%d" s="1"/>' % (c, r) for c in columns)
        + (b'<c r="I%d"><f>SUM(A1:H1)</f><v>0</v></c>' % r if r % 1000 == 0 else b"")
        + b"</row>"
        for r in range(200, 200 + rows)
    )
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<c r="F13"([^>]*)><v>[^<]*</v></c>', rb'<c r="F13"\1><f>SUM(F5:F12)</f></c>', data)
                data = data.replace(b"</sheetData>", cells + b"</sheetData>")
            dst.writestr(info, data)
    return path


def best(fn, runs: int = 5) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def fresh(args: list[str], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, *args], capture_output=True, cwd=ROOT, check=False)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    limits = Limits()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print("screening a template with formatted blanks after a formula (best of 5):")
        first = None
        for k in (1, 4, 16):
            path = template(folder / f"t{k}.xlsx", BASE_CELLS * k)
            seconds = best(lambda p=path: screen(p, "xlsx", limits))
            per = seconds / (BASE_CELLS * k) * 1e6
            first = first or per
            print(
                f"  {k:>2}× ({BASE_CELLS * k:>7,} blank cells)  {seconds * 1000:8.1f} ms   {per:6.3f} µs a cell   "
                f"ratio to 1×: {per / first:4.2f}"
            )
        big = template(folder / "big.xlsx", 50_000)
        seconds = best(lambda: read_return(big, CONFIG, "620700"), 3)
        ret = read_return(big, CONFIG, "620700")
        print(
            f"read_return of a return with 50,000 formatted blanks after its formula: {seconds:.3f} s "
            f"({', '.join(i.code + '@' + (i.cell or '') for i in ret.issues)})"
        )
        refused = folder / "notes.xls"
        refused.write_text("指标名称,本期累计\n研发经费,5100\n", encoding="utf-8")
        floor = fresh(["-c", "pass"])
        imports = fresh(["-c", "import huizong.cli"])
        validate = fresh(["-m", "huizong.cli", "validate", str(refused)])
        print(
            f"fresh process, median of 5: python -c pass {floor:.2f} s; import huizong.cli {imports:.2f} s; "
            f"huizong validate of one refused file {validate:.2f} s"
        )


if __name__ == "__main__":
    main()
