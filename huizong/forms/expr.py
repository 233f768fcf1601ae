"""The rule language of form definitions: parsed, checked, evaluated over tables; never `eval`.

An expression is written in the syntax of a spreadsheet formula a bureau's admin can read:
field codes, numbers and "text", arithmetic (+ - * /), comparisons (== != < <= > >=),
`and` / `or` / `not`, `x in ["a", "b"]`, `a if condition else b`, and the functions of
`FUNCTIONS`. Python's parser (`ast`, mode "eval") turns the text into a tree; this module walks
that tree and refuses every node that is not on its list, so an expression can never call,
import or touch anything: it only names fields and applies the listed functions.

Evaluation (`huizong.rules.evaluate`) is vectorised: a name is a column of a pandas frame (one row per list record, or
one row per return), a constant broadcasts. A rule holds where its expression is true, or where
a field it reads is missing (a rule about 技术交易额 says nothing about a row that left it blank:
whether a field must be filled is the field's `required`, not a rule's). Names read only inside
`filled()` or `blank()` do not make a rule inapplicable.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


class ExprError(ValueError):
    "An expression is malformed or names something it may not"


# name -> (min args, max args, scope): "row" functions work on any table; "aggregate" ones fold a
# list's records into one number per return and are allowed only in return rules.
FUNCTIONS: dict[str, tuple[int, int, str]] = {
    "abs": (1, 1, "row"),
    "min": (2, 9, "row"),
    "max": (2, 9, "row"),
    "round": (1, 2, "row"),
    "len": (1, 1, "row"),
    "left": (2, 2, "row"),
    "right": (2, 2, "row"),
    "mid": (3, 3, "row"),
    "startswith": (2, 2, "row"),
    "endswith": (2, 2, "row"),
    "contains": (2, 2, "row"),
    "matches": (2, 2, "row"),
    "year": (1, 1, "row"),
    "month": (1, 1, "row"),
    "day": (1, 1, "row"),
    "filled": (1, 1, "row"),
    "blank": (1, 1, "row"),
    "band": (3, 4, "row"),
    "coalesce": (2, 9, "row"),
    "number": (1, 1, "row"),
    "text": (1, 1, "row"),
    "count": (0, 1, "aggregate"),
    "sum": (1, 2, "aggregate"),
    "unique": (1, 9, "unique"),
    "form": (2, 2, "form"),
}

# band()'s fourth argument: which side of an edge a value equal to it falls on
BAND_FLAGS = ("upper", "含上限", "上限", "lower", "含下限", "下限")

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_CMPOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}


@dataclass(frozen=True)
class Unique:
    """unique(field, …[, scope]): the fields' values together identify a record within the scope:
    "return" (本表: the return itself), "period" (本期: every county's returns of the same period),
    "years:N" (近N年: periods of the last N years) or "ever" (历年: every return ever; the default)."""

    fields: tuple[str, ...]
    scope: str
    text: str  # the call as written, which names its column of results

    @property
    def years(self) -> int | None:
        return int(self.scope.split(":")[1]) if self.scope.startswith("years:") else None

    @property
    def scope_zh(self) -> str:
        return {"return": "本表", "period": "同一报告期", "ever": "历年"}.get(self.scope, f"近 {self.years} 年")


def unique_scope(text: str) -> str | None:
    """The scope a unique()'s last argument names, or None if it names none."""
    t = re.sub(r"\s+", "", text).lower()
    if t in ("ever", "历年", "全部", "all"):
        return "ever"
    if t in ("return", "本表", "本报表"):
        return "return"
    if t in ("period", "本期", "同期", "同一报告期"):
        return "period"
    m = re.fullmatch(r"(?:近|last)?(\d{1,2})(?:年|years?)", t)
    if m and int(m.group(1)) >= 1:
        return f"years:{int(m.group(1))}"
    return None


@dataclass(frozen=True)
class Expr:
    """A parsed expression: its text, its tree, and what it reads."""

    text: str
    tree: ast.expr
    names: frozenset[str]  # fields read (outside aggregates)
    guarded: frozenset[str]  # fields read only inside filled()/blank()
    row_names: frozenset[str]  # fields read inside aggregates (a list's fields)
    forms: tuple[tuple[str, str], ...]  # (form, field) pairs read through form()
    uniques: tuple[Unique, ...]  # the unique() calls: fields whose values together must be unique
    aggregates: bool  # uses count() or sum()

    @property
    def is_unique(self) -> bool:
        return bool(self.uniques)


def parse(text: str) -> Expr:
    """Parse and check the shape of an expression; ExprError names what is wrong, in Chinese."""
    if not isinstance(text, str) or not text.strip():
        raise ExprError("表达式为空")
    source = _ascii_outside_quotes(text.strip())
    try:
        tree = ast.parse(source, mode="eval").body
    except SyntaxError as e:
        raise ExprError(f"表达式无法解析（第 {e.offset or '?'} 个字符附近）：{text}") from None
    walker = _Checker()
    walker.visit(tree, inside=None)
    return Expr(
        text=text.strip(),
        tree=tree,
        names=frozenset(walker.names),
        guarded=frozenset(walker.guarded - walker.names),
        row_names=frozenset(walker.row_names),
        forms=tuple(walker.forms),
        uniques=tuple(walker.uniques),
        aggregates=walker.aggregates,
    )


_FULL_WIDTH = str.maketrans({"（": "(", "）": ")", "，": ",", "＝": "=", "＜": "<", "＞": ">", "［": "[", "］": "]"})


def _ascii_outside_quotes(text: str) -> str:
    """What an admin typed with a Chinese keyboard: “curly quotes” become straight ones, and full-width
    brackets, commas and comparison signs outside the quotes become ASCII; text inside quotes is kept."""
    text = text.replace("“", '"').replace("”", '"').replace("‘", "'").replace("’", "'")
    out, quote = [], ""
    for ch in text:
        if quote:
            out.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
            out.append(ch)
        else:
            out.append(ch.translate(_FULL_WIDTH))
    return "".join(out)


class _Checker:
    def __init__(self) -> None:
        self.names: set[str] = set()
        self.guarded: set[str] = set()
        self.row_names: set[str] = set()
        self.forms: list[tuple[str, str]] = []
        self.uniques: list[Unique] = []
        self.aggregates = False

    def visit(self, node: ast.AST, inside: str | None) -> None:
        if isinstance(node, ast.Constant):
            if not isinstance(node.value, int | float | str) or isinstance(node.value, bool):
                raise ExprError(f"不支持的常量 {node.value!r}")
        elif isinstance(node, ast.Name):
            target = self.row_names if inside == "aggregate" else self.guarded if inside == "guard" else self.names
            target.add(node.id)
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINOPS:
                raise ExprError(f"不支持的运算符 {type(node.op).__name__}（只能用 + - * /）")
            self.visit(node.left, inside)
            self.visit(node.right, inside)
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, ast.USub | ast.Not | ast.UAdd):
                raise ExprError("不支持的一元运算符")
            self.visit(node.operand, inside)
        elif isinstance(node, ast.BoolOp):
            for v in node.values:
                self.visit(v, inside)
        elif isinstance(node, ast.Compare):
            for op in node.ops:
                if type(op) not in _CMPOPS and not isinstance(op, ast.In | ast.NotIn):
                    raise ExprError(f"不支持的比较 {type(op).__name__}")
            self.visit(node.left, inside)
            for c in node.comparators:
                self.visit(c, inside)
        elif isinstance(node, ast.List | ast.Tuple):
            for e in node.elts:
                if not isinstance(e, ast.Constant) and not (
                    isinstance(e, ast.UnaryOp) and isinstance(e.operand, ast.Constant)
                ):
                    raise ExprError('列表中只能写常量，如 ["技术转让", "技术许可"]')
                self.visit(e, inside)
        elif isinstance(node, ast.IfExp):
            self.visit(node.test, inside)
            self.visit(node.body, inside)
            self.visit(node.orelse, inside)
        elif isinstance(node, ast.Call):
            self._call(node, inside)
        else:
            raise ExprError(f"表达式中不允许 {type(node).__name__}")

    def _call(self, node: ast.Call, inside: str | None) -> None:
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            raise ExprError(f"不认识的函数 {name}（可用：{'、'.join(FUNCTIONS)}）")
        if node.keywords:
            raise ExprError(f"{node.func.id}() 不接受命名参数")
        fn = node.func.id
        lo, hi, scope = FUNCTIONS[fn]
        if not lo <= len(node.args) <= hi:
            want = str(lo) if lo == hi else f"{lo}–{hi}"
            raise ExprError(f"{fn}() 需要 {want} 个参数，写了 {len(node.args)} 个")
        if scope == "aggregate":
            if inside == "aggregate":
                raise ExprError(f"{fn}() 不能嵌套在 count() 或 sum() 中")
            self.aggregates = True
            for a in node.args:
                self.visit(a, "aggregate")
            return
        if scope == "unique":
            args = list(node.args)
            where = "ever"
            last = args[-1]
            if isinstance(last, ast.Constant) and isinstance(last.value, str):
                found = unique_scope(last.value)
                if found is None:
                    raise ExprError(f'unique() 的范围 "{last.value}" 应为 "本表"、"本期"、"近3年"（任意年数）或 "历年"')
                where, args = found, args[:-1]
            if inside is not None or not args or not all(isinstance(a, ast.Name) for a in args):
                raise ExprError(
                    'unique() 只能单独使用，参数为字段代码，可加范围，如 unique(regno)、unique(cert_no, uscc, "本期")'
                )
            fields = tuple(a.id for a in args)  # type: ignore[attr-defined]
            if len(set(fields)) != len(fields):
                raise ExprError("unique() 中的字段重复")
            self.uniques.append(Unique(fields, where, ast.unparse(node)))
            self.names.update(fields)
            return
        if scope == "form":
            if not all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args):
                raise ExprError(
                    'form() 的两个参数都应为文字：另一张报表的代号和它的一个字段，如 form("报表代号", "字段")'
                )
            self.forms.append((node.args[0].value, node.args[1].value))  # type: ignore[attr-defined]
            return
        if fn in ("filled", "blank"):
            for a in node.args:
                self.visit(a, "guard" if inside is None else inside)
            return
        if fn == "band":
            for a in node.args[1:3]:
                if not isinstance(a, ast.List | ast.Tuple):
                    raise ExprError("band(x, [分界…], [取值…]) 的后两个参数应为列表")
            if len(node.args[2].elts) != len(node.args[1].elts) + 1:  # type: ignore[attr-defined]
                raise ExprError("band(x, [分界…], [取值…])：取值应比分界多一个")
            if len(node.args) == 4:
                flag = node.args[3]
                if not (
                    isinstance(flag, ast.Constant)
                    and isinstance(flag.value, str)
                    and flag.value.strip().lower() in BAND_FLAGS
                ):
                    raise ExprError(
                        'band() 的第 4 个参数应为 "含上限"（upper：等于分界的值归入下一档之前）或 "含下限"（lower，默认）'
                    )
        for a in node.args:
            self.visit(a, inside)


