"""A justification as it travels to another node: one reference, never a tree.

A node sends, with each content it gossips, the immediate justification of that content
as a :data:`Carried` value: a write (how it came in), a wire (the contact it came from)
or a gadget run (the group, and each input port it used with that input's stamp). The
receiving node holds every contact itself, so it turns the reference back into its own
engine's reference (:mod:`bassline.engine.carrier`): :meth:`~bassline.engine.network.Network.explain`
on the receiver then walks into the sender's gadget inputs as its own contacts.

A gadget input carries its value only where the receiver cannot recover it from the
stamp (``value`` is :data:`~bassline.content.ABSENT` otherwise): the receiver takes the
value its own contact holds at that stamp, from the same apply or from before it. When
it holds no such value, the content is explained as a write applied from the peer, as
without a justification. A merge contact's justification travels only when it is one
contribution at the contact's own stamp; otherwise the content goes without one.
"""

from __future__ import annotations

from typing import Any

import attrs

from bassline.clock import Stamp
from bassline.content import ABSENT

__all__ = [
    "Carried",
    "CarriedGadget",
    "CarriedInput",
    "CarriedWire",
    "CarriedWrite",
]


@attrs.frozen
class CarriedWrite:
    """Written into the sending node's network, or applied there from elsewhere: ``via``
    says how it first came in (``"http"``, ``"cli"``, ...)."""

    via: str
    stamp: Stamp | None = None
    """The stamp the value had when the write brought it, when an echo since gave it a
    newer one (None: the content's own stamp)."""


@attrs.frozen
class CarriedWire:
    """Copied across a wire from contact ``source`` (with the same stamp)."""

    source: str
    stamp: Stamp | None = None
    """As for :class:`CarriedWrite`."""


@attrs.frozen
class CarriedInput:
    """One input port a gadget run used, with the stamp its content had."""

    port: str
    stamp: Stamp
    value: Any = ABSENT
    """The value used; ABSENT: the value the receiver's contact holds at ``stamp``."""


@attrs.frozen
class CarriedGadget:
    """Computed by gadget group ``group`` from ``inputs`` (every input port that had
    content when it ran)."""

    group: str
    inputs: tuple[CarriedInput, ...]
    stamp: Stamp | None = None
    """As for :class:`CarriedWrite`."""


Carried = CarriedWrite | CarriedWire | CarriedGadget
"""A justification as it travels: see the module docstring."""
