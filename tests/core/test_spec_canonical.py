"""A spec's canonical JSON (what its hash digests) is the codec's, whichever way it is made:
:func:`bassline.spec.canonical.fast_canonical_json` gives those very bytes or None."""

from __future__ import annotations

import datetime
import enum
import math
import uuid
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bassline.codec import encode
from bassline.errors import ContentError
from bassline.spec import Bassline, Endpoint, parse_spec
from bassline.spec.canonical import fast_canonical_json
from bassline.testing import strategies as bst


def _codec(spec: Bassline) -> bytes:
    return encode(spec.to_dict())


@settings(max_examples=300, deadline=None)
@given(bst.specs(), bst.json_values(max_leaves=6), st.booleans())
def test_the_fast_canonical_json_is_the_codecs(spec: Bassline, extra: Any, endpoint: bool) -> None:
    """Random valid specs, with random user data in metadata, attributes and contents."""
    contacts = list(spec.contacts)
    contacts[0] = attrs.evolve(contacts[0], attributes={"x": extra}, content=extra)
    spec = attrs.evolve(spec, contacts=tuple(contacts), metadata={"m": extra})
    if endpoint:
        spec = attrs.evolve(spec, endpoints={"root": Endpoint("n1", "https://n1:9")})
    fast = fast_canonical_json(spec)
    try:
        expected = _codec(spec)
    except ContentError:
        assert fast is None
        return
    assert fast is None or fast == expected
    assert spec.canonical_json() == expected


class _Kind(enum.Enum):
    A = 1


SPEC = {"id": "s", "contacts": [{"id": "a"}, {"id": "b", "content": 1}]}


@pytest.mark.parametrize(
    "change",
    [
        {"metadata": {"$type": "object"}},  # a key the codec escapes
        {"metadata": {"k": math.nan}},  # no JSON
        {"metadata": {"k": 2**64}},  # beyond 64 bits
        {"metadata": {"k": "\ud800"}},  # a lone surrogate
    ],
)
def test_what_the_codec_would_write_otherwise_takes_the_codecs_way(change: dict[str, Any]) -> None:
    spec = attrs.evolve(parse_spec(SPEC), **change)
    assert fast_canonical_json(spec) is None
    try:
        expected = _codec(spec)
    except ContentError:
        with pytest.raises(ContentError):
            spec.canonical_json()
        return
    assert spec.canonical_json() == expected


@pytest.mark.parametrize("value", [(1, 2), "$type", {"a": [1, {"b": None}]}])
def test_odd_but_encodable_user_data_gives_the_codecs_bytes(value: Any) -> None:
    spec = attrs.evolve(parse_spec(SPEC), metadata={"k": value})
    assert fast_canonical_json(spec) in (None, _codec(spec))
    assert spec.canonical_json() == _codec(spec)


def test_a_plain_spec_takes_the_fast_way_with_the_same_bytes() -> None:
    spec = parse_spec(
        {
            "id": "s",
            "metadata": {"author": "é"},
            "groups": [{"id": "g", "attributes": {"bassline.tags": ["t"]}}],
            "contacts": [
                {"id": "a", "group": "g", "boundary": "input", "attributes": {"k": [1, 2.5]}},
                {"id": "b", "content": {"x": [None, True]}},
                {"id": "m", "blend": "merge", "lattice": "interval"},
            ],
            "wires": [{"from": "a", "to": "b", "type": "directed"}],
        }
    )
    assert fast_canonical_json(spec) == _codec(spec)


@pytest.mark.parametrize("name", [uuid.UUID(int=1), datetime.date(2026, 1, 1), _Kind.A])
def test_a_field_the_codec_refuses_takes_the_codecs_way(name: Any) -> None:
    """orjson writes these natively; the codec refuses them (a spec built by hand)."""
    spec = parse_spec(SPEC)
    contacts = (attrs.evolve(spec.contacts[0], name=name), *spec.contacts[1:])
    spec = attrs.evolve(spec, contacts=contacts)
    assert fast_canonical_json(spec) is None
    with pytest.raises(ContentError):
        spec.canonical_json()
