"""The rule language evaluated exactly, one row at a time: rational arithmetic on the numbers as
the county wrote them.

`huizong.rules.evaluate` walks an expression over whole columns in binary floating point, which
is fast and right almost everywhere. Where a float result could differ from the decimal one (a
computed value close to the other side of a comparison, a value near a rounding half or a band's
edge), it asks this module for those rows alone. Here every number is a `Fraction` made from its
decimal text (`Decimal(repr(x))`: the shortest text that reads back as the same float, which is
the cell's text for numbers of up to 15 significant digits), so 50.05 / 1001 is exactly 1/20 and
a value exactly at a threshold is at it. Rounding is half away from zero (四舍五入).

The semantics are those of the vectorised evaluator: a missing value makes arithmetic missing and
a comparison false; text compares with text; dates with dates.
"""

from __future__ import annotations

import ast
import datetime as dt
import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

import pandas as pd

from huizong.forms.expr import BAND_FLAGS

_ORDER: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_NUMBER_TEXT = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_THOUSANDS = re.compile(r"(?<=\d)[,，](?=\d{3}(?:\D|$))")


def fraction(v: Any) -> Fraction | None:
    """A number as the exact rational its decimal text names; None for anything else."""
    if v is None or isinstance(v, bool):
        return Fraction(int(v)) if isinstance(v, bool) else None
    if isinstance(v, Fraction):
        return v
    if isinstance(v, int):
        return Fraction(v)
    if isinstance(v, Decimal):
        return Fraction(v) if v.is_finite() else None
    if isinstance(v, float):
        return Fraction(Decimal(repr(v))) if math.isfinite(v) else None
    try:  # numpy scalars
        f = float(v)
    except (TypeError, ValueError):
        return None
    return Fraction(Decimal(repr(f))) if math.isfinite(f) else None


def number_of_text(text: str) -> Fraction | None:
    """What number() reads from text: digits with an optional sign, decimals, thousands
    separators, full-width digits and scientific notation (2.6E+02); None if it is not a number."""
    import unicodedata

    t = unicodedata.normalize("NFKC", text).strip().replace(" ", "")
    t = _THOUSANDS.sub("", t)
    if not _NUMBER_TEXT.match(t):
        return None
    try:
        return Fraction(Decimal(t))
    except (InvalidOperation, ValueError):
        return None


def round_half_up(x: Fraction, places: int) -> Fraction:
    """四舍五入 to `places` decimals (negative: tens, hundreds…), halves away from zero."""
    scale = Fraction(10) ** places
    scaled = abs(x) * scale
    whole = math.floor(scaled + Fraction(1, 2))
    return Fraction(whole if x >= 0 else -whole) / scale


def text_of(v: Any) -> str | None:
    """What text() makes of a value: a number as written (no trailing .0), a date as 2024-03-15."""
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, pd.Timestamp | dt.datetime):
        return None if pd.isna(v) else v.strftime("%Y-%m-%d")
    if isinstance(v, dt.date):
        return v.isoformat()
    f = fraction(v)
    if f is None:
        return None
    if f.denominator == 1:
        return str(f.numerator)
    d = Decimal(f.numerator) / Decimal(f.denominator)
    text = format(d.normalize(), "f")
    return text


def _scalar(v: Any) -> Any:
    """A cell of a frame as this module computes with it: numbers as Fractions, NaN/NaT as None."""
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return v
    if isinstance(v, pd.Timestamp):
        return None if pd.isna(v) else v
    if isinstance(v, dt.datetime | dt.date):
        return pd.Timestamp(v)
    if isinstance(v, float) and math.isnan(v):
        return None
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(v, "dtype") and getattr(v.dtype, "kind", "") == "b":  # numpy bool
        return bool(v)
    return fraction(v)


def _num(v: Any) -> Fraction | None:
    if isinstance(v, str):
        return number_of_text(v)
    if isinstance(v, pd.Timestamp):
        return None
    return fraction(v)


def _truth(v: Any) -> bool:
    if v is None:
        return False
    if isinstance(v, str):
        return bool(v)
    return bool(v)


def _present(v: Any) -> bool:
    return v is not None and not (isinstance(v, str) and not v.strip())


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, Fraction) and v.denominator == 1:
        return str(v.numerator)
    return text_of(v)


class Row:
    """One row an expression is evaluated for: its values, and for return rules its records."""

    def __init__(
        self,
        values: Mapping[str, Any],
        records: Sequence[Mapping[str, Any]] = (),
        forms: Mapping[tuple[str, str], Any] | None = None,
        uniques: Mapping[str, Any] | None = None,
    ) -> None:
        self.values = values
        self.records = records
        self.forms = forms or {}
        self.uniques = uniques or {}


def value(node: ast.AST, row: Row) -> Any:
    """The exact value of an expression for one row."""
    return _Exact(row).eval(node)


