"""``MemoryStorage``: the ``NetworkStorage`` protocol over an in-process :class:`MemoryStore`."""

from __future__ import annotations

import copy
from typing import Any

from anyio.lowlevel import checkpoint
from returns.result import Failure, Success

from bassline.clock import Stamp
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
from bassline.storage.validation import check_id
from bassline_storage_memory.prepare import check_stamp, copy_spec, prepare_batch
from bassline_storage_memory.state import MemoryStore, records_of
from bassline_storage_memory.stores import named_store
from bassline_storage_memory.url import parse_memory_url

__all__ = ["MemoryStorage", "open_memory_storage"]

_CAPABILITIES = Capabilities(persistent=False, transactions=True, shared=False)


def _fail(error: StorageError) -> Failure[StorageError]:
    return Failure(error)


class MemoryStorage(StorageBase):
    """Networks and contents held in this process, with no aliasing.

    Values are stored as canonical JSON bytes and decoded afresh on every load; specs
    are deep-copied on the way in and out. ``write`` validates the whole batch before
    applying any of it, under the store's lock.
    """

    def __init__(self, url: str, store: MemoryStore) -> None:
        self.url = url
        """The URL this storage was opened with."""
        self._store = store
        self._open = False

    @property
    def capabilities(self) -> Capabilities:
        """Not persistent; atomic batches; one process."""
        return _CAPABILITIES

    @property
    def store(self) -> MemoryStore:
        """The store this storage reads and writes (shared with others of the same name)."""
        return self._store

    async def open(self) -> StorageResult[None]:
        """Start serving requests. Idempotent."""
        await checkpoint()
        self._open = True
        return Success(None)

    async def close(self) -> None:
        """Stop serving requests (the data stays in the store). Idempotent."""
        self._open = False

    async def _ready(self, *ids: tuple[str, Any]) -> StorageError | None:
        await checkpoint()
        if not self._open:
            return StorageError(
                ErrorCode.CONNECTION,
                f"storage {self.url} is not open (use `async with open_storage(url)`)",
                transient=False,
            )
        for kind, value in ids:
            err = check_id(kind, value)
            if err:
                return err
        return None

    async def health(self) -> StorageResult[Health]:
        """Healthy while open."""
        if err := await self._ready():
            return _fail(err)
        name = self._store.name or "(private)"
        return Success(
            Health(ok=True, detail=f"memory store {name}: {self._store.count()} networks")
        )

    # networks

    async def save_network(self, spec: Bassline) -> StorageResult[None]:
        """Create or replace a network's spec; its contents and snapshots are kept."""
        result = await self.write([NetworkRecord(spec)])
        return result.map(lambda _: None)

    async def load_network(self, network: str) -> StorageResult[Bassline]:
        """A private copy of the spec; NETWORK_NOT_FOUND if absent."""
        if err := await self._ready(("network", network)):
            return _fail(err)
        spec = self._store.spec(network)
        if isinstance(spec, StorageError):
            return _fail(spec)
        return Success(copy_spec(spec))

    async def load_network_hash(self, network: str) -> StorageResult[str]:
        """The stored spec's :attr:`~bassline.spec.Bassline.hash` (computed once per saved
        spec, no copy made); NETWORK_NOT_FOUND if absent."""
        if err := await self._ready(("network", network)):
            return _fail(err)
        spec = self._store.spec(network)
        if isinstance(spec, StorageError):
            return _fail(spec)
        return Success(spec.hash)

    async def delete_network(self, network: str) -> StorageResult[None]:
        """Remove a network with its contents and snapshots; deleting nothing succeeds."""
        if err := await self._ready(("network", network)):
            return _fail(err)
        self._store.delete_network(network)
        return Success(None)

    async def list_networks(self) -> StorageResult[list[str]]:
        """Every network id, sorted."""
        if err := await self._ready():
            return _fail(err)
        return Success(self._store.network_ids())

    async def network_exists(self, network: str) -> StorageResult[bool]:
        """Whether a network is stored."""
        if err := await self._ready(("network", network)):
            return _fail(err)
        return Success(self._store.has_network(network))

    # contents

    async def save_contact_content(
        self,
        network: str,
        group: str,
        contact: str,
        content: Any,
        stamp: Stamp | None = None,
    ) -> StorageResult[None]:
        """Store one contact's content; without a stamp, the store's clock stamps it."""
        if err := await self._ready():
            return _fail(err)
        if stamp is None:
            stamp = self._store.clock.tick()
        elif err := check_stamp(stamp, f"contact {contact!r}"):
            return _fail(err)
        result = await self.write([ContentRecord(network, group, contact, content, stamp)])
        return result.map(lambda _: None)

    async def load_contact_content(
        self, network: str, group: str, contact: str
    ) -> StorageResult[ContentRecord]:
        """One contact's content and stamp; CONTACT_NOT_FOUND if none is stored in ``group``."""
        if err := await self._ready(("network", network), ("group", group), ("contact", contact)):
            return _fail(err)
        found = self._store.content(network, group, contact)
        if isinstance(found, StorageError):
            return _fail(found)
        return Success(found.record(network, contact))

    async def load_contents(self, network: str) -> StorageResult[list[ContentRecord]]:
        """Every stored content of a network with its stamp, sorted by contact id."""
        if err := await self._ready(("network", network)):
            return _fail(err)
        table = self._store.contents(network)
        if isinstance(table, StorageError):
            return _fail(table)
        return Success(records_of(network, table))

    async def write(self, batch: Batch) -> StorageResult[WriteSummary]:
        """Apply a batch all or nothing, networks before groups, wires and contents."""
        if err := await self._ready():
            return _fail(err)
        prepared = prepare_batch(batch)
        if isinstance(prepared, StorageError):
            return _fail(prepared)
        summary = self._store.apply(prepared)
        if isinstance(summary, StorageError):
            return _fail(summary)
        return Success(summary)

    # queries

    async def query_groups(self, network: str, query: GroupQuery) -> StorageResult[list[GroupSpec]]:
        """The network's groups matching every criterion of ``query``, sorted by id."""
        if err := await self._ready(("network", network)):
            return _fail(err)
        if not isinstance(query, GroupQuery):
            return _fail(
                StorageError(
                    ErrorCode.INVALID,
                    f"query must be a GroupQuery, got {type(query).__name__}",
                    transient=False,
                )
            )
        groups = self._store.groups(network)
        if isinstance(groups, StorageError):
            return _fail(groups)
        try:
            matched = [g for g in groups if query.matches(g)]
        except (TypeError, ValueError) as exc:
            return _fail(
                StorageError(ErrorCode.INVALID, f"bad group query {query!r}: {exc}", cause=exc)
            )
        return Success([_copy_group(g) for g in sorted(matched, key=lambda g: g.id)])

    # snapshots

    async def save_snapshot(
        self, network: str, label: str | None = None
    ) -> StorageResult[SnapshotInfo]:
        """Freeze the network's spec and contents at this moment."""
        if err := await self._ready(("network", network)):
            return _fail(err)
        if label is not None and not isinstance(label, str):
            return _fail(
                StorageError(
                    ErrorCode.INVALID,
                    f"snapshot label must be a string or None, got {type(label).__name__}",
                    transient=False,
                )
            )
        saved = self._store.save_snapshot(network, label)
        if isinstance(saved, StorageError):
            return _fail(saved)
        return Success(saved.info)

    async def load_snapshot(self, network: str, snapshot_id: str) -> StorageResult[Snapshot]:
        """A saved snapshot, as private copies; SNAPSHOT_NOT_FOUND if absent."""
        if err := await self._ready(("network", network), ("snapshot", snapshot_id)):
            return _fail(err)
        found = self._store.snapshot(network, snapshot_id)
        if isinstance(found, StorageError):
            return _fail(found)
        contents = tuple(records_of(network, found.contents))
        return Success(Snapshot(info=found.info, spec=copy_spec(found.spec), contents=contents))

    async def list_snapshots(self, network: str) -> StorageResult[list[SnapshotInfo]]:
        """The network's snapshots, newest first."""
        if err := await self._ready(("network", network)):
            return _fail(err)
        infos = self._store.snapshot_infos(network)
        if isinstance(infos, StorageError):
            return _fail(infos)
        return Success(infos)

    async def delete_snapshot(self, network: str, snapshot_id: str) -> StorageResult[None]:
        """Remove a snapshot; deleting nothing succeeds."""
        if err := await self._ready(("network", network), ("snapshot", snapshot_id)):
            return _fail(err)
        self._store.delete_snapshot(network, snapshot_id)
        return Success(None)


def _copy_group(group: GroupSpec) -> GroupSpec:
    """A copy of ``group`` whose attributes the caller may mutate freely."""
    return copy.deepcopy(group)


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
