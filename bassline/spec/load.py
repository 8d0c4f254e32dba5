"""Loading and validating specs: every problem is reported at once, with its JSON path."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs
import orjson

from bassline.codec import from_json, parse_json, to_json
from bassline.content import ABSENT
from bassline.errors import ContentError, PluginNotFound, SpecError, SpecProblem
from bassline.gadgets import Gadget, get_gadget
from bassline.lattices import GrowSet, Interval, ShrinkSet, get_lattice
from bassline.plugins import closest
from bassline.spec.model import (
    ROOT_GROUP,
    Bassline,
    BlendMode,
    Boundary,
    ContactSpec,
    Endpoint,
    GroupSpec,
    WireSpec,
    WireType,
)
from bassline.spec.parts import SEPARATOR, PartTemplate
from bassline.spec.prototype import is_prototype_format, prototype_path, prototype_to_native

__all__ = [
    "ID_PATTERN",
    "MAX_EXPANDED",
    "MAX_ID_LENGTH",
    "MAX_WIRE_ID_LENGTH",
    "URL_PATTERN",
    "gadget_port_boundaries",
    "load_spec",
    "parse_spec",
    "validate_spec",
]

MAX_ID_LENGTH = 200
MAX_WIRE_ID_LENGTH = 2 * MAX_ID_LENGTH + 2
"""A wire id may be as long as the id a wire without one gets (``FROM->TO``), so the
canonical form, which writes every wire's id, always loads again."""
MAX_EXPANDED = 5_000_000
"""At most this many groups, contacts and wires come from the uses of parts in one spec (or
in one part's definition): a guard against definitions that double at every level."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_END = "(?![\\s\\S])"  # the end of the text in Python and ECMA-262 ('$' in Python also
# matches before a final newline, so a schema validator in Python would accept "id\n")
ID_PATTERN = "^[^\\u0000-\\u001f\\u007f]+" + _END
"""What an id looks like (used by the JSON Schema; the loader says which rule is broken)."""
URL_PATTERN = (
    "^(wss?|https?)://[^\\u0000-\\u0020\\u007f/?#]+([/?#][^\\u0000-\\u0020\\u007f]*)?" + _END
)
"""What an endpoint URL looks like (the JSON Schema uses the same pattern): a lower-case
ws, wss, http or https scheme, a host, no spaces or control characters."""
_URL = re.compile(URL_PATTERN)
_TOP_KEYS = {
    "format",
    "id",
    "version",
    "metadata",
    "groups",
    "contacts",
    "wires",
    "endpoints",
    "parts",
    "uses",
}
_GROUP_KEYS = {"id", "name", "parent", "gadget", "attributes"}
_CONTACT_KEYS = {"id", "group", "name", "blend", "lattice", "boundary", "content", "attributes"}
_PORT_KEYS = {"id", "blend", "lattice", "boundary", "content", "attributes"}
_PART_KEYS = {"ports", "groups", "contacts", "wires", "uses", "attributes"}
_USE_KEYS = {"id", "part", "parent", "name", "ports", "attributes"}
_WIRE_KEYS = {"id", "from", "to", "type"}
_ENDPOINT_KEYS = {"node", "url"}


def _is_text(value: str) -> bool:
    """Whether ``value`` is valid Unicode text (no lone surrogates, which JSON cannot hold)."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _type_name(value: Any) -> str:
    return {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "integer",
        float: "number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


class _Checker:
    def __init__(self) -> None:
        self.problems: list[SpecProblem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(SpecProblem(path, message))

    def unknown_keys(self, obj: Mapping[str, Any], allowed: set[str], path: str) -> None:
        for key in obj:
            if key not in allowed:
                hint = closest(str(key), sorted(allowed))
                extra = (
                    f"; did you mean {hint!r}?"
                    if hint
                    else f" (allowed: {', '.join(sorted(allowed))})"
                )
                self.add(f"{path}.{key}", f"unknown field{extra}")

    def ident(self, value: Any, path: str, limit: int = MAX_ID_LENGTH) -> str | None:
        if not isinstance(value, str):
            self.add(path, f"expected a string id, got {_type_name(value)}")
            return None
        if not value:
            self.add(path, "id must not be empty")
            return None
        if len(value) > limit:
            self.add(path, f"id is {len(value)} characters long (at most {limit})")
            return None
        if _CONTROL.search(value):
            self.add(path, "id must not contain control characters")
            return None
        if not _is_text(value):
            self.add(path, "id must be valid Unicode text (it contains a lone surrogate)")
            return None
        return value

    def string(self, value: Any, path: str, default: str = "") -> str:
        if value is None:
            return default
        if not isinstance(value, str):
            self.add(path, f"expected a string, got {_type_name(value)}")
            return default
        if not _is_text(value):
            self.add(path, "must be valid Unicode text (it contains a lone surrogate)")
            return default
        return value

    def json_object(self, value: Any, path: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.add(path, f"expected an object, got {_type_name(value)}")
            return {}
        try:
            decoded: dict[str, Any] = from_json(value)
            to_json(decoded)
        except ContentError as exc:
            self.add(path, str(exc))
            return {}
        return decoded

    def enum(self, cls: Any, value: Any, path: str, default: Any) -> Any:
        if value is None:
            return default
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(m.value for m in cls)
            self.add(path, f"unknown value {value!r} (expected one of: {allowed})")
            return default

    def items(self, data: Mapping[str, Any], key: str, base: str = "$") -> list[tuple[str, Any]]:
        raw = data.get(key)
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.add(f"{base}.{key}", f"expected an array, got {_type_name(raw)}")
            return []
        out = []
        for i, item in enumerate(raw):
            path = f"{base}.{key}[{i}]"
            if not isinstance(item, dict):
                self.add(path, f"expected an object, got {_type_name(item)}")
                continue
            out.append((path, item))
        return out


def _parse_groups(
    ck: _Checker, data: Mapping[str, Any], base: str = "$", *, in_part: bool = False
) -> dict[str, tuple[str, GroupSpec]]:
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
            ck.add(f"{path}.parent", f"unknown group {g.parent!r}" + _suggest(g.parent, groups))
        if g.parent is not None and g.parent in groups and groups[g.parent][1].gadget:
            ck.add(f"{path}.parent", f"group {g.parent!r} is a gadget and cannot contain groups")
    _check_tree(ck, groups)
    return groups


def _suggest(name: str, known: Mapping[str, Any]) -> str:
    hint = closest(name, list(known))
    return f"; did you mean {hint!r}?" if hint else ""


def _check_tree(ck: _Checker, groups: Mapping[str, tuple[str, GroupSpec]]) -> None:
    reported: set[str] = set()
    for gid in groups:
        seen: list[str] = []
        cur: str | None = gid
        while cur is not None and cur in groups and cur not in seen:
            seen.append(cur)
            cur = groups[cur][1].parent
        if cur is not None and cur in seen:
            cycle = seen[seen.index(cur) :]
            key = min(cycle)
            if key not in reported:
                reported.add(key)
                ck.add(
                    f"{groups[key][0]}.parent",
                    "groups form a cycle: " + " -> ".join([*cycle, cur]),
                )


def _parse_contacts(
    ck: _Checker,
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
            ck.add(f"{path}.group", f"unknown group {group!r}" + _suggest(group, groups))
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


def _check_content(ck: _Checker, content: Any, lattice: str | None, path: str) -> Any:
    try:
        content = from_json(content)
        to_json(content)
    except ContentError as exc:
        ck.add(path, str(exc))
        return ABSENT
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


def _check_gadget_ports(
    ck: _Checker,
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
                    f"(ports: {', '.join(gadget.ports)})" + _suggest(port, expected),
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


def _parse_wires(
    ck: _Checker,
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
                ck.add(f"{path}.{key}", f"unknown contact {cid!r}" + _suggest(cid, contacts))
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
        problem = _wire_scope_problem(contacts[source][1], contacts[target][1], groups)
        if problem:
            ck.add(path, problem)
        wires[wid] = (path, WireSpec(id=wid, source=source, target=target, type=wtype))
        if derived is not None and item.get("id") is None:
            derived.add(wid)
    return wires


def _wire_scope_problem(
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


def _parse_endpoints(
    ck: _Checker, data: Mapping[str, Any], groups: Mapping[str, tuple[str, GroupSpec]]
) -> dict[str, Endpoint]:
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
        ck.add("$.endpoints", f"expected an object (group id -> endpoint), got {_type_name(raw)}")
        return {}
    out: dict[str, Endpoint] = {}
    for gid, item in raw.items():
        path = f"$.endpoints.{gid}"
        if gid not in groups:
            ck.add(path, f"unknown group {gid!r}" + _suggest(gid, groups))
        if not isinstance(item, dict):
            ck.add(path, f"expected an object with 'node' and 'url', got {_type_name(item)}")
            continue
        ck.unknown_keys(item, _ENDPOINT_KEYS, path)
        node = ck.ident(item.get("node"), f"{path}.node")
        url = ck.string(item.get("url"), f"{path}.url")
        if url:
            problem = _url_problem(url)
            if problem:
                ck.add(f"{path}.url", problem)
        if node is not None:
            out[gid] = Endpoint(node=node, url=url)
    return out


def _url_problem(url: str) -> str | None:
    """Why ``url`` is not a usable endpoint URL, or None."""
    expected = f"expected a ws://, wss://, http:// or https:// URL, got {url!r}"
    if not _URL.match(url):
        return expected
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port that is not 0-65535)
    except ValueError as exc:
        return f"{expected}: {exc}"
    if not parts.hostname:
        return f"{expected}: no host"
    return None


def _check_prototype_keys(ck: _Checker, original: Mapping[str, Any]) -> None:
    """In the prototype's format an item's ``id`` is its key; a different id is a mistake."""
    for section in ("groups", "contacts", "wires"):
        items = original.get(section)
        if not isinstance(items, dict):
            continue
        for index, (key, item) in enumerate(items.items()):
            if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"] != key:
                ck.add(
                    f"$.{section}[{index}].id",
                    f"id {item['id']!r} does not match its key {key!r}",
                )


def _check_global_ids(
    ck: _Checker,
    groups: Mapping[str, tuple[str, GroupSpec]],
    contacts: Mapping[str, tuple[str, ContactSpec]],
) -> None:
    for cid, (path, _) in contacts.items():
        if cid in groups and cid != ROOT_GROUP:
            ck.add(f"{path}.id", f"contact id {cid!r} is also a group id")


# ------------------------------------------------------------------ compound parts


@attrs.define
class _Scope:
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


def _parse_scope(
    ck: _Checker,
    data: Mapping[str, Any],
    base: str,
    parts: Mapping[str, PartTemplate],
    *,
    in_part: bool,
) -> _Scope:
    """Parse one level: its groups, (ports,) contacts, uses of parts, then wires."""
    groups = _parse_groups(ck, data, base, in_part=in_part)
    contacts: dict[str, tuple[str, ContactSpec]] = {}
    ports: dict[str, Boundary] = {}
    if in_part:
        _parse_contacts(ck, data, groups, base, contacts, ports=True)
        ports = {cid: c.boundary or Boundary.BOTH for cid, (_, c) in contacts.items()}
    _parse_contacts(ck, data, groups, base, contacts)
    own = {gid for gid, (_, g) in groups.items() if g.gadget is not None}
    own.update(c.group for _, c in contacts.values())
    scope = _Scope(groups, contacts, {}, ports, set() if in_part else None)
    uses = _parse_uses(ck, data, base, groups, parts)
    for use in uses:
        _expand_use(ck, use, scope)
    _check_global_ids(ck, groups, contacts)
    _check_gadget_ports(ck, groups, contacts, only=own)  # what expanded was checked in its part
    for use in uses:
        _bind_use(ck, use, scope)
    _parse_wires(ck, data, groups, contacts, base, scope.wires, scope.derived)
    return scope


def _parse_uses(
    ck: _Checker,
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
                    ck.add(f"{path}.part", f"unknown part {name!r}" + _suggest(name, parts))
        parent = item.get("parent")
        parent = ROOT_GROUP if parent is None else ck.ident(parent, f"{path}.parent")
        if parent is not None and parent not in groups:
            ck.add(f"{path}.parent", f"unknown group {parent!r}" + _suggest(parent, groups))
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
                f"expected an object (port name -> contact id or null), got {_type_name(bindings)}",
            )
            bindings = None
        if uid is None or part is None:
            continue
        uses.append(_Use(path, uid, part, parent or ROOT_GROUP, label or uid, attributes, bindings))
    return uses


def _expand_use(ck: _Checker, use: _Use, scope: _Scope) -> None:
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


def _bind_use(ck: _Checker, use: _Use, scope: _Scope) -> None:
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
                + _suggest(port, part.ports),
            )
            continue
        if target is None:
            continue
        outer = ck.ident(target, path)
        if outer is None:
            continue
        if outer not in contacts:
            ck.add(path, f"unknown contact {outer!r}" + _suggest(outer, contacts))
            continue
        if not use.expanded:
            continue
        inner = use.id + SEPARATOR + port
        if outer == inner:
            ck.add(path, f"port {port!r} is bound to itself")
            continue
        boundary = part.ports[port]
        source, target_id = (inner, outer) if boundary is Boundary.OUTPUT else (outer, inner)
        kind = WireType.BIDIRECTIONAL if boundary is Boundary.BOTH else WireType.DIRECTED
        wid = f"{source}->{target_id}"
        if wid in wires:
            ck.add(path, f"duplicate wire id {wid!r} (first at {wires[wid][0]})")
            continue
        problem = _wire_scope_problem(contacts[source][1], contacts[target_id][1], scope.groups)
        if problem:
            ck.add(path, problem)
        wires[wid] = (path, WireSpec(id=wid, source=source, target=target_id, type=kind))
        if scope.derived is not None:
            scope.derived.add(wid)


def _part_order(
    ck: _Checker, uses_of: Mapping[str, list[tuple[str, str]]]
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


def _parse_parts(ck: _Checker, data: Mapping[str, Any]) -> dict[str, PartTemplate]:
    """Validate every part definition once (the parts it uses first) into a template."""
    raw = data.get("parts")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        ck.add("$.parts", f"expected an object (part name -> definition), got {_type_name(raw)}")
        return {}
    defs: dict[str, tuple[str, dict[str, Any]]] = {}
    for name, item in raw.items():
        path = f"$.parts.{name}"
        if ck.ident(name, path) is None:
            continue
        if not isinstance(item, dict):
            ck.add(path, f"expected an object (a part definition), got {_type_name(item)}")
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
            contacts = _parse_contacts(ck, item, root, path, ports=True)
            scope = _Scope(root, contacts, {}, {}, None)
            scope.ports = {cid: c.boundary or Boundary.BOTH for cid, (_, c) in contacts.items()}
        else:
            scope = _parse_scope(ck, item, path, templates, in_part=True)
        attributes = ck.json_object(item.get("attributes"), f"{path}.attributes")
        templates[name] = _template(
            name, scope, attributes, complete=name not in cyclic and len(ck.problems) == before
        )
    return templates


def _template(
    name: str, scope: _Scope, attributes: dict[str, Any], *, complete: bool
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


def parse_spec(data: Any, source: str | None = None, *, default_id: str = "network") -> Bassline:
    """Validate spec data (native or prototype format) and build the :class:`Bassline`.

    Raises :class:`~bassline.errors.SpecError` listing every problem with its JSON path.
    """
    ck = _Checker()
    if not isinstance(data, dict):
        raise SpecError([SpecProblem("$", f"expected an object, got {_type_name(data)}")], source)
    original = data
    prototype = is_prototype_format(data)
    if prototype:
        _check_prototype_keys(ck, data)
        data = prototype_to_native(data, default_id=default_id)
        for key in ("parts", "uses"):
            if key in data:
                ck.add(
                    f"$.{key}",
                    "parts need the native format (groups, contacts and wires as arrays, "
                    '"format": "bassline/1")',
                )
                del data[key]
    ck.unknown_keys(data, _TOP_KEYS, "$")
    fmt = data.get("format")
    if fmt is not None and fmt != "bassline/1":
        ck.add("$.format", f"unsupported format {fmt!r} (this version reads 'bassline/1')")
    spec_id = ck.ident(data.get("id", default_id), "$.id") or default_id
    version = data.get("version", "1")
    if isinstance(version, float) and version.is_integer():
        version = int(version)  # JSON Schema's "integer" includes 2.0
    if isinstance(version, int) and not isinstance(version, bool):
        version = str(version)
    version = ck.string(version, "$.version", "1") or "1"
    metadata = ck.json_object(data.get("metadata"), "$.metadata")
    parts = _parse_parts(ck, data)
    scope = _parse_scope(ck, data, "$", parts, in_part=False)
    groups, contacts, wires = scope.groups, scope.contacts, scope.wires
    endpoints = _parse_endpoints(ck, data, groups)
    if ck.problems:
        if prototype:
            ck.problems = [
                SpecProblem(prototype_path(p.path, original), p.message) for p in ck.problems
            ]
        raise SpecError(ck.problems, source)
    return Bassline(
        id=spec_id,
        version=version,
        groups=tuple(sorted((g for _, g in groups.values()), key=lambda g: g.id)),
        contacts=tuple(sorted((c for _, c in contacts.values()), key=lambda c: c.id)),
        wires=tuple(sorted((w for _, w in wires.values()), key=lambda w: w.id)),
        endpoints=endpoints,
        metadata=metadata,
    )


def _read(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SpecError([SpecProblem("$", "file not found")], str(path)) from None
    except OSError as exc:
        raise SpecError(
            [SpecProblem("$", f"cannot read file: {exc.strerror}")], str(path)
        ) from None
    try:
        return parse_json(raw)
    except orjson.JSONDecodeError as exc:
        raise SpecError([SpecProblem("$", f"not valid JSON: {exc}")], str(path)) from None


def load_spec(source: str | os.PathLike[str] | Mapping[str, Any] | Bassline) -> Bassline:
    """Load and validate a spec from a JSON file path or from already-parsed data.

    Both the native format and the prototype's network JSON format are accepted.
    Raises :class:`~bassline.errors.SpecError` with every problem found.
    """
    if isinstance(source, Bassline):
        return source
    if isinstance(source, Mapping):
        return parse_spec(dict(source))
    if not isinstance(source, str | os.PathLike):
        return parse_spec(source)  # not a path: reported as data that is not an object
    path = Path(source)
    return parse_spec(_read(path), str(path), default_id=path.stem or "network")


def validate_spec(source: str | os.PathLike[str] | Mapping[str, Any]) -> list[SpecProblem]:
    """Every problem in a spec (an empty list when it is valid)."""
    try:
        load_spec(source)
    except SpecError as exc:
        return list(exc.problems)
    return []
