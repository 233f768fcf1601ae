"""Reporting periods: tokens (`2024H1`) and the Chinese ways counties write them."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from huizong.compact import compact

KINDS = ("Q1", "H1", "Q3", "FY")  # cumulative from 1 January (FY is also the year, H1 also the first half)
MONTHS = tuple(f"M{m:02d}" for m in range(1, 13))  # one month each, for monthly forms
QUARTERS = ("K1", "K2", "K3", "K4")  # one quarter each (季度, 单季), for quarterly forms
HALVES = ("H1", "H2")  # one half year each, for half-yearly forms
END_MONTH = (
    {"Q1": 3, "H1": 6, "Q3": 9, "FY": 12, "H2": 12}
    | {k: int(k[1:]) for k in MONTHS}
    | {k: 3 * int(k[1:]) for k in QUARTERS}
)
KIND_ZH = (
    {"Q1": "一季度", "H1": "上半年", "Q3": "前三季度", "FY": "全年", "H2": "下半年"}
    | {k: f"{int(k[1:])}月" for k in MONTHS}
    | {k: f"第{'一二三四'[int(k[1:]) - 1]}季度" for k in QUARTERS}
)
_BY_END_MONTH = {v: k for k, v in END_MONTH.items() if k in KINDS}

# The grains a form collects returns in (form.toml `frequency`), and the period kinds of each.
GRAINS: dict[str, tuple[str, ...]] = {
    "year": ("FY",),
    "half": HALVES,
    "quarter": QUARTERS,
    "month": MONTHS,
    "cumulative": KINDS,
}

_CN_DIGITS = str.maketrans("〇零一二三四五六七八九", "00123456789")
_TOKEN = re.compile(r"^(\d{4})(Q1|H1|Q3|FY|H2|K[1-4]|M0[1-9]|M1[0-2])$")
# one month: 2024年3月, 2024年03月份, 2024-03, 2024.3, 2024/03, 202403, 2024年3月1日-31日 is not one
_ONE_MONTH = re.compile(r"^(?P<year>(?:19|20)\d{2})(?:年|-|\.|/|)(?P<month>0?[1-9]|1[0-2])(?:月份?|月)?(?:登记)?$")
_YEAR = r"(?P<year>(?:19|20)\d{2})(?:年度?|\.|-|/)?"
_MONTHS = re.compile(_YEAR + r"(?:第)?(?:1|01|一)月?(?:份)?(?:-|—|–|~|～|至|到)(?P<end>\d{1,2})月?(?:份)?(?:累计)?$")
# Matched after Chinese digits become Arabic ones (一二季度 -> 12季度, 第三季度 -> 第3季度).
_Q1 = r"第?1季度"
_H1 = r"上半年度?|半年|1-2季度|1—2季度|12季度|1、2季度|1至2季度|第?1、2季度"
_Q3 = r"前3季度|1-3季度|1—3季度|第?3季度|123季度"
_WORDS = [
    (re.compile(_YEAR + rf"(?:{_Q1})$"), "Q1"),
    (re.compile(_YEAR + rf"(?:{_H1})$"), "H1"),
    (re.compile(_YEAR + rf"(?:{_Q3})$"), "Q3"),
    (re.compile(_YEAR + r"(?:全年|年度|年报|全年度)?$"), "FY"),
]


@compact
@dataclass(frozen=True, order=True, slots=True)
class Period:
    year: int
    kind: str  # Q1 | H1 | Q3 | FY

    @property
    def token(self) -> str:
        return f"{self.year}{self.kind}"

    @property
    def zh(self) -> str:
        return f"{self.year}年{KIND_ZH[self.kind]}"

    @property
    def is_month(self) -> bool:
        return self.kind in MONTHS

    @property
    def months(self) -> tuple[int, ...]:
        """The calendar months the period covers: (3,) for 2024M03, (4, 5, 6) for 2024K2, (7, …, 12)
        for 2024H2, (1, …, 6) for 2024H1."""
        end = END_MONTH[self.kind]
        if self.is_month:
            return (end,)
        if self.kind in QUARTERS:
            return (end - 2, end - 1, end)
        if self.kind == "H2":
            return tuple(range(7, 13))
        return tuple(range(1, end + 1))

    @property
    def start(self) -> dt.date:
        return dt.date(self.year, self.months[0], 1)

    @property
    def end(self) -> dt.date:
        m = self.months[-1]
        return dt.date(self.year, 12, 31) if m == 12 else dt.date(self.year, m + 1, 1) - dt.timedelta(days=1)

    def last_year(self) -> Period:
        return Period(self.year - 1, self.kind)

    def __str__(self) -> str:
        return self.token


def chronological(token: str) -> tuple[int, int, int]:
    """Sort key of a period token: by year, then by the last month it covers, a shorter period
    before a longer one that ends with it (2024M06, 2024K2, 2024H1)."""
    p = parse_token(token)
    return (p.year, END_MONTH[p.kind], len(p.months))


def parse_token(token: str) -> Period:
    m = _TOKEN.match(token.strip().upper())
    if not m:
        raise ValueError(f"not a period token: {token!r} (expected e.g. 2024H1)")
    return Period(int(m.group(1)), m.group(2))


def parse_period(value: object, grain: str | bool = "cumulative") -> Period | None:
    """Any spelling on the spec's list -> Period; None if it is not one of them. `grain`: what the
    form collects (GRAINS): by the month, one month (2024年3月, 2024-03, 202403, a date) is a
    period, and only a month is; by the quarter, 第二季度 and 4-6月 are 2024K2; by the half year,
    下半年 and 7-12月 are 2024H2. Whether the form collects the period read is the form's to say."""
    grain = "month" if grain is True else "cumulative" if grain is False else grain
    if value is None:
        return None
    if isinstance(value, bool):
        return None
    if grain == "month":
        return _parse_month(value)
    if grain in ("quarter", "half") and not isinstance(value, dt.date | dt.datetime | int | float):
        part = _parse_part(_clean(str(value)), grain)
        if part is not None:
            return part
    if isinstance(value, int | float) and float(value).is_integer() and 1900 <= value <= 2099:
        return Period(int(value), "FY")
    if isinstance(value, dt.date | dt.datetime):
        return None
    text = _clean(str(value))
    m = _TOKEN.match(text.upper())
    if m and m.group(2) in KINDS:
        return Period(int(m.group(1)), m.group(2))
    m = _MONTHS.match(text)
    if m:
        kind = _BY_END_MONTH.get(int(m["end"]))
        return Period(int(m["year"]), kind) if kind else None
    for pattern, kind in _WORDS:
        m = pattern.match(text)
        if m:
            return Period(int(m["year"]), kind)
    return None


