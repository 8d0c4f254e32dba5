"""Value types of the built-in lattices. Immutable, hashable where sensible, and tagged for the codec."""

from __future__ import annotations

import reprlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar

from bassline.codec import register_tagged
from bassline.content import copied, element_key, register_copier

__all__ = ["GrowMap", "GrowSet", "Interval", "ShrinkSet"]


class _JSONSet:
    """A set of JSON values; membership by :func:`~bassline.content.element_key`."""

    tag: ClassVar[str]
    __slots__ = ("_flat", "_items")
    _flat: bool  # whether every element is a scalar (set by the copier when first asked)

    def __init__(self, values: Iterable[Any] = ()) -> None:
        if isinstance(values, str | bytes | Mapping) or not isinstance(values, Iterable):
            raise TypeError(
                f"{type(self).__name__} needs an iterable of values, not {values!r:.80}"
            )
        items: dict[bytes, Any] = {}
        for v in values:
            items.setdefault(element_key(v), v)
        self._items = items

    @classmethod
    def _from_items(cls, items: dict[bytes, Any]) -> Any:
        new = cls.__new__(cls)
        new._items = items
        return new

    @property
    def values(self) -> list[Any]:
        """The elements in canonical order."""
        return [self._items[k] for k in sorted(self._items)]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, value: object) -> bool:
        return element_key(value) in self._items

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, _JSONSet)
            and type(other) is type(self)
            and self._items.keys() == other._items.keys()
        )

    def __hash__(self) -> int:
        return hash((self.tag, frozenset(self._items)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.values!r})"

    def union_items(self, other: _JSONSet) -> dict[bytes, Any]:
        """Keys and values of the union of two sets."""
        return {**other._items, **self._items}

    def intersection_items(self, other: _JSONSet) -> dict[bytes, Any]:
        """Keys and values of the intersection of two sets."""
        return {k: v for k, v in self._items.items() if k in other._items}

    def to_json(self) -> list[Any]:
        """The elements as a JSON list in canonical order."""
        return self.values

    @classmethod
    def from_json(cls, payload: Any) -> Any:
        """Rebuild from a JSON list."""
        if not isinstance(payload, list):
            raise ValueError(f"expected a list of elements, got {type(payload).__name__}")
        return cls(payload)


@register_tagged
class GrowSet(_JSONSet):
    """A set that only grows: joins are unions. Bottom is the empty set."""

    tag = "grow-set"
    __slots__ = ()


@register_tagged
class ShrinkSet(_JSONSet):
    """A set of remaining possibilities: joins intersect; an empty set is a contradiction."""

    tag = "shrink-set"
    __slots__ = ()


