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

from huizong.limits import MIB, Limits

CHUNK = 256 * 1024
STORED, DEFLATED = zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED
_SKIP_PREFIXES = ("xl/media/", "xl/embeddings/", "docProps/thumbnail")

_NS = rb"(?:[\w.-]+:)?"
_ROW = re.compile(rb"<" + _NS + rb"row\s[^>]*?\br=\"(\d{1,12})\"")
_CELL = re.compile(rb"<" + _NS + rb"c(\s[^>]*?)?(/?)>")
_REF = re.compile(rb"\br=\"([A-Za-z]{1,8})(\d{1,12})\"")
_FORMULA_CELL = re.compile(rb"<" + _NS + rb"c\s([^>]*?)>((?:(?!</" + _NS + rb"c>).)*?)</" + _NS + rb"c>", re.S)
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


def _styles(z: zipfile.ZipFile, limits: Limits) -> tuple[frozenset[int], frozenset[int]]:
    """The cell styles (cellXfs indices) whose number format shows a percentage, and a permille."""
    if "xl/styles.xml" not in z.namelist():
        return frozenset(), frozenset()
    xml = _read_small(z, "xl/styles.xml", limits)
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
    """The file breaks a limit or is malformed: `code` is the issue code, the message the detail."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


@dataclass(frozen=True, slots=True)
class Screened:
    problem: str | None = None  # issue code: file-over-limits | file-corrupt | file-encrypted
    detail: str = ""
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
            raise Refused("file-over-limits", f"文件大小 {_mb(size)}，超过上限 {_mb(limits.file_bytes)}")
        if fmt in ("xlsx", "xlsb"):
            return _screen_zip(path, limits)
    except Refused as e:
        return Screened(e.code, e.detail)
    return Screened()


def _screen_zip(path: Path, limits: Limits) -> Screened:
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            _check_directory(infos, limits)
            sheets = _sheet_members(z, limits)
            percent_styles, permille_styles = _styles(z, limits)
            formulas: dict[str, list[str]] = {}
            counts: dict[str, int] = {}
            percent: dict[str, frozenset[str]] = {}
            permille: dict[str, frozenset[str]] = {}
            total = 0
            for info in infos:
                if info.is_dir() or info.filename.startswith(_SKIP_PREFIXES):
                    continue
                scan = (_SheetScan(sheets[info.filename], limits, percent_styles | permille_styles)
                        if info.filename in sheets else None)  # fmt: skip
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
        return Screened("file-corrupt", "文件不完整（压缩包已截断或损坏），请重新保存后报送")
    except RuntimeError as e:  # zipfile: "File ... is encrypted, password required for extraction"
        return Screened("file-encrypted", str(e))
    except OSError:
        return Screened("file-corrupt", "文件读取失败，请重新保存后报送")
    return Screened(formula_cells=formulas, formula_counts=counts, percent_cells=percent, permille_cells=permille)


def _check_directory(infos: list[zipfile.ZipInfo], limits: Limits) -> None:
    if len(infos) > limits.members:
        raise Refused("file-over-limits", f"压缩包内有 {len(infos):,} 个成员，超过上限 {limits.members:,}")
    seen: set[str] = set()
    for i in infos:  # two members of one name: readers disagree on which one is the sheet
        key = i.filename.replace("\\", "/").lower()
        if key in seen:
            raise Refused(
                "file-corrupt",
                f"压缩包中有两个同名成员 {i.filename}，无法确定哪一个是报表内容（请在 Excel 中另存后重新报送）",
            )
        seen.add(key)
    declared = 0
    for i in infos:
        if i.flag_bits & 0x1:
            raise Refused("file-encrypted", f"压缩成员 {i.filename} 已加密")
        if i.compress_type not in (STORED, DEFLATED):
            raise Refused("file-corrupt", f"压缩成员 {i.filename} 使用了 Excel 不使用的压缩方式（{i.compress_type}）")
        if i.file_size > limits.member_bytes:
            raise Refused(
                "file-over-limits",
                f"压缩成员 {i.filename} 解压后 {_mb(i.file_size)}，超过上限 {_mb(limits.member_bytes)}",
            )
        if i.file_size > MIB and i.file_size > limits.ratio * max(i.compress_size, 1):
            ratio = i.file_size / max(i.compress_size, 1)
            raise Refused(
                "file-over-limits",
                f"压缩成员 {i.filename} 压缩比 {ratio:,.0f}:1，超过上限 {limits.ratio:,.0f}:1（疑似压缩炸弹）",
            )
        declared += i.file_size
    if declared > limits.unpacked_bytes:
        raise Refused("file-over-limits", f"解压后共 {_mb(declared)}，超过上限 {_mb(limits.unpacked_bytes)}")


def _read_small(z: zipfile.ZipFile, name: str, limits: Limits) -> bytes:
    try:
        info = z.getinfo(name)
    except KeyError:
        return b""
    with z.open(info) as fh:
        data = fh.read(min(info.file_size, limits.member_bytes) + 1)
    _check_xml_safe(data, name)
    return data


def _sheet_members(z: zipfile.ZipFile, limits: Limits) -> dict[str, str]:
    """Worksheet member -> the sheet's name as the county sees it (from workbook.xml and its rels)."""
    names = set(z.namelist())
    rels: dict[str, str] = {}
    for m in _REL.finditer(_read_small(z, "xl/_rels/workbook.xml.rels", limits)):
        attrs = {k.split(b":")[-1]: v for k, v in _ATTR.findall(m.group(1))}
        target = html.unescape(attrs.get(b"Target", b"").decode("utf-8", "replace"))
        target = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
        rels[attrs.get(b"Id", b"").decode("utf-8", "replace")] = target
    out: dict[str, str] = {}
    for m in _SHEET.finditer(_read_small(z, "xl/workbook.xml", limits)):
        attrs = {k.split(b":")[-1]: v for k, v in _ATTR.findall(m.group(1))}
        member = rels.get(attrs.get(b"id", b"").decode("utf-8", "replace"))
        if member in names:
            out[member] = html.unescape(attrs.get(b"name", b"").decode("utf-8", "replace"))
    for n in names:  # sheets the workbook does not list still count against the limits
        if n.startswith("xl/worksheets/") and n.endswith(".xml") and n not in out:
            out[n] = posixpath.basename(n)
    return out


