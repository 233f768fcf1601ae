"""What a dropped file really is, by its structure, not its name.

- a zip is an Office package by its `[Content_Types].xml` (and `_rels/.rels`), part names compared
  as readers compare them (case-insensitive, `\\` or `/`); an OpenDocument package by its
  `mimetype`; a zip none of these but that python-calamine opens is still a workbook;
- an OLE2 compound file by its root entries, case-insensitively and the workbook stream first (a
  workbook may embed a Word document): `EncryptedPackage` is an encrypted .xlsx, `Workbook`/`Book`
  a legacy .xls, looked into (`biff`) for encryption (XOR, RC4, RC4 CryptoAPI) and Excel 4.0 macro
  sheets;
- anything else by its first bytes: Excel 2.x–4.0 worksheets, CSV and other text, HTML saved as
  .xls, SpreadsheetML 2003 and flat OpenDocument XML, PDF, RTF.

The answer is a `Sniffed`: a format the readers take, or an issue code with its detail and remedy
in both languages (`Said`).
"""

from __future__ import annotations

import posixpath
import re
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

from huizong.codes import Said
from huizong.read.screen import part_key

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
SAVE_AS_XLSX = Said(
    "在 Excel 或 WPS 中打开，另存为 .xlsx（Excel 工作簿）", "open it in Excel or WPS and save it as .xlsx"
)
MACROS = Said("删除宏表（右键工作表标签 → 删除），或另存为 .xlsx", "delete the macro sheets, or save it as .xlsx")
BINARY = Said("文件是 Excel 二进制工作簿（.xlsb）", "an Excel binary workbook (.xlsb)")
ENCRYPTION = {
    "xor": Said("Excel 97-2003 的 XOR 加密", "Excel 97-2003 XOR obfuscation"),
    "rc4": Said("Excel 97-2003 的 RC4 加密", "Excel 97-2003 RC4 encryption"),
    "rc4-cryptoapi": Said("Excel 2002-2003 的 RC4 CryptoAPI 加密", "Excel 2002-2003 RC4 CryptoAPI encryption"),
    "agile": Said("Excel 2010 及以后的加密", "OOXML agile encryption"),
    "standard": Said("Excel 2007 的加密", "OOXML standard encryption"),
    "ooxml": Said("Excel 2007 及以后的加密", "OOXML encryption"),
    "zip": Said("压缩包成员加密", "encrypted zip members"),
}

_CT = re.compile(rb"<(?:[\w.-]+:)?(?:Override|Default)\s([^>]*?)/?>")
_ATTR = re.compile(rb"([\w.:-]+)\s*=\s*[\"']([^\"']*)[\"']")
SPREADSHEET_MAIN = (
    b"spreadsheetml.sheet.main+xml",
    b"ms-excel.sheet.macroenabled.main+xml",
    b"spreadsheetml.template.main+xml",
    b"ms-excel.template.macroenabled.main+xml",
    b"ms-excel.addin.macroenabled.main+xml",
)
BINARY_MAIN = b"ms-excel.sheet.binary.macroenabled.main"


@dataclass(frozen=True, slots=True)
class Sniffed:
    format: str | None  # xlsx | xlsb | xls | None when the file is not a workbook the readers take
    problem: str | None = (
        None  # issue code: file-empty | file-corrupt | file-encrypted | not-a-workbook | format-unsupported
    )
    detail: Said | None = None
    remedy: Said | None = None


def _refuse(code: str, zh: str, en: str, remedy: Said | None = None) -> Sniffed:
    return Sniffed(None, code, Said(zh, en), remedy)


def sniff(path: Path) -> Sniffed:
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError as e:
        return _refuse("file-corrupt", f"无法读取：{e.strerror or e}", f"cannot be read: {e.strerror or e}")
    if size == 0:
        return Sniffed(None, "file-empty")
    if head.startswith(ZIP_MAGIC):
        return _sniff_zip(path)
    if head.startswith(OLE_MAGIC):
        return _sniff_ole(path)
    if head.startswith(b"PK"):
        return _refuse("file-corrupt", "ZIP 结构不完整", "incomplete zip structure")
    return _sniff_bytes(head)


# zip packages ---------------------------------------------------------------------------------