def names_in(exprs: Iterable[Expr]) -> set[str]:
    out: set[str] = set()
    for e in exprs:
        out |= e.names | e.guarded | e.row_names
    return out


# types -------------------------------------------------------------------------------------------

NUMBER, TEXT, DATE, BOOL, ANY = "数字", "文字", "日期", "是/否", "任意"

# what each function takes (one type per argument, the last repeated) and gives
_SIGNATURES: dict[str, tuple[tuple[str, ...], str]] = {
    "abs": ((NUMBER,), NUMBER),
    "min": ((NUMBER,), NUMBER),
    "max": ((NUMBER,), NUMBER),
    "round": ((NUMBER, NUMBER), NUMBER),
    "len": ((TEXT,), NUMBER),
    "left": ((TEXT, NUMBER), TEXT),
    "right": ((TEXT, NUMBER), TEXT),
    "mid": ((TEXT, NUMBER, NUMBER), TEXT),
    "startswith": ((TEXT, TEXT), BOOL),
    "endswith": ((TEXT, TEXT), BOOL),
    "contains": ((TEXT, TEXT), BOOL),
    "matches": ((TEXT, TEXT), BOOL),
    "year": ((DATE,), NUMBER),
    "month": ((DATE,), NUMBER),
    "day": ((DATE,), NUMBER),
    "filled": ((ANY,), BOOL),
    "blank": ((ANY,), BOOL),
    "count": ((BOOL,), NUMBER),
    "sum": ((NUMBER, BOOL), NUMBER),
    "unique": ((ANY,), BOOL),
    "form": ((TEXT, TEXT), NUMBER),
    "number": ((ANY,), NUMBER),
    "text": ((ANY,), TEXT),
}
_HINT = {
    NUMBER: "用 number(…) 把文字转为数字",
    TEXT: "用 text(…) 把数字或日期转为文字",
    DATE: "日期字段才能用于此处",
}


