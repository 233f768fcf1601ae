"""A fuzzer over real returns: bytes, zip members, XML and cell values mutated by hypothesis.
Whatever comes in, reading ends in a Return or an Issue, within the limits, and never takes the
run along."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import hostile
import pytest
from builders import BASE_VALUES, CONFIG, write_return
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from huizong.codes import CODES
from huizong.read.worker import ReadJob, read_bounded

SEEDS: dict[str, bytes] = {}


def seed(kind: str) -> bytes:
    if kind not in SEEDS:
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="huizong-fuzz-"))
        SEEDS[kind] = write_return(folder / f"seed.{kind}", "620722", "2024H1", BASE_VALUES).read_bytes()
    return SEEDS[kind]


def flip(data: bytes, positions: list[int], values: list[int]) -> bytes:
    b = bytearray(data)
    for p, v in zip(positions, values, strict=False):
        b[p % len(b)] = v
    return bytes(b)


def mutate_member(data: bytes, member_index: int, at: int, insert: bytes, cut: int) -> bytes:
    """Rewrite one zip member: insert bytes at a position and cut some after it (valid zip, odd XML)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        infos = zin.infolist()
        target = infos[member_index % len(infos)].filename
        for info in infos:
            body = zin.read(info.filename)
            if info.filename == target:
                p = at % (len(body) + 1)
                body = body[:p] + insert + body[p + cut :]
            zout.writestr(info.filename, body)
    return out.getvalue()


xml_bits = st.sampled_from(
    [
        b"<",
        b">",
        b"</c>",
        b'<c r="XFD1048576"><v>1</v></c>',
        b"<!DOCTYPE x>",
        b"&amp;",
        b"\x00",
        b"\xff\xfe",
        b'<row r="999999999">',
        b"<f>1+1</f>",
        b'<c r="A1" t="s"><v>99999</v></c>',
        b"]]>",
        b"<![CDATA[",
        b"\xe4\xb8",
    ]
)

mutations = st.one_of(
    st.tuples(
        st.just("flip"),
        st.sampled_from(["xlsx", "xls"]),
        st.lists(st.integers(0, 1 << 20), min_size=1, max_size=8),
        st.lists(st.integers(0, 255), min_size=1, max_size=8),
    ),
    st.tuples(st.just("truncate"), st.sampled_from(["xlsx", "xls"]), st.integers(0, 1 << 20)),
    st.tuples(
        st.just("member"),
        st.integers(0, 20),
        st.integers(0, 1 << 16),
        st.one_of(xml_bits, st.binary(max_size=40)),
        st.integers(0, 64),
    ),
    st.tuples(
        st.just("cells"),
        st.lists(
            st.one_of(
                st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30),
                st.floats(allow_nan=True),
                st.integers(),
            ),
            min_size=3,
            max_size=3,
        ),
    ),
)


def build(m: tuple, folder: Path, n: int) -> Path:  # type: ignore[type-arg]
    kind = m[0]
    if kind == "flip":
        data, ext = flip(seed(m[1]), m[2], m[3]), m[1]
    elif kind == "truncate":
        data, ext = seed(m[1])[: m[2] % (len(seed(m[1])) + 1)], m[1]
    elif kind == "member":
        data, ext = mutate_member(seed("xlsx"), m[1], m[2], m[3], m[4]), "xlsx"
    else:
        values = {**BASE_VALUES, "A01": m[1][0], "B01": m[1][1], "E04": m[1][2]}
        return write_return(folder / f"{n}.xlsx", "620722", "2024H1", values)
    path = folder / f"{n}.{ext}"
    path.write_bytes(data)
    return path


def check(paths: list[Path]) -> None:
    got = read_bounded([ReadJob(p, p.name) for p in paths], CONFIG, "620700")
    assert [r.file for r in got] == [p.name for p in paths]
    for r in got:
        assert all(i.code in CODES for i in r.issues)
        if not r.readable:
            assert r.issues, r.file  # refused with a reason
        assert r.read_seconds <= CONFIG.limits.seconds + 5
        assert r.read_peak_kib <= CONFIG.limits.memory_mb * 1024


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(mutations, min_size=4, max_size=6))
def test_reading_a_mutated_return_ends_in_a_return_or_an_issue(tmp_path_factory, batch):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("fuzz")
    check([build(m, folder, n) for n, m in enumerate(batch)])


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(mutations, min_size=8, max_size=12))
def test_reading_many_mutated_returns(tmp_path_factory, batch):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("fuzz")
    check([build(m, folder, n) for n, m in enumerate(batch)])


def test_the_hostile_corpus_reads_in_one_batch(tmp_path):  # type: ignore[no-untyped-def]
    files = [
        hostile.far_cells(tmp_path / "a.xlsx"),
        hostile.deflate_bomb(tmp_path / "b.xlsx", 50),
        hostile.entities(tmp_path / "c.xlsx"),
        hostile.good(tmp_path / "d.xlsx"),
    ]
    check(files)
