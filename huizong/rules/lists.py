"""What a form's definition asks of a batch: its fields' types, lists and bounds, its rules (the
expression language of `huizong.forms.expr`), its measures; as tables for Great Expectations.

Two frames per form: `records` (one row per list record: the field values, `<field>__filled`,
`<field>__valid`, one `rule__<code>` column per row rule) and `returns` (one row per return: its
indicators or measures, the names every rule may read, one `rule__<code>` column per return
rule). `suites_for(form)` writes the expectations that check them, generated from the
definition; the Validator runs them with the other suites and maps each failing row back to the
file, sheet, cell and field (`issue_for`).

Rules that see beyond the return: `unique(field)` against every accepted return of the form in the
store and the batch (a correction of the same county and period does not collide with the return
it replaces), and `form("other", "CODE")` against the other form's accepted returns for the same
county and period (a monthly form summed over the months of a longer period, only when every
month is in).
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from huizong.catalog import Config
from huizong.codes import make_issue
from huizong.forms.expr import Unique, parse
from huizong.forms.model import Form, Rule, key_text
from huizong.issues import Answer, Issue, Severity
from huizong.numbers import exact as exact_number
from huizong.numbers import shown
from huizong.read.model import Fact, Return
from huizong.read.periods import KINDS, MONTHS, QUARTERS, Period, parse_token
from huizong.read.uscc import normalize_uscc, uscc_status
from huizong.rules.evaluate import Tables, aggregate_exact, evaluate, holds
from huizong.rules.exact import text_of as exact_text
from huizong.rules.frames import Frame

# a value's problem (read/records.py) -> the issue it is
PROBLEM_CODES = {
    "not-numeric": "record-not-numeric",
    "not-whole": "record-not-whole",
    "unit-unknown": "record-unit-unknown",
    "not-date": "record-not-date",
    "choice-unknown": "record-choice-unknown",
    "pattern": "record-pattern",
    "uscc-invalid": "record-uscc-invalid",
    "uscc-check-failed": "record-uscc-check-failed",
}
_NUMERIC = ("number", "integer")
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


def _forms_of(returns: list[Return], form: Form) -> list[Return]:
    return [r for r in returns if r.readable and r.form == form.id]


def _identified(returns: list[Return]) -> list[Return]:
    return [r for r in returns if r.county_code and r.period]


# measures ------------------------------------------------------------------------------------


_TABLES: list[tuple[Form, list[Return], pd.DataFrame]] = []  # a batch's, for its several rules (`forget_tables`)
_TABLES_LOCK = threading.Lock()


def records_table(returns: list[Return], form: Form) -> pd.DataFrame:
    """The records of these returns as one table: a column per field (numbers as floats, dates as
    dates), `_return` (the return's position in `returns`) and `_rec` (the record's position in it).
    Made once for the same returns and form (the measures, the records' rules and the returns'
    rules each ask for it); each caller gets its own copy."""
    with _TABLES_LOCK:
        for f, rets, df in _TABLES:
            if f is form and len(rets) == len(returns) and all(a is b for a, b in zip(rets, returns, strict=True)):
                return df.copy()
    df = _records_table(returns, form)
    with _TABLES_LOCK:
        _TABLES.append((form, list(returns), df))
        del _TABLES[:-2]
    return df.copy()


def forget_tables() -> None:
    """Drop the tables `records_table` holds (a run's validation ends: its returns may go)."""
    with _TABLES_LOCK:
        _TABLES.clear()


def _records_table(returns: list[Return], form: Form) -> pd.DataFrame:
    assert form.list is not None
    fields = [f for f in form.list.fields if f.type != "seq"]
    rows: list[dict[str, Any]] = []
    for n, ret in enumerate(returns):
        for m, rec in enumerate(ret.records):
            row: dict[str, Any] = {"_return": n, "_rec": m}
            for f in fields:
                v = rec.values.get(f.code)
                if f.type in _NUMERIC:
                    row[f.code] = float(v) if isinstance(v, int | float) and not isinstance(v, bool) else np.nan
                else:
                    row[f.code] = v if f.code not in rec.problems else None
            rows.append(row)
    df = pd.DataFrame(rows, columns=["_return", "_rec", *(f.code for f in fields)])
    for f in fields:
        if f.type in _NUMERIC:
            df[f.code] = pd.to_numeric(df[f.code], errors="coerce").astype(float)
        elif f.type == "date":
            df[f.code] = pd.to_datetime(df[f.code], errors="coerce")
        else:
            df[f.code] = df[f.code].astype(object)
    return df


def measure(returns: list[Return], form: Form) -> None:
    """Set the facts of each list return: its measures, summed from its records (rows with a bad
    value in a summed field count as nothing there; such a return is refused anyway)."""
    mine = [r for r in returns if r.readable and r.form == form.id]
    if not mine or not form.measures or not form.is_list:
        return
    recs = records_table(mine, form)
    frame = pd.DataFrame(index=pd.RangeIndex(len(mine)))
    tables = Tables(frame, recs)
    values: dict[str, list[Fraction | None]] = {}
    for m in form.measures:
        if m.kind != "ratio":
            values[m.code] = list(aggregate_exact(m.expr.tree, tables))
    for m in form.measures:
        if m.kind == "ratio":
            assert m.numerator and m.denominator
            values[m.code] = [
                None if not den else Fraction(m.multiplier or 1) * num / den  # type: ignore[operator]
                for num, den in zip(values[m.numerator], values[m.denominator], strict=True)
            ]
    for n, ret in enumerate(mine):
        facts = []
        for m in form.measures:
            exact_value = values[m.code][n]
            if exact_value is None:  # a ratio over nothing: no value, not zero
                facts.append(Fact(m.code, "value", "blank", None, "", None, False, False, ret.list_sheet or "", ""))
                continue
            number = float(exact_value) + 0.0
            written = (exact_text(exact_value) if m.kind != "ratio" else None) or exact_number(number)
            facts.append(Fact(m.code, "value", "ok", number, written, None, False, False, ret.list_sheet or "", ""))
        ret.facts = facts


# what the store adds --------------------------------------------------------------------------


@dataclass
class Beyond:
    """What a form's rules need from outside the batch: keys already taken, other forms' values."""

    taken: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)  # field -> key -> records
    other: dict[tuple[str, str, str, str], float] = field(default_factory=dict)  # (form, county, period, code)
    months: dict[tuple[str, str, int], set[str]] = field(default_factory=dict)  # (form, county, year) -> months in
    order: dict[int, int] = field(default_factory=dict)  # id(return) -> arrival position in the batch
    refused: set[int] = field(default_factory=set)  # ids of returns refused by the rules that look at them alone
    names: dict[str, str] = field(default_factory=dict)  # county code -> its name, for messages

    def before(self, r: Return, ret: Return) -> bool:
        """Would `r` be in the store when `ret` is checked, the batch taken one file at a time?"""
        if id(r) in self.refused or r is ret:
            return False
        return self.order.get(id(r), 0) < self.order.get(id(ret), 0) if self.order else True


