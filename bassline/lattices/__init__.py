"""Lattices for ``merge`` contacts: built-ins plus plug-ins from the ``bassline.lattices`` entry points."""

from __future__ import annotations

from bassline.lattices.base import (
    UNCHANGED,
    Changed,
    Contradiction,
    Lattice,
    MergeOutcome,
    Unchanged,
)
from bassline.lattices.builtin import BUILTIN_LATTICES, join_values
from bassline.lattices.values import GrowMap, GrowSet, Interval, ShrinkSet
from bassline.plugins import Registry

__all__ = [
    "UNCHANGED",
    "Changed",
    "Contradiction",
    "GrowMap",
    "GrowSet",
    "Interval",
    "Lattice",
    "MergeOutcome",
    "ShrinkSet",
    "Unchanged",
    "get_lattice",
    "join_values",
    "lattices",
    "register_lattice",
]


def _check(obj: object) -> Lattice:
    candidate = obj() if isinstance(obj, type) else obj
    if not isinstance(candidate, Lattice):
        raise TypeError(f"{obj!r} is not a Lattice (needs name, description, coerce, join)")
    return candidate


lattices: Registry[Lattice] = Registry("lattice", "bassline.lattices", _check)
"""Every lattice by name: built-ins, :func:`register_lattice` and entry points."""

for _lattice in BUILTIN_LATTICES:
    lattices.register(_lattice.name, _lattice)


def register_lattice(lattice: Lattice, *, replace: bool = False) -> Lattice:
    """Make ``lattice`` available to specs under ``lattice.name`` in this process."""
    checked = _check(lattice)  # a class is instantiated: its name may be a property
    lattices.register(checked.name, checked, replace=replace)
    return lattice


def get_lattice(name: str) -> Lattice:
    """The lattice called ``name``; :class:`~bassline.errors.PluginNotFound` lists the others."""
    return lattices.get(name)
