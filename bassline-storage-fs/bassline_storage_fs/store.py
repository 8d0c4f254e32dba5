"""The synchronous core of one open store: open (lock, load, replay), append, compact.

Every method here blocks on file I/O and runs in a worker thread; the async
:class:`~bassline_storage_fs.storage.FileStorage` serialises writers with one lock, so
at most one of the mutating methods runs at a time. The index is only *changed* by
:meth:`FsStore.apply` and friends, called on the event loop thread.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
from pathlib import Path
from typing import Any

import attrs

from bassline.storage import ErrorCode, SnapshotInfo, StorageError
from bassline.storage.validation import NormalisedBatch
from bassline_storage_fs.docfile import Doc, DocError, read_doc, read_doc_header, write_doc
from bassline_storage_fs.entries import (
    CONTENT,
    CONTENTS,
    DELETE,
    SPEC,
    EntryError,
    decode_content,
    decode_contents,
    decode_network,
    decode_spec,
)
from bassline_storage_fs.frames import Frame
from bassline_storage_fs.fsutil import TEMP_SUFFIX, fsync_dir, same_file
from bassline_storage_fs.index import Content, Index, NetworkState
from bassline_storage_fs.layout import Layout, StoreLock
from bassline_storage_fs.logfile import (
    LogCorrupt,
    LogFile,
    LogVersionUnsupported,
    count_commits,
    cut_for,
    scan_log,
)
from bassline_storage_fs.naming import (
    NETWORK_DIR_PATTERN,
    SNAPSHOT_ID_PATTERN,
    SnapshotClock,
    network_dirname,
    snapshot_ns,
)
from bassline_storage_fs.oserrors import from_os_error
from bassline_storage_fs.planner import Plan, plan_batch
from bassline_storage_fs.recovery import LogCut, RecoveryReport
from bassline_storage_fs.specs import SpecDecodeError, group_ids, spec_from_bytes
from bassline_storage_fs.url import FsOptions

__all__ = [
    "SNAPSHOT_FORMAT",
    "STATE_FORMAT",
    "FsStore",
    "open_store",
    "repair_hint",
    "state_file_damage",
]

STATE_FORMAT = "bassline-fs-state"
SNAPSHOT_FORMAT = "bassline-fs-snapshot"


class _OpenFailed(Exception):
    def __init__(self, error: StorageError) -> None:
        super().__init__(str(error))
        self.error = error


def _corrupt(message: str) -> _OpenFailed:
    return _OpenFailed(StorageError(ErrorCode.CORRUPTION, message, transient=False))


def _ensure_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) durably."""
    if path.is_dir():
        return
    _ensure_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        path.mkdir()
    fsync_dir(path.parent)


def snapshot_info(header: dict[str, object], network: str) -> SnapshotInfo:
    """The SnapshotInfo a snapshot file's header describes (ValueError if malformed)."""
    sid, label, count = header.get("id"), header.get("label"), header.get("contents")
    if not isinstance(sid, str) or not SNAPSHOT_ID_PATTERN.match(sid):
        raise ValueError(f"bad snapshot id {sid!r}")
    if label is not None and not isinstance(label, str):
        raise ValueError("bad label")
    if type(count) is not int or header.get("network") != network:
        raise ValueError("bad content count or network")
    created = dt.datetime.fromtimestamp(snapshot_ns(sid) / 1e9, dt.UTC)
    return SnapshotInfo(id=sid, network=network, label=label, created_at=created, contents=count)


class FsStore:
    """One open store directory: its lock, log, index and snapshot list."""

    def __init__(
        self, layout: Layout, lock: StoreLock, log: LogFile, index: Index, options: FsOptions
    ) -> None:
        self.layout = layout
        self.options = options
        self.index = index
        self.log = log
        self.snapshots: dict[str, dict[str, SnapshotInfo]] = {}
        self.snapshot_clock = SnapshotClock()
        self.recovery = RecoveryReport()
        self.leftovers: set[Path] = set()
        """Directories of deleted networks that could not be removed yet."""
        self.compaction_error: StorageError | None = None
        """Why the compaction that opening started failed (the store is whole without it)."""
        self._lock = lock
        st = os.stat(layout.root)
        self._root_identity = (st.st_dev, st.st_ino)

    def verify(self) -> None:
        """Raise StoreReplaced if the store directory or its log was removed or replaced
        since opening (OSError if they cannot be checked); every writer calls it first."""
        same_file(self.layout.root, self._root_identity, "store directory")
        self.log.check_path()

    # writing

    def commit(self, frames: bytes, count: int) -> None:
        """Append one batch durably (one write, one data sync)."""
        self.verify()
        self.log.append(frames, count)

    def plan_and_commit(
        self, records: list[Any], normalised: NormalisedBatch | None = None
    ) -> Plan | StorageError:
        """Check and frame a batch, then append it durably (one worker-thread hop).

        Nothing is written unless the whole batch passed its checks. ``normalised`` is
        the batch already validated, when the caller has it.
        """
        plan = plan_batch(records, self.index, columns=self.log.version >= 2, normalised=normalised)
        if isinstance(plan, Plan) and plan.count:
            self.verify()
            if any(
                n not in self.index.networks and self.layout.network_dir(n) in self.leftovers
                for n in plan.specs
            ):
                # a network comes back whose old directory is still there: clear it first,
                # or a later cleanup would remove the new network's files
                self._remove_leftovers()
            self.log.append(plan.frames, plan.count)
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
            _ensure_dir(directory)
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
        _ensure_dir(directory)
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


