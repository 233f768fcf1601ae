"""The indicator catalog, the divisions and the unit table, loaded from data files.

Nothing about an indicator is written in code: a city edits
`expectations/catalog/indicators.csv` to add, rename or retire one.
"""

from __future__ import annotations

import csv
import re
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from huizong.forms.load import FormError, check_names, form_folders, load_forms, load_header_labels
from huizong.forms.model import Form
from huizong.limits import Limits, LimitsError
from huizong.notify.config import Notices, NoticesError
from huizong.rulebook import Rules, RulesError

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "expectations"


class CatalogError(Exception):
    "The catalog or a configuration file is malformed"


_LABEL_NOISE = re.compile(r"[\s:：]+")


def normalize_label(text: object) -> str:
    """Fold a label for matching: NFKC (full-width to half-width), no spaces, no colons."""
    t = str(text or "")
    return _normalized_cached(t) if len(t) <= 80 else _normalized(t)


def _normalized(t: str) -> str:
    return _LABEL_NOISE.sub("", unicodedata.normalize("NFKC", t)).upper()


_normalized_cached = lru_cache(maxsize=16384)(_normalized)  # labels repeat in every file a worker reads


@dataclass(frozen=True, slots=True)
class Indicator:
    code: str
    group: str
    name: str
    name_en: str
    unit: str
    kind: str  # flow | stock | ratio
    aggregate: str  # sum | ratio
    numerator: str | None
    denominator: str | None
    multiplier: Decimal | None
    integer: bool
    required: bool
    aliases: tuple[str, ...]
    key: bool = False
    tolerance: float | None = None
    jump_factor: float | None = None
    maximum: float | None = None  # the most a county can plausibly report, in catalog units

    @property
    def is_ratio(self) -> bool:
        return self.aggregate == "ratio"


INDICATOR_COLUMNS = (
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
    "jump_factor",
    "max",
)
DIVISION_COLUMNS = ("code", "name", "level", "parent")
UNIT_COLUMNS = ("catalog_unit", "written", "factor", "note")