class _Exact:
    def __init__(self, row: Row) -> None:
        self.row = row

    def eval(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            v = node.value
            return v if isinstance(v, str) else fraction(v)
        if isinstance(node, ast.Name):
            return _scalar(self.row.values.get(node.id))
        if isinstance(node, ast.BinOp):
            a, b = _num(self.eval(node.left)), _num(self.eval(node.right))
            if a is None or b is None:
                return None
            if isinstance(node.op, ast.Add):
                return a + b
            if isinstance(node.op, ast.Sub):
                return a - b
            if isinstance(node.op, ast.Mult):
                return a * b
            return a / b if b != 0 else None
        if isinstance(node, ast.UnaryOp):
            v = self.eval(node.operand)
            if isinstance(node.op, ast.Not):
                return not _truth(v)
            n = _num(v)
            return None if n is None else (-n if isinstance(node.op, ast.USub) else n)
        if isinstance(node, ast.BoolOp):
            vals = [_truth(self.eval(v)) for v in node.values]
            return all(vals) if isinstance(node.op, ast.And) else any(vals)
        if isinstance(node, ast.Compare):
            left = self.eval(node.left)
            for op, comp in zip(node.ops, node.comparators, strict=True):
                right = self.eval(comp)
                if not self._compare(op, left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.List | ast.Tuple):
            return [self.eval(e) for e in node.elts]
        if isinstance(node, ast.IfExp):
            return self.eval(node.body) if _truth(self.eval(node.test)) else self.eval(node.orelse)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise ValueError(type(node).__name__)  # unreachable: parse() refused it

    def _compare(self, op: ast.cmpop, left: Any, right: Any) -> bool:
        if isinstance(op, ast.In | ast.NotIn):
            values = right if isinstance(right, list) else [right]
            found = left is not None and any(_same(left, v) for v in values)
            return found if isinstance(op, ast.In) else not found
        if isinstance(left, str) or isinstance(right, str):
            a, b = _text(left), _text(right)
            if isinstance(left, pd.Timestamp) or isinstance(right, pd.Timestamp):
                da, db = _date(left), _date(right)
                return da is not None and db is not None and _ORDER[type(op)](da, db)
            return a is not None and b is not None and _ORDER[type(op)](a, b)
        if isinstance(left, pd.Timestamp) or isinstance(right, pd.Timestamp):
            da, db = _date(left), _date(right)
            return da is not None and db is not None and _ORDER[type(op)](da, db)
        x, y = _num(left), _num(right)
        return x is not None and y is not None and _ORDER[type(op)](x, y)

    def _call(self, node: ast.Call) -> Any:
        fn = node.func.id  # type: ignore[attr-defined]
        if fn == "form":
            key = (node.args[0].value, node.args[1].value)  # type: ignore[attr-defined]
            return _scalar(self.row.forms.get(key))
        if fn == "unique":
            v = self.row.uniques.get(ast.unparse(node))
            return True if v is None else bool(v)
        if fn in ("count", "sum"):
            return self._aggregate(fn, node.args)
        args = [self.eval(a) for a in node.args]
        if fn == "abs":
            n = _num(args[0])
            return None if n is None else abs(n)
        if fn in ("min", "max"):
            nums = [n for n in (_num(a) for a in args) if n is not None]
            return (min if fn == "min" else max)(nums) if nums else None
        if fn == "round":
            n = _num(args[0])
            places = int(_num(args[1]) or 0) if len(args) > 1 else 0
            return None if n is None else round_half_up(n, places)
        if fn in ("len", "left", "right", "mid"):
            s = _text(args[0])
            if s is None:
                return None
            if fn == "len":
                return Fraction(len(s))
            if fn == "left":
                return s[: int(args[1])]
            if fn == "right":
                return s[-int(args[1]) :] if int(args[1]) else ""
            start, count = int(args[1]), int(args[2])
            return s[start - 1 : start - 1 + count]
        if fn in ("startswith", "endswith", "contains", "matches"):
            a, b = _text(args[0]), _text(args[1])
            if a is None or b is None:
                return False
            if fn == "matches":
                return bool(re.fullmatch(b, a))
            return {"startswith": a.startswith, "endswith": a.endswith, "contains": a.__contains__}[fn](b)
        if fn in ("year", "month", "day"):
            d = _date(args[0])
            return None if d is None else Fraction(getattr(d, fn))
        if fn in ("filled", "blank"):
            return _present(args[0]) if fn == "filled" else not _present(args[0])
        if fn == "band":
            x = _num(args[0])
            if x is None:
                return None
            edges = [_num(e) for e in args[1]]
            upper = len(args) > 3 and band_includes_upper(args[3])
            pos = sum(1 for e in edges if e is not None and (x > e if upper else x >= e))
            return args[2][pos]
        if fn == "coalesce":
            for a in args:
                if _present(a):
                    return a
            return args[-1]
        if fn == "number":
            return _num(args[0])
        if fn == "text":
            return _text(args[0])
        raise ValueError(fn)

    def _aggregate(self, fn: str, args: list[ast.expr]) -> Fraction:
        cond = args[0] if fn == "count" and args else (args[1] if fn == "sum" and len(args) > 1 else None)
        total = Fraction(0)
        for rec in self.row.records:
            inner = _Exact(Row(rec))
            if cond is not None and not _truth(inner.eval(cond)):
                continue
            if fn == "count":
                total += 1
            else:
                n = _num(inner.eval(args[0]))
                if n is not None:
                    total += n
        return total


def band_includes_upper(flag: Any) -> bool:
    """band()'s fourth argument: "upper" (or 含上限) puts a value equal to an edge in the band below it."""
    return isinstance(flag, str) and flag.strip().lower() in BAND_FLAGS[:3]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return _text(a) == _text(b)
    na, nb = _num(a), _num(b)
    return na is not None and na == nb


def _date(v: Any) -> pd.Timestamp | None:
    if isinstance(v, pd.Timestamp):
        return None if pd.isna(v) else v
    if isinstance(v, str):
        d = pd.to_datetime(v, errors="coerce")
        return None if pd.isna(d) else d
    return None
