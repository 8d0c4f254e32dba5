"""One level of a spec parsed (the top, or one part's definition), with uses of parts expanded.

:func:`parse_parts` validates every part definition once, the parts it uses first, into a
:class:`~bassline.spec.parts.PartTemplate`; :func:`parse_scope` parses a level's groups,
ports, contacts and wires and expands each use of a part into it (refusing ids that
collide), then wires each instance's ports to the contacts they are bound to.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from bassline.spec.checker import (
    MAX_ID_LENGTH,
    MAX_WIRE_ID_LENGTH,
    Checker,
    type_name,
)
from bassline.spec.items import (
    check_gadget_ports,
    check_global_ids,
    parse_contacts,
    parse_groups,
    parse_wires,
    wire_scope_problem,
)
from bassline.spec.model import ROOT_GROUP, Boundary, ContactSpec, GroupSpec, WireSpec, WireType
from bassline.spec.parts import SEPARATOR, PartTemplate

__all__ = ["MAX_EXPANDED", "Scope", "parse_parts", "parse_scope"]

MAX_EXPANDED = 5_000_000
"""At most this many groups, contacts and wires come from the uses of parts in one spec (or
in one part's definition): a guard against definitions that double at every level."""
_PART_KEYS = {"ports", "groups", "contacts", "wires", "uses", "attributes"}
_USE_KEYS = {"id", "part", "parent", "name", "ports", "attributes"}


@attrs.define
class Scope:
    """What one level of a spec (the top, or one part's definition) holds once parsed."""

    groups: dict[str, tuple[str, GroupSpec]]
    contacts: dict[str, tuple[str, ContactSpec]]
    wires: dict[str, tuple[str, WireSpec]]
    ports: dict[str, Boundary]
    derived: set[str] | None
    """Ids of wires whose id was derived from their ends (tracked inside parts only)."""
    expanded: int = 0
    """How many groups, contacts and wires the uses at this level expanded into."""


@attrs.define
class _Use:
    """One use of a part, validated as far as it can be before it expands."""

    path: str
    id: str
    part: PartTemplate
    parent: str
    name: str
    attributes: dict[str, Any]
    bindings: dict[str, Any] | None
    """Port name -> contact id (or None); None when ``ports`` was not an object."""
    expanded: bool = False


def parse_scope(
    ck: Checker,
    data: Mapping[str, Any],
    base: str,
    parts: Mapping[str, PartTemplate],
    *,
    in_part: bool,
) -> Scope:
    """Parse one level: its groups, (ports,) contacts, uses of parts, then wires."""
    groups = parse_groups(ck, data, base, in_part=in_part)
    contacts: dict[str, tuple[str, ContactSpec]] = {}
    ports: dict[str, Boundary] = {}
    if in_part:
        parse_contacts(ck, data, groups, base, contacts, ports=True)
        ports = {cid: c.boundary or Boundary.BOTH for cid, (_, c) in contacts.items()}
    parse_contacts(ck, data, groups, base, contacts)
    own = {gid for gid, (_, g) in groups.items() if g.gadget is not None}
    own.update(c.group for _, c in contacts.values())
    scope = Scope(groups, contacts, {}, ports, set() if in_part else None)
    uses = _parse_uses(ck, data, base, groups, parts)
    for use in uses:
        _expand_use(ck, use, scope)
    check_global_ids(ck, groups, contacts)
    check_gadget_ports(ck, groups, contacts, only=own)  # what expanded was checked in its part
    for use in uses:
        _bind_use(ck, use, scope)
    parse_wires(ck, data, groups, contacts, base, scope.wires, scope.derived)
    return scope


def _parse_uses(
    ck: Checker,
    data: Mapping[str, Any],
    base: str,
    groups: Mapping[str, tuple[str, GroupSpec]],
    parts: Mapping[str, PartTemplate],
) -> list[_Use]:
    uses: list[_Use] = []
    for path, item in ck.items(data, "uses", base):
        ck.unknown_keys(item, _USE_KEYS, path)
        uid = ck.ident(item.get("id"), f"{path}.id")
        part: PartTemplate | None = None
        if "part" not in item:
            ck.add(path, "missing 'part' (the name of the part to use)")
        else:
            name = ck.ident(item["part"], f"{path}.part")
            if name is not None:
                part = parts.get(name)
                if part is None:
                    ck.add(f"{path}.part", f"unknown part {name!r}" + ck.suggest(name, parts))
        parent = item.get("parent")
        parent = ROOT_GROUP if parent is None else ck.ident(parent, f"{path}.parent")
        if parent is not None and parent not in groups:
            ck.add(f"{path}.parent", f"unknown group {parent!r}" + ck.suggest(parent, groups))
            parent = None
        elif parent is not None and groups[parent][1].gadget:
            ck.add(f"{path}.parent", f"group {parent!r} is a gadget and cannot contain groups")
            parent = None
        label = ck.string(item.get("name"), f"{path}.name", uid or "")
        attributes = ck.json_object(item.get("attributes"), f"{path}.attributes")
        bindings = item.get("ports")
        if bindings is None:
            bindings = {}
        elif not isinstance(bindings, dict):
            ck.add(
                f"{path}.ports",
                f"expected an object (port name -> contact id or null), got {type_name(bindings)}",
            )
            bindings = None
        if uid is None or part is None:
            continue
        uses.append(_Use(path, uid, part, parent or ROOT_GROUP, label or uid, attributes, bindings))
    return uses


def _expand_use(ck: Checker, use: _Use, scope: Scope) -> None:
    """Add the groups, contacts and wires of one instance, refusing ids that collide."""
    part = use.part
    prefix = len(use.id) + len(SEPARATOR)
    for longest, limit, what in (
        (prefix + part.longest_id, MAX_ID_LENGTH, "ids"),
        (prefix + part.longest_wire_id, MAX_WIRE_ID_LENGTH, "wire ids"),
    ):
        if longest > limit:
            ck.add(
                f"{use.path}.id",
                f"{what} inside this instance of part {part.name!r} would be up to {longest} "
                f"characters long (at most {limit}); shorten the instance id or the part's ids",
            )
            return
    if scope.expanded + part.size > MAX_EXPANDED:
        ck.add(
            use.path,
            f"the uses of parts here expand to more than {MAX_EXPANDED:,} groups, contacts "
            "and wires (does a part use another part many times at every level?)",
        )
        return
    scope.expanded += part.size
    made = part.instantiate(use.id, use.parent, name=use.name, attributes=use.attributes)
    path = use.path
    groups, contacts, wires, derived = scope.groups, scope.contacts, scope.wires, scope.derived
    clashes: list[str] = []
    for g in (made.group, *made.groups):
        if g.id in groups:
            clashes.append(f"group {g.id!r} (already at {groups[g.id][0]})")
        else:
            groups[g.id] = (path, g)
    for c in made.contacts:
        if c.id in contacts:
            clashes.append(f"contact {c.id!r} (already at {contacts[c.id][0]})")
        else:
            contacts[c.id] = (path, c)
    for w, was_derived in zip(made.wires, made.derived, strict=True):
        if w.id in wires:
            clashes.append(f"wire {w.id!r} (already at {wires[w.id][0]})")
        else:
            wires[w.id] = (path, w)
            if was_derived and derived is not None:
                derived.add(w.id)
    if clashes:
        more = f", and {len(clashes) - 3} more" if len(clashes) > 3 else ""
        ck.add(
            f"{path}.id",
            f"this instance of part {part.name!r} expands to ids that are already taken: "
            + ", ".join(clashes[:3])
            + more,
        )
        return
    use.expanded = True


def _bind_use(ck: Checker, use: _Use, scope: Scope) -> None:
    """Wire each port of an instance to the contact it is bound to (by the port's direction)."""
    part, bindings = use.part, use.bindings
    if bindings is None:
        return
    missing = [p for p in part.ports if p not in bindings]
    if missing:
        ck.add(
            f"{use.path}.ports",
            f"missing port(s) {', '.join(missing)} of part {part.name!r} (bind every port "
            "to a contact id, or to null to leave it unconnected)",
        )
    contacts, wires = scope.contacts, scope.wires
    for port, target in bindings.items():
        path = f"{use.path}.ports.{port}"
        if port not in part.ports:
            listed = ", ".join(part.ports) or "none"
            ck.add(
                path,
                f"part {part.name!r} has no port {port!r} (ports: {listed})"
                + ck.suggest(port, part.ports),
            )
            continue
        if target is None:
            continue
        outer = ck.ident(target, path)
        if outer is None:
            continue
        if outer not in contacts:
            ck.add(path, f"unknown contact {outer!r}" + ck.suggest(outer, contacts))
            continue
        if not use.expanded:
            continue
        inner = use.id + SEPARATOR + port
        if outer == inner:
            ck.add(path, f"port {port!r} is bound to itself")
            continue
        if _inside(contacts[outer][1].group, use.id, scope.groups):
            ck.add(
                path,
                f"contact {outer!r} is inside this instance: bind a port to a contact of "
                f"the level the use is written in (group {use.parent!r}, or another "
                "instance's port)",
            )
            continue
        boundary = part.ports[port]
        source, target_id = (inner, outer) if boundary is Boundary.OUTPUT else (outer, inner)
        kind = WireType.BIDIRECTIONAL if boundary is Boundary.BOTH else WireType.DIRECTED
        wid = f"{source}->{target_id}"
        if wid in wires:
            ck.add(path, f"duplicate wire id {wid!r} (first at {wires[wid][0]})")
            continue
        problem = wire_scope_problem(contacts[source][1], contacts[target_id][1], scope.groups)
        if problem:
            ck.add(path, problem)
        wires[wid] = (path, WireSpec(id=wid, source=source, target=target_id, type=kind))
        if scope.derived is not None:
            scope.derived.add(wid)


def _inside(group: str, instance: str, groups: Mapping[str, tuple[str, GroupSpec]]) -> bool:
    """Whether ``group`` is the instance's group or one below it."""
    seen: set[str] = set()
    at: str | None = group
    while at is not None and at not in seen:
        if at == instance:
            return True
        seen.add(at)
        entry = groups.get(at)
        at = None if entry is None else entry[1].parent
    return False


def _part_order(
    ck: Checker, uses_of: Mapping[str, list[tuple[str, str]]]
) -> tuple[list[str], set[str]]:
    """Parts in an order where each comes after the parts it uses; and the recursive ones.

    A part that uses itself, directly or through others, is reported once per cycle at the
    use that closes it.
    """
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    order: list[str] = []
    cyclic: set[str] = set()
    for start in uses_of:
        if start in state:
            continue
        state[start] = 1
        path = [start]
        stack = [iter(uses_of[start])]
        while stack:
            for use_path, used in stack[-1]:
                seen = state.get(used)
                if seen is None:
                    state[used] = 1
                    path.append(used)
                    stack.append(iter(uses_of[used]))
                    break
                if seen == 1:
                    cycle = path[path.index(used) :]
                    cyclic.update(cycle)
                    ck.add(
                        f"{use_path}.part",
                        f"part {used!r} uses itself: " + " -> ".join([*cycle, used]),
                    )
            else:
                stack.pop()
                done = path.pop()
                state[done] = 2
                order.append(done)
    return order, cyclic


def parse_parts(ck: Checker, data: Mapping[str, Any]) -> dict[str, PartTemplate]:
    """Validate every part definition once (the parts it uses first) into a template."""
    raw = data.get("parts")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        ck.add("$.parts", f"expected an object (part name -> definition), got {type_name(raw)}")
        return {}
    defs: dict[str, tuple[str, dict[str, Any]]] = {}
    for name, item in raw.items():
        path = f"$.parts.{name}"
        if ck.ident(name, path) is None:
            continue
        if not isinstance(item, dict):
            ck.add(path, f"expected an object (a part definition), got {type_name(item)}")
            continue
        ck.unknown_keys(item, _PART_KEYS, path)
        defs[name] = (path, item)
    uses_of: dict[str, list[tuple[str, str]]] = {}
    for name, (path, item) in defs.items():
        uses = item.get("uses")
        found = uses if isinstance(uses, list) else []
        uses_of[name] = [
            (f"{path}.uses[{i}]", u["part"])
            for i, u in enumerate(found)
            if isinstance(u, dict) and isinstance(u.get("part"), str) and u["part"] in defs
        ]
    order, cyclic = _part_order(ck, uses_of)
    templates: dict[str, PartTemplate] = {}
    for name in order:
        path, item = defs[name]
        before = len(ck.problems)
        if name in cyclic:  # its ports still let the rest of the spec be checked
            root = {ROOT_GROUP: (f"{path}.groups", GroupSpec(id=ROOT_GROUP, name=ROOT_GROUP))}
            contacts = parse_contacts(ck, item, root, path, ports=True)
            scope = Scope(root, contacts, {}, {}, None)
            scope.ports = {cid: c.boundary or Boundary.BOTH for cid, (_, c) in contacts.items()}
        else:
            scope = parse_scope(ck, item, path, templates, in_part=True)
        attributes = ck.json_object(item.get("attributes"), f"{path}.attributes")
        templates[name] = _template(
            name, scope, attributes, complete=name not in cyclic and len(ck.problems) == before
        )
    return templates


def _template(
    name: str, scope: Scope, attributes: dict[str, Any], *, complete: bool
) -> PartTemplate:
    """A part's parsed level as a template; only its ports when it had problems."""
    contacts = [c if c.name else attrs.evolve(c, name=c.id) for _, c in scope.contacts.values()]
    if not complete:
        return PartTemplate(
            name=name,
            ports=scope.ports,
            groups=(),
            contacts=tuple(c for c in contacts if c.id in scope.ports),
            wires=(),
            derived=(),
            attributes=attributes,
            complete=False,
        )
    wires = tuple(w for _, w in scope.wires.values())
    derived = scope.derived or set()
    return PartTemplate(
        name=name,
        ports=scope.ports,
        groups=tuple(g for gid, (_, g) in scope.groups.items() if gid != ROOT_GROUP),
        contacts=tuple(contacts),
        wires=wires,
        derived=tuple(w.id in derived for w in wires),
        attributes=attributes,
        complete=True,
    )
