"""Writing specs in Python: define a part once, use it many times, wire handles, not ids.

:class:`Part` defines a compound part (ports, contacts, gadget groups, wires, uses of other
parts); :class:`SpecBuilder` describes a whole spec. Every call that adds something
returns a handle (:class:`ContactRef`, :class:`GroupRef`); wires, gadgets and uses take
handles, so no id string is ever put together by hand. ``to_data()`` writes the JSON spec
format (with ``parts`` and ``uses``) and ``build()`` loads it with
:func:`bassline.spec.parse_spec`, which validates it and expands every use.

Mistakes the builder can see at the call (an id used twice, a handle from another part, a
port missing or unknown, a part that would use itself) raise :class:`~bassline.errors.SpecError`
right there, with the JSON path the item would have; ``build()`` reports everything else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs

from bassline.content import ABSENT, Absent, Content
from bassline.errors import PluginNotFound
from bassline.gadgets import get_gadget
from bassline.spec.builder_items import (
    bindings,
    boundary_of,
    contact_fields,
    fail,
    named,
    port_lattices,
    port_wire,
)
from bassline.spec.items import gadget_port_boundaries
from bassline.spec.load import parse_spec
from bassline.spec.model import Bassline, Boundary, WireType
from bassline.spec.parts import SEPARATOR

__all__ = ["ContactRef", "GroupRef", "Part", "SpecBuilder"]


@attrs.frozen
class ContactRef:
    """A handle to a contact of one part or spec (use it where that part or spec wires)."""

    owner: _Scope = attrs.field(eq=False, repr=False)
    id: str
    """The contact's id where it was added: inside a part, the id local to the part."""

    def __str__(self) -> str:
        return self.id


@attrs.frozen
class GroupRef:
    """A handle to a group: a plain group, a gadget group or an instance of a part.

    ``ports`` maps each port name of a gadget or part to its contact (``group["sum"]``).
    """

    owner: _Scope = attrs.field(eq=False, repr=False)
    id: str
    ports: Mapping[str, ContactRef] = attrs.field(factory=dict)
    gadget: str | None = None
    part: str | None = None

    def __getitem__(self, port: str) -> ContactRef:
        try:
            return self.ports[port]
        except KeyError:
            what = f"gadget {self.gadget!r}" if self.gadget else f"part {self.part!r}"
            listed = ", ".join(self.ports) or "none"
            raise KeyError(f"{self.id!r} ({what}) has no port {port!r} (ports: {listed})") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.ports)

    def __str__(self) -> str:
        return self.id


