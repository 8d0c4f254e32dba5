"""The store directory: where everything lives, the marker that says "this is a store",
and the lock that keeps a second writer out.

::

    <root>/bassline-store.json     marker: {"format": "bassline-fs", "version": 1}
    <root>/lock                    flock()ed exclusively while a storage has the store open
    <root>/log                     the append-only log of batches (all networks)
    <root>/networks/<name>/state   a network's compacted spec and contents
    <root>/networks/<name>/snapshots/<snapshot id>.snap
    <root>/discarded/              what `bassline storage repair` cut from the log, kept

A new store's log is written before its marker, so a store with a marker always has a
log: a missing log is damage, never emptiness.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import os
from pathlib import Path

import orjson

from bassline.storage import ErrorCode, StorageError
from bassline_storage_fs.fsutil import (
    TEMP_SUFFIX,
    NotRegularFile,
    fsync_dir,
    read_regular,
    write_atomic,
)
from bassline_storage_fs.logfile import LogCorrupt, LogVersionUnsupported, scan_log
from bassline_storage_fs.naming import network_dirname

__all__ = ["MARKER", "MAX_MARKER_BYTES", "STORE_FORMAT", "STORE_VERSION", "Layout", "StoreLock"]

STORE_FORMAT = "bassline-fs"
STORE_VERSION = 1
MARKER = "bassline-store.json"
_LOCK = "lock"
_OWN_WHEN_EMPTY = {_LOCK, MARKER + TEMP_SUFFIX, "log" + TEMP_SUFFIX}
_NEW_LOG_LIMIT = 4096
MAX_MARKER_BYTES = 64 << 10
"""The most read of a store marker (the one this backend writes is about 100 bytes)."""


def _not_created(root: Path, exc: OSError) -> StorageError:
    """Why ``root`` could not be created: a permission or limit error as such, anything
    else INVALID (the path is no place for a store), never CORRUPTION: no store exists."""
    reason = f"{exc.strerror or exc} ({errno.errorcode.get(exc.errno or 0, '?')})"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        code, advice = ErrorCode.PERMISSION, "check the path and who may write there"
    elif exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.ENAMETOOLONG):
        code, advice = ErrorCode.LIMIT_EXCEEDED, "check the path and the space left there"
    else:
        code = ErrorCode.INVALID
        advice = "a store is a directory on an ordinary file system (not /proc or /sys)"
    return StorageError(
        code, f"cannot create store directory {root}: {reason}: {advice}", cause=exc
    )


def _why_not_created(read_only: bool, explicit: frozenset[str]) -> str:
    """Why opening created nothing: the option the user wrote, or what was asked for."""
    if read_only:
        return "read_only=true" if "read_only" in explicit else "opened read-only"
    return "create=false" if "create" in explicit else "opened to use an existing store only"


def _remedy(read_only: bool, explicit: frozenset[str]) -> str:
    """What else the user can do about a missing store that was not created."""
    if read_only:
        return ""
    if "create" in explicit:
        return ", or leave out create=false to create it"
    return ", or create the store by writing to it first"


def _is_new_log(path: Path) -> bool:
    """Whether ``path`` is the empty log of a store whose creation was interrupted before
    its marker was written (a log with no batch in it; anything else is not ours)."""
    try:
        data = read_regular(path, _NEW_LOG_LIMIT)  # a pipe or device is not ours either
    except OSError:
        return False
    if len(data) > _NEW_LOG_LIMIT:
        return False
    try:
        scan = scan_log(data)
    except (LogCorrupt, LogVersionUnsupported):
        return False
    return not scan.batches and scan.good_end == len(data)


class Layout:
    """Paths inside one store directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.marker = root / MARKER
        self.lock = root / _LOCK
        self.log = root / "log"
        self.networks = root / "networks"

    def network_dir(self, network: str) -> Path:
        """The directory of ``network`` (see :mod:`bassline_storage_fs.naming`)."""
        return self.networks / network_dirname(network)

    def state_file(self, network: str) -> Path:
        """Where ``network``'s compacted state lives."""
        return self.network_dir(network) / "state"

    def snapshot_dir(self, network: str) -> Path:
        """Where ``network``'s snapshots live."""
        return self.network_dir(network) / "snapshots"

    def snapshot_file(self, network: str, snapshot_id: str) -> Path:
        """The file of one snapshot (``snapshot_id`` must match SNAPSHOT_ID_PATTERN)."""
        return self.snapshot_dir(network) / f"{snapshot_id}.snap"

    def check_root(
        self, create: bool, read_only: bool = False, explicit: frozenset[str] = frozenset()
    ) -> StorageError | None:
        """None if the root may become or already is a store; else a clear error.

        A missing root is created (with parents) when ``create``; an existing directory
        must be empty or hold the marker, so the backend never writes into a directory
        that belongs to something else. ``read_only`` creates nothing and accepts only a
        store (a directory with the marker). ``explicit`` names the options the user gave:
        a refusal quotes an option only when the user wrote it, and otherwise says that
        this opening uses an existing store only (a caller such as a command that only
        reads asked for that), and what to do.
        """
        root = self.root
        if root.is_symlink() and not root.exists():  # mkdir would fail "File exists"
            return StorageError(
                ErrorCode.INVALID,
                f"store directory {root} is a symbolic link to {os.readlink(root)}, which does "
                "not lead to a directory: check the path, or create the directory it names",
            )
        if not root.exists():
            if read_only or not create:
                return StorageError(
                    ErrorCode.INVALID,
                    f"store directory {root} does not exist and was not created "
                    f"({_why_not_created(read_only, explicit)}): check the path"
                    + _remedy(read_only, explicit),
                )
            try:
                root.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # /proc/x: ENOENT, though the parent is a directory
                return _not_created(root, exc)
            fsync_dir(root.parent)
            return None
        if not root.is_dir():
            return StorageError(ErrorCode.INVALID, f"{root} exists but is not a directory")
        if self.has_marker():
            return None
        if read_only:
            return StorageError(
                ErrorCode.INVALID,
                f"{root} is not a Bassline store: it has no {MARKER} marker and was not made "
                f"one ({_why_not_created(True, explicit)})",
            )
        foreign = sorted(set(os.listdir(root)) - _OWN_WHEN_EMPTY)
        if foreign == ["log"] and _is_new_log(self.log):
            return None  # a creation interrupted between the log and the marker
        if foreign:
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            return StorageError(
                ErrorCode.INVALID,
                f"{root} is not a Bassline store: it has no {MARKER} marker and is not empty "
                f"(it holds {shown}); use an empty or new directory",
            )
        return None

    def has_marker(self) -> bool:
        """Whether anything is where the marker goes (a pipe, a directory or a symbolic
        link leading nowhere too: damage :meth:`check_marker` names, not a missing marker)."""
        return os.path.lexists(self.marker)

    def write_marker(self) -> None:
        """Write the marker of a new store (its log must exist already)."""
        created = dt.datetime.now(dt.UTC).isoformat()
        body = {"format": STORE_FORMAT, "version": STORE_VERSION, "created": created}
        write_atomic(self.marker, [orjson.dumps(body, option=orjson.OPT_INDENT_2)])

    def check_marker(self) -> StorageError | None:
        """None if the existing marker names a store this release reads; else why not."""
        try:
            raw = read_regular(self.marker, MAX_MARKER_BYTES)
        except NotRegularFile as exc:  # a pipe was waited on, /dev/zero read, for ever
            return StorageError(ErrorCode.CORRUPTION, f"store marker {exc}{_REPLACED}", cause=exc)
        except FileNotFoundError as exc:  # has_marker: a symbolic link leading nowhere
            return StorageError(
                ErrorCode.CORRUPTION,
                f"store marker {self.marker} is a symbolic link to {os.readlink(self.marker)}, "
                f"which does not exist, not a regular file{_REPLACED}",
                cause=exc,
            )
        if len(raw) > MAX_MARKER_BYTES:
            return StorageError(
                ErrorCode.CORRUPTION,
                f"store marker {self.marker} holds more than {MAX_MARKER_BYTES:,} bytes; "
                "the marker this backend writes is about 100",
            )
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return StorageError(
                ErrorCode.CORRUPTION, f"store marker {self.marker} is not valid JSON: {exc}"
            )
        if not isinstance(data, dict) or data.get("format") != STORE_FORMAT:
            found = data.get("format") if isinstance(data, dict) else data
            return StorageError(
                ErrorCode.INVALID,
                f"{self.marker} names format {found!r}, not {STORE_FORMAT!r}: "
                "this directory is not a Bassline filesystem store",
            )
        version = data.get("version")
        if type(version) is not int or version < 1:
            return StorageError(
                ErrorCode.CORRUPTION,
                f"store marker {self.marker} has no valid version ({version!r}; this "
                f"bassline-storage-fs reads version {STORE_VERSION}): the marker was damaged "
                "or edited; restore it from a backup",
            )
        if version != STORE_VERSION:
            return StorageError(
                ErrorCode.UNSUPPORTED,
                f"store {self.root} has format version {version!r}; this bassline-storage-fs "
                f"reads version {STORE_VERSION} (upgrade the package to open it)",
            )
        return None


