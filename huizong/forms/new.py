"""A form definition guessed from the blank form a bureau already sends out (`huizong forms new`).

The workbook is the form: its header row gives the list's fields (or, for an indicator table,
the columns and the catalog of its rows), its header block the period, its drop-down lists the
choices. `new_form` reads it (screened first, like any county's file), guesses, and writes a
definition folder that `huizong forms check` accepts; `read_back` then reads the same workbook
as a county's return with the new definition, so what does not read back is said at once.
Nothing is printed here: the guesses and what to review come back as data (Chinese notes).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import keyword
import os
import re
import shutil
import tempfile
import tomllib
import unicodedata
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from huizong import clock
from huizong.catalog import normalize_label
from huizong.codes import render
from huizong.forms.expr import FUNCTIONS
from huizong.forms.load import (
    _ID,
    FIELD_COLUMNS,
    MEASURE_COLUMNS,
    RETURN_NAMES,
    RULE_COLUMNS,
    FormError,
    load_header_labels,
    read_form,
)
from huizong.forms.model import fold, vocabulary
from huizong.limits import Limits
from huizong.read.cells import column_letter
from huizong.read.grid import Grid, WorkbookUnreadable, load_grids
from huizong.read.header import Labels, label_index, match_label, read_header
from huizong.read.records import parse_date
from huizong.read.screen import screen
from huizong.read.sniff import sniff
from huizong.read.table import clean_name, column_role, find_layout

HEADER_SCAN_ROWS = 40
SAMPLE_ROWS = 500
CATALOG_COLUMNS = (
    "code",
    "group",
    "name_zh",
    "name_en",
    "unit",
    "kind",
    "aggregate",
    "numerator",
    "denominator",
    "multiplier",
    "integer",
    "required",
    "aliases",
    "key",
    "tolerance",
    "max",
)


class NewFormError(ValueError):
    "The workbook cannot be made into a form; the message is one Chinese line"


@dataclass(frozen=True)
class FieldGuess:
    """One column of a list, as guessed: where it stands, what it became and why."""

    column: str  # A, B, …
    header: str  # the header cell as written (spaces removed)
    code: str
    name: str
    type: str
    unit: str = ""
    required: bool = False
    choices: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    minimum: str = ""
    why: str = ""  # how the type was told, in words


@dataclass(frozen=True)
class IndicatorGuess:
    """One row of an indicator table, as a catalog entry."""

    row: int  # 1-based, on the sheet
    code: str
    group: str
    name: str
    unit: str
    integer: bool
    aliases: tuple[str, ...] = ()
    key: bool = False


@dataclass(frozen=True)
class MeasureGuess:
    code: str
    group: str
    name: str
    unit: str
    expression: str
    by: str = ""
    key: bool = False
    integer: bool = False


@dataclass(frozen=True)
class NewForm:
    """What `new_form` wrote and guessed."""

    folder: Path
    form_id: str
    kind: str  # "list" | "indicators"
    source: Path
    sheet: str
    header_row: int  # 1-based
    name: str
    short_name: str
    frequency: str
    periods: tuple[str, ...]
    frequency_why: str
    check_root: Path  # the configuration folder the definition is checked against
    fields: tuple[FieldGuess, ...] = ()
    indicators: tuple[IndicatorGuess, ...] = ()
    roles: tuple[tuple[str, int, str], ...] = ()  # indicator table: (role, column (0-based), its header text)
    measures: tuple[MeasureGuess, ...] = ()
    data_rows: int = 0  # rows of data below the header (0: a blank form)
    files: tuple[Path, ...] = ()
    notes: tuple[str, ...] = ()  # what to review, in words


# reading ---------------------------------------------------------------------------------------


def _open(path: Path) -> tuple[list[Grid], str]:
    """The workbook's sheets (screened first, as a county's file is) and its format."""
    if not path.is_file():
        raise NewFormError(f"{path}: 文件不存在")
    sniffed = sniff(path)
    problem, detail = sniffed.problem, sniffed.detail
    if problem is None:
        screened = screen(path, sniffed.format, Limits())
        problem, detail = screened.problem, screened.detail
    if problem is not None:
        raise NewFormError(f"{path}: {render(problem, 'zh', detail=detail, remedy=sniffed.remedy)}")
    try:
        grids = load_grids(path)
    except WorkbookUnreadable as e:
        raise NewFormError(f"{path}: {e.plain}") from None
    if not grids:
        raise NewFormError(f"{path}: 工作簿中没有工作表")
    return grids, sniffed.format or ""


def _drop_downs(path: Path, fmt: str, sheet: str, grids: list[Grid]) -> tuple[dict[int, tuple[str, ...]], list[str]]:
    """Column (0-based) -> the choices of the drop-down list (data validation of type list) on
    its cells, for .xlsx; with notes on lists that could not be read."""
    if fmt != "xlsx":
        return {}, []
    import openpyxl

    notes: list[str] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            wb = openpyxl.load_workbook(path, data_only=True, keep_links=False)
        if any("Data Validation extension" in str(w.message) for w in caught):
            notes.append("表中有 Excel 扩展格式的下拉列表（引用其他工作表），未能读出：请在 fields.csv 中补写 choices")
        ws = wb[sheet] if sheet in wb.sheetnames else None
        validations = list(ws.data_validations.dataValidation) if ws is not None else []
        names = {n: d.attr_text for n, d in wb.defined_names.items()}
    except Exception as e:  # openpyxl raises many kinds for what calamine read; the values are already read
        return {}, [f"未能读出下拉列表（{type(e).__name__}）：如有下拉选项，请在 fields.csv 中补写 choices"]
    by_name = {g.name: g for g in grids}
    out: dict[int, tuple[str, ...]] = {}
    for dv in validations:
        if dv.type != "list" or not dv.formula1:
            continue
        choices = _list_choices(str(dv.formula1), sheet, by_name, names)
        if not choices:
            notes.append(f"下拉列表 {dv.formula1} 的选项未能读出：请在 fields.csv 中补写 choices")
            continue
        for rng in dv.sqref.ranges:
            for c in range(rng.min_col - 1, rng.max_col):
                out.setdefault(c, choices)
    return out, notes


_REF = re.compile(r"^\$?([A-Z]{1,3})\$?(\d+)(?::\$?([A-Z]{1,3})\$?(\d+))?$")


def _list_choices(
    formula: str, sheet: str, grids: dict[str, Grid], names: dict[str, str], depth: int = 0
) -> tuple[str, ...]:
    """The choices of a list validation: "a,b,c", a range (on any sheet) or a defined name."""
    f = formula.strip().removeprefix("=")
    if f.startswith('"') and f.endswith('"') and len(f) >= 2:
        return _clean_choices(f[1:-1].replace('""', '"').split(","))
    if f in names and depth < 3:
        return _list_choices(names[f], sheet, grids, names, depth + 1)
    where, _, ref = f.rpartition("!")
    if where.startswith("'") and where.endswith("'") and len(where) >= 2:
        where = where[1:-1].replace("''", "'")
    m = _REF.match(ref.upper())
    grid = grids.get(where or sheet)
    if not m or grid is None:
        return ()
    c1, r1 = _col_number(m.group(1)), int(m.group(2)) - 1
    c2, r2 = (_col_number(m.group(3)), int(m.group(4)) - 1) if m.group(3) else (c1, r1)
    if (r2 - r1 + 1) * (c2 - c1 + 1) > 2000:
        return ()
    return _clean_choices(grid.text(r, c) for r in range(r1, r2 + 1) for c in range(c1, c2 + 1))


def _col_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def _clean_choices(values: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    seen: set[str] = set()
    for v in values:
        t = str(v).strip().replace("|", "／")
        if t and fold(t) not in seen:
            seen.add(fold(t))
            out.append(t)
    return tuple(out)


# the header row ---------------------------------------------------------------------------------

_SPACES = re.compile(r"\s+")
_NUMERIC = re.compile(r"^[-+]?[\d,]*\.?\d+%?$")


def _squash(text: object) -> str:
    """A header cell's text with every space and line break taken out."""
    return _SPACES.sub("", str(text or ""))


