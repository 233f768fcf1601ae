"""Read and check form definitions: a wrong definition stops with one line naming file, row and field.

`load_forms(root)` reads every `forms/<id>/form.toml` under the configuration folder;
`check_form(folder, …)` reads one (for `huizong forms check DIR`). Names a rule or a measure
reads are checked against the fields the form has, once the indicator catalogs are known
(`check_names`), so a misspelt field is refused at load, not met at night.
"""

from __future__ import annotations

import ast
import csv
import re
import tomllib
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from huizong.forms.expr import DATE, FUNCTIONS, NUMBER, TEXT, Expr, ExprError, check_types, parse
from huizong.forms.model import (
    COLUMN_ROLES,
    FIELD_TYPES,
    FREQUENCIES,
    SCOPES,
    SEVERITIES,
    Form,
    ListField,
    ListPart,
    Measure,
    Rule,
    VocabularyError,
    fold,
    vocabulary,
)
from huizong.read.periods import GRAINS, KIND_ZH, KINDS, Period

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_CODE = re.compile(r"^[A-Za-z_\u4e00-\u9fff][A-Za-z0-9_\u4e00-\u9fff]{0,39}$")
_RULE_CODE = re.compile(r"^[a-z][a-z0-9-]{1,59}$")
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")

# Names every rule may read besides the form's fields: the return's county, its period's first and
# last day, and the period's year and month (the last month of a cumulative period).
RETURN_NAMES = ("county", "period_start", "period_end", "period_year", "period_month")
RETURN_TYPES = {"county": TEXT, "period_start": DATE, "period_end": DATE, "period_year": NUMBER, "period_month": NUMBER}
FIELD_TYPE_OF = {
    "seq": NUMBER,
    "text": TEXT,
    "id": TEXT,
    "choice": TEXT,
    "uscc": TEXT,
    "number": NUMBER,
    "integer": NUMBER,
    "date": DATE,
}


def field_types(part: ListPart | None) -> dict[str, str]:
    """The type the rule language gives each field of a list."""
    return {f.code: FIELD_TYPE_OF[f.type] for f in part.fields} if part is not None else {}


_FORM_KEYS = {
    "name",
    "short_name",
    "table_no",
    "issuer",
    "frequency",
    "periods",
    "sums",
    "order",
    "due",
    "sheet",
    "header",
    "indicators",
    "list",
    "measures",
    "rules",
    "outputs",
    "suites",
    "title",
    "workbook",
    "projects",
}
HEADER_KEYS = ("office", "county_code", "period", "filled_by", "phone", "fill_date", "head")


# The suites an indicator form gets when its form.toml names none: the checks any indicator table needs.
GENERIC_SUITES = ("suites/facts.json", "suites/coverage.json", "suites/ratios.json")


class FormError(ValueError):
    "A form definition is wrong; the message is one line naming file, row and field"


def load_header_labels(config_root: Path) -> dict[str, tuple[str, ...]]:
    """The header block's labels every form shares (`forms/header.toml`)."""
    path = config_root / "forms" / "header.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise FormError(f"{path}: {e}") from e
    out = {}
    for key, value in data.items():
        if key not in HEADER_KEYS:
            raise FormError(f"{path}: {key}: 不认识的表头项（可用：{', '.join(HEADER_KEYS)}）")
        out[key] = _strings(value, f"{path}: {key}")
    return out


def form_folders(config_root: Path, extra: Iterable[str] = ()) -> list[Path]:
    """The folders that hold form definitions: `<config>/forms/` and those `[forms] dirs` lists."""
    out = [config_root / "forms"]
    for d in extra:
        path = Path(d).expanduser()
        out.append(path if path.is_absolute() else (config_root / path).resolve())
    return out


def load_forms(config_root: Path, extra: Iterable[str] = ()) -> list[Form]:
    """Every form under `<config>/forms/` and the folders of `[forms] dirs`, in their `order`, then
    by id. Two forms with one id are refused."""
    try:  # the default column labels every form's templates and messages use
        vocabulary()
    except VocabularyError as e:
        raise FormError(str(e)) from e
    folders = form_folders(config_root, extra)
    if not folders[0].is_dir():
        raise FormError(f"{folders[0]}: 没有报表定义文件夹")
    forms: list[Form] = []
    seen: dict[str, Path] = {}
    for folder in folders:
        if not folder.is_dir():
            raise FormError(f"{folder}: [forms] dirs 中的文件夹不存在")
        for d in sorted(folder.iterdir()):
            if (d / "form.toml").is_file():
                if d.name in seen:
                    raise FormError(f"{d}: 报表代码 {d.name} 已由 {seen[d.name]} 使用")
                seen[d.name] = d
                forms.append(read_form(d, config_root))
    if not forms:
        raise FormError(f"{folders[0]}: 没有任何报表定义（每张报表一个文件夹，内有 form.toml）")
    return sorted(forms, key=lambda f: (f.order, f.id))


