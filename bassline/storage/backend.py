"""``StorageBackend``: the base class a backend derives from, in the manner of SQLAlchemy's
dialects.

The base class implements every public operation of
:class:`~bassline.storage.NetworkStorage` once: it refuses calls while the storage is not
open, checks every id, query, label and stamp, checks and normalises a batch
(:func:`~bassline.storage.toolkit.check_batch`), stamps unstamped saves, and then calls
one narrow hook whose arguments are already valid. A backend implements the ``do_*``
hooks; the operations that can be derived from others have defaults it may override
with something faster.
"""

from __future__ import annotations

import abc
import contextlib
from typing import Any

from anyio.lowlevel import checkpoint
from returns.result import Failure, Success

from bassline.clock import HybridLogicalClock, Stamp
from bassline.spec import Bassline, GroupSpec
from bassline.storage.base import StorageBase
from bassline.storage.errors import ErrorCode, StorageError
from bassline.storage.fastpath import ContentColumns
from bassline.storage.joins import Joins, fold_duplicates, merge_records
from bassline.storage.protocol import StorageResult
from bassline.storage.records import (
    Batch,
    Capabilities,
    ContentRecord,
    GroupQuery,
    Health,
    NetworkRecord,
    Snapshot,
    SnapshotInfo,
    WriteSummary,
    content_records,
)
from bassline.storage.validation import (
    NormalisedBatch,
    as_record_list,
    check_id,
    check_label,
    invalid,
    normalise_batch,
)

__all__ = ["StorageBackend", "columns_batch", "columns_writer", "not_open"]


def not_open(url: str) -> StorageError:
    """CONNECTION (permanent): the storage at ``url`` is not open."""
    return StorageError(
        ErrorCode.CONNECTION,
        f"storage {url} is not open (use `async with open_storage(url)` or `await storage.open()`)",
        transient=False,
    )


def _newest(batch: NormalisedBatch) -> Stamp:
    if batch.columns is not None:
        return Stamp(max(batch.columns.hlcs), "")
    return max(r.stamp for r in batch.contents)


def columns_batch(columns: ContentColumns) -> NormalisedBatch:
    """The checked batch of contents ``columns`` stand for (made by
    :func:`~bassline.storage.fastpath.queued_columns`: one network, values given): what
    ``do_write`` is handed, records and all."""
    records = content_records(
        columns.networks[0],
        columns.groups,
        columns.contacts,
        columns.values,
        columns.stamps,
        columns.justifications,
    )
    return NormalisedBatch((), (), (), tuple(records), tuple(columns.encoded), columns)


def columns_writer(storage: object) -> StorageBackend | None:
    """``storage`` when :meth:`StorageBackend.write_columns` stands for its ``write``: a
    :class:`StorageBackend` whose ``write`` is the base class's own (not overridden by a
    subclass or on the instance, as a test's wrapper might); else None (write records)."""
    if (
        isinstance(storage, StorageBackend)
        and type(storage).write is StorageBackend.write
        and "write" not in vars(storage)
    ):
        return storage
    return None


