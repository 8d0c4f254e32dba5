"""A peer's delta items made ready to apply, a column at a time.

The items of a delta a node receives are handled in C loops (``map``, ``zip``) where the
common case allows: every justification a write shared by all the items (or none).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from operator import is_, itemgetter
from typing import Any

from bassline.clock import Stamp
from bassline.engine.carried import Carried
from bassline.net.carry import CarryCodec
from bassline.net.protocol import Delta, ProtocolViolation
from bassline.net.wire_whys import WhyProblem

__all__ = [
    "Columns",
    "Item",
    "carried_items",
    "sent_by_contact",
    "shared_columns",
    "shared_writes",
    "unlike_sent",
]

Item = tuple[str, Any, Stamp, Carried | None]
"""A delta's item as a node applies it: contact, value, stamp, justification."""
Columns = tuple[Sequence[str], Sequence[Any], Sequence[Stamp], Carried | None]
"""A delta's items as columns (contacts, values, stamps) and the one justification every
item has (None: none has one)."""


def sent_by_contact(items: list[Item]) -> dict[str, tuple[Any, Stamp]]:
    """Per contact, the value and stamp a peer sent (built in C loops)."""
    columns = list(zip(*items, strict=True)) or [(), (), ()]
    return dict(zip(columns[0], zip(columns[1], columns[2], strict=True), strict=True))


def unlike_sent(
    items: list[Item],
    ids: Sequence[str],
    values: Sequence[Any],
    stamps: Sequence[Stamp],
) -> dict[str, tuple[Any, Stamp]] | None:
    """None when a run applying a peer's ``items`` touched contacts ``ids`` with
    ``values`` and ``stamps`` all as the peer sent them (the same value object, the same
    stamp): the common case, checked a column at a time, first against the items in
    order (a run that took each item and nothing else). Otherwise what the peer sent, by
    contact (:func:`sent_by_contact`), for the check one by one."""
    if (
        len(ids) == len(items)
        and list(ids) == list(map(itemgetter(0), items))
        and list(stamps) == list(map(itemgetter(2), items))
        and all(map(is_, values, map(itemgetter(1), items)))
    ):
        return None
    sent = sent_by_contact(items)
    sent_now = list(map(sent.get, ids))
    if (
        None not in sent_now
        and list(map(itemgetter(1), sent_now)) == list(stamps)  # type: ignore[arg-type]
        and all(map(is_, map(itemgetter(0), sent_now), values))  # type: ignore[arg-type]
    ):
        return None
    return sent


def shared_columns(codec: CarryCodec, delta: Delta) -> Columns | None:
    """A delta's items as :data:`Columns`, when they all have one write's justification
    (one object on the wire, decoded once) or none has one; None for any other delta
    (several entries, a gadget's or a wire's) and for an empty one."""
    items, whys = delta.items, delta.whys
    if not items:
        return None
    carried = None
    if whys:
        first = whys[0]
        if not all(map(is_, whys, repeat(first))):
            return None
        if first is not None:
            if first.kind != "w":
                return None
            # decoded as for the first item (a write does not depend on its item)
            carried = codec.from_wire(items[0][0], first, {})
    cids, values, stamps = zip(*items, strict=True)
    return cids, values, stamps, carried


def shared_writes(
    codec: CarryCodec, delta: Delta
) -> list[tuple[str, Any, Stamp, Carried | None]] | None:
    """A delta's items with their justifications when every entry is a write or none (a
    few entries shared by all its items): each entry decoded once, the column filled in
    C loops; None for any other delta (gadget or wire entries)."""
    distinct = dict(zip(map(id, delta.whys), delta.whys, strict=True))
    if len(distinct) > 8 or any(w is not None and w.kind != "w" for w in distinct.values()):
        return None
    keys = list(map(id, delta.whys))
    carried: dict[int, Carried | None] = {}
    for key, why in distinct.items():
        # decoded as for the first item naming it (a write does not depend on its item)
        carried[key] = (
            None if why is None else codec.from_wire(delta.items[keys.index(key)][0], why, {})
        )
    cids, values, stamps = zip(*delta.items, strict=True)
    return list(zip(cids, values, stamps, map(carried.__getitem__, keys), strict=True))


def carried_items(
    codec: CarryCodec, contacts: frozenset[str], delta: Delta
) -> tuple[list[Item], Columns | None]:
    """The delta's items, each with its justification resolved against the spec
    (ProtocolViolation for an unknown contact or a justification the spec refutes),
    and as columns when every item has one write's justification or none has one."""
    if not contacts.issuperset(map(itemgetter(0), delta.items)):
        for cid, _, _ in delta.items:
            if cid not in contacts:
                raise ProtocolViolation(
                    "unknown-contact",
                    f"delta names contact {cid[:80]!r}, which this Bassline does not have",
                )
    columns = shared_columns(codec, delta)
    if columns is not None:  # the usual delta: one write shared by all, or none
        cids, values, stamps, carried = columns
        return list(zip(cids, values, stamps, repeat(carried), strict=False)), columns
    if not delta.whys:
        return [(cid, value, stamp, None) for cid, value, stamp in delta.items], None
    shared = shared_writes(codec, delta)
    if shared is not None:
        return shared, None
    frame: dict[str, tuple[Any, Stamp]] = {}  # built for the first gadget entry
    writes: dict[int, Carried] = {}  # a write's reference does not depend on its item
    out: list[tuple[str, Any, Stamp, Carried | None]] = []
    for (cid, value, stamp), why in zip(delta.items, delta.whys, strict=True):
        carried = None
        if why is not None:
            if why.kind == "w":
                carried = writes.get(id(why))
                if carried is None:
                    carried = writes[id(why)] = codec.from_wire(cid, why, frame)
            else:
                if why.kind == "g" and not frame:
                    frame = {c: (v, s) for c, v, s in delta.items}
                try:
                    carried = codec.from_wire(cid, why, frame)
                except WhyProblem as exc:
                    raise ProtocolViolation("bad-justification", str(exc)) from None
        out.append((cid, value, stamp, carried))
    return out, None
