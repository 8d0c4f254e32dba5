"""The store directory: where everything lives, the marker that says "this is a store",
and the lock that keeps a second writer out.

::

    <root>/bassline-store.json     marker: {"format": "bassline-fs", "version": 1}
    <root>/lock                    flock()ed exclusively while a storage has the store open
    <root>/log                     the append-only log of batches (all networks)
    <root>/networks/<name>/state   a network's compacted spec and contents
    <root>/networks/<name>/snapshots/<snapshot id>.snap
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
from bassline_storage_fs.fsutil import TEMP_SUFFIX, fsync_dir, write_atomic
from bassline_storage_fs.naming import network_dirname

__all__ = ["MARKER", "STORE_FORMAT", "STORE_VERSION", "Layout", "StoreLock"]

STORE_FORMAT = "bassline-fs"
STORE_VERSION = 1
MARKER = "bassline-store.json"
_LOCK = "lock"
_OWN_WHEN_EMPTY = {_LOCK, MARKER + TEMP_SUFFIX}


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

    def check_root(self, create: bool) -> StorageError | None:
        """None if the root may become or already is a store; else a clear error.

        A missing root is created (with parents) when ``create``; an existing directory
        must be empty or hold the marker, so the backend never writes into a directory
        that belongs to something else.
        """
        root = self.root
        if not root.exists():
            if not create:
                return StorageError(
                    ErrorCode.INVALID, f"store directory {root} does not exist (create=false)"
                )
            root.mkdir(parents=True, exist_ok=True)
            fsync_dir(root.parent)
            return None
        if not root.is_dir():
            return StorageError(ErrorCode.INVALID, f"{root} exists but is not a directory")
        if self.marker.exists():
            return None
        foreign = sorted(set(os.listdir(root)) - _OWN_WHEN_EMPTY)
        if foreign:
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            return StorageError(
                ErrorCode.INVALID,
                f"{root} is not a Bassline store: it has no {MARKER} marker and is not empty "
                f"(it holds {shown}); use an empty or new directory",
            )
        return None

    def ensure_marker(self) -> StorageError | None:
        """Write the marker into a new store, or check the existing one (lock held)."""
        if not self.marker.exists():
            created = dt.datetime.now(dt.UTC).isoformat()
            body = {"format": STORE_FORMAT, "version": STORE_VERSION, "created": created}
            write_atomic(self.marker, [orjson.dumps(body, option=orjson.OPT_INDENT_2)])
            return None
        try:
            data = orjson.loads(self.marker.read_bytes())
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
        if version != STORE_VERSION:
            return StorageError(
                ErrorCode.UNSUPPORTED,
                f"store {self.root} has format version {version!r}; this bassline-storage-fs "
                f"reads version {STORE_VERSION} (upgrade the package to open it)",
            )
        return None


class StoreLock:
    """An exclusive, non-blocking ``flock`` on the store's lock file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = -1

    def acquire(self) -> StorageError | None:
        """Take the lock, or say who holds it (CONFLICT)."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
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
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return None

    def release(self) -> None:
        """Give the lock up (idempotent)."""
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)