def _header_like(value: object, labels: Labels) -> bool:
    """A cell that could head a column: short text, no label of the header block, no number."""
    if not isinstance(value, str):
        return False
    t = _squash(value)
    if not t or len(t) > 30 or ":" in t or "：" in t:
        return False
    if _NUMERIC.match(unicodedata.normalize("NFKC", t)) or sum(ch.isdigit() for ch in t) >= 6:
        return False
    return match_label(t, labels) is None


def _header_row(grid: Grid, labels: Labels) -> tuple[int, int]:
    """(row, score): the row of the first HEADER_SCAN_ROWS with the most header-like cells."""
    best, score = -1, 0
    for r in range(min(grid.height, HEADER_SCAN_ROWS)):
        n = sum(_header_like(v, labels) for v in grid.rows[r])
        if n > score:
            best, score = r, n
    return best, score


_NUMBERING_CELL = re.compile(r"^(?:[甲乙丙丁戊己庚辛壬癸]|[A-Z]|\d{1,2}|栏次|列次|[(（]\d{1,2}[)）])$")


def _numbering_row(grid: Grid, r: int) -> bool:
    """甲 乙 丙 1 2 3 under a header: the column numbers of a statistical form, no data."""
    texts = [unicodedata.normalize("NFKC", t) for t in grid.row_texts(r) if t]
    return len(texts) >= 2 and all(_NUMBERING_CELL.match(t) for t in texts)


def _second_header_row(grid: Grid, h: int, labels: Labels) -> bool:
    """Row h + 1 heads the columns of a two-level header: text only, some of it under a blank of row h."""
    if h + 1 >= grid.height or _numbering_row(grid, h + 1):
        return False
    below = grid.rows[h + 1]
    cells = [(c, v) for c, v in enumerate(below) if v not in (None, "")]
    if len(cells) < 2 or not all(_header_like(v, labels) for _, v in cells):
        return False
    return any(not grid.text(h, c) for c, _ in cells)


# words ----------------------------------------------------------------------------------------


_V = vocabulary()  # the usual headings, units and row words, none of them any one form's
COUNT_UNITS = frozenset(_V["units"]["count"])
_UNIT_WORDS = COUNT_UNITS | frozenset(_V["units"]["other"])
_BRACKET_AT_END = re.compile(r"[(（]\s*([^()（）]+?)\s*[)）]\s*$")


def _unit_of(text: str) -> str:
    """ "万元" -> 万元, "单位：万元" -> 万元, "技术输出方" -> "" (a note, not a unit)."""
    u = unicodedata.normalize("NFKC", _squash(text))
    u = re.sub(r"^(?:金额|计量)?单位[:：]?", "", u)
    if u in _UNIT_WORDS:
        return u
    if len(u) > 1 and u[0] in "万千百亿" and u[1:] in _UNIT_WORDS:
        return u
    return ""


def split_unit(header: str) -> tuple[str, str]:
    """ "营业收入（万元）" -> ("营业收入", "万元"); a bracket that holds no unit stays in the name."""
    m = _BRACKET_AT_END.search(header)
    if m:
        unit = _unit_of(m.group(1))
        if unit and header[: m.start()].strip():
            return header[: m.start()].strip(), unit
    return header, ""


# (words in the header, code): tried in order, the first whose code is still free wins
_CODES: tuple[tuple[str, str], ...] = tuple((words, code) for words, code in _V["list"]["codes"])
_SEQ = frozenset(_V["list"]["seq"])
_ALIASES: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in _V["list"]["aliases"].items()}
_NUMBER_WORDS = tuple(_V["list"]["number_words"])
_NOT_COUNTS = tuple(_V["list"]["not_counts"])
_ID_WORDS = tuple(_V["list"]["id_words"])
_RESERVED = frozenset({*FUNCTIONS, *RETURN_NAMES, "year", "other"})
_SAFE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _safe(code: str) -> bool:
    return bool(_SAFE.match(code)) and code not in _RESERVED and not keyword.iskeyword(code)


def _code_for(name: str, position: int, taken: set[str]) -> str:
    for words, code in _CODES:
        if words in name and code not in taken and _safe(code):
            return code
    code = f"f{position:02d}"
    while code in taken:
        code += "_"
    return code


def _is_count_name(name: str) -> bool:
    return name.endswith("数") and not name.endswith(_NOT_COUNTS)


# list ------------------------------------------------------------------------------------------


def _samples(grid: Grid, first: int, col: int, labels: Labels) -> list[object]:
    out: list[object] = []
    for r in range(first, min(grid.height, first + SAMPLE_ROWS)):
        if _row_ends(grid, r, labels):
            break
        v = grid.get(r, col)
        if v is not None and not (isinstance(v, str) and not v.strip()):
            out.append(v)
    return out


_ENDS = tuple(_V["list"]["ends"])
_SUBTOTALS = tuple(_V["table"]["subtotals"])


def _row_ends(grid: Grid, r: int, labels: Labels) -> bool:
    first = next((t for t in grid.row_texts(r) if t), "")
    return bool(first) and (first.startswith(_ENDS) or match_label(first, labels) is not None)


def _data_rows(grid: Grid, first: int, columns: Sequence[int], seq: int | None, labels: Labels) -> list[int]:
    """Rows below the header holding a record: not subtotals, not a bare row number, up to the notes."""
    out = []
    for r in range(first, grid.height):
        if _row_ends(grid, r, labels):
            break
        texts = [grid.text(r, c) for c in columns if c != seq]
        if not any(texts) or any(fold(t).startswith(_SUBTOTALS) for t in grid.row_texts(r)[:3] if t):
            continue
        out.append(r)
    return out


def _numeric(v: object) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, int | float):
        return True
    return isinstance(v, str) and bool(_NUMERIC.match(unicodedata.normalize("NFKC", v.strip()).replace(",", "")))


