"""Equality and keys for contact content (plain JSON values and tagged lattice values)."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, TypeAlias

from bassline.codec import Tagged, encode, to_json

__all__ = [
    "ABSENT",
    "Absent",
    "Content",
    "canonical_form",
    "copied",
    "element_key",
    "lists_for_tuples",
    "register_copier",
    "values_equal",
]

Content: TypeAlias = (
    bool | int | float | str | Sequence["Content"] | Mapping[str, "Content"] | Tagged | None
)
"""What a contact can hold: a JSON value or a lattice value (any registered
:class:`~bassline.codec.Tagged` type, such as :class:`~bassline.lattices.Interval`).

For type checkers only: lists and tuples are sequences, objects are mappings with string
keys, to any depth. The codec is stricter than the alias at run time (a list, a tuple or a
dict, finite numbers, 64-bit integers, valid text) and raises
:class:`~bassline.errors.ContentError` for the rest. Where a contact may hold nothing yet
the type is ``Content | Absent``, and ``if value is ABSENT: ...`` narrows it to ``Content``.
"""


def values_equal(a: Any, b: Any) -> bool:
    """Structural equality of contents as JSON sees them.

    Unlike Python's ``==``, ``True`` is not ``1``; numbers compare by value (``1 == 1.0``);
    lists compare element-wise, dicts key-wise; lattice values by their own ``==``.
    """
    ta, tb = type(a), type(b)
    if ta is bool or tb is bool:
        return ta is tb and a == b
    if ta in (int, float) and tb in (int, float):
        return bool(a == b)
    if ta is not tb:
        if isinstance(a, list | tuple) and isinstance(b, list | tuple):
            pass
        else:
            return False
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b, strict=True))
    if ta is dict:
        return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def copied(value: Any) -> Any:
    """``value`` with every list and dict in it copied (to any depth), so that nothing the
    caller holds is shared with the result: inside a lattice value too (a grow-set's or
    shrink-set's elements, a grow-map's entries, through :func:`register_copier`); every
    tuple becomes a list, the JSON array it stands for (and is stored, sent and read back
    as); anything else (text, numbers, intervals) as it is. What a network does with
    content written to it and with content it hands out (concepts.md, "Content is copied")."""
    t = type(value)
    if t is list or t is tuple:
        return [x if type(x) in _ATOMS else copied(x) for x in value]
    if t is dict:
        return {k: x if type(x) in _ATOMS else copied(x) for k, x in value.items()}
    copier = _COPIERS.get(t)
    return value if copier is None else copier(value)


_ATOMS: Final = frozenset({str, int, float, bool, type(None)})


def lists_for_tuples(value: Any) -> Any:
    """``value`` itself, or, when a tuple is in it (in lists and dicts, to any depth), a
    :func:`copied` ``value``: every tuple the JSON array it stands for. What a network
    does with content it keeps without copying (a gadget's outputs, :meth:`apply` and
    :meth:`restore` rows), so that it holds what storage and peers give back (D69)."""
    return copied(value) if _holds_tuple(value) else value


def _holds_tuple(value: Any) -> bool:
    t = type(value)
    if t is tuple:
        return True
    if t is list:
        return any(_holds_tuple(x) for x in value if type(x) not in _ATOMS)
    if t is dict:
        return any(_holds_tuple(x) for x in value.values() if type(x) not in _ATOMS)
    return False


_COPIERS: Final[dict[type[Any], Callable[[Any], Any]]] = {}


def register_copier(cls: type[Any], copier: Callable[[Any], Any]) -> None:
    """Have :func:`copied` copy values of ``cls`` (a lattice value type that holds lists
    or dicts: its elements' or entries' copies, in a new value) with ``copier``."""
    _COPIERS[cls] = copier


def _normalise_numbers(value: Any) -> Any:
    t = type(value)
    # every float with no fractional part is an exact integer: 2.0**60 is the int 2**60
    # (within the codec's integer range, so the key still encodes)
    if t is float and value.is_integer() and -(2**63) <= value < 2**64:
        return int(value)
    if t is list or t is tuple:
        return [_normalise_numbers(v) for v in value]
    if t is dict:
        return {k: _normalise_numbers(v) for k, v in value.items()}
    return value


def canonical_form(value: Any) -> Any:
    """``value`` as plain JSON data with every integral float an integer (``1.0`` and
    ``-0.0`` as ``1`` and ``0``): values equal per :func:`values_equal` have equal forms."""
    t = type(value)
    if t is str or t is int or value is None or t is bool:
        return value
    return _normalise_numbers(to_json(value))


def element_key(value: Any) -> bytes:
    """A canonical key for set membership: equal (per :func:`values_equal`) values share it."""
    return encode(canonical_form(value))


class _Nothing:
    """What :data:`ABSENT` stands for: a value orjson refuses, like any unknown type."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"


class Absent(enum.Enum):
    """The type of :data:`ABSENT`, its only value.

    An enum, so that mypy narrows ``value is ABSENT`` (``Content | Absent`` becomes
    ``Content`` after ``if value is ABSENT: return``). It is falsy, prints as ``ABSENT``,
    and every JSON encoder refuses it, as it refuses any other unknown type.
    """

    ABSENT = _Nothing()

    def __repr__(self) -> str:
        return "ABSENT"

    def __str__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False

    def __reduce_ex__(self, protocol: object) -> tuple[Any, ...]:
        return getattr, (Absent, "ABSENT")  # by name: unpickles as this very ABSENT


ABSENT: Final = Absent.ABSENT
"""No information: a contact that has never received content (JSON ``null`` is a value)."""
