"""An indicator form's project detail: one row per project, columns found by the form's cues.

Also the unified social credit code check of GB 32100-2015.
"""

from __future__ import annotations

import re
import unicodedata
from operator import mul

from huizong.catalog import Config, normalize_label
from huizong.read.cells import address
from huizong.read.grid import Grid
from huizong.read.model import ProjectRow
from huizong.read.values import parse_cell, to_catalog_units

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
USCC_FORMAT = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")


_USCC_VALUE = {ch: n for n, ch in enumerate(USCC_CHARS)}


def uscc_check_char(first17: str) -> str:
    """The 18th character for the first 17 (each in USCC_CHARS)."""
    if len(first17) != len(USCC_WEIGHTS):
        raise ValueError(f"a USCC's check character needs its first 17 characters, not {len(first17)}")
    total = sum(map(mul, map(_USCC_VALUE.__getitem__, first17), USCC_WEIGHTS))
    return USCC_CHARS[(31 - total % 31) % 31]


def normalize_uscc(value: object) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(value or ""))).upper()


def uscc_status(code: str) -> tuple[bool, bool, str | None]:
    """(well formed, check character right, expected check character)."""
    if not USCC_FORMAT.match(code):
        return False, False, None
    expected = uscc_check_char(code[:17])
    return True, code[17] == expected, expected


Roles = tuple[tuple[str, frozenset[str], tuple[str, ...]], ...]  # the form's [projects.columns], in order


def _role(text: str, roles: Roles) -> str | None:
    h = normalize_label(text)
    for role, exact, contained in roles:
        if h in exact or any(k in h for k in contained):
            return role
    return None


def find_project_header(grid: Grid, roles: Roles) -> tuple[int, dict[str, int], str] | None:
    """The first row (of 40) with a project-name column and two more, by the form's column cues."""
    for r in range(min(grid.height, 40)):
        found: dict[str, int] = {}
        funds_unit = "万元"
        for c, text in enumerate(grid.row_texts(r)):
            role = _role(text, roles)
            if role and role not in found:
                found[role] = c
                if role == "funds":
                    m = re.search(r"[(（]\s*([^()（）]*元)\s*[)）]", unicodedata.normalize("NFKC", text))
                    funds_unit = m.group(1) if m else "万元"
        if "name" in found and len(found) >= 3:
            return r, found, funds_unit
    return None


def canonical_status(text: str, config: Config) -> str | None:
    if not text:
        return None
    t = normalize_label(text)
    aliases = {normalize_label(k): v for k, v in config.rules.project.status_aliases.items()}
    return aliases.get(t, t)


def read_projects(grid: Grid, config: Config, columns: Roles) -> list[ProjectRow]:
    found = find_project_header(grid, columns)
    if not found:
        return []
    header_row, roles, funds_unit = found
    out = []
    for r in range(header_row + 1, grid.height):

        def txt(role: str, r: int = r) -> str:
            return grid.text(r, roles[role]) if role in roles else ""

        name = txt("name")
        if not name and not txt("org") and not txt("uscc"):
            continue
        if normalize_label(name).startswith(("合计", "小计", "总计")) or normalize_label(txt("seq")).startswith("合计"):
            continue
        funds_raw = grid.get(r, roles["funds"]) if "funds" in roles else None
        funds = to_catalog_units(parse_cell(funds_raw), funds_unit, "万元", config.units)
        uscc = normalize_uscc(txt("uscc")) or None
        cells = {role: address(r, c) for role, c in roles.items()}
        out.append(
            ProjectRow(
                sheet=grid.name,
                row=r,
                name=name,
                org=txt("org"),
                uscc=uscc,
                category=normalize_label(txt("category")) or None,
                status=canonical_status(txt("status"), config),
                funds=funds.number,
                funds_raw=funds.raw,
                funds_status=funds.status,
                note=txt("note") or None,
                cells=cells,
            )
        )
    return out
