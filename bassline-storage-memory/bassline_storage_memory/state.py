"""What one memory store holds, and the synchronous operations on it.

All state lives behind one :class:`threading.Lock`, held only for short in-memory work
(never across an ``await``), so a store is safe to share between tasks, event loops
and threads. Contents are kept as canonical encoded bytes and specs as private deep
copies: nothing stored is reachable from outside.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Mapping, Sequence
from itertools import repeat
from typing import Final, NamedTuple, TypeVar

import attrs

from bassline.clock import HybridLogicalClock, Stamp
from bassline.codec import decode, decode_many
from bassline.spec import Bassline, GroupSpec, WireSpec
from bassline.storage import (
    ChangeBatch,
    ContentRecord,
    SnapshotInfo,
    StorageError,
    WriteSummary,
)
from bassline.storage.toolkit import (
    ContentColumns,
    Joins,
    contact_not_found,
    join_contents,
    merge_records,
    missing_group,
    missing_network,
    network_not_found,
    snapshot_not_found,
)
from bassline_storage_memory.feed import MemoryFeed
from bassline_storage_memory.prepare import PreparedBatch

__all__ = ["MemoryStore", "Row", "StoredContent", "StoredSnapshot", "records_of"]

_Item = TypeVar("_Item", GroupSpec, WireSpec)


def _networks_of(batch: PreparedBatch) -> set[str]:
    """The networks a batch writes contents of."""
    if batch.columns is not None:
        return set(batch.columns.networks)
    return {r.network for r in batch.contents}


class StoredContent(NamedTuple):
    """One contact's content as stored: its group, canonical JSON bytes, stamp, the
    change sequence of the write that stored it and the justification text (an immutable
    string, kept as given: no copy)."""

    group: str
    encoded: bytes
    stamp: Stamp
    seq: int = 0
    justification: str | None = None

    def record(self, network: str, contact: str) -> ContentRecord:
        """A fresh :class:`ContentRecord` (the value is decoded anew every time)."""
        return ContentRecord(
            network, self.group, contact, decode(self.encoded), self.stamp, self.justification
        )


Row = tuple[str, bytes, Stamp, int, str | None]
"""A content as a store's table keeps it: :class:`StoredContent`'s fields as a plain tuple
(made by ``zip`` in one C loop; a tuple subclass instance costs a second allocation and a
copy per content). Read by index; handed out as a :class:`StoredContent`."""

_GROUP: Final = 0
_ENCODED: Final = 1
_STAMP: Final = 2
_SEQ: Final = 3
_WHY: Final = 4


def records_of(network: str, table: Mapping[str, Row]) -> list[ContentRecord]:
    """Fresh records of every content in ``table``, sorted by contact id (values decoded
    anew, all in one call)."""
    contacts = sorted(table)
    stored = [table[c] for c in contacts]
    values = decode_many([s[_ENCODED] for s in stored])
    return [
        ContentRecord(network, s[_GROUP], c, v, s[_STAMP], s[_WHY])
        for c, s, v in zip(contacts, stored, values, strict=True)
    ]


@attrs.frozen
class StoredSnapshot:
    """A network's spec and contents frozen at one point in time."""

    info: SnapshotInfo
    spec: Bassline
    contents: Mapping[str, StoredContent]


def _store_columns(
    state: _Network, columns: ContentColumns, encoded: Sequence[bytes]
) -> tuple[int, int]:
    """Store the contents ``columns`` hold (each contact once, ``encoded`` their values)
    in ``state`` under its newest change sequence; how many were stored and how many
    were stale (a newer stamp stored)."""
    table = state.contents
    contacts = columns.contacts
    whys = columns.justifications or repeat(None)
    if table.keys().isdisjoint(contacts):
        # contacts new to the table, each once: stored in one C loop, in order
        table.update(
            zip(
                contacts,
                zip(columns.groups, encoded, columns.stamps, repeat(state.seq), whys),
                strict=False,
            )
        )
        return len(contacts), 0
    stored = stale = 0
    seq = state.seq
    for contact, group, value, stamp, why in zip(
        contacts, columns.groups, encoded, columns.stamps, whys, strict=False
    ):
        current = table.get(contact)
        if current is not None:
            if stamp < current[_STAMP]:
                stale += 1
                continue
            del table[contact]  # to the end: the table stays in sequence order
        table[contact] = (group, value, stamp, seq, why)
        stored += 1
    return stored, stale


