"""A delta's rows checked a column at a time.

Every row of a delta a node sends is plain: ``[contact, value, clock offset, node index]``
(and a whys index), values that need no decoding. Checking such rows one by one costs
dozens of bytecodes each; here each column is checked with C loops (``map``, ``min``,
``max``, ``set``) and the items are built the same way. Anything odd gives None, and the
protocol checks the rows one by one, naming the first bad one.
"""

from __future__ import annotations

from itertools import repeat
from operator import add
from typing import Any

from bassline.clock import Stamp

__all__ = ["MAX_HLC", "MAX_ID", "new_stamp", "plain_have", "plain_rows"]

MAX_ID = 200
"""Longest contact or node id on the wire."""
MAX_HLC = 2**63 - 1
"""Largest clock reading."""

new_stamp = tuple.__new__
"""``Stamp(hlc, node)`` without the named tuple's Python-level ``__new__`` (a delta makes
one per item; the fields are checked before)."""

_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})


def _stamps(offsets: tuple[Any, ...], nis: tuple[Any, ...], base: int, node_ids: list[str]) -> Any:
    """The stamps of checked offset and node-index columns (an iterator)."""
    readings = zip(map(add, repeat(base), offsets), map(node_ids.__getitem__, nis), strict=True)
    return map(new_stamp, repeat(Stamp), readings)


def _good(
    cids: tuple[Any, ...], offsets: tuple[Any, ...], nis: tuple[Any, ...], base: int, nodes: int
) -> bool:
    """Contact ids, clock offsets and node indexes all in range."""
    if set(map(type, cids)) != {str}:
        return False
    lengths = list(map(len, cids))  # once, for both bounds
    return (
        min(lengths) > 0
        and max(lengths) <= MAX_ID
        and set(map(type, offsets)) == {int}
        and min(offsets) >= 0
        and max(offsets) <= MAX_HLC - base
        and set(map(type, nis)) == {int}
        and min(nis) >= 0
        and max(nis) < nodes
    )


def plain_rows(
    rows: list[Any], base: int, node_ids: list[str]
) -> tuple[list[tuple[str, Any, Stamp]], list[Any]] | None:
    """A delta's ``items`` rows as ``(contact, value, stamp)`` items and their whys
    indexes (None each for 4-element rows), or None unless every row is plainly good."""
    if not rows:
        return [], []
    if set(map(type, rows)) != {list}:
        return None
    try:
        columns = list(zip(*rows, strict=True))  # ValueError: widths differ
    except ValueError:
        return None
    if len(columns) != 4 and len(columns) != 5:
        return None
    cids, values, offsets, nis = columns[:4]
    if not _good(cids, offsets, nis, base, len(node_ids)):
        return None
    if not _PLAIN_TYPES.issuperset(map(type, values)):
        return None  # a list or an object: decoded by the codec, row by row
    indexes = list(columns[4]) if len(columns) == 5 else [None] * len(rows)
    stamps = _stamps(offsets, nis, base, node_ids)
    return list(zip(cids, values, stamps, strict=True)), indexes


def plain_have(
    rows: list[Any], base: int, node_ids: list[str]
) -> tuple[tuple[str, Stamp], ...] | None:
    """A delta's ``have`` rows as ``(contact, stamp)`` pairs, or None unless every row is
    plainly good."""
    if not rows:
        return ()
    if set(map(type, rows)) != {list} or set(map(len, rows)) != {3}:
        return None
    cids, offsets, nis = zip(*rows, strict=True)
    if not _good(cids, offsets, nis, base, len(node_ids)):
        return None
    return tuple(zip(cids, _stamps(offsets, nis, base, node_ids), strict=True))
