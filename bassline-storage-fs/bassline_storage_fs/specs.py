"""Specs on disk: a Bassline as canonical JSON bytes, and back exactly as it was saved.

The stored form is :meth:`Bassline.to_dict` through the canonical codec. Reading it back
rebuilds the same objects field by field without re-validating against the installed
gadgets and lattices, so a spec saved by one process loads in another whatever plug-ins
it has, and a spec with groups merged in later loads as stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from bassline.codec import decode
from bassline.spec import (
    Bassline,
    GroupSpec,
    WireSpec,
)

__all__ = [
    "SpecDecodeError",
    "group_ids",
    "merged",
    "spec_from_bytes",
    "spec_to_bytes",
]

_Item = TypeVar("_Item", GroupSpec, WireSpec)


class SpecDecodeError(ValueError):
    """Stored spec bytes do not describe a spec (the file is damaged)."""


def spec_to_bytes(spec: Bassline) -> bytes:
    """Canonical JSON of ``spec``; raises ContentError if something in it cannot be encoded."""
    return spec.canonical_json()


def spec_from_bytes(data: bytes) -> Bassline:
    """The spec stored as ``data``; raises :class:`SpecDecodeError` if it is not one."""
    try:
        return Bassline.from_dict(decode(data))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SpecDecodeError(f"stored spec is malformed: {exc!r}") from None


def group_ids(spec: Bassline) -> frozenset[str]:
    """The ids of the spec's groups (what content may be written to)."""
    return frozenset(g.id for g in spec.groups)


def merged(spec: Bassline, groups: Iterable[GroupSpec], wires: Iterable[WireSpec]) -> Bassline:
    """``spec`` with ``groups`` and ``wires`` merged in by id."""
    return spec.with_items(groups, wires)