def beyond_for(store: Any, config: Config, form: Form, returns: list[Return]) -> Beyond:
    """Load, for the batch's returns of `form`, what its unique() and form() rules compare with."""
    out = Beyond()
    mine = _identified(_forms_of(returns, form))
    if store is None or not mine:
        return out
    for rule in form.rules:
        for u in rule.expr.uniques:
            keys = {k for r in mine for rec in r.records if (k := key_text(rec.values, u.fields)) is not None}
            if form.list is None or not keys or u.scope == "return" or u.text in out.taken:
                continue
            found: dict[str, list[dict[str, Any]]] = defaultdict(list)
            if u.fields == form.list.key:  # indexed in the ledger
                rows = store.keys_taken(form.id, keys)
            else:  # other fields: the records of the periods in scope
                rows = []
                for row in store.records_in(
                    form.id, sorted({p for r in mine if r.period for p in _in_scope(u, r.period)})
                ):
                    row["key"] = key_text(row["data"], u.fields)
                    if row["key"] in keys:
                        rows.append(row)
            for row in rows:
                found[row["key"]].append(row)
                division = config.divisions.get(row["county_code"])
                if division is not None:
                    out.names[row["county_code"]] = division.name
            out.taken[u.text] = dict(found)
        for other_id, _code in rule.expr.forms:
            other = config.form_by_id[other_id]
            counties = sorted({r.county_code for r in mine if r.county_code})
            periods = sorted({p for period in {r.period for r in mine if r.period} for p in _periods_of(other, period)})
            load_other(store, out, other_id, counties, periods)
    return out


