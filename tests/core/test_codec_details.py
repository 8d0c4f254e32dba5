"""Codec details the round-trip tests leave loose: the tag registry, exact messages and
paths, the nesting limit around escaped objects, and the plain-JSON fast path."""

from __future__ import annotations

import enum
import math
import uuid
from typing import Any, ClassVar

import pytest

from bassline import codec
from bassline.lattices.values import GrowSet


@pytest.fixture(autouse=True)
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test registers into a copy, so its types do not outlive it."""
    monkeypatch.setattr(codec, "_TAGGED", codec.tagged_types())


class Box:
    """A tagged value type of the test's own."""

    tag: ClassVar[str] = "box-test"

    def __init__(self, inside: Any) -> None:
        self.inside = inside

    def __repr__(self) -> str:
        return "<Box>"

    def __eq__(self, other: object) -> bool:
        return type(other) is Box and other.inside == self.inside

    def __hash__(self) -> int:
        return hash(self.inside)

    def to_json(self) -> Any:
        return self.inside

    @classmethod
    def from_json(cls, payload: Any) -> Box:
        return cls(payload)


def test_the_builtin_lattice_values_are_registered() -> None:
    assert sorted(codec.tagged_types()) == ["grow-map", "grow-set", "interval", "shrink-set"]


@pytest.mark.parametrize("attributes", [{}, {"tag": ""}, {"tag": "object"}, {"tag": 5}])
def test_a_tag_must_be_a_non_empty_string_other_than_object(attributes: dict[str, Any]) -> None:
    odd = type("Odd", (), attributes)
    with pytest.raises(ValueError) as refused:
        codec.register_tagged(odd)
    assert str(refused.value) == "Odd.tag must be a non-empty string other than 'object'"
    assert "Odd" not in {c.__name__ for c in codec.tagged_types().values()}


def test_a_registered_type_round_trips_under_its_tag() -> None:
    assert codec.register_tagged(Box) is Box
    assert codec.tagged_types()["box-test"] is Box
    assert codec.encode(Box([1])) == b'{"$type":"box-test","value":[1]}'
    assert codec.decode(b'{"$type":"box-test","value":[1]}') == Box([1])


def test_one_class_per_tag_and_registering_again_is_harmless() -> None:
    codec.register_tagged(Box)
    assert codec.register_tagged(Box) is Box
    impostor = type("Impostor", (), {"tag": "box-test"})
    with pytest.raises(ValueError) as refused:
        codec.register_tagged(impostor)
    assert str(refused.value) == f"tag 'box-test' is already used by {Box.__qualname__}"
    assert codec.tagged_types()["box-test"] is Box


def test_tagged_types_is_a_copy() -> None:
    codec.tagged_types()["box-test"] = Box
    assert "box-test" not in codec.tagged_types()
    with pytest.raises(codec.ContentError, match="unknown tagged type 'box-test'"):
        codec.decode(b'{"$type":"box-test","value":1}')


def _nested(levels: int) -> Any:
    value: Any = 0
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize("direction", [codec.to_json, codec.from_json])
def test_too_deep_names_where_with_the_middle_of_a_long_path_cut(direction: Any) -> None:
    path = ".key" + "[0]" * 253  # where the 255th level starts
    with pytest.raises(codec.ContentError) as refused:
        direction({"key": _nested(300)})
    assert str(refused.value) == (
        f"content is nested more than 254 levels deep at {path[:60]}…{path[-30:]}"
    )
    assert str(refused.value).endswith("[0]" * 10)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (math.nan, "nan is not valid JSON (only finite numbers)"),
        (2**64, "integer 18446744073709551616 does not fit in 64 bits"),
        ({1: 2}, "object key 1 is not a string"),
        ([1, {"a": math.inf}], "inf is not valid JSON (only finite numbers) at [1].a"),
    ],
)
def test_encoding_errors_name_the_position_only_when_there_is_one(value: Any, message: str) -> None:
    with pytest.raises(codec.ContentError) as refused:
        codec.to_json(value)
    assert str(refused.value) == message


KNOWN = "(known: grow-map, grow-set, interval, shrink-set)"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"a": {"$type": "x", "value": 1, "extra": 2}},
            "tagged value must have exactly '$type' and 'value' at .a",
        ),
        ({"a": {"$type": "object", "value": 1}}, "escaped object must wrap an object at .a"),
        ({"a": {"$type": "nope", "value": 1}}, f"unknown tagged type 'nope' at .a {KNOWN}"),
        (
            {"$type": "object", "value": {"k": {"$type": "nope", "value": 1}}},
            f"unknown tagged type 'nope' at .k {KNOWN}",
        ),
        ({"$type": [1], "value": 1}, f"unknown tagged type [1] {KNOWN}"),
        ({"$type": None, "value": 1}, f"unknown tagged type None {KNOWN}"),
    ],
)
def test_malformed_tagged_data_is_refused_by_position(data: Any, message: str) -> None:
    with pytest.raises(codec.ContentError) as refused:
        codec.from_json(data)
    assert str(refused.value) == message


def _nested_around(levels: int, leaf: Any) -> Any:
    value = leaf
    for _ in range(levels):
        value = [value]
    return value


def test_an_escaped_object_at_the_deepest_level_round_trips_and_one_deeper_is_refused() -> None:
    deepest = _nested_around(251, {"$type": 1, "k": []})
    assert codec.decode(codec.encode(deepest)) == deepest
    assert codec.from_json(codec.to_json(deepest)) == deepest
    # the escaping level counts: this was once let through to_json and refused by orjson
    # ("Recursion limit reached"), naming nothing
    too_deep = _nested_around(252, {"$type": 1, "k": []})
    for direction in (codec.to_json, codec.encode):
        with pytest.raises(codec.ContentError) as refused:
            direction(too_deep)
        assert str(refused.value).startswith("content is nested more than 254 levels deep at ")
        assert str(refused.value).endswith("[0].k")
    with pytest.raises(codec.ContentError, match="nested more than 254 levels deep"):
        codec.from_json(_nested_around(253, {"$type": "object", "value": {"$type": 1}}))
    escaped_too_deep = _nested_around(252, {"$type": "object", "value": {"k": []}})
    with pytest.raises(codec.ContentError, match="nested more than 254 levels deep"):
        codec.from_json(escaped_too_deep)


