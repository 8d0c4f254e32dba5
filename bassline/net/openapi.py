"""The OpenAPI 3.1 description of a node's HTTP API (served at ``/openapi.json``)."""

from __future__ import annotations

from typing import Any

from bassline.net import routes
from bassline.net.openapi_explain import explanation_schemas

__all__ = ["openapi_document"]

_ERROR = {
    "description": "An error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


_VIA = {
    "type": "string",
    "enum": ["http", "cli"],
    "default": "http",
    "description": "How the write came in, as explain reports it: 'cli' for the bassline CLI.",
}

_DEPTH = {
    "name": "depth",
    "in": "query",
    "required": False,
    "schema": {"type": "integer", "minimum": 1},
    "description": (
        "How many contacts deep to explain, the explained one included (default: no limit); "
        "inputs below are cut, a gap."
    ),
}

_EXPLAIN_DESCRIPTION = (
    "The derivation of the contact's current value: 'steps' lists every contact of the tree "
    "once (this one first), each with its value, stamp and immediate justification (a write, "
    "a wire, a gadget run or a merge contact's contributions); an input's 'explained' is the "
    "index of its contact's step. A standing contradiction also explains the refused value. "
    "A contact with no value answers present: false. A GET whose last path segment is "
    "literally 'explain' is this route; a contact whose id ends in '/explain' is read at "
    "/api/contacts/{contact} with its '/' percent-encoded as %2F."
)


def _json(ref: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


def openapi_document(title: str, version: str, base: str = "/") -> dict[str, Any]:
    """The document, for a node running Bassline ``title`` v``version``.

    ``base`` is the path the node's app is served under (``/bassline`` when mounted there);
    it goes into ``servers``, so that clients prefix every path with it.
    """
    contact_param = {
        "name": "contact",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": "A contact id of the Bassline.",
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"Bassline node API ({title})",
            "version": version,
            "description": (
                "Read and write contacts of a running Bassline node. With a cluster secret, "
                "every /api route needs 'Authorization: Bearer <token>', the token being "
                "HMAC-SHA256(secret, 'bassline-api-token/1') in hex (`bassline get` computes it)."
            ),
        },
        "servers": [{"url": base, "description": "this node"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string"}, "code": {"type": "string"}},
                },
                "Stamp": {
                    "type": "array",
                    "description": "[hybrid logical clock reading, writing node]",
                    "prefixItems": [{"type": "integer"}, {"type": "string"}],
                },
                "Contact": {
                    "type": "object",
                    "required": ["id", "present"],
                    "properties": {
                        "id": {"type": "string"},
                        "present": {"type": "boolean"},
                        "value": {"description": "The content (JSON; lattice values tagged)."},
                        "stamp": {"$ref": "#/components/schemas/Stamp"},
                        "contradiction": {"type": ["object", "null"]},
                        "failure": {"type": ["object", "null"]},
                    },
                },
                "Write": {
                    "type": "object",
                    "required": ["value"],
                    "properties": {"value": {"description": "The content to write."}, "via": _VIA},
                    "additionalProperties": False,
                },
                "WriteMany": {
                    "type": "object",
                    "required": ["values"],
                    "properties": {
                        "values": {"type": "object", "description": "contact id -> content"},
                        "via": _VIA,
                    },
                    "additionalProperties": False,
                },
                **explanation_schemas(),
                "WriteResult": {
                    "type": "object",
                    "properties": {
                        "changed": {"type": "object"},
                        "contradictions": {"type": "array"},
                        "failures": {"type": "array"},
                        "settled": {"type": "boolean"},
                    },
                },
            },
        },
        "security": [{"bearer": []}, {}],
        "paths": {
            routes.HEALTH: {
                "get": {
                    "summary": "Health: 200 when ok, 503 when degraded (with reasons)",
                    "security": [],
                    "responses": {"200": {"description": "ok"}, "503": {"description": "degraded"}},
                }
            },
            routes.METRICS: {
                "get": {
                    "summary": "Prometheus metrics (gossip, storage, latency histograms)",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "The Prometheus text exposition format 0.0.4",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            routes.CHANGES: {
                "get": {
                    "summary": "Stream changes (server-sent events)",
                    "description": (
                        "A text/event-stream: one 'snapshot' event with the watched contacts, "
                        "then a 'change' event per changed contact, a 'contradiction' event "
                        "per contradiction and a 'failure' event per gadget failure (gadget, "
                        "group, error, port, kind, outputs); 'overflow' ends a stream whose "
                        "reader fell behind."
                    ),
                    "parameters": [
                        {
                            "name": "contact",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "array", "items": {"type": "string"}},
                            "description": "Contacts to watch (default: all).",
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "An event stream",
                            "content": {"text/event-stream": {"schema": {"type": "string"}}},
                        },
                        "404": _ERROR,
                    },
                }
            },
            routes.SPEC: {
                "get": {
                    "summary": "The Bassline this node runs (native format) and its hash",
                    "responses": {"200": {"description": "the spec"}, "401": _ERROR},
                }
            },
            routes.STATUS: {
                "get": {
                    "summary": "Peers, convergence digest, storage health, queue depth, breaker",
                    "responses": {"200": {"description": "status"}, "401": _ERROR},
                }
            },
            routes.CONTACTS: {
                "get": {
                    "summary": "Every contact that has content, with value and stamp",
                    "responses": {"200": {"description": "contacts"}, "401": _ERROR},
                },
                "post": {
                    "summary": "Write several contacts in one run",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/WriteMany"}
                            }
                        },
                    },
                    "responses": {
                        "200": _json("WriteResult", "written"),
                        "400": _ERROR,
                        "401": _ERROR,
                        "404": _ERROR,
                        "413": _ERROR,
                        "422": _ERROR,
                        "503": _ERROR,
                    },
                },
            },
            routes.CONTACT: {
                "parameters": [contact_param],
                "get": {
                    "summary": "Read one contact",
                    "responses": {
                        "200": _json("Contact", "the contact"),
                        "401": _ERROR,
                        "404": _ERROR,
                    },
                },
                "put": {
                    "summary": "Write one contact (it replicates to every node)",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Write"}}
                        },
                    },
                    "responses": {
                        "200": _json("WriteResult", "written"),
                        "400": _ERROR,
                        "401": _ERROR,
                        "404": _ERROR,
                        "413": _ERROR,
                        "422": _ERROR,
                        "503": _ERROR,
                    },
                },
            },
            routes.EXPLAIN: {
                "parameters": [contact_param, _DEPTH],
                "get": {
                    "summary": "Why the contact holds its value, back to the writes it rests on",
                    "description": _EXPLAIN_DESCRIPTION,
                    "responses": {
                        "200": _json("Explanation", "the explanation"),
                        "400": _ERROR,
                        "401": _ERROR,
                        "404": _ERROR,
                    },
                },
            },
            routes.GOSSIP: {
                "get": {
                    "summary": "The WebSocket gossip endpoint (see docs/protocol.md)",
                    "security": [],
                    "responses": {"101": {"description": "switching protocols"}},
                }
            },
        },
    }
