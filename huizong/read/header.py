"""The header block: label/value pairs found by label, not by position.

`填报单位：民乐县科学技术局` in one cell, or `填报单位` then the value in the next non-empty
cell to its right; spaces inside a label and either colon are allowed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache

from huizong.read.cells import address
from huizong.read.grid import Grid
from huizong.read.model import Located


class Labels(tuple[tuple[str, str], ...]):
    """(folded spelling, key), longest first (`label_index`); `starts`: the spellings alone, so
    that a cell which begins with none of them is passed over at once (most cells of a sheet)."""

    starts: tuple[str, ...] = ()


@lru_cache(maxsize=64)
def _index(labels: tuple[tuple[str, tuple[str, ...]], ...]) -> Labels:
    out = Labels(sorted(((_fold(lab), key) for key, labs in labels for lab in labs), key=lambda p: -len(p[0])))
    out.starts = tuple(lab for lab, _ in out)
    return out


def label_index(labels: Mapping[str, tuple[str, ...]]) -> Labels:
    """key (office, county_code, period, …) -> spellings, from the form's definition, made ready
    for matching (once per form and process)."""
    return _index(tuple((k, tuple(v)) for k, v in labels.items()))


_SPACE = re.compile(r"\s+")


def _fold(text: str) -> str:
    return _fold_cached(text) if len(text) <= 80 else _folded(text)


def _folded(text: str) -> str:
    return _SPACE.sub("", unicodedata.normalize("NFKC", text))


_fold_cached = lru_cache(maxsize=16384)(_folded)  # labels repeat in every file a worker reads


def match_label(text: str, labels: Labels) -> tuple[str, str] | None:
    """ "填 报 单 位：民乐县" -> ("office", "民乐县"); None if the text is no label."""
    t = _fold(text)
    if not t.startswith(labels.starts):
        return None
    for lab, key in labels:
        if t.startswith(lab):
            rest = t[len(lab) :]
            if rest.startswith((":", "：")):
                return key, rest[1:]
            if not rest:
                return key, ""
            return None  # e.g. "报告期内..." is prose, not a label
    return None


def read_header(grid: Grid, labels: Labels) -> dict[str, Located]:
    """Label -> value for every label on the sheet, above or below the table.

    The first occurrence of a label wins."""
    found: dict[str, Located] = {}
    for r, row in enumerate(grid.rows):
        for c, v in enumerate(row):
            if not isinstance(v, str) or not v.strip():
                continue
            m = match_label(v, labels)
            if not m or m[0] in found:
                continue
            key, rest = m
            if rest:
                found[key] = Located(rest, grid.name, address(r, c), address(r, c))
                continue
            for c2 in range(c + 1, len(row)):
                v2 = grid.get(r, c2)
                if v2 is None or (isinstance(v2, str) and not v2.strip()):
                    continue
                if isinstance(v2, str) and match_label(v2, labels):
                    break  # the next label: this one was left empty
                found[key] = Located(v2, grid.name, address(r, c2), address(r, c))
                break
    return found


def clean_code(value: object) -> str | None:
    """620722, 620722.0, "６２０７２２ " -> "620722"; other text as written, stripped."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    s = _fold(str(value))
    s = s.removesuffix(".0")
    return s or None