def load_other(store: Any, beyond: Beyond, other_id: str, counties: list[str], periods: list[str]) -> None:
    """Another form's numbers in the ledger for these counties and periods, into `beyond.other`."""
    for row in store.accepted_facts(counties, None, lean=True, form=other_id, periods=periods):
        if row["column"] == "value" and row["number"] is not None:
            beyond.other[(other_id, row["county_code"], row["period"], row["indicator"])] = float(row["number"])


def _periods_of(other: Form, period: Period) -> list[str]:
    """The periods of another form that make up `period`: itself if the other form collects it,
    else the other form's months (quarters, half years) that tile it exactly; none otherwise."""
    if other.collects(period):
        return [period.token]
    parts = other.parts_within(period)
    if sorted(m for p in parts for m in p.months) != list(period.months):
        return []
    return [p.token for p in parts]


Batch = dict[tuple[str, str | None, str], list[Return]]  # (form, county, period) -> the batch's readable returns


def batch_index(batch: list[Return]) -> Batch:
    """The batch's readable returns by form, county and period, in batch order."""
    out: Batch = {}
    for r in batch:
        if r.readable and r.period is not None:
            out.setdefault((r.form, r.county_code, r.period.token), []).append(r)
    return out


def other_value(
    beyond: Beyond,
    index: Batch,
    other: Form,
    code: str,
    county: str,
    period: Period,
    ret: Return | None = None,
    including: bool = False,
) -> float:
    """Another form's number for the county and period: its return's, or the sum over its months
    when the other form is monthly (NaN unless every month is in). The batch's own returns of the
    other form (`index`: the batch's `batch_index`) count over the store's."""
    parts = _periods_of(other, period)
    if not parts:
        return np.nan
    total = 0.0
    for p in parts:
        in_batch = [
            r
            for r in index.get((other.id, county, p), [])
            if ret is None or beyond.before(r, ret) or (including and r is ret)
        ]
        v = in_batch[-1].number(code) if in_batch else beyond.other.get((other.id, county, p, code))
        if v is None:
            return np.nan
        total += v
    return total


# frames ------------------------------------------------------------------------------------------


def _return_names(ret: Return) -> dict[str, Any]:
    p = ret.period
    return {
        "county": ret.county_code,
        "period_start": pd.Timestamp(p.start) if p else pd.NaT,
        "period_end": pd.Timestamp(p.end) if p else pd.NaT,
        "period_year": float(p.year) if p else np.nan,
        "period_month": float(p.months[-1]) if p else np.nan,
    }


def records_frame(returns: list[Return], config: Config, form: Form, beyond: Beyond) -> Frame:
    assert form.list is not None
    mine = _forms_of(returns, form)
    recs = records_table(mine, form)
    names = pd.DataFrame(
        [_return_names(r) for r in mine],
        columns=["county", "period_start", "period_end", "period_year", "period_month"],
    )
    data = recs.join(names, on="_return") if len(recs) else recs.assign(**{c: [] for c in names.columns})
    data = data.reset_index(drop=True)
    context: list[dict[str, Any]] = []
    filled: dict[str, list[bool | None]] = defaultdict(list)
    valid: dict[str, list[bool]] = defaultdict(list)
    fields = [f for f in form.list.fields if f.type != "seq"]
    for owner, rec in ((r, rec) for r in mine for rec in r.records):  # the order of records_table
        ret = owner
        context.append(
            {
                "file": ret.file,
                "sheet": rec.sheet,
                "cells": rec.cells,
                "raw": rec.raw,
                "problems": rec.problems,
                "row": rec.row + 1,
                "ret": ret,
            }
        )
        for f in fields:
            problem = rec.problems.get(f.code)
            if f.code not in rec.cells:  # the column is missing altogether: said once by the reader
                filled[f.code].append(None)
            else:
                filled[f.code].append(rec.values.get(f.code) is not None and problem not in ("blank", "placeholder"))
            valid[f.code].append(problem in (None, "blank", "placeholder"))
    cols: dict[str, Any] = {}
    for f in fields:
        if f.required:
            cols[f"{f.code}__filled"] = filled[f.code]
        if f.type not in ("text",) or f.pattern:
            cols[f"{f.code}__valid"] = valid[f.code]
    data = pd.concat([data, pd.DataFrame(cols, index=data.index)], axis=1) if cols else data
    uniques = {u.text: _unique(u, recs_values(mine), context, beyond) for r in form.rules for u in r.expr.uniques}
    for rule in form.rules:
        if rule.scope != "row":
            continue
        tables = Tables(
            data,
            uniques={u.text: pd.Series(uniques[u.text][0], index=data.index, dtype=bool) for u in rule.expr.uniques},
        )
        ok = holds(rule.expr, tables) if len(data) else pd.Series([], dtype=bool)
        data[f"rule__{rule.code}"] = _in_periods(ok, rule, [context[i]["ret"] for i in range(len(context))])
        for u in rule.expr.uniques:
            for i, other in uniques[u.text][1].items():
                context[i].setdefault("other", {}).setdefault(rule.code, other)
    data.insert(0, "row_id", range(len(data)))
    return Frame(f"{form.id}.records", data, context)


