"""``MemoryStorage``: the ``NetworkStorage`` protocol over an in-process :class:`MemoryStore`."""

from __future__ import annotations

import os
from typing import Any

import anyio
from returns.result import Failure, Success

from bassline.spec import Bassline
from bassline.storage import (
    Batch,
    Capabilities,
    ChangeBatch,
    ContentRecord,
    Health,
    Snapshot,
    SnapshotInfo,
    StorageError,
    StorageResult,
    Watcher,
    WriteSummary,
)
from bassline.storage.toolkit import (
    CheckedBatch,
    ContentColumns,
    Joins,
    StorageBackend,
    columns_batch,
)
from bassline_storage_memory.feed import MemoryWatch
from bassline_storage_memory.prepare import copy_spec, prepare_batch
from bassline_storage_memory.state import MemoryStore, records_of
from bassline_storage_memory.stores import named_store
from bassline_storage_memory.url import parse_memory_url

__all__ = ["MemoryStorage", "open_memory_storage"]

_CAPABILITIES = Capabilities(persistent=False, transactions=True, shared=False)


def _result(value: Any) -> StorageResult[Any]:
    return Failure(value) if isinstance(value, StorageError) else Success(value)


class MemoryStorage(StorageBackend):
    """Networks and contents held in this process, with no aliasing.

    Values are stored as canonical JSON bytes and decoded afresh on every load; specs
    are deep-copied on the way in and out. ``write`` validates the whole batch before
    applying any of it, under the store's lock.
    """

    def __init__(self, url: str, store: MemoryStore) -> None:
        # the store's clock: every storage on a named store stamps from it and advances
        # it (the base class observes each written batch), so later unstamped saves
        # replace earlier ones
        super().__init__(url, clock=store.clock)
        self._store = store

    @property
    def capabilities(self) -> Capabilities:
        """Not persistent; atomic batches; one process."""
        return _CAPABILITIES

    @property
    def store(self) -> MemoryStore:
        """The store this storage reads and writes (shared with others of the same name)."""
        return self._store

    async def do_health(self) -> StorageResult[Health]:
        """Healthy while open."""
        name = self._store.name or "(private)"
        return Success(
            Health(ok=True, detail=f"memory store {name}: {self._store.count()} networks")
        )

    # networks

    async def do_load_network(self, network: str) -> StorageResult[Bassline]:
        """A private copy of the spec; NETWORK_NOT_FOUND if absent."""
        spec = self._store.spec(network)
        return _result(spec if isinstance(spec, StorageError) else copy_spec(spec))

    async def do_load_network_hash(self, network: str) -> StorageResult[str]:
        """The stored spec's hash (computed once per saved spec, no copy made)."""
        spec = self._store.spec(network)
        return _result(spec if isinstance(spec, StorageError) else spec.hash)

    async def do_delete_network(self, network: str) -> StorageResult[None]:
        """Forget a network with its contents and snapshots."""
        self._store.delete_network(network)
        return Success(None)

    async def do_list_networks(self) -> StorageResult[list[str]]:
        """Every network id, sorted."""
        return Success(self._store.network_ids())

    async def do_network_exists(self, network: str) -> StorageResult[bool]:
        """Whether a network is stored."""
        return Success(self._store.has_network(network))

    # contents

    async def do_load_contact_content(
        self, network: str, group: str, contact: str
    ) -> StorageResult[ContentRecord]:
        """One contact's content and stamp, looked up directly."""
        found = self._store.content(network, group, contact)
        return _result(found if isinstance(found, StorageError) else found.record(network, contact))

    async def do_load_contents(self, network: str) -> StorageResult[list[ContentRecord]]:
        """Every stored content of a network with its stamp, sorted by contact id."""
        table = self._store.rows(network)
        return _result(table if isinstance(table, StorageError) else records_of(network, table))

    async def do_write(self, batch: CheckedBatch) -> StorageResult[WriteSummary]:
        """Copy the batch, then apply it all or nothing under the store's lock."""
        prepared = prepare_batch(batch)
        if isinstance(prepared, StorageError):
            return Failure(prepared)
        return _result(self._store.apply(prepared, self))

    async def do_write_columns(self, columns: ContentColumns) -> StorageResult[WriteSummary]:
        """Store checked columns (the runtime's batches) as they are: their values are
        encoded bytes and their justifications immutable text, so nothing is copied; a
        missing network or group goes to ``do_write``, which names it."""
        summary = self._store.apply_columns(columns, self)
        if summary is None:
            return await self.do_write(columns_batch(columns))
        return Success(summary)

    # merge contacts (bassline.storage.JoinsMerges)

    async def write_joining(self, batch: Batch, joins: Joins) -> StorageResult[WriteSummary]:
        """``write``, each record of a merge contact joined with the stored one under the
        store's lock (so with every other storage of a named store)."""
        return await self.joining_write(batch, joins)

    async def do_write_joining(
        self, batch: CheckedBatch, joins: Joins
    ) -> StorageResult[WriteSummary]:
        """Copy the batch, then join and apply it all or nothing under the store's lock."""
        prepared = prepare_batch(batch)
        if isinstance(prepared, StorageError):
            return Failure(prepared)
        return _result(self._store.apply(prepared, self, joins))

    # the change feed (bassline.storage.FeedsChanges): within this process

    async def feed_position(self, network: str) -> StorageResult[int]:
        """The newest change sequence of ``network`` (0 before any write)."""
        if err := await self.feed_ready(network):
            return Failure(err)
        return _result(self._store.feed_position(network))

    async def read_changes(self, network: str, after: int) -> StorageResult[ChangeBatch]:
        """Every content stored with a change sequence above ``after``."""
        if err := await self.feed_ready(network, after):
            return Failure(err)
        return _result(self._store.changes(network, after))

    def watch_changes(self, network: str, *, member: str = "") -> MemoryWatch:
        """A watch woken by every write of ``network`` to this store made through another
        storage object (same event loop)."""
        return MemoryWatch(self._store.feed, network, member, self)

    async def watchers(self, network: str) -> StorageResult[list[Watcher]]:
        """The watches of ``network`` entered on this store and not left yet."""
        if err := await self.feed_ready(network):
            return Failure(err)
        return Success(self._store.feed.watchers(network))

    async def feed_identity(self) -> StorageResult[str]:
        """This process and this store: memory feeds reach only storages of one store in
        one process."""
        await anyio.lowlevel.checkpoint()
        return Success(f"memory:{os.getpid()}:{id(self._store):x}")

    # snapshots

    async def do_save_snapshot(
        self, network: str, label: str | None
    ) -> StorageResult[SnapshotInfo]:
        """Freeze the network's spec and contents at this moment."""
        saved = self._store.save_snapshot(network, label)
        return _result(saved if isinstance(saved, StorageError) else saved.info)

    async def do_load_snapshot(self, network: str, snapshot_id: str) -> StorageResult[Snapshot]:
        """A saved snapshot, as private copies."""
        found = self._store.snapshot(network, snapshot_id)
        if isinstance(found, StorageError):
            return Failure(found)
        contents = tuple(records_of(network, found.contents))
        return Success(Snapshot(info=found.info, spec=copy_spec(found.spec), contents=contents))

    async def do_list_snapshots(self, network: str) -> StorageResult[list[SnapshotInfo]]:
        """The network's snapshots, newest first."""
        return _result(self._store.snapshot_infos(network))

    async def do_delete_snapshot(self, network: str, snapshot_id: str) -> StorageResult[None]:
        """Forget a snapshot."""
        self._store.delete_snapshot(network, snapshot_id)
        return Success(None)


def open_memory_storage(url: str = "memory://", **options: Any) -> MemoryStorage:
    """A storage on a fresh private store (``memory://``) or the shared ``memory://NAME``.

    Raises :class:`ValueError` for a malformed URL or any option (memory takes none).
    """
    if options:
        raise ValueError(
            f"memory storage takes no options, got {', '.join(sorted(options))} for {url!r}"
        )
    name = parse_memory_url(url)
    store = named_store(name) if name is not None else MemoryStore(None)
    return MemoryStorage(url, store)
