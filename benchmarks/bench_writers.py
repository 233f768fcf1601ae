"""Which writer for the large plain sheets (数据来源, 项目明细): time, memory, file size and fidelity.

    python benchmarks/bench_writers.py [--rows 200000] [--repeats 3] [--writers NAME ...] [--no-libreoffice]

Builds one plain sheet in memory, a header row and `--rows` rows × 12 columns as 数据来源 has them:
county names, division codes and indicator codes as text, indicator names, 'sheet!cell' references,
file names, what the county typed (numbers as text, full-width digits, spaces, line breaks, and a
few cells that start with '=' or '+', which must stay text), two amount columns as `Decimal` (some
empty), a row number as int, a mostly empty flag column. Then writes it with each writer to the same
target: header bold, '#,##0.00' on the amount cells, every column's width, the first row frozen
(A2), an autofilter over the table; and text always text.

Writers (a writer whose package is missing is reported "not installed" and skipped; only
xlsxwriter is in the lock files):
- xlsxwriter             in-memory mode (shared strings), the repo's OPTIONS without constant_memory
- xlsxwriter cm          constant_memory=True (rows streamed to a temp file, strings inline)
- huizong table()        the repo's own path: `huizong.publish.workbook.Book` + `table()`
                         (constant_memory, header fill and wrap, print setup) plus an autofilter;
                         since 0cdd92d its body goes through `huizong.publish.fastrows`
- pyexcelerate           whole sheet in memory; text columns forced to text (its default writes a
                         string starting with '=' as a formula)
- rustpy-xlsxwriter      the Rust writer (rust_xlsxwriter under PyO3), rows streamed as dicts

Decimal: xlsxwriter's write_number, pyexcelerate and rustpy-xlsxwriter take it as it is
(xlsxwriter writes its digits, pyexcelerate '%.15g', rustpy-xlsxwriter goes through float).
The repo's `put()` writes a Decimal as text, so `huizong table()` gets floats, converted before its
clock starts (the ledger's numbers are floats already).

Each writer runs `--repeats` times, round by round (every writer once, then again), each time in a
fresh process that builds the data, resets its peak RSS (/proc/self/clear_refs) and then writes:
seconds (wall and CPU) and peak RSS delta (VmHWM during the write minus VmRSS before it) are the
best of the runs.
µs/cell divides by rows × 12 (blank cells included). The ratio is against xlsxwriter in the same run.

Fidelity, on the last run's file: openpyxl (read_only) reads every cell back: value equal to the
source, text not turned into a formula, '#,##0.00' on every amount cell, header bold; openpyxl
(full load) checks freeze panes A2, column B's width, the autofilter's range (above
50,000 rows on a 2,000-row file written by the same code, as a full load of the big one takes
minutes). python-calamine reads every value back. If LibreOffice (`soffice`) is on PATH, it converts
each file to CSV headless, and every cell is compared as shown ('1,234.50' for an amount).
Figures, not pass/fail.
"""

from __future__ import annotations

import argparse
import csv
import gc
import importlib
import importlib.metadata
import importlib.util
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from huizong.formats import AMOUNT

SHEET = "数据来源"
HEADERS = [
    "县区",
    "区划代码",
    "指标代码",
    "指标名称",
    "栏目",
    "数值（目录单位）",
    "上年同期",
    "原始填报",
    "行号",
    "文件",
    "单元格",
    "标记",
]
WIDTHS: list[float] = [14, 10, 9, 30, 10, 16, 16, 16, 6, 34, 14, 14]
DECIMAL_COLS = frozenset({5, 6})
INT_COLS = frozenset({8})
TEXT_COLS = frozenset(range(len(HEADERS))) - DECIMAL_COLS - INT_COLS
FULL_LOAD_ROWS = 50_000  # above this, sheet-level checks run on a small file written the same way
SMALL_ROWS = 2_000

Row = list[object]

# ---------------------------------------------------------------------------- the data