def recs_values(mine: list[Return]) -> list[dict[str, Any]]:
    """Each record's values, in the order of `records_table`."""
    return [rec.values for r in mine for rec in r.records]


def _in_scope(u: Unique, period: Period) -> list[str]:
    """The periods whose records a unique() of this scope compares a return of `period` with
    (for a scope of N years: every period token of those years is asked of the ledger)."""
    if u.scope == "period":
        return [period.token]
    years = u.years or 0
    return [
        f"{y}{k}"
        for y in range(period.year - years + 1, period.year + years)
        for k in (*KINDS, "H2", *QUARTERS, *MONTHS)
    ]


def _collides(u: Unique, mine: Period | None, theirs: str | None) -> bool:
    """Is a record of period `theirs` within the scope of a record of period `mine`?"""
    if u.scope == "ever":
        return True
    if mine is None or theirs is None:
        return False
    if u.scope == "period":
        return theirs == mine.token
    other = token_of(theirs)
    return other is not None and abs(other.year - mine.year) < (u.years or 1)


def _unique(
    u: Unique, values: list[dict[str, Any]], context: list[dict[str, Any]], beyond: Beyond
) -> tuple[list[bool], dict[int, str]]:
    """True where the record's key (its fields together) was not seen before within the scope:
    earlier in its return, in an earlier return of the batch for another county or period, or in
    an accepted return of the store for another county or period. Where it was, what it collides with."""
    ok = [True] * len(context)
    other: dict[int, str] = {}
    earlier: dict[str, list[int]] = defaultdict(list)  # key -> its rows in returns that would reach the store
    own: dict[tuple[int, str], int] = {}  # (return, key) -> its first row in that return
    taken = beyond.taken.get(u.text, {})
    for i, rec in enumerate(values):
        key = key_text(rec, u.fields)
        if key is None:
            continue
        ret = context[i]["ret"]
        if (id(ret), key) in own:
            ok[i], other[i] = False, f"本表第 {context[own[(id(ret), key)]]['row']} 行"
            continue
        own[(id(ret), key)] = i
        if u.scope == "return":
            continue
        here = (ret.county_code, ret.period)
        for e in earlier.get(key, []):
            them = context[e]["ret"]
            if (them.county_code, them.period) != here and _collides(u, ret.period, them.period and them.period.token):
                ok[i] = False
                other[i] = f"同批报送的“{them.file}”第 {context[e]['row']} 行"
                break
        if not ok[i]:
            continue
        if id(ret) not in beyond.refused:  # a refused return never takes a key
            earlier[key].append(i)
        for row in taken.get(key, []):
            mine_token = ret.period.token if ret.period else None
            if (row["county_code"], row["period"]) != (ret.county_code, mine_token) and _collides(
                u, ret.period, row["period"]
            ):
                ok[i] = False
                who = beyond.names.get(row["county_code"], row["county_code"])
                other[i] = f"{who}报送的“{row['file']}”（{row['period']}）第 {row['row']} 行"
                break
    return ok, other


def _in_periods(ok: pd.Series, rule: Rule, rets: list[Return]) -> pd.Series:
    """A rule limited to some period kinds holds elsewhere."""
    if not rule.periods:
        return ok
    applies = pd.Series([r.period is not None and r.period.kind in rule.periods for r in rets], index=ok.index)
    return ok | ~applies