# opening


def open_store(options: FsOptions) -> FsStore | StorageError:
    """Open (creating if allowed), lock, load and recover the store; or say why not.

    With ``options.read_only`` nothing on disk changes (the lock file aside): a torn tail
    is reported but not cut, leftovers are found but not removed, nothing is compacted.
    """
    layout = Layout(options.path)
    read_only = options.read_only
    try:
        err = layout.check_root(options.create, read_only)
        if err:
            return err
        lock = StoreLock(layout.lock)
        err = lock.acquire(note_pid=not read_only)
        if err:
            return err
    except OSError as exc:
        return from_os_error(exc, f"open store directory {options.path}")
    try:
        return _load(layout, lock, options)
    except _OpenFailed as exc:
        lock.release()
        return exc.error
    except OSError as exc:
        lock.release()
        return from_os_error(exc, f"open store {options.path}")
    except BaseException:
        lock.release()
        raise


def _create(layout: Layout) -> None:
    """Make the directory a new store: its log first, then its marker.

    In this order a store with a marker always has a log, so a missing log is known to
    be damage (a crash in between leaves an empty log and no marker, which the next
    open takes for the unfinished creation it is).
    """
    LogFile.create(layout.log, 1).close()
    layout.write_marker()


def _load(layout: Layout, lock: StoreLock, options: FsOptions) -> FsStore:
    read_only = options.read_only
    if not layout.marker.exists() and not read_only:  # read-only: check_root refused
        _create(layout)
    err = layout.check_marker()
    if err:
        raise _OpenFailed(err)
    if not read_only:
        _ensure_dir(layout.networks)
    removed: list[str] = []
    index = Index()
    dirs = _load_states(layout, index, removed, remove=not read_only)
    log, cut, replayed = _replay(layout, index, read_only)
    store = FsStore(layout, lock, log, index, options)
    unreadable = _load_snapshots(store, dirs, removed, remove=not read_only)
    index.max_hlc = max((state.contents.max_hlc() for state in index.networks.values()), default=0)
    store.recovery = RecoveryReport(
        batches_replayed=replayed,
        log_bytes=log.size,
        cut=cut,
        removed=tuple(removed),
        unreadable_snapshots=tuple(unreadable),
        read_only=read_only,
    )
    if log.size > options.compact_bytes and not read_only:
        try:
            store.compact()
        except OSError as exc:
            # the store is whole without it (a full disk must not keep it from opening):
            # reported in health(), and retried after the next write
            store.compaction_error = from_os_error(exc, f"compact store {options.path}")
    return store


def _leftovers(directory: Path, removed: list[str], remove: bool) -> None:
    """Note (and with ``remove``, delete) temporary files an interrupted write left."""
    if not directory.is_dir():
        return
    for entry in os.scandir(directory):
        if entry.name.endswith(TEMP_SUFFIX) and entry.is_file(follow_symlinks=False):
            if remove:
                os.unlink(entry.path)
            removed.append(entry.path)


def _load_states(
    layout: Layout, index: Index, removed: list[str], remove: bool = True
) -> dict[str, Path]:
    """Load every network's state file; returns the network directories by name."""
    _leftovers(layout.root, removed, remove)
    _leftovers(layout.networks, removed, remove)
    dirs: dict[str, Path] = {}
    if not layout.networks.is_dir():
        return dirs  # read-only, before anything was ever compacted
    for entry in os.scandir(layout.networks):
        if not NETWORK_DIR_PATTERN.match(entry.name) or not entry.is_dir(follow_symlinks=False):
            continue
        path = Path(entry.path)
        dirs[entry.name] = path
        _leftovers(path, removed, remove)
        state_file = path / "state"
        if not state_file.exists():
            continue
        try:
            doc = read_doc(state_file, STATE_FORMAT)
            groups = group_ids(spec_from_bytes(doc.spec))
        except (DocError, SpecDecodeError) as exc:
            raise _corrupt(
                f"state file {state_file} is damaged ({exc}); restore it from a backup, or "
                f"move its directory {path} out of the store to drop that network (with its "
                "snapshots)"
            ) from None
        if network_dirname(doc.network) != entry.name:
            raise _corrupt(
                f"state file {state_file} holds network {doc.network!r}, which belongs in "
                f"directory {network_dirname(doc.network)}: the store has been rearranged"
            )
        index.networks[doc.network] = NetworkState(doc.spec, groups, doc.contents)
    return dirs


def state_file_damage(layout: Layout) -> str | None:
    """Why a state file of the store fails its checks, with the remedy (None if none
    does); reads only."""
    try:
        _load_states(layout, Index(), [], remove=False)
    except _OpenFailed as exc:
        return exc.error.message
    return None