def _whole(v: object) -> bool:
    try:
        return float(str(v).replace(",", "").rstrip("%")).is_integer()
    except ValueError:
        return False


def _is_date(v: object) -> bool:
    if isinstance(v, dt.date | dt.datetime):
        return True
    return isinstance(v, str) and parse_date(v) is not None


def _guess_field(
    header: str, position: int, samples: list[object], choices: tuple[str, ...], table_unit: str, taken: set[str]
) -> FieldGuess:
    name, unit = split_unit(header)
    column = column_letter(position - 1)
    code = _code_for(name, position, taken)
    folded = unicodedata.normalize("NFKC", name).upper()
    numbers = [v for v in samples if not (isinstance(v, str) and not v.strip())]
    all_numeric = bool(numbers) and all(_numeric(v) for v in numbers)
    all_dates = bool(numbers) and all(_is_date(v) and not _numeric(v) for v in numbers)
    kind, why = "text", "表头与示例值都不像数值、日期或编号"
    if folded in _SEQ or (folded.startswith("序") and len(folded) <= 3):
        kind, why = "seq", "表头是“序号”（不读）"
    elif choices:
        kind, why = "choice", f"单元格有下拉列表（{len(choices)} 个选项）"
    elif "信用代码" in name:
        kind, why = "uscc", "表头含“信用代码”（校验 18 位代码及校验位）"
    elif unit and unit not in ("年", "月", "日", "天", "小时"):
        kind, why = "number", f"表头括号中有单位“{unit}”"
    elif "日期" in name or (name.endswith("时间") and not all_numeric) or all_dates:
        kind, why = (
            "date",
            "表头含“日期”" if "日期" in name else ("表头含“时间”" if "时间" in name else "示例值都是日期"),
        )
    elif "电话" in name or "手机" in name:
        kind, why = "text", "电话号码（按文字读）"
    elif any(w in name for w in _ID_WORDS) or (name.endswith("号") and len(name) >= 2):
        kind, why = "id", "表头含“编号/代码/号”（数字照原样保留）"
    elif _is_count_name(name):
        kind, why = "integer", "表头以“数”结尾"
    elif any(w in name for w in _NUMBER_WORDS):
        kind, why = "number", "表头像金额或数量"
    elif all_numeric:
        kind, why = "number", f"示例值都是数（{len(numbers)} 个）"
    if kind == "number" and not unit and table_unit and any(w in name for w in _NUMBER_WORDS):
        unit, why = table_unit, why + f"；单位取表上方的“单位：{table_unit}”"
    if kind == "number" and (_is_count_name(name) or (unit in COUNT_UNITS and all(_whole(v) for v in numbers))):
        kind, why = "integer", why + ("；计数单位，示例值都是整数" if numbers else "；计数单位")
    taken.add(code)
    return FieldGuess(
        column=column,
        header=header,
        code=code,
        name=name,
        type=kind,
        unit=unit,
        choices=choices,
        minimum="0" if kind == "integer" and unit in COUNT_UNITS else "",
        why=why,
    )


_NAME_LIKE = tuple(_V["list"]["name_like"])


def _list_part(
    grid: Grid, h: int, labels: Labels, drop_downs: dict[int, tuple[str, ...]], table_unit: str, notes: list[str]
) -> tuple[list[FieldGuess], int]:
    """The fields of the list headed by row h, and how many rows of data are below it."""
    headers = [(c, _squash(grid.text(h, c))) for c in range(len(grid.rows[h])) if grid.text(h, c)]
    first = h + 1
    if _second_header_row(grid, h, labels):
        under = [
            column_letter(c) for c, v in enumerate(grid.rows[h + 1]) if v not in (None, "") and not grid.text(h, c)
        ]
        notes.append(
            f"表头有两行（第 {h + 1}、{h + 2} 行）：huizong 按一行表头读明细表，{'、'.join(under)} 列不会读入；"
            "建议把表头合并为一行（如“营业收入本年（万元）”）后重新生成"
        )
        first = h + 2
    if first < grid.height and _numbering_row(grid, first):
        notes.append(
            f"表头下的第 {first + 1} 行是栏次行（甲、乙、1、2……）：县区报来的表中这一行会被当作一条记录；"
            "下发前请删去这一行"
        )
        first += 1
    fields: list[FieldGuess] = []
    columns: list[int] = []
    taken: set[str] = set()
    seen: dict[str, str] = {}
    for c, header in headers:
        name = split_unit(header)[0]
        if fold(name) in seen:
            notes.append(
                f"{column_letter(c)} 列的表头“{header}”与 {seen[fold(name)]} 列相同，未生成字段（同名的两列只能读第一列）"
            )
            continue
        seen[fold(name)] = column_letter(c)
        samples = _samples(grid, first, c, labels)
        fields.append(_guess_field(header, c + 1, samples, drop_downs.get(c, ()), table_unit, taken))
        columns.append(c)
    blank = [
        column_letter(c) for c in range(len(grid.rows[h])) if not grid.text(h, c) and _samples(grid, first, c, labels)
    ]
    if blank:
        notes.append(f"{'、'.join(blank)} 列有数据但没有表头，未生成字段")
    if len([f for f in fields if f.type != "seq"]) < 2:
        raise NewFormError(f"工作表“{grid.name}”第 {h + 1} 行只有不到两列表头，不像明细表或指标表")
    seq = next((c for c, f in zip(columns, fields, strict=True) if f.type == "seq"), None)
    rows = _data_rows(grid, first, columns, seq, labels)
    # the name-like column and the key are required; aliases that no other field uses
    name_field = next((f for f in fields if f.type == "text" and any(w in f.name for w in _NAME_LIKE)), None)
    name_field = name_field or next((f for f in fields if f.type == "text"), None)
    # the key: the enterprise's own credit code, else a number (登记号, 证书编号), else a party's credit code
    key = (
        next(
            (f for f in fields if f.type == "uscc" and f.name in ("统一社会信用代码", "社会信用代码", "信用代码")), None
        )
        or next((f for f in fields if f.type == "id"), None)
        or next((f for f in fields if f.type == "uscc"), None)
    )
    used = {fold(f.name) for f in fields}
    out = []
    for f in fields:
        aliases = []
        for a in _ALIASES.get(f.name, ()):
            if fold(a) not in used:
                used.add(fold(a))
                aliases.append(a)
        out.append(replace(f, aliases=tuple(aliases), required=f is name_field or f is key))
    return out, len(rows)


def _count_words(fields: Sequence[FieldGuess]) -> tuple[str, str]:
    """What a record is: (the count's name, its unit)."""
    named = next((f.name for f in fields if f.type == "text" and any(w in f.name for w in _NAME_LIKE)), "")
    for words, count, unit in _V["list"]["count_names"]:
        if any(w in named for w in words):
            return count, unit
    count, unit = _V["list"]["records"]
    return count, unit


_RATIO_WORDS = tuple(_V["list"]["ratio_words"])


def _ratio_like(name: str, unit: str) -> bool:
    return unit in ("%", "‰") or any(w in name for w in _RATIO_WORDS)


