"""The report draft (报告稿): a form's Word templates filled with a region's period.

A form's folder may hold Word templates named `报告稿*.docx` (docxtpl: Jinja inside a .docx that a
bureau edits in Word or WPS). Each time a region's period is published, each template is filled
with what the totals say, in the words a bureau writes them, and written beside the workbook as
`<template name>_<region>_<period>.docx`. The fields a template may use are `fields()`'s (listed in
docs/报告稿.md); `check()` finds what a template gets wrong (an unknown field, bad Jinja) for
`huizong forms check`, naming the file and the place.

Figures stay exact: a total's value becomes a Decimal of its shortest repr and is rounded half up
only when written out.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

from huizong.catalog import FormConfig
from huizong.ledger.standing import Counted
from huizong.publish.rollup import Total
from huizong.publish.view import RegionPeriod
from huizong.read.periods import parse_token

PATTERN = "报告稿*.docx"
LEADING = 3  # how many counties `领先` names
NAMED = 10  # how many counties not in a sentence names before "等N个县区"
AMOUNT_UNITS = {"万元"}  # written in 亿元 once a figure reaches YI_FROM of them
YI_FROM = Decimal(5000)  # 5,000 万元 = 0.5 亿元: a bureau writes 0.51亿元, and 1393万元


class TemplateError(Exception):
    "A report template that cannot be filled: its file and the place, in one line"


def templates(form_root: Path) -> list[Path]:
    """The form's report templates: `报告稿*.docx` in its folder (not Word's `~$` lock files)."""
    return sorted(p for p in form_root.glob(PATTERN) if p.is_file() and not p.name.startswith("~$"))


def output_name(template: Path, region_name: str, period: str) -> str:
    return f"{template.stem}_{region_name}_{period}.docx"


# -- numbers as a bureau writes them -------------------------------------------------------------


def _dec(x: float | Decimal | None) -> Decimal | None:
    return None if x is None else x if isinstance(x, Decimal) else Decimal(repr(float(x)))


def _one(x: Decimal) -> str:
    """A percentage as a bureau writes it: always one decimal (13.5, 18.0)."""
    q = x.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{q + 0:f}" if q else "0.0"


def _fixed(x: Decimal, places: int) -> str:
    q = x.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = f"{q:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def amount(x: Decimal | None, unit: str, like: Decimal | None = None) -> str:
    """A figure with its unit: 万元 as 亿元 once it is large (two decimals), else 万元 (up to two),
    in the scale `like` would be written in if given (the counties of a ranking as their total);
    a percentage with one decimal, always; a count as a whole number (人次, 项, 家…)."""
    if x is None:
        return ""
    if unit in AMOUNT_UNITS:
        yi = abs(like if like is not None else x) >= YI_FROM
        return f"{_fixed(x / 10000, 2)}亿元" if yi else f"{_fixed(x, 2)}{unit}"
    if unit == "%":
        return f"{_one(x)}%"
    if x == x.to_integral_value():
        return f"{x.to_integral_value():f}{unit}"
    return f"{_fixed(x, 2)}{unit}"


def pct(x: Decimal | None) -> str:
    return "" if x is None else f"{_one(x)}%"


def change(growth: Decimal | None) -> str:
    """同比增长 x% / 同比下降 x% / 与上年持平, by the rounding it is written with (one decimal)."""
    if growth is None:
        return ""
    shown = growth.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    if shown == 0:
        return "与上年持平"
    return f"同比{'增长' if shown > 0 else '下降'}{_one(abs(shown))}%"


# -- the fields ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """A county's figure and its place among the region's counties (`排名`)."""

    县区: str
    数值: Decimal
    名次: int
    _unit: str = field(repr=False)  # (underscored: not fields a template sees)
    _like: Decimal | None = field(repr=False)  # the region's total: the scale the figure is written in

    @property
    def 本期(self) -> str:
        return amount(self.数值, self._unit, like=self._like)


@dataclass(frozen=True)
class Figure:
    """One indicator of the region's period, every way a sentence may want it."""

    代码: str
    名称: str
    单位: str
    数值: Decimal | None  # the total, exact (for {% if %})
    本期: str  # the total as written: 0.51亿元, 230万元, 36项, 2.1%
    上年: str  # last year's, over the comparable counties
    增幅: Decimal | None  # growth in per cent, over the comparable counties
    同比: str  # 同比增长13.5% / 同比下降2.0% / 与上年持平 ("" without a comparison)
    可比县区数: int  # counties with both this year's and last year's figure
    未计入同比: str  # the counties that reported this year but not last year's figure, 、-joined
    目标: str  # the annual target (summed over the counties that set one)
    完成率: str  # of the annual target, over the counties that set one: 56.3%
    已报: int
    应报: int
    _values: Mapping[str, float] = field(default_factory=dict, repr=False, compare=False)  # by county
    _names: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @cached_property
    def 排名(self) -> list[Place]:
        """The counties, largest first; made when a template asks (the nation has thousands of them
        for each indicator, and most templates name the first few)."""
        places = sorted(
            ((self._names.get(c, c), _dec(v) or Decimal(0)) for c, v in self._values.items()), key=lambda p: -p[1]
        )
        return [Place(n, v, i + 1, self.单位, self.数值) for i, (n, v) in enumerate(places)]

    @cached_property
    def 领先(self) -> str:
        """The first LEADING counties, 、-joined."""
        return "、".join(p.县区 for p in self.排名[:LEADING])

    @cached_property
    def 第一(self) -> str:
        return self.排名[0].县区 if self.排名 else ""


