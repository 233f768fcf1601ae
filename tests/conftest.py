from __future__ import annotations

import gc
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

# The repository's own inbox, outputs and store are the user's (`make run` fills them): no test
# reads or writes them. Every file this process opens, lists, moves or removes there (a Python audit
# hook) and any change a subprocess makes to them (their listing before and after) fails the test.
REPO = Path(__file__).resolve().parents[1]
GUARDED = tuple(str(REPO / name) for name in ("inputs", "outputs", "store"))
_WATCHED = frozenset(
    {
        "open",
        "os.listdir",
        "os.scandir",
        "os.mkdir",
        "os.rmdir",
        "os.remove",
        "os.rename",
        "os.truncate",
        "os.chmod",
        "os.utime",
        "os.symlink",
        "os.link",
        "shutil.rmtree",
        "shutil.copyfile",
        "shutil.move",
        "sqlite3.connect",
    }
)
_touched: list[str] = []


def _guarded(path: object) -> str | None:
    if not isinstance(path, str | bytes | os.PathLike):
        return None
    try:
        p = os.path.abspath(os.fsdecode(path))
    except (TypeError, ValueError):
        return None
    return p if any(p == g or p.startswith(g + os.sep) for g in GUARDED) else None


def _audit(event: str, args: tuple[object, ...]) -> None:
    if event in _WATCHED:
        for a in args[:2]:
            if (p := _guarded(a)) is not None:
                _touched.append(f"{event} {p}")


sys.addaudithook(_audit)


def _listing() -> list[tuple[str, int, int]]:
    out = []
    for top in GUARDED:
        for folder, _dirs, files in os.walk(top):
            for name in files:
                st = os.lstat(os.path.join(folder, name))
                out.append((os.path.join(folder, name), st.st_size, st.st_mtime_ns))
    return sorted(out)


@pytest.fixture(autouse=True)
def _no_publisher_left():  # type: ignore[no-untyped-def]
    """The desk apps a test made leave no publisher process behind (an app driven without its
    lifespan never stops its own)."""
    yield
    from huizong.desk.publisher import stop_all

    stop_all()


@pytest.fixture(autouse=True)
def _collector_not_frozen():  # type: ignore[no-untyped-def]
    """`huizong.cli.main` ends its process and freezes the collector's objects first; a test calls
    it in this process, which goes on: what it froze is handed back to the collector."""
    yield
    gc.unfreeze()


@pytest.fixture(autouse=True)
def _repository_untouched():  # type: ignore[no-untyped-def]
    """Fails the test that touched the repository's inputs/, outputs/ or store/."""
    before = _listing()
    _touched.clear()
    yield
    touched = list(dict.fromkeys(_touched))
    _touched.clear()
    if touched or _listing() != before:
        changed = touched or sorted(set(_listing()) ^ set(before))
        pytest.fail(f"this test touched the repository's own inputs/outputs/store: {changed[:5]}")


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
        return Settings.from_env(
            inputs=self.inputs, outputs=self.outputs, store=self.store, region=CITY, db_url=self.db_url
        )

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
    its exit status and output; use a subprocess only where a separate process is the point. Run in
    `cwd`, else in an empty folder of its own: never in the repository, whose inputs/, outputs/ and
    store/ are the user's."""
    import contextlib
    import io
    import shutil
    import tempfile

    from huizong import cli as entry

    out, err = io.StringIO(), io.StringIO()
    old = Path.cwd()
    scratch = None
    if cwd is None:
        cwd = scratch = Path(tempfile.mkdtemp(prefix="huizong-cli-"))
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                entry.main(list(args))
                code = 0
            except SystemExit as e:
                code = int(e.code or 0) if not isinstance(e.code, str) else 1
    finally:
        os.chdir(old)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return Ran(code, out.getvalue(), err.getvalue())
