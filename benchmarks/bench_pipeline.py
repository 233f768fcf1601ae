"""Figures for one machine, one run: reading, validating and a whole batch of N returns.

    python benchmarks/bench_pipeline.py [N]

Prints seconds and files per second; compare ratios within one run, not across machines.
"""

from __future__ import annotations

import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from builders import BASE_VALUES, CONFIG, Shape, write_return

from huizong.pipeline import run_batch
from huizong.read.returns import read_return
from huizong.rules.suites import validator_for
from huizong.settings import Settings

COUNTIES = [d.code for d in CONFIG.divisions.counties_of("620700")]


def make_batch(folder: Path, n: int) -> list[Path]:
    paths = []
    for i in range(n):
        county = COUNTIES[i % len(COUNTIES)]
        period = f"{2000 + i // len(COUNTIES)}年上半年"
        suffix = (".xlsx", ".xls", ".xlsm")[i % 3]
        shape = Shape(top=i % 4, left=i % 3)
        paths.append(write_return(folder / f"r{i:04d}{suffix}", county, period, BASE_VALUES, shape))
    return paths


def timed(label: str, n: int, fn):  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t
    print(f"{label:<44} {dt:8.2f} s   {n / dt:8.1f} files/s")
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    root = Path(tempfile.mkdtemp(prefix="huizong-bench-"))
    try:
        inbox = root / "inputs"
        inbox.mkdir()
        paths = timed(f"build {n} returns (openpyxl/xlwt)", n, lambda: make_batch(inbox, n))
        returns = timed(f"read {n} returns (calamine)", n, lambda: [read_return(p, CONFIG, "620700") for p in paths])
        validator = timed("GX context and suites (once per process)", 1, lambda: validator_for(CONFIG, "620700"))
        _, results = timed(f"validate {n} returns, one GX run per suite", n, lambda: validator.run(returns))
        print(f"{'':<44} suites run: {len(results)}; rows: " + ", ".join(f"{r.suite} {r.rows}" for r in results))
        docs = validator_for(CONFIG, "620700", root / "docs")
        timed(f"validate {n} returns, with GX Data Docs", n, lambda: docs.run(returns))
        settings = Settings.from_env(inputs=inbox, outputs=root / "outputs", store=root / "store", region="620700")
        summary = timed(f"whole run of {n} returns (no Prefect)", n, lambda: run_batch(settings, CONFIG))
        n_periods = len({p.name for p in (root / "outputs" / "620700").iterdir()})
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{'':<44} {n_periods} periods, {n_periods} workbooks; peak RSS {peak:.0f} MiB; {summary.counts}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
