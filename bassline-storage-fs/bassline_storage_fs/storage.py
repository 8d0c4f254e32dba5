"""``FileStorage``: the ``NetworkStorage`` protocol over a store directory.

Reads are answered from the in-memory index. Writers take turns under one lock; each
batch (already checked by the base class) is framed, appended and synced (one write, one
data sync), and only then applied to the index. Blocking I/O runs through
``anyio.to_thread.run_sync`` under the storage's ``CapacityLimiter``, except a small
content-only batch while data syncs are fast (``inline_sync_ms``), which is appended on
the event loop thread: the hop would cost as much as the sync (and, since it never
awaits, without taking the lock unless another writer holds it). Either way nothing can
cancel it between the append and the index update, so the index and the log never
disagree.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import anyio
import attrs
from returns.result import Failure, Success

from bassline.clock import Stamp
from bassline.codec import decode
from bassline.errors import ContentError
from bassline.spec import Bassline
from bassline.storage import (
    Capabilities,
    ContentRecord,
    ErrorCode,
    Health,
    Snapshot,
    SnapshotInfo,
    StorageError,
    StorageResult,
    WriteSummary,
)
from bassline.storage.toolkit import (
    CheckedBatch,
    ContentColumns,
    StorageBackend,
    columns_batch,
    contact_not_found,
    network_not_found,
    not_open,
    snapshot_not_found,
)
from bassline_storage_fs.entries import delete_frame
from bassline_storage_fs.index import NetworkState
from bassline_storage_fs.naming import SNAPSHOT_ID_PATTERN
from bassline_storage_fs.opening import open_store
from bassline_storage_fs.oserrors import from_os_error
from bassline_storage_fs.planner import Plan
from bassline_storage_fs.reading import read_snapshot, records, undecodable
from bassline_storage_fs.recovery import RecoveryReport
from bassline_storage_fs.repair import RepairReport, repair
from bassline_storage_fs.specs import SpecDecodeError, spec_from_bytes
from bassline_storage_fs.store import FsStore
from bassline_storage_fs.url import FsOptions, parse_fs_url

__all__ = ["FileStorage", "open_fs_storage"]

T = TypeVar("T")
log = logging.getLogger("bassline.storage.fs")
_CAPABILITIES = Capabilities(persistent=True, transactions=True, shared=False)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


_INLINE_RECORDS = 256
_INLINE_BYTES = 64 * 1024
"""The largest batch appended on the event loop thread (records, encoded value bytes)."""


def _mapped(doing: str, fn: Callable[..., T], *args: Any) -> T | StorageError:
    """``fn(*args)``, with an OSError turned into a StorageError naming ``doing``."""
    try:
        return fn(*args)
    except OSError as exc:
        return from_os_error(exc, doing)


class FileStorage(StorageBackend):
    """Networks, contents and snapshots in a directory, durable and crash-safe.

    Open it with ``async with open_storage("file:///path/to/dir") as storage``. One
    storage at a time may have a directory open (an exclusive lock; a second gets a
    CONFLICT). What opening had to repair is in :attr:`recovery` and ``health()``.
    """

    def __init__(self, url: str, options: FsOptions) -> None:
        super().__init__(url, clock_node="file")
        self.options = options
        """The parsed location and options."""
        self._store: FsStore | None = None
        self._limiter: anyio.CapacityLimiter | None = None
        self._lock: anyio.Lock | None = None
        self._open_lock: anyio.Lock | None = None
        self._recovery: RecoveryReport | None = None
        self._problems: dict[str, str] = {}

    @property
    def capabilities(self) -> Capabilities:
        """Persistent, atomic batches, one process at a time."""
        return _CAPABILITIES

    @property
    def recovery(self) -> RecoveryReport | None:
        """What the last ``open`` found and repaired (None before the first open)."""
        return self._recovery

    @property
    def log_bytes(self) -> int:
        """The current size of the log (0 when closed)."""
        return self._store.log.size if self._store else 0

    # declared abilities (bassline.storage.abilities)

    def existing_only(self) -> FileStorage:
        """An unopened copy refusing to create a store (this one if ``create`` was given)."""
        if "create" in self.options.explicit:
            return self
        return FileStorage(self.url, attrs.evolve(self.options, create=False))

    def read_only(self) -> FileStorage:
        """An unopened ``read_only=true`` copy (this one if ``read_only`` was given)."""
        if "read_only" in self.options.explicit:
            return self
        return FileStorage(self.url, attrs.evolve(self.options, read_only=True))

    def store_location(self) -> str:
        """The store directory, symlinks, ``.`` and ``..`` resolved (one text per store)."""
        return os.path.realpath(self.options.path)

    def repair_store(self, *, dry_run: bool = False) -> RepairReport:
        """:func:`~bassline_storage_fs.repair` this storage's directory (not open)."""
        return repair(self.url, dry_run=dry_run)

    # plumbing

    async def _io(self, doing: str, fn: Callable[..., T], *args: Any) -> T | StorageError:
        """Run blocking ``fn(*args)`` in a worker thread, mapping OSError to a StorageError."""
        assert self._limiter is not None
        return await anyio.to_thread.run_sync(_mapped, doing, fn, *args, limiter=self._limiter)

    def _inline(self, store: FsStore, batch: CheckedBatch) -> bool:
        """Whether ``batch`` is appended on the event loop thread rather than in a worker:
        a worker-thread hop costs about as much as a fast data sync (two cross-thread
        wake-ups, ~0.1 ms here), so a small content-only batch is appended where it is,
        blocking the loop for one sync, while the log's last sync was fast. After a slow
        sync the next writes go through a worker again until one is fast (decision D52)."""
        if batch.networks or batch.groups or batch.wires:
            return False
        return self._small(store, batch.encoded)

    def _small(self, store: FsStore, encoded: Sequence[bytes]) -> bool:
        """Whether contents so encoded are few and small enough for :meth:`_inline`."""
        limit = self.options.inline_sync_ms
        last = store.log.last_sync_seconds
        if not limit or last is None or last * 1000 > limit or len(encoded) > _INLINE_RECORDS:
            return False
        return sum(map(len, encoded)) <= _INLINE_BYTES

    def _open_store(self) -> FsStore:
        """The open store (the base class calls a hook only while it is open)."""
        assert self._store is not None
        return self._store

    def _network(self, network: str) -> NetworkState | StorageError:
        """The indexed state of ``network``, or NETWORK_NOT_FOUND."""
        state = self._open_store().index.networks.get(network)
        return network_not_found(network) if state is None else state

    def refuse_writes(self) -> StorageError | None:
        """PERMISSION when the store is open read-only."""
        if self.options.read_only:
            return StorageError(
                ErrorCode.PERMISSION,
                f"storage {self.url} is open read-only (read_only=true): nothing is written; "
                "use its URL without read_only=true to write",
                transient=False,
            )
        return None

    # lifecycle

    async def do_open(self) -> StorageResult[None]:
        """Lock the directory, load the index and replay the log. Idempotent."""
        if self._store is not None:
            return Success(None)
        if self._open_lock is None:
            self._open_lock = anyio.Lock()
        async with self._open_lock:
            if self._store is not None:  # opened by a concurrent call
                return Success(None)
            self._limiter = anyio.CapacityLimiter(self.options.threads)
            # no checkpoint when free: a write awaits its worker thread right after anyway
            self._lock = anyio.Lock(fast_acquire=True)
            with anyio.CancelScope(shield=True):
                opened = await anyio.to_thread.run_sync(
                    open_store, self.options, limiter=self._limiter
                )
            if isinstance(opened, StorageError):
                return Failure(opened)
            self._store = opened
            self._recovery = opened.recovery
            self._problems.clear()
            self._report_recovery(opened.recovery)
            if opened.compaction_error is not None:
                self._problems["compaction"] = (
                    f"compaction at open failed (the log keeps growing; writes are safe): "
                    f"{opened.compaction_error}"
                )
            return Success(None)

    def _report_recovery(self, recovery: RecoveryReport) -> None:
        """Say what opening did: a torn tail cut (or, read-only, found) is never silent."""
        where = f"file store {self.options.path}"
        if self.options.read_only:
            if recovery.damage:
                self._problems["damage"] = "damage found at open (above); nothing was changed"
            return
        if recovery.damage:
            log.warning("%s: at open: %s", where, recovery.describe())
        elif recovery.removed:
            log.info("%s: at open: %s", where, recovery.describe())

    async def do_close(self) -> None:
        """Finish any write in flight, close the log and release the lock. Idempotent."""
        if self._store is None or self._lock is None:
            self._open_lock = None
            return
        with anyio.CancelScope(shield=True):
            async with self._lock:
                store, self._store = self._store, None
                if store is not None:
                    await anyio.to_thread.run_sync(store.close, limiter=self._limiter)
        self._open_lock = None  # the next open may run under another event loop

    async def do_health(self) -> StorageResult[Health]:
        """Whether the directory and log are usable, plus what recovery did at open."""
        store = self._open_store()
        checked = await self._io(f"check store {self.options.path}", store.check)
        problems = list(self._problems.values())
        if isinstance(checked, StorageError):
            problems.append(str(checked))
        if store.log.broken:
            problems.append(store.log.broken)
        mode = " (read-only)" if self.options.read_only else ""
        detail = (
            f"file store {self.options.path}{mode}: {_plural(len(store.index.networks), 'network')}, "
            f"log {store.log.size} bytes; at open: {store.recovery.describe()}"
        )
        if problems:
            detail += "; PROBLEMS: " + "; ".join(problems)
        return Success(Health(ok=not problems, detail=detail))

    async def compact(self) -> StorageResult[None]:
        """Fold the log into the networks' state files now, and start an empty log."""
        if err := await self._writable():
            return Failure(err)
        store = self._open_store()
        assert self._lock is not None
        async with self._lock:
            with anyio.CancelScope(shield=True):
                done = await self._io(f"compact store {self.options.path}", store.compact)
        if isinstance(done, StorageError):
            self._problems["compaction"] = f"compaction failed: {done}"
            return Failure(done)
        self._problems.pop("compaction", None)
        return Success(None)

    async def _maybe_compact(self, store: FsStore) -> None:
        if store.log.size <= self.options.compact_bytes:
            return
        done = await self._io(f"compact store {self.options.path}", store.compact)
        if isinstance(done, StorageError):
            self._problems["compaction"] = (
                f"compaction failed (the log keeps growing; writes are safe): {done}"
            )
        else:
            self._problems.pop("compaction", None)

    # networks

    async def do_load_network(self, network: str) -> StorageResult[Bassline]:
        """The spec as saved, with later group and wire records merged in."""
        state = self._network(network)
        if isinstance(state, StorageError):
            return Failure(state)
        try:
            return Success(spec_from_bytes(state.spec))
        except SpecDecodeError as exc:
            return Failure(StorageError(ErrorCode.CORRUPTION, f"network {network!r}: {exc}"))

    async def do_load_network_hash(self, network: str) -> StorageResult[str]:
        """The stored spec's hash, from its canonical JSON bytes (no spec is rebuilt)."""
        state = self._network(network)
        if isinstance(state, StorageError):
            return Failure(state)
        return Success(hashlib.sha256(state.spec).hexdigest())

    async def do_delete_network(self, network: str) -> StorageResult[None]:
        """Log the deletion, then remove the network's directory."""
        store = self._open_store()
        assert self._lock is not None
        async with self._lock:
            if self._store is not store:
                return Failure(not_open(self.url))
            if network not in store.index.networks:
                return Success(None)
            with anyio.CancelScope(shield=True):
                done = await self._io(
                    f"append to log {store.layout.log}", store.commit, delete_frame(network), 1
                )
                if isinstance(done, StorageError):
                    return Failure(done)
                store.index.delete(network)
                store.snapshots.pop(network, None)
                removed = await self._io(
                    f"remove directory of deleted network {network!r}",
                    store.remove_network_dir,
                    network,
                )
                if isinstance(removed, StorageError):
                    self._problems[f"leftover {network}"] = (
                        f"{removed} (the deletion is committed; removal is retried at the "
                        "next compaction or open)"
                    )
                await self._maybe_compact(store)
        return Success(None)

    async def do_list_networks(self) -> StorageResult[list[str]]:
        """Every stored network id, sorted."""
        return Success(sorted(self._open_store().index.networks))

    async def do_network_exists(self, network: str) -> StorageResult[bool]:
        """Whether a network is in the index."""
        return Success(network in self._open_store().index.networks)

    # contents

    def next_stamp(self) -> Stamp:
        """This storage's clock, and newer than any stamp stored."""
        tick = super().next_stamp()
        return Stamp(max(tick.hlc, self._open_store().index.max_hlc + 1), tick.node)

    async def do_load_contact_content(
        self, network: str, group: str, contact: str
    ) -> StorageResult[ContentRecord]:
        """One contact's content and stamp, from the index."""
        state = self._network(network)
        if isinstance(state, StorageError):
            return Failure(state)
        found = state.contents.get(contact)
        if found is None or found.group != group:
            return Failure(contact_not_found(network, group, contact))
        try:
            value = decode(found.value)
        except ContentError as exc:
            return Failure(undecodable(network, exc))
        return Success(
            ContentRecord(
                network, found.group, contact, value, Stamp(found.hlc, found.node), found.why
            )
        )

    async def do_load_contents(self, network: str) -> StorageResult[list[ContentRecord]]:
        """Every stored content of a network with its stamp, sorted by contact id."""
        state = self._network(network)
        if isinstance(state, StorageError):
            return Failure(state)
        table = state.contents.copy()
        assert self._limiter is not None
        try:
            found = await anyio.to_thread.run_sync(records, network, table, limiter=self._limiter)
        except ContentError as exc:
            return Failure(undecodable(network, exc))
        return Success(found)

    async def do_write(self, batch: CheckedBatch) -> StorageResult[WriteSummary]:
        """Plan and append a checked batch: one log append and one data sync."""
        store = self._open_store()
        assert self._lock is not None and self._limiter is not None
        if not self._lock.locked() and self._inline(store, batch):
            # no writer holds the lock and nothing from here to the index update awaits,
            # so it could not be contended: it is not taken (decision D70)
            plan = self._commit_inline(store, batch)
            if isinstance(plan, StorageError):
                return Failure(plan)
            await self._compact_after(store, plan)
            return Success(plan.summary)
        async with self._lock:
            if self._store is not store:
                return Failure(not_open(self.url))
            if self._inline(store, batch):
                plan = self._commit_inline(store, batch)
            else:
                with anyio.CancelScope(shield=True):
                    plan = await self._io(store.appending, store.plan_and_commit, batch)
                    if not isinstance(plan, StorageError) and plan.count:
                        store.apply(plan)
            if isinstance(plan, StorageError):
                return Failure(plan)
            if plan.count and store.log.size > self.options.compact_bytes:
                with anyio.CancelScope(shield=True):
                    await self._maybe_compact(store)
            summary = plan.summary
        return Success(summary)

    async def do_write_columns(self, columns: ContentColumns) -> StorageResult[WriteSummary]:
        """The runtime's checked columns: while no writer holds the lock and the batch is
        appended on the event loop thread (:meth:`_inline`), planned straight from the
        columns as one CONTENTS record; any other batch (and one the columns cannot plan:
        a missing network or group, to be named) through ``do_write``."""
        store = self._open_store()
        assert self._lock is not None
        if not self._lock.locked() and self._small(store, columns.encoded):
            plan = _mapped(store.appending, store.commit_columns, columns)
            if isinstance(plan, StorageError):
                return Failure(plan)
            if plan is not None:
                await self._compact_after(store, plan)
                return Success(plan.summary)
        return await self.do_write(columns_batch(columns))

    async def _compact_after(self, store: FsStore, plan: Plan) -> None:
        """After an append without the lock: compact, under it, past ``compact_bytes``."""
        if plan.count and store.log.size > self.options.compact_bytes:
            async with self._lock:  # type: ignore[union-attr]  # open: set by do_open
                if self._store is store:
                    with anyio.CancelScope(shield=True):
                        await self._maybe_compact(store)

    def _commit_inline(self, store: FsStore, batch: CheckedBatch) -> Plan | StorageError:
        """Plan, append and index ``batch`` on the event loop thread. Nothing here awaits,
        so nothing can cancel between the append and the index update (no shield is
        needed: it would cost as much as the rest of the call)."""
        plan = _mapped(store.appending, store.plan_and_commit, batch)
        if not isinstance(plan, StorageError) and plan.count:
            store.apply(plan)
        return plan

    # snapshots

    async def do_save_snapshot(
        self, network: str, label: str | None
    ) -> StorageResult[SnapshotInfo]:
        """Write the network's spec and contents, as of now, to a snapshot file."""
        store = self._open_store()
        assert self._lock is not None
        async with self._lock:
            if self._store is not store:
                return Failure(not_open(self.url))
            state = store.index.networks.get(network)
            if state is None:
                return Failure(network_not_found(network))
            snapshot_id, ns = store.snapshot_clock.next()
            contents = sorted(state.contents.items())
            info = SnapshotInfo(
                id=snapshot_id,
                network=network,
                label=label,
                created_at=dt.datetime.fromtimestamp(ns / 1e9, dt.UTC),
                contents=len(contents),
            )
            with anyio.CancelScope(shield=True):
                done = await self._io(
                    f"write snapshot of network {network!r}",
                    store.write_snapshot,
                    info,
                    state.spec,
                    contents,
                )
            if isinstance(done, StorageError):
                return Failure(done)
            store.snapshots.setdefault(network, {})[snapshot_id] = info
        return Success(info)

    def _snapshot_info(self, network: str, snapshot_id: str) -> SnapshotInfo | StorageError:
        store = self._open_store()
        if network not in store.index.networks:
            return network_not_found(network)
        info = store.snapshots.get(network, {}).get(snapshot_id)
        if info is None or not SNAPSHOT_ID_PATTERN.match(snapshot_id):
            return snapshot_not_found(network, snapshot_id)
        return info

    async def do_load_snapshot(self, network: str, snapshot_id: str) -> StorageResult[Snapshot]:
        """A saved snapshot, read and verified from its file."""
        store = self._open_store()
        info = self._snapshot_info(network, snapshot_id)
        if isinstance(info, StorageError):
            return Failure(info)
        path = store.layout.snapshot_file(network, snapshot_id)
        read = functools.partial(read_snapshot, store, network, snapshot_id)
        found = await self._io(f"read snapshot {path}", read)
        if isinstance(found, StorageError):
            return Failure(found)
        if isinstance(found, str):
            return Failure(StorageError(ErrorCode.CORRUPTION, f"snapshot file {path}: {found}"))
        spec, contents = found
        return Success(Snapshot(info=info, spec=spec, contents=tuple(contents)))

    async def do_list_snapshots(self, network: str) -> StorageResult[list[SnapshotInfo]]:
        """The network's snapshots, newest first."""
        store = self._open_store()
        if network not in store.index.networks:
            return Failure(network_not_found(network))
        infos = store.snapshots.get(network, {})
        return Success([infos[s] for s in sorted(infos, reverse=True)])

    async def do_delete_snapshot(self, network: str, snapshot_id: str) -> StorageResult[None]:
        """Remove a snapshot file."""
        store = self._open_store()
        assert self._lock is not None
        async with self._lock:
            if self._store is not store:
                return Failure(not_open(self.url))
            if isinstance(self._snapshot_info(network, snapshot_id), StorageError):
                return Success(None)
            with anyio.CancelScope(shield=True):
                done = await self._io(
                    f"delete snapshot {snapshot_id!r} of network {network!r}",
                    store.delete_snapshot_file,
                    network,
                    snapshot_id,
                )
            if isinstance(done, StorageError):
                return Failure(done)
            store.snapshots.get(network, {}).pop(snapshot_id, None)
        return Success(None)


def open_fs_storage(url: str, **options: Any) -> FileStorage:
    """A (not yet opened) storage for ``file:///path/to/dir[?option=value...]``.

    Options (URL query or keywords): ``compact_bytes`` (int, default 64 MiB),
    ``threads`` (int, default 4), ``inline_sync_ms`` (int 0..1000, default 2), ``create`` (bool, default true), ``read_only`` (bool,
    default false). Raises :class:`ValueError` for a malformed URL or option (and for the
    old ``repair`` option, naming the ``bassline storage repair`` command that replaced it).
    """
    return FileStorage(url, parse_fs_url(url, options))
