"""Reading the TypeScript prototype's network JSON format.

The prototype wrote ``{"groups": {id: Group}, "contacts": {id: Contact}, "wires": {id: Wire}}``
with camelCase fields (``primitiveId``, ``parentId``, ``blendMode``, ``isBoundary``,
``boundaryDirection``, ``fromId``, ``toId``). Such files are converted to the native format,
so they run unchanged. Content ``null`` meant "nothing known yet" there and becomes absent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["is_prototype_format", "prototype_message", "prototype_path", "prototype_to_native"]

_GROUP_FIELDS = {
    "id": "id",
    "name": "name",
    "parentId": "parent",
    "primitiveId": "gadget",
    "attributes": "attributes",
}
_GROUP_DERIVED = {
    "contactIds",
    "wireIds",
    "subgroupIds",
    "boundaryContactIds",
    "location",
    "primitive",
}
_CONTACT_FIELDS = {
    "id": "id",
    "groupId": "group",
    "name": "name",
    "blendMode": "blend",
    "content": "content",
    "attributes": "attributes",
}
_CONTACT_DERIVED = {"isBoundary", "boundaryDirection", "lastContradiction"}
_WIRE_FIELDS = {"id": "id", "fromId": "from", "toId": "to", "type": "type"}
_WIRE_DERIVED = {"groupId", "attributes", "priority", "required"}
_NATIVE_TO_PROTO = {
    "groups": {v: k for k, v in _GROUP_FIELDS.items()},
    "contacts": {v: k for k, v in _CONTACT_FIELDS.items()} | {"boundary": "boundaryDirection"},
    "wires": {v: k for k, v in _WIRE_FIELDS.items()},
}


def is_prototype_format(data: Mapping[str, Any]) -> bool:
    """True for the prototype's map-keyed format (``groups``/``contacts``/``wires`` are objects)."""
    return "format" not in data and any(
        isinstance(data.get(k), dict) for k in ("groups", "contacts", "wires")
    )


def _convert(item: Any, key: str, fields: Mapping[str, str], derived: set[str]) -> Any:
    if not isinstance(item, dict):
        return item
    out: dict[str, Any] = {}
    for field, value in item.items():
        if field in fields:
            out[fields[field]] = value
        elif field not in derived:
            out[field] = value  # reported as an unknown field by the validator
    out.setdefault("id", key)
    return out


def prototype_to_native(data: Mapping[str, Any], *, default_id: str = "network") -> dict[str, Any]:
    """Convert prototype-format data to native-format data (validation happens afterwards)."""
    native: dict[str, Any] = {"id": data.get("id", default_id)}
    for key in ("version", "metadata", "endpoints"):
        if key in data:
            native[key] = data[key]
    groups = data.get("groups", {})
    if isinstance(groups, dict):
        native["groups"] = [
            _convert(g, k, _GROUP_FIELDS, _GROUP_DERIVED) for k, g in groups.items()
        ]
    else:
        native["groups"] = groups
    contacts = data.get("contacts", {})
    if isinstance(contacts, dict):
        converted = []
        for k, c in contacts.items():
            item = _convert(c, k, _CONTACT_FIELDS, _CONTACT_DERIVED)
            if isinstance(c, dict):
                if c.get("isBoundary"):
                    item["boundary"] = c.get("boundaryDirection") or "both"
                if item.get("content", ...) is None:
                    del item["content"]
            converted.append(item)
        native["contacts"] = converted
    else:
        native["contacts"] = contacts
    wires = data.get("wires", {})
    if isinstance(wires, dict):
        native["wires"] = [_convert(w, k, _WIRE_FIELDS, _WIRE_DERIVED) for k, w in wires.items()]
    else:
        native["wires"] = wires
    for key in data:
        if key not in ("id", "version", "metadata", "endpoints", "groups", "contacts", "wires"):
            native[key] = data[key]
    return native


_NATIVE_PATH = re.compile(r"^\$\.(groups|contacts|wires)\[(\d+)\](?:\.(\w+))?(.*)$")


def prototype_path(path: str, data: Mapping[str, Any]) -> str:
    """Translate a native-format JSON path back to the prototype file's own path."""
    m = _NATIVE_PATH.match(path)
    if not m:
        return path
    section, index, field, rest = m.group(1), int(m.group(2)), m.group(3), m.group(4)
    items = data.get(section)
    if not isinstance(items, dict) or index >= len(items):
        return path
    key = list(items)[index]
    out = f'$.{section}["{key}"]'
    if field:
        out += "." + _NATIVE_TO_PROTO[section].get(field, field)
    return out + rest


_ALLOWED = re.compile(r"^unknown field \(allowed: (.*)\)$")


def prototype_message(path: str, message: str) -> str:
    """``message`` about native-format ``path``, with an unknown field's list of allowed
    fields in the prototype's names (``blendMode``, not ``blend``)."""
    m, where = _ALLOWED.match(message), _NATIVE_PATH.match(path)
    if not m or not where:
        return message
    names = _NATIVE_TO_PROTO[where.group(1)]
    allowed = {names.get(f, f) for f in m.group(1).split(", ")}
    if where.group(1) == "contacts":
        allowed.add("isBoundary")  # boundaryDirection counts only with it
    return f"unknown field (allowed: {', '.join(sorted(allowed))})"
