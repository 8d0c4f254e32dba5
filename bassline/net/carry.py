"""Justifications on the wire, resolved against the spec both peers run.

:class:`CarryCodec` turns the engine's :data:`~bassline.engine.carried.Carried`
references into ``whys`` entries (:mod:`bassline.net.wire_whys`) and back: a wire's
source becomes its index among the contacts wired into the item's contact, and a gadget
input whose contact is in the same delta at the stamp used is sent as its port alone. A
merge contact's input carries its value (replicas may stamp equal values differently);
an accept-last input only its stamp, the receiver's own contact giving the value.
"""

from __future__ import annotations

from typing import Any

from bassline.clock import Stamp
from bassline.codec import to_json
from bassline.content import ABSENT
from bassline.engine.carried import (
    Carried,
    CarriedGadget,
    CarriedInput,
    CarriedWire,
    CarriedWrite,
)
from bassline.gadgets import get_gadget
from bassline.net.wire_whys import MAX_INPUTS, WhyInput, WhyProblem, WhyRef, via_ok
from bassline.spec import Bassline, BlendMode, WireType

__all__ = ["CarryCodec"]


class CarryCodec:
    """Encodes and decodes one spec's justifications for deltas (see the module)."""

    def __init__(self, spec: Bassline) -> None:
        wired: dict[str, set[str]] = {}
        for w in spec.wires:
            wired.setdefault(w.target, set()).add(w.source)
            if w.type is WireType.BIDIRECTIONAL:
                wired.setdefault(w.source, set()).add(w.target)
        self._sources = {target: sorted(found) for target, found in wired.items()}
        """The contacts wired into each contact, sorted by id."""
        self._wire_index = {
            (target, source): k
            for target, found in self._sources.items()
            for k, source in enumerate(found)
        }
        self._ports: dict[str, dict[str, str]] = {}
        """Each gadget group's input ports and their contacts."""
        for g in spec.groups:
            if g.gadget:
                by_port = {c.port: c.id for c in spec.contacts_of(g.id)}
                inputs = get_gadget(g.gadget).inputs
                self._ports[g.id] = {p: by_port[p] for p in inputs if p in by_port}
        self._merge = frozenset(c.id for c in spec.contacts if c.blend is BlendMode.MERGE)
        self._last: tuple[CarriedGadget, WhyRef | None] | None = None

    # ---------------------------------------------------------------- sending

    def to_wire(self, contact: str, carried: Carried | None) -> WhyRef | None:
        """The ``whys`` entry for ``contact``'s justification (None: send none: there is
        none, or it names what a peer would refuse, such as an over-long ``via``)."""
        if carried is None:
            return None
        if type(carried) is CarriedWrite:
            return WhyRef("w", via=carried.via, kept=carried.stamp) if via_ok(carried.via) else None
        if type(carried) is CarriedWire:
            k = self._wire_index.get((contact, carried.source))
            return None if k is None else WhyRef("c", wire=k, kept=carried.stamp)
        assert type(carried) is CarriedGadget
        last = self._last
        if last is not None and last[0] is carried:  # one run, many outputs
            return last[1]
        ref = self._gadget(carried)
        self._last = (carried, ref)
        return ref

    def _gadget(self, carried: CarriedGadget) -> WhyRef | None:
        ports = self._ports.get(carried.group)
        if ports is None or len(carried.inputs) > MAX_INPUTS:
            return None
        inputs = []
        for put in carried.inputs:
            contact = ports.get(put.port)
            if contact is None or not via_ok(put.port):
                return None
            value = to_json(put.value) if contact in self._merge else ABSENT
            inputs.append(WhyInput(put.port, put.stamp, value, contact))
        return WhyRef("g", group=carried.group, inputs=tuple(inputs), kept=carried.stamp)

    # ---------------------------------------------------------------- receiving

    def from_wire(self, contact: str, why: WhyRef, frame: dict[str, tuple[Any, Stamp]]) -> Carried:
        """The engine's reference for a received entry of ``contact``'s; ``frame`` holds
        the delta's contents by contact. :class:`WhyProblem` when the entry names a wire
        or a port the spec does not have (the engine checks the rest as it applies)."""
        if why.kind == "w":
            return CarriedWrite(why.via, why.kept)
        if why.kind == "c":
            sources = self._sources.get(contact, ())
            if why.wire >= len(sources):
                raise WhyProblem(
                    f"contact {contact!r} has {len(sources)} contact(s) wired into it; "
                    f"a justification names wire {why.wire}"
                )
            return CarriedWire(sources[why.wire], why.kept)
        ports = self._ports.get(why.group)
        if ports is None:
            raise WhyProblem(f"contact {contact!r}: no gadget group {why.group!r}")
        inputs = []
        for put in why.inputs:
            if put.stamp is not None:
                inputs.append(CarriedInput(put.port, put.stamp, put.value))
                continue
            source = ports.get(put.port)
            held = None if source is None else frame.get(source)
            if held is None:
                raise WhyProblem(
                    f"contact {contact!r}: gadget input {put.port!r} is given as in this "
                    "delta, which carries no content for it"
                )
            inputs.append(CarriedInput(put.port, held[1], held[0]))
        return CarriedGadget(why.group, tuple(inputs), why.kept)
