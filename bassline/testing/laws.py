"""Lattice law checks: commutativity, associativity, idempotence, absorbing contradictions.

Run them on your own lattice by subclassing :class:`LatticeLaws`::

    class TestMyLattice(LatticeLaws):
        lattice = MyLattice()

        def elements(self):
            return my_strategy()   # values in the form MyLattice.coerce returns
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bassline.content import values_equal
from bassline.lattices import Changed, Contradiction, Lattice

__all__ = [
    "CONTRADICTION",
    "LatticeLaws",
    "assert_absorbs",
    "assert_associative",
    "assert_commutative",
    "assert_idempotent",
    "join",
]


class _Top:
    def __repr__(self) -> str:
        return "CONTRADICTION"


CONTRADICTION: Any = _Top()
"""The result of a join that contradicts (the lattice's top)."""


def join(lattice: Lattice, a: Any, b: Any) -> Any:
    """``a ⊔ b`` as a value: the joined value, ``a`` when unchanged, or CONTRADICTION."""
    if a is CONTRADICTION or b is CONTRADICTION:
        return CONTRADICTION
    outcome = lattice.join(a, b)
    if isinstance(outcome, Contradiction):
        return CONTRADICTION
    if isinstance(outcome, Changed):
        return outcome.value
    return a


def _same(x: Any, y: Any) -> bool:
    if x is CONTRADICTION or y is CONTRADICTION:
        return x is y
    return values_equal(x, y)


def assert_commutative(lattice: Lattice, a: Any, b: Any) -> None:
    """``a ⊔ b == b ⊔ a``."""
    ab, ba = join(lattice, a, b), join(lattice, b, a)
    assert _same(ab, ba), f"{lattice.name}: {a!r} ⊔ {b!r} = {ab!r} but {b!r} ⊔ {a!r} = {ba!r}"


def assert_associative(lattice: Lattice, a: Any, b: Any, c: Any) -> None:
    """``(a ⊔ b) ⊔ c == a ⊔ (b ⊔ c)``."""
    left = join(lattice, join(lattice, a, b), c)
    right = join(lattice, a, join(lattice, b, c))
    assert _same(left, right), f"{lattice.name}: ({a!r} ⊔ {b!r}) ⊔ {c!r} = {left!r} ≠ {right!r}"


def assert_idempotent(lattice: Lattice, a: Any) -> None:
    """``a ⊔ a`` is Unchanged (and so equals ``a``)."""
    outcome = lattice.join(a, a)
    assert not isinstance(outcome, Changed | Contradiction), (
        f"{lattice.name}: {a!r} ⊔ {a!r} gave {outcome!r}, expected Unchanged"
    )


def assert_absorbs(lattice: Lattice, a: Any, b: Any, c: Any) -> None:
    """Once ``a`` and ``b`` contradict, adding ``c`` to either side never reconciles them."""
    if join(lattice, a, b) is not CONTRADICTION:
        return
    assert join(lattice, join(lattice, a, c), b) is CONTRADICTION, (
        f"{lattice.name}: {a!r} and {b!r} contradict, but ({a!r} ⊔ {c!r}) ⊔ {b!r} does not"
    )


# One mixin method runs for many subclasses (one per lattice); that is by design here.
_shared = settings(suppress_health_check=[HealthCheck.differing_executors])


class LatticeLaws:
    """A pytest mixin checking the four laws on ``lattice`` with values from ``elements()``."""

    lattice: Lattice

    def elements(self) -> st.SearchStrategy[Any]:
        """Values of the lattice (override)."""
        raise NotImplementedError

    @_shared
    @given(st.data())
    def test_commutative(self, data: st.DataObject) -> None:
        """Order of arrival does not matter."""
        a, b = data.draw(self.elements()), data.draw(self.elements())
        assert_commutative(self.lattice, a, b)

    @_shared
    @given(st.data())
    def test_associative(self, data: st.DataObject) -> None:
        """Grouping of arrivals does not matter."""
        a, b, c = (data.draw(self.elements()) for _ in range(3))
        assert_associative(self.lattice, a, b, c)

    @_shared
    @given(st.data())
    def test_idempotent(self, data: st.DataObject) -> None:
        """Hearing the same thing twice is no news."""
        assert_idempotent(self.lattice, data.draw(self.elements()))

    @_shared
    @given(st.data())
    def test_contradiction_absorbs(self, data: st.DataObject) -> None:
        """A contradiction cannot be undone by more information."""
        drawn = [data.draw(self.elements()) for _ in range(3)]
        # most triples do not contradict at all: try every role for each value drawn
        for a, b, c in itertools.permutations(drawn):
            assert_absorbs(self.lattice, a, b, c)
