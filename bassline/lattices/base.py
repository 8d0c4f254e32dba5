"""Merge outcomes and the lattice protocol."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import attrs

__all__ = ["UNCHANGED", "Changed", "Contradiction", "Lattice", "MergeOutcome", "Unchanged"]


@attrs.frozen
class Unchanged:
    """The incoming value added no information; nothing downstream needs to run."""


UNCHANGED = Unchanged()


@attrs.frozen
class Changed:
    """The contact gained information; ``value`` is its new content."""

    value: Any


@attrs.frozen
class Contradiction:
    """The incoming value is incompatible with the current one; the current value stays."""

    reason: str
    current: Any
    incoming: Any


MergeOutcome = Unchanged | Changed | Contradiction


@runtime_checkable
class Lattice(Protocol):
    """A join-semilattice of partial information, used by ``merge`` contacts.

    ``join`` must be commutative, associative and idempotent, and a contradiction must
    absorb (once ``a`` and ``b`` contradict, adding more information never reconciles
    them). :mod:`bassline.testing.laws` checks all four with hypothesis.
    """

    @property
    def name(self) -> str:
        """The lattice's id, as specs name it (``"grow-set"``)."""

    @property
    def description(self) -> str:
        """One line saying what the join does."""

    def coerce(self, value: Any) -> Any:
        """Turn an incoming value (often plain JSON) into this lattice's form.

        Raise :class:`ValueError` with a readable reason when the value is not an element
        of the lattice or is itself contradictory (an empty interval, say).
        """

    def join(self, current: Any, incoming: Any) -> MergeOutcome:
        """Combine two coerced elements: Unchanged, Changed(new) or Contradiction."""
