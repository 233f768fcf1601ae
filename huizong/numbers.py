"""How huizong writes a number as text: one place for every message, report and CSV.

`shown` is for people (a message, a report's detail): whole numbers without `.0`, others to six
significant digits, nothing for a missing value. `exact` is for files read again by programs (the
CSVs): whole numbers without `.0`, others with every digit Python keeps (`repr`), so that a value
read back is the value written.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np


def _number(value: Any) -> float | None:
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    return None


def shown(value: Any) -> str:
    """A value as a message shows it: 12, 0.433700, 1.23457e+06, 2024-06-30, 是/否; '' if missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return "是" if value else "否"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, dt.date):
        return value.isoformat()
    f = _number(value)
    if f is None:
        return str(value)
    if math.isnan(f):
        return ""
    return str(int(f)) if f.is_integer() else f"{f:.6g}"


def exact(value: Any) -> str:
    """A number as a CSV keeps it (every digit), anything else as its text; '' if missing."""
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)
