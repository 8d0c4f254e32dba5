"""What the engine lets in: content at the edges of what storage can hold, stamps, kinds.

The engine takes plain data (ASCII text, 64-bit integers, finite floats, short flat lists
of them) on a quick path and checks everything else in full; either way, what storage
could not hold is refused at the write, naming the contact, and what it can hold is kept
exactly. A stamp is a clock reading in [0, 2**63) and a node id; a plain pair is taken as
one. A value of the wrong kind for a merge contact's lattice is named in words.
"""

from __future__ import annotations

import enum
import math
from typing import Any

import pytest

from bassline import ContentError, Network, Stamp
from bassline.lattices import GrowSet, Interval


class Level(enum.IntEnum):
    """An int subclass: storable (it encodes as its number), but a kind with no word."""

    HIGH = 3


TOO_BIG = 2**64  # the codec holds integers in [-(2**63), 2**64)
TOO_SMALL = -(2**63) - 1

REFUSED = [
    (TOO_BIG, "integer 18446744073709551616 does not fit in 64 bits"),
    (TOO_SMALL, "integer -9223372036854775809 does not fit in 64 bits"),
    (math.inf, "inf is not valid JSON (only finite numbers)"),
    (-math.inf, "-inf is not valid JSON (only finite numbers)"),
    (math.nan, "nan is not valid JSON (only finite numbers)"),
    ([1, TOO_BIG], "integer 18446744073709551616 does not fit in 64 bits at [1]"),
    ([TOO_SMALL], "integer -9223372036854775809 does not fit in 64 bits at [0]"),
    (["a", math.inf], "inf is not valid JSON (only finite numbers) at [1]"),
    ([True, "\ud800"], "string contains the lone surrogate"),
    ([None, [math.nan]], "nan is not valid JSON"),
    (Interval(0, TOO_BIG), "integer 18446744073709551616 does not fit in 64 bits at <interval>"),
    (Interval(TOO_SMALL, 0), "integer -9223372036854775809 does not fit in 64 bits at <interval>"),
    ([*range(16), TOO_BIG], "integer 18446744073709551616 does not fit in 64 bits at [16]"),
    # an empty interval holds no number: the gadgets would compute a non-empty one from it
    (Interval(21, 20), "the interval [21, 20] is empty (lo > hi)"),
    (["a", Interval(0.5, -0.5)], "the interval [0.5, -0.5] is empty (lo > hi) at [1]"),
    ({"k": [Interval(2, 1)]}, "the interval [2, 1] is empty (lo > hi) at .k[0]"),
]
KEPT = [
    2**64 - 1,
    -(2**63),
    0.5,
    -0.0,
    True,
    None,
    "plain",
    "é",
    [2**64 - 1, -(2**63), 1.5, "x", False, None],
    [*range(16), 2**64 - 1],
    Interval(-(2**63), 2**64 - 1),
    Interval(0.5, None),
    Interval(None, -1.5),
]


@pytest.mark.parametrize(("value", "message"), REFUSED)
def test_content_storage_cannot_hold_is_refused_by_every_write(value: Any, message: str) -> None:
    net = Network({"contacts": [{"id": "c"}, {"id": "d"}], "wires": [{"from": "c", "to": "d"}]})
    for write in (
        lambda: net.update_contact("c", value),
        lambda: net.validate("c", value),
        lambda: net.restore([("c", value, Stamp(5, "n"))]),
        lambda: net.apply([("c", value, Stamp(5, "n"))]),
    ):
        with pytest.raises(ContentError) as caught:
            write()
        assert str(caught.value).startswith("contact 'c': ") and message in str(caught.value)
    assert net.values() == {}


@pytest.mark.parametrize("value", KEPT, ids=repr)
def test_content_at_the_edges_of_what_storage_holds_is_kept_exactly(value: Any) -> None:
    net = Network({"contacts": [{"id": "c"}, {"id": "d"}], "wires": [{"from": "c", "to": "d"}]})
    net.validate("c", value)
    net.update_contact("c", value)
    assert net.value("d") == value and type(net.value("d")) is type(value)
    fresh = Network({"contacts": [{"id": "c"}]}, apply_initial=False)
    fresh.restore([("c", value, Stamp(5, "n"))])
    assert fresh.value("c") == value


