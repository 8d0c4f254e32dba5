"""Parsing a spec's items: groups, contacts (and a part's ports), wires and endpoints.

Each ``parse_*`` reads one array (or object) of spec data into items keyed by id, each
with the JSON path it came from, and reports what is wrong through a
:class:`~bassline.spec.checker.Checker`; the checks that span items (the group tree,
gadget ports, where a wire may go) are here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bassline.codec import from_json, to_json
from bassline.content import ABSENT, lists_for_tuples
from bassline.errors import ContentError, PluginNotFound
from bassline.gadgets import Gadget, get_gadget
from bassline.lattices import GrowSet, Interval, ShrinkSet, get_lattice
from bassline.spec.checker import MAX_WIRE_ID_LENGTH, Checker, type_name, url_problem
from bassline.spec.model import (
    ROOT_GROUP,
    BlendMode,
    Boundary,
    ContactSpec,
    Endpoint,
    GroupSpec,
    WireSpec,
    WireType,
)

__all__ = [
    "check_gadget_ports",
    "check_global_ids",
    "gadget_port_boundaries",
    "parse_contacts",
    "parse_endpoints",
    "parse_groups",
    "parse_wires",
    "wire_scope_problem",
]

_GROUP_KEYS = {"id", "name", "parent", "gadget", "attributes"}
_CONTACT_KEYS = {"id", "group", "name", "blend", "lattice", "boundary", "content", "attributes"}
_PORT_KEYS = {"id", "blend", "lattice", "boundary", "content", "attributes"}
_WIRE_KEYS = {"id", "from", "to", "type"}
_ENDPOINT_KEYS = {"node", "url"}


def parse_groups(
    ck: Checker, data: Mapping[str, Any], base: str = "$", *, in_part: bool = False
) -> dict[str, tuple[str, GroupSpec]]:
    """Parse ``groups`` (a ``root`` group is added if missing) and check their tree."""
    groups: dict[str, tuple[str, GroupSpec]] = {}
    for path, item in ck.items(data, "groups", base):
        ck.unknown_keys(item, _GROUP_KEYS, path)
        gid = ck.ident(item.get("id"), f"{path}.id")
        if gid is None:
            continue
        if in_part and gid == ROOT_GROUP:
            ck.add(
                f"{path}.id",
                "inside a part, 'root' is the part's own group (each instance's group); "
                "give it attributes with the part's 'attributes'",
            )
            continue
        if gid in groups:
            ck.add(f"{path}.id", f"duplicate group id {gid!r} (first at {groups[gid][0]})")
            continue
        parent = item.get("parent")
        if parent is not None:
            parent = ck.ident(parent, f"{path}.parent")
        elif gid != ROOT_GROUP:
            parent = ROOT_GROUP
        gadget = item.get("gadget")
        if gadget is not None:
            gadget = ck.ident(gadget, f"{path}.gadget")
            if gadget is not None:
                try:
                    get_gadget(gadget)
                except PluginNotFound as exc:
                    ck.add(f"{path}.gadget", str(exc))
        groups[gid] = (
            path,
            GroupSpec(
                id=gid,
                name=ck.string(item.get("name"), f"{path}.name", gid),
                parent=parent,
                gadget=gadget,
                attributes=ck.json_object(item.get("attributes"), f"{path}.attributes"),
            ),
        )
    if ROOT_GROUP not in groups:
        groups[ROOT_GROUP] = (f"{base}.groups", GroupSpec(id=ROOT_GROUP, name=ROOT_GROUP))
    elif groups[ROOT_GROUP][1].parent is not None:
        ck.add(f"{groups[ROOT_GROUP][0]}.parent", "the root group cannot have a parent")
    for path, g in groups.values():
        if g.parent is not None and g.parent not in groups:
            ck.add(f"{path}.parent", f"unknown group {g.parent!r}" + ck.suggest(g.parent, groups))
        if g.parent is not None and g.parent in groups and groups[g.parent][1].gadget:
            ck.add(f"{path}.parent", f"group {g.parent!r} is a gadget and cannot contain groups")
    _check_tree(ck, groups)
    return groups


def _check_tree(ck: Checker, groups: Mapping[str, tuple[str, GroupSpec]]) -> None:
    """Report each cycle of parents once. Every group is walked up only until a group
    already walked (whose ancestry is known), so a chain of n nested groups takes n steps,
    not n * depth (a list membership test made it n * depth**2: 14 s for 1,600 levels)."""
    reported: set[str] = set()
    walked: set[str] = set()
    for gid in groups:
        seen: dict[str, int] = {}  # this walk's groups, in order
        cur: str | None = gid
        while cur is not None and cur in groups and cur not in walked and cur not in seen:
            seen[cur] = len(seen)
            cur = groups[cur][1].parent
        if cur is not None and cur in seen:
            cycle = list(seen)[seen[cur] :]
            key = min(cycle)
            if key not in reported:
                reported.add(key)
                ck.add(
                    f"{groups[key][0]}.parent",
                    "groups form a cycle: " + " -> ".join([*cycle, cur]),
                )
        walked.update(seen)


def parse_contacts(
    ck: Checker,
    data: Mapping[str, Any],
    groups: Mapping[str, tuple[str, GroupSpec]],
    base: str = "$",
    into: dict[str, tuple[str, ContactSpec]] | None = None,
    *,
    ports: bool = False,
) -> dict[str, tuple[str, ContactSpec]]:
    """Parse ``contacts`` (or, with ``ports``, a part's ``ports``: contacts of the part's
    own group, on its boundary) into ``into``."""
    contacts: dict[str, tuple[str, ContactSpec]] = {} if into is None else into
    for path, item in ck.items(data, "ports" if ports else "contacts", base):
        ck.unknown_keys(item, _PORT_KEYS if ports else _CONTACT_KEYS, path)
        cid = ck.ident(item.get("id"), f"{path}.id")
        if cid is None:
            continue
        if cid in contacts:
            ck.add(f"{path}.id", f"duplicate contact id {cid!r} (first at {contacts[cid][0]})")
            continue
        group = ROOT_GROUP if ports else item.get("group", ROOT_GROUP)
        group = ck.ident(group, f"{path}.group") or ROOT_GROUP
        if group not in groups:
            ck.add(f"{path}.group", f"unknown group {group!r}" + ck.suggest(group, groups))
        lattice = item.get("lattice")
        default_blend = BlendMode.MERGE if lattice is not None else BlendMode.ACCEPT_LAST
        blend = ck.enum(BlendMode, item.get("blend"), f"{path}.blend", default_blend)
        if lattice is not None:
            lattice = ck.ident(lattice, f"{path}.lattice")
            if lattice is not None and blend is not BlendMode.MERGE:
                ck.add(f"{path}.lattice", "a lattice needs blend 'merge'")
            if lattice is not None:
                try:
                    get_lattice(lattice)
                except PluginNotFound as exc:
                    ck.add(f"{path}.lattice", str(exc))
                    lattice = None
        elif blend is BlendMode.MERGE:
            lattice = "defined"
        content = item.get("content", ABSENT)
        if content is not ABSENT:
            content = _check_content(ck, content, lattice, f"{path}.content")
        contacts[cid] = (
            path,
            ContactSpec(
                id=cid,
                group=group,
                name=ck.string(item.get("name"), f"{path}.name", ""),
                blend=blend,
                lattice=lattice,
                boundary=ck.enum(
                    Boundary,
                    item.get("boundary"),
                    f"{path}.boundary",
                    Boundary.BOTH if ports else None,
                ),
                content=content,
                attributes=ck.json_object(item.get("attributes"), f"{path}.attributes"),
            ),
        )
    return contacts


def _check_content(ck: Checker, content: Any, lattice: str | None, path: str) -> Any:
    try:
        content = from_json(content)
        to_json(content)
    except ContentError as exc:
        ck.add(path, str(exc))
        return ABSENT
    content = lists_for_tuples(content)  # held as a JSON spec gives it (D69)
    empty = _empty_interval(content)
    if empty is not None:
        ck.add(path, empty)
        return ABSENT
    if lattice is None:
        return content
    try:
        return get_lattice(lattice).coerce(content)
    except PluginNotFound:
        return ABSENT
    except (ValueError, TypeError) as exc:
        ck.add(path, f"not a valid {lattice} value: {exc}")
        return ABSENT


def _empty_interval(value: Any, where: str = "") -> str | None:
    """Why ``value`` is not content: it holds an empty interval (lo > hi). None if it does not.

    ``Interval`` itself allows empty values (an intersection may be one, which the interval
    lattice reports as a contradiction), so a tagged ``{"$type": "interval", "value": [3, 1]}``
    decodes; as initial content it is a mistake, whichever lattice the contact has.
    """
    if isinstance(value, Interval):
        if value.empty:
            at = f" at {where}" if where else ""
            return f"the interval [{value.lo}, {value.hi}] is empty (lo > hi){at}"
        return None
    if isinstance(value, list | GrowSet | ShrinkSet):
        for i, item in enumerate(value):
            found = _empty_interval(item, f"{where}[{i}]")
            if found:
                return found
    elif isinstance(value, Mapping):
        for key, item in value.items():
            found = _empty_interval(item, f"{where}.{key}")
            if found:
                return found
    return None


def gadget_port_boundaries(gadget: Gadget) -> dict[str, Boundary]:
    """The boundary each port contact of a ``gadget`` group must have, in port order.

    A port the gadget both reads and writes (a constraint's) is ``both``.
    """
    expected = {p: Boundary.INPUT for p in gadget.inputs}
    expected |= {p: Boundary.OUTPUT for p in gadget.outputs}
    expected |= {p: Boundary.BOTH for p in gadget.two_way}
    return {p: expected[p] for p in gadget.ports}


def check_gadget_ports(
    ck: Checker,
    groups: Mapping[str, tuple[str, GroupSpec]],
    contacts: Mapping[str, tuple[str, ContactSpec]],
    only: set[str] | None = None,
) -> None:
    """Every gadget group (or those in ``only``) has one contact per port, rightly directed."""
    members_of: dict[str, list[tuple[str, str, ContactSpec]]] = {
        gid: []
        for gid, (_, g) in groups.items()
        if g.gadget is not None and (only is None or gid in only)
    }
    for cid, (cpath, c) in contacts.items():  # one pass: linear in the spec's size
        members = members_of.get(c.group)
        if members is not None:
            members.append((cid, cpath, c))
    for gid, members in members_of.items():
        gpath, g = groups[gid]
        try:
            gadget = get_gadget(g.gadget or "")
        except PluginNotFound:
            continue
        expected = gadget_port_boundaries(gadget)
        seen: dict[str, str] = {}
        for cid, cpath, c in members:
            port = c.port
            if port not in expected:
                ck.add(
                    f"{cpath}.name",
                    f"{port!r} is not a port of gadget {g.gadget!r} "
                    f"(ports: {', '.join(gadget.ports)})" + ck.suggest(port, expected),
                )
                continue
            if port in seen:
                ck.add(
                    f"{cpath}.name",
                    f"port {port!r} of group {gid!r} already used by {seen[port]!r}",
                )
                continue
            seen[port] = cid
            if c.boundary is not expected[port]:
                ck.add(
                    f"{cpath}.boundary",
                    f"port {port!r} of gadget {g.gadget!r} must have boundary "
                    f"{expected[port].value!r}",
                )
        missing = [p for p in gadget.ports if p not in seen]
        if missing:
            ck.add(
                gpath,
                f"gadget group {gid!r} ({g.gadget}) has no contact for port(s) {', '.join(missing)}",
            )


def parse_wires(
    ck: Checker,
    data: Mapping[str, Any],
    groups: Mapping[str, tuple[str, GroupSpec]],
    contacts: Mapping[str, tuple[str, ContactSpec]],
    base: str = "$",
    into: dict[str, tuple[str, WireSpec]] | None = None,
    derived: set[str] | None = None,
) -> dict[str, tuple[str, WireSpec]]:
    """Parse ``wires`` into ``into``; the ids of wires without one go into ``derived``."""
    wires: dict[str, tuple[str, WireSpec]] = {} if into is None else into
    for path, item in ck.items(data, "wires", base):
        ck.unknown_keys(item, _WIRE_KEYS, path)
        ends: list[str | None] = []
        for key in ("from", "to"):
            if key not in item:
                ck.add(path, f"missing {key!r}")
                ends.append(None)
                continue
            cid = ck.ident(item[key], f"{path}.{key}")
            if cid is not None and cid not in contacts:
                ck.add(f"{path}.{key}", f"unknown contact {cid!r}" + ck.suggest(cid, contacts))
                cid = None
            ends.append(cid)
        wtype = ck.enum(WireType, item.get("type"), f"{path}.type", WireType.BIDIRECTIONAL)
        source, target = ends
        wid = item.get("id")
        if wid is None and source is not None and target is not None:
            wid = f"{source}->{target}"
        elif wid is not None:
            wid = ck.ident(wid, f"{path}.id", MAX_WIRE_ID_LENGTH)
        if source is None or target is None or wid is None:
            continue
        if source == target:
            ck.add(path, f"wire connects contact {source!r} to itself")
            continue
        if wid in wires:
            ck.add(f"{path}.id", f"duplicate wire id {wid!r} (first at {wires[wid][0]})")
            continue
        problem = wire_scope_problem(contacts[source][1], contacts[target][1], groups)
        if problem:
            ck.add(path, problem)
        wires[wid] = (path, WireSpec(id=wid, source=source, target=target, type=wtype))
        if derived is not None and item.get("id") is None:
            derived.add(wid)
    return wires


def wire_scope_problem(
    a: ContactSpec, b: ContactSpec, groups: Mapping[str, tuple[str, GroupSpec]]
) -> str | None:
    """Wires stay within a group, or join a group to its children's or siblings' boundaries."""
    if a.group == b.group or a.group not in groups or b.group not in groups:
        return None
    ga, gb = groups[a.group][1], groups[b.group][1]
    if gb.parent == ga.id:
        return None if b.boundary else f"{b.id!r} must be a boundary contact of group {gb.id!r}"
    if ga.parent == gb.id:
        return None if a.boundary else f"{a.id!r} must be a boundary contact of group {ga.id!r}"
    if ga.parent == gb.parent:
        not_boundary = [c.id for c in (a, b) if not c.boundary]
        if not_boundary:
            return f"wires between sibling groups join boundary contacts; {not_boundary} are not"
        return None
    return (
        f"a wire from group {ga.id!r} to group {gb.id!r} crosses more than one level; "
        "wire through the boundary contacts of the groups in between"
    )


def parse_endpoints(
    ck: Checker, data: Mapping[str, Any], groups: Mapping[str, tuple[str, GroupSpec]]
) -> dict[str, Endpoint]:
    """Parse ``endpoints``: which node runs each group, and at what URL."""
    raw = data.get("endpoints")
    if raw is None:
        return {}
    if isinstance(raw, dict):
        try:
            raw = from_json(raw)  # a group called "$type" is escaped in canonical JSON
        except ContentError as exc:
            ck.add("$.endpoints", str(exc))
            return {}
    if not isinstance(raw, dict):
        ck.add("$.endpoints", f"expected an object (group id -> endpoint), got {type_name(raw)}")
        return {}
    out: dict[str, Endpoint] = {}
    for gid, item in raw.items():
        path = f"$.endpoints.{gid}"
        if gid not in groups:
            ck.add(path, f"unknown group {gid!r}" + ck.suggest(gid, groups))
        if not isinstance(item, dict):
            ck.add(path, f"expected an object with 'node' and 'url', got {type_name(item)}")
            continue
        ck.unknown_keys(item, _ENDPOINT_KEYS, path)
        node = ck.ident(item.get("node"), f"{path}.node")
        url = ck.string(item.get("url"), f"{path}.url")
        if url:
            problem = url_problem(url)
            if problem:
                ck.add(f"{path}.url", problem)
        if node is not None:
            out[gid] = Endpoint(node=node, url=url)
    return out


def check_global_ids(
    ck: Checker,
    groups: Mapping[str, tuple[str, GroupSpec]],
    contacts: Mapping[str, tuple[str, ContactSpec]],
) -> None:
    """A contact id may not also be a group id (except ``root``)."""
    for cid, (path, _) in contacts.items():
        if cid in groups and cid != ROOT_GROUP:
            ck.add(f"{path}.id", f"contact id {cid!r} is also a group id")
