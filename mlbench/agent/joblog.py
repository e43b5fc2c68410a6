"""A job's log file, bounded, and how the agent tells a full disk from other write errors.

:class:`JobLog` is what the agent hands executors and hooks as the job's log (papermill writes
each cell's stdout and stderr to it). Each attempt writes at most ``max_bytes``: the first half
goes to the file as it comes, so ``mlbench job logs -f`` follows it live; past that, output is
held in a fixed-size ring file next to the log and, when the job ends, its last half is appended
after a line saying how much was left out. The log file only ever grows (followers read it by
offset), and neither the agent's memory nor the disk grows with the job's output.

A write that fails (a full disk, a quota) never raises into the job: the output is dropped and
counted, writing is tried again a few seconds later, and where it resumes a line says how much
could not be written. :attr:`JobLog.error` tells the agent the log is still failing.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
# SQLite's SQLITE_FULL, as sqlite3 and SQLAlchemy word it.
_SQLITE_FULL = re.compile(r"database or disk is full", re.IGNORECASE)
# A partial line waits for its end (so redaction sees a secret whole) up to this size.
_PENDING_MAX = 64 * 1024
_COPY_CHUNK = 1024 * 1024


def size_text(n: float) -> str:
    """Bytes for people: '512 bytes', '1.5 KiB', '187.3 MiB'."""
    if n < 1024:
        return f"{int(n)} bytes"
    for unit in ("KiB", "MiB", "GiB"):
        n /= 1024
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}"
    raise AssertionError("unreachable")


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what caused it) is a full disk or an exhausted quota."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
            return True
        if _SQLITE_FULL.search(str(exc)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def free_space_text(folder: Path) -> str:
    """'12.0 KiB free of 40.0 MiB' for the file system holding ``folder`` (best effort)."""
    try:
        usage = shutil.disk_usage(folder)
    except OSError:
        return "free space unknown"
    return f"{size_text(usage.free)} free of {size_text(usage.total)}"


def disk_full_message(folder: Path, what: str) -> str:
    return (
        f"disk full: {what} could not be written to {folder} "
        f"({free_space_text(folder)}); free space there (or raise its quota) and run the job "
        "again (the workspace settings job_log_max_bytes, output_max_bytes and "
        "notebook_output_max_bytes bound what a job writes)"
    )


class JobLog:
    """The log of one attempt of a job: a text file object (write, flush, close), thread-safe.

    ``redact`` is applied to every text before it is written; a partial line is held until
    its end (or ``close``), so a secret split across two writes is still seen whole.
    """

    encoding = "utf-8"

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int,
        redact: Callable[[str], str] | None = None,
        retry_s: float = 5.0,
    ) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._redact = redact
        self._retry_s = retry_s
        self._lock = threading.Lock()
        self._pending = ""
        self._closed = False
        self._head_left = max_bytes - max_bytes // 2
        self._tail_max = max_bytes // 2
        self._ring_path = self.path.with_name(f".{self.path.name}.tail")
        self._ring_fd: int | None = None
        self._ring_written = 0
        self._holding = False  # output past the head goes to the ring
        self.written = 0
        """Bytes of output this attempt produced (after redaction), kept or not."""
        self.lost = 0
        """Bytes that could not be written (disk full, quota)."""
        self._gap = 0  # lost bytes not yet reported in the log
        self.error: OSError | None = None
        """The write error in effect: the log is failing now (None once writing works)."""
        self.first_error: OSError | None = None
        self._retry_at = 0.0
        self._fd: int | None = None
        try:
            self._open()
        except OSError as exc:
            self._failed(exc, 0)

    # -- the file object API -------------------------------------------------------------------
    def write(self, text: str) -> int:
        with self._lock:
            if self._closed:
                raise ValueError("write to a closed job log")
            if self._redact is None:
                self._emit(text)
                return len(text)
            self._pending += text
            cut = max(self._pending.rfind("\n"), self._pending.rfind("\r")) + 1
            if cut == 0 and len(self._pending) > _PENDING_MAX:
                cut = len(self._pending)
            if cut:
                ready, self._pending = self._pending[:cut], self._pending[cut:]
                self._emit(self._redact(ready))
        return len(text)

    def flush(self) -> None:
        """Nothing is buffered but a partial line waiting for its end (see the class)."""

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._retry_at = 0.0  # a last try, whenever the previous one was
            if self._pending:
                text, self._pending = self._pending, ""
                self._emit(self._redact(text) if self._redact else text)
            elif self.error is not None:
                self._writable(0)
            try:
                self._write_tail()
            finally:
                if self._ring_fd is not None:
                    os.close(self._ring_fd)
                    self._ring_fd = None
                # The ring is ours alone; removing it also frees space when the disk is full.
                self._ring_path.unlink(missing_ok=True)
                if self._fd is not None:
                    os.close(self._fd)
                    self._fd = None

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def left_out(self) -> int:
        """Bytes dropped by the cap (so far: the tail's share is known at close)."""
        return max(0, self._ring_written - self._tail_max)

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def __enter__(self) -> JobLog:
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()

    # -- inside --------------------------------------------------------------------------------
    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        # A retry appends to the log of the attempts before it: they count toward the head.
        self._head_left = max(0, self._head_left - os.fstat(self._fd).st_size)

    def _emit(self, text: str) -> None:
        data = text.encode("utf-8", "replace")
        self.written += len(data)
        if not self._writable(len(data)):
            return
        try:
            if self._head_left > 0:
                head = _cut(data, self._head_left)
                self._append(head)
                self._head_left -= len(head)
                data = data[len(head) :]
            if data and not self._holding:
                self._holding = True
                self._append(
                    f"\n[mlbench] this log reached {size_text(self.max_bytes - self._tail_max)}"
                    f": output from here on is held back and written when the job ends, "
                    f"keeping its last {size_text(self._tail_max)} "
                    "(workspace setting job_log_max_bytes)\n".encode()
                )
            if data:
                self._to_ring(data)
        except OSError as exc:
            self._failed(exc, len(data))

    def _writable(self, n: int) -> bool:
        """False while failing and not yet time to try again (then ``n`` bytes are lost)."""
        if self.error is None:
            return True
        if time.monotonic() < self._retry_at:
            self.lost += n
            self._gap += n
            return False
        try:
            if self._fd is None:
                self._open()
            self.error = None
            if self._gap:
                self._report_gap()
        except OSError as exc:
            self._failed(exc, n)
            return False
        return True

    def _report_gap(self) -> None:
        assert self._fd is not None
        line = (
            f"\n[mlbench] {size_text(self._gap)} of output could not be written here: "
            f"{self.first_error}\n"
        )
        self._append(line.encode())
        self._gap = 0

    def _failed(self, exc: OSError, n: int) -> None:
        self.error = exc
        self.first_error = self.first_error or exc
        self.lost += n
        self._gap += n
        self._retry_at = time.monotonic() + self._retry_s

    def _append(self, data: bytes) -> None:
        assert self._fd is not None
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]

    def _to_ring(self, data: bytes) -> None:
        cap = self._tail_max
        if cap <= 0:
            self._ring_written += len(data)
            return
        if self._ring_fd is None:
            self._ring_fd = os.open(self._ring_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        skipped = max(0, len(data) - cap)
        data = data[skipped:]
        pos = (self._ring_written + skipped) % cap
        first = data[: cap - pos]
        _pwrite_all(self._ring_fd, first, pos)
        if len(data) > len(first):
            _pwrite_all(self._ring_fd, data[len(first) :], 0)
        self._ring_written += skipped + len(data)

    def _write_tail(self) -> None:
        """Append what the ring holds, after a line saying how much was left out."""
        if self._ring_written == 0 or self._fd is None or self.error is not None:
            return
        cap = self._tail_max
        pieces = [(0, self._ring_written)]
        if self._ring_written > cap:  # oldest byte at the write position, then wrap around
            start = self._ring_written % cap
            pieces = [(start, cap - start), (0, start)]
        try:
            if self._ring_written > cap:
                self._append(
                    f"\n[mlbench] {size_text(self._ring_written - cap)} of output left out here "
                    f"(this log keeps the first {size_text(self.max_bytes - cap)} and the last "
                    f"{size_text(cap)} of each attempt; workspace setting job_log_max_bytes)"
                    "\n".encode()
                )
            skip_partial = self._ring_written > cap
            for offset, length in pieces:
                done = 0
                while done < length and self._ring_fd is not None:
                    chunk = os.pread(self._ring_fd, min(_COPY_CHUNK, length - done), offset + done)
                    if not chunk:
                        break
                    done += len(chunk)
                    if skip_partial:  # start the kept tail at a line (or at least a character)
                        skip_partial = False
                        newline = chunk.find(b"\n", 0, 4096)
                        if newline >= 0:
                            chunk = chunk[newline + 1 :]
                        while chunk and chunk[0] & 0xC0 == 0x80:
                            chunk = chunk[1:]
                    self._append(chunk)
        except OSError as exc:
            self._failed(exc, 0)


def _cut(data: bytes, limit: int) -> bytes:
    """At most ``limit`` bytes of ``data``, not splitting a UTF-8 character."""
    if len(data) <= limit:
        return data
    end = limit
    while end > 0 and data[end] & 0xC0 == 0x80:
        end -= 1
    return data[:end]


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n


class DiskReserve:
    """A few MiB held in a file in the workspace and given up when the disk is full, so the
    agent can still record how its jobs ended (the database is usually on the same disk).
    Made again once there is room."""

    def __init__(self, path: Path, size: int = 4 * 1024 * 1024, retry_s: float = 30.0) -> None:
        self.path = path
        self.size = size
        self._retry_s = retry_s
        self._next_try = 0.0

    def ensure(self) -> None:
        """Make the reserve if it is missing (at most every ``retry_s``; never raises)."""
        if time.monotonic() < self._next_try or self.path.exists():
            return
        self._next_try = time.monotonic() + self._retry_s
        tmp = self.path.with_name(self.path.name + ".new")
        try:
            # Only with room to spare: taking the last free blocks would fail a job's writes.
            if shutil.disk_usage(self.path.parent).free < 4 * self.size:
                return
            with open(tmp, "wb") as f:
                # Zeros, not a sparse file: the blocks must really be taken to be given back.
                block = bytes(min(self.size, _COPY_CHUNK))
                for _ in range(0, self.size, len(block)):
                    f.write(block)
            os.replace(tmp, self.path)
        except OSError:
            tmp.unlink(missing_ok=True)

    def release(self) -> bool:
        """Give the reserve up; True if there was one to give."""
        try:
            self.path.unlink()
        except OSError:
            return False
        self._next_try = time.monotonic() + self._retry_s
        return True
