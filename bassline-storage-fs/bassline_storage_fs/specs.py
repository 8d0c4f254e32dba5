"""Specs on disk: a Bassline as canonical JSON bytes, and back exactly as it was saved.

The stored form is :meth:`Bassline.to_dict` through the canonical codec. Reading it back
rebuilds the same objects field by field without re-validating against the installed
gadgets and lattices, so a spec saved by one process loads in another whatever plug-ins
it has, and a spec with groups merged in later loads as stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

import attrs

from bassline.codec import decode, encode
from bassline.content import ABSENT
from bassline.spec import (
    Bassline,
    BlendMode,
    Boundary,
    ContactSpec,
    Endpoint,
    GroupSpec,
    WireSpec,
    WireType,
)

__all__ = [
    "SpecDecodeError",
    "group_ids",
    "merge_items",
    "merged",
    "spec_from_bytes",
    "spec_to_bytes",
]

_Item = TypeVar("_Item", GroupSpec, WireSpec)


class SpecDecodeError(ValueError):
    """Stored spec bytes do not describe a spec (the file is damaged)."""


def spec_to_bytes(spec: Bassline) -> bytes:
    """Canonical JSON of ``spec``; raises ContentError if something in it cannot be encoded."""
    return encode(spec.to_dict())


def _group(g: dict[str, Any]) -> GroupSpec:
    return GroupSpec(
        id=g["id"],
        name=g["name"],
        parent=g["parent"],
        gadget=g["gadget"],
        attributes=g["attributes"],
    )


def _contact(c: dict[str, Any]) -> ContactSpec:
    boundary = c["boundary"]
    return ContactSpec(
        id=c["id"],
        group=c["group"],
        name=c["name"],
        blend=BlendMode(c["blend"]),
        lattice=c["lattice"],
        boundary=Boundary(boundary) if boundary is not None else None,
        content=c.get("content", ABSENT),
        attributes=c["attributes"],
    )


def _wire(w: dict[str, Any]) -> WireSpec:
    return WireSpec(id=w["id"], source=w["from"], target=w["to"], type=WireType(w["type"]))


def spec_from_bytes(data: bytes) -> Bassline:
    """The spec stored as ``data``; raises :class:`SpecDecodeError` if it is not one."""
    try:
        d = decode(data)
        return Bassline(
            id=d["id"],
            version=d["version"],
            groups=tuple(_group(g) for g in d["groups"]),
            contacts=tuple(_contact(c) for c in d["contacts"]),
            wires=tuple(_wire(w) for w in d["wires"]),
            endpoints={gid: Endpoint(e["node"], e["url"]) for gid, e in d["endpoints"].items()},
            metadata=d["metadata"],
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SpecDecodeError(f"stored spec is malformed: {exc!r}") from None


def group_ids(spec: Bassline) -> frozenset[str]:
    """The ids of the spec's groups (what content may be written to)."""
    return frozenset(g.id for g in spec.groups)


def merge_items(items: tuple[_Item, ...], updates: Iterable[_Item]) -> tuple[_Item, ...]:
    """``items`` with ``updates`` replacing or joining them by id, sorted by id."""
    by_id: dict[str, _Item] = {i.id: i for i in items}
    by_id.update((u.id, u) for u in updates)
    return tuple(sorted(by_id.values(), key=lambda i: i.id))


def merged(spec: Bassline, groups: Iterable[GroupSpec], wires: Iterable[WireSpec]) -> Bassline:
    """``spec`` with ``groups`` and ``wires`` merged in by id."""
    groups, wires = list(groups), list(wires)
    if groups:
        spec = attrs.evolve(spec, groups=merge_items(spec.groups, groups))
    if wires:
        spec = attrs.evolve(spec, wires=merge_items(spec.wires, wires))
    return spec
