"""Cold runs of the code before and after a change, on the same inputs, in one run.

    python benchmarks/bench_before_after.py [--before REF] [--national N] [--contracts N] [--months M]

Serves the acceptance criterion "Decimal evaluation must not make a cold run more than 10 % slower":
it prints, side by side, the cold-run figures of a baseline commit (BEFORE: `--before REF`, env
HUIZONG_BENCH_BEFORE, default cc9a638, the last landing before the change, checked out as a
temporary `git worktree`) and of this working tree (AFTER, uncommitted changes included) for

  * the national key-form case: one key-indicator return for each of the first N counties of the
    nation (default 600), run as `--region 000000` (every level published);
  * the monthly contracts case: N counties of 甘肃 (default 30) × M months (default 6) of
    technology contracts, run as `--region 620000`.

The inputs are written once, by this tree's bench helpers (bench_national.make_return,
bench_contracts.write_month), and every run is cold: a child process of its own whose PYTHONPATH is
the code under test, a fresh copy of the inbox and fresh outputs and store, so that neither version
sees the other's ledger. Runs are interleaved (before, after, before, after) so that the machine's
noise hits both alike. Per case it prints each run's wall time and stages (RunSummary.timings), the
median per version, the ratio after / before for the total and every stage, the number of decisions
and their statuses (both versions should accept the same files), and the python-calamine floor.
Peak RSS is the run's main process (VmHWM), not its reading workers'.
Without git or without the baseline ref, it says the comparison is skipped and exits 0.
Figures, not pass/fail: the verdict line only compares the ratio with the 10 % target.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("TQDM_DISABLE", "1")

from bench_contracts import write_month  # noqa: E402
from bench_national import floor, make_return  # noqa: E402
from builders import CONFIG  # noqa: E402

DEFAULT_BEFORE = "cc9a638"
TARGET = 1.10  # after / before, at most

# The run under test, in a process of its own. The same API exists before and after the change:
# Settings.from_env(inputs=, outputs=, store=, region=, docs=, quiet=) and run_batch(settings).
CHILD = """
import json, sys, time
t0 = time.perf_counter()
import huizong
from huizong.pipeline import run_batch
from huizong.settings import Settings
a = json.loads(sys.argv[1])
t = time.perf_counter()
s = run_batch(Settings.from_env(**a))
wall = time.perf_counter() - t
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
counts = {}
for d in s.decisions:
    counts[str(d.status)] = counts.get(str(d.status), 0) + 1
print(json.dumps({"wall": wall, "import": t - t0, "decisions": len(s.decisions), "counts": counts,
                  "timings": s.timings, "peak_mib": hwm / 1024, "code": huizong.__file__}))
"""


def git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)


def child_env(code: Path) -> dict[str, str]:
    """The environment of a run: nothing of ours (no PYTHONPATH pointing elsewhere, no HUIZONG_*
    naming another store or database), the code under test first on the path."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("HUIZONG_")}
    env.update(PYTHONPATH=str(code), HUIZONG_DOCS="0", HUIZONG_QUIET="0", TQDM_DISABLE="1")
    return env


