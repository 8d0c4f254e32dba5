"""Justifications on the wire, resolved against the spec both peers run.

:class:`CarryCodec` turns the engine's :data:`~bassline.engine.carried.Carried`
references into ``whys`` entries (:mod:`bassline.net.wire_whys`) and back, relative to
the item's contact: a wire's source becomes its index among the contacts wired into it;
a gadget run is the group the contact is an output of, with its inputs by position
(sorted port names), an input whose contact is in the same delta at the stamp used as
``1``. A merge contact's input carries its value (replicas may stamp equal values
differently); an accept-last input only its stamp, the receiver's own contact giving the
value.
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

_NONE = WhyRef("none")
"""A cache's "not looked up yet" (None is a cached answer)."""


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
        self._outputs: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {}
        """Each gadget output contact: its group, and the group's input ports (sorted)
        with their contacts."""
        for g in spec.groups:
            if g.gadget:
                by_port = {c.port: c.id for c in spec.contacts_of(g.id)}
                gadget = get_gadget(g.gadget)
                ports = tuple((p, by_port[p]) for p in sorted(gadget.inputs) if p in by_port)
                for p in gadget.outputs:
                    if p in by_port:
                        self._outputs[by_port[p]] = (g.id, ports)
        self._merge = frozenset(c.id for c in spec.contacts if c.blend is BlendMode.MERGE)
        self._last: tuple[CarriedGadget, WhyRef | None] | None = None
        self._vias: dict[str, WhyRef | None] = {}
        self._wires: dict[int, WhyRef] = {}

    # ---------------------------------------------------------------- sending

    def to_wire(self, contact: str, carried: Carried | None) -> WhyRef | None:
        """The ``whys`` entry for ``contact``'s justification (None: send none: there is
        none, or it names what a peer would refuse, such as an over-long ``via``)."""
        if carried is None:
            return None
        kept = carried.stamp
        if type(carried) is CarriedWrite:
            if kept is not None:
                return WhyRef("w", via=carried.via, kept=kept) if via_ok(carried.via) else None
            ref = self._vias.get(carried.via, _NONE)
            if ref is _NONE:
                if len(self._vias) >= 4096:
                    self._vias.clear()
                ok = via_ok(carried.via)
                ref = self._vias[carried.via] = WhyRef("w", via=carried.via) if ok else None
            return ref
        if type(carried) is CarriedWire:
            k = self._wire_index.get((contact, carried.source))
            if k is None:
                return None
            if kept is not None:
                return WhyRef("c", wire=k, kept=kept)
            wire = self._wires.get(k)
            if wire is None:
                wire = self._wires[k] = WhyRef("c", wire=k)
            return wire
        assert type(carried) is CarriedGadget
        last = self._last
        if last is not None and last[0] is carried:  # one run, shared by its outputs
            return last[1]
        ref = self._gadget(contact, carried)
        self._last = (carried, ref)
        return ref

    def _gadget(self, contact: str, carried: CarriedGadget) -> WhyRef | None:
        output = self._outputs.get(contact)
        if output is None or output[0] != carried.group or len(output[1]) > MAX_INPUTS:
            return None
        by_port = {put.port: put for put in carried.inputs}
        if len(by_port) != len(carried.inputs) or not by_port.keys() <= dict(output[1]).keys():
            return None
        inputs: list[WhyInput | None] = []
        for port, source in output[1]:
            put = by_port.get(port)
            if put is None:
                inputs.append(None)
            else:
                value = to_json(put.value) if source in self._merge else ABSENT
                inputs.append(WhyInput(put.stamp, value, source))
        return WhyRef("g", inputs=tuple(inputs), kept=carried.stamp)

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
        output = self._outputs.get(contact)
        if output is None:
            raise WhyProblem(f"contact {contact!r} is no output of a gadget group")
        group, ports = output
        if len(why.inputs) != len(ports):
            raise WhyProblem(
                f"contact {contact!r}: gadget group {group!r} has {len(ports)} input(s); "
                f"a justification lists {len(why.inputs)}"
            )
        inputs = []
        for (port, source), put in zip(ports, why.inputs, strict=True):
            if put is None:
                continue
            if put.stamp is not None:
                inputs.append(CarriedInput(port, put.stamp, put.value))
                continue
            held = frame.get(source)
            if held is None:
                raise WhyProblem(
                    f"contact {contact!r}: gadget input {port!r} is given as in this "
                    "delta, which carries no content for it"
                )
            inputs.append(CarriedInput(port, held[1], held[0]))
        return CarriedGadget(group, tuple(inputs), why.kept)
