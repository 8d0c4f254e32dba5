"""Loading and validating specs: every problem is reported at once, with its JSON path."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from bassline.codec import from_json, parse_json, to_json
from bassline.content import ABSENT
from bassline.errors import ContentError, PluginNotFound, SpecError, SpecProblem
from bassline.gadgets import get_gadget
from bassline.lattices import get_lattice
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
from bassline.spec.prototype import is_prototype_format, prototype_path, prototype_to_native

__all__ = ["ID_PATTERN", "MAX_ID_LENGTH", "URL_PATTERN", "load_spec", "parse_spec", "validate_spec"]

MAX_ID_LENGTH = 200
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
_TOP_KEYS = {"format", "id", "version", "metadata", "groups", "contacts", "wires", "endpoints"}
_GROUP_KEYS = {"id", "name", "parent", "gadget", "attributes"}
_CONTACT_KEYS = {"id", "group", "name", "blend", "lattice", "boundary", "content", "attributes"}
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

    def ident(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str):
            self.add(path, f"expected a string id, got {_type_name(value)}")
            return None
        if not value:
            self.add(path, "id must not be empty")
            return None
        if len(value) > MAX_ID_LENGTH:
            self.add(path, f"id is {len(value)} characters long (at most {MAX_ID_LENGTH})")
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

    def items(self, data: Mapping[str, Any], key: str) -> list[tuple[str, Any]]:
        raw = data.get(key)
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.add(f"$.{key}", f"expected an array, got {_type_name(raw)}")
            return []
        out = []
        for i, item in enumerate(raw):
            path = f"$.{key}[{i}]"
            if not isinstance(item, dict):
                self.add(path, f"expected an object, got {_type_name(item)}")
                continue
            out.append((path, item))
        return out


def _parse_groups(ck: _Checker, data: Mapping[str, Any]) -> dict[str, tuple[str, GroupSpec]]:
    groups: dict[str, tuple[str, GroupSpec]] = {}
    for path, item in ck.items(data, "groups"):
        ck.unknown_keys(item, _GROUP_KEYS, path)
        gid = ck.ident(item.get("id"), f"{path}.id")
        if gid is None:
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
        groups[ROOT_GROUP] = ("$.groups", GroupSpec(id=ROOT_GROUP, name=ROOT_GROUP))
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
    ck: _Checker, data: Mapping[str, Any], groups: Mapping[str, tuple[str, GroupSpec]]
) -> dict[str, tuple[str, ContactSpec]]:
    contacts: dict[str, tuple[str, ContactSpec]] = {}
    for path, item in ck.items(data, "contacts"):
        ck.unknown_keys(item, _CONTACT_KEYS, path)
        cid = ck.ident(item.get("id"), f"{path}.id")
        if cid is None:
            continue
        if cid in contacts:
            ck.add(f"{path}.id", f"duplicate contact id {cid!r} (first at {contacts[cid][0]})")
            continue
        group = item.get("group", ROOT_GROUP)
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
                boundary=ck.enum(Boundary, item.get("boundary"), f"{path}.boundary", None),
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
    if lattice is None:
        return content
    try:
        return get_lattice(lattice).coerce(content)
    except PluginNotFound:
        return ABSENT
    except (ValueError, TypeError) as exc:
        ck.add(path, f"not a valid {lattice} value: {exc}")
        return ABSENT


def _check_gadget_ports(
    ck: _Checker,
    groups: Mapping[str, tuple[str, GroupSpec]],
    contacts: Mapping[str, tuple[str, ContactSpec]],
) -> None:
    members_of: dict[str, list[tuple[str, str, ContactSpec]]] = {
        gid: [] for gid, (_, g) in groups.items() if g.gadget is not None
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
        expected = {p: Boundary.INPUT for p in gadget.inputs} | {
            p: Boundary.OUTPUT for p in gadget.outputs
        }
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
) -> list[WireSpec]:
    wires: dict[str, tuple[str, WireSpec]] = {}
    for path, item in ck.items(data, "wires"):
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
            wid = ck.ident(wid, f"{path}.id")
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
    return [w for _, w in wires.values()]


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
    groups = _parse_groups(ck, data)
    contacts = _parse_contacts(ck, data, groups)
    _check_global_ids(ck, groups, contacts)
    _check_gadget_ports(ck, groups, contacts)
    wires = _parse_wires(ck, data, groups, contacts)
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
        wires=tuple(sorted(wires, key=lambda w: w.id)),
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
