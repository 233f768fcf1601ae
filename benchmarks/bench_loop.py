"""The analyst's loop: one new return for a city, in a fresh process and in a warm one.

    python benchmarks/bench_loop.py

A store holding the demo batch of 张掖市; then one new return (a correction) at a time: run as
`huizong run --no-prefect` in a fresh interpreter (what a cron job or the analyst at a shell does),
and through `run_batch` in a process that has run before (what `huizong serve` could keep warm),
beside the floor of reading that one file with python-calamine. Figures, not pass/fail; the
targets of issue 13 are 4 s fresh and 1 s warm.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
os.environ.setdefault("TQDM_DISABLE", "1")

from builders import BASE_VALUES, CONFIG, write_return

from huizong.demo import write_demo
from huizong.pipeline import run_batch
from huizong.settings import Settings


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="huizong-loop-"))
    settings = Settings.from_env(inputs=root / "inputs", outputs=root / "outputs", store=root / "store", docs="0",
                                 quiet="0")  # fmt: skip
    write_demo(settings.inputs, CONFIG)
    run_batch(settings, CONFIG)
    env = {**os.environ, "HUIZONG_INPUTS": str(settings.inputs), "HUIZONG_OUTPUTS": str(settings.outputs),
           "HUIZONG_STORE": str(settings.store), "HUIZONG_DOCS": "0", "HUIZONG_QUIET": "0"}  # fmt: skip
    fresh, warm, floor = [], [], []
    for n in range(3):
        path = write_return(
            settings.inputs / f"民乐县_更正{n}.xlsx", "620722", "2024H1", {**BASE_VALUES, "A01": 5000 + n}
        )
        import python_calamine as pc

        t = time.perf_counter()
        wb = pc.CalamineWorkbook.from_path(str(path))
        for name in wb.sheet_names:
            wb.get_sheet_by_name(name).to_python()
        floor.append(time.perf_counter() - t)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "huizong.cli", "run", "--no-prefect"], env=env, check=True,
                       capture_output=True)  # fmt: skip
        fresh.append(time.perf_counter() - t)
        write_return(settings.inputs / f"民乐县_再更正{n}.xlsx", "620722", "2024H1", {**BASE_VALUES, "A01": 5100 + n})
        t = time.perf_counter()
        s = run_batch(settings, CONFIG)
        warm.append(time.perf_counter() - t)
        stages = "  ".join(f"{k} {v:.2f}" for k, v in s.timings.items() if v >= 0.01)
    print(f"  floor: calamine reads the return        {min(floor) * 1000:7.1f} ms")
    print(f"  one new return, fresh process           {min(fresh):7.2f} s   (best of 3; target 4 s)")
    print(f"  one new return, warm process            {min(warm):7.2f} s   (best of 3; target 1 s)   {stages}")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
