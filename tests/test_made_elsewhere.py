"""Publishing on a cluster's workers makes the files there and puts them in place here (issue 24,
item 1): a worker's task (`parallel.make_group`) writes nothing into outputs/ and returns each
file's bytes; the flow's process places them, atomically like every file, and the outputs equal
those the publishers of this machine write. The cluster itself is `test_dask`'s; here the groups
run in this process, which is what a worker does with them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from builders import CONFIG, output_contents, write_multi_level

from huizong.pipeline import Executor, run
from huizong.publish import parallel
from huizong.publish.files import finished, kept, put_in_place, write_atomic, write_csv_text
from huizong.settings import Settings


def test_a_file_kept_is_made_whole_and_not_put_in_place(tmp_path: Path) -> None:
    out = tmp_path / "outputs"
    with kept() as made:
        assert write_atomic(out / "a.bin", lambda p: p.write_bytes(b"\x00whole")) == out / "a.bin"
        write_csv_text(out / "sub" / "b.csv", "县区,数值\n")
        write_atomic(out / "a.bin", lambda p: p.write_bytes(b"again"))  # the last making counts, as on disk
    assert not out.exists()  # not even its folders
    assert made == {out / "a.bin": b"again", out / "sub" / "b.csv": "县区,数值\n".encode("utf-8-sig")}
    write_atomic(out / "c.bin", lambda p: p.write_bytes(b"c"))  # outside `kept`, written as ever
    assert (out / "c.bin").read_bytes() == b"c"


def _listing(root: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(root).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


class Elsewhere(Executor):
    """Publishes as `flows.nightly` does on a cluster: each group one `make_group`, run here."""

    def __init__(self) -> None:
        self.groups: list[int] = []
        self.untouched: list[bool] = []
        self.spread = self.publish

    def publish(self, groups, known, db_url, config_dir, outputs):  # type: ignore[no-untyped-def]
        made = []
        for group, k in zip(groups, known, strict=True):
            before = _listing(outputs)
            made.append(parallel.make_group(db_url, config_dir, outputs, group, k))
            self.untouched.append(_listing(outputs) == before)
            self.groups.append(len(group))
        return made


def test_regions_made_elsewhere_and_placed_here_equal_those_published_here(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HUIZONG_NOW", "2024-07-12T10:00:00+08:00")
    monkeypatch.setenv("HUIZONG_DOCS", "0")
    counties = write_multi_level(tmp_path / "here" / "inputs")
    shutil.copytree(tmp_path / "here" / "inputs", tmp_path / "there" / "inputs")  # their times too: when they came

    def settings(root: Path) -> Settings:
        return Settings.from_env(
            inputs=root / "inputs", outputs=root / "outputs", store=root / "store", region="000000", docs="0"
        )

    here = run(settings(tmp_path / "here"), CONFIG)
    elsewhere = Elsewhere()
    there = run(settings(tmp_path / "there"), CONFIG, elsewhere)
    assert here.counts["accepted"] == there.counts["accepted"] == len(counties)
    assert sum(elsewhere.groups) >= 8 and elsewhere.untouched and all(elsewhere.untouched)  # made, not written
    mine, theirs = output_contents(tmp_path / "here" / "outputs"), output_contents(tmp_path / "there" / "outputs")
    assert sorted(theirs) == sorted(mine)
    assert [k for k in mine if mine[k] != theirs[k]] == []
    # the paths the run reports are where the files are, with the usual permissions
    for p in there.outputs:
        assert p.is_file(), p
    workbook = next(p for p in there.outputs if p.suffix == ".xlsx")
    assert oct(workbook.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    assert not [p for p in (tmp_path / "there" / "outputs").rglob(".huizong.*")]  # no temporary file left


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_a_file_finished_waits_beside_its_target_for_its_owner_to_place_it(tmp_path: Path) -> None:
    out = tmp_path / "outputs"
    with finished(owner=os.getpid()) as left:
        write_csv_text(out / "a.csv", "甲\n")
        write_atomic(out / "sub" / "b.bin", lambda p: p.write_bytes(b"b"))
    assert not (out / "a.csv").exists() and not (out / "sub" / "b.bin").exists()
    assert [t for t, _ in left] == sorted(out.rglob(".huizong.*.tmp"), key=lambda p: p.parent != out)
    assert all(t.name.startswith(f".huizong.{os.getpid()}.") and t.parent == p.parent for t, p in left)
    assert put_in_place(left) == [out / "a.csv", out / "sub" / "b.bin"]
    assert (out / "a.csv").read_bytes() == "甲\n".encode("utf-8-sig") and (out / "sub" / "b.bin").read_bytes() == b"b"
    assert not list(out.rglob(".huizong.*"))


def test_what_a_failing_publisher_finished_is_removed(tmp_path: Path) -> None:
    out = tmp_path / "outputs"
    try:
        with finished(owner=os.getpid()):
            write_atomic(out / "a.bin", lambda p: p.write_bytes(b"a"))
            write_atomic(out / "b.bin", lambda p: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    except OSError as e:
        assert e.errno == 28
    else:
        raise AssertionError("the failure was swallowed")
    assert list(out.iterdir()) == []


def test_a_sweep_leaves_what_a_live_run_will_place_and_removes_what_a_dead_one_left(tmp_path: Path) -> None:
    from huizong.pipeline import sweep

    settings = Settings.from_env(inputs=tmp_path / "in", outputs=tmp_path / "out", store=tmp_path / "store")
    with finished(owner=os.getpid()) as mine:
        write_atomic(settings.outputs / "mine.csv", lambda p: p.write_bytes(b"m"))
    dead = _dead_pid()
    with finished(owner=dead) as theirs:
        write_atomic(settings.outputs / "theirs.csv", lambda p: p.write_bytes(b"t"))
    assert sweep(settings, ("outputs",)) == [theirs[0][0]]
    assert mine[0][0].exists()
    put_in_place(mine)
    assert (settings.outputs / "mine.csv").read_bytes() == b"m"


def _dead_pid() -> int:
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid
