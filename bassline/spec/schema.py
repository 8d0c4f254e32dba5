"""The JSON Schema of the native spec format (published as docs/bassline-spec.schema.json)."""

from __future__ import annotations

from typing import Any

from bassline.spec.load import MAX_ID_LENGTH
from bassline.spec.model import BlendMode, Boundary, WireType

__all__ = ["spec_json_schema"]


def _id(description: str) -> dict[str, Any]:
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_ID_LENGTH,
        "pattern": "^[^\\u0000-\\u001f\\u007f]+$",
        "description": description,
    }


def spec_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``bassline/1`` spec files.

    The schema checks shape; :func:`bassline.load_spec` also checks references (unknown
    ids, gadget ports, group cycles, wire scopes) and reports every problem at once.
    """
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://bassline.dev/schema/bassline-1.json",
        "title": "Bassline spec (bassline/1)",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "format": {"const": "bassline/1"},
            "id": _id("The network's id."),
            "version": {"type": ["string", "integer"], "description": "The spec's version."},
            "metadata": {
                "type": "object",
                "description": "Free-form JSON (author, description, ...).",
            },
            "groups": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["id"],
                    "properties": {
                        "id": _id("Unique group id; 'root' is implicit."),
                        "name": {"type": "string"},
                        "parent": _id("Parent group (default: root)."),
                        "gadget": _id("Makes the group a primitive gadget (e.g. 'add')."),
                        "attributes": {"type": "object"},
                    },
                },
            },
            "contacts": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["id"],
                    "properties": {
                        "id": _id("Unique contact id (across all groups)."),
                        "group": _id("Owning group (default: root)."),
                        "name": {"type": "string", "description": "Port name for gadget groups."},
                        "blend": {"enum": [m.value for m in BlendMode]},
                        "lattice": _id("Lattice of a merge contact (default: defined)."),
                        "boundary": {"enum": [b.value for b in Boundary]},
                        "content": {
                            "description": "Initial content (any JSON; tagged lattice values allowed)."
                        },
                        "attributes": {"type": "object"},
                    },
                },
            },
            "wires": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["from", "to"],
                    "properties": {
                        "id": _id("Wire id (default: 'FROM->TO')."),
                        "from": _id("Source contact."),
                        "to": _id("Target contact."),
                        "type": {"enum": [w.value for w in WireType]},
                    },
                },
            },
            "endpoints": {
                "type": "object",
                "description": "Group id -> the node that runs it.",
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["node"],
                    "properties": {
                        "node": _id("Node id."),
                        "url": {"type": "string", "pattern": "^(wss?|https?)://"},
                    },
                },
            },
        },
    }
