"""Hostile files, built for real and small on disk: the threat model of `huizong.screen` and
`huizong.worker`. Shared by the tests and `benchmarks/bench_hostile.py`."""

from __future__ import annotations

import os
import re
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from builders import write_return


def rewrite_zip(
    src: Path,
    dst: Path,
    change: Callable[[str, bytes], bytes | None],
    extra: dict[str, bytes] | None = None,
    level: int = 6,
) -> Path:
    """Copy a zip member by member, `change(name, data)` deciding each member's new bytes."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zout:
        for info in zin.infolist():
            data = change(info.filename, zin.read(info.filename))
            if data is not None:
                zout.writestr(info.filename, data)
        for name, data in (extra or {}).items():
            zout.writestr(name, data)
    return dst


def _sheet(change: Callable[[bytes], bytes]) -> Callable[[str, bytes], bytes]:
    return lambda name, data: change(data) if name == "xl/worksheets/sheet1.xml" else data


def _scratch() -> Path:
    return Path(tempfile.mkdtemp(prefix="huizong-hostile-")) / "src.xlsx"


def good(path: Path, county: str = "620702", period: str = "2024H1") -> Path:
    return write_return(path, county, period)


def far_cells(path: Path) -> Path:
    """18 KB: a value at A1 and one at XFD1048576; calamine would allocate 512 GiB."""
    src = good(_scratch())
    far = b'<row r="1048576"><c r="XFD1048576" t="n"><v>1</v></c></row></sheetData>'
    return rewrite_zip(src, path, _sheet(lambda d: d.replace(b"</sheetData>", far)))


def deflate_bomb(path: Path, mib: int = 200) -> Path:
    """A sheet padded with `mib` MiB of spaces: a few hundred KB on disk, ratio about 1000:1."""
    src = good(_scratch())
    pad = b" " * (mib << 20)
    return rewrite_zip(src, path, _sheet(lambda d: d.replace(b"<sheetData>", b"<sheetData>" + pad)), level=9)


def million_rows(path: Path, rows: int = 1_000_000) -> Path:
    """A sheet of a million small rows (about 3 MB on disk)."""
    src = good(_scratch())
    body = b"".join(b'<row r="%d"><c r="A%d" t="n"><v>1</v></c></row>' % (r, r) for r in range(60, rows + 60))
    return rewrite_zip(src, path, _sheet(lambda d: d.replace(b"</sheetData>", body + b"</sheetData>")))


def entities(path: Path) -> Path:
    """Billion laughs in the shared strings."""
    src = good(_scratch())
    lol = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    )
    return rewrite_zip(src, path, _sheet(lambda d: lol + d.split(b"?>", 1)[-1] if d.startswith(b"<?xml") else lol + d))


def formulas_without_values(path: Path) -> tuple[Path, list[str]]:
    """Every 本期累计 value of the table replaced by a formula with no saved result."""
    src = good(_scratch())
    cells: list[str] = []

    def change(data: bytes) -> bytes:
        def one(m: re.Match[bytes]) -> bytes:
            cells.append(m.group(1).decode())
            return b'<c r="%s"><f>1+1</f></c>' % m.group(1)

        return re.sub(rb'<c r="(F\d+)" t="n"><v>[^<]*</v></c>', one, data)

    return rewrite_zip(src, path, _sheet(change)), cells


def not_utf8_name(folder: Path, county: str = "620722") -> Path:
    """A good return whose name is GBK bytes, as unzipping a Windows zip leaves it."""
    raw = os.fsencode(folder) + b"/" + "民乐县_2024年上半年.xlsx".encode("gbk")
    return write_return(Path(os.fsdecode(raw)), county, "2024H1")
