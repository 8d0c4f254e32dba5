"""A peer's delta items made ready to apply, a column at a time.

The items of a delta a node receives are handled in C loops (``map``, ``zip``) where the
common case allows: every justification a write shared by all the items (or none).
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import is_, itemgetter
from typing import Any

from bassline.clock import Stamp
from bassline.engine.carried import Carried
from bassline.net.carry import CarryCodec
from bassline.net.protocol import Delta

__all__ = ["Item", "sent_by_contact", "shared_writes", "unlike_sent"]

Item = tuple[str, Any, Stamp, Carried | None]
"""A delta's item as a node applies it: contact, value, stamp, justification."""


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