def _sniff_zip(path: Path) -> Sniffed:
    """The kind of a zip from its directory and two small parts: nothing large is inflated here
    (see `screen`)."""
    try:
        with zipfile.ZipFile(path) as z:
            parts = {part_key(i.filename): i for i in z.infolist()}
            types = _content_types(z, parts.get("[content_types].xml"))
            mimetype = _small(z, parts.get("mimetype"), 200).strip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError):
        return _refuse("file-corrupt", "文件不完整（压缩包已截断或损坏），请重新保存后报送", "truncated or damaged zip")
    macros = sorted(k for k in parts if k.startswith("xl/macrosheets/") and k.endswith((".xml", ".bin")))
    if macros or any(b"macrosheet" in t for t in types):
        return Sniffed(
            None,
            "format-unsupported",
            Said("工作簿含 Excel 4.0 宏表", "the workbook holds Excel 4.0 macro sheets"),
            MACROS,
        )
    if any(t.endswith(SPREADSHEET_MAIN) for t in types) or "xl/workbook.xml" in parts:
        return Sniffed("xlsx")
    if any(t.endswith(BINARY_MAIN) for t in types) or "xl/workbook.bin" in parts:
        return Sniffed("xlsb")
    if mimetype.startswith(b"application/vnd.oasis.opendocument.spreadsheet"):
        return _refuse(
            "format-unsupported",
            "文件是 OpenDocument 表格（.ods，WPS 或 LibreOffice 的格式）",
            "an OpenDocument spreadsheet (.ods)",
            SAVE_AS_XLSX,
        )
    if mimetype.startswith(b"application/vnd.oasis.opendocument"):
        return _refuse("not-a-workbook", "OpenDocument 文档", "an OpenDocument document")
    if any(b"wordprocessingml" in t for t in types) or "word/document.xml" in parts:
        return _refuse("not-a-workbook", "Word 文档", "a Word document")
    if any(b"presentationml" in t for t in types) or "ppt/presentation.xml" in parts:
        return _refuse("not-a-workbook", "PowerPoint 演示文稿", "a PowerPoint presentation")
    if any(posixpath.basename(k) == "workbook.xml" for k in parts) and _calamine_opens(path):
        return Sniffed("xlsx")  # an unusual package that the reader still takes
    return _refuse("not-a-workbook", "ZIP 压缩包", "a zip archive")


def _small(z: zipfile.ZipFile, info: zipfile.ZipInfo | None, most: int) -> bytes:
    if info is None or info.file_size > most:
        return b""
    with z.open(info) as fh:
        return fh.read(most)


def _content_types(z: zipfile.ZipFile, info: zipfile.ZipInfo | None) -> list[bytes]:
    """The content types a package declares, lower-cased."""
    xml = _small(z, info, 1 << 20)
    out = []
    for m in _CT.finditer(xml):
        attrs = dict(_ATTR.findall(m.group(1)))
        if b"ContentType" in attrs:
            out.append(attrs[b"ContentType"].strip().lower())
    return out


def _calamine_opens(path: Path) -> bool:
    import python_calamine as pc

    try:
        with path.open("rb") as fh:
            wb = pc.CalamineWorkbook.from_filelike(fh)
        try:
            return bool(wb.sheet_names)
        finally:
            wb.close()
    except Exception:  # calamine raises several types; any of them means no
        return False


# OLE2 compound files ---------------------------------------------------------------------------


def _sniff_ole(path: Path) -> Sniffed:
    import olefile

    from huizong.read import biff

    try:
        with olefile.OleFileIO(str(path)) as ole:
            root = biff.top_level(ole)
            if "encryptedpackage" in root or "encryptioninfo" in root:
                info = bytes(ole.openstream(root["encryptioninfo"]).read(8)) if "encryptioninfo" in root else b""
                return Sniffed(None, "file-encrypted", ENCRYPTION[_ooxml_scheme(info)])
            stream = next((root[n] for n in biff.STREAM_NAMES if n in root), None)
            if stream is None:
                if "worddocument" in root:
                    return _refuse("not-a-workbook", "Word 97-2003 文档", "a Word 97-2003 document")
                if "powerpoint document" in root:
                    return _refuse("not-a-workbook", "PowerPoint 演示文稿", "a PowerPoint presentation")
                return _refuse("file-corrupt", "OLE2 文件中没有工作簿", "no workbook stream in the OLE2 file")
            data = bytes(ole.openstream(stream).read())
    except (OSError, ValueError, struct.error, IndexError, KeyError, RecursionError) as e:
        return _refuse("file-corrupt", "文件结构已损坏（OLE2）", f"damaged OLE2 compound file: {type(e).__name__}")
    try:
        book = biff.inspect(data)
    except (biff.NotBiff, struct.error):
        return _refuse("file-corrupt", "工作簿数据已损坏", "the workbook stream is not BIFF")
    if book.encryption:
        return Sniffed(None, "file-encrypted", ENCRYPTION[book.encryption])
    macros = [s.name for s in book.sheets if s.kind == "macro"]
    if macros:
        names = "、".join(f"“{n}”" for n in macros[:5])
        return Sniffed(
            None,
            "format-unsupported",
            Said(
                f"工作簿含 Excel 4.0 宏表{names}",
                f"the workbook holds Excel 4.0 macro sheets ({', '.join(macros[:5])})",
            ),
            MACROS,
        )
    return Sniffed("xls")