@attrs.define
class _Network:
    spec: Bassline
    contents: dict[str, Row] = attrs.field(factory=dict)
    """By contact id, in the order they were last stored: ascending change sequence, so the
    feed reads what changed since a position from the end without scanning the rest."""
    snapshots: dict[str, StoredSnapshot] = attrs.field(factory=dict)
    """In creation order."""
    seq: int = 0
    """The newest change sequence (each batch that stores contents takes the next)."""
    _groups: tuple[Bassline, frozenset[str]] | None = None

    def group_ids(self) -> frozenset[str]:
        """The ids of the groups of :attr:`spec` (remembered with the spec they are of)."""
        cached = self._groups
        if cached is None or cached[0] is not self.spec:
            cached = self._groups = (self.spec, frozenset(g.id for g in self.spec.groups))
        return cached[1]


def _merge_by_id(items: tuple[_Item, ...], updates: list[_Item]) -> tuple[_Item, ...]:
    """``items`` with ``updates`` replacing (or joining) them by id, sorted by id."""
    by_id: dict[str, _Item] = {i.id: i for i in items}
    by_id.update((u.id, u) for u in updates)
    return tuple(sorted(by_id.values(), key=lambda i: i.id))


class MemoryStore:
    """The networks, contents and snapshots of one ``memory://`` store."""

    def __init__(self, name: str | None) -> None:
        self.name = name
        self.clock = HybridLogicalClock(f"memory:{name}" if name else "memory")
        """Stamps writes made without one, so later unstamped writes replace earlier ones."""
        self._lock = threading.Lock()
        self._networks: dict[str, _Network] = {}
        self._last_seq = 0
        self.feed = MemoryFeed()
        """Who watches which network's changes."""

    # networks

    def network_ids(self) -> list[str]:
        """Every network id, sorted."""
        with self._lock:
            return sorted(self._networks)

    def has_network(self, network: str) -> bool:
        """Whether ``network`` is stored."""
        with self._lock:
            return network in self._networks

    def spec(self, network: str) -> Bassline | StorageError:
        """The stored spec object (callers copy it before handing it out)."""
        with self._lock:
            state = self._networks.get(network)
            return state.spec if state else network_not_found(network)

    def delete_network(self, network: str) -> None:
        """Forget a network with its contents and snapshots (nothing if absent)."""
        with self._lock:
            self._networks.pop(network, None)

    # contents

    def content(self, network: str, group: str, contact: str) -> StoredContent | StorageError:
        """One contact's stored content, if it is stored under ``group``."""
        with self._lock:
            state = self._networks.get(network)
            if state is None:
                return network_not_found(network)
            found = state.contents.get(contact)
        if found is None or found[_GROUP] != group:
            return contact_not_found(network, group, contact)
        return StoredContent._make(found)

    def contents(self, network: str) -> dict[str, StoredContent] | StorageError:
        """Every stored content of a network by contact id (a copy of the table)."""
        table = self.rows(network)
        if isinstance(table, StorageError):
            return table
        return dict(zip(table, map(StoredContent._make, table.values()), strict=True))

    def rows(self, network: str) -> dict[str, Row] | StorageError:
        """:meth:`contents` as the table keeps them (:data:`Row`: plain tuples, read by
        index), copied without making a :class:`StoredContent` each."""
        with self._lock:
            state = self._networks.get(network)
            return dict(state.contents) if state else network_not_found(network)

    def groups(self, network: str) -> tuple[GroupSpec, ...] | StorageError:
        """The groups of a network's current spec."""
        spec = self.spec(network)
        return spec if isinstance(spec, StorageError) else spec.groups

    # batches

    def apply(
        self, batch: PreparedBatch, writer: object = None, joins: Joins | None = None
    ) -> WriteSummary | StorageError:
        """Apply a prepared batch atomically: every reference is checked before anything
        changes. The feed's watches are woken, but those ``writer`` made. (:attr:`clock`
        follows the written stamps through the storage's base class, which observes every
        batch it writes.) With ``joins``, each record of a merge contact is first joined
        with the stored one (:func:`~bassline.storage.joins.join_contents`), under the
        same lock."""
        joined = None
        with self._lock:
            err = self._check_references(batch)
            if err:
                return err
            if joins is not None:
                found = join_contents(
                    batch.contents, batch.encoded, self._stored(batch, joins), joins
                )
                if isinstance(found, StorageError):
                    return found
                contents, encoded, joined = found
                batch = attrs.evolve(
                    batch, contents=tuple(contents), encoded=tuple(encoded), columns=None
                )
            summary = self._apply(batch)
        if batch.contents:
            self.feed.announce(_networks_of(batch), writer)
        if joined is not None:
            summary = attrs.evolve(
                summary, stale=summary.stale + joined.unchanged, joined=joined.grown
            )
        return summary

    def apply_columns(self, columns: ContentColumns, writer: object = None) -> WriteSummary | None:
        """Store the contents of one network given as checked columns (a storage's
        ``write_columns``) under the lock, all or nothing; None, with nothing changed, when
        the network or a group is missing (the records' ``apply`` names which)."""
        network = columns.networks[0]
        with self._lock:
            state = self._networks.get(network)
            if state is None or not state.group_ids().issuperset(columns.groups):
                return None
            self._last_seq += 1
            feed = (state.seq, self._last_seq)
            state.seq = self._last_seq
            stored, stale = _store_columns(state, columns, columns.encoded)
        self.feed.announce((network,), writer)
        return WriteSummary(contents=stored, stale=stale, feed=feed)

    def _stored(self, batch: PreparedBatch, joins: Joins) -> dict[tuple[str, str], ContentRecord]:
        """The stored record of each merge contact ``batch`` writes."""
        out: dict[tuple[str, str], ContentRecord] = {}
        for record in merge_records(batch.contents, joins):
            state = self._networks.get(record.network)
            stored = state.contents.get(record.contact) if state is not None else None
            if stored is not None:
                out[(record.network, record.contact)] = StoredContent._make(stored).record(
                    record.network, record.contact
                )
        return out

    def _group_ids(self, batch: PreparedBatch, network: str) -> set[str]:
        spec = next((s for s in batch.networks if s.id == network), None)
        if spec is None:
            spec = self._networks[network].spec
        ids = {g.id for g in spec.groups}
        ids.update(g.id for n, g in batch.groups if n == network)
        return ids

    def _check_references(self, batch: PreparedBatch) -> StorageError | None:
        known = set(self._networks) | {s.id for s in batch.networks}
        for kind, refs in (
            ("group", [(n, g.id) for n, g in batch.groups]),
            ("wire", [(n, w.id) for n, w in batch.wires]),
        ):
            for network, item in refs:
                if network not in known:
                    return missing_network(kind, item, network)
        columns = batch.columns
        if columns is not None:  # a content-only batch: its ids a column at a time
            networks = set(columns.networks)
            if len(networks) == 1:
                (network,) = networks
                if network in known and self._group_ids(batch, network).issuperset(columns.groups):
                    return None
        group_ids: dict[str, set[str]] = {}
        for record in batch.contents:  # every record: the first bad one is named
            network = record.network
            if network not in known:
                return missing_network("content", record.contact, network)
            if network not in group_ids:
                group_ids[network] = self._group_ids(batch, network)
            if record.group not in group_ids[network]:
                return missing_group(network, record.group, record.contact)
        return None

    def _apply(self, batch: PreparedBatch) -> WriteSummary:
        for spec in batch.networks:
            state = self._networks.get(spec.id)
            if state is None:
                self._networks[spec.id] = _Network(spec)
            else:
                state.spec = spec
        groups: dict[str, list[GroupSpec]] = {}
        for network, group in batch.groups:
            groups.setdefault(network, []).append(group)
        wires: dict[str, list[WireSpec]] = {}
        for network, wire in batch.wires:
            wires.setdefault(network, []).append(wire)
        for network in groups.keys() | wires.keys():
            state = self._networks[network]
            spec = state.spec
            if network in groups:
                spec = attrs.evolve(spec, groups=_merge_by_id(spec.groups, groups[network]))
            if network in wires:
                spec = attrs.evolve(spec, wires=_merge_by_id(spec.wires, wires[network]))
            state.spec = spec
        stored = stale = 0
        feed: tuple[int, int] | None = None
        if not batch.contents:
            return self._summary(batch, 0, 0, None)
        self._last_seq += 1  # store-wide: a network deleted and made again goes on
        written = _networks_of(batch)
        if len(written) == 1:
            feed = (self._networks[next(iter(written))].seq, self._last_seq)
        for network in written:
            self._networks[network].seq = self._last_seq
        columns = batch.columns
        if columns is not None and len(written) == 1:
            state = self._networks[next(iter(written))]
            stored, stale = _store_columns(state, columns, batch.encoded)
            return self._summary(batch, stored, stale, feed)
        for record, encoded in zip(batch.contents, batch.encoded, strict=True):
            state = self._networks[record.network]
            table = state.contents
            current = table.get(record.contact)
            if current is not None and record.stamp < current[_STAMP]:
                stale += 1
                continue
            if current is not None:
                del table[record.contact]  # to the end: the table stays in sequence order
            table[record.contact] = (
                record.group,
                encoded,
                record.stamp,
                state.seq,
                record.justification,
            )
            stored += 1
        return self._summary(batch, stored, stale, feed)

    @staticmethod
    def _summary(
        batch: PreparedBatch, stored: int, stale: int, feed: tuple[int, int] | None
    ) -> WriteSummary:
        return WriteSummary(
            networks=len(batch.networks),
            groups=len(batch.groups),
            wires=len(batch.wires),
            contents=stored,
            stale=stale,
            feed=feed,
        )

    # the change feed

    def feed_position(self, network: str) -> int | StorageError:
        """The newest change sequence of ``network``."""
        with self._lock:
            state = self._networks.get(network)
            return state.seq if state else network_not_found(network)

    def changes(self, network: str, after: int) -> ChangeBatch | StorageError:
        """Every content of ``network`` stored with a change sequence above ``after``."""
        with self._lock:
            state = self._networks.get(network)
            if state is None:
                return network_not_found(network)
            fresh: dict[str, Row] = {}
            for contact, stored in reversed(state.contents.items()):
                if stored[_SEQ] <= after:
                    break  # everything before it is older still
                fresh[contact] = stored
            position = max(after, state.seq)
        order = sorted(fresh, key=lambda c: (fresh[c][_SEQ], c))
        rows = [fresh[c] for c in order]
        values = decode_many([r[_ENCODED] for r in rows])
        records = [
            ContentRecord(network, r[_GROUP], c, v, r[_STAMP], r[_WHY])
            for c, r, v in zip(order, rows, values, strict=True)
        ]
        return ChangeBatch(position, records)

    # snapshots

    def save_snapshot(self, network: str, label: str | None) -> StoredSnapshot | StorageError:
        """Freeze the network's current spec and contents under a new snapshot id."""
        with self._lock:
            state = self._networks.get(network)
            if state is None:
                return network_not_found(network)
            info = SnapshotInfo(
                id=uuid.uuid4().hex,
                network=network,
                label=label,
                created_at=dt.datetime.now(dt.UTC),
                contents=len(state.contents),
            )
            contents = state.contents
            frozen = dict(zip(contents, map(StoredContent._make, contents.values()), strict=True))
            snapshot = StoredSnapshot(info, state.spec, frozen)
            state.snapshots[info.id] = snapshot
            return snapshot

    def snapshot(self, network: str, snapshot_id: str) -> StoredSnapshot | StorageError:
        """A stored snapshot of ``network``."""
        with self._lock:
            state = self._networks.get(network)
            if state is None:
                return network_not_found(network)
            found = state.snapshots.get(snapshot_id)
        if found is None:
            return snapshot_not_found(network, snapshot_id)
        return found

    def snapshot_infos(self, network: str) -> list[SnapshotInfo] | StorageError:
        """The network's snapshots, newest first."""
        with self._lock:
            state = self._networks.get(network)
            if state is None:
                return network_not_found(network)
            return [s.info for s in reversed(state.snapshots.values())]

    def delete_snapshot(self, network: str, snapshot_id: str) -> None:
        """Forget a snapshot (nothing if it or its network is absent)."""
        with self._lock:
            state = self._networks.get(network)
            if state is not None:
                state.snapshots.pop(snapshot_id, None)

    def count(self) -> int:
        """How many networks the store holds."""
        with self._lock:
            return len(self._networks)
