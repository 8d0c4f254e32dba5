"""The canonical codec: round trips, canonical bytes, tagging, escaping and rejections."""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bassline import codec
from bassline.clock import HybridLogicalClock, Stamp
from bassline.codec import DuplicateKey, parse_json
from bassline.content import values_equal
from bassline.errors import ContentError
from bassline.lattices import GrowMap, GrowSet, Interval, ShrinkSet
from bassline.testing import strategies as bst


@given(bst.contents())
def test_every_content_round_trips(value: Any) -> None:
    data = codec.encode(value)
    back = codec.decode(data)
    assert values_equal(back, value)
    assert codec.encode(back) == data


@given(bst.json_values())
def test_encoding_is_canonical_whatever_the_key_order(value: Any) -> None:
    def reverse_keys(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: reverse_keys(v[k]) for k in reversed(list(v))}
        if isinstance(v, list):
            return [reverse_keys(x) for x in v]
        return v

    assert codec.encode(reverse_keys(value)) == codec.encode(value)


def test_compact_sorted_output() -> None:
    assert codec.dumps({"b": 1, "a": [1, 2]}) == '{"a":[1,2],"b":1}'


def test_lattice_values_are_tagged() -> None:
    assert codec.dumps(GrowSet([2, 1])) == '{"$type":"grow-set","value":[1,2]}'
    assert codec.dumps(Interval(1, None)) == '{"$type":"interval","value":[1,null]}'
    assert codec.loads(codec.dumps(ShrinkSet(["x"]))) == ShrinkSet(["x"])
    assert codec.loads(codec.dumps(GrowMap({"k": GrowSet([1])}))) == GrowMap({"k": GrowSet([1])})


def test_user_dict_with_the_tag_key_is_escaped_and_restored() -> None:
    value = {"$type": "grow-set", "value": [1]}
    text = codec.dumps(value)
    assert text.startswith('{"$type":"object"')
    assert codec.loads(text) == value


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (math.nan, "finite"),
        (math.inf, "finite"),
        (2**64, "64 bits"),
        ({1: "x"}, "not a string"),
        (object(), "cannot encode"),
        ({"a": [1, {"b": math.nan}]}, "at .a[1].b"),
    ],
)
def test_unencodable_content_is_a_clear_error(bad: Any, message: str) -> None:
    with pytest.raises(ContentError, match=message.replace("[", r"\[").replace("]", r"\]")):
        codec.encode(bad)


def test_malformed_input_is_a_content_error() -> None:
    with pytest.raises(ContentError, match="not valid JSON"):
        codec.decode(b"{nope")
    with pytest.raises(ContentError, match="unknown tagged type 'nope'"):
        codec.decode(b'{"$type":"nope","value":1}')
    with pytest.raises(ContentError, match="malformed interval"):
        codec.decode(b'{"$type":"interval","value":[1]}')


def test_stamps_order_and_round_trip() -> None:
    clock = HybridLogicalClock("n1")
    a, b = clock.tick(), clock.tick()
    assert b > a
    assert Stamp.from_json(a.to_json()) == a
    other = HybridLogicalClock("n2")
    other.observe(b)
    assert other.tick() > b
    with pytest.raises(ValueError, match="not a stamp"):
        Stamp.from_json(["x", 1])


def test_clock_refuses_stamps_far_in_the_future() -> None:
    clock = HybridLogicalClock("n1", max_drift_ms=1000)
    future = Stamp(clock.tick().hlc + (3_600_000 << 16), "evil")
    with pytest.raises(ValueError, match="clock drift"):
        clock.observe(future)


@given(st.lists(bst.contents(), max_size=8))
def test_decode_many_is_decode_of_each(values: list[Any]) -> None:
    encoded = [codec.encode(v) for v in values]
    decoded = codec.decode_many(encoded)
    assert len(decoded) == len(values)
    for got, value in zip(decoded, values, strict=True):
        assert values_equal(got, value)


@pytest.mark.parametrize(
    "encoded",
    [
        [b"1", b"[2"],  # an unterminated value
        [b"1,2", b"3"],  # two values where one was expected: the count gives it away
        [b"[1", b"2]"],  # two halves that would join into one
    ],
)
def test_decode_many_reports_a_bad_encoding_like_decode(encoded: list[bytes]) -> None:
    with pytest.raises(ContentError):
        codec.decode_many(encoded)


def test_decode_many_of_nothing_is_empty() -> None:
    assert codec.decode_many([]) == []


def _nested(levels: int, leaf: Any) -> Any:
    value = leaf
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize("leaf", [1, {"$type": "x"}, GrowSet(frozenset({1})), {"a": []}])
@pytest.mark.parametrize("levels", [250, 251, 252, 253, 254, 255, 2_000, 100_000])
def test_deep_nesting_is_encoded_up_to_the_limit_then_a_content_error(
    levels: int, leaf: Any
) -> None:
    value = _nested(levels, leaf)
    try:
        encoded = codec.encode(value)
    except ContentError as exc:
        assert "nested more than 254 levels deep" in str(exc)
        assert levels >= 251  # the limit is only ever what orjson cannot write
    else:
        assert values_equal(codec.decode(encoded), value)
        assert levels <= codec.MAX_DEPTH


