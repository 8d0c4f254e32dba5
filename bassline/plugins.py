"""A small registry of named plug-ins found through entry points or registered in process."""

from __future__ import annotations

import difflib
import reprlib
from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint, entry_points
from typing import Generic, TypeVar

from bassline.errors import PluginNotFound

T = TypeVar("T")

__all__ = ["PluginLoadError", "Registry", "closest"]


class PluginLoadError(ImportError):
    """An installed plug-in failed to import; carries the plug-in's own error."""


def closest(name: str, candidates: list[str]) -> str | None:
    """The candidate most like ``name``, if any is close enough to suggest."""
    matches = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    if not matches:
        lowered = {c.lower(): c for c in candidates}
        return lowered.get(name.lower())
    return matches[0]


class Registry(Generic[T]):
    """Named plug-ins of one kind: built-ins, in-process registrations and entry points.

    Entry points are only imported when first asked for by name, so a broken plug-in
    never breaks the others.
    """

    def __init__(self, kind: str, group: str, check: Callable[[object], T]) -> None:
        self.kind = kind
        self.group = group
        self._check = check
        self._items: dict[str, T] = {}
        self._entry_points: dict[str, EntryPoint] | None = None

    def register(self, name: str, item: T, *, replace: bool = False) -> None:
        """Register ``item`` under ``name`` (a non-empty string) for this process."""
        if not isinstance(name, str) or not name:
            # another name would be listed among the names, and sorting them for an
            # unknown name's message would fail on it: every later lookup's error
            raise TypeError(f"a {self.kind} is registered under a non-empty string, not {name!r}")
        if name in self._items and not replace and self._items[name] is not item:
            raise ValueError(f"{self.kind} {name!r} is already registered; pass replace=True")
        self._items[name] = item

    def unregister(self, name: str) -> None:
        """Forget an in-process registration (entry points stay discoverable)."""
        self._items.pop(name, None)

    def refresh(self) -> None:
        """Look for entry points again on next use (after installing a package at runtime,
        or changing ``sys.path``); in-process registrations stay."""
        self._entry_points = None

    def _discover(self) -> dict[str, EntryPoint]:
        if self._entry_points is None:
            self._entry_points = {ep.name: ep for ep in entry_points(group=self.group)}
        return self._entry_points

    def names(self) -> list[str]:
        """Every name available, registered or installed, sorted."""
        return sorted(set(self._items) | set(self._discover()))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self._items or name in self._discover())

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def get(self, name: str) -> T:
        """The plug-in called ``name``; :class:`PluginNotFound` lists what exists, and a
        ``name`` that is not a string is a :class:`TypeError` saying so."""
        if not isinstance(name, str):
            raise TypeError(
                f"a {self.kind} is looked up by its name (a string), not by {reprlib.repr(name)}"
            )
        if name in self._items:
            return self._items[name]
        ep = self._discover().get(name)
        if ep is None:
            names = self.names()
            raise PluginNotFound(self.kind, name, names, closest(name, names))
        try:
            loaded = ep.load()
        except Exception as exc:  # the plug-in's own import error, reported as such
            raise PluginLoadError(
                f"{self.kind} plug-in {name!r} ({ep.value}) failed to import: {exc!r}"
            ) from exc
        item = self._check(loaded)
        self._items[name] = item
        return item
