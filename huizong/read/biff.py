"""A legacy `.xls` looked at before any reader sees it: its compound file and its BIFF records.

Only the record headers and a few fields are read (never a cell's text): which version wrote it,
whether it is encrypted and how, which sheets it holds and of what kind (worksheet, chart, Excel
4.0 macro sheet, VBA module), and the extent of each worksheet's cells that hold a value, which
is what a reader allocates (blank cells that only carry a format do not count). One pass over the
bytes, in time proportional to the stream.

References: [MS-XLS] 2.4.21 BOF, 2.4.117 FilePass, 2.4.28 BoundSheet8, 2.4.90 Dimensions;
[MS-CFB] for the container, read with olefile.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import olefile

BOF_TYPES = {0x0809: "BIFF5/8", 0x0409: "BIFF4", 0x0209: "BIFF3", 0x0009: "BIFF2"}
BOF, EOF, FILEPASS, BOUNDSHEET = 0x0809, 0x000A, 0x002F, 0x0085
# cell records that hold a value: row (u16) at 0, column (u16) at 2
VALUE_CELLS = frozenset(
    {0x0203, 0x00FD, 0x027E, 0x0204, 0x0205, 0x0006, 0x00D6}
)  # NUMBER LABELSST RK LABEL BOOLERR FORMULA RSTRING
MULRK = 0x00BD  # row, first column, …, last column (u16 at the end)
SHEET_KINDS = {0: "worksheet", 1: "macro", 2: "chart", 6: "vba"}
STREAM_NAMES = ("workbook", "book")  # BIFF8 and BIFF5, in any case (some writers capitalise them)


class NotBiff(Exception):
    """The compound file holds no workbook stream, or the stream is not BIFF."""


@dataclass
class Sheet:
    name: str
    kind: str  # worksheet | macro | chart | vba | dialog
    rows: tuple[int, int] | None = None  # first and last row (0-based) of cells with a value
    cols: tuple[int, int] | None = None

    @property
    def area(self) -> int:
        if self.rows is None or self.cols is None:
            return 0
        return (self.rows[1] - self.rows[0] + 1) * (self.cols[1] - self.cols[0] + 1)


@dataclass
class Workbook:
    version: int  # 0x0600 BIFF8, 0x0500 BIFF5
    encryption: str | None = None  # xor | rc4 | rc4-cryptoapi | None
    sheets: list[Sheet] = field(default_factory=list)


def top_level(ole: olefile.OleFileIO) -> dict[str, list[str]]:
    """The root's entries by lower-cased name (olefile keeps the case a writer chose)."""
    out: dict[str, list[str]] = {}
    for entry in ole.listdir(streams=True, storages=True):
        if len(entry) == 1:
            out.setdefault(entry[0].lower(), entry)
    return out


def workbook_stream(path: Path) -> bytes:
    """The bytes of the workbook stream (`Workbook`, `Book`, in any case) of a compound file."""
    with olefile.OleFileIO(str(path)) as ole:
        root = top_level(ole)
        for name in STREAM_NAMES:
            if name in root and ole.get_type(root[name]) == olefile.STGTY_STREAM:
                return bytes(ole.openstream(root[name]).read())
    raise NotBiff("no workbook stream")


def _records(data: bytes, pos: int) -> tuple[int, int, int]:
    """(type, length, offset of the body) of the record at `pos`."""
    rtype, length = struct.unpack_from("<HH", data, pos)
    return rtype, length, pos + 4


def inspect(data: bytes) -> Workbook:
    """Version, encryption and sheets of a BIFF5/BIFF8 workbook stream."""
    if len(data) < 8:
        raise NotBiff("stream too short")
    rtype, length, body = _records(data, 0)
    if rtype != BOF or length < 4:
        raise NotBiff(f"first record {rtype:#06x}")
    (version,) = struct.unpack_from("<H", data, body)
    book = Workbook(version)
    pos = body + length
    bound: list[tuple[int, int, str]] = []
    while pos + 4 <= len(data):
        rtype, length, body = _records(data, pos)
        if rtype == EOF:
            break
        if rtype == FILEPASS:
            book.encryption = _scheme(data[body : body + length], version)
            return book  # what follows is encrypted
        if rtype == BOUNDSHEET and length >= 7:
            offset, _visible, kind = struct.unpack_from("<IBB", data, body)
            bound.append((offset, kind, _sheet_name(data[body + 6 : body + length], version)))
        pos = body + length
    for offset, kind, name in bound:
        sheet = Sheet(name, SHEET_KINDS.get(kind, "dialog"))
        if sheet.kind in ("worksheet", "macro"):
            _extent(data, offset, sheet)
        book.sheets.append(sheet)
    return book


def _scheme(body: bytes, version: int) -> str:
    if version < 0x0600 or len(body) < 4:
        return "xor"
    kind, major = struct.unpack_from("<HH", body)
    if kind == 0:
        return "xor"
    return "rc4" if major == 1 else "rc4-cryptoapi"


def _sheet_name(body: bytes, version: int) -> str:
    if not body:
        return ""
    n = body[0]
    if version >= 0x0600 and len(body) >= 2:
        wide = body[1] & 1
        raw = body[2 : 2 + n * (2 if wide else 1)]
        return raw.decode("utf-16-le" if wide else "latin-1", "replace")
    return body[1 : 1 + n].decode("gbk", "replace")


def _extent(data: bytes, offset: int, sheet: Sheet) -> None:
    """The rows and columns of the sheet's cells that hold a value; the kind its own BOF says."""
    if not 0 <= offset <= len(data) - 8:
        return
    rtype, length, body = _records(data, offset)
    if rtype != BOF:
        return
    if length >= 4 and struct.unpack_from("<H", data, body + 2)[0] == 0x0040:
        sheet.kind = "macro"
    r0 = c0 = 1 << 30
    r1 = c1 = -1
    pos, end = body + length, len(data)
    unpack = struct.unpack_from
    while pos + 4 <= end:
        rtype, length = unpack("<HH", data, pos)
        body = pos + 4
        if rtype in (EOF, BOF):
            break
        if length >= 4 and (rtype in VALUE_CELLS or rtype == MULRK):
            row, col = unpack("<HH", data, body)
            last = unpack("<H", data, body + length - 2)[0] if rtype == MULRK and length >= 6 else col
            r0, r1 = min(r0, row), max(r1, row)
            c0, c1 = min(c0, col), max(c1, last)
        pos = body + length
    if r1 >= 0:
        sheet.rows, sheet.cols = (r0, r1), (c0, c1)
