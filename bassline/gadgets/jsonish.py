"""How the built-in gadgets read JSON content: numbers, truthiness, text and indices.

These helpers fix the Python semantics that replace the prototype's JavaScript ones
(see ``docs/gadgets.md``, "Differences from the prototype's JavaScript behaviour").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from bassline.codec import dumps, to_json
from bassline.errors import ContentError

__all__ = [
    "checked_number",
    "compute_number",
    "index",
    "is_list",
    "is_number",
    "is_whole",
    "optional_index",
    "text",
    "truthy",
    "whole",
]


def is_number(value: Any) -> bool:
    """Whether ``value`` is a JSON number: an ``int`` or a ``float``, but never a ``bool``."""
    return type(value) in (int, float)


def is_whole(value: Any) -> bool:
    """Whether ``value`` is a number with no fractional part (``2`` or ``2.0``, not ``2.5``)."""
    if type(value) is int:
        return True
    return type(value) is float and value.is_integer()


def whole(value: Any) -> int:
    """``value`` as an ``int`` (callers check :func:`is_whole` first)."""
    return int(value)


def is_list(value: Any) -> bool:
    """Whether ``value`` is a JSON array (a Python ``list``; lattice collections are not)."""
    return isinstance(value, list)


def truthy(value: Any) -> bool:
    """Python truthiness: ``[]``, ``{}``, ``""``, ``0``, ``None`` and ``False`` are false."""
    return bool(value)


def text(value: Any) -> str:
    """A value as text: strings as themselves, anything else as its canonical JSON text.

    So ``1 -> "1"``, ``1.0 -> "1.0"``, ``True -> "true"``, ``None -> "null"``,
    ``[1, 2] -> "[1,2]"`` and ``{"a": 1} -> '{"a":1}'``.
    """
    if isinstance(value, str):
        return str(value)
    return dumps(value)


def checked_number(gadget_id: str, value: Any) -> int | float:
    """``value`` if it is valid number content; ValueError if it is NaN, infinite or complex.

    Integers must also fit the codec's 64-bit range.
    """
    if isinstance(value, complex):
        raise ValueError(f"{gadget_id}: result {value!r} is complex, not a finite number")
    if type(value) is float and not math.isfinite(value):
        raise ValueError(f"{gadget_id}: result {value!r} is not a finite number")
    if type(value) is int:
        try:
            to_json(value)
        except ContentError as exc:
            raise ValueError(f"{gadget_id}: result {exc}") from exc
    if not is_number(value):  # pragma: no cover - only for misbehaving operations
        raise ValueError(f"{gadget_id}: result {value!r} is not a number")
    number: int | float = value
    return number


def compute_number(gadget_id: str, op: Callable[[], Any]) -> int | float:
    """Run a numeric operation; overflow, division by zero or a non-finite result: ValueError."""
    try:
        result = op()
    except ZeroDivisionError as exc:
        raise ValueError(
            f"{gadget_id}: division by zero ({exc}); the result is not a finite number"
        ) from exc
    except OverflowError as exc:
        raise ValueError(
            f"{gadget_id}: overflow ({exc}); the result is not a finite number"
        ) from exc
    return checked_number(gadget_id, result)


def index(gadget_id: str, port: str, value: Any) -> int:
    """A slice bound that must be a whole number (``2`` or ``2.0``); ValueError otherwise."""
    if not is_whole(value):
        raise ValueError(f"{gadget_id}: {port} must be a whole number, got {value!r}")
    return whole(value)


def optional_index(gadget_id: str, port: str, value: Any) -> int | None:
    """An optional slice bound: ``None`` means "to the end", otherwise as :func:`index`."""
    if value is None:
        return None
    return index(gadget_id, port, value)
