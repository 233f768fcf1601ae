from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("HUIZONG_QUIET", "0")  # tests write files and run at once; see test_hostile for the quiet window

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
