"""Every workbook Excel, WPS and LibreOffice write: read, or refused for the right reason, with the
remedy in the county's words and a clean English line for maintainers. Each case is a real file
built here: legacy .xls through xlwt and a compound-file writer (`cfb`), packages through zipfile."""

from __future__ import annotations

import re
import struct
import zipfile
from pathlib import Path

import openpyxl
import pytest
from builders import CONFIG, write_return
from cfb import with_record_after_bof, workbook_stream
from cfb import write as write_cfb
from hostile import rewrite_zip

from huizong.limits import Limits
from huizong.read.returns import read_return
from huizong.read.screen import _SheetScan, screen

CJK = re.compile(r"[\u3400-\u9fff]")


def read(path: Path):  # type: ignore[no-untyped-def]
    return read_return(path, CONFIG, "620700")


def values(ret) -> dict[str, float | None]:  # type: ignore[no-untyped-def]
    return {f.indicator: f.number for f in ret.facts if f.column == "value"}


def refused(path: Path, code: str) -> str:
    """The one issue of a refused file, its message; its English line carries no Chinese."""
    ret = read(path)
    assert not ret.readable
    assert [i.code for i in ret.issues] == [code], [(i.code, i.message) for i in ret.issues]
    issue = ret.issues[0]
    words = re.sub(r"'[^']*'", "", issue.message_en or "").replace("主要指标", "")  # a sheet's name is data
    assert issue.message_en and not CJK.search(words), issue.message_en
    assert "panicked" not in issue.message and ".cargo" not in issue.message
    return issue.message


# the screen: linear in the bytes, and the right cell ----------------------------------------------


def test_a_formula_after_a_styled_blank_is_named_at_its_own_cell() -> None:
    body = (
        b'<sheetData><row r="1"><c r="B1" s="1"/><c r="C1"><f>A1*2</f></c>'
        b'<c r="D1" t="str"><f>X</f><v>1</v></c><x:c r="E1"><x:f>1</x:f><x:v></x:v></x:c></row></sheetData>'
    )
    scan = _SheetScan("表", Limits())
    scan.feed(body, final=True)
    assert scan.formula_cells == ["C1", "E1"]


def test_a_template_with_50000_formatted_blanks_after_its_formulas_is_screened_whole(tmp_path: Path) -> None:
    """The pattern that made the screen quadratic: a 合计 formula, then borders drawn far below."""
    good = write_return(tmp_path / "good.xlsx", "620722", "2024H1")
    blanks = b"".join(b'<row r="%d"><c r="A%d" s="1"/><c r="B%d" s="1"/></row>' % (r, r, r) for r in range(200, 25200))

    def change(name: str, data: bytes) -> bytes:
        if name == "xl/worksheets/sheet1.xml":
            data = re.sub(rb'<c r="F13"([^>]*)><v>[^<]*</v></c>', rb'<c r="F13"\1><f>1+1</f></c>', data)
            return data.replace(b"</sheetData>", blanks + b"</sheetData>")
        return data

    path = rewrite_zip(good, tmp_path / "r.xlsx", change)
    screened = screen(path, "xlsx", Limits())
    assert screened.problem is None and screened.formula_cells == {"主要指标": ["F13"]}


def test_an_empty_last_row_and_formatted_blanks_down_to_row_1048576_are_nothing_to_delete(tmp_path: Path) -> None:
    good = write_return(tmp_path / "good.xlsx", "620722", "2024H1")
    tail = (
        b'<row r="1048575" spans="1:3"><c r="A1048575" s="1"/><c r="C1048575" s="1"/></row>'
        b'<row r="1048576" ht="12.8" customHeight="1"/>'
    )
    path = rewrite_zip(
        good,
        tmp_path / "r.xlsx",
        lambda n, d: d.replace(b"</sheetData>", tail + b"</sheetData>") if n == "xl/worksheets/sheet1.xml" else d,
    )
    ret = read(path)
    assert ret.readable and not ret.issues and values(ret)["A01"] == 5100


# legacy .xls: the compound file by structure -----------------------------------------------------


@pytest.fixture
def xls_stream(tmp_path: Path) -> bytes:
    return workbook_stream(write_return(tmp_path / "src.xls", "620722", "2024H1"))


@pytest.mark.parametrize("name", ["WORKBOOK", "Workbook"])
def test_a_workbook_stream_named_in_any_case_is_read(tmp_path: Path, xls_stream: bytes, name: str) -> None:
    ret = read(write_cfb(tmp_path / "r.xls", {name: xls_stream}))
    assert ret.readable and not ret.issues and values(ret)["A01"] == 5100


