"""The rule language of form definitions, evaluated: over pandas columns, never by `eval`.

`huizong.forms.expr` parses and checks an expression (at load, without pandas); this walks the
checked tree over a table: a name is a column, a constant broadcasts, a function is one of
`FUNCTIONS`. A rule holds where its expression is true or where a field it reads is missing.

Columns are evaluated in binary floating point, and the answer is made exact afterwards: while
walking the tree the evaluator marks the rows whose float answer could differ from the decimal
one (a computed number within a hair of the other side of a comparison, a value near a rounding
half or a band's edge, a division by a computed near-zero), and those rows alone are evaluated
again in exact rational arithmetic by `huizong.rules.exact`. So 50.05 万元 of R&D on 1,001 万元
of revenue is exactly 5 %, at a cost only where a row sits on a threshold.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from huizong.forms.expr import _BINOPS, _CMPOPS, Expr, ExprError
from huizong.rules import exact


@dataclass
class Tables:
    """What an expression is evaluated over.

    `frame`: one row per item the rule is about (records, or returns); `records` with a `_return`
    column giving each record's row of `frame` (for count() and sum() in return rules);
    `forms`: (form, field) -> a Series aligned with `frame` (other forms' values); `uniques`:
    the text of a unique() call -> boolean Series aligned with `frame`, true where the key is unique."""

    frame: pd.DataFrame
    records: pd.DataFrame | None = None
    forms: dict[tuple[str, str], pd.Series] = field(default_factory=dict)
    uniques: dict[str, pd.Series] = field(default_factory=dict)
    has_list: pd.Series | None = None  # aligned with `frame`: the return has the list (count() means something)


def holds(expr: Expr, tables: Tables) -> pd.Series:
    """A boolean Series aligned with `tables.frame`: where the rule holds or does not apply."""
    frame = tables.frame
    index = frame.index
    if len(index) == 0:
        return pd.Series([], dtype=bool, index=index)
    walker = _Eval(tables)
    with np.errstate(all="ignore"):
        value = walker.eval(expr.tree)
    result = _as_series(value, index)
    ok = result.fillna(False).astype(bool)
    doubtful = walker.uncertain
    if doubtful.any():
        ok = ok.copy()
        for label in index[doubtful.to_numpy()]:
            ok.loc[label] = bool(exact.value(expr.tree, _exact_row(tables, label)))
    applicable = pd.Series(True, index=index)
    for name in expr.names:
        if name in frame.columns:
            applicable &= _present(frame[name])
    for key in expr.forms:
        s = tables.forms.get(key)
        applicable &= _present(s) if s is not None else False
    if expr.aggregates and tables.has_list is not None:  # no list sheet: nothing to count, not zero
        applicable &= tables.has_list
    return ok | ~applicable


def evaluate(expr: Expr, tables: Tables) -> pd.Series:
    """The value of an expression for each row of `tables.frame` (for messages), in floating point."""
    index = tables.frame.index
    with np.errstate(all="ignore"):
        return _as_series(_Eval(tables).eval(expr.tree), index)


def aggregate_exact(node: ast.expr, tables: Tables) -> list[Fraction]:
    """count(…) or sum(…) of each row of `tables.frame` over its records, exactly: a condition
    decided in decimal where floats cannot tell, and the values summed as the decimals they are
    (scaled to whole numbers when every value has at most 9 decimals, else one by one)."""
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    fn, args = node.func.id, node.args
    index = tables.frame.index
    records = tables.records
    if records is None or records.empty:
        return [Fraction(0)] * len(index)
    positions = {label: i for i, label in enumerate(index)}
    group = records["_return"].map(positions).to_numpy()
    cond = args[0] if fn == "count" and args else (args[1] if fn == "sum" and len(args) > 1 else None)
    if cond is not None:
        inner = _Eval(tables, records)
        with np.errstate(all="ignore"):
            mask = _as_series(_bool(inner.eval(cond)), records.index).fillna(False).astype(bool).copy()
        for label in records.index[inner.uncertain.to_numpy()]:
            mask.loc[label] = bool(exact.value(cond, exact.Row(records.loc[label].to_dict())))
        picked = mask.to_numpy()
    else:
        picked = np.ones(len(records), dtype=bool)
    if fn == "count":
        counts = np.bincount(group[picked], minlength=len(index))
        return [Fraction(int(c)) for c in counts]
    if _inexact(args[0]):  # sum(a * b): each record's value exactly
        out = [Fraction(0)] * len(index)
        for label, g in zip(records.index[picked], group[picked], strict=True):
            v = exact.value(args[0], exact.Row(records.loc[label].to_dict()))
            f = exact.fraction(v) if not isinstance(v, str) else exact.number_of_text(v)
            if f is not None:
                out[g] += f
        return out
    with np.errstate(all="ignore"):
        values = _as_series(_num(_Eval(tables, records).eval(args[0])), records.index).astype(float).to_numpy()
    keep = picked & ~np.isnan(values) & np.isfinite(values)
    return exact_sums(values[keep], group[keep], len(index))


def exact_sums(values: np.ndarray, groups: np.ndarray, n: int) -> list[Fraction]:
    """The exact decimal sum of the values of each group 0..n-1, each value taken as its decimal text."""
    for places in range(10):
        scale = 10.0**places
        scaled = values * scale
        if len(values) and float(np.abs(scaled).max()) >= 2.0**52:
            break
        whole = np.rint(scaled)
        if np.array_equal(whole / scale, values):
            if float(np.abs(whole).sum()) >= 2.0**62:
                break
            sums = np.zeros(n, dtype=np.int64)
            np.add.at(sums, groups, whole.astype(np.int64))
            return [Fraction(int(t), 10**places) for t in sums]
    out = [Fraction(0)] * n
    for v, g in zip(values.tolist(), groups.tolist(), strict=True):
        out[g] += Fraction(Decimal(repr(v)))
    return out


def _exact_row(tables: Tables, label: Any) -> exact.Row:
    """Row `label` of the tables, as `huizong.rules.exact` evaluates it."""
    frame = tables.frame
    values = frame.loc[label].to_dict() if len(frame.columns) else {}
    records: list[dict[str, Any]] = []
    if tables.records is not None and len(tables.records):
        mine = tables.records[tables.records["_return"] == label]
        records = mine.to_dict("records")
    forms = {k: s.loc[label] for k, s in tables.forms.items()}
    uniques = {k: s.loc[label] for k, s in tables.uniques.items()}
    return exact.Row(values, records, forms, uniques)


def _inexact(node: ast.AST) -> bool:
    """Could the float value of this node differ from its decimal value? Values read from cells
    and constants are the floats of their decimal texts, which order and compare as the decimals
    do; arithmetic and sums round."""
    if isinstance(node, ast.BinOp):
        return True
    if isinstance(node, ast.UnaryOp):
        return not isinstance(node.op, ast.Not) and _inexact(node.operand)
    if isinstance(node, ast.IfExp):
        return _inexact(node.body) or _inexact(node.orelse)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        fn = node.func.id
        if fn in ("sum", "form"):
            return True
        if fn in ("abs", "min", "max", "coalesce", "number"):
            return any(_inexact(a) for a in node.args)
    return False


_NEAR = 1e-9  # relative: float rounding is ~1e-16 an operation; anything within this is decided exactly


def _present(s: pd.Series) -> pd.Series:
    if s.dtype == object:
        return s.map(lambda v: v is not None and v == v and not (isinstance(v, str) and not v.strip()))
    return s.notna()


def _as_series(value: Any, index: pd.Index) -> pd.Series:
    if isinstance(value, pd.Series):
        return value.reindex(index) if not value.index.equals(index) else value
    return pd.Series([value] * len(index), index=index)


class _Eval:
    def __init__(self, tables: Tables, frame: pd.DataFrame | None = None) -> None:
        self.t = tables
        self.frame = tables.frame if frame is None else frame
        index = self.frame.index
        self.uncertain = pd.Series(False, index=index)  # rows whose float answer may not be the decimal one
        self.scale: Any = pd.Series(0.0, index=index)  # the largest magnitude a row's numbers reach

    def _doubt(self, mask: Any) -> None:
        if isinstance(mask, pd.Series):
            self.uncertain = self.uncertain | mask.reindex(self.frame.index, fill_value=False).fillna(False).astype(
                bool
            )
        elif mask:
            self.uncertain = pd.Series(True, index=self.frame.index)

    def _seen(self, v: Any) -> None:
        if isinstance(v, pd.Series) and v.dtype.kind in "fiu":
            self.scale = np.maximum(self.scale, v.abs().fillna(0.0).reindex(self.frame.index, fill_value=0.0))
        elif isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
            self.scale = np.maximum(self.scale, abs(float(v)))

    def _near(self, a: Any, b: Any) -> Any:
        """Rows where two computed numbers are too close for floats to tell their order."""
        a, b = _num(a), _num(b)
        diff = abs(a - b)
        bound = np.maximum(np.maximum(abs(a), abs(b)), self.scale) * _NEAR
        near = diff <= bound
        return near.fillna(False) if isinstance(near, pd.Series) else bool(near)

    def eval(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            self._seen(node.value)
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in self.frame.columns:
                return pd.Series(np.nan, index=self.frame.index)
            column = self.frame[node.id]
            self._seen(column)
            return column
        if isinstance(node, ast.BinOp):
            left, right = _num(self.eval(node.left)), _num(self.eval(node.right))
            if isinstance(node.op, ast.Div):
                if _inexact(node.right):  # a computed divisor that may be a rounded zero
                    self._doubt(self._near(right, 0.0))
                return _div(left, right)
            return _BINOPS[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp):
            v = self.eval(node.operand)
            if isinstance(node.op, ast.Not):
                return ~_bool(v) if isinstance(v, pd.Series) else not v
            return -_num(v) if isinstance(node.op, ast.USub) else _num(v)
        if isinstance(node, ast.BoolOp):
            vals = [_bool(self.eval(v)) for v in node.values]
            acc = vals[0]
            for v in vals[1:]:
                acc = (acc & v) if isinstance(node.op, ast.And) else (acc | v)
            return acc
        if isinstance(node, ast.Compare):
            left = self.eval(node.left)
            out: Any = True
            left_node = node.left
            for op, comp in zip(node.ops, node.comparators, strict=True):
                right = self.eval(comp)
                out = out & self._compare(op, left, right)
                if (_inexact(left_node) or _inexact(comp)) and not isinstance(op, ast.In | ast.NotIn):
                    if not (
                        _is_text(left)
                        or _is_text(right)
                        or isinstance(left, str)
                        or isinstance(right, str)
                        or _is_date(left)
                        or _is_date(right)
                    ):
                        self._doubt(self._near(left, right))
                elif isinstance(op, ast.In | ast.NotIn) and _inexact(left_node) and isinstance(right, list):
                    for v in right:
                        if isinstance(v, int | float) and not isinstance(v, bool):
                            self._doubt(self._near(left, v))
                left, left_node = right, comp
            return out
        if isinstance(node, ast.List | ast.Tuple):
            return [self.eval(e) for e in node.elts]
        if isinstance(node, ast.IfExp):
            test = _as_series(_bool(self.eval(node.test)), self.frame.index)
            body = _as_series(self.eval(node.body), self.frame.index)
            other = _as_series(self.eval(node.orelse), self.frame.index)
            return body.where(test, other)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise ExprError(type(node).__name__)  # unreachable: parse() refused it

    def _compare(self, op: ast.cmpop, left: Any, right: Any) -> Any:
        if isinstance(op, ast.In | ast.NotIn):
            values = right if isinstance(right, list) else [right]
            s = _as_series(left, self.frame.index)
            found = s.isin(values)
            return found if isinstance(op, ast.In) else ~found
        fn = _CMPOPS[type(op)]
        if isinstance(op, ast.Eq | ast.NotEq) and (isinstance(left, str) or isinstance(right, str)):
            series, text = (left, right) if isinstance(right, str) else (right, left)
            if isinstance(series, pd.Series) and _all_text(series):  # the common case, vectorised
                present = series.notna()
                same = series.eq(text) & present
                return same if isinstance(op, ast.Eq) else (~same & present)
        if isinstance(left, str) or isinstance(right, str) or _is_text(left) or _is_text(right):
            return _text_compare(fn, left, right, self.frame.index)
        if _is_date(left) or _is_date(right):
            return fn(_date(left), _date(right))
        return fn(_num(left), _num(right))

    def _call(self, node: ast.Call) -> Any:
        fn = node.func.id  # type: ignore[attr-defined]
        if fn == "form":
            key = (node.args[0].value, node.args[1].value)  # type: ignore[attr-defined]
            s = self.t.forms.get(key)
            return s if s is not None else pd.Series(np.nan, index=self.frame.index)
        if fn == "unique":
            s = self.t.uniques.get(ast.unparse(node))
            return s if s is not None else pd.Series(True, index=self.frame.index)
        if fn in ("count", "sum"):
            return self._aggregate(fn, node.args)
        args = [self.eval(a) for a in node.args]
        idx = self.frame.index
        if fn == "abs":
            return abs(_num(args[0]))
        if fn in ("min", "max"):
            cols = pd.concat([_as_series(_num(a), idx) for a in args], axis=1)
            return cols.min(axis=1) if fn == "min" else cols.max(axis=1)
        if fn == "round":  # 四舍五入; a value near a half is decided exactly
            places = int(args[1]) if len(args) > 1 else 0
            x = _as_series(_num(args[0]), idx).astype(float)
            scaled = x * 10.0**places
            frac = scaled - np.floor(scaled)
            self._doubt((frac - 0.5).abs() <= np.maximum(scaled.abs(), 1.0) * _NEAR)
            return np.sign(x) * np.floor(scaled.abs() + 0.5) / 10.0**places
        if fn in ("len", "left", "right", "mid", "startswith", "endswith", "contains", "matches"):
            s = _as_series(args[0], idx).map(_text_or_none)
            if fn == "len":
                return s.map(lambda v: len(v) if isinstance(v, str) else np.nan)
            if fn == "left":
                return s.map(lambda v: v[: int(args[1])] if isinstance(v, str) else None)
            if fn == "right":
                keep = int(args[1])
                return s.map(lambda v: (v[-keep:] if keep else "") if isinstance(v, str) else None)
            if fn == "mid":
                start, n = int(args[1]), int(args[2])
                return s.map(lambda v: v[start - 1 : start - 1 + n] if isinstance(v, str) else None)
            other = _as_series(args[1], idx).map(_text_or_none)
            pairs = zip(s, other, strict=True)
            if fn == "matches":
                import re

                return pd.Series(
                    [
                        bool(re.fullmatch(b, a)) if isinstance(a, str) and isinstance(b, str) else False
                        for a, b in pairs
                    ],
                    index=idx,
                )
            test = {"startswith": str.startswith, "endswith": str.endswith, "contains": str.__contains__}[fn]
            return pd.Series(
                [bool(test(a, b)) if isinstance(a, str) and isinstance(b, str) else False for a, b in pairs], index=idx
            )
        if fn in ("year", "month", "day"):
            d = _date(args[0])
            if not isinstance(d, pd.Series):
                d = _as_series(d, idx)
            return getattr(d.dt, fn).astype("float")
        if fn in ("filled", "blank"):
            present = _present(_as_series(args[0], idx))
            return present if fn == "filled" else ~present
        if fn == "band":
            x = _as_series(_num(args[0]), idx).astype(float)
            edges, values = [float(e) for e in args[1]], args[2]
            upper = len(args) > 3 and exact.band_includes_upper(args[3])
            pos = np.searchsorted(np.array(edges), x.to_numpy(dtype=float), side="left" if upper else "right")
            if _inexact(node.args[0]):
                for e in edges:
                    self._doubt(self._near(x, e))
            out = pd.Series([values[p] for p in pos], index=idx)
            return out.where(x.notna())
        if fn == "number":
            s = _as_series(args[0], idx)
            if s.dtype.kind in "fiub":
                return s.astype(float)
            return s.map(_number_of)
        if fn == "text":
            return _as_series(args[0], idx).map(_text_of)
        if fn == "coalesce":
            out = _as_series(args[0], idx)
            for a in args[1:]:
                out = out.where(_present(out), _as_series(a, idx))
            return out
        raise ExprError(fn)

    def _aggregate(self, fn: str, args: list[ast.expr]) -> pd.Series:
        records = self.t.records
        index = self.frame.index
        if records is None or records.empty:
            return pd.Series(0.0, index=index)
        inner = _Eval(self.t, records)
        cond_node = args[0] if fn == "count" and args else (args[1] if fn == "sum" and len(args) > 1 else None)
        mask = _as_series(_bool(inner.eval(cond_node)), records.index) if cond_node is not None else None
        if fn == "count":
            self._doubt(inner.uncertain.groupby(records["_return"]).any().reindex(index, fill_value=False))
            picked = records["_return"] if mask is None else records["_return"][mask.fillna(False).astype(bool)]
            counts = picked.value_counts()
            return counts.reindex(index, fill_value=0).astype(float)
        values = _as_series(_num(inner.eval(args[0])), records.index)
        if mask is not None:
            values = values.where(mask.fillna(False).astype(bool))
        group = records["_return"]
        sums = values.groupby(group).sum(min_count=0)
        magnitude = values.abs().groupby(group).sum(min_count=0).reindex(index, fill_value=0.0)
        self.scale = np.maximum(self.scale, magnitude.fillna(0.0))
        self._doubt(inner.uncertain.groupby(group).any().reindex(index, fill_value=False))
        return sums.reindex(index, fill_value=0.0).astype(float)


def _number_of(v: Any) -> float:
    """number(): a number, or a number written as text (1,234.5; 2.6E+02); NaN otherwise."""
    if isinstance(v, str):
        f = exact.number_of_text(v)
        return float(f) if f is not None else np.nan
    if isinstance(v, int | float) and not isinstance(v, bool):
        return float(v)
    return np.nan


def _text_of(v: Any) -> str | None:
    """text(): a number as written (12, not 12.0), a date as 2024-03-15, text as it is."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, float):
        return repr(v)
    return exact.text_of(v)


def _is_text(v: Any) -> bool:
    return (
        isinstance(v, pd.Series)
        and v.dtype == object
        and pd.api.types.infer_dtype(v, skipna=True) != "empty"
        and (pd.api.types.infer_dtype(v, skipna=True) in ("string", "mixed", "mixed-integer"))
    )


def _all_text(v: pd.Series) -> bool:
    """Text or nothing in every row: compared as text as it is."""
    return v.dtype == object and pd.api.types.infer_dtype(v, skipna=True) in ("string", "empty")


def _is_date(v: Any) -> bool:
    return (isinstance(v, pd.Series) and pd.api.types.is_datetime64_any_dtype(v)) or isinstance(v, pd.Timestamp)


def _date(v: Any) -> Any:
    if isinstance(v, pd.Series):
        return v if pd.api.types.is_datetime64_any_dtype(v) else pd.to_datetime(v, errors="coerce")
    if isinstance(v, str):
        return pd.to_datetime(v, errors="coerce")
    return v


def _text_or_none(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _text_compare(fn: Callable[[Any, Any], Any], left: Any, right: Any, index: pd.Index) -> pd.Series:
    a = _as_series(left, index).map(_text_or_none)
    b = _as_series(right, index).map(_text_or_none)
    return pd.Series(
        [bool(fn(x, y)) if isinstance(x, str) and isinstance(y, str) else False for x, y in zip(a, b, strict=True)],
        index=index,
    )


def _num(v: Any) -> Any:
    if isinstance(v, pd.Series):
        if pd.api.types.is_bool_dtype(v):
            return v.astype(float)
        return pd.to_numeric(v, errors="coerce") if v.dtype == object else v
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return np.nan
    return v


def _div(a: Any, b: Any) -> Any:
    if isinstance(b, pd.Series):
        return a / b.where(b != 0)
    if b == 0 or b is None:
        return np.nan if not isinstance(a, pd.Series) else pd.Series(np.nan, index=a.index)
    return a / b


def _bool(v: Any) -> Any:
    if isinstance(v, pd.Series):
        return (
            v.fillna(False).astype(bool)
            if v.dtype == object
            else v.astype(bool)
            if v.dtype == bool
            else v.fillna(0).astype(bool)
        )
    return bool(v)