def test_the_nesting_limit_is_exactly_what_orjson_can_write() -> None:
    assert codec.decode(codec.encode(_nested(codec.MAX_DEPTH - 1, []))) == _nested(253, [])
    with pytest.raises(ContentError):
        codec.encode(_nested(codec.MAX_DEPTH, []))


def test_rebuilding_data_nested_too_deep_is_a_content_error() -> None:
    with pytest.raises(ContentError, match="nested more than 254 levels deep"):
        codec.from_json(_nested(5_000, 0))
    escaped = {"$type": "object", "value": {"a": _nested(253, 0)}}
    with pytest.raises(ContentError, match="nested more than 254 levels deep"):
        codec.from_json(escaped)
    assert codec.from_json(_nested(254, 0)) == _nested(254, 0)


@given(st.lists(bst.contents(), max_size=8))
def test_encode_many_is_encode_of_each(values: list[Any]) -> None:
    assert codec.encode_many(values) == [codec.encode(v) for v in values]


def test_encode_many_reports_the_first_value_that_does_not_encode() -> None:
    with pytest.raises(ContentError, match="finite"):
        codec.encode_many([1, {"x": math.nan}, 2])
    assert codec.encode_many([]) == []


def test_parse_json_keeps_integers_beyond_64_bits_exact() -> None:
    big = 123456789012345678901234567890
    assert codec.parse_json(f'{{"n": {big}, "s": "12345678901234567890123"}}') == {
        "n": big,
        "s": "12345678901234567890123",
    }
    assert codec.parse_json(b"[18446744073709551615, 1.5]") == [2**64 - 1, 1.5]
    with pytest.raises(ContentError, match="does not fit in 64 bits"):
        codec.encode(codec.parse_json(str(big)))


def test_parse_json_refuses_what_orjson_refuses() -> None:
    import orjson

    for bad in (b"{not json", b"NaN", b"[1e400]", b"[" * 2000 + b"]" * 2000):
        with pytest.raises(orjson.JSONDecodeError):
            codec.parse_json(bad)
    deep = b"[" * 1000 + b"12345678901234567890123" + b"]" * 1000
    assert codec.parse_json(deep) is not None  # too deep for Python's parser: not a crash


@pytest.mark.parametrize(
    ("data", "message", "where"),
    [  # orjson said "str is not valid UTF-8: surrogates not allowed" at char 0 for each
        (b'{"a": "caf\xe9"}', "byte 0xe9 at byte offset 10 is not UTF-8 text", (1, 11)),
        (b'{"a":\n "\xc3\xa9\xff"}', "byte 0xff at byte offset 10 is not UTF-8 text", (2, 4)),
        ("\ufeff".encode("utf-16"), "byte 0xff at byte offset 0 is not UTF-8 text", (1, 1)),
        ('["x\udce9"]', "byte 0xe9 is not UTF-8 text", (1, 4)),  # argv's surrogate escape
        ('["x\ud800"]', "the lone surrogate U+D800 is not valid Unicode text", (1, 4)),
    ],
)
def test_parse_json_names_the_first_byte_that_is_not_utf8(
    data: bytes | str, message: str, where: tuple[int, int]
) -> None:
    import orjson

    with pytest.raises(orjson.JSONDecodeError) as refused:
        codec.parse_json(data)
    assert refused.value.msg == f"{message}, which JSON text must be"
    assert (refused.value.lineno, refused.value.colno) == where


@pytest.mark.parametrize(
    "value", ["\ud800", ["ok", "x\udfffy"], {"k": "\ud83d"}, {"\udc00": 1}, ("a", "\udbff")]
)
def test_lone_surrogates_are_refused_by_name_not_by_orjson_later(value: Any) -> None:
    # a lone surrogate is a Python str but not Unicode text: canonical JSON cannot hold it
    with pytest.raises(ContentError, match="lone surrogate"):
        codec.to_json(value)
    with pytest.raises(ContentError, match="lone surrogate"):
        codec.encode(value)


def test_non_ascii_text_still_encodes() -> None:
    value = {"straße": ["ΟΔΟΣ", "😀", "\u0085"]}
    assert codec.decode(codec.encode(value)) == value


@pytest.mark.parametrize(
    ("text", "key", "path"),
    [
        ('{"a": 1, "a": 2}', "a", "$"),
        ('[0, {"x": {"b": [], "b": {}}}]', "b", "$[1].x"),
        ('{"odd key": {"k": 1, "k": 1}}', "k", "$['odd key']"),
        ('{"big": 123456789012345678901234567890, "big": 1}', "big", "$"),
    ],
)
def test_parse_json_refuses_a_repeated_key_naming_it_and_where(
    text: str, key: str, path: str
) -> None:
    for data in (text, text.encode()):
        with pytest.raises(orjson.JSONDecodeError) as caught:
            parse_json(data)
        assert isinstance(caught.value, DuplicateKey)
        assert (caught.value.key, caught.value.path) == (key, path)
        assert str(caught.value) == (
            f"the object at {path} has the key {key!r} twice (say each key once)"
        )


def test_parse_json_takes_the_same_key_in_different_objects() -> None:
    assert parse_json('[{"a": 1}, {"a": 2, "b": {"a": 3}}]') == [{"a": 1}, {"a": 2, "b": {"a": 3}}]
    assert parse_json(b'{"n": 123456789012345678901234567890}') == {
        "n": 123456789012345678901234567890
    }