_REPLACED = (
    ": a store's marker is a file this backend writes, so it was replaced. Restore it from a backup"
)


class StoreLock:
    """An exclusive, non-blocking ``flock`` on the store's lock file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = -1
        self._noted = False

    def acquire(self, note_pid: bool = True, read_only: bool = False) -> StorageError | None:
        """Take the lock, or say who holds it (CONFLICT); ``note_pid`` writes this
        process's id into the lock file for the message a second opener gets.
        ``read_only``: a lock file this process may not write (or create) is locked
        through a read-only descriptor (``flock`` needs no write access)."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            if not read_only or exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            note_pid = False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = ""
            with contextlib.suppress(OSError, ValueError):
                holder = os.pread(fd, 64, 0).decode().strip()
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            who = f" (by process {holder})" if holder else ""
            return StorageError(
                ErrorCode.CONFLICT,
                f"store directory {self.path.parent} is locked{who}: another storage has it "
                "open, in this process or another; close that one first",
            )
        # the pid only helps the message a second opener gets: a full disk (or a read-only
        # lock file) must not keep the store from opening, nor leave the lock held
        if note_pid:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
                os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._noted = note_pid
        self._fd = fd
        return None

    def release(self) -> None:
        """Give the lock up (idempotent)."""
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            if self._noted:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
            os.close(fd)
