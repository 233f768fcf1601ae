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

from builders import CONFIG, KEY

from huizong.catalog import Config, FormConfig
from huizong.pipeline import RunSummary, run_batch
from huizong.settings import Settings

CITY = "620700"


@pytest.fixture(scope="session")
def config() -> Config:
    return CONFIG


@pytest.fixture
def key() -> FormConfig:
    """The key form in the shipped configuration."""
    return KEY


class Workspace:
    """An inbox, outputs and store in a temp dir, and a way to run the pipeline on them; the
    ledger in SQLite under the store, or in a fresh PostgreSQL database (`db_url`)."""

    def __init__(self, root: Path, db_url: str = "") -> None:
        self.root = root
        self.inputs = root / "inputs"
        self.outputs = root / "outputs"
        self.store = root / "store"
        self.db_url = db_url
        self.inputs.mkdir()

    @property
    def settings(self) -> Settings:
        return Settings.from_env(inputs=self.inputs, outputs=self.outputs, store=self.store, region=CITY,
                                 db_url=self.db_url)  # fmt: skip

    def sql(self, query: str, **params: object) -> list[tuple]:
        """Rows of a query on the ledger, whichever database holds it."""
        import sqlalchemy as sa

        engine = sa.create_engine(self.settings.db_url)
        try:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(sa.text(query), params)]
        finally:
            engine.dispose()

    def run(self) -> RunSummary:
        return run_batch(self.settings, CONFIG)

    def drop(self, name: str) -> Path:
        return self.inputs / name

    def csv(self, rel: str) -> list[dict[str, str]]:
        import csv

        with (self.outputs / rel).open(encoding="utf-8-sig") as f:
            return list(csv.DictReader(f))

    def totals(self, period: str) -> dict[str, dict[str, str]]:
        return {r["indicator_code"]: r for r in self.csv(f"{CITY}/key-indicators/{period}/totals.csv")}


BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked `both_stores` run once on SQLite and once on PostgreSQL."""
    if "backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_stores"):
        metafunc.parametrize("backend", BACKENDS)


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture(scope="session")
def pg_cluster():  # type: ignore[no-untyped-def]
    """A throw-away PostgreSQL cluster on a free loopback port for the session (tests/pgcluster.py).
    Missing PostgreSQL skips its tests on a developer's machine and fails them in CI."""
    from pgcluster import Cluster

    cluster = Cluster()
    try:
        cluster.start()
    except Exception as e:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no PostgreSQL here: {e}")
    yield cluster
    cluster.stop()


@pytest.fixture
def ws(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Workspace:
    url = request.getfixturevalue("pg_cluster").new_database() if backend == "postgresql" else ""
    return Workspace(tmp_path, url)


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
