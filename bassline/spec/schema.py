"""The JSON Schema of the native spec format (published as docs/bassline-spec.schema.json)."""

from __future__ import annotations

from typing import Any

from bassline.spec.load import ID_PATTERN, MAX_ID_LENGTH, URL_PATTERN
from bassline.spec.model import BlendMode, Boundary, WireType

__all__ = ["spec_json_schema"]


def _id(description: str, *, nullable: bool = False) -> dict[str, Any]:
    return {
        "type": ["string", "null"] if nullable else "string",
        "minLength": 1,
        "maxLength": MAX_ID_LENGTH,
        "pattern": ID_PATTERN,
        "description": description,
    }


def _enum(values: list[str]) -> dict[str, Any]:
    return {"enum": [*values, None]}


_OBJECT = {"type": ["object", "null"]}


def spec_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``bassline/1`` spec files.

    The schema checks shape; :func:`bassline.load_spec` also checks references (unknown
    ids, gadget ports, group cycles, wire scopes) and reports every problem at once.
    ``null`` for an optional field means its default, as the loader reads it (the
    canonical form writes ``"parent": null`` for the root group, say).
    """
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://bassline.dev/schema/bassline-1.json",
        "title": "Bassline spec (bassline/1)",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "format": _enum(["bassline/1"]),
            "id": _id("The network's id."),
            "version": {
                "type": ["string", "integer", "null"],
                "description": "The spec's version.",
            },
            "metadata": {
                **_OBJECT,
                "description": "Free-form JSON (author, description, ...).",
            },
            "groups": {
                "type": ["array", "null"],
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["id"],
                    "properties": {
                        "id": _id("Unique group id; 'root' is implicit."),
                        "name": {"type": ["string", "null"]},
                        "parent": _id("Parent group (default: root).", nullable=True),
                        "gadget": _id(
                            "Makes the group a primitive gadget (e.g. 'add').", nullable=True
                        ),
                        "attributes": _OBJECT,
                    },
                },
            },
            "contacts": {
                "type": ["array", "null"],
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["id"],
                    "properties": {
                        "id": _id("Unique contact id (across all groups)."),
                        "group": _id("Owning group (default: root)."),
                        "name": {
                            "type": ["string", "null"],
                            "description": "Port name for gadget groups.",
                        },
                        "blend": _enum([m.value for m in BlendMode]),
                        "lattice": _id(
                            "Lattice of a merge contact (default: defined).", nullable=True
                        ),
                        "boundary": _enum([b.value for b in Boundary]),
                        "content": {
                            "description": "Initial content (any JSON; tagged lattice values allowed)."
                        },
                        "attributes": _OBJECT,
                    },
                    # a lattice needs blend merge (which it implies when blend is left out)
                    "if": {"required": ["lattice"], "properties": {"lattice": {"type": "string"}}},
                    "then": {"properties": {"blend": _enum([BlendMode.MERGE.value])}},
                },
            },
            "wires": {
                "type": ["array", "null"],
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["from", "to"],
                    "properties": {
                        "id": _id("Wire id (default: 'FROM->TO').", nullable=True),
                        "from": _id("Source contact."),
                        "to": _id("Target contact."),
                        "type": _enum([w.value for w in WireType]),
                    },
                },
            },
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
