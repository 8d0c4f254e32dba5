"""Whether a contact's content really changed: shared by the engine and its results."""

from __future__ import annotations

from typing import Any

from bassline.content import ABSENT, values_equal

__all__ = ["differs"]


def differs(old: Any, new: Any) -> bool:
    """Whether a contact's content really changed (fast paths for the common scalars)."""
    if old is new:
        return False
    t = type(new)
    if t is type(old) and (t is int or t is str or t is float):
        return bool(old != new)
    return old is ABSENT or not values_equal(old, new)
