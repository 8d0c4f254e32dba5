"""The append-only log: batches of records, each closed by a commit marker.

A batch is written with one ``write`` and made durable with one data sync. On open the
log is scanned: committed batches are replayed, and bytes after the last intact commit
marker are a torn tail (a crash mid-write) that is cut and reported. A damaged record
*followed by* committed batches is not a torn tail but corruption of acknowledged data:
opening then fails and nothing is cut; only the explicit repair
(:mod:`bassline_storage_fs.repair`) discards it, keeping the bytes in a side file.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import attrs

from bassline_storage_fs.entries import (
    COMMIT,
    CONTENT,
    CONTENTS,
    DELETE,
    HEADER,
    SPEC,
    WHYS,
    EntryError,
    commit_frame,
    decode_commit,
    decode_contents,
    decode_header,
    header_frame,
)
from bassline_storage_fs.frames import MAGIC, Frame, FrameError, read_frame
from bassline_storage_fs.fsutil import same_file, sync_data, write_all, write_atomic
from bassline_storage_fs.recovery import LogCut

__all__ = [
    "LOG_FORMAT",
    "LOG_VERSION",
    "LogCorrupt",
    "LogFile",
    "LogScan",
    "LogVersionUnsupported",
    "count_commits",
    "count_contents",
    "cut_for",
    "readable_frames",
    "scan_log",
]

LOG_FORMAT = "bassline-fs-log"
LOG_VERSION = 3
"""Version 2 adds CONTENTS records, version 3 WHYS records (justifications); older logs
are read and appended to as they are (a version 2 log stores no justifications until
the next compaction starts a new log)."""
_READABLE_VERSIONS = frozenset({1, 2, 3})
_RECORD_KINDS = {
    1: frozenset({SPEC, DELETE, CONTENT}),
    2: frozenset({SPEC, DELETE, CONTENT, CONTENTS}),
    3: frozenset({SPEC, DELETE, CONTENT, CONTENTS, WHYS}),
}


class LogVersionUnsupported(Exception):
    """The log was written by a newer (or unknown) release; nothing may touch it."""

    def __init__(self, version: object) -> None:
        readable = ", ".join(map(str, sorted(_READABLE_VERSIONS)))
        super().__init__(
            f"log format version {version!r} is not supported (this reads versions {readable})"
        )
        self.version = version


class LogCorrupt(Exception):
    """The log is damaged before its end; ``message`` says where and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@attrs.frozen
class LogScan:
    """What a log holds: its committed batches and any tail that must go."""

    first_seq: int
    version: int
    batches: list[list[Frame]]
    good_end: int
    """Where the last intact committed batch ends."""
    next_seq: int
    problem: str | None
    """What is wrong after ``good_end`` (None if the log is intact)."""
    pending: list[Frame]
    """Intact records after ``good_end`` that no commit marker covers."""
    later_commits: int
    """Valid commit markers of later batches found after the problem (corruption, not a tear)."""

    @property
    def uncommitted(self) -> int:
        """How many intact records after ``good_end`` no commit marker covers."""
        return len(self.pending)


def _header(data: bytes) -> tuple[int, int, int] | str:
    """``(first_seq, header end, version)`` or why the log's header is unusable."""
    found = read_frame(data, 0)
    if isinstance(found, FrameError):
        return f"log header unreadable ({found.reason})"
    if found.kind != HEADER:
        return "log does not start with a header record"
    try:
        header = decode_header(found.payload)
    except EntryError as exc:
        return str(exc)
    if header.get("format") != LOG_FORMAT:
        return f"log header names format {header.get('format')!r}, not {LOG_FORMAT!r}"
    version = header.get("version")
    if type(version) is not int or version not in _READABLE_VERSIONS:
        raise LogVersionUnsupported(version)
    first = header.get("first_seq")
    if type(first) is not int or first < 1:
        return f"log header has a bad first_seq {first!r}"
    return first, found.end, version


def _later_commits(data: bytes, start: int, seq: int) -> int:
    """How many valid commit markers of batches after ``seq`` lie beyond ``start``."""
    count = 0
    pos = data.find(MAGIC, start)
    while pos != -1:
        found = read_frame(data, pos)
        if isinstance(found, Frame) and found.kind == COMMIT:
            try:
                committed, _ = decode_commit(found.payload)
            except EntryError:
                committed = 0
            if committed > seq:
                count += 1
                pos = data.find(MAGIC, found.end)
                continue
        pos = data.find(MAGIC, pos + 1)
    return count


def count_commits(data: bytes) -> int:
    """How many valid commit markers ``data`` holds anywhere (for damage reports)."""
    return _later_commits(data, 0, 0)


def readable_frames(data: bytes, start: int) -> list[Frame]:
    """Every valid frame found from ``start`` on, looking past damage for the magic bytes
    (for reports on bytes that are discarded: what they held, as far as it can be read)."""
    found: list[Frame] = []
    pos = data.find(MAGIC, start)
    while pos != -1:
        frame = read_frame(data, pos)
        if isinstance(frame, Frame):
            found.append(frame)
            pos = data.find(MAGIC, frame.end)
        else:
            pos = data.find(MAGIC, pos + 1)
    return found


def count_contents(frames: list[Frame]) -> int:
    """How many contact contents the CONTENT and CONTENTS records among ``frames`` hold
    (records that do not decode count for nothing)."""
    count = 0
    for found in frames:
        if found.kind == CONTENT:
            count += 1
        elif found.kind == CONTENTS:
            with contextlib.suppress(EntryError):
                count += len(decode_contents(found.payload))
    return count