def _measures(fields: Sequence[FieldGuess], group: str, notes: list[str]) -> list[MeasureGuess]:
    count, unit = _count_words(fields)
    out = [MeasureGuess("N", group, count, unit, "count()", key=True, integer=True)]
    taken = {"N"}
    for f in fields:
        if f.type not in ("number", "integer"):
            continue
        if _ratio_like(f.name, f.unit):
            notes.append(
                f"“{f.name}”像比率或平均数，相加无意义，未生成汇总数；需要时在 measures.csv 写两个合计之比"
                "（如 100 * sum(rd) / sum(revenue)）"
            )
            continue
        code = f.code.upper()
        while code in taken:
            code += "_"
        taken.add(code)
        out.append(
            MeasureGuess(
                code, group, f"{f.name}合计", f.unit, f"sum({f.code})", key=len(out) < 3, integer=f.type == "integer"
            )
        )
    for f in fields:
        if f.type == "choice" and len(f.choices) <= 30:
            code = f"N_{f.code.upper()}"
            if code not in taken:
                taken.add(code)
                out.append(MeasureGuess(code, f"按{f.name}", count, unit, "count()", by=f.code, integer=True))
    return out


# indicator table --------------------------------------------------------------------------------

# the cues of an indicator table's columns, in the order they are tried: (role, label, equals, contains)
ROLE_CUES: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...] = tuple(
    (c["role"], c.get("label", ""), tuple(c.get("equals", ())), tuple(c.get("contains", ())))
    for c in _V["table"]["columns"]
)
_LABEL = {role: label for role, label, _, _ in ROLE_CUES}  # how messages name a column
_ROLES = tuple((role, frozenset(fold(x) for x in eq), tuple(fold(x) for x in co)) for role, _, eq, co in ROLE_CUES)