def read_form(folder: Path, config_root: Path) -> Form:
    path = folder / "form.toml"
    form_id = folder.name
    if not _ID.match(form_id):
        raise FormError(f"{folder}: 报表文件夹名 {form_id!r} 应为小写字母、数字和连字符（如 tech-contracts）")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise FormError(f"{path}: 无法读取：{e}") from e
    except tomllib.TOMLDecodeError as e:
        raise FormError(f"{path}: TOML 格式错误：{e}") from e
    unknown = sorted(set(data) - _FORM_KEYS)
    if unknown:
        raise FormError(f"{path}: 不认识的设置 {', '.join(unknown)}（可用：{', '.join(sorted(_FORM_KEYS))}）")
    name = _text(data, "name", path, required=True)
    frequency = _text(data, "frequency", path) or "cumulative"
    if frequency not in FREQUENCIES:
        raise FormError(
            f"{path}: frequency = {frequency!r} 应为 {'、'.join(FREQUENCIES)} 之一"
            "（year 年报，half 半年报，quarter 季报，month 月报，cumulative 一季度/上半年/前三季度/全年累计）"
        )
    periods, sums = _periods(data, frequency, path)
    order = data.get("order", 100)
    if not isinstance(order, int) or isinstance(order, bool):
        raise FormError(f"{path}: order 应为整数")
    sheet = _table(data, "sheet", path)
    header = _table(data, "header", path)
    labels: dict[str, tuple[str, ...]] = {}
    for key, value in header.items():
        if key not in HEADER_KEYS:
            raise FormError(f"{path}: [header] {key}: 不认识的表头项（可用：{', '.join(HEADER_KEYS)}）")
        labels[key] = _strings(value, f"{path}: [header] {key}")
    indicators = None
    table_header: tuple[str, ...] = ()
    table_exact: tuple[str, ...] = ()
    roles: tuple[tuple[str, frozenset[str], tuple[str, ...]], ...] = ()
    column_labels: dict[str, str] = {}
    if "indicators" in data:
        part = _table(data, "indicators", path)
        _only(part, {"catalog", "header", "header_exact", "columns"}, f"{path}: [indicators]")
        roles, column_labels = _column_roles(
            part.get("columns"), f"{path}: [indicators.columns]", COLUMN_ROLES, ("name", "value")
        )
        catalog = _text(part, "catalog", path, required=True, where="[indicators] ")
        # beside the form first (a form installed from elsewhere), else from the configuration folder
        indicators = (folder / catalog).resolve() if (folder / catalog).is_file() else (config_root / catalog).resolve()
        if not indicators.is_file():
            raise FormError(f"{path}: [indicators] catalog = {catalog!r}：文件不存在")
        table_header = _strings(part.get("header", []), f"{path}: [indicators] header")
        table_exact = _strings(part.get("header_exact", []), f"{path}: [indicators] header_exact")
    if "projects" in data:
        raise FormError(
            f"{path}: [projects] 已改为 [list]：明细表是指标表报表的一张附表，字段写在 fields.csv，"
            "与指标的核对写在 rules.csv（见 docs/forms.md §6）"
        )
    list_part = None
    if "list" in data:
        list_part = _read_list(folder, _table(data, "list", path), path)
    if indicators is None and list_part is None:
        raise FormError(f"{path}: 报表至少应有 [indicators]（指标表）或 [list]（明细表）之一")
    measures: tuple[Measure, ...] = ()
    if "measures" in data:
        if list_part is None or indicators is not None:
            raise FormError(
                f"{path}: [measures] 只用于只有 [list] 的明细表报表：汇总数从明细表计算（指标表的指标在其 catalog 中）"
            )
        m = _table(data, "measures", path)
        _only(m, {"file"}, f"{path}: [measures]")
        measures = _read_measures(folder / _text(m, "file", path, required=True, where="[measures] "), list_part)
    if list_part is not None and indicators is None and not measures:
        raise FormError(f"{path}: 明细表报表应在 [measures] 中给出要汇总的数（如合同数 count()、金额 sum(amount)）")
    rules: tuple[Rule, ...] = ()
    if "rules" in data:
        r = _table(data, "rules", path)
        _only(r, {"file"}, f"{path}: [rules]")
        rules = _read_rules(folder / _text(r, "file", path, required=True, where="[rules] "))
    outputs = _text(data, "outputs", path) or "{region}/{form}/{period}"
    if not re.fullmatch(r"\{region\}(/[^/{}.]+|/\{form\})*/\{period\}", outputs):
        raise FormError(
            f'{path}: outputs = {outputs!r} 应形如 "{{region}}/{{form}}/{{period}}"（以 {{region}} 开头、{{period}} 结尾）'
        )
    workbook = _text(data, "workbook", path) or "{short_name}汇总_{region_name}_{period}.xlsx"
    if not workbook.endswith(".xlsx") or "/" in workbook or "{period}" not in workbook:
        raise FormError(f"{path}: workbook = {workbook!r} 应为含 {{period}} 的 .xlsx 文件名")
    try:
        workbook.format(short_name="", region_name="", period="")
    except (KeyError, IndexError, ValueError) as e:
        raise FormError(
            f"{path}: workbook = {workbook!r}：只能用 {{short_name}}、{{region_name}}、{{period}}（{e}）"
        ) from None
    suites = _strings(data.get("suites", list(GENERIC_SUITES) if indicators is not None else []), f"{path}: suites")
    for pattern in suites:
        if ".." in pattern or pattern.startswith("/") or not list(config_root.glob(pattern)):
            raise FormError(f"{path}: suites 中的 {pattern!r} 在配置文件夹中找不到")
    return Form(
        title=_text(data, "title", path) or f"{_text(data, 'short_name', path) or name}汇总表",
        workbook=workbook,
        suites=suites,
        id=form_id,
        root=folder,
        name=name,
        short_name=_text(data, "short_name", path) or name,
        table_no=_text(data, "table_no", path),
        issuer=_text(data, "issuer", path),
        frequency=frequency,
        order=order,
        due=_due(data.get("due"), frequency, periods, path),
        periods=periods,
        sums=sums,
        sheet_names=_strings(sheet.get("names", []), f"{path}: [sheet] names"),
        header_labels=labels,
        indicators=indicators,
        table_header=table_header,
        table_header_exact=table_exact,
        column_roles=roles,
        column_labels=column_labels,
        list=list_part,
        measures=measures,
        rules=rules,
        outputs=outputs,
    )


