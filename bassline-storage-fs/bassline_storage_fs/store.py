"""The synchronous core of one open store: append, compact, snapshot files (opening is
:mod:`~bassline_storage_fs.opening`).

Every method here blocks on file I/O and runs in a worker thread; the async
:class:`~bassline_storage_fs.storage.FileStorage` serialises writers with one lock, so
at most one of the mutating methods runs at a time. The index is only *changed* by
:meth:`FsStore.apply` and friends, called on the event loop thread.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from bassline.storage import SnapshotInfo, StorageError
from bassline.storage.toolkit import CheckedBatch, ContentColumns
from bassline_storage_fs.docfile import Doc, read_doc, write_doc
from bassline_storage_fs.fsutil import fsync_dir, same_file
from bassline_storage_fs.index import Content, Index
from bassline_storage_fs.layout import Layout, StoreLock
from bassline_storage_fs.logfile import (
    LogFile,
)
from bassline_storage_fs.naming import (
    SnapshotClock,
)
from bassline_storage_fs.planner import Plan, plan_batch, plan_columns
from bassline_storage_fs.recovery import RecoveryReport
from bassline_storage_fs.url import FsOptions

__all__ = ["SNAPSHOT_FORMAT", "STATE_FORMAT", "FsStore", "ensure_dir"]

STATE_FORMAT = "bassline-fs-state"
SNAPSHOT_FORMAT = "bassline-fs-snapshot"


def ensure_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) durably."""
    if path.is_dir():
        return
    ensure_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        path.mkdir()
    fsync_dir(path.parent)


class FsStore:
    """One open store directory: its lock, log, index and snapshot list."""

    def __init__(
        self, layout: Layout, lock: StoreLock, log: LogFile, index: Index, options: FsOptions
    ) -> None:
        self.layout = layout
        self.options = options
        self.index = index
        self.log = log
        self.appending = f"append to log {layout.log}"
        """What a failed append was doing, for its error (made once: every write names it)."""
        self.snapshots: dict[str, dict[str, SnapshotInfo]] = {}
        self.snapshot_clock = SnapshotClock()
        self.recovery = RecoveryReport()
        self.leftovers: set[Path] = set()
        """Directories of deleted networks that could not be removed yet."""
        self.compaction_error: StorageError | None = None
        """Why the compaction that opening started failed (the store is whole without it)."""
        self._lock = lock
        self._root = os.fspath(layout.root)  # checked before every append: a str
        st = os.stat(self._root)
        self._root_identity = (st.st_dev, st.st_ino)

    def verify(self) -> None:
        """Raise StoreReplaced if the store directory or its log was removed or replaced
        since opening (OSError if they cannot be checked); every writer calls it first."""
        self._verify_root()
        self.log.check_path()

    def _verify_root(self) -> None:
        same_file(self._root, self._root_identity, "store directory")

    # writing

    def commit(self, frames: bytes, count: int) -> None:
        """Append one batch durably (one write, one data sync)."""
        self._verify_root()  # the append checks the log's own path after its sync
        self.log.append(frames, count)

    def plan_and_commit(self, batch: CheckedBatch) -> Plan | StorageError:
        """Check a checked batch against the index and frame it, then append it durably
        (one worker-thread hop). Nothing is written unless the whole batch passed."""
        plan = plan_batch(
            batch, self.index, columns=self.log.version >= 2, whys=self.log.version >= 3
        )
        if isinstance(plan, Plan) and plan.count:
            self._verify_root()  # the append checks the log's own path after its sync
            if plan.specs and any(
                n not in self.index.networks and self.layout.network_dir(n) in self.leftovers
                for n in plan.specs
            ):
                # a network comes back whose old directory is still there: clear it first,
                # or a later cleanup would remove the new network's files
                self._remove_leftovers()
            self.log.append(plan.frames, plan.count)
        return plan

    def commit_columns(self, columns: ContentColumns) -> Plan | None:
        """Plan checked columns of one network's contents against the index as one
        CONTENTS record (:func:`~bassline_storage_fs.planner.plan_columns`), append it
        durably and :meth:`apply` it: on the event loop thread, like every index change.
        None, with nothing written, when they cannot be planned so (a log before version
        2, a missing network or group, a record too big): ``plan_and_commit`` decides
        those."""
        version = self.log.version
        if version < 2:
            return None
        plan = plan_columns(columns, self.index, whys=version >= 3)
        if plan is not None and plan.count:
            self._verify_root()  # the append checks the log's own path after its sync
            self.log.append(plan.frames, plan.count)
            self.apply(plan)
        return plan

    def apply(self, plan: Plan) -> None:
        """Put a committed plan into the index (event loop thread).

        Planning already dropped stale contents and collapsed duplicates against this
        same index (the writer lock was held throughout), so contents are stored as is.
        """
        index = self.index
        for network, (spec, groups) in plan.specs.items():
            index.set_spec(network, spec, groups)
        for network, rows in plan.contents.items():
            rows.store_in(index.networks[network].contents)
            index.dirty.add(network)
        index.max_hlc = max(index.max_hlc, plan.newest[0])

    def remove_network_dir(self, network: str) -> None:
        """Remove a deleted network's directory (state file and snapshots) durably."""
        path = self.layout.network_dir(network)
        self.leftovers.add(path)
        self._remove_leftovers()

    def _remove_leftovers(self) -> None:
        for path in sorted(self.leftovers):
            if path.exists():
                shutil.rmtree(path)
                fsync_dir(path.parent)
            self.leftovers.discard(path)

    def compact(self) -> None:
        """Write every changed network's state file, then start an empty log.

        Crash-safe in any order: until the new log replaces the old one, replaying the
        old log over the new state files gives the same result (every log record is
        idempotent: setting a spec, deleting, storing a content unless a newer is stored).
        """
        self.verify()
        self._remove_leftovers()
        for network in sorted(self.index.dirty):
            state = self.index.networks.get(network)
            if state is None:
                continue
            directory = self.layout.network_dir(network)
            ensure_dir(directory)
            write_doc(
                directory / "state",
                {"format": STATE_FORMAT},
                network,
                state.spec,
                state.contents.items(),
            )
        fresh = LogFile.create(self.layout.log, self.log.next_seq)
        self.log.close()
        self.log = fresh
        self.index.dirty.clear()

    # snapshots

    def write_snapshot(
        self, info: SnapshotInfo, spec: bytes, contents: list[tuple[str, Content]]
    ) -> None:
        """Write a snapshot file atomically."""
        self.verify()
        directory = self.layout.snapshot_dir(info.network)
        ensure_dir(directory)
        header = {
            "format": SNAPSHOT_FORMAT,
            "id": info.id,
            "label": info.label,
            "contents": info.contents,
        }
        write_doc(
            self.layout.snapshot_file(info.network, info.id), header, info.network, spec, contents
        )

    def read_snapshot(self, network: str, snapshot_id: str) -> Doc:
        """A whole snapshot file, verified (DocError if damaged)."""
        return read_doc(self.layout.snapshot_file(network, snapshot_id), SNAPSHOT_FORMAT)

    def delete_snapshot_file(self, network: str, snapshot_id: str) -> None:
        """Remove a snapshot file durably."""
        self.verify()
        path = self.layout.snapshot_file(network, snapshot_id)
        path.unlink(missing_ok=True)
        fsync_dir(path.parent)

    # lifecycle

    def check(self) -> None:
        """Raise OSError if the store's directory or log is gone, replaced or unusable."""
        self.verify()

    def close(self) -> None:
        """Close the log and release the lock (never raises)."""
        with contextlib.suppress(OSError):
            self.log.close()
        self._lock.release()
