"""The outputs of a small case with every level, against those the code before issue 24 wrote.

Issue 24 rewrote how outputs are published (in memory, incrementally, table bodies as their XML,
on a cluster) and promised the same outputs. `data/outputs-before-issue-24.json` holds, for each
output file of the multi-level case (`builders.write_multi_level`, published to the nation), the
digest of what it says (`builders.output_contents`: every workbook cell, CSV field and report
paragraph, times as <time> and file hashes as <sha>), as written by commit ceca1cf. A file that says anything else fails
here by name. After a change that is meant to change outputs, write the file again (the
docstring of `test_the_outputs_are_those_written_before_issue_24` says how)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from builders import output_contents, write_multi_level

from huizong.pipeline import run_batch
from huizong.settings import Settings

BEFORE = Path(__file__).parent / "data" / "outputs-before-issue-24.json"


def digests(outputs: Path) -> dict[str, str]:
    return {
        name: hashlib.sha256(json.dumps(said, ensure_ascii=False, sort_keys=True, default=str).encode()).hexdigest()[
            :32
        ]
        for name, said in output_contents(outputs, stable=True).items()
    }


def test_the_outputs_are_those_written_before_issue_24(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """To write the file again: `json.dump(digests(outputs), f, ensure_ascii=False, indent=1,
    sort_keys=True)` of this case's outputs, made by the code whose outputs are the reference."""
    monkeypatch.setenv("HUIZONG_NOW", "2024-07-12T10:00:00+08:00")  # before the files land: received then
    counties = write_multi_level(tmp_path / "inputs")
    settings = Settings.from_env(
        inputs=tmp_path / "inputs", outputs=tmp_path / "outputs", store=tmp_path / "store", region="000000", docs="0"
    )
    assert run_batch(settings).counts["accepted"] == len(counties)
    before = json.loads(BEFORE.read_text(encoding="utf-8"))
    now = digests(tmp_path / "outputs")
    assert sorted(now) == sorted(before)
    assert len([n for n in now if n.endswith(".xlsx")]) >= 8 and any(n.endswith(".docx") for n in now)
    differ = [n for n in now if now[n] != before[n]]
    assert not differ, differ