def scan_log(data: bytes) -> LogScan:
    """Parse a whole log; raises :class:`LogCorrupt` if its header is unusable and
    :class:`LogVersionUnsupported` if it is of a version this release does not read."""
    header = _header(data)
    if isinstance(header, str):
        raise LogCorrupt(header)
    first_seq, pos, version = header
    kinds = _RECORD_KINDS[version]
    seq, good = first_seq, pos
    batches: list[list[Frame]] = []
    pending: list[Frame] = []
    problem: str | None = None
    problem_at = len(data)
    while pos < len(data):
        found = read_frame(data, pos)
        if isinstance(found, FrameError):
            problem, problem_at = f"{found.reason} at byte {found.offset}", found.offset
            break
        if found.kind == COMMIT:
            try:
                committed, count = decode_commit(found.payload)
            except EntryError as exc:
                problem, problem_at = f"{exc} at byte {pos}", pos
                break
            if committed != seq or count != len(pending):
                problem, problem_at = (
                    f"commit marker at byte {pos} closes batch {committed} of {count} records, "
                    f"expected batch {seq} of {len(pending)}",
                    pos,
                )
                break
            batches.append(pending)
            pending = []
            seq += 1
            good = found.end
        elif found.kind in kinds:
            pending.append(found)
        else:
            problem, problem_at = f"unknown record kind {found.kind} at byte {pos}", pos
            break
        pos = found.end
    if problem is None and pending:
        problem = f"the last batch ({len(pending)} records) has no commit marker"
    later = _later_commits(data, problem_at, seq) if problem is not None else 0
    return LogScan(first_seq, version, batches, good, seq, problem, pending, later)


class LogFile:
    """The open log, appended to by one writer (the store holds the directory lock)."""

    def __init__(self, path: Path, fd: int, size: int, next_seq: int, version: int) -> None:
        self.path = path
        self._fspath = os.fspath(path)  # checked after every append: no Path to convert
        self._fd = fd
        self.version = version
        """The log's format version: what kinds of records it may hold."""
        self.size = size
        """Bytes of committed batches (the file's length when nothing is in flight)."""
        self.next_seq = next_seq
        self.broken: str | None = None
        """Set when a failed write could not be rolled back: no further appends."""
        self.last_sync_seconds: float | None = None
        """How long the last append's data sync took (None before the first append)."""
        st = os.fstat(fd)
        self._identity = (st.st_dev, st.st_ino)

    @classmethod
    def create(cls, path: Path, first_seq: int) -> LogFile:
        """Atomically (re)create an empty log whose first batch will be ``first_seq``."""
        version = LOG_VERSION
        head = header_frame({"format": LOG_FORMAT, "version": version, "first_seq": first_seq})
        write_atomic(path, [head])
        return cls.append_to(path, len(head), first_seq, version)

    @classmethod
    def append_to(cls, path: Path, size: int, next_seq: int, version: int) -> LogFile:
        """Open an existing log of ``size`` committed bytes (of ``version``) for appending."""
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        return cls(path, fd, size, next_seq, version)

    @classmethod
    def read_only(cls, path: Path, size: int, next_seq: int, version: int) -> LogFile:
        """Hold an existing log open for reading only (a store opened read-only): the
        file is never changed (an append would fail: the descriptor cannot write)."""
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        return cls(path, fd, size, next_seq, version)

    @staticmethod
    def cut(path: Path, offset: int) -> None:
        """Durably truncate the log at ``offset``."""
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.ftruncate(fd, offset)
            sync_data(fd)
        finally:
            os.close(fd)

    def append(self, records: bytes, count: int) -> None:
        """Append one batch of ``count`` framed records and its commit marker, durably.

        One write and one data sync. If either fails, the file is cut back to the last
        committed batch so nothing half-written stays behind; if even that fails, the log
        is marked broken and refuses further appends until the store is reopened. The
        log's path is checked once, after the sync: a log replaced before or during the
        append raises :class:`StoreReplaced`, and the batch is cut back off the file it
        reached (which nobody reads), so neither file keeps it (decision D70).
        """
        if self.broken is not None:
            raise OSError(0, self.broken)
        data = records + commit_frame(self.next_seq, count)
        try:
            written = os.write(self._fd, data)
            if written < len(data):
                write_all(self._fd, memoryview(data)[written:])
            started = time.perf_counter()
            try:
                sync_data(self._fd)
            finally:
                self.last_sync_seconds = time.perf_counter() - started
            self.check_path()  # replaced: the batch went where nobody reads it
        except OSError:
            self._roll_back()
            raise
        self.size += len(data)
        self.next_seq += 1

    def check_path(self) -> None:
        """Raise StoreReplaced unless the log's path still names the file open for appending.

        A deleted or replaced store directory does not stop appends through the open
        descriptor: without this check they would succeed into a file nobody reads again.
        """
        same_file(self._fspath, self._identity, "log")

    def _roll_back(self) -> None:
        try:
            if os.fstat(self._fd).st_size == self.size:
                return  # nothing reached the file (EPERM on an immutable log, say)
            os.ftruncate(self._fd, self.size)
            sync_data(self._fd)
        except OSError as exc:
            self.broken = (
                f"a failed write to {self.path} could not be rolled back ({exc.strerror}); "
                "reopen the storage to recover from the log"
            )

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def cut_for(scan: LogScan, total: int) -> LogCut | None:
    """The cut recovery makes for ``scan`` of a ``total``-byte log: None when the log is
    intact, a :class:`LogCut` for a torn tail. Raises :class:`LogCorrupt` (reason only,
    the caller adds where and what to do) when committed batches follow the damage."""
    if scan.good_end == total:
        return None
    reason = scan.problem or "unexpected bytes after the last batch"
    if scan.later_commits:
        raise LogCorrupt(reason)
    return LogCut(
        offset=scan.good_end,
        bytes=total - scan.good_end,
        reason=reason,
        records=scan.uncommitted,
        contents=count_contents(scan.pending),
    )
