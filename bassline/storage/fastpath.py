"""The hot path of batch validation: whole columns checked and encoded at C speed.

:func:`normalise_batch` looks at one record at a time, which costs several microseconds
per record in Python. Most batches are simpler than what it must handle: content records
only, each contact once, plain JSON values. For those, :func:`fast_contents` checks every
id, stamp and value type a column at a time (``set(map(type, ...))``, one regular
expression over all ids) and encodes every value with a single ``orjson.dumps`` call.

It never decides an error and never accepts what the general path refuses: at the
first thing it is not sure of, it returns None and the caller runs the general path,
which gives the right result or the right error message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from operator import attrgetter, itemgetter
from typing import Any

import attrs

from bassline.clock import Stamp, is_stamp_node
from bassline.codec import encode, encode_plain
from bassline.errors import ContentError
from bassline.storage.justification import justifications_ok
from bassline.storage.records import ContentRecord

__all__ = ["MIN_RECORDS", "ContentColumns", "fast_contents", "queued_columns", "valid_ids"]

_MAX_ID = 512  # MAX_STORAGE_ID_LENGTH (validation imports this module)
_MAX_HLC = 2**63 - 1
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# one attribute at a time: a tuple per record would cost more than the reads
_NETWORK, _GROUP, _CONTACT = attrgetter("network"), attrgetter("group"), attrgetter("contact")
_VALUE, _STAMP = attrgetter("value"), attrgetter("stamp")
_JUSTIFICATION = attrgetter("justification")
_HLC, _NODE = itemgetter(0), itemgetter(1)


@attrs.frozen
class ContentColumns:
    """A content-only batch as parallel columns, one entry per record, in batch order."""

    networks: tuple[str, ...]
    groups: tuple[str, ...]
    contacts: tuple[str, ...]
    stamps: tuple[Stamp, ...]
    hlcs: tuple[int, ...]
    nodes: tuple[str, ...]
    encoded: list[bytes]
    """Canonical JSON of each value."""
    justifications: tuple[str | None, ...] = ()
    """Each record's justification text (or None), checked."""
    values: Sequence[Any] = ()
    """Each record's value (what ``encoded`` encodes), when the columns were made from
    parallel columns (:func:`queued_columns`) rather than from records."""


def _ids_ok(ids: Collection[Any]) -> bool:
    """Whether every id is a non-empty string of at most 512 characters without control
    characters (what :func:`~bassline.storage.validation.check_id` accepts)."""
    if set(map(type, ids)) != {str}:
        return False
    if min(map(len, ids)) == 0 or max(map(len, ids)) > _MAX_ID:
        return False
    joined = "".join(ids)
    return joined.isprintable() or _CONTROL.search(joined) is None


MIN_RECORDS = 4
"""Below this many records the column checks' fixed cost (~10 µs) outweighs their saving."""


def fast_contents(records: list[Any]) -> tuple[tuple[ContentRecord, ...], ContentColumns] | None:
    """Records and their columns when ``records`` is simple; None to use the general path.

    Simple means: at least :data:`MIN_RECORDS` records, all of them ContentRecords, no
    (network, contact) twice, every id and stamp valid and every value plain JSON.
    """
    if len(records) < MIN_RECORDS or set(map(type, records)) != {ContentRecord}:
        return None
    networks = tuple(map(_NETWORK, records))
    groups = tuple(map(_GROUP, records))
    contacts = tuple(map(_CONTACT, records))
    stamps = tuple(map(_STAMP, records))
    try:
        distinct_networks = set(networks)
        distinct_groups = set(groups)
        if len(distinct_networks) == 1:
            unique = len(set(contacts)) == len(contacts)
        else:
            unique = len(set(zip(networks, contacts, strict=False))) == len(contacts)
    except TypeError:  # an unhashable id: the general path names it
        return None
    if not (
        unique
        and _ids_ok(distinct_networks)
        and _ids_ok(distinct_groups)
        and _ids_ok(contacts)
        and set(map(type, stamps)) == {Stamp}
    ):
        return None
    hlcs = tuple(map(_HLC, stamps))
    nodes = tuple(map(_NODE, stamps))
    if set(map(type, hlcs)) != {int} or min(hlcs) < 0 or max(hlcs) > _MAX_HLC:
        return None
    if set(map(type, nodes)) != {str} or not all(map(is_stamp_node, set(nodes))):
        return None  # the general path names the bad node
    justifications = tuple(map(_JUSTIFICATION, records))
    if not justifications_ok(justifications):
        return None
    encoded = encode_plain(list(map(_VALUE, records)))
    if encoded is None:
        return None
    columns = ContentColumns(
        networks, groups, contacts, stamps, hlcs, nodes, encoded, justifications
    )
    return tuple(records), columns


_VALID_IDS: set[str] = set()
"""Ids found valid by :func:`queued_columns` (a runtime's ids are its spec's)."""
_VALID_NODES: set[str] = set()
"""Stamp nodes found valid by :func:`queued_columns` (a runtime's stamps have few)."""


