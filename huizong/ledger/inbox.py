"""The inbox: which files a run takes, and taking them faithfully.

One predicate (`kind_of`) decides what a run takes and what the watcher waits for. A file is
taken by copying it into the store's staging folder while hashing the copy, so that the bytes
read, validated and kept are exactly the bytes the ledger's sha256 names, whatever happens to
the inbox file afterwards. A file whose size or modification time moves while we look is still
being written: it is left for the next run. Links are never followed: they are recorded and left
where they are. Names are data: any name the file system allows is kept as raw bytes and shown
in a readable form; every path derived from a name is made safe and short.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import time
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

from huizong.words import Worded


class Kind(Worded):
    """What an inbox entry is, and, for one recorded and left where it is, the reason the analyst
    and the county read (`{note}`: where a link points)."""

    TAKE = "take", ""  # a workbook to read
    LOCK = "lock", "Excel/WPS 临时锁定文件，已忽略并保留原处"
    PARTIAL = "partial", ""  # a download or copy not finished: never taken, never recorded
    SKIP = "skip", ""  # not a return (a system file, a text file): left without a word
    HIDDEN = (
        "hidden",
        "隐藏文件（文件名以“.”开头），未读取，已忽略并保留原处；如是报表，请去掉文件名开头的“.”后重新放入",
    )
    LINK = "link", "符号链接（指向 {note}）：不跟随链接，已忽略并保留原处；请报送文件本身"
    SPECIAL = "special", "不是普通文件（管道、设备或套接字），已忽略并保留原处"
    UNREADABLE = "unreadable", ""  # could not be opened: refused with the reason the system gave

    __words__ = ("reason",)
    reason: str


LOCK, PARTIAL, SKIP, TAKE, HIDDEN = Kind.LOCK, Kind.PARTIAL, Kind.SKIP, Kind.TAKE, Kind.HIDDEN
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".xlsb", ".et", ".csv")
PARTIAL_SUFFIXES = (
    ".tmp",
    ".temp",
    ".part",
    ".partial",
    ".crdownload",
    ".download",
    ".opdownload",
    ".!ut",
    ".filepart",
)
SYSTEM_FILES = {".gitkeep", ".ds_store", "thumbs.db", "desktop.ini"}
MAX_COMPONENT_BYTES = 180  # leaves room for prefixes and suffixes under the usual 255-byte limit


def is_lock_file(name: str) -> bool:
    """Excel's and WPS's owner files (`~$name.xlsx`), LibreOffice's (`.~lock.name.xlsx#`)."""
    return name.startswith(("~$", ".~"))


def kind_of(name: str) -> Kind:
    """What a run does with a file of this name: take it, record a lock file, wait, or skip it."""
    low = name.lower()
    if is_lock_file(name):
        return LOCK
    if low in SYSTEM_FILES or name.endswith("#"):
        return SKIP
    if name.startswith(".") and low.endswith(WORKBOOK_SUFFIXES) and len(name) > 1 + len(low.rsplit(".", 1)[-1]):
        return HIDDEN  # a workbook someone hid (or a Mac's ._ copy): recorded once, so that the analyst sees it
    if name.startswith((".", "~")):
        return SKIP
    if low.endswith(PARTIAL_SUFFIXES):
        return PARTIAL
    return TAKE


