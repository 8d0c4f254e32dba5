"""The lattice value types themselves: what they refuse, how they read back, membership."""

from __future__ import annotations

import math
from typing import Any

import pytest

from bassline.lattices.values import GrowMap, GrowSet, Interval, ShrinkSet


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: GrowSet("ab"), TypeError, "GrowSet needs an iterable of values, not 'ab'"),
        (
            lambda: ShrinkSet({"a": 1}),
            TypeError,
            "ShrinkSet needs an iterable of values, not {'a': 1}",
        ),
        (
            lambda: Interval(math.nan, 1),
            ValueError,
            "lo must be finite or null (unbounded), got nan",
        ),
        (
            lambda: Interval(0, math.inf),
            ValueError,
            "hi must be finite or null (unbounded), got inf",
        ),
        (
            lambda: Interval(-math.inf, 0),
            ValueError,
            "lo must be finite or null (unbounded), got -inf",
        ),
        (lambda: Interval("a", 1), ValueError, "lo must be a number or null, got 'a'"),
        (lambda: Interval(0, "b"), ValueError, "hi must be a number or null, got 'b'"),
        (lambda: GrowMap({1: 2}), TypeError, "GrowMap keys must be strings, got 1"),
        (
            lambda: GrowMap("ab"),
            TypeError,
            "GrowMap needs a mapping of string keys to values, not 'ab'",
        ),
        (
            lambda: GrowMap([("a",)]),
            TypeError,
            "GrowMap needs a mapping of string keys to values (or (key, value) pairs), not "
            "[('a',)]: dictionary update sequence element #0 has length 1; 2 is required",
        ),
        (
            lambda: GrowMap(5),
            TypeError,
            "GrowMap needs a mapping of string keys to values (or (key, value) pairs), not 5: "
            "'int' object is not iterable",
        ),
        (lambda: GrowSet.from_json(5), ValueError, "expected a list of elements, got int"),
        (lambda: ShrinkSet.from_json({}), ValueError, "expected a list of elements, got dict"),
        (lambda: Interval.from_json([1]), ValueError, "expected [lo, hi], got [1]"),
        (lambda: Interval.from_json([1, 2, 3]), ValueError, "expected [lo, hi], got [1, 2, 3]"),
        (lambda: Interval.from_json("12"), ValueError, "expected [lo, hi], got '12'"),
        (lambda: GrowMap.from_json([]), ValueError, "expected an object, got list"),
    ],
)
def test_what_a_value_type_refuses_it_names(make: Any, error: type, message: str) -> None:
    with pytest.raises(error) as refused:
        make()
    assert str(refused.value) == message


def test_values_read_back_from_their_json() -> None:
    assert GrowSet.from_json([1, "a"]) == GrowSet([1, "a"])
    assert ShrinkSet.from_json([2]) == ShrinkSet([2])
    assert Interval.from_json([1, None]) == Interval(1, None)
    assert Interval.from_json([None, 2.5]) == Interval(None, 2.5)
    assert GrowMap.from_json({"a": 1}) == GrowMap({"a": 1})
    assert GrowMap({"a": [1]}).to_json() == {"a": [1]}


def test_reprs_name_the_type() -> None:
    assert repr(GrowSet([1])) == "GrowSet([1])"
    assert repr(ShrinkSet([2])) == "ShrinkSet([2])"


def test_sets_iterate_over_their_values_and_hash_by_type_and_content() -> None:
    assert sorted(GrowSet([2, 1])) == [1, 2]
    assert hash(GrowSet([1, 2])) == hash(GrowSet([2, 1]))
    assert {GrowSet([1]), GrowSet([1]), ShrinkSet([1])} == {GrowSet([1]), ShrinkSet([1])}
    assert len({GrowMap({"a": 1}), GrowMap({"a": 1}), GrowMap({"b": 1})}) == 2
    assert len({Interval(1, 2), Interval(1, 2), Interval(1, None)}) == 2


def test_an_interval_holds_the_numbers_between_its_bounds_inclusive() -> None:
    closed = Interval(1, 3)
    assert [x in closed for x in (0, 1, 2, 2.5, 3, 4)] == [False, True, True, True, True, False]
    assert [x in Interval(None, 3) for x in (-(10**9), 3, 4)] == [True, True, False]
    assert [x in Interval(1, None) for x in (0, 1, 10**9)] == [False, True, True]
    everything = Interval(None, None)
    assert 5 in everything and -5.5 in everything
    assert "x" not in everything and True not in Interval(0, 2) and None not in everything


@pytest.mark.parametrize("values", [None, 5, 1.5, True])
@pytest.mark.parametrize("kind", [GrowSet, ShrinkSet])
def test_a_set_of_what_is_not_iterable_is_refused_by_name(kind: Any, values: Any) -> None:
    with pytest.raises(TypeError, match=rf"^{kind.__name__} needs an iterable of values, not "):
        kind(values)


@pytest.mark.parametrize("bounds", [(None, None), (None, 0), (0, None), (-1e300, 1e300)])
def test_nan_is_inside_no_interval(bounds: tuple[Any, Any]) -> None:
    assert math.nan not in Interval(*bounds)
    assert 0 in Interval(None, None)