def test_an_xls_embedding_a_word_document_is_read_as_the_workbook(tmp_path: Path, xls_stream: bytes) -> None:
    tree = {
        "MBD0012A3B4": {"WordDocument": b"\xec\xa5" + b"\0" * 600, "\x01CompObj": b"\0" * 80},
        "Workbook": xls_stream,
    }
    ret = read(write_cfb(tmp_path / "r.xls", tree))
    assert ret.readable and not ret.issues and values(ret)["A01"] == 5100


def test_a_word_97_document_is_still_not_a_workbook(tmp_path: Path) -> None:
    msg = refused(write_cfb(tmp_path / "r.xls", {"WordDocument": b"\xec\xa5" + b"\0" * 600}), "not-a-workbook")
    assert "Word 97-2003 文档" in msg


@pytest.mark.parametrize(
    "filepass, scheme",
    [
        (struct.pack("<HHH", 0, 0x1234, 0x5678), "XOR 加密"),
        (struct.pack("<HHH", 1, 1, 1) + b"\0" * 48, "RC4 加密"),
        (struct.pack("<HHH", 1, 4, 2) + b"\0" * 120, "RC4 CryptoAPI 加密"),
    ],
)
def test_an_encrypted_xls_is_encrypted_by_its_scheme_not_corrupt(
    tmp_path: Path, xls_stream: bytes, filepass: bytes, scheme: str
) -> None:
    path = write_cfb(tmp_path / "r.xls", {"Workbook": with_record_after_bof(xls_stream, 0x002F, filepass)})
    msg = refused(path, "file-encrypted")
    assert scheme in msg and "清空密码后保存" in msg


def _boundsheet_kind(stream: bytes, kind: int) -> bytes:
    """The stream with its first sheet's BOUNDSHEET marked as `kind` (1: an Excel 4.0 macro sheet)."""
    pos = 0
    while pos + 4 <= len(stream):
        rtype, length = struct.unpack_from("<HH", stream, pos)
        if rtype == 0x0085:
            return stream[: pos + 9] + bytes([kind]) + stream[pos + 10 :]
        pos += 4 + length
    raise AssertionError("no BOUNDSHEET")


def test_an_excel_4_macro_sheet_is_told_to_delete_it(tmp_path: Path, xls_stream: bytes) -> None:
    msg = refused(write_cfb(tmp_path / "r.xls", {"Workbook": _boundsheet_kind(xls_stream, 1)}), "format-unsupported")
    assert "Excel 4.0 宏表“主要指标”" in msg and "删除宏表" in msg


def _with_cell(stream: bytes, row: int, col: int) -> bytes:
    """The stream with a NUMBER cell at (row, col) added to its first sheet, the offsets moved on."""
    pos, sheet_at, bound_at = 0, None, None
    while pos + 4 <= len(stream):
        rtype, length = struct.unpack_from("<HH", stream, pos)
        if rtype == 0x0085 and bound_at is None:
            bound_at = pos + 4
            sheet_at = struct.unpack_from("<I", stream, bound_at)[0]
        if rtype == 0x000A:  # the globals' EOF
            break
        pos += 4 + length
    assert sheet_at is not None and bound_at is not None
    bof_len = struct.unpack_from("<H", stream, sheet_at + 2)[0]
    at = sheet_at + 4 + bof_len
    cell = struct.pack("<HHHHHd", 0x0203, 14, row, col, 15, 1.0)
    out = stream[:at] + cell + stream[at:]
    pos = 0  # every later sheet starts 18 bytes further on
    while pos + 4 <= sheet_at:
        rtype, length = struct.unpack_from("<HH", out, pos)
        if rtype == 0x0085:
            offset = struct.unpack_from("<I", out, pos + 4)[0]
            if offset > sheet_at:
                out = out[: pos + 4] + struct.pack("<I", offset + len(cell)) + out[pos + 8 :]
        pos += 4 + length
    return out


def test_an_xls_spanning_65536_by_256_is_over_the_cell_limit_before_reading(tmp_path: Path, xls_stream: bytes) -> None:
    path = write_cfb(tmp_path / "r.xls", {"Workbook": _with_cell(xls_stream, 65535, 255)})
    msg = refused(path, "file-over-limits")
    assert "工作表“主要指标”的数据跨越 65,536 行 × 256 列（16,777,216 个单元格），超过上限 5,000,000" in msg


def test_an_xls_within_the_limits_is_read_with_its_far_cell(tmp_path: Path, xls_stream: bytes) -> None:
    ret = read(write_cfb(tmp_path / "r.xls", {"Workbook": _with_cell(xls_stream, 900, 12)}))
    assert ret.readable and values(ret)["A01"] == 5100


# zip packages by their content types --------------------------------------------------------------


