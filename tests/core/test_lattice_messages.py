"""What each built-in lattice says when it refuses a value or two values contradict.

The law tests prove the joins; these pin the words a user reads and the values a
contradiction carries, exactly.
"""

from __future__ import annotations

from typing import Any

import pytest

from bassline.lattices import UNCHANGED, Changed, Contradiction
from bassline.lattices.builtin import (
    DefinedLattice,
    GrowMapLattice,
    GrowSetLattice,
    IntervalLattice,
    MaxLattice,
    MinLattice,
    ShrinkSetLattice,
)
from bassline.lattices.values import GrowMap, GrowSet, Interval, ShrinkSet


def test_defined_values_that_differ_contradict_and_name_both() -> None:
    clash = DefinedLattice().join(1, "1")
    assert clash == Contradiction("1 and '1' disagree", 1, "1")


def test_long_values_are_cut_to_sixty_characters_in_messages() -> None:
    fits = "a" * 58  # its repr, quotes included, is exactly 60 characters
    too_long = "b" * 59
    clash = DefinedLattice().join(fits, too_long)
    assert isinstance(clash, Contradiction)
    assert clash.reason == f"{fits!r} and {too_long!r:.57}... disagree"
    assert (clash.current, clash.incoming) == (fits, too_long)


def test_shrink_sets_with_nothing_in_common_contradict() -> None:
    current, incoming = ShrinkSet([1, 2]), ShrinkSet([3])
    clash = ShrinkSetLattice().join(current, incoming)
    assert clash == Contradiction("no value is in both sets", current, incoming)


def test_a_conflicting_key_names_the_key_and_the_inner_reason() -> None:
    current, incoming = GrowMap({"n": 1, "m": 1}), GrowMap({"n": 2})
    clash = GrowMapLattice().join(current, incoming)
    assert clash == Contradiction("key 'n': 1 and 2 disagree", current, incoming)


def test_intervals_that_do_not_overlap_name_both_ranges() -> None:
    current, incoming = Interval(0, 1), Interval(2, 3)
    clash = IntervalLattice().join(current, incoming)
    assert clash == Contradiction("[0, 1] and [2, 3] do not overlap", current, incoming)


@pytest.mark.parametrize(
    ("lattice", "value", "message"),
    [
        (GrowSetLattice(), 5, "grow-set needs a list of elements, got 5"),
        (ShrinkSetLattice(), "x", "shrink-set needs a list of elements, got 'x'"),
        (ShrinkSetLattice(), [], "an empty shrink-set leaves no possible value"),
        (IntervalLattice(), "x", "interval needs [lo, hi] or a number, got 'x'"),
        (IntervalLattice(), [3, 1], "the interval [3, 1] is empty"),
        (IntervalLattice(), {"lo": 2, "hi": 1}, "the interval [2, 1] is empty"),
        (MaxLattice(), "1", "max needs a number, got '1'"),
        (MinLattice(), None, "min needs a number, got None"),
        (GrowMapLattice(), [1], "grow-map needs an object, got [1]"),
    ],
)
def test_a_value_a_lattice_cannot_hold_is_refused_by_name(
    lattice: Any, value: Any, message: str
) -> None:
    with pytest.raises(ValueError) as refused:
        lattice.coerce(value)
    assert str(refused.value) == message


def test_sets_coerce_from_lists_and_from_each_other() -> None:
    assert GrowSetLattice().coerce([1, 2]) == GrowSet([1, 2])
    assert GrowSetLattice().coerce(ShrinkSet([1])) == GrowSet([1])
    assert ShrinkSetLattice().coerce(GrowSet([1])) == ShrinkSet([1])
    assert ShrinkSetLattice().coerce((3,)) == ShrinkSet([3])
    same = GrowSet([1])
    assert GrowSetLattice().coerce(same) is same


def test_values_a_lattice_can_hold_are_coerced_to_its_elements() -> None:
    assert MaxLattice().coerce(5) == 5 and MinLattice().coerce(2.5) == 2.5
    assert IntervalLattice().coerce(Interval(1, 2)) == Interval(1, 2)
    assert IntervalLattice().coerce([1, 2]) == Interval(1, 2)
    assert IntervalLattice().coerce({"lo": 1}) == Interval(1, None)
    assert IntervalLattice().coerce(4) == Interval(4, 4)
    assert GrowMapLattice().coerce({"a": 1}) == GrowMap({"a": 1})
    same = GrowMap({"a": 1})
    assert GrowMapLattice().coerce(same) is same


def test_a_grow_map_whose_shared_key_gains_information_has_changed() -> None:
    current = GrowMap({"s": GrowSet([1]), "n": 5})
    grown = GrowMapLattice().join(current, GrowMap({"s": GrowSet([2])}))
    assert grown == Changed(GrowMap({"s": GrowSet([1, 2]), "n": 5}))
    assert GrowMapLattice().join(current, GrowMap({"s": GrowSet([1])})) is UNCHANGED
    added = GrowMapLattice().join(current, GrowMap({"m": 1}))
    assert added == Changed(GrowMap({"s": GrowSet([1]), "n": 5, "m": 1}))
