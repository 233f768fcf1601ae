"""Figures for the threat model: the worst file of each class, and what the worker isolation costs.

    python benchmarks/bench_hostile.py [N_CLEAN]     (default 240 clean returns)

For each hostile class: time to a verdict, the reading worker's peak memory, the verdict. Then the
cost of reading in bounded workers (one fresh interpreter per core, limits, pipes) against
reading in the run's own process, on the demo batch and on N clean returns, measured in one run:
compare the ratios, not the seconds, across machines.
"""

from __future__ import annotations

import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import hostile
from bench_pipeline import make_batch
from builders import CONFIG

from huizong.demo import write_demo
from huizong.pipeline import run_batch
from huizong.read.returns import read_return
from huizong.read.worker import ReadJob, read_bounded
from huizong.settings import Settings

CITY = "620700"


def worst_files(folder: Path) -> list[tuple[str, Path]]:
    f = folder
    not_workbook = f / "word.xlsx"
    not_workbook.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    return [
        ("cells A1 and XFD1048576 (512 GiB dense)", hostile.far_cells(f / "far.xlsx")),
        ("deflate bomb, 200 MiB of XML", hostile.deflate_bomb(f / "bomb.xlsx", 200)),
        ("a sheet of 1,000,000 rows", hostile.million_rows(f / "rows.xlsx")),
        ("150,000 rows (under the limits)", hostile.million_rows(f / "rows150k.xlsx", 150_000)),
        ("XML entities (billion laughs)", hostile.entities(f / "lol.xlsx")),
        ("formulas without saved values", hostile.formulas_without_values(f / "formulas.xlsx")[0]),
        ("truncated zip", not_workbook),
        ("a clean return", hostile.good(f / "good.xlsx")),
    ]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 240
    root = Path(tempfile.mkdtemp(prefix="huizong-bench-hostile-"))
    try:
        print("worst file of each class, read alone in a bounded worker:")
        print(f"  {'class':<40} {'size':>10} {'verdict in':>10} {'worker peak':>12}  verdict")
        for label, path in worst_files(root):
            t = time.perf_counter()
            (ret,) = read_bounded([ReadJob(path, path.name)], CONFIG, CITY)
            wall = time.perf_counter() - t
            verdict = ", ".join(i.code for i in ret.issues) or "readable"
            size = f"{path.stat().st_size / 1024:,.0f} KiB"
            print(f"  {label:<40} {size:>10} {wall:9.2f}s {ret.read_peak_kib / 1024:9.0f} MiB  {verdict}")

        print("\nworker isolation, same files, one run (reading stage only):")
        demo = root / "demo"
        demo_files = [p for p in write_demo(demo) if not p.name.startswith("~$")]
        clean = root / "clean"
        clean.mkdir()
        clean_files = make_batch(clean, n)
        for label, files in (
            (f"demo batch ({len(demo_files)} files)", demo_files),
            (f"{n} clean returns", clean_files),
        ):
            t = time.perf_counter()
            for p in files:
                read_return(p, CONFIG, CITY)
            inproc = time.perf_counter() - t
            t = time.perf_counter()
            read_bounded([ReadJob(p, p.name) for p in files], CONFIG, CITY)
            bounded = time.perf_counter() - t
            print(
                f"  {label:<28} in-process {inproc:6.2f} s   bounded workers {bounded:6.2f} s   "
                f"ratio {bounded / inproc:4.2f}"
            )

        print("\nwhole runs (bounded reading, no Prefect):")
        for label, files in (("demo batch", None), (f"{n} clean returns", clean_files)):
            inbox = root / f"in-{len(files or [])}"
            if files is None:
                write_demo(inbox)
            else:
                inbox.mkdir()
                for p in files:
                    shutil.copy(p, inbox / p.name)
            settings = Settings.from_env(
                inputs=inbox, outputs=root / f"out-{label}", store=root / f"store-{label}", region=CITY
            )
            t = time.perf_counter()
            s = run_batch(settings, CONFIG)
            wall = time.perf_counter() - t
            reading = sum(d.ret.read_seconds for d in s.decisions if d.ret is not None)
            print(f"  {label:<28} {wall:6.2f} s; files read in workers in {reading:5.2f} s of worker time; {s.counts}")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\nrun process peak RSS {peak:.0f} MiB (the workers' peaks are above, per file)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
