"""What the engine keeps about why each contact holds its current value.

These are compact references, kept beside every contact's value and stamp and replaced
whenever the value is: a contact index (the value came across a wire from that contact,
with the same stamp), a :class:`Write`, a :class:`GadgetRun`, or, on a merge contact,
:class:`Contributions`. Trees are built from them only when someone asks
(:mod:`bassline.engine.explain`), so a run pays one list store per step.
"""

from __future__ import annotations

import re
from typing import Any

from bassline.clock import Stamp
from bassline.engine.wiring import GadgetInstance
from bassline.lattices import Lattice, Unchanged

__all__ = [
    "CONTRIBUTION_LIMIT",
    "RESTORED",
    "SPEC",
    "Contributions",
    "GadgetRun",
    "Kept",
    "Reference",
    "Write",
    "applied_ref",
    "source_label",
    "via_fits",
    "write_ref",
]

MAX_VIA = 200
"""The longest ``via`` label a write may carry (characters), as a gossip delta carries it."""
_UNFIT_VIA = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
CONTRIBUTION_LIMIT = 8
"""How many contributions a merge contact keeps; older ones are counted, not kept."""


class Write:
    """A value written into this network: ``via`` says how it came in.

    The value and stamp are the contact's own (accept-last) or the contribution's (merge).
    ``local`` is False for values applied with their original stamps (from a peer or from
    storage); ``source`` is the label a contradiction record gives it (``"update"``,
    ``"spec"``, or the source an apply named).
    """

    __slots__ = ("local", "source", "via")

    def __init__(self, via: str, source: str, local: bool) -> None:
        self.via = via
        self.source = source
        self.local = local

    def __repr__(self) -> str:
        return f"Write({self.via!r}, {self.source!r}, local={self.local})"


_WRITES: dict[tuple[str, bool], Write] = {}


def via_fits(via: object) -> bool:
    """Whether ``via`` is a label a write may carry: a string of 1 to :data:`MAX_VIA`
    characters, none of them a control character or a lone surrogate."""
    return type(via) is str and 0 < len(via) <= MAX_VIA and not _UNFIT_VIA.search(via)


def write_ref(via: str, *, local: bool = True) -> Write:
    """The shared :class:`Write` for writes that came in ``via`` (one object per kind).

    Raises :class:`ValueError` unless ``via`` is a non-empty string.
    """
    ref = _WRITES.get((via, local))
    if ref is None:
        if type(via) is not str or not via:
            raise ValueError(f"via must be a non-empty string (how a write came in), not {via!r}")
        if len(via) > MAX_VIA or _UNFIT_VIA.search(via):
            # what gossip carries and storage keeps: a longer label once opened the breaker
            raise ValueError(
                f"via must be at most {MAX_VIA} characters, none of them a control "
                f"character or a lone surrogate (a label such as 'http'), not {via!r:.60}"
            )
        ref = _WRITES[(via, local)] = Write(via, "update" if local else via, local)
    return ref


_APPLIED: dict[tuple[str, str], Write] = {}


def applied_ref(via: str, source: str) -> Write:
    """The shared :class:`Write` for values written elsewhere (first come in ``via``
    there) and applied here by ``source`` (``"remote"``: a peer), with their stamps."""
    ref = _APPLIED.get((via, source))
    if ref is None:
        if len(_APPLIED) >= 4096:  # vias come from peers: keep the table bounded
            _APPLIED.clear()
        ref = _APPLIED[(via, source)] = Write(via, source, False)
    return ref


SPEC = Write("spec", "spec", True)
"""A spec's initial content."""
RESTORED = Write("restore", "restore", True)
"""Content set by :meth:`~bassline.engine.network.Network.restore` without a justification."""


class GadgetRun:
    """A gadget output: the gadget instance and the inputs it used.

    ``used`` holds ``(port, contact, value, stamp)`` for each input that had content when
    the gadget ran; one object is shared by all the outputs of that run.
    """

    __slots__ = ("instance", "used")

    def __init__(
        self, instance: GadgetInstance, used: tuple[tuple[str, int, Any, Stamp], ...]
    ) -> None:
        self.instance = instance
        self.used = used

    def __repr__(self) -> str:
        return f"GadgetRun({self.instance.group!r}, {self.used!r})"


Reference = int | Write | GadgetRun
"""The immediate justification of an offer: a wire's source contact, a write, a gadget run."""


class Kept:
    """An accept-last contact's justification, kept when a newer stamp brought the value
    it already held: ``stamp`` is the stamp the value had when ``ref`` brought it."""

    __slots__ = ("ref", "stamp")

    def __init__(self, ref: Reference, stamp: Stamp) -> None:
        self.ref = ref
        self.stamp = stamp

    def __repr__(self) -> str:
        return f"Kept({self.ref!r}, {self.stamp!r})"


class Contributions:
    """The offers joined into a merge contact's current value, newest last, bounded.

    Each item is ``(reference, value, stamp)``: what was offered and why. An offer that
    added nothing is not recorded. A new offer replaces an earlier one it subsumes (whose
    value adds nothing to it) when that earlier one came the same way (the same wire, the
    same gadget) or when the new one is a write; beyond :data:`CONTRIBUTION_LIMIT` the
    oldest is dropped and counted in ``omitted``.
    """

    __slots__ = ("items", "omitted")

    def __init__(self, ref: Reference, value: Any, stamp: Stamp) -> None:
        self.items: list[tuple[Reference, Any, Stamp]] = [(ref, value, stamp)]
        self.omitted = 0

    def add(self, ref: Reference, value: Any, stamp: Stamp, lattice: Lattice) -> None:
        """Record that ``value`` (coerced), offered for ``ref``, changed the contact."""
        items = self.items
        is_write = type(ref) is Write
        channel = _channel(ref)
        for n in range(len(items) - 1, -1, -1):
            old_ref, old_value, _ = items[n]
            if (is_write or _channel(old_ref) == channel) and isinstance(
                lattice.join(value, old_value), Unchanged
            ):
                del items[n]
        items.append((ref, value, stamp))
        if len(items) > CONTRIBUTION_LIMIT:
            del items[0]
            self.omitted += 1

    def __repr__(self) -> str:
        return f"Contributions({self.items!r}, omitted={self.omitted})"


def _channel(ref: Reference) -> object:
    """The way an offer came: a wire's source, a gadget, or writes (one channel)."""
    if type(ref) is GadgetRun:
        return ref.instance
    if type(ref) is Write:
        return Write
    return ref


def source_label(ref: Reference, ids: list[str]) -> str:
    """What a contradiction record names as the source of an offer (as it always has)."""
    if type(ref) is int:
        return ids[ref]
    if type(ref) is Write:
        return ref.source
    assert type(ref) is GadgetRun
    return f"gadget:{ref.instance.group}"
