"""Filesystem storage backend for Bassline: ``file:///path/to/dir``.

A store directory holds an append-only, checksummed log of batches (one data sync per
batch), each network's compacted state and snapshots in a directory of its own, a
marker file and a lock file. :func:`repair` is the explicit way to discard a damaged
part of the log (``bassline storage repair URL``). See ``docs/storage-fs.md``.
"""

from bassline_storage_fs.recovery import LogCut, RecoveryReport
from bassline_storage_fs.repair import RepairReport, repair
from bassline_storage_fs.storage import FileStorage, open_fs_storage
from bassline_storage_fs.url import FsOptions

__all__ = [
    "FileStorage",
    "FsOptions",
    "LogCut",
    "RecoveryReport",
    "RepairReport",
    "open_fs_storage",
    "repair",
]
