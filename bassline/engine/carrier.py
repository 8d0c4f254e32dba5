"""Turning the engine's references into :mod:`bassline.engine.carried` values and back."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from operator import is_
from typing import TYPE_CHECKING, Any

import attrs

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
from bassline.engine.justify import (
    MAX_VIA,
    RESTORED,
    Contributions,
    GadgetRun,
    Kept,
    Reference,
    Write,
    applied_ref,
    via_fits,
)
from bassline.engine.wiring import ACCEPT_LAST, GadgetInstance
from bassline.errors import ContentError, JustificationError

if TYPE_CHECKING:
    from bassline.engine.propagation import Propagator
    from bassline.engine.stored import StoredForms

__all__ = ["Carrier"]


class Carrier:
    """Turns one network's references into :data:`Carried` values and back."""

    def __init__(self, net: Propagator, instances: dict[str, GadgetInstance]) -> None:
        self.net = net
        self.instances = instances
        """Every gadget group of the spec, whether this node runs it or not."""
        self._last_run: GadgetRun | None = None
        self._last_carried: CarriedGadget | None = None
        self._writes: dict[Write, CarriedWrite] = {}
        self._wires: dict[int, CarriedWire] = {}

    # ---------------------------------------------------------------- sending

    def carried(self, i: int) -> Carried | None:
        """What contact ``i``'s current justification says to another node (None: it
        has none to send)."""
        net = self.net
        why = net._why[i]
        kept: Stamp | None = None
        if type(why) is Kept:
            kept = why.stamp
            why = why.ref
        elif type(why) is Contributions:
            if why.omitted or len(why.items) != 1 or why.items[0][2] != net._stamps[i]:
                return None
            why = why.items[0][0]
        if type(why) is Write:
            if why is RESTORED:
                return None
            if kept is not None:
                return CarriedWrite(why.via, kept)
            write = self._writes.get(why)
            if write is None:
                if len(self._writes) >= 4096:  # vias are few; peers' kept bounded too
                    self._writes.clear()
                write = self._writes[why] = CarriedWrite(why.via)
            return write
        if type(why) is int:
            if kept is not None:
                return CarriedWire(net._ids[why], kept)
            wire = self._wires.get(why)
            if wire is None:
                wire = self._wires[why] = CarriedWire(net._ids[why])
            return wire
        if type(why) is GadgetRun:
            carried = self._gadget(why)
            return carried if kept is None else attrs.evolve(carried, stamp=kept)
        return None

    def carried_all(self, at: list[int]) -> list[Carried | None]:
        """:meth:`carried` of each of contacts ``at``: plain writes (a node's own and its
        peers' values) found in C loops, anything else one at a time."""
        whys: list[Any] = list(map(self.net._why.__getitem__, at))
        if set(map(type, whys)) == {Write}:  # RESTORED is never cached: carried() says None
            found = list(map(self._writes.get, whys))
            if not any(map(is_, found, repeat(None))):
                return found  # type: ignore[return-value]
        return list(map(self.carried, at))

    def _gadget(self, run: GadgetRun) -> CarriedGadget:
        if run is not self._last_run:  # one run is shared by all its outputs
            self._last_carried = CarriedGadget(
                run.instance.group,
                tuple(CarriedInput(port, stamp, value) for port, _, value, stamp in run.used),
            )
            self._last_run = run
        assert self._last_carried is not None
        return self._last_carried

    # ---------------------------------------------------------------- receiving

    def resolve_all(
        self,
        checked: list[tuple[int, Any, Stamp, Any]],
        source: str,
        fallback: Write,
        stored: bool,
        forms: StoredForms,
    ) -> list[Reference | Kept]:
        """The engine reference of each ``(contact, value, stamp, carried)`` of an applied
        batch (see :meth:`resolve`); with ``stored``, a text ``carried`` is a stored form
        (the change feed), read by ``forms``. A write's reference depends on its via
        alone, and a peer's delta shares one :class:`CarriedWrite` among its items: it is
        resolved (and checked) once per object."""
        if not stored:
            shared = self._shared_writes(checked, source, fallback)
            if shared is not None:
                return shared
        # what a gadget run's inputs may name (writes and wires never read it)
        batch = (
            {i: (value, stamp) for i, value, stamp, _ in checked}
            if any(type(c[3]) is CarriedGadget for c in checked)
            else {}
        )
        lattices = self.net._lattice
        whys: list[Reference | Kept] = [fallback] * len(checked)
        writes: dict[int, Reference | Kept] = {}
        for n, (i, _, stamp, carried) in enumerate(checked):
            if stored and type(carried) is str:  # a stored form (the change feed)
                ref = forms.applied(carried, lattices[i], source, i, stamp)  # a wire's may be 0
                whys[n] = fallback if ref is None else ref
            elif type(carried) is CarriedWrite and carried.stamp is None:
                known = writes.get(id(carried))
                if known is None:
                    known = writes[id(carried)] = self.resolve(
                        i, stamp, carried, source, fallback, batch
                    )
                whys[n] = known
            elif carried is not None:
                whys[n] = self.resolve(i, stamp, carried, source, fallback, batch)
        return whys

    def resolve_columns(
        self,
        columns: tuple[list[int], Sequence[Any], Sequence[Stamp], Sequence[Any] | None],
        source: str,
        fallback: Write,
        stored: bool,
        forms: StoredForms,
    ) -> list[Reference | Kept]:
        """:meth:`resolve_all` of a batch given as columns (contact indexes, values, stamps,
        justifications, None when no item has one): what
        :meth:`~bassline.engine.Network.apply` has of a plainly good batch."""
        at, values, stamps, carried = columns
        if carried is None:
            return [fallback] * len(at)
        if not stored:
            shared = self.shared_writes(at, stamps, carried, source, fallback)
            if shared is not None:
                return shared
        items = list(zip(at, values, stamps, carried, strict=True))
        return self.resolve_all(items, source, fallback, stored, forms)

    def _shared_writes(
        self, checked: list[tuple[int, Any, Stamp, Any]], source: str, fallback: Write
    ) -> list[Reference | Kept] | None:
        """:meth:`resolve_all` for a batch whose every justification is a write without a
        kept stamp (a peer's delta: a few such objects shared by all its items), each
        object resolved once and the column filled in C loops; None for any other batch."""
        if not checked:
            return None
        at, _, stamps, carried = zip(*checked, strict=True)
        return self.shared_writes(list(at), stamps, carried, source, fallback)

    def shared_writes(
        self,
        at: list[int],
        stamps: Sequence[Stamp],
        carried: Sequence[Any],
        source: str,
        fallback: Write,
    ) -> list[Reference | Kept] | None:
        """:meth:`_shared_writes` of a batch given as columns (contact indexes, stamps,
        justifications): what :meth:`~bassline.engine.Network.apply` has of a plain batch."""
        first = carried[0] if carried else None
        # the usual delta: one write object shared by every item, found without an id each
        if type(first) is CarriedWrite and all(map(is_, carried, repeat(first))):
            if first.stamp is not None:  # a kept stamp: each item's own stamp checks it
                return None
            return [self.resolve(at[0], stamps[0], first, source, fallback, {})] * len(at)
        if set(map(type, carried)) != {CarriedWrite}:
            return None
        distinct = dict(zip(map(id, carried), carried, strict=True))
        if len(distinct) > 8 or any(c.stamp is not None for c in distinct.values()):
            return None
        keys = list(map(id, carried))
        resolved = {}
        for key, write in distinct.items():
            first = keys.index(key)  # the first item carrying it
            resolved[key] = self.resolve(at[first], stamps[first], write, source, fallback, {})
        return list(map(resolved.__getitem__, keys))

    def resolve(
        self,
        i: int,
        stamp: Stamp,
        carried: object,
        source: str,
        fallback: Write,
        batch: dict[int, tuple[Any, Stamp]],
    ) -> Reference | Kept:
        """The engine reference for content at contact ``i`` (stamped ``stamp``) that came
        with ``carried``; ``batch`` holds the contents applied with it, by contact.

        :class:`~bassline.errors.JustificationError` when ``carried`` cannot describe that
        content (the wrong type, a contact or group the spec lacks, a wire that does not
        reach ``i``, a gadget ``i`` is no output of, a port it does not have or names
        twice, a stamp newer than the content's); ``fallback`` when it is sound but names
        an input value this node does not hold.
        """
        net = self.net
        where = f"contact {net._ids[i]!r}"
        if not isinstance(carried, CarriedWrite | CarriedWire | CarriedGadget):
            raise JustificationError(f"{where}: not a justification: {type(carried).__name__}")
        kept = carried.stamp
        if kept is not None and (type(kept) is not Stamp or not kept <= stamp):
            raise JustificationError(
                f"{where}: the stamp a justification kept must be a stamp no newer than the "
                f"content's {tuple(stamp)}, not {kept!r:.80}"
            )
        ref: Reference
        if type(carried) is CarriedWrite:
            if not via_fits(carried.via):
                raise JustificationError(
                    f"{where}: a write's via must be a label of 1 to {MAX_VIA} characters, none "
                    f"of them a control character or a lone surrogate, not {carried.via!r:.60}"
                )
            ref = applied_ref(carried.via, source)
        elif type(carried) is CarriedWire:
            j = net._index.get(carried.source) if type(carried.source) is str else None
            if j is None or i not in net._out[j]:
                raise JustificationError(
                    f"{where}: no wire from {carried.source!r:.80} reaches this contact"
                )
            ref = j
        else:
            assert type(carried) is CarriedGadget
            run = self._run(i, stamp, carried, batch, where)
            if run is None:
                return fallback
            ref = run
        if kept is not None and net._kind[i] == ACCEPT_LAST:
            return Kept(ref, kept)
        return ref

    def _run(
        self,
        i: int,
        stamp: Stamp,
        carried: CarriedGadget,
        batch: dict[int, tuple[Any, Stamp]],
        where: str,
    ) -> GadgetRun | None:
        net = self.net
        inst = self.instances.get(carried.group) if type(carried.group) is str else None
        if inst is None or all(ci != i for _, ci in inst.outputs):
            raise JustificationError(
                f"{where} is no output of a gadget group {carried.group!r:.80}"
            )
        ports = dict(inst.inputs)
        checked: dict[str, tuple[int, Stamp, Any]] = {}
        for put in carried.inputs:  # all checked first: a refusal never depends on state
            if type(put) is not CarriedInput:
                raise JustificationError(f"{where}: a gadget input must be a CarriedInput")
            ci = ports.get(put.port)
            if ci is None or put.port in checked:
                raise JustificationError(
                    f"{where}: gadget group {inst.group!r} has no input port "
                    f"{put.port!r:.80}, or it is named twice"
                )
            if type(put.stamp) is not Stamp or not put.stamp <= stamp:
                raise JustificationError(
                    f"{where}: input {put.port!r} must carry a stamp no newer than the "
                    f"output's {tuple(stamp)}, not {put.stamp!r:.80}"
                )
            if put.value is not ABSENT:
                try:  # what storage and gossip could not hold never reaches the engine
                    to_json(put.value)
                except ContentError as exc:
                    raise JustificationError(f"{where}: input {put.port!r} carries {exc}") from None
            checked[put.port] = (ci, put.stamp, put.value)
        given: dict[str, tuple[Any, Stamp]] = {}
        unresolved = False
        for port, (ci, used, value) in checked.items():
            if value is ABSENT:
                value = self._held(ci, used, batch)
                if value is ABSENT:
                    unresolved = True
                    continue
            lattice = net._lattice[ci]
            if lattice is not None:
                try:
                    value = lattice.coerce(value)
                except (ValueError, TypeError) as exc:
                    raise JustificationError(
                        f"{where}: input {port!r} carries a value contact "
                        f"{net._ids[ci]!r} cannot hold ({exc})"
                    ) from None
            given[port] = (value, used)
        if unresolved:
            return None
        return GadgetRun(
            inst,
            tuple(
                (port, ci, given[port][0], given[port][1])
                for port, ci in inst.inputs
                if port in given
            ),
        )

    def _held(self, ci: int, stamp: Stamp, batch: dict[int, tuple[Any, Stamp]]) -> Any:
        """The value contact ``ci`` has at ``stamp`` in this apply or here (else ABSENT)."""
        got = batch.get(ci)
        if got is not None and got[1] == stamp:
            return got[0]
        net = self.net
        if net._stamps[ci] == stamp:
            return net._values[ci]
        return ABSENT
