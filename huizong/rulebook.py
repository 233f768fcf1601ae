"""The rule settings a city edits (`rules.toml`), as typed data: one source for each thing.

The expectations themselves live in `expectations/suites/*.json` (the pairs approved <= applied
among them); their thresholds and the vocabulary they need live here. An unknown key or a wrong
type is a CatalogError naming the file, never a silent default.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from huizong.limits import Limits


class RulesError(ValueError):
    "rules.toml is malformed"


@dataclass(frozen=True)
class HistoryRules:
    """[history]: the thresholds of the rules that compare with the store and the other counties."""

    last_year_relative_tolerance: float = 0.005
    last_year_absolute_tolerance: float = 0.01
    jump_factor: float = 5
    outlier_z: float = 3.5
    outlier_min_counties: int = 5
    outlier_min_factor: float = 10
    jump_hints: dict[int, str] = field(default_factory=dict)


UPWARD = {  # [totals] upward: what a province's (the nation's) totals count, in the words every output shows
    "all": "汇总口径：全部已接收的县区报表（不论所在市州是否已审核通过）",
    "approved": "汇总口径：只计入已审核通过（已上报）的市州的县区报表，省直管县计入已审核通过的报表",
}


@dataclass(frozen=True)
class TotalsRules:
    """[totals]: what the totals above a city count."""

    upward: str = "all"  # all | approved

    @property
    def basis(self) -> str:
        return UPWARD[self.upward]


@dataclass(frozen=True)
class FormsRules:
    """[forms]: folders besides the configuration's own `forms/` that hold form definitions (one
    sub-folder per form, each with its form.toml): how a deployment installs a form without copying
    the configuration. A relative path is taken from the configuration folder."""

    dirs: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeskRules:
    """[desk]: what the review desk shows and allows."""

    peers: str = "reviewers"  # who sees other counties' median beside a return: reviewers | everyone
    uploads_per_day: int = 30  # uploads a county may make in a day (China time)
    upload_mb_per_day: int = 200  # megabytes a county may upload in a day


PEERS = ("reviewers", "everyone")


@dataclass(frozen=True)
class Rules:
    unit_prefixes: dict[str, Decimal] = field(default_factory=dict)
    history: HistoryRules = field(default_factory=HistoryRules)
    limits: Limits = field(default_factory=Limits)
    totals: TotalsRules = field(default_factory=TotalsRules)
    forms: FormsRules = field(default_factory=FormsRules)
    desk: DeskRules = field(default_factory=DeskRules)

    @classmethod
    def from_toml(cls, data: dict[str, Any]) -> Rules:
        known = {"unit_prefixes", "history", "limits", "totals", "forms", "desk"}
        moved = sorted({"project_detail", "detail"} & set(data))
        if moved:
            raise RulesError(
                f"[{'] ['.join(moved)}] 已移入表单定义：项目类别、状态写在 forms/<报表>/fields.csv 的 "
                "choices，与指标的核对写在 forms/<报表>/rules.csv（见 docs/forms.md §6）"
            )
        unknown = sorted(set(data) - known)
        if unknown:
            raise RulesError(f"不认识的设置：{', '.join(unknown)}")
        try:
            prefixes = {str(k): Decimal(str(v)) for k, v in _table(data, "unit_prefixes").items()}
        except ArithmeticError as e:
            raise RulesError(f"[unit_prefixes]: {e}") from e
        hist = dict(_table(data, "history"))
        hints = hist.pop("jump_hints", {})
        try:
            jump_hints = {int(k): str(v) for k, v in dict(hints).items()}
        except (TypeError, ValueError) as e:
            raise RulesError(f"[history.jump_hints]: {e}") from e
        history = _build(HistoryRules, {**hist, "jump_hints": jump_hints}, "history")
        totals = _build(TotalsRules, _table(data, "totals"), "totals")
        if totals.upward not in UPWARD:
            raise RulesError(f"[totals] upward 应为 {' 或 '.join(UPWARD)}，而不是 {totals.upward!r}")
        forms = _build(FormsRules, _table(data, "forms"), "forms")
        desk = _build(DeskRules, _table(data, "desk"), "desk")
        if desk.peers not in PEERS:
            raise RulesError(f"[desk] peers 应为 {' 或 '.join(PEERS)}，而不是 {desk.peers!r}")
        return cls(prefixes, history, Limits.from_rules(_table(data, "limits")), totals, forms, desk)


def _table(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise RulesError(f"[{name}] 应为一个表")
    return value


def _build(cls: Any, values: dict[str, Any], section: str) -> Any:
    types = {f.name: f.type for f in fields(cls)}
    unknown = sorted(set(values) - set(types))
    if unknown:
        raise RulesError(f"[{section}] 不认识的设置：{', '.join(unknown)}")
    out: dict[str, Any] = {}
    for name, v in values.items():
        kind = str(types[name])
        if kind.startswith("tuple"):
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise RulesError(f"[{section}] {name} 应为文字列表")
            out[name] = tuple(v)
        elif kind.startswith("dict"):
            if not isinstance(v, dict):
                raise RulesError(f"[{section}] {name} 应为一个表")
            out[name] = dict(v)
        elif kind == "str":
            if not isinstance(v, str):
                raise RulesError(f"[{section}] {name} 应为文字")
            out[name] = v
        else:
            if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
                raise RulesError(f"[{section}] {name} 应为非负数，而不是 {v!r}")
            out[name] = int(v) if kind == "int" else float(v)
    return cls(**out)
