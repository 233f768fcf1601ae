"""The rule language of form definitions, evaluated: over pandas columns, never by `eval`.

`huizong.forms.expr` parses and checks an expression (at load, without pandas); this walks the
checked tree over a table: a name is a column, a constant broadcasts, a function is one of
`FUNCTIONS`. A rule holds where its expression is true or where a field it reads is missing.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from huizong.forms.expr import _BINOPS, _CMPOPS, Expr, ExprError


@dataclass
class Tables:
    """What an expression is evaluated over.

    `frame`: one row per item the rule is about (records, or returns); `records` with a `_return`
    column giving each record's row of `frame` (for count() and sum() in return rules);
    `forms`: (form, field) -> a Series aligned with `frame` (other forms' values); `uniques`:
    field -> boolean Series aligned with `frame`, true where the value is unique."""

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
    with np.errstate(all="ignore"):
        value = _Eval(tables).eval(expr.tree)
    result = _as_series(value, index)
    ok = result.fillna(False).astype(bool)
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
    """The value of an expression for each row of `tables.frame` (for measures and messages)."""
    index = tables.frame.index
    with np.errstate(all="ignore"):
        return _as_series(_Eval(tables).eval(expr.tree), index)


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

    def eval(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in self.frame.columns:
                return pd.Series(np.nan, index=self.frame.index)
            return self.frame[node.id]
        if isinstance(node, ast.BinOp):
            left, right = _num(self.eval(node.left)), _num(self.eval(node.right))
            if isinstance(node.op, ast.Div):
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
            for op, comp in zip(node.ops, node.comparators, strict=True):
                right = self.eval(comp)
                out = out & self._compare(op, left, right)
                left = right
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
            name = node.args[0].id  # type: ignore[attr-defined]
            s = self.t.uniques.get(name)
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
        if fn == "round":
            places = int(args[1]) if len(args) > 1 else 0
            return _as_series(_num(args[0]), idx).round(places)
        if fn in ("len", "left", "right", "mid", "startswith", "endswith", "contains", "matches"):
            s = _as_series(args[0], idx).map(_text_or_none)
            if fn == "len":
                return s.map(lambda v: len(v) if isinstance(v, str) else np.nan)
            if fn == "left":
                return s.map(lambda v: v[: int(args[1])] if isinstance(v, str) else None)
            if fn == "right":
                return s.map(lambda v: v[-int(args[1]) :] if isinstance(v, str) else None)
            if fn == "mid":
                start, n = int(args[1]), int(args[2])
                return s.map(lambda v: v[start - 1 : start - 1 + n] if isinstance(v, str) else None)
            other = _as_series(args[1], idx).map(_text_or_none)
            pairs = zip(s, other, strict=True)
            if fn == "matches":
                import re

                return pd.Series([bool(re.fullmatch(b, a)) if isinstance(a, str) and isinstance(b, str) else False
                                  for a, b in pairs],
                                 index=idx)  # fmt: skip
            test = {"startswith": str.startswith, "endswith": str.endswith, "contains": str.__contains__}[fn]
            return pd.Series([bool(test(a, b)) if isinstance(a, str) and isinstance(b, str) else False for a, b in pairs],
                             index=idx)  # fmt: skip
        if fn in ("year", "month", "day"):
            d = _date(args[0])
            if not isinstance(d, pd.Series):
                d = _as_series(d, idx)
            return getattr(d.dt, fn).astype("float")
        if fn in ("filled", "blank"):
            present = _present(_as_series(args[0], idx))
            return present if fn == "filled" else ~present
        if fn == "band":
            x = _as_series(_num(args[0]), idx)
            edges, values = [float(e) for e in args[1]], args[2]
            pos = np.searchsorted(np.array(edges), x.to_numpy(dtype=float), side="right")
            out = pd.Series([values[p] for p in pos], index=idx)
            return out.where(x.notna())
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
            picked = records["_return"] if mask is None else records["_return"][mask.fillna(False).astype(bool)]
            counts = picked.value_counts()
            return counts.reindex(index, fill_value=0).astype(float)
        values = _as_series(_num(inner.eval(args[0])), records.index)
        if mask is not None:
            values = values.where(mask.fillna(False).astype(bool))
        sums = values.groupby(records["_return"]).sum(min_count=0)
        return sums.reindex(index, fill_value=0.0).astype(float)


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
    return pd.Series([bool(fn(x, y)) if isinstance(x, str) and isinstance(y, str) else False
                      for x, y in zip(a, b, strict=True)],
                     index=index)  # fmt: skip


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