def returns_frame(returns: list[Return], config: Config, form: Form, beyond: Beyond) -> Frame:
    mine = _identified(_forms_of(returns, form))
    codes = [i.code for i in config.for_form(form.id).catalog]
    rows = []
    for ret in mine:
        values = {f.indicator: f.number for f in ret.facts if f.column == "value"}
        rows.append({**{c: values.get(c, np.nan) for c in codes}, **_return_names(ret)})
    data = pd.DataFrame(rows, columns=[*codes, "county", "period_start", "period_end", "period_year", "period_month"])
    for c in codes:
        data[c] = pd.to_numeric(data[c], errors="coerce").astype(float)
    others: dict[tuple[str, str], pd.Series] = {}
    index = batch_index(returns)
    for rule in form.rules:
        for key in rule.expr.forms:
            if key not in others:
                other = config.form_by_id[key[0]]
                others[key] = pd.Series(
                    [
                        other_value(beyond, index, other, key[1], r.county_code or "", r.period, r)
                        for r in mine
                        if r.period
                    ],
                    index=data.index,
                    dtype=float,
                )
    recs = records_table(mine, form) if form.list is not None else None
    context = [
        {
            "file": r.file,
            "sheet": r.sheet or r.list_sheet,
            "ret": r,
            "cells": {k: v.value_cell for k, v in r.rows.items()},
        }
        for r in mine
    ]
    for rule in form.rules:
        if rule.scope != "return":
            continue
        # a list form's list is the return: an empty one counts 0. An indicator form's list is its
        # detail beside the table: left empty (the template's blank sheet), it is not compared
        has_list = pd.Series(
            [r.list_sheet is not None and (form.is_list or bool(r.records)) for r in mine], index=data.index, dtype=bool
        )
        tables = Tables(data, recs, {k: others[k] for k in rule.expr.forms}, has_list=has_list)
        ok = holds(rule.expr, tables) if len(data) else pd.Series([], dtype=bool)
        data[f"rule__{rule.code}"] = _in_periods(ok, rule, mine)
    data.insert(0, "row_id", range(len(data)))
    frame = Frame(f"{form.id}.returns", data, context)
    frame.context.append({"_tables": (recs, others)})  # the tables messages are evaluated over
    return frame


# cross-form rules, asked again when the return they read arrives ----------------------------------


def readers_of(form: Form, forms: tuple[Form, ...] | list[Form]) -> list[tuple[Form, Rule]]:
    """The return rules of other forms that read this form's numbers through form(): each is asked
    again of the other form's return when a return of this form arrives after it."""
    return [
        (a, r)
        for a in forms
        if a.id != form.id
        for r in a.rules
        if r.scope == "return" and not r.expr.aggregates and any(f == form.id for f, _ in r.expr.forms)
    ]


def answer_column(a: Form, rule: Rule) -> str:
    return f"answer__{a.id}__{rule.code}"