def _check_xml_safe(chunk: bytes, name: str) -> None:
    if any(d in chunk for d in _DANGER):
        raise Refused("file-corrupt", f"压缩成员 {name} 含有 DOCTYPE 或实体声明（Excel 不会写入，出于安全原因拒收）")


def _stream(z: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits, total: int, scan: _SheetScan | None) -> int:
    """Inflate one member in bounded chunks (zipfile never yields more than the member declares)."""
    tail = b""
    with z.open(info) as fh:
        while chunk := fh.read(CHUNK):
            total += len(chunk)
            if total > limits.unpacked_bytes:
                raise Refused("file-over-limits", f"解压后超过上限 {_mb(limits.unpacked_bytes)}")
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
                    raise Refused("file-corrupt", f"工作表“{self.sheet}”中有异常长的 XML 标记")
                return buf
        body, rest = buf[:cut], buf[cut:]
        self._cells(body)
        self._rows(body)
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

    def _rows(self, body: bytes) -> None:
        rows = _ROW.findall(body)
        if rows:
            top = max(int(r) for r in rows)
            if top > self.limits.sheet_rows:  # rows of styled blanks only still cost a reader
                self.max_row = max(self.max_row, top)

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
        if self.max_row > limits.sheet_rows:
            raise Refused(
                "file-over-limits",
                f"工作表“{self.sheet}”用到第 {self.max_row:,} 行，超过上限 {limits.sheet_rows:,} 行",
            )
        if self.max_row:
            area = (self.max_row - self.min_row + 1) * (self.max_col - self.min_col + 1)
            if area > limits.sheet_cells:
                raise Refused(
                    "file-over-limits",
                    f"工作表“{self.sheet}”的数据跨越 {self.max_row - self.min_row + 1:,} 行 × "
                    f"{self.max_col - self.min_col + 1:,} 列（{area:,} 个单元格），超过上限 {limits.sheet_cells:,}",
                )
        if self.unreferenced > limits.sheet_cells:
            raise Refused("file-over-limits", f"工作表“{self.sheet}”的单元格超过上限 {limits.sheet_cells:,}")