def check_types(expr: Expr, types: dict[str, str], row_types: dict[str, str] | None = None) -> None:
    """Refuse an expression that mixes types: a text compared with a number, arithmetic on text, a
    number given to a text function. `types` gives each name's type (NUMBER, TEXT, DATE, BOOL);
    `row_types` the list's fields inside count() and sum(). ExprError says what and how to convert."""
    _Typer(types, row_types if row_types is not None else types).type(expr.tree, False)


def _numberish(t: str) -> bool:
    return t in (NUMBER, BOOL, ANY)


class _Typer:
    def __init__(self, types: dict[str, str], row_types: dict[str, str]) -> None:
        self.types = types
        self.row_types = row_types

    def type(self, node: ast.AST, inside: bool) -> str:
        if isinstance(node, ast.Constant):
            return TEXT if isinstance(node.value, str) else NUMBER
        if isinstance(node, ast.Name):
            return (self.row_types if inside else self.types).get(node.id, ANY)
        if isinstance(node, ast.BinOp):
            for side in (node.left, node.right):
                t = self.type(side, inside)
                if not _numberish(t):
                    raise ExprError(f"{ast.unparse(side)} 是{t}，不能做 + - * / 运算（{_HINT[NUMBER]}）")
            return NUMBER
        if isinstance(node, ast.UnaryOp):
            t = self.type(node.operand, inside)
            if isinstance(node.op, ast.Not):
                return BOOL
            if not _numberish(t):
                raise ExprError(f"{ast.unparse(node.operand)} 是{t}，不能取负号（{_HINT[NUMBER]}）")
            return NUMBER
        if isinstance(node, ast.BoolOp):
            for v in node.values:
                self.type(v, inside)
            return BOOL
        if isinstance(node, ast.Compare):
            left = node.left
            for op, right in zip(node.ops, node.comparators, strict=True):
                self._compare(op, left, right, inside)
                left = right
            return BOOL
        if isinstance(node, ast.List | ast.Tuple):
            kinds = {self.type(e, inside) for e in node.elts}
            return kinds.pop() if len(kinds) == 1 else ANY
        if isinstance(node, ast.IfExp):
            self.type(node.test, inside)
            return _join(self.type(node.body, inside), self.type(node.orelse, inside), node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return self._call(node, inside)
        return ANY

    def _compare(self, op: ast.cmpop, left: ast.expr, right: ast.expr, inside: bool) -> None:
        a, b = self.type(left, inside), self.type(right, inside)
        if isinstance(op, ast.In | ast.NotIn):
            if isinstance(right, ast.List | ast.Tuple):
                for e in right.elts:
                    _comparable(a, self.type(e, inside), left, e)
            return
        if a == DATE and b == TEXT and isinstance(right, ast.Constant):  # reg_date >= "2024-01-01"
            return
        if b == DATE and a == TEXT and isinstance(left, ast.Constant):
            return
        _comparable(a, b, left, right)

    def _call(self, node: ast.Call, inside: bool) -> str:
        fn = node.func.id  # type: ignore[attr-defined]
        aggregate = fn in ("count", "sum")
        sig = _SIGNATURES.get(fn)
        if fn == "band":
            x = self.type(node.args[0], inside)
            if not _numberish(x):
                raise ExprError(f"band() 的第一个参数 {ast.unparse(node.args[0])} 是{x}，应为数字（{_HINT[NUMBER]}）")
            edges = node.args[1]
            for e in getattr(edges, "elts", []):
                if not _numberish(self.type(e, inside)):
                    raise ExprError(f"band() 的分界 {ast.unparse(e)} 应为数字")
            return self.type(node.args[2], inside)
        if fn == "coalesce":
            out = ANY
            for a in node.args:
                out = _join(out, self.type(a, inside), node)
            return out
        if sig is None or fn in ("unique", "form"):
            return sig[1] if sig else ANY
        wants, gives = sig
        for i, arg in enumerate(node.args):
            want = wants[min(i, len(wants) - 1)]
            got = self.type(arg, inside or aggregate)
            if want in (ANY, BOOL) or got in (ANY, want) or (want == NUMBER and got == BOOL):
                continue
            raise ExprError(f"{fn}() 的参数 {ast.unparse(arg)} 是{got}，应为{want}（{_HINT.get(want, '')}）")
        return gives


def _comparable(a: str, b: str, left: ast.expr, right: ast.expr) -> None:
    if ANY in (a, b) or a == b or {a, b} <= {NUMBER, BOOL}:
        return
    hint = _HINT[NUMBER] if TEXT in (a, b) and NUMBER in (a, b) else "两边应为同一类型"
    if {a, b} == {TEXT, NUMBER}:
        hint = "用 number(…) 或 text(…) 转换"
    raise ExprError(f"{ast.unparse(left)}（{a}）与 {ast.unparse(right)}（{b}）不能比较：{hint}")


def _join(a: str, b: str, node: ast.AST) -> str:
    if a == ANY:
        return b
    if b == ANY or a == b:
        return a
    if {a, b} <= {NUMBER, BOOL}:
        return NUMBER
    raise ExprError(f"{ast.unparse(node)}：各个取值的类型不同（{a}、{b}）")