def _ooxml_scheme(info: bytes) -> str:
    if len(info) < 4:
        return "ooxml"
    major, minor = struct.unpack_from("<HH", info)
    if (major, minor) == (4, 4):
        return "agile"
    return "standard" if minor == 2 else "ooxml"


# everything else, by its first bytes ----------------------------------------------------------

_OLD_BOF = {b"\x09\x00": "2.1", b"\x09\x02": "3.0", b"\x09\x04": "4.0"}
_HTML = ("<html", "<!doctype html", "<table", "<head", "<body", "<meta")


def _sniff_bytes(head: bytes) -> Sniffed:
    if head[:2] in _OLD_BOF and len(head) >= 4 and struct.unpack_from("<H", head, 2)[0] in (4, 6, 8, 16):
        version = _OLD_BOF[head[:2]]
        return _refuse(
            "format-unsupported",
            f"文件是 Excel {version} 的旧格式工作表",
            f"an Excel {version} worksheet (BIFF)",
            SAVE_AS_XLSX,
        )
    if head.startswith(b"%PDF"):
        return _refuse("not-a-workbook", "PDF 文件", "a PDF file")
    if head.startswith(b"{\\rtf"):
        return _refuse("not-a-workbook", "RTF 文档", "an RTF document")
    text = _as_text(head)
    if text is None:
        return _refuse("not-a-workbook", "未知格式", "unknown format")
    low = text.lstrip("\ufeff \t\r\n").lower()
    if "urn:schemas-microsoft-com:office:spreadsheet" in low or 'progid="excel.sheet"' in low:
        return _refuse(
            "format-unsupported", "文件是 Excel 2003 XML 表格", "an Excel 2003 XML spreadsheet", SAVE_AS_XLSX
        )
    if "<office:document" in low and "opendocument" in low:
        return _refuse(
            "format-unsupported",
            "文件是 OpenDocument 平面 XML 表格（.fods）",
            "a flat OpenDocument spreadsheet (.fods)",
            SAVE_AS_XLSX,
        )
    if low.startswith(_HTML) or "<html" in low[:1024] or low.startswith("mime-version:"):
        return _refuse(
            "format-unsupported",
            "文件是网页（“另存为网页”或由系统导出的 .xls）",
            "a web page (an .xls saved as HTML or exported by a system)",
            SAVE_AS_XLSX,
        )
    if low.startswith("<"):
        return _refuse("not-a-workbook", "XML 文本", "XML text")
    if low.startswith("id;p"):
        return _refuse("format-unsupported", "文件是 SYLK 文本表格", "a SYLK spreadsheet", SAVE_AS_XLSX)
    if _looks_delimited(text):
        return _refuse(
            "format-unsupported",
            "文件是 CSV 文本（逗号或制表符分隔）",
            "CSV text (comma or tab separated)",
            SAVE_AS_XLSX,
        )
    return _refuse("not-a-workbook", "文本文件", "a text file")


def _as_text(head: bytes) -> str | None:
    """The head as text, if it is text: UTF-8 (a cut character at the end allowed), UTF-16 or GB18030."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head.decode("utf-16", "replace")
    if b"\x00" in head:
        return None
    for encoding in ("utf-8", "gb18030"):
        try:
            return head.decode(encoding)
        except UnicodeDecodeError as e:
            if encoding == "utf-8" and e.start >= len(head) - 3:
                return head[: e.start].decode(encoding)
    return None


def _looks_delimited(text: str) -> bool:
    lines = [ln for ln in text.splitlines() if ln.strip()][:20]
    if not lines:
        return False
    for sep in (",", "\t", ";", "，"):
        counts = [ln.count(sep) for ln in lines[:-1] or lines]
        if counts and min(counts) >= 1:
            return True
    return False
