"""``Network.apply`` checks a batch of plainly good items a column at a time: whatever the
batch, the outcome (the error, or the run's result and the state after it) must be what
checking the items one by one gives."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bassline import Network, Stamp
from bassline.engine import checks, network
from bassline.engine.carried import CarriedWrite
from bassline.engine.carrier import Carrier
from bassline.lattices import Interval
from bassline.spec import parse_spec

SPEC = {
    "id": "cols",
    "contacts": [
        {"id": "a"},
        {"id": "b"},
        {"id": "c"},
        {"id": "m", "blend": "merge", "lattice": "interval"},
    ],
    "wires": [{"from": "a", "to": "c"}],
}
NOW = 10**15

contact = st.sampled_from(["a", "b", "c", "m", "zz", 3])
value = st.one_of(
    st.text(max_size=3),
    st.integers(min_value=-(2**64), max_value=2**65),
    st.sampled_from([True, None, 1.5, math.nan, math.inf, "é", "\ud800", [1], {"k": 1}]),
    st.builds(Interval, st.integers(0, 3), st.integers(0, 3)),
)
stamp = st.one_of(
    st.builds(Stamp, st.integers(NOW - 5, NOW + 5), st.sampled_from(["n1", "n2"])),
    st.sampled_from(
        [
            Stamp(-1, "n1"),
            Stamp(2**63, "n1"),
            Stamp(NOW, ""),
            Stamp(NOW, "bad id!"),
            Stamp(NOW, "n\x00"),
            Stamp(NOW + 10**13, "n1"),  # beyond the clock's drift
            (NOW, "n1"),
            Stamp(True, "n1"),  # type: ignore[arg-type]
            "s",
        ]
    ),
)
why = st.sampled_from([None, CarriedWrite("http"), CarriedWrite("http", Stamp(NOW, "n1")), 7])
item = st.one_of(
    st.tuples(contact, value, stamp),
    st.tuples(contact, value, stamp, why),
    st.sampled_from(
        [("a", 1), ["a", 1, Stamp(NOW, "n1")], "a", ("a", 1, Stamp(NOW, "n1"), None, None), ()]
    ),
)


def _one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Turn the column paths off: every item checked and resolved on its own."""
    monkeypatch.setattr(network, "plain_applied", lambda *a: None)
    monkeypatch.setattr(Carrier, "_shared_writes", lambda *a: None)


def _outcome(items: list[Any], stored: bool) -> object:
    net = Network(parse_spec(SPEC))
    net.clock._physical = lambda: NOW  # type: ignore[method-assign]
    try:
        result = net.apply(items, stored=stored)
    except Exception as exc:  # the exact error is compared
        return ("raised", type(exc), str(exc), net.values())
    return (
        result.touched,
        result.contradictions,
        net.values(),
        [net.stamped(c) for c in "abcm"],
        [net.explain(c).to_json() for c in "abcm"],  # the whole tree (repr: one step)
    )


@settings(max_examples=300)
@given(items=st.lists(item, max_size=5), stored=st.booleans())
def test_a_batch_checked_by_columns_ends_as_one_checked_item_by_item(
    items: list[Any], stored: bool
) -> None:
    fast = _outcome(items, stored)
    with pytest.MonkeyPatch.context() as monkeypatch:
        _one_by_one(monkeypatch)
        slow = _outcome(items, stored)
    assert repr(fast) == repr(slow)


HTTP, KEPT = CarriedWrite("http"), CarriedWrite("http", Stamp(NOW, "n1"))
plain_item = st.tuples(
    st.sampled_from(["a", "b", "c"]),
    st.one_of(st.text(alphabet="xyz", max_size=2), st.integers(0, 3)),
    st.builds(Stamp, st.integers(NOW - 3, NOW + 3), st.sampled_from(["n1", "n2"])),
    st.sampled_from([HTTP, KEPT, CarriedWrite("cli"), None]),
)


@settings(max_examples=300)
@given(items=st.lists(plain_item, min_size=1, max_size=5))
def test_a_plain_batch_with_shared_writes_ends_as_one_checked_item_by_item(
    items: list[Any],
) -> None:
    """The batches a peer sends: plain items sharing a few write justifications (some
    with a kept stamp, which each item's stamp must not be older than)."""
    fast = _outcome(items, False)
    with pytest.MonkeyPatch.context() as monkeypatch:
        _one_by_one(monkeypatch)
        slow = _outcome(items, False)
    assert repr(fast) == repr(slow)


def test_a_plain_batch_takes_the_column_path() -> None:
    net = Network(parse_spec(SPEC))
    items = [("a", "x", Stamp(5, "n1")), ("b", 2, Stamp(6, "n2"))]
    at, values, stamps, carried, newest = checks.plain_applied(items, net._index, net._lattice)  # type: ignore[misc]
    assert (at, values, stamps, carried, newest) == (
        [0, 1],
        ("x", 2),
        (Stamp(5, "n1"), Stamp(6, "n2")),
        None,
        Stamp(6, "n2"),
    )
    both = [(*items[0], CarriedWrite("http")), (*items[1], None)]
    assert checks.plain_applied(both, net._index, net._lattice)[3] == (CarriedWrite("http"), None)  # type: ignore[index]


@pytest.mark.parametrize(
    "items",
    [
        [("m", Interval(0, 1), Stamp(5, "n1"))],  # a merge contact: its lattice checks the kind
        [("a", {"k": [1]}, Stamp(5, "n1"))],  # not plain data: the codec's check
        [("a", "é", Stamp(5, "n1"))],  # text that is not ASCII: checked for lone surrogates
        [("zz", 1, Stamp(5, "n1"))],
        [("a", 1, (5, "n1"))],  # a pair, taken as a stamp item by item
        [("a", 1, Stamp(-1, "n1"))],
        [("a", 1, Stamp(2**63, "n1"))],
        [("a", 1, Stamp(5, "n\x00"))],  # not a node id
        [("a", 1, Stamp(5, "n1")), ("b", 1, Stamp(5, "n1"), None)],  # mixed shapes
        [["a", 1, Stamp(5, "n1")]],
    ],
)
def test_a_batch_that_is_not_plainly_good_is_checked_item_by_item(items: list[Any]) -> None:
    net = Network(parse_spec(SPEC))
    assert checks.plain_applied(items, net._index, net._lattice) is None