def test_a_package_written_with_backslashes_is_read(tmp_path: Path) -> None:
    good = write_return(tmp_path / "good.xlsx", "620722", "2024H1")
    path = tmp_path / "r.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename.replace("/", "\\"), src.read(info.filename))
    ret = read(path)
    assert ret.readable and not ret.issues and values(ret)["A01"] == 5100


def test_a_minimal_package_without_an_xl_folder_is_read_and_screened(tmp_path: Path) -> None:
    good = write_return(tmp_path / "good.xlsx", "620722", "2024H1")
    keep = {
        "[Content_Types].xml",
        "_rels/.rels",
        "xl/workbook.xml",
        "xl/_rels/workbook.xml.rels",
        "xl/worksheets/sheet1.xml",
        "xl/styles.xml",
        "xl/sharedStrings.xml",
    }
    path = tmp_path / "r.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            if name not in keep:
                continue
            data = src.read(name).replace(b"/xl/", b"/")
            if name == "_rels/.rels":
                data = data.replace(b"xl/workbook.xml", b"workbook.xml")
            if name == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<c r="F13"([^>]*)><v>[^<]*</v></c>', rb'<c r="F13"\1><f>1+1</f></c>', data)
            dst.writestr(name.replace("xl/", "", 1), data)
    ret = read(path)
    assert [(i.code, i.cell) for i in ret.issues] == [("formula-no-value", "F13")]  # screened where it lives


def test_an_xlsb_with_a_binary_main_part_is_taken_for_the_binary_reader(tmp_path: Path) -> None:
    from huizong.read.sniff import sniff

    path = tmp_path / "r.xlsb"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(
            "[Content_Types].xml",
            '<Types><Override PartName="/xl/wb.bin" '
            'ContentType="application/vnd.ms-excel.sheet.binary.macroEnabled.main"/></Types>',
        )
        z.writestr("xl/wb.bin", b"\x83\x01\x00")
    assert sniff(path).format == "xlsb"


# other formats: each its own reason, with the remedy -------------------------------------------------