def _roles_of(grid: Grid, r: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for c, t in enumerate(grid.row_texts(r)):
        role = column_role(t, _ROLES) if t else None
        if role and role not in out:
            out[role] = c
    return out


def _is_indicator_table(grid: Grid, h: int) -> bool:
    texts = [fold(t) for t in grid.row_texts(h) if t]
    roles = _roles_of(grid, h)
    if "name" not in roles:
        return False
    signs = any(w in t for t in texts for w in _V["table"]["signs"]) or any(
        t in _V["table"]["sign_cells"] for t in texts
    )
    valued = "value" in roles or (h + 1 < grid.height and "value" in _roles_of(grid, h + 1))
    return signs and valued


_HEADING = re.compile(
    r"^(?:[一二三四五六七八九十]+[、.]|[(（][一二三四五六七八九十]+[)）]|第[一二三四五六七八九十]+部分)"
)
_NUMBERING = re.compile(
    r"^(?:\d+(?:\.\d+)*[.、)]|[(（]\d+[)）]|[一二三四五六七八九十]+[、.]|[(（][一二三四五六七八九十]+[)）])\s*"
)


def _display_name(text: str) -> str:
    """ "（一）其中：新认定高新技术企业数（家）" -> "新认定高新技术企业数"."""
    s = _squash(unicodedata.normalize("NFKC", text))
    s = _NUMBERING.sub("", s)
    s = re.sub(r"^其中[:：]?", "", s)
    m = _BRACKET_AT_END.search(s)
    if m and s[: m.start()]:
        s = s[: m.start()]
    return s.strip(":：")


def _indicator_part(
    grid: Grid, h: int, labels: Labels, group: str, notes: list[str]
) -> tuple[dict[str, int], list[IndicatorGuess], int, int]:
    """(role -> column, the indicators, the first data row, rows with a value filled)."""
    # the columns exactly as the reader will find them (a two-row header, a period as the value's header)
    texts = tuple(t for t in grid.row_texts(h) if t)
    layout = find_layout(Grid(grid.name, grid.rows[h:]), (), texts, _ROLES)
    roles = dict(layout.columns) if layout is not None else {}
    first = h + (layout.first_data_row if layout is not None else 1)
    if "value" not in roles:
        raise NewFormError(
            f"工作表“{grid.name}”第 {h + 1} 行像指标表的表头，但找不到数值栏（本期、本年、累计、数值……）"
        )
    value_c = roles["value"]
    if column_role(grid.text(h, value_c), _ROLES) != "value" and "value" in _roles_of(grid, h + 1):
        cols = "、".join(_LABEL[r] for r in ("target", "value", "last_year"))
        notes.append(
            f"{column_letter(value_c)}{h + 1}“{grid.text(h, value_c)}”跨在第 {h + 2} 行的几栏之上：huizong 把它当作"
            f"本期值栏，只读其下的 {column_letter(value_c)} 列，不读第 {h + 2} 行的{cols}。"
            f"请把表头改为一行（{cols}）后重新生成"
        )
    known = set(roles.values())
    unread = [f"{column_letter(c)}“{t}”" for c, t in enumerate(grid.row_texts(h)) if t and c not in known]
    if unread:
        notes.append(f"指标表的 {'、'.join(unread)} 栏不读（增长率、排名等由 huizong 计算，或不认识的栏）")
    if first < grid.height and _numbering_row(grid, first):
        first += 1
    name_c, code_c, unit_c = roles["name"], roles.get("code"), roles.get("unit")
    value_cs = [roles[k] for k in ("target", "value", "last_year") if k in roles]
    out: list[IndicatorGuess] = []
    codes_written = {_code_text(grid.text(r, code_c)) for r in range(first, grid.height) if code_c is not None} - {""}
    names: dict[str, int] = {}  # folded name -> its row
    spellings: set[str] = set()  # names and aliases of the catalog, as the reader looks them up
    used: set[str] = set()
    headings: list[str] = []
    filled = 0
    n = 0
    for r in range(first, grid.height):
        first_text = next((t for t in grid.row_texts(r) if t), "")
        if not first_text:
            continue
        name_text = grid.text(r, name_c)
        if (
            first_text.startswith(("注", "填报说明", "说明"))
            or match_label(first_text, labels)
            or (name_text and match_label(name_text, labels))
        ):
            break
        code_text = _code_text(grid.text(r, code_c)) if code_c is not None else ""
        if not name_text and not code_text:
            continue
        if clean_name(name_text).startswith(_SUBTOTALS):
            continue
        unit = unicodedata.normalize("NFKC", _squash(grid.text(r, unit_c))) if unit_c is not None else ""
        name = _display_name(name_text) if name_text else code_text
        if not unit and name_text:
            m = _BRACKET_AT_END.search(_squash(name_text))
            unit = _unit_of(m.group(1)) if m else ""
        if (
            not code_text
            and not unit
            and (_HEADING.match(_squash(name_text)) or _squash(name_text).endswith(("：", ":")))
        ):
            group = name or group
            headings.append(f"第 {r + 1} 行“{name_text}”")
            continue
        if fold(name) in names:
            notes.append(
                f"第 {r + 1} 行“{name_text}”与第 {names[fold(name)]} 行同名：已改名为“{group}{name}”；"
                f"县区表中按名称认不出这一行，请在表中加“{_LABEL['code']}”栏或改成不同的名称"
            )
            name = f"{group}{name}"
        names[fold(name)] = r + 1
        if code_text in used:
            notes.append(
                f"第 {r + 1} 行的{_LABEL['code']}“{code_text}”与上面的行重复：这一行改用新代码，请核对表中的代码"
            )
            code_text = ""
        if not code_text:
            n += 1
            while f"I{n:02d}" in codes_written:
                n += 1
            code_text = f"I{n:02d}"
            codes_written.add(code_text)
        elif not _SAFE.match(code_text):
            notes.append(
                f"{_LABEL['code']}“{code_text}”（第 {r + 1} 行）不是字母开头：读表不受影响，但规则中不能引用它"
            )
        # the reader looks a row up by clean_name(text), then by the text itself: an alias where neither finds the name
        aliases: tuple[str, ...] = ()
        spellings.add(normalize_label(name))
        if name_text and clean_name(name_text) != normalize_label(name) and normalize_label(name_text) not in spellings:
            aliases = (_squash(name_text),)
            spellings.add(normalize_label(name_text))
        used.add(code_text)
        if _ratio_like(name, unit):
            notes.append(
                f"指标 {code_text}“{name}”像比率或平均数：各县区的数不能相加。请在 indicators.csv 中把它改为 "
                "kind = ratio、aggregate = ratio 并写出 numerator、denominator（分子、分母指标的代码），或删去这一行"
            )
        if any(grid.text(r, c) for c in value_cs):
            filled += 1
        out.append(IndicatorGuess(r + 1, code_text, group, name, unit, unit in COUNT_UNITS, aliases, key=len(out) < 4))
    if headings:
        notes.append(f"这些行没有单位和代码，当作分组标题（不读）：{'、'.join(headings)}")
    if not out:
        raise NewFormError(f"工作表“{grid.name}”的指标表（表头在第 {h + 1} 行）下面没有指标行")
    return roles, out, first, filled


def _role_text(grid: Grid, h: int, role: str, c: int) -> str:
    """The header text a role's column was found by, on the header row or the row below it; "" when
    the reader took it by its date (2024年1-6月: the value column)."""
    for r in (h, h + 1):
        text = grid.text(r, c)
        if text and column_role(text, _ROLES) == role:
            return text
    return ""


def _code_text(text: str) -> str:
    return unicodedata.normalize("NFKC", _squash(text)).upper().replace("-", "")


# the header block: title, period, table number -----------------------------------------------------


def _title(grid: Grid, h: int, labels: Labels) -> str:
    for r in range(h):
        texts = [t for t in grid.row_texts(r) if t]
        if len(texts) == 1 and len(_squash(texts[0])) >= 4 and match_label(texts[0], labels) is None:
            t = _squash(texts[0])
            if ":" not in t and "：" not in t:
                return t
    return ""


def plain_title(t: str) -> str:
    """ "2024年度张掖市高新技术企业统计表（  年  月）" -> "张掖市高新技术企业统计表"."""
    s = re.sub(r"[(（][_＿\d年月日季度第一二三四上下半至—\-]*[)）]", "", t)
    s = re.sub(r"^(?:\d{4}|[_＿]*)年度?(?=.{4,})", "", s)
    return s or t


def _short_name(name: str) -> str:
    s = re.sub(r"^(?:县（区）|县\(区\)|全市|各县区)", "", name)
    s = re.sub(r"(?:统计|情况|登记|明细|汇总|调查)?(?:报表|表)$", "", s) or s
    return s[:12] if len(s) > 12 else s


def _marked(grid: Grid, h: int, pattern: str) -> str:
    for r in range(h):
        for t in grid.row_texts(r):
            m = re.search(pattern, _squash(t)) if t else None
            if m and m.group(1):
                return m.group(1)
    return ""


def guess_frequency(period_text: str, title: str) -> tuple[str, tuple[str, ...], str]:
    """(frequency, periods, why) from the 报告期 cell, else the title; a year form if neither says."""
    for text, where in ((period_text, "报告期"), (title, "标题")):
        t = _squash(text)
        if not t:
            continue
        said = f"{where}“{text.strip()}”"
        if "半年" in t:
            return "cumulative", ("H1", "FY"), f"{said}含“半年”：收上半年和全年两期（1 月起累计）"
        if "季" in t:
            return "quarter", ("K1", "K2", "K3", "K4"), f"{said}含“季”：每季一报"
        if any(w in t for w in ("年度", "全年", "年报")):
            return "year", ("FY",), f"{said}含“年度”：每年一报"
        if "月" in t:
            return "month", tuple(f"M{m:02d}" for m in range(1, 13)), f"{said}含“月”：每月一报"
        if where == "报告期" and "年" in t:
            return "year", ("FY",), f"{said}只写到年：每年一报"
    return "year", ("FY",), "表上没有写明报告期：按每年一报"


_DUE = {
    "month": '"+1-05"',
    "quarter": '"+1-10"',
    "year": '{ FY = "01-31", next_year = ["FY"] }',
    "cumulative": '{ H1 = "07-10", FY = "01-31", next_year = ["FY"] }',
}
_DUE_ZH = {
    "month": "次月 5 日",
    "quarter": "季后次月 10 日",
    "year": "次年 1 月 31 日",
    "cumulative": "上半年 7 月 10 日、全年次年 1 月 31 日",
}


# the whole --------------------------------------------------------------------------------------


def default_id(path: Path, parent: Path) -> str:
    """A form id from the file's name (its ASCII letters and digits), else new-form; -2, -3 … when taken."""
    base = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")[:30].strip("-")
    if not base or not _ID.match(base) or not re.search(r"[a-z]", base):
        base = "new-form"
    form_id, n = base, 1
    while (parent / form_id).exists():
        n += 1
        form_id = f"{base}-{n}"
    return form_id


def _pick_sheet(grids: list[Grid], labels: Labels, wanted: str | None) -> tuple[Grid, int]:
    if wanted is not None:
        grid = next((g for g in grids if g.name == wanted), None) or next(
            (g for g in grids if fold(g.name) == fold(wanted)), None
        )
        if grid is None:
            raise NewFormError(f"没有工作表“{wanted}”（有：{'、'.join(g.name for g in grids)}）")
        h, score = _header_row(grid, labels)
        if score < 2:
            raise NewFormError(f"工作表“{grid.name}”的前 {HEADER_SCAN_ROWS} 行中找不到表头行（至少两个表头文字）")
        return grid, h
    scored = [
        (score + (1000 if g.visible else 0), -i, g, h)
        for i, g in enumerate(grids)
        for h, score in [_header_row(g, labels)]
        if score >= 2
    ]
    if not scored:
        raise NewFormError(f"各工作表的前 {HEADER_SCAN_ROWS} 行中都找不到表头行（一行中至少两个表头文字）")
    _, _, grid, h = max(scored, key=lambda s: (s[0], s[1]))
    return grid, h


def new_form(
    path: Path, form_id: str | None, out_dir: Path | None, config_root: Path, sheet: str | None = None
) -> NewForm:
    """Read the blank (or filled) form at `path`, guess its definition, write it to `out_dir`
    (default `<config_root>/forms/<form_id>/`) and say what was guessed. Refuses to overwrite."""
    path = Path(path)
    config_root = Path(config_root)
    if out_dir is not None:
        folder = Path(out_dir)
        if form_id is not None and form_id != folder.name:
            raise NewFormError(f"-o {folder}：文件夹名就是报表代码，应为 {form_id}（或不写 --id）")
        form_id = folder.name
    else:
        form_id = form_id or default_id(path, config_root / "forms")
        folder = config_root / "forms" / form_id
    if not _ID.match(form_id):
        raise NewFormError(f"报表代码 {form_id!r} 应为小写字母、数字和连字符（如 hightech-list），不超过 40 个字符")
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise NewFormError(f"{folder} 已存在，不覆盖：请换一个 --id，或先移走该文件夹")
    try:
        header_labels = load_header_labels(config_root)
    except FormError as e:
        raise NewFormError(str(e)) from None
    labels = label_index(header_labels)
    grids, fmt = _open(path)
    grid, h = _pick_sheet(grids, labels, sheet)
    notes: list[str] = []
    title = _title(grid, h, labels)
    name = plain_title(title) if title else (_squash(path.stem) or form_id)
    short = _short_name(name)
    found = read_header(grid, labels).get("period")
    value = found.value if found is not None else None
    if isinstance(value, dt.date):  # Excel made 2024年3月 a date: a month
        period_text = f"{value.year}年{value.month}月"
    else:
        period_text = "" if value is None else str(value)
    frequency, periods, frequency_why = guess_frequency(period_text, title)
    table_unit = _unit_of(_marked(grid, h, r"^(?:金额|计量)?单位[:：](\S+)$"))
    table_no = _marked(grid, h, r"表\s*号[:：](\S+)")
    issuer = _marked(grid, h, r"制表机关[:：](\S+)")
    check_root = folder.parent.parent if (folder.parent.parent / "catalog").is_dir() else config_root
    order = _next_order(config_root)
    generic = re.fullmatch(r"(?i)(sheet|工作表|表)\d*", grid.name.strip()) is not None
    sheet_names = [] if generic else [grid.name.strip()]
    if generic:
        notes.append(f"工作表名“{grid.name}”没有特点，form.toml 的 [sheet] names 留空（按表头认表）")
    fields: list[FieldGuess] = []
    indicators: list[IndicatorGuess] = []
    measures: list[MeasureGuess] = []
    roles: dict[str, int] = {}
    if _is_indicator_table(grid, h):
        kind = "indicators"
        roles, indicators, _, data_rows = _indicator_part(grid, h, labels, short, notes)
        catalog = os.path.relpath(folder / "indicators.csv", check_root).replace(os.sep, "/")
        files = {
            "form.toml": _indicator_toml(
                name,
                short,
                table_no,
                issuer,
                frequency,
                periods,
                order,
                sheet_names,
                catalog,
                grid,
                h,
                roles,
                path,
                frequency_why,
            ),
            "indicators.csv": _csv(CATALOG_COLUMNS, (_catalog_row(i) for i in indicators), bom=True),
            "rules.csv": _rules_csv(_indicator_examples(indicators)),
        }
    else:
        kind = "list"
        drop_downs, more = _drop_downs(path, fmt, grid.name, grids)
        notes.extend(more)
        fields, data_rows = _list_part(grid, h, labels, drop_downs, table_unit, notes)
        measures = _measures(fields, short, notes)
        files = {
            "form.toml": _list_toml(
                name, short, table_no, issuer, frequency, periods, order, sheet_names, fields, path, frequency_why
            ),
            "fields.csv": _csv(FIELD_COLUMNS, (_field_row(f) for f in fields), bom=True),
            "measures.csv": _csv(MEASURE_COLUMNS, (_measure_row(m) for m in measures), bom=True),
            "rules.csv": _rules_csv(_list_examples(fields)),
        }
    if folder.resolve().parent != (config_root / "forms").resolve():
        notes.append(
            f"定义写在配置文件夹之外：核对后把文件夹移到 {config_root / 'forms' / form_id}/ 才会生效"
            + (f'，并把 form.toml 中的 catalog 改为 "forms/{form_id}/indicators.csv"' if kind == "indicators" else "")
        )
    written = _write(folder, files)
    role_texts = tuple((role, c, _role_text(grid, h, role, c) or grid.text(h, c)) for role, c in roles.items())
    return NewForm(
        folder=folder,
        form_id=form_id,
        kind=kind,
        source=path,
        sheet=grid.name,
        header_row=h + 1,
        name=name,
        short_name=short,
        frequency=frequency,
        periods=periods,
        frequency_why=frequency_why,
        check_root=check_root,
        fields=tuple(fields),
        indicators=tuple(indicators),
        roles=role_texts,
        measures=tuple(measures),
        data_rows=data_rows,
        files=written,
        notes=tuple(notes),
    )


def _next_order(config_root: Path) -> int:
    """One more than the largest `order` of the forms configured: the new form is listed last, and
    never becomes the first form (the default of `huizong template`)."""
    most = 2
    for toml in (config_root / "forms").glob("*/form.toml"):
        try:
            value = tomllib.loads(toml.read_text(encoding="utf-8")).get("order", 100)
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue
        if isinstance(value, int) and not isinstance(value, bool):
            most = max(most, value)
    return most + 1


def _write(folder: Path, files: dict[str, str]) -> tuple[Path, ...]:
    """All files or none: written in a temporary folder beside the configuration, then moved in."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        base = folder.parent.parent if folder.parent.parent.is_dir() else folder.parent
        tmp = Path(tempfile.mkdtemp(prefix=".huizong-forms-new-", dir=base))
    except OSError as e:
        raise NewFormError(f"{folder}: 无法写入：{e.strerror or e}") from None
    try:
        for name, text in files.items():
            (tmp / name).write_text(text, encoding="utf-8", newline="")
        if folder.is_dir():
            folder.rmdir()  # empty: checked before
        os.replace(tmp, folder)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise NewFormError(f"{folder}: 无法写入：{e.strerror or e}") from None
    except BaseException:  # interrupted: no half-written folder left behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tuple(folder / name for name in files)


# the files ----------------------------------------------------------------------------------------


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _qs(texts: Iterable[str]) -> str:
    return "[" + ", ".join(_q(t) for t in texts) + "]"


def _csv(columns: Sequence[str], rows: Iterable[dict[str, str]], bom: bool = False) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n", extrasaction="raise")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    return ("\ufeff" if bom else "") + buf.getvalue()


def _yn(v: bool) -> str:
    return "y" if v else "n"


def _field_row(f: FieldGuess) -> dict[str, str]:
    return {
        "code": f.code,
        "name": f.name,
        "aliases": "|".join(f.aliases),
        "type": f.type,
        "unit": f.unit,
        "required": _yn(f.required),
        "min": f.minimum,
        "max": "",
        "choices": "|".join(f.choices),
        "choice_aliases": "",
        "pattern": "",
        "severity": "error",
        "explanation": "",
    }


def _measure_row(m: MeasureGuess) -> dict[str, str]:
    return {
        "code": m.code,
        "group": m.group,
        "name": m.name,
        "unit": m.unit,
        "expression": m.expression,
        "by": m.by,
        "key": _yn(m.key),
        "integer": _yn(m.integer),
    }


def _catalog_row(i: IndicatorGuess) -> dict[str, str]:
    return {
        "code": i.code,
        "group": i.group,
        "name_zh": i.name,
        "name_en": "",
        "unit": i.unit,
        "kind": "flow",
        "aggregate": "sum",
        "numerator": "",
        "denominator": "",
        "multiplier": "",
        "integer": _yn(i.integer),
        "required": "y",
        "aliases": "|".join(i.aliases),
        "key": _yn(i.key),
        "tolerance": "",
        "max": "",
    }


_RULES_HELP = (
    "# 以 # 开头的行是注释，不生效。下面是按本表各列写的规则示例：删去行首的 # 即生效；写法见 docs/forms.md 第 5 节",
)


def _rules_csv(examples: Sequence[dict[str, str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(RULE_COLUMNS)
    for line in _RULES_HELP:
        w.writerow([line])
    for r in examples:
        w.writerow(["#" + r["code"], *(r.get(c, "") for c in RULE_COLUMNS[1:])])
    return "\ufeff" + buf.getvalue()


def _rule(
    code: str, scope: str, severity: str, expression: str, field: str, message: str, periods: str = ""
) -> dict[str, str]:
    return {
        "code": code,
        "scope": scope,
        "severity": severity,
        "expression": expression,
        "field": field,
        "message": message,
        "periods": periods,
    }


def _list_examples(fields: Sequence[FieldGuess]) -> list[dict[str, str]]:
    out = []
    key = next((f for f in fields if f.type in ("uscc", "id") and f.required), None)
    if key is not None:
        out.append(
            _rule(
                f"{_dash(key.code)}-twice",
                "row",
                "error",
                f'unique({key.code}, "本期")',
                key.code,
                f"{key.name} {{{key.code}}} 重复：已见于{{other}}",
            )
        )
    numbers = [f for f in fields if f.type in ("number", "integer")]
    if numbers:
        f = numbers[0]
        out.append(
            _rule(
                f"{_dash(f.code)}-negative",
                "row",
                "error",
                f"{f.code} >= 0",
                f.code,
                f"{f.name}不能为负数（填写的是 {{{f.code}}}）",
            )
        )
    pair = next(((a, b) for a in numbers for b in numbers if a is not b and a.unit and a.unit == b.unit), None)
    if pair is not None:
        big, small = pair
        out.append(
            _rule(
                f"{_dash(small.code)}-exceeds",
                "row",
                "warning",
                f"{small.code} <= {big.code}",
                small.code,
                f"{small.name} {{{small.code}}} {small.unit}大于{big.name} {{{big.code}}} {big.unit}",
            )
        )
    date = next((f for f in fields if f.type == "date"), None)
    if date is not None:
        out.append(
            _rule(
                f"{_dash(date.code)}-after-period",
                "row",
                "warning",
                f"{date.code} <= period_end",
                date.code,
                f"{date.name} {{{date.code}}} 晚于报告期末 {{period_end}}",
            )
        )
    out.append(_rule("list-empty", "return", "warning", "count() >= 1", "N", "本期名单为空：请确认确实没有"))
    return out


def _indicator_examples(indicators: Sequence[IndicatorGuess]) -> list[dict[str, str]]:
    usable = [i for i in indicators if _SAFE.match(i.code)]
    out = []
    if usable:
        i = usable[0]
        out.append(
            _rule(
                f"{_dash(i.code.lower())}-negative",
                "return",
                "error",
                f"{i.code} >= 0",
                i.code,
                f"{i.name}（{i.code}）不能为负数：填写的是 {{{i.code}}}",
            )
        )
    pair = next(((a, b) for a in usable for b in usable if a is not b and a.unit and a.unit == b.unit), None)
    if pair is not None:
        big, small = pair
        out.append(
            _rule(
                f"{_dash(small.code.lower())}-exceeds",
                "return",
                "warning",
                f"{small.code} <= {big.code}",
                small.code,
                f"{small.name}（{small.code}）{{{small.code}}} 大于{big.name}（{big.code}）{{{big.code}}}",
            )
        )
    return out


def _dash(code: str) -> str:
    d = re.sub(r"[^a-z0-9]+", "-", code.lower()).strip("-")
    return d if re.match(r"^[a-z]", d) else f"x{d}"


def _head(path: Path, kind: str) -> str:
    what = (
        "fields.csv 中每列的代码（code）、类型（type）、单位（unit）、必填（required）、下拉选项（choices）；"
        "measures.csv 中要汇总的数"
        if kind == "list"
        else "indicators.csv 中每个指标的代码、单位、是否整数、是否必填，比率类指标的分子分母"
    )
    return (
        f"# 由 huizong forms new 根据“{path.name}”于 {clock.now()[:10]} 生成，内容是猜测，请逐项核对：\n"
        f"# 报表名称与简称、报送频率（frequency）与截止日期（due）、表号与制表机关、\n# {what}；\n"
        "# rules.csv 中有按本表写的规则示例（以 # 开头，去掉 # 即生效）。改完运行：huizong forms check <本文件夹>\n"
        "# 各项设置的含义见 docs/forms.md。\n"
    )


def _common_toml(
    name: str,
    short: str,
    table_no: str,
    issuer: str,
    frequency: str,
    periods: tuple[str, ...],
    order: int,
    sheet_names: list[str],
    why: str,
) -> list[str]:
    lines = [f"name = {_q(name)}", f"short_name = {_q(short)}"]
    lines.append(f"table_no = {_q(table_no)}" if table_no else '# table_no = "科技统05表"   # 表号')
    lines.append(f"issuer = {_q(issuer)}" if issuer else '# issuer = "市科学技术局"    # 制表机关')
    lines.append(f"frequency = {_q(frequency)}   # {why}")
    if frequency == "cumulative":
        lines.append(f"periods = {_qs(periods)}")
    lines.append(f"due = {_DUE[frequency]}   # 截止：{_DUE_ZH[frequency]}（请按实际改）")
    lines.append(f"order = {order}")
    lines += [
        "",
        "[sheet]",
        f"names = {_qs(sheet_names)}   # 工作表名含这些字的优先查找",
        "",
        "# [header]",
        '# period = ["统计月份"]   # 本表特有的表头写法（填报单位、报告期……），补充 forms/header.toml',
    ]
    return lines


def _list_toml(
    name: str,
    short: str,
    table_no: str,
    issuer: str,
    frequency: str,
    periods: tuple[str, ...],
    order: int,
    sheet_names: list[str],
    fields: Sequence[FieldGuess],
    path: Path,
    why: str,
) -> str:
    lines = _common_toml(name, short, table_no, issuer, frequency, periods, order, sheet_names, why)
    real = [f for f in fields if f.type != "seq"]
    named = next((f for f in real if f.type == "text" and f.required), None)
    key = next((f for f in real if f.type in ("uscc", "id") and f.required), None)
    cues = [f.name for f in (named, key) if f is not None]
    if not cues:
        cues = [f.name for f in sorted(real, key=lambda f: -len(f.name))[:2]]
    min_fields = min(len(fields), max(2, (len(fields) + 1) // 2))
    lines += ["", "[list]", 'fields = "fields.csv"', f"header = {_qs(dict.fromkeys(cues))}   # 表头行必含其中之一"]
    lines.append(
        f"key = {_q(key.code)}   # 唯一标识一条记录的字段" if key else '# key = "uscc"   # 唯一标识一条记录的字段'
    )
    lines += [
        f"min_fields = {min_fields}   # 表头行至少要认出几列（共 {len(fields)} 列）",
        f"title = {_q(short + '明细')}",
        "",
        "[measures]",
        'file = "measures.csv"',
        "",
        "[rules]",
        'file = "rules.csv"',
        "",
    ]
    return _head(path, "list") + "\n".join(lines)


def _indicator_toml(
    name: str,
    short: str,
    table_no: str,
    issuer: str,
    frequency: str,
    periods: tuple[str, ...],
    order: int,
    sheet_names: list[str],
    catalog: str,
    grid: Grid,
    h: int,
    roles: dict[str, int],
    path: Path,
    why: str,
) -> str:
    lines = _common_toml(name, short, table_no, issuer, frequency, periods, order, sheet_names, why)
    heads = {role: _squash(_role_text(grid, h, role, c)) for role, c in roles.items() if _role_text(grid, h, role, c)}
    cues = [heads[r] for r in ("name", "code") if r in heads and len(unicodedata.normalize("NFKC", heads[r])) <= 12]
    exact = [c for c in cues if len(c) <= 2] or ([] if cues else [heads["name"]])
    contains = [c for c in cues if len(c) > 2]
    lines += ["", "[indicators]", f"catalog = {_q(catalog)}   # 指标目录：代码、名称、单位、汇总方式……"]
    if contains:
        lines.append(f"header = {_qs(contains)}   # 表头行的单元格（12 字以内）含其中之一")
    if exact:
        lines.append(f"header_exact = {_qs(exact)}   # 或恰好是其中之一")
    lines += [
        "",
        "# 各栏表头怎样认，按顺序尝试；label 是模板表头和提示中对该栏的称呼（取自原表）",
        "[indicators.columns]",
    ]
    for role, label, eq, co in ROLE_CUES:
        here = heads.get(role, "")
        equals = list(eq)
        parts = [f"label = {_q(here or label)}"] if (here or label) else []
        if equals:
            parts.append(f"equals = {_qs(equals)}")
        if co:
            parts.append(f"contains = {_qs(co)}")
        lines.append(f"{role} = {{ {', '.join(parts)} }}")
    lines += ["", "[rules]", 'file = "rules.csv"', ""]
    return _head(path, "indicators") + "\n".join(lines)


# reading the form back ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadBack:
    """The source workbook read as a county's return with the new definition."""

    recognised: bool
    summary: str  # one line, in words
    problems: tuple[str, ...] = field(default_factory=tuple)


def read_back(made: NewForm, config_root: Path) -> ReadBack:
    """Read `made.source` as the configuration (with the new form) would read a county's file of it:
    which form it is taken for, which columns or rows the definition finds."""
    from huizong.catalog import Catalog, CatalogError, Config
    from huizong.read.records import find_list_header
    from huizong.read.returns import recognise
    from huizong.read.table import match_indicator

    try:
        config = Config.load(config_root)
        held = config.form_by_id.get(made.form_id)
        if held is None or held.root.resolve() != made.folder.resolve():
            form = read_form(made.folder, made.check_root)
            catalog = Catalog.load(form.indicators) if form.indicators else Catalog.of_measures(form)
            config = replace(
                config,
                forms=(*(f for f in config.forms if f.id != form.id), form),
                catalogs={**config.catalogs, form.id: catalog},
                _views={},
            )
        grids = load_grids(made.source)
    except (CatalogError, FormError, WorkbookUnreadable) as e:
        return ReadBack(False, f"未能读回：{e}")
    found = recognise(grids, config)
    if not found:
        return ReadBack(
            False,
            "用新定义读不出原表：县区报来的表也会认不出",
            ("请核对 form.toml 的表头线索（[list] header 或 [indicators] header）",),
        )
    first, sheets = found[0]
    problems: list[str] = []
    if first.id != made.form_id:
        problems.append(
            f"原表会被当作“{first.name}”（{first.id}）读入：两张表的表头太像，请在 form.toml 中改用本表特有的表头文字"
        )
    others = [f.name for f, _ in found[1:]]
    if others and first.id == made.form_id:
        how = (
            "指标表按各自指标目录认得的行数取认得多的一张"
            if made.kind == "indicators"
            else "同一工作表按报表顺序（order）取排在前面的一张"
        )
        problems.append(
            f"原表的表头也符合“{'、'.join(others)}”：{how}，现在取的是本表；请确认两张表的表头线索和指标的名称足够不同"
        )
    form = config.form_by_id[made.form_id]
    view = config.for_form(made.form_id)
    grid = next((g for g in grids if g.name == made.sheet), sheets[0][0])
    if form.list is not None and form.indicators is None:
        hit = find_list_header(grid, form.list, view.units)
        if hit is None:
            return ReadBack(False, "用新定义找不到原表的表头行", tuple(problems))
        missing = [f.name for f in form.list.fields if f.code not in hit[1]]
        missing_any = bool(missing)
        if missing:
            problems.append(f"原表中认不出这些列：{'、'.join(missing)}")
        n = len(form.list.fields) - len(missing)
        summary = f"读回原表：第 {hit[0] + 1} 行是表头，认出 {n}/{len(form.list.fields)} 列"
    else:
        rows = 0
        cols = {role: c for role, c, _ in made.roles}
        for ind in made.indicators:
            code = grid.text(ind.row - 1, cols["code"]) if "code" in cols else ""
            name = grid.text(ind.row - 1, cols["name"]) if "name" in cols else ""
            by_code, by_name = match_indicator(view, code, name)
            hit_ind = by_code or by_name
            if hit_ind is not None and hit_ind.code == ind.code:
                rows += 1
        missing_any = rows < len(made.indicators)
        if missing_any:
            problems.append(f"原表中只认出 {rows}/{len(made.indicators)} 个指标行")
        summary = f"读回原表：认出 {rows}/{len(made.indicators)} 个指标行"
    return ReadBack(first.id == made.form_id and not missing_any, summary, tuple(problems))