def _csv_rows(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """The rows of a configuration CSV; a column it does not know is refused, never ignored."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            unknown = [c for c in reader.fieldnames or () if (c or "").strip() not in columns]
            if unknown:
                raise CatalogError(
                    f"{path}: 不认识的列 {'、'.join(repr(c) for c in unknown)}（可用的列：{'、'.join(columns)}）"
                )
            return list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise CatalogError(f"{path}: {e}") from e


def _positive(text: str) -> float:
    v = float(text)
    if not (v > 0 and v != float("inf")):
        raise ValueError(f"max 应为正数，而不是 {text!r}")
    return v


def _yes(v: str | None) -> bool:
    return (v or "").strip().lower() in {"y", "yes", "1", "true", "是"}


@dataclass(frozen=True)
class Catalog:
    indicators: tuple[Indicator, ...]

    @classmethod
    def load(cls, path: Path) -> Catalog:
        rows = _csv_rows(path, INDICATOR_COLUMNS)
        out = []
        for n, r in enumerate(rows, start=2):
            try:
                mult = (r.get("multiplier") or "").strip()
                tol = (r.get("tolerance") or "").strip()
                jump = (r.get("jump_factor") or "").strip()
                most = (r.get("max") or "").strip()
                out.append(
                    Indicator(
                        code=r["code"].strip().upper(),
                        group=r.get("group", "").strip(),
                        name=r["name_zh"].strip(),
                        name_en=r.get("name_en", "").strip(),
                        unit=r["unit"].strip(),
                        kind=r["kind"].strip(),
                        aggregate=r["aggregate"].strip(),
                        numerator=(r.get("numerator") or "").strip() or None,
                        denominator=(r.get("denominator") or "").strip() or None,
                        multiplier=Decimal(mult) if mult else None,
                        integer=_yes(r.get("integer")),
                        required=_yes(r.get("required")),
                        aliases=tuple(a.strip() for a in (r.get("aliases") or "").split("|") if a.strip()),
                        key=_yes(r.get("key")),
                        tolerance=float(tol) if tol else None,
                        jump_factor=float(jump) if jump else None,
                        maximum=_positive(most) if most else None,
                    )
                )
            except (KeyError, ArithmeticError, ValueError, AttributeError) as e:
                raise CatalogError(f"{path}:{n}: {type(e).__name__}: {e}") from e
        cat = cls(tuple(out))
        try:
            cat._check()
        except CatalogError as e:
            raise CatalogError(f"{path}: {e}") from e
        return cat

    @classmethod
    def of_measures(cls, form: Form) -> Catalog:
        """A list form's indicators: the numbers summed from its list for each return."""
        return cls(
            tuple(
                Indicator(
                    code=m.code,
                    group=m.group,
                    name=m.name,
                    name_en="",
                    unit=m.unit,
                    kind="ratio" if m.kind == "ratio" else "flow",
                    aggregate="ratio" if m.kind == "ratio" else "sum",
                    numerator=m.numerator,
                    denominator=m.denominator,
                    multiplier=m.multiplier,
                    integer=m.integer,
                    required=False,
                    aliases=(),
                    key=m.key,
                )
                for m in form.measures
            )
        )

    def _check(self) -> None:
        codes = [i.code for i in self.indicators]
        if len(set(codes)) != len(codes):
            raise CatalogError("duplicate indicator codes in the catalog")
        for i in self.indicators:
            if i.is_ratio and not (i.numerator in self.by_code and i.denominator in self.by_code):
                raise CatalogError(f"ratio {i.code} needs a numerator and denominator in the catalog")
        seen: dict[str, str] = {}
        for i in self.indicators:
            for name in (i.name, *i.aliases):
                key = normalize_label(name)
                if key in seen and seen[key] != i.code:
                    raise CatalogError(f"name {name!r} is used by both {seen[key]} and {i.code}")
                seen[key] = i.code

    @cached_property
    def by_code(self) -> dict[str, Indicator]:
        return {i.code: i for i in self.indicators}

    @cached_property
    def by_name(self) -> dict[str, Indicator]:
        """Normalized name or alias -> indicator."""
        out: dict[str, Indicator] = {}
        for i in self.indicators:
            for name in (i.name, *i.aliases):
                out[normalize_label(name)] = i
        return out

    def __getitem__(self, code: str) -> Indicator:
        return self.by_code[code]

    def __iter__(self):
        return iter(self.indicators)

    def __len__(self) -> int:
        return len(self.indicators)


@dataclass(frozen=True, slots=True)
class Division:
    code: str
    name: str
    level: str  # province | prefecture | county
    parent: str | None


NATION = Division("000000", "全国", "nation", None)  # the region above the provinces: `--region 000000`

_AUTONOMOUS = re.compile(r"^(.{2,}?)(?:[\u4e00-\u9fff]{1,8}族)+自治(?:县|旗)$")


def short_names(name: str) -> set[str]:
    """Spellings a county's office may use: 肃南裕固族自治县 -> {肃南县, 肃南}; 民乐县 -> {民乐}."""
    names = {name}
    m = _AUTONOMOUS.match(name)
    if m:
        names |= {m.group(1), m.group(1) + "县"}
    elif len(name) > 2 and name[-1] in "县区市旗":
        names.add(name[:-1])
    return names


@dataclass(frozen=True)
class Divisions:
    rows: tuple[Division, ...]

    @classmethod
    def load(cls, path: Path) -> Divisions:
        out = []
        for n, r in enumerate(_csv_rows(path, DIVISION_COLUMNS), start=2):
            try:
                out.append(
                    Division(
                        code=r["code"].strip(),
                        name=r["name"].strip(),
                        level=r["level"].strip(),
                        parent=(r.get("parent") or "").strip() or None,
                    )
                )
            except (KeyError, AttributeError) as e:
                raise CatalogError(f"{path}:{n}: 缺少列 {e}") from e
        return cls(tuple(out))

    @cached_property
    def by_code(self) -> dict[str, Division]:
        return {d.code: d for d in self.rows}

    def get(self, code: str | None) -> Division | None:
        if code == NATION.code:
            return NATION
        return self.by_code.get(code or "")

    @cached_property
    def county_codes(self) -> list[str]:
        return sorted(d.code for d in self.rows if d.level == "county")

    @cached_property
    def _children(self) -> dict[str, list[Division]]:
        out: dict[str, list[Division]] = {}
        for d in sorted(self.rows, key=lambda d: d.code):
            out.setdefault(d.parent or NATION.code, []).append(d)
        return out

    def parts_of(self, region: str) -> list[Division]:
        """The divisions directly under a region: the nation's provinces; a province's prefectures
        and the county-level cities directly under it (仙桃市); a prefecture's counties."""
        return list(self._children.get(region, []))

    @cached_property
    def _counties_cache(self) -> dict[str, tuple[Division, ...]]:
        return {}

    def counties_of(self, region: str) -> list[Division]:
        """Every county-level division inside a region (a prefecture, a province, or 000000 the nation)."""
        cache = self._counties_cache
        if region not in cache:
            out: list[Division] = []
            for d in self._children.get(region, []):
                out.extend([d] if d.level == "county" else self.counties_of(d.code))
            cache[region] = tuple(sorted(out, key=lambda d: d.code))
        return list(cache[region])

    def regions_within(self, region: str) -> list[Division]:
        """The region and every province and prefecture inside it: each has outputs of its own."""
        top = self.get(region)
        out = [top] if top is not None else []
        stack = [region]
        while stack:
            for d in self._children.get(stack.pop(), []):
                if d.level != "county":
                    out.append(d)
                    stack.append(d.code)
        return out

    @cached_property
    def _spelling_pools(self) -> dict[str | None, _Spellings]:
        return {}

    def _spellings(self, region: str | None) -> _Spellings:
        """The region's counties (or every county) by folded spelling: folded once, not at every
        cell that may name a county."""
        pools = self._spelling_pools
        if region not in pools:
            counties = self.counties_of(region) if region else [d for d in self.rows if d.level == "county"]
            by: dict[str, list[tuple[int, Division]]] = {}
            for d in counties:
                for n in short_names(d.name):
                    if len(n) >= 2:
                        by.setdefault(normalize_label(n), []).append((len(n), d))
            pools[region] = _Spellings(by, max(map(len, by), default=0))
        return pools[region]

    def find_county_in_text(self, text: str, region: str | None = None) -> Division | None:
        """The county an office name or title names: "民乐县科学技术局" -> 民乐县.

        Looks among the region's counties first, then nationally where a name is unique.
        The longest matching spelling wins."""
        s = normalize_label(text)
        if not s:
            return None
        pools = [self._spellings(region)] if region else []
        pools.append(self._spellings(None))
        for pool in pools:
            best = pool.within(s)
            if best:
                top = max(length for length, _ in best)
                winners = {d.code: d for length, d in best if length == top}
                if len(winners) == 1:
                    return next(iter(winners.values()))
                return None  # ambiguous: two counties spelled the same
        return None


@dataclass(frozen=True)
class _Spellings:
    """Folded spellings of counties' names (full and short) -> (the name's length, the county)."""

    by: dict[str, list[tuple[int, Division]]]
    longest: int

    def within(self, s: str) -> list[tuple[int, Division]]:
        """Every (length, county) whose spelling occurs in `s`: each of its substrings looked up
        (a title or office name has a few hundred), or for a long text each spelling sought in it."""
        if len(s) * self.longest > len(self.by):
            return [hit for spelling, hits in self.by.items() if spelling in s for hit in hits]
        pieces = {s[i : i + n] for n in range(2, self.longest + 1) for i in range(len(s) - n + 1)}
        return [hit for piece in pieces if piece in self.by for hit in self.by[piece]]


@dataclass(frozen=True)
class Units:
    """Written unit -> factor to the catalog unit, per catalog unit (units.csv)."""

    table: dict[str, dict[str, Decimal]]
    prefixes: dict[str, Decimal] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, prefixes: Mapping[str, object]) -> Units:
        table: dict[str, dict[str, Decimal]] = {}
        for n, r in enumerate(_csv_rows(path, UNIT_COLUMNS), start=2):
            try:
                factor = Decimal(r["factor"].strip())
                table.setdefault(r["catalog_unit"].strip(), {})[normalize_label(r["written"])] = factor
            except (KeyError, AttributeError, ArithmeticError) as e:
                raise CatalogError(f"{path}:{n}: {type(e).__name__}: {e}") from e
        try:
            pre = {normalize_label(k): Decimal(str(v)) for k, v in prefixes.items()}
        except ArithmeticError as e:
            raise CatalogError(f"rules.toml [unit_prefixes]: {e}") from e
        return cls(table, dict(sorted(pre.items(), key=lambda kv: -len(kv[0]))))

    def factor(self, written: str, catalog_unit: str) -> Decimal | None:
        """How many catalog units one written unit is; None if it cannot be converted."""
        w = normalize_label(written)
        target = normalize_label(catalog_unit)
        known = self.table.get(catalog_unit, {})
        if w == target:
            return Decimal(1)
        if w in known:
            return known[w]
        for prefix, mult in self.prefixes.items():
            if w.startswith(prefix) and len(w) > len(prefix):
                rest = w[len(prefix) :]
                if rest == target:
                    return mult
                if rest in known:
                    return mult * known[rest]
        return None