class StorageBackend(StorageBase):
    """A :class:`~bassline.storage.NetworkStorage` built on a handful of narrow hooks.

    Call ``super().__init__(url)`` from ``__init__`` (``clock_node`` names the node of
    the stamps :meth:`next_stamp` gives, the class name by default; or pass ``clock``, a
    :class:`~bassline.clock.HybridLogicalClock` shared with other storages on the same
    store). Implement :attr:`capabilities` and the abstract hooks:

    - ``do_write(batch)``: apply a :class:`~bassline.storage.toolkit.CheckedBatch` (every
      record valid, duplicates collapsed, networks before groups, wires and contents,
      each content's canonical JSON in ``batch.encoded``) all or nothing;
    - ``do_load_network``, ``do_list_networks``, ``do_delete_network``,
      ``do_load_contents``;
    - ``do_save_snapshot``, ``do_load_snapshot``, ``do_list_snapshots``,
      ``do_delete_snapshot``.

    Every hook is called only while the storage is open, with ids that passed
    :func:`~bassline.storage.toolkit.check_id`, and returns a ``Result`` (never raising
    for an expected failure). The other hooks have defaults: ``do_open``/``do_close``
    (nothing to connect), ``do_health`` (healthy while open), ``do_network_exists`` (from
    ``do_list_networks``), ``do_load_contact_content`` (from ``do_load_contents``),
    ``do_query_groups`` (``GroupQuery.matches`` over ``do_load_network``),
    ``do_load_network_hash`` (the loaded spec's hash), :meth:`next_stamp` (this storage's
    clock) and :meth:`refuse_writes` (never). A backend that joins merge contacts' writes
    (:class:`~bassline.storage.abilities.JoinsMerges`) implements ``do_write_joining`` and
    returns :meth:`joining_write` from its ``write_joining``.
    """

    def __init__(
        self,
        url: str,
        *,
        clock_node: str | None = None,
        clock: HybridLogicalClock | None = None,
    ) -> None:
        self.url = url
        """The URL this storage was opened with (any password masked)."""
        self._opened = False
        self._clock = clock or HybridLogicalClock(clock_node or type(self).__name__)

    @property
    @abc.abstractmethod
    def capabilities(self) -> Capabilities:
        """What this backend can do and promise."""

    @property
    def is_open(self) -> bool:
        """Whether the storage is open (between a successful ``open`` and ``close``)."""
        return self._opened

    # -- hooks a backend implements -------------------------------------------------------

    async def do_open(self) -> StorageResult[None]:
        """Connect, lock, replay (default: nothing to do). Called once per ``open``."""
        return Success(None)

    async def do_close(self) -> None:
        """Release every resource (default: nothing to do); never raises."""

    @abc.abstractmethod
    async def do_write(self, batch: NormalisedBatch) -> StorageResult[WriteSummary]:
        """Apply a checked batch all or nothing: NETWORK_NOT_FOUND / GROUP_NOT_FOUND for a
        reference that is neither stored nor in the batch, ``stale`` for contents whose
        stored stamp is newer."""

    @abc.abstractmethod
    async def do_load_network(self, network: str) -> StorageResult[Bassline]:
        """The spec as saved, later group and wire records merged in; NETWORK_NOT_FOUND."""

    @abc.abstractmethod
    async def do_list_networks(self) -> StorageResult[list[str]]:
        """Every stored network id, sorted by code point."""

    @abc.abstractmethod
    async def do_delete_network(self, network: str) -> StorageResult[None]:
        """Remove a network with its contents and snapshots; nothing stored succeeds."""

    @abc.abstractmethod
    async def do_load_contents(self, network: str) -> StorageResult[list[ContentRecord]]:
        """Every stored content of a network, sorted by contact id; NETWORK_NOT_FOUND."""

    @abc.abstractmethod
    async def do_save_snapshot(
        self, network: str, label: str | None
    ) -> StorageResult[SnapshotInfo]:
        """Copy the network's spec and contents at one point; NETWORK_NOT_FOUND."""

    @abc.abstractmethod
    async def do_load_snapshot(self, network: str, snapshot_id: str) -> StorageResult[Snapshot]:
        """A saved snapshot; NETWORK_NOT_FOUND or SNAPSHOT_NOT_FOUND."""

    @abc.abstractmethod
    async def do_list_snapshots(self, network: str) -> StorageResult[list[SnapshotInfo]]:
        """The network's snapshots, newest first; NETWORK_NOT_FOUND."""

    @abc.abstractmethod
    async def do_delete_snapshot(self, network: str, snapshot_id: str) -> StorageResult[None]:
        """Remove a snapshot; nothing to delete succeeds."""

    # -- hooks with defaults ----------------------------------------------------------------

    async def do_health(self) -> StorageResult[Health]:
        """Healthy while open (override to check the backend really answers)."""
        return Success(Health(ok=True, detail=f"{type(self).__name__} at {self.url}"))

    async def do_network_exists(self, network: str) -> StorageResult[bool]:
        """Whether ``network`` is among ``do_list_networks()``."""
        return (await self.do_list_networks()).map(lambda ids: network in ids)

    async def do_load_contact_content(
        self, network: str, group: str, contact: str
    ) -> StorageResult[ContentRecord]:
        """The content of ``contact`` from ``do_load_contents``; CONTACT_NOT_FOUND unless
        it is stored under ``group``."""
        loaded = await self.do_load_contents(network)
        if isinstance(loaded, Failure):
            return loaded
        for record in loaded.unwrap():
            if record.contact == contact and record.group == group:
                return Success(record)
        return Failure(
            StorageError.not_found(
                ErrorCode.CONTACT_NOT_FOUND,
                f"content of contact {contact!r} in group {group!r} of network {network!r}",
            )
        )

    async def do_query_groups(
        self, network: str, query: GroupQuery
    ) -> StorageResult[list[GroupSpec]]:
        """The groups of ``do_load_network`` that ``query.matches``, sorted by id."""
        loaded = await self.do_load_network(network)
        if isinstance(loaded, Failure):
            return loaded
        try:
            matched = [g for g in loaded.unwrap().groups if query.matches(g)]
        except (TypeError, ValueError) as exc:
            return Failure(invalid(f"bad group query {query!r}: {exc}"))
        return Success(sorted(matched, key=lambda g: g.id))

    async def do_load_network_hash(self, network: str) -> StorageResult[str]:
        """The stored spec's hash; override when the backend can answer without rebuilding
        the spec (from its canonical JSON, say)."""
        return (await self.do_load_network(network)).map(lambda spec: spec.hash)

    def next_stamp(self) -> Stamp:
        """The stamp of a ``save_contact_content`` without one: this storage's hybrid
        logical clock (``clock``, if one was given), which follows every stamp written
        through it."""
        return self._clock.tick()

    def refuse_writes(self) -> StorageError | None:
        """Why this storage takes no writes now (a read-only store), else None (default)."""
        return None

    # -- the protocol, implemented once ---------------------------------------------------

    async def open(self) -> StorageResult[None]:
        """Connect / lock / replay through ``do_open``. Idempotent."""
        if self._opened:
            await checkpoint()
            return Success(None)
        result = await self.do_open()
        if isinstance(result, Success):
            self._opened = True
        return result

    async def close(self) -> None:
        """Release every resource through ``do_close``. Idempotent; never raises."""
        self._opened = False
        await self.do_close()

    async def _ready(self, *ids: tuple[str, Any]) -> StorageError | None:
        await checkpoint()
        if not self._opened:
            return not_open(self.url)
        for kind, value in ids:
            if err := check_id(kind, value):
                return err
        return None

    async def feed_ready(self, network: str, after: int = 0) -> StorageError | None:
        """For a backend's change feed (:class:`~bassline.storage.FeedsChanges`): an error
        for a closed storage, a bad network id or a cursor that is not an integer >= 0."""
        if err := await self._ready(("network", network)):
            return err
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            return invalid(
                f"change feed cursor must be an integer >= 0 (a position read_changes "
                f"or feed_position returned), got {after!r}"
            )
        return None

    async def _writable(self, *ids: tuple[str, Any]) -> StorageError | None:
        return await self._ready(*ids) or self.refuse_writes()

    async def health(self) -> StorageResult[Health]:
        """Whether the backend can serve requests right now."""
        if err := await self._ready():
            return Failure(err)
        return await self.do_health()

    async def save_network(self, spec: Bassline) -> StorageResult[None]:
        """Create or replace a network's spec (a one-record ``write``; contents are kept)."""
        return (await self.write([NetworkRecord(spec)])).map(lambda _: None)

    async def load_network(self, network: str) -> StorageResult[Bassline]:
        """The spec as saved; NETWORK_NOT_FOUND if absent."""
        if err := await self._ready(("network", network)):
            return Failure(err)
        return await self.do_load_network(network)

    async def load_network_hash(self, network: str) -> StorageResult[str]:
        """The stored spec's :attr:`~bassline.spec.Bassline.hash`; NETWORK_NOT_FOUND if absent."""
        if err := await self._ready(("network", network)):
            return Failure(err)
        return await self.do_load_network_hash(network)

    async def delete_network(self, network: str) -> StorageResult[None]:
        """Remove a network with its contents and snapshots. Deleting nothing succeeds."""
        if err := await self._writable(("network", network)):
            return Failure(err)
        return await self.do_delete_network(network)

    async def list_networks(self) -> StorageResult[list[str]]:
        """Every stored network id, sorted."""
        if err := await self._ready():
            return Failure(err)
        return await self.do_list_networks()

    async def network_exists(self, network: str) -> StorageResult[bool]:
        """Whether a network is stored."""
        if err := await self._ready(("network", network)):
            return Failure(err)
        return await self.do_network_exists(network)

    async def save_contact_content(
        self,
        network: str,
        group: str,
        contact: str,
        content: Any,
        stamp: Stamp | None = None,
    ) -> StorageResult[None]:
        """Store one contact's content: a one-record ``write``, stamped by
        :meth:`next_stamp` when ``stamp`` is None."""
        if err := await self._writable():
            return Failure(err)
        if stamp is None:
            stamp = self.next_stamp()
        result = await self.write([ContentRecord(network, group, contact, content, stamp)])
        return result.map(lambda _: None)

    async def load_contact_content(
        self, network: str, group: str, contact: str
    ) -> StorageResult[ContentRecord]:
        """One contact's content and stamp; CONTACT_NOT_FOUND if none is stored in ``group``."""
        if err := await self._ready(("network", network), ("group", group), ("contact", contact)):
            return Failure(err)
        return await self.do_load_contact_content(network, group, contact)

    async def load_contents(self, network: str) -> StorageResult[list[ContentRecord]]:
        """Every stored content of a network, with stamps, sorted by contact id."""
        if err := await self._ready(("network", network)):
            return Failure(err)
        return await self.do_load_contents(network)

    async def write(self, batch: Batch) -> StorageResult[WriteSummary]:
        """Check and normalise ``batch``, then apply it atomically through ``do_write``."""
        if err := await self._writable():
            return Failure(err)
        checked = normalise_batch(batch)
        if isinstance(checked, StorageError):
            return Failure(checked)
        return self._observed(checked, await self.do_write(checked))

    async def write_columns(self, columns: ContentColumns) -> StorageResult[WriteSummary]:
        """What :meth:`write` does with the records ``columns`` stand for, without making
        and checking them again: the runtime's write of a batch it queued (internal; see
        :func:`columns_writer` for when it stands for ``write``).

        ``columns`` must come from :func:`~bassline.storage.fastpath.queued_columns`,
        which checked every id, stamp, justification and value a column at a time, each
        contact once, one network, and encoded the values: what :func:`normalise_batch`
        would check. Applied through :meth:`do_write_columns`.
        """
        if err := await self._writable():
            return Failure(err)
        result = await self.do_write_columns(columns)
        if isinstance(result, Success):
            with contextlib.suppress(ValueError):  # as in write: a stamp far ahead is stored
                self._clock.observe(Stamp(max(columns.hlcs), ""))
        return result

    async def do_write_columns(self, columns: ContentColumns) -> StorageResult[WriteSummary]:
        """Apply the contents ``columns`` stand for all or nothing, as ``do_write`` would
        apply their records (the default: it does, through :func:`columns_batch`). A
        backend overrides it to skip the records; a check it cannot make on the columns
        (a missing network or group, to be named) it leaves to ``do_write``."""
        return await self.do_write(columns_batch(columns))

    def _observed(
        self, checked: NormalisedBatch, result: StorageResult[WriteSummary]
    ) -> StorageResult[WriteSummary]:
        if checked.contents and isinstance(result, Success):
            # a stamp far ahead is stored all the same; the clock just does not follow it
            with contextlib.suppress(ValueError):
                self._clock.observe(_newest(checked))
        return result

    async def joining_write(self, batch: Batch, joins: Joins) -> StorageResult[WriteSummary]:
        """What a backend declaring :class:`~bassline.storage.abilities.JoinsMerges`
        returns from ``write_joining``: ``batch`` checked as by :meth:`write` (records of
        one merge contact written twice joined into one), then applied through
        :meth:`do_write_joining` when it holds a record of a merge contact, else through
        ``do_write`` (the very path of :meth:`write`)."""
        if err := await self._writable():
            return Failure(err)
        records = as_record_list(batch)
        if isinstance(records, StorageError):
            return Failure(records)
        checked = normalise_batch(records)
        if isinstance(checked, StorageError):
            return Failure(checked)
        if not merge_records(checked.contents, joins):
            return self._observed(checked, await self.do_write(checked))
        if len(checked.contents) < sum(type(r) is ContentRecord for r in records):
            folded = fold_duplicates(records, joins)  # a contact twice: joined, not collapsed
            if isinstance(folded, StorageError):
                return Failure(folded)
            checked = normalise_batch(folded)
            if isinstance(checked, StorageError):
                return Failure(checked)
        return self._observed(checked, await self.do_write_joining(checked, joins))

    async def do_write_joining(
        self, batch: NormalisedBatch, joins: Joins
    ) -> StorageResult[WriteSummary]:
        """Apply a checked batch holding records of merge contacts all or nothing, each
        joined with the stored record in the same transaction: read the stored records
        of the batch's merge contacts while no other writer can write them, then write
        :func:`~bassline.storage.joins.join_batch`'s batch and report its ``grown``
        records in ``WriteSummary.joined`` and its ``unchanged`` ones as ``stale``. The
        default refuses (UNSUPPORTED): only a backend that declares the ability has it."""
        await checkpoint()
        return Failure(
            StorageError(
                ErrorCode.UNSUPPORTED,
                f"{type(self).__name__} cannot join merge contacts' writes",
                transient=False,
            )
        )

    async def query_groups(self, network: str, query: GroupQuery) -> StorageResult[list[GroupSpec]]:
        """Groups of a network matching every criterion of ``query``, sorted by id."""
        if err := await self._ready(("network", network)):
            return Failure(err)
        if not isinstance(query, GroupQuery):
            return Failure(invalid(f"query must be a GroupQuery, got {type(query).__name__}"))
        return await self.do_query_groups(network, query)

    async def save_snapshot(
        self, network: str, label: str | None = None
    ) -> StorageResult[SnapshotInfo]:
        """Copy the network's spec and contents at one consistent point in time."""
        if err := await self._writable(("network", network)) or check_label(label):
            return Failure(err)
        return await self.do_save_snapshot(network, label)

    async def load_snapshot(self, network: str, snapshot_id: str) -> StorageResult[Snapshot]:
        """A saved snapshot; SNAPSHOT_NOT_FOUND if absent."""
        if err := await self._ready(("network", network), ("snapshot", snapshot_id)):
            return Failure(err)
        return await self.do_load_snapshot(network, snapshot_id)

    async def list_snapshots(self, network: str) -> StorageResult[list[SnapshotInfo]]:
        """The network's snapshots, newest first."""
        if err := await self._ready(("network", network)):
            return Failure(err)
        return await self.do_list_snapshots(network)

    async def delete_snapshot(self, network: str, snapshot_id: str) -> StorageResult[None]:
        """Remove a snapshot. Deleting nothing succeeds."""
        if err := await self._writable(("network", network), ("snapshot", snapshot_id)):
            return Failure(err)
        return await self.do_delete_snapshot(network, snapshot_id)
