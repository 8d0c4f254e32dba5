"""What storage holds: records written in batches, and what it hands back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from bassline.clock import Stamp
from bassline.content import Content
from bassline.spec import Bassline, GroupSpec, WireSpec

__all__ = [
    "Batch",
    "Capabilities",
    "ContentRecord",
    "GroupQuery",
    "GroupRecord",
    "Health",
    "NetworkRecord",
    "PoolStats",
    "Record",
    "Snapshot",
    "SnapshotInfo",
    "WireRecord",
    "WriteSummary",
]


@attrs.frozen
class NetworkRecord:
    """A whole Bassline spec; saving it replaces the network's spec, groups and wires."""

    spec: Bassline

    @property
    def network(self) -> str:
        """The network id (the spec's id)."""
        return self.spec.id


@attrs.frozen
class GroupRecord:
    """Add or replace one group of an existing network (or of a network in the same batch)."""

    network: str
    group: GroupSpec


@attrs.frozen
class WireRecord:
    """Add or replace one wire of an existing network (or of a network in the same batch)."""

    network: str
    wire: WireSpec


@attrs.frozen
class ContentRecord:
    """A contact's content with its stamp. An older stamp never replaces a newer one.

    ``justification`` is why the contact holds the value, in its stored form: compact
    JSON text (:meth:`bassline.engine.Network.stored_justification`; the shapes are in
    docs/provenance.md), or None when unknown. Backends store it as it is and hand it
    back with the content; records without one load as they always did.
    """

    network: str
    group: str
    contact: str
    value: Content
    stamp: Stamp
    justification: str | None = None


def _content_record_slots(cls: type[Any] = ContentRecord) -> tuple[Any, ...]:
    """The slot setters of ``cls``'s fields, in order; raises (for ContentRecord: at
    import) unless they are exactly ContentRecord's, with nothing ``__init__`` would run
    on them, so that :func:`content_records` stands for the constructor."""
    fields = attrs.fields(cls)
    names = tuple(f.name for f in fields)
    if names != ("network", "group", "contact", "value", "stamp", "justification") or any(
        f.validator is not None or f.converter is not None for f in fields
    ):
        raise RuntimeError(
            f"content_records sets {cls.__name__}'s slots itself: update it with the fields"
        )
    return tuple(cls.__dict__[name].__set__ for name in names)


_SLOTS = _content_record_slots()


def content_records(
    network: str,
    groups: Iterable[str],
    contacts: Iterable[str],
    values: Iterable[Content],
    stamps: Iterable[Stamp],
    justifications: Iterable[str | None],
) -> list[ContentRecord]:
    """``[ContentRecord(network, g, c, v, s, j) for ...]`` over parallel columns (the
    shortest one decides), at about half the cost: each record's slots are set directly,
    where the frozen class's ``__init__`` sets them one call at a time through
    ``object.__setattr__``. The records are the same (equal, same type). What a runtime
    uses to build a batch from its queue."""
    new, cls = object.__new__, ContentRecord
    set_network, set_group, set_contact, set_value, set_stamp, set_why = _SLOTS
    out: list[ContentRecord] = []
    append = out.append
    for group, contact, value, stamp, why in zip(
        groups, contacts, values, stamps, justifications, strict=False
    ):
        record = new(cls)
        set_network(record, network)
        set_group(record, group)
        set_contact(record, contact)
        set_value(record, value)
        set_stamp(record, stamp)
        set_why(record, why)
        append(record)
    return out


Record = NetworkRecord | GroupRecord | WireRecord | ContentRecord
Batch = Sequence[Record]


@attrs.frozen
class WriteSummary:
    """What one atomic ``write`` did."""

    networks: int = 0
    groups: int = 0
    wires: int = 0
    contents: int = 0
    """Content records stored (after collapsing duplicates within the batch)."""
    stale: int = 0
    """Content records skipped because storage already held a newer stamp (or, for a
    merge contact written through ``write_joining``, everything the record adds)."""
    feed: tuple[int, int] | None = attrs.field(default=None, eq=False)
    """For a storage with a change feed, when the write stored contents of one network:
    that network's feed position just before the write and the position the write took
    (no other write of the network lies between them). A follower that had read up to the
    first may move its cursor to the second: the records in between are this write's.
    None when the storage does not say (any backend may leave it out; memory says). Not
    compared: two summaries are equal when the writes did the same."""
    joined: tuple[ContentRecord, ...] = attrs.field(default=(), eq=False)
    """For :meth:`~bassline.storage.abilities.JoinsMerges.write_joining`: the records
    stored for merge contacts that are not the records written (the stored value added
    to the written one, or had a newer stamp), as stored. The writer holds the rest
    already; these it learns from here. Not compared."""


def _tags(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(value)


@attrs.frozen
class GroupQuery:
    """Which groups to find: every given criterion must hold.

    ``attributes`` must all be equal; ``author``, ``type`` compare with the group's
    ``bassline.author`` / ``bassline.type`` attribute (or plain ``author``/``type``);
    a group matches ``tags`` when it has all of them (``bassline.tags`` or ``tags``).
    """

    attributes: dict[str, Any] = attrs.field(factory=dict)
    author: str | None = None
    type: str | None = None
    tags: tuple[str, ...] = attrs.field(default=(), converter=_tags)

    def matches(self, group: GroupSpec) -> bool:
        """Whether ``group`` satisfies every criterion (the reference semantics)."""
        from bassline.content import values_equal

        attrs_ = group.attributes
        for key, expected in self.attributes.items():
            if key not in attrs_ or not values_equal(attrs_[key], expected):
                return False
        if self.author is not None and _attr(attrs_, "author") != self.author:
            return False
        if self.type is not None and _attr(attrs_, "type") != self.type:
            return False
        if self.tags:
            have = _attr(attrs_, "tags")
            if not isinstance(have, list) or not all(t in have for t in self.tags):
                return False
        return True


def _attr(attributes: dict[str, Any], name: str) -> Any:
    if f"bassline.{name}" in attributes:
        return attributes[f"bassline.{name}"]
    return attributes.get(name)


@attrs.frozen
class SnapshotInfo:
    """A snapshot's identity and size."""

    id: str
    network: str
    label: str | None
    created_at: dt.datetime
    contents: int


@attrs.frozen
class Snapshot:
    """A consistent point-in-time copy of one network: its spec and all its contents."""

    info: SnapshotInfo
    spec: Bassline
    contents: tuple[ContentRecord, ...]


@attrs.frozen
class Capabilities:
    """What a backend can do and promise."""

    persistent: bool
    """Survives the process."""
    transactions: bool = True
    """``write`` is all-or-nothing."""
    shared: bool = False
    """Several processes may open the same store at once."""
    max_batch_size: int | None = None


@attrs.frozen
class Health:
    """A backend's self-report."""

    ok: bool
    detail: str = ""


@attrs.frozen
class PoolStats:
    """The state of a backend's connection pool (see :class:`~bassline.storage.PooledStorage`)."""

    size: int
    """Connections the pool keeps open (``pool_size``)."""
    max_overflow: int
    """Connections it may open beyond ``size`` under load (``max_overflow``)."""
    open: int
    """Connections open now, idle or in use."""
    in_use: int
    """Connections checked out now: operations running on them."""
    overflow: int
    """Open connections beyond ``size`` now."""
    waiting: int
    """Operations waiting for a connection now (every one was in use)."""
    waits: int
    """Operations that had to wait for a connection, since the storage opened."""
    wait_seconds: float
    """How long they waited, in total."""