def cold_run(code: Path, inbox: Path, work: Path, region: str) -> dict[str, Any]:
    """One cold run of the code at `code` on a fresh copy of `inbox`, with fresh outputs and store."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        shutil.copytree(inbox, work / "inputs")
        args = {
            "inputs": str(work / "inputs"),
            "outputs": str(work / "outputs"),
            "store": str(work / "store"),
            "region": region,
            "docs": "0",
            "quiet": "0",
        }
        t = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, json.dumps(args)],
            env=child_env(code),
            cwd=work,
            capture_output=True,
            text=True,
        )
        process = time.perf_counter() - t
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-20:])
            raise RuntimeError(f"the run of {code} failed (exit {proc.returncode}):\n{tail}")
        out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        out["process"] = process
        where = Path(str(out["code"])).resolve()
        if not where.is_relative_to(code.resolve()):
            raise RuntimeError(f"the run meant for {code} imported huizong from {where}")
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def ratio(a: float, b: float) -> str:
    return f"{a / b:5.2f}" if b > 0 else "    -"


def report(title: str, runs: list[tuple[str, dict[str, Any]]]) -> float:
    """The table of one case: every run, the medians per version, after / before. Returns the ratio."""
    stages: list[str] = []
    for _, r in runs:
        for k in r["timings"]:
            if k not in stages:
                stages.append(k)
    head = f"  {'run':<16} {'wall s':>7} " + " ".join(f"{k[:9]:>9}" for k in stages) + f" {'peak MiB':>9}  decisions"
    print(head)

    def line(label: str, wall: float, t: dict[str, float], peak: float, tail: str) -> None:
        cells = " ".join(f"{t.get(k, 0.0):9.2f}" for k in stages)
        print(f"  {label:<16} {wall:7.2f} {cells} {peak:9.0f}  {tail}")

    for label, r in runs:
        counts = " ".join(f"{k} {v}" for k, v in sorted(r["counts"].items()) if v)
        line(label, float(r["wall"]), r["timings"], float(r["peak_mib"]), f"{r['decisions']} [{counts}]")
    med: dict[str, dict[str, float]] = {}
    for version in ("before", "after"):
        mine = [r for label, r in runs if label.startswith(version)]
        m = {"wall": statistics.median(float(r["wall"]) for r in mine)}
        for k in stages:
            m[k] = statistics.median(float(r["timings"].get(k, 0.0)) for r in mine)
        m["peak"] = statistics.median(float(r["peak_mib"]) for r in mine)
        med[version] = m
        line(f"{version} median", m["wall"], m, m["peak"], "")
    b, a = med["before"], med["after"]
    cells = " ".join(f"{ratio(a[k], b[k]):>9}" for k in stages)
    print(f"  {'after / before':<16} {ratio(a['wall'], b['wall']):>7} {cells} {ratio(a['peak'], b['peak']):>9}")
    decided = {(r["decisions"], json.dumps(r["counts"], sort_keys=True)) for _, r in runs}
    if len({n for n, _ in decided}) > 1:
        print("  WARNING: the runs did not make the same number of decisions; the versions did not see the same work")
    elif len(decided) > 1:
        print("  note: same number of decisions, but their statuses differ between runs (see the last column)")
    total = a["wall"] / b["wall"]
    verdict = "within" if total <= TARGET else "OVER"
    print(f"  {title}: after / before = {total:.2f} (the target is ≤ {TARGET:.2f}): {verdict} the target")
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--before",
        default=os.environ.get("HUIZONG_BENCH_BEFORE") or DEFAULT_BEFORE,
        help=f"the baseline git ref (default {DEFAULT_BEFORE}, or env HUIZONG_BENCH_BEFORE)",
    )
    parser.add_argument("--national", type=int, default=600, help="counties in the national case (default 600)")
    parser.add_argument("--contracts", type=int, default=30, help="甘肃 counties in the contracts case (default 30)")
    parser.add_argument("--months", type=int, default=6, help="months of contracts per county (default 6)")
    opts = parser.parse_args()

    if shutil.which("git") is None:
        print("before/after comparison skipped: git is not available")
        return
    top = git("rev-parse", "--show-toplevel")
    if top.returncode != 0:
        print(f"before/after comparison skipped: {ROOT} is not a git repository ({top.stderr.strip()})")
        return
    base = git("rev-parse", "--verify", "--quiet", f"{opts.before}^{{commit}}")
    if base.returncode != 0:
        print(f"before/after comparison skipped: the ref {opts.before!r} is not in this repository")
        return
    before_sha = base.stdout.strip()
    head = git("rev-parse", "--short", "HEAD").stdout.strip()
    dirty = bool(git("status", "--porcelain", "--untracked-files=no").stdout.strip())

    tmp = Path(tempfile.mkdtemp(prefix="huizong-before-after-"))
    worktree = tmp / "before"
    added = False
    try:
        add = subprocess.run(
            ["git", "-C", str(Path(top.stdout.strip())), "worktree", "add", "--detach", str(worktree), before_sha],
            capture_output=True,
            text=True,
        )
        if add.returncode != 0:
            print(f"before/after comparison skipped: git worktree add failed ({add.stderr.strip()})")
            return
        added = True
        versions = {"before": worktree, "after": ROOT}
        print(f"before: {opts.before} ({before_sha[:9]}), a worktree in {worktree}")
        print(f"after:  this tree, HEAD {head}" + (" with uncommitted changes" if dirty else ""))
        print(
            f"each run cold, in a process of its own; order before, after, before, after; {os.cpu_count()} cores, "
            f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the start (other jobs may be running)"
        )

        cases = []
        # The national key-form case: one key-indicator return per county, 2024H1.
        inbox = tmp / "national-inputs"
        inbox.mkdir()
        t = time.perf_counter()
        counties = CONFIG.divisions.county_codes[: opts.national]
        paths = [make_return(inbox, c) for c in counties]
        size = sum(p.stat().st_size for p in paths) / 1e6
        cases.append(
            (
                "national key form",
                "000000",
                inbox,
                paths,
                f"{len(paths)} returns ({size:.1f} MB), built in {time.perf_counter() - t:.1f} s",
            )
        )
        # The contracts case: a county's months, as bench_contracts.main writes them.
        inbox = tmp / "contracts-inputs"
        inbox.mkdir()
        t = time.perf_counter()
        paths, n_contracts = [], 0
        for c in [d.code for d in CONFIG.divisions.counties_of("620000")][: opts.contracts]:
            rnd, serial = random.Random(c), 0
            for m in range(1, opts.months + 1):
                p, serial = write_month(inbox, c, m, serial, rnd)
                paths.append(p)
            n_contracts += serial
        size = sum(p.stat().st_size for p in paths) / 1e6
        cases.append(
            (
                "monthly contracts",
                "620000",
                inbox,
                paths,
                f"{opts.contracts} counties x {opts.months} months: {len(paths)} returns, {n_contracts:,} "
                f"contracts ({size:.1f} MB), built in {time.perf_counter() - t:.1f} s",
            )
        )

        verdicts = []
        for title, region, inbox, paths, built in cases:
            print(f"\n{title}, region {region}: {built}")
            floor_s = floor(paths)
            print(f"  floor: python-calamine reads every sheet {floor_s:.2f} s ({len(paths) / floor_s:.1f} files/s)")
            runs = []
            for n in (1, 2):
                for version, code in versions.items():
                    r = cold_run(code, inbox, tmp / "run", region)
                    runs.append((f"{version} #{n}", r))
            verdicts.append((title, report(title, runs)))
        print("\nsummary (2 cores, other jobs may be running: compare the ratios, not the seconds):")
        for title, total in verdicts:
            print(f"  {title:<20} after / before = {total:.2f} (the target is ≤ {TARGET:.2f})")
    finally:
        if added:
            gone = subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)], capture_output=True, text=True
            )
            if gone.returncode != 0:
                print(f"warning: could not remove the worktree {worktree}: {gone.stderr.strip()}")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