def answers_frame(returns: list[Return], config: Config, form: Form, beyond: Beyond, store: Any = None) -> Frame:
    """One row per return of `form` in the batch and rule of another form that reads it, for each
    return of that other form it now answers: the same county, a period containing this one,
    received before it (in the ledger, or earlier in the batch). The rule is evaluated on the other
    return's numbers with this one's now in; the row's `answer__<form>__<rule>` column says whether
    it holds. Each answered return is told on `ret.answers` (kept in the ledger with its issues)."""
    for r in _forms_of(returns, form):
        r.answers.clear()
    mine = [r for r in _identified(_forms_of(returns, form)) if id(r) not in beyond.refused]
    pairs = readers_of(form, config.forms)
    columns = [answer_column(a, r) for a, r in pairs]
    if not mine or not pairs:
        return Frame(
            f"{form.id}.answers",
            pd.DataFrame({"row_id": pd.Series([], dtype="int64"), **{c: pd.Series([], dtype=bool) for c in columns}}),
        )
    index = batch_index(returns)
    data_parts: list[pd.DataFrame] = []
    context: list[dict[str, Any]] = []
    for a_form, rule in pairs:
        wanted: dict[tuple[str, str], list[Return]] = {}
        for b in mine:
            assert b.period is not None and b.county_code is not None
            for kind in a_form.periods:
                q = Period(b.period.year, kind)
                if set(b.period.months) <= set(q.months) and (not rule.periods or kind in rule.periods):
                    wanted.setdefault((b.county_code, q.token), []).append(b)
        stored = _stored_returns(store, a_form, wanted) if wanted else {}
        if store is not None and wanted:  # what the rule reads of the other forms, this one's months included
            counties = sorted({c for c, _ in wanted})
            for other_id, _code in rule.expr.forms:
                other = config.form_by_id[other_id]
                periods = sorted({p for _, t in wanted for p in _periods_of(other, parse_token(t))})
                load_other(store, beyond, other_id, counties, periods)
        codes = [i.code for i in config.for_form(a_form.id).catalog]
        rows: list[dict[str, Any]] = []
        ctx: list[dict[str, Any]] = []
        for (county, token), bs in wanted.items():
            q = parse_token(token)
            for b in bs:
                earlier = [r for r in index.get((a_form.id, county, token), []) if beyond.before(r, b)]
                values: dict[str, Any]
                target: dict[str, Any]
                if earlier:
                    a_ret = earlier[-1]
                    values = {f.indicator: f.number for f in a_ret.facts if f.column == "value"}
                    cells = {k: v.value_cell for k, v in a_ret.rows.items()}
                    target = {"sid": None, "file": a_ret.file, "sheet": a_ret.sheet or a_ret.list_sheet, "cells": cells}
                elif (county, token) in stored:
                    target = stored[(county, token)]
                    values = target["values"]
                else:
                    continue
                row = {**{c: values.get(c, np.nan) for c in codes}, **_names_of(county, q)}
                for other_id, code in rule.expr.forms:
                    other = config.form_by_id[other_id]
                    row[f"form::{other_id}::{code}"] = other_value(
                        beyond, index, other, code, county, q, b, including=True
                    )
                rows.append(row)
                ctx.append({"file": b.file, "ret": b, "rule": rule, "form": a_form, "target": target, "period": token})
        if not rows:
            continue
        frame = pd.DataFrame(rows)
        for c in codes:
            frame[c] = pd.to_numeric(frame[c], errors="coerce").astype(float)
        forms = {key: frame[f"form::{key[0]}::{key[1]}"].astype(float) for key in rule.expr.forms}
        ok = holds(rule.expr, Tables(frame, None, forms))
        for n, holds_here in enumerate(ok.tolist()):
            ctx[n]["tables"] = Tables(frame.iloc[[n]], None, {k: v.iloc[[n]] for k, v in forms.items()})
            _tell(ctx[n], bool(holds_here), config)
        part = pd.DataFrame({c: True for c in columns}, index=range(len(rows)))
        part[answer_column(a_form, rule)] = ok.to_numpy()
        data_parts.append(part)
        context.extend(ctx)
    data = (
        pd.concat(data_parts, ignore_index=True)
        if data_parts
        else pd.DataFrame({c: pd.Series([], dtype=bool) for c in columns})
    )
    data.insert(0, "row_id", range(len(data)))
    return Frame(f"{form.id}.answers", data, context)


def _names_of(county: str, period: Period) -> dict[str, Any]:
    return {
        "county": county,
        "period_start": pd.Timestamp(period.start),
        "period_end": pd.Timestamp(period.end),
        "period_year": float(period.year),
        "period_month": float(period.months[-1]),
    }


