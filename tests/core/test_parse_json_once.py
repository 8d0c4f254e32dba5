"""``parse_json`` parses a document holding an object once (Python's parser, checking
keys as it builds each object), where it parsed it twice (orjson, then Python's parser
again for the duplicate-key check), and says exactly what it said before: the same
values, the same errors (orjson's words for bad JSON, the key and path of a duplicate)."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bassline._user_json import _UNSURE, _parse_checked, _parse_once
from bassline.codec import DuplicateKey, parse_json


def _outcome(parse: Any, data: bytes | str) -> tuple[Any, ...]:
    try:
        value = parse(data)
    except Exception as exc:  # the same exception, with the same words
        return ("raised", type(exc), str(exc), getattr(exc, "path", None))
    return ("parsed", _tokens(value))


def _tokens(value: Any) -> list[str]:
    """``value`` written out token by token, without recursion (any depth), each scalar
    by its ``repr`` (1 is not 1.0, -0.0 is not 0.0)."""
    out: list[str] = []
    stack = [value]
    while stack:
        v = stack.pop()
        if type(v) is list:
            out.append(f"list {len(v)}")
            stack.extend(reversed(v))
        elif type(v) is dict:
            out.append(f"dict {list(v)!r}")
            stack.extend(reversed(list(v.values())))
        else:
            out.append(repr(v))
    return out


def _twice(data: bytes | str) -> Any:
    """What parse_json did before: orjson, then Python's parser for keys and integers."""
    objects = (b"{" if isinstance(data, bytes) else "{") in data  # type: ignore[operator]
    return _parse_checked(data, objects)


def test_a_document_with_objects_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    loads, orjson_loads = json.loads, orjson.loads

    def counted(name: str, parse: Any) -> Any:
        def parse_counted(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return parse(*args, **kwargs)

        return parse_counted

    monkeypatch.setattr(json, "loads", counted("json", loads))
    monkeypatch.setattr(orjson, "loads", counted("orjson", orjson_loads))
    for text in ('{"a": [1, {"b": 2.5}], "c": "x:y"}', '[{"n": 123456789012345678901234567890}]'):
        calls.clear()
        assert parse_json(text) == loads(text)
        assert parse_json(text.encode()) == loads(text)
        assert calls == ["json", "json"], text
    calls.clear()
    assert parse_json("[1, 2]") == [1, 2]  # no object: orjson alone, as before
    assert calls == ["orjson"]


EDGES = [
    '{"a": 1, "a": 2}',
    '[0, {"x": {"b": [], "b": {}}}]',
    '{"a": 1, "b": {"c": 1, "c": 2}, "a": 3}',
    '{"a": 1, "a": {"c": 1, "c": 2}}',  # the first repeat in document order: "a" at $
    '{"a": 1, "a": 2} x',  # bad JSON after a repeat: orjson's error, not the repeat
    '{"a": 1,}',
    '{"a": NaN}',
    '{"a": Infinity}',
    '{"a": -Infinity}',
    '{"a": 1e999}',
    '{"a": -1e400}',
    '{"a": 1e-400}',
    '{"a": -0}',
    '{"a": -0.0}',
    '{"a": 1E5}',
    '{"a": ' + "9" * 30 + "}",
    '{"a": ' + "1" * 308 + "}",
    '{"a": ' + "1" * 309 + "}",
    '{"a": ' + "9" * 309 + "}",
    '{"a": ' + "1" * 400 + "}",
    '{"a": ' + "1" * 5000 + "}",
    '{"a": ' + "1" * 310 + ".5}",
    '{"a": "\\ud800"}',
    '{"a": "\\ud83d\\ude00"}',
    '{"a": "\\u003a", "\\u0061": 2}',
    '{"\\u0061": 1, "a": 2}',
    '{"a": "\ud800"}',
    '\ufeff{"a": 1}',
    '{"a": "tab\there"}',
    '{"a": 01}',
    '{"a": [' * 1000 + "]}" * 1000,
    "[" * 1023 + '{"a": 1}' + "]" * 1023,
    "[" * 1024 + '{"a": 1}' + "]" * 1024,
    "[" * 1100 + '{"a": 1}' + "]" * 1100,
    '"{"',
    "{",
    "",
]


@pytest.mark.parametrize("text", EDGES, ids=range(len(EDGES)))
def test_parse_json_says_what_it_said_before(text: str) -> None:
    assert _outcome(parse_json, text) == _outcome(_twice, text)
    data = text.encode("utf-8", "surrogatepass")
    assert _outcome(parse_json, data) == _outcome(_twice, data)


@pytest.mark.parametrize(
    "data",
    [b'{"a": "\xff"}', b'{"a": "caf\xe9"}', '{"a": 1}'.encode("utf-16"), b'{"a": 1}\x00'],
)
def test_bytes_that_are_not_utf8_are_refused_as_before(data: bytes) -> None:
    assert _outcome(parse_json, data) == _outcome(_twice, data)
    assert _outcome(parse_json, data)[0] == "raised"


def test_a_repeat_names_the_first_in_document_order() -> None:
    """Python's parser builds inner objects first; the repeat reported is still the
    first one written."""
    with pytest.raises(DuplicateKey) as caught:
        parse_json('{"a": 1, "a": {"c": 1, "c": 2}}')
    assert (caught.value.key, caught.value.path) == ("a", "$")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300)
