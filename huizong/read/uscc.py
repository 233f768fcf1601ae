"""The unified social credit code (统一社会信用代码) of GB 32100-2015: its form and check character."""

from __future__ import annotations

import re
import unicodedata
from operator import mul

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
USCC_FORMAT = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")


_USCC_VALUE = {ch: n for n, ch in enumerate(USCC_CHARS)}


def uscc_check_char(first17: str) -> str:
    """The 18th character for the first 17 (each in USCC_CHARS)."""
    if len(first17) != len(USCC_WEIGHTS):
        raise ValueError(f"a USCC's check character needs its first 17 characters, not {len(first17)}")
    total = sum(map(mul, map(_USCC_VALUE.__getitem__, first17), USCC_WEIGHTS))
    return USCC_CHARS[(31 - total % 31) % 31]


def normalize_uscc(value: object) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(value or ""))).upper()


def uscc_status(code: str) -> tuple[bool, bool, str | None]:
    """(well formed, check character right, expected check character)."""
    if not USCC_FORMAT.match(code):
        return False, False, None
    expected = uscc_check_char(code[:17])
    return True, code[17] == expected, expected
