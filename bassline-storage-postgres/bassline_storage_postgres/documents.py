"""The JSON documents stored in the database, and their exact way back.

A spec is stored as the canonical JSON of :meth:`Bassline.to_dict` and rebuilt field by
field, without re-validation: what was saved is what comes back, whatever order its
groups were in and whether or not it would pass :func:`bassline.spec.parse_spec`
(validation is the caller's job; storage keeps what it was given). A group is stored
as its ``body`` (exact) plus a search document (see :func:`search_document`).
"""

from __future__ import annotations

from typing import Any

from bassline.codec import decode, encode, to_json
from bassline.spec import (
    Bassline,
    GroupSpec,
)

__all__ = [
    "decode_group",
    "decode_spec",
    "encode_group",
    "encode_spec",
    "group_from_body",
    "search_document",
    "search_query",
]


def encode_spec(spec: Bassline) -> bytes:
    """Canonical JSON of a spec (content and attribute values tagged by the codec)."""
    return spec.canonical_json()


def decode_spec(raw: bytes | str) -> Bassline:
    """Rebuild a spec from :func:`encode_spec`'s bytes (KeyError/ValueError if malformed)."""
    return Bassline.from_dict(decode(raw))


def encode_group(group: GroupSpec) -> bytes:
    """Canonical JSON of a group's body (everything but its id)."""
    return encode(
        {
            "name": group.name,
            "parent": group.parent,
            "gadget": group.gadget,
            "attributes": group.attributes,
        }
    )


def group_from_body(group_id: str, body: dict[str, Any]) -> GroupSpec:
    """A group from its id and decoded body."""
    return GroupSpec(
        id=group_id,
        name=body["name"],
        parent=body["parent"],
        gadget=body["gadget"],
        attributes=body["attributes"],
    )


def decode_group(group_id: str, raw: bytes | str) -> GroupSpec:
    """A group from its id and :func:`encode_group`'s bytes."""
    return group_from_body(group_id, decode(raw))


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    return value


_DERIVED = ("author", "type", "tags")


def _plain(attributes: dict[str, Any]) -> dict[str, Any]:
    """Attributes as plain JSON, value by value (a top-level ``"$type"`` key stays a key)."""
    return {_scrub(key): _scrub(to_json(value)) for key, value in attributes.items()}


def _effective(attributes: dict[str, Any], name: str) -> Any:
    """What :class:`GroupQuery` compares for ``name``: ``bassline.<name>``, else ``<name>``."""
    prefixed = f"bassline.{name}"
    return attributes[prefixed] if prefixed in attributes else attributes.get(name)


def search_document(network: str, attributes: dict[str, Any]) -> dict[str, Any]:
    """The JSONB document a group is found by: ``{"network", "attributes", "author", ...}``.

    The network id is inside, so one ``jsonb_path_ops`` GIN index narrows a query to
    one network and its criteria at once. ``author``, ``type`` and ``tags`` hold the
    values :meth:`GroupQuery.matches` compares (the ``bassline.``-prefixed attribute
    when present, else the plain one), so every query is a single ``@>`` test. Text is
    the codec's plain JSON with NUL (which ``jsonb`` cannot hold) replaced by U+FFFD.
    """
    plain = _plain(attributes)
    document: dict[str, Any] = {"network": network}
    if plain:
        document["attributes"] = plain
    for name in _DERIVED:
        value = _effective(plain, name)
        if value is not None:
            document[name] = value
    return document


def search_query(
    network: str,
    attributes: dict[str, Any],
    author: str | None,
    type_: str | None,
    tags: tuple[str, ...],
) -> dict[str, Any]:
    """The document a matching group's :func:`search_document` contains (``@>``).

    Containment is weaker than equality for arrays and objects inside ``attributes``,
    so it may admit groups that do not match; callers recheck every candidate.
    """
    document: dict[str, Any] = {"network": network}
    if attributes:
        document["attributes"] = _plain(attributes)
    for name, value in (("author", author), ("type", type_)):
        if value is not None:
            document[name] = _scrub(to_json(value))
    if tags:
        document["tags"] = _scrub(to_json(list(tags)))
    return document