@given(json_values, st.booleans(), st.integers(min_value=0, max_value=3))
def test_any_document_parses_as_before(value: Any, ascii_only: bool, repeat: int) -> None:
    text = json.dumps({"v": value}, ensure_ascii=ascii_only)
    if repeat:  # say a key twice, somewhere
        text = text[:-1] + ', "v": 1}' if repeat == 1 else text.replace("{", '{"k": 1, "k": 2, ', 1)
    assert _outcome(parse_json, text) == _outcome(_twice, text)
    data = text.encode("utf-8", "surrogatepass")
    assert _outcome(parse_json, data) == _outcome(_twice, data)


def test_nesting_past_orjsons_limit_is_refused_whatever_the_recursion_limit() -> None:
    """With a recursion limit that lets Python's parser go deeper than orjson's 1,024
    levels (or on a Python whose parser does), such a document is still refused."""
    import sys

    deep = "[" * 1100 + '{"a": 1}' + "]" * 1100
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(5000)
    try:
        assert json.loads(deep)  # Python's parser takes it now
        with pytest.raises(orjson.JSONDecodeError, match="depth limit exceeded"):
            parse_json(deep)
        assert _outcome(parse_json, deep) == _outcome(_twice, deep)
        shallow = "[" * 1020 + '{"a": 1}' + "]" * 1020
        assert _outcome(parse_json, shallow) == _outcome(_twice, shallow)
    finally:
        sys.setrecursionlimit(limit)


def _before(data: bytes | str) -> Any:
    """What parse_json did before compact bytes went to orjson alone."""
    objects = (b"{" if isinstance(data, bytes) else "{") in data  # type: ignore[operator]
    value = _parse_once(data) if objects else _UNSURE
    return _parse_checked(data, objects) if value is _UNSURE else value


COMPACT_EDGES = [
    b'{"a":1,"a":2}',
    b'{"values":{"c1":"x","c1":"y"}}',
    b'[0,{"x":{"b":[],"b":{}}}]',
    b'{"a":-0}',
    b'{"a":-0.0}',
    b'{"a":1E5}',
    b'{"a":1e16}',
    b'{"a":10000000000000000.0}',
    b'{"a":18446744073709551615}',
    b'{"a":18446744073709551616}',
    b'{"a":-9223372036854775809}',
    b'{"a":"\\ud83d\\ude00"}',
    b'{"a":"\\ud800"}',
    b'{"a":"\\/"}',
    b'{"a":"\\u0061"}',
    b'{"a":NaN}',
    b'{"a":1e999}',
    b'{"a":"caf\xc3\xa9"}',
    b'{"a":"caf\xe9"}',
    b'{"a":1,}',
    b"[" * 300 + b"]" * 300,  # deeper than orjson writes (254): Python's parser reads it
    b'{"a":' + b"[" * 1100 + b"]" * 1100 + b"}",
]


@pytest.mark.parametrize("data", COMPACT_EDGES, ids=range(len(COMPACT_EDGES)))
def test_compact_bytes_say_what_they_said_before(data: bytes) -> None:
    """Compact bytes, as a client sends a body, go to orjson alone only when orjson
    writes them back byte for byte; whatever it parses otherwise goes the checked way."""
    assert _outcome(parse_json, data) == _outcome(_before, data)


def test_compact_bytes_orjson_writes_back_are_parsed_by_orjson_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    loads = json.loads

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append("json")
        return loads(*args, **kwargs)

    monkeypatch.setattr(json, "loads", counted)
    batch = {"values": {f"c{i}": "x" * 90 + f"{i:03d}" for i in range(100)}, "via": "cli"}
    assert parse_json(orjson.dumps(batch)) == batch
    assert calls == []
    with pytest.raises(DuplicateKey):  # a key twice is read by Python's parser, as before
        parse_json(b'{"values":{"c1":"x","c1":"y"}}')
    assert calls


@settings(max_examples=300)
@given(json_values, st.integers(min_value=0, max_value=2))
def test_any_compact_document_parses_as_before(value: Any, repeat: int) -> None:
    text = json.dumps({"v": value}, separators=(",", ":"), ensure_ascii=False)
    if repeat:  # say a key twice, somewhere
        text = text[:-1] + ',"v":1}' if repeat == 1 else text.replace("{", '{"k":1,"k":2,', 1)
    data = text.encode("utf-8", "surrogatepass")
    assert _outcome(parse_json, data) == _outcome(_before, data)
    try:
        written = orjson.dumps({"v": value, **({"v": 1} if repeat else {})})
    except orjson.JSONEncodeError:  # an integer beyond 64 bits
        return
    assert _outcome(parse_json, written) == _outcome(_before, written)


@pytest.mark.parametrize(
    "text", ["[-9223372036854775809]", "-9999999999999999999", '{"a": -9223372036854775809}']
)
def test_an_integer_of_19_digits_below_64_bits_keeps_its_exact_value(text: str) -> None:
    """orjson reads an integer below -2**63 as a float: one of 19 digits kept its rounded
    value in a document without an object (only 20 digits or more were read again)."""
    for data in (text, text.encode()):
        assert parse_json(data) == json.loads(text)
        assert "9223372036854776" not in repr(parse_json(data))
