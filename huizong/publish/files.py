"""Writing outputs: every file to a temporary name beside its target, then renamed into place,
so a reader never sees half a file; with the usual permissions (colleagues share the folder).
CSVs are UTF-8 with a BOM so that Excel shows the Chinese; county text Excel would run as a
formula is written as text."""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from huizong.numbers import exact

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: object) -> object:
    """County text that Excel would run as a formula is written as plain text."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        try:
            float(value)
            return value  # a plain negative number such as "-3"
        except ValueError:
            return "'" + value
    return value


def fmt(value: object) -> str:
    """A CSV cell: numbers exact (`huizong.numbers.exact`), text made safe for a spreadsheet."""
    return exact(value) if isinstance(value, float) or value is None else str(safe_text(value))


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()  # outputs are read by colleagues on a shared folder: not mkstemp's 0600


class _Held:
    """How `write_atomic` writes within `kept` or `finished`: made, but not put in place."""

    def write(self, path: Path, write: Callable[[Path], object]) -> Path:
        raise NotImplementedError


@dataclass
class _Kept(_Held):
    folder: Path  # where each file is made, outside outputs/
    files: dict[Path, bytes] = field(default_factory=dict)

    def write(self, path: Path, write: Callable[[Path], object]) -> Path:
        made = self.folder / f"{len(self.files)}.tmp"
        write(made)
        self.files[path] = made.read_bytes()
        made.unlink()
        return path


@dataclass
class _Finished(_Held):
    owner: int  # the process that puts the files in place
    left: list[tuple[Path, Path]] = field(default_factory=list)  # (temporary, target)

    def write(self, path: Path, write: Callable[[Path], object]) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".huizong.{self.owner}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp = Path(name)
        try:
            write(tmp)
            os.chmod(tmp, FILE_MODE)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self.left.append((tmp, path))
        return path


_HELD: ContextVar[_Held | None] = ContextVar("huizong_held", default=None)


@contextmanager
def _holding(held: _Held) -> Iterator[None]:
    token = _HELD.set(held)
    try:
        yield
    finally:
        _HELD.reset(token)


@contextmanager
def kept() -> Iterator[dict[Path, bytes]]:
    """Within it, `write_atomic` puts nothing in place: each file is made whole in a temporary
    folder and its bytes are kept, by the path it was meant for. A publisher on a cluster's worker
    makes its regions' files so, and the flow's process places them (`place`): one process writes
    outputs/, and a task that outlives a killed run never writes there after it."""
    with tempfile.TemporaryDirectory(prefix="huizong-kept-") as folder:
        held = _Kept(Path(folder))
        with _holding(held):
            yield held.files


@contextmanager
def finished(owner: int) -> Iterator[list[tuple[Path, Path]]]:
    """Within it, `write_atomic` makes each file whole under a temporary name beside its target and
    leaves it there: (temporary, target) pairs, for the process `owner` to rename into place
    (`put_in_place`). The names carry the owner's pid, so that a sweep leaves them while it lives
    and removes them once it died without placing them. What was made before an exception is
    removed. A publisher process on this machine works so for the run that started it."""
    held = _Finished(owner)
    try:
        with _holding(held):
            yield held.left
    except BaseException:
        for tmp, _ in held.left:
            tmp.unlink(missing_ok=True)
        raise


def put_in_place(left: Iterable[tuple[Path, Path]]) -> list[Path]:
    """Files made whole by another process (`finished`), renamed into place, in order."""
    placed = []
    for tmp, path in left:
        os.replace(tmp, path)
        placed.append(path)
    return placed


def place(path: Path, data: bytes) -> Path:
    """A file made elsewhere (`kept`), put in place as `write_atomic` puts every file."""
    return write_atomic(path, lambda tmp: tmp.write_bytes(data))


def write_atomic(path: Path, write: Callable[[Path], object]) -> Path:
    held = _HELD.get()
    if held is not None:
        return held.write(path, write)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the writer's pid in the name: a sweep removes only what a dead process left (`pipeline.sweep`)
    fd, tmp = tempfile.mkstemp(prefix=f".huizong.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for row in rows:  # most cells are plain text, written as they are (what `fmt` returns for them)
        w.writerow([v if type(v) is str and not v.startswith(FORMULA_START) else fmt(v) for v in row])
    return write_csv_text(path, buf.getvalue())


def csv_cells(cells: Sequence[str]) -> str:
    """Cells, each `fmt`'s text already, as `write_csv` writes them within a line of several cells
    (quoted where the csv module quotes), without the line's end: a caller writing the same cells
    on many lines (the counties CSV's county and indicator) makes them once."""
    if not any(_QUOTED.intersection(c) for c in cells):
        return ",".join(cells)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    return buf.getvalue()[:-1]


_QUOTED = frozenset(',"\n\r')  # a cell with one of these goes through the csv module


def write_csv_text(path: Path, text: str) -> Path:
    """A CSV's lines, made already (`write_csv`, `csv_cells`), written as UTF-8 with a BOM."""
    data = text.encode("utf-8-sig")
    return write_atomic(path, lambda tmp: tmp.write_bytes(data))
