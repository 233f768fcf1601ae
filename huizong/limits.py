"""How much a county's file may cost to read: sizes, cells, seconds and memory.

The numbers are data (`rules.toml` `[limits]`); the defaults let a 2-core, 24 GiB machine read
several files at once and still refuse a bomb in well under a second. A file over any limit
is refused (`file-over-limits`) with the limit it broke, never inflated to find out.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

MIB = 1 << 20


class LimitsError(ValueError):
    "A [limits] setting is not a positive number"


@dataclass(frozen=True, slots=True)
class Limits:
    file_mb: float = 100  # the file on disk
    unpacked_mb: float = 512  # all members of a zip-based workbook, inflated
    member_mb: float = 256  # one member, inflated
    ratio: float = 200  # inflated / compressed, for members over 1 MiB inflated
    members: int = 4000  # members of a zip-based workbook
    sheet_cells: int = 5_000_000  # rows x columns a sheet spans (readers allocate it densely)
    sheet_rows: int = 200_000  # the highest row a sheet uses
    seconds: float = 60  # to read one file, in its worker
    memory_mb: float = 2048  # address space of a reading worker
    workers: int = 0  # reading workers at once; 0: one per core

    @classmethod
    def from_rules(cls, table: dict[str, object] | None) -> Limits:
        given = dict(table or {})
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise LimitsError(f"[limits] 不认识的设置：{', '.join(unknown)}")
        values: dict[str, float | int] = {}
        for name, v in given.items():
            if isinstance(v, bool) or not isinstance(v, int | float) or v < 0 or (v == 0 and name != "workers"):
                raise LimitsError(f"[limits] {name} 应为正数，而不是 {v!r}")
            values[name] = int(v) if known[name].type == "int" else float(v)
        return cls(**values)  # type: ignore[arg-type]

    @property
    def file_bytes(self) -> int:
        return int(self.file_mb * MIB)

    @property
    def unpacked_bytes(self) -> int:
        return int(self.unpacked_mb * MIB)

    @property
    def member_bytes(self) -> int:
        return int(self.member_mb * MIB)

    @property
    def memory_bytes(self) -> int:
        return int(self.memory_mb * MIB)

    @property
    def worker_count(self) -> int:
        return self.workers or max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