COUNTIES = [
    ("东城区", "110101"),
    ("西城区", "110102"),
    ("朝阳区", "110105"),
    ("海淀区", "110108"),
    ("房山区", "110111"),
    ("延庆区", "110119"),
    ("和平区", "120101"),
    ("滨海新区", "120116"),
    ("正定县", "130123"),
    ("迁安市", "130283"),
    ("清徐县", "140121"),
    ("土默特左旗", "150121"),
    ("新民市", "210181"),
    ("九台区", "220113"),
    ("五常市", "230184"),
    ("浦东新区", "310115"),
    ("江阴市", "320281"),
    ("昆山市", "320583"),
    ("余杭区", "330110"),
    ("义乌市", "330782"),
    ("肥西县", "340123"),
    ("晋江市", "350582"),
    ("南昌县", "360121"),
    ("寿光市", "370783"),
    ("新郑市", "410184"),
    ("江夏区", "420115"),
    ("浏阳市", "430181"),
    ("顺德区", "440606"),
    ("宾阳县", "450126"),
    ("琼海市", "469002"),
    ("璧山区", "500120"),
    ("双流区", "510116"),
    ("仁怀市", "520382"),
    ("安宁市", "530181"),
    ("堆龙德庆区", "540103"),
    ("高陵区", "610117"),
    ("榆中县", "620123"),
    ("大通回族土族自治县", "630121"),
    ("贺兰县", "640122"),
    ("昌吉市", "652301"),
    ("敦煌市", "620982"),
    ("临泽县", "620723"),
]
INDICATORS = [
    ("A01", "研究与试验发展(R&D)经费支出"),
    ("A02", "规模以上工业企业R&D经费支出"),
    ("A03", "地方财政科学技术支出"),
    ("B01", "高新技术企业数"),
    ("B02", "新认定高新技术企业数"),
    ("B03", "科技型中小企业入库数"),
    ("C01", "技术合同成交额"),
    ("C02", "技术合同登记数"),
    ("C04", "有效发明专利拥有量"),
    ("C05", "高价值发明专利拥有量"),
    ("D01", "高新技术产业增加值"),
    ("D02", "科技企业孵化器在孵企业数"),
    ("Z03", "地区生产总值(GDP)"),
]
COLUMNS = ["本期数", "上年同期", "目标"]
SHEETS = ["主要指标", "项目明细", "技术合同", "Sheet1"]
FLAGS = ["单位换算：万元→元", "全角数字", "千分位", "文本型数字", "合计行重算"]
ODD_TEXT = [
    '=HYPERLINK("http://example.invalid/附件.pdf","见附件")',
    "=F12*10000",
    "+86 10 6512 3456",
    "-",
    "@备注",
    "  1,234.50 ",
    "约 1200\n（预计）",
]
FULL_WIDTH = str.maketrans("0123456789.", "０１２３４５６７８９．")


def amount(rnd: random.Random) -> Decimal:
    """An amount with two decimals, log-spread from 0.01 to about 1e9, now and then negative."""
    cents = int(10 ** rnd.uniform(0, 11))
    return Decimal(-cents if rnd.random() < 0.01 else cents).scaleb(-2)


def make_rows(n: int, seed: int) -> list[Row]:
    rnd = random.Random(seed)
    rows: list[Row] = []
    for _ in range(n):
        county, code = rnd.choice(COUNTIES)
        ind_code, ind_name = rnd.choice(INDICATORS)
        value = amount(rnd) if rnd.random() >= 0.02 else None
        last = amount(rnd) if rnd.random() >= 0.20 else None
        u = rnd.random()
        if value is None or u < 0.03:
            raw: object = None
        elif u < 0.035:
            raw = rnd.choice(ODD_TEXT)
        elif u < 0.10:
            raw = str(value).translate(FULL_WIDTH)
        elif u < 0.40:
            raw = f"{value:,}"
        else:
            raw = str(value)
        sheet = rnd.choice(SHEETS)
        line = rnd.randint(5, 60)
        rows.append(
            [
                county if rnd.random() >= 0.005 else None,
                code,
                ind_code,
                ind_name,
                rnd.choice(COLUMNS),
                value,
                last,
                raw,
                line,
                f"{county}_2025年第{rnd.randint(1, 4)}季度_科技统计报表.xlsx",
                f"{sheet}!{'DEFG'[rnd.randrange(4)]}{line}",
                rnd.choice(FLAGS) if rnd.random() < 0.15 else None,
            ]
        )
    return rows


# ---------------------------------------------------------------------------- the writers


