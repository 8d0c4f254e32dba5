"""A peer's delta items made ready to apply, a column at a time.

The items of a delta a node receives are handled in C loops (``map``, ``zip``) where the
common case allows: every justification a write shared by all the items (or none).
"""

from __future__ import annotations

from typing import Any

from bassline.clock import Stamp
from bassline.engine.carried import Carried
from bassline.net.carry import CarryCodec
from bassline.net.protocol import Delta

__all__ = ["sent_by_contact", "shared_writes"]


def sent_by_contact(
    items: list[tuple[str, Any, Stamp, Carried | None]],
) -> dict[str, tuple[Any, Stamp]]:
    """Per contact, the value and stamp a peer sent (built in C loops)."""
    columns = list(zip(*items, strict=True)) or [(), (), ()]
    return dict(zip(columns[0], zip(columns[1], columns[2], strict=True), strict=True))


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
