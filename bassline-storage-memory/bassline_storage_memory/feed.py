"""The memory store's change-feed watches: wakeups within one process.

Each :class:`MemoryWatch` is registered with its store's :class:`MemoryFeed` while
entered; a write that stores contents of a network sets the event of every watch of that
network. The events are anyio events: writer and watcher must share one event loop (the
store itself may be shared between threads, but a watch only hears writers of its loop).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Self

import anyio

from bassline.storage import Watcher

__all__ = ["MemoryFeed", "MemoryWatch"]


class MemoryWatch:
    """Wakes when a write stores contents of ``network`` (see :class:`ChangeWatch`),
    unless the write was made through the storage that made the watch (``writer``)."""

    def __init__(self, feed: MemoryFeed, network: str, member: str, writer: object) -> None:
        self._feed = feed
        self.writer = writer
        self.network = network
        self.member = member
        self.since = dt.datetime.now(dt.UTC)
        self._event = anyio.Event()

    async def __aenter__(self) -> Self:
        self._feed.add(self)
        await anyio.lowlevel.checkpoint()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._feed.remove(self)

    def wake(self) -> None:
        """Make the current (or next) :meth:`wait` return."""
        self._event.set()

    async def wait(self) -> None:
        """Return once a write has stored contents of the network since the last return."""
        await self._event.wait()
        self._event = anyio.Event()


class MemoryFeed:
    """The live watches of one store, by network."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watches: dict[str, list[MemoryWatch]] = {}

    def add(self, watch: MemoryWatch) -> None:
        """Register a watch."""
        with self._lock:
            self._watches.setdefault(watch.network, []).append(watch)

    def remove(self, watch: MemoryWatch) -> None:
        """Forget a watch (nothing if it is not registered)."""
        with self._lock:
            watches = self._watches.get(watch.network, [])
            if watch in watches:
                watches.remove(watch)

    def announce(self, networks: Iterable[str], writer: object) -> None:
        """Wake every watch of these networks but those made by ``writer`` (the storage
        that wrote)."""
        with self._lock:
            woken = [
                w for n in networks for w in self._watches.get(n, ()) if w.writer is not writer
            ]
        for watch in woken:
            watch.wake()

    def watchers(self, network: str) -> list[Watcher]:
        """The live watches of ``network``, oldest first."""
        with self._lock:
            watches = list(self._watches.get(network, ()))
        return sorted((Watcher(w.member, w.since) for w in watches), key=lambda w: w.since)