@dataclass(frozen=True)
class Config:
    """Everything a city configures, read from one folder (default: the repo's expectations/).

    It has no current form: whatever concerns one form is given that form's `FormConfig`
    (`config.for_form(form_id)`), which carries the form, its catalog and its deadlines."""

    root: Path
    divisions: Divisions
    units: Units
    rules: Rules = field(default_factory=Rules)
    deadlines: dict[str, Any] = field(default_factory=dict)  # [due] of deadlines.toml: the city's default
    forms: tuple[Form, ...] = ()  # every form a bureau collects (forms/<id>/), in their order
    catalogs: dict[str, Catalog] = field(default_factory=dict)  # form id -> its indicators (or measures)
    header_labels: dict[str, tuple[str, ...]] = field(default_factory=dict)  # forms/header.toml
    notices: Notices = field(default_factory=Notices)  # catalog/notices.toml: e-mail, robots, texts
    _views: dict[str, FormConfig] = field(default_factory=dict, init=False, compare=False, repr=False)

    @classmethod
    def current(cls, root: Path | None = None) -> Config:
        """The configuration as its files are now, loaded again only when one of them changed: a
        long-lived process (`huizong serve`) keeps one Config, so its validator and readers stay
        warm between runs, and still picks up a bureau's edit at its next run."""
        root = Path(root or DEFAULT_CONFIG).resolve()
        stamp = _stamp(root) + tuple(s for d in _extra_dirs(root) for s in _stamp(d))
        held = _CURRENT.get(root)
        if held is None or held[0] != stamp:
            _CURRENT[root] = held = (stamp, cls.load(root))
        return held[1]

    @classmethod
    def load(cls, root: Path | None = None) -> Config:
        root = Path(root or DEFAULT_CONFIG)
        cat_dir = root / "catalog"
        path = cat_dir / "rules.toml"
        try:
            rules = Rules.from_toml(tomllib.loads(path.read_text(encoding="utf-8")))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError, RulesError, LimitsError) as e:
            raise CatalogError(f"{path}: {e}") from e
        try:
            forms = load_forms(root, rules.forms.dirs)
            labels = load_header_labels(root)
        except FormError as e:
            raise CatalogError(str(e)) from e
        catalogs: dict[str, Catalog] = {}
        for form in forms:
            catalogs[form.id] = Catalog.load(form.indicators) if form.indicators else Catalog.of_measures(form)
        try:
            check_names(forms, {k: [i.code for i in c] for k, c in catalogs.items()})
        except FormError as e:
            raise CatalogError(str(e)) from e
        try:
            notices = Notices.load(cat_dir / "notices.toml")
        except NoticesError as e:
            raise CatalogError(str(e)) from e
        return cls(
            root=root,
            notices=notices,
            divisions=Divisions.load(cat_dir / "divisions.csv"),
            units=Units.load(cat_dir / "units.csv", rules.unit_prefixes),
            rules=rules,
            deadlines=_deadlines(cat_dir / "deadlines.toml"),
            forms=tuple(forms),
            catalogs=catalogs,
            header_labels=labels,
        )

    @cached_property
    def form_by_id(self) -> dict[str, Form]:
        return {f.id: f for f in self.forms}

    def for_form(self, form_id: str) -> FormConfig:
        """One form in this configuration: the form, its catalog (its indicators, or the measures
        summed from its list) and its deadlines (its own, else the city's). One object per form, kept."""
        if form_id not in self._views:
            form = self.form_by_id[form_id]
            due = dict(form.due) if form.due else self.deadlines
            self._views[form_id] = FormConfig(self, form, self.catalogs[form_id], due)
        return self._views[form_id]

    def labels_for(self, form: Form) -> dict[str, tuple[str, ...]]:
        """The header block's labels of a form: the shared ones and its own."""
        out = dict(self.header_labels)
        for key, extra in form.header_labels.items():
            out[key] = (*out.get(key, ()), *extra)
        return out

    @property
    def limits(self) -> Limits:
        return self.rules.limits

    @property
    def suites_dir(self) -> Path:
        return self.root / "suites"