def test_encode_plain_is_encode_for_plain_json_and_none_otherwise() -> None:
    plain = [1, 1.5, "s", None, True, (4,), [1, (2, 3)], {"b": 1, "a": [2.5]}]
    assert codec.encode_plain(plain) == [codec.encode(v) for v in plain]
    assert codec.encode_plain([{"b": 1, "a": 2}]) == [b'{"a":2,"b":1}']
    assert codec.encode_plain([1]) == [b"1"]
    assert codec.encode_plain([]) == []
    deep = _nested_around(252, [])
    assert codec.encode_plain([deep]) == [codec.encode(deep)]
    assert codec.encode_plain([_nested_around(300, [])]) is None
    one = uuid.UUID(int=1)  # orjson would write these, the codec refuses them
    for hidden in ([one], [(one,)], [[one]], [{"k": one}], [[[one]]], [1, ({"k": (one,)},)]):
        assert codec.encode_plain(hidden) is None, hidden
        with pytest.raises(codec.ContentError, match="cannot encode UUID value"):
            codec.encode_many(hidden)
    for needs_codec in ([{"$type": 1}], [math.nan], [[1.5, math.inf]], [GrowSet([1])]):
        assert codec.encode_plain(needs_codec) is None, needs_codec


def test_decode_many_reports_a_bad_encoding_exactly_as_decode_does() -> None:
    with pytest.raises(codec.ContentError) as alone:
        codec.decode(b"{nope")
    with pytest.raises(codec.ContentError) as among:
        codec.decode_many([b"1", b"{nope"])
    assert str(among.value) == str(alone.value)


class Small(enum.IntEnum):
    """A plain value's subclass: encoded as the plain value."""

    ONE = 1


class Real(float):
    """A float subclass."""


def test_subclasses_of_plain_values_encode_as_the_plain_value() -> None:
    assert codec.encode(Small.ONE) == b"1"
    assert codec.encode([Real(1.5), {"k": Small.ONE}]) == b'[1.5,{"k":1}]'
    with pytest.raises(codec.ContentError) as refused:
        codec.to_json([Real("nan")])
    assert str(refused.value) == "nan is not valid JSON (only finite numbers) at [0]"


def test_integers_are_allowed_across_the_whole_64_bit_range() -> None:
    for edge in (-(2**63), 2**64 - 1):
        assert codec.decode(codec.encode(edge)) == edge
    for beyond in (-(2**63) - 1, 2**64):
        with pytest.raises(codec.ContentError, match="does not fit in 64 bits"):
            codec.encode(beyond)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {"a": "\ud800"},
            "string contains the lone surrogate '\\ud800', which is not valid Unicode text at .a",
        ),
        (
            {"a": {"\udfff": 1}},
            "string contains the lone surrogate '\\udfff', which is not valid Unicode text at .a",
        ),
        ({"a": {1: 2}}, "object key 1 is not a string at .a"),
        (
            [Small.ONE, {"k": [2**64]}],
            "integer 18446744073709551616 does not fit in 64 bits at [1].k[0]",
        ),
        ({"a": Real("inf")}, "inf is not valid JSON (only finite numbers) at .a"),
        ({"a": [Box(1)]}, "cannot encode Box value <Box> at .a[0]"),
    ],
)
def test_what_cannot_be_encoded_is_named_with_its_position(value: Any, message: str) -> None:
    with pytest.raises(codec.ContentError) as refused:
        codec.to_json(value)
    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"a": {"$type": "grow-set", "value": [{"$type": "nope", "value": 1}]}},
            "malformed grow-set value at .a: unknown tagged type 'nope' at .a<grow-set>[0] "
            + KNOWN,
        ),
        (
            {"a": {"$type": "interval", "value": [1]}},
            "malformed interval value at .a: expected [lo, hi], got [1]",
        ),
    ],
)
def test_a_bad_payload_is_named_with_its_position(data: Any, message: str) -> None:
    with pytest.raises(codec.ContentError) as refused:
        codec.from_json(data)
    assert str(refused.value) == message


def test_an_object_claiming_a_registered_tag_is_not_that_type() -> None:
    impostor = type("Impostor", (), {"tag": "grow-set", "to_json": lambda self: [1]})()
    with pytest.raises(codec.ContentError, match="cannot encode Impostor value"):
        codec.to_json(impostor)


def test_a_lattice_value_at_the_depth_limit_is_refused_where_it_stands() -> None:
    with pytest.raises(codec.ContentError) as refused:
        codec.to_json(_nested_around(254, GrowSet([1])))
    assert str(refused.value).endswith("[0][0][0]")  # not inside the value: <grow-set>...


def test_an_escaped_object_one_level_above_the_limit_round_trips() -> None:
    deepest = _nested_around(252, {"$type": 1})
    assert codec.decode(codec.encode(deepest)) == deepest
    with pytest.raises(codec.ContentError, match="nested more than 254 levels deep"):
        codec.to_json(_nested_around(253, {"$type": 1}))


def test_a_plain_object_at_the_deepest_level_keeps_its_values_at_their_own_depth() -> None:
    deepest = _nested_around(252, {"k": []})  # 254 levels: the object adds no escaping
    assert codec.decode(codec.encode(deepest)) == deepest
