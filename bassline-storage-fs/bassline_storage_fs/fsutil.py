"""Durable file primitives: data sync, directory sync, atomic replacement."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "TEMP_SUFFIX",
    "StoreReplaced",
    "fsync_dir",
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


def same_file(path: Path, identity: tuple[int, int], what: str) -> None:
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