@dataclass(frozen=True, eq=False)
class FormConfig:
    """One form seen in its configuration: what every step that concerns one form is given.

    `form`, `catalog` and `deadlines` are that form's; the city's shared settings (divisions,
    units, rules, header labels, the other forms) are read through from `config`."""

    config: Config
    form: Form
    catalog: Catalog
    deadlines: dict[str, Any]

    @property
    def form_id(self) -> str:
        return self.form.id

    @property
    def root(self) -> Path:
        return self.config.root

    @property
    def divisions(self) -> Divisions:
        return self.config.divisions

    @property
    def units(self) -> Units:
        return self.config.units

    @property
    def rules(self) -> Rules:
        return self.config.rules

    @property
    def limits(self) -> Limits:
        return self.config.rules.limits

    @property
    def forms(self) -> tuple[Form, ...]:
        return self.config.forms

    @property
    def form_by_id(self) -> dict[str, Form]:
        return self.config.form_by_id

    def labels_for(self, form: Form) -> dict[str, tuple[str, ...]]:
        return self.config.labels_for(form)

    def for_form(self, form_id: str) -> FormConfig:
        return self.config.for_form(form_id)


_CURRENT: dict[Path, tuple[tuple[tuple[str, int, int], ...], Config]] = {}


def _extra_dirs(root: Path) -> list[Path]:
    """The `[forms] dirs` of a configuration, as its rules.toml says now (none if it cannot be read)."""
    try:
        data = tomllib.loads((root / "catalog" / "rules.toml").read_text(encoding="utf-8"))
        dirs = data.get("forms", {}).get("dirs", [])
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, AttributeError):
        return []
    return [p for p in form_folders(root, [d for d in dirs if isinstance(d, str)])[1:] if p.is_dir()]


def _stamp(root: Path) -> tuple[tuple[str, int, int], ...]:
    """Every file of a configuration folder with its size and modification time."""
    out = []
    for path in sorted(root.rglob("*")):
        try:
            st = path.stat()
        except OSError:
            continue
        if path.is_file():
            out.append((str(path.relative_to(root)), st.st_size, st.st_mtime_ns))
    return tuple(out)


def _deadlines(path: Path) -> dict[str, Any]:
    """When each kind of period is due ("MM-DD"), and which fall due the next year."""
    import datetime as dt

    try:
        due = tomllib.loads(path.read_text(encoding="utf-8"))["due"]
        for kind in ("Q1", "H1", "Q3", "FY"):
            month, day = (int(x) for x in str(due[kind]).split("-"))
            dt.date(2024, month, day)
        if not isinstance(due.get("next_year", []), list):
            raise ValueError("next_year 应为列表")
    except (OSError, tomllib.TOMLDecodeError, KeyError, ValueError, TypeError) as e:
        raise CatalogError(f"{path}: 截止日期配置有误：{type(e).__name__}: {e}") from e
    return dict(due)
