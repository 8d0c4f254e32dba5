"""The stored form of a justification: compact JSON text kept with a contact's content.

Storage keeps each content's immediate justification beside its value and stamp
(:attr:`bassline.storage.ContentRecord.justification`), so that after a restart
:meth:`~bassline.engine.network.Network.explain` still says where a value came from. The
text is one JSON object, references by contact id rather than a tree:

- ``{"kind": "write", "via": "http", "local": true}``: a write (its value and stamp are
  the content's own, or the contribution's; the stamp names the writing node);
- ``{"kind": "wire", "from": "net"}``: across a wire from contact ``net`` (same stamp);
- ``{"kind": "gadget", "group": "total", "inputs": [[port, contact, value, stamp], ...]}``:
  a gadget output and each present input it used, the value in the codec's JSON form and
  the stamp as ``[hlc, node]``;
- ``{"kind": "merge", "contributions": [[reference, value, stamp], ...], "omitted": n}``:
  a merge contact's contributions (each reference a write, wire or gadget object);
- any write, wire or gadget object may carry ``"stamp": [hlc, node]``: the stamp the
  value had when that reference brought it (a later echo with a newer stamp kept it).

:class:`StoredForms` turns the engine's references into this text (cached: a write kind,
a wire source and a gadget run each encode once) and back; text it cannot use (a contact
or group the spec no longer has, a wire or gadget run that does not reach the contact, a
kept stamp newer than the content's) restores as "restored without its justification".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from bassline.clock import Stamp
from bassline.codec import from_json, to_json
from bassline.engine.justify import (
    RESTORED,
    Contributions,
    GadgetRun,
    Kept,
    Reference,
    Write,
    applied_ref,
    write_ref,
)
from bassline.engine.wiring import GadgetInstance
from bassline.errors import ContentError
from bassline.lattices import Lattice

if TYPE_CHECKING:
    from bassline.engine.propagation import Propagator

__all__ = ["StoredForms"]

Why = Reference | Kept | Contributions
_PLAIN = frozenset({str, bool, type(None)})
"""Types whose values are their own JSON form (ints and floats are checked by to_json)."""


def _dumps(data: Any) -> str:
    return orjson.dumps(data).decode("utf-8")


class StoredForms:
    """Encodes and decodes one network's justifications (see the module docstring)."""

    def __init__(self, net: Propagator, instances: dict[str, GadgetInstance]) -> None:
        self.net = net
        self.instances = instances
        """Every gadget group of the spec, whether this node runs it or not."""
        self.known: dict[Write | int, str] = {}
        """The text of each write kind and wire source met so far."""
        self._last_run: GadgetRun | None = None
        self._last_run_text = ""

    # ---------------------------------------------------------------- encoding

    def text(self, i: int) -> str | None:
        """The stored form of contact ``i``'s current justification (None: it has none)."""
        why = self.net._why[i]
        # writes and wires (the common case, once per update): one lookup; a gadget run,
        # a kept or merged reference is an object no cache holds, and None is no key
        text = self.known.get(why)  # type: ignore[arg-type]
        if text is not None:
            return text
        if why is None:
            return None
        if isinstance(why, Write):
            if why is RESTORED:
                return None
            text = self.known[why] = _dumps(self._ref(why))
            return text
        if isinstance(why, int):
            text = self.known[why] = _dumps(self._ref(why))
            return text
        if isinstance(why, GadgetRun):
            if why is not self._last_run:
                self._last_run_text = _dumps(self._ref(why))
                self._last_run = why
            return self._last_run_text
        data = self._data(why)
        return None if data is None else _dumps(data)

    def _data(self, why: Why) -> dict[str, Any] | None:
        if type(why) is Kept:
            data = self._ref(why.ref)
            if data is not None:
                data["stamp"] = why.stamp.to_json()
            return data
        if type(why) is Contributions:
            items = []
            omitted = why.omitted
            for ref, value, stamp in why.items:
                part = self._ref(ref)
                if part is None:  # restored without a justification: counted, not kept
                    omitted += 1
                else:
                    items.append([part, to_json(value), stamp.to_json()])
            if not items:
                return None
            return {"kind": "merge", "contributions": items, "omitted": omitted}
        return self._ref(why)  # type: ignore[arg-type]

    def _ref(self, ref: Reference) -> dict[str, Any] | None:
        if type(ref) is Write:
            if ref is RESTORED:
                return None
            return {"kind": "write", "via": ref.via, "local": ref.local}
        if type(ref) is int:
            return {"kind": "wire", "from": self.net._ids[ref]}
        assert type(ref) is GadgetRun
        ids = self.net._ids
        return {
            "kind": "gadget",
            "group": ref.instance.group,
            "inputs": [
                [
                    port,
                    ids[ci],
                    value if type(value) in _PLAIN else to_json(value),
                    [stamp[0], stamp[1]],
                ]
                for port, ci, value, stamp in ref.used
            ],
        }

    # ---------------------------------------------------------------- decoding

    def restore(self, text: str | None, lattice: Lattice | None = None) -> Why:
        """The engine reference for a stored form; RESTORED for None or unusable text.

        ``lattice`` is the contact's (merge contacts): contributions' values are kept in
        its form, as the engine keeps them.
        """
        if text is None:
            return RESTORED
        try:
            data = orjson.loads(text)
            why = self._why(data, lattice)
        except (ValueError, TypeError, KeyError, IndexError, ContentError):
            return RESTORED
        return RESTORED if why is None else why

    def fits(self, i: int, why: Why, stamp: Stamp) -> bool:
        """Whether ``why`` can justify content at contact ``i`` stamped ``stamp`` in this
        spec: each wire reaches ``i`` (a spec replaced since may have dropped it), each
        gadget run has ``i`` among its outputs and names its input ports' own contacts,
        and a kept stamp is no newer than the content's."""
        if isinstance(why, Contributions):
            return all(self._reaches(i, ref) for ref, _, _ in why.items)
        if isinstance(why, Kept):
            return why.stamp <= stamp and self._reaches(i, why.ref)
        return self._reaches(i, why)

    def _reaches(self, i: int, ref: Reference) -> bool:
        if type(ref) is int:
            return i in self.net._out[ref]
        if type(ref) is GadgetRun:
            inst = ref.instance
            ports = dict(inst.inputs)
            return (
                any(ci == i for _, ci in inst.outputs)
                and all(ports.get(port) == ci for port, ci, _, _ in ref.used)
                and len({port for port, _, _, _ in ref.used}) == len(ref.used)
            )
        return True  # a write

    def applied(
        self, text: str, lattice: Lattice | None, source: str, i: int, stamp: Stamp
    ) -> Reference | Kept | None:
        """The reference for a value another process stored with the stored form ``text``
        at contact ``i`` (stamped ``stamp``) and this network applies by ``source`` (the
        change feed): a write becomes a write applied here (not local, its ``via`` kept),
        a wire or gadget run stays as it is. None where the stored form cannot serve an
        applied offer: unusable text, a reference that does not fit ``i`` (:meth:`fits`),
        a merge contact's contributions, or a kept stamp on a merge contact."""
        why = self.restore(text, lattice)
        if why is RESTORED or type(why) is Contributions or not self.fits(i, why, stamp):
            return None
        if type(why) is Kept:
            if lattice is not None:
                return None
            ref = why.ref
            if type(ref) is Write:
                return Kept(applied_ref(ref.via, source), why.stamp)
            return why
        if type(why) is Write:
            return applied_ref(why.via, source)
        return why  # type: ignore[return-value]  # a wire (contact index) or a gadget run

    def restorer(self) -> Callable[[str, Lattice | None, int, Stamp], Why]:
        """:meth:`restore` for many rows at once, each for its contact and stamp: RESTORED
        where the reference does not fit them (:meth:`fits`). The text of writes and wires
        (immutable references) is decoded once per distinct text."""
        shared: dict[str, Why] = {}
        restore = self.restore
        fits = self.fits

        def why_of(text: str, lattice: Lattice | None, i: int, stamp: Stamp) -> Why:
            why = shared.get(text)
            if why is None:
                why = restore(text, lattice)
                if type(why) is Write:
                    return shared.setdefault(text, why)
                if type(why) is int:
                    shared[text] = why
            if type(why) is Write:  # fits any contact
                return why
            return why if fits(i, why, stamp) else RESTORED

        return why_of

    def _why(self, data: Any, lattice: Lattice | None) -> Why | None:
        if type(data) is not dict:
            return None
        if data.get("kind") == "merge":
            items = data["contributions"]
            if type(items) is not list or not items:
                return None
            parts: list[tuple[Reference, Any, Stamp]] = []
            for ref, value, stamp in items:
                decoded = self._reference(ref)
                if decoded is None:
                    return None
                value = from_json(value)
                if lattice is not None:
                    value = lattice.coerce(value)
                parts.append((decoded, value, Stamp.from_json(stamp)))
            first = Contributions(*parts[0])
            first.items = parts
            omitted = data.get("omitted", 0)
            first.omitted = omitted if type(omitted) is int and omitted >= 0 else 0
            return first
        ref = self._reference(data)
        if ref is None:
            return None
        if "stamp" in data:
            return Kept(ref, Stamp.from_json(data["stamp"]))
        return ref

    def _reference(self, data: Any) -> Reference | None:
        if type(data) is not dict:
            return None
        kind = data.get("kind")
        index = self.net._index
        if kind == "write":
            via, local = data["via"], data.get("local", True)
            if type(via) is not str or not via or type(local) is not bool:
                return None
            return write_ref(via, local=local)
        if kind == "wire":
            source = index.get(data["from"])
            return source if type(source) is int else None
        if kind == "gadget":
            inst = self.instances.get(data["group"])
            if inst is None:
                return None
            used = []
            for port, contact, value, stamp in data["inputs"]:
                ci = index.get(contact)
                if type(port) is not str or type(ci) is not int:
                    return None
                used.append((port, ci, from_json(value), Stamp.from_json(stamp)))
            return GadgetRun(inst, tuple(used))
        return None
