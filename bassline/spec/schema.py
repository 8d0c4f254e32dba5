"""The JSON Schema of the native spec format (published as docs/bassline-spec.schema.json)."""

from __future__ import annotations

from typing import Any

from bassline.spec.checker import ID_PATTERN, MAX_ID_LENGTH, MAX_WIRE_ID_LENGTH, URL_PATTERN
from bassline.spec.model import BlendMode, Boundary, WireType

__all__ = ["spec_json_schema"]


def _id(description: str, *, nullable: bool = False, limit: int = MAX_ID_LENGTH) -> dict[str, Any]:
    return {
        "type": ["string", "null"] if nullable else "string",
        "minLength": 1,
        "maxLength": limit,
        "pattern": ID_PATTERN,
        "description": description,
    }


def _enum(values: list[str]) -> dict[str, Any]:
    return {"enum": [*values, None]}


_OBJECT = {"type": ["object", "null"]}


def _group(*, in_part: bool = False) -> dict[str, Any]:
    gid = _id("Unique group id; 'root' is implicit.")
    if in_part:
        gid = {
            **_id("Group id inside the part ('root' is the part itself)."),
            "not": {"const": "root"},
        }
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["id"],
        "properties": {
            "id": gid,
            "name": {"type": ["string", "null"]},
            "parent": _id("Parent group (default: root).", nullable=True),
            "gadget": _id("Makes the group a primitive gadget (e.g. 'add').", nullable=True),
            "attributes": _OBJECT,
        },
    }


# a lattice needs blend merge (which it implies when blend is left out)
_LATTICE_NEEDS_MERGE = {
    "if": {"required": ["lattice"], "properties": {"lattice": {"type": "string"}}},
    "then": {"properties": {"blend": _enum([BlendMode.MERGE.value])}},
}


def _contact(*, port: bool = False) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "id": _id("Port name (the port's contact id inside the part).")
        if port
        else _id("Unique contact id (across all groups)."),
    }
    if not port:
        properties["group"] = _id("Owning group (default: root).")
        properties["name"] = {
            "type": ["string", "null"],
            "description": "Port name for gadget groups.",
        }
    properties |= {
        "blend": _enum([m.value for m in BlendMode]),
        "lattice": _id("Lattice of a merge contact (default: defined).", nullable=True),
        "boundary": {
            **_enum([b.value for b in Boundary]),
            **({"description": "Direction of the port (default: both)."} if port else {}),
        },
        "content": {"description": "Initial content (any JSON; tagged lattice values allowed)."},
        "attributes": _OBJECT,
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["id"],
        "properties": properties,
        **_LATTICE_NEEDS_MERGE,
    }


def _wire() -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["from", "to"],
        "properties": {
            "id": _id(
                "Wire id (default: 'FROM->TO'; as long as that may be).",
                nullable=True,
                limit=MAX_WIRE_ID_LENGTH,
            ),
            "from": _id("Source contact."),
            "to": _id("Target contact."),
            "type": _enum([w.value for w in WireType]),
        },
    }


def _use() -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "part"],
        "properties": {
            "id": _id("Instance id: its group's id, and the prefix of every id inside it."),
            "part": _id("The part to use (a key of 'parts')."),
            "parent": _id("Group the instance goes in (default: root).", nullable=True),
            "name": {"type": ["string", "null"], "description": "Instance group's name."},
            "ports": {
                **_OBJECT,
                "description": "Port name -> contact id it is wired to (null: unconnected).",
                "additionalProperties": _id("A contact id, or null.", nullable=True),
            },
            "attributes": _OBJECT,
        },
    }


def _array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": ["array", "null"], "items": items}


def _part() -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "ports": _array(_contact(port=True)),
            "groups": _array(_group(in_part=True)),
            "contacts": _array(_contact()),
            "wires": _array(_wire()),
            "uses": _array({"$ref": "#/$defs/use"}),
            "attributes": {**_OBJECT, "description": "Given to each instance's group."},
        },
    }


def spec_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``bassline/1`` spec files.

    The schema checks shape; :func:`bassline.load_spec` also checks references (unknown
    ids, gadget ports, group cycles, wire scopes, parts and their ports, ids that collide
    once parts expand) and reports every problem at once. ``null`` for an optional field
    means its default, as the loader reads it (the canonical form writes
    ``"parent": null`` for the root group, say).
    """
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://bassline.dev/schema/bassline-1.json",
        "title": "Bassline spec (bassline/1)",
        "type": "object",
        "additionalProperties": False,
        "$defs": {"use": _use()},
        "properties": {
            "format": _enum(["bassline/1"]),
            "id": _id("The network's id."),
            "version": {
                "type": ["string", "integer", "null"],
                "minLength": 1,
                "description": "The spec's version.",
            },
            "metadata": {
                **_OBJECT,
                "description": "Free-form JSON (author, description, ...).",
            },
            "groups": _array(_group()),
            "contacts": _array(_contact()),
            "wires": _array(_wire()),
            "parts": {
                **_OBJECT,
                "description": "Part name -> definition; each use expands into groups.",
                "propertyNames": {
                    "minLength": 1,
                    "maxLength": MAX_ID_LENGTH,
                    "pattern": ID_PATTERN,
                },
                "additionalProperties": _part(),
            },
            "uses": _array({"$ref": "#/$defs/use"}),
            "endpoints": {
                **_OBJECT,
                "description": "Group id -> the node that runs it.",
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["node"],
                    "properties": {
                        "node": _id("Node id."),
                        "url": {
                            "type": ["string", "null"],
                            "anyOf": [{"const": ""}, {"pattern": URL_PATTERN}],
                            "description": "ws://, wss://, http:// or https:// URL ('' for none).",
                        },
                    },
                },
            },
        },
    }