def _clean(value: str) -> str:
    text = unicodedata.normalize("NFKC", value).translate(_CN_DIGITS)
    text = re.sub(r"\s+", "", text)
    text = re.sub(r"^(?:报告期|统计期|时期)[:：]?", "", text)
    return text.removesuffix("累计").removesuffix("期间")


_PART_YEAR = r"(?P<year>(?:19|20)\d{2})(?:年度?|\.|-|/)?"
_QUARTER = re.compile(_PART_YEAR + r"(?:第)?(?P<n>[1-4])(?:季度|季)$")
_QUARTER_TOKEN = re.compile(r"^(?P<year>(?:19|20)\d{2})[QK](?P<n>[1-4])$")
_MONTH_RANGE = re.compile(_PART_YEAR + r"(?P<start>\d{1,2})月?份?(?:-|—|–|~|～|至|到)(?P<end>\d{1,2})月?份?$")
_SECOND_HALF = re.compile(_PART_YEAR + r"(?:下半年度?|H2)$", re.IGNORECASE)


def _parse_part(text: str, grain: str) -> Period | None:
    """A quarter (quarter grain) or a half year (half grain) written as words, months or a token."""
    m = _MONTH_RANGE.match(text)
    if m:
        start, end = int(m["start"]), int(m["end"])
        if grain == "quarter" and end - start == 2 and end % 3 == 0:
            return Period(int(m["year"]), f"K{end // 3}")
        if grain == "half" and (start, end) in ((1, 6), (7, 12)):
            return Period(int(m["year"]), "H1" if end == 6 else "H2")
        return None
    if grain == "quarter":
        m = _QUARTER.match(text) or _QUARTER_TOKEN.match(text.upper())
        return Period(int(m["year"]), f"K{m['n']}") if m else None
    if _SECOND_HALF.match(text):
        return Period(int(text[:4]), "H2")
    return None


