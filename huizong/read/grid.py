"""A workbook's sheets as plain grids of cell values, read with python-calamine.

Positions are absolute (row 0, column 0 is A1), so a cell's address is exact whatever
the county shifted. Merged ranges hold their value in the top-left cell only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import python_calamine as pc

from huizong.codes import Said

CORRUPT = Said("文件无法识别为 Excel 工作簿，或内容已损坏", "not recognised as an Excel workbook, or damaged")


@dataclass(frozen=True, slots=True)
class Grid:
    name: str
    rows: list[list[Any]]
    visible: bool = True
    very_hidden: bool = False  # hidden so that Excel's 取消隐藏 does not list it
    _texts: dict[int, list[str]] = field(default_factory=dict, compare=False, repr=False)  # row_texts, once each

    @property
    def shown_name(self) -> str:
        """The sheet's name as a county can find it: hidden ones said so, with how to show them."""
        if self.very_hidden:
            return f"{self.name}（深度隐藏的工作表：在 Excel 中按 Alt+F11，把该表的 Visible 属性改为 -1 后即可看到）"
        if not self.visible:
            return f"{self.name}（隐藏的工作表：右键任一工作表标签，选“取消隐藏”）"
        return self.name

    def get(self, row: int, col: int) -> Any:
        if 0 <= row < len(self.rows):
            r = self.rows[row]
            if 0 <= col < len(r):
                v = r[col]
                return None if v == "" else v
        return None

    def text(self, row: int, col: int) -> str:
        return _text(self.get(row, col))

    def row_texts(self, row: int) -> list[str]:
        """Every cell of a row as `text` gives it, made once per row: the header scans of each form
        look at the same top rows of every sheet."""
        got = self._texts.get(row)
        if got is None:
            cells = self.rows[row] if 0 <= row < len(self.rows) else []
            got = self._texts[row] = [_text(v) for v in cells]
        return got

    @property
    def height(self) -> int:
        return len(self.rows)


class WorkbookUnreadable(Exception):
    """calamine could not open the workbook: `code` and `said` are what the county is told (never
    calamine's own words, which may carry a panic's text and a build path); the exception's text
    keeps calamine's words for maintainers' logs."""

    def __init__(self, technical: str, said: Said = CORRUPT, sheet: str = "", code: str = "file-corrupt") -> None:
        super().__init__(technical)
        self.said, self.sheet, self.code = said, sheet, code

    @property
    def plain(self) -> str:
        return self.said.zh


def load_grids(path: Path) -> list[Grid]:
    """Every worksheet of the workbook, visible ones first, in workbook order."""
    try:  # from the bytes, so that the reader is chosen by content, not by the file's extension
        with path.open("rb") as fh:
            wb = pc.CalamineWorkbook.from_filelike(fh)
    except pc.PasswordError as e:
        raise WorkbookUnreadable("encrypted", Said("设有打开密码", "password-protected"), code="file-encrypted") from e
    except MemoryError:  # over the worker's memory cap: file-over-limits, not a damaged file
        raise
    except BaseException as e:  # calamine raises several types for damaged files, and a panic as BaseException
        if isinstance(e, KeyboardInterrupt | SystemExit):
            raise
        raise WorkbookUnreadable(f"{type(e).__name__}: {e}") from e
    try:
        grids = []
        for meta in wb.sheets_metadata:
            if meta.typ != pc.SheetTypeEnum.WorkSheet:
                continue
            try:
                rows = wb.get_sheet_by_name(meta.name).to_python(skip_empty_area=False)
            except MemoryError:
                raise
            except BaseException as e:
                if isinstance(e, KeyboardInterrupt | SystemExit):
                    raise
                said = Said(f"工作表“{meta.name}”的内容已损坏，无法读取", f"sheet {meta.name!r} is damaged")
                raise WorkbookUnreadable(f"{meta.name}: {type(e).__name__}: {e}", said, meta.name) from e
            grids.append(
                Grid(
                    meta.name,
                    list(rows),
                    meta.visible == pc.SheetVisibleEnum.Visible,
                    meta.visible == pc.SheetVisibleEnum.VeryHidden,
                )
            )
    finally:
        wb.close()
    return sorted(grids, key=lambda g: not g.visible)


def _text(v: Any) -> str:
    """A cell's value as text: '' for an empty cell, a whole float without its '.0', stripped."""
    if v is None or (type(v) is str and v == ""):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()
