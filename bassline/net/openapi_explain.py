"""The OpenAPI schemas of ``GET /api/contacts/{contact}/explain``: an explanation's JSON form.

They describe :meth:`bassline.engine.Explanation.to_json` (docs/provenance.md);
:func:`explanation_schemas` returns them for the document's ``components.schemas``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["explanation_schemas"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_VALUE = {"description": "A content in the codec's JSON form (lattice values tagged)."}


def explanation_schemas() -> dict[str, Any]:
    """``Explanation`` and the schemas it is made of, by name."""
    return {
        "Explanation": {
            "type": "object",
            "description": "Why a contact holds its value, as a flat list of steps.",
            "required": ["contact", "steps", "premises", "gaps", "complete"],
            "properties": {
                "contact": {"type": "string"},
                "steps": {
                    "type": "array",
                    "items": _ref("ExplanationStep"),
                    "description": "Every contact of the tree once, the explained one first.",
                },
                "premises": {
                    "type": "array",
                    "items": _ref("Premise"),
                    "description": "The writes the value rests on, each once.",
                },
                "gaps": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Why the tree cannot fully account for the value.",
                },
                "complete": {
                    "type": "boolean",
                    "description": "No gaps: the premises alone reproduce the value.",
                },
            },
        },
        "ExplanationStep": {
            "type": "object",
            "required": ["contact", "present", "value", "stamp", "justification"],
            "properties": {
                "contact": {"type": "string"},
                "present": {"type": "boolean"},
                "value": {"description": "The current value (null when not present)."},
                "stamp": _ref("Stamp"),
                "justification": {
                    "anyOf": [_ref("Justification"), {"type": "null"}],
                    "description": "The current value's immediate reason (null without one).",
                },
                "contradiction": _ref("Refusal"),
                "failure": {
                    "type": "object",
                    "description": "The standing failure of the gadget that writes the "
                    "contact: gadget, group, error, port, kind, outputs, and the failed run's "
                    "inputs (port -> value).",
                },
            },
        },
        "Justification": {
            "type": "object",
            "required": ["kind", "value", "stamp"],
            "properties": {
                "kind": {
                    "type": "string",
                    "enum": ["write", "wire", "gadget", "merge", "restored"],
                },
                "value": _VALUE,
                "stamp": _ref("Stamp"),
                "via": {
                    "type": "string",
                    "description": "A write: how it came in (python, http, cli, import, spec, ...).",
                },
                "local": {
                    "type": "boolean",
                    "description": "A write: made on this node (false: applied with its stamp).",
                },
                "node": {"type": "string", "description": "A write: the writing node."},
                "group": {"type": "string", "description": "A gadget run: its group."},
                "gadget": {"type": "string", "description": "A gadget run: the gadget's id."},
                "inputs": {
                    "type": "array",
                    "items": _ref("Input"),
                    "description": "A wire: its source; a gadget run: its input ports.",
                },
                "contributions": {
                    "type": "array",
                    "items": _ref("Justification"),
                    "description": "A merge: the offers joined into the value, oldest first.",
                },
                "omitted": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "A merge: older contributions dropped by the bound.",
                },
                "gaps": {"type": "array", "items": {"type": "string"}},
            },
        },
        "Input": {
            "type": "object",
            "required": ["contact", "value", "stamp", "holds"],
            "properties": {
                "contact": {"type": "string"},
                "value": _VALUE,
                "stamp": _ref("Stamp"),
                "holds": {
                    "type": "boolean",
                    "description": "Whether the contact still holds the value used.",
                },
                "port": {"type": "string", "description": "The gadget port it fed."},
                "cut": {
                    "type": "string",
                    "enum": ["depth", "cycle", "repeat"],
                    "description": "Why its explanation is not given in place.",
                },
                "explained": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "The index of the contact's step in 'steps'.",
                },
            },
        },
        "Premise": {
            "type": "object",
            "required": ["contact", "value", "stamp", "node", "via", "local"],
            "properties": {
                "contact": {"type": "string"},
                "value": _VALUE,
                "stamp": _ref("Stamp"),
                "node": {"type": "string", "description": "The writing node."},
                "via": {"type": "string"},
                "local": {"type": "boolean"},
            },
        },
        "Refusal": {
            "type": "object",
            "description": "The value a contradiction refused, and why it came.",
            "required": ["reason", "value", "stamp", "source", "justification", "premises"],
            "properties": {
                "reason": {"type": "string"},
                "value": _VALUE,
                "stamp": _ref("Stamp"),
                "source": {"type": "string"},
                "justification": _ref("Justification"),
                "premises": {"type": "array", "items": _ref("Premise")},
            },
        },
    }
