"""The Bassline spec: the agreed, versioned, hashable description of one network (its id is
the network id storage keeps it under)."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import Any

import attrs

from bassline.codec import encode_many
from bassline.content import ABSENT, Absent, Content
from bassline.spec.canonical import fast_canonical_json

__all__ = [
    "ROOT_GROUP",
    "Bassline",
    "BlendMode",
    "Boundary",
    "ContactSpec",
    "Endpoint",
    "GroupSpec",
    "WireSpec",
    "WireType",
]

ROOT_GROUP = "root"
"""The id of the implicit top group; groups without a parent hang below it."""


class BlendMode(enum.StrEnum):
    """How a contact combines incoming content with what it holds."""

    ACCEPT_LAST = "accept-last"
    """The newest write (by stamp) wins."""
    MERGE = "merge"
    """Join by the contact's lattice; incompatible information is a contradiction."""


class Boundary(enum.StrEnum):
    """A contact on its group's interface; for gadget groups, the port's direction."""

    INPUT = "input"
    OUTPUT = "output"
    BOTH = "both"


class WireType(enum.StrEnum):
    """Which way a wire carries information."""

    BIDIRECTIONAL = "bidirectional"
    DIRECTED = "directed"


def _frozen_dict(value: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(value or {})


@attrs.frozen
class GroupSpec:
    """A group in the tree; with ``gadget`` set it is a primitive gadget instance."""

    id: str
    name: str = ""
    parent: str | None = None
    gadget: str | None = None
    attributes: dict[str, Any] = attrs.field(factory=dict, converter=_frozen_dict, eq=False)


@attrs.frozen
class ContactSpec:
    """A cell: where content lives, how it blends, and (optionally) its initial content."""

    id: str
    group: str = ROOT_GROUP
    name: str = ""
    blend: BlendMode = BlendMode.ACCEPT_LAST
    lattice: str | None = None
    boundary: Boundary | None = None
    content: Content | Absent = ABSENT
    attributes: dict[str, Any] = attrs.field(factory=dict, converter=_frozen_dict, eq=False)

    @property
    def port(self) -> str:
        """The name a gadget port is matched by (``name``, or the id when unnamed)."""
        return self.name or self.id

    @property
    def has_content(self) -> bool:
        """Whether the spec gives an initial content."""
        return self.content is not ABSENT


@attrs.frozen
class WireSpec:
    """A connection between two contacts."""

    id: str
    source: str
    target: str
    type: WireType = WireType.BIDIRECTIONAL


@attrs.frozen
class Endpoint:
    """Where a group runs: the node's id and the URL peers dial."""

    node: str
    url: str = ""


@attrs.frozen
class Bassline:
    """A spec: the description of one network. Build with :func:`bassline.load_spec`, which
    validates it; :attr:`id` is the network id storage keeps it under.

    Groups, contacts and wires are kept sorted by id, so two specs that differ only
    in the order they were written have the same :attr:`hash`.
    """

    id: str
    version: str = "1"
    groups: tuple[GroupSpec, ...] = ()
    contacts: tuple[ContactSpec, ...] = ()
    wires: tuple[WireSpec, ...] = ()
    endpoints: dict[str, Endpoint] = attrs.field(factory=dict, converter=_frozen_dict)
    metadata: dict[str, Any] = attrs.field(factory=dict, converter=_frozen_dict)

    @cached_property
    def group_by_id(self) -> dict[str, GroupSpec]:
        """Groups by id."""
        return {g.id: g for g in self.groups}

    @cached_property
    def contact_by_id(self) -> dict[str, ContactSpec]:
        """Contacts by id."""
        return {c.id: c for c in self.contacts}

    def group(self, group_id: str) -> GroupSpec:
        """The group called ``group_id`` (KeyError if none)."""
        return self.group_by_id[group_id]

    def contact(self, contact_id: str) -> ContactSpec:
        """The contact called ``contact_id`` (KeyError if none)."""
        return self.contact_by_id[contact_id]

    @cached_property
    def _contacts_by_group(self) -> dict[str, tuple[ContactSpec, ...]]:
        by_group: dict[str, list[ContactSpec]] = {}
        for c in self.contacts:
            by_group.setdefault(c.group, []).append(c)
        return {gid: tuple(cs) for gid, cs in by_group.items()}

    @cached_property
    def _children_by_group(self) -> dict[str, tuple[GroupSpec, ...]]:
        by_parent: dict[str, list[GroupSpec]] = {}
        for g in self.groups:
            if g.parent is not None:
                by_parent.setdefault(g.parent, []).append(g)
        return {gid: tuple(gs) for gid, gs in by_parent.items()}

    def contacts_of(self, group_id: str) -> list[ContactSpec]:
        """The contacts that belong to one group, in the spec's order (indexed on first use)."""
        return list(self._contacts_by_group.get(group_id, ()))

    def children(self, group_id: str) -> list[GroupSpec]:
        """The direct subgroups of one group, in the spec's order (indexed on first use)."""
        return list(self._children_by_group.get(group_id, ()))

    @cached_property
    def assignments(self) -> dict[str, str]:
        """The node ``endpoints`` assign each gadget group to, by gadget group id.

        A gadget group is assigned by its own endpoint, else by the endpoint of its
        nearest ancestor that has one (an endpoint may name a part instance or any
        container). Gadget groups no endpoint covers are absent: they are unassigned.
        """
        if not self.endpoints:
            return {}
        by_id = self.group_by_id
        out: dict[str, str] = {}
        for g in self.groups:
            if not g.gadget:
                continue
            at: str | None = g.id
            seen: set[str] = set()
            while at is not None and at not in seen:
                seen.add(at)
                endpoint = self.endpoints.get(at)
                if endpoint is not None:
                    out[g.id] = endpoint.node
                    break
                parent = by_id.get(at)
                at = parent.parent if parent is not None else None
                if at is None and ROOT_GROUP not in seen:
                    at = ROOT_GROUP  # a group without a parent hangs below root
        return out

    def gadget_groups_in(self, group_id: str) -> list[str]:
        """The gadget groups among ``group_id`` and every group below it, sorted."""
        by_id = self.group_by_id
        return sorted(g for g in self.descendants(group_id) if g in by_id and by_id[g].gadget)

    def descendants(self, group_id: str) -> set[str]:
        """A group and every group below it."""
        out = {group_id}
        frontier = [group_id]
        while frontier:
            gid = frontier.pop()
            for child in self.children(gid):
                if child.id not in out:
                    out.add(child.id)
                    frontier.append(child.id)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The native format with every default written out (content values as they are).

        Pass it through :func:`bassline.codec.to_json` for plain JSON data.
        """
        return {
            "format": "bassline/1",
            "id": self.id,
            "version": self.version,
            "metadata": self.metadata,
            "groups": [
                {
                    "id": g.id,
                    "name": g.name,
                    "parent": g.parent,
                    "gadget": g.gadget,
                    "attributes": g.attributes,
                }
                for g in self.groups
            ],
            "contacts": [_contact_dict(c) for c in self.contacts],
            "wires": [
                {"id": w.id, "from": w.source, "to": w.target, "type": w.type._value_}
                for w in self.wires
            ],
            "endpoints": {
                gid: {"node": e.node, "url": e.url} for gid, e in sorted(self.endpoints.items())
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Bassline:
        """Rebuild exactly the spec :meth:`to_dict` described, without validating it.

        For specs that were validated when first loaded (storage reading back what it
        saved): no lookup of installed gadgets or lattices, no re-sorting. ``data`` holds
        content values as they are (decode canonical JSON with :func:`bassline.codec.decode`
        first). Raises KeyError, TypeError or ValueError when ``data`` is not such a dict.
        """
        return cls(
            id=data["id"],
            version=data["version"],
            groups=tuple(GroupSpec(**g) for g in data["groups"]),
            contacts=tuple(_contact_from(c) for c in data["contacts"]),
            wires=tuple(
                WireSpec(id=w["id"], source=w["from"], target=w["to"], type=WireType(w["type"]))
                for w in data["wires"]
            ),
            endpoints={
                gid: Endpoint(node=e["node"], url=e["url"]) for gid, e in data["endpoints"].items()
            },
            metadata=data["metadata"],
        )

    def with_items(
        self, groups: Iterable[GroupSpec] = (), wires: Iterable[WireSpec] = ()
    ) -> Bassline:
        """This spec with ``groups`` and ``wires`` added or replaced by id (kept sorted)."""
        spec = self
        groups, wires = list(groups), list(wires)
        if groups:
            merged_groups = {g.id: g for g in spec.groups} | {g.id: g for g in groups}
            spec = attrs.evolve(spec, groups=tuple(sorted(merged_groups.values(), key=_by_id)))
        if wires:
            merged_wires = {w.id: w for w in spec.wires} | {w.id: w for w in wires}
            spec = attrs.evolve(spec, wires=tuple(sorted(merged_wires.values(), key=_by_id)))
        return spec

    def canonical_json(self) -> bytes:
        """Canonical JSON bytes (sorted keys, compact): what :attr:`hash` digests."""
        fast = fast_canonical_json(self)  # the same bytes, without the codec's walk
        return fast if fast is not None else encode_many([self.to_dict()])[0]

    @cached_property
    def hash(self) -> str:
        """sha256 (hex) of the canonical JSON form; equal specs have equal hashes."""
        return hashlib.sha256(self.canonical_json()).hexdigest()


def _by_id(item: GroupSpec | WireSpec) -> str:
    return item.id


def _contact_from(c: Mapping[str, Any]) -> ContactSpec:
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


def _contact_dict(c: ContactSpec) -> dict[str, Any]:
    # ``_value_`` rather than ``value``: an enum's ``value`` is a property, and this runs
    # once per contact whenever a spec is hashed
    boundary = c.boundary
    out: dict[str, Any] = {
        "id": c.id,
        "group": c.group,
        "name": c.name,
        "blend": c.blend._value_,
        "lattice": c.lattice,
        "boundary": boundary._value_ if boundary else None,
        "attributes": c.attributes,
    }
    if c.content is not ABSENT:
        out["content"] = c.content
    return out