Roles = tuple[tuple[str, frozenset[str], tuple[str, ...]], ...]


def _column_roles(
    value: object, where: str, allowed: tuple[str, ...], needed: tuple[str, ...]
) -> tuple[Roles, dict[str, str]]:
    """role = { label = "…", equals = [...], contains = [...] }, tried in the order written; the label
    is how templates and messages name the column (default: its first cue)."""
    if not isinstance(value, dict) or not value:
        raise FormError(f'{where}：应写出各栏的表头文字，如 value = {{ label = "本期数", contains = ["本期"] }}')
    out = []
    labels: dict[str, str] = {}
    for role, cues in value.items():
        if role not in allowed:
            raise FormError(f"{where} {role}：不认识的栏目角色（可用：{', '.join(allowed)}）")
        if not isinstance(cues, dict):
            raise FormError(f"{where} {role}：应为 {{ label = ..., equals = [...], contains = [...] }}")
        _only(cues, {"label", "equals", "contains"}, f"{where} {role}")
        exact = _strings(cues.get("equals", []), f"{where} {role}.equals") if "equals" in cues else ()
        contained = _strings(cues.get("contains", []), f"{where} {role}.contains") if "contains" in cues else ()
        if not exact and not contained:
            raise FormError(f"{where} {role}：equals 和 contains 至少写一个")
        label = cues.get("label", (contained or exact)[0])
        if not isinstance(label, str) or not label.strip():
            raise FormError(f"{where} {role}.label 应为文字")
        labels[role] = label.strip()
        out.append((role, frozenset(fold(x) for x in exact), tuple(fold(x) for x in contained)))
    missing = [r for r in needed if r not in labels]
    if missing:
        raise FormError(f"{where}：缺少 {', '.join(missing)} 栏")
    return tuple(out), labels