@pytest.mark.parametrize(
    ("contact", "value", "kind"),
    [
        ("m", True, "boolean"),
        ("m", None, "null"),
        ("g", 1.5, "number"),
        ("m", (1, 2), "list"),
        ("m", GrowSet([1]), "grow-set"),
        ("g", Interval(0, 1), "interval"),
        ("g", Level.HIGH, "Level"),  # no word for it, and no tag: named by its class
    ],
)
def test_a_value_of_the_wrong_kind_is_named_in_words(contact: str, value: Any, kind: str) -> None:
    net = Network({"contacts": [{"id": "m", "lattice": "max"}, {"id": "g", "lattice": "grow-set"}]})
    lattice = {"m": "max", "g": "grow-set"}[contact]
    with pytest.raises(ContentError) as caught:
        net.update_contact(contact, value)
    assert str(caught.value).startswith(
        f"contact {contact!r}: this {kind} is not a value of the {lattice} lattice ("
    )


def test_a_plain_pair_is_taken_as_a_stamp_from_zero_up() -> None:
    net = Network({"contacts": [{"id": "a"}, {"id": "b"}]})
    net.apply([("a", 5, (7, "n")), ("b", 1, (0, "n"))])
    assert type(net.stamp("a")) is Stamp and net.stamp("a") == Stamp(7, "n")
    assert (net.value("b"), net.stamp("b")) == (1, Stamp(0, "n"))


@pytest.mark.parametrize("stamp", [(True, "n"), (1, "n", 2), [1, "n"], (-1, "n"), (2**63, "n")])
def test_what_is_not_a_stamp_is_refused_with_the_rule(stamp: Any) -> None:
    net = Network({"contacts": [{"id": "a"}]})
    with pytest.raises(ValueError) as caught:
        net.apply([("a", 5, stamp)])
    assert str(caught.value) == (
        f"contact 'a': {stamp!r} is not a stamp (a clock reading in [0, 2**63) and a node id)"
    )
    assert net.values() == {}


def test_a_replica_value_at_the_zero_stamp_fills_an_empty_contact() -> None:
    # an empty contact's stamp is the zero stamp: an equal-stamp tie it always loses
    net = Network({"contacts": [{"id": "a"}]})
    r = net.apply([("a", 1, Stamp(0, ""))])
    assert (net.value("a"), net.stamp("a"), r.changed) == (1, Stamp(0, ""), {"a": 1})


def test_the_same_value_at_the_same_stamp_again_touches_nothing() -> None:
    net = Network({"contacts": [{"id": "a"}, {"id": "b"}], "wires": [{"from": "a", "to": "b"}]})
    net.apply([("a", [5], Stamp(7, "n"))])
    r = net.apply([("a", [5], Stamp(7, "n"))])  # equal, not the same object
    assert (r.touched, r.steps, bool(r)) == (([], [], []), 0, False)


@pytest.mark.parametrize("listener", [None, 5, "print"])
def test_a_listener_that_is_not_callable_is_refused_when_added(listener: Any) -> None:
    net = Network({"id": "l", "contacts": [{"id": "a"}]})
    with pytest.raises(TypeError, match="a listener is called with each run's result, not"):
        net.add_listener(listener)
    net.update_contact("a", 1)  # nothing was subscribed: the next write runs as ever
    assert net.value("a") == 1


@pytest.mark.parametrize("item", [("a", 1), ("a",), "a", ("a", 1, Stamp(5, "n"), None, 0)])
def test_a_restored_row_of_the_wrong_shape_is_named(item: Any) -> None:
    net = Network({"id": "r", "contacts": [{"id": "a"}]})
    with pytest.raises(TypeError, match=r"each item must be \(contact, value, stamp\) or"):
        net.restore([item])
    assert net.values() == {}