def _known(ids: Collection[Any], known: set[str], ok: Callable[[Collection[Any]], bool]) -> bool:
    """Whether every one of ``ids`` is in ``known`` or passes ``ok`` (then remembered
    there; a few thousand at most). Raises TypeError for an unhashable one."""
    if known.issuperset(ids):
        return True
    fresh = set(ids).difference(known)
    if not ok(fresh):
        return False
    if len(known) + len(fresh) > 8192:
        known.clear()
    known.update(fresh)
    return True


def _id_ok(value: Any) -> bool:
    """Whether one id is valid (what :func:`_ids_ok` accepts), remembered or checked now."""
    if type(value) is not str:
        return False
    if value in _VALID_IDS:
        return True
    if not 0 < len(value) <= _MAX_ID or not (value.isprintable() or _CONTROL.search(value) is None):
        return False
    if len(_VALID_IDS) >= 8192:
        _VALID_IDS.clear()
    _VALID_IDS.add(value)
    return True


def valid_ids(ids: Collection[Any]) -> frozenset[str]:
    """Those of ``ids`` that are valid ids (what :func:`_ids_ok` accepts), checked now: a
    runtime's spec ids, for :func:`queued_columns` to find there (any number of them,
    unlike the bounded memory of ids found valid)."""
    if not ids:
        return frozenset()
    if _ids_ok(ids):
        return frozenset(ids)
    return frozenset(i for i in ids if _ids_ok((i,)))


def _nodes_ok(nodes: Collection[Any]) -> bool:
    return set(map(type, nodes)) == {str} and all(map(is_stamp_node, nodes))


def queued_columns(
    network: str,
    groups: Sequence[str | None],
    contacts: Sequence[str],
    values: Sequence[Any],
    stamps: Sequence[Stamp],
    justifications: Sequence[str | None],
    valid: frozenset[str] = frozenset(),
    *,
    distinct: bool = False,
) -> ContentColumns | None:
    """The columns of a content-only batch of one network given as parallel columns (a
    runtime's queue), checked as :func:`fast_contents` checks records: every id, stamp,
    justification and value, each contact once. None at the first thing not certain to
    pass, for the caller to write the records through ``write``, which names the error.

    Nothing is skipped that :func:`fast_contents` checks; what is not done is building a
    record per content and taking its columns apart again. Any number of contents; ids
    in ``valid`` (:func:`valid_ids` of the runtime's spec: checked once) are valid, and
    other ids and stamp nodes found valid once are remembered (a runtime writes its
    spec's ids again and again), and a single content is checked without the column
    machinery. ``distinct``: the caller guarantees each contact is named once (a
    runtime's queue, whose contacts are the keys of a dict), so that is not checked again.
    """
    count = len(contacts)
    if not (count and len(groups) == len(values) == len(stamps) == len(justifications) == count):
        return None
    if count == 1:
        stamp = stamps[0]
        if type(stamp) is not Stamp:
            return None
        hlc, node = stamp
        if not (
            _id_ok(network)
            and _id_ok(groups[0])
            and _id_ok(contacts[0])
            and type(hlc) is int
            and 0 <= hlc <= _MAX_HLC
            and type(node) is str
            and (node in _VALID_NODES or _known((node,), _VALID_NODES, _nodes_ok))
        ):
            return None
        hlcs: tuple[int, ...] = (hlc,)
        nodes: tuple[str, ...] = (node,)
    else:
        if set(map(type, stamps)) != {Stamp}:
            return None
        try:
            if not (
                (network in valid or _known((network,), _VALID_IDS, _ids_ok))
                and (valid.issuperset(groups) or _known(groups, _VALID_IDS, _ids_ok))
                and (valid.issuperset(contacts) or _known(contacts, _VALID_IDS, _ids_ok))
                and (distinct or len(set(contacts)) == count)
                and _known(nodes := tuple(map(_NODE, stamps)), _VALID_NODES, _nodes_ok)
            ):
                return None
        except TypeError:  # an unhashable id or node
            return None
        hlcs = tuple(map(_HLC, stamps))
        if set(map(type, hlcs)) != {int} or min(hlcs) < 0 or max(hlcs) > _MAX_HLC:
            return None
    justifications = tuple(justifications)
    if not justifications_ok(justifications):
        return None
    if count == 1:
        try:
            encoded: list[bytes] | None = [encode(values[0])]
        except ContentError:
            return None
    else:
        encoded = encode_plain(values if type(values) is list else list(values))
        if encoded is None:
            return None
    return ContentColumns(
        (network,) * count,
        tuple(groups),  # type: ignore[arg-type]  # every one a str: checked above
        tuple(contacts),
        tuple(stamps),
        hlcs,
        nodes,
        encoded,  # type: ignore[arg-type]
        justifications,
        values,
    )
