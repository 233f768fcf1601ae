"""A zip-based workbook inspected before any reader sees it, cheaply and within limits.

Readers trust a workbook: calamine allocates a sheet densely from its first to its last cell
(one cell at A1 and one at XFD1048576 ask for 512 GiB), inflates whatever a member declares,
and an XML parser may expand entities. So, before reading:

- the zip's central directory: member count, declared sizes, ratios, compression methods;
- every member streamed through a bounded inflater (never more than it declares: zipfile stops
  there and checks the CRC), counting bytes and refusing a DOCTYPE or ENTITY anywhere;
- every worksheet's cell references: the rows and columns the readers would allocate, and the
  cells that hold a formula but no saved value (a file written by a program and never opened in
  Excel), named per sheet so the county can be told which.

Nothing is inflated beyond the limits and nothing is parsed as XML here: regular expressions
over bounded chunks.
"""

from __future__ import annotations

import html
import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from huizong.codes import Said
from huizong.limits import MIB, Limits

CHUNK = 256 * 1024
STORED, DEFLATED = zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED
_SKIP_PREFIXES = ("xl/media/", "xl/embeddings/", "docprops/thumbnail")  # part keys (`part_key`)

_NS = rb"(?:[\w.-]+:)?"
_CELL = re.compile(rb"<" + _NS + rb"c(\s[^>]*?)?(/?)>")
_REF = re.compile(rb"\br=\"([A-Za-z]{1,8})(\d{1,12})\"")
# A cell with content: its opening tag (not self-closed: `(?<!/)>`), then everything up to its own
# `</c>` without crossing into another cell. Each match attempt stops at the next cell's tag, so the
# scan costs time in proportion to the bytes (a formula followed by 50,000 styled blanks `<c …/>`
# used to make every blank scan ahead to the end of the chunk), and a self-closed blank before a
# formula is never taken for the formula's cell.
_FORMULA_CELL = re.compile(
    rb"<" + _NS + rb"c\s([^>]*)(?<!/)>([^<]*(?:<(?!/?" + _NS + rb"c[\s/>])[^<]*)*)</" + _NS + rb"c>"
)
_HAS_F = re.compile(rb"<" + _NS + rb"f[\s/>]")
# a saved result: <v>…</v> with something in it, or inline text; an empty <v></v> is a result only in
# a cell typed as text (t="str": Excel's formula that yields ""). A program that never calculated
# writes no <v>, an empty <v/>, or (openpyxl, some generators) an empty <v></v> in a number cell.
_HAS_VALUE = re.compile(rb"<" + _NS + rb"(?:v(?:\s[^>/]*)?>(?!</" + _NS + rb"v>)|is(?:\s[^>/]*)?>)")
_HAS_EMPTY_V = re.compile(rb"<" + _NS + rb"v(?:\s[^>/]*)?></" + _NS + rb"v>")
_TEXT_TYPED = re.compile(rb"\bt=\"str\"")
_CELL_END = re.compile(rb"</" + _NS + rb"c>|/>")
_DANGER = (b"<!DOCTYPE", b"<!ENTITY", b"<!doctype", b"<!entity")
_SHEET = re.compile(rb"<" + _NS + rb"sheet\s([^>]*?)/?>")
_ATTR = re.compile(rb"([\w.:-]+)=\"([^\"]*)\"")
_NUMFMT = re.compile(rb"<" + _NS + rb"numFmt\s([^>]*?)/?>")
_CELLXFS = re.compile(rb"<" + _NS + rb"cellXfs\b[^>]*>(.*?)</" + _NS + rb"cellXfs>", re.S)
_XF = re.compile(rb"<" + _NS + rb"xf\b([^>]*?)/?>")
_STYLE = re.compile(rb"\bs=\"(\d{1,6})\"")
PERCENT_BUILTIN = {9, 10}  # 0% and 0.00%
CELLS_KEPT = 20000  # percent-formatted cells remembered per sheet


def _shown_as(code: str) -> str | None:
    """ "percent" or "permille" if a number format multiplies what it shows (outside quoted text)."""
    bare = re.sub(r'"[^"]*"|\\.|\[[^\]]*\]', "", code)
    if "%" in bare:
        return "percent"
    if "‰" in bare:
        return "permille"
    return None


