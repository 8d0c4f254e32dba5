"""The paths a node serves, written once: the server routes, the OpenAPI document and the
client (:mod:`bassline.net.client`) all take them from here.

Paths are relative to the node's base URL (``http://host:port``, or ``.../bassline`` for a
node mounted under ``/bassline``). :data:`CONTACT` is a template, as OpenAPI writes it;
:func:`contact_path` fills it in.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote, urlencode

__all__ = [
    "ALL",
    "CHANGES",
    "CONTACT",
    "CONTACTS",
    "EXPLAIN",
    "GOSSIP",
    "HEALTH",
    "METRICS",
    "OPENAPI",
    "SPEC",
    "STATUS",
    "changes_path",
    "contact_path",
    "explain_path",
]

GOSSIP = "/gossip"
"""The WebSocket gossip endpoint."""
HEALTH = "/healthz"
"""Health: 200 when ok, 503 when degraded."""
METRICS = "/metrics"
"""Prometheus metrics."""
OPENAPI = "/openapi.json"
"""The OpenAPI 3.1 description of the API."""
SPEC = "/api/spec"
"""The Bassline the node runs, with its hash."""
STATUS = "/api/status"
"""Peers, digest, storage health, queue depth, breaker."""
CONTACTS = "/api/contacts"
"""Every contact with content (GET); several writes in one run (POST)."""
CONTACT = "/api/contacts/{contact}"
"""One contact (GET reads it, PUT writes it); ``{contact}`` is its id, percent-encoded."""
EXPLAIN = "/api/contacts/{contact}/explain"
"""Why one contact holds its value (GET; ``?depth=N`` to limit it). A path whose last
segment is literally ``explain`` is this route; a contact whose id ends in ``/explain`` is
read at :data:`CONTACT` with its ``/`` percent-encoded (as :func:`contact_path` does)."""
CHANGES = "/api/changes"
"""Server-sent events: a snapshot, then every change (``?contact=ID`` to watch some)."""

ALL = (GOSSIP, HEALTH, METRICS, OPENAPI, SPEC, STATUS, CONTACTS, CONTACT, EXPLAIN, CHANGES)
"""Every path a node serves."""


def _segment(contact: str) -> str:
    """``contact`` as one path segment: percent-encoded, ``.`` and ``..`` too (an HTTP
    client removes those as dot segments: ``/api/contacts/..`` would ask for ``/api/``)."""
    if type(contact) is not str:
        raise TypeError(f"a contact id is a string, not {contact!r}")
    encoded = quote(contact, safe="")
    return encoded.replace(".", "%2E") if encoded in (".", "..") else encoded


def contact_path(contact: str) -> str:
    """:data:`CONTACT` for ``contact``, every character but letters, digits and ``_.-~``
    percent-encoded (a ``/`` in an id included; an id ``.`` or ``..`` entirely)."""
    return CONTACT.format(contact=_segment(contact))


def explain_path(contact: str, depth: int | None = None) -> str:
    """:data:`EXPLAIN` for ``contact`` (encoded as by :func:`contact_path`), with
    ``?depth=N`` when ``depth`` is given."""
    path = EXPLAIN.format(contact=_segment(contact))
    return path if depth is None else f"{path}?{urlencode({'depth': depth})}"


def changes_path(contacts: Iterable[str] = ()) -> str:
    """:data:`CHANGES`, with a ``contact`` query parameter per contact to watch (none: all)."""
    if isinstance(contacts, str):  # not its characters
        raise TypeError(f"contacts is a list of contact ids, not the string {contacts!r}")
    ids = list(contacts)
    if bad := [c for c in ids if type(c) is not str]:
        raise TypeError(f"a contact id is a string, not {bad[0]!r}")
    query = urlencode([("contact", c) for c in ids])
    return f"{CHANGES}?{query}" if query else CHANGES