def _parse_month(value: object) -> Period | None:
    if isinstance(value, dt.date | dt.datetime):
        return Period(value.year, f"M{value.month:02d}")
    if isinstance(value, int | float):
        if not float(value).is_integer():
            return None
        value = str(int(value))
    text = unicodedata.normalize("NFKC", str(value)).translate(_CN_DIGITS)
    text = re.sub(r"\s+", "", text)
    text = re.sub(r"^(?:报告期|统计期|时期|登记月份)[:：]?", "", text)
    text = re.sub(r"(\d)月(?:1|01)日?(?:-|—|–|~|～|至|到)\d{1,2}日$", r"\1月", text)  # 2024年3月1日-31日
    m = _TOKEN.match(text.upper())
    if m:
        return Period(int(m.group(1)), m.group(2)) if m.group(2) in MONTHS else None
    m = _ONE_MONTH.match(text)
    if m:
        return Period(int(m["year"]), f"M{int(m['month']):02d}")
    return None


def find_period_in_text(text: str, grain: str | bool = "cumulative") -> Period | None:
    """A period inside a longer text, e.g. a title or a file name."""
    grain = "month" if grain is True else "cumulative" if grain is False else grain
    norm = unicodedata.normalize("NFKC", text).translate(_CN_DIGITS)
    norm = re.sub(r"\s+", "", norm)
    if grain == "quarter":
        m = re.search(r"((?:19|20)\d{2})(?:年度?)?(?:第)?([1-4])季度", norm) or re.search(
            r"((?:19|20)\d{2})[QK]([1-4])(?!\d)", norm, re.IGNORECASE
        )
        if m:
            return Period(int(m.group(1)), f"K{m.group(2)}")
        m = re.search(r"((?:19|20)\d{2})年?(\d{1,2})月?份?(?:-|—|–|~|～|至|到)(\d{1,2})月", norm)
        if m and int(m.group(3)) - int(m.group(2)) == 2 and int(m.group(3)) % 3 == 0:
            return Period(int(m.group(1)), f"K{int(m.group(3)) // 3}")
    if grain == "half":
        m = re.search(r"((?:19|20)\d{2})(?:年度?)?(?:下半年|H2)", norm, re.IGNORECASE) or re.search(
            r"((?:19|20)\d{2})年?0?7月?份?(?:-|—|–|~|～|至|到)12月", norm
        )
        if m:
            return Period(int(m.group(1)), "H2")
    if grain == "month":
        m = re.search(r"(?<!\d)((?:19|20)\d{2})M(0[1-9]|1[0-2])(?!\d)", norm, re.IGNORECASE)
        if m:
            return Period(int(m.group(1)), f"M{m.group(2)}")
        m = re.search(r"(?<!\d)((?:19|20)\d{2})(?:年|-|\.|_)?(0?[1-9]|1[0-2])月", norm) or re.search(
            r"(?<!\d)((?:19|20)\d{2})[-._]?(0[1-9]|1[0-2])(?!\d)", norm
        )
        return Period(int(m.group(1)), f"M{int(m.group(2)):02d}") if m else None
    m = re.search(r"((?:19|20)\d{2})(Q1|H1|Q3|FY)", norm, re.IGNORECASE)
    if m:
        return Period(int(m.group(1)), m.group(2).upper())
    patterns = [
        r"(?:19|20)\d{2}年?(?:第)?(?:1|01)月?份?(?:-|—|–|~|～|至|到)\d{1,2}月",
        rf"(?:19|20)\d{{2}}年(?:{_Q3}|{_H1}|{_Q1}|全年|年度|年报)",
        r"(?:19|20)\d{2}(?:年度|年报)",
    ]
    for p in patterns:
        m = re.search(p, norm)
        if m:
            return parse_period(m.group(0))
    return None