def _styles(z: zipfile.ZipFile, member: str | None, limits: Limits) -> tuple[frozenset[int], frozenset[int]]:
    """The cell styles (cellXfs indices) whose number format shows a percentage, and a permille."""
    if member is None:
        return frozenset(), frozenset()
    xml = _read_small(z, member, limits)
    custom: dict[int, str] = {}
    for m in _NUMFMT.finditer(xml):
        attrs = dict(_ATTR.findall(m.group(1)))
        try:
            custom[int(attrs.get(b"numFmtId", b"-1"))] = html.unescape(
                attrs.get(b"formatCode", b"").decode("utf-8", "replace")
            )
        except ValueError:
            continue
    percent, permille = set(), set()
    block = _CELLXFS.search(xml)
    for n, m in enumerate(_XF.finditer(block.group(1) if block else b"")):
        try:
            fid = int(dict(_ATTR.findall(m.group(1))).get(b"numFmtId", b"0"))
        except ValueError:
            continue
        kind = "percent" if fid in PERCENT_BUILTIN else _shown_as(custom.get(fid, ""))
        if kind == "percent":
            percent.add(n)
        elif kind == "permille":
            permille.add(n)
    return frozenset(percent), frozenset(permille)


_REL = re.compile(rb"<" + _NS + rb"Relationship\s([^>]*?)/?>")
FORMULA_CELLS_KEPT = 20  # per sheet, for the message