def _periods(data: dict[str, Any], frequency: str, path: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """`periods`: the kinds of its grain the form collects (default: all of them); `sums`: the
    cumulative kinds (一季度, 上半年, 前三季度, 全年) that a monthly, quarterly or half-yearly form's
    returns are summed into (default: every one longer than a single return)."""
    grain = GRAINS[frequency]
    periods = _strings(data["periods"], f"{path}: periods") if "periods" in data else grain
    wrong = [p for p in periods if p not in grain]
    if wrong or len(set(periods)) != len(periods):
        raise FormError(
            f"{path}: periods 中的 {', '.join(wrong) or '重复项'} 不是 frequency = {frequency!r} 的报告期"
            f"（可用：{'、'.join(f'{k}（{KIND_ZH[k]}）' for k in grain)}）"
        )
    periods = tuple(k for k in grain if k in periods)
    if frequency in ("year", "cumulative"):
        if data.get("sums"):
            raise FormError(f"{path}: sums 只用于按月、按季、按半年报送的报表（把各期相加为上半年、全年等）")
        return periods, ()
    lengths = {len(Period(2000, k).months) for k in periods}
    default = tuple(k for k in KINDS if len(Period(2000, k).months) > max(lengths))
    sums = _strings(data["sums"], f"{path}: sums") if data.get("sums") else (() if "sums" in data else default)
    wrong = [k for k in sums if k not in KINDS]
    if wrong:
        raise FormError(f"{path}: sums 中的 {', '.join(wrong)} 应为 Q1、H1、Q3、FY（一季度、上半年、前三季度、全年）")
    for k in sums:  # a summed period must be made of collected periods, whole
        q = Period(2000, k)
        form_parts = [Period(2000, p) for p in periods if set(Period(2000, p).months) <= set(q.months)]
        covered = sorted(m for p in form_parts for m in p.months)
        if covered != list(q.months):
            raise FormError(f"{path}: sums 中的 {k}（{KIND_ZH[k]}）不能由本表收的报告期（{'、'.join(periods)}）拼成")
    return periods, tuple(k for k in KINDS if k in sums)


def _due(value: object, frequency: str, periods: tuple[str, ...], path: Path) -> dict[str, object]:
    """Summed grains (month, quarter, half): due = "+1-05" (the 5th of the month after the period
    ends); year and cumulative forms: a table of kind = "MM-DD" for each period collected, and
    next_year = [kinds due the year after], or nothing (catalog/deadlines.toml)."""
    if value is None:
        if frequency in ("month", "quarter", "half"):
            raise FormError(
                f'{path}: 缺少 due：按{_GRAIN_ZH[frequency]}报送的报表写 due = "+1-05"（报告期结束后次月 5 日）'
            )
        return {}
    if frequency in ("month", "quarter", "half"):
        m = re.fullmatch(r"\+(\d)-(\d{2})", str(value)) if isinstance(value, str) else None
        if not m or not 1 <= int(m.group(2)) <= 28:
            raise FormError(
                f'{path}: due = {value!r}：按{_GRAIN_ZH[frequency]}报送的报表写 "+1-05"（报告期结束后次月 5 日；日期 1–28）'
            )
        return {"month": (int(m.group(1)), int(m.group(2)))}
    example = ", ".join(f'{k} = "{_EXAMPLE_DUE[k]}"' for k in periods)
    if not isinstance(value, dict):
        later = ', next_year = ["FY"]' if "FY" in periods else ""
        raise FormError(f"{path}: due 应为一个表，如 due = {{ {example}{later} }}")
    allowed = {*periods, "next_year"}
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise FormError(f"{path}: due 中的 {', '.join(unknown)} 不是本表收的报告期（{'、'.join(periods)}）")
    for kind in periods:
        text = value.get(kind)
        if text is None:
            raise FormError(
                f'{path}: due 缺少 {kind}（本表收{KIND_ZH[kind]}报表，写出截止日期，如 {kind} = "{_EXAMPLE_DUE[kind]}"）'
            )
        if not isinstance(text, str) or not _valid_day(text):
            raise FormError(f'{path}: due.{kind} = {text!r}：截止日期写作 "MM-DD"，如 "{_EXAMPLE_DUE[kind]}"')
    late = value.get("next_year", [])
    if not isinstance(late, list) or any(k not in periods for k in late):
        raise FormError(f'{path}: due.next_year 应列出本表报告期中次年截止的，如 ["FY"]')
    return dict(value)


_GRAIN_ZH = {"month": "月", "quarter": "季", "half": "半年"}
_EXAMPLE_DUE = {"Q1": "04-10", "H1": "07-10", "Q3": "10-10", "FY": "01-20"}


def _valid_day(text: str) -> bool:
    import datetime as dt

    if not re.fullmatch(r"\d{2}-\d{2}", text):
        return False
    try:
        dt.date(2024, int(text[:2]), int(text[3:]))
    except ValueError:
        return False
    return True


def _read_list(folder: Path, part: dict[str, Any], path: Path) -> ListPart:
    _only(part, {"fields", "header", "key", "min_fields", "title", "sheet"}, f"{path}: [list]")
    fields = _read_fields(folder / _text(part, "fields", path, required=True, where="[list] "))
    codes = {f.code for f in fields}
    key = _strings(part["key"], f"{path}: [list] key") if part.get("key") else ()
    for k in key:
        if k not in codes:
            raise FormError(f"{path}: [list] key 中的 {k!r} 不是 fields 中的字段代码（有：{', '.join(sorted(codes))}）")
    if len(set(key)) != len(key):
        raise FormError(f"{path}: [list] key 中的字段重复")
    header = _strings(part.get("header", []), f"{path}: [list] header")
    if not header:
        raise FormError(f'{path}: [list] header：应列出明细表表头行中必有的文字，如 ["序号", "名称"]')
    min_fields = part.get("min_fields", 3)
    if not isinstance(min_fields, int) or isinstance(min_fields, bool) or not 1 <= min_fields <= len(fields):
        raise FormError(f"{path}: [list] min_fields 应为 1 到 {len(fields)} 之间的整数")
    sheets = _strings(part.get("sheet", []), f"{path}: [list] sheet")
    return ListPart(fields, header, key, min_fields, _text(part, "title", path) or "明细", sheets)


FIELD_COLUMNS = (
    "code",
    "name",
    "aliases",
    "type",
    "unit",
    "required",
    "min",
    "max",
    "choices",
    "choice_aliases",
    "pattern",
    "severity",
    "explanation",
)
MEASURE_COLUMNS = ("code", "group", "name", "unit", "expression", "by", "key", "integer")
RULE_COLUMNS = ("code", "scope", "severity", "expression", "field", "message", "periods", "message_en")


def _rows(path: Path, required: Iterable[str], allowed: Iterable[str]) -> list[tuple[int, dict[str, str]]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            columns = [c.strip() for c in reader.fieldnames or []]
            missing = [c for c in required if c not in columns]
            if missing:
                raise FormError(f"{path}:1: 缺少列 {', '.join(missing)}")
            unknown = [c for c in columns if c not in allowed]
            if unknown:
                raise FormError(f"{path}:1: 不认识的列 {', '.join(unknown)}（可用：{', '.join(allowed)}）")
            dupes = sorted({c for c in columns if columns.count(c) > 1})
            if dupes:
                raise FormError(f"{path}:1: 列 {', '.join(dupes)} 重复")
            first = (reader.fieldnames or [""])[0]  # a row whose first cell starts with # is a comment
            return [
                (n, {(k or "").strip(): (v or "").strip() for k, v in r.items() if k})
                for n, r in enumerate(reader, start=2)
                if any((v or "").strip() for v in r.values() if isinstance(v, str))
                and not (r.get(first) or "").lstrip().startswith("#")
            ]
    except FileNotFoundError:
        raise FormError(f"{path}: 文件不存在") from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise FormError(f"{path}: 无法读取：{e}") from e


def _yes(v: str) -> bool:
    return v.strip().lower() in {"y", "yes", "1", "true", "是"}


def _number(v: str, where: str) -> float | None:
    if not v:
        return None
    try:
        return float(v)
    except ValueError:
        raise FormError(f"{where}: 应为数字，而不是 {v!r}") from None


def _read_fields(path: Path) -> tuple[ListField, ...]:
    out: list[ListField] = []
    seen: dict[str, int] = {}
    headers: dict[str, str] = {}
    for n, r in _rows(path, ("code", "name", "type"), FIELD_COLUMNS):
        where = f"{path}:{n}"
        code = r["code"]
        if not _CODE.match(code) or code in FUNCTIONS or code in RETURN_NAMES:
            raise FormError(
                f"{where}: code {code!r}：字段代码应以字母或汉字开头，只含字母、数字、下划线，且不与函数名或 {', '.join(RETURN_NAMES)} 重名"
            )
        if code in seen:
            raise FormError(f"{where}: code {code!r} 重复（第 {seen[code]} 行已有）")
        seen[code] = n
        kind = r["type"]
        if kind not in FIELD_TYPES:
            raise FormError(f"{where}: {code}: type {kind!r} 应为 {'、'.join(FIELD_TYPES)} 之一")
        choices = tuple(c.strip() for c in r.get("choices", "").split("|") if c.strip())
        if kind == "choice" and not choices:
            raise FormError(f"{where}: {code}: type = choice 需要 choices（用 | 分隔）")
        aliases_of: dict[str, str] = {}
        for pair in (p for p in r.get("choice_aliases", "").split("|") if p.strip()):
            spelling, _, meant = pair.partition("=")
            if meant.strip() not in choices:
                raise FormError(f"{where}: {code}: choice_aliases {pair!r}：等号右边应为 choices 中的一项")
            aliases_of[fold(spelling)] = meant.strip()
        pattern = r.get("pattern") or None
        if pattern:
            try:
                re.compile(pattern)
            except re.error as e:
                raise FormError(f"{where}: {code}: pattern 不是有效的正则表达式：{e}") from None
        severity = r.get("severity") or "error"
        if severity not in SEVERITIES:
            raise FormError(f"{where}: {code}: severity {severity!r} 应为 error 或 warning")
        name = r["name"] or code
        unit = r.get("unit", "")
        bracketed = re.fullmatch(r"(.+?)\s*[（(]\s*(.+?)\s*[）)]", name)
        if bracketed and unit and fold(bracketed.group(2)) == fold(unit):  # 营业收入（万元）, unit 万元
            name = bracketed.group(1)  # the unit is shown once, from `unit`
        f = ListField(
            code=code,
            name=name,
            aliases=tuple(
                dict.fromkeys(
                    a.strip()
                    for a in ((r["name"] if name != r["name"] else ""), *r.get("aliases", "").split("|"))
                    if a.strip()
                )
            ),
            type=kind,
            unit=unit,
            required=_yes(r.get("required", "")),
            minimum=_number(r.get("min", ""), f"{where}: {code}: min"),
            maximum=_number(r.get("max", ""), f"{where}: {code}: max"),
            choices=choices,
            choice_aliases=aliases_of,
            pattern=pattern,
            severity=severity,
            explanation=r.get("explanation", ""),
        )
        for h in f.headers:
            if fold(h) in headers and headers[fold(h)] != code:
                raise FormError(f"{where}: {code}: 表头写法 {h!r} 已用于字段 {headers[fold(h)]}")
            headers[fold(h)] = code
        out.append(f)
    if not out:
        raise FormError(f"{path}: 没有任何字段")
    return tuple(out)


def _expr(text: str, where: str) -> Expr:
    try:
        return parse(text)
    except ExprError as e:
        raise FormError(f"{where}: {e}") from None


def _read_measures(path: Path, part: ListPart) -> tuple[Measure, ...]:
    out: list[Measure] = []
    seen: dict[str, int] = {}
    fields = part.by_code
    for n, r in _rows(path, ("code", "name", "expression"), MEASURE_COLUMNS):
        where = f"{path}:{n}"
        code = r["code"]
        if not _CODE.match(code):
            raise FormError(f"{where}: code {code!r}：应以字母开头，只含字母、数字、下划线")
        expr = _expr(r["expression"], f"{where}: {code}: expression")
        unknown = sorted((expr.row_names | expr.names | expr.guarded) - set(fields))
        if unknown and expr.aggregates:
            raise FormError(f"{where}: {code}: expression 中的 {', '.join(unknown)} 不是明细表的字段")
        kind, parts, multiplier = _measure_kind(expr, f"{where}: {code}: expression")
        try:
            check_types(expr, field_types(part))
        except ExprError as e:
            raise FormError(f"{where}: {code}: {e}") from None
        by = r.get("by") or None
        if by is not None and (by not in fields or fields[by].type != "choice"):
            raise FormError(f"{where}: {code}: by = {by!r} 应为 choice 类型的字段")
        if by is not None and kind == "ratio":
            raise FormError(f"{where}: {code}: 比率（两个汇总之比）不能按 by 分项；请为各分项的分子、分母分别写汇总数")
        integer = _yes(r.get("integer", ""))
        if kind == "ratio" and integer:
            raise FormError(f"{where}: {code}: 比率不是整数，integer 应为 n")
        if kind == "ratio":
            num, den = (
                _part(code, suffix, e, r, fields, where, word)
                for suffix, e, word in (("N", parts[0], "分子"), ("D", parts[1], "分母"))
            )
            base = Measure(
                code,
                r.get("group", ""),
                r["name"],
                r.get("unit", ""),
                expr,
                False,
                _yes(r.get("key", "")),
                kind="ratio",
                numerator=num.code,
                denominator=den.code,
                multiplier=multiplier,
            )
            expanded = [base, num, den]
        else:
            base = Measure(
                code,
                r.get("group", ""),
                r["name"],
                r.get("unit", ""),
                expr,
                integer,
                _yes(r.get("key", "")),
                by,
                kind=kind,
            )
            expanded = [base] if by is None else list(_by_choice(base, fields[by].choices, where))
        for m2 in expanded:
            if m2.code in seen:
                raise FormError(f"{where}: code {m2.code!r} 重复（第 {seen[m2.code]} 行已有）")
            seen[m2.code] = n
            out.append(m2)
    return tuple(out)


_MEASURE_HINT = "应为 count(条件)、sum(字段, 条件) 或两个汇总之比（如 100 * sum(rd) / sum(revenue)）"


def _measure_kind(expr: Expr, where: str) -> tuple[str, tuple[ast.expr, ...], Decimal | None]:
    """What kind of measure an expression is (MEASURE_KINDS), with a ratio's two aggregates and its
    factor. Anything else (a sum of ratios, an aggregate plus a constant, a bare field) is refused:
    it would not add up correctly from county to city."""
    tree = expr.tree

    def aggregate(node: ast.expr) -> bool:
        return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("count", "sum")

    def constant(node: ast.expr) -> Decimal | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
            return Decimal(str(node.value))
        return None

    if aggregate(tree):
        return tree.func.id, (tree,), None  # type: ignore[attr-defined]
    factor = Decimal(1)
    node = tree
    # k * (A / B), (A / B) * k, k * A / B, A * k / B, A / B * k
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        for k_node, rest in ((node.left, node.right), (node.right, node.left)):
            k = constant(k_node)
            if k is not None and isinstance(rest, ast.BinOp) and isinstance(rest.op, ast.Div):
                factor, node = k, rest
                break
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        top, bottom = node.left, node.right
        if isinstance(top, ast.BinOp) and isinstance(top.op, ast.Mult) and factor == 1:
            for k_node, rest in ((top.left, top.right), (top.right, top.left)):
                k = constant(k_node)
                if k is not None and aggregate(rest):
                    factor, top = k, rest
                    break
        if aggregate(top) and aggregate(bottom):
            if factor <= 0:
                raise FormError(f"{where}: 比率的系数应为正数")
            return "ratio", (top, bottom), factor
    raise FormError(f"{where}: {_MEASURE_HINT}，而不是 {expr.text}")


def _part(
    code: str, suffix: str, node: ast.expr, row: dict[str, str], fields: Mapping[str, ListField], where: str, word: str
) -> Measure:
    """A ratio's numerator or denominator as a measure of its own (RDI_N, RDI_D), so that every
    level above the county recomputes the ratio from the summed parts."""
    text = ast.unparse(node)
    expr = _expr(text, where)
    fn = node.func.id  # type: ignore[attr-defined]
    unit = "个"
    if fn == "sum" and isinstance(node.args[0], ast.Name) and node.args[0].id in fields:  # type: ignore[attr-defined]
        unit = fields[node.args[0].id].unit  # type: ignore[attr-defined]
    elif fn == "sum":
        unit = ""
    return Measure(
        f"{code}_{suffix}",
        row.get("group", ""),
        f"{row['name']}：{word}（{text}）",
        unit,
        expr,
        fn == "count",
        False,
        kind=fn,
        part_of=code,
    )


def _by_choice(base: Measure, choices: tuple[str, ...], where: str) -> Iterable[Measure]:
    """One measure per choice of `base.by`: its condition and the choice's, joined with `and`."""
    by = base.by
    for i, choice in enumerate(choices, start=1):
        cond = f'{by} == "{choice}"'
        m = re.fullmatch(r"\s*(count|sum)\s*\((.*)\)\s*", base.expr.text)
        assert m is not None
        fn, args = m.group(1), m.group(2).strip()
        if fn == "count":
            text = f"count({cond})" if not args else f"count(({args}) and {cond})"
        else:
            value, _, filt = args.partition(",")
            text = f"sum({value}, {cond})" if not filt.strip() else f"sum({value}, ({filt}) and {cond})"
        yield Measure(
            f"{base.code}_{i:02d}",
            base.group,
            f"{base.name}（{choice}）",
            base.unit,
            _expr(text, where),
            base.integer,
            False,
            by,
            choice,
            kind=base.kind,
        )


def _read_rules(path: Path) -> tuple[Rule, ...]:
    out: list[Rule] = []
    seen: dict[str, int] = {}
    for n, r in _rows(path, ("code", "scope", "severity", "expression", "message"), RULE_COLUMNS):
        where = f"{path}:{n}"
        code = r["code"]
        if not _RULE_CODE.match(code):
            raise FormError(f"{where}: code {code!r}：规则代码应为小写字母、数字和连字符，如 amount-exceeds")
        if code in seen:
            raise FormError(f"{where}: code {code!r} 重复（第 {seen[code]} 行已有）")
        seen[code] = n
        if r["scope"] not in SCOPES:
            raise FormError(f"{where}: {code}: scope {r['scope']!r} 应为 row（逐行）或 return（整张报表）")
        if r["severity"] not in SEVERITIES:
            raise FormError(f"{where}: {code}: severity {r['severity']!r} 应为 error 或 warning")
        expr = _expr(r["expression"], f"{where}: {code}: expression")
        if r["scope"] == "row" and expr.aggregates:
            raise FormError(f"{where}: {code}: count() 和 sum() 只能用于 scope = return 的规则")
        if r["scope"] == "return" and expr.is_unique:
            raise FormError(f"{where}: {code}: unique() 只能用于 scope = row 的规则")
        if not r["message"]:
            raise FormError(f"{where}: {code}: message 不能为空")
        for placeholder in _PLACEHOLDER.findall(r["message"]):
            _expr(placeholder, f"{where}: {code}: message 中的 {{{placeholder}}}")
        periods = tuple(p.strip() for p in r.get("periods", "").split("|") if p.strip())
        out.append(
            Rule(
                code,
                r["scope"],
                r["severity"],
                expr,
                r["message"],
                r.get("field") or None,
                periods,
                r.get("message_en", ""),
                where,
            )
        )
    return tuple(out)


def check_names(forms: list[Form], indicator_codes: Mapping[str, Iterable[str]]) -> None:
    """Every name a rule reads exists: a list field (row rules, and inside count()/sum()), an
    indicator or a measure of the form (return rules), a name of RETURN_NAMES; every form()
    names a form and one of its fields; every rule's period kinds are the form's."""
    by_id = {f.id: f for f in forms}
    numbers = {f.id: set(indicator_codes.get(f.id, ())) | {m.code for m in f.measures} for f in forms}
    for form in forms:
        list_fields = set(form.list.by_code) if form.list else set()
        kinds = set(form.periods) | set(form.sums)
        row_types = {**field_types(form.list), **RETURN_TYPES}
        return_types = {**dict.fromkeys(numbers[form.id], NUMBER), **RETURN_TYPES}
        for rule in form.rules:
            for u in rule.expr.uniques:
                if form.list is None:
                    raise FormError(f"{rule.source}: {rule.code}: unique() 只能用于明细表")
                unknown = [f for f in u.fields if f not in form.list.by_code]
                if unknown:
                    raise FormError(f"{rule.source}: {rule.code}: unique() 中的 {', '.join(unknown)} 不是明细表的字段")
                if u.scope == "ever" and u.fields != form.list.key:
                    raise FormError(
                        f"{rule.source}: {rule.code}: {u.text} 与历年所有报表比对，只能用于明细表的 key"
                        f"（[list] key = {list(u.fields)!r}，它在账本中建有索引）；其他字段请写范围，"
                        f'如 unique({", ".join(u.fields)}, "本期") 或 "近3年"'
                    )
            known = (list_fields if rule.scope == "row" else numbers[form.id]) | set(RETURN_NAMES)
            texts = [(rule.expr, known), *((parse(p), known | {"other"}) for p in _PLACEHOLDER.findall(rule.message))]
            for e, names in texts:
                unknown = sorted((e.names | e.guarded) - names)
                if unknown:
                    raise FormError(
                        f"{rule.source}: {rule.code}: {', '.join(unknown)} 不是本表的字段"
                        f"（{'明细表字段' if rule.scope == 'row' else '指标或汇总数'}：{', '.join(sorted(known - set(RETURN_NAMES)))}）"
                    )
                bad_rows = sorted(e.row_names - list_fields)
                if bad_rows:
                    raise FormError(
                        f"{rule.source}: {rule.code}: count()/sum() 中的 {', '.join(bad_rows)} 不是明细表的字段"
                    )
                try:
                    check_types(e, (row_types if rule.scope == "row" else return_types) | {"other": TEXT}, row_types)
                except ExprError as err:
                    raise FormError(f"{rule.source}: {rule.code}: {err}") from None
                for other, fld in e.forms:
                    if other not in by_id:
                        raise FormError(
                            f"{rule.source}: {rule.code}: form({other!r}, …)：没有这张报表（有：{', '.join(sorted(by_id))}）"
                        )
                    if fld not in numbers[other]:
                        raise FormError(
                            f"{rule.source}: {rule.code}: form({other!r}, {fld!r})：该表没有这个指标或汇总数"
                        )
            if rule.field is not None and rule.field not in (list_fields if rule.scope == "row" else numbers[form.id]):
                raise FormError(f"{rule.source}: {rule.code}: field = {rule.field!r} 不是本表的字段")
            for p in rule.periods:
                if p not in kinds:
                    raise FormError(
                        f"{rule.source}: {rule.code}: periods 中的 {p!r} 不是本表的报告期（{'、'.join(sorted(kinds))}）"
                    )


# helpers ---------------------------------------------------------------------------------


def _text(data: dict[str, Any], key: str, path: Path, required: bool = False, where: str = "") -> str:
    value = data.get(key)
    if value is None:
        if required:
            raise FormError(f"{path}: {where}缺少 {key}")
        return ""
    if not isinstance(value, str):
        raise FormError(f"{path}: {where}{key} 应为文字")
    return value.strip()


def _table(data: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise FormError(f"{path}: [{key}] 应为一个表")
    return value


def _strings(value: object, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise FormError(f"{where} 应为文字列表")
    return tuple(v.strip() for v in value)


def _only(part: dict[str, Any], keys: set[str], where: str) -> None:
    unknown = sorted(set(part) - keys)
    if unknown:
        raise FormError(f"{where} 不认识的设置 {', '.join(unknown)}（可用：{', '.join(sorted(keys))}）")
