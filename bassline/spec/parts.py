"""Compound parts: a part defined once in a spec, expanded into ordinary groups per use.

A validated part definition becomes a :class:`PartTemplate`: its groups, contacts and wires
with ids local to the part (``root`` stands for the instance's own group), with the parts it
uses already expanded into it. :meth:`PartTemplate.instantiate` renames a template into one
instance: every id gets the instance's id and :data:`SEPARATOR` in front. Nothing downstream
of the loader sees a part, only the groups, contacts and wires it expanded into (and the
``bassline.part`` attribute on each instance's group, which names the part).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import attrs

from bassline.spec.model import ROOT_GROUP, Boundary, ContactSpec, GroupSpec, WireSpec

__all__ = ["PART_ATTRIBUTE", "SEPARATOR", "Expansion", "PartTemplate"]

SEPARATOR = "/"
"""Between an instance's id and the local id of something inside it: ``kitchen/ratio``."""

PART_ATTRIBUTE = "bassline.part"
"""The group attribute that names the part an instance's group was expanded from."""


@attrs.frozen
class Expansion:
    """One instance of a part: its group and everything inside it, ids already prefixed."""

    group: GroupSpec
    groups: list[GroupSpec]
    contacts: list[ContactSpec]
    wires: list[WireSpec]
    derived: list[bool]
    """For each wire, whether its id was derived from its ends (``FROM->TO``)."""


@attrs.frozen
class PartTemplate:
    """A validated part definition, flattened: local ids, nested uses already expanded.

    ``contacts`` holds the ports first. ``complete`` is false when the definition had
    problems: then the template holds only the ports, so the rest of the spec can still be
    checked against them without a cascade of follow-on problems.
    """

    name: str
    ports: dict[str, Boundary]
    """Port name -> boundary, in the order the definition lists them."""
    groups: tuple[GroupSpec, ...]
    contacts: tuple[ContactSpec, ...]
    wires: tuple[WireSpec, ...]
    derived: tuple[bool, ...]
    """For each wire, whether its id is derived from its ends (it had none in the part)."""
    attributes: dict[str, Any]
    complete: bool
    longest_id: int = attrs.field(init=False)
    """The length of the longest local group or contact id (an instance prefixes them)."""
    longest_wire_id: int = attrs.field(init=False)
    """The length of the longest wire id given in the part (derived ones are not checked)."""

    def __attrs_post_init__(self) -> None:
        ids = [g.id for g in self.groups] + [c.id for c in self.contacts]
        wire_ids = [
            w.id for w, derived in zip(self.wires, self.derived, strict=True) if not derived
        ]
        object.__setattr__(self, "longest_id", max(map(len, ids), default=0))
        object.__setattr__(self, "longest_wire_id", max(map(len, wire_ids), default=0))

    @property
    def size(self) -> int:
        """How many groups, contacts and wires one instance adds (its own group included)."""
        return 1 + len(self.groups) + len(self.contacts) + len(self.wires)

    def instantiate(
        self,
        instance: str,
        parent: str,
        *,
        name: str,
        attributes: Mapping[str, Any],
    ) -> Expansion:
        """Rename this template into the instance ``instance``, a child of group ``parent``."""
        prefix = instance + SEPARATOR
        group = GroupSpec(
            id=instance,
            name=name,
            parent=parent,
            attributes={**self.attributes, **attributes, PART_ATTRIBUTE: self.name},
        )

        def inside(group_id: str) -> str:
            return instance if group_id == ROOT_GROUP else prefix + group_id

        groups = [
            GroupSpec(
                id=prefix + g.id,
                name=g.name,
                parent=inside(g.parent or ROOT_GROUP),
                gadget=g.gadget,
                attributes=g.attributes,
            )
            for g in self.groups
        ]
        contacts = [
            ContactSpec(
                id=prefix + c.id,
                group=inside(c.group),
                name=c.name,
                blend=c.blend,
                lattice=c.lattice,
                boundary=c.boundary,
                content=_own(c.content),
                attributes=c.attributes,
            )
            for c in self.contacts
        ]
        wires = [
            WireSpec(
                id=_wire_id(w, derived, prefix),
                source=prefix + w.source,
                target=prefix + w.target,
                type=w.type,
            )
            for w, derived in zip(self.wires, self.derived, strict=True)
        ]
        return Expansion(group, groups, contacts, wires, list(self.derived))


def _wire_id(wire: WireSpec, derived: bool, prefix: str) -> str:
    if derived:
        return f"{prefix}{wire.source}->{prefix}{wire.target}"
    return prefix + wire.id


def _own(content: Any) -> Any:
    """Each instance gets its own copy of a mutable JSON content (lists, objects)."""
    if isinstance(content, list | dict):
        return copy.deepcopy(content)
    return content
