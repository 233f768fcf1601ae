"""A county's upload on the desk: received within a cap while it streams, dropped into the inbox as
any file would be, and judged by the same run as a dropped file (`Runs`).

The body is parsed as it arrives (python-multipart's push parser): the declared length is
checked before a byte is read, and the bytes counted as they come, so a 2 GB upload costs one
refusal, never a disk or a memory full. The file lands in `inputs/网上报送/<county>/<upload>/`
under a portable name; until complete it is a hidden `.part` file that no run takes.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_multipart.multipart import MultipartParser, parse_options_header

from huizong.ledger.inbox import PARTIAL_SUFFIXES, SYSTEM_FILES, TAKE, kind_of, safe_component
from huizong.ledger.review import UPLOADS

FIELD_BYTES = 4 << 10  # a text field of the upload form (the CSRF token)
OVERHEAD = 64 << 10  # the multipart body around the file


class UploadRefused(Exception):
    "The upload was not taken (too big, not a form, no file)"

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Received:
    fields: dict[str, str] = field(default_factory=dict)
    filename: str = ""
    path: Path | None = None  # the hidden .part file while it streams; the inbox file once placed
    size: int = 0
    rel: str = ""  # its path under the inbox, once placed


def _boundary(content_type: str) -> bytes:
    kind, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise UploadRefused("请通过页面上的上传表单提交文件")
    return boundary


def _filename(params: dict[bytes, bytes]) -> str:
    raw = params.get(b"filename*") or params.get(b"filename") or b""
    text = raw.decode("utf-8", "replace")
    if text.lower().startswith("utf-8''"):
        from urllib.parse import unquote

        text = unquote(text[7:])
    return text.replace("\\", "/").rsplit("/", 1)[-1]  # a browser on Windows may send the whole path


async def receive(
    stream: AsyncIterator[bytes], content_type: str, content_length: str | None, folder: Path, max_bytes: int
) -> Received:
    """Parse the upload form from `stream`, writing its one file into `folder` as a hidden .part
    file; refused (and the partial file removed) past `max_bytes` of file or a malformed body."""
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError:
            raise UploadRefused("请求格式不正确") from None
        if declared > max_bytes + OVERHEAD:
            raise UploadRefused(f"文件超过 {max_bytes >> 20} MB 的上限，未接收", 413)
    folder.mkdir(parents=True, exist_ok=True)
    got = Received()
    state: dict[str, Any] = {"name": None, "headers": {}, "field": None, "out": None, "header": b""}
    total = 0

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["header"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        key = state["header"].lower()
        state["headers"][key] = state["headers"].get(key, b"") + data[start:end]

    def on_header_end() -> None:
        state["header"] = b""

    def on_headers_finished() -> None:
        _, params = parse_options_header(state["headers"].get(b"content-disposition", b""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        state["name"] = name
        if b"filename" in params or b"filename*" in params:
            if got.path is not None:
                raise UploadRefused("一次只能上传一个文件")
            got.filename = _filename(params)
            got.path = folder / f".{secrets.token_hex(8)}.part"
            state["out"] = open(got.path, "xb")  # noqa: SIM115 - closed at the part's end or on refusal
        else:
            state["field"] = bytearray()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if state["out"] is not None:
            got.size += end - start
            if got.size > max_bytes:
                raise UploadRefused(f"文件超过 {max_bytes >> 20} MB 的上限，未接收", 413)
            state["out"].write(data[start:end])
        elif state["field"] is not None:
            state["field"] += data[start:end]
            if len(state["field"]) > FIELD_BYTES:
                raise UploadRefused("表单内容过长")

    def on_part_end() -> None:
        if state["out"] is not None:
            state["out"].close()
            state["out"] = None
        elif state["field"] is not None:
            got.fields[state["name"]] = bytes(state["field"]).decode("utf-8", "replace")
            state["field"] = None
        state["headers"] = {}

    parser = MultipartParser(
        _boundary(content_type),
        {
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        async for chunk in stream:
            total += len(chunk)
            if total > max_bytes + OVERHEAD:
                raise UploadRefused(f"文件超过 {max_bytes >> 20} MB 的上限，未接收", 413)
            parser.write(chunk)
        parser.finalize()
        if got.path is None or not got.filename:
            raise UploadRefused("没有收到文件，请选择要上传的报表")
    except BaseException as e:
        if state["out"] is not None:
            state["out"].close()
        if got.path is not None:
            got.path.unlink(missing_ok=True)
        if isinstance(e, UploadRefused):
            raise
        if isinstance(e, Exception):
            raise UploadRefused("上传的内容不完整或格式不正确，请重新上传") from e
        raise
    return got


def stored_name(filename: str | None) -> str:
    """The name an upload is kept under: portable, and one a run takes, whatever the browser sent
    (`报表.tmp`, `报表.xlsx.crdownload`, `报表.xlsx#`, `~$报表.xlsx`): every upload gets a verdict; one
    that is no return is refused with the reason, never left waiting in the inbox."""
    name = safe_component(filename or "报表.xlsx")
    if kind_of(name) is TAKE:
        return name
    core = name.lstrip("~$.").rstrip("#") or "报表"
    if core.lower().endswith(PARTIAL_SUFFIXES) or core.lower() in SYSTEM_FILES:
        core += ".upload"
    name = safe_component(core)
    return name if kind_of(name) is TAKE else "报表.upload"


def place(got: Received, inbox: Path, county: str, settle: float) -> str:
    """Move the received file into the inbox under `网上报送/<county>/<upload>/<name>`; returns that
    path relative to the inbox (the ledger's inbox_path). The file is whole when it appears (a
    rename), so its time is set back `settle` seconds: past the run's wait for quiet files and for
    zips cut short that may still be growing (a cut-short upload is refused at once, as corrupt)."""
    assert got.path is not None
    upload = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
    name = stored_name(got.filename)
    target_dir = inbox / UPLOADS / county / upload
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / name
    os.replace(got.path, target)
    past = time.time() - settle - 1
    os.utime(target, (past, past))
    got.path, got.rel = target, f"{UPLOADS}/{county}/{upload}/{name}"
    return got.rel


def tidy(uploads: Path, older_than: float = 3600) -> int:
    """Remove what uploads leave behind in the inbox: `.part` files of uploads cut off (a server
    killed mid-upload; older than `older_than` seconds, so none still streaming) and the empty
    folders of uploads a run has taken. Returns how many were removed."""
    if not uploads.is_dir():
        return 0
    gone = 0
    cutoff = time.time() - older_than
    for county in uploads.iterdir():
        if not county.is_dir() or county.is_symlink():
            continue
        for entry in county.iterdir():
            try:
                if entry.name.startswith(".") and entry.name.endswith(".part") and entry.stat().st_mtime < cutoff:
                    entry.unlink()
                    gone += 1
                elif entry.is_dir() and not entry.is_symlink() and entry.stat().st_mtime < time.time() - 60:
                    entry.rmdir()  # only if empty: a file still waiting for a run stays
                    gone += 1
            except OSError:
                continue
    return gone


class Runs:
    """Runs of the pipeline for the desk, one at a time, coalesced: every upload asks for a run
    that starts after it landed, and uploads that arrive together (within `gather` seconds of the
    first, or while a run is busy) are judged by one run. A waiter is released as soon as its run
    has committed its decisions. The desk's publishing is a second `Runs` (`name`), asked after
    each run: it writes the outputs beside the next runs, every run's since it last wrote at once."""

    def __init__(self, run: Callable[[Callable[..., None]], Any], gather: float = 0.25, name: str = "runs") -> None:
        self._run = run
        self._gather = gather
        self._name = f"huizong-desk-{name}"
        self._cond = threading.Condition()
        self._asked = 0
        self._done = 0
        self._failed: str | None = None
        self._thread: threading.Thread | None = None
        self._stop = False

    def start(self) -> None:
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(30)

    def ask(self) -> int:
        """Ask for a run; returns the ticket to wait on."""
        self.start()
        with self._cond:
            self._asked += 1
            self._cond.notify_all()
            return self._asked

    def wait(self, ticket: int, timeout: float) -> str | None:
        """Wait until a run that started after `ticket` was asked has committed; the error of that
        run if it failed before, "timeout" if none did in time, else None."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._done >= ticket, timeout):
                return "timeout"
            return self._failed

    def _loop(self) -> None:
        while True:
            with self._cond:
                waiting = self._asked > self._done  # asked while the last run was busy: gathered already
                self._cond.wait_for(lambda: self._stop or self._asked > self._done)
                if self._stop:
                    return
            if not waiting:
                time.sleep(self._gather)  # uploads sent together share this run
            with self._cond:
                target = self._asked

            def committed(*_: Any, target: int = target) -> None:
                with self._cond:
                    self._done, self._failed = max(self._done, target), None
                    self._cond.notify_all()

            failed = None
            try:
                self._run(committed)
            except Exception as e:  # a fault of the machine: every waiter is told, the next upload tries again
                failed = f"{type(e).__name__}: {e}"
            with self._cond:
                if self._done < target:
                    self._done, self._failed = target, failed
                self._cond.notify_all()
