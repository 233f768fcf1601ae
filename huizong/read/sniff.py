"""What a dropped file really is, by its bytes, not its name.

A Word file renamed `.xlsx` is a ZIP without `xl/workbook.xml`; an encrypted `.xlsx` is an
OLE2 compound file holding `EncryptedPackage`; a legacy `.xls` is OLE2 with a `Workbook`
stream. The answer is a `Sniffed` with a format or an issue code and a reason.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"


def _utf16(name: str) -> bytes:
    return name.encode("utf-16-le")


@dataclass(frozen=True, slots=True)
class Sniffed:
    format: str | None  # xlsx | xlsb | xls | None when the file is not a readable workbook
    problem: str | None = None  # issue code: file-empty | file-corrupt | file-encrypted | not-a-workbook
    detail: str = ""


def sniff(path: Path) -> Sniffed:
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(8)
    except OSError as e:
        return Sniffed(None, "file-corrupt", f"无法读取：{e.strerror or e}")
    if size == 0:
        return Sniffed(None, "file-empty")
    if head.startswith(ZIP_MAGIC):
        return _sniff_zip(path)
    if head == OLE_MAGIC:
        return _sniff_ole(path)
    if head.startswith(b"PK"):
        return Sniffed(None, "file-corrupt", "ZIP 结构不完整")
    if head.lstrip().startswith((b"<", b"\xef\xbb\xbf<")):
        return Sniffed(None, "not-a-workbook", "HTML 或 XML 文本，可能是“另存为网页”的文件")
    if head.startswith(b"%PDF"):
        return Sniffed(None, "not-a-workbook", "PDF 文件")
    if head.startswith(b"{\\rtf"):
        return Sniffed(None, "not-a-workbook", "RTF 文档")
    return Sniffed(None, "not-a-workbook", "未知格式")


def _sniff_zip(path: Path) -> Sniffed:
    """The kind of a zip from its directory alone: nothing is inflated here (see `screen`)."""
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return Sniffed(None, "file-corrupt", "文件不完整（压缩包已截断或损坏），请重新保存后报送")
    if "xl/workbook.xml" in names:
        return Sniffed("xlsx")
    if "xl/workbook.bin" in names:
        return Sniffed("xlsb")
    if "word/document.xml" in names:
        return Sniffed(None, "not-a-workbook", "Word 文档")
    if "ppt/presentation.xml" in names:
        return Sniffed(None, "not-a-workbook", "PowerPoint 演示文稿")
    if "content.xml" in names and "mimetype" in names:
        return Sniffed(None, "not-a-workbook", "OpenDocument 文件，请另存为 .xlsx")
    return Sniffed(None, "not-a-workbook", "ZIP 压缩包")


def _sniff_ole(path: Path) -> Sniffed:
    # Directory entry names are UTF-16LE; looking for them in the bytes is enough to tell
    # the kinds apart without a full compound-file parser.
    data = path.read_bytes()  # within the file-size limit: `screen` runs first
    if _utf16("EncryptedPackage") in data or _utf16("EncryptionInfo") in data:
        return Sniffed(None, "file-encrypted")
    if _utf16("WordDocument") in data:
        return Sniffed(None, "not-a-workbook", "Word 97-2003 文档")
    if _utf16("PowerPoint Document") in data:
        return Sniffed(None, "not-a-workbook", "PowerPoint 演示文稿")
    if _utf16("Workbook") in data or _utf16("Book") in data:
        return Sniffed("xls")
    return Sniffed(None, "file-corrupt", "OLE2 文件中没有工作簿")
