"""A spec's canonical JSON without the codec's walk over every field (what its hash digests).

:meth:`Bassline.canonical_json <bassline.spec.Bassline.canonical_json>` is
``bassline.codec.encode(spec.to_dict())``: the codec checks every value of the whole
structure (800,000 for 100,000 contacts), which costs a fresh process ~0.1 s before it can
compare a stored spec's hash with its own. :func:`fast_canonical_json` gives the same bytes
when it can be sure they are the same, and None otherwise (the caller then takes the
codec's way, which also raises what it raises):

- every field the spec itself fills (ids, names, groups, parents, gadgets, lattices, the
  nodes and URLs of endpoints) is exactly a ``str`` (or None where None is allowed),
  checked a column at a time with C loops; blend modes, boundaries and wire types are
  written as their enum values, as ``to_dict`` writes them;
- what users give (contents, attributes, metadata) goes through
  :func:`bassline.codec.encode_plain`, which says whether each is plain JSON that
  encodes as itself (exact types, finite floats, no ``"$type"`` key);
- ``orjson`` then writes the dict with sorted keys, refusing (TypeError) integers beyond
  64 bits, lone surrogates and non-string keys, which the codec refuses too.

Canonical JSON is ``orjson.dumps(to_json(value), sorted keys)``, and ``to_json`` is the
identity on such data, so the bytes are the codec's.
"""

from __future__ import annotations

from itertools import chain, compress, repeat
from operator import attrgetter, is_not
from typing import Any

import orjson

from bassline.codec import TAG_KEY, encode_plain
from bassline.content import ABSENT

__all__ = ["fast_canonical_json"]

_CONTENT = attrgetter("content")
_ATTRIBUTES = attrgetter("attributes")
_STR: frozenset[type] = frozenset({str})
_STR_OR_NONE: frozenset[type] = frozenset({str, type(None)})


def _all(items: Any, types: frozenset[type]) -> bool:
    return set(map(type, items)) <= types


def fast_canonical_json(spec: Any) -> bytes | None:
    """The canonical JSON of the :class:`~bassline.spec.Bassline` ``spec`` (what
    ``encode(spec.to_dict())`` gives; typed Any: the model imports this module), or None
    when this cannot be sure it would be the same bytes (see the module docstring)."""
    contacts, groups, wires = spec.contacts, spec.groups, spec.wires
    endpoints = spec.endpoints
    texts = chain(
        (spec.id, spec.version),
        map(attrgetter("id"), chain(contacts, groups, wires)),
        map(attrgetter("group"), contacts),
        map(attrgetter("name"), chain(contacts, groups)),
        map(attrgetter("source"), wires),
        map(attrgetter("target"), wires),
        endpoints,
        map(attrgetter("node"), endpoints.values()),
        map(attrgetter("url"), endpoints.values()),
    )
    maybe = chain(
        map(attrgetter("lattice"), contacts),
        map(attrgetter("parent"), groups),
        map(attrgetter("gadget"), groups),
    )
    if not (_all(texts, _STR) and _all(maybe, _STR_OR_NONE)):
        return None
    if TAG_KEY in endpoints:  # a key the codec would escape
        return None
    contents = list(map(_CONTENT, contacts))
    given = list(compress(range(len(contents)), map(is_not, contents, repeat(ABSENT))))
    user: list[Any] = [spec.metadata]
    user.extend(filter(None, map(_ATTRIBUTES, chain(groups, contacts))))  # (empty: no)
    user.extend(map(contents.__getitem__, given))
    if encode_plain(user) is None:
        return None
    try:
        rows = [
            {
                "id": c.id,
                "group": c.group,
                "name": c.name,
                "blend": c.blend._value_,
                "lattice": c.lattice,
                "boundary": None if c.boundary is None else c.boundary._value_,
                "attributes": c.attributes,
            }
            for c in contacts
        ]
        for i in given:
            rows[i]["content"] = contents[i]
        data = {
            "format": "bassline/1",
            "id": spec.id,
            "version": spec.version,
            "metadata": spec.metadata,
            "groups": [
                {
                    "id": g.id,
                    "name": g.name,
                    "parent": g.parent,
                    "gadget": g.gadget,
                    "attributes": g.attributes,
                }
                for g in groups
            ],
            "contacts": rows,
            "wires": [
                {"id": w.id, "from": w.source, "to": w.target, "type": w.type._value_}
                for w in wires
            ],
            "endpoints": {
                gid: {"node": e.node, "url": e.url} for gid, e in sorted(endpoints.items())
            },
        }
        return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    except (TypeError, AttributeError):  # orjson.JSONEncodeError; an odd enum field
        return None
