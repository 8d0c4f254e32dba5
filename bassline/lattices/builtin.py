"""The built-in lattices: defined, grow-set, shrink-set, interval, max, min, grow-map."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from bassline.content import values_equal
from bassline.lattices.base import (
    UNCHANGED,
    Changed,
    Contradiction,
    Lattice,
    MergeOutcome,
)
from bassline.lattices.values import GrowMap, GrowSet, Interval, ShrinkSet

__all__ = [
    "BUILTIN_LATTICES",
    "DefinedLattice",
    "GrowMapLattice",
    "GrowSetLattice",
    "IntervalLattice",
    "MaxLattice",
    "MinLattice",
    "ShrinkSetLattice",
    "join_values",
]


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@attrs.frozen
class DefinedLattice:
    """Plain values: equal is no news, anything else is a contradiction."""

    name: str = "defined"
    description: str = "a value is known or not; two different values contradict"

    def coerce(self, value: Any) -> Any:
        """Any content is an element."""
        return value

    def join(self, current: Any, incoming: Any) -> MergeOutcome:
        """Unchanged if equal, otherwise a contradiction."""
        if values_equal(current, incoming):
            return UNCHANGED
        return Contradiction(
            f"{_brief(current)} and {_brief(incoming)} disagree", current, incoming
        )


def _as_set(cls: type[GrowSet] | type[ShrinkSet], value: Any, lattice: str) -> Any:
    if type(value) is cls:
        return value
    if isinstance(value, GrowSet | ShrinkSet):
        return cls(value.values)
    if isinstance(value, list | tuple):
        return cls(value)
    raise ValueError(f"{lattice} needs a list of elements, got {_brief(value)}")


@attrs.frozen
class GrowSetLattice:
    """Sets joined by union: information only accumulates. Never contradicts."""

    name: str = "grow-set"
    description: str = "union of sets; never contradicts"

    def coerce(self, value: Any) -> GrowSet:
        """A GrowSet, or any list (its elements)."""
        return _as_set(GrowSet, value, self.name)  # type: ignore[no-any-return]

    def join(self, current: GrowSet, incoming: GrowSet) -> MergeOutcome:
        """The union; Unchanged when ``incoming`` adds nothing."""
        items = current.union_items(incoming)
        if len(items) == len(current):
            return UNCHANGED
        return Changed(GrowSet._from_items(items))


@attrs.frozen
class ShrinkSetLattice:
    """Sets of remaining possibilities joined by intersection; empty is a contradiction."""

    name: str = "shrink-set"
    description: str = "intersection of candidate sets; an empty result contradicts"

    def coerce(self, value: Any) -> ShrinkSet:
        """A ShrinkSet, or any non-empty list."""
        s: ShrinkSet = _as_set(ShrinkSet, value, self.name)
        if len(s) == 0:
            raise ValueError("an empty shrink-set leaves no possible value")
        return s

    def join(self, current: ShrinkSet, incoming: ShrinkSet) -> MergeOutcome:
        """The intersection; a contradiction when nothing is left."""
        items = current.intersection_items(incoming)
        if not items:
            return Contradiction("no value is in both sets", current, incoming)
        if len(items) == len(current):
            return UNCHANGED
        return Changed(ShrinkSet._from_items(items))


def _number(value: Any, lattice: str) -> int | float:
    if type(value) in (int, float):
        return value  # type: ignore[no-any-return]
    raise ValueError(f"{lattice} needs a number, got {_brief(value)}")


@attrs.frozen
class IntervalLattice:
    """Numeric ranges narrowed by intersection; an empty range is a contradiction."""

    name: str = "interval"
    description: str = "intersection of numeric ranges; an empty range contradicts"

    def coerce(self, value: Any) -> Interval:
        """An Interval, ``[lo, hi]``, ``{"lo": .., "hi": ..}`` or a number (an exact value)."""
        if isinstance(value, Interval):
            iv = value
        elif isinstance(value, list | tuple) and len(value) == 2:
            iv = Interval(value[0], value[1])
        elif isinstance(value, Mapping) and set(value) <= {"lo", "hi"}:
            iv = Interval(value.get("lo"), value.get("hi"))
        elif type(value) in (int, float):
            iv = Interval(value, value)
        else:
            raise ValueError(f"interval needs [lo, hi] or a number, got {_brief(value)}")
        if iv.empty:
            raise ValueError(f"the interval [{iv.lo}, {iv.hi}] is empty")
        return iv

    def join(self, current: Interval, incoming: Interval) -> MergeOutcome:
        """The intersection; a contradiction when empty."""
        both = current.intersect(incoming)
        if both.empty:
            return Contradiction(
                f"[{current.lo}, {current.hi}] and [{incoming.lo}, {incoming.hi}] do not overlap",
                current,
                incoming,
            )
        if both == current:
            return UNCHANGED
        return Changed(both)


@attrs.frozen
class MaxLattice:
    """Numbers joined by ``max``: a lower bound that only rises."""

    name: str = "max"
    description: str = "the largest number seen"

    def coerce(self, value: Any) -> int | float:
        """Any finite number."""
        return _number(value, self.name)

    def join(self, current: float, incoming: float) -> MergeOutcome:
        """``incoming`` if larger, else Unchanged."""
        return Changed(incoming) if incoming > current else UNCHANGED


@attrs.frozen
class MinLattice:
    """Numbers joined by ``min``: an upper bound that only falls."""

    name: str = "min"
    description: str = "the smallest number seen"

    def coerce(self, value: Any) -> int | float:
        """Any finite number."""
        return _number(value, self.name)

    def join(self, current: float, incoming: float) -> MergeOutcome:
        """``incoming`` if smaller, else Unchanged."""
        return Changed(incoming) if incoming < current else UNCHANGED


_BY_TYPE: dict[type[Any], Lattice] = {}


def join_values(current: Any, incoming: Any) -> MergeOutcome:
    """Join two values by their own type: lattice values by their lattice, plain values must agree."""
    if type(current) is type(incoming):
        lattice = _BY_TYPE.get(type(current))
        if lattice is not None:
            return lattice.join(current, incoming)
    return DefinedLattice().join(current, incoming)


@attrs.frozen
class GrowMapLattice:
    """Maps that gain keys; a key present on both sides joins its two values by their type."""

    name: str = "grow-map"
    description: str = "key-wise join of maps; a conflicting key contradicts"

    def coerce(self, value: Any) -> GrowMap:
        """A GrowMap or a JSON object."""
        if isinstance(value, GrowMap):
            return value
        if isinstance(value, dict):
            return GrowMap(value)
        raise ValueError(f"grow-map needs an object, got {_brief(value)}")

    def join(self, current: GrowMap, incoming: GrowMap) -> MergeOutcome:
        """Key union; shared keys joined with :func:`join_values`."""
        merged = dict(current)
        changed = False
        for key, value in incoming.items():
            if key not in merged:
                merged[key] = value
                changed = True
                continue
            outcome = join_values(merged[key], value)
            if isinstance(outcome, Contradiction):
                return Contradiction(f"key {key!r}: {outcome.reason}", current, incoming)
            if isinstance(outcome, Changed):
                merged[key] = outcome.value
                changed = True
        return Changed(GrowMap(merged)) if changed else UNCHANGED


BUILTIN_LATTICES: tuple[Lattice, ...] = (
    DefinedLattice(),
    GrowSetLattice(),
    ShrinkSetLattice(),
    IntervalLattice(),
    MaxLattice(),
    MinLattice(),
    GrowMapLattice(),
)

_BY_TYPE.update(
    {
        GrowSet: GrowSetLattice(),
        ShrinkSet: ShrinkSetLattice(),
        Interval: IntervalLattice(),
        GrowMap: GrowMapLattice(),
    }
)