class _Scope:
    """What a part and a whole spec have in common: groups, contacts, wires, uses."""

    _base: str
    _what: str

    def __init__(self) -> None:
        self._groups: list[dict[str, Any]] = []
        self._contacts: list[dict[str, Any]] = []
        self._wires: list[dict[str, Any]] = []
        self._uses: list[dict[str, Any]] = []
        self._used: list[Part] = []
        self._group_ids: dict[str, str] = {}  # id -> the JSON path that added it
        self._contact_ids: dict[str, str] = {}
        self._instances: set[str] = set()
        self._gadgets: set[str] = set()

    # ------------------------------------------------------------------ checks

    def _claim_group(self, gid: str, path: str) -> None:
        self._check_free([gid], path)
        self._group_ids[gid] = path

    def _claim_contact(self, cid: str, path: str) -> None:
        self._check_free([cid], path)
        self._contact_ids[cid] = path

    def _check_free(self, ids: list[str], path: str) -> None:
        """Raise before anything is added if one of ``ids`` is taken (nothing half-added)."""
        for cid in ids:
            taken = self._contact_ids.get(cid) or self._group_ids.get(cid)
            if taken is not None:
                raise fail(f"{path}.id", f"{cid!r} is already used in {self._what} (at {taken})")

    def _mine(self, ref: Any, path: str) -> str:
        if not isinstance(ref, ContactRef):
            raise TypeError(f"{path}: expected a ContactRef (a handle), got {type(ref).__name__}")
        if ref.owner is not self:
            raise fail(
                path, f"contact {ref.id!r} belongs to {ref.owner._what}, not to {self._what}"
            )
        return ref.id

    def _group_id(self, ref: GroupRef | None, path: str, *, holds: str) -> str | None:
        if ref is None:
            return None
        if not isinstance(ref, GroupRef):
            raise TypeError(f"{path}: expected a GroupRef (a handle), got {type(ref).__name__}")
        if ref.owner is not self:
            raise fail(path, f"group {ref.id!r} belongs to {ref.owner._what}, not to {self._what}")
        if ref.id in self._instances:
            raise fail(
                path,
                f"{ref.id!r} is an instance of part {ref.part!r}: {holds} go in the part's "
                "definition instead",
            )
        if ref.id in self._gadgets:
            raise fail(path, f"group {ref.id!r} is a gadget and cannot contain {holds}")
        return ref.id

    def _targets(
        self,
        ports: Mapping[str, ContactRef | None] | None,
        more: Mapping[str, ContactRef | None],
        expected: Mapping[str, Any],
        where: str,
        port_path: Callable[[str], str],
    ) -> dict[str, str | None]:
        """Each port's bound contact id (or None), every port given once, every handle ours."""
        given = bindings(ports, more, expected, where)
        return {p: None if c is None else self._mine(c, port_path(p)) for p, c in given.items()}

    def _item(
        self, id: str, path: str, within: GroupRef | None, key: str, *, holds: str, **first: Any
    ) -> dict[str, Any]:
        """A new item ``{"id": id, **first}``, put in group ``within`` (checked) under ``key``."""
        item: dict[str, Any] = {"id": id, **first}
        group_id = self._group_id(within, f"{path}.{key}", holds=holds)
        if group_id is not None:
            item[key] = group_id
        return item

    # ------------------------------------------------------------------ adding things

    def group(
        self,
        id: str,
        *,
        parent: GroupRef | None = None,
        name: str | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> GroupRef:
        """Add a plain group (inside ``parent``, else at the top of this part or spec)."""
        path = f"{self._base}.groups[{len(self._groups)}]"
        item = named(self._item(id, path, parent, "parent", holds="groups"), name, attributes)
        self._claim_group(id, path)
        self._groups.append(item)
        return GroupRef(self, id)

    def contact(
        self,
        id: str,
        *,
        group: GroupRef | None = None,
        blend: str | None = None,
        lattice: str | None = None,
        boundary: str | Boundary | None = None,
        content: Content | Absent = ABSENT,
        name: str | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> ContactRef:
        """Add a contact (to ``group``, else to this part's or spec's own group).

        ``lattice`` makes it a merge contact; ``content`` is its initial content.
        """
        path = f"{self._base}.contacts[{len(self._contacts)}]"
        item = self._item(id, path, group, "group", holds="contacts")
        item |= contact_fields(
            blend=blend, lattice=lattice, boundary=boundary, content=content, path=path
        )
        named(item, name, attributes)
        self._claim_contact(id, path)
        self._contacts.append(item)
        return ContactRef(self, id)

    def wire(
        self,
        source: ContactRef,
        target: ContactRef,
        *,
        directed: bool = False,
        id: str | None = None,
    ) -> None:
        """Connect two contacts (both ways, or only ``source`` -> ``target`` if ``directed``,
        True or False: anything else is a TypeError)."""
        if type(directed) is not bool:
            raise TypeError(f"directed is True or False, not {directed!r:.80}")
        path = f"{self._base}.wires[{len(self._wires)}]"
        item: dict[str, Any] = {
            "from": self._mine(source, f"{path}.from"),
            "to": self._mine(target, f"{path}.to"),
        }
        if directed:
            item["type"] = WireType.DIRECTED.value
        if id is not None:
            item["id"] = id
        self._wires.append(item)

    def gadget(
        self,
        gadget: str,
        id: str,
        ports: Mapping[str, ContactRef | None] | None = None,
        /,
        *,
        parent: GroupRef | None = None,
        attributes: Mapping[str, Any] | None = None,
        lattice: str | Mapping[str, str] | None = None,
        **more: ContactRef | None,
    ) -> GroupRef:
        """Add a gadget group ``id`` with a contact ``ID.PORT`` for each port of ``gadget``.

        Every port must be given, wired to a contact or ``None`` (left unconnected: wire
        ``group[port]`` later). An input is wired from its contact, an output to its contact.
        Port contacts are ``accept-last``; ``lattice`` makes them merge contacts of that
        lattice (one name for every port, or a mapping port -> lattice for some), so a
        constraint's ports narrow (``interval``) instead of taking the latest value.
        """
        path = f"{self._base}.groups[{len(self._groups)}]"
        try:
            kind = get_gadget(gadget)
        except PluginNotFound as exc:
            raise fail(f"{path}.gadget", str(exc)) from None
        expected = gadget_port_boundaries(kind)
        where = f"{path} (gadget {gadget!r})"
        targets = self._targets(ports, more, expected, where, lambda p: f"{path}: port {p!r}")
        lattices = port_lattices(lattice, expected, f"{where}: lattice")
        item = self._item(id, path, parent, "parent", holds="groups", gadget=gadget)
        self._check_free([id, *(f"{id}.{port}" for port in expected)], path)
        self._claim_group(id, path)
        self._groups.append(named(item, None, attributes))
        self._gadgets.add(id)
        handles: dict[str, ContactRef] = {}
        for port, boundary in expected.items():
            cid = f"{id}.{port}"
            cpath = f"{self._base}.contacts[{len(self._contacts)}]"
            self._claim_contact(cid, cpath)
            contact = {"id": cid, "group": id, "name": port, "boundary": boundary.value}
            if port in lattices:
                contact["lattice"] = lattices[port]
            self._contacts.append(contact)
            handles[port] = ContactRef(self, cid)
            outer = targets[port]
            if outer is not None:
                self._wires.append(port_wire(outer, cid, boundary))
        return GroupRef(self, id, handles, gadget=gadget)

    def use(
        self,
        part: Part,
        id: str,
        ports: Mapping[str, ContactRef | None] | None = None,
        /,
        *,
        parent: GroupRef | None = None,
        name: str | None = None,
        attributes: Mapping[str, Any] | None = None,
        **more: ContactRef | None,
    ) -> GroupRef:
        """Add an instance ``id`` of ``part``; returns its group, whose ``[port]`` are handles.

        Every port of the part must be given: the contact it is wired to, or ``None`` to
        leave it unconnected (``instance[port]`` is its contact, to wire later). Ports can be
        given as a mapping (for names that are not Python identifiers) or as keywords.
        """
        path = f"{self._base}.uses[{len(self._uses)}]"
        if not isinstance(part, Part):
            raise TypeError(f"{path}: expected a Part, got {type(part).__name__}")
        if isinstance(self, Part) and (part is self or self in part.parts_used()):
            chain = [self.name] if part is self else part._chain_to(self)
            raise fail(
                f"{path}.part",
                f"part {self.name!r} would use itself: " + " -> ".join([self.name, *chain]),
            )
        where = f"{path} (part {part.name!r})"
        targets = self._targets(ports, more, part._ports, where, lambda p: f"{path}.ports.{p}")
        item = self._item(
            id, path, parent, "parent", holds="instances", part=part.name, ports=targets
        )
        self._check_free([id, *(id + SEPARATOR + port for port in part._ports)], path)
        self._claim_group(id, path)
        self._uses.append(named(item, name, attributes))
        self._used.append(part)
        self._instances.add(id)
        handles: dict[str, ContactRef] = {}
        for port in part._ports:
            cid = id + SEPARATOR + port
            self._claim_contact(cid, path)
            handles[port] = ContactRef(self, cid)
        return GroupRef(self, id, handles, part=part.name)

    # ------------------------------------------------------------------ output

    def _body(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, items in (
            ("groups", self._groups),
            ("contacts", self._contacts),
            ("wires", self._wires),
            ("uses", self._uses),
        ):
            if items:
                out[key] = [dict(item) for item in items]
        return out

    def parts_used(self) -> list[Part]:
        """Every part this one uses, directly or through others (each once)."""
        found: dict[int, Part] = {}
        todo = list(self._used)
        while todo:
            part = todo.pop()
            if id(part) not in found:
                found[id(part)] = part
                todo.extend(part._used)
        return list(found.values())


class Part(_Scope):
    """A compound part: define it once, then ``use`` it in a spec or in other parts.

    Inside a part every id is local: an instance ``k`` turns a contact ``x`` into ``k/x``.
    """

    def __init__(self, name: str, *, attributes: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.name = name
        self.attributes = dict(attributes or {})
        self._base = f"$.parts.{name}"
        self._what = f"part {name!r}"
        self._ports: dict[str, Boundary] = {}
        self._port_items: list[dict[str, Any]] = []

    def port(
        self,
        id: str,
        *,
        boundary: str | Boundary = Boundary.BOTH,
        blend: str | None = None,
        lattice: str | None = None,
        content: Content | Absent = ABSENT,
        attributes: Mapping[str, Any] | None = None,
    ) -> ContactRef:
        """Add a port: a contact on the part's boundary that each use wires to a contact.

        ``boundary`` is the port's direction: ``input`` (wired from outside), ``output``
        (wired to outside) or ``both`` (the default; a two-way wire).
        """
        path = f"{self._base}.ports[{len(self._port_items)}]"
        item: dict[str, Any] = {"id": id}
        direction = boundary_of(boundary, f"{path}.boundary")
        item |= contact_fields(
            blend=blend,
            lattice=lattice,
            boundary=None if direction is Boundary.BOTH else direction,  # the default
            content=content,
            path=path,
        )
        if attributes:
            item["attributes"] = dict(attributes)
        self._claim_contact(id, path)
        self._port_items.append(item)
        self._ports[id] = direction
        return ContactRef(self, id)

    @property
    def ports(self) -> dict[str, Boundary]:
        """Port name -> direction, in the order they were added."""
        return dict(self._ports)

    def _chain_to(self, target: Part) -> list[str]:
        """Names along a path of uses from this part to ``target`` (for the recursion error)."""
        for used in self._used:
            if used is target:
                return [self.name, target.name]
            rest = used._chain_to(target)
            if rest:
                return [self.name, *rest]
        return []

    def to_data(self) -> dict[str, Any]:
        """The part's definition in the JSON spec format (a value of ``parts``)."""
        out: dict[str, Any] = {}
        if self._port_items:
            out["ports"] = [dict(p) for p in self._port_items]
        out |= self._body()
        if self.attributes:
            out["attributes"] = dict(self.attributes)
        return out


class SpecBuilder(_Scope):
    """A whole spec written in Python: contacts, groups, gadgets, wires and uses of parts.

    ``build()`` returns the validated :class:`~bassline.spec.Bassline`, with every use
    expanded; handles' ``id`` are the ids of its contacts and groups.
    """

    def __init__(
        self, id: str = "network", *, version: str = "1", metadata: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__()
        self.id = id
        self.version = version
        self.metadata = dict(metadata or {})
        self._base = "$"
        self._what = f"spec {id!r}"
        self._endpoints: dict[str, dict[str, str]] = {}

    def endpoint(self, group: GroupRef, node: str, url: str = "") -> None:
        """Say which node runs ``group`` (any group: an instance, a gadget, a plain group)."""
        if not isinstance(group, GroupRef) or group.owner is not self:
            raise fail(f"$.endpoints.{group}", f"{group!r} is not a group of {self._what}")
        self._endpoints[group.id] = {"node": node, "url": url}

    def to_data(self) -> dict[str, Any]:
        """The spec in the JSON format, with ``parts`` (every part used, at any depth)."""
        parts: dict[str, Part] = {}
        for part in self.parts_used():
            other = parts.setdefault(part.name, part)
            if other is not part:
                raise fail(
                    f"$.parts.{part.name}",
                    f"two different parts are named {part.name!r}; give each its own name",
                )
        out: dict[str, Any] = {
            "format": "bassline/1",
            "id": self.id,
            "version": self.version,
        }
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        if parts:
            out["parts"] = {name: parts[name].to_data() for name in sorted(parts)}
        out |= self._body()
        if self._endpoints:
            out["endpoints"] = {g: dict(e) for g, e in self._endpoints.items()}
        return out

    def build(self) -> Bassline:
        """Validate and expand: the spec as :func:`bassline.load_spec` would load ``to_data()``."""
        return parse_spec(self.to_data())
