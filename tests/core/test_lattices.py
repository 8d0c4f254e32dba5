"""The lattice laws on every built-in lattice, plus each lattice's own behaviour."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bassline.content import values_equal
from bassline.errors import PluginNotFound
from bassline.lattices import (
    UNCHANGED,
    Changed,
    Contradiction,
    GrowMap,
    GrowSet,
    Interval,
    ShrinkSet,
    get_lattice,
    lattices,
    register_lattice,
)
from bassline.lattices.builtin import DefinedLattice
from bassline.testing import strategies as bst
from bassline.testing.laws import LatticeLaws


def _laws_for(name: str) -> type[LatticeLaws]:
    class Laws(LatticeLaws):
        lattice = get_lattice(name)

        def elements(self) -> st.SearchStrategy[Any]:
            return bst.lattice_values(name)

    Laws.__name__ = f"Test{name.title().replace('-', '')}Laws"
    return Laws


TestGrowSetLaws = _laws_for("grow-set")
TestShrinkSetLaws = _laws_for("shrink-set")
TestIntervalLaws = _laws_for("interval")
TestMaxLaws = _laws_for("max")
TestMinLaws = _laws_for("min")
TestGrowMapLaws = _laws_for("grow-map")
TestDefinedLaws = _laws_for("defined")


def test_every_builtin_lattice_has_law_tests() -> None:
    tested = {"grow-set", "shrink-set", "interval", "max", "min", "grow-map", "defined"}
    assert set(lattices.names()) >= tested
    assert {n for n in lattices.names() if n in tested} == tested


def test_grow_set_union_and_unchanged() -> None:
    lat = get_lattice("grow-set")
    assert lat.join(GrowSet([1, 2]), GrowSet([2, 3])) == Changed(GrowSet([1, 2, 3]))
    assert lat.join(GrowSet([1, 2]), GrowSet([2])) is UNCHANGED


def test_set_membership_distinguishes_bool_from_int_but_not_int_from_float() -> None:
    s = GrowSet([1, True, 1.0])
    assert len(s) == 2
    assert True in s and 1 in s and 1.0 in s


def test_shrink_set_empty_intersection_is_a_contradiction() -> None:
    lat = get_lattice("shrink-set")
    out = lat.join(ShrinkSet(["a", "b"]), ShrinkSet(["c"]))
    assert isinstance(out, Contradiction)
    assert out.current == ShrinkSet(["a", "b"]) and out.incoming == ShrinkSet(["c"])
    with pytest.raises(ValueError, match="empty"):
        lat.coerce([])


def test_interval_narrows_and_contradicts() -> None:
    lat = get_lattice("interval")
    assert lat.join(Interval(0, 10), Interval(5, None)) == Changed(Interval(5, 10))
    assert lat.join(Interval(0, 10), Interval(None, None)) is UNCHANGED
    assert isinstance(lat.join(Interval(0, 1), Interval(2, 3)), Contradiction)
    assert lat.coerce(3) == Interval(3, 3)
    assert lat.coerce({"lo": 1}) == Interval(1, None)
    with pytest.raises(ValueError, match="empty"):
        lat.coerce([5, 1])
    with pytest.raises(ValueError):
        lat.coerce("wide")


@pytest.mark.parametrize(
    ("a", "b", "both"),
    [
        ((0, 10), (5, None), (5, 10)),
        ((None, 10), (5, None), (5, 10)),
        ((None, None), (3, 4), (3, 4)),
        ((None, None), (None, None), (None, None)),
        ((None, 7), (None, 4), (None, 4)),
        ((2, None), (6, None), (6, None)),
        ((0, 10), (2, 3), (2, 3)),
        ((0, 5), (3, 8), (3, 5)),
        ((0, 2), (2, 5), (2, 2)),  # touching ends: one number
        ((-1.5, 0.5), (-1, 2), (-1, 0.5)),
        ((0, 1), (2, 3), (2, 1)),  # empty: lo > hi
        ((None, -3), (3, None), (3, -3)),
    ],
)
def test_interval_intersection_examples(a: Any, b: Any, both: Any) -> None:
    # the laws only say intersection is a lattice join; these say which numbers it keeps
    for x, y in ((a, b), (b, a)):
        got = Interval(*x).intersect(Interval(*y))
        assert (got.lo, got.hi) == both, (x, y)
        assert got.empty is (both[0] is not None and both[1] is not None and both[0] > both[1])


def test_interval_join_outcomes() -> None:
    lat = get_lattice("interval")
    assert lat.join(Interval(None, 10), Interval(5, None)) == Changed(Interval(5, 10))
    assert lat.join(Interval(5, None), Interval(None, 10)) == Changed(Interval(5, 10))
    assert lat.join(Interval(2, 3), Interval(0, 10)) is UNCHANGED
    assert lat.join(Interval(2, 3), Interval(2, 3)) is UNCHANGED
    assert lat.join(Interval(0, 10), Interval(0, 3)) == Changed(Interval(0, 3))
    clash = lat.join(Interval(None, -3), Interval(3, None))
    assert isinstance(clash, Contradiction)
    assert clash.reason == "[None, -3] and [3, None] do not overlap"


def test_max_and_min() -> None:
    assert get_lattice("max").join(3, 5) == Changed(5)
    assert get_lattice("max").join(5, 3) is UNCHANGED
    assert get_lattice("min").join(5, 3) == Changed(3)
    with pytest.raises(ValueError, match="number"):
        get_lattice("max").coerce(True)


def test_grow_map_joins_keys_by_their_own_lattice() -> None:
    lat = get_lattice("grow-map")
    a = GrowMap({"tags": GrowSet(["x"]), "n": 1})
    b = GrowMap({"tags": GrowSet(["y"]), "m": 2})
    assert lat.join(a, b) == Changed(GrowMap({"tags": GrowSet(["x", "y"]), "n": 1, "m": 2}))
    clash = lat.join(a, GrowMap({"n": 2}))
    assert isinstance(clash, Contradiction) and "'n'" in clash.reason


def test_defined_equal_is_unchanged_different_contradicts() -> None:
    lat = DefinedLattice()
    assert lat.join({"a": [1, 2]}, {"a": [1, 2.0]}) is UNCHANGED
    assert isinstance(lat.join(1, True), Contradiction)
    assert isinstance(lat.join("x", "y"), Contradiction)


def test_unknown_lattice_lists_installed_and_suggests() -> None:
    with pytest.raises(PluginNotFound) as info:
        get_lattice("intervall")
    assert info.value.suggestion == "interval"
    assert "grow-set" in str(info.value)


def test_register_a_user_lattice() -> None:
    class Or:
        name = "any-true"
        description = "boolean or"

        def coerce(self, value: Any) -> bool:
            if not isinstance(value, bool):
                raise ValueError("needs a boolean")
            return value

        def join(self, current: bool, incoming: bool) -> Any:
            return Changed(True) if incoming and not current else UNCHANGED

    register_lattice(Or())
    try:
        assert get_lattice("any-true").join(False, True) == Changed(True)
    finally:
        lattices.unregister("any-true")


@given(st.integers(-(2**63), 2**64 - 1))
def test_a_whole_float_is_the_same_element_as_the_equal_integer(n: int) -> None:
    # element_key promises what values_equal says: 2**60 == 2.0**60, but 2**53 + 1 != 2.0**53
    f = float(n)
    same = GrowSet([n, f])
    assert len(same) == (1 if values_equal(n, f) else 2)
    assert (f in GrowSet([n])) is values_equal(n, f)


def test_large_whole_floats_are_not_duplicates_of_their_integers() -> None:
    assert len(GrowSet([2**60, 2.0**60])) == 1
    assert len(GrowSet([2**53 + 1, 2.0**53])) == 2
    lat = get_lattice("grow-set")
    assert lat.join(GrowSet([2**60]), GrowSet([2.0**60])) is UNCHANGED


def test_a_lattice_class_whose_name_is_a_property_registers_under_that_name() -> None:
    """``register_lattice`` read the name from what it was given before instantiating a
    class: a class's ``name`` property (as the ``Lattice`` protocol declares it) is a
    ``property`` object, which became a registered name, and every later lookup of an
    unknown lattice then failed sorting the names (``TypeError``)."""

    class AnyTrue:
        @property
        def name(self) -> str:
            return "any-true-class"

        description = "true once any writer said true"

        def coerce(self, value: Any) -> bool:
            return bool(value)

        def join(self, current: bool, incoming: bool) -> Any:
            return Changed(True) if incoming and not current else UNCHANGED

    assert register_lattice(AnyTrue) is AnyTrue  # type: ignore[arg-type]
    try:
        assert isinstance(get_lattice("any-true-class"), AnyTrue)
        with pytest.raises(PluginNotFound, match="unknown lattice 'nope'"):
            get_lattice("nope")
    finally:
        lattices.unregister("any-true-class")


@pytest.mark.parametrize("name", [None, 5, ""])
def test_a_lattice_must_be_named_by_a_non_empty_string(name: Any) -> None:
    class Nameless:
        description = "named wrongly"

        def coerce(self, value: Any) -> Any:
            return value

        def join(self, current: Any, incoming: Any) -> Any:
            return UNCHANGED

    Nameless.name = name  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="a lattice is registered under a non-empty string"):
        register_lattice(Nameless())  # type: ignore[arg-type]
    with pytest.raises(PluginNotFound, match="unknown lattice 'nope'"):
        get_lattice("nope")  # the names still sort


def test_registering_what_is_no_lattice_says_so() -> None:
    with pytest.raises(TypeError, match="None is not a Lattice"):
        register_lattice(None)  # type: ignore[arg-type]