def _figure(
    total: Total, ratio: bool, names: dict[str, str], values: Mapping[str, float], last: Mapping[str, float]
) -> Figure:
    value = _dec(total.value)
    comparable = [c for c in total.reported if c in last and c in values]
    left_out = [names.get(c, c) for c in total.reported if c not in comparable]
    growth = _dec(total.yoy_pct)
    if ratio:  # recomputed from its parts, as the total is (never a sum or an average of the counties')
        last_sum = _dec(total.last_year)
    else:  # over the counties that gave both, as the growth is (可比口径)
        last_sum = sum((_dec(last[c]) or Decimal(0) for c in comparable), Decimal(0)) if comparable else None
    return Figure(
        代码=total.code,
        名称=total.name,
        单位=total.unit,
        数值=value,
        本期=amount(value, total.unit),
        上年=amount(last_sum, total.unit),
        增幅=growth,
        同比=change(growth),
        可比县区数=len(comparable),
        未计入同比="、".join(left_out) if comparable else "",
        目标=amount(_dec(total.target), total.unit),
        完成率=pct(_dec(total.completion_pct)),
        已报=total.n_reported,
        应报=total.n_expected,
        _values=values,
        _names=names,
    )


def context(view: RegionPeriod, config: FormConfig) -> dict[str, Any]:
    """Every field a template may use (docs/报告稿.md): the region, the period, who reported, and
    one `Figure` per indicator, by its code (`A01.本期`) and in `指标`."""
    names = {c.code: c.name for c in view.counties}
    vals = view.values
    ratios = {i.code for i in config.catalog if i.is_ratio}
    figures = {
        t.code: _figure(
            t, t.code in ratios, names, vals.get("value", {}).get(t.code, {}), vals.get("last_year", {}).get(t.code, {})
        )
        for t in view.totals
    }
    p = parse_token(view.period)
    missing = [s.county.name for s in view.statuses if s.status != Counted.ACCEPTED]
    named = "、".join(missing[:NAMED]) + (f"等{len(missing)}个县区" if len(missing) > NAMED else "")
    n_reported, n_expected = view.n_reported, len(view.counties)
    return {
        "地区": view.region.name,
        "报告期": p.zh,
        "年份": p.year,
        "已报": n_reported,
        "应报": n_expected,
        "未报县区": named,
        "报送情况": f"{n_expected}个县区全部报送"
        if not missing
        else f"应报{n_expected}个县区，已报{n_reported}个（{named}未纳入）",
        "指标": figures,
        **figures,
    }


TOP_FIELDS = ("地区", "报告期", "年份", "已报", "应报", "未报县区", "报送情况", "指标")


# -- filling and checking ------------------------------------------------------------------------


_ENV: Any = None


def _environment() -> Any:
    """One sandboxed Jinja environment (a template is a bureau's text, not code we trust), strict
    about unknown fields, that compiles each part of a template once per process: docxtpl asks
    for every part of the document again on every fill, and compiling was half of a fill's time."""
    global _ENV
    if _ENV is None:
        from jinja2 import StrictUndefined
        from jinja2.sandbox import SandboxedEnvironment

        class Compiled(SandboxedEnvironment):
            _compiled: dict[str, Any] = {}  # noqa: RUF012  (one environment per process)

            def from_string(self, source: Any, globals: Any = None, template_class: Any = None) -> Any:
                if globals is not None or template_class is not None or not isinstance(source, str):
                    return super().from_string(source, globals, template_class)
                found = self._compiled.get(source)
                if found is None:
                    if len(self._compiled) > 64:  # templates edited while the process lives: the oldest go
                        self._compiled.pop(next(iter(self._compiled)))
                    found = self._compiled[source] = super().from_string(source)
                return found

        _ENV = Compiled(undefined=StrictUndefined, autoescape=False)
    return _ENV


