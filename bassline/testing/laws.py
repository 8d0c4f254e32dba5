"""Lattice law checks: commutativity, associativity, idempotence, absorbing contradictions,
and outcomes that tell the truth (``Changed`` only for news, ``Unchanged`` only for none).

Run them on your own lattice by subclassing :class:`LatticeLaws`::

    class TestMyLattice(LatticeLaws):
        lattice = MyLattice()

        def elements(self):
            return my_strategy()   # values in the form MyLattice.coerce returns
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, event, given, settings
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
    "assert_truthful_outcome",
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
    """More information never undoes a join.

    Once ``a`` and ``b`` contradict, adding ``c`` to either side never reconciles them.
    When they do not, ``(a ⊔ c) ⊔ b`` holds ``a ⊔ b`` (joining the two gives the former),
    or contradicts. The second half is what a lattice that never contradicts (grow-set,
    max, min) is checked against.
    """
    ab = join(lattice, a, b)
    more = join(lattice, join(lattice, a, c), b)
    if ab is CONTRADICTION:
        assert more is CONTRADICTION, (
            f"{lattice.name}: {a!r} and {b!r} contradict, but ({a!r} ⊔ {c!r}) ⊔ {b!r} = "
            f"{more!r} does not"
        )
        return
    if more is CONTRADICTION:
        return
    held = join(lattice, more, ab)
    assert _same(held, more), (
        f"{lattice.name}: ({a!r} ⊔ {c!r}) ⊔ {b!r} = {more!r} does not hold {a!r} ⊔ {b!r} = "
        f"{ab!r} (joined, they give {held!r})"
    )


def assert_truthful_outcome(lattice: Lattice, a: Any, b: Any) -> None:
    """``a ⊔ b`` says truthfully whether ``b`` was news to ``a``.

    ``Changed(v)``: ``v`` differs from ``a`` and holds both inputs (``v ⊔ a`` and ``v ⊔ b``
    are Unchanged). ``Unchanged``: ``a`` already holds ``b``, so ``b ⊔ a`` is ``a`` too. The
    engine propagates exactly on ``Changed``: a false ``Changed`` sends a value around
    every cycle until the step budget runs out; a false ``Unchanged`` loses information.
    """
    problem = _untruthful(lattice, a, b)
    assert problem is None, f"{lattice.name}: {problem}"


def _untruthful(lattice: Lattice, a: Any, b: Any) -> str | None:
    """What is wrong with the outcome of ``a ⊔ b`` (one assertion: one bug for hypothesis)."""
    outcome = lattice.join(a, b)
    if isinstance(outcome, Contradiction):
        return None
    if isinstance(outcome, Changed):
        v = outcome.value
        if values_equal(v, a):
            return (
                f"{a!r} ⊔ {b!r} gave {outcome!r}, but {v!r} is the current value "
                "(expected Unchanged)"
            )
        for x in (a, b):
            again = lattice.join(v, x)
            if isinstance(again, Changed | Contradiction):
                return (
                    f"{a!r} ⊔ {b!r} = {v!r}, but {v!r} ⊔ {x!r} gave {again!r} "
                    "(the join must hold both inputs: expected Unchanged)"
                )
        return None
    back = join(lattice, b, a)
    if not _same(back, a):
        return (
            f"{a!r} ⊔ {b!r} gave Unchanged, but {b!r} ⊔ {a!r} = {back!r}: {b!r} is news "
            f"to {a!r} (expected Changed)"
        )
    return None


# One mixin method runs for many subclasses (one per lattice); that is by design here.
_shared = settings(suppress_health_check=[HealthCheck.differing_executors])


class LatticeLaws:
    """A pytest mixin checking the laws on ``lattice`` with values from ``elements()``:
    commutative, associative, idempotent, contradictions absorb, truthful outcomes."""

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
    def test_outcome_tells_the_truth(self, data: st.DataObject) -> None:
        """``Changed`` only when the value changed, ``Unchanged`` only when it did not."""
        a, b = data.draw(self.elements()), data.draw(self.elements())
        problem = _untruthful(self.lattice, a, b) or _untruthful(self.lattice, b, a)
        assert problem is None, f"{self.lattice.name}: {problem}"

    @_shared
    @given(st.data())
    def test_contradiction_absorbs(self, data: st.DataObject) -> None:
        """A contradiction cannot be undone by more information (nor can any join)."""
        drawn = [data.draw(self.elements()) for _ in range(3)]
        # most triples do not contradict at all: try every role for each value drawn
        contradicting = 0
        for a, b, c in itertools.permutations(drawn):
            contradicting += join(self.lattice, a, b) is CONTRADICTION
            assert_absorbs(self.lattice, a, b, c)
        # what the examples cover (pytest --hypothesis-show-statistics; docs/testing.md)
        event(
            "absorbing: a contradicting pair checked"
            if contradicting
            else "absorbing: no contradicting pair (only the order checked)"
        )
