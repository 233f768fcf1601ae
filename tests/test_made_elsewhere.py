"""Publishing on a cluster's workers makes the files there and puts them in place here (issue 24,
item 1): a worker's task (`parallel.make_group`) writes nothing into outputs/ and returns each
file's bytes; the flow's process places them, atomically like every file, and the outputs equal
those the publishers of this machine write. The cluster itself is `test_dask`'s; here the groups
run in this process, which is what a worker does with them."""

from __future__ import annotations

import os
from pathlib import Path

from builders import CONFIG, output_contents, write_multi_level

from huizong.pipeline import Executor, run
from huizong.publish import parallel
from huizong.publish.files import kept, write_atomic, write_csv_text
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
    write_multi_level(tmp_path / "there" / "inputs")

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
