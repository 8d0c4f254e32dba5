"""The process-wide table of named memory stores (``memory://NAME``)."""

from __future__ import annotations

import threading

from bassline_storage_memory.state import MemoryStore

__all__ = ["drop_store", "named_store", "store_names"]

_lock = threading.Lock()
_named: dict[str, MemoryStore] = {}


def named_store(name: str) -> MemoryStore:
    """The store called ``name``, created empty on first use; it lives until :func:`drop_store`."""
    with _lock:
        store = _named.get(name)
        if store is None:
            store = _named[name] = MemoryStore(name)
        return store


def drop_store(name: str) -> bool:
    """Forget the store called ``name`` and free its data; True if there was one.

    Storages already open on it keep their (now unshared) data; the next open of
    ``memory://NAME`` starts empty.
    """
    with _lock:
        return _named.pop(name, None) is not None


def store_names() -> list[str]:
    """The names of the shared stores that exist, sorted."""
    with _lock:
        return sorted(_named)