def render(template: Path, ctx: dict[str, Any]) -> bytes:
    """The template filled with `ctx`, as the bytes of a .docx; TemplateError if it cannot be."""
    from docxtpl import DocxTemplate

    try:
        doc = DocxTemplate(str(template))
        doc.render(ctx, _environment(), autoescape=True)
        return _stable(doc.docx.part.package)
    except Exception as e:  # docxtpl and Jinja raise many kinds: one line naming the file and the place
        raise TemplateError(_where(template, e)) from None


class _Dated:
    """python-docx's zip writer (`docx.opc.phys_pkg._ZipPkgWriter`) with every entry dated alike."""

    def __init__(self, out: io.BytesIO) -> None:
        self.zip = zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED)

    def write(self, pack_uri: Any, blob: bytes) -> None:
        entry = zipfile.ZipInfo(pack_uri.membername, date_time=(1980, 1, 1, 0, 0, 0))
        self.zip.writestr(entry, blob, compress_type=zipfile.ZIP_DEFLATED)

    def close(self) -> None:
        self.zip.close()


def _stable(package: Any) -> bytes:
    """The filled document's .docx, as python-docx saves it (`OpcPackage.save`) but with every
    entry dated alike: the same totals always make the same bytes (a rerun after a crash, or a
    republish, writes what an uninterrupted run wrote), without zipping the document twice."""
    from docx.opc.pkgwriter import PackageWriter

    for part in package.parts:
        part.before_marshal()
    out = io.BytesIO()
    writer: Any = _Dated(out)  # the writer PackageWriter expects: write(pack_uri, blob), close()
    PackageWriter._write_content_types_stream(writer, package.parts)
    PackageWriter._write_pkg_rels(writer, package.rels)
    PackageWriter._write_parts(writer, package.parts)
    writer.close()
    return out.getvalue()


def _text_of(xml: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", xml)).strip()


def _where(template: Path, e: Exception) -> str:
    """`报告稿.docx：第 3 段“……”：<what is wrong>`, as far as it can be placed."""
    from jinja2 import TemplateSyntaxError, UndefinedError

    said = getattr(e, "message", None) or str(e)
    token = ""
    if isinstance(e, UndefinedError):
        if m := re.search(r"has no attribute '([^']+)'", said):
            token, what = m.group(1), f"没有“{m.group(1)}”这个字段（可用的字段见 docs/报告稿.md）"
        elif m := re.search(r"'([^']+)' is undefined", said):
            token, what = (
                m.group(1),
                f"未知字段“{m.group(1)}”（指标用其在指标目录中的代码；可用的字段见 docs/报告稿.md）",
            )
        else:
            what = f"未知字段：{said}"
    elif isinstance(e, TemplateSyntaxError):
        what = f"模板语法错误：{said}"
    else:
        what = f"无法填写：{type(e).__name__}: {said}"
    place = _paragraph_of(template, token, syntax=isinstance(e, TemplateSyntaxError))
    return f"{template.name}：{place + '：' if place else ''}{what}"


def _paragraph_of(template: Path, token: str, syntax: bool) -> str:
    """The paragraph of the document that holds the failing tag, by its number and opening words:
    the first that names `token`, or for a syntax error the first whose tags do not parse alone."""
    from jinja2 import Environment, TemplateSyntaxError

    try:
        with zipfile.ZipFile(template) as z:
            xml = z.read("word/document.xml").decode("utf-8")
    except (OSError, KeyError, zipfile.BadZipFile):
        return ""
    paragraphs = [t for p in re.findall(r"<w:p[ >].*?</w:p>", xml, flags=re.S) if (t := _text_of(p))]
    plain = Environment()
    for n, text in enumerate(paragraphs, start=1):
        if "{" not in text:
            continue
        if syntax:
            try:
                plain.parse(text)
                continue
            except TemplateSyntaxError:
                pass
        elif token and token not in text:
            continue
        return f"第 {n} 段“{text[:30]}{'…' if len(text) > 30 else ''}”"
    return ""


def check(template: Path, config: FormConfig) -> list[str]:
    """What is wrong with a report template, each in one line naming the file and the place: it is
    filled with a sample of every field (each indicator's figures present) and must come out."""
    from huizong.catalog import Division

    sample_totals = [
        Total(i.code, i.name, i.unit, 100.0, 120.0, 90.0, 11.11, 83.33, 2, 2, ("1", "2"), ()) for i in config.catalog
    ]
    counties = [Division("1", "甲县", "county", "0"), Division("2", "乙县", "county", "0")]
    facts = [
        {"county_code": c.code, "indicator": t.code, "column": col, "number": n}
        for t in sample_totals
        for c in counties
        for col, n in (("value", 50.0), ("last_year", 45.0))
    ]
    view = RegionPeriod(Division("0", "某市", "prefecture", None), "2024H1", counties, sample_totals, facts, [], [], [])
    try:
        render(template, context(view, config))
    except TemplateError as e:
        return [str(e)]
    return []
