"""Where things are: a small dataclass filled from arguments, then the environment, then defaults.

Environment: HUIZONG_INPUTS, HUIZONG_OUTPUTS, HUIZONG_STORE, HUIZONG_DB, HUIZONG_CITY,
HUIZONG_CONFIG, HUIZONG_QUIET, HUIZONG_FRESH, HUIZONG_DOCS, HUIZONG_DASK; HUIZONG_REGION (HUIZONG_CITY is its older name).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from huizong.catalog import DEFAULT_CONFIG

DEFAULT_CITY = "620700"  # 张掖市, the demo city


class SettingsError(ValueError):
    "A setting from the command line or the environment is not what it must be"


def seconds(value: object, name: str) -> float:
    """A number of seconds, not negative; a SettingsError naming the setting otherwise."""
    try:
        out = float(str(value))
    except ValueError:
        raise SettingsError(f"{name} = {value!r}：应为秒数（非负数字）") from None
    if not out >= 0 or out == float("inf"):
        raise SettingsError(f"{name} = {value!r}：应为秒数（非负数字）")
    return out


@dataclass(frozen=True)
class Settings:
    inputs: Path = Path("inputs")
    outputs: Path = Path("outputs")
    store: Path = Path("store")  # archive/, rejected/, duplicates/ and the default SQLite file
    db_url: str = ""
    region: str = DEFAULT_CITY  # a prefecture (the city), a province, or 000000 for the nation
    config: Path = DEFAULT_CONFIG
    docs: bool = True  # write the GX Data Docs (validation/gx/) once per run
    quiet: float = 1.0  # a file changed less than this many seconds ago is watched that long before it is taken
    fresh: float = 5.0  # a workbook cut short that changed less than this many seconds ago is left for later
    dask: str = ""  # a Dask scheduler (tcp://host:8786): the Prefect flow reads files on its cluster

    @classmethod
    def from_env(cls, **given: object) -> Settings:
        def pick(name: str, env: str, default: object) -> object:
            v = given.get(name)
            return v if v not in (None, "") else os.environ.get(env) or default

        store = Path(str(pick("store", "HUIZONG_STORE", "store")))
        db = str(pick("db_url", "HUIZONG_DB", ""))
        return cls(
            inputs=Path(str(pick("inputs", "HUIZONG_INPUTS", "inputs"))),
            outputs=Path(str(pick("outputs", "HUIZONG_OUTPUTS", "outputs"))),
            store=store,
            db_url=db or f"sqlite:///{(store / 'huizong.db').as_posix()}",
            region=str(  # `city` and HUIZONG_CITY: the names before regions above a city, still understood
                pick("region", "HUIZONG_REGION", "") or pick("city", "HUIZONG_CITY", DEFAULT_CITY)
            ),
            config=Path(str(pick("config", "HUIZONG_CONFIG", DEFAULT_CONFIG))),
            quiet=seconds(
                pick("quiet", "HUIZONG_QUIET", 1.0), "HUIZONG_QUIET" if given.get("quiet") in (None, "") else "quiet"
            ),
            fresh=seconds(pick("fresh", "HUIZONG_FRESH", 5.0), "HUIZONG_FRESH"),
            docs=str(pick("docs", "HUIZONG_DOCS", "1")).lower() not in ("0", "false", "no", "off"),
            dask=str(pick("dask", "HUIZONG_DASK", "")),
        )