def repair_hint(layout: Layout) -> str:
    """The command that repairs the store at ``layout``, for error messages."""
    return f"`bassline storage repair {layout.root.as_uri()}`"


def _replay(layout: Layout, index: Index, read_only: bool) -> tuple[LogFile, LogCut | None, int]:
    """Replay the log into the index, cutting a torn tail (unless ``read_only``); returns
    (log, cut, batches)."""
    if not layout.log.exists():
        raise _corrupt(
            f"store {layout.root} has no log file ({layout.log}): a store's log is created "
            "with it and never removed, so it was deleted or lost, and with it every batch "
            "written since the last compaction. Restore the log from a backup; or, to accept "
            f"that loss and go on with the compacted state, run {repair_hint(layout)}, which "
            "starts a new, empty log"
        )
    data = layout.log.read_bytes()
    try:
        scan = scan_log(data)
    except LogVersionUnsupported as exc:
        # never offer repair here: it would throw away a newer release's data
        raise _OpenFailed(
            StorageError(
                ErrorCode.UNSUPPORTED,
                f"log {layout.log}: {exc}; open this store with the release that wrote "
                "it, or a newer one",
                transient=False,
            )
        ) from None
    except LogCorrupt as exc:
        commits = count_commits(data)
        raise _corrupt(
            f"log {layout.log}: {exc.message}, so none of its "
            f"{_batches(commits)} can be read and nothing was changed. Restore the store "
            f"from a backup, or run {repair_hint(layout)} (try --dry-run first) to set the "
            "whole log aside in the store's discarded/ directory and start a new one"
        ) from None
    try:
        cut = cut_for(scan, len(data))
    except LogCorrupt as exc:
        lost = scan.later_commits + 1
        raise _corrupt(
            f"log {layout.log}: {exc.message}, but {_batches(scan.later_commits)} "
            f"follow{'s' if scan.later_commits == 1 else ''} it: this is damage to "
            "acknowledged data, not a torn write, so nothing was cut. Restore the store "
            f"from a backup, or run {repair_hint(layout)} (try --dry-run first) to discard "
            f"everything from byte {scan.good_end} on ({_batches(lost)}, the damaged one "
            "included), keeping the discarded bytes in the store's discarded/ directory"
        ) from None
    for batch in scan.batches:
        _apply_frames(index, batch, layout)
    if read_only:
        if cut is not None:
            cut = attrs.evolve(cut, cut=False)
        log = LogFile.read_only(layout.log, scan.good_end, scan.next_seq, scan.version)
        return log, cut, len(scan.batches)
    if cut is not None:
        LogFile.cut(layout.log, cut.offset)
    log = LogFile.append_to(layout.log, scan.good_end, scan.next_seq, scan.version)
    return log, cut, len(scan.batches)


def _batches(count: int) -> str:
    return f"{count} committed batch{'' if count == 1 else 'es'}"


def _apply_frames(index: Index, frames: list[Frame], layout: Layout) -> None:
    offset = 0
    try:
        for found in frames:
            offset = found.offset
            if found.kind == CONTENT:
                e = decode_content(found.payload)
                index.put(e.network, e.contact, Content(e.group, e.hlc, e.node, e.value))
            elif found.kind == CONTENTS:
                for e in decode_contents(found.payload):
                    index.put(e.network, e.contact, Content(e.group, e.hlc, e.node, e.value))
            elif found.kind == SPEC:
                network, spec = decode_spec(found.payload)
                index.set_spec(network, spec, group_ids(spec_from_bytes(spec)))
            elif found.kind == DELETE:
                index.delete(decode_network(found.payload))
    except (EntryError, SpecDecodeError) as exc:
        raise _corrupt(
            f"log {layout.log}: committed record at byte {offset} is malformed ({exc})"
        ) from None


def _load_snapshots(
    store: FsStore, dirs: dict[str, Path], removed: list[str], remove: bool = True
) -> list[str]:
    """List snapshots of live networks; remove directories of deleted ones."""
    live = {network_dirname(n): n for n in store.index.networks}
    unreadable: list[str] = []
    for name, path in sorted(dirs.items()):
        network = live.get(name)
        if network is None:
            if remove:
                shutil.rmtree(path)
                fsync_dir(path.parent)
            removed.append(str(path))
            continue
        snap_dir = path / "snapshots"
        if not snap_dir.is_dir():
            continue
        _leftovers(snap_dir, removed, remove)
        infos = store.snapshots.setdefault(network, {})
        for entry in os.scandir(snap_dir):
            sid = entry.name.removesuffix(".snap")
            if not entry.name.endswith(".snap") or not SNAPSHOT_ID_PATTERN.match(sid):
                continue
            try:
                info = snapshot_info(read_doc_header(Path(entry.path), SNAPSHOT_FORMAT), network)
            except (DocError, ValueError):
                unreadable.append(entry.path)
                continue
            infos[sid] = info
            store.snapshot_clock.observe(sid)
    return unreadable
