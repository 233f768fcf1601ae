"""What one run works on: the files it took, its plan and its decisions."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from huizong.issues import Issue, Severity
from huizong.read.model import Return


@dataclass(frozen=True, slots=True)
class Inbound:
    path: Path  # the file in the inbox
    rel: str  # readable path relative to the inbox, "/"-separated: the file's name in every report
    sha256: str  # of the staged copy (for a link, special or unreadable file: a stable key, see inbox.pseudo_sha)
    size: int
    raw: bytes = b""  # the relative path exactly as the file system has it
    kind: str = "take"  # take | lock | link | special | unreadable
    staged: Path | None = None  # the copy taken into the store's staging folder: what is read and kept
    identity: tuple[int, int, int, int] | None = None  # (dev, inode, size, mtime) of the inbox file when taken
    note: str = ""  # a link's target, or why the file could not be read
    landed_ns: int = 0  # when the file landed in the inbox (0: unknown)

    @property
    def source(self) -> Path:
        """The bytes to read: the staged copy where there is one."""
        return self.staged or self.path


@dataclass
class Plan:
    to_read: list[Inbound] = field(default_factory=list)
    ignored: list[Inbound] = field(default_factory=list)
    duplicates: list[tuple[Inbound, dict[str, object] | None]] = field(default_factory=list)  # (file, earlier row)
    unreadable: list[Inbound] = field(default_factory=list)  # refused without a copy, left in the inbox
    deferred: list[str] = field(default_factory=list)  # still being written: left for the next run


@dataclass
class Decision:
    inbound: Inbound
    status: str
    ret: Return | None = None
    issues: list[Issue] = field(default_factory=list)
    reason: str = ""
    duplicate_of: int | None = None
    submission_id: int | None = None  # set when committed
    stored_as: str | None = None  # where the original now lies, relative to the store

    @property
    def errors(self) -> int:
        return sum(i.severity is Severity.ERROR for i in self.issues)

    @property
    def warnings(self) -> int:
        return sum(i.severity is Severity.WARNING for i in self.issues)
