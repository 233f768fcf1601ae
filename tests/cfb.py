"""A minimal writer of OLE2 compound files ([MS-CFB] version 3), for tests that need legacy
workbooks no library writes: a workbook stream named in capitals, a workbook embedding a Word
document, an encrypted .xls. Every stream is padded to 4,096 bytes, so no mini stream is needed
(BIFF readers stop at the EOF record and ignore what follows)."""

from __future__ import annotations

import struct
from pathlib import Path

SECTOR = 512
FREE, END, FATSECT, NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
Tree = dict[str, "bytes | Tree"]  # a stream's bytes, or a storage's entries


def _entry(
    name: str, kind: int, child: int = NOSTREAM, right: int = NOSTREAM, start: int = END, size: int = 0
) -> bytes:
    raw = name.encode("utf-16-le") + b"\0\0"
    return (
        raw.ljust(64, b"\0")
        + struct.pack("<HBB", len(raw), kind, 1)
        + struct.pack("<III", NOSTREAM, right, child)
        + b"\0" * 16
        + struct.pack("<I", 0)
        + b"\0" * 16
        + struct.pack("<IQ", start, size)
    )


def write(path: Path, tree: Tree) -> Path:
    """Write `tree` (names to stream bytes or to nested storages) as a compound file."""
    flat: list[tuple[str, int, bytes | None, list[int]]] = [("Root Entry", 5, None, [])]  # name, type, data, children

    def add(entries: Tree) -> list[int]:
        ids = []
        for name, value in entries.items():
            ids.append(len(flat))
            if isinstance(value, bytes):
                flat.append((name, 2, value.ljust(max(4096, -(-len(value) // SECTOR) * SECTOR), b"\0"), []))
            else:
                flat.append((name, 1, None, []))
                flat[ids[-1]][3].extend(add(value))
        return ids

    flat[0][3].extend(add(tree))
    data_sectors = sum(len(d) // SECTOR for _, _, d, _ in flat if d is not None)
    dir_sectors = -(-len(flat) * 128 // SECTOR)
    fat_sectors = 1
    while fat_sectors * 128 < fat_sectors + dir_sectors + data_sectors:
        fat_sectors += 1
    assert fat_sectors <= 109
    fat = [FATSECT] * fat_sectors
    first_dir = len(fat)
    fat += [*range(first_dir + 1, first_dir + dir_sectors), END]
    starts: dict[int, int] = {}
    body = b""
    for n, (_, _, d, _) in enumerate(flat):
        if d is None:
            continue
        starts[n] = len(fat)
        count = len(d) // SECTOR
        fat += [*range(len(fat) + 1, len(fat) + count), END]
        body += d
    fat += [FREE] * (fat_sectors * 128 - len(fat))
    entries = b""
    for n, (name, kind, d, children) in enumerate(flat):
        right = NOSTREAM
        for parent in flat:  # siblings chained through their right pointers
            if n in parent[3] and parent[3].index(n) + 1 < len(parent[3]):
                right = parent[3][parent[3].index(n) + 1]
        child = children[0] if children else NOSTREAM
        entries += _entry(name, kind, child, right, starts.get(n, END), len(d) if d is not None else 0)
    entries = entries.ljust(dir_sectors * SECTOR, b"\0")
    difat = [*range(fat_sectors), *[FREE] * (109 - fat_sectors)]
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\0" * 16
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + b"\0" * 6
        + struct.pack("<IIIIIIIII", 0, fat_sectors, first_dir, 0, 4096, END, 0, END, 0)
        + struct.pack("<109I", *difat)
    )
    path.write_bytes(header + struct.pack(f"<{len(fat)}I", *fat) + entries + body)
    return path


def workbook_stream(xls: Path) -> bytes:
    """The BIFF workbook stream of an .xls (as xlwt wrote it)."""
    import olefile

    with olefile.OleFileIO(str(xls)) as ole:
        return bytes(ole.openstream("Workbook").read())


def with_record_after_bof(stream: bytes, rtype: int, body: bytes) -> bytes:
    """The stream with one record inserted right after the workbook's first BOF (where FILEPASS goes)."""
    _, length = struct.unpack_from("<HH", stream, 0)
    at = 4 + length
    return stream[:at] + struct.pack("<HH", rtype, len(body)) + body + stream[at:]
