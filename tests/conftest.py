from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("HUIZONG_QUIET", "0")
os.environ.setdefault(
    "HUIZONG_DOCS", "0"
)  # GX Data Docs cost a second a run; tests that look at them turn them on  # tests write files and run at once; see test_hostile for the quiet window

from builders import CONFIG

from huizong.catalog import Config
from huizong.pipeline import RunSummary, run_batch
from huizong.settings import Settings

CITY = "620700"


@pytest.fixture(scope="session")
def config() -> Config:
    return CONFIG


class Workspace:
    """An inbox, outputs and store in a temp dir, and a way to run the pipeline on them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.inputs = root / "inputs"
        self.outputs = root / "outputs"
        self.store = root / "store"
        self.inputs.mkdir()

    @property
    def settings(self) -> Settings:
        return Settings.from_env(inputs=self.inputs, outputs=self.outputs, store=self.store, city=CITY)

    def run(self) -> RunSummary:
        return run_batch(self.settings, CONFIG)

    def drop(self, name: str) -> Path:
        return self.inputs / name

    def csv(self, rel: str) -> list[dict[str, str]]:
        import csv

        with (self.outputs / rel).open(encoding="utf-8-sig") as f:
            return list(csv.DictReader(f))

    def totals(self, period: str) -> dict[str, dict[str, str]]:
        return {r["indicator_code"]: r for r in self.csv(f"{CITY}/{period}/city_totals.csv")}


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def cli(*args: str, cwd: Path | None = None) -> Ran:
    """`huizong ARGS` in this process (GX and the workers' start-up paid once per session), with
    its exit status and output; use a subprocess only where a separate process is the point."""
    import contextlib
    import io

    from huizong import cli as entry

    out, err = io.StringIO(), io.StringIO()
    old = Path.cwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                entry.main(list(args))
                code = 0
            except SystemExit as e:
                code = int(e.code or 0) if not isinstance(e.code, str) else 1
    finally:
        os.chdir(old)
    return Ran(code, out.getvalue(), err.getvalue())