class Refused(Exception):
    """The file breaks a limit or is malformed: `code` is the issue code, `detail` says why in both languages."""

    def __init__(self, code: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.code, self.detail = code, Said(zh, en)


@dataclass(frozen=True, slots=True)
class Screened:
    problem: str | None = None  # issue code: file-over-limits | file-corrupt | file-encrypted
    detail: Said | None = None
    formula_cells: dict[str, list[str]] = field(default_factory=dict)  # sheet -> formulas without a value
    formula_counts: dict[str, int] = field(default_factory=dict)  # sheet -> how many
    # sheet -> cells whose number format shows a fraction as a percentage (0.4337 shown as 43.37%) or
    # as a permille: what the county saw is not the number stored
    percent_cells: dict[str, frozenset[str]] = field(default_factory=dict)
    permille_cells: dict[str, frozenset[str]] = field(default_factory=dict)


def column_number(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def _mb(n: float) -> str:
    return f"{n / MIB:,.1f} MiB"


def screen(path: Path, fmt: str | None, limits: Limits) -> Screened:
    """Refuse what exceeds the limits before reading; for zip-based workbooks, inspect the members."""
    try:
        size = path.stat().st_size
        if size > limits.file_bytes:
            raise Refused(
                "file-over-limits",
                f"文件大小 {_mb(size)}，超过上限 {_mb(limits.file_bytes)}",
                f"{_mb(size)}, over the limit of {_mb(limits.file_bytes)}",
            )
        if fmt in ("xlsx", "xlsb"):
            return _screen_zip(path, limits)
        if fmt == "xls":
            _screen_xls(path, limits)
    except Refused as e:
        return Screened(e.code, e.detail)
    return Screened()


def _screen_xls(path: Path, limits: Limits) -> None:
    """A legacy workbook's sheets, each within the cell limit (the extent of its cells with a value:
    formatted blanks, however far they reach, do not count; readers do not allocate them)."""
    import struct

    from huizong.read import biff

    try:
        book = biff.inspect(biff.workbook_stream(path))
    except (biff.NotBiff, OSError, ValueError, struct.error):
        return  # `sniff` has judged the structure; the reader says what it finds
    for sheet in book.sheets:
        if sheet.rows is not None and sheet.cols is not None:
            _within(sheet.name, sheet.rows[0] + 1, sheet.rows[1] + 1, sheet.cols[0] + 1, sheet.cols[1] + 1, limits)


def _within(sheet: str, min_row: int, max_row: int, min_col: int, max_col: int, limits: Limits) -> None:
    if max_row > limits.sheet_rows:
        raise Refused(
            "file-over-limits",
            f"工作表“{sheet}”用到第 {max_row:,} 行，超过上限 {limits.sheet_rows:,} 行",
            f"sheet {sheet!r} reaches row {max_row:,}, over the limit of {limits.sheet_rows:,}",
        )
    area = (max_row - min_row + 1) * (max_col - min_col + 1)
    if area > limits.sheet_cells:
        raise Refused(
            "file-over-limits",
            f"工作表“{sheet}”的数据跨越 {max_row - min_row + 1:,} 行 × {max_col - min_col + 1:,} 列"
            f"（{area:,} 个单元格），超过上限 {limits.sheet_cells:,}",
            f"sheet {sheet!r} spans {area:,} cells, over the limit of {limits.sheet_cells:,}",
        )


def _screen_zip(path: Path, limits: Limits) -> Screened:
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            _check_directory(infos, limits)
            sheets, styles = _sheet_members(z, limits)
            percent_styles, permille_styles = _styles(z, styles, limits)
            formulas: dict[str, list[str]] = {}
            counts: dict[str, int] = {}
            percent: dict[str, frozenset[str]] = {}
            permille: dict[str, frozenset[str]] = {}
            total = 0
            for info in infos:
                if info.is_dir() or part_key(info.filename).startswith(_SKIP_PREFIXES):
                    continue
                scan: _SheetScan | _BinarySheetScan | None = None
                if info.filename in sheets and part_key(info.filename).endswith(".bin"):
                    scan = _BinarySheetScan(sheets[info.filename], limits)
                elif info.filename in sheets:
                    scan = _SheetScan(sheets[info.filename], limits, percent_styles | permille_styles)
                total = _stream(z, info, limits, total, scan)
                if scan is not None and scan.formula_count:
                    formulas[sheets[info.filename]] = scan.formula_cells
                    counts[sheets[info.filename]] = scan.formula_count
                if scan is not None and scan.styled:
                    name = sheets[info.filename]
                    percent[name] = frozenset(c for c, st in scan.styled.items() if st in percent_styles)
                    permille[name] = frozenset(c for c, st in scan.styled.items() if st in permille_styles)
    except Refused as e:
        return Screened(e.code, e.detail)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError):
        return Screened(
            "file-corrupt", Said("文件不完整（压缩包已截断或损坏），请重新保存后报送", "truncated or damaged zip")
        )
    except RuntimeError as e:  # zipfile: "File ... is encrypted, password required for extraction"
        return Screened("file-encrypted", Said("压缩包成员加密", f"encrypted zip members: {e}"))
    except OSError:
        return Screened("file-corrupt", Said("文件读取失败，请重新保存后报送", "the file could not be read"))
    return Screened(formula_cells=formulas, formula_counts=counts, percent_cells=percent, permille_cells=permille)


def _check_directory(infos: list[zipfile.ZipInfo], limits: Limits) -> None:
    if len(infos) > limits.members:
        raise Refused(
            "file-over-limits",
            f"压缩包内有 {len(infos):,} 个成员，超过上限 {limits.members:,}",
            f"{len(infos):,} zip members, over the limit of {limits.members:,}",
        )
    seen: set[str] = set()
    for i in infos:  # two members of one name: readers disagree on which one is the sheet
        key = i.filename.replace("\\", "/").lower()
        if key in seen:
            raise Refused(
                "file-corrupt",
                f"压缩包中有两个同名成员 {i.filename}，无法确定哪一个是报表内容（请在 Excel 中另存后重新报送）",
                f"two zip members named {i.filename}: readers disagree on which is the sheet",
            )
        seen.add(key)
    declared = 0
    for i in infos:
        if i.flag_bits & 0x1:
            raise Refused("file-encrypted", f"压缩成员 {i.filename} 已加密", f"zip member {i.filename} is encrypted")
        if i.compress_type not in (STORED, DEFLATED):
            raise Refused(
                "file-corrupt",
                f"压缩成员 {i.filename} 使用了 Excel 不使用的压缩方式（{i.compress_type}）",
                f"zip member {i.filename} uses compression method {i.compress_type}",
            )
        if i.file_size > limits.member_bytes:
            raise Refused(
                "file-over-limits",
                f"压缩成员 {i.filename} 解压后 {_mb(i.file_size)}，超过上限 {_mb(limits.member_bytes)}",
                f"zip member {i.filename} inflates to {_mb(i.file_size)}, over the limit of {_mb(limits.member_bytes)}",
            )
        if i.file_size > MIB and i.file_size > limits.ratio * max(i.compress_size, 1):
            ratio = i.file_size / max(i.compress_size, 1)
            raise Refused(
                "file-over-limits",
                f"压缩成员 {i.filename} 压缩比 {ratio:,.0f}:1，超过上限 {limits.ratio:,.0f}:1（疑似压缩炸弹）",
                f"zip member {i.filename} has a ratio of {ratio:,.0f}:1, over {limits.ratio:,.0f}:1 (a zip bomb?)",
            )
        declared += i.file_size
    if declared > limits.unpacked_bytes:
        raise Refused(
            "file-over-limits",
            f"解压后共 {_mb(declared)}，超过上限 {_mb(limits.unpacked_bytes)}",
            f"{_mb(declared)} unpacked, over the limit of {_mb(limits.unpacked_bytes)}",
        )


def part_key(name: str) -> str:
    """A part name as readers compare them: `/` separators, no leading `/`, case-insensitive."""
    return name.replace("\\", "/").lstrip("/").lower()


def _read_small(z: zipfile.ZipFile, name: str, limits: Limits) -> bytes:
    try:
        info = z.getinfo(name)
    except KeyError:
        return b""
    with z.open(info) as fh:
        data = fh.read(min(info.file_size, limits.member_bytes) + 1)
    _check_xml_safe(data, name)
    return data


def _relations(
    z: zipfile.ZipFile, by_key: dict[str, str], source: str, limits: Limits
) -> list[tuple[bytes, bytes, str]]:
    """(Id, Type, target part key) of the relationships of part `source` ("" for the package)."""
    folder, base = posixpath.split(source)
    rels = by_key.get(posixpath.join(folder, "_rels", base + ".rels"))
    out = []
    for m in _REL.finditer(_read_small(z, rels, limits) if rels else b""):
        attrs = {k.split(b":")[-1]: v for k, v in _ATTR.findall(m.group(1))}
        target = html.unescape(attrs.get(b"Target", b"").decode("utf-8", "replace")).replace("\\", "/")
        key = (
            part_key(target) if target.startswith("/") else part_key(posixpath.normpath(posixpath.join(folder, target)))
        )
        out.append((attrs.get(b"Id", b""), attrs.get(b"Type", b""), key))
    return out


def _sheet_members(z: zipfile.ZipFile, limits: Limits) -> tuple[dict[str, str], str | None]:
    """Worksheet member -> the sheet's name as the county sees it, and the styles member: found as
    readers find them (the package's officeDocument relationship, then the workbook's), part names
    compared case-insensitively with either separator."""
    by_key = {part_key(n): n for n in z.namelist()}
    book = next((k for _, kind, k in _relations(z, by_key, "", limits) if kind.endswith(b"/officeDocument")), None)
    if book not in by_key:
        book = "xl/workbook.xml"
    rels = _relations(z, by_key, book, limits)
    targets = {rid.decode("utf-8", "replace"): key for rid, _, key in rels}
    styles = next(
        (by_key[k] for _, kind, k in rels if kind.endswith(b"/styles") and k in by_key), by_key.get("xl/styles.xml")
    )
    out: dict[str, str] = {}
    for m in _SHEET.finditer(_read_small(z, by_key[book], limits) if book in by_key else b""):
        attrs = {k.split(b":")[-1]: v for k, v in _ATTR.findall(m.group(1))}
        member = by_key.get(targets.get(attrs.get(b"id", b"").decode("utf-8", "replace"), ""))
        if member is not None:
            out[member] = html.unescape(attrs.get(b"name", b"").decode("utf-8", "replace"))
    if book.endswith(".bin") and book in by_key:  # an .xlsb: BrtBundleSh records name the sheets
        for rid, name in _xlsb_sheets(_read_small(z, by_key[book], limits)):
            member = by_key.get(targets.get(rid, ""))
            if member is not None:
                out[member] = name
    for key, n in by_key.items():  # sheets the workbook does not list still count against the limits
        sheetlike = "worksheets/" in key or posixpath.basename(key).startswith("sheet")
        if sheetlike and key.endswith((".xml", ".bin")) and "binaryindex" not in key and n not in out:
            out[n] = posixpath.basename(key)
    return out, styles


def _check_xml_safe(chunk: bytes, name: str) -> None:
    if any(d in chunk for d in _DANGER):
        raise Refused(
            "file-corrupt",
            f"压缩成员 {name} 含有 DOCTYPE 或实体声明（Excel 不会写入，出于安全原因拒收）",
            f"zip member {name} declares a DOCTYPE or entities",
        )


def _stream(
    z: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits, total: int, scan: _SheetScan | _BinarySheetScan | None
) -> int:
    """Inflate one member in bounded chunks (zipfile never yields more than the member declares)."""
    tail = b""
    with z.open(info) as fh:
        while chunk := fh.read(CHUNK):
            total += len(chunk)
            if total > limits.unpacked_bytes:
                raise Refused(
                    "file-over-limits",
                    f"解压后超过上限 {_mb(limits.unpacked_bytes)}",
                    f"over {_mb(limits.unpacked_bytes)} unpacked",
                )
            _check_xml_safe(tail[-16:] + chunk, info.filename)
            tail = scan.feed(tail + chunk) if scan is not None else chunk[-16:]
    if scan is not None:
        scan.feed(tail, final=True)
    return total


class _SheetScan:
    """The extent of a worksheet's cells with values, and its formulas without a saved value."""

    def __init__(self, sheet: str, limits: Limits, styles: frozenset[int] = frozenset()) -> None:
        self.sheet, self.limits, self.styles = sheet, limits, styles
        self.styled: dict[str, int] = {}  # cell -> style, for the cells in `styles`
        self.min_row = self.min_col = 1 << 62
        self.max_row = self.max_col = 0
        self.unreferenced = 0  # cells without an r attribute: placed one after another
        self.formula_cells: list[str] = []
        self.formula_count = 0

    def feed(self, buf: bytes, final: bool = False) -> bytes:
        """Scan the complete cells of `buf`; return the incomplete tail to prepend to the next chunk."""
        if final:
            cut = len(buf)
        else:
            ends = list(_CELL_END.finditer(buf, max(0, len(buf) - 4096)))
            cut = ends[-1].end() if ends else buf.rfind(b"<")
            if cut <= 0:
                if len(buf) > 4 * CHUNK:  # a single tag this long is not a cell
                    raise Refused(
                        "file-corrupt",
                        f"工作表“{self.sheet}”中有异常长的 XML 标记",
                        f"sheet {self.sheet!r} holds an overlong XML tag",
                    )
                return buf
        body, rest = buf[:cut], buf[cut:]
        self._cells(body)
        if b"f" in body and _HAS_F.search(body):
            self._formulas(body)
        self._check()
        return rest

    def _cells(self, body: bytes) -> None:
        cells = _CELL.findall(body)
        filled = [attrs for attrs, closed in cells if not closed]
        if not filled:
            return
        refs = _REF.findall(b" ".join(filled))
        self.unreferenced += len(filled) - len(refs)
        if self.styles and len(self.styled) < CELLS_KEPT:
            for attrs in filled:
                st, ref = _STYLE.search(attrs), _REF.search(attrs)
                if st and ref and int(st.group(1)) in self.styles:
                    self.styled[(ref.group(1) + ref.group(2)).decode().upper()] = int(st.group(1))
        if refs:
            rows = [int(r) for _, r in refs]
            cols = {c for c, _ in refs}
            self.max_row, self.min_row = max(self.max_row, max(rows)), min(self.min_row, min(rows))
            nums = [column_number(c.decode()) for c in cols]
            self.max_col, self.min_col = max(self.max_col, max(nums)), min(self.min_col, min(nums))

    def _formulas(self, body: bytes) -> None:
        for m in _FORMULA_CELL.finditer(body):
            content = m.group(2)
            has_value = _HAS_VALUE.search(content) or (_HAS_EMPTY_V.search(content) and _TEXT_TYPED.search(m.group(1)))
            if _HAS_F.search(content) and not has_value:
                self.formula_count += 1
                if len(self.formula_cells) < FORMULA_CELLS_KEPT:
                    ref = _REF.search(m.group(1))
                    self.formula_cells.append((ref.group(1) + ref.group(2)).decode() if ref else "?")

    def _check(self) -> None:
        limits = self.limits
        if self.max_row:
            _within(self.sheet, self.min_row, self.max_row, self.min_col, self.max_col, limits)
        if self.unreferenced > limits.sheet_cells:
            raise Refused(
                "file-over-limits",
                f"工作表“{self.sheet}”的单元格超过上限 {limits.sheet_cells:,}",
                f"sheet {self.sheet!r} has more than {limits.sheet_cells:,} cells",
            )


# BIFF12 (.xlsb) records: a type and a size, each a little-endian base-128 number
_XLSB_ROW = 0x0000  # BrtRowHdr: the row (u32) of the cells that follow
_XLSB_VALUES = frozenset(range(0x0002, 0x000C))  # BrtCellRk … BrtFmlaError: the column (u32) first; 0x0001 is a blank


class _BinarySheetScan:
    """The extent of an .xlsb worksheet's cells with a value, from its records (blanks do not count)."""

    def __init__(self, sheet: str, limits: Limits) -> None:
        self.sheet, self.limits = sheet, limits
        self.row = 0
        self.min_row = self.min_col = 1 << 62
        self.max_row = self.max_col = 0
        self.formula_cells: list[str] = []  # an .xlsb saves every formula's value
        self.formula_count = 0
        self.styled: dict[str, int] = {}

    def feed(self, buf: bytes, final: bool = False) -> bytes:
        pos, end = 0, len(buf)
        while pos < end:
            start = pos
            rtype, pos = _varint(buf, pos, 2)
            size, pos = _varint(buf, pos, 4) if pos >= 0 else (0, -1)
            if pos < 0 or pos + size > end:
                if final or end - start > 4 * CHUNK + 8:  # a cut record at the end, or one this long: no sheet
                    break
                return buf[start:]
            if size >= 4 and rtype == _XLSB_ROW:
                self.row = int.from_bytes(buf[pos : pos + 4], "little") + 1
            elif size >= 4 and rtype in _XLSB_VALUES:
                col = int.from_bytes(buf[pos : pos + 4], "little") + 1
                self.min_row, self.max_row = min(self.min_row, self.row), max(self.max_row, self.row)
                self.min_col, self.max_col = min(self.min_col, col), max(self.max_col, col)
            pos += size
        if self.max_row:
            _within(self.sheet, self.min_row, self.max_row, self.min_col, self.max_col, self.limits)
        return b""


def _xlsb_sheets(data: bytes) -> list[tuple[str, str]]:
    """(relationship id, name) of each BrtBundleSh (0x9C) of an .xlsb's workbook.bin."""
    out, pos = [], 0
    while 0 <= pos < len(data):
        rtype, pos = _varint(data, pos, 2)
        size, pos = _varint(data, pos, 4) if pos >= 0 else (0, -1)
        if pos < 0 or pos + size > len(data):
            break
        if rtype == 0x9C and size >= 16:
            body, texts, at = data[pos : pos + size], [], 8
            for _ in range(2):  # strRelID, strName: a u32 count of UTF-16 characters, then the characters
                n = int.from_bytes(body[at : at + 4], "little")
                texts.append(body[at + 4 : at + 4 + 2 * n].decode("utf-16-le", "replace"))
                at += 4 + 2 * n
            out.append((texts[0], texts[1]))
        pos += size
    return out


def _varint(buf: bytes, pos: int, most: int) -> tuple[int, int]:
    """A base-128 number of at most `most` bytes at `pos`, and where it ends (-1 if the buffer ends first)."""
    value = shift = 0
    for _ in range(most):
        if pos >= len(buf):
            return 0, -1
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    return value, pos
