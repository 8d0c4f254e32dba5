"""``FileStorage``: the ``NetworkStorage`` protocol over a store directory.

Reads are answered from the in-memory index. Writers take turns under one lock; each
batch is checked, framed, appended and synced in a worker thread (one write, one data
sync), and only then applied to the index. Blocking I/O always runs through
``anyio.to_thread.run_sync`` under the storage's ``CapacityLimiter``, and is shielded
from cancellation so the index and the log never disagree.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
from returns.result import Failure, Success

from bassline.clock import HybridLogicalClock, Stamp
from bassline.codec import decode, decode_many
from bassline.errors import ContentError
from bassline.spec import Bassline, GroupSpec
from bassline.storage import (
    Batch,
    Capabilities,
    ContentRecord,
    ErrorCode,
    GroupQuery,
    Health,
    NetworkRecord,
    Snapshot,
    SnapshotInfo,
    StorageBase,
    StorageError,
    StorageResult,
    WriteSummary,
)
from bassline.storage.validation import check_id, normalise_fast
from bassline_storage_fs.checks import (
    as_record_list,
    check_batch_shape,
    check_label,
    check_spec,
    invalid,
)
from bassline_storage_fs.docfile import DocError
from bassline_storage_fs.entries import delete_frame
from bassline_storage_fs.index import NetworkState
from bassline_storage_fs.naming import SNAPSHOT_ID_PATTERN
from bassline_storage_fs.oserrors import from_os_error
from bassline_storage_fs.recovery import RecoveryReport
from bassline_storage_fs.specs import SpecDecodeError, spec_from_bytes
from bassline_storage_fs.store import FsStore, open_store
from bassline_storage_fs.table import ContentTable
from bassline_storage_fs.url import FsOptions, parse_fs_url

__all__ = ["FileStorage", "open_fs_storage"]

T = TypeVar("T")
log = logging.getLogger("bassline.storage.fs")
_CAPABILITIES = Capabilities(persistent=True, transactions=True, shared=False)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _fail(error: StorageError) -> Failure[StorageError]:
    return Failure(error)


def _not_found(code: ErrorCode, what: str) -> StorageError:
    return StorageError.not_found(code, what)


def _records(network: str, table: ContentTable) -> list[ContentRecord]:
    """Decode stored contents into fresh records sorted by contact (in a worker thread).

    ``table`` must be a private copy: the index may change while this runs.
    """
    contacts, groups, hlcs, nodes, values = table.sorted_columns()
    decoded = decode_many(values)
    record, stamp = ContentRecord, Stamp
    return [
        record(network, group, contact, value, stamp(hlc, node))
        for contact, group, hlc, node, value in zip(
            contacts, groups, hlcs, nodes, decoded, strict=True
        )
    ]


class FileStorage(StorageBase):
    """Networks, contents and snapshots in a directory, durable and crash-safe.

    Open it with ``async with open_storage("file:///path/to/dir") as storage``. One
    storage at a time may have a directory open (an exclusive lock; a second gets a
    CONFLICT). What opening had to repair is in :attr:`recovery` and ``health()``.
    """

    def __init__(self, url: str, options: FsOptions) -> None:
        self.url = url
        """The URL this storage was opened with."""
        self.options = options
        """The parsed location and options."""
        self._store: FsStore | None = None
        self._limiter: anyio.CapacityLimiter | None = None
        self._lock: anyio.Lock | None = None
        self._open_lock: anyio.Lock | None = None
        self._clock = HybridLogicalClock("file")
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

    # plumbing

    async def _io(self, doing: str, fn: Callable[..., T], *args: Any) -> T | StorageError:
        """Run blocking ``fn(*args)`` in a worker thread, mapping OSError to a StorageError."""

        def call() -> T | StorageError:
            try:
                return fn(*args)
            except OSError as exc:
                return from_os_error(exc, doing)

        assert self._limiter is not None
        return await anyio.to_thread.run_sync(call, limiter=self._limiter)

    def _ready(self, *ids: tuple[str, Any]) -> StorageError | FsStore:
        if self._store is None:
            return StorageError(
                ErrorCode.CONNECTION,
                f"storage {self.url} is not open (use `async with open_storage(url)`)",
                transient=False,
            )
        for kind, value in ids:
            err = check_id(kind, value)
            if err:
                return err
        return self._store

    async def _checked(self, *ids: tuple[str, Any]) -> StorageError | FsStore:
        await anyio.lowlevel.checkpoint()
        return self._ready(*ids)

    async def _writable(self, *ids: tuple[str, Any]) -> StorageError | FsStore:
        """Like :meth:`_checked`, and PERMISSION when the store is open read-only."""
        store = await self._checked(*ids)
        if not isinstance(store, StorageError) and self.options.read_only:
            return StorageError(
                ErrorCode.PERMISSION,
                f"storage {self.url} is open read-only (read_only=true): nothing is written",
                transient=False,
            )
        return store

    async def _network(self, network: str) -> NetworkState | StorageError:
        """The indexed state of ``network``: INVALID id, not open, or NETWORK_NOT_FOUND."""
        store = await self._checked(("network", network))
        if isinstance(store, StorageError):
            return store
        state = store.index.networks.get(network)
        if state is None:
            return _not_found(ErrorCode.NETWORK_NOT_FOUND, f"network {network!r}")
        return state

    # lifecycle

    async def open(self) -> StorageResult[None]:
        """Lock the directory, load the index and replay the log. Idempotent."""
        if self._store is not None:
            return Success(None)
        if self._open_lock is None:
            self._open_lock = anyio.Lock()
        async with self._open_lock:
            if self._store is not None:  # opened by a concurrent call
                return Success(None)
            self._limiter = anyio.CapacityLimiter(self.options.threads)
            self._lock = anyio.Lock()
            with anyio.CancelScope(shield=True):
                opened = await anyio.to_thread.run_sync(
                    open_store, self.options, limiter=self._limiter
                )
            if isinstance(opened, StorageError):
                return _fail(opened)
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

    async def close(self) -> None:
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

    async def health(self) -> StorageResult[Health]:
        """Whether the directory and log are usable, plus what recovery did at open."""
        store = await self._checked()
        if isinstance(store, StorageError):
            return _fail(store)
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
        store = await self._writable()
        if isinstance(store, StorageError):
            return _fail(store)
        assert self._lock is not None
        async with self._lock:
            with anyio.CancelScope(shield=True):
                done = await self._io(f"compact store {self.options.path}", store.compact)
        if isinstance(done, StorageError):
            self._problems["compaction"] = f"compaction failed: {done}"
            return _fail(done)
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

    async def save_network(self, spec: Bassline) -> StorageResult[None]:
        """Create or replace a network's spec; its contents and snapshots are kept."""
        err = check_spec(spec)
        if err:
            return _fail(err)
        result = await self.write([NetworkRecord(spec)])
        return result.map(lambda _: None)

    async def load_network(self, network: str) -> StorageResult[Bassline]:
        """The spec as saved, with later group and wire records merged in."""
        state = await self._network(network)
        if isinstance(state, StorageError):
            return _fail(state)
        try:
            return Success(spec_from_bytes(state.spec))
        except SpecDecodeError as exc:
            return _fail(StorageError(ErrorCode.CORRUPTION, f"network {network!r}: {exc}"))

    async def load_network_hash(self, network: str) -> StorageResult[str]:
        """The stored spec's :attr:`~bassline.spec.Bassline.hash`, from its canonical
        JSON bytes (no spec is rebuilt); NETWORK_NOT_FOUND if absent."""
        state = await self._network(network)
        if isinstance(state, StorageError):
            return _fail(state)
        return Success(hashlib.sha256(state.spec).hexdigest())

    async def delete_network(self, network: str) -> StorageResult[None]:
        """Remove a network with its contents and snapshots; deleting nothing succeeds."""
        store = await self._writable(("network", network))
        if isinstance(store, StorageError):
            return _fail(store)
        assert self._lock is not None
        async with self._lock:
            if self._store is not store:
                return _fail(self._ready_error())
            if network not in store.index.networks:
                return Success(None)
            with anyio.CancelScope(shield=True):
                done = await self._io(
                    f"append to log {store.layout.log}", store.commit, delete_frame(network), 1
                )
                if isinstance(done, StorageError):
                    return _fail(done)
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

    def _ready_error(self) -> StorageError:
        err = self._ready()
        return err if isinstance(err, StorageError) else invalid("storage changed while waiting")

    async def list_networks(self) -> StorageResult[list[str]]:
        """Every stored network id, sorted."""
        store = await self._checked()
        if isinstance(store, StorageError):
            return _fail(store)
        return Success(sorted(store.index.networks))

    async def network_exists(self, network: str) -> StorageResult[bool]:
        """Whether a network is stored."""
        store = await self._checked(("network", network))
        if isinstance(store, StorageError):
            return _fail(store)
        return Success(network in store.index.networks)

    # contents

    async def save_contact_content(
        self,
        network: str,
        group: str,
        contact: str,
        content: Any,
        stamp: Stamp | None = None,
    ) -> StorageResult[None]:
        """Store one contact's content; without a stamp it is stamped newer than any stored."""
        store = await self._writable()
        if isinstance(store, StorageError):
            return _fail(store)
        if stamp is None:
            tick = self._clock.tick()
            stamp = Stamp(max(tick.hlc, store.index.max_hlc + 1), tick.node)
        result = await self.write([ContentRecord(network, group, contact, content, stamp)])
        return result.map(lambda _: None)

    async def load_contact_content(
        self, network: str, group: str, contact: str
    ) -> StorageResult[ContentRecord]:
        """One contact's content and stamp; CONTACT_NOT_FOUND if none is stored in ``group``."""
        store = await self._checked(("network", network), ("group", group), ("contact", contact))
        if isinstance(store, StorageError):
            return _fail(store)
        state = store.index.networks.get(network)
        if state is None:
            return _fail(_not_found(ErrorCode.NETWORK_NOT_FOUND, f"network {network!r}"))
        found = state.contents.get(contact)
        if found is None or found.group != group:
            return _fail(
                _not_found(
                    ErrorCode.CONTACT_NOT_FOUND,
                    f"content of contact {contact!r} in group {group!r} of network {network!r}",
                )
            )
        try:
            value = decode(found.value)
        except ContentError as exc:
            return _fail(self._undecodable(network, exc))
        return Success(
            ContentRecord(network, found.group, contact, value, Stamp(found.hlc, found.node))
        )

    @staticmethod
    def _undecodable(network: str, exc: Exception) -> StorageError:
        return StorageError(
            ErrorCode.CORRUPTION,
            f"stored content of network {network!r} does not decode: {exc}",
            cause=exc,
        )

    async def load_contents(self, network: str) -> StorageResult[list[ContentRecord]]:
        """Every stored content of a network with its stamp, sorted by contact id."""
        state = await self._network(network)
        if isinstance(state, StorageError):
            return _fail(state)
        table = state.contents.copy()
        assert self._limiter is not None
        try:
            records = await anyio.to_thread.run_sync(
                _records, network, table, limiter=self._limiter
            )
        except ContentError as exc:
            return _fail(self._undecodable(network, exc))
        return Success(records)

    async def write(self, batch: Batch) -> StorageResult[WriteSummary]:
        """Apply a batch all or nothing: one log append and one data sync."""
        store = await self._writable()
        if isinstance(store, StorageError):
            return _fail(store)
        records = as_record_list(batch)
        if isinstance(records, StorageError):
            return _fail(records)
        normalised = normalise_fast(records)  # a simple batch, already fully checked
        if normalised is None and (err := check_batch_shape(records)) is not None:
            return _fail(err)
        assert self._lock is not None and self._limiter is not None
        async with self._lock:
            if self._store is not store:
                return _fail(self._ready_error())
            with anyio.CancelScope(shield=True):
                plan = await self._io(
                    f"append to log {store.layout.log}",
                    store.plan_and_commit,
                    records,
                    normalised,
                )
                if isinstance(plan, StorageError):
                    return _fail(plan)
                if plan.count:
                    store.apply(plan)
                    with contextlib.suppress(ValueError):
                        self._clock.observe(Stamp(*plan.newest))
                    await self._maybe_compact(store)
                summary = plan.summary
        return Success(summary)

    # queries

    async def query_groups(self, network: str, query: GroupQuery) -> StorageResult[list[GroupSpec]]:
        """The network's groups matching every criterion of ``query``, sorted by id."""
        loaded = await self.load_network(network)
        if isinstance(loaded, Failure):
            return loaded
        if not isinstance(query, GroupQuery):
            return _fail(invalid(f"query must be a GroupQuery, got {type(query).__name__}"))
        try:
            matched = [g for g in loaded.unwrap().groups if query.matches(g)]
        except (TypeError, ValueError) as exc:
            return _fail(invalid(f"bad group query {query!r}: {exc}"))
        return Success(sorted(matched, key=lambda g: g.id))

    # snapshots

    async def save_snapshot(
        self, network: str, label: str | None = None
    ) -> StorageResult[SnapshotInfo]:
        """Write the network's spec and contents, as of now, to a snapshot file."""
        store = await self._writable(("network", network))
        if isinstance(store, StorageError):
            return _fail(store)
        err = check_label(label)
        if err:
            return _fail(err)
        assert self._lock is not None
        async with self._lock:
            if self._store is not store:
                return _fail(self._ready_error())
            state = store.index.networks.get(network)
            if state is None:
                return _fail(_not_found(ErrorCode.NETWORK_NOT_FOUND, f"network {network!r}"))
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
                return _fail(done)
            store.snapshots.setdefault(network, {})[snapshot_id] = info
        return Success(info)

    def _snapshot_info(
        self, store: FsStore, network: str, snapshot_id: str
    ) -> SnapshotInfo | StorageError:
        if network not in store.index.networks:
            return _not_found(ErrorCode.NETWORK_NOT_FOUND, f"network {network!r}")
        info = store.snapshots.get(network, {}).get(snapshot_id)
        if info is None or not SNAPSHOT_ID_PATTERN.match(snapshot_id):
            return _not_found(
                ErrorCode.SNAPSHOT_NOT_FOUND, f"snapshot {snapshot_id!r} of network {network!r}"
            )
        return info

    async def load_snapshot(self, network: str, snapshot_id: str) -> StorageResult[Snapshot]:
        """A saved snapshot, read and verified from its file; SNAPSHOT_NOT_FOUND if absent."""
        store = await self._checked(("network", network), ("snapshot", snapshot_id))
        if isinstance(store, StorageError):
            return _fail(store)
        info = self._snapshot_info(store, network, snapshot_id)
        if isinstance(info, StorageError):
            return _fail(info)
        path = store.layout.snapshot_file(network, snapshot_id)
        read = functools.partial(_read_snapshot, store, network, snapshot_id)
        found = await self._io(f"read snapshot {path}", read)
        if isinstance(found, StorageError):
            return _fail(found)
        if isinstance(found, str):
            return _fail(StorageError(ErrorCode.CORRUPTION, f"snapshot file {path}: {found}"))
        spec, contents = found
        return Success(Snapshot(info=info, spec=spec, contents=tuple(contents)))

    async def list_snapshots(self, network: str) -> StorageResult[list[SnapshotInfo]]:
        """The network's snapshots, newest first."""
        store = await self._checked(("network", network))
        if isinstance(store, StorageError):
            return _fail(store)
        if network not in store.index.networks:
            return _fail(_not_found(ErrorCode.NETWORK_NOT_FOUND, f"network {network!r}"))
        infos = store.snapshots.get(network, {})
        return Success([infos[s] for s in sorted(infos, reverse=True)])

    async def delete_snapshot(self, network: str, snapshot_id: str) -> StorageResult[None]:
        """Remove a snapshot; deleting nothing succeeds."""
        store = await self._writable(("network", network), ("snapshot", snapshot_id))
        if isinstance(store, StorageError):
            return _fail(store)
        assert self._lock is not None
        async with self._lock:
            if self._store is not store:
                return _fail(self._ready_error())
            if isinstance(self._snapshot_info(store, network, snapshot_id), StorageError):
                return Success(None)
            with anyio.CancelScope(shield=True):
                done = await self._io(
                    f"delete snapshot {snapshot_id!r} of network {network!r}",
                    store.delete_snapshot_file,
                    network,
                    snapshot_id,
                )
            if isinstance(done, StorageError):
                return _fail(done)
            store.snapshots.get(network, {}).pop(snapshot_id, None)
        return Success(None)


def _read_snapshot(
    store: FsStore, network: str, snapshot_id: str
) -> tuple[Bassline, list[ContentRecord]] | str:
    """Read, verify and decode a snapshot file, or say what is wrong with it."""
    try:
        doc = store.read_snapshot(network, snapshot_id)
        if doc.header.get("id") != snapshot_id or doc.network != network:
            return "the file holds another snapshot"
        spec = spec_from_bytes(doc.spec)
        return spec, _records(network, doc.contents)
    except FileNotFoundError:
        return "the file is missing"
    except (DocError, SpecDecodeError, ContentError) as exc:
        return str(exc)


def open_fs_storage(url: str, **options: Any) -> FileStorage:
    """A (not yet opened) storage for ``file:///path/to/dir[?option=value...]``.

    Options (URL query or keywords): ``compact_bytes`` (int, default 64 MiB),
    ``threads`` (int, default 4), ``create`` (bool, default true), ``read_only`` (bool,
    default false). Raises :class:`ValueError` for a malformed URL or option (and for the
    old ``repair`` option, naming the ``bassline storage repair`` command that replaced it).
    """
    return FileStorage(url, parse_fs_url(url, options))
