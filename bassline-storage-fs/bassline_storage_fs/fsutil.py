"""Durable file primitives: data sync, directory sync, atomic replacement."""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "TEMP_SUFFIX",
    "NotRegularFile",
    "StoreReplaced",
    "fsync_dir",
    "open_regular",
    "read_regular",
    "same_file",
    "sync_data",
    "write_all",
    "write_atomic",
]

TEMP_SUFFIX = ".tmp"
"""Files being written; any found at open are leftovers of a crash and are removed."""

_F_FULLFSYNC: int | None = getattr(fcntl, "F_FULLFSYNC", None)


class StoreReplaced(OSError):
    """A path of the open store no longer names the file or directory the store opened.

    The directory was deleted, moved or replaced underneath it. Writing on through the
    descriptors it holds would reach files nobody will read again, so nothing is written.
    """


def same_file(path: Path | str, identity: tuple[int, int], what: str) -> None:
    """Raise :class:`StoreReplaced` unless ``path`` is still ``identity`` (device, inode)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        found = None
    else:
        found = (st.st_dev, st.st_ino)
    if found != identity:
        gone = "is gone" if found is None else "is no longer the one this storage opened"
        raise StoreReplaced(
            f"{what} {path} {gone}: the store directory was removed or replaced while open, "
            "so nothing was written; reopen the storage on the store's directory"
        )


class NotRegularFile(OSError):
    """A file of the store is something else: a named pipe, a device, a directory, ...
    (put there by hand or by an attacker: the backend only ever makes regular files)."""

    def __init__(self, path: Path, kind: str) -> None:
        super().__init__(f"{path} is {kind}, not a regular file")
        self.path = path
        self.kind = kind


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
)


def read_regular(path: Path, limit: int | None = None) -> bytes:
    """The bytes of regular file ``path`` (at most ``limit`` + 1 of them if given).

    Anything else is :class:`NotRegularFile`, found on the opened descriptor before a
    byte is read: it is opened without waiting, so a named pipe's writer is never
    waited for, and a device such as ``/dev/zero`` (a symbolic link to one) never read.
    """
    with open_regular(path) as f:
        return f.read() if limit is None else f.read(limit + 1)


def open_regular(path: Path) -> BinaryIO:
    """Regular file ``path`` open for reading; :class:`NotRegularFile` (and nothing
    left open) for anything else, as :func:`read_regular` says."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
    except BaseException:
        os.close(fd)
        raise
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = next((what for test, what in _KINDS if test(mode)), "a special file")
        raise NotRegularFile(path, kind)
    return open(fd, "rb", closefd=True)


def sync_data(fd: int) -> None:
    """Make the file's data (and its size) durable.

    ``fdatasync`` on Linux; ``F_FULLFSYNC`` on macOS, where plain ``fsync`` only reaches
    the drive's cache.
    """
    if _F_FULLFSYNC is not None and sys.platform == "darwin":  # pragma: no cover - macOS
        fcntl.fcntl(fd, _F_FULLFSYNC)
    elif hasattr(os, "fdatasync"):
        os.fdatasync(fd)
    else:  # pragma: no cover - platforms without fdatasync
        os.fsync(fd)


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (creations, renames, removals) durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes | memoryview) -> None:
    """Write every byte of ``data`` (``os.write`` may write fewer)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def write_atomic(path: Path, chunks: Iterable[bytes]) -> None:
    """Replace ``path`` with ``chunks`` so a crash leaves the old file or the new, whole.

    Writes a temporary file beside it, syncs it, renames it over ``path`` and syncs the
    directory. The temporary file is removed if anything fails.
    """
    temp = path.with_name(path.name + TEMP_SUFFIX)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        try:
            buffer: list[bytes] = []
            size = 0
            for chunk in chunks:
                buffer.append(chunk)
                size += len(chunk)
                if size >= 1 << 20:
                    write_all(fd, b"".join(buffer))
                    buffer, size = [], 0
            write_all(fd, b"".join(buffer))
            sync_data(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    fsync_dir(path.parent)
