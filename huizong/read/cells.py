"""Excel cell addresses: (row, column) counted from 0 <-> "F17"."""

from __future__ import annotations

import re

_ADDRESS = re.compile(r"^([A-Z]{1,3})(\d+)$")


def column_letter(col: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    n = col + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def address(row: int, col: int) -> str:
    """0-based row and column to an A1 address: (16, 5) -> "F17"."""
    return f"{column_letter(col)}{row + 1}"


def parse_address(cell: str) -> tuple[int, int]:
    """ "F17" -> (16, 5); raises ValueError on anything else."""
    m = _ADDRESS.match(cell.upper())
    if not m:
        raise ValueError(f"not a cell address: {cell!r}")
    col = 0
    for ch in m.group(1):
        col = col * 26 + (ord(ch) - 64)
    return int(m.group(2)) - 1, col - 1


def cell_sort_key(cell: str | None) -> tuple[int, int]:
    if not cell:
        return (-1, -1)
    try:
        return parse_address(cell)
    except ValueError:
        return (-1, -1)
