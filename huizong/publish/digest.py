"""The digest of what a region's outputs are made of: its view model, the configuration and the code.

Two publishings of a region and period with the same digest write the same outputs, so the second
can leave them in place (`ledger.published`). The view is written out as JSON (orjson: dataclasses
as their fields, decimals as text, sets sorted, keys in the order the code put them), never
pickled: pickle's bytes depend on which equal objects happen to be shared, so equal views could
differ. An order of keys or of shared objects that changed would only write the outputs again; a
different view always makes different JSON (NaN, written as null, never reaches a view: the
ledger's numbers are finite or missing, and totals are cleaned of it). The configuration counts by
its files' content and its rules as loaded; the code by its source, so an upgrade of huizong writes
everything again."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from huizong.catalog import Config, FormConfig
from huizong.forms.model import Form

PACKAGE = Path(__file__).resolve().parents[1]


def _plain(o: Any) -> Any:
    if isinstance(o, Form):  # the form itself counts with the configuration's files
        return o.id
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return {name: getattr(o, name) for name in _names(type(o))}
    if isinstance(o, enum.Enum):
        return o.value
    if isinstance(o, Decimal | Path | dt.date | dt.datetime):
        return str(o)
    if isinstance(o, set | frozenset):
        return sorted(o, key=repr)
    if isinstance(o, bytes):
        return o.hex()
    if isinstance(o, tuple):  # a named tuple
        return list(o)
    raise TypeError(f"no canonical form for {type(o).__name__}")


@cache
def _names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def of_view(view: Any, config: FormConfig) -> str:
    h = hashlib.sha256()
    h.update(code().encode())
    h.update(of_config(config.config).encode())
    h.update(config.form.id.encode())
    # orjson: the nation's view (300,000 facts) in a quarter of the standard library's time
    h.update(orjson.dumps(view, default=_plain, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS))
    return h.hexdigest()


@cache
def code() -> str:
    """The source of the package (its modules, page templates and static files)."""
    h = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".html", ".css", ".js", ".toml", ".json", ".txt"):
            h.update(str(path.relative_to(PACKAGE)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


_CONFIGS: dict[int, tuple[Config, str]] = {}


def of_config(config: Config) -> str:
    """The configuration's files (the folder and any form folders outside it) and its rules."""
    held = _CONFIGS.get(id(config))
    if held is not None and held[0] is config:
        return held[1]
    h = hashlib.sha256()
    h.update(repr(config.rules).encode())
    roots = [Path(config.root)] + [Path(f.root) for f in config.forms]
    seen: set[Path] = set()
    for root in roots:
        for path in sorted(root.rglob("*")) if root.is_dir() else []:
            if path in seen or not path.is_file():
                continue
            seen.add(path)
            h.update(str(path).encode())
            try:
                h.update(path.read_bytes())
            except OSError:
                continue
    digest = h.hexdigest()
    _CONFIGS[id(config)] = (config, digest)
    return digest