def write_xlsxwriter(path: Path, rows: Sequence[Row], constant_memory: bool) -> None:
    import xlsxwriter

    from huizong.publish.workbook import OPTIONS

    wb = xlsxwriter.Workbook(str(path), {**OPTIONS, "constant_memory": constant_memory})
    ws = wb.add_worksheet(SHEET)
    bold = wb.add_format({"bold": True})
    money = wb.add_format({"num_format": AMOUNT})
    for c, text in enumerate(HEADERS):
        ws.write_string(0, c, text, bold)
    fmts = [money if c in DECIMAL_COLS else None for c in range(len(HEADERS))]
    write_string, write_number = ws.write_string, ws.write_number
    for r, row in enumerate(rows, start=1):
        for c, v in enumerate(row):
            if v is None:
                continue
            if type(v) is str:
                write_string(r, c, v)
            else:  # Decimal or int, as they are
                write_number(r, c, v, fmts[c])
    for c, width in enumerate(WIDTHS):
        ws.set_column(c, c, width)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, len(rows), len(HEADERS) - 1)
    wb.close()


def floats(rows: Sequence[Row]) -> list[Row]:
    return [[float(v) if type(v) is Decimal else v for v in row] for row in rows]


def write_huizong(path: Path, rows: Sequence[Row]) -> None:
    from huizong.publish.workbook import Book, table

    book = Book(path)
    ws = book.sheet(SHEET)
    table(book, ws, 1, HEADERS, rows, {c + 1: AMOUNT for c in DECIMAL_COLS}, WIDTHS)
    ws.autofilter(0, 0, len(rows), len(HEADERS) - 1)
    book.close()


def write_pyexcelerate(path: Path, rows: Sequence[Row]) -> None:
    from pyexcelerate import Font, Format, Panes, Style, Workbook
    from pyexcelerate.DataTypes import DataTypes

    wb = Workbook()
    ws = wb.new_sheet(SHEET, data=[HEADERS, *rows])
    for c, width in enumerate(WIDTHS):
        if c in DECIMAL_COLS:
            style = Style(size=width, format=Format(AMOUNT))
        elif c in TEXT_COLS:  # else '=...' is written as a formula
            style = Style(size=width, data_type=DataTypes.INLINE_STRING)
        else:
            style = Style(size=width)
        ws.set_col_style(c + 1, style)
    ws.set_row_style(1, Style(font=Font(bold=True)))
    ws.panes = Panes(0, 1)  # (columns, rows) frozen
    ws.auto_filter = True
    wb.save(str(path))


def write_rustpy(path: Path, rows: Sequence[Row]) -> None:
    from rustpy_xlsxwriter import Format, write_worksheet

    money = Format().set_num_format(AMOUNT)
    write_worksheet(
        (dict(zip(HEADERS, row, strict=True)) for row in rows),
        str(path),
        sheet_name=SHEET,
        freeze_row=1,
        bold_headers=True,
        column_widths=WIDTHS,
        column_formats={HEADERS[c]: money for c in DECIMAL_COLS},
        autofilter=True,
    )


def same(rows: Sequence[Row]) -> Sequence[Row]:
    return rows


@dataclass(frozen=True)
class Writer:
    name: str
    package: str  # distribution name, for the version
    modules: tuple[str, ...]  # imported before the clock starts; the first must be installed
    write: Callable[[Path, Sequence[Row]], None]
    prepare: Callable[[Sequence[Row]], Sequence[Row]] = same  # before the clock


XW = ("xlsxwriter", "huizong.publish.workbook")
WRITERS = {
    w.name: w
    for w in (
        Writer("xlsxwriter", "xlsxwriter", XW, lambda p, r: write_xlsxwriter(p, r, False)),
        Writer("xlsxwriter cm", "xlsxwriter", XW, lambda p, r: write_xlsxwriter(p, r, True)),
        Writer("huizong table()", "xlsxwriter", XW, write_huizong, floats),
        Writer("pyexcelerate", "pyexcelerate", ("pyexcelerate",), write_pyexcelerate),
        Writer("rustpy-xlsxwriter", "rustpy-xlsxwriter", ("rustpy_xlsxwriter",), write_rustpy),
    )
}
BASELINE = "xlsxwriter"


def installed(w: Writer) -> bool:
    return importlib.util.find_spec(w.modules[0]) is not None


def version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


# ---------------------------------------------------------------------------- one measured run


def status_kib(key: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":"))


def child(name: str, rows_n: int, seed: int, out: Path) -> None:
    """One run in this fresh process: build the data, reset the peak, write; a JSON line on stdout."""
    w = WRITERS[name]
    for module in w.modules:
        importlib.import_module(module)
    rows = w.prepare(make_rows(rows_n, seed))
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # VmHWM := VmRSS
        reset = True
    except OSError:
        reset = False
    base = status_kib("VmRSS") if reset else status_kib("VmHWM")
    t0, c0 = time.perf_counter(), time.process_time()
    w.write(out, rows)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_kib": status_kib("VmHWM") - base, "reset": reset}))


