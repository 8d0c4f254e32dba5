"""A spec compiled for the engine: contacts by index, wires by endpoint, gadget instances."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import compress, repeat
from operator import attrgetter, is_

import attrs

from bassline.gadgets import Gadget, get_gadget
from bassline.lattices import Lattice, get_lattice
from bassline.spec import Bassline, BlendMode, WireType

__all__ = [
    "ACCEPT_LAST",
    "MERGE",
    "GadgetInstance",
    "GadgetWiring",
    "Wiring",
    "compile_gadgets",
    "compile_wiring",
]

ACCEPT_LAST = 0
"""A contact's kind: newest stamp wins."""
MERGE = 1
"""A contact's kind: a lattice join of what arrives."""
_ID = attrgetter("id")
_BLEND = attrgetter("blend")


@attrs.frozen
class GadgetInstance:
    """One gadget group this node runs, with its ports as contact indexes."""

    group: str
    gadget: Gadget
    inputs: tuple[tuple[str, int], ...]
    outputs: tuple[tuple[str, int], ...]
    two_way: tuple[tuple[str, int], ...] = ()
    """Ports both read and written, in the gadget's port order."""


@attrs.frozen
class Wiring:
    """Everything about a network that does not change while it runs, by contact index."""

    ids: list[str]
    index: dict[str, int]
    kind: list[int]
    """:data:`ACCEPT_LAST` or :data:`MERGE`, per contact."""
    lattice: list[Lattice | None]
    """The lattice of each merge contact (``defined`` when the spec names none)."""
    out: list[tuple[int, ...]]
    """The contacts each contact's wires carry its content to."""
    run_groups: frozenset[str]
    gadgets: list[GadgetInstance]
    feeds: list[tuple[int, ...]]
    """The gadgets (indexes into :attr:`gadgets`) reading each contact."""


def compile_wiring(spec: Bassline, run_groups: Iterable[str] | None) -> Wiring:
    """Index ``spec``'s contacts, wires and the gadget groups in ``run_groups`` (default all)."""
    contacts = spec.contacts
    # columns read in C loops: a Python step per contact only for merge contacts
    ids = list(map(_ID, contacts))
    index = dict(zip(ids, range(len(ids)), strict=True))
    n = len(contacts)
    kind = [ACCEPT_LAST] * n
    lattice: list[Lattice | None] = [None] * n
    blends = list(map(_BLEND, contacts))
    if BlendMode.MERGE in blends:
        for i in compress(range(n), map(is_, blends, repeat(BlendMode.MERGE))):
            kind[i] = MERGE
            lattice[i] = get_lattice(contacts[i].lattice or "defined")
    # most contacts have no wires: they share the empty tuple
    adjacency: dict[int, list[int]] = {}
    bidirectional = WireType.BIDIRECTIONAL
    for w in spec.wires:
        a, b = index[w.source], index[w.target]
        adjacency.setdefault(a, []).append(b)
        if w.type is bidirectional:
            adjacency.setdefault(b, []).append(a)
    out: list[tuple[int, ...]] = [()] * n
    for a, targets in adjacency.items():
        out[a] = tuple(dict.fromkeys(targets))
    gadgets = compile_gadgets(spec, index, run_groups)
    return Wiring(
        ids=ids,
        index=index,
        kind=kind,
        lattice=lattice,
        out=out,
        run_groups=gadgets.run_groups,
        gadgets=gadgets.gadgets,
        feeds=gadgets.feeds,
    )


@attrs.frozen
class GadgetWiring:
    """The gadget part of a :class:`Wiring`: what changes when the groups run change."""

    run_groups: frozenset[str]
    gadgets: list[GadgetInstance]
    feeds: list[tuple[int, ...]]


def compile_gadgets(
    spec: Bassline, index: dict[str, int], run_groups: Iterable[str] | None
) -> GadgetWiring:
    """The instances of the gadget groups in ``run_groups`` (default all), indexed by port."""
    groups = (
        frozenset(g.id for g in spec.groups if g.gadget)
        if run_groups is None
        else frozenset(run_groups)
    )
    gadgets: list[GadgetInstance] = []
    fed: dict[int, list[int]] = {}  # most contacts feed no gadget: they share the empty tuple
    for g in spec.groups:
        if not g.gadget or g.id not in groups:
            continue
        gadget = get_gadget(g.gadget)
        ports = {c.port: index[c.id] for c in spec.contacts_of(g.id)}
        inst = GadgetInstance(
            group=g.id,
            gadget=gadget,
            inputs=tuple((p, ports[p]) for p in gadget.inputs),
            outputs=tuple((p, ports[p]) for p in gadget.outputs),
            two_way=tuple((p, ports[p]) for p in gadget.two_way),
        )
        k = len(gadgets)
        gadgets.append(inst)
        for _, ci in inst.inputs:
            fed.setdefault(ci, []).append(k)
    feeds: list[tuple[int, ...]] = [()] * len(index)
    for ci, ks in fed.items():
        feeds[ci] = tuple(ks)
    return GadgetWiring(groups, gadgets, feeds)
