"""Stable issue codes: one registry of every rule's code, default severity and messages.

Codes never change once published: tools downstream (issues.csv readers, the counties'
feedback) key on them. Messages are `str.format` templates; fields a template does not
use are ignored, and a missing field renders as "?" rather than failing.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from huizong.issues import Issue, Severity


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    severity: Severity
    zh: str
    en: str


E, W = Severity.ERROR, Severity.WARNING

_CODES = [
    # the file itself
    Code("file-empty", E, "文件为空（0 字节），请重新报送", "The file is empty (0 bytes)"),
    Code("file-corrupt", E, "文件已损坏，无法打开：{detail}", "The file is corrupt: {detail}"),
    Code(
        "file-encrypted",
        E,
        "文件设有打开密码（{detail}），huizong 无法打开。请在 Excel 中“文件 → 信息 → 保护工作簿 → 用密码进行加密”，"
        "清空密码后保存（WPS：“文件 → 文档加密 → 密码加密”），再重新报送",
        "The workbook is password-protected ({detail}); remove the password and send it again",
    ),
    Code(
        "not-a-workbook",
        E,
        "不是 Excel 工作簿（{detail}），请报送 .xlsx、.xls 或 .xlsm 文件",
        "Not an Excel workbook ({detail})",
    ),
    Code(
        "format-unsupported",
        E,
        "{detail}，无法可靠读取。请{remedy}后重新报送",
        "{detail}: it cannot be read reliably; {remedy}, then send it again",
    ),
    Code(
        "file-over-limits",
        E,
        "文件超出处理限制：{detail}。请核对文件，删除多余的行、列和工作表后重新报送",
        "The file exceeds the reading limits: {detail}",
    ),
    Code(
        "read-crashed",
        E,
        "读取时程序崩溃（{detail}）。原件已保存；请在 Excel 或 WPS 中另存为 .xlsx 后重新报送",
        "The reader crashed on this file ({detail}); the original is kept",
    ),
    Code(
        "file-unreadable",
        E,
        "无法读取文件：{detail}。文件留在收件箱中，请管理员检查文件权限",
        "The file cannot be read: {detail}; it is left in the inbox",
    ),
    Code(
        "formula-no-value",
        E,
        "“{sheet}”表中有 {count} 个单元格是公式但没有保存计算结果（{detail}），"
        "文件可能由程序生成而未经 Excel 计算：请在 Excel 或 WPS 中打开、保存后重新报送",
        "{count} cells of sheet {sheet} hold formulas without saved values ({detail}); open and save the file in Excel",
    ),
    Code(
        "multiple-forms",
        E,
        "一个工作簿中有 {count} 张不同的报表（{detail}），无法确定报送的是哪一张：请每张报表单独报送一个文件",
        "The workbook holds {count} different forms ({detail}); send one form per file",
    ),
    Code(
        "sheet-missing",
        E,
        "未找到“{forms}”表（工作簿中的表：{detail}）",
        "No sheet of any form found ({forms}; sheets: {detail})",
    ),
    Code(
        "form-not-recognised",
        E,
        "“{sheet}”表的表头像“{forms}”表，但没有一行能按其指标的代码或名称认出：这不是“{forms}”表（工作簿中的表：{detail}）",
        "Sheet {sheet} has a header like {forms}, but no row names one of its indicators: not this form (sheets: {detail})",
    ),
    Code(
        "table-header-missing",
        E,
        "“{sheet}”表中未找到含“{detail}”的表头行",
        "No header row with {detail} in sheet {sheet}",
    ),
    Code(
        "column-missing",
        E,
        "表头中未找到“{detail}”列",
        "Column {detail} not found in the table header",
    ),
    # header block
    Code(
        "county-missing",
        E,
        "未能识别填报单位：请在“行政区划代码”后填写六位区划代码",
        "The reporting county could not be identified",
    ),
    Code(
        "county-unknown",
        E,
        "行政区划代码“{value}”不是有效的县级区划代码（GB/T 2260）",
        "{value} is not a county-level GB/T 2260 code",
    ),
    Code(
        "county-outside-city",
        E,
        "{value}（{name}）不属于{region}，请报送本市所辖县区的报表",
        "{value} ({name}) is not a county of {region}",
    ),
    Code(
        "upload-other-county",
        E,
        "这是{value}（{name}）的报表，不能以{own}的名义报送；请上传本县区的报表",
        "This is the return of {value} ({name}), uploaded as {own}'s",
    ),
    Code(
        "period-locked",
        E,
        "{region}{period}已{state}，数据已锁定：本次报送作为更正，待市级审核接收后生效",
        "{region} has approved {period}: this correction waits for a reviewer",
    ),
    Code(
        "county-mismatch",
        E,
        "行政区划代码 {value}（{name}）与填报单位“{detail}”不符",
        "County code {value} ({name}) does not match the office {detail}",
    ),
    Code(
        "period-missing",
        E,
        "未找到报告期：请在“报告期”后填写，如 2024年上半年",
        "No reporting period found",
    ),
    Code(
        "period-unreadable",
        E,
        "报告期“{value}”无法识别（应为 {expected}）",
        "Reporting period {value!r} cannot be read",
    ),
    Code(
        "period-not-collected",
        E,
        "报告期“{value}”是{detail}，本表不收这一期的报表（应为 {expected}）",
        "Reporting period {value!r} ({detail}) is not one this form collects",
    ),
    # rows of the key-indicator table
    Code(
        "indicator-unknown",
        W,
        "指标“{value}”不在指标目录中，本行未汇总",
        "Indicator {value!r} is not in the catalog; the row is ignored",
    ),
    Code(
        "indicator-code-name-mismatch",
        E,
        "{code_label} {indicator} 与{name_label}“{value}”不符（目录中 {indicator} 为“{name}”）",
        "Code {indicator} does not match the name {value!r} (catalog: {name})",
    ),
    Code(
        "indicator-duplicate",
        E,
        "指标 {indicator} {name} 重复填报（另见 {detail}），且数值不同",
        "Indicator {indicator} appears twice with different values (also {detail})",
    ),
    Code(
        "indicator-missing",
        E,
        "缺少必填指标 {indicator} {name}",
        "Required indicator {indicator} {name} is missing",
    ),
    # values
    Code(
        "value-missing",
        E,
        "必填指标 {indicator} {name} 的{value_label}未填写",
        "Required indicator {indicator} {name} has no value",
    ),
    Code(
        "value-redacted",
        E,
        "必填指标 {indicator} {name} 的{column}填为“{value}”（未知或保密），必填指标须填写数值",
        "Required {indicator} {column} is given as {value!r} (unknown or withheld); a number is required",
    ),
    Code(
        "value-not-numeric",
        E,
        "{indicator} {name} 的{column}“{value}”不是数值",
        "{indicator} {column} {value!r} is not a number",
    ),
    Code(
        "value-negative",
        E,
        "{indicator} {name} 的{column}为负数：{value}",
        "{indicator} {column} is negative: {value}",
    ),
    Code(
        "value-not-whole",
        E,
        "{indicator} {name} 应为整数（{unit}），{column}填报为 {value}",
        "{indicator} must be a whole number of {unit}; {column} is {value}",
    ),
    Code(
        "value-implausible",
        E,
        "{indicator} {name} 的{column} {value} 超出合理范围（不应超过 {expected} {unit}），请核对数值和计量单位",
        "{indicator} {column} {value} is beyond what is plausible (at most {expected} {unit})",
    ),
    Code(
        "value-approximate",
        W,
        "{indicator} {name} 的{column}“{value}”为约数，按 {number} {unit} 汇总，请填报准确数",
        "{indicator} {column} {value!r} is approximate; totalled as {number} {unit}",
    ),
    Code(
        "unit-unknown",
        E,
        "{indicator} {name} 的计量单位“{value}”无法换算为目录单位“{unit}”",
        "{indicator}: unit {value!r} cannot be converted to {unit}",
    ),
    Code(
        "ratio-slip",
        W,
        "填报的{name} {value}{unit} 疑似{hint}：按{detail}计算应为 {expected}{unit}（汇总采用重新计算值）",
        "Reported {indicator} {value} looks like a slip of scale ({hint}): its parts give {expected}",
    ),
    Code(
        "ratio-mismatch",
        W,
        "填报的{name} {value}{unit} 与按{detail}重新计算的 {expected}{unit} 不一致（汇总采用重新计算值）",
        "Reported {indicator} {value} differs from {expected} recomputed from {detail}",
    ),
    Code(
        "approved-exceeds-applied",
        E,
        "{name}（{indicator}）{value} 大于{detail}",
        "{indicator} {value} exceeds {detail}",
    ),
    # history and peers (need the store)
    Code(
        "cumulative-decrease",
        E,
        "{indicator} {name} {value_label} {value} 小于同年较早报告期的累计数 {detail}（流量指标应逐期累计、不应减少）",
        "{indicator} {value} is smaller than the earlier period's cumulative {detail}",
    ),
    Code(
        "cumulative-exceeds-later",
        E,
        "{indicator} {name} {value_label} {value} 大于同年较晚报告期的累计数 {detail}（流量指标应逐期累计、不应减少）",
        "{indicator} {value} exceeds the later period's cumulative {detail}",
    ),
    Code(
        "last-year-mismatch",
        W,
        "{indicator} {name} 的{last_label}填报 {value}，而 {detail}",
        "{indicator}: last year given as {value}, but {detail}",
    ),
    Code(
        "yoy-jump",
        W,
        "{indicator} {name} 本期 {value} 是{last_label} {expected} 的 {factor} 倍，{detail}",
        "{indicator} {value} is {factor} times last year's {expected}: {detail}",
    ),
    Code(
        "outlier",
        W,
        "{indicator} {name} {value}{unit} 明显偏离本期其他县区（中位数 {expected}{unit}，稳健 z 值 {detail}），请核实",
        "{indicator} {value} is far from the other counties (median {expected}, robust z {detail})",
    ),
    # the rows of a list form (技术合同 and any list a form defines); {name} is the field's name
    Code("record-value-missing", E, "“{name}”未填写", "{name} is blank"),
    Code("record-not-numeric", E, "“{name}”应为数值，填写的是“{value}”", "{name} should be a number, not {value!r}"),
    Code(
        "record-not-whole", E, "“{name}”应为整数，填写的是“{value}”", "{name} should be a whole number, not {value!r}"
    ),
    Code(
        "record-unit-unknown",
        E,
        "“{name}”的单位无法换算为{unit}：“{value}”",
        "{name}: the unit of {value!r} does not convert to {unit}",
    ),
    Code(
        "record-out-of-range", E, "“{name}”为 {value}，超出允许范围（{detail}）", "{name} is {value}, outside {detail}"
    ),
    Code(
        "record-not-date",
        E,
        "“{name}”应为日期（如 2024-03-02 或 2024年3月2日），填写的是“{value}”",
        "{name} should be a date, not {value!r}",
    ),
    Code(
        "record-choice-unknown",
        E,
        "“{name}”的“{value}”不在规定选项中（{detail}）",
        "{name} {value!r} is not one of {detail}",
    ),
    Code(
        "record-pattern",
        E,
        "“{name}”的“{value}”格式不对（{detail}）",
        "{name} {value!r} does not have the required form ({detail})",
    ),
    Code(
        "record-uscc-invalid",
        E,
        "{name}“{value}”格式不正确（应为 18 位数字或大写字母，不含 I、O、Z、S、V）",
        "{name}: unified social credit code {value!r} is malformed",
    ),
    Code(
        "record-uscc-check-failed",
        E,
        "{name}“{value}”校验位错误（按 GB 32100-2015 第 18 位应为 {expected}）",
        "{name}: unified social credit code {value!r} fails its check character (expected {expected})",
    ),
]

CODES: dict[str, Code] = {c.code: c for c in _CODES}

# The file could not be read as a workbook at all: nothing opens it again (feedback included).
FILE_LEVEL = frozenset(
    {
        "file-empty",
        "file-corrupt",
        "file-encrypted",
        "not-a-workbook",
        "format-unsupported",
        "file-over-limits",
        "read-crashed",
        "file-unreadable",
    }
)


class _Lenient(string.Formatter):
    def get_value(self, key, args, kwargs):
        value = kwargs.get(key) if isinstance(key, str) else None
        return "?" if value is None else value

    def format_field(self, value, format_spec):
        try:
            return super().format_field(value, format_spec)
        except (TypeError, ValueError):
            return str(value)


_FMT = _Lenient()


@dataclass(frozen=True, slots=True)
class Said:
    """A detail said in both languages: the county's words (`zh`) and the maintainers' (`en`). A
    message in one language never carries the other's words (`message_en` is clean English)."""

    zh: str
    en: str

    def __str__(self) -> str:
        return self.zh


def render(code: str, lang: str = "zh", **fields: object) -> str:
    entry = CODES[code]
    template = entry.zh if lang == "zh" else entry.en
    said = {k: (v.zh if lang == "zh" else v.en) for k, v in fields.items() if isinstance(v, Said)}
    return _FMT.format(template, **{**fields, **said})


def make_issue(
    code: str,
    file: str,
    *,
    sheet: str | None = None,
    cell: str | None = None,
    indicator: str | None = None,
    value: object = None,
    severity: Severity | None = None,
    **fields: object,
) -> Issue:
    """Build an Issue with its registered severity and rendered Chinese message."""
    entry = CODES[code]
    message = render(code, "zh", sheet=sheet, cell=cell, indicator=indicator, value=value, **fields)
    message_en = render(code, "en", sheet=sheet, cell=cell, indicator=indicator, value=value, **fields)
    return Issue(
        code=code,
        severity=severity or entry.severity,
        message=message,
        file=file,
        sheet=sheet,
        cell=cell,
        indicator=indicator,
        value=value,
        message_en=message_en,
    )
