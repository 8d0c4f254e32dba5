"""Opening a store directory: lock it, load the state files, replay the log, list snapshots.

Runs in a worker thread. A store that cannot be opened as it is (a damaged state file,
a missing or corrupt log, a log of a newer release) is refused with a CORRUPTION or
UNSUPPORTED error whose message names the remedy; nothing committed is ever discarded
here (``bassline storage repair`` does that, explicitly).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import attrs

from bassline.storage import ErrorCode, SnapshotInfo, StorageError
from bassline_storage_fs.docfile import DocError, read_doc, read_doc_header
from bassline_storage_fs.entries import (
    CONTENT,
    CONTENTS,
    DELETE,
    SPEC,
    WHYS,
    EntryError,
    decode_content,
    decode_contents,
    decode_network,
    decode_spec,
    decode_whys,
)
from bassline_storage_fs.frames import Frame
from bassline_storage_fs.fsutil import TEMP_SUFFIX, NotRegularFile, fsync_dir, read_regular
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
    network_dirname,
    snapshot_ns,
)
from bassline_storage_fs.oserrors import from_os_error
from bassline_storage_fs.recovery import LogCut, RecoveryReport
from bassline_storage_fs.specs import SpecDecodeError, group_ids, spec_from_bytes
from bassline_storage_fs.store import SNAPSHOT_FORMAT, STATE_FORMAT, FsStore, ensure_dir
from bassline_storage_fs.url import FsOptions

__all__ = ["open_store", "repair_hint", "snapshot_info", "state_file_damage"]


class _OpenFailed(Exception):
    def __init__(self, error: StorageError) -> None:
        super().__init__(str(error))
        self.error = error


def _corrupt(message: str) -> _OpenFailed:
    return _OpenFailed(StorageError(ErrorCode.CORRUPTION, message, transient=False))


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


def open_store(options: FsOptions) -> FsStore | StorageError:
    """Open (creating if allowed), lock, load and recover the store; or say why not.

    With ``options.read_only`` nothing on disk changes (the lock file aside): a torn tail
    is reported but not cut, leftovers are found but not removed, nothing is compacted.
    """
    layout = Layout(options.path)
    read_only = options.read_only
    try:
        err = layout.check_root(options.create, read_only, options.explicit)
        if err:
            return err
        lock = StoreLock(layout.lock)
        err = lock.acquire(note_pid=not read_only, read_only=read_only)
        if err:
            return err
    except OSError as exc:
        err = from_os_error(exc, f"open store directory {options.path}")
        if err.code is ErrorCode.PERMISSION and not read_only:
            err = StorageError(
                ErrorCode.PERMISSION,
                f"{err.message}: opening it for writing needs write access to it; to read a "
                "store you may not write, use read_only=true in its URL",
                cause=exc,
            )
        return err
    try:
        return _load(layout, lock, options)
    except _OpenFailed as exc:
        lock.release()
        return exc.error
    except OSError as exc:
        lock.release()
        # the file refused, when the error names one (the log: EPERM if made immutable)
        where = f" ({exc.filename})" if isinstance(exc.filename, str) else ""
        return from_os_error(exc, f"open store {options.path}{where}")
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
    if not layout.has_marker() and not read_only:  # read-only: check_root refused
        _create(layout)
    err = layout.check_marker()
    if err:
        raise _OpenFailed(err)
    if not read_only:
        ensure_dir(layout.networks)
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
    try:
        data = read_regular(layout.log)
    except NotRegularFile as exc:  # a pipe was waited on, /dev/zero read, for ever
        raise _corrupt(
            f"log {exc}: a store's log is a file this backend writes, so it was replaced. "
            "Restore the log from a backup; or move it out of the store and run "
            f"{repair_hint(layout)}, which starts a new, empty log"
        ) from None
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
            elif found.kind == WHYS:
                whys = decode_whys(found.payload)
                state = index.networks.get(whys.network)
                if state is not None:
                    state.contents.set_whys(whys.contacts, whys.hlcs, whys.nodes, whys.whys)
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