def _bound(value: Any, name: str) -> float | int | None:
    if value is None:
        return None
    if type(value) in (int, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{name} must be finite or null (unbounded), got {value}")
        return value  # type: ignore[no-any-return]
    raise ValueError(f"{name} must be a number or null, got {value!r}")


@register_tagged
class Interval:
    """A closed numeric interval ``[lo, hi]``; ``None`` is an unbounded side.

    Joins intersect (narrow the range); an empty intersection is a contradiction.
    """

    tag: ClassVar[str] = "interval"
    __slots__ = ("hi", "lo")

    lo: float | int | None
    hi: float | int | None

    def __init__(self, lo: float | int | None, hi: float | int | None) -> None:
        _set_lo(self, _bound(lo, "lo"))  # the slots' own setters: __setattr__ refuses
        _set_hi(self, _bound(hi, "hi"))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"an Interval is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"an Interval is immutable: cannot delete {name!r}")

    def __reduce__(self) -> tuple[type[Interval], tuple[Any, Any]]:
        return Interval, (self.lo, self.hi)  # copy and pickle through __init__

    @property
    def empty(self) -> bool:
        """True when no number lies in the interval."""
        return self.lo is not None and self.hi is not None and self.lo > self.hi

    def intersect(self, other: Interval) -> Interval:
        """The numbers in both intervals (possibly empty)."""
        lo = (
            self.lo if other.lo is None else other.lo if self.lo is None else max(self.lo, other.lo)
        )
        hi = (
            self.hi if other.hi is None else other.hi if self.hi is None else min(self.hi, other.hi)
        )
        return Interval(lo, hi)

    def __contains__(self, x: object) -> bool:
        if type(x) not in (int, float) or x != x:  # NaN is no number of any interval
            return False
        return (self.lo is None or self.lo <= x) and (self.hi is None or x <= self.hi)  # type: ignore[operator]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Interval) and (self.lo, self.hi) == (other.lo, other.hi)

    def __hash__(self) -> int:
        return hash((self.tag, self.lo, self.hi))

    def __repr__(self) -> str:
        return f"Interval({self.lo!r}, {self.hi!r})"

    def to_json(self) -> list[Any]:
        """``[lo, hi]``; ValueError for an empty interval, which is no content (it holds no
        number, and the gadgets would compute a non-empty interval from it)."""
        if self.lo is not None and self.hi is not None and self.lo > self.hi:
            raise ValueError(f"the interval [{self.lo}, {self.hi}] is empty (lo > hi)")
        return [self.lo, self.hi]

    @classmethod
    def from_json(cls, payload: Any) -> Interval:
        """Rebuild from ``[lo, hi]``."""
        if not isinstance(payload, list) or len(payload) != 2:
            raise ValueError(f"expected [lo, hi], got {payload!r}")
        return cls(payload[0], payload[1])


_set_lo: Callable[[Interval, Any], None] = vars(Interval)["lo"].__set__
_set_hi: Callable[[Interval, Any], None] = vars(Interval)["hi"].__set__


@register_tagged
class GrowMap(Mapping[str, Any]):
    """A map that only gains keys; a shared key's values are joined by their own lattice."""

    tag: ClassVar[str] = "grow-map"
    __slots__ = ("_data", "_flat")
    _flat: bool  # whether every entry is a scalar (set by the copier when first asked)

    def __init__(self, data: Mapping[str, Any] | Iterable[tuple[str, Any]] = ()) -> None:
        if isinstance(data, str | bytes):  # not its characters (the sets say the same)
            raise TypeError(
                f"GrowMap needs a mapping of string keys to values, not {reprlib.repr(data)}"
            )
        try:
            items = dict(data)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                "GrowMap needs a mapping of string keys to values (or (key, value) pairs), "
                f"not {reprlib.repr(data)}: {exc}"
            ) from None
        for k in items:
            if not isinstance(k, str):
                raise TypeError(f"GrowMap keys must be strings, got {k!r}")
        self._data = items

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        from bassline.content import values_equal

        return isinstance(other, GrowMap) and values_equal(self._data, other._data)

    def __hash__(self) -> int:
        return hash((self.tag, frozenset(self._data)))

    def __repr__(self) -> str:
        return f"GrowMap({self._data!r})"

    def to_json(self) -> dict[str, Any]:
        """The entries as a JSON object."""
        return dict(self._data)

    @classmethod
    def from_json(cls, payload: Any) -> GrowMap:
        """Rebuild from a JSON object."""
        if not isinstance(payload, dict):
            raise ValueError(f"expected an object, got {type(payload).__name__}")
        return cls(payload)


_ATOMS = frozenset({str, int, float, bool, type(None)})


def _flat(value: _JSONSet | GrowMap, inner: Iterable[Any]) -> bool:
    """Whether ``inner`` (the value's elements or entries) are all scalars; found once per
    value (it is immutable) and kept."""
    try:
        return value._flat
    except AttributeError:
        flat = value._flat = all(type(v) in _ATOMS for v in inner)
        return flat


def _copied_set(value: _JSONSet) -> _JSONSet:
    """``value`` itself when its elements are scalars, else a set of their copies."""
    items = value._items
    if _flat(value, items.values()):
        return value
    return type(value)._from_items({k: copied(v) for k, v in items.items()})  # type: ignore[no-any-return]


def _copied_map(value: GrowMap) -> GrowMap:
    """``value`` itself when its entries are scalars, else a map of their copies."""
    data = value._data
    if _flat(value, data.values()):
        return value
    return GrowMap({k: copied(v) for k, v in data.items()})


register_copier(GrowSet, _copied_set)
register_copier(ShrinkSet, _copied_set)
register_copier(GrowMap, _copied_map)

COPIED_TYPES: frozenset[type[Any]] = frozenset({list, dict, tuple, GrowSet, ShrinkSet, GrowMap})
"""The types of content :func:`~bassline.content.copied` may copy (those it hands back as
they are, scalars and intervals, are immutable)."""