def _ods(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", "<office:document-content/>")


@pytest.mark.parametrize(
    "name, write, code, words",
    [
        (
            "old.xls",
            lambda p: p.write_bytes(b"\x09\x04\x06\x00\x00\x00\x10\x00" + b"\0" * 200),
            "format-unsupported",
            "Excel 4.0 的旧格式工作表",
        ),
        (
            "old2.xls",
            lambda p: p.write_bytes(b"\x09\x00\x04\x00\x02\x00\x10\x00" + b"\0" * 200),
            "format-unsupported",
            "Excel 2.1 的旧格式工作表",
        ),
        (
            "t.csv",
            lambda p: p.write_text("指标名称,本期累计\n研发经费,5100\n", encoding="utf-8"),
            "format-unsupported",
            "CSV 文本",
        ),
        (
            "t.xls",
            lambda p: p.write_text("指标名称\t本期累计\n研发经费\t5100\n", encoding="gb18030"),
            "format-unsupported",
            "CSV 文本",
        ),
        (
            "t.fods",
            lambda p: p.write_text(
                '<?xml version="1.0"?><office:document xmlns:office="urn:oasis:names:tc:'
                'opendocument:xmlns:office:1.0" office:mimetype="application/vnd.oasis.'
                'opendocument.spreadsheet"/>'
            ),
            "format-unsupported",
            "平面 XML 表格（.fods）",
        ),
        (
            "t2003.xml",
            lambda p: p.write_text(
                '<?xml version="1.0"?><?mso-application progid="Excel.Sheet"?><Workbook '
                'xmlns="urn:schemas-microsoft-com:office:spreadsheet"/>'
            ),
            "format-unsupported",
            "Excel 2003 XML 表格",
        ),
        (
            "page.xls",
            lambda p: p.write_text("<html><body><table><tr><td>1</td></tr></table></body></html>"),
            "format-unsupported",
            "网页",
        ),
        ("t.ods", _ods, "format-unsupported", "OpenDocument 表格（.ods"),
        ("t.txt", lambda p: p.write_text("这是一份说明"), "not-a-workbook", "文本文件"),
    ],
)
def test_each_kind_of_file_gets_its_own_reason_and_remedy(tmp_path: Path, name, write, code, words) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / name
    write(path)
    msg = refused(path, code)
    assert words in msg
    if code == "format-unsupported":
        assert "另存为 .xlsx" in msg


def test_a_report_whose_sheet_shares_the_forms_name_is_one_refusal(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "主要指标"
    ws.append(["指标名称", "计量单位", "本期累计"])
    for name in ("门诊人次", "住院人次", "床位数", "医师数"):
        ws.append([name, "人", 10])
    wb.save(tmp_path / "卫生.xlsx")
    msg = refused(tmp_path / "卫生.xlsx", "form-not-recognised")
    assert msg.startswith("“主要指标”表的表头像“主要指标”表，但没有一行能按其指标的代码或名称认出")


# the reader's own words never reach a county ---------------------------------------------------------


def test_a_damaged_sheet_is_said_without_the_readers_words(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import python_calamine as pc

    class Panic(BaseException):  # what pyo3 raises for a Rust panic: not an Exception
        pass

    def boom(*args: object, **kwargs: object) -> None:
        raise Panic("thread '<unnamed>' panicked at /root/.cargo/registry/src/calamine-0.37.0/src/xlsb/mod.rs:12")

    monkeypatch.setattr(pc.CalamineWorkbook, "from_filelike", boom)
    msg = refused(write_return(tmp_path / "r.xlsx", "620722", "2024H1"), "file-corrupt")
    assert "文件无法识别为 Excel 工作簿，或内容已损坏" in msg


def test_an_xlsm_holding_a_macro_sheet_is_told_to_delete_it(tmp_path: Path) -> None:
    good = write_return(tmp_path / "good.xlsx", "620722", "2024H1")
    path = rewrite_zip(
        good, tmp_path / "r.xlsm", lambda n, d: d, extra={"xl/macrosheets/sheet1.xml": b"<xm:macrosheet/>"}
    )
    msg = refused(path, "format-unsupported")
    assert "工作簿含 Excel 4.0 宏表" in msg and "删除宏表" in msg


def test_an_xlsb_its_reader_cannot_open_names_the_binary_format(tmp_path: Path) -> None:
    path = tmp_path / "r.xlsb"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(
            "[Content_Types].xml",
            '<Types><Override PartName="/wtf/workbook.bin" '
            'ContentType="application/vnd.ms-excel.sheet.binary.macroEnabled.main"/></Types>',
        )
        z.writestr(
            "_rels/.rels",
            '<Relationships><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships/officeDocument" Target="wtf/workbook.bin"/></Relationships>',
        )
        z.writestr("wtf/workbook.bin", b"\x83\x01\x00\x84\x01\x00")
    msg = refused(path, "format-unsupported")
    assert msg.startswith("文件是 Excel 二进制工作簿（.xlsb），无法可靠读取。请在 Excel 或 WPS 中打开，另存为 .xlsx")


def _brt(rtype: int, body: bytes) -> bytes:
    """One BIFF12 record: its type and size as base-128 numbers, then its body."""

    def varint(n: int) -> bytes:
        out = b""
        while True:
            out += bytes([(n & 0x7F) | (0x80 if n > 0x7F else 0)])
            n >>= 7
            if not n:
                return out

    return varint(rtype) + varint(len(body)) + body


def _wide(text: str) -> bytes:
    return struct.pack("<I", len(text)) + text.encode("utf-16-le")


def test_an_xlsb_sheet_spanning_too_many_cells_is_refused_by_its_records_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "r.xlsb"
    sheet = (
        _brt(0x81, b"")
        + _brt(0x00, struct.pack("<I", 0) + b"\0" * 21)
        + _brt(0x05, struct.pack("<IId", 0, 0, 1.0))
        + _brt(0x01, struct.pack("<II", 5, 0))  # a blank: no value, no extent
        + _brt(0x00, struct.pack("<I", 99_999) + b"\0" * 21)
        + _brt(0x05, struct.pack("<IId", 99, 0, 2.0))
    )
    book = _brt(0x83, b"") + _brt(0x9C, struct.pack("<II", 0, 1) + _wide("rId1") + _wide("明细")) + _brt(0x84, b"")
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(
            "[Content_Types].xml",
            '<Types><Override PartName="/xl/workbook.bin" '
            'ContentType="application/vnd.ms-excel.sheet.binary.macroEnabled.main"/></Types>',
        )
        z.writestr(
            "_rels/.rels",
            f'<Relationships><Relationship Id="rId1" Type="{rel}/officeDocument" '
            'Target="xl/workbook.bin"/></Relationships>',
        )
        z.writestr(
            "xl/_rels/workbook.bin.rels",
            f'<Relationships><Relationship Id="rId1" Type="{rel}/worksheet" '
            'Target="worksheets/sheet1.bin"/></Relationships>',
        )
        z.writestr("xl/workbook.bin", book)
        z.writestr("xl/worksheets/sheet1.bin", sheet)
    msg = refused(path, "file-over-limits")
    assert "工作表“明细”的数据跨越 100,000 行 × 100 列（10,000,000 个单元格），超过上限 5,000,000" in msg