def readable_name(raw: bytes) -> str:
    """A name as people should see it: UTF-8, else GBK/GB18030 (zips made on Chinese Windows),
    else escaped bytes; control characters shown as escapes, never as line breaks."""
    for encoding in ("utf-8", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        text = raw.decode("utf-8", "backslashreplace")
    return "".join(ch if unicodedata.category(ch) not in ("Cc", "Cs") else repr(ch)[1:-1] for ch in text)


_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')


# names Windows keeps for devices, whatever the extension (CON.xlsx is the console there)
_RESERVED = frozenset(
    {
        "CON",
        "PRN",
        "AUX",
        "NUL",
        *(f"COM{n}" for n in range(10)),
        *(f"LPT{n}" for n in range(10)),
        "COM¹",
        "COM²",
        "COM³",
        "LPT¹",
        "LPT²",
        "LPT³",
    }
)


def safe_component(name: str, limit: int = MAX_COMPONENT_BYTES) -> str:
    """A file-name component made from any name, portable to Linux, Windows and macOS shares: no
    separators, control or shell-special characters (`<>:"|?*`), no leading dot or dash, no
    trailing dot or space, no Windows device name (CON, aux.xlsx), at most `limit` bytes of UTF-8,
    suffix kept."""
    text = _UNSAFE.sub("_", unicodedata.normalize("NFC", name)).strip(" .")
    text = text.lstrip("-.") or "file"
    if text.split(".")[0].rstrip(" ").upper() in _RESERVED:
        text = "_" + text
    if len(text.encode("utf-8")) <= limit:
        return text
    stem, dot, suffix = text.rpartition(".")
    if not dot or len(suffix.encode("utf-8")) > 16:
        stem, suffix = text, ""
    keep = limit - len(suffix.encode("utf-8")) - (1 if suffix else 0) - 9
    cut = stem.encode("utf-8")[:keep].decode("utf-8", "ignore")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return f"{cut}~{digest}" + (f".{suffix}" if suffix else "")


@dataclass(frozen=True, slots=True)
class Found:
    """One entry of the inbox as discovery saw it (never followed if a link)."""

    path: Path
    rel: str  # readable, "/"-separated, relative to the inbox: the file's name in every report
    raw: bytes  # the relative path exactly as the file system has it
    kind: str  # take | lock | link | special
    size: int
    mtime_ns: int
    target: str = ""  # a link's target
    landed_ns: int = 0  # when it landed in the inbox (its inode's change time: a copy or a move sets it)


def _rel_of(raw: bytes, taken: set[str]) -> str:
    rel = "/".join(readable_name(part) for part in raw.split(b"/"))
    if rel in taken:  # two raw names that read alike: show the second exactly
        rel = raw.decode("utf-8", "backslashreplace")
    taken.add(rel)
    return rel


def scan(inbox: Path) -> list[Found]:
    """Every entry of the inbox a run deals with, oldest first (then by name).

    Lock files, hidden workbooks, links and special files are listed (to be recorded once and left
    where they are); other hidden and system files and partial downloads are not listed at all."""
    if not inbox.is_dir():
        return []
    root = os.fsencode(inbox)
    found: list[Found] = []
    taken: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = os.path.relpath(dirpath, root) if dirpath != root else b""
        keep_dirs = []
        for d in sorted(dirnames):
            if d.startswith(b"."):
                continue
            full = os.path.join(dirpath, d)
            if os.path.islink(full):
                filenames.append(d)  # a link to a folder: recorded like any link, never entered
            else:
                keep_dirs.append(d)
        dirnames[:] = keep_dirs
        for name in sorted(filenames):
            text = readable_name(name)
            kind = kind_of(text)
            if kind in (SKIP, PARTIAL):
                continue
            full = os.path.join(dirpath, name)
            raw = os.path.join(rel_dir, name) if rel_dir else name
            try:
                st = os.lstat(full)
            except OSError:
                continue  # gone while we looked
            target = ""
            if stat.S_ISLNK(st.st_mode):
                kind = Kind.LINK
                try:
                    target = readable_name(os.readlink(full))
                except OSError:
                    target = "?"
            elif not stat.S_ISREG(st.st_mode):
                kind = Kind.SPECIAL
            found.append(
                Found(
                    Path(os.fsdecode(full)),
                    _rel_of(raw, taken),
                    raw,
                    kind,
                    st.st_size,
                    st.st_mtime_ns,
                    target,
                    st.st_ctime_ns,
                )
            )
    return sorted(found, key=lambda f: (f.mtime_ns, f.raw))


def unfinished(copy: Path, found: Found, fresh: float) -> bool:
    """Is this a workbook still being written? A zip (it starts as one) without its central
    directory that a process on this machine holds open for writing, or whose file changed less
    than `fresh` seconds ago (a copy over a share, whose writer we cannot see, that stalled). Left
    for a later run; one that stays cut short is refused as corrupt."""
    try:
        with copy.open("rb") as fh:
            if fh.read(4) != b"PK\x03\x04":
                return False
        with zipfile.ZipFile(copy):
            return False
    except (zipfile.BadZipFile, EOFError, OSError, ValueError):
        pass
    return time.time() - found.mtime_ns / 1e9 < fresh or open_for_writing(found.path)


def open_for_writing(path: Path) -> bool:
    """Does a process of this machine hold the file open for writing (Linux: /proc/*/fd)?"""
    try:
        target = os.stat(path)
    except OSError:
        return False
    proc = Path("/proc")
    if not proc.is_dir():
        return False
    for pid in (p for p in os.listdir(proc) if p.isdigit()):
        fds = proc / pid / "fd"
        try:
            for fd in os.listdir(fds):
                try:
                    st = os.stat(fds / fd)
                except OSError:
                    continue
                if (st.st_dev, st.st_ino) != (target.st_dev, target.st_ino):
                    continue
                info = (proc / pid / "fdinfo" / fd).read_text()
                flags = int(next(line.split()[1] for line in info.splitlines() if line.startswith("flags:")), 8)
                if flags & (os.O_WRONLY | os.O_RDWR):
                    return True
        except (OSError, StopIteration, ValueError):
            continue
    return False


class StillWriting(Exception):
    "The file changed while it was being taken: it is left for the next run"


class Unreadable(Exception):
    "The file cannot be opened or read (permissions, I/O error)"


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def stage(found: Found, staging: Path, quiet: float = 0.0) -> tuple[Path, str, tuple[int, int, int, int]]:
    """Copy the file into `staging`, hashing the copy; returns (copy, sha256, identity).

    Opened without following links; refused as still being written if its size or mtime moved
    since discovery or during the copy, or if it changed less than `quiet` seconds ago."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(found.path, flags)
    except FileNotFoundError:
        raise
    except OSError as e:
        raise Unreadable(_why(e)) from e
    staging.mkdir(parents=True, exist_ok=True)
    copy = staging / f"{time.monotonic_ns()}-{os.getpid()}.part"
    try:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            raise Unreadable("不是普通文件")
        if (before.st_size, before.st_mtime_ns) != (found.size, found.mtime_ns):
            raise StillWriting(found.rel)
        age = time.time() - before.st_mtime_ns / 1e9
        if quiet and age < quiet:
            time.sleep(quiet - max(age, 0.0))
        h = hashlib.sha256()
        out = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            while chunk := os.read(fd, 1 << 20):
                h.update(chunk)
                view = memoryview(chunk)
                while view:
                    view = view[os.write(out, view) :]
            os.fsync(out)
        finally:
            os.close(out)
        after = os.fstat(fd)
        try:
            now = os.lstat(found.path)
        except FileNotFoundError:
            now = None
        if _identity(after) != _identity(before) or now is None or _identity(now) != _identity(before):
            raise StillWriting(found.rel)
    except (StillWriting, Unreadable, FileNotFoundError):
        copy.unlink(missing_ok=True)
        raise
    except OSError as e:
        copy.unlink(missing_ok=True)
        if e.errno in (28, 122, 30):  # ENOSPC, EDQUOT, EROFS: the machine's fault, not the file's
            raise
        raise Unreadable(_why(e)) from e
    finally:
        os.close(fd)
    return copy, h.hexdigest(), _identity(before)


def _why(e: OSError) -> str:
    if isinstance(e, PermissionError):
        return "没有读取权限"
    return e.strerror or type(e).__name__


def still_there(path: Path, identity: tuple[int, int, int, int]) -> bool:
    """Is the inbox file still the one that was taken (same inode, size and mtime)?"""
    try:
        return _identity(os.lstat(path)) == identity
    except OSError:
        return False


def pseudo_sha(found: Found, what: str) -> str:
    """A stable key for an entry whose bytes are not taken (a link, a special or unreadable file),
    so that it is recorded once, not on every run."""
    h = hashlib.sha256(f"{what}\0".encode())
    h.update(found.raw + b"\0" + found.target.encode("utf-8", "replace"))
    h.update(f"\0{found.size}\0{found.mtime_ns}".encode())
    return h.hexdigest()
