"""Encoding a delta frame's message (protocol.md, *Steady state*): one base clock reading,
indexed node ids, the ``whys`` table and the announced ``have`` rows."""

from __future__ import annotations

from itertools import repeat
from operator import is_, itemgetter, sub
from typing import Any

from bassline.clock import Stamp
from bassline.net.delta_rows import MAX_HLC as _MAX_HLC
from bassline.net.wire_whys import WhyRef, encode_whys

__all__ = ["encode_delta"]


def encode_delta(
    epoch: str,
    start: int,
    end: int,
    items: list[tuple[str, Any, Stamp]],
    whys: list[WhyRef | None] | None = None,
    have: list[tuple[str, Stamp]] | None = None,
) -> dict[str, Any]:
    """A delta message; ``items`` hold plain-JSON values (already through ``to_json``).

    Stamps are sent compactly: a list of node ids, a base clock reading, and per item the
    offset from the base and the node's index. ``whys`` (aligned with ``items``) are
    their justifications, sent as the ``whys`` table (:mod:`bassline.net.wire_whys`).
    ``have`` are announced changes (contact and stamp, no value), sent as ``have`` rows
    ``[contact, clock offset, node index]``.
    """
    cids, values, stamps = zip(*items, strict=True) if items else ((), (), ())
    hlcs = list(map(itemgetter(0), stamps))  # the rows are built in C loops
    base = min(hlcs, default=_MAX_HLC)
    if have:
        base = min(base, min(s.hlc for _, s in have))
    if base == _MAX_HLC:
        base = 0
    item_nodes = list(map(itemgetter(1), stamps))
    nodes = {node: k for k, node in enumerate(dict.fromkeys(item_nodes))}

    def stamp_of(stamp: Stamp) -> list[Any]:
        ni = nodes.get(stamp.node)
        if ni is None:
            ni = nodes[stamp.node] = len(nodes)
        return [stamp.hlc - base, ni]

    offsets = map(sub, hlcs, repeat(base))
    indexes = map(nodes.__getitem__, item_nodes)
    table: list[Any] | None = None
    one = whys[0] if whys else None
    if whys and one is not None and one.kind != "g" and all(map(is_, whys, repeat(one))):
        # one write's or wire's reference for every item (the common frame): one entry
        table = encode_whys([one], [[]], {}, stamp_of)
        rows = list(
            map(list, zip(cids, values, offsets, indexes, repeat(0, len(cids)), strict=True))
        )
    else:
        rows = list(map(list, zip(cids, values, offsets, indexes, strict=True)))
        if whys is not None and any(why is not None for why in whys):
            frame = dict(zip(cids, stamps, strict=True))
            table = encode_whys(whys, rows, frame, stamp_of)
    message = {
        "t": "delta",
        "epoch": epoch,
        "from": start,
        "to": end,
        "base": base,
        "nodes": nodes,
        "items": rows,
    }
    if table is not None:
        message["whys"] = table
    if have:
        announced = []
        for cid, stamp in have:
            ni = nodes.get(stamp.node)
            if ni is None:
                ni = nodes[stamp.node] = len(nodes)
            announced.append([cid, stamp.hlc - base, ni])
        message["have"] = announced
    message["nodes"] = list(nodes)
    return message