def _stored_returns(
    store: Any, form: Form, wanted: dict[tuple[str, str], list[Return]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """The current accepted returns of `form` in the ledger for these (county, period) pairs: their
    submission, file, values and cells."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    if store is None:
        return out
    counties = sorted({c for c, _ in wanted})
    periods = sorted({p for _, p in wanted})
    for f in store.accepted_facts(counties, None, form=form.id, periods=periods):
        if f["column"] != "value" or (f["county_code"], f["period"]) not in wanted:
            continue
        e = out.setdefault(
            (f["county_code"], f["period"]),
            {"sid": f["submission_id"], "file": f["file"], "sheet": f["sheet"], "values": {}, "cells": {}},
        )
        e["values"][f["indicator"]] = f["number"]
        e["cells"][f["indicator"]] = f["cell"]
    return out


def _tell(ctx: dict[str, Any], ok: bool, config: Config) -> None:
    """Record on the arriving return what the answered return now shows for the rule."""
    rule, a_form, target, b = ctx["rule"], ctx["form"], ctx["target"], ctx["ret"]
    issue = None
    if not ok:
        message, message_en = _render(rule, ctx["tables"])
        b_form = config.form_by_id[b.form]
        issue = Issue(
            code=rule.code,
            severity=Severity(rule.severity),
            message=f"{message}（{b_form.short_name}“{b.file}”报来后核对）",
            file=target["file"],
            sheet=target["sheet"],
            cell=target["cells"].get(rule.field) if rule.field else None,
            indicator=rule.field,
            value=shown(ctx["tables"].frame[rule.field].iloc[0]) if rule.field else None,
            message_en=f"{message_en} (checked when {b.file} arrived)",
        )
    b.answers.append(Answer(target["sid"], a_form.id, ctx["period"], b.county_code or "", rule.code, issue))


def _render(rule: Rule, tables: Tables, other: str = "") -> tuple[str, str]:
    """A rule's message and its English, placeholders evaluated over one row."""

    def fill(m: re.Match[str]) -> str:
        text = m.group(1)
        if text.strip() == "other":
            return other
        try:
            return shown(evaluate(parse(text), tables).iloc[0])
        except Exception:  # a message placeholder never stops validation
            return "?"

    message = _PLACEHOLDER.sub(fill, rule.message)
    return message, (_PLACEHOLDER.sub(fill, rule.message_en) if rule.message_en else message)


def answer_issue(frame: Frame, form: Form, config: Config, meta: dict[str, Any], row_id: int) -> Issue:
    """The arriving return's own issue for a rule of another form it does not satisfy: at the cell of
    the number the rule reads (an indicator's), or its list's sheet."""
    ctx = frame.context[row_id]
    rule, a_form, b, target = ctx["rule"], ctx["form"], ctx["ret"], ctx["target"]
    message, message_en = _render(rule, ctx["tables"])
    code = next(c for f, c in rule.expr.forms if f == form.id)
    ref = b.rows.get(code)
    return Issue(
        code=rule.code,
        severity=Severity(meta.get("severity") or rule.severity),
        message=f"与{a_form.short_name}“{target['file']}”（{ctx['period']}）核对：{message}",
        file=b.file,
        sheet=(b.sheet if ref else b.list_sheet or b.sheet),
        cell=ref.value_cell if ref else None,
        indicator=code,
        value=shown(b.number(code)),
        message_en=message_en,
    )


# the suites -----------------------------------------------------------------------------------


def suites_for(form: Form, forms: tuple[Form, ...] | list[Form] = ()) -> list[dict[str, Any]]:
    """The expectations a form's definition implies, as suite specs (GX ExpectationSuite kwargs);
    with every form, also the other forms' rules that read this one, asked again when it arrives."""
    specs = []
    answers = [
        {
            "type": "expect_column_values_to_be_in_set",
            "kwargs": {"column": answer_column(a, r), "value_set": [True]},
            "meta": {"answer": f"{a.id}:{r.code}", "severity": r.severity},
        }
        for a, r in readers_of(form, forms)
    ]
    if answers:
        specs.append(
            {
                "name": f"{form.id}.answers",
                "expectations": answers,
                "meta": {
                    "frame": "form-answers",
                    "form": form.id,
                    "description": f"{form.name}：报来后，读取它的其他报表的跨表规则再核对一次",
                },
            }
        )
    if form.list is not None:
        exps: list[dict[str, Any]] = []
        for f in form.list.fields:
            if f.type == "seq":
                continue
            sev = {"severity": f.severity}
            if f.required:
                exps.append(
                    {
                        "type": "expect_column_values_to_be_in_set",
                        "kwargs": {"column": f"{f.code}__filled", "value_set": [True]},
                        "meta": {"code": "record-value-missing", "field": f.code, "severity": "error"},
                    }
                )
            if f.type != "text" or f.pattern:
                exps.append(
                    {
                        "type": "expect_column_values_to_be_in_set",
                        "kwargs": {"column": f"{f.code}__valid", "value_set": [True]},
                        "meta": {"code": "record-invalid", "field": f.code, **sev},
                    }
                )
            if f.type in _NUMERIC and (f.minimum is not None or f.maximum is not None):
                kwargs: dict[str, Any] = {"column": f.code}
                if f.minimum is not None:
                    kwargs["min_value"] = f.minimum
                if f.maximum is not None:
                    kwargs["max_value"] = f.maximum
                exps.append(
                    {
                        "type": "expect_column_values_to_be_between",
                        "kwargs": kwargs,
                        "meta": {"code": "record-out-of-range", "field": f.code, **sev},
                    }
                )
        for rule in form.rules:
            if rule.scope == "row":
                exps.append(_rule_expectation(rule))
        specs.append(
            {
                "name": f"{form.id}.records",
                "expectations": exps,
                "meta": {
                    "frame": "records",
                    "form": form.id,
                    "description": f"{form.name}：明细表的字段与逐行规则（由报表定义生成）",
                },
            }
        )
    ret_rules = [_rule_expectation(r) for r in form.rules if r.scope == "return"]
    if ret_rules:
        specs.append(
            {
                "name": f"{form.id}.returns",
                "expectations": ret_rules,
                "meta": {
                    "frame": "form-returns",
                    "form": form.id,
                    "description": f"{form.name}：整张报表的规则（由报表定义生成）",
                },
            }
        )
    return specs


def _rule_expectation(rule: Rule) -> dict[str, Any]:
    return {
        "type": "expect_column_values_to_be_in_set",
        "kwargs": {"column": f"rule__{rule.code}", "value_set": [True]},
        "meta": {"rule": rule.code, "severity": rule.severity},
    }


def issue_for(frame: Frame, form: Form, config: Config, meta: dict[str, Any], row_id: int) -> Issue:
    """The Issue of a failing row: at the county's own sheet and cell, in the form's words."""
    ctx = frame.context[row_id]
    severity = Severity(meta["severity"]) if meta.get("severity") else None
    if "rule" in meta:
        rule = next(r for r in form.rules if r.code == meta["rule"])
        return _rule_issue(frame, form, config, rule, row_id)
    assert form.list is not None
    f = form.list.by_code[meta["field"]]
    code = meta["code"]
    raw = ctx["raw"].get(f.code)
    detail = ""
    expected = None
    if code == "record-invalid":
        code = PROBLEM_CODES.get(ctx["problems"].get(f.code, ""), "record-not-numeric")
        if code == "record-uscc-check-failed":
            expected = uscc_status(normalize_uscc(raw))[2]
        elif code == "record-choice-unknown":
            detail = "、".join(f.choices)
        elif code == "record-pattern":
            detail = f.explanation or f.pattern or ""
    elif code == "record-out-of-range":
        lo = "" if f.minimum is None else shown(f.minimum)
        hi = "" if f.maximum is None else shown(f.maximum)
        detail = f"{lo} 至 {hi}{f.unit}" if lo and hi else (f"不小于 {lo}{f.unit}" if lo else f"不大于 {hi}{f.unit}")
        raw = shown(frame.data.at[row_id, f.code])
    return make_issue(
        code,
        ctx["file"],
        sheet=ctx["sheet"],
        cell=ctx["cells"].get(f.code),
        indicator=f.code,
        value=raw,
        name=f.name,
        unit=f.unit,
        detail=detail,
        expected=expected,
        severity=severity,
    )


def _rule_issue(frame: Frame, form: Form, config: Config, rule: Rule, row_id: int) -> Issue:
    ctx = frame.context[row_id]
    row = frame.data.iloc[[row_id]]
    if rule.scope == "row":
        cell = ctx["cells"].get(rule.field) if rule.field else None
        tables = Tables(row)
        value = ctx["raw"].get(rule.field) if rule.field else None
    else:
        cell = ctx["cells"].get(rule.field) if rule.field else None
        recs, others = frame.context[-1]["_tables"]
        sub = recs[recs["_return"] == row_id] if recs is not None and len(recs) else recs
        tables = Tables(row, sub, {k: v.iloc[[row_id]] for k, v in others.items()})
        value = shown(row[rule.field].iloc[0]) if rule.field and rule.field in row.columns else None

    def fill(m: re.Match[str]) -> str:
        text = m.group(1)
        if text.strip() == "other":
            return str(ctx.get("other", {}).get(rule.code, ""))
        try:
            return shown(evaluate(parse(text), tables).iloc[0])
        except Exception:  # a message placeholder never stops validation
            return "?"

    message = _PLACEHOLDER.sub(fill, rule.message)
    message_en = _PLACEHOLDER.sub(fill, rule.message_en) if rule.message_en else message
    return Issue(
        code=rule.code,
        severity=Severity(rule.severity),
        message=message,
        file=ctx["file"],
        sheet=ctx["sheet"],
        cell=cell,
        indicator=rule.field,
        value=value,
        message_en=message_en,
    )


def list_forms_checked(config: Config) -> list[Form]:
    return [f for f in config.forms if f.list is not None or f.rules]


def token_of(period: str) -> Period | None:
    try:
        return parse_token(period)
    except ValueError:
        return None
