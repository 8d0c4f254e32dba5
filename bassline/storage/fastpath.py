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
from collections.abc import Collection
from operator import attrgetter, itemgetter
from typing import Any

import attrs

from bassline.clock import Stamp, is_stamp_node
from bassline.codec import encode_plain
from bassline.storage.justification import justifications_ok
from bassline.storage.records import ContentRecord

__all__ = ["MIN_RECORDS", "ContentColumns", "fast_contents"]

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