def run_child(name: str, rows_n: int, seed: int, out: Path) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", name, "--rows", str(rows_n), "--seed", str(seed), "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{name}: exit {proc.returncode}\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------- fidelity


def short(v: object) -> str:
    s = repr(v)
    return s if len(s) <= 40 else s[:37] + "..."


class Tally:
    """Failed checks by name, with a count and the first example of each."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.examples: dict[str, str] = {}

    def fail(self, check: str, example: str) -> None:
        self.counts[check] = self.counts.get(check, 0) + 1
        self.examples.setdefault(check, example)

    def summary(self) -> str:
        return "ok" if not self.counts else ", ".join(f"{k} ×{n:,}" for k, n in self.counts.items())

    def details(self) -> list[str]:
        return [f"{k} ×{n:,}, e.g. {self.examples[k]}" for k, n in self.counts.items()]


def cell_name(r: int, c: int) -> str:
    return f"{chr(ord('A') + c)}{r + 1}"


def check_openpyxl_cells(path: Path, rows: Sequence[Row], t: Tally) -> None:
    """Every cell, streamed: value, text-stays-text, number format on amounts, header bold."""
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True)
    if SHEET not in wb.sheetnames:
        t.fail("sheet name", f"{wb.sheetnames}")
        return
    ws = wb[SHEET]
    ws.reset_dimensions()  # walk the cells as written, whatever the <dimension> says
    seen = 0
    for r, cells in enumerate(ws.iter_rows()):
        seen += 1
        got = {cell.column - 1: cell for cell in cells if getattr(cell, "column", None) and cell.value is not None}
        if r == 0:
            for c, text in enumerate(HEADERS):
                cell = got.get(c)
                if cell is None or cell.value != text:
                    t.fail("header text", f"{cell_name(0, c)} {short(cell and cell.value)}")
                elif not cell.font.b:
                    t.fail("header bold", cell_name(0, c))
            continue
        src = rows[r - 1] if r - 1 < len(rows) else [None] * len(HEADERS)
        for c, v in enumerate(src):
            cell = got.pop(c, None)
            where = cell_name(r, c)
            if v is None:
                if cell is not None:
                    t.fail("values", f"{where} {short(None)} → {short(cell.value)}")
            elif cell is None:
                t.fail("values", f"{where} {short(v)} → None")
            elif isinstance(v, str):
                if cell.data_type == "f":
                    t.fail("text→formula", f"{where} {short(v)}")
                elif cell.value != v or cell.data_type != "s":
                    t.fail("values", f"{where} {short(v)} → {short(cell.value)} ({cell.data_type})")
            else:
                if not isinstance(cell.value, int | float) or cell.value != float(v):  # type: ignore[arg-type]
                    t.fail("values", f"{where} {short(v)} → {short(cell.value)}")
                if c in DECIMAL_COLS and cell.number_format != AMOUNT:
                    t.fail("number format", f"{where} {cell.number_format!r}")
        for c, cell in got.items():
            t.fail("values", f"{cell_name(r, c)} None → {short(cell.value)}")
    if seen != len(rows) + 1:
        t.fail("row count", f"{seen:,} rows read, {len(rows) + 1:,} written")
    wb.close()


def check_openpyxl_sheet(path: Path, n_rows: int, t: Tally) -> None:
    """Freeze panes, column B's width, the autofilter's range (a full load)."""
    import openpyxl

    ws = openpyxl.load_workbook(path)[SHEET]
    if ws.freeze_panes != "A2":
        t.fail("freeze A2", repr(ws.freeze_panes))
    dim = ws.column_dimensions["B"]
    if not dim.customWidth or abs((dim.width or 0) - WIDTHS[1]) >= 1:
        t.fail("width B", f"width {dim.width!r}, custom {dim.customWidth!r}")
    want = f"A1:{chr(ord('A') + len(HEADERS) - 1)}{n_rows + 1}"
    if ws.auto_filter.ref != want:
        t.fail("autofilter", f"{ws.auto_filter.ref!r}, want {want!r}")


def check_calamine(path: Path, rows: Sequence[Row]) -> Tally:
    from python_calamine import CalamineWorkbook

    data = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(SHEET).to_python(skip_empty_area=False)

    def same(c: int, v: object, g: object) -> tuple[bool, object]:
        if v is None:
            return g == "", v
        if isinstance(v, str):
            return g == v, v
        return isinstance(g, int | float) and not isinstance(g, bool) and g == float(v), v  # type: ignore[arg-type]

    return compare(Tally(), data, rows, same)


def compare(
    t: Tally,
    read: Sequence[Sequence[object]],
    rows: Sequence[Row],
    same: Callable[[int, object, object], tuple[bool, object]],
) -> Tally:
    """The header and every cell read back (`read`, header first) against the rows written;
    `same(column, written, read)` says whether a cell came back, and what was looked for."""
    if [str(x) for x in read[0]] != HEADERS:
        t.fail("header", short(read[0]))
    if len(read) != len(rows) + 1:
        t.fail("row count", f"{len(read):,} rows read, {len(rows) + 1:,} written")
    for r, (src, got) in enumerate(zip(rows, read[1:], strict=False), start=1):
        for c, v in enumerate(src):
            g = got[c] if c < len(got) else ""
            ok, want = same(c, v, g)
            if not ok:
                t.fail("values", f"{cell_name(r, c)} {short(want)} → {short(g)}")
    return t


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def check_libreoffice(exe: str, path: Path, rows: Sequence[Row], work: Path) -> Tally:
    """LibreOffice headless to CSV (UTF-8, values as shown); every cell against the source as Excel shows it."""
    t = Tally()
    out = work / f"lo_{path.stem}"
    out.mkdir(exist_ok=True)
    profile = (work / "lo_profile").resolve().as_uri()
    cmd = [
        exe,
        f"-env:UserInstallation={profile}",
        "--headless",
        "--convert-to",
        "csv:Text - txt - csv (StarCalc):44,34,76,1,,1033,false,false,true",
        "--outdir",
        str(out),
        str(path),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)
    csv_path = out / (path.stem + ".csv")
    if proc.returncode != 0 or not csv_path.exists():
        t.fail("conversion", (proc.stderr or proc.stdout).strip()[-200:] or f"exit {proc.returncode}")
        return t
    with open(csv_path, newline="", encoding="utf-8") as f:
        got_rows = list(csv.reader(f))

    def same(c: int, v: object, g: object) -> tuple[bool, object]:
        if v is None:
            want = ""
        elif isinstance(v, str):
            want = v
        elif c in DECIMAL_COLS:
            want = f"{v:,.2f}"
        else:
            want = str(v)
        return g == want, want

    return compare(t, got_rows, rows, same)


# ---------------------------------------------------------------------------- the run


@dataclass
class Result:
    seconds: float
    cpu: float
    peak_kib: float
    reset: bool
    size: int
    path: Path
    openpyxl: Tally = field(default_factory=Tally)
    calamine: Tally = field(default_factory=Tally)
    libreoffice: Tally = field(default_factory=Tally)


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def table_text(header: Sequence[str], body: Sequence[Sequence[str]], right: set[int]) -> str:
    widths = [max(len(str(row[i])) for row in [header, *body]) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        return " | ".join(
            str(x).rjust(widths[i]) if i in right else str(x).ljust(widths[i]) for i, x in enumerate(row)
        ).rstrip()

    return "\n".join([line(header), "-+-".join("-" * w for w in widths), *(line(row) for row in body)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="data rows (default 200,000)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per writer, best reported (default 3)")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--writers", nargs="+", choices=list(WRITERS), default=list(WRITERS))
    parser.add_argument("--no-libreoffice", action="store_true", help="skip the LibreOffice CSV cross-check")
    parser.add_argument("--keep", type=Path, help="keep the written files in this folder")
    parser.add_argument("--child", choices=list(WRITERS), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.rows, args.seed, args.out)
        return

    n, cols = args.rows, len(HEADERS)
    cells = n * cols
    lo = None if args.no_libreoffice else soffice()
    lo_version = ""
    if lo:
        lo_version = subprocess.run([lo, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    print(
        f"bench_writers: {n:,} rows × {cols} columns = {cells:,} cells (and a header row), seed {args.seed}; "
        f"best of {args.repeats} run(s) per writer, each in a fresh process"
    )
    print(
        f"python {sys.version.split()[0]}; "
        + "; ".join(
            f"{p} {version(p)}"
            for p in ("xlsxwriter", "pyexcelerate", "rustpy-xlsxwriter", "openpyxl", "python-calamine")
        )
        + f"; {lo_version or 'LibreOffice: not used'}"
    )
    print(f"{os.cpu_count()} CPUs; load average before: {loadavg()}")
    print()

    work = Path(tempfile.mkdtemp(prefix="bench_writers_"))
    files = args.keep or work
    files.mkdir(parents=True, exist_ok=True)
    results: dict[str, Result | None] = {}  # None: not installed
    outs: dict[str, Path] = {}
    for name in args.writers:
        if installed(WRITERS[name]):
            outs[name] = files / f"{name.replace(' ', '_').replace('()', '')}.xlsx"
        else:
            results[name] = None
            print(f"{name:<18} not installed, skipped")
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in outs}
    for _ in range(args.repeats):  # round by round, so that a busy spell of the machine hits every writer
        for name, out in outs.items():
            runs[name].append(run_child(name, n, args.seed, out))
    for name, out in outs.items():
        rs = runs[name]
        results[name] = Result(
            seconds=min(r["seconds"] for r in rs),
            cpu=min(r["cpu"] for r in rs),
            peak_kib=min(r["peak_kib"] for r in rs),
            reset=all(r["reset"] for r in rs),
            size=out.stat().st_size,
            path=out,
        )
        print(
            f"{name:<18} runs (s): "
            + "  ".join(f"{r['seconds']:.2f}" for r in rs)
            + "   CPU (s): "
            + "  ".join(f"{r['cpu']:.2f}" for r in rs)
        )
    results = {name: results[name] for name in args.writers}  # in the order asked
    print(f"load average after the timed runs: {loadavg()}")
    print()

    rows = make_rows(n, args.seed)
    for name, res in results.items():
        if res is None:
            continue
        w = WRITERS[name]
        check_openpyxl_cells(res.path, rows, res.openpyxl)
        if n <= FULL_LOAD_ROWS:
            check_openpyxl_sheet(res.path, n, res.openpyxl)
        else:
            small = work / f"small_{res.path.name}"
            w.write(small, w.prepare(rows[:SMALL_ROWS]))
            check_openpyxl_sheet(small, SMALL_ROWS, res.openpyxl)
        res.calamine = check_calamine(res.path, rows)
        if lo:
            res.libreoffice = check_libreoffice(lo, res.path, rows, work)

    base = results.get(BASELINE)
    header = [
        "writer",
        "seconds",
        "CPU s",
        "µs/cell",
        "× xlsxwriter",
        "peak MiB",
        "size MB",
        "openpyxl fidelity",
        "calamine",
    ]
    if lo:
        header.append("LibreOffice csv")
    body = []
    for name, res in results.items():
        if res is None:
            body.append([name, "not installed", *[""] * (len(header) - 2)])
            continue
        row = [
            name,
            f"{res.seconds:.2f}",
            f"{res.cpu:.2f}",
            f"{res.seconds / cells * 1e6:.2f}",
            f"{res.seconds / base.seconds:.2f}" if base else "n/a",
            f"{max(0.0, res.peak_kib / 1024):.1f}",
            f"{res.size / 1e6:.2f}",
            res.openpyxl.summary(),
            res.calamine.summary(),
        ]
        if lo:
            row.append(res.libreoffice.summary())
        body.append(row)
    print(table_text(header, body, right={1, 2, 3, 4, 5, 6}))
    print()
    notes = [
        "seconds: wall clock, best of the runs; CPU s: the process's user + system time (all threads), best of the runs",
        "(less sensitive to other work on the machine); µs/cell: seconds / (rows × 12); × xlsxwriter: seconds against",
        "xlsxwriter's best in this run;",
        "peak MiB: VmHWM during the write minus VmRSS just before it, lowest of the runs"
        + ("" if all(r.reset for r in results.values() if r) else " (peak NOT reset: clear_refs refused)")
        + "; size MB: 10^6 bytes.",
    ]
    if n > FULL_LOAD_ROWS:
        notes.append(
            f"openpyxl sheet checks (freeze, width, autofilter) on a {SMALL_ROWS:,}-row file written the same way."
        )
    if lo:
        notes.append("LibreOffice: every cell of its CSV export (values as shown) against the source.")
    elif args.no_libreoffice:
        notes.append("LibreOffice cross-check skipped (--no-libreoffice).")
    else:
        notes.append("LibreOffice was not available (no soffice/libreoffice on PATH): CSV cross-check skipped.")
    print("\n".join(notes))
    for name, res in results.items():
        if res is None:
            continue
        for check, t in (("openpyxl", res.openpyxl), ("calamine", res.calamine), ("LibreOffice", res.libreoffice)):
            for d in t.details():
                print(f"  {name} / {check}: {d}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
