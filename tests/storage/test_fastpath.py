"""The column-at-a-time fast path gives exactly what the record-at-a-time path gives."""

from __future__ import annotations

import enum
import uuid
from typing import Any

import attrs
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bassline.clock import Stamp
from bassline.codec import encode, encode_plain
from bassline.errors import ContentError
from bassline.lattices import GrowSet
from bassline.spec import GroupSpec
from bassline.storage import ContentRecord, GroupRecord, StorageError
from bassline.storage.fastpath import MIN_RECORDS
from bassline.storage.validation import (
    NormalisedBatch,
    _normalise_each,
    normalise_batch,
    normalise_fast,
)
from bassline.testing.strategies import contents, json_values


class Colour(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Name(str):
    """A str subclass: the codec turns it into a plain string."""


class Flags(tuple[int, ...]):
    """A tuple subclass: the codec refuses it."""


# every kind of value where orjson and the codec could disagree
_TRICKY: list[Any] = [
    float("nan"),
    float("inf"),
    -float("inf"),
    2**64,
    -(2**63) - 1,
    2**64 - 1,
    {"$type": "x"},
    "$type",
    {"a": ("x", 1)},
    Colour.RED,
    Level.HIGH,
    uuid.UUID(int=7),
    Name("n"),
    {Name("k"): 1},
    {1: "x"},
    Flags((1, 2)),
    orjson.Fragment(b"1"),
    "\udc80",
    "null",
    {"null": None},
    [None, 1.5],
    {"a": [1.5, None, "null"]},
    b"bytes",
    {1, 2},
    GrowSet(frozenset({1})),
    object(),
    "line\nbreak",
    ",\n,",
    -0.0,
    1e300,
    [[[[[]]]]],
]


def _codec(values: list[Any]) -> list[bytes] | None:
    try:
        return [encode(v) for v in values]
    except (ContentError, RecursionError):
        return None


@given(st.lists(contents() | st.sampled_from(_TRICKY), max_size=8))
def test_encode_plain_is_the_codec_or_declines(values: list[Any]) -> None:
    fast = encode_plain(values)
    if fast is not None:
        assert fast == _codec(values)


@given(
    st.lists(
        json_values().filter(lambda v: b"$type" not in orjson.dumps(v)),
        min_size=1,
        max_size=8,
    )
)
def test_plain_json_takes_the_fast_path(values: list[Any]) -> None:
    # a "null" inside a string next to a float is the one case it declines on purpose
    if any(b"null" in orjson.dumps(v) for v in values):
        return
    assert encode_plain(values) == _codec(values)


def _containing_itself() -> list[Any]:
    value: list[Any] = [1]
    value.append({"again": value})
    return value


def test_a_value_that_contains_itself_is_declined_not_looped_over() -> None:
    assert encode_plain([1, _containing_itself(), 2]) is None
    records = [ContentRecord("net", "g", f"c{i}", i, Stamp(1, "n")) for i in range(8)]
    records[3] = attrs.evolve(records[3], value=_containing_itself())
    assert normalise_fast(records) is None
    error = normalise_batch(records)
    assert isinstance(error, StorageError) and "nested more than 254 levels" in error.message


@pytest.mark.parametrize("value", [float("nan"), float("inf"), Colour.RED, uuid.UUID(int=1)])
def test_what_orjson_would_write_but_the_codec_refuses_is_declined(value: Any) -> None:
    assert encode_plain([1, {"v": [value]}, 2]) is None


def test_a_null_in_a_string_beside_a_finite_float_still_takes_the_fast_path() -> None:
    values = [{"note": "null", "x": 1.5}, None, [0.25, None]]
    assert encode_plain(values) == [encode(v) for v in values]


_ID = st.sampled_from(["a", "b", "c", "é", "x" * 512]) | st.sampled_from(
    ["", "x" * 513, "bad\x00id", "tab\tid", 7, None, ("t",), "\udc80"]
)
_STAMPS = st.builds(Stamp, st.integers(0, 2**63 - 1), st.sampled_from(["", "n1", "é"])) | (
    st.sampled_from([Stamp(-1, "n"), Stamp(2**63, "n"), Stamp(1.5, "n"), Stamp(1, 2), (1, "n")])  # type: ignore[arg-type]
)
_RECORDS = st.builds(
    ContentRecord,
    network=st.sampled_from(["net", "net2"]) | _ID,
    group=st.sampled_from(["root", "g"]) | _ID,
    contact=_ID,
    value=contents() | st.sampled_from(_TRICKY),
    stamp=_STAMPS,
)


def _comparable(nb: NormalisedBatch | StorageError) -> Any:
    if isinstance(nb, StorageError):
        return nb
    return (nb.networks, nb.groups, nb.wires, nb.contents, nb.encoded)


@given(st.lists(_RECORDS | st.just(GroupRecord("net", GroupSpec("g"))), max_size=10))
def test_normalise_fast_agrees_with_the_general_path(records: list[Any]) -> None:
    fast = normalise_fast(records)
    general = _normalise_each(records)
    if fast is not None:
        assert _comparable(fast) == _comparable(general)
        assert fast.columns is not None
    assert _comparable(normalise_batch(records)) == _comparable(general)


@given(
    st.lists(
        st.tuples(st.sampled_from(["root", "g"]), contents() | st.sampled_from(_TRICKY), _STAMPS),
        min_size=MIN_RECORDS,
        max_size=12,
    )
)
def test_simple_batches_agree_with_the_general_path(rows: list[tuple[str, Any, Stamp]]) -> None:
    records = [
        ContentRecord("net", group, f"c{i}", value, stamp)
        for i, (group, value, stamp) in enumerate(rows)
    ]
    fast = normalise_fast(records)
    general = _normalise_each(records)
    if fast is None:
        return
    assert _comparable(fast) == _comparable(general)


def test_a_simple_batch_takes_the_fast_path_with_its_columns() -> None:
    records = [
        ContentRecord("net", f"g{i % 2}", f"c{i}", {"n": i, "x": i / 3}, Stamp(i, "node"))
        for i in range(50)
    ]
    fast = normalise_fast(records)
    assert fast is not None and fast.columns is not None
    columns = fast.columns
    assert columns.contacts == tuple(r.contact for r in records)
    assert columns.hlcs == tuple(range(50))
    assert columns.encoded == [encode(r.value) for r in records]


@pytest.mark.parametrize(
    "change",
    [
        {"contact": "c0"},  # a duplicate contact: the general path collapses it
        {"contact": "bad\x00"},
        {"network": ""},
        {"stamp": Stamp(-1, "n")},
        {"value": float("nan")},
    ],
)
def test_anything_unusual_takes_the_general_path(change: dict[str, Any]) -> None:
    records = [ContentRecord("net", "g", f"c{i}", i, Stamp(1, "n")) for i in range(8)]
    assert normalise_fast(records) is not None
    records[5] = attrs.evolve(records[5], **change)
    assert normalise_fast(records) is None


def test_small_batches_take_the_general_path() -> None:
    # below MIN_RECORDS the column checks cost more than they save
    records = [ContentRecord("net", "g", f"c{i}", i, Stamp(1, "n")) for i in range(MIN_RECORDS)]
    assert normalise_fast(records) is not None
    assert normalise_fast(records[:-1]) is None
    assert _comparable(normalise_batch(records[:-1])) == _comparable(_normalise_each(records[:-1]))
